package server

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// skipOrFail skips a test that cannot run here, but fails it in CI (CI=true),
// where everything it needs is installed.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// TestNodeOpenAIClient streams a chat completion with the official openai npm
// package (version 6, pinned by testdata/node/package-lock.json).
func TestNodeOpenAIClient(t *testing.T) {
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
	for _, f := range []string{"package.json", "package-lock.json", "stream_chat.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "node", f))
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
		skipOrFail(t, "npm ci failed (offline?), cannot install the openai package: %v\n%s", err, out)
	}

	_, base := testServer(t, Config{Models: []Model{{Name: "chat", Model: openModel(t, chatModelPath(t), 0)}}, APIKey: "node-key"})
	run := exec.CommandContext(ctx, node, "stream_chat.mjs", base)
	run.Dir = dir
	run.Env = append(os.Environ(), "GLASSBOX_API_KEY=node-key")
	var stderr strings.Builder
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node stream_chat.mjs: %v\n%s", err, stderr.String())
	}
	var got struct {
		Text   string `json:"text"`
		Chunks int    `json:"chunks"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	if got.Text != want.String() || got.Chunks < 16 {
		t.Errorf("node client streamed %q in %d chunks, want %q", got.Text, got.Chunks, want.String())
	}
}
