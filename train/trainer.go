package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"time"
)

// CurvePoint is one row of the loss curves.
type CurvePoint struct {
	Step      int     `json:"step"` // updates done
	LR        float64 `json:"lr"`
	TrainLoss float64 `json:"train_loss"`
	GradNorm  float64 `json:"grad_norm"`
	ValLoss   float64 `json:"val_loss"` // NaN when not evaluated at this step
	Tokens    int64   `json:"tokens"`   // training tokens seen so far
}

// Trainer runs the optimization of one recipe over token streams. It holds
// all the state a checkpoint saves.
type Trainer struct {
	Recipe Recipe
	Model  *Model[float32]
	// Threads is the number of goroutines used (default GOMAXPROCS); the
	// weights do not depend on it.
	Threads int
	// Progress, if set, receives a one-line progress bar redrawn with "\r".
	Progress io.Writer
	// OnStep, if set, is called after every step (and after evaluations).
	OnStep func(p CurvePoint)

	train, val []int32
	adam       *adamState
	Curve      []CurvePoint
	shadows    []*Model[float32]
	elapsed    time.Duration // training time of previous sessions (from checkpoints)
}

// NewTrainer initializes a model from the recipe's seed over the given
// training and validation token streams.
func NewTrainer(r Recipe, trainStream, valStream []int32) (*Trainer, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if len(trainStream) < r.Model.Context+1 {
		return nil, fmt.Errorf("train: training stream has %d tokens, fewer than context+1 = %d", len(trainStream), r.Model.Context+1)
	}
	m, err := NewModel[float32](r.Model, NewRNG(r.Seed, 0))
	if err != nil {
		return nil, err
	}
	return &Trainer{Recipe: r, Model: m, train: trainStream, val: valStream, adam: newAdamState(m)}, nil
}

// Step is the number of updates done.
func (t *Trainer) Step() int { return int(t.adam.Step) }

