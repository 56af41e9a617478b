package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"glassbox/internal/fixtures"
)

// TestServeStoreModels: serve loads the store's models on demand by name,
// under --max-models (set by its variable) unloading the least recently used.
func TestServeStoreModels(t *testing.T) {
	data, err := os.ReadFile(fixtures.Path(t, "gguf", "stories260K-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeHubServer(t, "stories260K-Q4_K_M.gguf", data)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // where serve writes the embedded models' files to list them
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")
	if _, _, err := execute(t, newPullCmd(), "", "hf.co/test/stories:Q4_K_M"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GLASSBOX_MAX_MODELS", "1")
	addrc := make(chan string, 1)
	o := &serveOptions{listening: func(a string) { addrc <- a }}
	cmd := serveCmd(o)
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--ctx", "64", "--keep-alive", "-1s", "--feedback", "off"})
	cmd.SetOut(io.Discard)
	logs := &syncWriter{}
	cmd.SetErr(logs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs)
	case <-time.After(time.Minute):
		t.Fatal("serve did not start")
	}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	loaded := func() []string {
		t.Helper()
		_, b := call("GET", "/api/ps", "")
		var ps struct{ Models []struct{ Name string } }
		if err := json.Unmarshal([]byte(b), &ps); err != nil {
			t.Fatalf("/api/ps: %s", b)
		}
		var out []string
		for _, m := range ps.Models {
			out = append(out, m.Name)
		}
		return out
	}
	_, b := call("GET", "/v1/models", "")
	var list struct{ Data []struct{ ID string } }
	json.Unmarshal([]byte(b), &list)
	if len(list.Data) != 3 || list.Data[0].ID != "glassbox-go-1m.f32" || list.Data[1].ID != "glassbox-go-1m-grpo.f32" || list.Data[2].ID != "hf.co/test/stories:Q4_K_M" {
		t.Fatalf("/v1/models: %s", b)
	}
	if got := loaded(); !slices.Equal(got, []string{"glassbox-go-1m.f32:latest"}) {
		t.Errorf("at start: %v", got)
	}
	// by its store name, and by the shorter name `glassbox run` takes
	for _, name := range []string{"hf.co/test/stories:Q4_K_M", "test/stories"} {
		code, b := call("POST", "/v1/completions", `{"model":"`+name+`","prompt":"Once","max_tokens":3}`)
		if code != 200 || !strings.Contains(b, `"model":"hf.co/test/stories:Q4_K_M"`) {
			t.Errorf("%s: %d %s", name, code, b)
		}
	}
	if got := loaded(); !slices.Equal(got, []string{"hf.co/test/stories:Q4_K_M"}) {
		t.Errorf("after the store model, with --max-models 1: %v", got)
	}
	if code, b := call("POST", "/v1/completions", `{"model":"hf.co/test/other:Q8_0","prompt":"x"}`); code != 404 || !strings.Contains(b, "this server has glassbox-go-1m.f32, glassbox-go-1m-grpo.f32, hf.co/test/stories:Q4_K_M") {
		t.Errorf("unknown: %d %s", code, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "at most 1 model loaded") || !strings.Contains(logs.String(), "loaded hf.co/test/stories:Q4_K_M from") {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestServeMaxModelsFlag: a negative --max-models is refused.
func TestServeMaxModelsFlag(t *testing.T) {
	o := &serveOptions{models: []string{"a=x.gguf", "b=y.gguf"}, maxModels: -1, parallel: 1, batch: 1, queue: 1, maxBody: 1, addr: "127.0.0.1:0", logFormat: "text"}
	o.runtime.ubatch = 1
	if _, err := o.validate(); err == nil || !strings.Contains(err.Error(), "--max-models must be >= 0") {
		t.Errorf("negative: %v", err)
	}
}
