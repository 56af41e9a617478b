package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

// kvServer serves stories260K-f32 (context 1024) with two slots whose KV
// caches draw from pool.
func kvServer(t *testing.T, pool *glassbox.KVPool) string {
	t.Helper()
	m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Context: 1024, Threads: 1, KVPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	_, base := testServer(t, Config{Models: []Model{{Name: "stories", Model: m}}, Parallel: 2, KVPool: pool})
	return base
}

// completeSlot posts a greedy /completion of n tokens on a slot.
func completeSlot(t *testing.T, base, prompt string, slot, n int) (int, llamaAnswer, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"prompt": prompt, "n_predict": n, "id_slot": slot, "temperature": 0})
	code, _, b := post(t, base+"/completion", string(body), nil)
	var a llamaAnswer
	if code == 200 {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatal(err)
		}
	}
	return code, a, string(b)
}

// slotsOf reads GET /slots.
func slotsOf(t *testing.T, base string) []slotInfo {
	t.Helper()
	code, _, b := get(t, base+"/slots", nil)
	var out []slotInfo
	if code != 200 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("/slots: %d %s", code, b)
	}
	return out
}

// metricValue returns the value of a series of /metrics.
func metricValue(t *testing.T, base, series string) string {
	t.Helper()
	_, _, b := get(t, base+"/metrics", nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no %s in /metrics", series)
	}
	return m[1]
}

// TestKVBudget: slots hold KV cache pages as their sequences need them;
// past the budget the idle slot used the longest ago loses its cached
// prompt (reported by /slots, /metrics and its next request's
// tokens_cached); a request that can never fit gets 503 with the budget
// in the message; the replies equal those of a server without a budget.
func TestKVBudget(t *testing.T) {
	// stories260K: 5 layers × (32 + 32) × 2 bytes (F16) a position, pages of 256
	const page = 256 * 5 * 64 * 2
	pool, err := glassbox.NewKVPool(3 * page)
	if err != nil {
		t.Fatal(err)
	}
	base := kvServer(t, pool)
	free, err := glassbox.NewKVPool(0)
	if err != nil {
		t.Fatal(err)
	}
	ref := kvServer(t, free)

	short0, short1 := "Once upon a time, there was a little girl", "One day, a big dog ran"
	long := strings.Repeat("The cat sat on the mat and looked at the sun. ", 30) // 580 tokens: 3 pages
	huge := long + strings.Repeat("The dog ran. ", 60)                           // 4 pages: never fits
	// nothing ran: no page
	for _, sl := range slotsOf(t, base) {
		if sl.KVCacheBytes != 0 {
			t.Fatalf("idle slot %d holds %d bytes before any request", sl.ID, sl.KVCacheBytes)
		}
	}
	steps := []struct {
		prompt string
		slot   int
	}{{short0, 0}, {short1, 1}, {long, 0}}
	for _, st := range steps {
		code, got, body := completeSlot(t, base, st.prompt, st.slot, 8)
		rcode, want, _ := completeSlot(t, ref, st.prompt, st.slot, 8)
		if code != 200 || rcode != 200 {
			t.Fatalf("slot %d: %d %s", st.slot, code, body)
		}
		if got.Content != want.Content {
			t.Errorf("slot %d: %q with the budget, %q without", st.slot, got.Content, want.Content)
		}
	}
	// slot 0's long prompt took the page of slot 1, idle and used before
	sl := slotsOf(t, base)
	if sl[0].KVCacheBytes != 3*page || sl[1].KVCacheBytes != 0 || !sl[1].Evicted || sl[1].TokensCached != 0 || sl[0].Evicted {
		t.Errorf("slots after the eviction: %+v", sl)
	}
	if got := metricValue(t, base, "glassbox_kv_cache_evictions_total"); got != "1" {
		t.Errorf("evictions %s, want 1", got)
	}
	if got, want := metricValue(t, base, `glassbox_kv_cache_bytes{model="stories"}`), fmt.Sprint(3*page); got != want {
		t.Errorf("KV cache bytes %s, want %s", got, want)
	}
	if got := metricValue(t, base, `glassbox_kv_cache_usage_ratio{model="stories"}`); got != "1" {
		t.Errorf("KV cache usage %s, want 1 (the budget is full)", got)
	}
	// slot 1's next request finds its cache gone: it processes the whole
	// prompt, and takes a page back from slot 0, now the least recently used
	code, got, body := completeSlot(t, base, short1, 1, 8)
	if code != 200 || got.TokensCached != 0 {
		t.Errorf("slot 1 after its eviction: %d, %d tokens cached: %s", code, got.TokensCached, body)
	}
	if got := metricValue(t, base, "glassbox_kv_cache_evictions_total"); got != "2" {
		t.Errorf("evictions %s, want 2", got)
	}
	// a prompt the budget can never hold
	code, _, body = completeSlot(t, base, huge, 0, 8)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "kv_budget_exceeded") || !strings.Contains(body, "budget is 480.0 KiB") {
		t.Errorf("a prompt larger than the budget: %d %s", code, body)
	}
	// without a budget the gauge is over every slot's full cache
	if got := metricValue(t, ref, "glassbox_kv_cache_budget_bytes"); got != "0" {
		t.Errorf("budget of the reference server: %s", got)
	}
}
