package models

import (
	"context"
	"strings"
	"testing"

	"glassbox"
	"glassbox/gguf"
)

func TestEmbeddedHash(t *testing.T) {
	if err := Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedModelGenerates writes the embedded model out, opens it with the
// SDK and generates Go-looking text greedily, with no network.
func TestEmbeddedModelGenerates(t *testing.T) {
	f, err := gguf.Parse(Default)
	if err != nil {
		t.Fatal(err)
	}
	if arch := f.Architecture(); arch != "llama" {
		t.Fatalf("architecture %q, want llama", arch)
	}
	dir := t.TempDir()
	p, err := PathIn(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p2, err := PathIn(dir); err != nil || p2 != p {
		t.Fatalf("second PathIn = %q, %v; want the same file %q", p2, err, p)
	}
	m, err := glassbox.Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := m.Generate(context.Background(), "func (b *Buffer) Len() int {", glassbox.GenerateOptions{MaxTokens: 24})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("completion: %q", res.Text)
	if strings.TrimSpace(res.Text) == "" {
		t.Fatalf("the default model generated nothing")
	}
}
