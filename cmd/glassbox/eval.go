package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/eval"
	"glassbox/remote"
	"glassbox/store"
)

// newEvalCmd is `glassbox eval`, the parent of the quality evaluations.
func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure a model's quality: perplexity, KL divergence against a base model, multiple-choice accuracy",
		Long: `Measure a model's quality on this machine. Each run is saved as a JSON record under
the store's evals/ folder ($GLASSBOX_HOME/evals), so runs accumulate (--no-save to skip);
glassbox leaderboard shows them side by side.

With --endpoint URL the model -m names is evaluated at an OpenAI-compatible server (a hosted
API, llama-server, vLLM, another glassbox serve), its API key read from $GLASSBOX_API_KEY,
else $OPENAI_API_KEY. humaneval needs completions only; perplexity and choice need the
log-probabilities of a prompt's tokens (a completion with echo and logprobs, as the OpenAI
completions API and vLLM return them) and llama.cpp's POST /tokenize: an endpoint without
them is refused with an error saying which is missing.`,
	}
	cmd.AddCommand(newEvalPerplexityCmd(), newEvalChoiceCmd(), newEvalHumanEvalCmd())
	return cmd
}

// evalFlags are the flags every evaluation shares.
type evalFlags struct {
	mf       modelFlags
	file     string
	json     bool
	noSave   bool
	endpoint string
}

func (f *evalFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.mf.model, "model", "m", "", modelHelp)
	cmd.Flags().StringVar(&f.mf.tokenizer, "tokenizer", "", "tokenizer file (GGUF, tokenizer.json or llama2.c tokenizer.bin); GGUF models carry their own")
	registerThreads(cmd, &f.mf.threads, "worker threads for matrix products (0 = all cores)")
	cmd.Flags().BoolVar(&f.mf.kvF32, "kv-f32", false, "keep the KV cache in F32 instead of F16")
	cmd.Flags().StringVar(&f.file, "file", "", "the data file (required)")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the results as JSON")
	cmd.Flags().BoolVar(&f.noSave, "no-save", false, "do not save a record of the run in the store")
	cmd.Flags().StringVar(&f.endpoint, "endpoint", "", "evaluate the model -m names at this OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1); key from $GLASSBOX_API_KEY or $OPENAI_API_KEY")
}

// remote returns the client of the model at --endpoint, refusing the flags
// that only apply to a local model (others names more of them).
func (f *evalFlags) remote(cmd *cobra.Command, others ...string) (*remote.Client, error) {
	for _, name := range append([]string{"tokenizer", "threads", "kv-f32"}, others...) {
		if cmd.Flags().Changed(name) {
			return nil, &usageError{cmd: cmd, err: fmt.Errorf("--%s does not apply to --endpoint (the server runs the model)", name), flag: true}
		}
	}
	return remote.New(f.endpoint, f.mf.model, remote.APIKeyFromEnv())
}

// remoteRecord starts the record of a run of kind on the model at c.
func remoteRecord(kind string, c *remote.Client) (*eval.Record, error) {
	r, err := eval.NewRecord(kind, c.Model, "")
	if err != nil {
		return nil, err
	}
	r.Model.Endpoint = c.Endpoint
	return r, nil
}

// newRecord starts the record of a run of kind on m (opened from mf).
func newRecord(kind string, mf *modelFlags, m *glassbox.Model) (*eval.Record, error) {
	var r *eval.Record
	var err error
	if e, ok := embeddedModel(mf.model); ok {
		if r, err = eval.NewRecord(kind, e.File, ""); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(e.Data)
		r.Model.SHA256, r.Model.Size = hex.EncodeToString(sum[:]), int64(len(e.Data))
	} else if r, err = eval.NewRecord(kind, mf.model, m.Path()); err != nil {
		return nil, err
	}
	describeModel(&r.Model, m)
	return r, nil
}

