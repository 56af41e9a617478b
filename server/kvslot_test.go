package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"glassbox"
	"glassbox/internal/fixtures"
)

// stories260K (context 1024): pages of 256 positions × 5 layers × (32 + 32)
// × 2 bytes (F16).
const storiesPage = 256 * 5 * 64 * 2

// kvSlotServer serves stories260K-f32 (context 1024) as "stories" with two
// slots whose KV caches draw from pool, each holding at most slotBudget
// bytes (0: no limit), with the changes of mod.
func kvSlotServer(t *testing.T, pool *glassbox.KVPool, slotBudget int64, mod ...func(*Config)) (*glassbox.Model, string) {
	t.Helper()
	m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Context: 1024, Threads: 1, KVPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	cfg := Config{Models: []Model{{Name: "stories", Model: m}}, Parallel: 2, Queue: 4, KVPool: pool, KVSlotBudget: slotBudget}
	for _, f := range mod {
		f(&cfg)
	}
	_, base := testServer(t, cfg)
	return m, base
}

// psSize returns the size /api/ps reports for the model stories.
func psSize(t *testing.T, base string) int64 {
	t.Helper()
	code, b := ollamaCall(t, "GET", base+"/api/ps", "")
	var ps struct{ Models []ollamaModel }
	if code != 200 || json.Unmarshal(b, &ps) != nil || len(ps.Models) != 1 || ps.Models[0].Name != ollamaName("stories") {
		t.Fatalf("/api/ps: %d %s", code, b)
	}
	if v := ps.Models[0].SizeVRAM; v == nil || *v != 0 {
		t.Errorf("size_vram %v, want 0", v)
	}
	return ps.Models[0].Size
}

