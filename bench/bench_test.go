package bench

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/synth"
	"glassbox/models"
	"glassbox/tensor"
)

func openEmbedded(t *testing.T) *glassbox.Model {
	t.Helper()
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestRun: one result per test and thread count, pp before tg, with the
// repetitions asked for, and a table with a row for each.
func TestRun(t *testing.T) {
	m := openEmbedded(t)
	res, err := Run(context.Background(), m, Options{Prompt: 8, Gen: 2, Threads: []int{1, 2}, Repetitions: 2, BandwidthBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		tg := strings.HasPrefix(r.Test, "tg")
		if tg != (r.BytesPerToken > 0) || tg != (r.Bandwidth > 0) || tg != (r.BandwidthFraction > 0) {
			t.Errorf("%s: bytes per token %d, bandwidth %g, fraction %g: want all three on tg rows only", r.Test, r.BytesPerToken, r.Bandwidth, r.BandwidthFraction)
		}
		if tg {
			if f := float64(r.BytesPerToken) * r.TokensPerS / r.Bandwidth; math.Abs(f-r.BandwidthFraction) > 1e-9*f {
				t.Errorf("%s: fraction %g, want bytes per token × t/s ÷ bandwidth = %g", r.Test, r.BandwidthFraction, f)
			}
		}
	}
	want := []struct {
		test    string
		threads int
	}{{"pp8", 1}, {"tg2", 1}, {"pp8", 2}, {"tg2", 2}}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(res), len(want), res)
	}
	for i, r := range res {
		if r.Test != want[i].test || r.Threads != want[i].threads || len(r.Samples) != 2 || r.Model != models.DefaultName ||
			r.TokensPerS <= 0 || r.SizeBytes <= 0 || r.Params <= 0 || r.Type == "" {
			t.Errorf("result %d: %+v, want %s with %d threads", i, r, want[i].test, want[i].threads)
		}
	}
	var b bytes.Buffer
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(b.String(), "\n"); got != 1+len(res) || !strings.Contains(b.String(), "peak RSS") {
		t.Errorf("table of %d lines, want a header and %d rows:\n%s", got, len(res), b.String())
	}
}

// TestRunPeakRSSWithoutBandwidthBuffer: the buffer of the bandwidth
// ceilings, far larger than the model, counts in the peak RSS of no row,
// that of the second thread count's included. The peak RSS of a process
// only grows, so the measurement runs in a fresh process: the test binary
// run again for this test alone.
func TestRunPeakRSSWithoutBandwidthBuffer(t *testing.T) {
	const buffer = 192 << 20
	if os.Getenv("GLASSBOX_BENCH_RSS_CHILD") == "" {
		if testing.Short() {
			t.Skip("streams a 192 MiB buffer in a child process")
		}
		if peakRSS() == 0 {
			t.Skip("no peak RSS on this platform")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunPeakRSSWithoutBandwidthBuffer$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "GLASSBOX_BENCH_RSS_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the child process: %v\n%s", err, out)
		}
		t.Logf("the child process:\n%s", out)
		return
	}
	var b bytes.Buffer
	if err := synth.Write(&b, synth.Shapes["tiny"], tensor.F32, 1); err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.OpenBytes("tiny.gguf", b.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := Run(context.Background(), m, Options{Prompt: 4, Gen: 2, Threads: []int{1, 2}, Repetitions: 1, BandwidthBytes: buffer})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results, want 4: %+v", len(res), res)
	}
	for _, r := range res {
		t.Logf("%s, %d threads: peak RSS %.1f MiB, bandwidth %.2f GB/s", r.Test, r.Threads, float64(r.PeakRSS)/(1<<20), r.Bandwidth/1e9)
		if r.PeakRSS <= 0 || r.PeakRSS >= buffer {
			t.Errorf("%s, %d threads: peak RSS %d bytes, want below the bandwidth buffer's %d", r.Test, r.Threads, r.PeakRSS, buffer)
		}
		if tg := strings.HasPrefix(r.Test, "tg"); tg != (r.Bandwidth > 0) || tg != (r.BandwidthFraction > 0) {
			t.Errorf("%s, %d threads: bandwidth %g, fraction %g: want both on tg rows only", r.Test, r.Threads, r.Bandwidth, r.BandwidthFraction)
		}
	}
	if after := peakRSS(); after < buffer {
		t.Errorf("peak RSS after the run %d bytes: want at least the bandwidth buffer's %d (was it measured?)", after, buffer)
	}
}

