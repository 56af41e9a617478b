package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// A pretraining mix (InstructGPT's "PPO-ptx") keeps a policy close to the
// text it was pretrained on while it learns from rewards: every GRPO update
// adds γ (FineTuneConfig.PtxCoef) times the mean next-token loss of
// PtxBatch windows of pretraining text to the GRPO loss,
//
//	loss = GRPO loss + γ · mean over the windows of (mean token NLL).
//
// The windows come from the texts given to SetPretrainingMix: each text
// begins with the BOS token (or, without one, EOS: the separator of the
// pretraining stream), the texts are concatenated and cut into windows of
// MaxLength+1 tokens (the last, shorter one is dropped); a window's first
// MaxLength tokens are the input and the next ones the targets. The
// windows are split for validation like the other examples (by the SHA-256
// of their ids, ValPermille); the validation windows' mean token loss is
// reported as eval ptx_loss, the training batches' as ptx_loss. Update s
// uses consecutive windows of a permutation of the training windows per
// epoch, drawn from the RNG stream (seed, 4e9+epoch), so the weights depend
// only on the settings, the data and the seed.

// PtxReport describes the pretraining windows of a run.
type PtxReport struct {
	Texts, Tokens, Train, Val int
}

// ReadPretrainingText reads pretraining text as JSONL {"text": ...} records
// (other fields are ignored; errors name the line and the field).
func ReadPretrainingText(r io.Reader) ([]string, error) {
	var out []string
	err := readJSONL(r, func(line int, obj map[string]json.RawMessage) error {
		if obj["text"] == nil {
			return lineError(line, "text", "missing (a pretraining record is {\"text\": ...})")
		}
		s, err := stringField(line, obj, "text")
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the dataset has no records")
	}
	return out, nil
}

// SetPretrainingMix gives a GRPO run whose config has PtxCoef > 0 its
// pretraining text. It must be called before the first step.
func (ft *FineTuner) SetPretrainingMix(texts []string, enc Encoder) (PtxReport, error) {
	var rep PtxReport
	t, ok := ft.task.(*grpoTask)
	switch {
	case !ok:
		return rep, fmt.Errorf("train: a pretraining mix is for GRPO runs")
	case !(ft.Config.PtxCoef > 0):
		return rep, fmt.Errorf("train: the config has no pretraining coefficient (ptx_coef)")
	case ft.Step() > 0:
		return rep, fmt.Errorf("train: the pretraining mix must be set before the first step")
	}
	sep, _ := enc.BOS()
	if sep < 0 {
		sep = enc.EOS()
	}
	var stream []int
	for _, s := range texts {
		if sep >= 0 {
			stream = append(stream, sep)
		}
		stream = append(stream, enc.Encode(s, false)...)
	}
	V := ft.Model.Config.Vocab
	for _, id := range stream {
		if id < 0 || id >= V {
			return rep, fmt.Errorf("train: pretraining text: token id %d outside the model's vocabulary of %d", id, V)
		}
	}
	L := min(ft.Config.MaxLength, ft.Model.Config.Context)
	rep.Texts, rep.Tokens = len(texts), len(stream)
	t.ptxTrain, t.ptxVal = nil, nil
	for w := 0; (w+1)*L+1 <= len(stream); w++ {
		win := stream[w*L : (w+1)*L+1]
		seq := Sequence{Line: w + 1, IDs: append([]int(nil), win[:L]...), Targets: append([]int(nil), win[1:]...)}
		if inVal(ft.Config.ValPermille, seq.IDs) {
			t.ptxVal = append(t.ptxVal, seq)
		} else {
			t.ptxTrain = append(t.ptxTrain, seq)
		}
	}
	rep.Train, rep.Val = len(t.ptxTrain), len(t.ptxVal)
	if rep.Train == 0 {
		return rep, fmt.Errorf("train: the pretraining text (%d tokens) leaves no training window of %d tokens", len(stream), L+1)
	}
	return rep, nil
}

// ptxBatch returns the training windows of update step.
func (t *grpoTask) ptxBatch(step int) []int {
	n, P := len(t.ptxTrain), t.c.PtxBatch
	out := make([]int, P)
	var perm []int
	epoch := -1
	for k := range out {
		g := step*P + k
		if e := g / n; e != epoch {
			epoch = e
			perm = permutation(n, NewRNG(t.c.Seed, 4_000_000_000+uint64(e)))
		}
		out[k] = perm[g%n]
	}
	return out
}

// runPtx computes the pretraining loss of window s: the backward pass adds
// scale·∂(mean token NLL)/∂w. It returns the mean token NLL.
func runPtx(m *Model[float32], tape *Tape[float32], s Sequence, scale float64) float64 {
	return PtxLoss(tape, m.forward(tape, s.IDs), s.Targets, float32(scale))
}

// PtxLoss returns the mean negative log-likelihood of the targets under
// softmax(logits) (negative targets skipped; 0 when there are none); the
// backward pass adds scale times its gradient to the logits'.
func PtxLoss[F Float](tape *Tape[F], logits *Tensor[F], targets []int, scale F) float64 {
	n := 0
	for _, tg := range targets {
		if tg >= 0 {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return tape.CrossEntropy(logits, targets, scale/F(n)) / float64(n)
}

// ptxEval returns the mean token NLL of the validation windows (NaN when
// there are none).
func (t *grpoTask) ptxEval(m *Model[float32], threads int) float64 {
	if len(t.ptxVal) == 0 {
		return math.NaN()
	}
	nll := make([]float64, len(t.ptxVal))
	parallelFor(len(t.ptxVal), threads, func(k int) {
		tape := &Tape[float32]{Threads: 1}
		nll[k] = runPtx(m, tape, t.ptxVal[k], 0) * float64(t.ptxVal[k].Trained())
		tape.Reset()
	})
	var sum, n float64
	for k, v := range nll {
		sum += v
		n += float64(t.ptxVal[k].Trained())
	}
	return sum / n
}
