package tensor

import "fmt"

// KVQuantSupported reports whether t is a quantized type a KV cache can hold
// keys in: Q8_0 or Q4_0 (llama.cpp's --cache-type-k q8_0 / q4_0).
func KVQuantSupported(t Type) bool { return t == Q8_0 || t == Q4_0 }

// QuantizeKVRow converts src into type t (Q8_0 or Q4_0) as ggml's CPU backend
// writes a row into a quantized KV cache (its from_float: quantize_row_q8_0
// with the rounding of the x86 SIMD code, quantize_row_q4_0 with the
// reference rounding). len(src) must be a multiple of 32 and dst must hold
// t.RowBytes(len(src)) bytes.
func QuantizeKVRow(t Type, src []float32, dst []byte) error {
	var f *quantFunc
	switch t {
	case Q8_0:
		f = &quantActQ8_0
	case Q4_0:
		f = &quantRefQ4_0
	default:
		return fmt.Errorf("quantize KV row: type %s is not a KV cache type (want Q8_0 or Q4_0)", t)
	}
	need, err := t.RowBytes(len(src))
	if err != nil {
		return fmt.Errorf("quantize KV row: %w", err)
	}
	if len(dst) < need {
		return fmt.Errorf("quantize KV row: %d %s elements need %d bytes, dst has %d", len(src), t, need, len(dst))
	}
	(*f)(src, dst[:need])
	return nil
}

// QuantizeQ8_0Act converts src to Q8_0 as ggml's CPU backend converts
// activations before multiplying them with Q8_0 or Q4_0 rows (its
// vec_dot_type conversion). len(src) must be a multiple of 32 and dst must
// hold len(src)/32*34 bytes.
func QuantizeQ8_0Act(src []float32, dst []byte) {
	quantActQ8_0(src, dst[:len(src)/32*34])
}

// DotKVRow returns ggml_vec_dot of n elements of a row w of type t (Q8_0 or
// Q4_0) with x converted by QuantizeQ8_0Act, as ggml's AVX2 kernels (and
// tinyBLAS's, which round alike) compute it for a KV cache; it returns 0 for
// other types. Callers guarantee the lengths (n a multiple of 32).
func DotKVRow(t Type, n int, w, x []byte) float32 {
	switch t {
	case Q8_0:
		return dotQ8_0Q8_0(n, w, x)
	case Q4_0:
		// not dotQ4_0Q8_0, which follows the repacked-weight kernel: a KV
		// cache is not repacked, so ggml_vec_dot_q4_0_q8_0 applies
		return dotQ4_0Q8_0Vec(n, w, x)
	}
	return 0
}

// dotQ4_0Q8_0Vec is ggml_vec_dot_q4_0_q8_0 on x86 with AVX2: per block,
// eight lanes of four exact integer products each (lane l holds elements
// 4l…4l+3, the low nibbles being elements 0–15 and the high ones 16–31),
// scaled by d_w·d_x and accumulated with FMA, then hsum_float_8.
func dotQ4_0Q8_0Vec(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qk; i++ {
		a := (*[szQ40]byte)(w[i*szQ40:])
		b := (*[szQ80]byte)(x[i*szQ80:])
		d := f16At(a[0:]) * f16At(b[0:])
		for l := range 8 {
			var s int32
			for e := 4 * l; e < 4*l+4; e++ {
				q := int32(a[2+e%16]&15) - 8
				if e >= 16 {
					q = int32(a[2+e%16]>>4) - 8
				}
				s += q * int32(int8(b[2+e]))
			}
			acc[l] = FMA32(d, float32(s), acc[l])
		}
	}
	return Sum8(&acc)
}
