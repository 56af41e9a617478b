// Package infer runs generations: it owns a sequence's KV cache, processes the
// prompt in batches (prefill), then samples one token at a time (decode), streams
// each token to a callback, and stops on an end-of-generation token, a stop
// string, the token limit or a full context — never by silently dropping input.
package infer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"glassbox/grammar"
	"glassbox/model"
	"glassbox/sample"
	"glassbox/tokenizer"
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
	cached []int          // tokens whose keys and values are in the cache, in order
	logits []float32      // next-token logits after the last cached token
	vocab  *grammar.Vocab // the tokenizer's pieces for grammars, made on first use
	// batcher, when set, runs the session's forward passes together with
	// those of its other sessions (see Batcher).
	batcher *Batcher
	// rows is the scratch of speculative verification passes run without
	// a batcher, made on first use
	rows *model.Batch
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

// pin marks the session's state as in use (model.State.Pin), forgetting
// the cached tokens when its pool evicted them; unpin ends it.
func (s *Session) pin() {
	if s.state.Pin() {
		s.cached = s.cached[:0]
	}
}

func (s *Session) unpin() { s.state.Unpin() }

// Free forgets the cached tokens and returns the cache's pages (to the
// state's pool, if any).
func (s *Session) Free() {
	s.cached = s.cached[:0]
	s.state.Release()
}

// Evicted reports whether the session's cached tokens were evicted by its
// KV pool (StateOptions.Pool) since its last use: its next request
// processes its whole prompt. It is safe to call from any goroutine.
func (s *Session) Evicted() bool { return s.state.Evicted() }

// CacheBytes returns the bytes of KV cache pages the session holds. It is
// safe to call from any goroutine.
func (s *Session) CacheBytes() int64 { return s.state.HeldBytes() }

// Request describes one generation.
type Request struct {
	Prompt    []int         // prompt token ids (BOS included when wanted)
	MaxTokens int           // generated tokens at most; <= 0 means until the context is full
	Stop      []string      // stop strings: the text ends before the first one found
	Sampler   sample.Params // sampling settings; the zero value (LogitBias aside) means greedy decoding
	LogProbs  int           // when > 0, record the chosen token's log-probability and the top LogProbs
	IgnoreEOS bool          // keep going past end-of-generation tokens
	// Special renders control tokens other than end-of-generation ones as
	// their text (as markers like [TOOL_CALLS] that a reply parser reads);
	// by default they add no text.
	Special bool
	// OnToken, when set, receives each generated token as soon as it is sampled.
	// Returning an error stops the generation with that error.
	OnToken func(Token) error
	// Trace, when set, dissects the generation (see Tracing). Tracing never
	// changes the generated tokens or their logits.
	Trace *Tracing
	// Grammar, when not empty, is a GBNF grammar (see package grammar) the
	// generated text must follow: tokens that cannot continue a sentence of
	// the grammar are never sampled, and end-of-generation tokens only where
	// the text is a complete sentence (even with IgnoreEOS). A grammar that
	// does not parse is an error before anything runs; a grammar that no
	// token of the vocabulary can continue ends the generation with an error
	// wrapping sample.ErrNoAllowedToken.
	Grammar string
	// Speculative, when set, decodes speculatively (see Speculation): the
	// same greedy output, sampled output distributed the same, fewer
	// forward passes when the drafts are kept. It is ignored with a
	// Grammar (constrained decoding runs plainly).
	Speculative *Speculation
}

// Token is one generated token.
type Token struct {
	ID int
	// Text is the output text this token completes: empty while a multi-byte
	// character is incomplete or while text may be the start of a stop string;
	// the concatenated Texts equal Result.Text.
	Text string
	// Prev is the token this one follows (the prompt's last token for the
	// first generated one). Log-probability entries spell a token, and its
	// alternatives in Top, as tokenizer.TokenBytesAfter(Prev, id): the way the
	// text renders it, with or without a leading SentencePiece space.
	Prev    int
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
	// Speculative counts what speculative decoding did (zero without it).
	Speculative SpecStats
}

