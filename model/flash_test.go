package model

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"glassbox/tensor"
)

// flashPrompt is a fixed token sequence for the flash-attention tests (ids
// below 512, the vocabulary of the d256 fixtures).
func flashPrompt(n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = (i*37 + 11) % 500
	}
	ids[0] = 1
	return ids
}

// runLogits runs ids through a fresh state of opt (prompt in batches of
// opt.Batch, then one token at a time for the last decode tokens) and
// returns the logits of every position.
func runLogits(t *testing.T, m *Model, opt StateOptions, ids []int, decode int) []float32 {
	t.Helper()
	st, err := m.NewState(opt)
	if err != nil {
		t.Fatal(err)
	}
	vocab := m.Config.VocabSize
	all := make([]float32, len(ids)*vocab)
	np := len(ids) - decode
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

// TestFlashAttentionCloseToSoftmax checks flash attention against the
// softmax path on every cache-type pair it supports, for a prompt through
// each kernel (one chunk below 64 tokens, tiled from 64 on) and decode
// steps: the logits agree within what the cache types' rounding allows, and
// a second run gives the same bits.
func TestFlashAttentionCloseToSoftmax(t *testing.T) {
	m := openModel(t, "gguf", "random-llama-d256-F16.gguf")
	ids := flashPrompt(90)
	base := runLogits(t, m, StateOptions{KVType: tensor.F16, Batch: 80, Context: 128}, ids, 10)
	tests := []struct {
		k, v  tensor.Type
		batch int
		tol   float64
	}{
		// F16 accumulators round at every cell; quantized caches move the
		// logits of this random-weight model by up to a few tenths
		{tensor.F16, tensor.F16, 80, 0.03},
		{tensor.F16, tensor.F16, 16, 0.03},
		{tensor.Q8_0, tensor.F16, 80, 0.15},
		{tensor.F16, tensor.Q8_0, 80, 0.15},
		{tensor.Q8_0, tensor.Q8_0, 80, 0.15},
		{tensor.Q4_0, tensor.Q4_0, 80, 1.5},
	}
	for _, tc := range tests {
		opt := StateOptions{KVType: tc.v, KeyType: tc.k, FlashAttn: true, Batch: tc.batch, Context: 128}
		got := runLogits(t, m, opt, ids, 10)
		again := runLogits(t, m, opt, ids, 10)
		var worst float64
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i]-base[i])))
			if math.Float32bits(got[i]) != math.Float32bits(again[i]) {
				t.Fatalf("K %s V %s: logit %d differs between two runs", tc.k, tc.v, i)
			}
		}
		if worst > tc.tol || worst == 0 && tc.v != tensor.F16 {
			t.Errorf("K %s V %s batch %d: largest logit difference from the softmax path %g, want (0, %g]", tc.k, tc.v, tc.batch, worst, tc.tol)
		}
	}
}

// TestFlashAttentionOptions checks the cache types flash attention accepts
// and the errors of the others.
func TestFlashAttentionOptions(t *testing.T) {
	m := openModel(t, "gguf", "random-llama-d256-F16.gguf")
	tests := []struct {
		opt  StateOptions
		want string // "" = accepted
	}{
		{StateOptions{KVType: tensor.Q8_0}, "needs flash attention"},
		{StateOptions{KVType: tensor.Q4_0, KeyType: tensor.Q4_0}, "needs flash attention"},
		{StateOptions{KVType: tensor.F32, FlashAttn: true}, "F32 KV cache"},
		{StateOptions{KVType: tensor.Q5_0, FlashAttn: true}, "not supported"},
		{StateOptions{KVType: tensor.Q8_0, FlashAttn: true}, ""},
		{StateOptions{KVType: tensor.Q8_0, KeyType: tensor.F16, FlashAttn: true}, ""},
		{StateOptions{KVType: tensor.Q4_0, KeyType: tensor.Q8_0, FlashAttn: true}, ""},
		{StateOptions{KVType: tensor.F16, KeyType: tensor.Q4_0, FlashAttn: true}, ""},
	}
	for _, tc := range tests {
		tc.opt.Context = 64
		err := m.CheckStateOptions(tc.opt)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.opt, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want one containing %q", tc.opt, err, tc.want)
		}
	}
}

// weightTracer records every head's attention weights and output at the
// positions it is asked for.
type weightTracer struct {
	pos     int
	weights map[[2]int][]float32 // (layer, head) → weights
	outs    map[[2]int][]float32
}

func (w *weightTracer) Position(p int) bool { return p == w.pos }
func (w *weightTracer) Attention(l, h, p int, weights, out []float32) {
	w.weights[[2]int{l, h}] = append([]float32(nil), weights...)
	w.outs[[2]int{l, h}] = append([]float32(nil), out...)
}
func (w *weightTracer) Residual(int, int, []float32) {}

