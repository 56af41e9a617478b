package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestGenerationPrologue: run, chat, dissect and explain start the same way —
// their own flags, then the prompt, then the sampler, then the model — so a
// mistake in the command line is reported before any model is looked for
// (here -m names no file, which would be the error of a later step).
func TestGenerationPrologue(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.gguf")
	commands := map[string]func() *cobra.Command{"run": newRunCmd, "chat": newChatCmd, "dissect": newDissectCmd, "explain": newExplainCmd}
	for _, tt := range []struct {
		cmd   string
		args  []string
		stdin string
		want  string
	}{
		{"run", []string{"-n", "-2", "hi"}, "", "-n must be positive or -1"},
		{"run", []string{"--logprobs", "21", "--temperature", "-1", "hi"}, "", "--logprobs must be between 0 and 20"},
		{"run", []string{"--temperature", "-1"}, "", "no prompt"},
		{"run", []string{"--temperature", "-1", "hi"}, "", "temperature must be"},
		{"run", []string{"hi"}, "", "missing.gguf"},
		{"chat", []string{"-n", "0"}, "", "-n must be positive"},
		{"chat", []string{"--top-p", "2"}, "", "top_p must be"},
		{"chat", nil, "", "missing.gguf"},
		{"dissect", []string{"-n", "0", "hi"}, "", "-n must be positive"},
		{"dissect", []string{"--steps", "-1", "hi"}, "", "--steps must be"},
		{"dissect", []string{"--color", "sometimes", "hi"}, "", "--color must be"},
		{"dissect", []string{"--layers", "x", "--top-k", "-1"}, "", "--layers"},
		{"dissect", []string{"--top-k", "-1"}, "", "no prompt"},
		{"dissect", []string{"--top-k", "-1", "hi"}, "", "top_k must be"},
		{"explain", []string{"-n", "0"}, "", "-n must be positive"},
		{"explain", []string{"--lang", "de", "--top", "0"}, "", "--lang must be fr or en"},
		{"explain", []string{"--top", "0"}, "", "--top must be between"},
		{"explain", []string{"--min-p", "2"}, "", "min_p must be"},
		{"explain", nil, "", "missing.gguf"},
	} {
		t.Run(tt.cmd+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := execute(t, commands[tt.cmd](), tt.stdin, append([]string{"-m", missing}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestSharedModelFlags: every command that runs a model, serve included,
// has the same runtime flags with the same defaults; the generation commands
// also share the model, tokenizer and sampling flags.
func TestSharedModelFlags(t *testing.T) {
	runtime := []string{"threads", "ctx", "kv-f32", "cache-type-k", "cache-type-v"}
	model := []string{"model", "tokenizer", "temperature", "top-k", "top-p", "min-p", "repeat-penalty", "repeat-last-n",
		"presence-penalty", "frequency-penalty", "seed", "n-predict"}
	ref := newRunCmd().Flags()
	for name, c := range map[string]*cobra.Command{"chat": newChatCmd(), "dissect": newDissectCmd(), "explain": newExplainCmd(), "serve": newServeCmd()} {
		names := runtime
		if name != "serve" {
			names = append(append([]string{}, runtime...), model...)
		}
		for _, f := range names {
			got, want := c.Flags().Lookup(f), ref.Lookup(f)
			switch {
			case got == nil:
				t.Errorf("%s has no --%s", name, f)
			case got.Shorthand != want.Shorthand || got.Value.Type() != want.Value.Type():
				t.Errorf("%s --%s: -%s %s, run has -%s %s", name, f, got.Shorthand, got.Value.Type(), want.Shorthand, want.Value.Type())
			case got.DefValue != want.DefValue && f != "temperature" && f != "n-predict":
				t.Errorf("%s --%s: default %q, run's is %q", name, f, got.DefValue, want.DefValue)
			}
		}
	}
	// the bounds of the runtime flags are the same for serve
	for _, args := range [][]string{{"-t", "-1"}, {"-c", "-5"}, {"-t", "5000"}} {
		_, _, err := execute(t, newServeCmd(), "", args...)
		if err == nil || !strings.Contains(err.Error(), "expected a whole number") {
			t.Errorf("serve %v: %v, want the bound of the flag", args, err)
		}
	}
}
