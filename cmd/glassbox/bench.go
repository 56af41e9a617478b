package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/bench"
	"glassbox/eval"
	"glassbox/remote"
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
	cacheK    string // --cache-type-k
	cacheV    string // --cache-type-v
	flashAttn string // --flash-attn
	depth     int    // -d/--n-depth
	noSave    bool
	endpoint  string
	bandwidth int // --bandwidth-mib
	specFlags
	specPrompt string // --spec-prompt
	// fitPrompt and fitGen lower prompt and gen to the model's context
	// (they are the defaults, not sizes the user asked for).
	fitPrompt, fitGen bool
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

Each tg row also gives the memory one generated token reads (MiB/token: the weights once, the
token embeddings only for their row unless they are the output projection too, of a mixture of
experts the shared tensors whole but each layer's expert stacks (the *_exps tensors) for the
experts a token runs only: size × expert_used_count ÷ expert_count, and the keys and values
attended to, averaged over the test) and which fraction of the memory-bandwidth
ceiling that reaches (bytes per token × t/s ÷ the bandwidth of summing a 256 MiB buffer,
--bandwidth-mib, with the row's thread count, measured after the tests of all thread counts,
so that no row's peak RSS counts the buffer: the method of go test ./tensor -bench
MemoryBandwidth); both are in --json and the saved record (bytes_per_token,
mem_bandwidth_bytes_per_s, bandwidth_fraction).

With --synthetic SHAPE it instead writes a random-weight GGUF of that shape (Llama; qwen3moe, a mixture of experts,
for moe and tinymoe; gpt-oss for gptoss and tinygptoss, its experts in MXFP4 whatever --type says) and --type
to -o FILE, so that glassbox and llama.cpp can be compared on the same file. Shapes:
` + indentLines(bench.SyntheticShapes(), "  ") + `The 1B and 3B shapes measure generation where the weights no longer fit in any cache, and
memory bandwidth is the limit (1B Q4_0: about 600 MiB, F16: 2.1 GiB).

With --endpoint URL it measures the model -m names at an OpenAI-compatible server instead
(llama-server, vLLM, Ollama, a hosted API, another glassbox serve), through streamed
completions: after a warm-up request, each of -r requests sends a prompt of about -p tokens
(different each time, so no prompt cache helps) and generates -n tokens (ignore_eos asked).
Time to first token is measured from sending the request to the first streamed text
(network and queue included), pp t/s is the prompt tokens of the server's usage over it,
tg t/s the tokens after the first over the rest of the stream. The API key is read from
$GLASSBOX_API_KEY, else $OPENAI_API_KEY.

With --lookup or --draft MODEL (and --draft-max, --draft-min, --draft-p-min, --lookup-ngram-min/max)
it measures speculative decoding instead: the same greedy generation of -n tokens from
--spec-prompt, plain (row tgN) then speculative (row tgN+lookup or tgN+draft), interleaved -r
times after a warm-up pair, checking that both give the same tokens; a line under the table gives
the drafted and accepted tokens and the speed-up over the plain row; --cpuprofile profiles
these runs too. They are not saved.

