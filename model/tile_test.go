package model_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"glassbox/gguf"
	"glassbox/internal/synth"
	"glassbox/model"
	"glassbox/tensor"
)

// TestTiledBatchAttention checks that a prompt's attention computed four
// tokens by four keys at a time (attendTile) gives the logits of the
// token-by-token batch path bit for bit: plain heads, a sliding window with
// soft-capped scores (gemma2), attention sinks with a window (gpt-oss),
// several pages, batches that do not fill the last block of four, prompts
// over several batches, and a few decode steps after them.
func TestTiledBatchAttention(t *testing.T) {
	defer model.SetTileAttention(model.SetTileAttention(true))
	tiny := synth.Shapes["tiny"]
	tiny.Context = 512
	gpt := synth.Shapes["tinygptoss"]
	gpt.Context = 512
	models := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"tiny", func(b *bytes.Buffer) error { return synth.Write(b, tiny, tensor.F16, 3) }},
		{"gemma2", func(b *bytes.Buffer) error { return synth.WriteGemma2(b) }},
		{"gptoss", func(b *bytes.Buffer) error { return synth.Write(b, gpt, tensor.Q8_0, 5) }},
	}
	for _, mc := range models {
		m := writtenModel(t, mc.write)
		vocab := m.Config.VocabSize
		ids := make([]int, 150)
		for i := range ids {
			ids[i] = (i*37 + 11) % vocab
		}
		for _, tc := range []struct{ ctx, batch, page int }{
			{200, 16, 64}, {200, 7, 64}, {150, 3, 128}, {300, 64, 256}, {160, 150, 64},
		} {
			t.Run(fmt.Sprintf("%s/ctx%d/batch%d/page%d", mc.name, tc.ctx, tc.batch, tc.page), func(t *testing.T) {
				run := func(tiled bool) []float32 {
					model.SetTileAttention(tiled)
					st, err := m.NewState(model.StateOptions{KVType: tensor.F16, Context: tc.ctx, Batch: tc.batch, PageSize: tc.page})
					if err != nil {
						t.Fatal(err)
					}
					const decode = 3
					np := len(ids) - decode
					all := make([]float32, len(ids)*vocab)
					if err := m.Forward(st, ids[:np], 0, all[:np*vocab]); err != nil {
						t.Fatal(err)
					}
					for p := np; p < len(ids); p++ {
						if err := m.Forward(st, ids[p:p+1], p, all[p*vocab:(p+1)*vocab]); err != nil {
							t.Fatal(err)
						}
					}
					return all
				}
				want, got := run(false), run(true)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("logit %d of token %d: tiled %g, per token %g", i%vocab, i/vocab, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestTiledValuesNonFinite checks the tiled attention against the token at
// a time one when a value in the batch is infinite or NaN: the token
// blocks before it must still sum over its cell (a zero weight times an
// infinite value is NaN, as in llama.cpp), while a batch of finite values
// leaves out the cells past each block.
func TestTiledValuesNonFinite(t *testing.T) {
	defer model.SetTileAttention(model.SetTileAttention(true))
	tiny := synth.Shapes["tiny"]
	tiny.Context = 128
	m := writtenModel(t, func(b *bytes.Buffer) error { return synth.Write(b, tiny, tensor.F16, 3) })
	c := m.Config
	qDim, kvDim, vDim := c.QDim(), c.KVDim(), c.VDim()
	const b = 48
	rng := rand.New(rand.NewPCG(3, 4))
	q := make([]float32, b*qDim)
	k := make([]float32, b*kvDim)
	v := make([]float32, b*vDim)
	for _, s := range [][]float32{q, k, v} {
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
	}
	for _, bad := range []float32{0, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 70000} {
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			vb := slices.Clone(v)
			if bad != 0 {
				vb[40*vDim+3] = bad // position 40, one component of the first head
			}
			run := func(tiled bool) []float32 {
				model.SetTileAttention(tiled)
				st, err := m.NewState(model.StateOptions{KVType: tensor.F16, Context: 128, Batch: b, PageSize: 64})
				if err != nil {
					t.Fatal(err)
				}
				if err := st.Grow(context.Background(), b); err != nil {
					t.Fatal(err)
				}
				for p := range b {
					st.StoreKV(0, p, k[p*kvDim:(p+1)*kvDim], vb[p*vDim:(p+1)*vDim])
				}
				att := make([]float32, b*qDim)
				st.Attend(0, 0, b, q, att)
				return att
			}
			want, got := run(false), run(true)
			nan := 0
			for i := range want {
				if math.IsNaN(float64(want[i])) {
					nan++
				}
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
					t.Fatalf("output %d of token %d: tiled %g, per token %g", i%qDim, i/qDim, got[i], want[i])
				}
			}
			if bad != 0 && nan == 0 {
				t.Fatal("no NaN output: the infinite value was not summed with a zero weight")
			}
		})
	}
}

// writtenModel loads the GGUF file that write produces.
func writtenModel(t *testing.T, write func(*bytes.Buffer) error) *model.Model {
	t.Helper()
	var file bytes.Buffer
	if err := write(&file); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(file.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
