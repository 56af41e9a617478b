package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"glassbox"
	"glassbox/store"

	"github.com/prometheus/client_golang/prometheus"
)

// The prompt cache. Every slot's session keeps the tokens of its last
// request in its KV cache; a request whose prompt starts with some of them
// processes only the rest (infer.Session.Generate). The pool hands a request
// the free slot whose cache shares the longest prefix with its prompt, as
// llama.cpp does with cache_prompt (on by default); cache_prompt: false takes
// the free slot unused the longest and processes the whole prompt. Responses
// report the reused prefix (tokens_cached, usage.prompt_tokens_details.
// cached_tokens), /metrics counts the hits, and GET /slots shows each slot.

// cacheMetrics count the prompt-cache hits (registered in the server's registry).
type cacheMetrics struct {
	hits *prometheus.CounterVec
}

func newCacheMetrics(reg *prometheus.Registry) *cacheMetrics {
	c := &cacheMetrics{
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "glassbox_prompt_cache_hits_total",
			Help: "Generations whose prompt started with tokens already in their slot's KV cache (those tokens were not processed again).",
		}, []string{"model"}),
	}
	reg.MustRegister(c.hits)
	return c
}

// note records whether one generation's prompt reused a cached prefix (the
// reused tokens are counted by glassbox_prompt_cache_hit_tokens_total).
func (c *cacheMetrics) note(model string, cached int) {
	if c == nil {
		return
	}
	if cached > 0 {
		c.hits.WithLabelValues(model).Inc()
	} else {
		// the series exist from the first generation on, at zero
		c.hits.WithLabelValues(model).Add(0)
	}
}

// slotState is what GET /slots shows of a slot. The request holding the
// slot writes it; the monitor reads it at any time.
type slotState struct {
	mu         sync.Mutex
	processing bool
	tasks      int // generations started on the slot
	tokens     int // tokens in the slot's cache
	cached     int // prompt tokens the last generation reused
	params     *slotParams
}

// slotParams are the settings of the slot's last (or current) generation,
// in llama.cpp's names.
type slotParams struct {
	NPredict         int      `json:"n_predict"`
	Seed             uint64   `json:"seed"`
	Temperature      float32  `json:"temperature"`
	TopK             int      `json:"top_k"`
	TopP             float32  `json:"top_p"`
	MinP             float32  `json:"min_p"`
	RepeatLastN      int      `json:"repeat_last_n"`
	RepeatPenalty    float32  `json:"repeat_penalty"`
	PresencePenalty  float32  `json:"presence_penalty"`
	FrequencyPenalty float32  `json:"frequency_penalty"`
	Stop             []string `json:"stop"`
	IgnoreEOS        bool     `json:"ignore_eos"`
	NProbs           int      `json:"n_probs"`
	Grammar          string   `json:"grammar"`
	CachePrompt      bool     `json:"cache_prompt"`
	PromptTokens     int      `json:"n_prompt_tokens"`
}

// begin records that a generation starts on the slot.
func (st *slotState) begin(e *entry, g *genParams, job genJob) {
	p := &slotParams{NPredict: -1, Seed: job.sampler.Seed, Temperature: job.sampler.Temperature, TopK: job.sampler.TopK,
		TopP: job.sampler.TopP, MinP: job.sampler.MinP, RepeatLastN: job.sampler.RepeatLastN, RepeatPenalty: job.sampler.RepeatPenalty,
		PresencePenalty: job.sampler.PresencePenalty, FrequencyPenalty: job.sampler.FrequencyPenalty, Stop: append([]string{}, g.stop...),
		IgnoreEOS: g.ignoreEOS, Grammar: g.grammar, CachePrompt: !g.noCache, PromptTokens: len(job.prompt)}
	if g.maxTokens > 0 {
		p.NPredict = g.maxTokens
	}
	if g.logprobs {
		p.NProbs = g.topProbs
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.processing = true
	st.tasks++
	st.params = p
}

// end records that the generation ended with tokens in the slot's cache,
// of which cached were reused from the previous request.
func (st *slotState) end(tokens, cached int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.processing = false
	st.tokens, st.cached = tokens, cached
}

// erase records that the slot's cache was emptied.
func (st *slotState) erase() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tokens, st.cached = 0, 0
}

