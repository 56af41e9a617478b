//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"glassbox/internal/fixtures"
	"glassbox/internal/synth"
	"glassbox/tensor"
)

// TestServeNotReadyWhileLoading: serve listens before it loads its models;
// meanwhile it is alive but not ready, and ready once they are loaded.
func TestServeNotReadyWhileLoading(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	checked := make(chan struct{})
	addrc := make(chan string, 1)
	o := &serveOptions{
		listening: func(a string) { addrc <- a },
		beforeLoad: func(addr string) {
			defer close(checked)
			base := "http://" + addr
			for path, want := range map[string]int{"/livez": 200, "/readyz": 503, "/health": 503, "/v1/models": 503} {
				st, body := probe(t, base+path)
				if st != want {
					t.Errorf("GET %s while loading: %d %s, want %d", path, st, body, want)
				}
				if path == "/health" && !strings.Contains(body, `"message":"Loading model"`) {
					t.Errorf("/health while loading: %s, want llama.cpp's Loading model", body)
				}
			}
		},
	}
	cmd := serveCmd(o)
	cmd.SetArgs([]string{"-m", model, "--addr", "127.0.0.1:0", "--ctx", "64"})
	cmd.SetOut(io.Discard)
	logs := &syncWriter{}
	cmd.SetErr(logs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs)
	case <-time.After(time.Minute):
		t.Fatal("serve did not start")
	}
	<-checked
	for path, want := range map[string]int{"/livez": 200, "/readyz": 200, "/health": 200} {
		if st, body := probe(t, "http://"+addr+path); st != want {
			t.Errorf("GET %s once loaded: %d %s, want %d", path, st, body, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "drained in") {
		t.Errorf("an idle server should drain at once:\n%s", logs)
	}
}

// waitStderr waits until the process's stderr matches re (a minute at most)
// and returns the first match's groups.
func (p *process) waitStderr(re *regexp.Regexp) []string {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			p.t.Fatalf("glassbox ended while waiting for %s\nstderr:\n%s", re, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %s after a minute\nstderr:\n%s", re, p.stderr.String())
		}
	}
}

