package train

import (
	"bytes"
	"testing"
)

// FuzzReadCheckpoint feeds corrupt checkpoints: ReadCheckpoint must return an
// error, never panic.
func FuzzReadCheckpoint(f *testing.F) {
	r := tinyRecipe()
	tr, err := NewTrainer(r, syntheticStream(200, r.Model.Vocab, 1), nil)
	if err != nil {
		f.Fatal(err)
	}
	var good bytes.Buffer
	if err := tr.WriteCheckpoint(&good); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:100])
	f.Add([]byte("GBCKPT01\xff\xff\xff\xff"))
	f.Add([]byte("GBCKPT01\x02\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr2, err := NewTrainer(r, syntheticStream(200, r.Model.Vocab, 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr2.ReadCheckpoint(bytes.NewReader(data)); err == nil && !bytes.Equal(data, good.Bytes()) {
			// A different file may still be valid only if it re-encodes identically.
			var again bytes.Buffer
			tr2.WriteCheckpoint(&again)
			if !bytes.Equal(again.Bytes(), data) {
				t.Fatalf("accepted a checkpoint that does not round-trip")
			}
		}
	})
}

// FuzzParseRecipe checks that bad recipe JSON gives errors, not panics, and
// that accepted recipes validate.
func FuzzParseRecipe(f *testing.F) {
	f.Add(DefaultRecipe().JSON())
	f.Add([]byte(`{"model": {"dim": 0}}`))
	f.Add([]byte(`{"steps": -1}`))
	f.Add([]byte(`{"model": {"heads": 3, "dim": 128}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecipe(data)
		if err == nil {
			if verr := r.Validate(); verr != nil {
				t.Fatalf("ParseRecipe accepted an invalid recipe: %v", verr)
			}
		}
	})
}

// FuzzTrainedFromTokenizerJSON checks that bad tokenizer.json input is an error, not a panic.
func FuzzTrainedFromTokenizerJSON(f *testing.F) {
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}`))
	f.Add([]byte(`{"added_tokens": [{"id": 3, "content": "x"}], "model": {"type": "BPE", "vocab": {}, "merges": [["a", "b"]]}}`))
	f.Add([]byte(`{"model": {"type": "WordPiece"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		TrainedFromTokenizerJSON(data)
	})
}
