package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glassbox"
	"glassbox/internal/synth"
	"glassbox/tensor"
)

// slowShape is a random-weight Llama big enough that a 4,000-token generation
// takes seconds (several million weights read per token), so that a shutdown
// always catches it running.
var slowShape = synth.Shape{Dim: 256, Hidden: 768, Layers: 4, Heads: 4, KVHeads: 2, Vocab: 512, Context: 4096}

// slowModel writes the synthetic model to a temporary file and opens it
// (memory-mapped, as a served model is).
func slowModel(t testing.TB) *glassbox.Model {
	t.Helper()
	path := filepath.Join(t.TempDir(), "slow.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.Write(f, slowShape, tensor.F32, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return openModel(t, path, slowShape.Context)
}

// longStream is a streamed completion that runs until the context is full.
const longStream = `{"prompt":"Once upon a time","stream":true,"stream_options":{"include_usage":true},"ignore_eos":true,"temperature":0}`

// startStream posts a streaming request and returns its reader once the
// first content event has arrived.
func startStream(t *testing.T, url, body string) (*bufio.Reader, io.Closer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("first line %q: %v", line, err)
	}
	return r, resp.Body
}

// answer is the outcome of postQuiet.
type answer struct {
	status int
	body   []byte
	err    error
}

// postQuiet posts a JSON body from any goroutine (it reports errors instead of failing the test).
func postQuiet(url, body string) answer {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b, err}
}

