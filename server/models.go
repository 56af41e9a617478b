package server

// Several models, loaded on demand. A request names its model ("model");
// when it is not loaded, the server loads it with Config.Load (once, however
// many requests ask for it at the same time: they all wait for that load).
// At most Config.MaxModels models are loaded: to load another, the one used
// least recently among those no request is using is unloaded first, and when
// every loaded model is in use the load waits for one to be free (as Ollama
// does with OLLAMA_MAX_LOADED_MODELS). A model no request uses is unloaded
// after its keep-alive: Config.KeepAlive, or the "keep_alive" of the last
// Ollama request that used it (0: at the end of that request; negative:
// never). A model is never unloaded while a request uses it: every handler
// holds the models it looked up until it returns (see holds).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"glassbox"
)

// DefaultKeepAlive is how long a model no request uses stays loaded when
// Config.KeepAlive is not set (Ollama's default, OLLAMA_KEEP_ALIVE).
const DefaultKeepAlive = 5 * time.Minute

// CatalogModel is a model the server can load on demand: the name requests
// give and, when known, its file (read to list the model without loading it).
type CatalogModel struct {
	Name string
	Path string
	// Aliases are other names requests may give for the model (such as an
	// embedded model's short name); a model of Config.Models gets the
	// aliases of the catalog entry of the same name.
	Aliases []string
}

// matches reports whether a request's model name designates c through one
// of its aliases, compared as names are (case-insensitively, with or
// without Ollama's tag ":latest").
func (c CatalogModel) matches(name string) bool {
	for _, a := range c.Aliases {
		if strings.EqualFold(a, name) || strings.EqualFold(ollamaName(a), ollamaName(name)) {
			return true
		}
	}
	return false
}

// holds are the models a request has looked up: they stay loaded until the
// request's handler returns. keepAlive, when set (an Ollama request's
// "keep_alive"), becomes the keep-alive of those models.
type holds struct {
	mu        sync.Mutex
	entries   []*entry
	keepAlive *time.Duration
	loading   time.Duration // time spent waiting for a model's load
}

type holdsKey struct{}

// withHolds returns a request whose lookups are held until release is called.
func withHolds(r *http.Request) (*http.Request, *holds) {
	h := &holds{}
	return r.WithContext(context.WithValue(r.Context(), holdsKey{}, h)), h
}

// setKeepAlive sets the keep-alive of the models the request uses.
func setKeepAlive(ctx context.Context, d time.Duration) {
	if h, ok := ctx.Value(holdsKey{}).(*holds); ok {
		h.mu.Lock()
		h.keepAlive = &d
		h.mu.Unlock()
	}
}

// releaseHolds ends a request's use of the models it looked up.
func (s *Server) releaseHolds(h *holds) {
	h.mu.Lock()
	es, ka := h.entries, h.keepAlive
	h.entries = nil
	h.mu.Unlock()
	for _, e := range es {
		s.done(e, ka)
	}
}

// modelMetrics count the loads and unloads of models.
type modelMetrics struct {
	loaded   prometheus.Gauge
	loads    *prometheus.CounterVec
	failures *prometheus.CounterVec
	unloads  *prometheus.CounterVec
	loadTime *prometheus.HistogramVec
}

func newModelMetrics(reg *prometheus.Registry) *modelMetrics {
	m := &modelMetrics{
		loaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "glassbox_models_loaded", Help: "Models loaded (their weights mapped and their slots allocated)."}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "glassbox_model_loads_total",
			Help: "Models loaded, at start or on demand by a request naming them."}, []string{"model"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "glassbox_model_load_failures_total",
			Help: "Loads of a model that failed (the requests waiting for it got the error)."}, []string{"model"}),
		unloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "glassbox_model_unloads_total",
			Help: "Models unloaded, by reason: idle (keep-alive over), request (keep_alive 0), lru (room for another model), delete (/api/delete)."}, []string{"model", "reason"}),
		loadTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "glassbox_model_load_seconds",
			Help: "Time to load a model and allocate its slots.", Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}, []string{"model"}),
	}
	reg.MustRegister(m.loaded, m.loads, m.failures, m.unloads, m.loadTime)
	return m
}

