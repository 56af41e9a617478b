//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestF16Tile checks F16Tile, in one piece and in pieces with the rows
// strided as in a paged cache, against DotF16GEMM output by output and
// against its pure-Go twin bit for bit, with edge-case values.
func TestF16Tile(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 29))
	for _, sh := range []struct {
		pieces []int
		ws, xs int // extra elements between rows
	}{
		{[]int{16}, 0, 0}, {[]int{128}, 384, 0}, {[]int{64, 64, 32}, 7, 16}, {[]int{256, 256, 16}, 0, 3}, {[]int{32, 16}, 100, 100},
	} {
		n := 0
		for _, p := range sh.pieces {
			n += p
		}
		for _, regime := range []int{0, 5} {
			t.Run(fmt.Sprintf("%v/ws+%d/xs+%d/r%d", sh.pieces, sh.ws, sh.xs, regime), func(t *testing.T) {
				ws, xs := n+sh.ws, n+sh.xs
				w := make([]uint16, 3*ws+n)
				x := make([]float32, 3*xs+n)
				xh := make([]uint16, len(x))
				for i := range w {
					w[i] = F32ToF16(edgeFloat(rng, regime*rng.IntN(6)/5))
				}
				for i := range x {
					xh[i] = F32ToF16(edgeFloat(rng, regime*rng.IntN(6)/5))
					x[i] = F16ToF32(xh[i])
				}
				var want [16]float32
				for i := range 4 {
					for j := range 4 {
						d, ok := DotF16GEMM(xh[j*xs:j*xs+n], w[i*ws:i*ws+n])
						if !ok {
							t.Fatal("DotF16GEMM refused")
						}
						want[4*j+i] = d
					}
				}
				for _, asm := range []bool{true, false} {
					useAsm(asm)
					var tile F16Tile
					var got [16]float32
					for rep := range 2 { // a second block after Sums starts afresh
						off := 0
						for k, p := range sh.pieces {
							if k == len(sh.pieces)-1 {
								tile.Sums(p, w[off:], ws, x[off:], xs, &got)
							} else {
								tile.Add(p, w[off:], ws, x[off:], xs)
							}
							off += p
						}
						for m := range got {
							if !sameBits(got[m], want[m]) {
								t.Fatalf("asm=%v block %d output %d: %g (%#x), DotF16GEMM %g (%#x)", asm, rep, m, got[m], math.Float32bits(got[m]), want[m], math.Float32bits(want[m]))
							}
						}
					}
				}
				useAsm(true)
			})
		}
	}
}

// BenchmarkF16Tile measures F16Tile at an attention head's size (128).
func BenchmarkF16Tile(b *testing.B) {
	const n = 128
	w := make([]uint16, 4*n)
	x := make([]float32, 4*n)
	var tile F16Tile
	var out [16]float32
	for b.Loop() {
		tile.Sums(n, w, n, x, n, &out)
	}
	b.ReportMetric(float64(16*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

// TestF16TileRows checks F16TileRows, the assembly and its pure-Go twin,
// against one F16Tile.Sums per block bit for bit: 1 to 9 blocks, rows
// strided as in a paged cache, output rows wider than the blocks, every
// value regime.
func TestF16TileRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 43))
	defer useAsm(true)
	for _, n := range []int{16, 128, 256} {
		for groups := 1; groups <= 9; groups++ {
			for _, regime := range []int{0, 5} {
				ws, xs, os := n+32, n+16, 4*groups+8
				w := make([]uint16, (4*groups-1)*ws+n)
				x := make([]float32, 3*xs+n)
				for i := range w {
					w[i] = F32ToF16(edgeFloat(rng, regime*rng.IntN(6)/5))
				}
				for i := range x {
					x[i] = F16ToF32(F32ToF16(edgeFloat(rng, regime*rng.IntN(6)/5)))
				}
				want := make([]float32, 3*os+4*groups)
				var tile F16Tile
				var out [16]float32
				for g := range groups {
					tile.Sums(n, w[4*g*ws:], ws, x, xs, &out)
					for j := range 4 {
						copy(want[j*os+4*g:], out[4*j:4*j+4])
					}
				}
				for _, asm := range []bool{true, false} {
					useAsm(asm)
					got := make([]float32, len(want))
					F16TileRows(n, w, ws, groups, x, xs, got, os)
					for i := range got {
						if !sameBits(got[i], want[i]) {
							t.Fatalf("n=%d groups=%d r%d asm=%v: output %d (row %d, column %d): %g, Sums %g", n, groups, regime, asm, i, i/os, i%os, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
