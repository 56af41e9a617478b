package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"glassbox/train"
)

// trainOptions are the flags of glassbox train.
type trainOptions struct {
	data    []string
	recipe  string
	out     string
	resume  bool
	threads int
	export  string
	quiet   bool

	name                                      string
	steps, vocab, dim, layers, heads, kvHeads int
	ffn, context, batch, accum, warmup        int
	heldOut                                   int
	lr, minLR                                 float64
	seed                                      uint64
}

func newTrainCmd() *cobra.Command {
	var o trainOptions
	cmd := &cobra.Command{
		Use:   "train --data GLOB... [--recipe FILE] [--out DIR] [--resume]",
		Short: "Train a small Llama model from text files, reproducibly, and export it",
		Long: `train learns a byte-level BPE tokenizer from the training files, then trains a
Llama-architecture model on them and exports it as GGUF (F32, F16, Q8_0) and as
safetensors with a Hugging Face config.json and tokenizer.json.

The recipe (JSON, see models/recipe.json) fixes the data globs, tokenizer, model
shape, optimizer, schedule and seed; flags override its fields. The same recipe on
the same data gives bit-identical weights. Files are split by file into training
and held-out sets. "**" in a glob matches any directories; $GOROOT expands to
'go env GOROOT'.

The output directory receives recipe.json, manifest.txt (sha256, size, split and
path of every file), tokenizer.json, checkpoint.bin (every checkpoint_every
steps), loss.csv, loss.svg and the exported models. --resume continues from the
checkpoint; the result is the same as an uninterrupted run.

Reproduce the default model:
  glassbox train --recipe models/recipe.json --out run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd, o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.data, "data", nil, "glob of training text files (repeatable; replaces the recipe's globs)")
	f.StringVar(&o.recipe, "recipe", "", "recipe JSON file (default: built-in defaults)")
	f.StringVarP(&o.out, "out", "o", "train-out", "output directory")
	f.BoolVar(&o.resume, "resume", false, "continue from OUT/checkpoint.bin")
	registerThreads(cmd, &o.threads, "goroutines (0 = all cores); does not change the weights")
	f.StringVar(&o.export, "export", "f32,f16,q8_0,safetensors", "formats exported at the end (comma-separated; empty: none)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar")
	f.StringVar(&o.name, "name", "", "model name (general.name)")
	f.IntVar(&o.steps, "steps", 0, "optimizer steps")
	f.IntVar(&o.vocab, "vocab", 0, "vocabulary size (tokenizer and model)")
	f.IntVar(&o.dim, "dim", 0, "embedding width")
	f.IntVar(&o.layers, "layers", 0, "transformer blocks")
	f.IntVar(&o.heads, "heads", 0, "attention heads")
	f.IntVar(&o.kvHeads, "kv-heads", 0, "key/value heads (grouped-query attention)")
	f.IntVar(&o.ffn, "ffn", 0, "feed-forward hidden width")
	f.IntVar(&o.context, "context", 0, "sequence length")
	f.IntVar(&o.batch, "batch", 0, "sequences per micro-batch")
	f.IntVar(&o.accum, "accum", 0, "micro-batches accumulated per step")
	f.IntVar(&o.warmup, "warmup", 0, "warm-up steps")
	f.IntVar(&o.heldOut, "held-out-permille", 0, "share of files (‰) held out for validation, by path hash")
	f.Float64Var(&o.lr, "lr", 0, "peak learning rate")
	f.Float64Var(&o.minLR, "min-lr", 0, "final learning rate")
	f.Uint64Var(&o.seed, "seed", 0, "random seed")
	cmd.AddCommand(newTrainTokenizerCmd(), newTrainExportCmd(), newTrainEvalCmd(), newTrainSFTCmd(), newTrainRewardCmd(), newTrainDPOCmd(), newTrainGRPOCmd())
	return cmd
}

// buildRecipe reads the recipe file (or the defaults) and applies the flags that were set.
func buildRecipe(cmd *cobra.Command, o trainOptions) (train.Recipe, error) {
	r := train.DefaultRecipe()
	if o.recipe != "" {
		var err error
		if r, err = train.LoadRecipe(o.recipe); err != nil {
			return r, err
		}
	}
	set := cmd.Flags().Changed
	if len(o.data) > 0 {
		r.Data.Globs = o.data
	}
	ints := []struct {
		flag string
		v    int
		dst  *int
	}{
		{"steps", o.steps, &r.Steps}, {"dim", o.dim, &r.Model.Dim}, {"layers", o.layers, &r.Model.Layers},
		{"heads", o.heads, &r.Model.Heads}, {"kv-heads", o.kvHeads, &r.Model.KVHeads}, {"ffn", o.ffn, &r.Model.Hidden},
		{"context", o.context, &r.Model.Context}, {"batch", o.batch, &r.BatchSeqs}, {"accum", o.accum, &r.Accum},
		{"warmup", o.warmup, &r.Optim.WarmupSteps}, {"held-out-permille", o.heldOut, &r.Data.HeldOutPermille},
	}
	for _, x := range ints {
		if set(x.flag) {
			*x.dst = x.v
		}
	}
	if set("vocab") {
		r.Model.Vocab, r.Tokenizer.VocabSize = o.vocab, o.vocab
	}
	if set("lr") {
		r.Optim.LR = o.lr
	}
	if set("min-lr") {
		r.Optim.MinLR = o.minLR
	}
	if set("seed") {
		r.Seed = o.seed
	}
	if set("name") {
		r.Name = o.name
	}
	if len(r.Data.Globs) == 0 {
		return r, fmt.Errorf("no training data: give --data GLOB or a recipe with data.globs")
	}
	return r, r.Validate()
}

func runTrain(cmd *cobra.Command, o trainOptions) error {
	r, err := buildRecipe(cmd, o)
	if err != nil {
		return err
	}
	formats := splitList(o.export)
	for _, f := range formats {
		if !slices.Contains(train.ExportFormats, f) {
			return fmt.Errorf("unknown export format %q (known: %s)", f, strings.Join(train.ExportFormats, ", "))
		}
	}
	stderr := cmd.ErrOrStderr()
	// On a terminal: a progress bar and a line per evaluation; elsewhere (a
	// log file, CI) only the lines; with -q neither. The summary comes last.
	opts := train.Options{OutDir: o.out, Resume: o.resume, Threads: o.threads}
	if !o.quiet {
		opts.Log = stderr
		if isTerminal(stderr) {
			opts.Progress = stderr
		}
	}
	start := time.Now()
	t, p, err := train.RunRecipe(cmd.Context(), r, opts)
	if err != nil {
		if t != nil && t.Step() > 0 {
			return fmt.Errorf("%w (checkpoint at step %d in %s; continue with --resume)", err, t.Step(), o.out)
		}
		return err
	}
	if opts.Progress != nil {
		fmt.Fprintln(stderr) // end the progress bar's line
	}
	printTrainSummary(cmd.OutOrStdout(), r, t.Curve, time.Since(start), o.out)
	if len(formats) == 0 {
		return nil
	}
	sums, err := train.ExportAll(o.out, t.Model, r, p.Tokenizer, formats)
	if err != nil {
		return err
	}
	printSums(cmd.OutOrStdout(), sums)
	return nil
}

// printTrainSummary writes the one-line summary of a finished run: steps,
// tokens, time and the final training and held-out losses.
func printTrainSummary(w io.Writer, r train.Recipe, curve []train.CurvePoint, took time.Duration, dir string) {
	if len(curve) == 0 {
		fmt.Fprintf(w, "trained %s: no step run (the checkpoint in %s had already reached step %d)\n", r.Name, dir, r.Steps)
		return
	}
	last := curve[len(curve)-1]
	val := "no held-out evaluation"
	for i := len(curve) - 1; i >= 0; i-- {
		if !math.IsNaN(curve[i].ValLoss) {
			val = fmt.Sprintf("held-out loss %.4f at step %d", curve[i].ValLoss, curve[i].Step)
			break
		}
	}
	fmt.Fprintf(w, "trained %s: %s, %s in %s; final loss %.4f (training), %s; curves in %s\n",
		r.Name, plural(last.Step, "step"), plural(int(last.Tokens), "token"), took.Round(time.Millisecond),
		last.TrainLoss, val, filepath.Join(dir, "loss.csv"))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(strings.ToLower(f)); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func printSums(w io.Writer, sums map[string]string) {
	paths := make([]string, 0, len(sums))
	for p := range sums {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(w, "%s  %s\n", sums[p], p)
	}
}

// loadRun reads the recipe, tokenizer and checkpoint of a training output directory.
func loadRun(dir string) (train.Recipe, *train.Model[float32], int, []byte, error) {
	r, err := train.LoadRecipe(filepath.Join(dir, "recipe.json"))
	if err != nil {
		return r, nil, 0, nil, err
	}
	tokJSON, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return r, nil, 0, nil, fmt.Errorf("reading the run's tokenizer: %w", err)
	}
	m, step, err := train.ModelFromCheckpoint(filepath.Join(dir, "checkpoint.bin"), r)
	return r, m, step, tokJSON, err
}

func newTrainExportCmd() *cobra.Command {
	var dir, formats string
	cmd := &cobra.Command{
		Use:   "export --out DIR [--formats f32,f16,q8_0,safetensors]",
		Short: "Export the last checkpoint of a training run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, m, step, tokJSON, err := loadRun(dir)
			if err != nil {
				return err
			}
			tok, err := train.TrainedFromTokenizerJSON(tokJSON)
			if err != nil {
				return err
			}
			if step < r.Steps {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the checkpoint is at step %d of %d: exporting an unfinished model\n", step, r.Steps)
			}
			sums, err := train.ExportAll(dir, m, r, tok, splitList(formats))
			if err != nil {
				return err
			}
			printSums(cmd.OutOrStdout(), sums)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "out", "o", "train-out", "training output directory")
	cmd.Flags().StringVar(&formats, "formats", "f32,f16,q8_0,safetensors", "formats (comma-separated)")
	return cmd
}

func newTrainEvalCmd() *cobra.Command {
	var dir, modelPath string
	var seqs, cases, threads int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "eval --out DIR [--model FILE] [--seqs 256] [--cases 200]",
		Short: "Evaluate a trained model: held-out perplexity and the next-line completion suite",
		Long: `eval scores a training run's model on its held-out files: the perplexity of the
training weights over the first --seqs context-long windows of the held-out token stream,
and the completion suite run by the glassbox engine on the exported GGUF (--model,
default OUT/<name>.f32.gguf): for held-out functions, the first 3 lines are the prompt
and the 4th the target; the greedy completion's line is an exact match when equal after
trimming spaces, and it parses when the function with that line in place parses as Go.
The report is written to OUT/eval.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, m, _, tokJSON, err := loadRun(dir)
			if err != nil {
				return err
			}
			tok, err := train.TrainedFromTokenizerJSON(tokJSON)
			if err != nil {
				return err
			}
			if modelPath == "" {
				modelPath = filepath.Join(dir, r.Name+".f32.gguf")
			}
			rep, err := train.Evaluate(r, m, modelPath, tok, seqs, cases, threads)
			if err != nil {
				return err
			}
			data, _ := json.MarshalIndent(rep, "", "  ")
			if err := os.WriteFile(filepath.Join(dir, "eval.json"), append(data, '\n'), 0o644); err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(append(data, '\n'))
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "held-out: %s, %s scored: loss %.4f nats/token, perplexity %.2f, %.3f bits/byte\n",
				plural(rep.HeldOutFiles, "file"), plural(rep.HeldOutTokens, "token"), rep.HeldOutLoss, rep.Perplexity, rep.BitsPerByte)
			fmt.Fprintf(w, "completion: %s, exact match %d (%.1f%%), parses as Go %d (%.1f%%)\n",
				plural(rep.Completion.Cases, "case"), rep.Completion.Exact, 100*rep.ExactMatchRate, rep.Completion.Parses, 100*rep.ParseRate)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&dir, "out", "o", "train-out", "training output directory")
	f.StringVarP(&modelPath, "model", "m", "", "GGUF file for the completion suite")
	f.Var(newBoundedInt(&seqs, 256, 1, 1<<30, "a whole number of windows, 1 or more"), "seqs", "held-out windows scored for the perplexity")
	f.Var(newBoundedInt(&cases, 200, 0, 1<<30, "a whole number of cases, 0 or more"), "cases", "completion cases")
	registerThreads(cmd, &threads, "goroutines (0 = all cores)")
	f.BoolVar(&asJSON, "json", false, "print the whole report as JSON")
	return cmd
}

