package train

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"
	"testing"
)

// tinyRecipe is a small model over a synthetic stream, fast enough for unit tests.
func tinyRecipe() Recipe {
	r := DefaultRecipe()
	r.Model = ModelConfig{Vocab: 300, Dim: 16, Layers: 2, Heads: 4, KVHeads: 2, Hidden: 32, Context: 16, RopeTheta: 10000, NormEps: 1e-5}
	r.Tokenizer.VocabSize = 300
	r.Steps, r.BatchSeqs, r.Accum = 12, 3, 2
	r.EvalEvery, r.EvalSeqs, r.CheckpointEvery = 4, 4, 0
	r.Optim.WarmupSteps = 3
	return r
}

func syntheticStream(n, vocab int, seed uint64) []int32 {
	rng := NewRNG(seed, 7)
	s := make([]int32, n)
	for i := range s {
		// A learnable pattern with noise: mostly counting upwards.
		if i > 0 && rng.Intn(4) != 0 {
			s[i] = (s[i-1] + 1) % int32(vocab)
		} else {
			s[i] = int32(rng.Intn(vocab))
		}
	}
	return s
}

func weightHash(m *Model[float32]) string {
	h := sha256.New()
	for _, p := range m.Params {
		for _, v := range p.T.Data {
			b := [4]byte{}
			u := mathFloat32bits(v)
			b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestDeterministicAcrossThreads trains the same recipe with 1, 2 and 3
// goroutines: the weights must be bit-identical.
func TestDeterministicAcrossThreads(t *testing.T) {
	r := tinyRecipe()
	stream := syntheticStream(4000, r.Model.Vocab, 1)
	var want string
	for _, threads := range []int{1, 2, 3} {
		tr, err := NewTrainer(r, stream[:3000], stream[3000:])
		if err != nil {
			t.Fatal(err)
		}
		tr.Threads = threads
		if err := tr.Run(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		got := weightHash(tr.Model)
		if want == "" {
			want = got
		} else if got != want {
			t.Fatalf("threads=%d: weights %s differ from threads=1: %s", threads, got, want)
		}
	}
}

// TestResumeExact trains N steps straight, and k steps + checkpoint + resume
// + N−k steps: the checkpoints' bytes must be identical.
func TestResumeExact(t *testing.T) {
	r := tinyRecipe()
	stream := syntheticStream(4000, r.Model.Vocab, 2)
	straight, err := NewTrainer(r, stream[:3000], stream[3000:])
	if err != nil {
		t.Fatal(err)
	}
	if err := straight.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := straight.WriteCheckpoint(&want); err != nil {
		t.Fatal(err)
	}
	first, err := NewTrainer(r, stream[:3000], stream[3000:])
	if err != nil {
		t.Fatal(err)
	}
	for first.Step() < 5 {
		p, err := first.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		if p.Step%r.EvalEvery == 0 {
			p.ValLoss, _ = first.ValLoss()
		}
		first.Curve = append(first.Curve, p)
	}
	var ck bytes.Buffer
	if err := first.WriteCheckpoint(&ck); err != nil {
		t.Fatal(err)
	}
	second, err := NewTrainer(r, stream[:3000], stream[3000:])
	if err != nil {
		t.Fatal(err)
	}
	if err := second.ReadCheckpoint(bytes.NewReader(ck.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := second.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := second.WriteCheckpoint(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("resumed checkpoint (%d bytes, weights %s) differs from the uninterrupted one (%d bytes, weights %s)",
			got.Len(), weightHash(second.Model), want.Len(), weightHash(straight.Model))
	}
}

func mathFloat32bits(f float32) uint32 { return math.Float32bits(f) }

// TestProgressBar checks the progress line: step, loss, validation loss,
// tokens/s and ETA, redrawn with a carriage return.
func TestProgressBar(t *testing.T) {
	r := tinyRecipe()
	r.Steps = 4
	tr, err := NewTrainer(r, syntheticStream(1000, r.Model.Vocab, 4), syntheticStream(200, r.Model.Vocab, 5))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tr.Progress = &buf
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\r")
	if len(lines) != 5 { // leading empty + 4 redraws
		t.Fatalf("expected 4 redraws, got %d: %q", len(lines)-1, out)
	}
	last := lines[len(lines)-1]
	for _, part := range []string{"[========================] step 4/4", "loss ", "val ", "tok/s", "ETA 0s"} {
		if !strings.Contains(last, part) {
			t.Errorf("progress line %q lacks %q", last, part)
		}
	}
}
