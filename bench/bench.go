// Package bench measures a model's speed as llama-bench does: prompt
// processing (ppN: N tokens in micro-batches of 512, logits of the last) and
// generation (tgN: N tokens one at a time from an empty cache) in tokens per
// second, as mean ± standard deviation over repetitions after one warm-up
// run, for each thread count, with the model's load time and the process's
// peak resident set size. It also writes the random-weight Llama models
// (SyntheticModel) that let glassbox and llama.cpp be compared on the same
// file. `glassbox bench` is this package's command line.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"glassbox"
	"glassbox/gguf"
	"glassbox/internal/synth"
	"glassbox/model"
	"glassbox/tensor"
)

// PromptBatch is the number of tokens the pp test runs through the model at
// a time, as llama-bench's default micro-batch.
const PromptBatch = 512

// Options says what Run measures.
type Options struct {
	Prompt int // tokens of the pp test, at most the model's training context (0: no pp test)
	Gen    int // tokens of the tg test, at most the model's training context (0: no tg test)
	// Depth is the number of tokens already in the KV cache when each test
	// starts (llama-bench's -d): random tokens prefilled, untimed, at each
	// thread count; the tests then run at positions Depth on.
	Depth       int
	Threads     []int     // thread counts to measure with, each at least 1 (none: the current one)
	Repetitions int       // measured runs of each test after the warm-up, at least 1
	CPUProfile  io.Writer // when set, receives a Go CPU profile of the runs (go tool pprof)
	// BandwidthBytes is the buffer MemoryBandwidth streams to measure the
	// memory-bandwidth ceiling of the tg rows, once per thread count after
	// the tests of all thread counts, so that no row's peak RSS counts the
	// buffer (0: DefaultBandwidthBytes; negative: not measured).
	BandwidthBytes int64
}

// Result is one measurement: one test at one thread count. It is one row of
// the table (WriteTable) and, with these names, one JSON object.
type Result struct {
	Model      string    `json:"model"`             // the model file's base name
	Type       string    `json:"type"`              // the weights' quantization (GGUF general.file_type)
	SizeBytes  int64     `json:"size_bytes"`        // bytes of the weights
	Params     int64     `json:"params"`            // parameters as stored
	Test       string    `json:"test"`              // ppN or tgN, "tgN @ dD" at a depth
	Depth      int       `json:"n_depth,omitempty"` // tokens in the cache before the test (Options.Depth)
	Threads    int       `json:"threads"`           // worker threads of the matrix products
	TokensPerS float64   `json:"avg_ts"`            // mean tokens per second over the repetitions
	StdDev     float64   `json:"stddev_ts"`         // their sample standard deviation
	Samples    []float64 `json:"samples_ts"`        // tokens per second of each repetition
	LoadMS     float64   `json:"load_ms"`           // how long opening the model took
	PeakRSS    int64     `json:"peak_rss_bytes"`    // peak resident set size of the process so far (0: unknown)
	TypeK      string    `json:"type_k"`            // KV cache type of the keys (F16, F32, Q8_0, Q4_0), as llama-bench's
	TypeV      string    `json:"type_v"`            // KV cache type of the values (F16, F32)
	KVBytes    int64     `json:"kv_cache_bytes"`    // bytes of the test's KV cache (all its positions)
	// Speculative rows (RunSpeculative, tests tgN+lookup and tgN+draft):
	// the draft model's file (empty for lookup), the drafted tokens, those
	// kept and the verification passes over all repetitions, and the mean
	// tokens per second over the plain row's.
	Draft    string  `json:"draft,omitempty"`
	Drafted  int     `json:"drafted,omitempty"`
	Accepted int     `json:"accepted,omitempty"`
	Rounds   int     `json:"rounds,omitempty"`
	SpeedUp  float64 `json:"speed_up,omitempty"`

	// Of tg rows only (zero otherwise):

	// BytesPerToken is the memory one generated token reads, on average
	// over the test: every weight matrix once (the token embedding table
	// only for its row, unless it is also the output projection; of each
	// stack of experts only the expert_used_count experts a token runs),
	// the norms, and the keys and values of the positions attended to.
	BytesPerToken int64 `json:"bytes_per_token,omitempty"`
	// Bandwidth is the memory-bandwidth ceiling at this thread count in
	// bytes per second (MemoryBandwidth, measured after the tests of all
	// thread counts; 0: not measured).
	Bandwidth float64 `json:"mem_bandwidth_bytes_per_s,omitempty"`
	// BandwidthFraction is BytesPerToken × TokensPerS ÷ Bandwidth: how
	// close generation comes to the memory's limit.
	BandwidthFraction float64 `json:"bandwidth_fraction,omitempty"`
}

