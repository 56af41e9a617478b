package train

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLRSchedule(t *testing.T) {
	o := Optim{LR: 1e-3, MinLR: 1e-4, WarmupSteps: 10}
	tests := []struct {
		step, total int
		want        float64
	}{
		{0, 100, 1e-4},    // warm-up: lr·1/10
		{4, 100, 5e-4},    // lr·5/10
		{9, 100, 1e-3},    // end of warm-up
		{10, 100, 1e-3},   // cosine starts at lr
		{99, 100, 1e-4},   // and ends at min_lr
		{55, 101, 5.5e-4}, // halfway through the cosine: (lr+min)/2
		{150, 100, 1e-4},  // past the end: min_lr
		{0, 1, 1e-4},      // warm-up longer than the run
		{3, 3, 4e-4},      // still warming up
		{10, 11, 1e-3},    // a one-step cosine stays at lr
	}
	for _, tc := range tests {
		got := o.LRAt(tc.step, tc.total)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("LRAt(%d, %d) = %g, want %g", tc.step, tc.total, got, tc.want)
		}
	}
}

func TestRNG(t *testing.T) {
	a, b := NewRNG(1, 2), NewRNG(1, 2)
	for i := 0; i < 100; i++ {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same seed and stream give different sequences")
		}
	}
	// Neighbouring streams (consecutive training steps) and seeds must not
	// share values: SplitMix64 walks its state in fixed increments, so a naive
	// state = seed + stream·γ would make stream s+1 stream s shifted by one.
	for _, pair := range [][4]uint64{{1, 2, 1, 3}, {1, 2, 2, 2}, {0, 0, 0, 1}, {5, 9, 6, 9}} {
		seen := map[uint64]bool{}
		a := NewRNG(pair[0], pair[1])
		for i := 0; i < 1000; i++ {
			seen[a.Uint64()] = true
		}
		b := NewRNG(pair[2], pair[3])
		for i := 0; i < 1000; i++ {
			if seen[b.Uint64()] {
				t.Fatalf("RNG(%d, %d) and RNG(%d, %d) share values", pair[0], pair[1], pair[2], pair[3])
			}
		}
	}
	// SplitMix64 reference value: seed 0 state after one increment.
	r := &RNG{}
	if got := r.Uint64(); got != 0xe220a8397b1dcdaf {
		t.Fatalf("SplitMix64(0) first output %#x, want 0xe220a8397b1dcdaf", got)
	}
	// Moments of the normal generator.
	rng := NewRNG(7, 0)
	var s, s2 float64
	const n = 200000
	counts := make([]int, 5)
	for i := 0; i < n; i++ {
		x := rng.Normal()
		s += x
		s2 += x * x
		counts[rng.Intn(5)]++
	}
	if mean, v := s/n, s2/n-(s/n)*(s/n); math.Abs(mean) > 0.01 || math.Abs(v-1) > 0.02 {
		t.Fatalf("Normal: mean %g, variance %g", mean, v)
	}
	for i, c := range counts {
		if math.Abs(float64(c)-n/5) > 0.02*n/5 {
			t.Fatalf("Intn(5): value %d drawn %d times of %d", i, c, n)
		}
	}
}

func TestCorpus(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.go": "package a\n", "sub/b.go": "package b\n", "sub/testdata/c.go": "package c\n",
		"sub/d.txt": "text\n", "z/e.go": "package e\n",
	}
	for p, content := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(content), 0o644)
	}
	tests := []struct {
		name  string
		globs []string
		want  []string
	}{
		{"doublestar skips testdata", []string{dir + "/**/*.go"}, []string{"a.go", "sub/b.go", "z/e.go"}},
		{"path pattern", []string{dir + "/**/sub/*"}, []string{"sub/b.go", "sub/d.txt"}},
		{"duplicates listed once", []string{dir + "/**/*.go", dir + "/**/a.go"}, []string{"a.go", "sub/b.go", "z/e.go"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadCorpus(DataSpec{Globs: tc.globs, ExcludeDirs: []string{"testdata"}, HeldOutPermille: 500})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range c.Files {
				got = append(got, f.Path)
				if f.HeldOut != heldOut(f.Path, 500) {
					t.Errorf("%s: split differs from heldOut()", f.Path)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("files %v, want %v", got, tc.want)
			}
		})
	}
	c, err := LoadCorpus(DataSpec{Globs: []string{dir + "/**/*.go"}, ExcludeDirs: []string{"testdata"}})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.SplitN(string(c.Manifest()), "\n", 2)[0]
	// sha256sum of "package a\n" (coreutils).
	if want := "7b39baa38a2ec2b8d111bbbd8e448e80226477ab40105d9d2123d4dc18067438 10 train a.go"; line != want {
		t.Fatalf("manifest line %q, want %q", line, want)
	}
	for _, bad := range []DataSpec{{}, {Globs: []string{dir + "/*.nothing"}}, {Globs: []string{dir + "/**/*.go"}, HeldOutPermille: 1000}, {Globs: []string{dir + "/**/[.go"}}} {
		if _, err := LoadCorpus(bad); err == nil {
			t.Errorf("LoadCorpus(%+v) succeeded, want an error", bad)
		}
	}
}

// TestTokenizerJSONRoundTrip checks that TrainedFromTokenizerJSON inverts
// WriteTokenizerJSON.
func TestTokenizerJSONRoundTrip(t *testing.T) {
	tr := tinyTokenizer(t)
	var a bytes.Buffer
	if err := tr.WriteTokenizerJSON(&a); err != nil {
		t.Fatal(err)
	}
	back, err := TrainedFromTokenizerJSON(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := back.WriteTokenizerJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("tokenizer.json does not survive TrainedFromTokenizerJSON → WriteTokenizerJSON")
	}
}

func TestCurveFiles(t *testing.T) {
	curve := []CurvePoint{
		{Step: 1, LR: 1e-3, TrainLoss: 5.5, GradNorm: 1.5, ValLoss: math.NaN(), Tokens: 100},
		{Step: 2, LR: 2e-3, TrainLoss: 4.25, GradNorm: 0.5, ValLoss: 4.75, Tokens: 200},
	}
	var csv bytes.Buffer
	WriteCurveCSV(&csv, curve)
	want := "step,tokens,lr,train_loss,val_loss,grad_norm\n1,100,0.001,5.500000,,1.500000\n2,200,0.002,4.250000,4.750000,0.500000\n"
	if csv.String() != want {
		t.Fatalf("CSV:\n%s\nwant:\n%s", csv.String(), want)
	}
	var svg bytes.Buffer
	WriteCurveSVG(&svg, curve)
	s := svg.String()
	for _, part := range []string{"<svg", "</svg>", "<polyline", `stroke="#e67e22"`, "<circle", "training loss"} {
		if !strings.Contains(s, part) {
			t.Errorf("SVG lacks %q", part)
		}
	}
	if strings.Contains(s, "NaN") {
		t.Error("SVG contains NaN coordinates")
	}
	var empty bytes.Buffer
	WriteCurveSVG(&empty, nil)
	if !strings.Contains(empty.String(), "</svg>") {
		t.Error("empty curve gives no SVG")
	}
}
