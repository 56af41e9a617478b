package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/internal/fixtures"
	"glassbox/models"
)

func TestParseModelSpec(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "a=b.gguf")
	if err := os.WriteFile(odd, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, name, path, err string
	}{
		{in: "models/qwen3-0.6b.gguf", name: "qwen3-0.6b", path: "models/qwen3-0.6b.gguf"},
		{in: "stories260K.bin", name: "stories260K", path: "stories260K.bin"},
		{in: "chat=models/qwen3.gguf", name: "chat", path: "models/qwen3.gguf"},
		{in: odd, name: "a=b", path: odd},
		{in: "dir/x=y.gguf", name: "x=y", path: "dir/x=y.gguf"},
		{in: "hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0", name: "Qwen3-0.6B-GGUF:Q8_0", path: "hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0"},
		{in: "qwen3-0.6b", name: "qwen3-0.6b", path: "qwen3-0.6b"},
		{in: "=x.gguf", err: "expected NAME=PATH"},
		{in: "name=", err: "expected NAME=PATH"},
		{in: "", err: "empty -m value"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseModelSpec(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got.name != tt.name || got.path != tt.path {
				t.Errorf("got %+v, %v; want %s, %s", got, err, tt.name, tt.path)
			}
		})
	}
}

func TestServeCommandErrors(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad parallel", []string{"-m", model, "--parallel", "0"}, "--parallel must be at least 1"},
		{"bad queue", []string{"-m", model, "--queue", "-1"}, "--queue must be >= 0"},
		{"bad addr", []string{"-m", model, "--addr", "localhost"}, "expected host:port"},
		{"duplicate names", []string{"-m", model, "-m", model}, `two models are named "stories260K-f32"`},
		{"missing file", []string{"-m", "/nonexistent/x.gguf", "--addr", "127.0.0.1:0"}, "model x:"},
		{"bad listen address", []string{"-m", model, "--addr", "256.0.0.1:80"}, "listen on 256.0.0.1:80"},
		{"arguments", []string{"-m", model, "extra"}, "unknown command"},
		{"log format", []string{"-m", model, "--log-format", "xml"}, `--log-format must be text or json, got "xml"`},
		{"cors origin", []string{"-m", model, "--addr", "127.0.0.1:0", "--cors-origin", "app.example"}, `CORS origin "app.example"`},
		{"allowed host", []string{"-m", model, "--addr", "127.0.0.1:0", "--allowed-host", "http://x"}, "expected a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := execute(t, newServeCmd(), "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestServeCommand starts the server on a free port, answers a completion
// with two models loaded by name and an API key, and shuts down gracefully.
func TestServeCommand(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	addrc := make(chan string, 1)
	o := &serveOptions{listening: func(a string) { addrc <- a }}
	cmd := serveCmd(o)
	cmd.SetArgs([]string{"-m", model, "-m", "chat=" + chatModel(t), "--addr", "127.0.0.1:0", "--api-key", "k", "--parallel", "2", "--ctx", "256"})
	var logs strings.Builder
	cmd.SetOut(io.Discard)
	cmd.SetErr(&logs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve exited: %v\n%s", err, logs.String())
	case <-time.After(time.Minute):
		t.Fatal("serve did not start")
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("listening on %s", base)
	}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get("/health"); st != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/health: %d %s", st, body)
	}
	st, body := get("/v1/models")
	var list struct {
		Data []struct {
			ID   string `json:"id"`
			Meta struct {
				Ctx int `json:"n_ctx"`
			} `json:"meta"`
		} `json:"data"`
	}
	json.Unmarshal([]byte(body), &list)
	if st != 200 || len(list.Data) != 2 || list.Data[0].ID != "stories260K-f32" || list.Data[1].ID != "chat" || list.Data[0].Meta.Ctx != 256 {
		t.Errorf("/v1/models: %d %s", st, body)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":9,"temperature":0}`))
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"content":", there was a little girl named"`) {
		t.Errorf("chat: %d %s", resp.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// TestServeEmbeddedModel serves the model embedded in the binary when no -m is given.
func TestServeEmbeddedModel(t *testing.T) {
	addrc := make(chan string, 1)
	cmd := serveCmd(&serveOptions{listening: func(a string) { addrc <- a }})
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--ctx", "128"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("serve did not start")
	}
	resp, err := http.Get(base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `"id":"` + strings.TrimSuffix(models.DefaultName, ".gguf") + `"`; resp.StatusCode != 200 || !strings.Contains(string(b), want) {
		t.Errorf("/v1/models: %d %s, want %s", resp.StatusCode, b, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestServeBeyondLoopback: listening on every interface without an API key
// warns on stderr; with --log-format json every stderr line is a JSON
// object, one per request among them; --allowed-host and --cors-origin reach
// the server.
func TestServeBeyondLoopback(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			addrc := make(chan string, 1)
			cmd := serveCmd(&serveOptions{listening: func(a string) { addrc <- a }})
			cmd.SetArgs([]string{"-m", model, "--addr", "0.0.0.0:0", "--ctx", "64", "--log-format", format,
				"--allowed-host", "box.lan,other.lan", "--cors-origin", "https://app.example"})
			var logs syncWriter
			cmd.SetOut(io.Discard)
			cmd.SetErr(&logs)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx) }()
			var port string
			select {
			case a := <-addrc:
				port = a[strings.LastIndex(a, ":")+1:]
			case err := <-done:
				t.Fatalf("serve exited: %v\n%s", err, logs.String())
			case <-time.After(time.Minute):
				t.Fatal("serve did not start")
			}
			base := "http://127.0.0.1:" + port
			status := func(host string, header map[string]string) int {
				req, _ := http.NewRequest(http.MethodPost, base+"/tokenize", strings.NewReader(`{"content":"Once"}`))
				req.Header.Set("Content-Type", "application/json")
				for k, v := range header {
					req.Header.Set(k, v)
				}
				req.Host = host
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if o := header["Origin"]; o != "" && resp.Header.Get("Access-Control-Allow-Origin") != o {
					t.Errorf("no CORS header for %s", o)
				}
				return resp.StatusCode
			}
			for host, want := range map[string]int{"box.lan:" + port: 200, "other.lan": 200, "evil.example": 403, "127.0.0.1:" + port: 200} {
				if got := status(host, nil); got != want {
					t.Errorf("Host %s: %d, want %d", host, got, want)
				}
			}
			status("127.0.0.1", map[string]string{"Origin": "https://app.example"})
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			out := logs.String()
			if !strings.Contains(out, "WITHOUT AN API KEY") {
				t.Errorf("no warning about the missing API key:\n%s", out)
			}
			requests := 0
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if format == "text" {
					if strings.Contains(line, "msg=request") && strings.Contains(line, "path=/tokenize") {
						requests++
					}
					continue
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Errorf("stderr line is not JSON: %q", line)
					continue
				}
				if rec["msg"] == "request" && rec["path"] == "/tokenize" && rec["method"] == "POST" && rec["status"] != nil {
					requests++
				}
			}
			if requests != 5 {
				t.Errorf("%d request lines for 5 requests:\n%s", requests, out)
			}
		})
	}
}

// syncWriter is a strings.Builder safe for the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
