package server

import (
	"context"
	"errors"
	"slices"
	"sync"

	"glassbox/infer"
)

// errQueueFull is returned by acquire when every slot is busy and the queue is full.
var errQueueFull = errors.New("all generation slots are busy and the queue is full")

// slot is one generation slot: a session with its own KV cache, reused
// across requests so that a conversation's next turn only processes its new tokens.
type slot struct {
	id      int
	session *infer.Session
	last    []int // the tokens the session's cache holds after the last request
}

// pool hands out a model's slots: a free one at once (the one whose cache
// shares the longest prefix with the prompt), otherwise a place in a bounded
// FIFO queue.
type pool struct {
	mu       sync.Mutex
	free     []*slot
	waiters  []chan *slot
	maxQueue int
	size     int
	onChange func(busy, queued int) // called with the lock held after every change
}

func newPool(slots []*slot, maxQueue int, onChange func(busy, queued int)) *pool {
	p := &pool{free: slots, maxQueue: maxQueue, size: len(slots), onChange: onChange}
	p.changed()
	return p
}

func (p *pool) changed() {
	if p.onChange != nil {
		p.onChange(p.size-len(p.free), len(p.waiters))
	}
}

// acquire returns a slot, waiting in the queue while ctx lasts. It returns
// errQueueFull at once when the queue is full.
func (p *pool) acquire(ctx context.Context, prompt []int) (*slot, error) {
	p.mu.Lock()
	if len(p.free) > 0 {
		best, bestLen := 0, -1
		for i, s := range p.free {
			if l := commonPrefix(s.last, prompt); l > bestLen {
				best, bestLen = i, l
			}
		}
		s := p.free[best]
		p.free = slices.Delete(p.free, best, best+1)
		p.changed()
		p.mu.Unlock()
		return s, nil
	}
	if len(p.waiters) >= p.maxQueue {
		p.mu.Unlock()
		return nil, errQueueFull
	}
	ch := make(chan *slot, 1)
	p.waiters = append(p.waiters, ch)
	p.changed()
	p.mu.Unlock()
	select {
	case s := <-ch:
		return s, nil
	case <-ctx.Done():
		p.mu.Lock()
		if i := slices.Index(p.waiters, ch); i >= 0 {
			p.waiters = slices.Delete(p.waiters, i, i+1)
			p.changed()
		}
		p.mu.Unlock()
		// a slot handed over before we left the queue goes back
		select {
		case s := <-ch:
			p.release(s)
		default:
		}
		return nil, ctx.Err()
	}
}

// release gives a slot to the first waiter, or back to the free list.
func (p *pool) release(s *slot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- s
	} else {
		p.free = append(p.free, s)
	}
	p.changed()
}

// stats returns the number of busy slots and of queued requests.
func (p *pool) stats() (busy, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size - len(p.free), len(p.waiters)
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