// loaded returns the models loaded (or loading), in the order they were loaded.
func (s *Server) loaded() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

// readyModels returns the models loaded and ready, in the order they were loaded.
func (s *Server) readyModels() []*entry {
	var out []*entry
	for _, e := range s.loaded() {
		if e.loaded() {
			out = append(out, e)
		}
	}
	return out
}

// catalog returns the models the server can load, the ones of Config.Models
// first (by name, without duplicates).
func (s *Server) catalog() []CatalogModel {
	var out []CatalogModel
	seen := map[string]int{} // name → index in out
	for _, m := range s.cfg.Models {
		seen[m.Name] = len(out)
		out = append(out, CatalogModel{Name: m.Name, Path: m.Model.Path()})
	}
	if s.cfg.Catalog != nil {
		cs, err := s.cfg.Catalog()
		if err != nil {
			s.cfg.Logger.Warn("listing the models that can be loaded", "err", err)
		}
		for _, c := range cs {
			if c.Name == "" {
				continue
			}
			if i, ok := seen[c.Name]; ok {
				out[i].Aliases = append(out[i].Aliases, c.Aliases...)
				continue
			}
			seen[c.Name] = len(out)
			out = append(out, c)
		}
	}
	return out
}

// resolve finds the name of the model a request names: "" is the default
// model; a name matches a loaded model or one of the catalog exactly, else
// case-insensitively or with Ollama's tag ":latest" added or removed, else
// one of a catalog model's aliases.
func (s *Server) resolve(name string) (string, error) {
	if name == "" {
		return s.defaultName, nil
	}
	s.mu.Lock()
	_, ok := s.models[name]
	s.mu.Unlock()
	if ok {
		return name, nil
	}
	cat := s.catalog()
	for _, c := range cat {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range cat {
		if strings.EqualFold(c.Name, name) || strings.EqualFold(ollamaName(c.Name), ollamaName(name)) {
			return c.Name, nil
		}
	}
	for _, c := range cat {
		if c.matches(name) {
			return c.Name, nil
		}
	}
	if s.cfg.Store != nil { // a shorter form of a store name (OWNER/REPO, no tag)
		if man, err := s.cfg.Store.Lookup(name); err == nil {
			for _, c := range cat {
				if c.Name == man.Name {
					return c.Name, nil
				}
			}
		}
	}
	return "", s.notFound(name)
}

// notFound is the answer for a model the server neither has loaded nor can load.
func (s *Server) notFound(name string) error {
	cat := s.catalog()
	names := make([]string, len(cat))
	for i, c := range cat {
		names[i] = c.Name
	}
	return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
		Message: fmt.Sprintf("the model %q does not exist: this server has %s", name, strings.Join(names, ", "))}
}

// lookup finds the model a request names ("" is the default model), loading
// it if needed, and holds it loaded until the request's handler returns.
func (s *Server) lookup(ctx context.Context, name string) (*entry, error) {
	canon, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	e, err := s.use(ctx, canon)
	if err != nil {
		return nil, err
	}
	if h, ok := ctx.Value(holdsKey{}).(*holds); ok {
		h.mu.Lock()
		h.entries = append(h.entries, e)
		if e.loadedAt.After(t0) { // this request waited for the load
			h.loading += time.Since(t0)
		}
		h.mu.Unlock()
	} else { // not within a request (tests): no hold
		s.done(e, nil)
	}
	return e, nil
}

// peek returns the model of that name if it is loaded and ready, without loading it.
func (s *Server) peek(name string) *entry {
	canon, err := s.resolve(name)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	e := s.models[canon]
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	if e.loaded() {
		return e
	}
	return nil
}

// notifyFreed wakes the loads waiting for a model to be free. The lock is held.
func (s *Server) notifyFreed() {
	close(s.freed)
	s.freed = make(chan struct{})
}