// TestFlashAttentionTraceWeights checks that the weights a traced flash
// attention step reports are the ones its values were multiplied by: with
// the cached values (as the attention reads them) they give the head's
// output, they sum to 1, and they are the softmax path's weights but for
// rounding. The logits of a traced run equal an untraced one's.
func TestFlashAttentionTraceWeights(t *testing.T) {
	m := openModel(t, "gguf", "random-llama-d256-F16.gguf")
	c := &m.Config
	ids := flashPrompt(70)
	for _, tc := range []struct {
		k, v  tensor.Type
		batch int
		tol   float64 // on Σ w·v against the output
	}{
		{tensor.F16, tensor.F16, 70, 1e-5},   // tiled
		{tensor.F16, tensor.F16, 8, 5e-3},    // one chunk, F16 accumulator (rounded at every cell)
		{tensor.Q8_0, tensor.Q8_0, 70, 1e-5}, // one chunk, F32 accumulator
		{tensor.Q4_0, tensor.Q4_0, 70, 1e-5},
	} {
		var fa, ref *weightTracer
		for _, flash := range []bool{true, false} {
			tr := &weightTracer{pos: len(ids) - 1, weights: map[[2]int][]float32{}, outs: map[[2]int][]float32{}}
			opt := StateOptions{KVType: tc.v, KeyType: tc.k, FlashAttn: flash, Batch: tc.batch, Context: 96}
			if !flash {
				opt = StateOptions{KVType: tensor.F32, Batch: tc.batch, Context: 96}
			}
			st, err := m.NewState(opt)
			if err != nil {
				t.Fatal(err)
			}
			st.Tracer = tr
			logits := make([]float32, c.VocabSize)
			for p := 0; p < len(ids); p += tc.batch {
				end := min(p+tc.batch, len(ids))
				if err := m.Forward(st, ids[p:end], p, logits); err != nil {
					t.Fatal(err)
				}
			}
			if !flash {
				ref = tr
				continue
			}
			fa = tr
			plain := runLogitsBatched(t, m, opt, ids)
			for i := range logits {
				if math.Float32bits(logits[i]) != math.Float32bits(plain[i]) {
					t.Fatalf("K %s V %s: traced logit %d is %g, untraced %g", tc.k, tc.v, i, logits[i], plain[i])
				}
			}
			// Σ w·v against the output, with the values as cached
			v := make([]float32, c.ValueDim)
			for key, w := range tr.weights {
				l, h := key[0], key[1]
				kvh := h / (c.Heads / c.KVHeads)
				sum := make([]float64, c.ValueDim)
				var total float64
				for p, wt := range w {
					st.CachedValue(l, p, kvh, v)
					for i := range sum {
						sum[i] += float64(wt) * float64(v[i])
					}
					total += float64(wt)
				}
				if math.Abs(total-1) > 1e-5 {
					t.Errorf("K %s V %s layer %d head %d: weights sum to %g", tc.k, tc.v, l, h, total)
				}
				out := tr.outs[key]
				for i := range sum {
					if d := math.Abs(sum[i] - float64(out[i])); d > tc.tol {
						t.Errorf("K %s V %s layer %d head %d: Σ w·v[%d] = %g, the output is %g", tc.k, tc.v, l, h, i, sum[i], out[i])
						break
					}
				}
			}
		}
		for key, w := range fa.weights {
			for p, wt := range w {
				if d := math.Abs(float64(wt - ref.weights[key][p])); d > 0.05 {
					t.Errorf("K %s V %s %v: weight of position %d is %g, the softmax path's %g", tc.k, tc.v, key, p, wt, ref.weights[key][p])
					break
				}
			}
		}
	}
}

// runLogitsBatched runs ids in batches of opt.Batch through a fresh state and
// returns the last position's logits.
func runLogitsBatched(t *testing.T, m *Model, opt StateOptions, ids []int) []float32 {
	t.Helper()
	st, err := m.NewState(opt)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, m.Config.VocabSize)
	for p := 0; p < len(ids); p += opt.Batch {
		end := min(p+opt.Batch, len(ids))
		if err := m.Forward(st, ids[p:end], p, logits); err != nil {
			t.Fatal(err)
		}
	}
	return logits
}

