package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
)

// Recipe is everything that determines a trained model: data, tokenizer,
// model shape, optimizer, schedule and seed. Training twice with the same
// recipe and data gives bit-identical weights (see docs/training.md).
type Recipe struct {
	Name      string        `json:"name"`
	Data      DataSpec      `json:"data"`
	Tokenizer TokenizerSpec `json:"tokenizer"`
	Model     ModelConfig   `json:"model"`
	Optim     Optim         `json:"optim"`
	// Steps is the number of optimizer updates.
	Steps int `json:"steps"`
	// BatchSeqs sequences of Model.Context tokens make one micro-batch; they
	// are processed in parallel (data parallelism).
	BatchSeqs int `json:"batch_seqs"`
	// Accum micro-batches are accumulated into one update.
	Accum int `json:"grad_accum"`
	// EvalEvery is the interval, in steps, of the validation loss (0: only at the end).
	EvalEvery int `json:"eval_every"`
	// EvalSeqs held-out sequences are used for the validation loss.
	EvalSeqs int `json:"eval_seqs"`
	// CheckpointEvery is the checkpoint interval in steps (0: only at the end).
	CheckpointEvery int `json:"checkpoint_every"`
	// Seed drives initialization and batch sampling.
	Seed uint64 `json:"seed"`
}

// DefaultRecipe returns the settings used when no recipe file is given.
func DefaultRecipe() Recipe {
	return Recipe{
		Name:      "glassbox-model",
		Data:      DataSpec{ExcludeDirs: []string{"testdata"}, HeldOutPermille: 50},
		Tokenizer: TokenizerSpec{VocabSize: 2048, PreTokenizer: "gpt-2", SampleEvery: 1, EndOfText: "<|endoftext|>"},
		Model: ModelConfig{Vocab: 2048, Dim: 128, Layers: 4, Heads: 4, KVHeads: 2, Hidden: 352, Context: 256,
			RopeTheta: 10000, NormEps: 1e-5},
		Optim: Optim{LR: 3e-3, MinLR: 3e-4, WarmupSteps: 50, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8,
			WeightDecay: 0.1, ClipNorm: 1},
		Steps: 1000, BatchSeqs: 8, Accum: 1, EvalEvery: 100, EvalSeqs: 32, CheckpointEvery: 50, Seed: 1,
	}
}

// LoadRecipe reads a JSON recipe; unknown fields are an error.
func LoadRecipe(path string) (Recipe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Recipe{}, fmt.Errorf("train: reading recipe: %w", err)
	}
	return ParseRecipe(data)
}

// ParseRecipe decodes a JSON recipe over DefaultRecipe (absent fields keep
// their defaults); unknown fields are an error.
func ParseRecipe(data []byte) (Recipe, error) {
	r := DefaultRecipe()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Recipe{}, fmt.Errorf("train: bad recipe JSON: %w", err)
	}
	return r, r.Validate()
}

// Validate checks the recipe's numbers.
func (r Recipe) Validate() error {
	if err := r.Model.Validate(); err != nil {
		return err
	}
	switch {
	case r.Tokenizer.VocabSize != r.Model.Vocab:
		return fmt.Errorf("train: tokenizer vocab_size %d differs from model vocab_size %d", r.Tokenizer.VocabSize, r.Model.Vocab)
	case r.Tokenizer.VocabSize < 258:
		return fmt.Errorf("train: vocab_size %d is below 258 (256 bytes + special token + one merge)", r.Tokenizer.VocabSize)
	case r.Tokenizer.EndOfText == "":
		return fmt.Errorf("train: tokenizer end_of_text must be set")
	case r.Steps < 1 || r.BatchSeqs < 1 || r.Accum < 1:
		return fmt.Errorf("train: steps, batch_seqs and grad_accum must be ≥ 1, got %d, %d, %d", r.Steps, r.BatchSeqs, r.Accum)
	case r.EvalEvery < 0 || r.EvalSeqs < 0 || r.CheckpointEvery < 0:
		return fmt.Errorf("train: eval_every, eval_seqs and checkpoint_every must be ≥ 0")
	case !(r.Optim.LR > 0) || r.Optim.MinLR < 0 || r.Optim.WarmupSteps < 0:
		return fmt.Errorf("train: lr must be positive and min_lr, warmup_steps non-negative")
	case r.Optim.Beta1 < 0 || r.Optim.Beta1 >= 1 || r.Optim.Beta2 < 0 || r.Optim.Beta2 >= 1 || !(r.Optim.Eps > 0):
		return fmt.Errorf("train: AdamW needs 0 ≤ beta < 1 and eps > 0")
	}
	return nil
}

// JSON returns the recipe as indented JSON.
func (r Recipe) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// Hash is the SHA-256 of JSON(), stored in checkpoints to refuse resuming
// with a different recipe.
func (r Recipe) Hash() string {
	sum := sha256.Sum256(r.JSON())
	return hex.EncodeToString(sum[:])
}

// TokensPerStep is the number of predicted tokens in one update.
func (r Recipe) TokensPerStep() int { return r.BatchSeqs * r.Accum * r.Model.Context }
