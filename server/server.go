// Package server is the HTTP API of `glassbox serve`: OpenAI-compatible chat
// completions, completions, embeddings and model listing; llama.cpp-compatible
// code-completion endpoints (/infill, /tokenize, /detokenize); health and
// Prometheus metrics. Each model has a number of generation slots (each with
// its own KV cache, reused across requests) and a bounded queue in front of
// them; a request that finds the queue full gets 429 with a Retry-After
// estimated from the queue and the duration of recent requests. Generation
// stops as soon as the client goes away and frees its slot.
//
// Shutting down (as `glassbox serve` does on SIGINT or SIGTERM): Drain turns
// queued and new generation requests away with 503; http.Server.Shutdown then
// lets the running requests finish for a grace period; after it,
// StopGenerations ends the running generations at their next token (their
// streams get a final event with finish_reason "length" and [DONE], other
// requests their response) and a second Shutdown waits for those answers.
// Closing the models last is safe: glassbox.Model.Close waits for every
// generation still reading the weights.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"glassbox/eval"
	"glassbox/feedback"
	"glassbox/store"
	"glassbox/web"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"glassbox"
)

// DefaultMaxBodyBytes is the default limit on the size of a request body.
const DefaultMaxBodyBytes = 8 << 20

// Model is a loaded model served under a name.
type Model struct {
	Name  string // the id clients pass as "model"
	Model *glassbox.Model
}

// Config configures a Server.
type Config struct {
	// Models are the models served; the first is the default, used when a
	// request names no model.
	Models []Model
	// APIKey, when set, is required as "Authorization: Bearer KEY" on every
	// API route but the probes (/health, /livez, /readyz) and, with
	// PublicMetrics, /metrics. The page's static files (/, /app.js,
	// /style.css) stay public: the page asks for the key and sends it with
	// each API call it makes.
	APIKey string
	// PublicMetrics serves /metrics without the API key, for the scrapers
	// that send none (Prometheus' pod discovery, an inference gateway's
	// endpoint picker). The metrics count requests and tokens by model and
	// route; they hold no prompt or reply.
	PublicMetrics bool
	// Access sets the Host check (DNS rebinding) and the web origins allowed
	// to call the API (CORS).
	Access Access
	// Load, when set, loads a model by name on demand: a request naming a
	// model of the catalog (Config.Models and Config.Catalog) that is not
	// loaded loads it. The server then owns every model, those of
	// Config.Models included: it closes them when it unloads them (after
	// their keep-alive, or to make room under MaxModels) and in Close.
	// Without Load, the models of Config.Models stay loaded and the caller
	// closes them.
	Load func(ctx context.Context, name string) (*glassbox.Model, error)
	// Catalog lists the models Load can load besides Config.Models (such as
	// the model store's), for /v1/models and /api/tags and name lookups.
	Catalog func() ([]CatalogModel, error)
	// Default is the model of requests that name none, when Config.Models
	// is empty (else it is the first of them).
	Default string
	// PinDefault keeps the default model (the first of Config.Models)
	// loaded for the life of the server, whatever the keep-alive and
	// MaxModels (for what uses it outside the server, such as MCP).
	PinDefault bool
	// MaxModels bounds the models loaded at once (0: no bound); loading
	// another first unloads the one used least recently that no request uses.
	MaxModels int
	// KeepAlive is how long, with Load, a model no request uses stays
	// loaded: 0 unloads it at the end of each request, a negative value
	// never. Ollama requests' "keep_alive" overrides it for their model.
	KeepAlive time.Duration
	// SlotSavePath is the directory POST /slots/{id}?action=save writes
	// slot files to and action=restore reads them from ("": those actions
	// answer 501, as llama.cpp without --slot-save-path).
	SlotSavePath string
	// Speculative, when set, decodes the generations of SpeculativeModel
	// (default: the default model) speculatively, with a draft model or by
	// prompt lookup (glassbox serve --draft, --lookup); requests may change
	// the draft lengths (speculative.n_max, n_min, p_min). Each slot keeps
	// its own cache of the draft model. The caller closes the draft model.
	Speculative      *glassbox.Speculative
	SpeculativeModel string
	// KVPool, when set, is the memory budget the models' slots were opened
	// with (glassbox.Options.KVPool): /metrics reports the bytes their
	// caches hold against it and its evictions, /slots each slot's bytes.
	KVPool *glassbox.KVPool
	// KVSlotBudget, when positive, is the most bytes of KV cache pages one
	// slot may hold (glassbox serve --kv-budget-slot), so that a model's
	// slot holds at most that many bytes' worth of whole pages of positions
	// (its context, if fewer): a request whose prompt plus max tokens would
	// need more positions gets 400 before any work, and a generation whose
	// slot's cache is full stops with finish_reason "length", as at the end
	// of the context. It is at most KVPool's budget (when it has one) and at
	// least one page of every model's cache (glassbox.Model.KVPage).
	KVSlotBudget int64
	// Parallel is the number of generation slots per model (default 1).
	// With more than one, the slots of a model decode together (continuous
	// batching, see glassbox.Batcher) unless NoBatching is set.
	Parallel int
	// BatchTokens is the most tokens one batched forward pass holds
	// (llama.cpp's n_batch): the decode tokens of the slots generating and
	// the prompt chunks of as many slots as fit (0: glassbox.Batcher's
	// default).
	BatchTokens int
	// NoBatching makes each slot run its own forward passes, side by side,
	// instead of one batched pass for all the slots decoding.
	NoBatching bool
	// Queue is the number of requests per model that may wait for a slot;
	// beyond it requests get 429. Zero means none wait.
	Queue int
	// MaxBodyBytes limits request bodies (default DefaultMaxBodyBytes); larger ones get 413.
	MaxBodyBytes int64
	// RetryAfter is the least Retry-After, in seconds, of a 429 (default 1).
	// The value sent is the expected wait for a slot, estimated from the
	// running and queued requests and how long recent requests took.
	RetryAfter int
	// Vectors are word-vector sets served by the vectors endpoints
	// (/glassbox/vectors/…) next to every model's token embedding table.
	Vectors []VectorSet
	// Leaderboard, when set, reads the leaderboard GET /glassbox/leaderboard
	// serves (glassbox serve: the records of the store, at each request).
	Leaderboard func() (*eval.Leaderboard, error)
	// Feedback, when set, is the file the page's thumbs and A/B picks are
	// appended to (POST /glassbox/feedback) and read from (GET).
	Feedback *feedback.Log
	// Store, when set, is the model store the Ollama routes list
	// (/api/tags, /api/show), pull into (/api/pull) and delete from
	// (/api/delete).
	Store *store.Store
	// Hub is the Hugging Face client of /api/pull (nil: store.HubFromEnv).
	Hub *store.Hub
	// Logger receives one line per request (method, path, status, duration,
	// and the model and tokens in and out of generations) and the details of
	// failed requests (default: discard).
	Logger *slog.Logger
}