// describeModel fills the facts of m a record keeps: architecture,
// quantization, parameters, training context, the GGUF general.license, and
// what tells which catalog model it is (the repository it was pulled from,
// general.name, general.basename with its size label and fine-tune).
func describeModel(mf *eval.ModelFile, m *glassbox.Model) {
	c := m.Config()
	mf.Arch, mf.FileType, mf.Params, mf.ContextLength = c.Arch, c.FileType, c.Params(), c.ContextLength
	// a store name (hf.co/OWNER/REPO:QUANT, or OWNER/REPO:QUANT when it is
	// not a file)
	if ref, err := store.ParseRef(mf.Name, true); err == nil {
		mf.Repo = ref.RepoID()
	} else if _, serr := os.Stat(mf.Name); serr != nil {
		if ref, err := store.ParseRef(mf.Name, false); err == nil {
			mf.Repo = ref.RepoID()
		}
	}
	f := m.GGUF()
	if f == nil {
		return
	}
	str := func(key string) string {
		v, _ := f.String(key)
		return strings.TrimSpace(v)
	}
	mf.License = str("general.license")
	if mf.Repo == "" {
		for _, k := range []string{"general.source.repo_url", "general.repo_url"} {
			if v := str(k); v != "" {
				mf.Repo = v
				break
			}
		}
	}
	mf.GeneralName = str("general.name")
	if base := str("general.basename"); base != "" {
		parts := []string{base}
		for _, k := range []string{"general.size_label", "general.finetune"} {
			if v := str(k); v != "" {
				parts = append(parts, v)
			}
		}
		mf.Basename = strings.Join(parts, "-")
	}
}

// finishRun saves r (unless --no-save) and prints res.
func (f *evalFlags) finishRun(w, errw io.Writer, r *eval.Record, res any, text func(io.Writer)) error {
	if !f.noSave {
		path, err := eval.Save("", r)
		if err != nil {
			return err
		}
		if !f.json {
			defer fmt.Fprintf(errw, "record saved: %s\n", path)
		}
	}
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	text(w)
	return nil
}

// toMap turns a result struct into the record's results map.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// progressLine draws a one-line progress on a terminal, nothing elsewhere.
func progressLine(w io.Writer) func(format string, a ...any) {
	if !isTerminal(w) {
		return func(string, ...any) {}
	}
	return func(format string, a ...any) { fmt.Fprintf(w, "\r\033[K"+format, a...) }
}

// perplexityOutput is what `eval perplexity --json` prints.
type perplexityOutput struct {
	*eval.PerplexityResult
	KLDivergence  *float64 `json:"kl_divergence,omitempty"`
	Top1Agreement *float64 `json:"top1_agreement,omitempty"`
}

