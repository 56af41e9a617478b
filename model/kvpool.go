package model

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// The paged KV cache. A State's keys and values live in pages of PageSize
// positions, one page per layer for the keys (a row per position) and one
// for the values (transposed: a row of PageSize cells per component), made
// when a forward pass first writes a position of them. A short sequence
// holds a few pages, a State that never ran none. The attention reads the
// pages as one row (the tensor package's paged dot products carry ggml's
// accumulators from page to page), so paging never changes a result.
//
// A KVPool shares a memory budget between the States drawing from it (the
// slots of a server). A State that needs a page beyond the budget takes the
// pages of the least recently used idle State (one not pinned: its cached
// prompt is lost, see Pin), or waits for a running one to become idle, or
// fails with an error wrapping ErrKVBudget when it can never fit or when
// every State holding memory is waiting too.

// DefaultPageSize is the number of positions in a page of the KV cache
// unless StateOptions.PageSize says otherwise.
const DefaultPageSize = 256

// ErrKVBudget is wrapped by the error a State of a KVPool returns when its
// cache cannot grow within the pool's budget.
var ErrKVBudget = errors.New("the KV cache budget is exhausted")

// KVPool is the memory budget shared by the KV caches of several States
// (StateOptions.Pool). It is safe for concurrent use.
type KVPool struct {
	mu        sync.Mutex
	budget    int64 // bytes; 0: no limit (the pool only counts)
	used      int64
	evictions int64
	clock     uint64
	states    map[*State]struct{}
	freed     chan struct{} // closed (and replaced) when memory may have become available
}

// NewKVPool returns a pool of budget bytes (0: no limit, the pool counts the
// memory in use). A negative budget is an error.
func NewKVPool(budget int64) (*KVPool, error) {
	if budget < 0 {
		return nil, fmt.Errorf("KV cache budget of %d bytes: want 0 (no limit) or more", budget)
	}
	return &KVPool{budget: budget, states: map[*State]struct{}{}, freed: make(chan struct{})}, nil
}

// Budget returns the pool's budget in bytes (0: no limit, and for a nil
// pool).
func (p *KVPool) Budget() int64 {
	if p == nil {
		return 0
	}
	return p.budget
}

// Used returns the bytes of KV cache pages its States hold.
func (p *KVPool) Used() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// Evictions returns the number of idle States whose cache was taken for
// another State's pages.
func (p *KVPool) Evictions() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.evictions
}

// signal wakes the States waiting for memory. The lock is held.
func (p *KVPool) signal() {
	close(p.freed)
	p.freed = make(chan struct{})
}

// Pin marks the state as in use until Unpin: a pool evicts only the caches
// of States that are not pinned. It reports whether the cache was evicted
// since the state was last pinned (its positions then hold nothing: the
// caller forgets the tokens it had cached). Without a pool it does nothing
// and reports false. A state of a pool must be pinned while it runs.
func (s *State) Pin() (evicted bool) {
	p := s.pool
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s.pins++
	return s.evicted.Swap(false)
}

// Unpin ends a Pin: once every Pin has ended the state is idle, and its
// cache may be evicted, the least recently used first.
func (s *State) Unpin() {
	p := s.pool
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.pins > 0 {
		s.pins--
	}
	p.clock++
	s.lastUse = p.clock
	if s.pins == 0 && s.held.Load() > 0 {
		p.signal()
	}
}

// Evicted reports whether the state's cache was evicted since it was last
// pinned. It is safe to call from any goroutine.
func (s *State) Evicted() bool { return s.evicted.Load() }

// HeldBytes returns the bytes of the pages the state holds. It is safe to
// call from any goroutine.
func (s *State) HeldBytes() int64 { return s.held.Load() }

// PageSize returns the number of positions of a page of the state's cache.
func (s *State) PageSize() int { return s.page }

// pageBytes returns the bytes of one page of every layer's keys and values.
func (s *State) pageBytes() int64 {
	return s.cfg.KVCacheBytesTypes(s.page, s.kType, s.kvType)
}

// Grow makes the cache hold pages for positions 0..n-1, taking them from the
// state's pool: evicting idle States' caches when the budget is reached,
// waiting (while ctx lasts) for running ones to become idle. It returns an
// error wrapping ErrKVBudget when the pages cannot fit the budget even with
// every other cache evicted, or when every State holding memory is waiting
// for more too.
func (s *State) Grow(ctx context.Context, n int) error { return s.grow(ctx, n, true) }

// grow is Grow; without wait it fails rather than wait for memory.
func (s *State) grow(ctx context.Context, n int, wait bool) error {
	n = min(n, s.ctx)
	have := s.pages()
	want := (n + s.page - 1) / s.page
	if want <= have {
		return nil
	}
	need := int64(want-have) * s.pageBytes()
	if p := s.pool; p != nil {
		if err := p.reserve(ctx, s, need, int64(want)*s.pageBytes(), n, wait); err != nil {
			return err
		}
	} else {
		s.held.Add(need)
	}
	s.addPages(want - have)
	return nil
}

// reserve counts need more bytes for s (whose cache would then be total
// bytes for n positions), evicting and waiting as Grow says.
func (p *KVPool) reserve(ctx context.Context, s *State, need, total int64, n int, wait bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.budget > 0 && total > p.budget {
		return fmt.Errorf("%w: %d positions of the cache need %s (%d bytes, pages of %d positions of %s) but the KV cache budget is %s (%d bytes): raise --kv-budget or lower the context",
			ErrKVBudget, n, formatBytes(total), total, s.page, formatBytes(s.pageBytes()), formatBytes(p.budget), p.budget)
	}
	for p.budget > 0 && p.used+need > p.budget {
		if v := p.lruIdle(s); v != nil {
			p.evict(v)
			continue
		}
		if !wait || p.runningHolders(s) == 0 {
			return fmt.Errorf("%w: %d positions of the cache need %s more but %s of the budget of %s is in use by running requests%s",
				ErrKVBudget, n, formatBytes(need), formatBytes(p.used), formatBytes(p.budget), map[bool]string{true: " that all wait for memory", false: ""}[wait])
		}
		ch := p.freed
		s.waiting = true
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		p.mu.Lock()
		s.waiting = false
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	p.used += need
	s.held.Add(need)
	p.states[s] = struct{}{}
	return nil
}

// lruIdle returns the idle state, other than s, holding pages that was used
// the longest ago, or nil. The lock is held.
func (p *KVPool) lruIdle(s *State) *State {
	var best *State
	for v := range p.states {
		if v == s || v.pins > 0 || v.held.Load() == 0 {
			continue
		}
		if best == nil || v.lastUse < best.lastUse {
			best = v
		}
	}
	return best
}

// runningHolders returns the number of pinned states other than s that
// hold memory and are not waiting for more: those that will free memory
// once their requests end. The lock is held.
func (p *KVPool) runningHolders(s *State) int {
	n := 0
	for v := range p.states {
		if v != s && v.pins > 0 && v.held.Load() > 0 && !v.waiting {
			n++
		}
	}
	return n
}

// evict drops the pages of the idle state v. The lock is held.
func (p *KVPool) evict(v *State) {
	p.used -= v.held.Swap(0)
	v.dropPages()
	v.evicted.Store(true)
	p.evictions++
	delete(p.states, v)
}

// Release returns the state's pages to its pool (or to the garbage
// collector): the cache then holds nothing, as after an eviction. The state
// must not be running.
func (s *State) Release() {
	if p := s.pool; p != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.used -= s.held.Swap(0)
		delete(p.states, s)
		p.signal()
	}
	s.held.Store(0)
	s.dropPages()
}
