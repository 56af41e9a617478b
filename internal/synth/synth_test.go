package synth

import (
	"bytes"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
)

// TestWriteLoads writes tiny synthetic models of several types and checks
// that glassbox loads them with the intended shape and runs a forward pass.
func TestWriteLoads(t *testing.T) {
	s := Shapes["tiny"]
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.Q4_0, tensor.Q8_0} {
		t.Run(typ.String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, s, typ, 7); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			var params int64
			for _, ti := range f.Tensors {
				params += int64(ti.Elements())
			}
			if params != s.Params() {
				t.Errorf("tensors hold %d weights, Params says %d", params, s.Params())
			}
			if ti, ok := f.Tensor("blk.1.ffn_down.weight"); !ok || ti.Type != typ {
				t.Errorf("ffn_down: %v %v", ti, ok)
			}
			m, err := model.LoadGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			c := m.Config
			if c.Dim != s.Dim || c.HiddenDim != s.Hidden || len(m.Layers) != s.Layers || c.Heads != s.Heads || c.KVHeads != s.KVHeads || c.VocabSize != s.Vocab {
				t.Fatalf("loaded config %+v, want shape %+v", c, s)
			}
			st, err := m.NewState(model.StateOptions{Context: 16})
			if err != nil {
				t.Fatal(err)
			}
			logits := make([]float32, c.VocabSize)
			if err := m.Forward(st, []int{1, 5, 9}, 0, logits); err != nil {
				t.Fatal(err)
			}
			nonzero := 0
			for _, v := range logits {
				if v != v {
					t.Fatal("NaN logit")
				}
				if v != 0 {
					nonzero++
				}
			}
			if nonzero < c.VocabSize/2 {
				t.Fatalf("only %d of %d logits are non-zero", nonzero, c.VocabSize)
			}
			toks, _ := f.Strings("tokenizer.ggml.tokens")
			if len(toks) != s.Vocab || toks[3] != "<0x00>" || toks[258] != "<0xFF>" {
				t.Fatalf("vocabulary: %d tokens, %q, %q", len(toks), toks[3], toks[258])
			}
		})
	}
}

// TestDeterministic checks that the same seed gives the same file and another
// seed another one.
func TestDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	s := Shapes["tiny"]
	for _, x := range []struct {
		buf  *bytes.Buffer
		seed uint64
	}{{&a, 1}, {&b, 1}, {&c, 2}} {
		if err := Write(x.buf, s, tensor.Q8_0, x.seed); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("seed does not determine the file")
	}
}

// TestErrors checks the refusals of bad shapes and types.
func TestErrors(t *testing.T) {
	tiny := Shapes["tiny"]
	odd := tiny
	odd.Dim = 66
	small := tiny
	small.Vocab = 100
	for _, tc := range []struct {
		s    Shape
		typ  tensor.Type
		want string
	}{
		{tiny, tensor.Q4_K, "not supported"},
		{odd, tensor.F32, "multiple of heads"},
		{small, tensor.F32, "at least 259"},
		{Shape{Dim: 48, Hidden: 64, Layers: 1, Heads: 2, KVHeads: 1, Vocab: 300, Context: 8}, tensor.Q4_0, "multiples of Q4_0"},
	} {
		err := Write(&bytes.Buffer{}, tc.s, tc.typ, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %s: error %v, want %q", tc.s, tc.typ, err, tc.want)
		}
	}
	if _, err := ParseShape("400m"); err != nil {
		t.Error(err)
	}
	if _, err := ParseShape("7B"); err == nil {
		t.Error("ParseShape(7B) succeeded")
	}
	if p := Shapes["400M"].Params(); p < 390e6 || p > 410e6 {
		t.Errorf("400M shape has %d parameters", p)
	}
}