// Run measures m as opts says and returns a Result per test and thread
// count, pp before tg for each thread count. Cancelling ctx stops it between
// two layers of the forward pass: it returns the results measured so far with
// ctx's error. The tests run in a KV cache of their own, of m's cache types
// (F16 by default, as llama-bench; Options.KeyCacheType and KVCacheF32 when
// opening m change them), sized for them, not in m's sessions; Run sets the matrix products' thread
// count (tensor.SetThreads) as it goes and leaves the last one set.
func Run(ctx context.Context, m *glassbox.Model, opts Options) ([]Result, error) {
	if opts.Prompt < 0 || opts.Gen < 0 || opts.Depth < 0 || opts.Repetitions < 1 {
		return nil, fmt.Errorf("bench: the test sizes and the depth must be ≥ 0 and the repetitions ≥ 1 (got %d, %d, %d, %d)", opts.Prompt, opts.Gen, opts.Depth, opts.Repetitions)
	}
	threads := opts.Threads
	if len(threads) == 0 {
		threads = []int{tensor.Threads()}
	}
	for _, t := range threads {
		if t < 1 {
			return nil, fmt.Errorf("bench: %d is not a positive thread count", t)
		}
	}
	release, err := m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	e, c := m.Engine(), m.Config()
	if n := c.ContextLength; opts.Depth+opts.Prompt > n || opts.Depth+opts.Gen > n {
		return nil, fmt.Errorf("bench: %w: the tests need %d and %d positions (depth %d included) and the context holds %d", glassbox.ErrContext, opts.Depth+opts.Prompt, opts.Depth+opts.Gen, opts.Depth, n)
	}
	so := model.StateOptions{Context: max(opts.Depth+opts.Prompt+opts.Gen, 1), Batch: min(max(opts.Prompt, opts.Depth, 1), PromptBatch), KVType: m.KVCacheType(), KeyType: m.KeyCacheType(), FlashAttn: m.FlashAttn()}
	st, err := e.NewState(so)
	if err != nil {
		return nil, err
	}
	kvBytes, _ := e.StateBytes(so)
	var size, params int64
	if f := m.GGUF(); f != nil {
		for _, ti := range f.Tensors {
			size += int64(ti.Size())
			params += int64(ti.Elements())
		}
	} else { // a llama2.c checkpoint
		fi, err := os.Stat(m.Path())
		if err != nil {
			return nil, err
		}
		size, params = fi.Size(), c.Params()
	}
	perToken, err := tokenBytes(m, opts.Depth, opts.Gen, st.KeyType(), st.KVType())
	if err != nil {
		return nil, err
	}
	name := filepath.Base(m.Path())
	load := m.LoadDuration()
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, c.VocabSize)
	// prompt: n random tokens from position pos in batches of PromptBatch,
	// logits of the last
	prompt := func(pos, n int) error {
		toks := make([]int, min(n, PromptBatch))
		for start := 0; start < n; start += PromptBatch {
			end := min(start+PromptBatch, n)
			for i := range toks[:end-start] {
				toks[i] = rng.IntN(c.VocabSize)
			}
			var out []float32
			if end == n {
				out = logits
			}
			if err := e.ForwardContext(ctx, st, toks[:end-start], pos+start, out); err != nil {
				return err
			}
		}
		return nil
	}
	// pp: opts.Prompt tokens from position opts.Depth
	pp := func() error { return prompt(opts.Depth, opts.Prompt) }
	// tg: opts.Gen tokens one at a time from position opts.Depth
	one := make([]int, 1)
	tg := func() error {
		for p := 0; p < opts.Gen; p++ {
			one[0] = rng.IntN(c.VocabSize)
			if err := e.ForwardContext(ctx, st, one, opts.Depth+p, logits); err != nil {
				return err
			}
		}
		return nil
	}
	if opts.CPUProfile != nil {
		if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
			return nil, fmt.Errorf("bench: CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var results []Result
	for _, t := range threads {
		tensor.SetThreads(t)
		if opts.Depth > 0 {
			// the context the tests run after (each test overwrites the
			// positions after it, so it stays the same for every run)
			if err := prompt(0, opts.Depth); err != nil {
				return results, err
			}
		}
		for _, test := range []struct {
			name string
			n    int
			run  func() error
		}{{testName("pp", opts.Prompt, opts.Depth), opts.Prompt, pp}, {testName("tg", opts.Gen, opts.Depth), opts.Gen, tg}} {
			if test.n == 0 {
				continue
			}
			if err := test.run(); err != nil { // warm-up
				return results, err
			}
			r := Result{Model: name, Type: c.FileType, SizeBytes: size, Params: params, Test: test.name, Threads: t, Depth: opts.Depth,
				LoadMS: float64(load.Microseconds()) / 1000, TypeK: st.KeyType().String(), TypeV: st.KVType().String(), KVBytes: kvBytes}
			for range opts.Repetitions {
				start := time.Now()
				if err := test.run(); err != nil {
					return results, err
				}
				r.Samples = append(r.Samples, float64(test.n)/time.Since(start).Seconds())
			}
			r.TokensPerS, r.StdDev = meanStd(r.Samples)
			r.PeakRSS = peakRSS()
			if strings.HasPrefix(test.name, "tg") {
				r.BytesPerToken = perToken
			}
			results = append(results, r)
		}
	}
	// The bandwidth ceilings are measured after every test, so that the
	// peak RSS of no row includes their buffer.
	if opts.Gen > 0 && opts.BandwidthBytes >= 0 {
		size := cmp.Or(opts.BandwidthBytes, DefaultBandwidthBytes)
		for i := range results {
			r := &results[i]
			if !strings.HasPrefix(r.Test, "tg") {
				continue
			}
			bw, err := MemoryBandwidth(ctx, size, r.Threads)
			if err != nil {
				return results, err
			}
			r.Bandwidth = bw
			r.BandwidthFraction = float64(r.BytesPerToken) * r.TokensPerS / bw
		}
	}
	return results, nil
}

// testName names a test as llama-bench does: pp512, or tg32 @ d4096 at a
// depth.
func testName(kind string, n, depth int) string {
	if depth > 0 {
		return fmt.Sprintf("%s%d @ d%d", kind, n, depth)
	}
	return fmt.Sprintf("%s%d", kind, n)
}

// tokenBytes returns the bytes one token of a tg test of gen tokens after
// depth tokens reads on average (Result.BytesPerToken): the weights, less
// the token embedding table but for one row when it is not also the output
// projection and, of each stack of experts (mixture of experts), only the
// expert_used_count experts a token runs (see expertShare), and at position
// p the keys and values of the p+1 positions
// (or the window of a sliding-window layer) in caches of key type kt and
// value type vt.
func tokenBytes(m *glassbox.Model, depth, gen int, kt, vt tensor.Type) (int64, error) {
	c := m.Config()
	var weights, embd int64
	if f := m.GGUF(); f != nil {
		for _, ti := range f.Tensors {
			weights += expertShare(ti, c.ExpertsUsed)
			if ti.Name == model.NameTokenEmbd {
				embd = int64(ti.Size())
			}
		}
	} else { // a llama2.c checkpoint: float32 weights
		weights, embd = 4*c.Params(), 4*int64(c.VocabSize)*int64(c.Dim)
	}
	if !c.TiedOutput && c.VocabSize > 0 {
		weights += embd/int64(c.VocabSize) - embd
	}
	if gen == 0 {
		return weights, nil
	}
	kb, err := kt.RowBytes(c.KVDim())
	if err != nil {
		return 0, fmt.Errorf("bench: key cache rows: %w", err)
	}
	vb, err := vt.RowBytes(c.VDim())
	if err != nil {
		return 0, fmt.Errorf("bench: value cache rows: %w", err)
	}
	var cells int64 // positions read over the test, all layers
	for l := range c.Layers {
		w := c.AttnWindow(l)
		for p := depth; p < depth+gen; p++ {
			n := p + 1
			if w > 0 {
				n = min(n, w)
			}
			cells += int64(n)
		}
	}
	return weights + cells*int64(kb+vb)/int64(gen), nil
}

// expertShare returns the bytes of the tensor ti one generated token reads:
// all of them, except for a stack of experts (a name with "_exps.", such as
// blk.N.ffn_up_exps.weight and its bias), whose outermost dimension counts
// the experts and of which a token reads used: size × used ÷ experts.
// Shared experts (_shexp) and the router are read whole.
func expertShare(ti gguf.TensorInfo, used int) int64 {
	size := int64(ti.Size())
	if !strings.Contains(ti.Name, "_exps.") || used <= 0 || len(ti.Dims) < 2 {
		return size
	}
	experts := int64(ti.Dims[len(ti.Dims)-1])
	if experts <= int64(used) {
		return size
	}
	return size / experts * int64(used)
}

// meanStd returns the mean and sample standard deviation of xs.
func meanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)-1))
}

