package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
)

// GRPO (group relative policy optimisation, DeepSeekMath; TRL's
// GRPOTrainer) trains a policy on prompts alone: every step draws Batch
// prompts, samples Group completions of each with the inference engine from
// the weights of that step, scores them with reward functions, and gives
// each completion the advantage of its reward within its group,
// A = (r − mean)/(std + 1e-4). The loss (GRPOLoss) is the clipped
// policy-gradient objective of PPO with the ratio to the sampling policy,
// plus β times the k3 estimate of the KL divergence to a frozen reference,
// averaged over each completion's tokens and then over the completions. The
// log-probabilities in the loss come from the training forward pass; the
// engine only chooses the tokens. With Iterations > 1 the same samples
// serve several optimizer updates, the ratio then measured against the
// log-probabilities of the weights that sampled them.

// GRPORecord is one prompt of a GRPO dataset: {"prompt": "..."} (or a list
// of messages, or {"messages": [...]}, rendered with the chat template and
// the assistant's turn opened), with optional "tests" (Go test code for the
// test reward) and "file" (Go code written before the prompt: imports and
// declarations the completion may use) and "suffix" (the code after the
// completion, such as the rest of the function, which the completion must
// fit).
type GRPORecord struct {
	Line                int
	Prompt              Turns
	Tests, File, Suffix string
}

