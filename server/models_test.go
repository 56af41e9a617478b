package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// loader loads the test models by name and counts the loads.
type loader struct {
	paths map[string]string // "" path: the embedded default model
	mu    sync.Mutex
	loads map[string]int
	gate  chan struct{} // when set, every load waits for it to be closed
}

func newLoader(t testing.TB) *loader {
	return &loader{loads: map[string]int{}, paths: map[string]string{
		"tiny":    "",
		"stories": fixtures.Path(t, "gguf", "stories260K-f32.gguf"),
		"q4":      fixtures.Path(t, "gguf", "random-llama-d256-Q4_0.gguf"),
		"broken":  fixtures.Path(t, "gguf", "SOURCES.md"),
	}}
}

func (l *loader) load(ctx context.Context, name string) (*glassbox.Model, error) {
	if l.gate != nil {
		<-l.gate
	}
	l.mu.Lock()
	l.loads[name]++
	l.mu.Unlock()
	path, ok := l.paths[name]
	if !ok {
		return nil, fmt.Errorf("no model %s", name)
	}
	opts := &glassbox.Options{Context: 64, Threads: 1}
	if path == "" {
		return glassbox.OpenBytes(models.DefaultName, models.Default, opts)
	}
	return glassbox.Open(path, opts)
}

func (l *loader) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loads[name]
}

func (l *loader) catalog() ([]CatalogModel, error) {
	var out []CatalogModel
	for _, n := range []string{"tiny", "stories", "q4", "broken"} {
		out = append(out, CatalogModel{Name: n, Path: l.paths[n]})
	}
	return out, nil
}

// onDemand serves the loader's models, none loaded at start.
func onDemand(t testing.TB, maxModels int, keepAlive time.Duration) (*Server, string, *loader) {
	t.Helper()
	l := newLoader(t)
	s, base := testServer(t, Config{Load: l.load, Catalog: l.catalog, Default: "tiny", MaxModels: maxModels, KeepAlive: keepAlive, Parallel: 2, Queue: 8})
	t.Cleanup(s.Close)
	return s, base, l
}

// complete asks a model for a few greedy tokens and returns the text.
func complete(t testing.TB, base, model string, n int) (int, string) {
	t.Helper()
	code, _, b := post(t, base+"/v1/completions", fmt.Sprintf(`{"model":%q,"prompt":"Once upon a time","max_tokens":%d,"temperature":0}`, model, n), nil)
	if code != 200 {
		return code, string(b)
	}
	var r struct{ Choices []struct{ Text string } }
	if err := json.Unmarshal(b, &r); err != nil || len(r.Choices) != 1 {
		t.Fatalf("completion: %s", b)
	}
	return code, r.Choices[0].Text
}

