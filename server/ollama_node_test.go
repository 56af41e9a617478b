package server

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNodeOllamaClient drives the Ollama API with the official ollama npm
// package (pinned by testdata/ollama-node/package-lock.json): version, list,
// show, ps, generate and chat (streamed and not), embed, and a 404.
func TestNodeOllamaClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Node client test (npm ci)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed: the Node client test needs Node 20 and npm")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		skipOrFail(t, "npm is not installed: the Node client test needs Node 20 and npm")
	}
	ref := loadReference(t)
	var want strings.Builder
	for _, p := range ref.Probs[:16] {
		want.WriteString(p.Token)
	}
	// npm ci in a copy, so that node_modules never lands in the repository
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "client.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "ollama-node", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		skipOrFail(t, "npm ci failed (offline?), cannot install the ollama package: %v\n%s", err, out)
	}

	_, base := testServer(t, Config{Models: []Model{{Name: "chat", Model: openModel(t, chatModelPath(t), 0)}}, APIKey: "node-key"})
	run := exec.CommandContext(ctx, node, "client.mjs", base, "chat")
	run.Dir = dir
	run.Env = append(os.Environ(), "GLASSBOX_API_KEY=node-key")
	var stderr strings.Builder
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
	}
	var got struct {
		Version        string   `json:"version"`
		Models         []string `json:"models"`
		Capabilities   []string `json:"capabilities"`
		Generate       string   `json:"generate"`
		GenerateStream string   `json:"generate_stream"`
		StreamCached   int      `json:"generate_stream_cached"`
		Chat           string   `json:"chat"`
		ChatStream     string   `json:"chat_stream"`
		EmbedDims      int      `json:"embed_dims"`
		NotFound       string   `json:"not_found"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	if got.Version != ollamaVersion || !slices.Equal(got.Models, []string{"chat:latest"}) {
		t.Errorf("version %q, models %v", got.Version, got.Models)
	}
	if !slices.Equal(got.Capabilities, []string{"completion", "tools", "embedding"}) {
		t.Errorf("capabilities %v", got.Capabilities)
	}
	for name, text := range map[string]string{"generate": got.Generate, "generate stream": got.GenerateStream, "chat": got.Chat, "chat stream": got.ChatStream} {
		if text != want.String() {
			t.Errorf("%s: %q, want llama-server's %q", name, text, want.String())
		}
	}
	// the streamed generate repeats the first one's prompt: the slot's cache has it
	if got.StreamCached != 4 {
		t.Errorf("the second generate reused %d cached tokens, want 4 (the prompt but its last token)", got.StreamCached)
	}
	if got.EmbedDims != 64 || !strings.HasPrefix(got.NotFound, "model 'no-such-model' not found: this server has chat:latest") {
		t.Errorf("embedding of %d dimensions, 404 %q", got.EmbedDims, got.NotFound)
	}
}