// Generate processes the prompt and samples until a stop condition. A prompt
// longer than the context is an error wrapping ErrContext that says by how
// much; it is never truncated. When generation fails or is cancelled after it
// began, the error comes with the result so far: its tokens, and as Text the
// text of those tokens (their Token.Text concatenated, without what was still
// held back).
func (s *Session) Generate(ctx context.Context, req Request) (*Result, error) {
	if len(req.Prompt) == 0 {
		return nil, errors.New("generate: the prompt has no tokens")
	}
	n := s.state.Context()
	if len(req.Prompt) >= n {
		return nil, fmt.Errorf("%w: the prompt has %d tokens and the context holds %d (%d too many, and generating needs at least one free position)",
			ErrContext, len(req.Prompt), n, len(req.Prompt)-n+1)
	}
	if req.Sampler.IsZero() {
		req.Sampler = req.Sampler.Greedy()
	}
	smp, err := sample.New(req.Sampler)
	if err != nil {
		return nil, err
	}
	vocab := s.model.Config.VocabSize
	if s.tok != nil {
		vocab = s.tok.VocabSize()
	}
	if err := req.Sampler.CheckVocab(vocab); err != nil {
		return nil, err
	}
	var gm *grammar.Matcher
	if req.Grammar != "" {
		if gm, err = s.matcher(req.Grammar); err != nil {
			return nil, err
		}
	}
	var spec *speculator
	if req.Speculative != nil && gm == nil {
		if spec, err = newSpeculator(*req.Speculative, smp.Params(), s); err != nil {
			return nil, err
		}
	}
	res := &Result{PromptIDs: append([]int(nil), req.Prompt...)}
	s.pin()
	defer s.unpin()
	if s.batcher != nil {
		s.batcher.enter()
		defer s.batcher.leave()
	}

	obs := observer(noObserver{})
	if req.Trace != nil {
		t, err := s.newTracer(&req)
		if err != nil {
			return nil, err
		}
		obs = t
	}
	defer obs.close()

	// prefill: reuse the cached prefix, process the rest in batches
	t0 := time.Now()
	if err := s.prefill(ctx, req.Prompt, &res.Timings); err != nil {
		return nil, err
	}
	res.Timings.PromptDuration = time.Since(t0)

	t1 := time.Now()
	defer func() { res.Timings.GenDuration = time.Since(t1) }()
	g := &generation{s: s, req: &req, smp: smp, obs: obs, res: res, gm: gm,
		history: append(make([]int, 0, len(req.Prompt)+64), req.Prompt...),
		out:     newTextStream(s.tok, req.Prompt[len(req.Prompt)-1], req.Stop, req.Special)}
	run := g.run
	if spec != nil {
		run = func(ctx context.Context) error {
			defer func() { res.Speculative = spec.stats }()
			return g.runSpeculative(ctx, spec)
		}
	}
	if err := run(ctx); err != nil {
		res.Text = g.out.emitted()
		return res, err
	}
	rest, text := g.out.finish()
	if rest != "" && len(res.Tokens) > 0 {
		res.Tokens[len(res.Tokens)-1].Text += rest
	}
	res.Text = text
	res.Timings.GenDuration = time.Since(t1)
	if err := obs.done(res); err != nil {
		return res, err
	}
	return res, nil
}

// generation is one Generate call once its prompt is processed.
type generation struct {
	s       *Session
	req     *Request
	smp     *sample.Sampler
	obs     observer
	res     *Result
	history []int // the prompt and the tokens generated so far
	out     *textStream
	top     []sample.TokenLogProb // scratch for log-probabilities
	gm      *grammar.Matcher      // the grammar's state, when Request.Grammar is set
}

// run samples and decodes tokens until a stop condition: the token limit, an
// end-of-generation token, a stop string or a full context (setting
// res.FinishReason), a cancelled context or an error.
func (g *generation) run(ctx context.Context) error {
	s, n := g.s, g.s.state.Context()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if g.req.MaxTokens > 0 && len(g.res.IDs) >= g.req.MaxTokens {
			g.res.FinishReason = FinishLength
			return nil
		}
		id, stop, err := g.next()
		if err != nil || stop {
			return err
		}
		if len(s.cached) >= n {
			g.res.FinishReason = FinishLength
			return nil
		}
		g.obs.decoding(len(s.cached))
		if err := s.decode(ctx, id); err != nil {
			return err
		}
	}
}

// next samples the next token from the session's logits, adds it to the
// result and the text, and reports it to the observer and to OnToken. stop
// is set when the token ends the generation (end of generation or a stop
// string).
func (g *generation) next() (id int, stop bool, err error) {
	s, res := g.s, g.res
	if g.gm == nil {
		id, err = g.obs.sample(g.smp, s.logits, g.history, nil)
	} else {
		g.gm.SetStripSpace(s.tok.StartsText(g.history[len(g.history)-1]))
		id, err = g.obs.sample(g.smp, s.logits, g.history, g.gm)
		if err == nil {
			err = g.gm.Accept(id)
		}
		if err != nil {
			return id, true, fmt.Errorf("grammar: after %d generated tokens (%q): %w", len(res.IDs), g.out.emitted(), err)
		}
	}
	if err != nil {
		return id, true, err
	}
	stop, err = g.emit(id, s.logits, len(s.cached)-1)
	return id, stop, err
}

