// Package sample turns a vector of logits into the next token with the
// sampler chain llama.cpp uses by default, and can record what each step of
// the chain kept so that a generated token can later be dissected.
//
// The chain is, in order: the logit bias (OpenAI's and llama.cpp's
// logit_bias), repetition/presence/frequency penalties, top-k, top-p
// (nucleus), min-p, temperature, then a seeded random draw from the softmax
// of what is left ("dist"). A temperature of 0 replaces the filtering steps
// and the draw by a greedy argmax over the biased and penalised logits.
package sample

import (
	"fmt"
	"math"
	"slices"
)

// SeedRandom is the Params.Seed value asking New to pick a random seed (as
// llama.cpp does for its default seed). Sampler.Seed reports the seed
// actually used, so such a run can still be replayed.
const SeedRandom uint64 = math.MaxUint64

// Params configures a Sampler. The zero value is not useful: start from
// DefaultParams, or set every "off" value explicitly (TopP 1, RepeatPenalty 1).
type Params struct {
	// Temperature divides the logits before the draw; 0 means greedy
	// (argmax of the penalised logits, lowest id on ties).
	Temperature float32
	// TopK keeps the K highest logits; 0 turns it off.
	TopK int
	// TopP keeps the smallest set of most probable tokens whose cumulative
	// probability reaches TopP (at least one token); 1 turns it off.
	TopP float32
	// MinP keeps the tokens whose probability is at least MinP times the
	// probability of the most likely token; 0 turns it off.
	MinP float32
	// RepeatPenalty divides the positive logits, and multiplies the negative
	// (or zero) ones, of every token present in the penalty window; 1 turns it off.
	RepeatPenalty float32
	// RepeatLastN is the size of the penalty window at the end of the
	// history: -1 means the whole history, 0 disables every penalty.
	RepeatLastN int
	// PresencePenalty is subtracted once from the logit of every token
	// present in the window; 0 turns it off.
	PresencePenalty float32
	// FrequencyPenalty is subtracted from the logit of every token in the
	// window, multiplied by its number of occurrences; 0 turns it off.
	FrequencyPenalty float32
	// LogitBias is added to the logits of the given token ids before every
	// other step, as OpenAI's and llama.cpp's logit_bias: a bias of -100
	// makes a token practically impossible, 100 practically certain, and
	// math.Inf(-1) bans it outright. Keys must be ids of the vocabulary
	// (CheckVocab); values must not be NaN or +Inf. Nil or empty: no bias.
	// The Sampler keeps its own copy, so the map may change after New.
	LogitBias map[int]float32
	// Seed seeds the sampler's random number generator: the same seed,
	// parameters, logits and histories give the same tokens on every run
	// and platform. SeedRandom picks a random seed.
	Seed uint64
}

// DefaultParams returns llama.cpp's default sampling parameters:
// temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat penalty 1.0
// (off) over the last 64 tokens, no presence or frequency penalty, and a
// random seed (SeedRandom), like llama.cpp's default seed.
func DefaultParams() Params {
	return Params{
		Temperature:      0.8,
		TopK:             40,
		TopP:             0.95,
		MinP:             0.05,
		RepeatPenalty:    1.0,
		RepeatLastN:      64,
		PresencePenalty:  0,
		FrequencyPenalty: 0,
		Seed:             SeedRandom,
	}
}

// Validate reports the first parameter outside its valid range.
func (p Params) Validate() error {
	finite := func(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }
	switch {
	case !finite(p.Temperature) || p.Temperature < 0:
		return fmt.Errorf("sample: temperature must be a finite number >= 0 (0 = greedy), got %v", p.Temperature)
	case p.TopK < 0:
		return fmt.Errorf("sample: top_k must be >= 0 (0 = off), got %d", p.TopK)
	case !finite(p.TopP) || p.TopP <= 0 || p.TopP > 1:
		return fmt.Errorf("sample: top_p must be in (0, 1] (1 = off), got %v", p.TopP)
	case !finite(p.MinP) || p.MinP < 0 || p.MinP > 1:
		return fmt.Errorf("sample: min_p must be in [0, 1] (0 = off), got %v", p.MinP)
	case !finite(p.RepeatPenalty) || p.RepeatPenalty <= 0:
		return fmt.Errorf("sample: repeat penalty must be a finite number > 0 (1 = off), got %v", p.RepeatPenalty)
	case p.RepeatLastN < -1:
		return fmt.Errorf("sample: repeat_last_n must be >= -1 (-1 = whole history, 0 = no penalties), got %d", p.RepeatLastN)
	case !finite(p.PresencePenalty):
		return fmt.Errorf("sample: presence penalty must be a finite number (0 = off), got %v", p.PresencePenalty)
	case !finite(p.FrequencyPenalty):
		return fmt.Errorf("sample: frequency penalty must be a finite number (0 = off), got %v", p.FrequencyPenalty)
	}
	for _, id := range p.biasIDs() {
		b := p.LogitBias[id]
		switch {
		case id < 0:
			return fmt.Errorf("sample: logit bias for token %d: token ids are >= 0", id)
		case b != b || b > math.MaxFloat32:
			return fmt.Errorf("sample: logit bias for token %d must be a number or -Inf (ban), got %v", id, b)
		}
	}
	return nil
}

// CheckVocab reports the first logit-bias token id outside a vocabulary of
// n tokens (ids 0 to n-1).
func (p Params) CheckVocab(n int) error {
	for _, id := range p.biasIDs() {
		if id < 0 || id >= n {
			return fmt.Errorf("sample: logit bias for token %d: the vocabulary has %d tokens (ids 0 to %d)", id, n, n-1)
		}
	}
	return nil
}

// biasIDs returns the token ids of LogitBias in increasing order, so that
// errors and the sampler do not depend on map order.
func (p Params) biasIDs() []int {
	ids := make([]int, 0, len(p.LogitBias))
	for id := range p.LogitBias {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// IsZero reports whether p is the zero value apart from LogitBias: no
// setting was chosen. infer.Request and glassbox.GenerateOptions read such
// parameters as greedy decoding (Greedy), keeping the bias.
func (p Params) IsZero() bool {
	return p.Temperature == 0 && p.TopK == 0 && p.TopP == 0 && p.MinP == 0 && p.RepeatPenalty == 0 &&
		p.RepeatLastN == 0 && p.PresencePenalty == 0 && p.FrequencyPenalty == 0 && p.Seed == 0
}

// Greedy returns greedy decoding (temperature 0, every filter and penalty
// off) with p's logit bias.
func (p Params) Greedy() Params {
	return Params{TopP: 1, RepeatPenalty: 1, LogitBias: p.LogitBias}
}

// penaltiesActive reports whether the penalty step changes anything.
func (p Params) penaltiesActive() bool {
	if p.RepeatLastN == 0 {
		return false
	}
	return p.RepeatPenalty != 1 || p.PresencePenalty != 0 || p.FrequencyPenalty != 0
}
