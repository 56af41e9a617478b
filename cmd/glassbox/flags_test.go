package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"glassbox/models"
)

// TestFlagNames: every command that runs a model names the same things the
// same way: -t/--threads, -c/--ctx, -n/--n-predict; the former --n still
// works, hidden.
func TestFlagNames(t *testing.T) {
	root := newRootCmd()
	find := func(path ...string) *cobra.Command {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, name := range []string{"run", "chat", "dissect", "explain"} {
		c := find(name)
		for long, short := range map[string]string{"threads": "t", "ctx": "c", "n-predict": "n", "model": "m"} {
			f := c.Flags().Lookup(long)
			if f == nil || f.Shorthand != short {
				t.Errorf("%s: --%s should exist with shorthand -%s (got %+v)", name, long, short, f)
			}
		}
		if f := c.Flags().Lookup("n"); f == nil || !f.Hidden || f.Deprecated == "" {
			t.Errorf("%s: the former --n should remain as a hidden, deprecated alias", name)
		}
	}
	for _, path := range [][]string{{"train"}, {"train", "eval"}, {"bench"}} {
		if f := find(path...).Flags().Lookup("threads"); f == nil || f.Shorthand != "t" {
			t.Errorf("%v: want -t/--threads", path)
		}
	}
	b := find("bench")
	if b.Flags().ShorthandLookup("p") == nil || b.Flags().ShorthandLookup("n") == nil {
		t.Error("bench: want -p (prompt tokens) and -n (generated tokens)")
	}
	// --n, -n and --n-predict set the same value.
	for _, args := range [][]string{{"--n", "1"}, {"-n", "1"}, {"--n-predict", "1"}} {
		out, _, err := execute(t, newRootCmd(), "", append([]string{"run", "--raw", "--temperature", "0", "--json"}, append(args, "func")...)...)
		// (cobra writes the deprecation notice to the command's output, which
		// is stderr unless a test sets it)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var res struct{ IDs []int }
		if err != nil || json.Unmarshal([]byte(lines[len(lines)-1]), &res) != nil || len(res.IDs) != 1 {
			t.Errorf("run %v: %v, %s", args, err, out)
		}
	}
}

// TestFlagValues: nonsense values are refused with a message saying what is
// allowed, before any model is loaded.
func TestFlagValues(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "-t", "-1", "x"}, `invalid argument "-1" for "-t, --threads" flag: expected a whole number from 0 (all cores) to 1024`},
		{[]string{"run", "--threads", "100000", "x"}, "expected a whole number from 0 (all cores) to 1024"},
		{[]string{"dissect", "-t", "two", "x"}, "expected a whole number from 0 (all cores) to 1024"},
		{[]string{"run", "-c", "-5", "x"}, `invalid argument "-5" for "-c, --ctx" flag: expected a whole number of tokens, 0 (the model's) or more`},
		{[]string{"chat", "--ctx", "-1"}, "0 (the model's) or more"},
		{[]string{"run", "-n", "-3", "x"}, "-n must be positive or -1, got -3"},
		{[]string{"run", "-n", "0", "x"}, "-n must be positive or -1, got 0"},
		{[]string{"chat", "-n", "0"}, "-n must be positive, got 0"},
		{[]string{"dissect", "-n", "-1", "x"}, "-n must be positive, got -1"},
		{[]string{"explain", "-n", "0"}, "-n must be positive, got 0"},
		{[]string{"dissect", "--steps", "-1", "x"}, "--steps must be 0 (all) or more, got -1"},
		{[]string{"run", "--temperature", "-0.5", "x"}, "temperature must be a finite number >= 0"},
		{[]string{"run", "--top-p", "1.5", "x"}, "top_p must be in (0, 1]"},
		{[]string{"run", "--top-p", "-0.1", "x"}, "top_p must be in (0, 1]"},
		{[]string{"run", "--min-p", "2", "x"}, "min_p must be in [0, 1]"},
		{[]string{"run", "--top-k", "-1", "x"}, "top_k must be >= 0"},
		{[]string{"run", "--repeat-penalty", "0", "x"}, "repeat penalty must be a finite number > 0"},
		{[]string{"run", "--logprobs", "-1", "x"}, "--logprobs must be between 0 and 20"},
		{[]string{"train", "--threads", "-2"}, "expected a whole number from 0 (all cores) to 1024"},
		{[]string{"train", "eval", "--seqs", "0"}, "expected a whole number of windows, 1 or more"},
		{[]string{"train", "eval", "-t", "-1"}, "expected a whole number from 0 (all cores) to 1024"},
		{[]string{"train", "tokenizer", "--held-out-permille", "1001"}, "expected a whole number of ‰ from 0 to 1000"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := execute(t, newRootCmd(), "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestShowJSON: show --json uses snake_case keys, like list --json.
func TestShowJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "default.gguf")
	if err := os.WriteFile(path, models.Default, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, newRootCmd(), "", "show", "--json", path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	for k := range m {
		if !snake.MatchString(k) {
			t.Errorf("key %q is not snake_case", k)
		}
	}
	for _, k := range []string{"path", "size", "architecture", "quant", "parameters", "context_length", "embedding_length", "layers", "heads", "kv_heads", "vocab_size", "tensors"} {
		if _, ok := m[k]; !ok {
			t.Errorf("show --json lacks %q:\n%s", k, out)
		}
	}
	if m["path"] != path || m["architecture"] != "llama" || m["size"] != float64(len(models.Default)) {
		t.Errorf("show --json values: %s", out)
	}
}
