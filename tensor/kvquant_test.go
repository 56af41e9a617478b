package tensor

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestDotKVRow checks the KV-cache dot products against an independent
// writing of ggml_vec_dot_q4_0_q8_0 / q8_0_q8_0 (AVX2): the elements unpacked
// to integers, eight lanes of four products, FMA per block, hsum_float_8;
// and against the float dot of the dequantized rows within rounding.
func TestDotKVRow(t *testing.T) {
	for _, n := range []int{32, 64, 128, 256} {
		x, k := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)*0.71+0.3)) * 3
			k[i] = float32(math.Cos(float64(i)*0.29)) * float32(i%5+1)
		}
		xq := make([]byte, n/32*34)
		QuantizeQ8_0Act(x, xq)
		for _, typ := range []Type{Q8_0, Q4_0} {
			rb, _ := typ.RowBytes(n)
			kq := make([]byte, rb)
			if err := QuantizeKVRow(typ, k, kq); err != nil {
				t.Fatal(err)
			}
			var acc [8]float32
			for b := 0; b < n/32; b++ {
				var ki, xi [32]int32
				for e := range 32 {
					xi[e] = int32(int8(xq[b*34+2+e]))
					if typ == Q8_0 {
						ki[e] = int32(int8(kq[b*34+2+e]))
					} else if e < 16 {
						ki[e] = int32(kq[b*18+2+e]&15) - 8
					} else {
						ki[e] = int32(kq[b*18+2+e-16]>>4) - 8
					}
				}
				dk := F16ToF32(uint16(kq[b*(rb/(n/32))]) | uint16(kq[b*(rb/(n/32))+1])<<8)
				dx := F16ToF32(uint16(xq[b*34]) | uint16(xq[b*34+1])<<8)
				for l := range 8 {
					s := ki[4*l]*xi[4*l] + ki[4*l+1]*xi[4*l+1] + ki[4*l+2]*xi[4*l+2] + ki[4*l+3]*xi[4*l+3]
					acc[l] = FMA32(dk*dx, float32(s), acc[l])
				}
			}
			want := Sum8(&acc)
			if got := DotKVRow(typ, n, kq, xq); got != want {
				t.Errorf("%s n %d: DotKVRow %g, want %g", typ, n, got, want)
			}
			kd, xd := make([]float32, n), make([]float32, n)
			if err := Dequantize(typ, kq, kd); err != nil {
				t.Fatal(err)
			}
			if err := Dequantize(Q8_0, xq, xd); err != nil {
				t.Fatal(err)
			}
			var f float64
			for i := range kd {
				f += float64(kd[i]) * float64(xd[i])
			}
			if math.Abs(f-float64(want)) > 1e-4*math.Max(1, math.Abs(f)) {
				t.Errorf("%s n %d: dot %g, dequantized rows give %g", typ, n, want, f)
			}
		}
	}
}

// TestQuantizeKVRow checks the cache writers: Q4_0 rows as ggml's reference
// quantizer, Q8_0 rows as the activation quantizer, and clear errors.
func TestQuantizeKVRow(t *testing.T) {
	src := make([]float32, 64)
	for i := range src {
		src[i] = float32(i%9) - 4.5 + float32(i)*0.01
	}
	a, b := make([]byte, 36), make([]byte, 36)
	if err := QuantizeKVRow(Q4_0, src, a); err != nil {
		t.Fatal(err)
	}
	if err := Quantize(Q4_0, src, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("Q4_0 cache row differs from the reference quantizer's")
	}
	c, d := make([]byte, 68), make([]byte, 68)
	if err := QuantizeKVRow(Q8_0, src, c); err != nil {
		t.Fatal(err)
	}
	QuantizeQ8_0Act(src, d)
	if !bytes.Equal(c, d) {
		t.Errorf("Q8_0 cache row differs from the activation quantizer's")
	}
	for _, tc := range []struct {
		typ  Type
		src  []float32
		dst  []byte
		want string
	}{
		{Q4_1, src, make([]byte, 100), "want Q8_0 or Q4_0"},
		{Q8_0, src[:40], make([]byte, 100), "multiple"},
		{Q8_0, src, make([]byte, 10), "need 68 bytes"},
	} {
		err := QuantizeKVRow(tc.typ, tc.src, tc.dst)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s, %d values, %d bytes: error %v, want one containing %q", tc.typ, len(tc.src), len(tc.dst), err, tc.want)
		}
	}
}
