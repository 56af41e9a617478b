package vectors

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gensimRef is testdata/gensim.json, gensim's answers on testdata/gensim.txt
// (made by testdata/make_gensim_fixtures.py).
type gensimRef struct {
	Similar []struct {
		Positive, Negative []string
		Topn               int
		RestrictVocab      int `json:"restrict_vocab"`
		Result             [][2]any
	}
	SimilarCosmul []struct {
		Positive, Negative []string
		Topn               int
		Result             [][2]any
	} `json:"similar_cosmul"`
	DoesntMatch []struct {
		Words  []string
		Result string
	} `json:"doesnt_match"`
	Similarity []struct {
		Words  []string
		Result float64
	}
	Analogies []struct {
		RestrictVocab int `json:"restrict_vocab"`
		Score         float64
		Sections      []struct {
			Name               string
			Correct, Incorrect int
		}
	}
	Pairs []struct {
		RestrictVocab     int `json:"restrict_vocab"`
		Pearson, Spearman float64
		OOVRatio          float64 `json:"oov_ratio"`
	}
}

func loadGensim(t *testing.T) (*Vectors, *gensimRef) {
	t.Helper()
	v, err := ReadFile("testdata/gensim.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/gensim.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref gensimRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return v, &ref
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// gensim computes in float32: its scores agree with these to about 1e-6.
const gensimTol = 2e-6

// The text and binary files gensim wrote read to the same vectors, and
// glassbox writes them back byte for byte as gensim (text) and the C tool
// (binary, whose gensim loading the script checked) do.
func TestGensimFiles(t *testing.T) {
	txt, err := ReadFile("testdata/gensim.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gensim.bin", "ctool.bin"} {
		bin, err := ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !slicesEqual(bin.Words, txt.Words) || len(bin.Data) != len(txt.Data) {
			t.Fatalf("%s: %d words, text %d", name, bin.Len(), txt.Len())
		}
		for i := range txt.Data {
			if bin.Data[i] != txt.Data[i] {
				t.Fatalf("%s: value %d = %v, text has %v", name, i, bin.Data[i], txt.Data[i])
			}
		}
	}
	for _, tt := range []struct {
		file string
		bin  bool
	}{{"gensim.txt", false}, {"ctool.bin", true}} {
		want, _ := os.ReadFile("testdata/" + tt.file)
		var b bytes.Buffer
		if tt.bin {
			txt.WriteBinary(&b)
		} else {
			txt.WriteText(&b)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("written file differs from %s", tt.file)
		}
	}
}

func slicesEqual(a, b []string) bool {
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

func checkNeighbors(t *testing.T, what string, got []Neighbor, want [][2]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %v, gensim %v", what, got, want)
	}
	for i, w := range want {
		if got[i].Word != w[0].(string) || !near(got[i].Cosine, w[1].(float64), gensimTol) {
			t.Errorf("%s: %d: %s %.7f, gensim %s %.7f", what, i, got[i].Word, got[i].Cosine, w[0], w[1])
		}
	}
}

func TestGensimQueries(t *testing.T) {
	v, ref := loadGensim(t)
	for _, q := range ref.Similar {
		got, err := v.Similar(Query{Positive: q.Positive, Negative: q.Negative, N: q.Topn, Restrict: q.RestrictVocab})
		if err != nil {
			t.Fatal(err)
		}
		checkNeighbors(t, "most_similar "+strings.Join(q.Positive, "+")+"-"+strings.Join(q.Negative, "-"), got, q.Result)
	}
	for _, q := range ref.SimilarCosmul {
		got, err := v.Similar(Query{Positive: q.Positive, Negative: q.Negative, N: q.Topn, Mul: true})
		if err != nil {
			t.Fatal(err)
		}
		checkNeighbors(t, "most_similar_cosmul "+strings.Join(q.Positive, "+"), got, q.Result)
	}
	for _, q := range ref.DoesntMatch {
		if got, err := v.DoesntMatch(q.Words); err != nil || got != q.Result {
			t.Errorf("doesnt_match %v = %q, %v; gensim %q", q.Words, got, err, q.Result)
		}
	}
	for _, q := range ref.Similarity {
		if got, err := v.Similarity(q.Words[0], q.Words[1]); err != nil || !near(got, q.Result, gensimTol) {
			t.Errorf("similarity %v = %v, %v; gensim %v", q.Words, got, err, q.Result)
		}
	}
}

func TestGensimEvaluations(t *testing.T) {
	v, ref := loadGensim(t)
	for _, a := range ref.Analogies {
		f, _ := os.Open("testdata/analogies.txt")
		got, err := v.EvaluateAnalogies(f, EvalOptions{Restrict: a.RestrictVocab})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !near(float64(got.Accuracy), a.Score, 1e-12) {
			t.Errorf("restrict %d: accuracy %v, gensim %v", a.RestrictVocab, got.Accuracy, a.Score)
		}
		secs := append(got.Sections, AnalogySection{Name: "Total accuracy", Correct: got.Correct, Total: got.Total})
		if len(secs) != len(a.Sections) {
			t.Fatalf("restrict %d: %d sections, gensim %d", a.RestrictVocab, len(secs), len(a.Sections))
		}
		for i, s := range a.Sections {
			if secs[i].Name != s.Name || secs[i].Correct != s.Correct || secs[i].Total != s.Correct+s.Incorrect {
				t.Errorf("restrict %d: section %+v, gensim %+v", a.RestrictVocab, secs[i], s)
			}
		}
		if len(got.Skipped) != 1 {
			t.Errorf("skipped lines %v, want the one that is not a question", got.Skipped)
		}
	}
	for _, p := range ref.Pairs {
		f, _ := os.Open("testdata/pairs.tsv")
		got, err := v.EvaluateWordPairs(f, EvalOptions{Restrict: p.RestrictVocab})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !near(float64(got.Pearson), p.Pearson, 1e-5) || !near(float64(got.Spearman), p.Spearman, 1e-9) || !near(float64(got.OOVRatio), p.OOVRatio, 1e-9) {
			t.Errorf("restrict %d: %+v, gensim %+v", p.RestrictVocab, got, p)
		}
	}
}

// With gensim installed (Debian's python3-gensim), files glassbox writes load
// in gensim to the same vectors.
func TestGensimLoadsWrittenFiles(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import gensim").Run(); err != nil {
		t.Skipf("gensim is not installed for %s (apt-get install python3-gensim): %v; the committed files cover the round trip", python, err)
	}
	v, err := New([]string{"roi", "reine", "l'homme", "été", "\u00e9t\u00e9s"}, 3,
		[]float32{0.1, -2.5, 1e-5, 3.4e38, 0, -1, 123456789, 1e-45, 0.3333333, 1, 2, 3, -0.5, 0.25, 7})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, bin := range []bool{false, true} {
		path := filepath.Join(dir, "out")
		if err := v.WriteFile(path, bin); err != nil {
			t.Fatal(err)
		}
		script := `
import sys, json
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=sys.argv[2] == "1")
print(json.dumps({"words": kv.index_to_key, "data": [float(x) for x in kv.vectors.ravel()]}))
`
		flag := "0"
		if bin {
			flag = "1"
		}
		out, err := exec.Command(python, "-c", script, path, flag).Output()
		if err != nil {
			t.Fatalf("binary=%v: gensim: %v", bin, err)
		}
		var got struct {
			Words []string
			Data  []float64
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if !slicesEqual(got.Words, v.Words) || len(got.Data) != len(v.Data) {
			t.Fatalf("binary=%v: gensim read %v", bin, got.Words)
		}
		for i, x := range v.Data {
			if float32(got.Data[i]) != x {
				t.Errorf("binary=%v: gensim value %d = %v, want %v", bin, i, got.Data[i], x)
			}
		}
	}
}
