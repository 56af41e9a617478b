package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"

	"glassbox/tensor"
)

// llamaCppGELUTable is the sha256 of ggml's CPU GELU table (65536
// little-endian F16 values, ggml_table_gelu_f16 after ggml_cpu_init) in the
// llama.cpp build of testdata/archcheck/README.md, dumped with
// dump_gelu_table.c there.
const llamaCppGELUTable = "5eceda6f287dec9dc0bcfa24516d6744a031a5c52d1984688b4558aeb1daf909"

// TestGELUTable checks that geluTable is ggml's table bit for bit.
func TestGELUTable(t *testing.T) {
	tab := geluTable()
	buf := make([]byte, 2*len(tab))
	for i, h := range tab {
		binary.LittleEndian.PutUint16(buf[2*i:], h)
	}
	sum := sha256.Sum256(buf)
	if got := hex.EncodeToString(sum[:]); got != llamaCppGELUTable {
		t.Errorf("GELU table sha256 %s, llama.cpp's %s", got, llamaCppGELUTable)
	}
}

// TestGeluMul checks geluMul's three ranges against the formula.
func TestGeluMul(t *testing.T) {
	tests := []struct {
		x, up float32
		want  float64 // gelu(x)·up
		tol   float64
	}{
		{-12, 3, 0, 0},
		{-10, 3, 0, 0},
		{10, 2, 20, 0},
		{15.5, -1, -15.5, 0},
		{0, 5, 0, 0},
		{1, 1, 0.8411920, 1e-3}, // F16 rounding of the table value
		{-1, 2, 2 * -0.1588080, 1e-3},
		{3, 0.5, 0.5 * 2.9963627, 2e-3},
	}
	for _, tt := range tests {
		g := []float32{tt.x}
		geluMul(g, []float32{tt.up})
		if d := math.Abs(float64(g[0]) - tt.want); d > tt.tol {
			t.Errorf("geluMul(%g)·%g = %g, want %g", tt.x, tt.up, g[0], tt.want)
		}
	}
	// inside (-10, 10) the result is the F16 table value times up
	x := float32(0.7)
	g := []float32{x}
	geluMul(g, []float32{1})
	if want := tensor.F16ToF32(tensor.F32ToF16(geluF32(tensor.F16ToF32(tensor.F32ToF16(x))))); g[0] != want {
		t.Errorf("geluMul(0.7) = %g, want the table's %g", g[0], want)
	}
}
