package models

import (
	"bytes"
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"glassbox"
	"glassbox/gguf"
)

// TestEmbeddedHash checks every embedded model against its SHA-256 and the
// size budget, and that a changed byte is caught.
func TestEmbeddedHash(t *testing.T) {
	if err := Verify(); err != nil {
		t.Fatal(err)
	}
	for _, m := range Embedded() {
		t.Run(m.Name, func(t *testing.T) {
			if err := m.Verify(); err != nil {
				t.Fatal(err)
			}
			if len(m.Data) > MaxBytes {
				t.Errorf("%d bytes, beyond the budget of %d", len(m.Data), MaxBytes)
			}
			bad := m
			bad.Data = bytes.Clone(m.Data)
			bad.Data[len(bad.Data)/2] ^= 1
			if err := bad.Verify(); err == nil || !strings.Contains(err.Error(), "expected "+m.SHA256) {
				t.Errorf("a flipped bit: Verify = %v", err)
			}
		})
	}
}

// TestEmbeddedList: the default model first and only it marked default,
// names unique, each model with its card beside this file.
func TestEmbeddedList(t *testing.T) {
	ms := Embedded()
	if len(ms) != 2 || ms[0].File != DefaultName || ms[0].SHA256 != DefaultSHA256 || !ms[0].Default ||
		ms[1].File != GRPOName || ms[1].SHA256 != GRPOSHA256 || ms[1].Default {
		t.Fatalf("Embedded() = %v", ms)
	}
	seen := map[string]string{}
	for _, m := range ms {
		if !bytes.Equal(m.Data, map[string][]byte{DefaultName: Default, GRPOName: GRPO}[m.File]) {
			t.Errorf("%s: Data is not the embedded file", m.Name)
		}
		for _, n := range m.Names() {
			if prev, dup := seen[strings.ToLower(n)]; dup {
				t.Errorf("name %q of %s is also one of %s", n, m.Name, prev)
			}
			seen[strings.ToLower(n)] = m.Name
		}
		card, err := os.ReadFile(m.Card)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(card), m.SHA256) {
			t.Errorf("%s does not give the SHA-256 of %s", m.Card, m.File)
		}
	}
}

// TestLookup: the names -m accepts for the embedded models.
func TestLookup(t *testing.T) {
	cases := []struct {
		name string
		want string // file name; "" for none
	}{
		{"", DefaultName},
		{"glassbox-go-1m", DefaultName},
		{"glassbox-go-1m.f32", DefaultName},
		{"glassbox-go-1m.f32.gguf", DefaultName},
		{"glassbox-go-1m-grpo", GRPOName},
		{"Glassbox-Go-1M-GRPO", GRPOName},
		{"glassbox-go-1m-grpo.f32", GRPOName},
		{"glassbox-go-1m-grpo.f32.gguf", GRPOName},
		{"glassbox-go-1m-grpo.gguf", ""},
		{"glassbox-go", ""},
		{"grpo", ""},
		{"./glassbox-go-1m-grpo.f32.gguf", ""},
		{"hf.co/glassbox/glassbox-go-1m-grpo", ""},
	}
	for _, c := range cases {
		m, ok := Lookup(c.name)
		if ok != (c.want != "") || m.File != c.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", c.name, m.File, ok, c.want)
		}
	}
}

