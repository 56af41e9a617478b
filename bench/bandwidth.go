package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"glassbox"
	"glassbox/tensor"
)

// DefaultBandwidthBytes is the buffer MemoryBandwidth streams by default:
// far larger than any CPU cache, so the figure is the memory's.
const DefaultBandwidthBytes = 256 << 20

// MemoryBandwidth measures how many bytes per second threads goroutines
// together read from memory, summing a buffer of size bytes as 64-bit words
// (each goroutine its own share), the best of a few passes after a warm-up
// one. Token generation reads every weight once per token, so this read
// bandwidth is its ceiling. threads < 1 means runtime.NumCPU(); size is
// rounded down to a multiple of 4 KiB and must be at least 1 MiB.
// Cancelling ctx stops it between passes.
func MemoryBandwidth(ctx context.Context, size int64, threads int) (float64, error) {
	if threads < 1 {
		threads = runtime.NumCPU()
	}
	size &^= 4095
	if size < 1<<20 {
		return 0, fmt.Errorf("bench: a bandwidth buffer of %d bytes is too small (at least 1 MiB)", size)
	}
	buf := make([]uint64, size/8)
	for i := range buf { // touch every page, so that no pass measures page faults
		buf[i] = uint64(i)
	}
	chunk := (len(buf) + threads - 1) / threads
	chunk = (chunk + 3) &^ 3
	sums := make([]uint64, threads)
	pass := func() time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for t := 0; t < threads; t++ {
			lo := min(t*chunk, len(buf))
			hi := min(lo+chunk, len(buf))
			wg.Add(1)
			go func(t int, part []uint64) {
				defer wg.Done()
				var s0, s1, s2, s3 uint64
				i := 0
				for ; i+4 <= len(part); i += 4 {
					s0 += part[i]
					s1 += part[i+1]
					s2 += part[i+2]
					s3 += part[i+3]
				}
				for ; i < len(part); i++ {
					s0 += part[i]
				}
				sums[t] = s0 + s1 + s2 + s3
			}(t, buf[lo:hi])
		}
		wg.Wait()
		return time.Since(start)
	}
	pass() // warm-up
	best := time.Duration(0)
	for range 5 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if d := pass(); best == 0 || d < best {
			best = d
		}
	}
	var total uint64
	for _, s := range sums {
		total += s
	}
	want := uint64(len(buf)) * uint64(len(buf)-1) / 2 // the sum of 0 … n-1, so the reads cannot be dropped
	if total != want {
		return 0, fmt.Errorf("bench: the bandwidth pass summed %d, want %d", total, want)
	}
	return float64(size) / best.Seconds(), nil
}

// MatVecCols is the row length of the matrix MatVecThroughput multiplies, a
// usual model width.
const MatVecCols = 4096

// MatVecThroughput measures the engine's matrix-vector product, the work of
// token generation, on weights of quantization quant (a GGML type or
// llama.cpp file type such as Q4_K_M, read as its base type, see
// glassbox.QuantBitsPerWeight): a matrix of about size bytes (rows of
// MatVecCols, far larger than any cache, filled with random blocks) times a
// vector, with the current thread count (tensor.Threads), the best of a few
// passes after a warm-up one. It returns the bytes of weights processed per
// second: generating a token reads each weight once, so a model of W bytes
// of weights generates at most about this ÷ W tokens per second. Cancelling
// ctx stops it between passes.
func MatVecThroughput(ctx context.Context, quant string, size int64) (float64, error) {
	_, t, err := glassbox.QuantBitsPerWeight(quant)
	if err != nil {
		return 0, err
	}
	if !tensor.Supported(t) {
		return 0, fmt.Errorf("bench: glassbox has no matrix product for %s weights", t)
	}
	rb, err := t.RowBytes(MatVecCols)
	if err != nil {
		return 0, err
	}
	rows := int(size / int64(rb))
	if rows < 64 {
		return 0, fmt.Errorf("bench: a matrix of %d bytes is too small (at least %d)", size, 64*rb)
	}
	data := make([]byte, rows*rb)
	rng := rand.New(rand.NewPCG(7, 11))
	switch t {
	case tensor.F32, tensor.F16, tensor.BF16: // real numbers, no NaN or subnormal to slow the arithmetic
		for i := 0; i < len(data); {
			f := float32(rng.NormFloat64())
			switch t {
			case tensor.F32:
				binary.LittleEndian.PutUint32(data[i:], math.Float32bits(f))
				i += 4
			case tensor.F16:
				binary.LittleEndian.PutUint16(data[i:], tensor.F32ToF16(f))
				i += 2
			default:
				binary.LittleEndian.PutUint16(data[i:], uint16(math.Float32bits(f)>>16))
				i += 2
			}
		}
	default: // random blocks: quants and scales, whatever they decode to, cost the same
		for i := 0; i+8 <= len(data); i += 8 {
			binary.LittleEndian.PutUint64(data[i:], rng.Uint64())
		}
	}
	w, err := tensor.NewMatrix(t, rows, MatVecCols, data)
	if err != nil {
		return 0, err
	}
	x := make([]float32, MatVecCols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	dst := make([]float32, rows)
	tensor.MatVec(dst, w, x) // warm-up
	best := time.Duration(0)
	for range 5 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		tensor.MatVec(dst, w, x)
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	return float64(len(data)) / best.Seconds(), nil
}
