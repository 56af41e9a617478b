package model

import "fmt"

// Embed runs tokens through the model from position 0 and returns the mean
// over all tokens of the final hidden state (after the output norm): a
// sentence embedding from a decoder-only model. The state's cache is
// overwritten.
func (m *Model) Embed(s *State, tokens []int) ([]float32, error) {
	c := &m.Config
	if len(tokens) == 0 {
		return nil, fmt.Errorf("embed: no tokens")
	}
	if len(tokens) > s.ctx {
		return nil, fmt.Errorf("embed: %d tokens do not fit the context of %d (%d too many)", len(tokens), s.ctx, len(tokens)-s.ctx)
	}
	sum := make([]float64, c.Dim)
	normed := make([]float32, c.Dim)
	for start := 0; start < len(tokens); start += s.batch {
		chunk := tokens[start:min(start+s.batch, len(tokens))]
		if err := m.Forward(s, chunk, start, nil); err != nil {
			return nil, err
		}
		for i := range chunk {
			rmsNorm(normed, s.x[i*c.Dim:(i+1)*c.Dim], m.OutputNorm, c.NormEps)
			for j, v := range normed {
				sum[j] += float64(v)
			}
		}
	}
	out := make([]float32, c.Dim)
	for j, v := range sum {
		out[j] = float32(v / float64(len(tokens)))
	}
	return out, nil
}
