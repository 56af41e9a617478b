package main

import (
	"encoding/json"
	"strings"
	"testing"

	"glassbox/eval"
	"glassbox/internal/fixtures"
)

func TestDiffCommand(t *testing.T) {
	f32 := fixtures.Path(t, "gguf", "stories260K-h192-f32.gguf")
	q4 := fixtures.Path(t, "gguf", "stories260K-h192-Q4_0.gguf")

	// a model against itself: no change anywhere
	out, _, err := execute(t, newDiffCmd(), "", "-m", f32, "-m", f32, "-n", "8", "--json", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	var self eval.DiffResult
	if err := json.Unmarshal([]byte(out), &self); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(self.Tokens) != 8 || self.MeanKL != 0 || self.ArgmaxDiffers != 0 || len(self.Highlighted) != 0 {
		t.Errorf("self diff: %d tokens, mean KL %g, argmax differs %d, highlighted %v", len(self.Tokens), self.MeanKL, self.ArgmaxDiffers, self.Highlighted)
	}

	// f32 against Q4_0: the table, its summary and the highlighted shifts
	out, _, err = execute(t, newDiffCmd(), "", "-m", f32, "-m", q4, "-n", "16", "--color", "never", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"base  stories260K-h192-f32\n", "tuned stories260K-h192-Q4_0\n", "text written by the tuned model (greedy), 16 tokens after a prompt of 5 tokens",
		"KL(t‖b)", "mean KL(tuned‖base) 0.0", "biggest shifts: #", "◀"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colours with --color never")
	}
	if lines := strings.Count(out, "\n"); lines < 16+8 {
		t.Errorf("%d lines:\n%s", lines, out)
	}
	colored, _, err := execute(t, newDiffCmd(), "", "-m", f32, "-m", q4, "-n", "16", "--color", "always", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colored, "\x1b[31;1m") {
		t.Errorf("no highlighted shift in red bold:\n%q", colored)
	}
}

func TestDiffCommandErrors(t *testing.T) {
	f32 := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	big := fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"x"}, "diff needs two models"},
		{"three models", []string{"-m", f32, "-m", f32, "-m", f32, "x"}, "diff needs two models"},
		{"tokenizers", []string{"-m", f32, "-m", big, "x"}, "must share a tokenizer"},
		{"generator", []string{"-m", f32, "-m", f32, "--generator", "other", "x"}, "--generator must be tuned or base"},
		{"top", []string{"-m", f32, "-m", f32, "--top", "0", "x"}, "--top must be between 1 and 100"},
		{"n", []string{"-m", f32, "-m", f32, "-n", "0", "x"}, "-n must be positive"},
		{"no prompt", []string{"-m", f32, "-m", f32}, "no prompt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := execute(t, newDiffCmd(), "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
