package model

import (
	"context"
	"errors"
	"slices"
	"testing"

	"glassbox/tensor"
)

// cancelAfter is a tracer that cancels a context once it has seen the
// residual stream of layer stop, and counts the layers it saw.
type cancelAfter struct {
	pos    int // the first position of the pass
	stop   int
	cancel context.CancelFunc
	layers int
}

func (c *cancelAfter) Position(int) bool                              { return true }
func (c *cancelAfter) Attention(layer, head, pos int, w, o []float32) {}
func (c *cancelAfter) Residual(layer, pos int, x []float32) {
	if pos == c.pos {
		c.layers++
	}
	if layer == c.stop {
		c.cancel()
	}
}

// TestForwardContext checks that a cancelled forward pass stops at the next
// layer, leaves the logits alone, and that running the same positions again
// gives the logits of an uninterrupted pass.
func TestForwardContext(t *testing.T) {
	m := openModel(t, "gguf", "stories260K-f32.gguf")
	tokens := []int{1, 403, 407, 261, 378, 300, 290}
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		ref, err := m.NewState(StateOptions{Context: 32, KVType: kv})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, m.Config.VocabSize)
		if err := m.Forward(ref, tokens, 0, want); err != nil {
			t.Fatal(err)
		}

		st, err := m.NewState(StateOptions{Context: 32, KVType: kv})
		if err != nil {
			t.Fatal(err)
		}
		// already cancelled: nothing runs
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		logits := make([]float32, m.Config.VocabSize)
		if err := m.ForwardContext(ctx, st, tokens, 0, logits); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: cancelled context: err %v", kv, err)
		}
		// cancelled after layer 1 of 5: layer 2 never runs
		if err := m.Forward(st, tokens[:3], 0, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel = context.WithCancel(context.Background())
		tr := &cancelAfter{pos: 3, stop: 1, cancel: cancel}
		st.Tracer = tr
		err = m.ForwardContext(ctx, st, tokens[3:], 3, logits)
		st.Tracer = nil
		if !errors.Is(err, context.Canceled) || tr.layers != 2 {
			t.Fatalf("%s: cancelled after layer 1: err %v after %d layers", kv, err, tr.layers)
		}
		if slices.ContainsFunc(logits, func(x float32) bool { return x != 0 }) {
			t.Errorf("%s: an interrupted pass wrote logits", kv)
		}
		// the positions before 3 are intact: running 3… again matches
		if err := m.Forward(st, tokens[3:], 3, logits); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(logits, want) {
			t.Errorf("%s: logits after an interrupted pass differ from an uninterrupted one", kv)
		}
	}
}
