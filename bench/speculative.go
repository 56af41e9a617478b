package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime/pprof"

	"glassbox"
	"glassbox/tensor"
)

// SpecOptions configures RunSpeculative.
type SpecOptions struct {
	Prompt      string                // the text generation continues (speculation depends on it)
	Gen         int                   // tokens generated greedily, end-of-generation ignored
	Threads     []int                 // thread counts (none: the current one)
	Repetitions int                   // measured pairs of runs after a warm-up pair, at least 1
	Spec        *glassbox.Speculative // the drafter
	CPUProfile  io.Writer             // when set, receives a Go CPU profile of the runs (go tool pprof)
}

// RunSpeculative measures speculative decoding against plain decoding on
// the same greedy generation: for each thread count, after a warm-up pair,
// each repetition runs the plain generation then the speculative one
// (interleaved, so that a noisy machine slows both alike), and checks that
// both generated the same tokens. It returns, per thread count, the plain
// row (test "tgN") and the speculative row ("tgN+lookup" or
// "tgN+draft"), whose Drafted, Accepted and SpeedUp (its mean tokens per
// second over the plain row's) say what speculation did. Tokens per second
// count generation only (the prompt is processed before the clock starts).
func RunSpeculative(ctx context.Context, m *glassbox.Model, opts SpecOptions) ([]Result, error) {
	if opts.Gen < 1 || opts.Repetitions < 1 || opts.Spec == nil || opts.Prompt == "" {
		return nil, fmt.Errorf("bench: a speculative run needs a prompt, a drafter, ≥ 1 generated token and ≥ 1 repetition")
	}
	threads := opts.Threads
	if len(threads) == 0 {
		threads = []int{tensor.Threads()}
	}
	kind, draftName := "lookup", ""
	if opts.Spec.Draft != nil {
		kind, draftName = "draft", filepath.Base(opts.Spec.Draft.Path())
	}
	c := m.Config()
	ids := m.Encode(opts.Prompt, glassbox.GenerateOptions{})
	run := func(sp *glassbox.Speculative) (*glassbox.Result, error) {
		s, err := m.NewSession()
		if err != nil {
			return nil, err
		}
		spec, err := s.Speculation(sp)
		if err != nil {
			return nil, err
		}
		return s.Generate(ctx, glassbox.Request{Prompt: ids, MaxTokens: opts.Gen, IgnoreEOS: true, Speculative: spec})
	}
	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return nil, fmt.Errorf("bench: CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var results []Result
	for _, t := range threads {
		if t < 1 {
			return nil, fmt.Errorf("bench: %d is not a positive thread count", t)
		}
		tensor.SetThreads(t)
		var size, params int64
		if f := m.GGUF(); f != nil {
			for _, ti := range f.Tensors {
				size += int64(ti.Size())
				params += int64(ti.Elements())
			}
		}
		base := Result{Model: filepath.Base(m.Path()), Type: c.FileType, SizeBytes: size, Params: params, Threads: t, LoadMS: float64(m.LoadDuration().Microseconds()) / 1000,
			TypeK: m.KeyCacheType().String(), TypeV: m.KVCacheType().String()}
		plain, spec := base, base
		plain.Test = fmt.Sprintf("tg%d", opts.Gen)
		spec.Test = fmt.Sprintf("tg%d+%s", opts.Gen, kind)
		spec.Draft = draftName
		for rep := -1; rep < opts.Repetitions; rep++ {
			a, err := run(nil)
			if err != nil {
				return results, err
			}
			b, err := run(opts.Spec)
			if err != nil {
				return results, err
			}
			if fmt.Sprint(a.IDs) != fmt.Sprint(b.IDs) {
				return results, fmt.Errorf("bench: speculative decoding generated other tokens than plain decoding (%v, plain %v)", b.IDs, a.IDs)
			}
			if rep < 0 {
				continue // warm-up
			}
			plain.Samples = append(plain.Samples, a.Timings.GenPerSecond())
			spec.Samples = append(spec.Samples, b.Timings.GenPerSecond())
			spec.Drafted += b.Speculative.Drafted
			spec.Accepted += b.Speculative.Accepted
			spec.Rounds += b.Speculative.Rounds
		}
		plain.TokensPerS, plain.StdDev = meanStd(plain.Samples)
		spec.TokensPerS, spec.StdDev = meanStd(spec.Samples)
		spec.SpeedUp = spec.TokensPerS / plain.TokensPerS
		plain.PeakRSS, spec.PeakRSS = peakRSS(), peakRSS()
		results = append(results, plain, spec)
	}
	return results, nil
}