// TestEmbeddedModelGenerates writes each embedded model out, opens it with
// the SDK, by file and from memory, and generates Go-looking text greedily,
// with no network.
func TestEmbeddedModelGenerates(t *testing.T) {
	for _, e := range Embedded() {
		t.Run(e.Name, func(t *testing.T) {
			f, err := gguf.Parse(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			if arch := f.Architecture(); arch != "llama" {
				t.Fatalf("architecture %q, want llama", arch)
			}
			if name, _ := f.String("general.name"); name != e.Name {
				t.Errorf("general.name %q, want %q", name, e.Name)
			}
			dir := t.TempDir()
			p, err := e.PathIn(dir)
			if err != nil {
				t.Fatal(err)
			}
			if p2, err := e.PathIn(dir); err != nil || p2 != p {
				t.Fatalf("second PathIn = %q, %v; want the same file %q", p2, err, p)
			}
			if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, e.Data) {
				t.Fatalf("the file written holds other bytes (%v)", err)
			}
			fromFile, err := glassbox.Open(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer fromFile.Close()
			fromMemory, err := glassbox.OpenBytes(e.File, e.Data, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer fromMemory.Close()
			if fromMemory.Name() != strings.TrimSuffix(e.File, ".gguf") {
				t.Errorf("Name() = %q", fromMemory.Name())
			}
			var texts []string
			for _, m := range []*glassbox.Model{fromFile, fromMemory} {
				res, err := m.Generate(context.Background(), "func (b *Buffer) Len() int {", glassbox.GenerateOptions{MaxTokens: 24})
				if err != nil {
					t.Fatal(err)
				}
				texts = append(texts, res.Text)
			}
			t.Logf("completion: %q", texts[0])
			if strings.TrimSpace(texts[0]) == "" {
				t.Fatalf("%s generated nothing", e.Name)
			}
			if texts[0] != texts[1] {
				t.Errorf("from the file %q, from memory %q", texts[0], texts[1])
			}
		})
	}
}

// TestAlignedDiffersFromDefault: the aligned model shares the default
// model's tokenizer (so that glassbox diff compares them) and moves its
// next-token distribution: on a function with named results, after
// "\n\treturn" it prefers ending the line (a bare return) where the default
// model does not (docs/alignment.md, "What run D changed").
func TestAlignedDiffersFromDefault(t *testing.T) {
	base, err := glassbox.OpenBytes(DefaultName, Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	tuned, err := glassbox.OpenBytes(GRPOName, GRPO, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tuned.Close()
	bt, tt := base.Tokenizer(), tuned.Tokenizer()
	if bt.VocabSize() != tt.VocabSize() {
		t.Fatalf("vocabularies of %d and %d tokens", bt.VocabSize(), tt.VocabSize())
	}
	for id := range bt.VocabSize() {
		if bt.Piece(id) != tt.Piece(id) {
			t.Fatalf("token %d is %q and %q", id, bt.Piece(id), tt.Piece(id))
		}
	}
	// the fourth held-out prompt of docs/alignment.md's diff, then the tokens
	// both models wrote: "\t" "}" "\n" "\t" "return"
	prompt := "func CutSuffix(s, suffix []byte) (before []byte, found bool) {\n\tif !HasSuffix(s, suffix) {\n\t\treturn s, false\n"
	piece := map[string]int{}
	for id := range bt.VocabSize() {
		piece[bt.Decode([]int{id})] = id
	}
	ids := base.Encode(prompt, glassbox.GenerateOptions{})
	for _, p := range []string{"\t", "}", "\n", "\t", "return"} {
		id, ok := piece[p]
		if !ok {
			t.Fatalf("no token %q", p)
		}
		ids = append(ids, id)
	}
	var p [2]float64
	for i, m := range []*glassbox.Model{base, tuned} {
		probs, err := nextProbs(m, ids)
		if err != nil {
			t.Fatal(err)
		}
		p[i] = probs[piece["\n"]]
	}
	t.Logf("P(newline after return): default %.3f, aligned %.3f", p[0], p[1])
	if p[0] > 0.2 || p[1] < 0.5 {
		t.Errorf("P(newline after return): default %.3f (want below 0.2), aligned %.3f (want above 0.5)", p[0], p[1])
	}
}

// nextProbs returns the model's next-token probabilities after ids.
func nextProbs(m *glassbox.Model, ids []int) ([]float64, error) {
	sc, err := m.NewScorer(len(ids))
	if err != nil {
		return nil, err
	}
	logits, err := sc.Logits(context.Background(), ids, nil)
	if err != nil {
		return nil, err
	}
	last := logits[(len(ids)-1)*sc.VocabSize():]
	mx := float64(last[0])
	for _, l := range last {
		mx = max(mx, float64(l))
	}
	probs := make([]float64, len(last))
	var sum float64
	for i, l := range last {
		probs[i] = math.Exp(float64(l) - mx)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	return probs, nil
}

// TestPtxManifest: grpo/ptx-manifest.txt, the files of the aligned model's
// pretraining mix, is every 40th training file of manifest.txt in its order
// (what docs/alignment/grpo_go.go reads), never a held-out file.
func TestPtxManifest(t *testing.T) {
	read := func(p string) []string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	var want []string
	n := 0
	for _, l := range read("manifest.txt") {
		f := strings.SplitN(l, " ", 4)
		if len(f) != 4 {
			t.Fatalf("manifest.txt line %q", l)
		}
		if f[2] != "train" {
			continue
		}
		if n%40 == 0 {
			want = append(want, l)
		}
		n++
	}
	got := read("grpo/ptx-manifest.txt")
	if len(got) != 154 || len(want) != len(got) {
		t.Fatalf("%d files in the mix, want %d (and 154)", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i+1, got[i], want[i])
		}
	}
}
