package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"glassbox/gguf"
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
}

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
		Use:   "bench -m MODEL [-p 512] [-n 128] [-t 1,2] [-r 3] [--json]",
		Short: "Measure prompt processing and generation speed, like llama-bench",
		Long: `bench measures prompt processing (ppN: N tokens in one batch, logits of the last) and
generation (tgN: N tokens one at a time from an empty cache) in tokens per second, as mean ±
standard deviation over repetitions after one warm-up run, for each thread count. It also
reports the model load time (open, mmap, bind the weights) and the peak resident set size of
the process (getrusage maxrss, which counts the mapped weights the run touched).

With --synthetic SHAPE it instead writes a random-weight Llama GGUF of that shape (400M: dim
1536, FFN 4096, 12 layers, 12 heads, 4 KV heads, vocabulary 32000) and --type to -o FILE, so
that glassbox and llama.cpp can be compared on the same file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.synthetic != "" {
				return writeSynthetic(cmd.OutOrStdout(), o)
			}
			return runBench(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file to benchmark")
	f.IntVarP(&o.prompt, "n-prompt", "p", 512, "prompt tokens for the pp test (0: skip)")
	f.IntVarP(&o.gen, "n-gen", "n", 128, "generated tokens for the tg test (0: skip)")
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

// runBench benchmarks o.model and prints the table (or JSON) to w.
func runBench(w io.Writer, o benchOptions) error {
	if o.model == "" {
		return errors.New("no model: pass -m FILE (a GGUF file), or write one with --synthetic 400M -o FILE")
	}
	if o.prompt < 0 || o.gen < 0 || o.reps < 1 {
		return fmt.Errorf("-p and -n must be ≥ 0 and -r ≥ 1 (got %d, %d, %d)", o.prompt, o.gen, o.reps)
	}
	threads, err := parseThreads(o.threads, tensor.Threads())
	if err != nil {
		return err
	}
	t0 := time.Now()
	f, err := gguf.Open(o.model)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := model.LoadGGUF(f)
	if err != nil {
		return fmt.Errorf("load %s: %w", o.model, err)
	}
	load := time.Since(t0)
	c := m.Config
	st, err := m.NewState(model.StateOptions{Context: max(o.prompt+o.gen, 1), Batch: max(o.prompt, 1), KVType: tensor.F16})
	if err != nil {
		return err
	}
	size, params := int64(0), int64(0)
	for _, ti := range f.Tensors {
		size += int64(ti.Size())
		params += int64(ti.Elements())
	}
	name := o.model
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, c.VocabSize)
	tokens := make([]int, max(o.prompt, 1))
	// pp: one batch of o.prompt tokens from position 0, logits of the last
	pp := func() error {
		for i := range tokens {
			tokens[i] = rng.IntN(c.VocabSize)
		}
		return m.Forward(st, tokens[:o.prompt], 0, logits)
	}
	// tg: o.gen tokens one at a time from position 0
	one := make([]int, 1)
	tg := func() error {
		for p := 0; p < o.gen; p++ {
			one[0] = rng.IntN(c.VocabSize)
			if err := m.Forward(st, one, p, logits); err != nil {
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
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	return printBench(w, results)
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
