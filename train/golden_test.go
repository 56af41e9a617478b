package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"glassbox/tensor"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json from this run")

// ciRecipe trains a tiny model on the files of testdata/corpus: the whole
// pipeline (manifest, tokenizer, streams, training, checkpoints, export) in
// about a second.
func ciRecipe() Recipe {
	r := DefaultRecipe()
	r.Name = "ci-tiny"
	r.Data = DataSpec{Globs: []string{"testdata/corpus/**/*.go"}, HeldOutPermille: 100}
	r.Tokenizer.VocabSize = 320
	r.Model = ModelConfig{Vocab: 320, Dim: 32, Layers: 2, Heads: 4, KVHeads: 2, Hidden: 64, Context: 32, RopeTheta: 10000, NormEps: 1e-5}
	r.Optim.WarmupSteps = 5
	r.Optim.LR = 0.01
	r.Optim.MinLR = 0.001
	r.Steps, r.BatchSeqs, r.Accum = 36, 4, 2
	r.EvalEvery, r.EvalSeqs, r.CheckpointEvery = 12, 4, 10
	return r
}

// goldenRun is what the CI test records.
type goldenRun struct {
	ManifestSHA256  string   `json:"manifest_sha256"`
	TokenizerSHA256 string   `json:"tokenizer_sha256"`
	TrainTokens     int      `json:"train_tokens"`
	TrainLoss       []string `json:"train_loss"` // %.17g, exact
	ValLoss         []string `json:"val_loss"`
	WeightsSHA256   string   `json:"weights_sha256"`
	GGUFSHA256      string   `json:"gguf_f32_sha256"`
}

func runGolden(t *testing.T, threads int) goldenRun {
	t.Helper()
	r := ciRecipe()
	tr, p, err := RunRecipe(t.Context(), r, Options{OutDir: t.TempDir(), Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	g := goldenRun{ManifestSHA256: p.Corpus.ManifestSHA256(), TrainTokens: len(p.Train), WeightsSHA256: weightHash(tr.Model)}
	s := sha256.Sum256(p.TokenizerJSON)
	g.TokenizerSHA256 = hex.EncodeToString(s[:])
	for _, c := range tr.Curve {
		g.TrainLoss = append(g.TrainLoss, strconv.FormatFloat(c.TrainLoss, 'g', 17, 64))
		if !math.IsNaN(c.ValLoss) {
			g.ValLoss = append(g.ValLoss, strconv.FormatFloat(c.ValLoss, 'g', 17, 64))
		}
	}
	var buf bytes.Buffer
	eot := p.Tokenizer.Vocab[r.Tokenizer.EndOfText]
	if err := ExportGGUF(&buf, tr.Model, ExportInfo{Name: r.Name, Tokenizer: p.Tokenizer, PreTokenizer: "gpt-2", EOT: eot}, tensor.F32); err != nil {
		t.Fatal(err)
	}
	s = sha256.Sum256(buf.Bytes())
	g.GGUFSHA256 = hex.EncodeToString(s[:])
	return g
}

// TestGoldenTraining runs the CI training twice (with different thread
// counts) and checks identical losses and weight hashes, equal to the values
// recorded in testdata/golden.json. The recorded values come from amd64,
// whose Go compiler never fuses multiply-adds; other architectures (arm64
// fuses them into FMA) only check run-to-run identity.
func TestGoldenTraining(t *testing.T) {
	a := runGolden(t, 1)
	b := runGolden(t, 2)
	ja, _ := json.MarshalIndent(a, "", "  ")
	jb, _ := json.MarshalIndent(b, "", "  ")
	if !bytes.Equal(ja, jb) {
		t.Fatalf("two runs differ:\n%s\n%s", ja, jb)
	}
	if first, last := a.TrainLoss[0], a.TrainLoss[len(a.TrainLoss)-1]; mustFloat(t, last) >= mustFloat(t, first)-1 {
		t.Errorf("training loss went from %s to %s: expected a drop of more than 1 nat", first, last)
	}
	path := filepath.Join("testdata", "golden.json")
	if *update {
		if err := os.WriteFile(path, append(ja, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("golden values are recorded on amd64; %s may fuse multiply-adds", runtime.GOARCH)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(ja)) {
		t.Fatalf("training no longer reproduces %s:\ngot  %s\nwant %s", path, ja, want)
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
