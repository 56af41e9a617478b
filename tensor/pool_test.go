package tensor

import (
	"sync/atomic"
	"testing"
)

// TestParallel checks that Parallel covers [0, n) exactly once, in ranges
// that never run concurrently on the same worker number, for several thread
// and worker counts.
func TestParallel(t *testing.T) {
	defer SetThreads(Threads())
	tests := []struct {
		threads, workers, n int
	}{
		{1, 1, 0}, {1, 1, 1}, {1, 4, 100}, {2, 1, 100}, {2, 2, 1}, {2, 2, 2},
		{2, 2, 7}, {2, 2, 1000}, {2, 8, 1000}, {4, 3, 513}, {4, 4, 10000},
	}
	for _, tc := range tests {
		SetThreads(tc.threads)
		seen := make([]atomic.Int32, tc.n)
		busy := make([]atomic.Int32, tc.workers)
		var bad atomic.Int32
		fn := func(lo, hi, w int) {
			if w < 0 || w >= tc.workers || lo < 0 || hi > tc.n || lo >= hi {
				bad.Add(1)
				return
			}
			if busy[w].Add(1) != 1 {
				bad.Add(1)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
			busy[w].Add(-1)
		}
		for range 3 {
			Parallel(tc.n, tc.workers, fn)
		}
		if bad.Load() != 0 {
			t.Errorf("threads %d workers %d n %d: %d bad ranges or worker numbers", tc.threads, tc.workers, tc.n, bad.Load())
		}
		for i := range seen {
			if got := seen[i].Load(); got != 3 {
				t.Errorf("threads %d workers %d n %d: index %d visited %d times in 3 calls, want 3", tc.threads, tc.workers, tc.n, i, got)
				break
			}
		}
	}
}

// TestParallelNoAlloc checks that a Parallel call with a prebuilt function
// and a MatVec on the pool allocate nothing once warm.
func TestParallelNoAlloc(t *testing.T) {
	defer SetThreads(Threads())
	SetThreads(2)
	var sum [2]atomic.Int64
	fn := func(lo, hi, w int) { sum[w].Add(int64(hi - lo)) }
	if a := testing.AllocsPerRun(100, func() { Parallel(64, 2, fn) }); a != 0 {
		t.Errorf("Parallel allocates %.1f times per call, want 0", a)
	}
	w := &Matrix{Type: F32, Rows: 256, Cols: 512, Data: make([]byte, 256*512*4)}
	x := make([]float32, 512)
	dst := make([]float32, 256)
	if a := testing.AllocsPerRun(100, func() { MatVec(dst, w, x) }); a != 0 {
		t.Errorf("MatVec allocates %.1f times per call, want 0", a)
	}
}

// BenchmarkParallel measures the cost of handing a small job to the pool.
func BenchmarkParallel(b *testing.B) {
	defer SetThreads(Threads())
	SetThreads(2)
	var sink [2]atomic.Int64
	fn := func(lo, hi, w int) { sink[w].Add(int64(hi - lo)) }
	for b.Loop() {
		Parallel(16, 2, fn)
	}
}

// TestChunkSize checks the ranges the pool hands out: a one-row product
// gets one contiguous range per goroutine (at most nw ranges, whole groups
// of sixteen rows for the packed kernels, of eight for the others when
// large), and the other jobs keep eight ranges per goroutine.
func TestChunkSize(t *testing.T) {
	tests := []struct {
		n, nw          int
		stream, packed bool
		want           int
	}{
		{1536, 2, true, true, 768},
		{1544, 2, true, true, 784}, // 772 rounded up to a group
		{32000, 2, true, true, 16000},
		{4096, 3, true, true, 1376},
		{16, 2, true, true, 16},
		{100, 2, true, false, 64}, // 50 ≥ 32: groups of sixteen
		{40, 2, true, false, 24},  // 20: groups of eight
		{7, 2, true, false, 4},
		{1536, 2, false, true, 96},
		{1536, 2, false, false, 96},
		{100, 2, false, false, 6},
		{200, 2, false, false, 8},
		{10, 2, false, true, 16},
		{3, 2, false, false, 1},
	}
	for _, tc := range tests {
		got := chunkSize(tc.n, tc.nw, tc.stream, tc.packed)
		if got != tc.want {
			t.Errorf("chunkSize(%d, %d, stream %v, packed %v) = %d, want %d", tc.n, tc.nw, tc.stream, tc.packed, got, tc.want)
		}
		if tc.stream && (tc.n+got-1)/got > tc.nw {
			t.Errorf("chunkSize(%d, %d, stream): %d ranges for %d goroutines", tc.n, tc.nw, (tc.n+got-1)/got, tc.nw)
		}
	}
}
