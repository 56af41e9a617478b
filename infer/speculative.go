package infer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"glassbox/model"
	"glassbox/sample"
	"glassbox/tokenizer"
)

// Speculation asks Generate for speculative decoding: a cheap drafter
// proposes the next few tokens, the model checks them all in one batched
// forward pass (each row's logits bit for bit those of decoding the tokens
// one at a time) and keeps them by the speculative-sampling rule
// (sample.Sampler.Verify). Greedy output is the output of plain decoding;
// sampled output is distributed as plain decoding's. A round that keeps j
// of k drafted tokens produces j+1 tokens for one forward pass of k+1 rows.
type Speculation struct {
	// Draft is a session of the draft model, a smaller model sharing the
	// tokenizer (CheckDraft); it keeps its own cache of the same tokens.
	// Nil with Lookup.
	Draft *Session
	// Lookup drafts without a second model (prompt lookup): the tokens that
	// followed the latest earlier occurrence, in the prompt or the text so
	// far, of the last NGramMax … NGramMin tokens (the longest that occurs).
	Lookup             bool
	NGramMin, NGramMax int // lookup n-gram sizes (defaults 2 and 3)
	// Max is the number of tokens drafted per round at most (default 8),
	// Min the number below which a round decodes one token plainly instead.
	Max, Min int
	// PMin stops a draft model's round at a token whose probability under
	// the draft (its softmax at temperature 1) is below PMin (0: never).
	PMin float64
}

// DefaultDraftMax is the number of tokens drafted per round when
// Speculation.Max is 0.
const DefaultDraftMax = 8

// DefaultNGramMin is the shortest n-gram prompt lookup tries when
// Speculation.NGramMin is 0.
const DefaultNGramMin = 2

// SpecStats counts what speculative decoding did in one generation.
type SpecStats struct {
	Rounds   int // verification passes
	Drafted  int // tokens proposed by the drafter and verified
	Accepted int // drafted tokens kept
}

// AcceptRate returns Accepted / Drafted (0 when nothing was drafted).
func (s SpecStats) AcceptRate() float64 {
	if s.Drafted == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Drafted)
}

// validate fills the defaults and checks the settings.
func (sp *Speculation) validate() error {
	switch {
	case sp.Draft == nil && !sp.Lookup:
		return errors.New("speculative decoding: neither a draft model nor prompt lookup")
	case sp.Draft != nil && sp.Lookup:
		return errors.New("speculative decoding: a draft model and prompt lookup together (choose one)")
	case sp.Max < 0 || sp.Min < 0:
		return fmt.Errorf("speculative decoding: draft max %d and min %d must be >= 0", sp.Max, sp.Min)
	case sp.NGramMin < 0 || sp.NGramMax < 0:
		return fmt.Errorf("speculative decoding: n-gram sizes %d..%d must be >= 1", sp.NGramMin, sp.NGramMax)
	case math.IsNaN(sp.PMin) || sp.PMin < 0 || sp.PMin > 1:
		return fmt.Errorf("speculative decoding: draft p-min must be in [0, 1], got %v", sp.PMin)
	}
	if sp.Max == 0 {
		sp.Max = DefaultDraftMax
	}
	if sp.NGramMin == 0 {
		// a single token recurs too often to predict what follows it:
		// drafts after 1-grams are mostly rejected (measured in
		// docs/performance.md, "Speculative decoding")
		sp.NGramMin = DefaultNGramMin
	}
	if sp.NGramMax == 0 {
		sp.NGramMax = max(3, sp.NGramMin)
	}
	if sp.NGramMin > sp.NGramMax {
		return fmt.Errorf("speculative decoding: n-gram min %d above max %d", sp.NGramMin, sp.NGramMax)
	}
	return nil
}

// CheckDraft reports whether a draft model can draft for a target: both
// tokenizers must have the same tokens with the same ids, and the error
// says where they part.
func CheckDraft(target, draft *tokenizer.Tokenizer, targetModel, draftModel *model.Model) error {
	if target == nil || draft == nil {
		return errors.New("draft model: both models need a tokenizer to share")
	}
	if target.VocabSize() != draft.VocabSize() {
		return fmt.Errorf("draft model: its vocabulary has %d tokens, the model's %d; speculative decoding needs the same tokenizer", draft.VocabSize(), target.VocabSize())
	}
	if targetModel != nil && draftModel != nil && targetModel.Config.VocabSize != draftModel.Config.VocabSize {
		return fmt.Errorf("draft model: its output layer has %d rows, the model's %d; speculative decoding needs the same vocabulary", draftModel.Config.VocabSize, targetModel.Config.VocabSize)
	}
	for id := range target.VocabSize() {
		ta, tb := target.Type(id), draft.Type(id)
		control := ta == tokenizer.TypeControl && tb == tokenizer.TypeControl
		// control tokens spell no text: files name them differently
		if ta != tb || (!control && !bytes.Equal(target.TokenBytes(id), draft.TokenBytes(id))) {
			return fmt.Errorf("draft model: token %d is %q in the model's vocabulary and %q in the draft's; speculative decoding needs the same tokenizer", id, target.Piece(id), draft.Piece(id))
		}
	}
	return nil
}

