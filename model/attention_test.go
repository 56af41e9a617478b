package model

import (
	"math"
	"testing"

	"glassbox/tensor"
)

// TestAttentionThreads checks that spreading attention (and the products)
// over 2 and 3 threads gives bit-identical logits to 1 thread, for both KV
// cache types, batched and one token at a time.
func TestAttentionThreads(t *testing.T) {
	m := openModel(t, "llama2c", "stories260K.bin")
	defer tensor.SetThreads(tensor.Threads())
	defer func(v int) { attnParallelMin = v }(attnParallelMin)
	attnParallelMin = 0 // spread even this small model's steps over the pool
	ids := []int{1, 403, 411, 294, 136, 260, 281, 471, 29, 58, 262, 10, 400, 308, 27, 103}
	vocab := m.Config.VocabSize
	run := func(kv tensor.Type, batch int) []float32 {
		st, err := m.NewState(StateOptions{KVType: kv, Batch: batch, Context: 64})
		if err != nil {
			t.Fatal(err)
		}
		all := make([]float32, len(ids)*vocab)
		if batch == 1 {
			for p, id := range ids {
				if err := m.Forward(st, []int{id}, p, all[p*vocab:(p+1)*vocab]); err != nil {
					t.Fatal(err)
				}
			}
			return all
		}
		if err := m.Forward(st, ids, 0, all); err != nil {
			t.Fatal(err)
		}
		return all
	}
	tests := []struct {
		kv    tensor.Type
		batch int
	}{{tensor.F32, 1}, {tensor.F32, 16}, {tensor.F16, 1}, {tensor.F16, 5}, {tensor.F16, 16}}
	for _, tc := range tests {
		tensor.SetThreads(1)
		want := run(tc.kv, tc.batch)
		for _, threads := range []int{2, 3} {
			tensor.SetThreads(threads)
			got := run(tc.kv, tc.batch)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("kv %s batch %d threads %d: logit %d of token %d is %g, 1 thread gives %g",
						tc.kv, tc.batch, threads, i%vocab, i/vocab, got[i], want[i])
					break
				}
			}
		}
	}
}

// TestDecodeNoAlloc checks that a decode step (one token, logits of it) on 2
// threads allocates nothing once the state exists.
func TestDecodeNoAlloc(t *testing.T) {
	m := openModel(t, "gguf", "stories260K-f32.gguf")
	defer tensor.SetThreads(tensor.Threads())
	tensor.SetThreads(2)
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		st, err := m.NewState(StateOptions{KVType: kv, Context: 256})
		if err != nil {
			t.Fatal(err)
		}
		logits := make([]float32, m.Config.VocabSize)
		pos := 0
		step := func() {
			if err := m.Forward(st, []int{pos%100 + 1}, pos, logits); err != nil {
				t.Fatal(err)
			}
			pos++
		}
		step() // warm the pools
		if a := testing.AllocsPerRun(100, step); a != 0 {
			t.Errorf("kv %s: a 2-thread decode step allocates %.2f times, want 0", kv, a)
		}
	}
}

// TestCacheReuse checks that a state that held a longer sequence gives, for a
// new shorter sequence from position 0, exactly the logits of a fresh state:
// the value cells the old sequence left behind must not leak into the
// attention (an F16 value that overflowed to infinity would turn a zero
// weight into NaN).
func TestCacheReuse(t *testing.T) {
	m := openModel(t, "llama2c", "stories260K.bin")
	vocab := m.Config.VocabSize
	long := []int{1, 403, 411, 294, 136, 260, 281, 471, 29, 58, 262, 10, 400, 308, 27, 103, 7, 9, 11, 13}
	short := []int{1, 58, 262, 10, 400}
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		for _, batch := range []int{1, len(short)} {
			fresh, err := m.NewState(StateOptions{KVType: kv, Batch: len(long), Context: 32})
			if err != nil {
				t.Fatal(err)
			}
			reused, err := m.NewState(StateOptions{KVType: kv, Batch: len(long), Context: 32})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Forward(reused, long, 0, make([]float32, vocab)); err != nil {
				t.Fatal(err)
			}
			if kv == tensor.F16 {
				// make the stale cells as hostile as they can be
				for l := range reused.vh {
					for j, pg := range reused.vh[l] {
						for i := range pg {
							if c := j*reused.page + i%reused.page; c >= len(short) && c < len(long) {
								pg[i] = 0x7c00 // +Inf
							}
						}
					}
				}
			}
			run := func(st *State) []float32 {
				out := make([]float32, vocab)
				if batch == 1 {
					for p, id := range short {
						if err := m.Forward(st, []int{id}, p, out); err != nil {
							t.Fatal(err)
						}
					}
					return out
				}
				if err := m.Forward(st, short, 0, out); err != nil {
					t.Fatal(err)
				}
				return out
			}
			want, got := run(fresh), run(reused)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("kv %s batch %d: logit %d after reuse is %g, fresh state gives %g", kv, batch, i, got[i], want[i])
				}
			}
		}
	}
}

// TestHadamard checks the key rotation: orthonormal (applying it twice gives
// back the input within rounding, dot products are kept), a known transform
// of a unit vector, and the sizes llama.cpp picks.
func TestHadamard(t *testing.T) {
	for _, tc := range []struct{ hd, want int }{{32, 0}, {48, 0}, {64, 64}, {96, 0}, {128, 128}, {192, 64}, {256, 256}} {
		if got := keyRotation(tc.hd); got != tc.want {
			t.Errorf("keyRotation(%d) = %d, want %d", tc.hd, got, tc.want)
		}
	}
	// e_0 maps to the constant row 1/√n
	e := make([]float32, 64)
	e[0] = 1
	h := make([]float32, 64)
	hadamard(h, e, 64)
	for i, v := range h {
		if v != 0.125 {
			t.Fatalf("H·e0[%d] = %g, want 0.125", i, v)
		}
	}
	x, y := make([]float32, 256), make([]float32, 256)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * float32(i%7+1)
		y[i] = float32(math.Cos(float64(i) * 1.3))
	}
	for _, n := range []int{64, 128, 256} {
		hx, hy, back := make([]float32, 256), make([]float32, 256), make([]float32, 256)
		hadamard(hx, x, n)
		hadamard(hy, y, n)
		hadamard(back, hx, n)
		for i := range x {
			if math.Abs(float64(back[i]-x[i])) > 1e-5 {
				t.Fatalf("n %d: H·H·x[%d] = %g, want %g", n, i, back[i], x[i])
			}
		}
		var d0, d1 float64
		for i := range x {
			d0 += float64(x[i]) * float64(y[i])
			d1 += float64(hx[i]) * float64(hy[i])
		}
		if math.Abs(d0-d1) > 1e-4 {
			t.Errorf("n %d: x·y %g, Hx·Hy %g", n, d0, d1)
		}
	}
}