// slotInfo is an element of GET /slots, in llama.cpp's shape plus the
// slot's model and its cache. n_ctx is the positions the slot may hold:
// the model's context, or fewer under the budget of a slot
// (kv_cache_limit_bytes, --kv-budget-slot).
type slotInfo struct {
	ID           int         `json:"id"`
	IDTask       int         `json:"id_task"`
	Model        string      `json:"model"`
	NCtx         int         `json:"n_ctx"`
	Speculative  bool        `json:"speculative"`
	IsProcessing bool        `json:"is_processing"`
	TokensCached int         `json:"tokens_cached"`
	KVCacheBytes int64       `json:"kv_cache_bytes,omitempty"`       // bytes of KV cache pages the slot holds (with a KV pool)
	KVCacheLimit int64       `json:"kv_cache_limit_bytes,omitempty"` // the most it may hold (Config.KVSlotBudget)
	Evicted      bool        `json:"kv_cache_evicted,omitempty"`
	LastCached   int         `json:"last_tokens_cached"`
	Params       *slotParams `json:"params"`
}

// listSlots answers GET /slots: every slot of the model named by ?model=
// (default: the first model), or of every model with ?model=*. With
// ?fail_on_no_slot=1 (llama.cpp) it answers 503 when no slot is free.
func (s *Server) listSlots(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	entries := s.readyModels()
	if name := q.Get("model"); name != "*" {
		// the slots of a model that is not loaded: none (GET /slots loads nothing)
		if _, err := s.resolve(name); err != nil {
			return err
		}
		entries = nil
		if e := s.peek(name); e != nil {
			entries = []*entry{e}
		}
	}
	out := []slotInfo{}
	free := 0
	for _, e := range entries {
		for _, sl := range e.pool.all {
			sl.state.mu.Lock()
			info := slotInfo{ID: sl.id, IDTask: -1, Model: e.name, NCtx: e.slotPositions(), KVCacheLimit: s.cfg.KVSlotBudget, IsProcessing: sl.state.processing, Speculative: s.speculation(e) != nil,
				TokensCached: sl.state.tokens, LastCached: sl.state.cached, Params: sl.state.params}
			if info.IsProcessing {
				info.IDTask = sl.state.tasks - 1
			} else {
				free++
			}
			sl.state.mu.Unlock()
			if s.cfg.KVPool != nil {
				info.KVCacheBytes = sl.session.CacheBytes()
				if sl.session.Evicted() {
					info.Evicted, info.TokensCached, info.LastCached = true, 0, 0
				}
			}
			if info.Params == nil {
				info.Params = &slotParams{NPredict: -1, Stop: []string{}, CachePrompt: true}
			}
			out = append(out, info)
		}
	}
	if v := q.Get("fail_on_no_slot"); v != "" && v != "0" && v != "false" && free == 0 {
		return &APIError{Status: http.StatusServiceUnavailable, Type: "unavailable_error", Code: "no_slot_available",
			Message: "no slot available: every generation slot is processing a request"}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// slotAction answers POST /slots/{id}?action=erase|save|restore, as
// llama.cpp's server: erase empties the cache of an idle slot; save writes
// its cache (tokens, keys and values; see glassbox.Session.SaveState) to
// the file {"filename": NAME} of --slot-save-path, restore reads one back.
func (s *Server) slotAction(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	action := q.Get("action")
	switch action {
	case "erase", "save", "restore":
	default:
		return badRequest("action", "invalid value for 'action': expected erase, save or restore, got %q", action)
	}
	var body struct {
		Filename string `json:"filename"`
	}
	if action != "erase" {
		if s.cfg.SlotSavePath == "" {
			return &APIError{Status: http.StatusNotImplemented, Type: "not_supported_error", Code: "not_supported",
				Message: "this server does not save or restore slots: start it with --slot-save-path DIR"}
		}
		if err := decodeJSON(r.Body, &body); err != nil {
			return err
		}
		if err := validSlotFilename(body.Filename); err != nil {
			return err
		}
	}
	e, err := s.lookup(r.Context(), q.Get("model"))
	if err != nil {
		return err
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 0 || id >= len(e.pool.all) {
		return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "slot_not_found",
			Message: fmt.Sprintf("no slot %q: model %s has slots 0 to %d", r.PathValue("id"), e.name, len(e.pool.all)-1)}
	}
	sl := e.pool.all[id]
	busy := &APIError{Status: http.StatusConflict, Type: "invalid_request_error", Code: "slot_busy",
		Message: fmt.Sprintf("slot %d of model %s is processing a request: %s it once it is idle", id, e.name, action)}
	if action == "erase" {
		n, ok := e.pool.withIdle(sl, func() int {
			n := len(sl.last)
			sl.session.Free()
			sl.last = sl.last[:0]
			sl.state.erase()
			return n
		})
		if !ok {
			return busy
		}
		writeJSON(w, http.StatusOK, map[string]int{"id_slot": id, "n_erased": n})
		return nil
	}
	// the slot is taken for the time of the file's writing or reading
	if !e.pool.tryTake(sl) {
		return busy
	}
	defer e.pool.put(sl, false)
	path := filepath.Join(s.cfg.SlotSavePath, body.Filename)
	t0 := time.Now()
	if action == "save" {
		n, written, err := saveSlot(sl, path)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"id_slot": id, "filename": body.Filename, "n_saved": n, "n_written": written,
			"timings": map[string]float64{"save_ms": ms(time.Since(t0))}})
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "filename", Code: "file_not_found",
			Message: fmt.Sprintf("no saved slot %q in --slot-save-path", body.Filename)}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	cr := &countingReader{r: f}
	n, err := sl.session.LoadState(cr)
	if err == nil && n > e.slotPositions() {
		// more than the slot may hold under its budget: not kept
		sl.session.Free()
		err = fmt.Errorf("it holds %d tokens but a slot may hold %d positions (--kv-budget-slot %s)", n, e.slotPositions(), store.FormatBytes(s.cfg.KVSlotBudget))
	}
	sl.last = append(sl.last[:0], sl.session.Tokens()...)
	sl.state.end(len(sl.last), 0)
	if err != nil {
		if errors.Is(err, glassbox.ErrClosed) {
			return shuttingDown()
		}
		return badRequest("filename", "cannot restore %q into slot %d of model %s: %v", body.Filename, id, e.name, err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id_slot": id, "filename": body.Filename, "n_restored": n, "n_read": cr.n,
		"timings": map[string]float64{"restore_ms": ms(time.Since(t0))}})
	return nil
}