// psNames lists the models /api/ps reports loaded.
func psNames(t testing.TB, base string) []string {
	t.Helper()
	code, b := ollamaCall(t, "GET", base+"/api/ps", "")
	var ps struct{ Models []ollamaModel }
	if code != 200 || json.Unmarshal(b, &ps) != nil {
		t.Fatalf("/api/ps: %d %s", code, b)
	}
	var out []string
	for _, m := range ps.Models {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

// TestModelsOnDemand: a request naming a model of the catalog loads it, the
// listings show every model loaded or not, an unknown name is a 404 listing
// them, and under --max-models the least recently used idle model goes.
func TestModelsOnDemand(t *testing.T) {
	_, base, l := onDemand(t, 2, -1)
	if got := psNames(t, base); len(got) != 0 {
		t.Fatalf("loaded at start: %v", got)
	}
	// /v1/models lists the catalog, unloaded, with what the files say
	_, _, b := get(t, base+"/v1/models", nil)
	var list struct{ Data []modelObject }
	if err := json.Unmarshal(b, &list); err != nil || len(list.Data) != 4 {
		t.Fatalf("/v1/models: %s", b)
	}
	for _, m := range list.Data {
		if m.Status.Value != "unloaded" {
			t.Errorf("%s: status %q, want unloaded", m.ID, m.Status.Value)
		}
		if m.ID == "stories" && (m.Meta.Arch != "llama" || m.Meta.Dim != 64 || m.Meta.VocabSize != 512) {
			t.Errorf("stories unloaded: %+v", m.Meta)
		}
	}
	// /api/tags too
	code, b := ollamaCall(t, "GET", base+"/api/tags", "")
	if code != 200 || !strings.Contains(string(b), `"name":"q4:latest"`) || !strings.Contains(string(b), `"name":"stories:latest"`) {
		t.Errorf("/api/tags: %d %s", code, b)
	}

	// the same text as a model opened by hand
	m, err := glassbox.Open(l.paths["stories"], &glassbox.Options{Context: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{MaxTokens: 8})
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, text := complete(t, base, "stories", 8); code != 200 || text != want.Text {
		t.Fatalf("stories: %d %q, want %q", code, text, want.Text)
	}
	if got := psNames(t, base); !slices.Equal(got, []string{"stories:latest"}) {
		t.Errorf("/api/ps after one request: %v", got)
	}
	_, _, b = get(t, base+"/v1/models/stories", nil)
	var one modelObject
	if json.Unmarshal(b, &one) != nil || one.Status.Value != "loaded" || one.Meta.Slots != 2 {
		t.Errorf("/v1/models/stories: %s", b)
	}

	// unknown: 404 naming what there is, nothing loaded
	code, _, b = post(t, base+"/v1/completions", `{"model":"nope","prompt":"x","max_tokens":1}`, nil)
	if e := decodeError(t, b); code != 404 || (e.Code == nil || *e.Code != "model_not_found") || !strings.Contains(e.Message, "tiny, stories, q4, broken") {
		t.Errorf("unknown model: %d %s", code, b)
	}
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"nope","prompt":"x"}`)
	if code != 404 || !strings.Contains(string(b), "model 'nope' not found: this server has tiny:latest, stories:latest") {
		t.Errorf("unknown Ollama model: %d %s", code, b)
	}

	// the default model ("") and an Ollama name with its tag
	if code, text := complete(t, base, "", 4); code != 200 {
		t.Fatalf("default: %d %s", code, text)
	}
	if got := psNames(t, base); !slices.Equal(got, []string{"stories:latest", "tiny:latest"}) {
		t.Errorf("/api/ps: %v", got)
	}
	// a third model: the least recently used (stories) is unloaded
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"q4:latest","prompt":"x","stream":false,"options":{"num_predict":2}}`)
	var gen struct {
		LoadDuration int64 `json:"load_duration"`
	}
	if code != 200 || json.Unmarshal(b, &gen) != nil || gen.LoadDuration <= 0 {
		t.Fatalf("q4 (loaded by the request, load_duration > 0): %d %s", code, b)
	}
	_, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"q4","prompt":"x","stream":false,"options":{"num_predict":1}}`)
	if json.Unmarshal(b, &gen) != nil || gen.LoadDuration != 0 {
		t.Errorf("q4 loaded already: load_duration should be 0: %s", b)
	}
	if got := psNames(t, base); !slices.Equal(got, []string{"q4:latest", "tiny:latest"}) {
		t.Errorf("/api/ps after a third model: %v", got)
	}
	// stories again: loaded again, tiny (older than q4) goes
	if code, text := complete(t, base, "stories", 8); code != 200 || text != want.Text {
		t.Fatalf("stories reloaded: %d %q, want %q", code, text, want.Text)
	}
	if got := psNames(t, base); !slices.Equal(got, []string{"q4:latest", "stories:latest"}) {
		t.Errorf("/api/ps: %v", got)
	}
	met := scrape(t, base)
	for k, v := range map[string]float64{
		`glassbox_model_loads_total{model="stories"}`:                1 + 1,
		`glassbox_model_unloads_total{model="stories",reason="lru"}`: 1,
		`glassbox_model_unloads_total{model="tiny",reason="lru"}`:    1,
		`glassbox_models_loaded`:                                     2,
		`glassbox_model_load_seconds_count{model="q4"}`:              1,
	} {
		if met[k] != v {
			t.Errorf("%s = %v, want %v", k, met[k], v)
		}
	}
	if l.count("stories") != 2 || l.count("tiny") != 1 || l.count("q4") != 1 {
		t.Errorf("loads: %v", l.loads)
	}
}

// TestModelLoadFailure: a model that fails to load gives every request
// waiting for it a clear 500, counts a failure, and is tried again later.
func TestModelLoadFailure(t *testing.T) {
	_, base, l := onDemand(t, 0, -1)
	for range 2 {
		code, _, b := post(t, base+"/v1/chat/completions", `{"model":"broken","messages":[{"role":"user","content":"x"}]}`, nil)
		if e := decodeError(t, b); code != 500 || (e.Code == nil || *e.Code != "model_load_failed") || !strings.Contains(e.Message, "loading the model broken failed") {
			t.Errorf("broken: %d %s", code, b)
		}
	}
	code, b := ollamaCall(t, "POST", base+"/api/chat", `{"model":"broken","messages":[{"role":"user","content":"x"}]}`)
	if code != 500 || !strings.Contains(string(b), `"error":"loading the model broken failed`) {
		t.Errorf("Ollama: %d %s", code, b)
	}
	if l.count("broken") != 3 {
		t.Errorf("%d loads of broken, want 3 (each request tries again)", l.count("broken"))
	}
	if got := scrape(t, base)[`glassbox_model_load_failures_total{model="broken"}`]; got != 3 {
		t.Errorf("failures: %v", got)
	}
	if got := psNames(t, base); len(got) != 0 {
		t.Errorf("loaded: %v", got)
	}
}

