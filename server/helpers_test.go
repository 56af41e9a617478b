package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/gguf"
	"glassbox/internal/fixtures"
)

// chatTemplate renders "<s>" followed by the messages, so that a chat on
// stories260K continues the user's text exactly as a raw prompt would.
const chatTemplate = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% else %}{{ ' ' + m.content }}{% endif %}{% endfor %}"

// FIM token ids given to the test copy of stories260K (ordinary pieces of its vocabulary).
const fimPre, fimSuf, fimMid = 400, 401, 402

// modelCopy writes a copy of the stories260K GGUF with extra metadata, since
// no fixture model carries a chat template or FIM tokens.
func modelCopy(t testing.TB, name string, extra map[string]any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".gguf")
	if err := gguf.Rewrite(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), path, extra); err != nil {
		t.Fatal(err)
	}
	return path
}

func chatModelPath(t testing.TB) string {
	return modelCopy(t, "chat", map[string]any{"tokenizer.chat_template": chatTemplate})
}

func fimModelPath(t testing.TB) string {
	return modelCopy(t, "fim", map[string]any{
		"tokenizer.ggml.fim_pre_token_id": uint32(fimPre),
		"tokenizer.ggml.fim_suf_token_id": uint32(fimSuf),
		"tokenizer.ggml.fim_mid_token_id": uint32(fimMid),
	})
}

func openModel(t testing.TB, path string, ctx int) *glassbox.Model {
	t.Helper()
	m, err := glassbox.Open(path, &glassbox.Options{Context: ctx, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// testServer serves cfg on 127.0.0.1 and returns the server and its base URL.
func testServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs.URL
}

// stdServer serves the chat copy of stories260K as "chat" (the default), the
// plain GGUF as "stories" and the FIM copy as "fim".
func stdServer(t testing.TB, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := Config{
		Models: []Model{
			{Name: "chat", Model: openModel(t, chatModelPath(t), 0)},
			{Name: "stories", Model: openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 0)},
			{Name: "fim", Model: openModel(t, fimModelPath(t), 0)},
		},
		Parallel: 2, Queue: 8,
	}
	if mod != nil {
		mod(&cfg)
	}
	return testServer(t, cfg)
}

// reference is llama-server's /completion answer for stories260K-f32:
// "Once upon a time", 32 greedy tokens, the top 5 log-probabilities.
type reference struct {
	Content string `json:"content"`
	Tokens  []int  `json:"tokens"`
	Probs   []struct {
		ID      int     `json:"id"`
		Token   string  `json:"token"`
		Bytes   []int   `json:"bytes"`
		Logprob float64 `json:"logprob"`
		Top     []struct {
			ID      int     `json:"id"`
			Token   string  `json:"token"`
			Bytes   []int   `json:"bytes"`
			Logprob float64 `json:"logprob"`
		} `json:"top_logprobs"`
	} `json:"completion_probabilities"`
}

func loadReference(t testing.TB) reference {
	t.Helper()
	b, err := os.ReadFile(fixtures.Path(t, "gguf", "reference", "server_stories260K-f32_completion.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Tokens) != 32 || len(ref.Probs) != 32 {
		t.Fatalf("reference has %d tokens, %d probs", len(ref.Tokens), len(ref.Probs))
	}
	return ref
}

// post sends a JSON body and returns the status, headers and body.
func post(t testing.TB, url, body string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// sseEvents splits an SSE body into its data payloads.
func sseEvents(t testing.TB, body []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(string(body), "\n\n") {
		ev = strings.TrimSpace(ev)
		if ev == "" {
			continue
		}
		if !strings.HasPrefix(ev, "data: ") {
			t.Fatalf("SSE event without data: %q", ev)
		}
		out = append(out, strings.TrimPrefix(ev, "data: "))
	}
	return out
}

func decodeError(t testing.TB, b []byte) errorObject {
	t.Helper()
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("not an OpenAI error object: %v: %s", err, b)
	}
	return e.Error
}