// TestFlashSplitOneThread checks that the split kernel on one thread is the
// one-chunk kernel (llama.cpp's split path then has one partial, merged
// exactly), and that on two threads it stays close to it.
func TestFlashSplitOneThread(t *testing.T) {
	m := openModel(t, "gguf", "random-llama-d256-F16.gguf")
	defer tensor.SetThreads(tensor.Threads())
	ids := flashPrompt(300)
	opt := StateOptions{KVType: tensor.F16, FlashAttn: true, Batch: 32, Context: 640}
	tensor.SetThreads(1)
	split := runLogits(t, m, opt, ids, 10) // decode past 256: 512 cells, split
	defer func(v int) { splitMin = v }(splitMin)
	splitMin = 1 << 30
	chunk := runLogits(t, m, opt, ids, 10)
	for i := range split {
		if math.Float32bits(split[i]) != math.Float32bits(chunk[i]) {
			t.Fatalf("logit %d: split kernel on 1 thread %g, one chunk %g", i, split[i], chunk[i])
		}
	}
	splitMin = faSplitMin
	tensor.SetThreads(2)
	two := runLogits(t, m, opt, ids, 10)
	var worst float64
	for i := range two {
		worst = max(worst, math.Abs(float64(two[i]-chunk[i])))
	}
	// head by head (a tracer that records nothing) as in groups
	st, err := m.NewState(opt)
	if err != nil {
		t.Fatal(err)
	}
	st.Tracer = &weightTracer{pos: -1}
	vocab := m.Config.VocabSize
	one := make([]float32, len(ids)*vocab)
	if err := m.Forward(st, ids[:290], 0, one[:290*vocab]); err != nil {
		t.Fatal(err)
	}
	for p := 290; p < len(ids); p++ {
		if err := m.Forward(st, ids[p:p+1], p, one[p*vocab:(p+1)*vocab]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range two {
		if math.Float32bits(two[i]) != math.Float32bits(one[i]) {
			t.Fatalf("logit %d on 2 threads: %g with the heads of a KV head together, %g head by head", i, two[i], one[i])
		}
	}
	if worst > 0.03 {
		t.Errorf("split kernel on 2 threads: largest logit difference %g from 1 thread", worst)
	}
}

// TestFlashTiledPackedKeys checks that the tiled kernel gives the same bits
// from the transposed float32 keys (TileScores) as from the F16 cache one
// fused multiply-add at a time, on a prompt of two steps of 80 tokens.
func TestFlashTiledPackedKeys(t *testing.T) {
	m := openModel(t, "gguf", "random-llama-d256-F16.gguf")
	ids := flashPrompt(160)
	opt := StateOptions{KVType: tensor.F16, FlashAttn: true, Batch: 80, Context: 192}
	packed := runLogits(t, m, opt, ids, 0)
	defer func() { noPackedKeys = false }()
	noPackedKeys = true
	plain := runLogits(t, m, opt, ids, 0)
	for i := range packed {
		if math.Float32bits(packed[i]) != math.Float32bits(plain[i]) {
			t.Fatalf("logit %d: %g from the packed keys, %g from the cache", i, packed[i], plain[i])
		}
	}
}

// TestFlashStateRoundTrip checks WriteKV/ReadKV with flash attention's
// caches (F16 rows, quantized values): a state read back continues exactly
// as the one written, and an F16 cache's bytes are those of the softmax
// path's layout (the values in the same transposed order: layer 0, which
// no attention output feeds, is the same bytes).
func TestFlashStateRoundTrip(t *testing.T) {
	m := openModel(t, "gguf", "random-llama-d256-F16.gguf")
	ids := flashPrompt(40)
	vocab := m.Config.VocabSize
	var files [][]byte
	for _, opt := range []StateOptions{
		{KVType: tensor.F16, FlashAttn: true},
		{KVType: tensor.Q8_0, KeyType: tensor.F16, FlashAttn: true},
		{KVType: tensor.Q4_0, KeyType: tensor.Q4_0, FlashAttn: true},
		{KVType: tensor.F16},
	} {
		opt.Context, opt.Batch = 64, 16
		a, err := m.NewState(opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Forward(a, ids[:30], 0, nil); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := a.WriteKV(&buf, 30); err != nil {
			t.Fatal(err)
		}
		if int64(buf.Len()) != a.KVBytes(30) {
			t.Errorf("%+v: wrote %d bytes, KVBytes says %d", opt, buf.Len(), a.KVBytes(30))
		}
		files = append(files, append([]byte(nil), buf.Bytes()...))
		b, err := m.NewState(opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.ReadKV(&buf, 30); err != nil {
			t.Fatal(err)
		}
		la, lb := make([]float32, 10*vocab), make([]float32, 10*vocab)
		if err := m.Forward(a, ids[30:], 30, la); err != nil {
			t.Fatal(err)
		}
		if err := m.Forward(b, ids[30:], 30, lb); err != nil {
			t.Fatal(err)
		}
		for i := range la {
			if math.Float32bits(la[i]) != math.Float32bits(lb[i]) {
				t.Fatalf("%+v: logit %d after reading the cache back: %g, want %g", opt, i, lb[i], la[i])
			}
		}
	}
	// layer 0's keys and values do not depend on the attention kernel
	n0 := 30 * (m.Config.KVDim() + m.Config.VDim()) * 2
	if !bytes.Equal(files[0][:n0], files[3][:n0]) {
		t.Errorf("layer 0 of an F16 cache written with flash attention differs from the softmax path's")
	}
}
