//go:build amd64 && !purego

package tensor

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// checkPacked compares, for one weight matrix, the products of its packed
// copy with those of the plain layout (the eight-row and panel kernels) and
// of the pure-Go twins, bit for bit, for one, three (a batch below the
// panel kernels') and n activation rows, with the plain rows the copy
// covers scrambled so that reading them shows.
func checkPacked(t *testing.T, rng *rand.Rand, typ Type, rows, cols, n int) {
	t.Helper()
	data := randomQuantRows(rng, typ, rows, cols)
	plain, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	packed, _ := NewMatrix(typ, rows, cols, bytes.Clone(data))
	if got, want := packed.Pack(), rows/16*16*plain.rowBytes(); got != want {
		t.Fatalf("Pack made %d bytes, want %d", got, want)
	}
	if !bytes.Equal(packed.Data, data) {
		t.Fatal("Pack changed Data")
	}
	// the rows the copy covers must not be read from Data again (their
	// file pages are dropped): scramble them
	for i := range packed.Data[:len(packed.packed)] {
		packed.Data[i] = byte(rng.Uint32())
	}
	x := make([]float32, n*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		if rng.IntN(40) == 0 {
			x[i] = 0
		}
	}
	for _, m := range []int{1, 3, n} {
		got := make([]float32, m*rows)
		want := make([]float32, m*rows)
		pure := make([]float32, m*rows)
		MatMul(got, packed, x[:m*cols], m)
		MatMul(want, plain, x[:m*cols], m)
		useAsm(false)
		MatMul(pure, plain, x[:m*cols], m)
		useAsm(true)
		for i := range got {
			if !sameBits(got[i], want[i]) || !sameBits(got[i], pure[i]) {
				t.Fatalf("%s %d×%d, %d activation rows: output %d: packed %v, plain %v, pure Go %v",
					typ, rows, cols, m, i, got[i], want[i], pure[i])
			}
		}
	}
	// the packed kernel inside a multi-weight hand-out
	a := make([]float32, rows)
	b := make([]float32, rows)
	MatVecMulti([][]float32{a, b}, []*Matrix{packed, plain}, x[:cols])
	for i := range a {
		if !sameBits(a[i], b[i]) {
			t.Fatalf("%d×%d MatVecMulti row %d: packed %v, plain %v", rows, cols, i, a[i], b[i])
		}
	}
}

// packedTypes are the weight types with packed copies.
var packedTypes = []Type{Q4_0, Q8_0, Q4_K, Q6_K}

// packedCols turns a column count of 32-element blocks into one of typ's
// blocks: K-quant shapes get a super-block per 128 columns (at least one).
func packedCols(typ Type, cols int) int {
	if typ.BlockSize() == qkK {
		return qkK * max(1, cols/128)
	}
	return cols
}

// TestPacked checks the sixteen-row kernels over the packed copies (and
// the panel kernels fed from them) against the plain layout and the pure-Go
// twins, over row counts with and without a tail of rows outside the copy.
func TestPacked(t *testing.T) {
	if !hasVNNI512 || asmOff {
		t.Skip("no AVX-512 VNNI or assembly off (" + NoAsmEnv + "): no packed copies are made")
	}
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(41, 42))
	for _, typ := range packedTypes {
		for _, sh := range [][2]int{{16, 32}, {17, 64}, {31, 96}, {32, 32}, {48, 1536}, {100, 256}, {257, 128}, {1536, 512}, {4104, 64}} {
			for _, threads := range []int{1, 2, 3} {
				cols := packedCols(typ, sh[1])
				t.Run(fmt.Sprintf("%s/%dx%d/t%d", typ, sh[0], cols, threads), func(t *testing.T) {
					SetThreads(threads)
					checkPacked(t, rng, typ, sh[0], cols, 9)
				})
			}
		}
	}
}

// TestPackRoundTrip checks that packing loses nothing.
func TestPackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, c := range []struct {
		typ          Type
		pack, unpack func(dst, src []byte, nb int)
	}{{Q4_0, packQ4_0x16, unpackQ4_0x16}, {Q8_0, packQ8_0x16, unpackQ8_0x16}, {Q4_K, packQ4_Kx16, unpackQ4_Kx16}, {Q6_K, packQ6_Kx16, unpackQ6_Kx16}} {
		for _, nb := range []int{1, 3, 48} {
			src := randomQuantRows(rng, c.typ, 16, nb*c.typ.BlockSize())
			packed := make([]byte, len(src))
			back := make([]byte, len(src))
			c.pack(packed, src, nb)
			c.unpack(back, packed, nb)
			if !bytes.Equal(back, src) {
				t.Fatalf("%s, %d blocks: the round trip changed the rows", c.typ, nb)
			}
		}
	}
}

