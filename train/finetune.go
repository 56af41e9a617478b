package train

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FineTuneConfig is everything a fine-tuning run's weights depend on
// besides the base model's and the data's bytes, whose SHA-256 it records.
// The same config, model, data and thread count give bit-identical weights.
type FineTuneConfig struct {
	Method     string `json:"method"` // "sft", "reward", "dpo" or "grpo"
	BaseSHA256 string `json:"base_model_sha256"`
	RefSHA256  string `json:"ref_model_sha256,omitempty"`
	DataSHA256 string `json:"data_sha256"`
	Optim      Optim  `json:"optim"`
	// Steps is the number of updates (0: Epochs passes over the training split).
	Steps  int `json:"steps"`
	Epochs int `json:"epochs"`
	// Batch examples (sequences, or preference pairs) make one update.
	Batch           int    `json:"batch"`
	EvalEvery       int    `json:"eval_every"` // 0: only at the end
	CheckpointEvery int    `json:"checkpoint_every"`
	Seed            uint64 `json:"seed"`
	// ValPermille is the share (‰) of examples held out for validation,
	// chosen by the SHA-256 of their token ids.
	ValPermille int `json:"val_permille"`
	// MaxLength bounds every sequence (prompt + completion); longer ones are
	// an error unless Truncate, which cuts and counts them.
	MaxLength int  `json:"max_length"`
	Truncate  bool `json:"truncate,omitempty"`
	// SFT: Packing packs examples into MaxLength rows; CompletionOnly
	// restricts the loss to completions and assistant messages.
	Packing        bool `json:"packing,omitempty"`
	CompletionOnly bool `json:"completion_only"`
	// DPO: Beta and Loss ("sigmoid" or "ipo").
	Beta float64 `json:"beta,omitempty"`
	Loss string  `json:"loss,omitempty"`
	// GRPO: Batch prompts a step, Group completions of each sampled with
	// Temperature (0: greedy) among the TopK most likely tokens (0: all), at
	// most MaxCompletion tokens, stopping after StopLines lines (0: at EOS
	// or the length limit); Rewards is the reward list ("parse=1,…"); Clip
	// is ε of the clipped ratio, KLBeta the weight of the KL term,
	// Iterations the optimizer updates per sampled batch (TRL's
	// num_iterations).
	Group         int     `json:"group,omitempty"`
	Temperature   float64 `json:"temperature,omitempty"`
	TopK          int     `json:"top_k,omitempty"`
	MaxCompletion int     `json:"max_completion_length,omitempty"`
	StopLines     int     `json:"stop_lines,omitempty"`
	Rewards       string  `json:"rewards,omitempty"`
	Clip          float64 `json:"epsilon,omitempty"`
	KLBeta        float64 `json:"kl_beta,omitempty"`
	Iterations    int     `json:"num_iterations,omitempty"`
	// GRPO with a pretraining mix (InstructGPT's PPO-ptx): every update adds
	// PtxCoef (γ) times the mean next-token loss of PtxBatch windows of
	// pretraining text (SetPretrainingMix) to the GRPO loss; PtxSHA256 is
	// the SHA-256 of that text's file.
	PtxCoef   float64 `json:"ptx_coef,omitempty"`
	PtxBatch  int     `json:"ptx_batch,omitempty"`
	PtxSHA256 string  `json:"ptx_data_sha256,omitempty"`
	// LoRA, when set, trains low-rank adapters over the frozen base
	// (NewLoRA, A initialised from Seed) instead of every weight.
	LoRA *LoRAConfig `json:"lora,omitempty"`
}