// kvGauge returns glassbox_kv_cache_bytes of the model stories.
func kvGauge(t *testing.T, base string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(metricValue(t, base, `glassbox_kv_cache_bytes{model="stories"}`), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOllamaPSResidentSize: /api/ps reports as a model's size its weights
// (the file) plus the KV cache pages its slots hold now, the bytes of
// /metrics' glassbox_kv_cache_bytes: it rises as a request fills pages and
// falls when a slot's cache is evicted or erased.
func TestOllamaPSResidentSize(t *testing.T) {
	pool, err := glassbox.NewKVPool(3 * storiesPage)
	if err != nil {
		t.Fatal(err)
	}
	_, base := kvSlotServer(t, pool, 0)
	st, err := os.Stat(fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	weights := st.Size()
	short := "Once upon a time, there was a little girl"
	long := strings.Repeat("The cat sat on the mat and looked at the sun. ", 30) // 580 tokens: 3 pages
	complete := func(prompt string, slot int) func() {
		return func() {
			if code, _, b := completeSlot(t, base, prompt, slot, 8); code != 200 {
				t.Fatalf("slot %d: %d %s", slot, code, b)
			}
		}
	}
	steps := []struct {
		name string
		do   func()
		want int // the change of size: +1 rises, -1 falls
	}{
		{"nothing ran", func() {}, 0},
		{"a short prompt on slot 1", complete(short, 1), +1},
		{"a long prompt on slot 0", complete(long, 0), +1}, // 3 pages; slot 1's page evicted
		{"slot 0 erased", func() {
			if code, _, b := post(t, base+"/slots/0?action=erase", "", nil); code != 200 {
				t.Fatalf("erase: %d %s", code, b)
			}
		}, -1},
	}
	prev := int64(-1)
	for _, s := range steps {
		s.do()
		size, held := psSize(t, base), kvGauge(t, base)
		if size != weights+held {
			t.Errorf("%s: /api/ps size %d, want the weights' %d + the KV cache's %d (glassbox_kv_cache_bytes)", s.name, size, weights, held)
		}
		switch {
		case prev < 0 && held != 0:
			t.Errorf("%s: %d bytes of KV cache before any request", s.name, held)
		case s.want > 0 && size <= prev, s.want < 0 && size >= prev:
			t.Errorf("%s: size %d after %d, want it to change by the sign of %d", s.name, size, prev, s.want)
		}
		prev = size
	}
	if got := metricValue(t, base, "glassbox_kv_cache_evictions_total"); got != "1" {
		t.Errorf("evictions %s, want 1 (slot 1's page went to slot 0)", got)
	}
}

// TestKVSlotBudget: under a budget of two pages a slot (Config.KVSlotBudget,
// --kv-budget-slot), with a shared budget beside it, a slot holds at most 512
// positions: a request whose prompt plus max tokens needs more gets 400 on
// every route, naming the limit and the need, before any work; a request
// that fits but would grow past stops with finish_reason "length" at 512
// positions, and its slot's bytes never exceed the budget meanwhile.
func TestKVSlotBudget(t *testing.T) {
	const slotBudget = 2*storiesPage + storiesPage/2 // two pages and a half: two pages
	pool, err := glassbox.NewKVPool(6 * storiesPage)
	if err != nil {
		t.Fatal(err)
	}
	m, base := kvSlotServer(t, pool, slotBudget)
	long := strings.Repeat("The cat sat on the mat and looked at the sun. ", 16) // about 310 tokens: 2 pages
	n := len(m.Encode(long, glassbox.GenerateOptions{}))
	if n < 257 || n > 500 {
		t.Fatalf("the long prompt has %d tokens, want 257 to 500", n)
	}
	// /slots: what a slot may hold
	for _, sl := range slotsOf(t, base) {
		if sl.NCtx != 512 || sl.KVCacheLimit != slotBudget {
			t.Errorf("slot %d: n_ctx %d, kv_cache_limit_bytes %d; want 512 and %d", sl.ID, sl.NCtx, sl.KVCacheLimit, slotBudget)
		}
	}

	over := 512 - n + 1 // max tokens one too many
	refused := []struct{ route, body, need string }{
		{"/completion", fmt.Sprintf(`{"prompt": %q, "n_predict": %d}`, long, over),
			fmt.Sprintf("the prompt's %d tokens and up to %d generated ones need 513 positions of KV cache, 480 KiB (3 pages of 256 positions)", n, over)},
		{"/v1/completions", fmt.Sprintf(`{"model": "stories", "prompt": %q, "max_tokens": %d}`, long, over), "need 513 positions"},
		{"/api/generate", fmt.Sprintf(`{"model": "stories", "prompt": %q, "raw": true, "stream": false, "options": {"num_predict": %d}}`, long, over), "positions of KV cache"},
		// without max tokens, the prompt and one generated token
		{"/completion", fmt.Sprintf(`{"prompt": %q}`, strings.Repeat(long, 2)), "(generating needs at least one free position)"},
	}
	for _, r := range refused {
		code, _, b := post(t, base+r.route, r.body, nil)
		var e struct {
			Error struct{ Message, Type, Code string }
		}
		if strings.HasPrefix(r.route, "/api/") { // Ollama's shape: {"error": MESSAGE}
			var o struct{ Error string }
			json.Unmarshal(b, &o)
			e.Error.Message, e.Error.Type, e.Error.Code = o.Error, "invalid_request_error", "context_length_exceeded"
		} else if json.Unmarshal(b, &e) != nil {
			t.Errorf("%s: %d %s", r.route, code, b)
		}
		if code != http.StatusBadRequest || e.Error.Type != "invalid_request_error" || e.Error.Code != "context_length_exceeded" ||
			!strings.Contains(e.Error.Message, r.need) ||
			!strings.Contains(e.Error.Message, "a slot of model stories may hold at most 400 KiB (409600 bytes, --kv-budget-slot): 512 positions") {
			t.Errorf("%s: %d %s", r.route, code, b)
		}
	}
	// refused before any work: no token was processed, no page taken
	if got := metricValue(t, base, `glassbox_prompt_tokens_total{model="stories"}`); got != "0" {
		t.Errorf("prompt tokens after the refused requests: %s", got)
	}
	if held := kvGauge(t, base); held != 0 {
		t.Errorf("%d bytes of KV cache after the refused requests", held)
	}

	// a request that fits (no max tokens) but would grow past: the bytes of
	// every slot are watched while it runs
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			// not slotsOf: no t.Fatal outside the test's goroutine
			if resp, err := http.Get(base + "/slots"); err == nil {
				var out []slotInfo
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				for _, sl := range out {
					if b := sl.KVCacheBytes; b > peak.Load() {
						peak.Store(b)
					}
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	code, _, b := post(t, base+"/v1/completions", fmt.Sprintf(`{"model": "stories", "prompt": %q, "temperature": 0, "ignore_eos": true}`, long), nil)
	close(stop)
	wg.Wait()
	var c struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		}
		Usage usage
	}
	if code != 200 || json.Unmarshal(b, &c) != nil || len(c.Choices) != 1 {
		t.Fatalf("a request that fits: %d %s", code, b)
	}
	if c.Choices[0].FinishReason != "length" || c.Usage.PromptTokens != n || c.Usage.TotalTokens != 512 {
		t.Errorf("finish_reason %q, usage %+v: want \"length\" at 512 positions (%d prompt tokens)", c.Choices[0].FinishReason, c.Usage, n)
	}
	sl := slotsOf(t, base)
	held := sl[0].KVCacheBytes + sl[1].KVCacheBytes
	if held != 2*storiesPage || peak.Load() > slotBudget || max(sl[0].KVCacheBytes, sl[1].KVCacheBytes) != 2*storiesPage {
		t.Errorf("slots hold %d and %d bytes (peak %d while generating), want 2 pages (%d) at most %d", sl[0].KVCacheBytes, sl[1].KVCacheBytes, peak.Load(), 2*storiesPage, slotBudget)
	}
	// the same request with max tokens that fit ends at them
	code, _, b = post(t, base+"/v1/completions", fmt.Sprintf(`{"model": "stories", "prompt": %q, "temperature": 0, "ignore_eos": true, "max_tokens": %d}`, long, 512-n), nil)
	if code != 200 || json.Unmarshal(b, &c) != nil || c.Choices[0].FinishReason != "length" || c.Usage.TotalTokens != 512 {
		t.Errorf("max tokens up to the slot's limit: %d %s", code, b)
	}
}

// TestKVSlotBudgetConfig: a slot's budget larger than the shared one, or
// smaller than one page of a model's cache, is refused by New.
func TestKVSlotBudgetConfig(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 1024)
	shared, err := glassbox.NewKVPool(4 * storiesPage)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		pool *glassbox.KVPool
		slot int64
		want string
	}{
		{nil, storiesPage, ""},
		{shared, 4 * storiesPage, ""},
		{shared, 4*storiesPage + 1, "the KV cache budget of a slot, 640 KiB (655361 bytes), is more than the budget of all slots, 640 KiB (655360 bytes)"},
		{nil, storiesPage - 1, "model stories: the KV cache budget of a slot (--kv-budget-slot), 160 KiB (163839 bytes), is less than one page of its cache: 256 positions of 160 KiB (163840 bytes); raise it to at least 163840 bytes"},
		{nil, -1, "must be >= 0"},
	} {
		s, err := New(Config{Models: []Model{{Name: "stories", Model: m}}, KVPool: tt.pool, KVSlotBudget: tt.slot})
		if s != nil {
			s.Close()
		}
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("a slot's budget of %d bytes: %v, want %q", tt.slot, err, tt.want)
		}
	}
}