// Server answers the HTTP API. Create it with New and serve Handler.
type Server struct {
	cfg Config

	// the models loaded or loading (models.go)
	mu          sync.Mutex
	models      map[string]*entry
	order       []*entry      // in the order they were loaded
	freed       chan struct{} // closed (and replaced) when a model is free to unload
	closed      bool
	roomWaits   int // loads waiting for a loaded model to be free
	defaultName string
	mm          *modelMetrics

	metrics *metrics
	cache   *cacheMetrics
	handler http.Handler
	keyHash [32]byte
	started time.Time

	vectorSets  map[string]*vectorSource
	vectorOrder []string

	draining atomic.Bool
	// stopped is cancelled by StopGenerations: running generations end at their next token.
	stopped context.Context
	stopAll context.CancelFunc
}

// entry is a served model with its slots. The fields below ready are set
// once ready is closed (err nil); the lifecycle fields are guarded by Server.mu.
type entry struct {
	name  string
	ready chan struct{} // closed once loaded, or once its load failed (err)
	err   error

	model    *glassbox.Model
	pool     *pool
	created  int64
	batcher  *glassbox.Batcher // the slots' batcher, nil without batching
	slotCtx  int               // the positions a slot's KV cache may hold: the context, or fewer under Config.KVSlotBudget
	vectors  *vectorSource     // its token embedding table
	loadedAt time.Time         // when its load ended (zero for the models given to New)

	// lifecycle (Server.mu)
	pinned    bool          // never unloaded (the server cannot load it again)
	refs      int           // requests using it (and its load)
	keepAlive time.Duration // how long it stays loaded once no request uses it
	lastUsed  time.Time
	expires   time.Time   // when it unloads, while idle with a keep-alive
	timer     *time.Timer // the keep-alive's
	gen       int         // changes at each use, so that an old timer does nothing
}