// TestShutdown drains and stops the server while a stream, a non-streaming
// request and a queued request are in flight: the queued one gets 503 with
// an error object, the running ones end properly (a final event with
// finish_reason "length" and [DONE]; a complete JSON response) well before
// their natural end, and closing the model afterwards is safe.
func TestShutdown(t *testing.T) {
	m := slowModel(t)
	srv, base := testServer(t, Config{Models: []Model{{Name: "slow", Model: m}}, Parallel: 2, Queue: 4})
	p := srv.models["slow"].pool

	stream, body := startStream(t, base+"/v1/completions", longStream)
	defer body.Close()
	plain := make(chan answer, 1)
	go func() {
		plain <- postQuiet(base+"/v1/completions", `{"prompt":"Hi","model":"slow","ignore_eos":true,"temperature":0}`)
	}()
	waitFor(t, func() bool { busy, _ := p.stats(); return busy == 2 })
	queued := make(chan answer, 2)
	for range 2 {
		go func() { queued <- postQuiet(base+"/v1/completions", `{"prompt":"Once","max_tokens":4}`) }()
	}
	waitFor(t, func() bool { _, q := p.stats(); return q == 2 })

	srv.Drain()
	for range 2 {
		a := <-queued
		if a.err != nil {
			t.Fatal(a.err)
		}
		e := decodeError(t, a.body)
		if a.status != http.StatusServiceUnavailable || e.Code == nil || *e.Code != "server_shutting_down" || !strings.Contains(e.Message, "shutting down") {
			t.Errorf("queued request: %d %s", a.status, a.body)
		}
	}
	if st, _, b := post(t, base+"/v1/completions", `{"prompt":"Once","max_tokens":4}`, nil); st != http.StatusServiceUnavailable {
		t.Errorf("request after Drain: %d %s", st, b)
	}
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/health while draining: %d", resp.StatusCode)
	}
	if busy, _ := p.stats(); busy != 2 {
		t.Fatalf("Drain ended running requests: %d busy", busy)
	}

	if n := srv.StopGenerations(); n != 2 {
		t.Errorf("StopGenerations stopped %d requests, want 2", n)
	}
	rest, err := io.ReadAll(stream)
	if err != nil {
		t.Fatalf("stream cut: %v", err)
	}
	events := sseEvents(t, rest)
	if len(events) < 3 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("stream end: %q", rest)
	}
	var last, usage completion
	json.Unmarshal([]byte(events[len(events)-3]), &last)
	json.Unmarshal([]byte(events[len(events)-2]), &usage)
	if len(last.Choices) != 1 || last.Choices[0].FinishReason == nil || *last.Choices[0].FinishReason != "length" {
		t.Errorf("final event %s", events[len(events)-3])
	}
	if usage.Usage == nil || usage.Usage.CompletionTokens == 0 || usage.Usage.CompletionTokens > 3000 {
		t.Errorf("usage event %s: the generation should stop early, after some tokens", events[len(events)-2])
	}

	a := <-plain
	if a.err != nil {
		t.Fatal(a.err)
	}
	var out completion
	if err := json.Unmarshal(a.body, &out); err != nil || a.status != 200 || len(out.Choices) != 1 || out.Choices[0].FinishReason == nil ||
		*out.Choices[0].FinishReason != "length" || out.Usage == nil || out.Usage.CompletionTokens > 3000 {
		t.Errorf("non-streaming request: %d %v %s", a.status, err, a.body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStopBeforeGeneration: a request that got its slot just before
// StopGenerations answers at once with an empty, "length"-finished choice.
func TestStopBeforeGeneration(t *testing.T) {
	srv, base := stdServer(t, nil)
	srv.StopGenerations()
	status, _, body := post(t, base+"/v1/completions", `{"model":"stories","prompt":"Once upon a time","max_tokens":8,"n":2}`, nil)
	var out completion
	if err := json.Unmarshal(body, &out); err != nil || status != 200 || len(out.Choices) != 2 {
		t.Fatalf("%d %v %s", status, err, body)
	}
	for _, c := range out.Choices {
		if c.Text != "" || c.FinishReason == nil || *c.FinishReason != "length" {
			t.Errorf("choice %+v", c)
		}
	}
}

// TestRetryAfterEstimate: the Retry-After of a 429 is the expected wait
// computed from the running and queued requests and the measured duration of
// recent ones, not a constant.
func TestRetryAfterEstimate(t *testing.T) {
	m := slowModel(t)
	srv, base := testServer(t, Config{Models: []Model{{Name: "slow", Model: m}}, Parallel: 1, Queue: 1})
	p := srv.models["slow"].pool
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.mu.Lock()
	p.now = func() time.Time { return now }
	p.mean, p.measured = 50*time.Second, 4 // recent requests took 50 s each
	p.mu.Unlock()

	_, body := startStream(t, base+"/v1/completions", longStream)
	defer body.Close()
	go postQuiet(base+"/v1/completions", `{"prompt":"Once","max_tokens":4}`)
	waitFor(t, func() bool { _, q := p.stats(); return q == 1 })
	p.mu.Lock()
	now = now.Add(20 * time.Second) // the running request has been at it for 20 s
	p.mu.Unlock()
	status, hdr, resp := post(t, base+"/v1/completions", `{"prompt":"Once","max_tokens":4}`, nil)
	// 30 s until the running request ends, then 50 s for the queued one
	if status != 429 || hdr.Get("Retry-After") != "80" || !strings.Contains(string(resp), "about 80 s") {
		t.Errorf("overflow: %d Retry-After %q %s", status, hdr.Get("Retry-After"), resp)
	}
	srv.Drain()
	srv.StopGenerations()
}

func TestExpectedWait(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name     string
		running  []time.Duration // elapsed time of the busy slots
		slots    int
		queued   int
		mean     time.Duration
		measured int
		want     time.Duration
	}{
		{"free slot", nil, 2, 0, 10 * s, 3, 0},
		{"one running", []time.Duration{4 * s}, 1, 0, 10 * s, 3, 6 * s},
		{"one running, two queued", []time.Duration{4 * s}, 1, 2, 10 * s, 3, 26 * s},
		{"two slots, three queued", []time.Duration{4 * s, 8 * s}, 2, 3, 10 * s, 3, 16 * s},
		{"overdue request", []time.Duration{30 * s}, 1, 1, 10 * s, 3, 10 * s},
		{"nothing measured yet", []time.Duration{5 * s, 2 * s}, 2, 1, 0, 0, 3 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			slots := make([]*slot, tt.slots)
			for i := range slots {
				slots[i] = &slot{id: i}
			}
			p := newPool(slots, 8, nil)
			p.now = func() time.Time { return now }
			for i, el := range tt.running {
				slots[i].busy, slots[i].since = true, now.Add(-el)
			}
			p.free = p.free[len(tt.running):]
			p.waiters = make([]chan *slot, tt.queued)
			p.mean, p.measured = tt.mean, tt.measured
			if got := p.expectedWait(); got != tt.want {
				t.Errorf("expected wait %v, want %v", got, tt.want)
			}
		})
	}
	for _, c := range []struct {
		wait  time.Duration
		least int
		want  int
	}{{0, 0, 1}, {1500 * time.Millisecond, 1, 2}, {80 * time.Second, 1, 80}, {time.Second, 5, 5}, {100 * time.Hour, 1, maxRetryAfter}} {
		if got := retryAfterSeconds(c.wait, c.least); got != c.want {
			t.Errorf("retryAfterSeconds(%v, %d) = %d, want %d", c.wait, c.least, got, c.want)
		}
	}
}

// TestStopDissection: a dissection stopped mid-way ends with its "done" event
// (finish_reason "length") and [DONE].
func TestStopDissection(t *testing.T) {
	srv, base := testServer(t, Config{Models: []Model{{Name: "slow", Model: slowModel(t)}}})
	stream, body := startStream(t, base+"/v1/dissect", `{"prompt":"Once upon a time","max_tokens":3000,"ignore_eos":true,"temperature":0,"trace":{"top":2}}`)
	defer body.Close()
	for {
		line, err := stream.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before a step: %v", err)
		}
		if strings.Contains(line, `"type":"step"`) {
			break
		}
	}
	srv.Drain()
	srv.StopGenerations()
	rest, err := io.ReadAll(stream)
	if err != nil {
		t.Fatal(err)
	}
	events := sseEvents(t, rest)
	if len(events) < 2 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("stream end: %q", rest)
	}
	var done glassbox.TraceEvent
	if err := json.Unmarshal([]byte(events[len(events)-2]), &done); err != nil || done.Type != glassbox.TraceTypeDone || done.Done.FinishReason != "length" || done.Done.GenTokens >= 3000 {
		t.Errorf("last event %s: %v", events[len(events)-2], err)
	}
}
