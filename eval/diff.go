package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"glassbox"
)

// Which model of a diff generates the text.
const (
	DiffTuned = "tuned" // the default: what the tuned model says, and how the base would have judged it
	DiffBase  = "base"
)

// DiffOptions configures Diff.
type DiffOptions struct {
	// Generator is the model that writes the text: DiffTuned (default) or DiffBase.
	Generator string
	// MaxTokens is the number of tokens generated at most (default 32).
	MaxTokens int
	// Sampler is the generator's sampling; the zero value is greedy decoding.
	Sampler glassbox.SamplerParams
	// Chat renders the prompt as a user message with the generator's chat
	// template.
	Chat bool
	// Top is the number of alternatives listed per model and position
	// (default 5).
	Top int
	// Highlight is the number of biggest shifts marked (default 5); only
	// shifts of at least MinShift (default 0.05) in the chosen token's
	// probability count.
	Highlight int
	MinShift  float64
}

// DiffAlt is a candidate token at a position with both models' probabilities.
type DiffAlt struct {
	ID    int     `json:"id"`
	Text  string  `json:"text"`
	Base  float64 `json:"base"`
	Tuned float64 `json:"tuned"`
}

// DiffToken is one generated token as both models see it.
type DiffToken struct {
	// Index is the token's rank in the generated text (0 first), Position
	// its position in the sequence (prompt tokens first).
	Index    int    `json:"index"`
	Position int    `json:"position"`
	ID       int    `json:"id"`
	Text     string `json:"text"`
	// Base and Tuned are the probabilities each model gave the token, from
	// its full softmax (before any sampler step); Shift is Tuned − Base and
	// LogRatio log Tuned − log Base.
	Base     float64 `json:"base"`
	Tuned    float64 `json:"tuned"`
	Shift    float64 `json:"shift"`
	LogRatio float64 `json:"log_ratio"`
	// KL is KL(tuned‖base) over the whole vocabulary at this position, in nats.
	KL float64 `json:"kl"`
	// BaseTop and TunedTop are each model's most likely tokens here, with
	// the other model's probability for them.
	BaseTop  []DiffAlt `json:"base_top"`
	TunedTop []DiffAlt `json:"tuned_top"`
	// ArgmaxDiffers is set when the two models' most likely tokens differ.
	ArgmaxDiffers bool `json:"argmax_differs"`
	// Mover is the token whose probability moved most between the models
	// at this position (it may not be the chosen one).
	Mover DiffAlt `json:"mover"`
	// Highlight marks the biggest shifts of the chosen tokens' probabilities.
	Highlight bool `json:"highlight"`
}

// DiffResult is a token-by-token comparison of a tuned model with its base.
type DiffResult struct {
	Base      string `json:"base"`
	Tuned     string `json:"tuned"`
	Generator string `json:"generator"`
	Prompt    string `json:"prompt"`
	// PromptTokens is the number of tokens of the prompt (as rendered).
	PromptTokens int         `json:"prompt_tokens"`
	Text         string      `json:"text"`
	FinishReason string      `json:"finish_reason"`
	Tokens       []DiffToken `json:"tokens"`
	// MeanKL and MaxKL summarize the per-token KL(tuned‖base) in nats.
	MeanKL float64 `json:"mean_kl"`
	MaxKL  float64 `json:"max_kl"`
	// ArgmaxDiffers is the number of positions where the models' most
	// likely tokens differ.
	ArgmaxDiffers int `json:"argmax_differs"`
	// MeanAbsShift is the mean |Tuned − Base| of the chosen tokens.
	MeanAbsShift float64 `json:"mean_abs_shift"`
	// BaseLogProb and TunedLogProb are the log-probabilities of the whole
	// generated text under each model.
	BaseLogProb  float64 `json:"base_logprob"`
	TunedLogProb float64 `json:"tuned_logprob"`
	// Highlighted lists the indexes of the highlighted tokens, biggest
	// shift first.
	Highlighted []int `json:"highlighted"`
}