// New prepares a server: it allocates the slots (their KV caches) of every
// model of Config.Models up front, so that a model that does not fit fails
// here rather than under load; with Config.Load, other models load on demand.
func New(cfg Config) (*Server, error) {
	if len(cfg.Models) == 0 && (cfg.Load == nil || cfg.Default == "") {
		return nil, errNoModel
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1
	}
	if cfg.Queue < 0 {
		return nil, fmt.Errorf("server: the queue size must be >= 0, got %d", cfg.Queue)
	}
	if cfg.MaxModels < 0 {
		return nil, fmt.Errorf("server: the most models loaded at once must be >= 0 (0: no limit), got %d", cfg.MaxModels)
	}
	if cfg.MaxModels > 0 && len(cfg.Models) > cfg.MaxModels {
		return nil, fmt.Errorf("server: %d models given to load at start but at most %d may be loaded at once", len(cfg.Models), cfg.MaxModels)
	}
	if cfg.KVSlotBudget < 0 {
		return nil, fmt.Errorf("server: the KV cache budget of a slot must be >= 0 (0: no limit), got %d", cfg.KVSlotBudget)
	}
	if b := cfg.KVPool.Budget(); b > 0 && cfg.KVSlotBudget > b {
		return nil, fmt.Errorf("server: the KV cache budget of a slot, %s (%d bytes), is more than the budget of all slots, %s (%d bytes)",
			store.FormatBytes(cfg.KVSlotBudget), cfg.KVSlotBudget, store.FormatBytes(b), b)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, models: map[string]*entry{}, freed: make(chan struct{}), metrics: newMetrics(), started: time.Now()}
	s.cache = newCacheMetrics(s.metrics.reg)
	s.mm = newModelMetrics(s.metrics.reg)
	s.stopped, s.stopAll = context.WithCancel(context.Background())
	if cfg.APIKey != "" {
		s.keyHash = sha256.Sum256([]byte(cfg.APIKey))
	}
	s.defaultName = cfg.Default
	if len(cfg.Models) > 0 {
		s.defaultName = cfg.Models[0].Name
	}
	for _, m := range cfg.Models {
		if m.Name == "" || m.Model == nil {
			s.Close()
			return nil, errors.New("server: every model needs a name and an opened model")
		}
		if _, dup := s.models[m.Name]; dup {
			s.Close()
			return nil, fmt.Errorf("server: two models are named %q: name them with NAME=PATH", m.Name)
		}
		pinned := cfg.Load == nil || cfg.PinDefault && m.Name == s.defaultName
		e := &entry{name: m.Name, ready: make(chan struct{}), pinned: pinned, keepAlive: cfg.KeepAlive, lastUsed: time.Now()}
		if err := s.prepare(e, m.Model); err != nil {
			s.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		close(e.ready)
		s.models[m.Name] = e
		s.order = append(s.order, e)
		s.mm.loads.WithLabelValues(m.Name).Inc()
		s.mm.loadTime.WithLabelValues(m.Name).Observe(m.Model.LoadDuration().Seconds())
	}
	s.mm.loaded.Set(float64(len(s.order)))
	for _, e := range s.order {
		s.mu.Lock()
		s.idleLocked(e) // the keep-alive of the models loaded at start runs from now
		s.mu.Unlock()
	}
	s.metrics.reg.MustRegister(newKVCollector(s))
	if err := s.initVectors(); err != nil {
		s.Close()
		return nil, err
	}
	h, err := s.middleware(s.routes())
	if err != nil {
		s.Close()
		return nil, err
	}
	s.handler = h
	return s, nil
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// route is one endpoint: its pattern, whether it needs the API key, and its handler.
type route struct {
	pattern string
	public  bool
	handle  func(http.ResponseWriter, *http.Request) error
}

func (s *Server) routeTable() []route {
	return []route{
		{"GET " + HealthPath, true, s.ready},
		{"GET " + ReadyPath, true, s.ready},
		{"GET " + LivePath, true, s.live},
		{"GET /metrics", s.cfg.PublicMetrics, func(w http.ResponseWriter, r *http.Request) error {
			s.metrics.handler().ServeHTTP(w, r)
			return nil
		}},
		{"GET /v1/models", false, s.listModels},
		{"GET /v1/models/{id...}", false, s.getModel},
		{"POST /v1/chat/completions", false, s.chatCompletions},
		{"POST /v1/completions", false, s.completions},
		{"POST /v1/embeddings", false, s.embeddings},
		{"POST /infill", false, s.infill},
		{"POST /completion", false, s.llamaCompletion},
		{"POST /completions", false, s.llamaCompletion},
		{"POST /tokenize", false, s.tokenize},
		{"POST /detokenize", false, s.detokenize},
		{"POST /v1/dissect", false, s.dissect},
		{"GET /glassbox/models/{id...}", false, s.modelInfo},
		{"GET /glassbox/vectors", false, s.listVectors},
		{"POST /glassbox/vectors/similar", false, s.vectorsSimilar},
		{"POST /glassbox/vectors/analogy", false, s.vectorsAnalogy},
		{"POST /glassbox/vectors/project", false, s.vectorsProject},
		{"GET /glassbox/leaderboard", false, s.leaderboard},
		{"POST /glassbox/feedback", false, s.postFeedback},
		{"GET /glassbox/feedback", false, s.getFeedback},
		{"POST /glassbox/diff", false, s.diff},
		{"GET /slots", false, s.listSlots},
		// the Ollama API (ollama.go, ollama_models.go)
		{"POST /api/generate", false, s.ollamaGenerate},
		{"POST /api/chat", false, s.ollamaChat},
		{"POST /api/embed", false, s.ollamaEmbed},
		{"POST /api/embeddings", false, s.ollamaEmbeddings},
		{"GET /api/tags", false, s.ollamaTags},
		{"POST /api/show", false, s.ollamaShow},
		{"GET /api/ps", false, s.ollamaPS},
		{"POST /api/pull", false, s.ollamaPull},
		{"DELETE /api/delete", false, s.ollamaDelete},
		{"GET /api/version", false, s.ollamaVersionHandler},
		{"POST /slots/{id}", false, s.slotAction},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	var paths []string
	for _, rt := range s.routeTable() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		mux.Handle(rt.pattern, s.metrics.instrument(path, s.wrap(rt)))
		if methods[path] == nil {
			paths = append(paths, path)
		}
		methods[path] = append(methods[path], method)
	}
	// other methods on a known path: 405 as an OpenAI error object
	for _, path := range paths {
		allow := strings.Join(methods[path], ", ")
		mux.Handle(path, s.metrics.instrument(path, s.wrap(route{pattern: path, public: true, handle: func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", allow)
			if isOllamaPath(r.URL.Path) {
				return &APIError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("%s %s is not allowed: use %s", r.Method, r.URL.Path, allow)}
			}
			return &APIError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Code: "method_not_allowed",
				Message: fmt.Sprintf("%s %s is not allowed: use %s", r.Method, r.URL.Path, allow)}
		}})))
	}
	// the page: static files, public (the API calls it makes need the key)
	page := web.Handler()
	for _, p := range []string{"GET /{$}", "GET /app.js", "GET /style.css", "GET /leaderboard.js", "GET /leaderboard.css", "GET /feedback.js", "GET /diff.js", "GET /align.css"} {
		mux.Handle(p, s.metrics.instrument("page", page))
	}
	mux.Handle("/", s.metrics.instrument("other", s.wrap(route{pattern: "/", handle: func(w http.ResponseWriter, r *http.Request) error {
		return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "not_found",
			Message: fmt.Sprintf("no route %s %s: the API serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /completion, /infill, /tokenize, /detokenize, /slots, /v1/dissect, /glassbox/models/{id}, /glassbox/vectors, /glassbox/leaderboard, /glassbox/feedback, /glassbox/diff, /health, /livez, /readyz and /metrics, Ollama's /api/generate, /api/chat, /api/embed, /api/embeddings, /api/tags, /api/show, /api/ps, /api/pull, /api/delete and /api/version (and the page at /)", r.Method, r.URL.Path)}
	}})))
	return mux
}

