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
