package bpe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
)

// TestLlama32EncoderJSON loads the GPT-2 style encoder.json + vocab.bpe of
// Llama 3.2 and checks llama.cpp's llama-bpe cases.
func TestLlama32EncoderJSON(t *testing.T) {
	data, err := os.ReadFile(fixtures.Path(t, "vocab", "llama3.2-bpe", "encoder.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fixtures.Path(t, "vocab", "llama3.2-bpe", "vocab.bpe"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var merges [][2]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#version") || line == "" {
			continue
		}
		a, b, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("vocab.bpe line %q: want two tokens", line)
		}
		merges = append(merges, [2]string{a, b})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	pre, _ := PreTokenizerByName("llama3")
	m, err := New(vocab, merges, pre, Options{IgnoreMerges: true, Unk: -1})
	if err != nil {
		t.Fatal(err)
	}
	cases := readVocabCases(t, "llama-bpe")
	if ok := checkCases(t, m, cases); ok != len(cases) {
		t.Errorf("%d/%d cases match", ok, len(cases))
	}
}

func shakespeare(t testing.TB, n int) string {
	data, err := os.ReadFile(fixtures.Path(t, "text", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data[:min(n, len(data))])
}

func lines(s string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for l := range strings.Lines(s) {
			if !yield(l) {
				return
			}
		}
	}
}

func TestTrainHandChecked(t *testing.T) {
	// Pre-tokens (GPT-2): "ab" x3, " ab" x2, " abc" x1, "c" x1.
	corpus := []string{"ab ab ab", "ab abc", "c"}
	tr, err := Train(slices.Values(corpus), TrainOptions{VocabSize: 256 + 1 + 3, SpecialTokens: []string{"<|end|>"}})
	if err != nil {
		t.Fatal(err)
	}
	// Pair counts: (a,b)=6, (Ġ,a)=3, (b,c)=1. Merge a+b.
	// Then (Ġ,ab)=3, (ab,c)=1: merge Ġ+ab. Then (Ġab,c)=1: merge.
	want := [][2]string{{"a", "b"}, {"Ġ", "ab"}, {"Ġab", "c"}}
	if !slices.Equal(tr.Merges, want) {
		t.Fatalf("merges = %q, want %q", tr.Merges, want)
	}
	if tr.Vocab["<|end|>"] != 0 || tr.Vocab["Ā"] != 1 || tr.Vocab["ab"] != 257 || tr.Vocab["Ġabc"] != 259 {
		t.Errorf("unexpected ids: %v %v %v %v", tr.Vocab["<|end|>"], tr.Vocab["Ā"], tr.Vocab["ab"], tr.Vocab["Ġabc"])
	}
	// Ties: "xy" and "yx" once each: (x,y) and (y,x) both count 1 ... plus
	// (y,x) inside "xyx": counts (x,y)=2, (y,x)=2, tie broken by bytes: x < y.
	tr2, err := Train(slices.Values([]string{"xyx"}), TrainOptions{VocabSize: 257})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tr2.Merges, [][2]string{{"x", "y"}}) {
		t.Errorf("tie: merges = %q, want [x y]", tr2.Merges)
	}
	if _, err := Train(slices.Values(corpus), TrainOptions{VocabSize: 10}); err == nil {
		t.Error("vocab size below 256 accepted")
	}
	tr3, err := Train(slices.Values(corpus), TrainOptions{VocabSize: 1000, MinFrequency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr3.Merges) != 2 {
		t.Errorf("MinFrequency 3: %d merges %q, want 2", len(tr3.Merges), tr3.Merges)
	}
}

func TestTrainDeterministicRoundTrip(t *testing.T) {
	text := shakespeare(t, 200_000)
	var outs [2][]byte
	for i := range outs {
		tr, err := Train(lines(text), TrainOptions{VocabSize: 1000, SpecialTokens: []string{"<|endoftext|>"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Merges) != 1000-257 {
			t.Fatalf("%d merges, want %d", len(tr.Merges), 1000-257)
		}
		var buf bytes.Buffer
		if err := tr.WriteTokenizerJSON(&buf); err != nil {
			t.Fatal(err)
		}
		outs[i] = buf.Bytes()
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("two trainings on the same corpus wrote different tokenizer.json")
	}
	if !json.Valid(outs[0]) {
		t.Fatal("tokenizer.json is not valid JSON")
	}
	m, err := FromTokenizerJSON(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	sample := shakespeare(t, 300_000)[200_000:]
	for _, s := range []string{sample, "Héllo wörld — 日本語 😀\n\n\t  x", "\x00\xff\xfe"} {
		ids := m.Encode(nil, s)
		back, err := m.Decode(nil, ids)
		if err != nil || string(back) != s {
			t.Errorf("decode(encode(%.40q)) differs (err %v)", s, err)
		}
	}
	ids := m.Encode(nil, sample)
	if ratio := float64(len(sample)) / float64(len(ids)); ratio < 2.0 {
		t.Errorf("compression %.2f bytes/token on held-out text, want >= 2.0", ratio)
	}
	// The special token is an added token with id 0.
	if id, ok := m.Token("<|endoftext|>"); !ok || id != 0 {
		t.Errorf("special token id = %d, %v", id, ok)
	}
}

func BenchmarkTrain(b *testing.B) {
	text := shakespeare(b, 1<<20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Train(lines(text), TrainOptions{VocabSize: 2000}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeLlama3(b *testing.B) {
	tj := readTokenizerJSON(b, "vocab", "tokenizer-json", "llama3", "tokenizer.json")
	pre, err := PreTokenizerFromJSON(tj.pre)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(tj.vocab, tj.merges, pre, Options{IgnoreMerges: true, Unk: -1})
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(fixtures.Path(b, "text", "war-and-peace.txt"))
	if err != nil {
		b.Fatal(err)
	}
	text := string(data)
	b.SetBytes(int64(len(text)))
	var ids []int
	for b.Loop() {
		ids = m.Encode(ids[:0], text)
	}
	b.ReportMetric(float64(len(ids)), "tokens")
}

func BenchmarkPreTokenizeLlama3(b *testing.B) {
	pre, _ := PreTokenizerByName("llama3")
	data, err := os.ReadFile(fixtures.Path(b, "text", "war-and-peace.txt"))
	if err != nil {
		b.Fatal(err)
	}
	text := string(data)
	b.SetBytes(int64(len(text)))
	var out []string
	for b.Loop() {
		out = pre.Split(out[:0], text)
	}
}