// wrap adds authentication, the body size limit and error answers to a route.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rt.public && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="glassbox"`)
			writeErrorFor(w, r, &APIError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
				Message: "invalid or missing API key: send the header \"Authorization: Bearer <key>\" with the key the server was started with (--api-key)"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		r, h := withHolds(r)
		defer s.releaseHolds(h)
		if err := rt.handle(w, r); err != nil {
			if r.Context().Err() != nil && !isAPIError(err) {
				return // the client went away: nobody to answer
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status >= 500 && ae.Status != http.StatusServiceUnavailable { // 503: shutting down, expected
				s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				return // the response has begun (a stream reports its own errors)
			}
			writeErrorFor(w, r, err)
		}
	})
}

func isAPIError(err error) bool {
	var ae *APIError
	return errors.As(err, &ae)
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(auth) < len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(auth[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], s.keyHash[:]) == 1
}

// acquire waits for a slot of the model, or answers 429 when the queue is
// full and 503 when the server is shutting down. The request holds the
// model's weights (see glassbox.Model.Acquire) until the slot is released.
func (s *Server) acquire(ctx context.Context, e *entry, prompt []int) (*slot, error) {
	return s.acquireSlot(ctx, e, prompt, -1)
}

// acquireSlot is acquire for the slot id when id >= 0 (llama.cpp's id_slot).
func (s *Server) acquireSlot(ctx context.Context, e *entry, prompt []int, id int) (*slot, error) {
	var want *slot
	if id >= 0 {
		if id >= len(e.pool.all) {
			return nil, badRequest("id_slot", "invalid value for 'id_slot': model %s has slots 0 to %d, got %d (-1: any)", e.name, len(e.pool.all)-1, id)
		}
		want = e.pool.all[id]
	}
	sl, err := e.pool.acquireSlot(ctx, prompt, want)
	switch {
	case errors.Is(err, errQueueFull):
		s.metrics.rejected.WithLabelValues(e.name).Inc()
		wait := retryAfterSeconds(e.pool.expectedWait(), s.cfg.RetryAfter)
		return nil, &APIError{Status: http.StatusTooManyRequests, Type: "rate_limit_exceeded", Code: "rate_limit_exceeded", RetryAfter: wait,
			Message: fmt.Sprintf("the server is busy: the %d generation slots of model %s are in use and %d requests are already waiting; a slot is expected in about %d s: retry then", e.pool.size, e.name, s.cfg.Queue, wait)}
	case errors.Is(err, errDraining):
		return nil, shuttingDown()
	case err != nil:
		return nil, err
	}
	release, err := e.model.Acquire()
	if err != nil { // the model is being closed
		e.pool.release(sl)
		return nil, shuttingDown()
	}
	sl.release = release
	return sl, nil
}

