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

// TestShapes checks the named shapes: each full configuration validates and
// has the parameter count of the model it imitates, and a shrunken copy of
// each (widths ÷16, one layer, a small vocabulary; head counts, tying and
// RoPE base kept) writes a Q4_0 file that loads with those properties, so
// that a 1B file is never written here.
func TestShapes(t *testing.T) {
	// parameters as stored (the 400M and 1B shapes with untied output)
	want := map[string]int64{
		"tiny":      2*(4*64*64/2+64*32*2+3*64*160+2*64) + 2*300*64 + 64, // q,o + k,v (4 of 2 KV heads) + FFN + norms
		"400M":      12*(2*1536*1536+2*1536*512+3*1536*4096+2*1536) + 2*32000*1536 + 1536,
		"1B":        1_100_048_384, // TinyLlama-1.1B
		"1B-llama3": 1_235_814_400, // Llama-3.2-1B
		"3B":        3_212_749_824, // Llama-3.2-3B
		// qwen3moe: q,o + k,v + per-head Q/K norms + norms + router + 3 matrices per expert
		"moe":     12*(2*1024*1024+2*1024*256+2*64+2*1024+1024*32+32*3*1024*512) + 2*32000*1024 + 1024,
		"tinymoe": 2*(2*64*64+2*64*32+2*16+2*64+64*8+8*3*64*64) + 2*300*64 + 64,
		// gpt-oss: q,o + k,v + q/k/v/o biases + sinks + norms + router and its
		// bias + 3 matrices per expert + their biases
		"gptoss":     12*(2*1024*1024+2*1024*256+(1024+2*256+1024)+16+2*1024+1024*32+32+32*3*1024*512+32*(2*512+1024)) + 2*32000*1024 + 1024,
		"tinygptoss": 2*(2*64*64+2*64*32+(64+2*32+64)+4+2*64+64*8+8+8*3*64*64+8*3*64) + 2*300*64 + 64,
	}
	if len(want) != len(Shapes) {
		t.Fatalf("%d shapes, the test knows %d", len(Shapes), len(want))
	}
	names := ShapeNames()
	for i, name := range names {
		s := Shapes[name]
		if got := s.Params(); got != want[name] {
			t.Errorf("%s: %d parameters, want %d", name, got, want[name])
		}
		if i > 0 && Shapes[names[i-1]].Params() > s.Params() {
			t.Errorf("ShapeNames: %v not ordered by size", names)
		}
		c := s.Config()
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := s.check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if p, err := ParseShape(strings.ToLower(name)); err != nil || p != s {
			t.Errorf("ParseShape(%q) = %+v, %v", strings.ToLower(name), p, err)
		}

		small := s
		if s.Dim >= 1024 {
			small.Dim, small.Hidden = s.Dim/16, (s.Hidden/16+31)&^31
		}
		small.Layers, small.Vocab = 1, 300
		var buf bytes.Buffer
		if err := Write(&buf, small, tensor.Q4_0, 3); err != nil {
			t.Fatalf("%s (shrunk to %+v): %v", name, small, err)
		}
		f, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.LoadGGUF(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mc := m.Config
		_, hasOutput := f.Tensor("output.weight")
		if mc.Heads != s.Heads || mc.KVHeads != s.KVHeads || mc.TiedOutput != s.Tied || hasOutput == s.Tied ||
			mc.RopeTheta != c.RopeTheta || mc.ContextLength != s.Context {
			t.Errorf("%s: loaded heads %d/%d, tied %v (output.weight %v), RoPE base %g, context %d; want %d/%d, tied %v, %g, %d",
				name, mc.Heads, mc.KVHeads, mc.TiedOutput, hasOutput, mc.RopeTheta, mc.ContextLength, s.Heads, s.KVHeads, s.Tied, c.RopeTheta, s.Context)
		}
	}
	if _, err := ParseShape("7B"); err == nil || !strings.Contains(err.Error(), "1B-llama3") {
		t.Errorf("ParseShape(7B): %v, want an error listing the shapes", err)
	}
}

// TestWriteGemma2 checks that WriteGemma2's file loads as gemma2 with its
// soft-caps, sliding window and vocabulary, runs a forward pass, and is
// the same every time.
func TestWriteGemma2(t *testing.T) {
	var buf, again bytes.Buffer
	if err := WriteGemma2(&buf); err != nil {
		t.Fatal(err)
	}
	if err := WriteGemma2(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two WriteGemma2 files differ")
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if arch, _ := f.String("general.architecture"); arch != "gemma2" {
		t.Errorf("general.architecture %q, want gemma2", arch)
	}
	m, err := model.LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	for _, tt := range []struct {
		what      string
		got, want any
	}{
		{"arch", c.Arch, "gemma2"},
		{"layers", c.Layers, 2},
		{"dim", c.Dim, 64},
		{"heads", c.Heads, 4},
		{"KV heads", c.KVHeads, 2},
		{"head width", c.HeadDim, 16},
		{"attention soft-cap", c.AttnSoftcap, float32(4)},
		{"final soft-cap", c.FinalSoftcap, float32(3)},
		{"sliding window", c.SlidingWindow, 4},
		{"layer 0 window", c.AttnWindow(0), 4},
		{"layer 1 window", c.AttnWindow(1), 0},
		{"tied output", c.TiedOutput, true},
		{"vocabulary", c.VocabSize, 259 + len(Gemma2Words)},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %v, want %v", tt.what, tt.got, tt.want)
		}
	}
	toks, _ := f.Strings("tokenizer.ggml.tokens")
	if len(toks) != 259+len(Gemma2Words) || toks[3] != "<0x00>" || toks[259] != Gemma2Words[0] || toks[len(toks)-1] != Gemma2Words[len(Gemma2Words)-1] {
		t.Errorf("vocabulary of %d tokens: %q … %q", len(toks), toks[:4], toks[259:])
	}
	st, err := m.NewState(model.StateOptions{Context: 16})
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, c.VocabSize)
	if err := m.Forward(st, []int{1, 260, 261, 262, 263, 264, 265}, 0, logits); err != nil {
		t.Fatal(err)
	}
	for i, v := range logits {
		if v != v || v > 3 || v < -3 {
			t.Fatalf("logit %d is %g, want a number within the final soft-cap of 3", i, v)
		}
	}
}
