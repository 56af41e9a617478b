package bench

import (
	"context"
	"strings"
	"testing"
)

func TestMemoryBandwidth(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 0} {
		bw, err := MemoryBandwidth(context.Background(), 8<<20+100, threads)
		if err != nil {
			t.Fatal(err)
		}
		// anything from a slow VM (100 MB/s) to a server (2 TB/s, a buffer in cache)
		if bw < 1e8 || bw > 2e12 {
			t.Errorf("%d threads: %.3g bytes/s", threads, bw)
		}
	}
	if _, err := MemoryBandwidth(context.Background(), 4096, 1); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("small buffer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := MemoryBandwidth(ctx, 1<<20, 1); err == nil {
		t.Error("cancelled: no error")
	}
}

func TestMatVecThroughput(t *testing.T) {
	for _, q := range []string{"Q4_K_M", "Q8_0", "F16", "Q4_0", "Q6_K"} {
		bps, err := MatVecThroughput(context.Background(), q, 4<<20)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if bps < 1e6 || bps > 2e12 {
			t.Errorf("%s: %.3g bytes/s", q, bps)
		}
	}
	for _, tc := range []struct{ quant, want string }{{"Q9", "unknown quantization"}, {"IQ1_S", "no matrix product"}} {
		if _, err := MatVecThroughput(context.Background(), tc.quant, 4<<20); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.quant, err, tc.want)
		}
	}
	if _, err := MatVecThroughput(context.Background(), "Q8_0", 1000); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("small: %v", err)
	}
}