func newEvalPerplexityCmd() *cobra.Command {
	var f evalFlags
	var nctx, chunks int
	var klBase string
	cmd := &cobra.Command{
		Use:   "perplexity [-m MODEL] --file TEXT [--ctx N] [--chunks N] [--kl-base MODEL] [--json]",
		Short: "Perplexity over a text file (llama-perplexity's method), and KL divergence against a base model",
		Long: `Perplexity over a text file with llama.cpp's llama-perplexity method: the text is cut into
non-overlapping chunks of --ctx tokens, BOS first in each, and the second half of each
chunk is scored, so the figure is comparable with llama.cpp's. With --kl-base (the F16
or F32 file a quant was made from), the KL divergence of the model's next-token
distributions from the base's and their top-1 agreement are measured too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.file == "" {
				return &usageError{cmd: cmd, err: fmt.Errorf("--file is required (the text to measure)"), flag: true}
			}
			text, err := os.ReadFile(f.file)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			errw := cmd.ErrOrStderr()
			draw := progressLine(errw)
			progress := func(done, total int, ppl float64) { draw("chunk %d/%d  perplexity %.4f", done, total, ppl) }
			if f.endpoint != "" {
				c, err := f.remote(cmd, "kl-base")
				if err != nil {
					return err
				}
				rec, err := remoteRecord("perplexity", c)
				if err != nil {
					return err
				}
				res, err := eval.PerplexityEndpoint(ctx, c, string(text), eval.PerplexityOptions{Ctx: nctx, Chunks: chunks, Progress: progress})
				draw("")
				if err != nil {
					return err
				}
				return f.finishPerplexity(cmd, rec, res, chunks, "")
			}
			m, err := f.mf.open(ctx)
			if err != nil {
				return err
			}
			defer m.Close()
			if trained := m.Config().ContextLength; nctx > trained {
				fmt.Fprintf(cmd.ErrOrStderr(), "glassbox: warning: --ctx %d is beyond the %d tokens %s was trained on: expect a higher perplexity\n", nctx, trained, m.Name())
			}
			opt := eval.PerplexityOptions{Ctx: nctx, Chunks: chunks}
			if klBase != "" {
				bf := f.mf
				bf.model = klBase
				base, err := bf.open(ctx)
				if err != nil {
					return fmt.Errorf("--kl-base: %w", err)
				}
				defer base.Close()
				opt.Base = base
			}
			opt.Progress = progress
			rec, err := newRecord("perplexity", &f.mf, m)
			if err != nil {
				return err
			}
			res, err := eval.Perplexity(ctx, m, string(text), opt)
			draw("")
			if err != nil {
				return err
			}
			rec.Settings = map[string]any{"kv_f32": f.mf.kvF32}
			return f.finishPerplexity(cmd, rec, res, chunks, klBase)
		},
	}
	f.register(cmd)
	cmd.Flags().VarP(newBoundedInt(&nctx, 0, 0, 1<<20, "a whole number of tokens, 0 (512, at most the model's) or at least 4"), "ctx", "c", "tokens per chunk (0 = 512, at most the model's training context)")
	cmd.Flags().VarP(newBoundedInt(&chunks, 0, 0, 1<<30, "a whole number, 0 (all) or more"), "chunks", "", "chunks to evaluate at most (0 = all)")
	cmd.Flags().StringVar(&klBase, "kl-base", "", "base model (same vocabulary) to measure KL divergence and top-1 agreement against")
	return cmd
}

// finishPerplexity completes the record of a perplexity run and prints it.
func (f *evalFlags) finishPerplexity(cmd *cobra.Command, rec *eval.Record, res *eval.PerplexityResult, chunks int, klBase string) error {
	out := perplexityOutput{PerplexityResult: res}
	if res.KL != nil {
		out.KLDivergence, out.Top1Agreement = &res.KL.Mean, &res.KL.Top1Agreement
	}
	rec.Settings["file"], rec.Settings["ctx"], rec.Settings["chunks"] = f.file, res.Ctx, chunks
	if klBase != "" {
		rec.Settings["kl_base"] = klBase
	}
	rec.Results = toMap(out)
	delete(rec.Results, "chunk_perplexity")
	return f.finishRun(cmd.OutOrStdout(), cmd.ErrOrStderr(), rec, out, func(w io.Writer) {
		fmt.Fprintf(w, "perplexity %.4f ± %.5f over %d chunks of %d tokens (%d tokens scored of %d)\n", res.Perplexity, res.PerplexityError, res.Chunks, res.Ctx, res.Scored, res.Tokens)
		if k := res.KL; k != nil {
			fmt.Fprintf(w, "base perplexity %.4f\nKL divergence mean %.6f ± %.6f, median %.6f, 99%% %.6f, max %.6f\ntop-1 agreement %.2f%%\n", k.BasePerplexity, k.Mean, k.MeanError, k.Median, k.P99, k.Max, k.Top1Agreement)
		}
	})
}

func newEvalChoiceCmd() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "choice [-m MODEL] --file FILE.jsonl [--json]",
		Short: "Multiple-choice accuracy by log-likelihood (the HellaSwag/ARC/MMLU method) over a JSONL file",
		Long: `Multiple-choice accuracy by log-likelihood, as lm-evaluation-harness scores HellaSwag,
ARC or MMLU. Each line of the file is one question:

  {"context": "The capital of France is", "choices": ["Paris", "Rome"], "answer": 0}

("question" may replace "context"; "answer" is the 0-based index of the right choice).
acc picks the choice of highest log-likelihood, acc_norm the highest per byte.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.file == "" {
				return &usageError{cmd: cmd, err: fmt.Errorf("--file is required (a JSONL file of questions)"), flag: true}
			}
			fh, err := os.Open(f.file)
			if err != nil {
				return err
			}
			items, err := eval.ParseChoices(fh)
			fh.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", f.file, err)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			errw := cmd.ErrOrStderr()
			draw := progressLine(errw)
			opt := eval.ChoiceOptions{Progress: func(done, total int) { draw("question %d/%d", done, total) }}
			var rec *eval.Record
			var res *eval.ChoiceResult
			if f.endpoint != "" {
				c, err := f.remote(cmd)
				if err != nil {
					return err
				}
				if rec, err = remoteRecord("choice", c); err != nil {
					return err
				}
				res, err = eval.ChoiceEndpoint(ctx, c, items, opt)
				draw("")
				if err != nil {
					return err
				}
			} else {
				m, err := f.mf.open(ctx)
				if err != nil {
					return err
				}
				defer m.Close()
				if rec, err = newRecord("choice", &f.mf, m); err != nil {
					return err
				}
				res, err = eval.Choice(ctx, m, items, opt)
				draw("")
				if err != nil {
					return err
				}
			}
			rec.Settings = map[string]any{"file": f.file, "questions": len(items), "kv_f32": f.mf.kvF32}
			rec.Results = toMap(res)
			delete(rec.Results, "items")
			return f.finishRun(cmd.OutOrStdout(), errw, rec, res, func(w io.Writer) {
				fmt.Fprintf(w, "acc      %.4f (%d/%d)\nacc_norm %.4f (%d/%d)\n", res.Acc, res.Correct, res.Total, res.AccNorm, res.CorrectNorm, res.Total)
			})
		},
	}
	f.register(cmd)
	return cmd
}