// ReadGRPO reads a GRPO prompt dataset (JSONL, see GRPORecord; other fields
// are ignored; errors name the line and the field).
func ReadGRPO(r io.Reader) ([]GRPORecord, error) {
	var out []GRPORecord
	err := readJSONL(r, func(line int, obj map[string]json.RawMessage) error {
		rec := GRPORecord{Line: line}
		switch {
		case obj["prompt"] != nil:
			p, err := turnsField(line, obj, "prompt")
			if err != nil {
				return err
			}
			rec.Prompt = p
		case obj["messages"] != nil:
			msgs, err := messagesField(line, obj["messages"], "messages")
			if err != nil {
				return err
			}
			rec.Prompt = Turns{Messages: msgs}
		default:
			return lineError(line, "prompt", "missing (a GRPO record is {\"prompt\": ...} or {\"messages\": [...]}, with optional \"tests\" and \"file\")")
		}
		for _, f := range []struct {
			name string
			dst  *string
		}{{"tests", &rec.Tests}, {"file", &rec.File}, {"suffix", &rec.Suffix}} {
			if raw, ok := obj[f.name]; ok && string(bytes.TrimSpace(raw)) != "null" {
				s, err := stringField(line, obj, f.name)
				if err != nil {
					return err
				}
				*f.dst = s
			}
		}
		out = append(out, rec)
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

// RewardInput is what a reward function judges: the prompt's text (empty
// for a conversational prompt: the reply is judged on its own), the
// completion's text (decoded, without the end-of-sequence token) and the
// record's tests, file context and suffix.
type RewardInput struct {
	Prompt, Completion, Suffix, File, Tests string
}

// RewardFunc is one reward of a GRPO run. Score returns NaN when the reward
// does not apply to a record: it is then left out of the weighted sum and
// of the reward's statistics (TRL's None).
type RewardFunc struct {
	Name   string
	Weight float64
	Score  func(ctx context.Context, in RewardInput) (float64, error)
}

// grpoPrompt is an encoded prompt.
type grpoPrompt struct {
	line int
	ids  []int
	in   RewardInput
	open bool // the prompt text ends inside a line
}

// grpoSample is one sampled completion and what the loss needs of it.
type grpoSample struct {
	seq      Sequence  // prompt + completion (the last token only as a target)
	adv      float64   // group-normalised advantage
	old, ref []float64 // per position of seq (nil: none)
}

type grpoTask struct {
	ctx        context.Context
	c          FineTuneConfig
	train, val []grpoPrompt
	rewards    []RewardFunc
	decode     func([]int) string
	eos        int
	ref        *Model[float32]
	cur        []grpoSample
	// pretraining mix: windows of text and the current update's batch
	// (indices into ptxTrain; examples len(cur)… of the update).
	ptxTrain, ptxVal []Sequence
	ptxCur           []int
}

func (t *grpoTask) split(val bool) []grpoPrompt {
	if val {
		return t.val
	}
	return t.train
}

func (t *grpoTask) count(val bool) int { return len(t.split(val)) }

func (t *grpoTask) weight(int, bool) float64 { return 1 }

// run computes the loss of sample ex of the current batch.
func (t *grpoTask) run(m *Model[float32], tape *Tape[float32], ex int, _ bool, scale float32, _ bool) ([]float64, error) {
	if ex >= len(t.cur) {
		// A window of pretraining text: γ · its mean token loss / PtxBatch.
		w := t.ptxTrain[t.ptxCur[ex-len(t.cur)]]
		nll := runPtx(m, tape, w, t.c.PtxCoef/float64(len(t.ptxCur)))
		return []float64{0, 0, 0, 0, nll}, nil
	}
	s := t.cur[ex]
	lp := tape.TokenLogProbs(m.forward(tape, s.seq.IDs), s.seq.Targets)
	var ref []float64
	if t.c.KLBeta > 0 {
		ref = s.ref
	}
	st := tape.GRPOLoss(lp, s.seq.Targets, s.old, ref, s.adv, t.c.Clip, t.c.KLBeta, scale)
	return []float64{st.Loss, st.KL, float64(st.Clipped), float64(st.Tokens), 0}, nil
}

func (t *grpoTask) metrics(sum []float64, n float64) []Metric {
	return []Metric{{"loss", sum[0] / n}}
}

// NewGRPO prepares a GRPO run of the policy m on the prompts: encoding
// (errors name the line), the validation split, the reward functions and,
// when c.KLBeta > 0, the frozen reference (ref, or a copy of m's starting
// weights when nil). decode turns completion token ids into text. ctx is
// passed to the reward functions.
func NewGRPO(ctx context.Context, c FineTuneConfig, m, ref *Model[float32], recs []GRPORecord, enc Encoder, decode func([]int) string, rewards []RewardFunc) (*FineTuner, DataReport, error) {
	rep := DataReport{Records: len(recs)}
	if err := c.Validate(); err != nil {
		return nil, rep, err
	}
	if len(rewards) == 0 {
		return nil, rep, fmt.Errorf("train: GRPO needs at least one reward function")
	}
	t := &grpoTask{ctx: ctx, c: c, rewards: rewards, decode: decode, eos: enc.EOS()}
	bos, addBOS := enc.BOS()
	limit := min(c.MaxLength, m.Config.Context) - 1
	for _, r := range recs {
		p := grpoPrompt{line: r.Line, in: RewardInput{File: r.File, Tests: r.Tests, Suffix: r.Suffix}}
		special := false
		text := r.Prompt.Text
		if r.Prompt.IsChat() {
			s, err := enc.RenderChat(r.Prompt.Messages, true)
			if err != nil {
				return nil, rep, fmt.Errorf("line %d: field \"prompt\": %w", r.Line, err)
			}
			text, special = s, true
		} else {
			p.in.Prompt = text
			p.open = text != "" && !strings.HasSuffix(text, "\n")
		}
		if addBOS && bos >= 0 && !(special && strings.HasPrefix(text, enc.Piece(bos))) {
			p.ids = append(p.ids, bos)
		}
		p.ids = append(p.ids, enc.Encode(text, special)...)
		switch {
		case len(p.ids) == 0:
			return nil, rep, fmt.Errorf("line %d: field \"prompt\": empty prompt (and no BOS token to start from)", r.Line)
		case len(p.ids) > limit:
			return nil, rep, fmt.Errorf("line %d: field \"prompt\": %d tokens leave no room for a completion in --max-length %d (context %d)", r.Line, len(p.ids), c.MaxLength, m.Config.Context)
		}
		for _, id := range p.ids {
			if id < 0 || id >= m.Config.Vocab {
				return nil, rep, fmt.Errorf("line %d: token id %d outside the model's vocabulary of %d", r.Line, id, m.Config.Vocab)
			}
		}
		if inVal(c.ValPermille, p.ids) {
			t.val = append(t.val, p)
		} else {
			t.train = append(t.train, p)
			rep.Tokens += len(p.ids)
		}
	}
	rep.Train, rep.Val = len(t.train), len(t.val)
	if c.KLBeta > 0 {
		if ref == nil {
			ref = cloneModel(m)
		}
		if ref.Config.Vocab != m.Config.Vocab {
			return nil, rep, fmt.Errorf("train: the reference model has %d tokens, the policy %d: they must share the tokenizer", ref.Config.Vocab, m.Config.Vocab)
		}
		t.ref = ref
	}
	ft, err := newFineTuner(c, m, t)
	if err != nil {
		return nil, rep, err
	}
	ft.steps *= c.Iterations
	return ft, rep, nil
}

// cloneModel returns a copy of m's weights (a frozen reference).
func cloneModel(m *Model[float32]) *Model[float32] {
	out, _ := NewModel[float32](m.Config, NewRNG(0, 0))
	for i := range out.Params {
		copy(out.Params[i].T.Data, m.Params[i].T.Data)
	}
	return out
}

// EngineModel builds an inference-engine model holding m's current weights
// (in F32), to sample from them.
func EngineModel(m *Model[float32]) (*model.Model, error) {
	ec := m.Config.EngineConfig()
	params := map[string][]float32{}
	for _, p := range m.Params {
		params[p.Name] = p.T.Data
	}
	var buf bytes.Buffer
	err := model.WriteGGUF(&buf, &ec, model.WriteOptions{Type: tensor.F32, Weights: func(r model.TensorRef) ([]float32, error) {
		d, ok := params[r.Name]
		if !ok {
			return nil, fmt.Errorf("the model has no weight %s", r.Name)
		}
		return d, nil
	}})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return model.LoadGGUF(f)
}

// genJob is one completion to sample: rng nil means greedy.
type genJob struct {
	p   *grpoPrompt
	rng *RNG
}

// genResult is a sampled completion: its token ids (with the EOS token when
// the model ended it) and whether it was cut at the length limit.
type genResult struct {
	ids []int
	cut bool
}

// generate samples the jobs' completions with the engine (em), on up to
// threads goroutines; each job's tokens depend only on its prompt, its RNG
// and the weights.
func (t *grpoTask) generate(em *model.Model, jobs []genJob, threads int) ([]genResult, error) {
	out := make([]genResult, len(jobs))
	errs := make([]error, len(jobs))
	V := em.Config.VocabSize
	parallelFor(len(jobs), threads, func(k int) {
		j := jobs[k]
		n := min(len(j.p.ids)+t.c.MaxCompletion, t.c.MaxLength, em.Config.ContextLength)
		st, err := em.NewState(model.StateOptions{Context: n})
		if err != nil {
			errs[k] = err
			return
		}
		logits := make([]float32, V)
		if err := em.Forward(st, j.p.ids, 0, logits); err != nil {
			errs[k] = err
			return
		}
		probs := make([]float64, V)
		var ids []int
		pos := len(j.p.ids)
		for {
			next := t.pick(logits, probs, j.rng)
			ids = append(ids, next)
			if next == t.eos || t.linesDone(j.p, ids) {
				break
			}
			if pos+1 >= n {
				out[k].cut = true
				break
			}
			if err := em.Forward(st, []int{next}, pos, logits); err != nil {
				errs[k] = err
				return
			}
			pos++
		}
		out[k].ids = ids
	})
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("train: sampling: %w", err)
		}
	}
	return out, nil
}

// linesDone tells whether the completion holds StopLines lines: newlines,
// not counting the one that ends the prompt's unfinished last line.
func (t *grpoTask) linesDone(p *grpoPrompt, ids []int) bool {
	if t.c.StopLines <= 0 {
		return false
	}
	n := strings.Count(t.decode(ids), "\n")
	if p.open {
		n--
	}
	return n >= t.c.StopLines
}

// pick chooses the next token: argmax when rng is nil, else a draw from
// softmax(logits/T) restricted to the TopK most likely tokens (0: all).
func (t *grpoTask) pick(logits []float32, probs []float64, rng *RNG) int {
	if rng == nil || t.c.Temperature == 0 {
		return argmax(logits)
	}
	cut := math.Inf(-1)
	if k := t.c.TopK; k > 0 && k < len(logits) {
		cut = kthLargest(logits, k)
	}
	mx := float64(logits[argmax(logits)])
	var sum float64
	for i, x := range logits {
		if float64(x) < cut {
			probs[i] = 0
			continue
		}
		e := math.Exp((float64(x) - mx) / t.c.Temperature)
		probs[i] = e
		sum += e
	}
	u := rng.Float64() * sum
	last := 0
	for i, p := range probs {
		if p == 0 {
			continue
		}
		last = i
		if u < p {
			return i
		}
		u -= p
	}
	return last
}

// kthLargest returns the k-th largest value of v.
func kthLargest(v []float32, k int) float64 {
	s := append([]float32(nil), v...)
	sort.Slice(s, func(a, b int) bool { return s[a] > s[b] })
	return float64(s[k-1])
}

// score runs every reward on every completion and returns scores[k][j].
func (t *grpoTask) score(prompts []*grpoPrompt, comps []genResult, threads int) ([][]float64, error) {
	R := len(t.rewards)
	scores := make([][]float64, len(comps))
	for k := range scores {
		scores[k] = make([]float64, R)
	}
	errs := make([]error, len(comps)*R)
	parallelFor(len(comps)*R, threads, func(i int) {
		k, j := i/R, i%R
		in := prompts[k].in
		ids := comps[k].ids
		if n := len(ids); n > 0 && ids[n-1] == t.eos {
			ids = ids[:n-1]
		}
		in.Completion = t.decode(ids)
		v, err := t.rewards[j].Score(t.ctx, in)
		if err != nil {
			errs[i] = fmt.Errorf("line %d: %w", prompts[k].line, err)
		}
		scores[k][j] = v
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return scores, nil
}

// total is the weighted sum of a completion's rewards, NaNs left out.
func (t *grpoTask) total(s []float64) float64 {
	var r float64
	for j, v := range s {
		if !math.IsNaN(v) {
			r += t.rewards[j].Weight * v
		}
	}
	return r
}

// rewardMetrics appends the mean and standard deviation of each reward over
// the completions where it applies (NaN when it applies to none).
func (t *grpoTask) rewardMetrics(ms []Metric, scores [][]float64, withStd bool) []Metric {
	for j, r := range t.rewards {
		var vals []float64
		for _, s := range scores {
			if !math.IsNaN(s[j]) {
				vals = append(vals, s[j])
			}
		}
		mean, std := meanStd(vals)
		ms = append(ms, Metric{"rewards/" + r.Name + "/mean", mean})
		if withStd {
			ms = append(ms, Metric{"rewards/" + r.Name + "/std", std})
		}
	}
	return ms
}

// meanStd returns the mean and the unbiased standard deviation (torch.std's)
// of v (NaN when empty; std 0 for one value).
func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)-1))
}

