package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// fetch posts body and returns the status and response body (for goroutines:
// it fails no test).
func fetch(url, body string) (int, []byte, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// generated is what a response says about its generation, without ids,
// timestamps and timings: the choices of a completion, or the step events
// of a dissection.
func generated(path string, body []byte) (string, error) {
	if strings.HasSuffix(path, "/dissect") || strings.Contains(string(body), "data: ") {
		var steps []string
		for _, line := range strings.Split(string(body), "\n") {
			d, ok := strings.CutPrefix(line, "data: ")
			if !ok || d == "[DONE]" {
				continue
			}
			var ev glassbox.TraceEvent
			if err := json.Unmarshal([]byte(d), &ev); err != nil {
				return "", fmt.Errorf("event %q: %v", d, err)
			}
			if ev.Type == glassbox.TraceTypeStep {
				b, _ := json.Marshal(ev.Step)
				steps = append(steps, string(b))
			}
		}
		if len(steps) == 0 {
			return "", fmt.Errorf("no step events in %.200s", body)
		}
		return strings.Join(steps, "\n"), nil
	}
	var r struct {
		Choices json.RawMessage `json:"choices"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Choices) == 0 {
		return "", fmt.Errorf("response %.300s: %v", body, err)
	}
	return string(r.Choices), nil
}

// batchRequests are four different requests (greedy and seeded sampling,
// log-probabilities, a stop string, a grammar, a dissection) with prompts
// and lengths of their own.
var batchRequests = []struct{ path, body string }{
	{"/v1/completions", `{"model":"m","prompt":"Once upon a time","max_tokens":24,"temperature":0,"logprobs":3}`},
	{"/v1/completions", `{"model":"m","prompt":"The little dog ran to the park and saw a big red ball. It","max_tokens":32,"temperature":0.9,"seed":7,"logprobs":2}`},
	{"/v1/completions", `{"model":"m","prompt":"Lily","max_tokens":20,"temperature":1.1,"seed":42,"stop":["the"],"grammar":"root ::= [a-z ,.]+"}`},
	{"/v1/dissect", `{"model":"m","prompt":"Tom and his mom","max_tokens":10,"temperature":0,"trace":{"top":3,"layers":[0,1],"heads":[1]}}`},
}

// TestBatchedServerMatchesAlone sends the four requests at once to a server
// whose four slots decode together, and checks each answer against the
// same request on a one-slot server, on a fixture model, the same with
// prompt chunks of 4 tokens (the four prompts, of several chunks, are
// processed together) and the default model; then 16 concurrent requests on
// the four slots (twelve queued) all complete with the same answers.
func TestBatchedServerMatchesAlone(t *testing.T) {
	opened := map[string]func(t *testing.T) *glassbox.Model{
		"stories260K": func(t *testing.T) *glassbox.Model {
			return openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 256)
		},
		// prompts of several chunks of 4 tokens: four new prompts go
		// through the model together
		"stories260K-chunks": func(t *testing.T) *glassbox.Model {
			m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Context: 256, Threads: 1, Batch: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			return m
		},
		"default": func(t *testing.T) *glassbox.Model {
			m, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Context: 256, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			return m
		},
	}
	for name, open := range opened {
		t.Run(name, func(t *testing.T) {
			m := open(t)
			_, one := testServer(t, Config{Models: []Model{{Name: "m", Model: m}}, Parallel: 1, Queue: 16})
			srv, four := testServer(t, Config{Models: []Model{{Name: "m", Model: m}}, Parallel: 4, Queue: 16})
			// every request without the prompt cache, alone as batched: a
			// prompt that reuses the previous request's BOS is processed
			// from position 1, in chunks cut elsewhere than from 0, which
			// rounds differently (with 4-token chunks, the dissection's
			// logit lens showed it in the last digits)
			noCache := func(body string) string {
				return strings.Replace(body, `{"model":"m",`, `{"model":"m","cache_prompt":false,`, 1)
			}
			want := make([]string, len(batchRequests))
			for i, r := range batchRequests {
				status, b, err := fetch(one+r.path, noCache(r.body))
				if err != nil || status != 200 {
					t.Fatalf("request %d alone: %d %v %.300s", i, status, err, b)
				}
				if want[i], err = generated(r.path, b); err != nil {
					t.Fatal(err)
				}
			}
			// fresh caches: a prompt already cached is reprocessed from
			// its last token, which rounds differently from a whole prompt
			check := func(n int) {
				t.Helper()
				got := make([]string, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					r := batchRequests[i%len(batchRequests)]
					wg.Go(func() {
						status, b, err := fetch(four+r.path, noCache(r.body))
						if err == nil && status != 200 {
							err = fmt.Errorf("status %d: %.300s", status, b)
						}
						if err == nil {
							got[i], err = generated(r.path, b)
						}
						errs[i] = err
					})
				}
				wg.Wait()
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("%d requests, request %d: %v", n, i, errs[i])
					}
					if w := want[i%len(batchRequests)]; got[i] != w {
						t.Fatalf("%d requests, request %d:\n%.600s\nalone:\n%.600s", n, i, got[i], w)
					}
				}
			}
			check(4)
			b := srv.models["m"].batcher
			if name == "stories260K-chunks" {
				// the four requests arrive over HTTP a little apart, and a
				// model this small can finish a prompt before the next one
				// comes (about one round in twenty on two busy cores): the
				// rounds go on, each checked, until one pass has held chunks
				// of two prompts
				for round := 1; ; round++ {
					passes, chunks := b.PromptStats()
					if chunks > passes {
						break
					}
					if round == 10 {
						t.Fatalf("%d prompt chunks in %d passes over %d rounds of four requests: no two prompts were processed together", chunks, passes, round)
					}
					check(4)
				}
			}
			check(16)
			if steps, rows := b.Stats(); rows <= steps {
				t.Errorf("%d decode steps held %d sequence steps: nothing was batched", steps, rows)
			}
		})
	}
}

// TestNoBatching: with NoBatching the slots have no batcher.
func TestNoBatching(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 128)
	srv, base := testServer(t, Config{Models: []Model{{Name: "m", Model: m}}, Parallel: 2, NoBatching: true})
	if srv.models["m"].batcher != nil {
		t.Fatal("NoBatching server has a batcher")
	}
	status, b, err := fetch(base+"/v1/completions", `{"model":"m","prompt":"Once","max_tokens":4}`)
	if err != nil || status != 200 {
		t.Fatalf("%d %v %s", status, err, b)
	}
}
