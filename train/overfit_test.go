package train

import (
	"os"
	"testing"
)

// TestOverfitTinyCorpus trains a 2-layer model on the start of one file
// (one context-long window, so every token has its whole prefix as context)
// until it has memorized it: the training loss must fall below 0.05 nats/token.
func TestOverfitTinyCorpus(t *testing.T) {
	r := ciRecipe()
	r.Data.HeldOutPermille = 0
	r.Model.Context = 24
	r.Model.Dim, r.Model.Hidden = 48, 96
	r.Optim = Optim{LR: 1e-2, MinLR: 1e-3, WarmupSteps: 10, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, ClipNorm: 1}
	r.Steps, r.BatchSeqs, r.Accum, r.EvalEvery = 100, 2, 1, 0
	c, err := LoadCorpus(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := TrainTokenizer(c.Files, r.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tok.Model()
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("testdata/corpus/mathx.go")
	if err != nil {
		t.Fatal(err)
	}
	var stream []int32
	for _, id := range enc.Encode(nil, string(text)[:240]) {
		stream = append(stream, int32(id))
	}
	r.Model.Context = len(stream) - 1
	tr, err := NewTrainer(r, stream, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	first, last := tr.Curve[0].TrainLoss, tr.Curve[len(tr.Curve)-1].TrainLoss
	t.Logf("%d tokens, %d parameters: loss %.4f → %.4f in %d steps", len(stream), tr.Model.NumParams(), first, last, r.Steps)
	if last > 0.05 {
		t.Fatalf("final training loss %.4f, want < 0.05 (memorized)", last)
	}
}