// logProbsOf returns the per-position target log-probabilities of the
// samples under m (training forward, no gradient).
func logProbsOf(m *Model[float32], samples []grpoSample, threads int) [][]float64 {
	out := make([][]float64, len(samples))
	parallelFor(len(samples), threads, func(k int) {
		tape := &Tape[float32]{Threads: 1}
		s := samples[k].seq
		lp := tape.TokenLogProbs(m.forward(tape, s.IDs), s.Targets)
		tape.Reset()
		v := make([]float64, len(lp.Data))
		for i, x := range lp.Data {
			v[i] = float64(x)
		}
		out[k] = v
	})
	return out
}

// trainStep samples a batch of groups with the weights of this step and
// runs Iterations optimizer updates on it.
func (t *grpoTask) trainStep(ft *FineTuner) (FTPoint, error) {
	c := t.c
	if c.PtxCoef > 0 && len(t.ptxTrain) == 0 {
		return FTPoint{}, fmt.Errorf("train: ptx_coef is set but the run has no pretraining text (SetPretrainingMix)")
	}
	G := c.Group
	gen := ft.Step() / c.Iterations
	exs := ft.batch(gen)
	em, err := EngineModel(ft.Model)
	if err != nil {
		return FTPoint{}, err
	}
	jobs := make([]genJob, 0, len(exs)*G)
	prompts := make([]*grpoPrompt, 0, len(exs)*G)
	for b, e := range exs {
		for g := 0; g < G; g++ {
			k := b*G + g
			p := &t.train[e]
			jobs = append(jobs, genJob{p: p, rng: NewRNG(c.Seed, 3_000_000_000+uint64(gen)*1_000_003+uint64(k))})
			prompts = append(prompts, p)
		}
	}
	comps, err := t.generate(em, jobs, ft.threads())
	if err != nil {
		return FTPoint{}, err
	}
	scores, err := t.score(prompts, comps, ft.threads())
	if err != nil {
		return FTPoint{}, err
	}
	// Group-normalised advantages.
	totals := make([]float64, len(comps))
	for k := range comps {
		totals[k] = t.total(scores[k])
	}
	t.cur = make([]grpoSample, len(comps))
	var stdSum float64
	zeroStd := 0
	var length, cut float64
	for b := range exs {
		grp := totals[b*G : (b+1)*G]
		mean, std := meanStd(grp)
		stdSum += std
		if std == 0 {
			zeroStd++
		}
		for g := range grp {
			k := b*G + g
			ids := append(append([]int(nil), prompts[k].ids...), comps[k].ids...)
			seq := Sequence{Line: prompts[k].line, IDs: ids[:len(ids)-1], Targets: make([]int, len(ids)-1)}
			for i := range seq.Targets {
				seq.Targets[i] = -1
				if i >= len(prompts[k].ids)-1 {
					seq.Targets[i] = ids[i+1]
				}
			}
			t.cur[k] = grpoSample{seq: seq, adv: (grp[g] - mean) / (std + 1e-4)}
			length += float64(len(comps[k].ids))
			if comps[k].cut {
				cut++
			}
		}
	}
	if t.ref != nil {
		for k, lp := range logProbsOf(t.ref, t.cur, ft.threads()) {
			t.cur[k].ref = lp
		}
	}
	if c.Iterations > 1 {
		for k, lp := range logProbsOf(ft.Model, t.cur, ft.threads()) {
			t.cur[k].old = lp
		}
	}
	n := float64(len(t.cur))
	exsAll := make([]int, len(t.cur))
	for k := range exsAll {
		exsAll[k] = k
	}
	var loss, kl, clipped, tokens, norm, lr, ptx float64
	for it := 0; it < c.Iterations; it++ {
		step := ft.Step()
		exs := exsAll
		if c.PtxCoef > 0 {
			t.ptxCur = t.ptxBatch(step)
			exs = append([]int(nil), exsAll...)
			for k := range t.ptxCur {
				exs = append(exs, len(exsAll)+k)
			}
		}
		ft.Model.ZeroGrad()
		stats, err := ft.runExamples(exs, false, float32(1/n), true)
		if err != nil {
			return FTPoint{}, err
		}
		sum := sumStats(stats)
		if c.PtxCoef > 0 {
			p := sum[4] / float64(len(t.ptxCur)) / float64(c.Iterations)
			ptx += p
			loss += c.PtxCoef * p
		}
		loss += sum[0] / n / float64(c.Iterations)
		kl += sum[1] / n / float64(c.Iterations)
		clipped += sum[2]
		tokens += sum[3]
		lr = c.Optim.LRAt(step, ft.steps)
		norm = ft.adam.update(ft.Model, c.Optim, lr)
	}
	ms := []Metric{{"loss", loss}}
	if c.PtxCoef > 0 {
		ms = append(ms, Metric{"ptx_loss", ptx})
	}
	mean, _ := meanStd(totals)
	ms = append(ms, Metric{"reward", mean}, Metric{"reward_std", stdSum / float64(len(exs))})
	ms = t.rewardMetrics(ms, scores, true)
	if c.KLBeta > 0 {
		ms = append(ms, Metric{"kl", kl})
	}
	ms = append(ms, Metric{"clip_ratio", clipped / math.Max(tokens, 1)},
		Metric{"completions/mean_length", length / n}, Metric{"completions/clipped_ratio", cut / n},
		Metric{"frac_reward_zero_std", float64(zeroStd) / float64(len(exs))})
	p := FTPoint{Step: ft.Step(), LR: lr, GradNorm: norm, Train: ms}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return p, fmt.Errorf("train: loss became %v at step %d", loss, p.Step)
	}
	return p, nil
}