// emit adds the token id, predicted at position pos from logits, to the
// result and the text, and reports it to the observer and to OnToken. stop
// is set when the token ends the generation (end of generation or a stop
// string).
func (g *generation) emit(id int, logits []float32, pos int) (stop bool, err error) {
	req, res := g.req, g.res
	s := g.s
	tk := Token{ID: id, Prev: g.history[len(g.history)-1]}
	if req.LogProbs > 0 {
		tk.LogProb, g.top = sample.LogProbs(logits, id, req.LogProbs, g.top[:0])
		tk.Top = append([]sample.TokenLogProb(nil), g.top...)
	}
	res.IDs = append(res.IDs, id)
	res.Timings.GenTokens++
	g.history = append(g.history, id)
	eog := (!req.IgnoreEOS || g.gm != nil) && s.tok != nil && s.tok.IsEOG(id)
	var stopped string
	tk.Text, stopped = g.out.add(id, eog)
	if stopped != "" {
		res.StopString = stopped
	}
	res.Tokens = append(res.Tokens, tk)
	if err := g.obs.token(len(res.IDs)-1, pos, g.history, logits, id, tk.Text); err != nil {
		return true, err
	}
	if req.OnToken != nil {
		if err := req.OnToken(tk); err != nil {
			return true, err
		}
	}
	if eog || stopped != "" {
		res.FinishReason = FinishStop
		return true, nil
	}
	return false, nil
}

// decode runs one generated token through the model at the next position,
// leaving the logits of the token that follows it in s.logits. With a
// batcher, ctx ending before the step runs withdraws it.
func (s *Session) decode(ctx context.Context, id int) error {
	var err error
	if s.batcher != nil {
		// the pages are taken here, where waiting for memory stalls no other session
		if err := s.state.Grow(ctx, len(s.cached)+1); err != nil {
			return err
		}
		err = s.batcher.run(ctx, &step{s: s, tokens: []int{id}, pos: len(s.cached), logits: s.logits})
	} else {
		err = s.model.Forward(s.state, []int{id}, len(s.cached), s.logits)
	}
	if err != nil {
		return err
	}
	s.cached = append(s.cached, id)
	return nil
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
	if err := s.forward(ctx, prompt[k:], k); err != nil {
		s.cached = s.cached[:0]
		return err
	}
	s.cached = append(s.cached, prompt[k:]...)
	return nil
}

// forward runs the prompt tokens at positions pos… through the model,
// leaving the logits after the last in s.logits. With a batcher, the tokens
// go in chunks of the state's batch (each chunk as ForwardContext processes
// it), so that other sessions decode between two chunks.
func (s *Session) forward(ctx context.Context, tokens []int, pos int) error {
	if s.batcher == nil {
		return s.model.ForwardContext(ctx, s.state, tokens, pos, s.logits)
	}
	n := s.state.Batch()
	for start := 0; start < len(tokens); start += n {
		end := min(start+n, len(tokens))
		var logits []float32
		if end == len(tokens) {
			logits = s.logits
		}
		if err := s.state.Grow(ctx, pos+end); err != nil {
			return err
		}
		if err := s.batcher.run(ctx, &step{s: s, tokens: tokens[start:end], pos: pos + start, logits: logits, prefill: true}); err != nil {
			return err
		}
	}
	return nil
}

// matcher parses a grammar and returns a matcher over the session's vocabulary.
func (s *Session) matcher(src string) (*grammar.Matcher, error) {
	if s.tok == nil {
		return nil, errors.New("grammar: the model has no tokenizer, so its tokens spell no text")
	}
	g, err := grammar.Parse(src)
	if err != nil {
		return nil, err
	}
	if s.vocab == nil {
		v, err := VocabOf(s.tok)
		if err != nil {
			return nil, err
		}
		s.vocab = v
	}
	return grammar.NewMatcher(g, s.vocab), nil
}

// VocabOf returns the vocabulary of tok as a grammar sees it: the bytes each
// token adds to a generated text (none for control and unknown tokens, which
// the text never shows) and the end-of-generation tokens.
func VocabOf(tok *tokenizer.Tokenizer) (*grammar.Vocab, error) {
	pieces := make([][]byte, tok.VocabSize())
	for id := range pieces {
		switch tok.Type(id) {
		case tokenizer.TypeControl, tokenizer.TypeUnknown:
			continue
		}
		pieces[id] = tok.TokenBytes(id)
	}
	return grammar.NewVocab(pieces, tok.EOGs())
}
