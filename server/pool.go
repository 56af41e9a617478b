package server

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"glassbox"
)

// errQueueFull is returned by acquire when every slot is busy and the queue is full.
var errQueueFull = errors.New("all generation slots are busy and the queue is full")

// errDraining is returned by acquire once the server is shutting down.
var errDraining = errors.New("the server is shutting down")

// slot is one generation slot: a session with its own KV cache, reused
// across requests so that a conversation's next turn only processes its new tokens.
type slot struct {
	id      int
	session *glassbox.Session
	last    []int // the tokens the session's cache holds after the last request
	// state is what GET /slots shows of the slot, written by the request
	// holding it and read by the monitor at any time.
	state slotState
	// used is the number of cache positions the running request holds (its
	// prompt and the tokens generated so far), for the KV cache metrics.
	used atomic.Int64

	// set while the slot is held by a request
	busy    bool
	since   time.Time // when the request got the slot
	release func()    // ends the request's hold on the model's weights, if any
}

// pool hands out a model's slots: a free one at once (the one whose cache
// shares the longest prefix with the prompt, when that covers half of it;
// else the one free the longest), otherwise a place in a bounded
// FIFO queue. It measures how long requests hold a slot, to tell a turned-away
// client how long it should expect to wait.
type pool struct {
	mu       sync.Mutex
	all      []*slot
	free     []*slot
	waiters  []chan *slot
	wants    map[chan *slot]*slot // the waiters that wait for one slot (llama.cpp's id_slot)
	maxQueue int
	size     int
	draining bool                   // no slot is handed out any more
	idle     chan struct{}          // closed when no slot is busy; replaced when one is taken
	onChange func(busy, queued int) // called with the lock held after every change
	now      func() time.Time

	// mean is the moving average of how long recent requests held a slot;
	// measured counts the requests it averages (up to meanWindow).
	mean     time.Duration
	measured int
}

// meanWindow is the number of recent requests the mean hold time follows.
const meanWindow = 16

func newPool(slots []*slot, maxQueue int, onChange func(busy, queued int)) *pool {
	p := &pool{all: slots, free: slices.Clone(slots), maxQueue: maxQueue, size: len(slots), onChange: onChange,
		idle: make(chan struct{}), now: time.Now}
	close(p.idle)
	p.changed()
	return p
}

func (p *pool) changed() {
	if p.onChange != nil {
		p.onChange(p.size-len(p.free), len(p.waiters))
	}
}

// take marks a slot as held from now on. The lock is held.
func (p *pool) take(s *slot) {
	select {
	case <-p.idle:
		p.idle = make(chan struct{})
	default:
	}
	s.busy, s.since = true, p.now()
}

// acquire returns a slot, waiting in the queue while ctx lasts. It returns
// errQueueFull at once when the queue is full, and errDraining once the pool
// is draining (also to the requests waiting in the queue).
func (p *pool) acquire(ctx context.Context, prompt []int) (*slot, error) {
	return p.acquireSlot(ctx, prompt, nil)
}