// TestKVSlotBudgetRestore: a saved slot holding more positions than a slot
// may hold under its budget is not restored (400), and the slot holds
// nothing; one that fits is restored.
func TestKVSlotBudgetRestore(t *testing.T) {
	dir := t.TempDir()
	withDir := func(c *Config) { c.SlotSavePath = dir }
	newPool := func() *glassbox.KVPool {
		p, err := glassbox.NewKVPool(0)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, free := kvSlotServer(t, newPool(), 0, withDir)
	_, limited := kvSlotServer(t, newPool(), storiesPage, withDir) // 256 positions a slot
	for _, f := range []struct {
		name, prompt string
		tokens       int // at least
	}{
		{"short.bin", "Once upon a time, there was a little girl", 8},
		{"long.bin", strings.Repeat("The cat sat on the mat and looked at the sun. ", 16), 257},
	} {
		if code, a, b := completeSlot(t, free, f.prompt, 0, 4); code != 200 || a.TokensEvaluated < f.tokens {
			t.Fatalf("%s: %d %s", f.name, code, b)
		}
		if code, _, b := post(t, free+"/slots/0?action=save", fmt.Sprintf(`{"filename": %q}`, f.name), nil); code != 200 {
			t.Fatalf("save %s: %d %s", f.name, code, b)
		}
	}
	code, _, b := post(t, limited+"/slots/1?action=restore", `{"filename": "long.bin"}`, nil)
	if code != 400 || !strings.Contains(string(b), "a slot may hold 256 positions (--kv-budget-slot 160 KiB)") {
		t.Errorf("restoring more than a slot may hold: %d %s", code, b)
	}
	if sl := slotsOf(t, limited)[1]; sl.TokensCached != 0 || sl.KVCacheBytes != 0 {
		t.Errorf("slot 1 after the refused restore: %d tokens, %d bytes", sl.TokensCached, sl.KVCacheBytes)
	}
	if code, _, b := post(t, limited+"/slots/1?action=restore", `{"filename": "short.bin"}`, nil); code != 200 {
		t.Errorf("restoring a slot that fits: %d %s", code, b)
	}
	if sl := slotsOf(t, limited)[1]; sl.TokensCached == 0 || sl.KVCacheBytes != storiesPage {
		t.Errorf("slot 1 after the restore: %d tokens, %d bytes", sl.TokensCached, sl.KVCacheBytes)
	}
}

// TestKVSlotBudgetSpeculative: speculative decoding, which runs drafts
// through the cache before keeping them, stays within a slot's budget too.
func TestKVSlotBudgetSpeculative(t *testing.T) {
	pool, err := glassbox.NewKVPool(0)
	if err != nil {
		t.Fatal(err)
	}
	draft := openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-Q8_0.gguf"), 0)
	_, base := kvSlotServer(t, pool, storiesPage, func(c *Config) { c.Speculative = &glassbox.Speculative{Draft: draft, Max: 6} }) // 256 positions
	code, a, b := completeSlot(t, base, "Once upon a time", 0, -1)
	if code != 200 || a.TokensEvaluated+a.TokensPredicted != 256 || a.StopType != "limit" || a.Timings == nil || a.Timings.DraftN == 0 {
		t.Errorf("a generation filling its slot: %d %s", code, b)
	}
	if sl := slotsOf(t, base)[0]; sl.KVCacheBytes != storiesPage {
		t.Errorf("slot 0 holds %d bytes, want one page (%d)", sl.KVCacheBytes, storiesPage)
	}
}
