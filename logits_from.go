package glassbox

import (
	"context"
	"fmt"

	"glassbox/infer"
)

// LogitsFrom runs ids from position 0 (forgetting any earlier sequence) as
// Logits does, but returns only the rows of positions from … len(ids)-1:
// (len(ids)-from)×VocabSize logits, row i holding the logits of the token
// that follows ids[:from+i+1]. The positions before from only fill the KV
// cache, so scoring a continuation after a long prompt needs memory for the
// continuation's rows alone. The rows may differ from Logits' in the last
// bits where from splits a batch differently.
func (s *Scorer) LogitsFrom(ctx context.Context, ids []int, from int, dst []float32) ([]float32, error) {
	switch {
	case len(ids) == 0:
		return nil, fmt.Errorf("scorer: no tokens")
	case from < 0 || from >= len(ids):
		return nil, fmt.Errorf("scorer: the first scored position must be in [0, %d), got %d", len(ids), from)
	case len(ids) > s.st.Context():
		return nil, fmt.Errorf("%w: the input has %d tokens and the scorer holds %d", infer.ErrContext, len(ids), s.st.Context())
	}
	release, err := s.m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	if from > 0 {
		if err := s.m.model.ForwardContext(ctx, s.st, ids[:from], 0, nil); err != nil {
			return nil, err
		}
	}
	rest := ids[from:]
	n := len(rest) * s.vocab
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	if err := s.m.model.ForwardContext(ctx, s.st, rest, from, dst); err != nil {
		return nil, err
	}
	return dst, nil
}