func newTrainTokenizerCmd() *cobra.Command {
	var data []string
	var out, pre string
	var vocab, permille int
	cmd := &cobra.Command{
		Use:   "tokenizer --data GLOB... [--vocab 2048] [--pre gpt-2] [-o tokenizer.json]",
		Short: "Train only the byte-level BPE tokenizer and write tokenizer.json",
		Long: `tokenizer trains the deterministic byte-level BPE tokenizer that glassbox train uses,
on the training split of the files (files whose path hash falls in the held-out share
are left out, as in training), and writes a Hugging Face tokenizer.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(data) == 0 {
				return fmt.Errorf("no data: give --data GLOB")
			}
			c, err := train.LoadCorpus(train.DataSpec{Globs: data, ExcludeDirs: []string{"testdata"}, HeldOutPermille: permille})
			if err != nil {
				return err
			}
			files, _ := c.Split()
			spec := train.DefaultRecipe().Tokenizer
			spec.VocabSize, spec.PreTokenizer = vocab, pre
			tr, err := train.TrainTokenizer(files, spec)
			if err != nil {
				return err
			}
			fh, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := tr.WriteTokenizerJSON(fh); err != nil {
				fh.Close()
				return err
			}
			if err := fh.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%s) from %s\n", out, plural(len(tr.Vocab), "token"), plural(len(tr.Merges), "merge"), plural(len(files), "file"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&data, "data", nil, "glob of text files (repeatable)")
	f.StringVarP(&out, "out", "o", "tokenizer.json", "output file")
	f.StringVar(&pre, "pre", "gpt-2", "pre-tokenizer (a llama.cpp tokenizer.ggml.pre name)")
	f.IntVar(&vocab, "vocab", 2048, "vocabulary size (1 special token + 256 bytes + merges)")
	f.Var(newBoundedInt(&permille, 50, 0, 1000, "a whole number of ‰ from 0 to 1000"), "held-out-permille", "share of files (‰) held out, by path hash")
	return cmd
}