// WriteTable writes results as a table like llama-bench's.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\ttype\tsize\tparams\tthreads\ttype_k\ttype_v\tKV cache\ttest\tt/s\tMiB/token\tof bandwidth\tload\tpeak RSS\t")
	for _, r := range results {
		perToken, frac := "-", "-"
		if r.BytesPerToken > 0 {
			perToken = fmt.Sprintf("%.1f", float64(r.BytesPerToken)/(1<<20))
		}
		if r.Bandwidth > 0 {
			frac = fmt.Sprintf("%.0f%% of %.1f GB/s", 100*r.BandwidthFraction, r.Bandwidth/1e9)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f MiB\t%.2f M\t%d\t%s\t%s\t%.2f MiB\t%s\t%.2f ± %.2f\t%s\t%s\t%.0f ms\t%.1f MiB\t\n",
			r.Model, r.Type, float64(r.SizeBytes)/(1<<20), float64(r.Params)/1e6, r.Threads, r.TypeK, r.TypeV, float64(r.KVBytes)/(1<<20), r.Test,
			r.TokensPerS, r.StdDev, perToken, frac, r.LoadMS, float64(r.PeakRSS)/(1<<20))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Drafted == 0 && r.SpeedUp == 0 {
			continue
		}
		what := "prompt lookup"
		if r.Draft != "" {
			what = "draft " + r.Draft
		}
		fmt.Fprintf(w, "%s, %d threads, %s: %d of %d drafted tokens accepted (%.1f%%), %.2f tokens per pass, %.2f× plain\n",
			r.Test, r.Threads, what, r.Accepted, r.Drafted, 100*float64(r.Accepted)/max(1, float64(r.Drafted)),
			float64(r.Accepted+r.Rounds)/max(1, float64(r.Rounds)), r.SpeedUp)
	}
	return nil
}

