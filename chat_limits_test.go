package glassbox_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"glassbox"
	"glassbox/chat"
	"glassbox/gguf"
	"glassbox/internal/fixtures"
)

// templateModel writes a copy of stories260K whose chat template is tmpl.
func templateModel(t *testing.T, tmpl string) *glassbox.Model {
	t.Helper()
	path := filepath.Join(t.TempDir(), "template.gguf")
	if err := gguf.Rewrite(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), path, map[string]any{"tokenizer.chat_template": tmpl}); err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.Open(path, &glassbox.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Model.Chat stops a hostile template at its limit, and at once when its
// context is cancelled.
func TestChatTemplateLimits(t *testing.T) {
	msgs := []glassbox.Message{{Role: "user", Content: "hi"}}
	m := templateModel(t, "{% for i in range(100000000) %}x{% endfor %}")
	_, err := m.Chat(context.Background(), msgs, glassbox.GenerateOptions{MaxTokens: 1})
	var le *chat.LimitError
	if !errors.As(err, &le) || le.Limit != "range" {
		t.Errorf("Chat error %v, want the range limit", err)
	}

	slow := templateModel(t, "{% set s = 'x' * 10000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := slow.Chat(ctx, msgs, glassbox.GenerateOptions{MaxTokens: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Chat error %v, want the context's", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled chat took %s", d)
	}
}
