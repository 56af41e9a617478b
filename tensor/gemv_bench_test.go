package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkGemv multiplies weight matrices by one vector (token
// generation's product), once far larger than the caches (dram: 131072×1536,
// or fewer rows for types of more than five bits a weight so that the
// matrix stays near 128 MiB, the weight bytes of a 400M model's worth of
// layers) and once small enough
// to stay in L2 (l2: 512×1536, the kernel's own speed), at one and two
// threads. MB/s is weight bytes streamed per second: compare dram with
// BenchmarkMemoryBandwidth.
func BenchmarkGemv(b *testing.B) {
	defer SetThreads(0)
	const cols = 1536
	rng := rand.New(rand.NewPCG(31, 32))
	x := randNormal(rng, cols, 1)
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K, F16} {
		rb, _ := typ.RowBytes(cols)
		for _, size := range []struct {
			name string
			rows int
		}{{"dram", min(131072, (128<<20)/rb&^15)}, {"l2", 512}} {
			plain := randomMatrix(b, rng, typ, size.rows, cols)
			packed := &Matrix{Type: typ, Rows: size.rows, Cols: cols, Data: plain.Data}
			dst := make([]float32, size.rows)
			for _, w := range []*Matrix{plain, packed} {
				layout := "plain"
				if w == packed {
					// in an arena, as a model's copies are (huge pages)
					if n, _ := w.PackReleasing(NewArena(w.PackedBytes()), nil); n == 0 {
						continue
					}
					layout = "packed"
				}
				for _, th := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/%s/%s/t%d", typ, size.name, layout, th), func(b *testing.B) {
						SetThreads(th)
						b.SetBytes(int64(len(w.Data)))
						for b.Loop() {
							MatVec(dst, w, x)
						}
					})
				}
			}
		}
	}
}

// BenchmarkGemvLayers runs token generation's products over the matrices
// of four layers of the 400M shape in turn (q, k, v, o, gate, up, down: dim
// 1536, FFN 4096, 4 key/value heads of 128), packed into one arena as a
// model's are, at one and two threads: unlike BenchmarkGemv's one large
// matrix, each product starts a new stream of a few MiB. MB/s is weight
// bytes streamed per second.
func BenchmarkGemvLayers(b *testing.B) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(35, 36))
	shapes := [][2]int{{1536, 1536}, {512, 1536}, {512, 1536}, {1536, 1536}, {4096, 1536}, {4096, 1536}, {1536, 4096}}
	x := randNormal(rng, 4096, 1)
	dst := make([]float32, 4096)
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K} {
		var mats []*Matrix
		size, bytes := 0, 0
		for range 4 {
			for _, s := range shapes {
				m := randomMatrix(b, rng, typ, s[0], s[1])
				mats = append(mats, m)
				size += m.PackedBytes()
				bytes += len(m.Data)
			}
		}
		a := NewArena(size)
		for _, m := range mats {
			m.PackReleasing(a, nil)
		}
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/t%d", typ, th), func(b *testing.B) {
				SetThreads(th)
				b.SetBytes(int64(bytes))
				for b.Loop() {
					for _, m := range mats {
						MatVec(dst[:m.Rows], m, x[:m.Cols])
					}
				}
			})
		}
	}
}

// BenchmarkPack measures building the packed copy of a 4096×1536 matrix
// (3072 columns for the K-quants; model load time): MB/s is weight bytes
// packed per second.
func BenchmarkPack(b *testing.B) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K} {
		cols := 1536
		if typ.BlockSize() == qkK {
			cols = 3072
		}
		w := randomMatrix(b, rng, typ, 4096, cols)
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(len(w.Data)))
			for b.Loop() {
				w.packed = nil
				if w.Pack() == 0 {
					b.Skip("no packed copies on this CPU")
				}
			}
		})
	}
}

// BenchmarkPanel measures building the weight panels of the batch kernels
// (prompt processing) from the plain layout and from the packed copy, over
// a 4096×1536 matrix (3072 columns for the K-quants): MB/s is weight bytes
// turned into panels per second.
func BenchmarkPanel(b *testing.B) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K} {
		cols := 1536
		if typ.BlockSize() == qkK {
			cols = 3072
		}
		w := randomMatrix(b, rng, typ, 4096, cols)
		nb := cols / typ.BlockSize()
		for _, layout := range []string{"plain", "packed"} {
			b.Run(fmt.Sprintf("%s/%s", typ, layout), func(b *testing.B) {
				if layout == "packed" && w.Pack() == 0 {
					b.Skip("no packed copies on this CPU")
				}
				prows, pblock, pack := panelShape(w)
				if pack == nil {
					b.Skip("no panel kernels on this CPU")
				}
				panel := make([]byte, nb*pblock)
				b.SetBytes(int64(len(w.Data)))
				for b.Loop() {
					for r := 0; r+prows <= w.Rows; r += prows {
						pack(panel, w, r, nb)
					}
				}
			})
		}
	}
}

// BenchmarkGemvBatch multiplies a packed weight matrix far larger than the
// caches (as BenchmarkGemv's dram case) by n activation rows at once, the
// product of a decode step of n sequences decoded together: compare the
// time per op with n=1's (the ideal is one weight read for any n). MB/s is
// weight bytes streamed per second.
func BenchmarkGemvBatch(b *testing.B) {
	defer SetThreads(0)
	const cols = 1536
	rng := rand.New(rand.NewPCG(35, 36))
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K} {
		rb, _ := typ.RowBytes(cols)
		rows := min(131072, (128<<20)/rb&^15)
		w := randomMatrix(b, rng, typ, rows, cols)
		if w.Pack() == 0 {
			b.Skip("no packed copies on this CPU")
		}
		for _, th := range []int{1, 2} {
			for _, n := range []int{1, 2, 4, 8, 16} {
				x := randNormal(rng, n*cols, 1)
				dst := make([]float32, n*rows)
				b.Run(fmt.Sprintf("%s/n=%d/t%d", typ, n, th), func(b *testing.B) {
					SetThreads(th)
					b.SetBytes(int64(len(w.Data)))
					for b.Loop() {
						MatMul(dst, w, x, n)
					}
				})
			}
		}
	}
}
