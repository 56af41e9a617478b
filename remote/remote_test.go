package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeServer answers /v1/completions with the handler's reply and records
// the last request body.
func fakeServer(t *testing.T, h func(w http.ResponseWriter, body map[string]any)) (*Client, *map[string]any) {
	t.Helper()
	var last map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/completions" {
			http.NotFound(w, r)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer k" {
			t.Errorf("Authorization = %q, want the key", got)
		}
		data, _ := io.ReadAll(r.Body)
		last = nil
		if err := json.Unmarshal(data, &last); err != nil {
			t.Errorf("request body %s: %v", data, err)
		}
		h(w, last)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "m", "k")
	if err != nil {
		t.Fatal(err)
	}
	return c, &last
}

func TestNew(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/v1", ""},
		{"https://api.example.com/v1/", "https://api.example.com/v1", ""},
		{"http://h/openai?x=1#f", "http://h/openai/v1", ""},
		{"ftp://h", "", "expected an http:// or https:// URL"},
		{"localhost:8080", "", "expected an http:// or https:// URL"},
	} {
		c, err := New(tc.in, "", "")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || c.Endpoint != tc.want {
			t.Errorf("New(%q) = %v, %v; want %s", tc.in, c, err, tc.want)
		}
	}
}

func TestComplete(t *testing.T) {
	c, last := fakeServer(t, func(w http.ResponseWriter, body map[string]any) {
		fmt.Fprint(w, `{"choices":[{"text":" world","index":0}],"usage":{"prompt_tokens":2,"completion_tokens":1}}`)
	})
	seed := int64(7)
	got, err := c.Complete(context.Background(), "hello", CompleteOptions{MaxTokens: 5, Temperature: 0.5, TopP: 0.9, Seed: &seed, Stop: []string{"\n"}})
	if err != nil || got != " world" {
		t.Fatalf("Complete = %q, %v", got, err)
	}
	b := *last
	if b["model"] != "m" || b["prompt"] != "hello" || b["max_tokens"] != 5.0 || b["temperature"] != 0.5 || b["top_p"] != 0.9 || b["seed"] != 7.0 || fmt.Sprint(b["stop"]) != "[\n]" {
		t.Errorf("request body %v", b)
	}
	if _, ok := b["stream"]; ok {
		t.Errorf("a plain completion sent stream: %v", b)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		is         error
		want       string
	}{
		{"context", `{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}`, 400, ErrContextLength, "answered 400: too long"},
		{"openai", `{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}`, 400, nil, "answered 400: bad temperature"},
		{"string error", `{"error":"model not found"}`, 404, nil, "answered 404: model not found"},
		{"plain text", `upstream down`, 502, nil, "answered 502: upstream down"},
		{"empty", ``, 500, nil, "answered 500: 500 Internal Server Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeServer(t, func(w http.ResponseWriter, _ map[string]any) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			_, err := c.Complete(context.Background(), "x", CompleteOptions{MaxTokens: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), c.Endpoint) {
				t.Fatalf("error = %v, want %q naming the endpoint", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
	c, _ := fakeServer(t, func(w http.ResponseWriter, _ map[string]any) { fmt.Fprint(w, `{"choices":[]}`) })
	if _, err := c.Complete(context.Background(), "x", CompleteOptions{MaxTokens: 1}); err == nil || !strings.Contains(err.Error(), "without a choice") {
		t.Errorf("empty choices: %v", err)
	}
	c, _ = fakeServer(t, func(w http.ResponseWriter, _ map[string]any) { fmt.Fprint(w, `<html>`) })
	if _, err := c.Complete(context.Background(), "x", CompleteOptions{MaxTokens: 1}); err == nil || !strings.Contains(err.Error(), "expected a completion object") {
		t.Errorf("not JSON: %v", err)
	}
}

func TestStream(t *testing.T) {
	c, last := fakeServer(t, func(w http.ResponseWriter, body map[string]any) {
		w.Header().Set("Content-Type", "text/event-stream")
		// a comment, a chunk split over two data lines, an empty text, the usage
		fmt.Fprint(w, ": keep-alive\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"text\":\"a\"}]}\n\n")
		fmt.Fprint(w, "event: message\ndata: {\"choices\":\ndata: [{\"text\":\"b\"}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"text\":\"\"}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"text\":\"after done\"}]}\n\n")
	})
	st, err := c.Stream(context.Background(), "", []int{1, 2, 3}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Chunks != 2 || st.PromptTokens != 3 || st.CompletionTokens != 2 || st.TTFT <= 0 || st.Total < st.TTFT {
		t.Errorf("timing %+v", st)
	}
	b := *last
	if b["stream"] != true || b["ignore_eos"] != true || fmt.Sprint(b["prompt"]) != "[1 2 3]" || fmt.Sprint(b["stream_options"]) != "map[include_usage:true]" || b["temperature"] != 0.0 {
		t.Errorf("request body %v", b)
	}
	for _, tc := range []struct{ name, stream, want string }{
		{"no usage", "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n", "sent no token usage"},
		{"no text", "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":0}}\n\n", "streamed no text"},
		{"error event", "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"error\":{\"message\":\"slot died\"}}\n\n", "the stream ended with an error: slot died"},
		{"garbage", "data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: nope\n\n", "expected a completion chunk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeServer(t, func(w http.ResponseWriter, _ map[string]any) { fmt.Fprint(w, tc.stream) })
			_, err := c.Stream(context.Background(), "p", nil, 4)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestScorePrompt(t *testing.T) {
	c, last := fakeServer(t, func(w http.ResponseWriter, body map[string]any) {
		fmt.Fprint(w, `{"choices":[{"text":"a b!","logprobs":{"tokens":["a"," b","!"],"token_logprobs":[null,-1.5,-0.25],"text_offset":[0,1,3]}}],"usage":{"prompt_tokens":2,"completion_tokens":1}}`)
	})
	lp, err := c.ScorePrompt(context.Background(), "a b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lp.Logprobs) != 2 || !math.IsNaN(lp.Logprobs[0]) || lp.Logprobs[1] != -1.5 || fmt.Sprint(lp.Tokens) != "[a  b]" || fmt.Sprint(lp.Offsets) != "[0 1]" {
		t.Errorf("scores %+v", lp)
	}
	b := *last
	if b["echo"] != true || b["logprobs"] != 0.0 || b["max_tokens"] != 0.0 {
		t.Errorf("request body %v: want max_tokens 0 first", b)
	}
	// a server that refuses max_tokens 0 gets 1, and keeps getting 1
	var sent []any
	c, _ = fakeServer(t, func(w http.ResponseWriter, body map[string]any) {
		sent = append(sent, body["max_tokens"])
		if body["max_tokens"] == 0.0 {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"message":"max_tokens must be at least 1"}}`)
			return
		}
		fmt.Fprint(w, `{"choices":[{"text":"a b!","logprobs":{"tokens":["a"," b","!"],"token_logprobs":[null,-1.5,-0.25]}}],"usage":{"prompt_tokens":2,"completion_tokens":1}}`)
	})
	for range 2 {
		if lp, err := c.ScorePrompt(context.Background(), "a b", nil); err != nil || len(lp.Logprobs) != 2 || lp.Logprobs[1] != -1.5 {
			t.Fatalf("with max_tokens 1: %+v, %v", lp, err)
		}
	}
	if fmt.Sprint(sent) != "[0 1 1]" {
		t.Errorf("max_tokens sent %v, want [0 1 1]", sent)
	}
	for _, tc := range []struct {
		name, body  string
		status      int
		unsupported bool
		want        string
	}{
		{"no logprobs", `{"choices":[{"text":"a b!"}],"usage":{"prompt_tokens":2}}`, 200, true, "returned no log-probabilities"},
		{"too few", `{"choices":[{"text":"x","logprobs":{"tokens":["a"],"token_logprobs":[null]}}],"usage":{"prompt_tokens":2}}`, 200, true, "returned no log-probabilities"},
		{"null inside", `{"choices":[{"text":"x","logprobs":{"token_logprobs":[null,null,-1]}}],"usage":{"prompt_tokens":3}}`, 200, false, "null) for prompt token 1 of 3"},
		{"echo refused", `{"error":{"message":"echo is not supported"}}`, 400, true, "cannot return the log-probabilities"},
		{"unauthorized", `{"error":{"message":"bad key"}}`, 401, false, "answered 401: bad key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeServer(t, func(w http.ResponseWriter, _ map[string]any) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			_, err := c.ScorePrompt(context.Background(), "a b", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrUnsupported) != tc.unsupported {
				t.Fatalf("error = %v, want %q (unsupported %v)", err, tc.want, tc.unsupported)
			}
		})
	}
}

// FuzzReadEvents checks the event reader on any stream: no panic, and the
// data it delivers are the data lines it was given.
func FuzzReadEvents(f *testing.F) {
	f.Add("data: {\"a\":1}\n\ndata: [DONE]\n\n")
	f.Add(": c\nevent: x\ndata: a\ndata: b\n\n\ndata:c")
	f.Add("data\n\ndata:\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		err := readEvents(strings.NewReader(s), func(data []byte) error {
			if string(data) == "[DONE]" {
				t.Errorf("[DONE] delivered as data")
			}
			if !strings.Contains(s, strings.SplitN(string(data), "\n", 2)[0]) {
				t.Errorf("data %q not in the stream", data)
			}
			return nil
		})
		if err != nil && !strings.Contains(err.Error(), "longer than") {
			t.Errorf("readEvents: %v", err)
		}
	})
}
