package tensor

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (isNaN32(a) && isNaN32(b))
}

// TestDequantizeMatchesSlow compares Dequantize with the bit-by-bit decoder
// on random blocks and on edge-case blocks (all zero, all 0xFF bits with
// unit scales, negative and subnormal scales).
func TestDequantizeMatchesSlow(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, typ := range testTypes {
		t.Run(typ.String(), func(t *testing.T) {
			n := 4 * 256
			cases := map[string][]byte{
				"random":     randomBlocks(rng, typ, n, 0.05),
				"big-scales": randomBlocks(rng, typ, n, 1000),
			}
			zero := make([]byte, n/typ.BlockSize()*typ.TypeSize())
			cases["zero"] = zero
			ones := make([]byte, len(zero))
			for i := range ones {
				ones[i] = 0xff
			}
			for i := 0; i < len(ones)/typ.TypeSize(); i++ {
				for _, off := range halfFields[typ] {
					binary.LittleEndian.PutUint16(ones[i*typ.TypeSize()+off:], 0xbc00) // -1.0
				}
				if typ == Q8_K {
					binary.LittleEndian.PutUint32(ones[i*typ.TypeSize():], math.Float32bits(1))
				}
			}
			cases["all-ones-bits"] = ones
			sub := randomBlocks(rng, typ, n, 1)
			for i := 0; i < len(sub)/typ.TypeSize(); i++ {
				for _, off := range halfFields[typ] {
					binary.LittleEndian.PutUint16(sub[i*typ.TypeSize()+off:], uint16(1+i)) // subnormal halves
				}
			}
			cases["subnormal-scales"] = sub
			for name, src := range cases {
				got := make([]float32, n)
				if err := Dequantize(typ, src, got); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := slowDequantize(typ, src, n)
				for i := range got {
					if !sameFloat(got[i], want[i]) {
						t.Fatalf("%s: element %d = %g, slow decoder gives %g", name, i, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestDequantizeErrors(t *testing.T) {
	tests := []struct {
		name string
		typ  Type
		src  int
		dst  int
		want string
	}{
		{"unsupported", IQ1_S, 50, 256, "not supported"},
		{"partial block", Q4_0, 18, 31, "multiple of the block size"},
		{"short source", Q8_0, 33, 32, "need 34 bytes"},
		{"unknown type", Type(99), 10, 10, "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Dequantize(tc.typ, make([]byte, tc.src), make([]float32, tc.dst))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func randNormal(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// TestQuantizeRoundTrip checks the error bounds of quantize→dequantize: at
// most half a step plus the effect of storing the scales in f16.
func TestQuantizeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const f16eps = 1.0 / 2048 // relative rounding error of a half
	tests := []struct {
		typ    Type
		levels int // quantization steps from 0 to the largest magnitude (max−min for Q4_1/Q5_1)
	}{
		{Q8_0, 127}, {Q8_1, 127}, {Q4_0, 8}, {Q4_1, 15}, {Q5_0, 16}, {Q5_1, 31}, {Q8_K, 127},
	}
	for _, tc := range tests {
		t.Run(tc.typ.String(), func(t *testing.T) {
			x := randNormal(rng, 64*256, 1)
			x[5] = 0 // exact zero inside a block
			for i := 256; i < 512; i++ {
				x[i] = 0 // an all-zero block
			}
			rb, _ := tc.typ.RowBytes(len(x))
			q := make([]byte, rb)
			if err := Quantize(tc.typ, x, q); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, len(x))
			if err := Dequantize(tc.typ, q, y); err != nil {
				t.Fatal(err)
			}
			bs := tc.typ.BlockSize()
			for b := 0; b < len(x)/bs; b++ {
				blk := x[b*bs : (b+1)*bs]
				lo, hi := minMax(blk)
				amax := max(-lo, hi)
				var step float64
				switch tc.typ {
				case Q4_1, Q5_1:
					step = float64(hi-lo) / float64(tc.levels)
				default:
					step = float64(amax) / float64(tc.levels)
				}
				bound := step/2 + float64(tc.levels+1)*step*f16eps + float64(amax)*f16eps + 1e-7
				if tc.typ == Q8_K {
					bound = step/2 + float64(amax)*1e-6
				}
				for i := b * bs; i < (b+1)*bs; i++ {
					bound := bound
					if (tc.typ == Q4_0 || tc.typ == Q5_0) && math.Abs(float64(x[i])) > (float64(tc.levels)-0.5)*step &&
						math.Signbit(float64(x[i])) != math.Signbit(float64(sgnMax(blk))) {
						bound += step / 2 // the top level is clamped to levels-1 on the side opposite the max
					}
					if e := math.Abs(float64(x[i] - y[i])); e > bound {
						t.Fatalf("element %d: %g → %g, error %g > bound %g", i, x[i], y[i], e, bound)
					}
				}
			}
		})
	}
	t.Run("F16/BF16/F32", func(t *testing.T) {
		x := randNormal(rng, 1000, 3)
		for _, typ := range []Type{F32, F16, BF16} {
			q := make([]byte, len(x)*typ.TypeSize())
			if err := Quantize(typ, x, q); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, len(x))
			if err := Dequantize(typ, q, y); err != nil {
				t.Fatal(err)
			}
			for i := range x {
				want := x[i]
				switch typ {
				case F16:
					want = F16ToF32(F32ToF16(x[i]))
				case BF16:
					want = BF16ToF32(F32ToBF16(x[i]))
				}
				if y[i] != want {
					t.Fatalf("%s element %d: %g, want %g", typ, i, y[i], want)
				}
			}
		}
	})
}

// TestQuantizeKnownBlocks checks hand-worked blocks and ggml's rounding rules.
func TestQuantizeKnownBlocks(t *testing.T) {
	block := func(vals map[int]float32) []float32 {
		x := make([]float32, 32)
		for i, v := range vals {
			x[i] = v
		}
		return x
	}
	tests := []struct {
		name string
		typ  Type
		x    []float32
		want []byte
	}{
		// max = -8: d = 1 (0x3c00), id = 1; q = trunc(x+8.5), so -8 → 0 and 0 → 8.
		{"q4_0 min element", Q4_0, block(map[int]float32{0: -8, 16: 7}),
			append([]byte{0x00, 0x3c, 0xf0}, repeat(0x88, 15)...)},
		// d = -(-16)/16... max = 16: d = -1 (0xbc00), id = -1: 16 → trunc(0.5) = 0; 0 → 16 (bit 4 set in qh).
		{"q5_0 positive max", Q5_0, block(map[int]float32{3: 16}),
			append(append([]byte{0x00, 0xbc}, le32(^uint32(1<<3))...), repeat(0x00, 16)...)},
		// amax = 127: d = 1, q = roundf(x): 2.5 → 3 and -2.5 → -3 (half away from zero).
		{"q8_0 ref ties away", Q8_0, block(map[int]float32{0: 127, 1: 2.5, 2: -2.5, 3: 0.5}),
			append([]byte{0x00, 0x3c, 127, 3, 0xfd, 1}, repeat(0, 28)...)},
		// min = 0, max = 15: d = 1, m = 0; q = trunc(x+0.5).
		{"q4_1 range", Q4_1, block(map[int]float32{0: 15, 1: 1.49, 17: 7.5}),
			append([]byte{0x00, 0x3c, 0x00, 0x00, 0x0f, 0x01}, repeat(0, 14)...)},
	}
	tests[3].want[4+1] = 0x01 | 0x80 // element 17 (high nibble of byte 1) = 8
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]byte, tc.typ.TypeSize())
			if err := Quantize(tc.typ, tc.x, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(tc.want) {
				t.Fatalf("got  % x\nwant % x", got, tc.want)
			}
		})
	}
}

// sgnMax returns the element of largest magnitude.
func sgnMax(x []float32) float32 { m, _ := absMaxSigned(x); return m }

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// TestActivationQuantizers checks the activation rules that differ from the
// reference: Q8_0/Q8_1 round half to even with id = 127/amax, Q8_K uses
// -127/max and stores bsums.
func TestActivationQuantizers(t *testing.T) {
	x := make([]float32, 32)
	x[0], x[1], x[2], x[3], x[4] = 127, 2.5, -2.5, 3.5, 0.5
	q := make([]byte, szQ80)
	quantActQ8_0(x, q)
	if want := []byte{0x00, 0x3c, 127, 2, 0xfe, 4, 0}; string(q[:7]) != string(want) {
		t.Fatalf("q8_0 activations: % x, want % x", q[:7], want)
	}
	q1 := make([]byte, szQ81)
	quantActQ8_1(x, q1)
	// s = d·Σq = 127+2-2+4+0 = 131 → f16 131 = 0x5818.
	if want := []byte{0x00, 0x3c, 0x18, 0x58, 127, 2, 0xfe, 4}; string(q1[:8]) != string(want) {
		t.Fatalf("q8_1 activations: % x, want % x", q1[:8], want)
	}
	xk := make([]float32, 256)
	xk[0], xk[1], xk[2], xk[17] = -254, 5, 3, 128 // max = -254: iscale = 0.5, d = 2
	qk8 := make([]byte, szQ8K)
	quantActQ8_K(xk, qk8)
	if d := f32At(qk8); d != 2 {
		t.Fatalf("q8_K d = %g, want 2", d)
	}
	// -254·0.5 = -127; 5·0.5 = 2.5 → 2 (even); 3·0.5 = 1.5 → 2; 128·0.5 = 64.
	if got := []int8{int8(qk8[4]), int8(qk8[5]), int8(qk8[6]), int8(qk8[21])}; got[0] != -127 || got[1] != 2 || got[2] != 2 || got[3] != 64 {
		t.Fatalf("q8_K quants %v, want [-127 2 2 64]", got)
	}
	var bs [2]int16
	bs[0] = int16(binary.LittleEndian.Uint16(qk8[260:]))
	bs[1] = int16(binary.LittleEndian.Uint16(qk8[262:]))
	if bs != [2]int16{-123, 64} {
		t.Fatalf("q8_K bsums %v, want [-123 64]", bs)
	}
}

// convertActs converts x to the vec-dot representation of weight type t and
// returns the bytes and their decoded values.
func convertActs(t *testing.T, typ Type, x []float32) ([]byte, []float32) {
	k, ok := kernelFor(typ)
	if !ok {
		t.Fatalf("no kernel for %s", typ)
	}
	if k.act == nil {
		return f32Bytes(x), x
	}
	rb, _ := k.repr.RowBytes(len(x))
	xq := make([]byte, rb)
	(*k.act)(x, xq)
	if k.repr == F32 {
		return xq, f32View(xq)
	}
	dec := make([]float32, len(x))
	if err := Dequantize(k.repr, xq, dec); err != nil {
		t.Fatal(err)
	}
	return xq, dec
}

var matTypes = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
	IQ4_NL, IQ4_XS, MXFP4, IQ2_XXS, IQ2_XS, IQ3_XXS, IQ3_S}

// TestDotKernels checks each weight × activation kernel against the float64
// dot product of the two dequantized vectors.
func TestDotKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, typ := range matTypes {
		t.Run(typ.String(), func(t *testing.T) {
			k, _ := kernelFor(typ)
			for trial := 0; trial < 20; trial++ {
				n := 256 * (1 + trial%4)
				w := randomBlocks(rng, typ, n, 0.02)
				x := randNormal(rng, n, 1)
				if trial%5 == 0 {
					for i := 0; i < n; i += 3 {
						x[i] = 0
					}
				}
				wd := make([]float32, n)
				if err := Dequantize(typ, w, wd); err != nil {
					t.Fatal(err)
				}
				xq, xd := convertActs(t, typ, x)
				var want, mag float64
				for i := range wd {
					want += float64(wd[i]) * float64(xd[i])
					mag += math.Abs(float64(wd[i]) * float64(xd[i]))
				}
				tol := 2e-6 * mag
				if typ == Q4_1 || typ == Q5_1 {
					// the Q8_1 sum s is stored as f16: allow its rounding.
					for b := 0; b < n/32; b++ {
						m := math.Abs(float64(f16At(w[b*typ.TypeSize()+2:])))
						s := math.Abs(float64(f16At(xq[b*szQ81+2:])))
						tol += m * s / 1024
					}
				}
				got := (*k.dot)(n, w, xq)
				if math.Abs(float64(got)-want) > tol+1e-12 {
					t.Fatalf("trial %d (n=%d): kernel %g, dequantized dot %g (tol %g)", trial, n, got, want, tol)
				}
			}
		})
	}
}

// naiveMatVec is dequantize + float64 dot, using the kernel's activation
// conversion.
func naiveMatVec(t *testing.T, w *Matrix, x []float32) []float64 {
	_, xd := convertActs(t, w.Type, x)
	row := make([]float32, w.Cols)
	out := make([]float64, w.Rows)
	for r := 0; r < w.Rows; r++ {
		w.Row(r, row)
		for i, v := range row {
			out[r] += float64(v) * float64(xd[i])
		}
	}
	return out
}

func randomMatrix(t testing.TB, rng *rand.Rand, typ Type, rows, cols int) *Matrix {
	m, err := NewMatrix(typ, rows, cols, randomBlocks(rng, typ, rows*cols, 0.02))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatVecMatMul(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(13, 14))
	for _, typ := range matTypes {
		t.Run(typ.String(), func(t *testing.T) {
			for _, shape := range [][2]int{{3, 256}, {67, 512}, {300, 256}} {
				rows, cols := shape[0], shape[1]
				w := randomMatrix(t, rng, typ, rows, cols)
				const n = 3
				x := randNormal(rng, n*cols, 1)

				SetThreads(1)
				single := make([]float32, n*rows)
				MatMul(single, w, x, n)
				for _, threads := range []int{2, 3, 8} {
					SetThreads(threads)
					multi := make([]float32, n*rows)
					MatMul(multi, w, x, n)
					for i := range multi {
						if math.Float32bits(multi[i]) != math.Float32bits(single[i]) {
							t.Fatalf("%dx%d, %d threads: out[%d] = %g, single-threaded %g", rows, cols, threads, i, multi[i], single[i])
						}
					}
				}
				for i := 0; i < n; i++ {
					xi := x[i*cols : (i+1)*cols]
					mv := make([]float32, rows)
					MatVec(mv, w, xi)
					naive := naiveMatVec(t, w, xi)
					mag := naiveAbsMatVec(t, w, xi)
					for r := 0; r < rows; r++ {
						if math.Float32bits(mv[r]) != math.Float32bits(single[i*rows+r]) {
							t.Fatalf("%dx%d: MatMul[%d,%d] = %g, MatVec %g", rows, cols, i, r, single[i*rows+r], mv[r])
						}
						// ggml's lanes round partial sums: allow for cancellation
						tol := 1e-5*(1+math.Abs(naive[r])) + 1e-6*mag[r]
						if typ == Q4_1 || typ == Q5_1 {
							tol = 2e-3 * (1 + math.Abs(naive[r])) // f16 rounding of the Q8_1 sums
						}
						if math.Abs(float64(mv[r])-naive[r]) > tol {
							t.Fatalf("%dx%d row %d: MatVec %g, naive %g", rows, cols, r, mv[r], naive[r])
						}
					}
				}
			}
		})
	}
}

func TestMatVecNoAllocs(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, typ := range []Type{F32, F16, Q4_0, Q4_K} {
		for _, threads := range []int{1, 2} {
			SetThreads(threads)
			w := randomMatrix(t, rng, typ, 512, 512)
			x := randNormal(rng, 512, 1)
			dst := make([]float32, 512)
			MatVec(dst, w, x)
			if a := testing.AllocsPerRun(50, func() { MatVec(dst, w, x) }); a != 0 {
				t.Errorf("%s with %d threads: %v allocations per MatVec", typ, threads, a)
			}
		}
	}
}

func TestNewMatrixErrors(t *testing.T) {
	tests := []struct {
		name       string
		typ        Type
		rows, cols int
		data       int
		want       string
	}{
		{"unsupported", IQ1_S, 1, 256, 50, "not supported"},
		{"q8_1 weights", Q8_1, 1, 32, 36, "not supported"},
		{"cols not block multiple", Q4_K, 2, 128, 144, "multiple of the block size"},
		{"short data", Q4_0, 2, 32, 35, "needs 36 bytes"},
		{"long data", F32, 2, 2, 17, "needs 16 bytes"},
		{"negative", F32, -1, 2, 0, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewMatrix(tc.typ, tc.rows, tc.cols, make([]byte, tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if m, err := NewMatrix(Q6_K, 2, 256, make([]byte, 2*210)); err != nil || m.Rows != 2 {
		t.Fatalf("valid Q6_K matrix: %v", err)
	}
}

func TestSupportedAndVecDotType(t *testing.T) {
	want := map[Type]Type{F32: F32, F16: F16, BF16: BF16, Q4_0: Q8_0, Q5_0: Q8_0, Q8_0: Q8_0,
		Q4_1: Q8_1, Q5_1: Q8_1, Q2_K: Q8_K, Q3_K: Q8_K, Q4_K: Q8_K, Q5_K: Q8_K, Q6_K: Q8_K, Q8_K: Q8_K,
		IQ4_NL: Q8_0, MXFP4: Q8_0, IQ4_XS: Q8_K, IQ2_XXS: Q8_K, IQ2_XS: Q8_K, IQ3_XXS: Q8_K, IQ3_S: Q8_K}
	for typ := range types {
		vt, ok := VecDotType(typ)
		w, supported := want[typ]
		if ok != supported || Supported(typ) != supported || (ok && vt != w) {
			t.Errorf("%s: VecDotType = %s, %v; want %s, %v", typ, vt, ok, w, supported)
		}
	}
}

func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{0, 1, 7, 8, 9, 100, 1000} {
		a, b := randNormal(rng, n, 1), randNormal(rng, n, 1)
		var want, mag float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		if got := Dot(a, b); math.Abs(float64(got)-want) > 1e-6*mag {
			t.Errorf("n=%d: Dot = %g, want %g", n, got, want)
		}
	}
}

func FuzzDequantize(f *testing.F) {
	f.Add(uint8(2), []byte{1, 2, 3})
	f.Add(uint8(12), make([]byte, 144))
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		tt := Type(typ % 40)
		bs := tt.BlockSize()
		if bs == 0 {
			bs = 1
		}
		for _, n := range []int{0, bs, 2 * bs, 256, 31} {
			_ = Dequantize(tt, data, make([]float32, n))
		}
	})
}

// TestReleaseRows checks that Row with ReleaseRows returns the same values
// and releases, after each lookup, a part of Data that holds the row and
// whose ends are faultAround boundaries of the address space or Data's own
// ends.
func TestReleaseRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, c := range []struct {
		typ        Type
		rows, cols int
	}{{Q8_0, 3000, 256}, {F16, 9000, 128}, {F32, 5, 64}} {
		w := randomMatrix(t, rng, c.typ, c.rows, c.cols)
		rb := w.rowBytes()
		base := uintptr(unsafe.Pointer(&w.Data[0]))
		var got []byte
		w2 := *w
		w2.ReleaseRows(func(b []byte) error { got = b; return nil })
		want, have := make([]float32, c.cols), make([]float32, c.cols)
		for _, r := range []int{0, 1, c.rows / 2, c.rows - 1, rng.IntN(c.rows)} {
			got = nil
			w.Row(r, want)
			w2.Row(r, have)
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(have[i]) {
					t.Fatalf("%s row %d element %d: %v with ReleaseRows, %v without", c.typ, r, i, have[i], want[i])
				}
			}
			if got == nil {
				t.Fatalf("%s row %d: nothing released", c.typ, r)
			}
			lo := int(uintptr(unsafe.Pointer(&got[0])) - base)
			hi := lo + len(got)
			if lo < 0 || hi > len(w.Data) || lo > r*rb || hi < (r+1)*rb {
				t.Fatalf("%s row %d (bytes [%d, %d)): released [%d, %d) of %d", c.typ, r, r*rb, (r+1)*rb, lo, hi, len(w.Data))
			}
			if (lo != 0 && (base+uintptr(lo))%faultAround != 0) || (hi != len(w.Data) && (base+uintptr(hi))%faultAround != 0) {
				t.Fatalf("%s row %d: released [%d, %d), whose ends are neither Data's nor %d-byte boundaries", c.typ, r, lo, hi, faultAround)
			}
		}
		// RowRange: the rows of Row, one release covering them all
		r0, r1 := c.rows/3, c.rows/3+min(c.rows-c.rows/3, 300)
		calls := 0
		w2.ReleaseRows(func(b []byte) error { got = b; calls++; return nil })
		block := make([]float32, (r1-r0)*c.cols)
		w2.RowRange(r0, r1, block)
		for r := r0; r < r1; r++ {
			w.Row(r, want)
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(block[(r-r0)*c.cols+i]) {
					t.Fatalf("%s RowRange(%d, %d): row %d element %d = %v, Row %v", c.typ, r0, r1, r, i, block[(r-r0)*c.cols+i], want[i])
				}
			}
		}
		lo := int(uintptr(unsafe.Pointer(&got[0])) - base)
		if calls != 1 || lo > r0*rb || lo+len(got) < r1*rb {
			t.Fatalf("%s RowRange(%d, %d): %d releases, the last [%d, %d), want one covering [%d, %d)", c.typ, r0, r1, calls, lo, lo+len(got), r0*rb, r1*rb)
		}
		// Gather: the rows of Row in the order asked (repeats included),
		// the releases disjoint, in increasing order, each row's window
		// inside one of them, no more of them than distinct windows
		rs := []int{c.rows - 1, 0, c.rows / 2, 0, rng.IntN(c.rows), c.rows/2 + 1, rng.IntN(c.rows)}
		var rel [][2]int
		w2.ReleaseRows(func(b []byte) error {
			lo := int(uintptr(unsafe.Pointer(&b[0])) - base)
			rel = append(rel, [2]int{lo, lo + len(b)})
			return nil
		})
		gathered := make([]float32, len(rs)*c.cols)
		w2.Gather(rs, gathered)
		windows := map[[2]int]bool{}
		for i, r := range rs {
			w.Row(r, want)
			for j := range want {
				if math.Float32bits(want[j]) != math.Float32bits(gathered[i*c.cols+j]) {
					t.Fatalf("%s Gather(%v): row %d element %d = %v, Row %v", c.typ, rs, r, j, gathered[i*c.cols+j], want[j])
				}
			}
			lo, hi := faultWindow(w.Data, r*rb, (r+1)*rb)
			windows[[2]int{lo, hi}] = true
			in := false
			for _, x := range rel {
				in = in || (x[0] <= lo && hi <= x[1])
			}
			if !in {
				t.Fatalf("%s Gather(%v): row %d's window [%d, %d) not in the releases %v", c.typ, rs, r, lo, hi, rel)
			}
		}
		for i := 1; i < len(rel); i++ {
			if rel[i][0] <= rel[i-1][1] {
				t.Fatalf("%s Gather(%v): releases %v overlap, touch or go back", c.typ, rs, rel)
			}
		}
		if len(rel) == 0 || len(rel) > len(windows) {
			t.Fatalf("%s Gather(%v): %d releases for %d distinct windows", c.typ, rs, len(rel), len(windows))
		}
	}
}