// acquireSlot is acquire for one slot when want is set: that slot once it
// is free, in turn with the other waiters.
func (p *pool) acquireSlot(ctx context.Context, prompt []int, want *slot) (*slot, error) {
	p.mu.Lock()
	if p.draining {
		p.mu.Unlock()
		return nil, errDraining
	}
	if want != nil {
		if i := slices.Index(p.free, want); i >= 0 {
			p.free = slices.Delete(p.free, i, i+1)
			p.take(want)
			p.changed()
			p.mu.Unlock()
			return want, nil
		}
	} else if len(p.free) > 0 {
		// The free slot whose cache shares the longest prefix with the
		// prompt, if it covers at least half of the prompt (llama.cpp's
		// slot_prompt_similarity); otherwise the slot free the longest (the
		// free list is in release order), so that a prompt sharing only a
		// BOS token does not evict another conversation's cache.
		best, bestLen := 0, 0
		for i, s := range p.free {
			if l := commonPrefix(s.cachedTokens(), prompt); l > bestLen {
				best, bestLen = i, l
			}
		}
		if 2*bestLen < len(prompt) {
			best = 0
		}
		s := p.free[best]
		p.free = slices.Delete(p.free, best, best+1)
		p.take(s)
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
	if want != nil {
		if p.wants == nil {
			p.wants = map[chan *slot]*slot{}
		}
		p.wants[ch] = want
	}
	p.changed()
	p.mu.Unlock()
	select {
	case s := <-ch:
		if s == nil {
			return nil, errDraining
		}
		return s, nil
	case <-ctx.Done():
		p.mu.Lock()
		if i := slices.Index(p.waiters, ch); i >= 0 {
			p.waiters = slices.Delete(p.waiters, i, i+1)
			p.changed()
		}
		delete(p.wants, ch)
		p.mu.Unlock()
		// a slot handed over before we left the queue goes back
		select {
		case s := <-ch:
			if s != nil {
				p.put(s, false)
			}
		default:
		}
		return nil, ctx.Err()
	}
}

// release ends a request's hold on a slot and gives the slot to the first
// waiter, or back to the free list.
func (p *pool) release(s *slot) {
	if s.release != nil {
		s.release()
		s.release = nil
	}
	p.put(s, true)
}

// put hands a slot on; measured says whether its hold time counts in the mean.
func (p *pool) put(s *slot, measured bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if measured {
		p.measure(p.now().Sub(s.since))
	}
	s.busy = false
	// the first waiter for any slot or for this one
	i := slices.IndexFunc(p.waiters, func(ch chan *slot) bool { w := p.wants[ch]; return w == nil || w == s })
	if i >= 0 {
		ch := p.waiters[i]
		p.waiters = slices.Delete(p.waiters, i, i+1)
		delete(p.wants, ch)
		p.take(s)
		ch <- s
	} else {
		p.free = append(p.free, s)
		if len(p.free) == p.size {
			close(p.idle)
		}
	}
	p.changed()
}

// measure adds a request's hold time to the moving average. The lock is held.
func (p *pool) measure(d time.Duration) {
	if d < 0 {
		d = 0
	}
	p.measured = min(p.measured+1, meanWindow)
	p.mean += (d - p.mean) / time.Duration(p.measured)
}

// drain stops handing out slots: the queued requests and every later one get
// errDraining. The slots in use stay with their requests until released.
func (p *pool) drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draining = true
	for _, ch := range p.waiters {
		ch <- nil
	}
	p.waiters, p.wants = nil, nil
	p.changed()
}

// idleChan returns a channel closed once no slot is busy.
func (p *pool) idleChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idle
}

// stats returns the number of busy slots and of queued requests.
func (p *pool) stats() (busy, queued int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size - len(p.free), len(p.waiters)
}

// kvUsed returns the cache positions held by the requests running on the slots.
func (p *pool) kvUsed() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, s := range p.all {
		if s.busy {
			n += s.used.Load()
		}
	}
	return n
}

// expectedWait estimates how long a request arriving now would wait for a
// slot: every queued request is served first, in order, by the slot that
// frees first. A running request is expected to last the mean hold time of
// recent requests (one that has already outlasted it, to end now); before any
// request has finished, the mean is taken as the longest time a running
// request has held its slot so far.
func (p *pool) expectedWait() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	mean := p.mean
	if p.measured == 0 {
		for _, s := range p.all {
			if s.busy {
				mean = max(mean, now.Sub(s.since))
			}
		}
	}
	// freeAt[i] is when slot i is expected to be free, from now
	freeAt := make([]time.Duration, 0, len(p.all))
	for _, s := range p.all {
		var d time.Duration
		if s.busy {
			d = max(mean-now.Sub(s.since), 0)
		}
		freeAt = append(freeAt, d)
	}
	for range len(p.waiters) {
		i := earliest(freeAt)
		freeAt[i] += mean
	}
	if len(freeAt) == 0 {
		return 0
	}
	return freeAt[earliest(freeAt)]
}

// earliest returns the index of the smallest value.
func earliest(d []time.Duration) int {
	best := 0
	for i, v := range d {
		if v < d[best] {
			best = i
		}
	}
	return best
}

// cachedTokens returns the tokens the slot's cache holds: none once its KV
// pool evicted them.
func (s *slot) cachedTokens() []int {
	if s.session != nil && s.session.Evicted() {
		return nil
	}
	return s.last
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
