package glassbox

import (
	"context"
	"fmt"

	"glassbox/infer"
	"glassbox/model"
)

// Scorer runs sequences of token ids through a model and returns the
// next-token logits at every position, the measure behind perplexity,
// KL divergence and log-likelihood scoring. It holds a KV cache of its own
// (so it neither waits for nor disturbs generations) and reuses it from one
// call to the next. A Scorer is not safe for concurrent use.
type Scorer struct {
	m     *Model
	st    *model.State
	vocab int
}

// NewScorer returns a Scorer for sequences of up to n tokens, with the
// model's KV cache type and batch size. A cache that would not fit in the
// available memory is refused with an error wrapping ErrMemory.
func (m *Model) NewScorer(n int) (*Scorer, error) {
	if n < 1 {
		return nil, fmt.Errorf("scorer: the sequence length must be at least 1, got %d", n)
	}
	release, err := m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	so := m.stateOptions()
	so.Context = n
	st, err := m.model.NewState(so)
	if err != nil {
		return nil, err
	}
	return &Scorer{m: m, st: st, vocab: m.model.Config.VocabSize}, nil
}

// Len returns the longest sequence the Scorer takes.
func (s *Scorer) Len() int { return s.st.Context() }

// VocabSize returns the number of logits per position.
func (s *Scorer) VocabSize() int { return s.vocab }

// Logits runs ids from position 0 (forgetting any earlier sequence) and
// returns len(ids)×VocabSize logits: row i holds the logits of the token
// that follows ids[:i+1]. dst is reused when it is large enough. More ids
// than Len is an error wrapping ErrContext; an id outside the vocabulary is
// an error too. It stops between two layers once ctx is done.
func (s *Scorer) Logits(ctx context.Context, ids []int, dst []float32) ([]float32, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("scorer: no tokens")
	}
	if len(ids) > s.st.Context() {
		return nil, fmt.Errorf("%w: the input has %d tokens and the scorer holds %d", infer.ErrContext, len(ids), s.st.Context())
	}
	release, err := s.m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	n := len(ids) * s.vocab
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	if err := s.m.model.ForwardContext(ctx, s.st, ids, 0, dst); err != nil {
		return nil, err
	}
	return dst, nil
}