// TestPackReleasing checks that PackReleasing hands back the rows part by
// part, in order, each part only once the copy holds its rows and before
// the next part is read, and that the copy equals Pack's: the parts are
// scrambled as they are released, as their file pages are dropped.
func TestPackReleasing(t *testing.T) {
	if !hasVNNI512 || asmOff {
		t.Skip("no AVX-512 VNNI, or GLASSBOX_NOASM set: no packed copy")
	}
	rng := rand.New(rand.NewPCG(47, 48))
	for _, c := range []struct {
		typ        Type
		rows, cols int
	}{{Q8_0, 16*40 + 5, 4096}, {Q4_0, 16 * 3, 256}, {Q4_K, 16*100 + 15, 2048}, {Q6_K, 16 * 70, 1024}} {
		t.Run(fmt.Sprintf("%s/%dx%d", c.typ, c.rows, c.cols), func(t *testing.T) {
			data := randomQuantRows(rng, c.typ, c.rows, c.cols)
			want, _ := NewMatrix(c.typ, c.rows, c.cols, bytes.Clone(data))
			want.Pack()
			w, _ := NewMatrix(c.typ, c.rows, c.cols, data)
			rb := w.rowBytes()
			covered := c.rows / 16 * 16 * rb
			next, parts := 0, 0
			n, err := w.PackReleasing(nil, func(b []byte) error {
				off := int(uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&w.Data[0])))
				if off != next || len(b)%(16*rb) != 0 || len(b) > max(packPart, 16*rb) {
					t.Fatalf("part %d: bytes [%d, %d), want a whole number of groups from %d, at most %d bytes", parts, off, off+len(b), next, max(packPart, 16*rb))
				}
				if !bytes.Equal(w.packed[off:off+len(b)], want.packed[off:off+len(b)]) {
					t.Fatalf("part %d released before the copy holds its rows", parts)
				}
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				next += len(b)
				parts++
				return nil
			})
			if err != nil || n != covered || next != covered {
				t.Fatalf("PackReleasing = %d, %v; released %d bytes; want %d bytes packed and released", n, err, next, covered)
			}
			if wantParts := (covered + max(packPart/(16*rb), 1)*16*rb - 1) / (max(packPart/(16*rb), 1) * 16 * rb); parts != wantParts {
				t.Errorf("%d parts, want %d", parts, wantParts)
			}
			if !bytes.Equal(w.packed, want.packed) {
				t.Fatal("the copy differs from Pack's")
			}
			// a failing release stops the releases but not the copy
			w2, _ := NewMatrix(c.typ, c.rows, c.cols, bytes.Clone(want.Data))
			calls := 0
			boom := errors.New("boom")
			n, err = w2.PackReleasing(nil, func([]byte) error { calls++; return boom })
			if !errors.Is(err, boom) || calls != 1 || n != covered {
				t.Fatalf("failing release: %d bytes, %v after %d calls; want %d bytes, boom after 1", n, err, calls, covered)
			}
			if !bytes.Equal(w2.packed, want.packed) {
				t.Fatal("failing release: the copy differs from Pack's")
			}
		})
	}
}

