// Package infer runs generations: it owns a sequence's KV cache, processes the
// prompt in batches (prefill), then samples one token at a time (decode), streams
// each token to a callback, and stops on an end-of-generation token, a stop
// string, the token limit or a full context — never by silently dropping input.
package infer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"glassbox/model"
	"glassbox/sample"
	"glassbox/tokenizer"
	"glassbox/trace"
)

// Finish reasons, named as in the OpenAI API.
const (
	FinishStop   = "stop"   // an end-of-generation token or a stop string
	FinishLength = "length" // the token limit or the end of the context
)

// ErrContext is wrapped by the error returned when a prompt does not fit the context.
var ErrContext = errors.New("prompt does not fit the context")

// Session is one sequence of tokens run through a model: the KV cache keeps
// what was processed, so a following request that extends the same tokens (a
// chat turn) only processes the new ones. A Session is not safe for concurrent use.
type Session struct {
	model  *model.Model
	tok    *tokenizer.Tokenizer
	state  *model.State
	cached []int     // tokens whose keys and values are in the cache, in order
	logits []float32 // next-token logits after the last cached token
}

// NewSession allocates a KV cache for a model.
func NewSession(m *model.Model, tok *tokenizer.Tokenizer, opt model.StateOptions) (*Session, error) {
	if tok != nil && tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d tokens but the model's embedding table only %d", tok.VocabSize(), m.Config.VocabSize)
	}
	st, err := m.NewState(opt)
	if err != nil {
		return nil, err
	}
	return &Session{model: m, tok: tok, state: st, logits: make([]float32, m.Config.VocabSize)}, nil
}

// Context returns the number of positions the session holds.
func (s *Session) Context() int { return s.state.Context() }

// Reset forgets the cached tokens.
func (s *Session) Reset() { s.cached = s.cached[:0] }

// Request describes one generation.
type Request struct {
	Prompt    []int         // prompt token ids (BOS included when wanted)
	MaxTokens int           // generated tokens at most; <= 0 means until the context is full
	Stop      []string      // stop strings: the text ends before the first one found
	Sampler   sample.Params // sampling settings; the zero value means greedy decoding
	LogProbs  int           // when > 0, record the chosen token's log-probability and the top LogProbs
	IgnoreEOS bool          // keep going past end-of-generation tokens
	// OnToken, when set, receives each generated token as soon as it is sampled.
	// Returning an error stops the generation with that error.
	OnToken func(Token) error
	// Trace, when set, dissects the generation (see Tracing). Tracing never
	// changes the generated tokens or their logits.
	Trace *Tracing
}

// Token is one generated token.
type Token struct {
	ID int
	// Text is the output text this token completes: empty while a multi-byte
	// character is incomplete or while text may be the start of a stop string;
	// the concatenated Texts equal Result.Text.
	Text    string
	LogProb float32               // log-probability of the token (when Request.LogProbs > 0)
	Top     []sample.TokenLogProb // the most likely tokens (when Request.LogProbs > 0)
}

// Timings reports where the time went.
type Timings struct {
	PromptTokens   int           // tokens processed for the prompt (excluding cached ones)
	PromptDuration time.Duration // time spent processing them
	GenTokens      int           // tokens generated
	GenDuration    time.Duration // time spent generating them
	CachedTokens   int           // prompt tokens reused from the cache
}

// PromptPerSecond returns prompt tokens processed per second.
func (t Timings) PromptPerSecond() float64 { return perSecond(t.PromptTokens, t.PromptDuration) }

// GenPerSecond returns generated tokens per second.
func (t Timings) GenPerSecond() float64 { return perSecond(t.GenTokens, t.GenDuration) }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Result is a finished generation.
type Result struct {
	PromptIDs    []int
	IDs          []int   // generated ids, including a final end-of-generation token if sampled
	Tokens       []Token // generated tokens with their log-probabilities
	Text         string  // generated text, ending before a stop string
	FinishReason string  // FinishStop or FinishLength
	StopString   string  // the stop string that ended the text, if any
	Timings      Timings
}