// Validate checks the numbers of the config.
func (c FineTuneConfig) Validate() error {
	switch {
	case c.Method != "sft" && c.Method != "reward" && c.Method != "dpo" && c.Method != "grpo":
		return fmt.Errorf("train: method %q (expected sft, reward, dpo or grpo)", c.Method)
	case c.Steps < 0 || (c.Steps == 0 && c.Epochs < 1):
		return fmt.Errorf("train: give steps ≥ 1 or epochs ≥ 1")
	case c.Batch < 1:
		return fmt.Errorf("train: batch must be ≥ 1, got %d", c.Batch)
	case c.EvalEvery < 0 || c.CheckpointEvery < 0:
		return fmt.Errorf("train: eval_every and checkpoint_every must be ≥ 0")
	case c.ValPermille < 0 || c.ValPermille >= 1000:
		return fmt.Errorf("train: val_permille must be in [0, 1000), got %d", c.ValPermille)
	case c.MaxLength < 2:
		return fmt.Errorf("train: max_length must be ≥ 2, got %d", c.MaxLength)
	case !(c.Optim.LR > 0) || c.Optim.MinLR < 0 || c.Optim.WarmupSteps < 0:
		return fmt.Errorf("train: lr must be positive and min_lr, warmup_steps non-negative")
	case c.Optim.Beta1 < 0 || c.Optim.Beta1 >= 1 || c.Optim.Beta2 < 0 || c.Optim.Beta2 >= 1 || !(c.Optim.Eps > 0):
		return fmt.Errorf("train: AdamW needs 0 ≤ beta < 1 and eps > 0")
	case c.Method == "dpo" && !(c.Beta > 0):
		return fmt.Errorf("train: DPO needs beta > 0, got %g", c.Beta)
	case c.Method == "dpo" && c.Loss != "sigmoid" && c.Loss != "ipo":
		return fmt.Errorf("train: DPO loss %q (expected sigmoid or ipo)", c.Loss)
	case c.Method == "grpo" && c.Group < 2:
		return fmt.Errorf("train: GRPO needs a group of at least 2 completions per prompt, got %d", c.Group)
	case c.Method == "grpo" && (c.MaxCompletion < 1 || c.StopLines < 0 || c.TopK < 0 || c.Iterations < 1):
		return fmt.Errorf("train: GRPO needs max_completion_length ≥ 1, num_iterations ≥ 1 and non-negative stop_lines and top_k")
	case c.Method == "grpo" && (!(c.Temperature >= 0) || !(c.Clip > 0) || !(c.KLBeta >= 0)):
		return fmt.Errorf("train: GRPO needs temperature ≥ 0, epsilon > 0 and kl_beta ≥ 0")
	case c.PtxCoef != 0 && (c.Method != "grpo" || !(c.PtxCoef > 0) || c.PtxBatch < 1):
		return fmt.Errorf("train: a pretraining mix needs method grpo, ptx_coef > 0 and ptx_batch ≥ 1 (got %s, %g, %d)", c.Method, c.PtxCoef, c.PtxBatch)
	case c.LoRA != nil && c.Method != "sft" && c.Method != "dpo":
		return fmt.Errorf("train: LoRA works with sft and dpo, not %s", c.Method)
	case c.LoRA != nil:
		return c.LoRA.Validate()
	}
	return nil
}

