package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"glassbox/infer"
	"glassbox/internal/synth"
	"glassbox/model"
	"glassbox/tensor"
)

// benchOptions are the flags of glassbox bench.
type benchOptions struct {
	model     string
	prompt    int
	gen       int
	threads   string
	reps      int
	json      bool
	synthetic string
	typ       string
	out       string
	seed      uint64
	profile   string
	// fitPrompt and fitGen lower prompt and gen to the model's context
	// (they are the defaults, not sizes the user asked for).
	fitPrompt, fitGen bool
}

// ppBatch is the number of tokens the pp test runs through the model at a
// time, as llama-bench's default micro-batch.
const ppBatch = 512

// benchResult is one row of the bench table (and one JSON object).
type benchResult struct {
	Model      string    `json:"model"`
	Type       string    `json:"type"`
	SizeBytes  int64     `json:"size_bytes"`
	Params     int64     `json:"params"`
	Test       string    `json:"test"`
	Threads    int       `json:"threads"`
	TokensPerS float64   `json:"avg_ts"`
	StdDev     float64   `json:"stddev_ts"`
	Samples    []float64 `json:"samples_ts"`
	LoadMS     float64   `json:"load_ms"`
	PeakRSS    int64     `json:"peak_rss_bytes"`
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench [-m MODEL] [-p 512] [-n 128] [-t 1,2] [-r 3] [--json]",
		Short: "Measure prompt processing and generation speed, like llama-bench",
		Long: `bench measures prompt processing (ppN: N tokens in micro-batches of 512, logits of the last) and
generation (tgN: N tokens one at a time from an empty cache) in tokens per second, as mean ±
standard deviation over repetitions after one warm-up run, for each thread count. It also
reports the model load time (open, mmap, bind the weights) and the peak resident set size of
the process (getrusage maxrss, which counts the mapped weights the run touched). Both
tests start from position 0, so -p and -n must each fit the model's context (the defaults
shrink to it). Ctrl-C stops at once and prints the rows measured so far.

With --synthetic SHAPE it instead writes a random-weight Llama GGUF of that shape (400M: dim
1536, FFN 4096, 12 layers, 12 heads, 4 KV heads, vocabulary 32000) and --type to -o FILE, so
that glassbox and llama.cpp can be compared on the same file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.synthetic != "" {
				return writeSynthetic(cmd.OutOrStdout(), o)
			}
			// the default sizes shrink to a smaller context; explicit ones must fit it
			o.fitPrompt = !cmd.Flags().ShorthandLookup("p").Changed
			o.fitGen = !cmd.Flags().ShorthandLookup("n").Changed
			return runBench(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", modelHelp)
	f.IntVarP(&o.prompt, "n-prompt", "p", 512, "prompt tokens for the pp test, at most the model's context (0: skip; default: 512 or the context)")
	f.IntVarP(&o.gen, "n-gen", "n", 128, "generated tokens for the tg test, at most the model's context (0: skip)")
	f.StringVarP(&o.threads, "threads", "t", "", "comma-separated thread counts (default: all cores)")
	f.IntVarP(&o.reps, "repetitions", "r", 3, "repetitions of each test")
	f.BoolVar(&o.json, "json", false, "print the results as JSON")
	f.StringVar(&o.synthetic, "synthetic", "", "write a random-weight model of this shape (400M or tiny) instead of benchmarking")
	f.StringVar(&o.typ, "type", "Q4_0", "weight type of the synthetic model (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)")
	f.StringVarP(&o.out, "output", "o", "", "file the synthetic model is written to")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of the synthetic weights")
	f.StringVar(&o.profile, "cpuprofile", "", "write a Go CPU profile of the measured runs to this file (go tool pprof)")
	return cmd
}

// writeSynthetic writes the synthetic model of o to o.out.
func writeSynthetic(w io.Writer, o benchOptions) (err error) {
	shape, err := synth.ParseShape(o.synthetic)
	if err != nil {
		return err
	}
	typ, err := tensor.ParseType(o.typ)
	if err != nil {
		return fmt.Errorf("--type: %w", err)
	}
	if o.out == "" {
		return errors.New("--synthetic needs -o FILE, the GGUF file to write")
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := synth.Write(bw, shape, typ, o.seed); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	fmt.Fprintf(w, "wrote %s: synthetic %s Llama, %d parameters, %s\n", o.out, o.synthetic, shape.Params(), typ)
	return nil
}

// parseThreads parses a comma-separated list of positive thread counts.
func parseThreads(s string, def int) ([]int, error) {
	if s == "" {
		return []int{def}, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-t: %q is not a positive thread count", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// runBench benchmarks the model o.model names (a file, a store name, an
// hf.co reference, or "" for the embedded model) and prints the table (or
// JSON) to w. Cancelling ctx stops it between two layers of the forward
// pass: the results measured so far are printed and ctx's error is returned.
func runBench(ctx context.Context, w io.Writer, o benchOptions) error {
	if o.prompt < 0 || o.gen < 0 || o.reps < 1 {
		return fmt.Errorf("-p and -n must be ≥ 0 and -r ≥ 1 (got %d, %d, %d)", o.prompt, o.gen, o.reps)
	}
	threads, err := parseThreads(o.threads, tensor.Threads())
	if err != nil {
		return err
	}
	mf := modelFlags{model: o.model}
	gm, err := mf.open(ctx)
	if err != nil {
		return err
	}
	defer gm.Close()
	m, c := gm.Engine(), gm.Config()
	load := gm.LoadDuration()
	if err := o.fitContext(c.ContextLength); err != nil {
		return err
	}
	st, err := m.NewState(model.StateOptions{Context: max(o.prompt+o.gen, 1), Batch: min(max(o.prompt, 1), ppBatch), KVType: tensor.F16})
	if err != nil {
		return err
	}
	var size, params int64
	if f := gm.GGUF(); f != nil {
		for _, ti := range f.Tensors {
			size += int64(ti.Size())
			params += int64(ti.Elements())
		}
	} else { // a llama2.c checkpoint
		fi, err := os.Stat(gm.Path())
		if err != nil {
			return err
		}
		size, params = fi.Size(), c.Params()
	}
	name := filepath.Base(gm.Path())
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, c.VocabSize)
	tokens := make([]int, max(o.prompt, 1))
	// pp: o.prompt tokens from position 0 in batches of ppBatch, logits of the last
	pp := func() error {
		for i := range tokens {
			tokens[i] = rng.IntN(c.VocabSize)
		}
		for start := 0; start < o.prompt; start += ppBatch {
			end := min(start+ppBatch, o.prompt)
			var out []float32
			if end == o.prompt {
				out = logits
			}
			if err := m.ForwardContext(ctx, st, tokens[start:end], start, out); err != nil {
				return err
			}
		}
		return nil
	}
	// tg: o.gen tokens one at a time from position 0
	one := make([]int, 1)
	tg := func() error {
		for p := 0; p < o.gen; p++ {
			one[0] = rng.IntN(c.VocabSize)
			if err := m.ForwardContext(ctx, st, one, p, logits); err != nil {
				return err
			}
		}
		return nil
	}
	if o.profile != "" {
		pf, err := os.Create(o.profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			pf.Close()
		}()
	}
	var results []benchResult
	err = func() error {
		for _, t := range threads {
			tensor.SetThreads(t)
			for _, test := range []struct {
				name string
				n    int
				run  func() error
			}{{fmt.Sprintf("pp%d", o.prompt), o.prompt, pp}, {fmt.Sprintf("tg%d", o.gen), o.gen, tg}} {
				if test.n == 0 {
					continue
				}
				if err := test.run(); err != nil { // warm-up
					return err
				}
				r := benchResult{Model: name, Type: c.FileType, SizeBytes: size, Params: params, Test: test.name, Threads: t,
					LoadMS: float64(load.Microseconds()) / 1000}
				for range o.reps {
					start := time.Now()
					if err := test.run(); err != nil {
						return err
					}
					r.Samples = append(r.Samples, float64(test.n)/time.Since(start).Seconds())
				}
				r.TokensPerS, r.StdDev = meanStd(r.Samples)
				r.PeakRSS = peakRSS()
				results = append(results, r)
			}
		}
		return nil
	}()
	if err != nil && (ctx.Err() == nil || len(results) == 0) {
		return err
	}
	// complete, or interrupted after some tests: print what was measured
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(results); jerr != nil {
			return jerr
		}
	} else if perr := printBench(w, results); perr != nil {
		return perr
	}
	return err
}

// fitContext checks the test sizes against the model's context n, lowering
// the default ones to it: the pp test needs a position for every prompt
// token, the tg test one for every generated token (both start from an
// empty cache).
func (o *benchOptions) fitContext(n int) error {
	if o.fitPrompt {
		o.prompt = min(o.prompt, n)
	}
	if o.fitGen {
		o.gen = min(o.gen, n)
	}
	if o.prompt > n {
		return fmt.Errorf("-p %d: %w: the prompt has %d tokens and the context holds %d (%d too many)",
			o.prompt, infer.ErrContext, o.prompt, n, o.prompt-n)
	}
	if o.gen > n {
		return fmt.Errorf("-n %d: the generated tokens do not fit the context: the tg test generates %d tokens and the context holds %d (%d too many)",
			o.gen, o.gen, n, o.gen-n)
	}
	return nil
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

// printBench prints results as a table like llama-bench's.
func printBench(w io.Writer, results []benchResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\ttype\tsize\tparams\tthreads\ttest\tt/s\tload\tpeak RSS\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%.2f MiB\t%.2f M\t%d\t%s\t%.2f ± %.2f\t%.0f ms\t%.1f MiB\t\n",
			r.Model, r.Type, float64(r.SizeBytes)/(1<<20), float64(r.Params)/1e6, r.Threads, r.Test,
			r.TokensPerS, r.StdDev, r.LoadMS, float64(r.PeakRSS)/(1<<20))
	}
	return tw.Flush()
}