// Generate processes the prompt and samples until a stop condition. A prompt
// longer than the context is an error wrapping ErrContext that says by how
// much; it is never truncated.
func (s *Session) Generate(ctx context.Context, req Request) (*Result, error) {
	if len(req.Prompt) == 0 {
		return nil, errors.New("generate: the prompt has no tokens")
	}
	n := s.state.Context()
	if len(req.Prompt) >= n {
		return nil, fmt.Errorf("%w: the prompt has %d tokens and the context holds %d (%d too many, and generating needs at least one free position)",
			ErrContext, len(req.Prompt), n, len(req.Prompt)-n+1)
	}
	if req.Sampler == (sample.Params{}) {
		req.Sampler = sample.Params{TopP: 1, RepeatPenalty: 1}
	}
	smp, err := sample.New(req.Sampler)
	if err != nil {
		return nil, err
	}
	res := &Result{PromptIDs: append([]int(nil), req.Prompt...)}

	var rec *recorder
	if req.Trace != nil {
		if rec, err = s.startTrace(req); err != nil {
			return nil, err
		}
		defer func() { s.state.Tracer = nil }()
	}

	// prefill: reuse the cached prefix, process the rest in batches
	t0 := time.Now()
	if err := s.prefill(ctx, req.Prompt, &res.Timings); err != nil {
		return nil, err
	}
	res.Timings.PromptDuration = time.Since(t0)

	// decode loop
	history := append(make([]int, 0, len(req.Prompt)+64), req.Prompt...)
	var dec *tokenizer.Decoder
	if s.tok != nil {
		dec = s.tok.NewDecoder()
	}
	var text, pending strings.Builder
	stopper := newStopper(req.Stop)
	t1 := time.Now()
	defer func() { res.Timings.GenDuration = time.Since(t1) }()
	var top []sample.TokenLogProb
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if req.MaxTokens > 0 && len(res.IDs) >= req.MaxTokens {
			res.FinishReason = FinishLength
			break
		}
		var id int
		if rec != nil {
			id = smp.SampleTrace(s.logits, history, &rec.smp, rec.top)
		} else {
			id = smp.Sample(s.logits, history)
		}
		tk := Token{ID: id}
		if req.LogProbs > 0 {
			tk.LogProb, top = sample.LogProbs(s.logits, id, req.LogProbs, top[:0])
			tk.Top = append([]sample.TokenLogProb(nil), top...)
		}
		res.IDs = append(res.IDs, id)
		res.Timings.GenTokens++
		history = append(history, id)
		eog := !req.IgnoreEOS && s.tok != nil && s.tok.IsEOG(id)
		if dec != nil && !eog {
			pending.WriteString(dec.Add(id))
		}
		emit, stopped := stopper.feed(&pending, eog)
		if stopped != "" {
			res.StopString = stopped
		}
		tk.Text = emit
		text.WriteString(emit)
		res.Tokens = append(res.Tokens, tk)
		if rec != nil {
			step := rec.step(len(res.IDs)-1, len(s.cached)-1, history, s.logits, id, emit)
			if err := req.Trace.Emit(trace.Event{Type: trace.TypeStep, Step: step}); err != nil {
				return res, err
			}
		}
		if req.OnToken != nil {
			if err := req.OnToken(tk); err != nil {
				res.Text = text.String()
				return res, err
			}
		}
		if eog || stopped != "" {
			res.FinishReason = FinishStop
			break
		}
		if len(s.cached) >= n {
			res.FinishReason = FinishLength
			break
		}
		if rec != nil {
			rec.want = len(s.cached)
		}
		if err := s.model.Forward(s.state, []int{id}, len(s.cached), s.logits); err != nil {
			return res, err
		}
		s.cached = append(s.cached, id)
	}
	// Text still held back (an incomplete character or a partial stop string
	// that never completed) belongs to the output.
	if res.StopString == "" {
		if dec != nil {
			pending.WriteString(dec.Flush())
		}
		rest := pending.String()
		text.WriteString(rest)
		if rest != "" && len(res.Tokens) > 0 {
			res.Tokens[len(res.Tokens)-1].Text += rest
		}
	}
	res.Text = text.String()
	if rec != nil {
		res.Timings.GenDuration = time.Since(t1)
		t := res.Timings
		err := req.Trace.Emit(trace.Event{Type: trace.TypeDone, Done: &trace.Done{
			FinishReason: res.FinishReason, Text: res.Text, PromptTokens: len(res.PromptIDs), GenTokens: len(res.IDs),
			PromptPerSec: t.PromptPerSecond(), GenPerSec: t.GenPerSecond(),
		}})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// startTrace emits the events that precede generation and arms the recorder
// for the last prompt position.
func (s *Session) startTrace(req Request) (*recorder, error) {
	if req.Trace.Emit == nil {
		return nil, errors.New("trace: no Emit function")
	}
	rec, err := newRecorder(s.model, s.tok, *req.Trace)
	if err != nil {
		return nil, err
	}
	for _, ev := range []trace.Event{rec.meta(s.state.Context(), s.state.KVType()), rec.tokenization(req.Prompt)} {
		if err := req.Trace.Emit(ev); err != nil {
			return nil, err
		}
	}
	if req.Trace.Options.Embeddings {
		if err := req.Trace.Emit(rec.embeddings(req.Prompt)); err != nil {
			return nil, err
		}
	}
	rec.want = len(req.Prompt) - 1
	s.state.Tracer = rec
	return rec, nil
}

// prefill makes the cache hold prompt and s.logits the logits after it,
// reusing the longest cached prefix. Cancelling ctx stops it between two
// layers.
func (s *Session) prefill(ctx context.Context, prompt []int, tm *Timings) error {
	k := 0
	for k < len(s.cached) && k < len(prompt) && s.cached[k] == prompt[k] {
		k++
	}
	if k == len(prompt) {
		k-- // recompute the last token to get its logits
	}
	s.cached = s.cached[:k]
	tm.CachedTokens = k
	tm.PromptTokens = len(prompt) - k
	if err := s.model.ForwardContext(ctx, s.state, prompt[k:], k, s.logits); err != nil {
		s.cached = s.cached[:0]
		return err
	}
	s.cached = append(s.cached, prompt[k:]...)
	return nil
}

// stopper holds back text that may be the start of a stop string.
type stopper struct{ stops []string }

func newStopper(stops []string) *stopper {
	var s []string
	for _, st := range stops {
		if st != "" {
			s = append(s, st)
		}
	}
	return &stopper{stops: s}
}

// feed returns the text of pending that can be emitted now and, if a stop
// string was found, that string (pending is then cut before it). At the end of
// the generation (final), everything not cut is emitted.
func (st *stopper) feed(pending *strings.Builder, final bool) (emit, stopped string) {
	p := pending.String()
	cut := -1
	for _, s := range st.stops {
		if i := strings.Index(p, s); i >= 0 && (cut < 0 || i < cut) {
			cut, stopped = i, s
		}
	}
	if cut >= 0 {
		pending.Reset()
		return p[:cut], stopped
	}
	if final {
		pending.Reset()
		return p, ""
	}
	// keep the longest suffix of p that is a prefix of a stop string
	hold := 0
	for _, s := range st.stops {
		for l := min(len(s)-1, len(p)); l > hold; l-- {
			if strings.HasSuffix(p, s[:l]) {
				hold = l
				break
			}
		}
	}
	pending.Reset()
	pending.WriteString(p[len(p)-hold:])
	return p[:len(p)-hold], ""
}