// use returns the loaded model of that name with one more user, loading it
// first if needed (one load, however many requests wait for it).
func (s *Server) use(ctx context.Context, name string) (*entry, error) {
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return nil, shuttingDown()
		}
		if e := s.models[name]; e != nil {
			e.refs++
			e.busy()
			s.mu.Unlock()
			select {
			case <-e.ready:
			case <-ctx.Done():
				s.done(e, nil)
				return nil, ctx.Err()
			}
			if e.err != nil {
				s.done(e, nil)
				return nil, e.err
			}
			return e, nil
		}
		if s.cfg.Load == nil {
			s.mu.Unlock()
			return nil, s.notFound(name)
		}
		if s.draining.Load() { // no new load while shutting down
			s.mu.Unlock()
			return nil, shuttingDown()
		}
		if s.cfg.MaxModels > 0 && len(s.order) >= s.cfg.MaxModels {
			victim := s.lruIdle()
			if victim == nil && !slices.ContainsFunc(s.order, func(e *entry) bool { return !e.pinned }) {
				s.mu.Unlock()
				return nil, &APIError{Status: http.StatusServiceUnavailable, Type: "unavailable_error", Code: "model_limit",
					Message: fmt.Sprintf("the model %s cannot be loaded: the %d models this server may load at once (--max-models) are all kept loaded (--mcp keeps the default one)", name, s.cfg.MaxModels)}
			}
			if victim == nil {
				// every loaded model is in use: wait for one to be free
				freed := s.freed
				s.roomWaits++
				s.mu.Unlock()
				select {
				case <-freed:
				case <-ctx.Done():
					s.mu.Lock()
					s.roomWaits--
					s.mu.Unlock()
					return nil, ctx.Err()
				}
				s.mu.Lock()
				s.roomWaits--
				continue
			}
			s.unloadLocked(victim, "lru")
			s.mu.Unlock()
			victim.close(s.ownsModels())
			s.mu.Lock()
			continue
		}
		e := &entry{name: name, ready: make(chan struct{}), refs: 1, keepAlive: s.cfg.KeepAlive, lastUsed: time.Now()}
		s.models[name] = e
		s.order = append(s.order, e)
		s.mu.Unlock()
		s.load(e)
		if e.err != nil {
			return nil, e.err
		}
		return e, nil
	}
}

// ownsModels reports whether the server closes the models it unloads (it
// does when it can load them again).
func (s *Server) ownsModels() bool { return s.cfg.Load != nil }