// TestRunDepth: with a depth the tests run after that many prefilled
// tokens, named as llama-bench names them, and a tg row reads the cells of
// the positions after the depth.
func TestRunDepth(t *testing.T) {
	m := openEmbedded(t)
	res, err := Run(context.Background(), m, Options{Prompt: 4, Gen: 2, Depth: 16, Threads: []int{1}, Repetitions: 1, BandwidthBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Test != "pp4 @ d16" || res[1].Test != "tg2 @ d16" || res[0].Depth != 16 {
		t.Fatalf("results %+v, want pp4 @ d16 and tg2 @ d16", res)
	}
	shallow, err := Run(context.Background(), m, Options{Gen: 2, Threads: []int{1}, Repetitions: 1, BandwidthBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res[1].BytesPerToken <= shallow[0].BytesPerToken {
		t.Errorf("tg at depth 16 reads %d bytes a token, at depth 0 %d: want more", res[1].BytesPerToken, shallow[0].BytesPerToken)
	}
}

// TestRunErrors: options Run refuses, and a cancelled run that returns what
// it measured with the context's error.
func TestRunErrors(t *testing.T) {
	m := openEmbedded(t)
	ctxLen := m.Config().ContextLength
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"negative prompt", Options{Prompt: -1, Repetitions: 1}, "≥ 0"},
		{"no repetitions", Options{Prompt: 1}, "repetitions ≥ 1"},
		{"zero threads", Options{Prompt: 1, Repetitions: 1, Threads: []int{0}}, "not a positive thread count"},
		{"beyond the context", Options{Prompt: ctxLen + 1, Repetitions: 1}, "context holds"},
		{"negative depth", Options{Gen: 1, Depth: -1, Repetitions: 1}, "≥ 0"},
		{"depth beyond the context", Options{Gen: 2, Depth: ctxLen - 1, Repetitions: 1}, "depth"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Run(context.Background(), m, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := Run(context.Background(), m, Options{Gen: ctxLen + 1, Repetitions: 1}); !errors.Is(err, glassbox.ErrContext) {
		t.Errorf("a tg test beyond the context: %v, want glassbox.ErrContext", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, m, Options{Prompt: 4, Repetitions: 1})
	if !errors.Is(err, context.Canceled) || len(res) != 0 {
		t.Errorf("cancelled run: %d results, %v; want none and context.Canceled", len(res), err)
	}
}

func TestMeanStd(t *testing.T) {
	for _, tt := range []struct {
		xs        []float64
		mean, std float64
	}{
		{[]float64{5}, 5, 0},
		{[]float64{1, 3}, 2, math.Sqrt2},
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7)},
	} {
		mean, std := meanStd(tt.xs)
		if math.Abs(mean-tt.mean) > 1e-12 || math.Abs(std-tt.std) > 1e-12 {
			t.Errorf("meanStd(%v) = %v, %v; want %v, %v", tt.xs, mean, std, tt.mean, tt.std)
		}
	}
}

// TestSynthetic writes a tiny synthetic model, opens it and measures it;
// unknown shapes and types are refused.
func TestSynthetic(t *testing.T) {
	s, err := ParseSynthetic("tiny", "q8_0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.String(), "synthetic tiny Llama, ") || !strings.HasSuffix(s.String(), "parameters, Q8_0") || s.Params() <= 0 {
		t.Errorf("String() = %q, Params() = %d", s, s.Params())
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	var b bytes.Buffer
	if err := s.Write(&b, 1); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := Run(context.Background(), m, Options{Gen: 2, Repetitions: 1})
	if err != nil || len(res) != 1 || res[0].Test != "tg2" || res[0].Type != "Q8_0" || res[0].Model != "tiny.gguf" {
		t.Errorf("bench of the synthetic model: %+v, %v", res, err)
	}
	for _, tt := range []struct{ shape, typ, want string }{
		{"huge", "Q4_0", "unknown synthetic model shape"},
		{"tiny", "Q9_9", "weight type"},
	} {
		if _, err := ParseSynthetic(tt.shape, tt.typ); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSynthetic(%q, %q): %v, want %q", tt.shape, tt.typ, err, tt.want)
		}
	}
	if err := (SyntheticModel{}).Write(&b, 1); err == nil {
		t.Error("the zero SyntheticModel was written")
	}
}

// TestTokenBytes: the bytes a generated token reads, by hand for a tiny
// synthetic F32 model (untied output, 2 layers, 2 KV heads of 16) with an
// F16 cache, and for the same shape tied.
func TestTokenBytes(t *testing.T) {
	for _, tied := range []bool{false, true} {
		shape := synth.Shapes["tiny"]
		shape.Tied = tied
		var buf bytes.Buffer
		if err := synth.Write(&buf, shape, tensor.F32, 1); err != nil {
			t.Fatal(err)
		}
		m, err := glassbox.OpenBytes("tiny.gguf", buf.Bytes(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		embd := int64(4 * shape.Vocab * shape.Dim)
		weights := 4 * shape.Params()
		if !tied {
			weights += -embd + 4*int64(shape.Dim) // one row of the embeddings
		}
		// 4 tokens: positions 0..3 read 1+2+3+4 = 10 cells per layer, each
		// a key and a value of 32 F16 values
		kv := int64(2 * 10 * (64 + 64) / 4)
		got, err := tokenBytes(m, 0, 4, tensor.F16, tensor.F16)
		if err != nil {
			t.Fatal(err)
		}
		if got != weights+kv {
			t.Errorf("tied %v: %d bytes per token, want %d weights + %d KV", tied, got, weights, kv)
		}
	}
}

// TestTokenBytesExperts checks that a mixture of experts counts, of each
// layer's expert stacks (the matrices and, for gpt-oss, their biases), only
// the experts a token runs: the whole file's weights less (experts - used) ÷
// experts of them.
func TestTokenBytesExperts(t *testing.T) {
	for _, tc := range []struct {
		shape string
		// perExpert is the bytes of one expert in one layer: three F32
		// matrices of 64 × 64 for qwen3moe; for gpt-oss three MXFP4
		// matrices (64 rows of 2 blocks of 17 bytes) and three F32 biases
		// of 64.
		perExpert int64
	}{
		{"tinymoe", 3 * 4 * 64 * 64},
		{"tinygptoss", 3*64*2*17 + 3*4*64},
	} {
		shape := synth.Shapes[tc.shape]
		var buf bytes.Buffer
		if err := synth.Write(&buf, shape, tensor.F32, 1); err != nil {
			t.Fatal(err)
		}
		m, err := glassbox.OpenBytes(tc.shape+".gguf", buf.Bytes(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var all int64
		for _, ti := range m.GGUF().Tensors {
			all += int64(ti.Size())
		}
		embd := int64(4 * shape.Vocab * shape.Dim)
		want := all - embd + 4*int64(shape.Dim) - int64(shape.Layers*(shape.Experts-shape.ExpertsUsed))*tc.perExpert
		got, err := tokenBytes(m, 0, 0, tensor.F16, tensor.F16)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: %d bytes per token, want %d (all tensors: %d)", tc.shape, got, want, all)
		}
	}
}