// evaluate completes every validation prompt greedily and returns the mean
// rewards and completion length.
func (t *grpoTask) evaluate(ft *FineTuner) ([]Metric, error) {
	if len(t.val) == 0 {
		return nil, nil
	}
	em, err := EngineModel(ft.Model)
	if err != nil {
		return nil, err
	}
	jobs := make([]genJob, len(t.val))
	prompts := make([]*grpoPrompt, len(t.val))
	for i := range t.val {
		jobs[i] = genJob{p: &t.val[i]}
		prompts[i] = &t.val[i]
	}
	comps, err := t.generate(em, jobs, ft.threads())
	if err != nil {
		return nil, err
	}
	scores, err := t.score(prompts, comps, ft.threads())
	if err != nil {
		return nil, err
	}
	totals := make([]float64, len(comps))
	var length float64
	for k := range comps {
		totals[k] = t.total(scores[k])
		length += float64(len(comps[k].ids))
	}
	mean, _ := meanStd(totals)
	ms := []Metric{{"reward", mean}}
	ms = t.rewardMetrics(ms, scores, false)
	ms = append(ms, Metric{"completions/mean_length", length / float64(len(comps))})
	if t.c.PtxCoef > 0 && len(t.ptxVal) > 0 {
		ms = append(ms, Metric{"ptx_loss", t.ptxEval(ft.Model, ft.threads())})
	}
	return ms, nil
}

// GRPOCompletions completes the prompts greedily with the engine from m's
// current weights and returns their texts (without EOS): what the
// validation metrics score.
func GRPOCompletions(m *Model[float32], c FineTuneConfig, recs []GRPORecord, enc Encoder, decode func([]int) string, threads int) ([]string, error) {
	ft, _, err := NewGRPO(context.Background(), withoutSplit(c), m, nil, recs, enc, decode, []RewardFunc{{Name: "none", Score: func(context.Context, RewardInput) (float64, error) { return 0, nil }}})
	if err != nil {
		return nil, err
	}
	t := ft.task.(*grpoTask)
	em, err := EngineModel(m)
	if err != nil {
		return nil, err
	}
	jobs := make([]genJob, len(t.train))
	for i := range t.train {
		jobs[i] = genJob{p: &t.train[i]}
	}
	comps, err := t.generate(em, jobs, threads)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(comps))
	for i, r := range comps {
		ids := r.ids
		if n := len(ids); n > 0 && ids[n-1] == t.eos {
			ids = ids[:n-1]
		}
		out[i] = decode(ids)
	}
	return out, nil
}

func withoutSplit(c FineTuneConfig) FineTuneConfig {
	c.ValPermille = 0
	c.KLBeta = 0
	return c
}