// load loads e's model with Config.Load and prepares its slots; on failure
// e is removed and e.err says why (the waiters get it).
func (s *Server) load(e *entry) {
	t0 := time.Now()
	// the load goes on if the request that started it goes away: others may wait for it
	m, err := s.cfg.Load(s.stopped, e.name)
	if err == nil {
		err = s.prepare(e, m)
		if err != nil {
			m.Close()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.mm.failures.WithLabelValues(e.name).Inc()
		s.cfg.Logger.Error("loading a model failed", "model", e.name, "err", err)
		e.err = &APIError{Status: http.StatusInternalServerError, Type: "server_error", Code: "model_load_failed",
			Message: fmt.Sprintf("loading the model %s failed: %v", e.name, err)}
		e.refs = 0
		s.removeLocked(e)
		close(e.ready)
		s.notifyFreed()
		return
	}
	e.loadedAt = time.Now()
	s.mm.loads.WithLabelValues(e.name).Inc()
	s.mm.loadTime.WithLabelValues(e.name).Observe(time.Since(t0).Seconds())
	s.mm.loaded.Set(float64(len(s.order)))
	s.cfg.Logger.Info("model loaded", "model", e.name, "path", m.Path(), "duration", time.Since(t0).Round(time.Millisecond))
	if s.draining.Load() {
		e.pool.drain()
	}
	close(e.ready)
}

// prepare allocates the slots of a model (their KV caches), batched or not.
func (s *Server) prepare(e *entry, m *glassbox.Model) error {
	e.model = m
	e.created = time.Now().Unix()
	if st, err := os.Stat(m.Path()); err == nil {
		e.created = st.ModTime().Unix()
	}
	ctx, err := slotContext(m, s.cfg.KVSlotBudget)
	if err != nil {
		return fmt.Errorf("model %s: %w", e.name, err)
	}
	e.slotCtx = ctx
	var batcher *glassbox.Batcher
	newSession := m.NewSession
	if s.cfg.Parallel > 1 && !s.cfg.NoBatching {
		b, err := m.NewBatcher(s.cfg.Parallel)
		if err != nil {
			return fmt.Errorf("model %s: %w", e.name, err)
		}
		if s.cfg.BatchTokens > 0 {
			if err := b.SetTokens(s.cfg.BatchTokens); err != nil {
				b.Close()
				return fmt.Errorf("model %s: %w", e.name, err)
			}
		}
		batcher, newSession = b, b.NewSession
	}
	slots := make([]*slot, s.cfg.Parallel)
	for i := range slots {
		sess, err := newSession()
		if err != nil {
			if batcher != nil {
				batcher.Close()
			}
			return fmt.Errorf("model %s: slot %d: %w", e.name, i, err)
		}
		slots[i] = &slot{id: i, session: sess}
	}
	name := e.name
	busyG, queueG := s.metrics.slotsBusy.WithLabelValues(name), s.metrics.queueDepth.WithLabelValues(name)
	s.metrics.slots.WithLabelValues(name).Set(float64(s.cfg.Parallel))
	for _, c := range []*prometheus.CounterVec{s.metrics.promptTokens, s.metrics.generatedTokens, s.metrics.cacheHits, s.metrics.rejected} {
		c.WithLabelValues(name) // present from the start, at 0, so that rate() sees the first increase
	}
	for _, h := range []*prometheus.HistogramVec{s.metrics.ttft, s.metrics.itl} {
		h.WithLabelValues(name)
	}
	s.mm.failures.WithLabelValues(name)
	for _, reason := range []string{"idle", "request", "lru", "delete"} {
		s.mm.unloads.WithLabelValues(name, reason)
	}
	e.batcher = batcher
	e.vectors = &vectorSource{name: name, kind: "model", model: e}
	e.pool = newPool(slots, s.cfg.Queue, func(busy, queued int) {
		busyG.Set(float64(busy))
		queueG.Set(float64(queued))
	})
	return nil
}

// loaded reports whether the model's load has ended well (its fields are then set).
func (e *entry) loaded() bool {
	select {
	case <-e.ready:
		return e.err == nil
	default:
		return false
	}
}

// busy marks a model in use: no expiry. The lock is held.
func (e *entry) busy() {
	e.gen++
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.expires = time.Time{}
}

// done ends one use of a model; keepAlive, when set, is its new keep-alive
// (else Config.KeepAlive). The last user starts the keep-alive.
func (s *Server) done(e *entry, keepAlive *time.Duration) {
	s.mu.Lock()
	if keepAlive != nil {
		e.keepAlive = *keepAlive
	} else {
		e.keepAlive = s.cfg.KeepAlive
	}
	e.lastUsed = time.Now()
	e.refs--
	if e.refs > 0 || s.models[e.name] != e {
		s.mu.Unlock()
		return
	}
	s.notifyFreed()
	if unload := s.idleLocked(e); unload {
		s.unloadLocked(e, "request")
		s.mu.Unlock()
		e.close(s.ownsModels())
		return
	}
	s.mu.Unlock()
}

// idleLocked starts the keep-alive of a model no request uses; it reports
// whether the model must be unloaded now (keep-alive 0). The lock is held.
func (s *Server) idleLocked(e *entry) (unloadNow bool) {
	if e.pinned || s.closed {
		return false
	}
	ka := e.keepAlive
	switch {
	case ka == 0:
		return true
	case ka < 0:
		e.expires = time.Time{}
	default:
		e.gen++
		gen := e.gen
		e.expires = time.Now().Add(ka)
		e.timer = time.AfterFunc(ka, func() { s.expire(e, gen) })
	}
	return false
}

// expire unloads a model whose keep-alive is over, unless a request has used it since.
func (s *Server) expire(e *entry, gen int) {
	s.mu.Lock()
	if s.closed || s.models[e.name] != e || e.refs > 0 || e.gen != gen {
		s.mu.Unlock()
		return
	}
	s.unloadLocked(e, "idle")
	s.mu.Unlock()
	e.close(s.ownsModels())
}

// lruIdle returns the loaded model no request uses that was used least
// recently, or nil. The lock is held.
func (s *Server) lruIdle() *entry {
	var best *entry
	for _, e := range s.order {
		if e.refs > 0 || e.pinned || !e.loaded() {
			continue
		}
		if best == nil || e.lastUsed.Before(best.lastUsed) {
			best = e
		}
	}
	return best
}

// removeLocked takes a model out of the server's lists. The lock is held.
func (s *Server) removeLocked(e *entry) {
	if s.models[e.name] == e {
		delete(s.models, e.name)
	}
	if i := slices.Index(s.order, e); i >= 0 {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// unloadLocked takes an idle model out of the server (the caller closes it
// with e.close once the lock is released). The lock is held.
func (s *Server) unloadLocked(e *entry, reason string) {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.gen++
	s.removeLocked(e)
	s.mm.unloads.WithLabelValues(e.name, reason).Inc()
	s.mm.loaded.Set(float64(len(s.order)))
	s.cfg.Logger.Info("model unloaded", "model", e.name, "reason", reason)
	s.notifyFreed()
}

// close frees an unloaded model: its batcher and, when owned, its weights
// (glassbox.Model.Close waits for any generation still reading them).
func (e *entry) close(owned bool) {
	if e.batcher != nil {
		e.batcher.Close()
	}
	// the slots' KV cache pages go back to the pool shared with other models
	if e.pool != nil {
		for _, sl := range e.pool.all {
			if sl.session != nil {
				sl.session.Free()
			}
		}
	}
	if owned && e.model != nil {
		e.model.Close()
	}
}

// unload unloads a model no request uses (for /api/delete and /api/generate
// with keep_alive 0 and no prompt); it reports false when a request uses it.
func (s *Server) unload(e *entry, reason string) bool {
	s.mu.Lock()
	if s.models[e.name] != e {
		s.mu.Unlock()
		return true
	}
	if e.refs > 0 {
		s.mu.Unlock()
		return false
	}
	s.unloadLocked(e, reason)
	s.mu.Unlock()
	e.close(s.ownsModels())
	return true
}

// expiry returns when an idle model will be unloaded; ok is false when never
// (pinned, or keep-alive negative). A model in use expires its keep-alive
// after now at the earliest.
func (s *Server) expiry(e *entry) (t time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.pinned || e.keepAlive < 0 || s.cfg.Load == nil {
		return time.Time{}, false
	}
	if e.refs > 0 || e.expires.IsZero() {
		return time.Now().Add(e.keepAlive), true
	}
	return e.expires, true
}

// catalogNotLoaded returns the catalog's models that are not loaded, by name.
func (s *Server) catalogNotLoaded() []CatalogModel {
	s.mu.Lock()
	loaded := map[string]bool{}
	for name := range s.models {
		loaded[name] = true
	}
	s.mu.Unlock()
	var out []CatalogModel
	for _, c := range s.catalog() {
		if !loaded[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// errNoModel is returned by New without a model to serve.
var errNoModel = errors.New("server: no model to serve: give Config.Models, or Config.Load with Config.Default")

// loadWait returns the time the request spent waiting for its models to load
// (Ollama's load_duration).
func loadWait(ctx context.Context) time.Duration {
	h, ok := ctx.Value(holdsKey{}).(*holds)
	if !ok {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.loading
}
