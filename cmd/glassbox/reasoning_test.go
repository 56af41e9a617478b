package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"glassbox"
	"glassbox/gguf"
	"glassbox/internal/fixtures"
	"glassbox/internal/synth"
	"glassbox/tensor"
)

// thinkingModel writes a copy of stories260K whose chat template is a
// thinking model's (it writes an assistant turn's reasoning between <think>
// and </think>), and a grammar that makes the model reason, then answer.
func thinkingModel(t *testing.T) (model, grammarFile string) {
	t.Helper()
	tmpl := "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% else %} " +
		"{% if m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif %}{{ m.content }}{% endif %}{% endfor %}"
	dir := t.TempDir()
	model = filepath.Join(dir, "think.gguf")
	if err := gguf.Rewrite(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), model, map[string]any{"tokenizer.chat_template": tmpl}); err != nil {
		t.Fatal(err)
	}
	grammarFile = filepath.Join(dir, "think.gbnf")
	g := `root ::= "<think>" [a-z]{2,6} " " [a-z]{2,6} "</think>" " " [a-z]{2,6} "."` + "\n"
	if err := os.WriteFile(grammarFile, []byte(g), 0o644); err != nil {
		t.Fatal(err)
	}
	return model, grammarFile
}

// TestRunShowsReasoningApart: run prints a thinking model's reasoning apart
// from the answer, --json gives both fields, --hide-thinking drops it.
func TestRunShowsReasoningApart(t *testing.T) {
	model, g := thinkingModel(t)
	args := []string{"-m", model, "--grammar", g, "--temperature", "1", "--seed", "4", "Once upon a time"}
	js, _, err := execute(t, newRunCmd(), "", append([]string{"--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Text             string  `json:"text"`
		ReasoningContent *string `json:"reasoning_content"`
		Content          *string `json:"content"`
	}
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^<think>([a-z]+ [a-z]+)</think> ([a-z]+\.)$`).FindStringSubmatch(r.Text)
	if m == nil || r.ReasoningContent == nil || r.Content == nil {
		t.Fatalf("run --json: %s", js)
	}
	if *r.ReasoningContent != m[1] || *r.Content != m[2] {
		t.Errorf("reasoning %q, content %q; the text %q splits into %q and %q", *r.ReasoningContent, *r.Content, r.Text, m[1], m[2])
	}
	out, _, err := execute(t, newRunCmd(), "", args...)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Thinking...\n" + m[1] + "\n...done thinking.\n\n" + m[2] + "\n"; out != want {
		t.Errorf("run printed %q, want %q", out, want)
	}
	hidden, _, err := execute(t, newRunCmd(), "", append([]string{"--hide-thinking"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if hidden != m[2]+"\n" {
		t.Errorf("run --hide-thinking printed %q, want %q", hidden, m[2]+"\n")
	}
	// a model that does not think prints its text as it is
	plain, _, err := execute(t, newRunCmd(), "", "-m", chatModel(t), "--grammar", g, "--temperature", "1", "--seed", "4", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "<think>") || strings.Contains(plain, "Thinking...") {
		t.Errorf("a template without <think> got %q", plain)
	}
}

// TestChatShowsReasoningApart: chat shows the reasoning apart, keeps it in
// the history as reasoning_content (the template writes it back), and
// follows --grammar in every reply.
func TestChatShowsReasoningApart(t *testing.T) {
	model, g := thinkingModel(t)
	out, stderr, err := execute(t, newChatCmd(), "Once upon a time\nAnd then\n/bye\n", "-m", model, "--grammar", g, "--temperature", "1", "--seed", "2", "-n", "64")
	if err != nil {
		t.Fatal(err, stderr)
	}
	re := regexp.MustCompile(`>>> Thinking\.\.\.\n[a-z]+ [a-z]+\n\.\.\.done thinking\.\n\n[a-z]+\.\n`)
	if n := len(re.FindAllString(out, -1)); n != 2 {
		t.Errorf("%d replies shown with their reasoning apart, want 2:\n%q", n, out)
	}
}

// TestReplyPrinterDims: on a terminal the reasoning is dim, the answer not.
func TestReplyPrinterDims(t *testing.T) {
	var b strings.Builder
	p := &replyPrinter{out: &b, dim: true}
	for _, d := range []glassbox.ChatDelta{{Reasoning: "hmm"}, {Reasoning: " ok"}, {Content: "Yes."}} {
		if err := p.delta(d); err != nil {
			t.Fatal(err)
		}
	}
	want := ansiDim + "Thinking...\n" + ansiReset + ansiDim + "hmm" + ansiReset + ansiDim + " ok" + ansiReset +
		ansiDim + "\n...done thinking.\n\n" + ansiReset + "Yes."
	if b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
}

// TestChatHarmony: chat with a gpt-oss model (a small random one with
// the harmony test template, chat/testdata/harmony.jinja, its replies
// shaped into harmony messages by a grammar) shows the analysis channel as the reasoning and the final
// channel as the answer, or the answer alone with --hide-thinking.
func TestChatHarmony(t *testing.T) {
	tmpl, err := os.ReadFile(filepath.Join("..", "..", "chat", "testdata", "harmony.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	shape := synth.Shapes["tinygptoss"]
	shape.Context = 4096
	var buf bytes.Buffer
	if err := synth.WriteHarmony(&buf, shape, tensor.Q8_0, 3, string(tmpl)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model, g := filepath.Join(dir, "gptoss.gguf"), filepath.Join(dir, "harmony.gbnf")
	grammar := `root ::= "<|channel|>analysis<|message|>" [a-z]{2,6} " " [a-z]{2,6} "<|end|><|start|>assistant<|channel|>final<|message|>" [a-z]{2,6} "."` + "\n"
	if err := os.WriteFile(model, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g, []byte(grammar), 0o644); err != nil {
		t.Fatal(err)
	}
	// the random model may spell the markers in byte tokens: room for that
	args := []string{"-m", model, "--grammar", g, "--temperature", "1", "--seed", "2", "-n", "300"}
	out, stderr, err := execute(t, newChatCmd(), "Hi\nAnd then?\n/bye\n", args...)
	if err != nil {
		t.Fatal(err, stderr)
	}
	re := regexp.MustCompile(`>>> Thinking\.\.\.\n[a-z]+ [a-z]+\n\.\.\.done thinking\.\n\n[a-z]+\.\n`)
	if n := len(re.FindAllString(out, -1)); n != 2 || strings.Contains(out, "<|") {
		t.Errorf("%d replies shown with their reasoning apart, want 2 and no markers:\n%q", n, out)
	}
	hidden, stderr, err := execute(t, newChatCmd(), "Hi\n/bye\n", append([]string{"--hide-thinking"}, args...)...)
	if err != nil {
		t.Fatal(err, stderr)
	}
	if !regexp.MustCompile(`>>> [a-z]+\.\n`).MatchString(hidden) || strings.Contains(hidden, "Thinking") || strings.Contains(hidden, "<|") {
		t.Errorf("chat --hide-thinking printed %q", hidden)
	}
}