Each complete run is saved as a record in the store's evals/ folder (--no-save to skip),
which glassbox leaderboard reads.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.synthetic != "" {
				return writeSynthetic(cmd.OutOrStdout(), o)
			}
			if o.endpoint != "" {
				for _, name := range []string{"threads", "cpuprofile"} {
					if cmd.Flags().Changed(name) {
						return &usageError{cmd: cmd, err: fmt.Errorf("--%s does not apply to --endpoint (the server runs the model)", name), flag: true}
					}
				}
				return runBenchEndpoint(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
			}
			// the default sizes shrink to a smaller context; explicit ones must fit it
			o.fitPrompt = !cmd.Flags().ShorthandLookup("p").Changed
			o.fitGen = !cmd.Flags().ShorthandLookup("n").Changed
			return runBench(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", modelHelp)
	f.IntVarP(&o.prompt, "n-prompt", "p", 512, "prompt tokens for the pp test, at most the model's context (0: skip; default: 512 or the context)")
	f.IntVarP(&o.gen, "n-gen", "n", 128, "generated tokens for the tg test, at most the model's context (0: skip)")
	f.StringVarP(&o.threads, "threads", "t", "", "comma-separated thread counts (default: all cores)")
	f.IntVarP(&o.reps, "repetitions", "r", 3, "repetitions of each test")
	f.BoolVar(&o.json, "json", false, "print the results as JSON")
	f.StringVar(&o.synthetic, "synthetic", "", "write a random-weight model of this shape (tiny, tinymoe, tinygptoss, 400M, moe, gptoss, 1B, 1B-llama3, 3B; see above) instead of benchmarking")
	f.StringVar(&o.typ, "type", "Q4_0", "weight type of the synthetic model (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)")
	f.StringVarP(&o.out, "output", "o", "", "file the synthetic model is written to")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of the synthetic weights")
	f.StringVar(&o.endpoint, "endpoint", "", "measure the model -m names at this OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1) instead of a local file; key from $GLASSBOX_API_KEY or $OPENAI_API_KEY")
	f.BoolVar(&o.noSave, "no-save", false, "do not save a record of the run in the store (evals/ folder, read by glassbox leaderboard)")
	registerCacheTypes(cmd, &o.cacheK, &o.cacheV, &o.flashAttn)
	f.IntVarP(&o.depth, "n-depth", "d", 0, "tokens already in the KV cache when each test starts, prefilled untimed (as llama-bench's -d)")
	f.IntVar(&o.bandwidth, "bandwidth-mib", bench.DefaultBandwidthBytes>>20, "MiB of the buffer the memory-bandwidth ceiling of the tg rows is measured with (0: do not measure)")
	f.StringVar(&o.profile, "cpuprofile", "", "write a Go CPU profile of the measured runs to this file (go tool pprof)")
	o.registerSpec(cmd)
	f.StringVar(&o.specPrompt, "spec-prompt", defaultSpecPrompt, "with --lookup or --draft, the text the measured generation continues")
	return cmd
}

// writeSynthetic writes the synthetic model of o to o.out.
func writeSynthetic(w io.Writer, o benchOptions) (err error) {
	sm, err := bench.ParseSynthetic(o.synthetic, o.typ)
	if err != nil {
		return err
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
	if err := sm.Write(bw, o.seed); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	fmt.Fprintf(w, "wrote %s: %s\n", o.out, sm)
	return nil
}

// parseThreads parses a comma-separated list of positive thread counts
// ("": none, the current count).
func parseThreads(s string) ([]int, error) {
	if s == "" {
		return nil, nil
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
func runBench(ctx context.Context, w, errw io.Writer, o benchOptions) error {
	if o.prompt < 0 || o.gen < 0 || o.reps < 1 || o.depth < 0 {
		return fmt.Errorf("-p, -n and -d must be ≥ 0 and -r ≥ 1 (got %d, %d, %d, %d)", o.prompt, o.gen, o.depth, o.reps)
	}
	threads, err := parseThreads(o.threads)
	if err != nil {
		return err
	}
	if err := o.specFlags.check(); err != nil {
		return err
	}
	mf := modelFlags{model: o.model, cacheK: o.cacheK, cacheV: o.cacheV, flashAttn: o.flashAttn}
	m, err := mf.open(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	if o.specFlags.on() {
		return runBenchSpec(ctx, w, m, &mf, threads, o)
	}
	if err := o.fitContext(m.Config().ContextLength); err != nil {
		return err
	}
	if o.bandwidth < 0 || o.bandwidth > 1<<16 {
		return fmt.Errorf("--bandwidth-mib %d: want 0 (no measurement) or 1 to 65536", o.bandwidth)
	}
	opts := bench.Options{Prompt: o.prompt, Gen: o.gen, Depth: o.depth, Threads: threads, Repetitions: o.reps, BandwidthBytes: int64(o.bandwidth) << 20}
	if o.bandwidth == 0 {
		opts.BandwidthBytes = -1
	}
	pf, err := o.createProfile()
	if err != nil {
		return err
	}
	if pf != nil {
		defer pf.Close()
		opts.CPUProfile = pf
	}
	results, err := bench.Run(ctx, m, opts)
	if err != nil && (ctx.Err() == nil || len(results) == 0) {
		return err
	}
	if err == nil && !o.noSave { // an interrupted run is not a measurement to keep
		path, serr := saveBenchRecord(o, m, threads, results)
		if serr != nil {
			return serr
		}
		if !o.json {
			defer fmt.Fprintf(errw, "record saved: %s\n", path)
		}
	}
	// complete, or interrupted after some tests: print what was measured
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(results); jerr != nil {
			return jerr
		}
	} else if perr := bench.WriteTable(w, results); perr != nil {
		return perr
	}
	return err
}

// createProfile creates the file of --cpuprofile, which the caller closes
// (nil without the flag).
func (o benchOptions) createProfile() (*os.File, error) {
	if o.profile == "" {
		return nil, nil
	}
	return os.Create(o.profile)
}

// runBenchEndpoint measures the model o.model at o.endpoint and prints the
// table (or JSON) to w.
func runBenchEndpoint(ctx context.Context, w, errw io.Writer, o benchOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.reps < 1 || o.prompt < 1 || o.gen < 2 {
		return fmt.Errorf("with --endpoint, -p must be ≥ 1, -n ≥ 2 and -r ≥ 1 (got %d, %d, %d)", o.prompt, o.gen, o.reps)
	}
	c, err := remote.New(o.endpoint, o.model, remote.APIKeyFromEnv())
	if err != nil {
		return err
	}
	s, runs, err := bench.RunEndpoint(ctx, c, bench.EndpointOptions{Prompt: o.prompt, Gen: o.gen, Repetitions: o.reps})
	if err != nil {
		return err
	}
	if !o.noSave {
		rec, err := eval.NewBenchRecord(o.model, "", s)
		if err != nil {
			return err
		}
		rec.Model.Endpoint = c.Endpoint
		rec.Settings = map[string]any{"n_prompt": o.prompt, "n_gen": o.gen, "repetitions": o.reps, "endpoint": c.Endpoint}
		path, err := eval.Save("", rec)
		if err != nil {
			return err
		}
		if !o.json {
			defer fmt.Fprintf(errw, "record saved: %s\n", path)
		}
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Endpoint string `json:"endpoint"`
			Model    string `json:"model"`
			eval.Speed
			Runs []bench.EndpointRun `json:"runs"`
		}{c.Endpoint, o.model, withoutRows(s), runs})
	}
	return bench.WriteEndpointTable(w, c.Endpoint, o.model, s, runs)
}

// withoutRows is s without its rows (printed as runs).
func withoutRows(s eval.Speed) eval.Speed {
	s.Rows = nil
	return s
}

// saveBenchRecord saves the record of a complete bench run of m in the
// store and returns its path.
func saveBenchRecord(o benchOptions, m *glassbox.Model, threads []int, results []bench.Result) (string, error) {
	mf := modelFlags{model: o.model}
	rec, err := newRecord(eval.KindBench, &mf, m)
	if err != nil {
		return "", err
	}
	s := bench.Summarize(results, m.Config().ContextLength)
	if err := rec.SetSpeed(s); err != nil {
		return "", err
	}
	if len(threads) == 0 {
		threads = []int{s.Threads}
	}
	rec.Settings = map[string]any{"n_prompt": o.prompt, "n_gen": o.gen, "repetitions": o.reps, "threads": threads,
		"kv_cache": m.KVCacheType().String(), "type_k": m.KeyCacheType().String(), "type_v": m.KVCacheType().String(),
		"flash_attn": m.FlashAttn(), "n_depth": o.depth}
	return eval.Save("", rec)
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
			o.prompt, glassbox.ErrContext, o.prompt, n, o.prompt-n)
	}
	if o.gen > n {
		return fmt.Errorf("-n %d: the generated tokens do not fit the context: the tg test generates %d tokens and the context holds %d (%d too many)",
			o.gen, o.gen, n, o.gen-n)
	}
	return nil
}