func (t *Trainer) threads() int {
	if t.Threads > 0 {
		return t.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// shadow returns a model sharing m's weights with its own gradients.
func shadow(m *Model[float32]) *Model[float32] {
	s := &Model[float32]{Config: m.Config, rope: m.rope, base: m.base}
	remap := map[*Tensor[float32]]*Tensor[float32]{}
	for _, p := range m.Params {
		nt := &Tensor[float32]{Data: p.T.Data, Grad: make([]float32, len(p.T.Grad)), Rows: p.T.Rows, Cols: p.T.Cols}
		remap[p.T] = nt
		s.Params = append(s.Params, Param[float32]{Name: p.Name, T: nt, Decay: p.Decay})
	}
	// tensors that are not parameters (a LoRA model's frozen norms) are shared
	get := func(t *Tensor[float32]) *Tensor[float32] {
		if nt, ok := remap[t]; ok {
			return nt
		}
		return t
	}
	s.embed, s.norm, s.output, s.head = get(m.embed), get(m.norm), get(m.output), get(m.head)
	for _, l := range m.layers {
		s.layers = append(s.layers, layerParams[float32]{
			attnNorm: get(l.attnNorm), wq: get(l.wq), wk: get(l.wk), wv: get(l.wv), wo: get(l.wo),
			ffnNorm: get(l.ffnNorm), gate: get(l.gate), up: get(l.up), down: get(l.down),
		})
	}
	for _, fl := range m.frozen {
		nl := frozenLayer[float32]{w: fl.w}
		for i, p := range fl.lora {
			if p != nil {
				nl.lora[i] = &loraPair[float32]{a: get(p.a), b: get(p.b)}
			}
		}
		s.frozen = append(s.frozen, nl)
	}
	return s
}

// batchOffsets returns the start offsets of the sequences of update step:
// uniform over the training stream, drawn from the stream (seed, step+1) of
// the package RNG, so that a resumed run draws the same batches.
func (t *Trainer) batchOffsets(step int) []int {
	r := t.Recipe
	rng := NewRNG(r.Seed, uint64(step)+1)
	n := r.BatchSeqs * r.Accum
	span := len(t.train) - r.Model.Context
	offs := make([]int, n)
	for i := range offs {
		offs[i] = rng.Intn(span)
	}
	return offs
}

// seqTokens returns inputs and targets of the window at off in stream.
func seqTokens(stream []int32, off, n int) (ids, targets []int) {
	ids = make([]int, n)
	targets = make([]int, n)
	for i := 0; i < n; i++ {
		ids[i] = int(stream[off+i])
		targets[i] = int(stream[off+i+1])
	}
	return ids, targets
}

// runSeqs computes the loss (and, when grad, the gradients) of the windows at
// offs in parallel, one shadow model per window, and returns the summed loss
// of each window. Gradients are reduced into t.Model's gradients (added) in
// window order, element by element, so the sum is independent of Threads.
func (t *Trainer) runSeqs(stream []int32, offs []int, scale float32, grad bool) ([]float64, error) {
	n := t.Recipe.Model.Context
	for len(t.shadows) < len(offs) && grad {
		t.shadows = append(t.shadows, shadow(t.Model))
	}
	losses := make([]float64, len(offs))
	errs := make([]error, len(offs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	workers := min(t.threads(), len(offs))
	gemmThreads := max(1, t.threads()/len(offs))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(offs) {
					return
				}
				ids, targets := seqTokens(stream, offs[i], n)
				tape := &Tape[float32]{Threads: gemmThreads}
				m := t.Model
				if grad {
					m = t.shadows[i]
					m.ZeroGrad()
				}
				losses[i], errs[i] = m.Loss(tape, ids, targets, scale)
				if grad && errs[i] == nil {
					tape.Backward()
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if grad {
		t.reduceGrads(len(offs))
	}
	return losses, nil
}

// reduceGrads adds the gradients of shadows[0..k) to the model's, in shadow
// order for every element; parameters are split among goroutines.
func (t *Trainer) reduceGrads(k int) { reduceShadowGrads(t.Model, t.shadows[:k], t.threads()) }

// reduceShadowGrads adds the gradients of shadows to m's, in shadow order
// for every element, so the sum does not depend on threads.
func reduceShadowGrads(m *Model[float32], shadows []*Model[float32], threads int) {
	params := m.Params
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pi := range jobs {
				dst := params[pi].T.Grad
				for _, sh := range shadows {
					src := sh.Params[pi].T.Grad
					for i, g := range src {
						dst[i] += g
					}
				}
			}
		}()
	}
	for pi := range params {
		jobs <- pi
	}
	close(jobs)
	wg.Wait()
}

// TrainStep runs one update: Accum micro-batches of BatchSeqs windows, the
// gradients of the mean loss, clipping and AdamW. It returns the mean training loss.
func (t *Trainer) TrainStep() (CurvePoint, error) {
	r := t.Recipe
	step := t.Step()
	offs := t.batchOffsets(step)
	t.Model.ZeroGrad()
	scale := float32(1 / float64(r.TokensPerStep()))
	var total float64
	for a := 0; a < r.Accum; a++ {
		losses, err := t.runSeqs(t.train, offs[a*r.BatchSeqs:(a+1)*r.BatchSeqs], scale, true)
		if err != nil {
			return CurvePoint{}, err
		}
		for _, l := range losses {
			total += l
		}
	}
	lr := r.Optim.LRAt(step, r.Steps)
	norm := t.adam.update(t.Model, r.Optim, lr)
	p := CurvePoint{Step: t.Step(), LR: lr, TrainLoss: total / float64(r.TokensPerStep()), GradNorm: norm,
		ValLoss: math.NaN(), Tokens: int64(t.Step()) * int64(r.TokensPerStep())}
	if math.IsNaN(p.TrainLoss) || math.IsInf(p.TrainLoss, 0) {
		return p, fmt.Errorf("train: loss became %v at step %d", p.TrainLoss, p.Step)
	}
	return p, nil
}

// ValLoss returns the mean loss over the first EvalSeqs non-overlapping
// windows of the validation stream (NaN if it is too short).
func (t *Trainer) ValLoss() (float64, error) {
	n := t.Recipe.Model.Context
	var offs []int
	for off := 0; off+n+1 <= len(t.val) && len(offs) < t.Recipe.EvalSeqs; off += n {
		offs = append(offs, off)
	}
	if len(offs) == 0 {
		return math.NaN(), nil
	}
	var total float64
	for i := 0; i < len(offs); i += t.threads() {
		losses, err := t.runSeqs(t.val, offs[i:min(i+t.threads(), len(offs))], 0, false)
		if err != nil {
			return 0, err
		}
		for _, l := range losses {
			total += l
		}
	}
	return total / float64(len(offs)*n), nil
}

// Run trains until Recipe.Steps updates are done or ctx is cancelled,
// evaluating every EvalEvery steps and calling save every CheckpointEvery
// steps and at the end (save may be nil).
func (t *Trainer) Run(ctx context.Context, save func(*Trainer) error) error {
	r := t.Recipe
	start := time.Now()
	startStep := t.Step()
	for t.Step() < r.Steps {
		if err := ctx.Err(); err != nil {
			if save != nil {
				if serr := save(t); serr != nil {
					return serr
				}
			}
			return err
		}
		p, err := t.TrainStep()
		if err != nil {
			return err
		}
		if (r.EvalEvery > 0 && p.Step%r.EvalEvery == 0) || p.Step == r.Steps {
			if p.ValLoss, err = t.ValLoss(); err != nil {
				return err
			}
		}
		t.Curve = append(t.Curve, p)
		if t.OnStep != nil {
			t.OnStep(p)
		}
		if t.Progress != nil {
			t.drawProgress(p, start, startStep)
		}
		if save != nil && ((r.CheckpointEvery > 0 && p.Step%r.CheckpointEvery == 0) || p.Step == r.Steps) {
			t.elapsed += time.Since(start)
			start = time.Now()
			startStep = t.Step()
			if err := save(t); err != nil {
				return err
			}
		}
	}
	if t.Progress != nil {
		fmt.Fprintln(t.Progress)
	}
	return nil
}

// drawProgress redraws the progress bar line.
func (t *Trainer) drawProgress(p CurvePoint, start time.Time, startStep int) {
	r := t.Recipe
	const width = 24
	done := width * p.Step / r.Steps
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < done {
			bar[i] = '='
		}
	}
	el := time.Since(start).Seconds()
	steps := p.Step - startStep
	tps := float64(steps*r.TokensPerStep()) / max(el, 1e-9)
	eta := time.Duration(float64(r.Steps-p.Step) * el / float64(max(steps, 1)) * float64(time.Second))
	val := ""
	if last := t.lastVal(); !math.IsNaN(last) {
		val = fmt.Sprintf(" val %.3f", last)
	}
	fmt.Fprintf(t.Progress, "\r[%s] step %d/%d loss %.3f%s | %.0f tok/s | ETA %s   ", bar, p.Step, r.Steps, p.TrainLoss, val, tps, eta.Round(time.Second))
}

func (t *Trainer) lastVal() float64 {
	for i := len(t.Curve) - 1; i >= 0; i-- {
		if !math.IsNaN(t.Curve[i].ValLoss) {
			return t.Curve[i].ValLoss
		}
	}
	return math.NaN()
}

// Elapsed is the training wall time accumulated over sessions, as of the last checkpoint.
func (t *Trainer) Elapsed() time.Duration { return t.elapsed }
