package infer

import (
	"errors"

	"glassbox/model"
	"glassbox/sample"
	"glassbox/trace"
)

// observer watches a generation as it runs. The default, noObserver, does
// nothing and costs nothing; the tracer dissects the generation (see
// Tracing). An observer never changes what is generated.
type observer interface {
	// sample picks the next token as smp.Sample does, or
	// smp.SampleConstrained when c is not nil.
	sample(smp *sample.Sampler, logits []float32, history []int, c sample.Constraint) (int, error)
	// token reports the index-th generated token id, predicted at position
	// pos (history ends with it) from logits, and the text it completed.
	token(index, pos int, history []int, logits []float32, id int, text string) error
	// decoding says that position pos is about to run through the model.
	decoding(pos int)
	// verifying says that n positions from pos are about to run through
	// the model in one speculative verification pass.
	verifying(pos, n int)
	// verify decides on the drafted token x from the target's logits as
	// smp.Verify does, p receiving the target's distribution.
	verify(smp *sample.Sampler, logits []float32, history []int, p, q *sample.Dist, x int) sample.Verdict
	// drafted reports the verdict on x, drafted by source in a round, just
	// before the token that results is reported.
	drafted(source string, round, x int, v sample.Verdict)
	// done reports the finished generation.
	done(res *Result) error
	// close detaches the observer from the session.
	close()
}

// noObserver is the observer of a generation that is not traced.
type noObserver struct{}

func (noObserver) sample(smp *sample.Sampler, logits []float32, history []int, c sample.Constraint) (int, error) {
	if c != nil {
		return smp.SampleConstrained(logits, history, c, nil, 0)
	}
	return smp.Sample(logits, history), nil
}
func (noObserver) token(int, int, []int, []float32, int, string) error { return nil }
func (noObserver) decoding(int)                                        {}
func (noObserver) verifying(int, int)                                  {}
func (noObserver) verify(smp *sample.Sampler, logits []float32, history []int, p, q *sample.Dist, x int) sample.Verdict {
	smp.Distribution(logits, history, p, nil, 0)
	return smp.Verify(p, q, x)
}
func (noObserver) drafted(string, int, int, sample.Verdict) {}
func (noObserver) done(*Result) error                       { return nil }
func (noObserver) close()                                   {}

// tracer is the observer of a traced generation: it arms the recorder, which
// the model calls during the forward pass of the position being predicted,
// and emits the trace's events.
type tracer struct {
	rec   *recorder
	state *model.State
	emit  func(trace.Event) error
}

// newTracer emits the events that precede generation (meta, tokenization,
// embeddings) and arms the recorder for the last prompt position.
func (s *Session) newTracer(req *Request) (*tracer, error) {
	if req.Trace.Emit == nil {
		return nil, errors.New("trace: no Emit function")
	}
	rec, err := newRecorder(s.model, s.tok, *req.Trace)
	if err != nil {
		return nil, err
	}
	t := &tracer{rec: rec, state: s.state, emit: req.Trace.Emit}
	for _, ev := range []trace.Event{rec.meta(s.state.Context(), s.state.KVType(), s.state.KeyType()), rec.tokenization(req.Prompt)} {
		if err := t.emit(ev); err != nil {
			return nil, err
		}
	}
	if req.Trace.Options.Embeddings {
		if err := t.emit(rec.embeddings(req.Prompt)); err != nil {
			return nil, err
		}
	}
	rec.wantRange(len(req.Prompt)-1, 1)
	s.state.Tracer = rec
	return t, nil
}

func (t *tracer) sample(smp *sample.Sampler, logits []float32, history []int, c sample.Constraint) (int, error) {
	if c != nil {
		t.rec.constrained = true
		return smp.SampleConstrained(logits, history, c, &t.rec.smp, t.rec.top)
	}
	return smp.SampleTrace(logits, history, &t.rec.smp, t.rec.top), nil
}

func (t *tracer) token(index, pos int, history []int, logits []float32, id int, text string) error {
	return t.emit(trace.Event{Type: trace.TypeStep, Step: t.rec.step(index, pos, history, logits, id, text)})
}

func (t *tracer) decoding(pos int) { t.rec.wantRange(pos, 1) }

func (t *tracer) verifying(pos, n int) { t.rec.wantRange(pos, n) }

func (t *tracer) verify(smp *sample.Sampler, logits []float32, history []int, p, q *sample.Dist, x int) sample.Verdict {
	smp.Distribution(logits, history, p, &t.rec.smp, t.rec.top)
	v := smp.Verify(p, q, x)
	tr := &t.rec.smp
	tr.Chosen, tr.ChosenProb, tr.Draw = v.ID, float32(p.Prob(v.ID)), v.Resample
	tr.ChosenRank = rankOf(logits, v.ID)
	return v
}

func (t *tracer) drafted(source string, round, x int, v sample.Verdict) {
	t.rec.draft = &trace.Draft{Source: source, Round: round, Proposed: t.rec.token(x), Accepted: v.Accepted,
		TargetProb: float32(v.TargetProb), DraftProb: float32(v.DraftProb), Draw: v.Draw}
}

// rankOf returns the 1-based rank of id among logits (ties broken by the
// lower id first, as the sampler orders candidates).
func rankOf(logits []float32, id int) int {
	r := 1
	for j, l := range logits {
		if l > logits[id] || (l == logits[id] && j < id) {
			r++
		}
	}
	return r
}

func (t *tracer) done(res *Result) error {
	tm := res.Timings
	return t.emit(trace.Event{Type: trace.TypeDone, Done: &trace.Done{
		FinishReason: res.FinishReason, Text: res.Text, PromptTokens: len(res.PromptIDs), GenTokens: len(res.IDs),
		PromptPerSec: tm.PromptPerSecond(), GenPerSec: tm.GenPerSecond(),
		Drafted: res.Speculative.Drafted, Accepted: res.Speculative.Accepted,
	}})
}

func (t *tracer) close() { t.state.Tracer = nil }