// maxRetryAfter bounds the Retry-After of a 429, in seconds (one hour).
const maxRetryAfter = 3600

// retryAfterSeconds rounds an expected wait up to whole seconds, at least least (and 1).
func retryAfterSeconds(wait time.Duration, least int) int {
	sec := int(min((wait+time.Second-1)/time.Second, maxRetryAfter))
	return max(sec, least, 1)
}

// shuttingDown is the answer to a generation request that comes, or waits in
// the queue, while the server shuts down.
func shuttingDown() *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "server_shutting_down", RetryAfter: shutdownRetryAfter,
		Message: "the server is shutting down and accepts no new generation: retry on another instance or once it has restarted"}
}

// Close stops the schedulers of the models' batched slots and, with
// Config.Load, closes the models (call it once the server answers no more
// requests; generations still running fail).
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	es := slices.Clone(s.order)
	for _, e := range es {
		if e.timer != nil {
			e.timer.Stop()
		}
	}
	s.mu.Unlock()
	for _, e := range es {
		select {
		case <-e.ready:
			if e.pool != nil {
				e.close(s.ownsModels())
			}
		default: // still loading: its load fails once s.stopped is cancelled
		}
	}
	if s.stopAll != nil {
		s.stopAll()
	}
}

// Drain makes the server turn generation requests away with 503 and a
// Retry-After: those waiting in a queue at once, and every later one. Running
// generations go on (see StopGenerations); the readiness probes (/health,
// /readyz) answer 503 from now on, and every response closes its connection
// so that clients reconnect, through their load balancer, to another replica.
func (s *Server) Drain() {
	s.mu.Lock()
	s.draining.Store(true)
	s.notifyFreed() // loads waiting for room give up
	s.mu.Unlock()
	for _, e := range s.readyModels() {
		e.pool.drain()
	}
}

// StopGenerations ends every running generation at its next token, as if it
// had reached its token limit: a stream gets its final event (finish_reason
// "length") and [DONE], another request its response with the text so far.
// Generations that start later are empty. It returns the number of requests
// that held a slot when it was called; call Drain first so that none start.
func (s *Server) StopGenerations() int {
	n := 0
	for _, e := range s.readyModels() {
		busy, _ := e.pool.stats()
		n += busy
	}
	s.stopAll()
	return n
}

