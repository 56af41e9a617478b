package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/vectors"
)

type vectorsTrainOptions struct {
	o                  vectors.TrainOptions
	out                string
	binary, phrases    bool
	lower, quiet       bool
	modelPath, tokPath string
}

// newVectorsTrainCmd returns "vectors train": word2vec on text files.
func newVectorsTrainCmd() *cobra.Command {
	o := vectorsTrainOptions{o: vectors.DefaultTrainOptions()}
	cmd := &cobra.Command{
		Use:   "train -o OUT INPUT…",
		Short: "Train word vectors (word2vec skip-gram or CBOW) on text files",
		Long: "Train word2vec vectors on plain UTF-8 text files (a folder: every file under it) and write\n" +
			"them in the word2vec text format (--binary: the binary one).\n\n" +
			"Text is cut into paragraphs at blank lines; training windows never cross one. Words: " + vectors.WordRule + ".\n" +
			"With --tokenizer FILE or -m MODEL the tokens are a glassbox tokenizer's pieces instead (subword vectors).\n\n" +
			"With a fixed --seed the vectors are the same bit for bit from run to run and for any --threads:\n" +
			"the corpus is cut into chunks of about 1024 words trained in rounds of 2, each chunk from the\n" +
			"weights at the start of its round (rows only one chunk uses are updated in place), the changes\n" +
			"to the rows both use added in corpus order. At most 2 threads do work.\n\n" +
			"--hogwild trains as word2vec.c and gensim do instead: every thread updates the shared weights\n" +
			"without waiting for the others. Faster with 2 threads or more, and uses them all, but the\n" +
			"vectors then change from run to run (with -t 1 it is reproducible, other vectors than without).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runVectorsTrain(cmd, o, args) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.o.CBOW, "cbow", false, "continuous bag of words instead of skip-gram")
	f.IntVar(&o.o.Dim, "dim", o.o.Dim, "vector size")
	f.IntVar(&o.o.Window, "window", o.o.Window, "largest context distance (each word draws 1…window)")
	f.IntVar(&o.o.Negative, "negative", o.o.Negative, "noise words per prediction (0: no negative sampling)")
	f.BoolVar(&o.o.HS, "hs", false, "hierarchical softmax (use with --negative 0 for HS alone)")
	f.Float64Var(&o.o.Sample, "sample", o.o.Sample, "frequent-word subsampling threshold (0: off)")
	f.IntVar(&o.o.MinCount, "min-count", o.o.MinCount, "drop words seen fewer times")
	f.IntVar(&o.o.Epochs, "epochs", o.o.Epochs, "passes over the corpus")
	f.Float64Var(&o.o.Alpha, "alpha", 0, "starting learning rate (default 0.025 skip-gram, 0.05 CBOW)")
	f.Float64Var(&o.o.MinAlpha, "min-alpha", o.o.MinAlpha, "final learning rate (linear decay)")
	registerThreads(cmd, &o.o.Threads, "goroutines (0 = all cores; 2 at most do work without --hogwild); does not change the vectors without --hogwild")
	f.BoolVar(&o.o.Hogwild, "hogwild", false, "threads update the weights without waiting for each other (as gensim): faster, not reproducible with more than one thread")
	f.Uint64Var(&o.o.Seed, "seed", o.o.Seed, "random seed (same seed, same vectors)")
	f.BoolVar(&o.binary, "binary", false, "write the word2vec binary format")
	f.BoolVar(&o.phrases, "phrases", false, "join frequent bigrams into one token (\"new_york\"; gensim Phrases: min count 5, threshold 10)")
	f.BoolVar(&o.lower, "lower", false, "lower-case words")
	f.StringVar(&o.tokPath, "tokenizer", "", "train over this tokenizer's pieces (GGUF, tokenizer.json or llama2.c tokenizer.bin)")
	f.StringVarP(&o.modelPath, "model", "m", "", "train over this model's tokenizer pieces (name or path)")
	f.StringVarP(&o.out, "out", "o", "", "output file (required)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func runVectorsTrain(cmd *cobra.Command, o vectorsTrainOptions, inputs []string) error {
	if o.out == "" {
		return &usageError{cmd: cmd, err: fmt.Errorf("the output file is required (-o OUT)"), flag: true}
	}
	tok := vectors.WordTokenizer(o.lower)
	if o.modelPath != "" || o.tokPath != "" {
		tk, err := loadTokenizerForCmd(cmd.Context(), o.modelPath, o.tokPath)
		if err != nil {
			return err
		}
		tok = pieceTokenizer(tk, o.lower)
	}
	c, err := vectors.ReadCorpus(inputs, tok)
	if err != nil {
		return err
	}
	if o.phrases {
		if c, err = c.Phrases(vectors.DefaultPhraseOptions()); err != nil {
			return err
		}
	}
	stderr := cmd.ErrOrStderr()
	bar := !o.quiet && isTerminal(stderr)
	if bar {
		var last time.Time
		o.o.Progress = func(p vectors.Progress) {
			// progress comes every 1024 to 2048 words: redraw ten times a second
			if p.EpochDone || time.Since(last) >= 100*time.Millisecond {
				last = time.Now()
				drawVectorsProgress(stderr, p)
			}
		}
	}
	res, err := glassbox.TrainVectors(cmd.Context(), c, o.o)
	if err != nil {
		return err
	}
	if err := res.WriteFile(o.out, o.binary); err != nil {
		return err
	}
	arch := "skip-gram"
	if o.o.CBOW {
		arch = "CBOW"
	}
	losses := make([]string, len(res.EpochLoss))
	for i, l := range res.EpochLoss {
		losses[i] = strconv.FormatFloat(l, 'f', 4, 64)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "trained %s: %d words × %d dims from %s (%d distinct), %d epochs in %s, %.0f words/s; loss per epoch %s; wrote %s\n",
		arch, res.Len(), res.Dim, plural(int(c.Words()), "token"), c.Distinct(), o.o.Epochs,
		res.Elapsed.Round(time.Millisecond), float64(res.TrainedWords)/max(res.Elapsed.Seconds(), 1e-9),
		strings.Join(losses, " "), o.out)
	return nil
}

// pieceTokenizer splits a paragraph into a tokenizer's pieces (no BOS/EOS);
// whitespace inside a piece becomes "▁" so that every piece is one word of
// the word2vec formats.
func pieceTokenizer(tk *glassbox.Tokenizer, lower bool) vectors.Tokenize {
	return func(p string) []string {
		if lower {
			p = strings.ToLower(p)
		}
		ids := tk.Encode(p, glassbox.EncodeOptions{})
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			out = append(out, strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					return '▁'
				}
				return r
			}, tk.Piece(id)))
		}
		return out
	}
}

// drawVectorsProgress redraws the training progress bar: epoch, share done,
// words/s, learning rate and the epoch's mean loss so far.
func drawVectorsProgress(w io.Writer, p vectors.Progress) {
	const width = 24
	done := int(int64(width) * p.Words / max(p.Total, 1))
	bar := []byte(strings.Repeat("=", done) + strings.Repeat(".", width-done))
	wps := float64(p.Words) / max(p.Elapsed.Seconds(), 1e-9)
	eta := time.Duration(float64(p.Total-p.Words) / max(wps, 1e-9) * float64(time.Second))
	fmt.Fprintf(w, "\r\033[K[%s] epoch %d/%d | %.0f words/s | alpha %.5f | loss %.4f | ETA %s", bar, p.Epoch, p.Epochs, wps, p.Alpha, p.Loss, eta.Round(time.Second))
	if p.EpochDone {
		fmt.Fprintf(w, "\r\033[Kepoch %d/%d: loss %.4f, %.0f words/s\n", p.Epoch, p.Epochs, p.Loss, wps)
	}
}