// speculator is the drafting side of a speculative generation.
type speculator struct {
	sp    Speculation
	dsmp  *sample.Sampler // the draft model's sampler
	qs    []sample.Dist   // the draft's distribution of each drafted token
	toks  []int
	rows  []float32 // the verification pass's logits
	p     sample.Dist
	stats SpecStats
}

func newSpeculator(sp Speculation, p sample.Params, s *Session) (*speculator, error) {
	if err := sp.validate(); err != nil {
		return nil, err
	}
	sc := &speculator{sp: sp}
	if sp.Draft != nil {
		if sp.Draft.batcher != nil {
			return nil, errors.New("speculative decoding: the draft session must not be batched")
		}
		if err := CheckDraft(s.tok, sp.Draft.tok, s.model, sp.Draft.model); err != nil {
			return nil, err
		}
		dp := p
		dp.Seed = p.Seed ^ 0x5851f42d4c957f2d // another stream than the target's
		if p.Seed == sample.SeedRandom {
			dp.Seed = sample.SeedRandom
		}
		var err error
		if sc.dsmp, err = sample.New(dp); err != nil {
			return nil, err
		}
		sc.qs = make([]sample.Dist, sp.Max)
	}
	return sc, nil
}

// draft proposes up to room tokens following history; with a draft model
// it also keeps each one's draft distribution in sc.qs.
func (sc *speculator) draft(ctx context.Context, history []int, room int) ([]int, error) {
	sc.toks = sc.toks[:0]
	room = min(room, sc.sp.Max)
	if room <= 0 {
		return nil, nil
	}
	if sc.sp.Lookup {
		sc.toks = lookup(sc.toks, history, sc.sp.NGramMin, sc.sp.NGramMax, room)
		return sc.toks, nil
	}
	d := sc.sp.Draft
	if len(history) >= d.state.Context() {
		return nil, nil
	}
	var tm Timings
	if err := d.prefill(ctx, history, &tm); err != nil {
		return nil, fmt.Errorf("draft model: %w", err)
	}
	hist := history
	for len(sc.toks) < room {
		q := sc.dsmp.Distribution(d.logits, hist, &sc.qs[len(sc.toks)], nil, 0)
		x, _ := sc.dsmp.Pick(q)
		if x < 0 {
			break
		}
		if sc.sp.PMin > 0 && softmaxProb(d.logits, x) < float32(sc.sp.PMin) {
			break
		}
		sc.toks = append(sc.toks, x)
		hist = append(hist[:len(hist):len(hist)], x)
		if len(sc.toks) == room || len(d.cached) >= d.state.Context() {
			break
		}
		if err := d.decode(ctx, x); err != nil {
			return nil, fmt.Errorf("draft model: %w", err)
		}
	}
	return sc.toks, nil
}

// source names the drafter in traces.
func (sc *speculator) source() string {
	if sc.sp.Lookup {
		return "lookup"
	}
	return "model"
}

// q returns the draft distribution of the i-th drafted token (nil for a
// lookup draft: a point mass).
func (sc *speculator) q(i int) *sample.Dist {
	if sc.sp.Lookup {
		return nil
	}
	return &sc.qs[i]
}

// lookup appends to dst up to room tokens that followed the latest earlier
// occurrence of history's last n tokens, for n from nmax down to nmin.
func lookup(dst, history []int, nmin, nmax, room int) []int {
	h := len(history)
	for n := min(nmax, h-1); n >= nmin; n-- {
		suffix := history[h-n:]
	search:
		for i := h - n - 1; i >= 0; i-- {
			for j, t := range suffix {
				if history[i+j] != t {
					continue search
				}
			}
			end := min(i+n+room, h)
			return append(dst, history[i+n:end]...)
		}
	}
	return dst
}

