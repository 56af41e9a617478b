package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/internal/synth"
	"glassbox/models"
	"glassbox/server"
	"glassbox/tensor"
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
		{"bad ubatch", []string{"-m", model, "--ubatch", "0"}, "--ubatch must be between 1 and 4096, got 0"},
		{"bad batch", []string{"-m", model, "--batch", "0"}, "--batch must be between 1 and 16384, got 0"},
		{"ubatch too large", []string{"-m", model, "--ubatch", "5000"}, "--ubatch must be between 1 and 4096, got 5000"},
		{"too many slots", []string{"-m", model, "--parallel", "100000"}, "--parallel 100000 is too many: a model has at most 256"},
		{"queue too long", []string{"-m", model, "--queue", "10000000"}, "--queue 10000000 is too long"},
		{"negative grace", []string{"-m", model, "--shutdown-grace", "-1s"}, "--shutdown-grace must be >= 0"},
		{"bad grace", []string{"-m", model, "--shutdown-grace", "soon"}, `invalid argument "soon" for "--shutdown-grace"`},
		{"negative max body", []string{"-m", model, "--max-body", "-5"}, "--max-body must be positive"},
		{"huge max body", []string{"-m", model, "--max-body", "1099511627776"}, "--max-body 1099511627776 is too large"},
		{"negative threads", []string{"-m", model, "--threads", "-2"}, "expected a whole number from 0 (all cores) to 1024"},
		{"negative ctx", []string{"-m", model, "--ctx", "-2"}, "expected a whole number of tokens, 0 (the model's) or more"},
		{"bad addr", []string{"-m", model, "--addr", "localhost"}, "expected host:port"},
		{"duplicate names", []string{"-m", model, "-m", model}, `two models are named "stories260K-f32"`},
		{"missing file", []string{"-m", "/nonexistent/x.gguf", "--addr", "127.0.0.1:0"}, "model x:"},
		{"bad listen address", []string{"-m", model, "--addr", "256.0.0.1:80"}, "listen on 256.0.0.1:80"},
		{"arguments", []string{"-m", model, "extra"}, "unknown command"},
		{"log format", []string{"-m", model, "--log-format", "xml"}, `--log-format must be text or json, got "xml"`},
		{"cors origin", []string{"-m", model, "--addr", "127.0.0.1:0", "--cors-origin", "app.example"}, `CORS origin "app.example"`},
		{"allowed host", []string{"-m", model, "--addr", "127.0.0.1:0", "--allowed-host", "http://x"}, "expected a host name"},
		{"bad slot budget", []string{"-m", model, "--kv-budget-slot", "lots"}, `--kv-budget-slot: invalid size "lots"`},
		{"slot budget over the shared one", []string{"-m", model, "--kv-budget", "1MiB", "--kv-budget-slot", "2MiB"},
			"--kv-budget-slot of 2097152 bytes (2.00 MiB) is more than the --kv-budget of 1048576 bytes (1.00 MiB)"},
		// stories260K, context 512: pages of 256 positions × 5 layers × (32 + 32) × 2 bytes
		{"slot budget under a page", []string{"-m", model, "--ctx", "512", "--addr", "127.0.0.1:0", "--kv-budget-slot", "100KiB"},
			"the KV cache budget of a slot (--kv-budget-slot), 100 KiB (102400 bytes), is less than one page of its cache: 256 positions of 160 KiB (163840 bytes)"},
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
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	srv := startServe(t, "-m", model, "-m", "chat="+chatModel(t), "--addr", "127.0.0.1:0", "--api-key", "k", "--parallel", "2", "--ctx", "256")
	if !strings.HasPrefix(srv.base, "http://127.0.0.1:") {
		t.Errorf("listening on %s", srv.base)
	}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.base+path, nil)
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
	// the -m models, then the embedded ones (loaded on demand)
	if st != 200 || len(list.Data) != 4 || list.Data[0].ID != "stories260K-f32" || list.Data[1].ID != "chat" || list.Data[0].Meta.Ctx != 256 ||
		list.Data[2].ID != "glassbox-go-1m.f32" || list.Data[3].ID != "glassbox-go-1m-grpo.f32" {
		t.Errorf("/v1/models: %d %s", st, body)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.base+"/v1/chat/completions",
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
	srv.cancel()
	select {
	case err := <-srv.done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(srv.logs.String(), "shutting down") {
		t.Errorf("logs:\n%s", srv.logs.String())
	}
}

// TestServeEmbeddedModel serves the model embedded in the binary when no -m
// is given, and the other embedded model on demand: listed by /v1/models and
// /api/tags with what their files say, and named in requests by any of
// their names.
func TestServeEmbeddedModel(t *testing.T) {
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	srv := startServe(t, "--addr", "127.0.0.1:0", "--ctx", "128")
	resp, err := http.Get(srv.base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var list struct {
		Data []struct {
			ID     string `json:"id"`
			Status struct{ Value string }
			Meta   struct {
				Arch  string `json:"arch"`
				Vocab int    `json:"n_vocab"`
			} `json:"meta"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &list); err != nil || resp.StatusCode != 200 || len(list.Data) != 2 ||
		list.Data[0].ID != strings.TrimSuffix(models.DefaultName, ".gguf") || list.Data[0].Status.Value != "loaded" ||
		list.Data[1].ID != strings.TrimSuffix(models.GRPOName, ".gguf") || list.Data[1].Status.Value != "unloaded" ||
		list.Data[1].Meta.Arch != "llama" || list.Data[1].Meta.Vocab != 2048 {
		t.Errorf("/v1/models: %d %s", resp.StatusCode, b)
	}
	resp, err = http.Get(srv.base + "/api/tags")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"name":"glassbox-go-1m.f32:latest"`, `"name":"glassbox-go-1m-grpo.f32:latest"`, `"size":` + strconv.Itoa(len(models.GRPO))} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/api/tags lacks %s: %s", want, b)
		}
	}
	def, _ := models.Lookup("")
	grpo, _ := models.Lookup("glassbox-go-1m-grpo")
	for _, tc := range []struct {
		name string
		want models.Model
	}{
		{"", def},
		{"glassbox-go-1m", def},
		{"glassbox-go-1m.f32.gguf", def},
		{"glassbox-go-1m-grpo", grpo},
		{"glassbox-go-1m-grpo:latest", grpo},
		{"glassbox-go-1m-grpo.f32", grpo},
	} {
		body, _ := json.Marshal(map[string]any{"model": tc.name, "prompt": cutSuffix, "max_tokens": 8, "temperature": 0})
		resp, err := http.Post(srv.base+"/v1/completions", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var r struct {
			Model   string
			Choices []struct{ Text string }
		}
		if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != 200 || len(r.Choices) != 1 {
			t.Fatalf("model %q: %d %s", tc.name, resp.StatusCode, b)
		}
		if want := greedyText(t, tc.want, cutSuffix, 8); r.Choices[0].Text != want || r.Model != strings.TrimSuffix(tc.want.File, ".gguf") {
			t.Errorf("model %q: %s wrote %q, want %s's %q", tc.name, r.Model, r.Choices[0].Text, tc.want.Name, want)
		}
	}
	srv.cancel()
	if err := <-srv.done; err != nil {
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
			srv := startServe(t, "-m", model, "--addr", "0.0.0.0:0", "--ctx", "64", "--log-format", format,
				"--allowed-host", "box.lan,other.lan", "--cors-origin", "https://app.example")
			port := srv.addr[strings.LastIndex(srv.addr, ":")+1:]
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
			srv.cancel()
			if err := <-srv.done; err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			out := srv.logs.String()
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

// TestServeShutdownDuringGeneration stops the server (as SIGINT or SIGTERM
// does) while a long stream runs on a memory-mapped model and a request waits
// in the queue. The process used to crash: after the grace period the
// connections were closed without waiting for the handlers and the weights
// were unmapped under the running forward pass. Now the queued request gets
// 503, the stream ends with finish_reason "length" and [DONE], and serve
// returns cleanly.
func TestServeShutdownDuringGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slow.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	shape := synth.Shape{Dim: 256, Hidden: 768, Layers: 4, Heads: 4, KVHeads: 2, Vocab: 512, Context: 4096}
	if err := synth.Write(f, shape, tensor.F32, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, "-m", path, "--addr", "127.0.0.1:0", "--parallel", "1", "--queue", "2", "--threads", "1", "--shutdown-grace", "200ms")

	resp, err := http.Post(srv.base+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"Once upon a time","stream":true,"ignore_eos":true,"temperature":0}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	if line, err := stream.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("stream: %d, first line %q: %v", resp.StatusCode, line, err)
	}
	type answer struct {
		status int
		body   string
		err    error
	}
	queued := make(chan answer, 1)
	go func() {
		resp, err := http.Post(srv.base+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"Once","max_tokens":4}`))
		if err != nil {
			queued <- answer{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		queued <- answer{resp.StatusCode, string(b), err}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := http.Get(srv.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if strings.Contains(string(b), `glassbox_queue_depth{model="slow"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second request never queued:\n%s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}

	srv.cancel() // SIGINT
	rest, err := io.ReadAll(stream)
	if err != nil {
		t.Errorf("the stream was cut: %v", err)
	}
	text := string(rest)
	if !strings.Contains(text, `"finish_reason":"length"`) || !strings.HasSuffix(text, "data: [DONE]\n\n") {
		t.Errorf("the stream did not end with a final event and [DONE]: ...%s", text[max(0, len(text)-400):])
	}
	a := <-queued
	if a.err != nil || a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, `"code":"server_shutting_down"`) {
		t.Errorf("queued request: %d %q %v", a.status, a.body, a.err)
	}
	select {
	case err := <-srv.done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(srv.logs.String(), "stopping 1 running request") {
		t.Errorf("logs:\n%s", srv.logs)
	}
}

// TestCheckKVMemory: --parallel is refused when the slots' KV caches cannot
// fit in the available memory, with the bytes they would need.
func TestCheckKVMemory(t *testing.T) {
	m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Context: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// 5 layers × 512 positions × (32 + 32) × 2 bytes (F16)
	const perSlot = 5 * 512 * 64 * 2
	if got := m.KVCacheBytes(); got != perSlot {
		t.Fatalf("KV cache of a slot: %d bytes, want %d", got, perSlot)
	}
	served := []server.Model{{Name: "a", Model: m}, {Name: "b", Model: m}}
	const page = perSlot / 2 // 256 positions
	tests := []struct {
		parallel int
		budget   int64
		slot     int64
		avail    uint64
		want     string
	}{
		{4, 0, 0, 0, ""}, // unknown: no check
		{4, 0, 0, 8 * perSlot, ""},
		{4, 0, 0, 8*perSlot - 1, "--parallel 4 needs 2621440 bytes (2.5 MiB) of KV caches (a: 0.3 MiB a slot, b: 0.3 MiB a slot) but only 2621439 bytes"},
		{256, 0, 0, 1 << 20, "--parallel 256 needs"},
		// a budget bounds the caches, whatever --parallel
		{256, 1 << 20, 0, 1 << 20, ""},
		{4, 1<<20 + 1, 0, 1 << 20, "--kv-budget of 1048577 bytes (1.0 MiB) is more than the 1048576 bytes"},
		// a slot's budget bounds each slot's cache, in whole pages
		{4, 0, 2*page - 1, 8 * page, ""},
		{4, 0, 2*page - 1, 8*page - 1, "--parallel 4 needs 1310720 bytes (1.2 MiB) of KV caches (a: 0.2 MiB a slot, b: 0.2 MiB a slot)"},
		{4, 0, 10 * perSlot, 8*perSlot - 1, "--parallel 4 needs 2621440 bytes"}, // no more than the full cache
	}
	for _, tt := range tests {
		err := checkKVMemory(served, tt.parallel, tt.budget, tt.slot, tt.avail)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("parallel %d, %d bytes available: %v, want %q", tt.parallel, tt.avail, err, tt.want)
		}
	}
	if availableMemory() == 0 && runtime.GOOS == "linux" {
		t.Error("no MemAvailable read from /proc/meminfo")
	}
}

// TestKVBudgets: --kv-budget and --kv-budget-slot are read as sizes, a
// slot's budget no larger than the shared one.
func TestKVBudgets(t *testing.T) {
	for _, tt := range []struct {
		shared, slot         string
		wantShared, wantSlot int64
		err                  string
	}{
		{"", "", 0, 0, ""},
		{"", "64MiB", 0, 64 << 20, ""}, // no shared budget: any slot's budget
		{"1GiB", "64MiB", 1 << 30, 64 << 20, ""},
		{"64MiB", "64MiB", 64 << 20, 64 << 20, ""},
		{"64MiB", "", 64 << 20, 0, ""},
		{"64MiB", "65MiB", 0, 0, "--kv-budget-slot of 68157440 bytes (65.0 MiB) is more than the --kv-budget of 67108864 bytes (64.0 MiB) that all slots share"},
		{"", "-1", 0, 0, `--kv-budget-slot: invalid size "-1"`},
		{"", "1e30", 0, 0, `--kv-budget-slot: invalid size "1e30"`},
		{"x", "1MiB", 0, 0, `--kv-budget: invalid size "x"`},
	} {
		o := &serveOptions{kvBudget: tt.shared, kvSlot: tt.slot}
		shared, slot, err := o.kvBudgets()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("--kv-budget %q --kv-budget-slot %q: %v, want an error containing %q", tt.shared, tt.slot, err, tt.err)
			}
			continue
		}
		if err != nil || shared != tt.wantShared || slot != tt.wantSlot {
			t.Errorf("--kv-budget %q --kv-budget-slot %q: %d, %d, %v; want %d, %d", tt.shared, tt.slot, shared, slot, err, tt.wantShared, tt.wantSlot)
		}
	}
}