// indentLines prefixes every line of s with prefix.
func indentLines(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" {
			b.WriteString(prefix + line)
		}
	}
	return b.String()
}

// defaultSpecPrompt is --spec-prompt's default: an edit of code that
// repeats most of itself, where prompt lookup finds its drafts.
const defaultSpecPrompt = `Rename the variable total to sum in this function:

func average(xs []float64) float64 {
	total := 0.0
	for _, x := range xs {
		total += x
	}
	return total / float64(len(xs))
}

Here is the function with total renamed to sum:

func average(xs []float64) float64 {
`

// runBenchSpec measures speculative decoding (bench.RunSpeculative) and
// prints its rows.
func runBenchSpec(ctx context.Context, w io.Writer, m *glassbox.Model, mf *modelFlags, threads []int, o benchOptions) error {
	sp, draft, err := o.specFlags.open(ctx, mf)
	if err != nil {
		return err
	}
	if draft != nil {
		defer draft.Close()
	}
	opts := bench.SpecOptions{Prompt: o.specPrompt, Gen: o.gen, Threads: threads, Repetitions: o.reps, Spec: sp}
	pf, err := o.createProfile()
	if err != nil {
		return err
	}
	if pf != nil {
		defer pf.Close()
		opts.CPUProfile = pf
	}
	results, err := bench.RunSpeculative(ctx, m, opts)
	if err != nil && len(results) == 0 {
		return err
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(results); jerr != nil {
			return jerr
		}
	} else if perr := bench.WriteTable(w, results); perr != nil {
		return perr
	}
	return err
}
