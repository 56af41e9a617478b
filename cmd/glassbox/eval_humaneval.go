package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/eval"
)

// humanEvalOutput is what `eval humaneval --json` prints.
type humanEvalOutput struct {
	*eval.HumanEvalResult
	// Isolated says whether the tests ran without network (see
	// eval.Sandbox).
	Isolated bool `json:"network_isolated"`
}

func newEvalHumanEvalCmd() *cobra.Command {
	var f evalFlags
	var (
		canonical, prepare bool
		samples, limit     int
		maxTokens, workers int
		memoryMiB          int
		ks                 string
		timeout            time.Duration
		temperature, topP  float32
		seed               int64
	)
	cmd := &cobra.Command{
		Use:   "humaneval [-m MODEL] --file humaneval_go.jsonl.gz [--canonical] [-n SAMPLES] [--k 1,10] [--limit N] [--timeout 10s] [--json]",
		Short: "HumanEval-X Go: pass@1 and pass@k of a model's completions, run with go test in a sandbox",
		Long: `HumanEval-X Go (164 problems, THUDM/CodeGeeX's humaneval_go.jsonl.gz): the model continues
each prompt (a documented Go signature), the completion is cut where the function ends, and
the program — the test's setup, the harness's standard imports the code needs, the prompt,
the completion, the test — is built and run with go test in a sandbox: a temporary module
with the benchmark's go.mod (testify v1.8.0), resolved offline from the module cache
(GOPROXY=off), a time limit per problem (--timeout, the whole process group killed), a
memory limit (--memory-mb, RLIMIT_DATA), no network when run as root with unshare(1), a
scrubbed environment, and the module removed afterwards.

With -n 1 (the default) the completion is greedy and pass@1 is the fraction of problems
solved; with -n N the N samples are drawn at --temperature (0.8) and top-p 0.95, and pass@k
for each --k is the unbiased estimator of Chen et al. 2021, 1 − C(n−c,k)/C(n,k).

--canonical scores the dataset's own solutions, to check the sandbox (no model, no record).
--prepare downloads testify into the module cache once (network needed), for offline runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.file == "" {
				return &usageError{cmd: cmd, err: fmt.Errorf("--file is required (HumanEval-X Go's humaneval_go.jsonl.gz)"), flag: true}
			}
			kList, err := parseKs(ks, samples)
			if err != nil {
				return &usageError{cmd: cmd, err: err, flag: true}
			}
			if timeout <= 0 {
				return &usageError{cmd: cmd, err: fmt.Errorf("--timeout must be positive, got %v", timeout), flag: true}
			}
			if canonical && (cmd.Flags().Changed("model") || samples > 1 || f.endpoint != "") {
				return &usageError{cmd: cmd, err: fmt.Errorf("--canonical scores the dataset's one solution per problem: it takes neither -m, -n nor --endpoint"), flag: true}
			}
			problems, err := eval.ReadHumanEval(f.file)
			if err != nil {
				return err
			}
			if limit > 0 && limit < len(problems) {
				problems = problems[:limit]
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			errw := cmd.ErrOrStderr()
			if prepare {
				if err := eval.PrepareSandbox(ctx, ""); err != nil {
					return err
				}
			}
			sb, err := eval.NewSandbox(ctx, eval.SandboxOptions{Timeout: timeout, MemoryLimit: int64(memoryMiB) << 20})
			if err != nil {
				return err
			}
			defer sb.Close()
			opts := eval.HumanEvalOptions{Canonical: canonical, Samples: samples, K: kList, MaxTokens: maxTokens, Sandbox: sb, Workers: workers}
			var m *glassbox.Model
			var rec *eval.Record
			if !canonical && f.endpoint != "" {
				c, err := f.remote(cmd)
				if err != nil {
					return err
				}
				s := int64(-1)
				if samples > 1 {
					s = seed
				}
				opts.Generate = eval.EndpointGenerator(c, maxTokens, float64(temperature), float64(topP), s)
				if rec, err = remoteRecord("humaneval", c); err != nil {
					return err
				}
			} else if !canonical {
				if m, err = f.mf.open(ctx); err != nil {
					return err
				}
				defer m.Close()
				opts.Model = m
				if samples > 1 {
					sp := glassbox.DefaultSamplerParams()
					sp.Temperature, sp.TopP, sp.TopK, sp.MinP, sp.RepeatLastN = temperature, topP, 0, 0, 0
					sp.Seed = glassbox.SeedRandom
					if seed >= 0 {
						sp.Seed = uint64(seed)
					}
					if err := sp.Validate(); err != nil {
						return err
					}
					opts.Sampler = &sp
				}
				if rec, err = newRecord("humaneval", &f.mf, m); err != nil {
					return err
				}
			}
			draw := progressLine(errw)
			opts.Progress = func(done, total int) { draw("problem %d/%d", done, total) }
			start := time.Now()
			res, err := eval.RunHumanEval(ctx, problems, opts)
			draw("")
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			out := humanEvalOutput{HumanEvalResult: res, Isolated: sb.Isolated()}
			text := func(w io.Writer) {
				what := "completions of " + modelLabel(&f.mf)
				if f.endpoint != "" {
					what += " at " + f.endpoint
				}
				if canonical {
					what = "canonical solutions"
				}
				fmt.Fprintf(w, "HumanEval-X Go, %s: %s passed of %d (%s each) in %s\n", what, plural(res.Passed, "problem"), res.Total, plural(res.Samples, "sample"), elapsed.Round(time.Second))
				keys := make([]int, 0, len(res.PassAtK))
				for k := range res.PassAtK {
					n, _ := strconv.Atoi(k)
					keys = append(keys, n)
				}
				sort.Ints(keys)
				for _, k := range keys {
					fmt.Fprintf(w, "pass@%-3d %.4f\n", k, res.PassAtK[strconv.Itoa(k)])
				}
				counts := map[string]int{}
				for _, t := range res.Tasks {
					for _, s := range t.Statuses {
						counts[s]++
					}
				}
				var parts []string
				for _, s := range []string{eval.StatusPassed, eval.StatusFailed, eval.StatusBuildFailed, eval.StatusTimeout, eval.StatusMemory, eval.StatusPromptTooLong} {
					if counts[s] > 0 {
						parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
					}
				}
				fmt.Fprintf(w, "samples: %s\n", strings.Join(parts, ", "))
				for _, t := range res.Tasks {
					if canonical && t.Passed == 0 {
						fmt.Fprintf(w, "%s: %s\n", t.TaskID, strings.Join(t.Statuses, ", "))
					}
				}
				if !sb.Isolated() {
					fmt.Fprintln(w, "note: the tests could reach the network (a network namespace needs root and unshare)")
				}
			}
			if canonical {
				f.noSave = true
				return f.finishRun(cmd.OutOrStdout(), errw, nil, out, text)
			}
			rec.Settings = map[string]any{"file": f.file, "samples": res.Samples, "k": kList, "limit": limit, "max_tokens": maxTokens, "timeout": timeout.String(), "memory_mib": memoryMiB, "kv_f32": f.mf.kvF32}
			if samples > 1 {
				rec.Settings["temperature"], rec.Settings["top_p"] = temperature, topP
			}
			rec.Results = toMap(out)
			delete(rec.Results, "tasks")
			return f.finishRun(cmd.OutOrStdout(), errw, rec, out, text)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&canonical, "canonical", false, "score the dataset's own solutions (checks the sandbox)")
	fl.VarP(newBoundedInt(&samples, 1, 1, 10000, "a whole number of samples from 1 to 10000"), "samples", "n", "completions per problem (1: greedy; more: sampled, for pass@k)")
	fl.StringVar(&ks, "k", "", "comma-separated k of pass@k, each at most -n (default: 1, and 10 and 100 when -n allows)")
	fl.VarP(newBoundedInt(&limit, 0, 0, 1<<30, "a whole number, 0 (all) or more"), "limit", "", "score the first N problems only (0 = all)")
	fl.DurationVar(&timeout, "timeout", 10*time.Second, "time limit of each program's tests")
	fl.Var(newBoundedInt(&memoryMiB, 1024, 64, 1<<20, "a whole number of MiB from 64"), "memory-mb", "memory limit of each program's tests in MiB (RLIMIT_DATA)")
	fl.Var(newBoundedInt(&maxTokens, 512, 1, 1<<20, "a whole number of tokens, 1 or more"), "max-tokens", "tokens generated per completion at most (and the context)")
	fl.Var(newBoundedInt(&workers, 0, 0, 1024, "a whole number, 0 (one per core) or more"), "workers", "programs built and run at once (0 = one per core)")
	fl.Float32Var(&temperature, "temperature", 0.8, "sampling temperature when -n > 1")
	fl.Float32Var(&topP, "top-p", 0.95, "top-p when -n > 1")
	fl.Int64Var(&seed, "seed", -1, "random seed when -n > 1 (-1 = a new one each run)")
	fl.BoolVar(&prepare, "prepare", false, "first download testify into the Go module cache (needs the network once)")
	return cmd
}

// modelLabel names the model of mf for a summary line.
func modelLabel(mf *modelFlags) string {
	if mf.model == "" {
		return "the embedded model"
	}
	return mf.model
}

// parseKs parses --k: comma-separated k, each from 1 to n. Empty means 1,
// and 10 and 100 when n reaches them.
func parseKs(s string, n int) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		ks := []int{1}
		for _, k := range []int{10, 100} {
			if k <= n {
				ks = append(ks, k)
			}
		}
		return ks, nil
	}
	var ks []int
	for _, part := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || k < 1 {
			return nil, fmt.Errorf("--k: expected comma-separated whole numbers of 1 or more, got %q", part)
		}
		if k > n {
			return nil, fmt.Errorf("--k: pass@%d needs at least %d samples per problem (-n %d)", k, k, n)
		}
		ks = append(ks, k)
	}
	return ks, nil
}
