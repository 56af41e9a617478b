package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runTrainCLI runs "glassbox train ARGS..." and returns stdout.
func runTrainCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newTrainCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

const tinyCorpus = "../../train/testdata/corpus/**/*.go"

var tinyShape = []string{"--vocab", "300", "--dim", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1",
	"--ffn", "64", "--context", "16", "--steps", "4", "--batch", "2", "--warmup", "1", "--held-out-permille", "100", "-q"}

// TestTrainCommand trains a tiny model end to end through the CLI, then
// exports the checkpoint again and evaluates it.
func TestTrainCommand(t *testing.T) {
	dir := t.TempDir()
	out, err := runTrainCLI(t, append([]string{"--data", tinyCorpus, "--out", dir, "--name", "tiny"}, tinyShape...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"recipe.json", "manifest.txt", "tokenizer.json", "checkpoint.bin", "loss.csv", "loss.svg",
		"tiny.f32.gguf", "tiny.f16.gguf", "tiny.q8_0.gguf", "model.safetensors", "config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing output %s: %v", f, err)
		}
	}
	if n := strings.Count(out, "\n"); n != 6 || !strings.HasPrefix(out, "trained tiny: 4 steps, 128 tokens in ") {
		t.Errorf("expected the summary and 5 checksum lines, got %d lines:\n%s", n, out)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "loss.csv"))
	if lines := strings.Count(string(csv), "\n"); lines != 5 {
		t.Errorf("loss.csv has %d lines, want header + 4 steps:\n%s", lines, csv)
	}
	// Exporting the checkpoint again gives the same F32 file.
	first, _ := os.ReadFile(filepath.Join(dir, "tiny.f32.gguf"))
	if _, err := runTrainCLI(t, "export", "--out", dir, "--formats", "f32"); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "tiny.f32.gguf"))
	if !bytes.Equal(first, again) {
		t.Errorf("re-exported GGUF differs from the one written at the end of training")
	}
	out, err = runTrainCLI(t, "eval", "--out", dir, "--seqs", "2", "--cases", "3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "perplexity") || !strings.Contains(out, "completion: ") {
		t.Errorf("eval output lacks its summary:\n%s", out)
	}
	// Resuming a finished run does nothing more and keeps the weights.
	if _, err := runTrainCLI(t, append([]string{"--data", tinyCorpus, "--out", dir, "--name", "tiny", "--resume", "--export", "f32"}, tinyShape...)...); err != nil {
		t.Fatal(err)
	}
	resumed, _ := os.ReadFile(filepath.Join(dir, "tiny.f32.gguf"))
	if !bytes.Equal(first, resumed) {
		t.Errorf("resuming a finished run changed the weights")
	}
}

func TestTrainTokenizerCommand(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tok.json")
	out, err := runTrainCLI(t, "tokenizer", "--data", tinyCorpus, "--vocab", "300", "-o", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "300 tokens") {
		t.Errorf("unexpected output %q", out)
	}
	if data, err := os.ReadFile(p); err != nil || !bytes.Contains(data, []byte(`"merges"`)) {
		t.Errorf("tokenizer.json not written or without merges: %v", err)
	}
}

func TestTrainCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"steps": 10, "bogus": 1}`), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no data", []string{"--steps", "1"}, "no training data"},
		{"unknown recipe field", []string{"--recipe", bad}, "unknown field"},
		{"missing recipe", []string{"--recipe", "/nonexistent/recipe.json"}, "reading recipe"},
		{"heads do not divide", []string{"--data", tinyCorpus, "--dim", "30", "--heads", "4"}, "must divide"},
		{"vocab too small", []string{"--data", tinyCorpus, "--vocab", "100"}, "below 258"},
		{"no matching files", []string{"--data", "/nonexistent/**/*.go", "-q"}, "no such file"},
		{"export without a run", []string{"export", "--out", "/nonexistent"}, "reading recipe"},
		{"bad export format", []string{"--data", tinyCorpus, "--export", "png", "--out", t.TempDir()}, "unknown export format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runTrainCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestTrainOutputNotTerminal: when stderr is not a terminal (a log file, CI),
// train writes log lines without a progress bar, and always ends with a
// summary holding the final losses on stdout.
func TestTrainOutputNotTerminal(t *testing.T) {
	dir := t.TempDir()
	shape := slices.DeleteFunc(slices.Clone(tinyShape), func(s string) bool { return s == "-q" })
	out, stderr, err := execute(t, newTrainCmd(), "", append([]string{"--data", tinyCorpus, "--out", dir, "--name", "tiny", "--export", ""}, shape...)...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "ETA") {
		t.Errorf("progress bar written to a non-terminal:\n%q", stderr)
	}
	if !strings.Contains(stderr, "step 4 lr") || !strings.Contains(stderr, "checkpoint at step 4") {
		t.Errorf("stderr lacks the log lines:\n%s", stderr)
	}
	re := regexp.MustCompile(`^trained tiny: 4 steps, 128 tokens in [0-9.]+m?s; final loss [0-9]+\.[0-9]{4} \(training\), held-out loss [0-9]+\.[0-9]{4} at step 4; curves in .*loss.csv\n$`)
	if !re.MatchString(out) {
		t.Errorf("stdout is not the summary:\n%q", out)
	}
	// -q: nothing on stderr, the summary still on stdout.
	out, stderr, err = execute(t, newTrainCmd(), "", append([]string{"--data", tinyCorpus, "--out", t.TempDir(), "--name", "tiny", "--export", ""}, tinyShape...)...)
	if err != nil || stderr != "" || !re.MatchString(out) {
		t.Errorf("with -q: err %v, stderr %q, stdout %q", err, stderr, out)
	}
}
