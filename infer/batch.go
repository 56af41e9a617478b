package infer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"glassbox/model"
	"glassbox/tokenizer"
)

// ErrBatcherClosed is returned by the generations of a Batcher's sessions
// once the Batcher is closed.
var ErrBatcherClosed = errors.New("the batcher is closed")

// Batcher runs the forward passes of several sessions of one model together
// (continuous batching). Each session's generation runs in its caller's
// goroutine as usual — sampling, grammar, stop strings, streaming and
// tracing stay per request — but hands its forward passes to the batcher's
// scheduler goroutine, which runs them in rounds: the next token of every
// decoding session (one matrix-matrix product per weight, each sequence
// attending over its own cache), together with the next prompt chunks of the sessions processing
// their prompts (each the session's batch of tokens, as its prefill would
// process it alone), oldest first, as many as the round's token budget
// holds (SetTokens). All of them go through one forward pass
// (model.ForwardMulti): several new prompts are processed together, and a
// long prompt, cut into chunks, does not stall the others. Sessions join and
// leave between rounds.
// Since every sequence's logits are bit for bit those of running it alone,
// so is every generation.
//
// A round starts once every session in a generation has handed in its next
// forward pass, or shortly after the first one did (a session busy elsewhere,
// such as one whose client reads slowly, joins the next round).
type Batcher struct {
	m     *model.Model
	batch *model.Batch

	mu      sync.Mutex
	active  int     // sessions in a generation
	pending []*step // forward passes handed in, in order
	closed  bool
	last    time.Duration // how long the last round took

	wake chan struct{} // a step was handed in or a session left
	quit chan struct{}
	done chan struct{} // closed when the scheduler has returned

	// rounds and rows count the batched decode rounds run and the sequence
	// steps they held (read with Stats); passes counts the forward passes
	// holding prompt chunks and chunks those chunks (read with PromptStats).
	rounds, rows   int
	passes, chunks int

	tokens int // the most tokens a round holds (SetTokens)
}

// step is one forward pass handed to the scheduler: a decode token or a
// prompt chunk of one session.
type step struct {
	s       *Session
	ctx     context.Context
	tokens  []int
	pos     int
	logits  []float32 // nil: none wanted
	prefill bool
	taken   bool       // the scheduler is running it
	done    chan error // receives the outcome
}

// Round-start wait bounds (see Batcher).
const (
	minRoundWait = 200 * time.Microsecond
	maxRoundWait = 5 * time.Millisecond
)

// NewBatcher starts the scheduler of up to n sessions decoding together.
// Close stops it.
func NewBatcher(m *model.Model, n int) (*Batcher, error) {
	mb, err := m.NewBatch(n)
	if err != nil {
		return nil, err
	}
	b := &Batcher{m: m, batch: mb, tokens: DefaultBatchTokens, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b, nil
}

// NewSession allocates a session whose forward passes run on b.
func (b *Batcher) NewSession(tok *tokenizer.Tokenizer, opt model.StateOptions) (*Session, error) {
	s, err := NewSession(b.m, tok, opt)
	if err != nil {
		return nil, err
	}
	s.batcher = b
	return s, nil
}

// DefaultBatchTokens is the number of tokens a round of a Batcher holds at
// most unless SetTokens says otherwise (the role of llama.cpp's n_batch).
const DefaultBatchTokens = 512

// SetTokens sets the most tokens a round holds (llama.cpp's n_batch): the
// decode tokens of every session generating plus prompt chunks of as many
// sessions as fit, oldest first; the first chunk of a round always goes in.
// It returns an error for n below 1.
func (b *Batcher) SetTokens(n int) error {
	if n < 1 {
		return fmt.Errorf("batcher: %d tokens per round, want at least 1", n)
	}
	b.mu.Lock()
	b.tokens = n
	b.mu.Unlock()
	return nil
}

// PromptStats returns the number of forward passes that held prompt chunks
// so far and the number of chunks they held (their ratio is the mean number
// of prompts processed together).
func (b *Batcher) PromptStats() (passes, chunks int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.passes, b.chunks
}

// Stats returns the number of batched decode rounds run so far and the
// number of sequence steps they held.
func (b *Batcher) Stats() (rounds, rows int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rounds, b.rows
}

// Close stops the scheduler: the forward passes waiting and every later one
// fail with ErrBatcherClosed. It waits for the round in progress.
func (b *Batcher) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return
	}
	b.closed = true
	waiting := b.pending
	b.pending = nil
	b.mu.Unlock()
	close(b.quit)
	<-b.done
	for _, st := range waiting {
		st.done <- ErrBatcherClosed
	}
}

