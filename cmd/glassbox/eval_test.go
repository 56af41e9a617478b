package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/eval"
	"glassbox/internal/fixtures"
)

// shakespeareFile writes the first 20 kB of tinyshakespeare.txt (the text of
// the llama-perplexity references) to a temporary file.
func shakespeareFile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, "text", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ts20k.txt")
	if err := os.WriteFile(path, data[:20000], 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEvalPerplexityCommand(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GLASSBOX_HOME", home)
	text := shakespeareFile(t)
	f32 := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	out, _, err := execute(t, newRootCmd(), "", "eval", "perplexity", "-m", f32, "--file", text, "--ctx", "128", "-t", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Perplexity    float64  `json:"perplexity"`
		Chunks        int      `json:"chunks"`
		Tokens        int      `json:"tokens"`
		KLDivergence  *float64 `json:"kl_divergence"`
		Top1Agreement *float64 `json:"top1_agreement"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// llama.cpp: Final estimate: PPL = 97.0465 +/- 4.40916 over 96 chunks
	if math.Abs(got.Perplexity-97.0465) > 0.01 || got.Chunks != 96 || got.Tokens != 12384 || got.KLDivergence != nil {
		t.Errorf("got %+v, want llama.cpp's 97.0465 over 96 chunks", got)
	}
	// with a base model, --chunks and the text output
	q := fixtures.Path(t, "gguf", "random-llama-d256-Q8_0.gguf")
	base := fixtures.Path(t, "gguf", "random-llama-d256-F16.gguf")
	out, _, err = execute(t, newRootCmd(), "", "eval", "perplexity", "-m", q, "--kl-base", base, "--file", text, "--ctx", "128", "--chunks", "2", "-t", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	got.KLDivergence, got.Top1Agreement = nil, nil
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Chunks != 2 || got.KLDivergence == nil || *got.KLDivergence <= 0 || got.Top1Agreement == nil || *got.Top1Agreement <= 0 {
		t.Errorf("with --kl-base: %s", out)
	}
	out, stderr, err := execute(t, newRootCmd(), "", "eval", "perplexity", "-m", f32, "--file", text, "--ctx", "128", "--chunks", "1", "--no-save")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "perplexity ") || !strings.Contains(out, "over 1 chunks") || strings.Contains(stderr, "record saved") {
		t.Errorf("text output %q, stderr %q", out, stderr)
	}
	recs, err := eval.List(home, "perplexity")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (the --no-save run not saved)", len(recs))
	}
	r := recs[0]
	if r.Model.SHA256 == "" || r.Model.Path != f32 || r.Settings["ctx"] != float64(128) || r.Results["perplexity"] == nil || r.Machine.Cores == 0 {
		t.Errorf("record %+v", r)
	}
	if recs[1].Settings["kl_base"] != base || recs[1].Results["kl_divergence"] == nil {
		t.Errorf("KL record %+v", recs[1])
	}
}

func TestEvalChoiceCommand(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GLASSBOX_HOME", home)
	f32 := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	out, _, err := execute(t, newRootCmd(), "", "eval", "choice", "-m", f32, "--file", "../../eval/testdata/choice-en-fr.jsonl", "-t", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got eval.ChoiceResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Total != 6 || len(got.Items) != 6 || got.Acc != float64(got.Correct)/6 {
		t.Errorf("got %+v", got)
	}
	recs, err := eval.List(home, "choice")
	if err != nil || len(recs) != 1 || recs[0].Results["acc"] == nil || recs[0].Results["items"] != nil {
		t.Errorf("records %+v, %v", recs, err)
	}
}

func TestEvalErrors(t *testing.T) {
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	f32 := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"context": "a", "choices": ["b"], "answer": 0}`), 0o644)
	short := filepath.Join(t.TempDir(), "short.txt")
	os.WriteFile(short, []byte("Too short."), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"perplexity without --file", []string{"eval", "perplexity", "-m", f32}, "--file is required"},
		{"choice without --file", []string{"eval", "choice", "-m", f32}, "--file is required"},
		{"missing text", []string{"eval", "perplexity", "-m", f32, "--file", "/nonexistent.txt"}, "nonexistent"},
		{"short text", []string{"eval", "perplexity", "-m", f32, "--file", short, "--ctx", "128"}, "at least 2×128"},
		{"bad ctx", []string{"eval", "perplexity", "-m", f32, "--file", short, "--ctx", "-3"}, "ctx"},
		{"bad jsonl", []string{"eval", "choice", "-m", f32, "--file", bad}, "line 1"},
		{"other vocabulary", []string{"eval", "perplexity", "-m", f32, "--file", short, "--kl-base", fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf"), "--ctx", "4"}, "vocabulary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := execute(t, newRootCmd(), "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
