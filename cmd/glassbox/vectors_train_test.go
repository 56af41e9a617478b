package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glassbox/internal/fixtures"
	"glassbox/vectors"
)

// runVectorsCLI runs "glassbox vectors ARGS..." and returns stdout.
func runVectorsCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newVectorsCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// TestVectorsTrainCommand trains on the French fixture through the CLI: the
// text file has the header and one line per word, accented and elided words
// included; 1 and 2 threads write the same bytes, and so does the binary
// format's values.
func TestVectorsTrainCommand(t *testing.T) {
	text := fixtures.Path(t, "text", "monte-cristo-t1-ch1-fr.txt")
	dir := t.TempDir()
	files := map[string]string{}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"t1.txt", []string{"-t", "1"}},
		{"t2.txt", []string{"-t", "2"}},
		{"t2.bin", []string{"-t", "2", "--binary"}},
		{"t3.txt", []string{"-t", "3"}},
		{"t4.txt", []string{"-t", "4"}},
		{"h1.txt", []string{"-t", "1", "--hogwild"}},
		{"h1b.txt", []string{"-t", "1", "--hogwild"}},
	} {
		out := filepath.Join(dir, tt.name)
		args := append([]string{"train", "--lower", "--dim", "12", "--epochs", "2", "--min-count", "3", "--seed", "7", "-o", out, text}, tt.args...)
		stdout, err := runVectorsCLI(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stdout, "trained skip-gram: ") || !strings.Contains(stdout, "loss per epoch") {
			t.Errorf("summary %q", stdout)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		files[tt.name] = string(b)
	}
	for _, f := range []string{"t2.txt", "t3.txt", "t4.txt"} {
		if files["t1.txt"] != files[f] {
			t.Errorf("1 thread and %s: different vectors", f)
		}
	}
	if files["h1.txt"] != files["h1b.txt"] {
		t.Error("two --hogwild runs with one thread wrote different vectors")
	}
	if files["h1.txt"] == files["t1.txt"] {
		t.Error("--hogwild wrote the reproducible schedule's vectors")
	}
	lines := strings.Split(strings.TrimSuffix(files["t1.txt"], "\n"), "\n")
	var n, dim int
	if _, err := fmt.Sscan(lines[0], &n, &dim); err != nil || dim != 12 || n != len(lines)-1 || n < 50 {
		t.Fatalf("header %q for %d lines", lines[0], len(lines))
	}
	words := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 13 {
			t.Fatalf("line %q: %d fields, want 13", l, len(f))
		}
		words[f[0]] = f[1:]
	}
	for _, w := range []string{"l'", "d'", "été", "qu'", "le"} {
		if words[w] == nil {
			t.Errorf("word %q missing", w)
		}
	}
	// the binary file holds the same float32 values
	bin := files["t2.bin"]
	head, rest, _ := strings.Cut(bin, "\n")
	if head != lines[0] {
		t.Fatalf("binary header %q", head)
	}
	for _, l := range lines[1:3] {
		f := strings.Fields(l)
		if !strings.HasPrefix(rest, f[0]+" ") {
			t.Fatalf("binary row does not start with %q", f[0])
		}
		raw := rest[len(f[0])+1:]
		for j := range 12 {
			x := math.Float32frombits(binary.LittleEndian.Uint32([]byte(raw[4*j:])))
			var want float32
			fmt.Sscan(f[j+1], &want)
			if x != want {
				t.Errorf("%s[%d]: binary %v, text %v", f[0], j, x, want)
			}
		}
		rest = raw[48+1:]
	}
}

// TestVectorsTrainTokenizer trains over a tokenizer's pieces.
func TestVectorsTrainTokenizer(t *testing.T) {
	text := fixtures.Path(t, "text", "monte-cristo-t1-ch1-fr.txt")
	tok := fixtures.Path(t, "vocab", "ggml-vocab-llama-spm.gguf")
	out := filepath.Join(t.TempDir(), "v.txt")
	if _, err := runVectorsCLI(t, "train", "--tokenizer", tok, "--dim", "8", "--epochs", "1", "-o", out, text); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "\n▁le ") {
		t.Errorf("no ▁le piece among the vectors: %.200q", b)
	}
}

func TestVectorsTrainErrors(t *testing.T) {
	text := fixtures.Path(t, "text", "monte-cristo-t1-ch1-fr.txt")
	out := filepath.Join(t.TempDir(), "v.txt")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"train", text}, "-o OUT"},
		{[]string{"train", "-o", out}, "arg"},
		{[]string{"train", "-o", out, "--negative", "0", text}, "nothing to train"},
		{[]string{"train", "-o", out, "--min-count", "100000", text}, "no word occurs"},
		{[]string{"train", "-o", out, "--dim", "-3", text}, "dimension"},
		{[]string{"train", "-o", out, filepath.Join(t.TempDir(), "missing.txt")}, "no such file"},
		{[]string{"train", "-o", out, "--tokenizer", text, "-m", "x", text}, "not both"},
	} {
		_, err := runVectorsCLI(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: want an error about %q, got %v", tt.args, tt.want, err)
		}
	}
}

// TestDrawVectorsProgress: the bar shows the epoch, words/s, the learning
// rate and the epoch's loss, and an epoch's end leaves a line of its own.
func TestDrawVectorsProgress(t *testing.T) {
	var b bytes.Buffer
	p := vectors.Progress{Epoch: 2, Epochs: 5, Words: 500, Total: 1000, Alpha: 0.0125, Loss: 2.5, Elapsed: time.Second}
	drawVectorsProgress(&b, p)
	if got := b.String(); !strings.Contains(got, "[============............] epoch 2/5 | 500 words/s | alpha 0.01250 | loss 2.5000 | ETA 1s") || strings.Contains(got, "\n") {
		t.Errorf("bar %q", got)
	}
	b.Reset()
	p.EpochDone = true
	drawVectorsProgress(&b, p)
	if got := b.String(); !strings.HasSuffix(got, "\r\033[Kepoch 2/5: loss 2.5000, 500 words/s\n") {
		t.Errorf("end of epoch %q", got)
	}
}

// TestVectorsTrainPhrases: --phrases joins the French text's frequent
// bigrams ("monsieur morrel") into one word.
func TestVectorsTrainPhrases(t *testing.T) {
	text := fixtures.Path(t, "text", "monte-cristo-t1-ch1-fr.txt")
	out := filepath.Join(t.TempDir(), "v.txt")
	if _, err := runVectorsCLI(t, "train", "--phrases", "--lower", "--min-count", "3", "--dim", "8", "--epochs", "1", "-o", out, text); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	for _, w := range []string{"\nmonsieur_morrel ", "\ncapitaine_leclère "} {
		if !strings.Contains(string(b), w) {
			t.Errorf("no %q among the vectors", strings.TrimSpace(w))
		}
	}
}