// SameTokenizer returns nil when a and b have the same vocabulary (the same
// pieces, token types and special tokens), or an error saying how they
// differ: comparing two models' distributions token by token needs it.
func SameTokenizer(a, b *glassbox.Model) error {
	ta, tb := a.Tokenizer(), b.Tokenizer()
	if na, nb := a.Config().VocabSize, b.Config().VocabSize; na != nb || ta.VocabSize() != tb.VocabSize() {
		return fmt.Errorf("%s has %d tokens in its vocabulary and %s has %d: the models must share a tokenizer", a.Name(), na, b.Name(), nb)
	}
	if ta.Model() != tb.Model() {
		return fmt.Errorf("%s uses a %s tokenizer and %s a %s one: the models must share a tokenizer", a.Name(), ta.Model(), b.Name(), tb.Model())
	}
	for id := range ta.VocabSize() {
		if pa, pb := ta.Piece(id), tb.Piece(id); pa != pb || ta.Type(id) != tb.Type(id) {
			return fmt.Errorf("token %d is %q in %s and %q in %s: the models must share a tokenizer", id, pa, a.Name(), pb, b.Name())
		}
	}
	if ta.BOS() != tb.BOS() || ta.EOS() != tb.EOS() || ta.AddBOSDefault() != tb.AddBOSDefault() {
		return fmt.Errorf("%s and %s have different special tokens (BOS %d/%d, EOS %d/%d): the models must share a tokenizer",
			a.Name(), b.Name(), ta.BOS(), tb.BOS(), ta.EOS(), tb.EOS())
	}
	return nil
}

