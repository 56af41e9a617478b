package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/internal/fixtures"
)

// streamChat streams a chat completion and returns the text, the finish
// reason and whether the stream ended with [DONE].
func streamChat(ctx context.Context, base, body string) (status int, text, finish string, done bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return 0, "", "", false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, "", "", false, nil
	}
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			return resp.StatusCode, "", "", false, fmt.Errorf("line %q", line)
		}
		if data == "[DONE]" {
			done = true
			break
		}
		var c chatChunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return resp.StatusCode, "", "", false, fmt.Errorf("chunk %q: %v", data, err)
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				sb.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	return resp.StatusCode, sb.String(), finish, done, sc.Err()
}

// TestLoad32Streams runs 32 concurrent streaming clients: every one gets the
// complete greedy text, identical to llama-server's.
func TestLoad32Streams(t *testing.T) {
	ref := loadReference(t)
	var want strings.Builder
	for _, p := range ref.Probs[:16] {
		want.WriteString(p.Token)
	}
	_, base := testServer(t, Config{Models: []Model{{Name: "chat", Model: openModel(t, chatModelPath(t), 0)}}, Parallel: 4, Queue: 32})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	body := `{"model":"chat","stream":true,"max_tokens":16,"temperature":0,"messages":[{"role":"user","content":"Once upon a time"}]}`
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range 32 {
		wg.Go(func() {
			status, text, finish, done, err := streamChat(ctx, base, body)
			switch {
			case err != nil:
				errs[i] = err
			case status != 200 || text != want.String() || finish != "length" || !done:
				errs[i] = fmt.Errorf("status %d text %q finish %q [DONE] %v", status, text, finish, done)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v (want %q)", i, err, want.String())
		}
	}
}

// TestQueueOverflow fills the slots and the queue: the next request gets 429
// with Retry-After, the queued one completes once a slot is free, and a burst
// of clients each gets 200 or 429 without hanging.
func TestQueueOverflow(t *testing.T) {
	srv, base := testServer(t, Config{Models: []Model{{Name: "stories", Model: openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 0)}}, Parallel: 2, Queue: 1, RetryAfter: 2})
	p := srv.models["stories"].pool
	ctx := context.Background()
	var held []*slot
	for range 2 {
		s, err := p.acquire(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	body := `{"prompt":"Once upon a time","max_tokens":4,"temperature":0}`
	queued := make(chan int, 1)
	go func() {
		status, _, _ := post(t, base+"/v1/completions", body, nil)
		queued <- status
	}()
	waitFor(t, func() bool { _, q := p.stats(); return q == 1 })
	status, hdr, resp := post(t, base+"/v1/completions", body, nil)
	if status != 429 || hdr.Get("Retry-After") != "2" {
		t.Fatalf("overflow: status %d Retry-After %q: %s", status, hdr.Get("Retry-After"), resp)
	}
	if e := decodeError(t, resp); !strings.Contains(e.Message, "busy") || e.Code == nil || *e.Code != "rate_limit_exceeded" {
		t.Errorf("429 error %+v", e)
	}
	p.release(held[0])
	select {
	case st := <-queued:
		if st != 200 {
			t.Errorf("queued request: %d", st)
		}
	case <-time.After(time.Minute):
		t.Fatal("the queued request never completed")
	}
	p.release(held[1])
	if busy, q := p.stats(); busy != 0 || q != 0 {
		t.Fatalf("after release: %d busy, %d queued", busy, q)
	}

	// a burst of 12 clients on 2 slots + 1 queue place
	var wg sync.WaitGroup
	statuses := make([]int, 12)
	for i := range statuses {
		wg.Go(func() {
			statuses[i], _, _ = post(t, base+"/v1/completions", `{"prompt":"Once upon a time","max_tokens":64,"temperature":0}`, nil)
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatal("the burst hangs")
	}
	ok := 0
	for i, st := range statuses {
		switch st {
		case 200:
			ok++
		case 429:
		default:
			t.Errorf("client %d: status %d", i, st)
		}
	}
	if ok < 2 {
		t.Errorf("only %d of 12 requests succeeded: %v", ok, statuses)
	}
	if busy, q := p.stats(); busy != 0 || q != 0 {
		t.Errorf("after the burst: %d busy, %d queued", busy, q)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCancelFreesSlot disconnects a streaming client mid-generation: the
// generation stops and the only slot serves the next request.
func TestCancelFreesSlot(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 4096)
	srv, base := testServer(t, Config{Models: []Model{{Name: "stories", Model: m}}, Parallel: 1, Queue: 0})
	p := srv.models["stories"].pool
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/completions",
		strings.NewReader(`{"prompt":"Once upon a time","stream":true,"ignore_eos":true,"temperature":0}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "data: ") {
		t.Fatalf("first line %q: %v", first, err)
	}
	if busy, _ := p.stats(); busy != 1 {
		t.Fatalf("%d slots busy during the stream", busy)
	}
	cancel()
	resp.Body.Close()
	waitFor(t, func() bool { busy, _ := p.stats(); return busy == 0 })
	// the generation stopped early: far fewer than the 4090 tokens it would make
	n := counterValue(t, srv, "glassbox_generated_tokens_total")
	t.Logf("%v tokens generated before the generation stopped", n)
	if n >= 4000 {
		t.Errorf("%v tokens generated after the client left", n)
	}
	if status, _, body := post(t, base+"/v1/completions", `{"prompt":"Once upon a time","max_tokens":4}`, nil); status != 200 {
		t.Errorf("after the cancel: %d %s", status, body)
	}
}

func counterValue(t *testing.T, srv *Server, name string) float64 {
	t.Helper()
	mfs, err := srv.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
