package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// flashValues returns n float32 values of mixed magnitude, with some zeros,
// infinities, NaNs, F16 subnormals and F16 rounding ties among them.
func flashValues(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(40) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Inf(1 - 2*r.IntN(2)))
		case 2:
			x[i] = float32(math.NaN())
		case 3:
			x[i] = float32(r.NormFloat64() * 1e-6) // F16 subnormal
		case 4:
			// halfway between two F16 values
			h := F32ToF16(float32(r.NormFloat64()))
			x[i] = (F16ToF32(h) + F16ToF32(h+1)) / 2
		default:
			x[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(5)-2)))
		}
	}
	return x
}

// TestFlashKernelsMatchGo: the flash-attention kernels in use (AVX2 where the
// processor has it) give the pure-Go twins' results bit for bit, for every
// length around the 8-element groups (F16, F32) and 1–4 blocks (Q8_0, Q4_0).
func TestFlashKernelsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	same32 := func(a, b []float32) int {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
				return i
			}
		}
		return -1
	}
	for n := 1; n <= 70; n++ {
		for trial := range 10 {
			v := float32(r.NormFloat64())
			if trial == 0 {
				v = 0
			}
			xf, yf := flashValues(r, n), flashValues(r, n)
			xh, yh := make([]uint16, n), make([]uint16, n)
			f32ToF16Go(xh, xf)
			f32ToF16Go(yh, yf)
			y1, y2 := append([]uint16(nil), yh...), append([]uint16(nil), yh...)
			MadF16(y1, xh, v)
			madF16Go(y2, xh, v)
			for i := range y1 {
				if y1[i] != y2[i] && !(y1[i]&0x7c00 == 0x7c00 && y1[i]&0x3ff != 0 && y2[i]&0x3ff != 0) {
					t.Fatalf("MadF16 n=%d trial %d [%d]: %#04x, pure Go %#04x", n, trial, i, y1[i], y2[i])
				}
			}
			y1, y2 = append(y1[:0], yh...), append(y2[:0], yh...)
			ScaleF16(y1, v)
			scaleF16Go(y2, v)
			for i := range y1 {
				if y1[i] != y2[i] && !(y1[i]&0x7c00 == 0x7c00 && y1[i]&0x3ff != 0 && y2[i]&0x3ff != 0) {
					t.Fatalf("ScaleF16 n=%d trial %d [%d]: %#04x, pure Go %#04x", n, trial, i, y1[i], y2[i])
				}
			}
			a, b := append([]float32(nil), yf...), append([]float32(nil), yf...)
			MadF32(a, xf, v)
			madF32Go(b, xf, v)
			if i := same32(a, b); i >= 0 {
				t.Fatalf("MadF32 n=%d trial %d [%d]: %v, pure Go %v", n, trial, i, a[i], b[i])
			}
		}
	}
	for nb := 1; nb <= 4; nb++ {
		for trial := range 20 {
			src := make([]float32, nb*32)
			for i := range src {
				src[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(5)-2)))
			}
			y := flashValues(r, nb*32)
			v := float32(r.NormFloat64())
			for _, typ := range []Type{Q8_0, Q4_0} {
				row := make([]byte, nb*typ.TypeSize())
				if err := QuantizeKVRow(typ, src, row); err != nil {
					t.Fatal(err)
				}
				a, b := append([]float32(nil), y...), append([]float32(nil), y...)
				MadKVRow(typ, a, row, v, make([]float32, len(a)))
				deq := make([]float32, len(b))
				DequantizeKVRow(typ, row, deq)
				madF32Go(b, deq, v)
				if i := same32(a, b); i >= 0 {
					t.Fatalf("MadKVRow %s %d blocks trial %d [%d]: %v, dequantize + pure Go %v", typ, nb, trial, i, a[i], b[i])
				}
				// the dequantization is ggml's reference one
				all := make([]float32, len(deq))
				if err := Dequantize(typ, row, all); err != nil {
					t.Fatal(err)
				}
				if i := same32(deq, all); i >= 0 {
					t.Fatalf("DequantizeKVRow %s [%d]: %v, Dequantize %v", typ, i, deq[i], all[i])
				}
			}
		}
	}
}