// WaitIdle waits until no request holds a generation slot of any model (after
// Drain: until the last running request has been answered), or until ctx ends.
func (s *Server) WaitIdle(ctx context.Context) error {
	for _, e := range s.readyModels() {
		for {
			idle := e.pool.idleChan()
			if busy, _ := e.pool.stats(); busy == 0 {
				break
			}
			select {
			case <-idle:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// modelObject is an entry of GET /v1/models.
type modelObject struct {
	ID      string      `json:"id"`
	Object  string      `json:"object"`
	Created int64       `json:"created"`
	OwnedBy string      `json:"owned_by"`
	Meta    modelMeta   `json:"meta"`
	Status  modelStatus `json:"status"`
}

// modelStatus says whether a model is loaded, as llama.cpp's router does.
type modelStatus struct {
	Value string `json:"value"` // loaded or unloaded
}

// modelMeta describes a model as llama.cpp's server does, plus its chat and
// FIM abilities. A model that is not loaded has what its file's header says.
type modelMeta struct {
	Arch      string `json:"arch"`
	VocabSize int    `json:"n_vocab"`
	CtxTrain  int    `json:"n_ctx_train"`
	Ctx       int    `json:"n_ctx,omitempty"`
	Dim       int    `json:"n_embd"`
	Layers    int    `json:"n_layer"`
	FileType  string `json:"file_type,omitempty"`
	Chat      bool   `json:"chat_template"`
	FIM       bool   `json:"fim"`
	Slots     int    `json:"slots,omitempty"`
}

func (e *entry) object() modelObject {
	c := e.model.Config()
	_, _, _, fim := e.model.Tokenizer().FIM()
	return modelObject{ID: e.name, Object: "model", Created: e.created, OwnedBy: "glassbox", Status: modelStatus{"loaded"},
		Meta: modelMeta{Arch: c.Arch, VocabSize: c.VocabSize, CtxTrain: c.ContextLength, Ctx: e.model.ContextSize(),
			Dim: c.Dim, Layers: c.Layers, FileType: c.FileType, Chat: e.model.HasChatTemplate(), FIM: fim, Slots: e.pool.size}}
}

// catalogObject describes a model that is not loaded from its file's header.
func catalogObject(c CatalogModel) modelObject {
	o := modelObject{ID: c.Name, Object: "model", OwnedBy: "glassbox", Status: modelStatus{"unloaded"}}
	if c.Path == "" {
		return o
	}
	f, err := factsOf(c.Path, nil)
	if err != nil {
		return o
	}
	o.Created = f.modified.Unix()
	if i := f.info; i != nil {
		o.Meta = modelMeta{Arch: i.Architecture, VocabSize: i.VocabSize, CtxTrain: int(i.ContextLength), Dim: int(i.Embedding),
			Layers: int(i.Layers), FileType: i.Quant, Chat: i.ChatTemplate != ""}
	}
	return o
}

// listModels answers GET /v1/models: the loaded models, then the others
// the server can load (its -m models and the store's).
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	data := []modelObject{}
	for _, e := range s.readyModels() {
		data = append(data, e.object())
	}
	for _, c := range s.catalogNotLoaded() {
		data = append(data, catalogObject(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
	return nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if id == "" {
		return badRequest("model", "no model id given: GET /v1/models/{id}")
	}
	canon, err := s.resolve(id)
	if err != nil {
		return err
	}
	if e := s.peek(canon); e != nil {
		writeJSON(w, http.StatusOK, e.object())
		return nil
	}
	for _, c := range s.catalog() {
		if c.Name == canon {
			writeJSON(w, http.StatusOK, catalogObject(c))
			return nil
		}
	}
	return s.notFound(id)
}

// contextError reports a prompt that does not fit the model's context.
func contextError(e *entry, n int) error {
	c := e.model.ContextSize()
	if n < c {
		return nil
	}
	return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "messages", Code: "context_length_exceeded",
		Message: fmt.Sprintf("the prompt has %d tokens but the context of model %s holds %d: %d tokens too many (generating needs at least one free position); shorten the prompt",
			n, e.name, c, n-c+1)}
}

// genError turns a generation error into an API error.
func genError(err error) error {
	if errors.Is(err, glassbox.ErrKVBudget) {
		return &APIError{Status: http.StatusServiceUnavailable, Type: "unavailable_error", Code: "kv_budget_exceeded", Message: err.Error()}
	}
	if errors.Is(err, glassbox.ErrContext) {
		return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "context_length_exceeded", Message: err.Error()}
	}
	return err
}
