package model

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"glassbox/tensor"
)

// TestDistinctParams: the stories260K conversions store the embedding a
// second time as output matrix (all of them) and pad the FFN from 172 to 192
// units with zeros (h192): they all hold the 260,032 parameters of the
// original checkpoint. Independent output matrices still count.
func TestDistinctParams(t *testing.T) {
	tests := []struct {
		file             []string
		distinct, stored int64
	}{
		{[]string{"llama2c", "stories260K.bin"}, 260032, 260032},
		{[]string{"gguf", "stories260K-f32.gguf"}, 260032, 292800},
		{[]string{"gguf", "stories260K-Q4_K_M.gguf"}, 260032, 292800},
		{[]string{"llama2c", "stories260K-h192.bin"}, 260032, 279232},
		{[]string{"gguf", "stories260K-h192-Q4_0.gguf"}, 260032, 312000},
		{[]string{"gguf", "stories260K-h192-Q8_0.gguf"}, 260032, 312000},
		{[]string{"gguf", "random-llama-d256-Q2_K.gguf"}, 1836288, 1836288},
		{[]string{"gguf", "llama-2-tiny-random.gguf"}, 513048, 513048},
	}
	for _, tt := range tests {
		m := openModel(t, tt.file...)
		if got, stored := m.DistinctParams(), m.Config.Params(); got != tt.distinct || stored != tt.stored {
			t.Errorf("%v: %d distinct, %d stored parameters, want %d and %d", tt.file, got, stored, tt.distinct, tt.stored)
		}
	}
}

func TestSameValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f32 := func(v []float32) *tensor.Matrix {
		data := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
		}
		m, err := tensor.NewMatrix(tensor.F32, len(v)/8, 8, data)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b, noisy := make([]float32, 8*200), make([]float32, 8*200), make([]float32, 8*200)
	for i := range a {
		a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		noisy[i] = a[i] * (1 + 0.1*float32(rng.NormFloat64())) // 10% quantization-like noise
	}
	tests := []struct {
		name string
		x, y *tensor.Matrix
		want bool
	}{
		{"identical", f32(a), f32(a), true},
		{"quantization noise", f32(a), f32(noisy), true},
		{"independent", f32(a), f32(b), false},
		{"other shape", f32(a), f32(a[:8*100]), false},
		{"nil", f32(a), nil, false},
	}
	for _, tt := range tests {
		if got := sameValues(tt.x, tt.y); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
