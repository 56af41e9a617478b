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
func (noObserver) done(*Result) error                                  { return nil }
func (noObserver) close()                                              {}

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
	rec.want = len(req.Prompt) - 1
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

func (t *tracer) decoding(pos int) { t.rec.want = pos }

func (t *tracer) done(res *Result) error {
	tm := res.Timings
	return t.emit(trace.Event{Type: trace.TypeDone, Done: &trace.Done{
		FinishReason: res.FinishReason, Text: res.Text, PromptTokens: len(res.PromptIDs), GenTokens: len(res.IDs),
		PromptPerSec: tm.PromptPerSecond(), GenPerSec: tm.GenPerSecond(),
	}})
}

func (t *tracer) close() { t.state.Tracer = nil }