// TestParseSize checks the sizes --kv-budget and --kv-budget-slot take.
func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"", 0, false}, {"0", 0, false}, {"1024", 1024, false}, {"512MiB", 512 << 20, false}, {"2GiB", 2 << 30, false},
		{"1.5G", 3 << 29, false}, {"64k", 64 << 10, false}, {"1GB", 1e9, false}, {"2 gib", 2 << 30, false},
		{"-1", 0, true}, {"lots", 0, true}, {"5XB", 0, true}, {"1e30", 0, true},
	} {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// runningServe is a glassbox serve that a test started.
type runningServe struct {
	addr   string             // the address it listens on
	base   string             // "http://" + addr
	logs   *syncWriter        // what it wrote on stderr
	cancel context.CancelFunc // stops it, as SIGINT does
	done   chan error         // its result once stopped
}

// startServe runs glassbox serve with args until it listens (a minute at
// most); the test's end stops it.
func startServe(t *testing.T, args ...string) *runningServe {
	t.Helper()
	addrc := make(chan string, 1)
	cmd := serveCmd(&serveOptions{listening: func(a string) { addrc <- a }})
	cmd.SetArgs(args)
	srv := &runningServe{logs: &syncWriter{}, done: make(chan error, 1)}
	cmd.SetOut(io.Discard)
	cmd.SetErr(srv.logs)
	ctx, cancel := context.WithCancel(context.Background())
	srv.cancel = cancel
	t.Cleanup(cancel)
	go func() { srv.done <- cmd.ExecuteContext(ctx) }()
	select {
	case a := <-addrc:
		srv.addr, srv.base = a, "http://"+a
	case err := <-srv.done:
		t.Fatalf("serve exited: %v\n%s", err, srv.logs.String())
	case <-time.After(time.Minute):
		t.Fatal("serve did not start")
	}
	return srv
}
