package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// scrape reads /metrics into a map from each sample's name and labels, as
// written (`name{label="v"}`), to its value.
func scrape(t testing.TB, base string) map[string]float64 {
	t.Helper()
	st, _, b := get(t, base+"/metrics", nil)
	if st != 200 {
		t.Fatalf("/metrics: %d %s", st, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestRoutingMetrics: the metrics routers and autoscalers read move with
// the load — the running requests, the KV cache they hold, the time to first
// token and between tokens, and the prompt tokens reused from a slot's cache.
func TestRoutingMetrics(t *testing.T) {
	m := slowModel(t)
	srv, base := testServer(t, Config{Models: []Model{{Name: "slow", Model: m}}, Parallel: 2, Queue: 4})
	const (
		ratio = `glassbox_kv_cache_usage_ratio{model="slow"}`
		used  = `glassbox_kv_cache_used_tokens{model="slow"}`
		itl   = `glassbox_inter_token_latency_seconds_count{model="slow"}`
		ttft  = `glassbox_time_to_first_token_seconds_count{model="slow"}`
		busy  = `glassbox_slots_busy{model="slow"}`
		hits  = `glassbox_prompt_cache_hit_tokens_total{model="slow"}`
		queue = `glassbox_queue_depth{model="slow"}`
	)
	idle := scrape(t, base)
	for _, name := range []string{ratio, used, busy, queue, hits} {
		if v, ok := idle[name]; !ok || v != 0 {
			t.Errorf("idle server: %s = %v (present %v), want 0", name, v, ok)
		}
	}

	// a stream in flight holds KV cache positions
	_, body := startStream(t, base+"/v1/completions", longStream)
	var during map[string]float64
	waitFor(t, func() bool { during = scrape(t, base); return during[itl] >= 2 })
	capacity := 2.0 * float64(m.ContextSize())
	if during[busy] != 1 || during[used] < 5 || during[ratio] != during[used]/capacity {
		t.Errorf("while streaming: busy %v, used %v, ratio %v (capacity %v)", during[busy], during[used], during[ratio], capacity)
	}
	if during[ttft] != 1 {
		t.Errorf("while streaming: %s = %v, want 1", ttft, during[ttft])
	}
	later := during
	waitFor(t, func() bool { later = scrape(t, base); return later[used] > during[used] })
	body.Close()
	waitFor(t, func() bool { b, _ := srv.models["slow"].pool.stats(); return b == 0 })
	after := scrape(t, base)
	if after[ratio] != 0 || after[used] != 0 || after[busy] != 0 {
		t.Errorf("after the stream: ratio %v, used %v, busy %v", after[ratio], after[used], after[busy])
	}
	if after[itl] < later[itl] || after[`glassbox_inter_token_latency_seconds_sum{model="slow"}`] <= 0 {
		t.Errorf("inter-token latency: %v observations, sum %v", after[itl], after[`glassbox_inter_token_latency_seconds_sum{model="slow"}`])
	}

	// the same prompt twice on one free slot: the second reuses the cache
	const req = `{"prompt":"Once upon a time there was","max_tokens":2,"temperature":0}`
	_, base2 := testServer(t, Config{Models: []Model{{Name: "slow", Model: m}}, Parallel: 1})
	var prompt int
	for i := range 2 {
		st, _, b := post(t, base2+"/v1/completions", req, nil)
		if st != 200 {
			t.Fatalf("%d %s", st, b)
		}
		var c completion
		if err := json.Unmarshal(b, &c); err != nil || c.Usage == nil {
			t.Fatalf("%v %s", err, b)
		}
		prompt = c.Usage.PromptTokens
		got := scrape(t, base2)[hits]
		if want := float64(i * (prompt - 1)); got != want { // the last prompt token is recomputed for its logits
			t.Errorf("after request %d: %s = %v, want %v", i+1, hits, got, want)
		}
	}
}
