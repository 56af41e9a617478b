package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
)

// TestVectorsPlot: a model's token embeddings plotted for a word and its
// neighbours, and for chosen words ("he" is a token, "she" only as "▁she"),
// to a file and to standard output; then the argument errors.
func TestVectorsPlot(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	dir := t.TempDir()
	svgText := func(t *testing.T, svg string) string {
		t.Helper()
		dec := xml.NewDecoder(strings.NewReader(svg))
		var all strings.Builder
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				return all.String()
			}
			if err != nil {
				t.Fatalf("not well-formed SVG: %v", err)
			}
			if cd, ok := tok.(xml.CharData); ok {
				all.Write(cd)
				all.WriteString("|")
			}
		}
	}
	out := filepath.Join(dir, "he.svg")
	if _, stderr, err := execute(t, newVectorsCmd(), "", "plot", "-m", model, "--neighbors", "he", "-n", "7", "-o", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgText(t, string(b))
	for _, want := range []string{`"he" and its 7 nearest neighbours (cosine)|`, "|▁he|", "PC1 ("} {
		if !strings.Contains(texts, want) {
			t.Errorf("no %q in the picture's texts %q", want, texts)
		}
	}
	if got := strings.Count(string(b), "<circle"); got != 8 {
		t.Errorf("%d points, want 8 (the word and 7 neighbours)", got)
	}
	stdout, stderr, err := execute(t, newVectorsCmd(), "", "plot", "-m", model, "-o", "-", "he", "she", "day")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if texts := svgText(t, stdout); !strings.Contains(texts, "|▁she|") || strings.Count(stdout, "<circle") != 3 {
		t.Errorf("chosen words: texts %q", texts)
	}

	stdout, stderr, err = execute(t, newVectorsCmd(), "", "plot", "-m", model, "--method", "tsne", "--perplexity", "5", "-o", "-", "--neighbors", "she")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if texts := svgText(t, stdout); !strings.Contains(texts, "|t-SNE 1 (") || strings.Count(stdout, "<circle") != 16 {
		t.Errorf("t-SNE plot: texts %q", texts)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{"-m", model, "he", "she"}, "-o OUT.svg is required"},
		{"method", []string{"-m", model, "--method", "umap", "-o", "-", "he", "she"}, `--method "umap": expected pca or tsne`},
		{"one word", []string{"-m", model, "-o", "-", "he"}, "at least two WORDs"},
		{"bad n", []string{"-m", model, "--neighbors", "he", "-n", "0", "-o", "-"}, "-n 0: expected 1 to 499"},
		{"unknown", []string{"-m", model, "--neighbors", "zzzqqq", "-o", filepath.Join(dir, "x.svg")}, `"zzzqqq" is not a token of the model, nor with a word-start marker (▁zzzqqq, Ġzzzqqq)`},
		{"both sources", []string{"-m", model, "--vectors", "x.txt", "-o", "-", "a", "b"}, "not both"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := execute(t, newVectorsCmd(), "", append([]string{"plot"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q\n%s", err, tt.want, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.svg")); err == nil {
		t.Error("a failed plot wrote a file")
	}
}

// TestVectorsPlotFile: word2vec files, text and binary, plotted with their
// words as written (accents kept, escaped where XML needs it).
func TestVectorsPlotFile(t *testing.T) {
	for _, binary := range []bool{false, true} {
		p := frenchFile(t, "fr", binary)
		stdout, stderr, err := execute(t, newVectorsCmd(), "", "plot", "--vectors", p, "--neighbors", "roi", "-n", "3", "-o", "-")
		if err != nil {
			t.Fatalf("binary %v: %v\n%s", binary, err, stderr)
		}
		for _, want := range []string{">roi</text>", ">homme</text>", ">reine</text>", ">femme</text>", "&#34;roi&#34; and its 3 nearest neighbours"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("binary %v: no %q in\n%s", binary, want, stdout)
			}
		}
		if strings.Contains(stdout, ">été<") {
			t.Errorf("été is not among roi's 3 nearest, yet plotted")
		}
		_, _, err = execute(t, newVectorsCmd(), "", "plot", "--vectors", p, "-o", "-", "roi", "reina")
		if err == nil || !strings.Contains(err.Error(), `"reina" is not in the vocabulary of `+p) {
			t.Errorf("unknown word: %v", err)
		}
	}
	_, _, err := execute(t, newVectorsCmd(), "", "plot", "--vectors", "/nonexistent.bin", "-o", "-", "a", "b")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent.bin") {
		t.Errorf("missing file: %v", err)
	}
}