// TestPackArena checks that matrices packed into an arena sized by their
// PackedBytes fill it exactly, each copy inside it and equal to Pack's own,
// and that their products are the plain layout's bit for bit; a matrix
// without a copy takes nothing, and one that no longer fits is packed on its
// own.
func TestPackArena(t *testing.T) {
	if !hasVNNI512 || asmOff {
		t.Skip("no AVX-512 VNNI, or GLASSBOX_NOASM set: no packed copy")
	}
	rng := rand.New(rand.NewPCG(49, 50))
	shapes := []struct {
		typ        Type
		rows, cols int
	}{{Q8_0, 16*5 + 3, 32 * 7}, {F16, 64, 64}, {Q4_0, 16 * 3, 32 * 5}, {Q4_K, 16*9 + 15, 256 * 3}, {Q6_K, 16 * 4, 256}, {Q8_0, 15, 64}, {Q8_0, 16 * 200, 1536}}
	var plains, mats []*Matrix
	size := 0
	for _, c := range shapes {
		data := randomQuantRows(rng, c.typ, c.rows, c.cols)
		plain, _ := NewMatrix(c.typ, c.rows, c.cols, data)
		w, _ := NewMatrix(c.typ, c.rows, c.cols, bytes.Clone(data))
		plains, mats = append(plains, plain), append(mats, w)
		size += w.PackedBytes()
	}
	a := NewArena(size)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(a.buf)))
	for i, w := range mats {
		want, _ := NewMatrix(w.Type, w.Rows, w.Cols, bytes.Clone(w.Data))
		wantN := want.Pack()
		if got := w.PackedBytes(); got != (wantN+63)&^63 {
			t.Fatalf("%s %d×%d: PackedBytes %d, want Pack's %d rounded up to 64", w.Type, w.Rows, w.Cols, got, wantN)
		}
		n, err := w.PackReleasing(a, nil)
		if err != nil || n != wantN || !bytes.Equal(w.packed, want.packed) {
			t.Fatalf("%s %d×%d: PackReleasing into the arena = %d, %v, want %d bytes equal to Pack's", w.Type, w.Rows, w.Cols, n, err, wantN)
		}
		if n == 0 {
			continue
		}
		p := uintptr(unsafe.Pointer(unsafe.SliceData(w.packed)))
		if p < base || p+uintptr(n) > base+uintptr(size) {
			t.Fatalf("shape %d: the copy is not in the arena", i)
		}
		x := make([]float32, w.Cols)
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		got, ref := make([]float32, w.Rows), make([]float32, w.Rows)
		MatVec(got, w, x)
		MatVec(ref, plains[i], x)
		for j := range got {
			if !sameBits(got[j], ref[j]) {
				t.Fatalf("%s %d×%d: output %d: arena copy %v, plain %v", w.Type, w.Rows, w.Cols, j, got[j], ref[j])
			}
		}
	}
	if a.Left() != 0 {
		t.Fatalf("the arena has %d bytes left, want 0", a.Left())
	}
	more, _ := NewMatrix(Q4_0, 16, 32, randomQuantRows(rng, Q4_0, 16, 32))
	if n, err := more.PackReleasing(a, nil); n != 16*szQ40 || err != nil {
		t.Fatalf("packing into a full arena: %d, %v; want %d bytes on their own", n, err, 16*szQ40)
	}
}

// TestPackOnlyWhereKernelsRun checks that Pack copies nothing for types
// without packed kernels, for too few rows, or with the assembly off.
func TestPackOnlyWhereKernelsRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for _, c := range []struct {
		typ  Type
		rows int
	}{{Q4_0, 15}, {Q8_0, 15}, {Q4_K, 15}, {Q6_K, 15}, {Q5_K, 64}, {F16, 64}} {
		w := randomMatrix(t, rng, c.typ, c.rows, 256)
		if got := w.Pack(); got != 0 {
			t.Errorf("%s %d rows: Pack made %d bytes, want none", c.typ, c.rows, got)
		}
	}
}

// FuzzPacked checks the packed kernels against the plain layout and the
// twins on weights, shapes and activations drawn from the fuzzer's input.
func FuzzPacked(f *testing.F) {
	if !hasVNNI512 || asmOff {
		f.Skip("no AVX-512 VNNI or assembly off (" + NoAsmEnv + "): no packed copies are made")
	}
	f.Add(uint64(1), uint8(16), uint8(1), uint8(1), uint8(0))
	f.Add(uint64(2), uint8(47), uint8(5), uint8(9), uint8(1))
	f.Add(uint64(3), uint8(255), uint8(2), uint8(2), uint8(1))
	f.Add(uint64(4), uint8(33), uint8(3), uint8(0), uint8(2))
	f.Fuzz(func(t *testing.T, seed uint64, rows, blocks, threads, kind uint8) {
		typ := packedTypes[int(kind)%len(packedTypes)]
		defer SetThreads(0)
		SetThreads(1 + int(threads%3))
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		nb := 1 + int(blocks%16)
		if typ.BlockSize() == qkK {
			nb = 1 + int(blocks%4)
		}
		checkPacked(t, rng, typ, 16+int(rows), typ.BlockSize()*nb, 8+int(threads%4))
	})
}
