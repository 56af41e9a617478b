package model

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/tensor"
)

// TestRopeTableMatchesGGML compares the cosines and sines of ropeAngles bit
// for bit with those ggml's CPU rope used (testdata/archcheck/rope_yarn.txt,
// written by dump_rope.c there against llama.cpp 0.5.0): YaRN with
// correction ranges inside and at the edge of the rotated pairs, factors of
// 1.5 to 37 (13 and 37 where fusing 1 + 0.1·logf(f) changes the result),
// positions up to 45000, rope.scaling.attn_factor, a
// sliding-window layer without its own factor in a YaRN model (ggml still
// applies the model's attention factor and the ramp there), and linear
// scaling.
func TestRopeTableMatchesGGML(t *testing.T) {
	f, err := os.Open("testdata/archcheck/rope_yarn.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var (
		m     *Model
		st    *State
		step  int
		p     int
		cases int
		rows  int
	)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if fields[0] == "case" {
			if len(fields) != 10 {
				t.Fatalf("line %q: want 9 parameters", line)
			}
			var v [9]float64
			for i, s := range fields[1:] {
				if v[i], err = strconv.ParseFloat(s, 32); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
			}
			nDims, global, layer, ext := int(v[0]), float32(v[4]), float32(v[5]), float32(v[6])
			c := Config{RopeDim: nDims, RopeTheta: float32(v[3]), RopeOrigContext: int(v[2]), RopeAttnFactor: float32(v[7])}
			typ := "linear"
			if ext != 0 {
				typ = "yarn"
				c.RopeExtFactor, c.RopeBetaFast, c.RopeBetaSlow = ext, 32, 1
			}
			c.RopeScaling = RopeScaling{Type: typ, Factor: global}
			if layer != global {
				// layer 0 is a sliding-window layer with its own scaling
				c.SlidingWindow, c.SlidingLayers = 4, []bool{true}
				c.RopeThetaLocal = c.RopeTheta
				if layer != 0 {
					c.RopeScalingLocal = RopeScaling{Type: typ, Factor: layer}
				}
			}
			m = &Model{Config: c}
			st = &State{cos: make([]float32, nDims/2), sin: make([]float32, nDims/2)}
			step, p = int(v[8]), 0
			cases++
			continue
		}
		if m == nil || len(fields) != m.Config.RopeDim {
			t.Fatalf("line %q: want %d values after a case line", line, m.Config.RopeDim)
		}
		m.ropeAngles(st.cos, st.sin, st.ropeFreqs, p*step, 0)
		for i, h := range fields {
			b, err := strconv.ParseUint(h, 16, 32)
			if err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			got := st.cos[i/2]
			if i%2 == 1 {
				got = st.sin[i/2]
			}
			if math.Float32bits(got) != uint32(b) {
				t.Errorf("case %+v position %d pair %d: %s %g, ggml %g",
					m.Config.RopeScaling, p*step, i/2, []string{"cos", "sin"}[i%2], got, math.Float32frombits(uint32(b)))
			}
		}
		p++
		rows++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cases < 11 || rows < 180 {
		t.Fatalf("%d cases, %d positions: the file is not what it should be", cases, rows)
	}
}

// TestRopeScalingMetadata: the scaling types llama.cpp 0.5.0 knows load with
// its parameters, others and bad factors give errors naming them.
func TestRopeScalingMetadata(t *testing.T) {
	base := archCases[0]
	for _, c := range archCases {
		if c.name == "llama-yarn" {
			base = c
		}
	}
	tests := []struct {
		name    string
		kv      map[string]any
		want    string // error substring, "" for success
		check   func(*Config) bool
		explain string
	}{
		{"yarn", map[string]any{"rope.scaling.type": "yarn", "rope.scaling.factor": float32(4), "rope.scaling.original_context_length": uint32(8)}, "",
			func(c *Config) bool {
				return c.RopeScaling == RopeScaling{Type: "yarn", Factor: 4} && c.RopeExtFactor == 1 && c.RopeBetaFast == 32 && c.RopeBetaSlow == 1 && c.RopeOrigContext == 8
			}, "yarn with factor 4, mix 1, ramp 32..1, original context 8"},
		{"yarn-default-context", map[string]any{"rope.scaling.type": "yarn", "rope.scaling.factor": float32(2)}, "",
			func(c *Config) bool { return c.RopeOrigContext == 0 && c.ropeOrigContext() == c.ContextLength }, "original context defaulting to the context length"},
		{"none", map[string]any{"rope.scaling.type": "none", "rope.scaling.factor": float32(4)}, "",
			func(c *Config) bool { return ropeFreqScale(c.RopeScaling) == 1 && c.RopeExtFactor == 0 }, "no scaling"},
		{"dynamic", map[string]any{"rope.scaling.type": "dynamic", "rope.scaling.factor": float32(4)}, `rope scaling "dynamic" is not supported`, nil, ""},
		{"negative", map[string]any{"rope.scaling.type": "yarn", "rope.scaling.factor": float32(-4)}, "rope scaling factor", nil, ""},
	}
	for _, tt := range tests {
		c := base
		c.kv = tt.kv
		data, err := genArchModel(c)
		if err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		m, err := LoadGGUF(f)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		case tt.want == "" && !tt.check(&m.Config):
			t.Errorf("%s: config %+v, want %s", tt.name, m.Config, tt.explain)
		}
	}
}

// TestWriteGGUFYarn: a YaRN config written by WriteGGUF loads back with the
// same RoPE parameters; parameters a file cannot carry are refused.
func TestWriteGGUFYarn(t *testing.T) {
	c := layoutConfig("qwen3", true)
	c.RopeScaling = RopeScaling{Type: "yarn", Factor: 4}
	c.RopeExtFactor, c.RopeBetaFast, c.RopeBetaSlow, c.RopeOrigContext = 1, 32, 1, 16
	var buf bytes.Buffer
	if err := WriteGGUF(&buf, &c, WriteOptions{Type: tensor.F32, Weights: layoutWeights}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	g := m.Config
	if g.RopeScaling != c.RopeScaling || g.RopeExtFactor != 1 || g.RopeBetaFast != 32 || g.RopeBetaSlow != 1 || g.RopeOrigContext != 16 {
		t.Errorf("loaded %+v ext %g beta %g..%g orig %d, wrote %+v ext 1 beta 32..1 orig 16",
			g.RopeScaling, g.RopeExtFactor, g.RopeBetaFast, g.RopeBetaSlow, g.RopeOrigContext, c.RopeScaling)
	}
	c.RopeBetaFast = 8
	if err := WriteGGUF(&bytes.Buffer{}, &c, WriteOptions{Type: tensor.F32, Weights: layoutWeights}); err == nil || !strings.Contains(err.Error(), "cannot be stored") {
		t.Errorf("ramp 8..1: error %v, want one saying it cannot be stored", err)
	}
}
