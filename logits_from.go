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

// maxRowFloats bounds the logits Rows holds at once (64 MiB of float32).
const maxRowFloats = 16 << 20

// Rows runs ids from position 0 (forgetting any earlier sequence) as Logits
// does and calls fn with each position's row of VocabSize logits (row i
// holds the logits of the token that follows ids[:i+1]), computing a few
// positions at a time so that a long sequence over a large vocabulary never
// holds all its rows: the memory of a prompt scored for its log-probabilities
// stays bounded. row is only valid during the call; an error from fn stops
// the pass and is returned. The rows may differ from Logits' in the last
// bits, where the batches split differently.
func (s *Scorer) Rows(ctx context.Context, ids []int, fn func(i int, row []float32) error) error {
	switch {
	case len(ids) == 0:
		return fmt.Errorf("scorer: no tokens")
	case len(ids) > s.st.Context():
		return fmt.Errorf("%w: the input has %d tokens and the scorer holds %d", infer.ErrContext, len(ids), s.st.Context())
	}
	for _, id := range ids {
		if id < 0 || id >= s.vocab {
			return fmt.Errorf("scorer: token id %d is outside the vocabulary (0 to %d)", id, s.vocab-1)
		}
	}
	release, err := s.m.Acquire()
	if err != nil {
		return err
	}
	defer release()
	chunk := max(1, min(len(ids), maxRowFloats/s.vocab))
	buf := make([]float32, chunk*s.vocab)
	for from := 0; from < len(ids); from += chunk {
		part := ids[from:min(from+chunk, len(ids))]
		dst := buf[:len(part)*s.vocab]
		if err := s.m.model.ForwardContext(ctx, s.st, part, from, dst); err != nil {
			return err
		}
		for k := range part {
			if err := fn(from+k, dst[k*s.vocab:(k+1)*s.vocab]); err != nil {
				return err
			}
		}
	}
	return nil
}