// TestModelLoadsOnce: concurrent first requests for a model load it once,
// and all get the same answer.
func TestModelLoadsOnce(t *testing.T) {
	l := newLoader(t)
	l.gate = make(chan struct{})
	s, base := testServer(t, Config{Load: l.load, Catalog: l.catalog, Default: "tiny", KeepAlive: -1, Parallel: 2, Queue: 16})
	t.Cleanup(s.Close)
	const n = 8
	texts := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			code, text := complete(t, base, "stories", 6)
			if code != 200 {
				t.Errorf("request %d: %d %s", i, code, text)
			}
			texts[i] = text
		})
	}
	// every request is waiting for the one load before it may go on
	deadline := time.Now().Add(10 * time.Second)
	for s.users("stories") < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(l.gate)
	wg.Wait()
	if got := l.count("stories"); got != 1 {
		t.Errorf("%d loads for %d concurrent requests, want 1", got, n)
	}
	for i, txt := range texts {
		if txt != texts[0] {
			t.Errorf("request %d: %q, request 0: %q", i, txt, texts[0])
		}
	}
}

// TestModelInUseNotUnloaded: with room for one model, a request for another
// waits while a request holds the loaded one (which is not unloaded under
// it), then loads once that request has ended.
func TestModelInUseNotUnloaded(t *testing.T) {
	s, base, _ := onDemand(t, 1, -1)
	// a request in the middle of using q4 (as a handler holds its model)
	r, h := withHolds(httptest.NewRequest("POST", "/v1/completions", nil))
	e, err := s.lookup(r.Context(), "q4")
	if err != nil {
		t.Fatal(err)
	}
	other := make(chan string, 1)
	go func() {
		code, text := complete(t, base, "stories", 4)
		other <- fmt.Sprint(code, " ", text)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !s.waitingForRoom() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !s.waitingForRoom() {
		t.Fatal("the request for another model did not wait for room")
	}
	if got := psNames(t, base); !slices.Equal(got, []string{"q4:latest"}) {
		t.Errorf("while q4 is in use: %v", got)
	}
	// the held model still generates
	sl, err := s.acquire(r.Context(), e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.session.Generate(r.Context(), glassbox.Request{Prompt: []int{1, 2, 3}, MaxTokens: 4}); err != nil {
		t.Errorf("generating with the held model: %v", err)
	}
	e.pool.release(sl)
	select {
	case got := <-other:
		t.Fatalf("the other model was loaded while q4 was in use: %s", got)
	default:
	}
	s.releaseHolds(h)
	if got := <-other; !strings.HasPrefix(got, "200 ") {
		t.Errorf("the other model: %s", got)
	}
	if got := psNames(t, base); !slices.Equal(got, []string{"stories:latest"}) {
		t.Errorf("after: %v", got)
	}
}

// TestKeepAlive: --keep-alive 0 unloads after each request; Ollama's
// keep_alive overrides it per request (-1 keeps, 0 unloads, a duration
// expires), and /api/ps reports the expiry.
func TestKeepAlive(t *testing.T) {
	_, base, l := onDemand(t, 0, 0)
	if code, text := complete(t, base, "stories", 2); code != 200 {
		t.Fatalf("%d %s", code, text)
	}
	if got := psNames(t, base); len(got) != 0 {
		t.Errorf("keep-alive 0: still loaded after the request: %v", got)
	}
	if got := scrape(t, base)[`glassbox_model_unloads_total{model="stories",reason="request"}`]; got != 1 {
		t.Errorf("unloads: %v", got)
	}
	// keep_alive -1 keeps it, with the farthest expiry
	code, b := ollamaCall(t, "POST", base+"/api/generate", `{"model":"stories","keep_alive":-1}`)
	if code != 200 || !strings.Contains(string(b), `"done_reason":"load"`) {
		t.Fatalf("load: %d %s", code, b)
	}
	code, b = ollamaCall(t, "GET", base+"/api/ps", "")
	var ps struct{ Models []ollamaModel }
	if json.Unmarshal(b, &ps) != nil || len(ps.Models) != 1 {
		t.Fatalf("ps: %d %s", code, b)
	}
	if exp, err := time.Parse(time.RFC3339Nano, ps.Models[0].ExpiresAt); err != nil || exp.Before(time.Now().AddDate(100, 0, 0)) {
		t.Errorf("expires_at %q with keep_alive -1", ps.Models[0].ExpiresAt)
	}
	// a duration: /api/ps says when, then it goes
	code, b = ollamaCall(t, "POST", base+"/api/embed", `{"model":"stories","input":"x","keep_alive":"1h"}`)
	if code != 200 {
		t.Fatalf("embed: %d %s", code, b)
	}
	_, b = ollamaCall(t, "GET", base+"/api/ps", "")
	if json.Unmarshal(b, &ps) != nil || len(ps.Models) != 1 {
		t.Fatalf("ps: %s", b)
	}
	if exp, err := time.Parse(time.RFC3339Nano, ps.Models[0].ExpiresAt); err != nil || exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("expires_at %q with keep_alive 1h", ps.Models[0].ExpiresAt)
	}
	code, b = ollamaCall(t, "POST", base+"/api/chat", `{"model":"stories","messages":[],"keep_alive":"20ms"}`)
	if code != 200 {
		t.Fatalf("chat: %d %s", code, b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(psNames(t, base)) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := psNames(t, base); len(got) != 0 {
		t.Errorf("keep_alive 20ms: still loaded: %v", got)
	}
	if got := scrape(t, base)[`glassbox_model_unloads_total{model="stories",reason="idle"}`]; got != 1 {
		t.Errorf("idle unloads: %v", got)
	}
	// an empty generate with keep_alive 0 unloads (Ollama's way)
	ollamaCall(t, "POST", base+"/api/generate", `{"model":"tiny","keep_alive":"-1m"}`)
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"tiny","keep_alive":0}`)
	if code != 200 || !strings.Contains(string(b), `"done_reason":"unload"`) {
		t.Errorf("unload: %d %s", code, b)
	}
	if got := psNames(t, base); len(got) != 0 {
		t.Errorf("after unload: %v", got)
	}
	// a bad keep_alive loads nothing
	before := l.count("q4")
	if code, b := ollamaCall(t, "POST", base+"/api/generate", `{"model":"q4","prompt":"x","keep_alive":"soon"}`); code != 400 || !strings.Contains(string(b), "keep_alive") {
		t.Errorf("bad keep_alive: %d %s", code, b)
	}
	if l.count("q4") != before {
		t.Error("a request with a bad keep_alive loaded its model")
	}
}

// TestParseKeepAlive covers Ollama's forms of keep_alive.
func TestParseKeepAlive(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{`"5m"`, 5 * time.Minute, false}, {`300`, 300 * time.Second, false}, {`0`, 0, false}, {`"0"`, 0, false},
		{`-1`, -1, false}, {`"-1"`, -1, false}, {`"-5m"`, -1, false}, {`1.5`, 1500 * time.Millisecond, false},
		{`"30"`, 30 * time.Second, false}, {`"soon"`, 0, true}, {`true`, 0, true}, {`{}`, 0, true}, {`1e300`, time.Duration(1<<62 - 1), false},
	} {
		d, err := parseKeepAlive(json.RawMessage(c.in))
		switch {
		case c.err:
			if err == nil {
				t.Errorf("%s: no error", c.in)
			}
		case err != nil || d == nil:
			t.Errorf("%s: %v", c.in, err)
		case *d != c.want && !(c.in == `1e300` && *d > 1<<61):
			t.Errorf("%s: %v, want %v", c.in, *d, c.want)
		}
	}
	if d, err := parseKeepAlive(nil); d != nil || err != nil {
		t.Errorf("absent: %v %v", d, err)
	}
}

// TestModelsRace: many requests for three models on room for one, models
// unloaded after every request: every request is answered, with the text the
// model gives alone (run under -race).
func TestModelsRace(t *testing.T) {
	s, base, _ := onDemand(t, 1, 0)
	names := []string{"tiny", "stories", "q4"}
	want := map[string]string{}
	for _, n := range names {
		code, text := complete(t, base, n, 3)
		if code != 200 {
			t.Fatalf("%s: %d %s", n, code, text)
		}
		want[n] = text
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 18 {
		wg.Go(func() {
			n := names[i%len(names)]
			switch i % 4 {
			case 3: // listings meanwhile
				get(t, base+"/v1/models", nil)
				ollamaCall(t, "GET", base+"/api/ps", "")
				get(t, base+"/metrics", nil)
			}
			code, text := complete(t, base, n, 3)
			if code != 200 || text != want[n] {
				failed.Add(1)
				t.Errorf("%s: %d %q, want %q", n, code, text, want[n])
			}
		})
	}
	wg.Wait()
	if failed.Load() == 0 {
		if got := psNames(t, base); len(got) != 0 {
			t.Errorf("keep-alive 0: loaded at the end: %v", got)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.models) != 0 || len(s.order) != 0 {
		t.Errorf("%d models left in the map, %d in the order", len(s.models), len(s.order))
	}
}

// TestModelsDraining: while shutting down, a loaded model still answers
// (tokenize), a model that is not loaded is not loaded (503).
func TestModelsDraining(t *testing.T) {
	s, base, l := onDemand(t, 0, -1)
	if code, text := complete(t, base, "stories", 2); code != 200 {
		t.Fatalf("%d %s", code, text)
	}
	s.Drain()
	if code, _, b := post(t, base+"/tokenize", `{"model":"stories","content":"hi"}`, nil); code != 200 {
		t.Errorf("tokenize on a loaded model while draining: %d %s", code, b)
	}
	code, _, b := post(t, base+"/tokenize", `{"model":"q4","content":"hi"}`, nil)
	if code != 503 || l.count("q4") != 0 {
		t.Errorf("a load while draining: %d %s (%d loads)", code, b, l.count("q4"))
	}
}

// TestNewNeedsModel: without models, New needs a loader and a default.
func TestNewNeedsModel(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, errNoModel) {
		t.Errorf("no model: %v", err)
	}
	l := newLoader(t)
	if _, err := New(Config{Load: l.load}); !errors.Is(err, errNoModel) {
		t.Errorf("no default: %v", err)
	}
	if _, err := New(Config{Load: l.load, Default: "tiny", MaxModels: -1}); err == nil {
		t.Error("MaxModels -1: no error")
	}
}

// users returns the requests (and the load) using the model of that name.
func (s *Server) users(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.models[name]; e != nil {
		return e.refs
	}
	return 0
}

// waitingForRoom reports whether a load waits for a loaded model to be free.
func (s *Server) waitingForRoom() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roomWaits > 0
}

// TestPinDefault: the pinned default model stays loaded through keep-alive
// 0 and the least-recently-used rule; another model still loads beside it.
func TestPinDefault(t *testing.T) {
	l := newLoader(t)
	m, err := l.load(context.Background(), "stories")
	if err != nil {
		t.Fatal(err)
	}
	s, base := testServer(t, Config{Models: []Model{{Name: "stories", Model: m}}, PinDefault: true, Load: l.load, Catalog: l.catalog,
		MaxModels: 2, KeepAlive: 0, Parallel: 1, Queue: 4})
	t.Cleanup(s.Close)
	for _, name := range []string{"stories", "q4", "tiny", "stories"} {
		if code, text := complete(t, base, name, 2); code != 200 {
			t.Fatalf("%s: %d %s", name, code, text)
		}
		if got := psNames(t, base); !slices.Equal(got, []string{"stories:latest"}) {
			t.Errorf("after %s: %v", name, got)
		}
	}
}

// TestPoolSlotWaiter: a request for one slot waits for that slot only,
// while requests for any slot take the others.
func TestPoolSlotWaiter(t *testing.T) {
	slots := []*slot{{id: 0}, {id: 1}}
	p := newPool(slots, 4, nil)
	ctx := context.Background()
	a, _ := p.acquire(ctx, nil)
	b, _ := p.acquire(ctx, nil)
	want := a
	got := make(chan *slot, 1)
	go func() {
		s, err := p.acquireSlot(ctx, nil, want)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	for {
		if _, q := p.stats(); q == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	p.release(b) // not the one it waits for: it goes back to the free list
	if _, q := p.stats(); q != 1 {
		t.Fatalf("the waiter for slot %d took slot %d", want.id, b.id)
	}
	p.release(a)
	if s := <-got; s != want {
		t.Errorf("got slot %d, want %d", s.id, want.id)
	}
	if busy, q := p.stats(); busy != 1 || q != 0 {
		t.Errorf("busy %d queued %d", busy, q)
	}
}

// TestPinnedFull: with room for one model, pinned, another is a clear 503.
func TestPinnedFull(t *testing.T) {
	l := newLoader(t)
	m, err := l.load(context.Background(), "stories")
	if err != nil {
		t.Fatal(err)
	}
	s, base := testServer(t, Config{Models: []Model{{Name: "stories", Model: m}}, PinDefault: true, Load: l.load, Catalog: l.catalog, MaxModels: 1, Parallel: 1})
	t.Cleanup(s.Close)
	code, _, b := post(t, base+"/v1/completions", `{"model":"q4","prompt":"x","max_tokens":1}`, nil)
	if code != 503 || !strings.Contains(string(b), "are all kept loaded") {
		t.Errorf("%d %s", code, b)
	}
}

// TestCatalogAliases: a request may name a model of the catalog by one of
// its aliases (case-insensitively, with or without ":latest"); a model of
// Config.Models gets the aliases of the catalog entry of its name; names
// neither listed nor aliased stay unknown.
func TestCatalogAliases(t *testing.T) {
	l := newLoader(t)
	cat := func() ([]CatalogModel, error) {
		return []CatalogModel{
			{Name: "served", Aliases: []string{"served-alias"}},
			{Name: "stories", Path: l.paths["stories"], Aliases: []string{"Little-Stories", "stories.f32.gguf"}},
		}, nil
	}
	served := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 64)
	s, base := testServer(t, Config{Models: []Model{{Name: "served", Model: served}}, Load: l.load, Catalog: cat, KeepAlive: -1, Parallel: 1, Queue: 4})
	t.Cleanup(s.Close)
	for _, tc := range []struct{ name, want string }{
		{"stories", "stories"},
		{"little-stories", "stories"},
		{"LITTLE-STORIES:latest", "stories"},
		{"stories.f32.gguf", "stories"},
		{"served", "served"},
		{"served-alias", "served"},
		{"served-alias:latest", "served"},
		{"stories.f32", ""},
		{"alias", ""},
	} {
		got, err := s.resolve(tc.name)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("resolve(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	code, want := complete(t, base, "stories", 4)
	if code != 200 {
		t.Fatalf("stories: %d %s", code, want)
	}
	if code, got := complete(t, base, "Little-Stories", 4); code != 200 || got != want {
		t.Errorf("through an alias: %d %q, want %q", code, got, want)
	}
	if l.count("stories") != 1 {
		t.Errorf("stories loaded %d times, want once whatever the name", l.count("stories"))
	}
	// /v1/models lists each model once, under its name
	_, _, b := get(t, base+"/v1/models", nil)
	var list struct{ Data []modelObject }
	if err := json.Unmarshal(b, &list); err != nil || len(list.Data) != 2 || list.Data[0].ID != "served" || list.Data[1].ID != "stories" {
		t.Errorf("/v1/models: %s", b)
	}
}
