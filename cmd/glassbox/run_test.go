package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"glassbox/gguf"
	"glassbox/internal/fixtures"
)

func execute(t *testing.T, cmd *cobra.Command, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetIn(strings.NewReader(stdin))
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

func TestRunCommandText(t *testing.T) {
	model := fixtures.Path(t, "llama2c", "stories260K.bin")
	want, err := os.ReadFile(fixtures.Path(t, "llama2c", "reference", "t0_n64_once_upon_a_time.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// run.c prints the prompt too; glassbox run prints only the continuation.
	cont := strings.TrimPrefix(string(want), "Once upon a time")
	tests := []struct {
		name, stdin string
		args        []string
	}{
		{"argument", "", []string{"-m", model, "--temperature", "0", "-n", "60", "--kv-f32", "Once upon a time"}},
		{"stdin", "Once upon a time", []string{"-m", model, "--temperature", "0", "-n", "60", "--kv-f32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := execute(t, newRunCmd(), tt.stdin, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if out != cont {
				t.Errorf("stdout %q, want %q", out, cont)
			}
		})
	}
}

func TestRunCommandJSON(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	out, stderr, err := execute(t, newRunCmd(), "", "-m", model, "--json", "--logprobs", "3", "-n", "8", "--seed", "5", "--verbose", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		PromptIDs []int  `json:"prompt_ids"`
		IDs       []int  `json:"ids"`
		Text      string `json:"text"`
		Seed      uint64 `json:"seed"`
		LogProbs  []struct {
			ID      int     `json:"id"`
			LogProb float64 `json:"logprob"`
			Top     []struct {
				ID      int     `json:"id"`
				LogProb float64 `json:"logprob"`
			} `json:"top"`
		} `json:"logprobs"`
		Timings map[string]float64 `json:"timings"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if want := []int{1, 403, 407, 261, 378}; !equal(got.PromptIDs, want) {
		t.Errorf("prompt_ids %v, want %v", got.PromptIDs, want)
	}
	if len(got.IDs) != 8 || len(got.LogProbs) != 8 || got.Seed != 5 || got.Text == "" {
		t.Fatalf("ids %v, %d logprobs, seed %d, text %q", got.IDs, len(got.LogProbs), got.Seed, got.Text)
	}
	for i, lp := range got.LogProbs {
		if lp.ID != got.IDs[i] || len(lp.Top) != 3 || lp.LogProb > 0 || lp.Top[0].LogProb < lp.Top[2].LogProb {
			t.Errorf("logprobs[%d] = %+v", i, lp)
		}
	}
	for _, k := range []string{"load_ms", "prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "predicted_per_second"} {
		if _, ok := got.Timings[k]; !ok {
			t.Errorf("timings lack %q: %v", k, got.Timings)
		}
	}
	if !strings.Contains(stderr, "tokens/s") {
		t.Errorf("--verbose printed %q", stderr)
	}
	// the same seed gives the same text
	again, _, err := execute(t, newRunCmd(), "", "-m", model, "--json", "-n", "8", "--seed", "5", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	var second struct{ IDs []int }
	json.Unmarshal([]byte(again), &second)
	if !equal(second.IDs, got.IDs) {
		t.Errorf("seed 5 gave %v then %v", got.IDs, second.IDs)
	}
}

func TestRunCommandErrors(t *testing.T) {
	model := fixtures.Path(t, "llama2c", "stories260K.bin")
	tests := []struct {
		name string
		args []string
		want string
	}{

		{"missing model", []string{"-m", "/nonexistent.gguf", "hi"}, "no such file"},
		{"bad n", []string{"-m", model, "-n", "0", "hi"}, "-n must be"},
		{"bad temperature", []string{"-m", model, "--temperature", "-1", "hi"}, "temperature"},
		{"bad top-p", []string{"-m", model, "--top-p", "1.5", "hi"}, "top_p"},
		{"bad logprobs", []string{"-m", model, "--logprobs", "99", "hi"}, "--logprobs"},
		{"unknown flag", []string{"-m", model, "--nope", "hi"}, "unknown flag"},
		{"prompt too long", []string{"-m", model, "--ctx", "8", "Once upon a time there was a little girl"}, "too many"},
		{"no prompt", []string{"-m", model}, "no prompt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := execute(t, newRunCmd(), "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// chatModel writes a copy of the stories260K GGUF with a chat template added,
// since no fixture model carries one.
func chatModel(t *testing.T) string {
	t.Helper()
	return chatModelFrom(t, "stories260K-f32.gguf")
}

// chatModelFrom writes a copy of a fixture GGUF with a chat template added:
// "<s>" then the messages, replies after a space.
func chatModelFrom(t *testing.T, fixture string) string {
	t.Helper()
	tmpl := "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% else %}{{ ' ' + m.content }}{% endif %}{% endfor %}"
	path := filepath.Join(t.TempDir(), "chat.gguf")
	if err := gguf.Rewrite(fixtures.Path(t, "gguf", fixture), path, map[string]any{"tokenizer.chat_template": tmpl}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestChatCommand(t *testing.T) {
	model := chatModel(t)
	// The template renders "<s>" + the user's text: the reply continues the story.
	out, _, err := execute(t, newChatCmd(), "Once upon a time\n/reset\nOnce upon a time\n/bye\n", "-m", model, "--temperature", "0", "-n", "9")
	if err != nil {
		t.Fatal(err)
	}
	replies := strings.Count(out, ">>> , there was a little girl named\n")
	if replies != 2 || !strings.Contains(out, "(conversation cleared)") {
		t.Errorf("chat transcript:\n%s", out)
	}
	// glassbox run applies the template too, unless --raw
	templ, _, err := execute(t, newRunCmd(), "", "-m", model, "--temperature", "0", "-n", "9", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := execute(t, newRunCmd(), "", "-m", model, "--temperature", "0", "-n", "9", "--raw", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	if templ != raw { // this template adds nothing but BOS, so both give the same text
		t.Errorf("templated %q, raw %q", templ, raw)
	}
	// a model without a template cannot chat
	_, _, err = execute(t, newChatCmd(), "", "-m", fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	if err == nil || !strings.Contains(err.Error(), "no chat template") {
		t.Errorf("chat without template: %v", err)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