// TestServeSIGTERM sends SIGTERM to a glassbox serve process, configured by
// its environment as in a container, while a stream is in flight. The
// server stops being ready at once (/readyz and /health 503, /livez 200), a
// new generation request gets 503 with Retry-After (the port still
// answers), the stream completes all its tokens, and the process exits 0
// as soon as it has, well within the grace period. With a grace period
// shorter than the stream, the stream is ended at the grace period with
// finish_reason "length" and [DONE] and the process exits soon after.
func TestServeSIGTERM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slow.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// a random-weight Llama of 4 layers: some milliseconds a token on one thread
	shape := synth.Shape{Dim: 256, Hidden: 768, Layers: 4, Heads: 4, KVHeads: 2, Vocab: 512, Context: 4096}
	if err := synth.Write(f, shape, tensor.F32, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	serving := regexp.MustCompile(`serving 1 model on (http://127\.0\.0\.1:\d+)`)

	t.Run("stream completes", func(t *testing.T) {
		const grace, tokens = 60 * time.Second, 2000
		p := startGlassboxEnv(t, []string{"GLASSBOX_MODEL=" + path, "GLASSBOX_ADDR=127.0.0.1:0", "GLASSBOX_PARALLEL=2",
			"GLASSBOX_THREADS=1", "GLASSBOX_SHUTDOWN_GRACE=" + grace.String()}, "serve")
		base := p.waitStderr(serving)[1]
		if st, _ := probe(t, base+"/readyz"); st != 200 {
			t.Fatalf("/readyz of a started server: %d", st)
		}
		body := fmt.Sprintf(`{"prompt":"Once upon a time","stream":true,"stream_options":{"include_usage":true},"ignore_eos":true,"temperature":0,"max_tokens":%d}`, tokens)
		resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		stream := bufio.NewReader(resp.Body)
		if line, err := stream.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: {") {
			t.Fatalf("stream: %d, first line %q: %v", resp.StatusCode, line, err)
		}
		// the rest of the stream, read meanwhile
		type result struct {
			text string
			err  error
			at   time.Time
		}
		rest := make(chan result, 1)
		go func() {
			b, err := io.ReadAll(stream)
			rest <- result{string(b), err, time.Now()}
		}()

		sent := time.Now()
		p.signal(syscall.SIGTERM)
		p.waitStderr(regexp.MustCompile(`shutting down`))
		select {
		case r := <-rest:
			t.Fatalf("the stream ended before the drain could be checked (%d bytes): make it longer", len(r.text))
		default:
		}
		for path, want := range map[string]int{"/readyz": 503, "/health": 503, "/livez": 200} {
			if st, b := probe(t, base+path); st != want {
				t.Errorf("GET %s while draining: %d %s, want %d", path, st, b, want)
			}
		}
		nr, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"Hi","max_tokens":4}`))
		if err != nil {
			t.Fatalf("a new request while draining: %v (the port should still answer)", err)
		}
		nb, _ := io.ReadAll(nr.Body)
		nr.Body.Close()
		if nr.StatusCode != 503 || nr.Header.Get("Retry-After") != "1" || !strings.Contains(string(nb), `"code":"server_shutting_down"`) {
			t.Errorf("a new request while draining: %d Retry-After %q %s", nr.StatusCode, nr.Header.Get("Retry-After"), nb)
		}
		select {
		case r := <-rest:
			t.Fatalf("the stream ended before the new request was answered (%d bytes): make it longer", len(r.text))
		default:
		}

		r := <-rest
		if r.err != nil {
			t.Fatalf("the stream was cut: %v", r.err)
		}
		if !strings.HasSuffix(r.text, "data: [DONE]\n\n") || !strings.Contains(r.text, `"finish_reason":"length"`) {
			t.Errorf("the stream did not end properly: ...%s", r.text[max(0, len(r.text)-300):])
		}
		var usage struct {
			Usage struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		events := strings.Split(strings.TrimSpace(r.text), "\n\n")
		if len(events) < 2 || json.Unmarshal([]byte(strings.TrimPrefix(events[len(events)-2], "data: ")), &usage) != nil || usage.Usage.CompletionTokens != tokens {
			t.Errorf("the stream should complete all %d tokens: usage %+v", tokens, usage)
		}
		code := p.exitCode()
		exited := time.Now()
		if code != 0 {
			t.Errorf("exit code %d after a clean drain, want 0\nstderr:\n%s", code, p.stderr.String())
		}
		if d := exited.Sub(sent); d >= grace {
			t.Errorf("exited %s after SIGTERM: the grace period is %s", d, grace)
		}
		if d := exited.Sub(r.at); d > 10*time.Second {
			t.Errorf("exited %s after the last stream ended: it should exit as soon as no request runs", d)
		}
		if !strings.Contains(p.stderr.String(), "drained in") || strings.Contains(p.stderr.String(), "grace period over") {
			t.Errorf("stderr:\n%s", p.stderr.String())
		}
		t.Logf("SIGTERM to exit: %s; stream end to exit: %s\n%s", exited.Sub(sent).Round(time.Millisecond), exited.Sub(r.at).Round(time.Millisecond), p.stderr.String())
	})

	t.Run("grace period over", func(t *testing.T) {
		const grace = time.Second
		p := startGlassbox(t, "serve", "-m", path, "--addr", "127.0.0.1:0", "--threads", "1", "--shutdown-grace", grace.String())
		base := p.waitStderr(serving)[1]
		resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"Once upon a time","stream":true,"ignore_eos":true,"temperature":0}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		stream := bufio.NewReader(resp.Body)
		if line, err := stream.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: {") {
			t.Fatalf("stream: %d, first line %q: %v", resp.StatusCode, line, err)
		}
		sent := time.Now()
		p.signal(syscall.SIGTERM)
		b, err := io.ReadAll(stream)
		if err != nil {
			t.Fatalf("the stream was cut: %v", err)
		}
		if text := string(b); !strings.HasSuffix(text, "data: [DONE]\n\n") || !strings.Contains(text, `"finish_reason":"length"`) {
			t.Errorf("the stopped stream did not end properly: ...%s", text[max(0, len(text)-300):])
		}
		code := p.exitCode()
		// the grace period, then at most finishTime for the last events
		if d := time.Since(sent); d < grace || d > grace+finishTime {
			t.Errorf("exited %s after SIGTERM, want between %s and %s", d, grace, grace+finishTime)
		}
		if code != 0 || !strings.Contains(p.stderr.String(), "grace period over: stopping 1 running request") {
			t.Errorf("exit code %d\nstderr:\n%s", code, p.stderr.String())
		}
	})
}
