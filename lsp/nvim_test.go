package lsp

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glassbox"
)

// TestNeovimClient: Debian's neovim (headless, its built-in LSP client, the
// Lua script testdata/nvim/complete.lua) starts `glassbox lsp` on the
// embedded model, opens a Go file and asks for completion at a cursor; the
// item must be the model's own continuation of the text before the cursor.
func TestNeovimClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the neovim test (builds the binary)")
	}
	nvim, err := exec.LookPath("nvim")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nvim is not installed: .ci/run installs Debian's neovim")
		}
		t.Skip("nvim is not installed (apt-get install neovim): skipping the neovim client test")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "glassbox")
	if out, err := exec.Command("go", "build", "-o", bin, "glassbox/cmd/glassbox").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	goFile := filepath.Join(dir, "main.go")
	if err := os.WriteFile(goFile, []byte(goFile2), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "nvim", "complete.lua"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nvim, "--headless", "-u", "NONE", "-i", "NONE", "--noplugin", "-c", "luafile "+script)
	cmd.Dir = dir
	// the cursor: line 7 (1-based), on the P of Println, after "\tfmt."
	col := len("\tfmt.")
	cmd.Env = append(os.Environ(), "GLASSBOX_BIN="+bin, "GO_FILE="+goFile, "LINE=7", "COL="+itoa(col), "OUT="+out, "HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nvim: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("nvim wrote no result: %v", err)
	}
	var got struct {
		Error              string
		Logs               []string
		CompletionProvider bool `json:"completion_provider"`
		InlineProvider     bool `json:"inline_provider"`
		Position           Position
		Items              []struct{ Label, Detail, NewText string }
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("result %s: %v", b, err)
	}
	t.Logf("neovim received: %s", b)
	if got.Error != "" {
		t.Fatalf("the Lua script failed: %s", got.Error)
	}
	if !got.CompletionProvider || !got.InlineProvider || got.Position != (Position{6, col}) {
		t.Errorf("capabilities %v/%v, position %v", got.CompletionProvider, got.InlineProvider, got.Position)
	}
	if len(got.Items) != 1 {
		t.Fatalf("neovim got %d items, want 1", len(got.Items))
	}
	// what the embedded model itself writes after the prefix
	m := openDefault(t)
	at, err := offset(goFile2, got.Position)
	if err != nil {
		t.Fatal(err)
	}
	prefix := goFile2[:at]
	p, err := BuildPrompt(m, prefix, "", 16)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.GenerateIDs(ctx, p.IDs, glassbox.GenerateOptions{MaxTokens: 16})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := completionItem(prefix, trimCompletion(res.Text, ""), got.Position, false)
	if it := got.Items[0]; it.NewText != want.TextEdit.NewText || it.Label != want.Label || !strings.Contains(it.Detail, "prefix completion") {
		t.Errorf("item %+v, want %q", it, want.TextEdit.NewText)
	}
	if len(got.Logs) == 0 || !strings.Contains(strings.Join(got.Logs, "\n"), "no fill-in-the-middle tokens") {
		t.Errorf("window/logMessage %v, want the prefix-completion notice", got.Logs)
	}
}

const goFile2 = `package main

import "fmt"

func main() {
	x := 42
	fmt.Println(x)
}
`

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
