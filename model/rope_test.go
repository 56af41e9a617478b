package model

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestRopeTableMatchesGGML compares the cosines and sines of ropeTable bit
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
		m.ropeTable(st, p*step, 0)
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
