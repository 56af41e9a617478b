package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"glassbox/tensor"
)

// TestForwardMultiEqualsAlone processes the prompts of several sequences in
// chunks (of their states' batch) together with the decode steps of the
// sequences already past their prompts, several chunks per ForwardMulti
// pass, sequences joining at different rounds, and checks that every
// sequence's logits — after its prompt and after each decoded token — are bit
// for bit those of running it alone with Forward, for every architecture,
// weight type and KV cache type.
func TestForwardMultiEqualsAlone(t *testing.T) {
	types := []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1, tensor.Q8_0}
	archs := Architectures
	if testing.Short() {
		types = []tensor.Type{tensor.F16, tensor.Q4_0, tensor.Q8_0}
		archs = archs[:1]
	}
	for _, arch := range archs {
		for _, typ := range types {
			m := batchModel(t, arch, typ)
			for _, kv := range []struct{ v, k tensor.Type }{{tensor.F32, 0}, {tensor.F16, 0}, {tensor.F16, tensor.Q8_0}} {
				name := fmt.Sprintf("%s/%s/kv%s", arch, typ, kv.v)
				if kv.k != 0 {
					name += fmt.Sprintf("/k%s", kv.k)
				}
				t.Run(name, func(t *testing.T) {
					checkMultiEqualsAlone(t, m, kv.v, kv.k)
				})
			}
		}
	}
}

func checkMultiEqualsAlone(t *testing.T, m *Model, kv, key tensor.Type) {
	const batch, decode = 8, 4
	lens := []int{1, 5, 8, 13, 20, 3, 17}
	start := []int{0, 0, 1, 0, 2, 3, 1} // the round each sequence joins
	vocab := m.Config.VocabSize
	rng := rand.New(rand.NewPCG(5, 6))
	n := len(lens)
	opt := StateOptions{Context: 128, Batch: batch, KVType: kv, KeyType: key}
	// alone: the prompt whole (Forward cuts it into chunks of the batch),
	// then decode steps of the argmax
	want := make([][][]float32, n)
	prompts := make([][]int, n)
	for i, l := range lens {
		prompts[i] = make([]int, l)
		for j := range prompts[i] {
			prompts[i][j] = rng.IntN(vocab)
		}
		s, err := m.NewState(opt)
		if err != nil {
			t.Fatal(err)
		}
		logits := make([]float32, vocab)
		if err := m.Forward(s, prompts[i], 0, logits); err != nil {
			t.Fatal(err)
		}
		want[i] = append(want[i], logits)
		for d := range decode {
			next := make([]float32, vocab)
			if err := m.Forward(s, []int{argmax(logits)}, l+d, next); err != nil {
				t.Fatal(err)
			}
			want[i] = append(want[i], next)
			logits = next
		}
	}
	// together: each round, every sequence that has joined hands in its next
	// prompt chunk or decode token
	states := make([]*State, n)
	for i := range states {
		var err error
		if states[i], err = m.NewState(opt); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.NewBatch(n)
	if err != nil {
		t.Fatal(err)
	}
	pos := make([]int, n)
	got := make([][][]float32, n)
	for round := 0; ; round++ {
		var chunks []SeqChunk
		var who []int
		for i := range n {
			if round < start[i] || len(got[i]) == decode+1 {
				continue
			}
			ch := SeqChunk{State: states[i], Pos: pos[i]}
			if pos[i] < lens[i] {
				end := min(pos[i]+batch, lens[i])
				ch.Tokens = prompts[i][pos[i]:end]
				if end == lens[i] {
					ch.Logits = make([]float32, vocab)
				}
			} else {
				last := got[i][len(got[i])-1]
				ch.Tokens = []int{argmax(last)}
				ch.Logits = make([]float32, vocab)
			}
			chunks = append(chunks, ch)
			who = append(who, i)
		}
		if len(chunks) == 0 {
			break
		}
		if err := m.ForwardMulti(b, chunks); err != nil {
			t.Fatal(err)
		}
		for k, i := range who {
			pos[i] += len(chunks[k].Tokens)
			if chunks[k].Logits != nil {
				got[i] = append(got[i], chunks[k].Logits)
			}
		}
	}
	for i := range n {
		for d := range want[i] {
			for j := range want[i][d] {
				if math.Float32bits(want[i][d][j]) != math.Float32bits(got[i][d][j]) {
					t.Fatalf("sequence %d (prompt %d), step %d, logit %d: together %g, alone %g", i, lens[i], d, j, got[i][d][j], want[i][d][j])
				}
			}
		}
	}
}

// TestForwardMultiErrors checks that malformed chunks are refused before
// anything runs, and that a pass whose requests are all cancelled stops.
func TestForwardMultiErrors(t *testing.T) {
	m := batchModel(t, "llama", tensor.F32)
	s1, _ := m.NewState(StateOptions{Context: 16, Batch: 4})
	s2, _ := m.NewState(StateOptions{Context: 16, Batch: 4})
	b, _ := m.NewBatch(2)
	v := m.Config.VocabSize
	one := []int{1}
	for _, tt := range []struct {
		name   string
		chunks []SeqChunk
		want   string
	}{
		{"no chunks", nil, "no sequences"},
		{"too many", []SeqChunk{{State: s1, Tokens: one}, {State: s2, Tokens: one}, {State: s1, Tokens: one}}, "the batch holds 2"},
		{"no state", []SeqChunk{{Tokens: one}}, "no state of this model"},
		{"no tokens", []SeqChunk{{State: s1}}, "no tokens"},
		{"beyond the batch", []SeqChunk{{State: s1, Tokens: make([]int, 5)}}, "more than its batch of 4"},
		{"position", []SeqChunk{{State: s1, Tokens: one, Pos: 16}}, "do not fit the context of 16"},
		{"token", []SeqChunk{{State: s1, Tokens: []int{v}}}, "outside the vocabulary"},
		{"logits", []SeqChunk{{State: s1, Tokens: one, Logits: make([]float32, 3)}}, "logits has 3 values"},
		{"shared state", []SeqChunk{{State: s1, Tokens: one}, {State: s1, Tokens: one, Pos: 1}}, "share a state"},
	} {
		err := m.ForwardMulti(b, tt.chunks)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	if err := m.ForwardMulti(b, []SeqChunk{{State: s1, Tokens: one, Ctx: ctx}, {State: s2, Tokens: one, Ctx: ctx}}); err != context.Canceled {
		t.Errorf("all cancelled: %v, want context.Canceled", err)
	}
	if err := m.ForwardMulti(b, []SeqChunk{{State: s1, Tokens: one, Ctx: ctx}, {State: s2, Tokens: one, Ctx: live}}); err != nil {
		t.Errorf("one of two cancelled: %v, want the pass to run", err)
	}
}