// runSpeculative is run with speculative decoding. The token last emitted
// (pending) is not in the cache yet: each round drafts the tokens that may
// follow it, runs pending and the drafts through the model in one pass at
// positions len(s.cached)…, and keeps the drafts by the acceptance rule;
// the first rejected draft is replaced by a token drawn from the residual,
// and when all are kept one more is drawn from the last row. That token is
// the next pending one, and the cache forgets the rejected drafts.
func (g *generation) runSpeculative(ctx context.Context, sc *speculator) error {
	s, n := g.s, g.s.state.Context()
	vocab := s.model.Config.VocabSize
	if g.req.MaxTokens > 0 && len(g.res.IDs) >= g.req.MaxTokens {
		g.res.FinishReason = FinishLength
		return nil
	}
	pending, stop, err := g.next()
	if err != nil || stop {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if g.req.MaxTokens > 0 && len(g.res.IDs) >= g.req.MaxTokens {
			g.res.FinishReason = FinishLength
			return nil
		}
		if len(s.cached) >= n {
			g.res.FinishReason = FinishLength
			return nil
		}
		// room: positions left after pending, tokens left after the one
		// each round adds beyond its kept drafts
		room := n - len(s.cached) - 1
		if g.req.MaxTokens > 0 {
			room = min(room, g.req.MaxTokens-len(g.res.IDs)-1)
		}
		drafts, err := sc.draft(ctx, g.history, room)
		if err != nil {
			return err
		}
		if len(drafts) == 0 || len(drafts) < sc.sp.Min {
			g.obs.decoding(len(s.cached))
			if err := s.decode(ctx, pending); err != nil {
				return err
			}
			if pending, stop, err = g.next(); err != nil || stop {
				return err
			}
			continue
		}
		k := len(drafts)
		base := len(s.cached)
		if cap(sc.rows) < (k+1)*vocab {
			sc.rows = make([]float32, (sc.sp.Max+1)*vocab)
		}
		rows := sc.rows[:(k+1)*vocab]
		tokens := append(append(make([]int, 0, k+1), pending), drafts...)
		g.obs.verifying(base, len(tokens))
		if err := s.verify(ctx, tokens, rows); err != nil {
			return err
		}
		sc.stats.Rounds++
		sc.stats.Drafted += k
		all := true
		for i, x := range drafts {
			row := rows[i*vocab : (i+1)*vocab]
			v := g.obs.verify(g.smp, row, g.history, &sc.p, sc.q(i), x)
			if v.Accepted {
				sc.stats.Accepted++
			}
			g.obs.drafted(sc.source(), sc.stats.Rounds, x, v)
			stop, err := g.emit(v.ID, row, base+i)
			if err != nil || stop {
				s.cached = s.cached[:base+1+i]
				if v.Accepted {
					s.cached = s.cached[:base+2+i]
				}
				return err
			}
			if !v.Accepted {
				s.cached = s.cached[:base+1+i]
				pending, all = v.ID, false
				break
			}
			if g.req.MaxTokens > 0 && len(g.res.IDs) >= g.req.MaxTokens {
				s.cached = s.cached[:base+2+i]
				g.res.FinishReason = FinishLength
				return nil
			}
		}
		if all {
			// every draft kept: the last row (in s.logits) predicts one more
			if pending, stop, err = g.next(); err != nil || stop {
				return err
			}
		}
	}
}

// verify runs tokens at positions len(s.cached)… through the model in one
// pass whose rows each give the logits of decoding the tokens one at a
// time (rows: len(tokens) rows of the vocabulary), and adds them to the
// cache.
func (s *Session) verify(ctx context.Context, tokens []int, rows []float32) error {
	vocab := s.model.Config.VocabSize
	pos := len(s.cached)
	var err error
	if s.batcher != nil {
		if err := s.state.Grow(ctx, pos+len(tokens)); err != nil {
			return err
		}
		err = s.batcher.run(ctx, &step{s: s, tokens: tokens, pos: pos, logits: rows})
	} else {
		err = s.forwardRows(tokens, pos, rows)
	}
	if err != nil {
		return err
	}
	s.cached = append(s.cached, tokens...)
	// the last row's logits, should the round keep every draft
	copy(s.logits, rows[(len(tokens)-1)*vocab:])
	return nil
}

// forwardRows runs tokens at positions pos… of the session's state through
// ForwardBatch, one step per token, with the session's own batch scratch.
func (s *Session) forwardRows(tokens []int, pos int, rows []float32) error {
	vocab := s.model.Config.VocabSize
	if s.rows == nil || s.rows.Size() < len(tokens) {
		b, err := s.model.NewBatch(len(tokens))
		if err != nil {
			return err
		}
		s.rows = b
	}
	steps := make([]model.SeqStep, len(tokens))
	for i, t := range tokens {
		steps[i] = model.SeqStep{State: s.state, Token: t, Pos: pos + i, Logits: rows[i*vocab : (i+1)*vocab]}
	}
	return s.model.ForwardBatch(s.rows, steps)
}