func (b *Batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// enter and leave bracket a session's generation.
func (b *Batcher) enter() {
	b.mu.Lock()
	b.active++
	b.mu.Unlock()
}

func (b *Batcher) leave() {
	b.mu.Lock()
	b.active--
	b.mu.Unlock()
	b.signal() // the others may be all in now
}

// run hands a forward pass to the scheduler and waits for it. When ctx ends
// first, a pass not yet begun is withdrawn; one under way is waited for (a
// prompt chunk stops between two layers). Either way ctx's error is returned.
func (b *Batcher) run(ctx context.Context, st *step) error {
	st.ctx, st.done = ctx, make(chan error, 1)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBatcherClosed
	}
	b.pending = append(b.pending, st)
	b.mu.Unlock()
	b.signal()
	select {
	case err := <-st.done:
		return err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if i := slices.Index(b.pending, st); i >= 0 && !st.taken {
		b.pending = slices.Delete(b.pending, i, i+1)
		b.mu.Unlock()
		return ctx.Err()
	}
	b.mu.Unlock()
	if err := <-st.done; err != nil {
		return err
	}
	return ctx.Err()
}

// loop is the scheduler goroutine.
func (b *Batcher) loop() {
	defer close(b.done)
	var round []*step
	var chunks []model.SeqChunk
	for {
		select {
		case <-b.quit:
			return
		case <-b.wake:
		}
		for {
			// wait until every active session has handed in a pass, or
			// the round-start bound after the first one
			var deadline time.Time
			round = round[:0]
			for {
				b.mu.Lock()
				n, ready := len(b.pending), len(b.pending) >= b.active
				wait := min(max(b.last/8, minRoundWait), maxRoundWait)
				if n > 0 && (ready || (!deadline.IsZero() && !time.Now().Before(deadline))) {
					round = b.take(round)
				}
				b.mu.Unlock()
				if n == 0 || len(round) > 0 {
					break
				}
				if deadline.IsZero() {
					deadline = time.Now().Add(wait)
				}
				t := time.NewTimer(time.Until(deadline))
				select {
				case <-b.quit:
					t.Stop()
					return
				case <-b.wake:
				case <-t.C:
				}
				t.Stop()
			}
			if len(round) == 0 {
				break // nothing handed in: wait for a wake-up
			}
			t0 := time.Now()
			chunks = chunks[:0]
			decode := 0
			var multi []*step
			for _, st := range round {
				if st.prefill && st.s.state.Tracer != nil {
					// a traced prompt chunk runs on its own, as alone
					st.done <- st.s.model.ForwardContext(st.ctx, st.s.state, st.tokens, st.pos, st.logits)
					continue
				}
				if !st.prefill && len(st.tokens) > 1 {
					// a speculative verification pass: every row's logits,
					// each as decoding its token alone after the ones before
					err := st.s.forwardRows(st.tokens, st.pos, st.logits)
					if err != nil {
						err = fmt.Errorf("speculative verification: %w", err)
					}
					st.done <- err
					continue
				}
				multi = append(multi, st)
				chunks = append(chunks, model.SeqChunk{State: st.s.state, Tokens: st.tokens, Pos: st.pos, Logits: st.logits, Ctx: st.ctx})
				if !st.prefill {
					decode++
				}
			}
			if len(chunks) > 0 {
				err := b.m.ForwardMulti(b.batch, chunks)
				if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
					err = fmt.Errorf("batched forward pass: %w", err)
				}
				for _, st := range multi {
					st.done <- err
				}
			}
			b.mu.Lock()
			b.last = time.Since(t0)
			if decode > 0 {
				b.rounds++
				b.rows += decode
			}
			if len(round) > decode {
				b.passes++
				b.chunks += len(round) - decode
			}
			b.mu.Unlock()
			clear(chunks)
		}
	}
}

// take moves the passes of the next round from pending to round: every
// decode step, then prompt chunks oldest first while the round's tokens stay
// within the budget (the first chunk always goes, so that a chunk larger
// than the budget is not stuck). The lock is held.
func (b *Batcher) take(round []*step) []*step {
	tokens := 0
	for _, st := range b.pending {
		if !st.prefill && len(round) < b.batch.Size() {
			st.taken = true
			round = append(round, st)
			tokens++
		}
	}
	chunked := false
	for _, st := range b.pending {
		if !st.prefill || len(round) >= b.batch.Size() {
			continue
		}
		if chunked && tokens+len(st.tokens) > b.tokens {
			break
		}
		st.taken = true
		round = append(round, st)
		tokens += len(st.tokens)
		chunked = true
	}
	b.pending = slices.DeleteFunc(b.pending, func(st *step) bool { return st.taken })
	return round
}