// JSON returns the config as indented JSON.
func (c FineTuneConfig) JSON() []byte {
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// Hash is the SHA-256 of JSON(), stored in checkpoints.
func (c FineTuneConfig) Hash() string {
	s := sha256.Sum256(c.JSON())
	return hex.EncodeToString(s[:])
}

// Metric is one named statistic of a step or an evaluation, named as TRL
// names it (loss, mean_token_accuracy, rewards/accuracies, …).
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// FTPoint is one row of a fine-tuning run's curves.
type FTPoint struct {
	Step     int      `json:"step"`
	LR       float64  `json:"lr"`
	GradNorm float64  `json:"grad_norm"`
	Train    []Metric `json:"train"`
	Val      []Metric `json:"eval,omitempty"` // nil when not evaluated at this step
}

// Get returns the value of the named metric (NaN when absent).
func Get(ms []Metric, name string) float64 {
	for _, m := range ms {
		if m.Name == name {
			return m.Value
		}
	}
	return math.NaN()
}

// ftTask is what differs between the methods: how one example is run and
// how its statistics read.
type ftTask interface {
	// count is the number of training (or validation) examples.
	count(val bool) int
	// weight is an example's share of the step's normalizer (its trained
	// tokens for SFT, 1 for a pair).
	weight(ex int, val bool) float64
	// run computes example ex on m; with grad, the backward pass adds
	// scale·∂loss/∂w. It returns the example's statistic sums.
	run(m *Model[float32], tape *Tape[float32], ex int, val bool, scale float32, grad bool) ([]float64, error)
	// metrics turns summed statistics and weights into the reported means,
	// the loss first.
	metrics(sum []float64, weight float64) []Metric
}

// ftStepper is a task that runs its own updates and evaluation (GRPO,
// which samples before it trains).
type ftStepper interface {
	trainStep(ft *FineTuner) (FTPoint, error)
	evaluate(ft *FineTuner) ([]Metric, error)
}

// FineTuner runs a fine-tuning method over tokenized examples. It holds the
// state a checkpoint saves.
type FineTuner struct {
	Config FineTuneConfig
	Model  *Model[float32]
	// Threads bounds the goroutines (0: GOMAXPROCS). The weights do not
	// depend on it.
	Threads int
	// Progress receives a progress bar redrawn with "\r" (nil: none).
	Progress io.Writer
	// OnStep is called after every step.
	OnStep func(FTPoint)
	Curve  []FTPoint
	// Initial holds the validation metrics of the starting weights (nil
	// until RunFineTune measures them).
	Initial []Metric

	task    ftTask
	adam    *adamState
	shadows []*Model[float32]
	steps   int
}

func newFineTuner(c FineTuneConfig, m *Model[float32], task ftTask) (*FineTuner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch {
	case c.LoRA != nil && !m.IsLoRA():
		return nil, fmt.Errorf("train: the config asks for LoRA but the model trains every weight (use NewLoRA)")
	case c.LoRA == nil && m.IsLoRA():
		return nil, fmt.Errorf("train: the model trains LoRA adapters but the config has no LoRA settings")
	case c.LoRA != nil && (c.LoRA.Rank != m.LoRA().Rank || c.LoRA.Alpha != m.LoRA().Alpha || !slices.Equal(c.LoRA.Targets, m.LoRA().Targets)):
		return nil, fmt.Errorf("train: the config's LoRA settings %+v differ from the model's %+v", *c.LoRA, m.LoRA())
	}
	n := task.count(false)
	if n == 0 {
		return nil, fmt.Errorf("train: no training examples left after the validation split")
	}
	ft := &FineTuner{Config: c, Model: m, task: task, adam: newAdamState(m), steps: c.Steps}
	if ft.steps == 0 {
		ft.steps = c.Epochs * ((n + c.Batch - 1) / c.Batch)
	}
	return ft, nil
}

// TotalSteps is the number of updates of the run.
func (ft *FineTuner) TotalSteps() int { return ft.steps }

// Step is the number of updates done.
func (ft *FineTuner) Step() int { return int(ft.adam.Step) }

func (ft *FineTuner) threads() int {
	if ft.Threads > 0 {
		return ft.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// batch returns the training examples of update step: consecutive slices
// of a permutation of the training split per epoch, drawn from the stream
// (seed, 1e9+epoch) of the package RNG, so a resumed run sees the same batches.
func (ft *FineTuner) batch(step int) []int {
	n := ft.task.count(false)
	out := make([]int, ft.Config.Batch)
	var perm []int
	epoch := -1
	for k := range out {
		g := step*ft.Config.Batch + k
		if e := g / n; e != epoch {
			epoch = e
			perm = permutation(n, NewRNG(ft.Config.Seed, 1_000_000_000+uint64(e)))
		}
		out[k] = perm[g%n]
	}
	return out
}

// permutation is a Fisher–Yates shuffle of 0..n-1.
func permutation(n int, rng *RNG) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := rng.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// runExamples computes examples exs in parallel (one shadow model each when
// grad) and returns their statistics in order; gradients are reduced into
// the model in example order.
func (ft *FineTuner) runExamples(exs []int, val bool, scale float32, grad bool) ([][]float64, error) {
	for grad && len(ft.shadows) < len(exs) {
		ft.shadows = append(ft.shadows, shadow(ft.Model))
	}
	stats := make([][]float64, len(exs))
	errs := make([]error, len(exs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	workers := min(ft.threads(), len(exs))
	gemm := max(1, ft.threads()/len(exs))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(exs) {
					return
				}
				tape := &Tape[float32]{Threads: gemm}
				m := ft.Model
				if grad {
					m = ft.shadows[i]
					m.ZeroGrad()
				}
				stats[i], errs[i] = ft.task.run(m, tape, exs[i], val, scale, grad)
				if grad && errs[i] == nil {
					tape.Backward()
				} else {
					tape.Reset()
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if grad {
		reduceShadowGrads(ft.Model, ft.shadows[:len(exs)], ft.threads())
	}
	return stats, nil
}

// sumStats adds per-example statistics in order.
func sumStats(stats [][]float64) []float64 {
	var sum []float64
	for _, s := range stats {
		if sum == nil {
			sum = make([]float64, len(s))
		}
		for i, v := range s {
			sum[i] += v
		}
	}
	return sum
}

// TrainStep runs one update over a batch and returns its point of the curves.
func (ft *FineTuner) TrainStep() (FTPoint, error) {
	if s, ok := ft.task.(ftStepper); ok {
		return s.trainStep(ft)
	}
	step := ft.Step()
	exs := ft.batch(step)
	var weight float64
	for _, e := range exs {
		weight += ft.task.weight(e, false)
	}
	ft.Model.ZeroGrad()
	stats, err := ft.runExamples(exs, false, float32(1/weight), true)
	if err != nil {
		return FTPoint{}, err
	}
	lr := ft.Config.Optim.LRAt(step, ft.steps)
	norm := ft.adam.update(ft.Model, ft.Config.Optim, lr)
	p := FTPoint{Step: ft.Step(), LR: lr, GradNorm: norm, Train: ft.task.metrics(sumStats(stats), weight)}
	if l := p.Train[0].Value; math.IsNaN(l) || math.IsInf(l, 0) {
		return p, fmt.Errorf("train: loss became %v at step %d", l, p.Step)
	}
	return p, nil
}

// Evaluate returns the metrics over the whole validation split (nil when
// it is empty).
func (ft *FineTuner) Evaluate() ([]Metric, error) {
	if s, ok := ft.task.(ftStepper); ok {
		return s.evaluate(ft)
	}
	n := ft.task.count(true)
	if n == 0 {
		return nil, nil
	}
	var all [][]float64
	var weight float64
	chunk := max(ft.threads(), 1)
	for i := 0; i < n; i += chunk {
		exs := make([]int, 0, chunk)
		for j := i; j < min(i+chunk, n); j++ {
			exs = append(exs, j)
			weight += ft.task.weight(j, true)
		}
		st, err := ft.runExamples(exs, true, 0, false)
		if err != nil {
			return nil, err
		}
		all = append(all, st...)
	}
	return ft.task.metrics(sumStats(all), weight), nil
}

// Run trains until TotalSteps updates are done or ctx is cancelled,
// evaluating every EvalEvery steps and at the end, and calling save every
// CheckpointEvery steps, at the end and on cancellation (save may be nil).
func (ft *FineTuner) Run(ctx context.Context, save func(*FineTuner) error) error {
	c := ft.Config
	start, startStep := time.Now(), ft.Step()
	for ft.Step() < ft.steps {
		if err := ctx.Err(); err != nil {
			if save != nil {
				if serr := save(ft); serr != nil {
					return serr
				}
			}
			return err
		}
		p, err := ft.TrainStep()
		if err != nil {
			return err
		}
		if (c.EvalEvery > 0 && p.Step%c.EvalEvery == 0) || p.Step == ft.steps {
			if p.Val, err = ft.Evaluate(); err != nil {
				return err
			}
		}
		ft.Curve = append(ft.Curve, p)
		if ft.OnStep != nil {
			ft.OnStep(p)
		}
		if ft.Progress != nil {
			ft.drawProgress(p, start, startStep)
		}
		if save != nil && ((c.CheckpointEvery > 0 && p.Step%c.CheckpointEvery == 0) || p.Step == ft.steps) {
			if err := save(ft); err != nil {
				return err
			}
		}
	}
	if ft.Progress != nil {
		fmt.Fprintln(ft.Progress)
	}
	return nil
}

func (ft *FineTuner) drawProgress(p FTPoint, start time.Time, startStep int) {
	const width = 24
	done := width * p.Step / ft.steps
	bar := []byte(strings.Repeat("=", done) + strings.Repeat(".", width-done))
	el := time.Since(start)
	steps := max(p.Step-startStep, 1)
	eta := time.Duration(float64(ft.steps-p.Step) * float64(el) / float64(steps))
	extra := ""
	if len(p.Train) > 1 {
		extra = fmt.Sprintf(" %s %.3f", p.Train[1].Name, p.Train[1].Value)
	}
	fmt.Fprintf(ft.Progress, "\r[%s] step %d/%d loss %.4f%s | %.2f s/step | ETA %s   ", bar, p.Step, ft.steps, p.Train[0].Value, extra,
		el.Seconds()/float64(steps), eta.Round(time.Second))
}

const ftCheckpointMagic = "GBFTCK01"

type ftCheckpointHeader struct {
	ConfigHash string          `json:"config_hash"`
	Config     json.RawMessage `json:"config"`
	Step       int64           `json:"step"`
	Curve      []FTPoint       `json:"curve"`
	Initial    []Metric        `json:"initial_eval,omitempty"`
	Params     []paramShape    `json:"params"`
}

// WriteCheckpoint writes the run's state: "GBFTCK01", a little-endian
// uint32 header length, the JSON header (config, step, curves, tensor
// shapes), then every parameter's weights and AdamW moments as in the
// pretraining checkpoints.
func (ft *FineTuner) WriteCheckpoint(w io.Writer) error {
	h := ftCheckpointHeader{ConfigHash: ft.Config.Hash(), Config: ft.Config.JSON(), Step: ft.adam.Step, Curve: ft.Curve, Initial: ft.Initial}
	for _, p := range ft.Model.Params {
		h.Params = append(h.Params, paramShape{p.Name, p.T.Rows, p.T.Cols})
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(ftCheckpointMagic)
	binary.Write(bw, binary.LittleEndian, uint32(len(hdr)))
	bw.Write(hdr)
	writeParamState(bw, ft.Model, ft.adam)
	return bw.Flush()
}

// ReadCheckpoint restores a state written by WriteCheckpoint with the same config.
func (ft *FineTuner) ReadCheckpoint(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(ftCheckpointMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != ftCheckpointMagic {
		return fmt.Errorf("train: not a glassbox fine-tuning checkpoint (expected magic %q)", ftCheckpointMagic)
	}
	var n uint32
	if err := binary.Read(br, binary.LittleEndian, &n); err != nil || n > 1<<28 {
		return fmt.Errorf("train: bad fine-tuning checkpoint header length")
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fmt.Errorf("train: truncated checkpoint header: %w", err)
	}
	var h ftCheckpointHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return fmt.Errorf("train: bad checkpoint header: %w", err)
	}
	if h.ConfigHash != ft.Config.Hash() {
		return fmt.Errorf("train: the checkpoint was made with different settings, model or data (config hash %s, this run %s); resume needs the same", h.ConfigHash, ft.Config.Hash())
	}
	if err := readParamState(br, h.Params, ft.Model, ft.adam); err != nil {
		return err
	}
	ft.adam.Step = h.Step
	ft.Curve = h.Curve
	ft.Initial = h.Initial
	return nil
}

// FineTuneOptions are the run settings that do not change the weights.
type FineTuneOptions struct {
	OutDir   string // receives config.json, checkpoint.bin, loss.csv, loss.svg
	Resume   bool   // continue from OutDir/checkpoint.bin when it exists
	Progress io.Writer
	Log      io.Writer
}

// RunFineTune writes config.json, resumes when asked, trains, and keeps
// checkpoint.bin, loss.csv and loss.svg in opts.OutDir up to date.
func RunFineTune(ctx context.Context, ft *FineTuner, opts FineTuneOptions) error {
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return fmt.Errorf("train: creating output directory: %w", err)
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			if opts.Progress != nil {
				fmt.Fprint(opts.Log, "\r\033[K")
			}
			fmt.Fprintf(opts.Log, time.Now().UTC().Format("15:04:05 ")+format+"\n", args...)
		}
	}
	if err := os.WriteFile(filepath.Join(opts.OutDir, "config.json"), ft.Config.JSON(), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	ckpt := filepath.Join(opts.OutDir, "checkpoint.bin")
	if opts.Resume {
		data, err := os.ReadFile(ckpt)
		switch {
		case err == nil:
			if err := ft.ReadCheckpoint(bytes.NewReader(data)); err != nil {
				return err
			}
			logf("resumed from %s at step %d", ckpt, ft.Step())
		case errors.Is(err, os.ErrNotExist):
			logf("no checkpoint at %s: starting from step 0", ckpt)
		default:
			return fmt.Errorf("train: reading checkpoint: %w", err)
		}
	}
	if ft.Step() == 0 && ft.Initial == nil {
		var err error
		if ft.Initial, err = ft.Evaluate(); err != nil {
			return err
		}
		if ft.Initial != nil {
			logf("step 0 (starting weights) | eval %s", FormatMetrics(ft.Initial))
		}
	}
	ft.Progress = opts.Progress
	ft.OnStep = func(p FTPoint) {
		switch {
		case p.Val != nil:
			logf("step %d lr %.3g train %s | eval %s", p.Step, p.LR, FormatMetrics(p.Train), FormatMetrics(p.Val))
		case ft.Config.Method == "grpo":
			// Sampling makes GRPO steps slow and their statistics are what
			// one watches: log every step, as TRL's GRPOTrainer does.
			logf("step %d lr %.3g train %s", p.Step, p.LR, FormatMetrics(p.Train))
		}
	}
	save := func(ft *FineTuner) error {
		var b bytes.Buffer
		if err := ft.WriteCheckpoint(&b); err != nil {
			return err
		}
		if err := writeFileAtomic(ckpt, b.Bytes()); err != nil {
			return err
		}
		b.Reset()
		WriteFTCurveCSV(&b, ft.Curve)
		if err := os.WriteFile(filepath.Join(opts.OutDir, "loss.csv"), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		b.Reset()
		WriteCurveSVG(&b, ftLossCurve(ft.Curve))
		if err := os.WriteFile(filepath.Join(opts.OutDir, "loss.svg"), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if ft.Config.Method == "grpo" {
			b.Reset()
			WriteRewardSVG(&b, ftRewardCurve(ft.Curve))
			if err := os.WriteFile(filepath.Join(opts.OutDir, "reward.svg"), b.Bytes(), 0o644); err != nil {
				return fmt.Errorf("train: %w", err)
			}
		}
		return nil
	}
	return ft.Run(ctx, save)
}

// writeFileAtomic writes data to a temporary file beside path and renames it.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ckpt-*")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// FormatMetrics prints metrics as "name value" pairs.
func FormatMetrics(ms []Metric) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		if strings.HasPrefix(m.Name, "num_") && m.Value == math.Trunc(m.Value) {
			parts[i] = fmt.Sprintf("%s %.0f", m.Name, m.Value)
		} else {
			parts[i] = fmt.Sprintf("%s %.4f", m.Name, m.Value)
		}
	}
	return strings.Join(parts, " ")
}

// ftLossCurve maps the curves onto pretraining's for the SVG (training and
// validation loss).
func ftLossCurve(curve []FTPoint) []CurvePoint {
	out := make([]CurvePoint, len(curve))
	for i, p := range curve {
		out[i] = CurvePoint{Step: p.Step, LR: p.LR, GradNorm: p.GradNorm, TrainLoss: p.Train[0].Value, ValLoss: math.NaN()}
		if p.Val != nil {
			out[i].ValLoss = Get(p.Val, "loss")
		}
	}
	return out
}

// ftRewardCurve maps a GRPO run's mean rewards (training samples,
// validation greedy completions) onto the fields WriteRewardSVG reads.
func ftRewardCurve(curve []FTPoint) []CurvePoint {
	out := make([]CurvePoint, len(curve))
	for i, p := range curve {
		out[i] = CurvePoint{Step: p.Step, LR: p.LR, GradNorm: p.GradNorm, TrainLoss: Get(p.Train, "reward"), ValLoss: math.NaN()}
		if p.Val != nil {
			out[i].ValLoss = Get(p.Val, "reward")
		}
	}
	return out
}

// WriteFTCurveCSV writes the curves as CSV: step, lr, grad_norm, the
// training metrics, then the validation metrics prefixed "eval_" (empty
// where not evaluated).
func WriteFTCurveCSV(w io.Writer, curve []FTPoint) {
	if len(curve) == 0 {
		return
	}
	var names []string
	for _, m := range curve[0].Train {
		names = append(names, m.Name)
	}
	head := []string{"step", "lr", "grad_norm"}
	head = append(head, names...)
	for _, n := range names {
		head = append(head, "eval_"+n)
	}
	fmt.Fprintln(w, strings.Join(head, ","))
	for _, p := range curve {
		row := []string{strconv.Itoa(p.Step), strconv.FormatFloat(p.LR, 'g', 6, 64), strconv.FormatFloat(p.GradNorm, 'f', 6, 64)}
		for _, m := range p.Train {
			row = append(row, strconv.FormatFloat(m.Value, 'f', 6, 64))
		}
		for _, n := range names {
			v := ""
			if p.Val != nil {
				v = strconv.FormatFloat(Get(p.Val, n), 'f', 6, 64)
			}
			row = append(row, v)
		}
		fmt.Fprintln(w, strings.Join(row, ","))
	}
}

func maxProcs() int { return runtime.GOMAXPROCS(0) }
