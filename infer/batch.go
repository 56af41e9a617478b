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
// decoding session in one batched forward pass (model.ForwardBatch: one
// matrix-matrix product per weight, each sequence attending over its own
// cache), and one chunk of at most one session's prompt (the session's
// batch of tokens, as its prefill would process it alone), so that a long
// prompt does not stall the others. Sessions join and leave between rounds.
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
	// steps they held (read with Stats).
	rounds, rows int
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
	b := &Batcher{m: m, batch: mb, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
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
	var decode []*step
	var steps []model.SeqStep
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
			var chunk, solo *step
			decode = decode[:0]
			rows := 0
			for {
				b.mu.Lock()
				n, ready := len(b.pending), len(b.pending) >= b.active
				wait := min(max(b.last/8, minRoundWait), maxRoundWait)
				if n > 0 && (ready || (!deadline.IsZero() && !time.Now().Before(deadline))) {
					// take every decode step (up to the batch) and the
					// oldest prompt chunk
					for _, st := range b.pending {
						switch {
						case st.prefill && chunk == nil:
							chunk = st
						case !st.prefill && rows+len(st.tokens) <= b.batch.Size():
							decode = append(decode, st)
							rows += len(st.tokens)
						case !st.prefill && len(st.tokens) > b.batch.Size() && solo == nil:
							// a verification pass larger than the batch
							solo = st
						default:
							continue
						}
						st.taken = true
					}
					b.pending = slices.DeleteFunc(b.pending, func(st *step) bool { return st.taken })
				}
				b.mu.Unlock()
				if n == 0 || chunk != nil || solo != nil || len(decode) > 0 {
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
			if chunk == nil && solo == nil && len(decode) == 0 {
				break // nothing handed in: wait for a wake-up
			}
			t0 := time.Now()
			if chunk != nil {
				chunk.done <- chunk.s.model.ForwardContext(chunk.ctx, chunk.s.state, chunk.tokens, chunk.pos, chunk.logits)
			}
			if solo != nil {
				err := solo.s.forwardRows(solo.tokens, solo.pos, solo.logits)
				if err != nil {
					err = fmt.Errorf("speculative verification: %w", err)
				}
				solo.done <- err
			}
			if len(decode) > 0 {
				steps = steps[:0]
				vocab := b.m.Config.VocabSize
				for _, st := range decode {
					// one row per token: a speculative verification pass
					// hands in several consecutive ones
					for i, t := range st.tokens {
						var lg []float32
						if st.logits != nil {
							lg = st.logits[i*vocab : (i+1)*vocab]
						}
						steps = append(steps, model.SeqStep{State: st.s.state, Token: t, Pos: st.pos + i, Logits: lg})
					}
				}
				err := b.m.ForwardBatch(b.batch, steps)
				if err != nil {
					err = fmt.Errorf("batched decode: %w", err)
				}
				for _, st := range decode {
					st.done <- err
				}
				b.mu.Lock()
				b.rounds++
				b.rows += len(steps)
				b.mu.Unlock()
			}
			b.mu.Lock()
			b.last = time.Since(t0)
			b.mu.Unlock()
		}
	}
}
