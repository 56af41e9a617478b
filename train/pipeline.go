package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"glassbox/tokenizer/bpe"
)

// Options are the run settings that do not change the weights.
type Options struct {
	// OutDir receives recipe.json, manifest.txt, tokenizer.json,
	// checkpoint.bin, loss.csv, loss.svg and the exported model files.
	OutDir string
	// Resume continues from OutDir/checkpoint.bin when it exists.
	Resume bool
	// Threads bounds the goroutines (0: GOMAXPROCS).
	Threads int
	// Progress receives the progress bar (nil: none).
	Progress io.Writer
	// Log receives one line per validation and checkpoint (nil: none).
	Log io.Writer
}

// Prepared is the data side of a run: corpus, tokenizer and token streams.
type Prepared struct {
	Corpus        *Corpus
	Tokenizer     *bpe.Trained
	TokenizerJSON []byte
	Encoder       *bpe.Model
	Train, Val    []int32
	EOT           int
}

// Prepare lists and hashes the data, trains the tokenizer on the training
// files and encodes both splits.
func Prepare(r Recipe) (*Prepared, error) {
	c, err := LoadCorpus(r.Data)
	if err != nil {
		return nil, err
	}
	trainFiles, valFiles := c.Split()
	if len(trainFiles) == 0 {
		return nil, fmt.Errorf("train: every data file is held out; lower held_out_permille")
	}
	tr, err := TrainTokenizer(trainFiles, r.Tokenizer)
	if err != nil {
		return nil, err
	}
	var js bytes.Buffer
	if err := tr.WriteTokenizerJSON(&js); err != nil {
		return nil, err
	}
	enc, err := tr.Model()
	if err != nil {
		return nil, err
	}
	if len(tr.Vocab) != r.Model.Vocab {
		return nil, fmt.Errorf("train: the tokenizer learned %d tokens, the recipe asks for %d (too little data for that many merges?)", len(tr.Vocab), r.Model.Vocab)
	}
	eot := tr.Vocab[bpe.BytesToUnicode([]byte(r.Tokenizer.EndOfText))]
	if id, ok := tr.Vocab[r.Tokenizer.EndOfText]; ok {
		eot = id
	}
	p := &Prepared{Corpus: c, Tokenizer: tr, TokenizerJSON: js.Bytes(), Encoder: enc, EOT: eot}
	if p.Train, err = TokenStream(enc, trainFiles, eot); err != nil {
		return nil, err
	}
	if p.Val, err = TokenStream(enc, valFiles, eot); err != nil {
		return nil, err
	}
	return p, nil
}

// RunRecipe prepares the data, trains (resuming from a checkpoint when asked)
// and writes the run's files into opts.OutDir. It returns the trainer and the
// prepared data for exporting and evaluating.
func RunRecipe(ctx context.Context, r Recipe, opts Options) (*Trainer, *Prepared, error) {
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("train: creating output directory: %w", err)
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			if opts.Progress != nil {
				fmt.Fprint(opts.Log, "\r\033[K") // clear the progress bar's line
			}
			fmt.Fprintf(opts.Log, time.Now().UTC().Format("15:04:05 ")+format+"\n", args...)
		}
	}
	p, err := Prepare(r)
	if err != nil {
		return nil, nil, err
	}
	logf("data: %d files, manifest sha256 %s; %d training tokens, %d held-out tokens", len(p.Corpus.Files), p.Corpus.ManifestSHA256(), len(p.Train), len(p.Val))
	files := map[string][]byte{
		"recipe.json":    r.JSON(),
		"manifest.txt":   p.Corpus.Manifest(),
		"tokenizer.json": p.TokenizerJSON,
	}
	for _, name := range []string{"recipe.json", "manifest.txt", "tokenizer.json"} {
		if err := os.WriteFile(filepath.Join(opts.OutDir, name), files[name], 0o644); err != nil {
			return nil, nil, fmt.Errorf("train: %w", err)
		}
	}
	t, err := NewTrainer(r, p.Train, p.Val)
	if err != nil {
		return nil, nil, err
	}
	t.Threads = opts.Threads
	t.Progress = opts.Progress
	ckpt := filepath.Join(opts.OutDir, "checkpoint.bin")
	if opts.Resume {
		err := t.LoadCheckpoint(ckpt)
		switch {
		case err == nil:
			logf("resumed from %s at step %d", ckpt, t.Step())
		case errors.Is(err, os.ErrNotExist):
			logf("no checkpoint at %s: starting from step 0", ckpt)
		default:
			return nil, nil, err
		}
	}
	logf("model: %d parameters; %d steps of %d tokens", t.Model.NumParams(), r.Steps, r.TokensPerStep())
	t.OnStep = func(c CurvePoint) {
		if !math.IsNaN(c.ValLoss) {
			logf("step %d lr %.3g loss %.4f val %.4f grad-norm %.3f", c.Step, c.LR, c.TrainLoss, c.ValLoss, c.GradNorm)
		}
	}
	save := func(t *Trainer) error {
		if err := t.SaveCheckpoint(ckpt); err != nil {
			return err
		}
		if err := writeCurves(opts.OutDir, t.Curve); err != nil {
			return err
		}
		logf("checkpoint at step %d (%s of training so far)", t.Step(), t.Elapsed().Round(time.Second))
		return nil
	}
	if err := t.Run(ctx, save); err != nil {
		return t, p, err
	}
	return t, p, nil
}

// writeCurves writes loss.csv and loss.svg.
func writeCurves(dir string, curve []CurvePoint) error {
	var b bytes.Buffer
	WriteCurveCSV(&b, curve)
	if err := os.WriteFile(filepath.Join(dir, "loss.csv"), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	b.Reset()
	WriteCurveSVG(&b, curve)
	if err := os.WriteFile(filepath.Join(dir, "loss.svg"), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// WriteCurveCSV writes the curves as CSV with the header
// step,tokens,lr,train_loss,val_loss,grad_norm (val_loss empty when not evaluated).
func WriteCurveCSV(w io.Writer, curve []CurvePoint) {
	fmt.Fprintln(w, "step,tokens,lr,train_loss,val_loss,grad_norm")
	for _, c := range curve {
		val := ""
		if !math.IsNaN(c.ValLoss) {
			val = strconv.FormatFloat(c.ValLoss, 'f', 6, 64)
		}
		fmt.Fprintf(w, "%d,%d,%s,%.6f,%s,%.6f\n", c.Step, c.Tokens, strconv.FormatFloat(c.LR, 'g', 6, 64), c.TrainLoss, val, c.GradNorm)
	}
}