// TestTileKernelsMatchGo: TileScores and MadF16F32 (AVX2 where the
// processor has it) give the pure-Go twins' results bit for bit.
func TestTileKernelsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, hd := range []int{1, 8, 64, 100, 128} {
		stride := 64 + 8*r.IntN(4)
		kt := flashValues(r, (hd-1)*stride+64)
		q := flashValues(r, hd)
		var a, b [64]float32
		TileScores(&a, kt, q, stride)
		tileScoresGo(&b, kt, q, stride)
		for j := range a {
			if math.Float32bits(a[j]) != math.Float32bits(b[j]) && !(a[j] != a[j] && b[j] != b[j]) {
				t.Fatalf("TileScores hd=%d [%d]: %v, pure Go %v", hd, j, a[j], b[j])
			}
		}
	}
	for n := 1; n <= 70; n++ {
		xh := make([]uint16, n)
		f32ToF16Go(xh, flashValues(r, n))
		y := flashValues(r, n)
		v := float32(r.NormFloat64())
		a, b := append([]float32(nil), y...), append([]float32(nil), y...)
		MadF16F32(a, xh, v)
		madF16F32Go(b, xh, v)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
				t.Fatalf("MadF16F32 n=%d [%d]: %v, pure Go %v", n, i, a[i], b[i])
			}
		}
	}
}

// BenchmarkTileScores is the tiled kernel's scores of one tile for a head
// of 128.
func BenchmarkTileScores(b *testing.B) {
	kt, q := make([]float32, 128*64), make([]float32, 128)
	for i := range kt {
		kt[i] = float32(i%97) / 97
	}
	var acc [64]float32
	for b.Loop() {
		TileScores(&acc, kt, q, 64)
	}
}

// TestSoftmaxExp: SoftmaxExp's values and sum are Softmax's before the
// normalisation (a masked entry −Inf weighing 0).
func TestSoftmaxExp(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{16, 64, 70} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 3)
		}
		x[n/2] = float32(math.Inf(-1))
		m := float32(math.Inf(-1))
		for _, v := range x {
			m = max(m, v)
		}
		y := append([]float32(nil), x...)
		sum := SoftmaxExp(y, m)
		var want float64
		for i, v := range x {
			e := Expf(v - m)
			if i < n&^15 {
				e = expf(v - m)
			}
			if y[i] != e {
				t.Fatalf("n=%d: exp[%d] = %v, want %v", n, i, y[i], e)
			}
			want += float64(e)
		}
		if y[n/2] != 0 || math.Abs(sum-want) > 1e-6*want {
			t.Errorf("n=%d: masked weight %v, sum %v, want 0 and %v", n, y[n/2], sum, want)
		}
	}
}

// BenchmarkMadF16 and BenchmarkMadKVQ8_0 are flash attention's per-cell
// value updates for a head of 128.
func BenchmarkMadF16(b *testing.B) {
	x, y := make([]uint16, 128), make([]uint16, 128)
	for i := range x {
		x[i], y[i] = F32ToF16(float32(i)/128), F32ToF16(float32(128-i)/128)
	}
	for b.Loop() {
		MadF16(y, x, 0.001)
	}
}

func BenchmarkMadKVQ8_0(b *testing.B) {
	src, y := make([]float32, 128), make([]float32, 128)
	for i := range src {
		src[i] = float32(i)/128 - 0.5
	}
	row := make([]byte, 4*34)
	_ = QuantizeKVRow(Q8_0, src, row)
	tmp := make([]float32, 128)
	for b.Loop() {
		MadKVRow(Q8_0, y, row, 0.001, tmp)
	}
}

func BenchmarkMadF16Go(b *testing.B) {
	x, y := make([]uint16, 128), make([]uint16, 128)
	for b.Loop() {
		madF16Go(y, x, 0.001)
	}
}