// saveSlot writes a slot's state to path through a temporary file renamed
// at the end, so that a failed save leaves no partial file.
func saveSlot(sl *slot, path string) (n int, written int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".slot-*.tmp")
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	cw := &countingWriter{w: tmp}
	if n, err = sl.session.SaveState(cw); err != nil {
		if errors.Is(err, glassbox.ErrClosed) {
			return 0, 0, shuttingDown()
		}
		return 0, 0, err
	}
	if err = tmp.Close(); err != nil {
		return 0, 0, err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return 0, 0, err
	}
	return n, cw.n, nil
}

// maxSlotFilename bounds the length of a slot file's name, in bytes.
const maxSlotFilename = 255

// validSlotFilename accepts a plain file name (as llama.cpp's
// fs_validate_filename): no directory, no "." or "..", no control or
// invisible characters, no leading or trailing space, at most 255 bytes.
func validSlotFilename(name string) error {
	bad := func(why string) error {
		return badRequest("filename", "invalid value for 'filename' %q: %s; expected a plain file name such as \"chat-1.bin\" (the file goes in --slot-save-path)", name, why)
	}
	switch {
	case name == "":
		return badRequest("filename", "'filename' is required: the name of the file in --slot-save-path")
	case len(name) > maxSlotFilename:
		return bad(fmt.Sprintf("it is %d bytes long, at most %d", len(name), maxSlotFilename))
	case !utf8.ValidString(name):
		return bad("it is not valid UTF-8")
	case name == "." || name == "..":
		return bad("it names a directory")
	case strings.TrimSpace(name) != name:
		return bad("it starts or ends with a space")
	case strings.HasPrefix(name, "."):
		return bad("it starts with a dot")
	}
	for _, c := range name {
		switch {
		case c == '/' || c == '\\' || c == ':':
			return bad("it holds a path separator")
		case c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0xfeff || (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e):
			return bad("it holds a control or invisible character")
		}
	}
	return nil
}

// countingWriter and countingReader count the bytes that go through.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// tryTake takes an idle slot out of the free list (put gives it back); it
// reports false when the slot is busy or the pool is draining.
func (p *pool) tryTake(sl *slot) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.free, sl)
	if i < 0 || p.draining {
		return false
	}
	p.free = slices.Delete(p.free, i, i+1)
	p.take(sl)
	p.changed()
	return true
}

// withIdle runs fn while the slot is idle, with the pool locked so that no
// request takes it meanwhile; ok is false (fn not run) when the slot is busy.
func (p *pool) withIdle(sl *slot, fn func() int) (n int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sl.busy {
		return 0, false
	}
	return fn(), true
}