// Diff generates a continuation of prompt with one of the models (the tuned
// one unless opt.Generator says otherwise), then runs the prompt and the
// generated tokens through both (Scorer.LogitsFrom: the logits of the
// generated positions only) and compares, at each generated token, the
// probabilities both models gave it, their top alternatives and the KL
// divergence KL(tuned‖base) of their next-token distributions over the full
// vocabulary. The models must share a tokenizer (SameTokenizer).
func Diff(ctx context.Context, base, tuned *glassbox.Model, prompt string, opt DiffOptions) (*DiffResult, error) {
	if base == nil || tuned == nil {
		return nil, errors.New("diff: two models are needed, a base and a tuned one")
	}
	if opt.Generator == "" {
		opt.Generator = DiffTuned
	}
	if opt.MaxTokens == 0 {
		opt.MaxTokens = 32
	}
	if opt.Top == 0 {
		opt.Top = 5
	}
	if opt.Highlight == 0 {
		opt.Highlight = 5
	}
	if opt.MinShift == 0 {
		opt.MinShift = 0.05
	}
	switch {
	case opt.Generator != DiffTuned && opt.Generator != DiffBase:
		return nil, fmt.Errorf("diff: the generator must be %q or %q, got %q", DiffTuned, DiffBase, opt.Generator)
	case opt.MaxTokens < 0:
		return nil, fmt.Errorf("diff: the number of tokens must be positive, got %d", opt.MaxTokens)
	case opt.Top < 0 || opt.Top > 100:
		return nil, fmt.Errorf("diff: the number of alternatives must be between 1 and 100, got %d", opt.Top)
	case opt.Highlight < 0:
		return nil, fmt.Errorf("diff: the number of highlighted shifts must be >= 0, got %d", opt.Highlight)
	case opt.MinShift < 0 || opt.MinShift > 1:
		return nil, fmt.Errorf("diff: the least highlighted shift must be in [0, 1], got %g", opt.MinShift)
	case prompt == "":
		return nil, errors.New("diff: the prompt is empty")
	}
	if err := SameTokenizer(base, tuned); err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	gen := tuned
	if opt.Generator == DiffBase {
		gen = base
	}
	gopts := glassbox.GenerateOptions{MaxTokens: opt.MaxTokens, Sampler: opt.Sampler}
	var ids []int
	if opt.Chat {
		text, err := gen.RenderChatContext(ctx, []glassbox.Message{{Role: "user", Content: prompt}})
		if err != nil {
			return nil, fmt.Errorf("diff: %s: %w", gen.Name(), err)
		}
		ids = gen.EncodeChat(text, gopts)
	} else {
		ids = gen.Encode(prompt, gopts)
	}
	if len(ids) == 0 {
		return nil, errors.New("diff: the prompt has no tokens")
	}
	if n := min(base.ContextSize(), tuned.ContextSize()); len(ids)+opt.MaxTokens > n {
		return nil, fmt.Errorf("diff: %w: the prompt has %d tokens and %d are to be generated, but the context holds %d: shorten the prompt or generate fewer tokens",
			glassbox.ErrContext, len(ids), opt.MaxTokens, n)
	}
	out, err := gen.GenerateIDs(ctx, ids, gopts)
	if err != nil {
		return nil, fmt.Errorf("diff: generating with %s: %w", gen.Name(), err)
	}
	res := &DiffResult{Base: base.Name(), Tuned: tuned.Name(), Generator: opt.Generator, Prompt: prompt,
		PromptTokens: len(ids), Text: out.Text, FinishReason: out.FinishReason, Tokens: []DiffToken{}, Highlighted: []int{}}
	if len(out.IDs) == 0 {
		return res, nil
	}
	// the prompt and every generated token but the last; the rows from the
	// prompt's last token on predict the generated tokens (row i: out.IDs[i])
	seq := append(append([]int{}, ids...), out.IDs[:len(out.IDs)-1]...)
	from := len(ids) - 1
	bl, err := scoreFrom(ctx, base, seq, from)
	if err != nil {
		return nil, fmt.Errorf("diff: %s: %w", base.Name(), err)
	}
	tl, err := scoreFrom(ctx, tuned, seq, from)
	if err != nil {
		return nil, fmt.Errorf("diff: %s: %w", tuned.Name(), err)
	}
	tok := gen.Tokenizer()
	vocab := base.Config().VocabSize
	lb, lt := make([]float64, vocab), make([]float64, vocab)
	text := func(prev, id int) string { return string(tok.TokenBytesAfter(prev, id)) }
	var klSum, shiftSum float64
	for i, id := range out.IDs {
		pos := len(ids) - 1 + i
		prev := ids[len(ids)-1]
		if i > 0 {
			prev = out.IDs[i-1]
		}
		ab := logSoftmax(lb, bl[i*vocab:(i+1)*vocab])
		at := logSoftmax(lt, tl[i*vocab:(i+1)*vocab])
		var kl, moved float64
		mover := 0
		for j := range vocab {
			pt := math.Exp(lt[j])
			kl += pt * (lt[j] - lb[j])
			if d := math.Abs(pt - math.Exp(lb[j])); d > moved {
				moved, mover = d, j
			}
		}
		kl = max(kl, 0)
		alt := func(j int) DiffAlt {
			return DiffAlt{ID: j, Text: text(prev, j), Base: math.Exp(lb[j]), Tuned: math.Exp(lt[j])}
		}
		dt := DiffToken{Index: i, Position: pos + 1, ID: id, Text: text(prev, id),
			Base: math.Exp(lb[id]), Tuned: math.Exp(lt[id]), LogRatio: lt[id] - lb[id], KL: kl,
			BaseTop: topAlts(lb, opt.Top, alt), TunedTop: topAlts(lt, opt.Top, alt),
			ArgmaxDiffers: ab != at, Mover: alt(mover)}
		dt.Shift = dt.Tuned - dt.Base
		res.BaseLogProb += lb[id]
		res.TunedLogProb += lt[id]
		klSum += kl
		shiftSum += math.Abs(dt.Shift)
		res.MaxKL = max(res.MaxKL, kl)
		if dt.ArgmaxDiffers {
			res.ArgmaxDiffers++
		}
		res.Tokens = append(res.Tokens, dt)
	}
	n := float64(len(res.Tokens))
	res.MeanKL, res.MeanAbsShift = klSum/n, shiftSum/n
	order := make([]int, len(res.Tokens))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return math.Abs(res.Tokens[order[a]].Shift) > math.Abs(res.Tokens[order[b]].Shift)
	})
	for _, i := range order {
		if len(res.Highlighted) == opt.Highlight || math.Abs(res.Tokens[i].Shift) < opt.MinShift {
			break
		}
		res.Tokens[i].Highlight = true
		res.Highlighted = append(res.Highlighted, i)
	}
	return res, nil
}

// scoreFrom returns the next-token logits of m at the positions from …
// len(ids)-1 of ids (the prompt before only fills the KV cache).
func scoreFrom(ctx context.Context, m *glassbox.Model, ids []int, from int) ([]float32, error) {
	sc, err := m.NewScorer(len(ids))
	if err != nil {
		return nil, err
	}
	return sc.LogitsFrom(ctx, ids, from, nil)
}

// topAlts returns the k tokens of highest log-probability in lp, most
// likely first (ties by id).
func topAlts(lp []float64, k int, alt func(int) DiffAlt) []DiffAlt {
	k = min(k, len(lp))
	top := make([]int, 0, k+1)
	for j, v := range lp {
		if len(top) == k && v <= lp[top[k-1]] {
			continue
		}
		at := sort.Search(len(top), func(i int) bool { return lp[top[i]] < v })
		top = append(top, 0)
		copy(top[at+1:], top[at:])
		top[at] = j
		if len(top) > k {
			top = top[:k]
		}
	}
	out := make([]DiffAlt, len(top))
	for i, j := range top {
		out[i] = alt(j)
	}
	return out
}