// SyntheticModel is a random-weight Llama GGUF model of a named shape and
// weight type, for comparing glassbox and llama.cpp on the same file.
type SyntheticModel struct {
	shape synth.Shape
	typ   tensor.Type
	name  string
}

// ParseSynthetic names a synthetic model: shape is one of synth.Shapes
// (SyntheticShapes describes them), typ a weight type (F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
func ParseSynthetic(shape, typ string) (SyntheticModel, error) {
	s, err := synth.ParseShape(shape)
	if err != nil {
		return SyntheticModel{}, err
	}
	t, err := tensor.ParseType(typ)
	if err != nil {
		return SyntheticModel{}, fmt.Errorf("weight type: %w", err)
	}
	return SyntheticModel{shape: s, typ: t, name: shape}, nil
}

// SyntheticShapes describes the shapes ParseSynthetic accepts, one per
// line, smallest first: name, sizes, parameter count.
func SyntheticShapes() string {
	var b strings.Builder
	for _, name := range synth.ShapeNames() {
		s := synth.Shapes[name]
		fmt.Fprintf(&b, "%-10s dim %d, FFN %d, %d layers, %d/%d heads, vocabulary %d", name, s.Dim, s.Hidden, s.Layers, s.Heads, s.KVHeads, s.Vocab)
		if s.Tied {
			b.WriteString(", tied embeddings")
		}
		if s.RopeTheta != 0 {
			fmt.Fprintf(&b, ", RoPE base %g", s.RopeTheta)
		}
		if s.Experts > 0 {
			fmt.Fprintf(&b, ", %s with %d experts (%d used)", s.Arch(), s.Experts, s.ExpertsUsed)
		}
		n := float64(s.Params())
		switch {
		case n >= 1e9:
			fmt.Fprintf(&b, ", context %d: %.2f B parameters\n", s.Context, n/1e9)
		default:
			fmt.Fprintf(&b, ", context %d: %.2f M parameters\n", s.Context, n/1e6)
		}
	}
	return b.String()
}

// Params returns the model's number of parameters.
func (s SyntheticModel) Params() int64 { return s.shape.Params() }

// String describes the model: "synthetic 400M Llama, N parameters, Q4_0"
// (or "qwen3moe" or "gpt-oss" for the mixtures of experts).
func (s SyntheticModel) String() string {
	arch := "Llama"
	if s.shape.Experts > 0 {
		arch = s.shape.Arch()
	}
	return fmt.Sprintf("synthetic %s %s, %d parameters, %s", s.name, arch, s.Params(), s.typ)
}

// Write writes the model as GGUF to w, its weights drawn from seed.
func (s SyntheticModel) Write(w io.Writer, seed uint64) error {
	if s.name == "" {
		return errors.New("bench: a SyntheticModel comes from ParseSynthetic")
	}
	return synth.Write(w, s.shape, s.typ, seed)
}
