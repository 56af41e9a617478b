package model

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/tensor"
)

// TestPagedCacheMatchesWhole checks that the logits do not depend on the
// page size: a 300-token prompt in chunks of 48 (page boundaries inside the
// chunks) then decode steps, alone (Forward) and batched (ForwardMulti,
// ForwardBatch), with pages of 64, 128 and 192 positions against one page
// holding the whole context, for F32 and F16 caches and Q8_0 keys, bit for
// bit; and that WriteKV writes the same bytes whatever the pages.
func TestPagedCacheMatchesWhole(t *testing.T) {
	archs := []string{"llama", "gemma2"}
	if testing.Short() {
		archs = archs[:1]
	}
	for _, arch := range archs {
		m := batchModel(t, arch, tensor.Q8_0)
		for _, kv := range []struct{ v, k tensor.Type }{{tensor.F32, 0}, {tensor.F16, 0}, {tensor.F16, tensor.Q8_0}} {
			t.Run(fmt.Sprintf("%s/kv%s/k%s", arch, kv.v, kv.k), func(t *testing.T) {
				checkPagesMatch(t, m, kv.v, kv.k)
			})
		}
	}
}

// pagedRun is what checkPagesMatch records of one run.
type pagedRun struct {
	logits [][]float32 // after the prompt, then after each decoded token
	kv     []byte      // WriteKV of every position
}

func checkPagesMatch(t *testing.T, m *Model, kv, key tensor.Type) {
	const ctx, batch, prompt, decode = 400, 48, 300, 20
	vocab := m.Config.VocabSize
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]int, prompt)
	for i := range ids {
		ids[i] = rng.IntN(vocab)
	}
	run := func(page int, multi bool) pagedRun {
		opt := StateOptions{Context: ctx, Batch: batch, KVType: kv, KeyType: key, PageSize: page}
		s, err := m.NewState(opt)
		if err != nil {
			t.Fatal(err)
		}
		// a second sequence sharing the passes of the batched run
		other, err := m.NewState(opt)
		if err != nil {
			t.Fatal(err)
		}
		var r pagedRun
		out, oout := make([]float32, vocab), make([]float32, vocab)
		mb, err := m.NewBatch(2)
		if err != nil {
			t.Fatal(err)
		}
		if !multi {
			if err := m.Forward(s, ids, 0, out); err != nil {
				t.Fatal(err)
			}
		} else {
			for pos := 0; pos < prompt; pos += batch {
				end := min(pos+batch, prompt)
				var lg []float32
				if end == prompt {
					lg = out
				}
				err := m.ForwardMulti(mb, []SeqChunk{{State: s, Tokens: ids[pos:end], Pos: pos, Logits: lg},
					{State: other, Tokens: ids[prompt-end : prompt-pos], Pos: pos, Logits: oout}})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		r.logits = append(r.logits, append([]float32(nil), out...))
		for i := range decode {
			id := argmax(out)
			pos := prompt + i
			if !multi {
				err = m.Forward(s, []int{id}, pos, out)
			} else {
				err = m.ForwardBatch(mb, []SeqStep{{State: s, Token: id, Pos: pos, Logits: out}, {State: other, Token: id, Pos: pos, Logits: oout}})
			}
			if err != nil {
				t.Fatal(err)
			}
			r.logits = append(r.logits, append([]float32(nil), out...))
		}
		var buf bytes.Buffer
		if err := s.WriteKV(&buf, prompt+decode); err != nil {
			t.Fatal(err)
		}
		r.kv = buf.Bytes()
		return r
	}
	for _, multi := range []bool{false, true} {
		want := run(512, multi)
		for _, page := range []int{64, 128, 192} {
			got := run(page, multi)
			for step := range want.logits {
				for i := range want.logits[step] {
					if got.logits[step][i] != want.logits[step][i] {
						t.Fatalf("batched %v, pages of %d: step %d logit %d = %v, one page: %v", multi, page, step, i, got.logits[step][i], want.logits[step][i])
					}
				}
			}
			if !bytes.Equal(got.kv, want.kv) {
				t.Errorf("batched %v, pages of %d: WriteKV differs from one page's", multi, page)
			}
		}
	}
}

// TestPagesOnDemand checks that a state holds no page before it runs, one
// page per PageSize positions after, and none after Release; that ReadKV
// grows the cache; and that bad page sizes are refused.
func TestPagesOnDemand(t *testing.T) {
	m := batchModel(t, "llama", tensor.Q8_0)
	opt := StateOptions{Context: 400, Batch: 16, KVType: tensor.F16, PageSize: 64}
	s, err := m.NewState(opt)
	if err != nil {
		t.Fatal(err)
	}
	page := s.pageBytes()
	if page != m.Config.KVCacheBytesTypes(64, tensor.F16, tensor.F16) {
		t.Fatalf("page of %d bytes, want %d", page, m.Config.KVCacheBytesTypes(64, tensor.F16, tensor.F16))
	}
	for _, tc := range []struct{ pos, pages int }{{0, 0}, {1, 1}, {64, 1}, {65, 2}, {200, 4}} {
		if tc.pos > 0 {
			if err := m.Forward(s, []int{1}, tc.pos-1, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.HeldBytes(); got != int64(tc.pages)*page || kvAllocated(s) != got {
			t.Errorf("after position %d: %d bytes held (%d allocated), want %d pages of %d", tc.pos, got, kvAllocated(s), tc.pages, page)
		}
	}
	var buf bytes.Buffer
	if err := s.WriteKV(&buf, 150); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteKV(&buf, 300); err == nil {
		t.Error("WriteKV of positions without pages: no error")
	}
	s.Release()
	if s.HeldBytes() != 0 || kvAllocated(s) != 0 {
		t.Errorf("after Release: %d bytes held, %d allocated", s.HeldBytes(), kvAllocated(s))
	}
	if err := s.ReadKV(bytes.NewReader(buf.Bytes()), 150); err != nil {
		t.Fatal(err)
	}
	if got := s.HeldBytes(); got != 3*page {
		t.Errorf("after ReadKV of 150 positions: %d bytes, want 3 pages", got)
	}
	for _, bad := range []int{-64, 100, 32} {
		opt.PageSize = bad
		if _, err := m.NewState(opt); err == nil || !strings.Contains(err.Error(), "multiple of 64") {
			t.Errorf("PageSize %d: error %v", bad, err)
		}
	}
}

// TestKVPoolBudget checks the budget shared by states: an idle state's
// cache is evicted for another's pages, the least recently used first; a
// cache that can never fit and a wait with nobody to free memory fail with
// ErrKVBudget; a running state that needs memory waits for another to
// become idle.
func TestKVPoolBudget(t *testing.T) {
	m := batchModel(t, "llama", tensor.Q8_0)
	page := m.Config.KVCacheBytesTypes(64, tensor.F16, tensor.F16)
	pool, err := NewKVPool(4 * page)
	if err != nil {
		t.Fatal(err)
	}
	newState := func() *State {
		s, err := m.NewState(StateOptions{Context: 400, Batch: 16, KVType: tensor.F16, PageSize: 64, Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, c := newState(), newState(), newState()
	fill := func(s *State, n int) error {
		s.Pin()
		defer s.Unpin()
		return m.Forward(s, make([]int, n), 0, nil)
	}
	// a: 2 pages, then b: 2 pages (a used before b)
	if err := fill(a, 100); err != nil {
		t.Fatal(err)
	}
	if err := fill(b, 128); err != nil {
		t.Fatal(err)
	}
	if pool.Used() != 4*page {
		t.Fatalf("used %d, want %d", pool.Used(), 4*page)
	}
	// c needs a page: a, the least recently used idle state, loses its cache
	if err := fill(c, 10); err != nil {
		t.Fatal(err)
	}
	if !a.Evicted() || b.Evicted() || a.HeldBytes() != 0 || pool.Evictions() != 1 || pool.Used() != 3*page {
		t.Fatalf("after c's page: a evicted %v (%d bytes), b evicted %v, %d evictions, %d used", a.Evicted(), a.HeldBytes(), b.Evicted(), pool.Evictions(), pool.Used())
	}
	if !a.Pin() || a.Evicted() {
		t.Error("Pin after an eviction does not report it once")
	}
	a.Unpin()
	if a.Pin() {
		t.Error("a second Pin reports the eviction again")
	}
	a.Unpin()
	// never fits: 5 pages of 4
	err = fill(a, 300)
	if !errors.Is(err, ErrKVBudget) || !strings.Contains(err.Error(), "300 positions") {
		t.Errorf("a cache larger than the budget: %v", err)
	}
	// c (1 page) grows to 3 and b (2 pages) to 4 pages while both run:
	// c waits for b, then b's growth would wait for c, which waits: an error
	b.Pin()
	c.Pin()
	done := make(chan error, 1)
	go func() { done <- c.Grow(context.Background(), 192) }()
	for !waiting(pool, c) {
		time.Sleep(time.Millisecond)
	}
	err = b.Grow(context.Background(), 256)
	if !errors.Is(err, ErrKVBudget) || !strings.Contains(err.Error(), "wait") {
		t.Errorf("growth with every holder waiting: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("growth returned %v while the memory was in use", err)
	default:
	}
	// once b is idle, c takes its pages
	b.Unpin()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !b.Evicted() || c.HeldBytes() != 3*page || pool.Used() != 3*page {
		t.Errorf("after b became idle: b evicted %v, c holds %d bytes, %d used", b.Evicted(), c.HeldBytes(), pool.Used())
	}
	c.Unpin()
	b.Pin()
	// a wait ends with its context
	// (b running with 3 pages, a with 1, c pinned: c's second page waits)
	if err := b.Grow(context.Background(), 192); err != nil {
		t.Fatal(err)
	}
	a.Pin()
	if err := a.Grow(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	c.Pin()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := c.Grow(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a wait past its context: %v", err)
	}
	c.Unpin()
	a.Unpin()
	b.Unpin()
	if _, err := NewKVPool(-1); err == nil {
		t.Error("a negative budget: no error")
	}
}

// waiting reports whether s waits in Grow.
func waiting(p *KVPool, s *State) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.waiting
}

// TestKVPoolConcurrent runs states of one pool from several goroutines
// (run it with -race): each pinned run gets its pages or a clear error,
// and the pool's count ends equal to the pages held.
func TestKVPoolConcurrent(t *testing.T) {
	m := batchModel(t, "llama", tensor.Q8_0)
	page := m.Config.KVCacheBytesTypes(64, tensor.F16, tensor.F16)
	pool, err := NewKVPool(6 * page)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	states := make([]*State, 4)
	for i := range states {
		states[i], err = m.NewState(StateOptions{Context: 256, Batch: 16, KVType: tensor.F16, PageSize: 64, Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 5 {
				s.Pin()
				err := m.Forward(s, make([]int, 30+40*((i+r)%4)), 0, nil)
				s.Unpin()
				if err != nil && !errors.Is(err, ErrKVBudget) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var held int64
	for _, s := range states {
		held += s.HeldBytes()
	}
	if held != pool.Used() || held > pool.Budget() {
		t.Errorf("states hold %d bytes, the pool counts %d (budget %d)", held, pool.Used(), pool.Budget())
	}
}

// TestKVPage: Config.KVPage is the page a State of the same options takes
// when it first writes a position.
func TestKVPage(t *testing.T) {
	m := batchModel(t, "llama", tensor.Q8_0)
	for _, tc := range []struct {
		opt       StateOptions
		positions int
	}{
		{StateOptions{Context: 1024, KVType: tensor.F16}, 256},
		{StateOptions{Context: 100, KVType: tensor.F16}, 128}, // the context rounded up to 64
		{StateOptions{Context: 400, KVType: tensor.F32, PageSize: 64}, 64},
		{StateOptions{Context: 400, KVType: tensor.F16, KeyType: tensor.Q8_0}, 256}, // quantized keys count their blocks
		{StateOptions{Context: 300, KVType: tensor.F16, FlashAttn: true}, 320},      // one page of the whole context
		{StateOptions{Context: 300, KVType: tensor.Q8_0, FlashAttn: true}, 320},
	} {
		positions, bytes := m.Config.KVPage(tc.opt)
		s, err := m.NewState(tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Forward(s, []int{1}, 0, nil); err != nil {
			t.Fatal(err)
		}
		if positions != tc.positions || positions != s.PageSize() || bytes != s.HeldBytes() {
			t.Errorf("%+v: KVPage %d positions of %d bytes, a State's first page %d of %d; want %d positions", tc.opt, positions, bytes, s.PageSize(), s.HeldBytes(), tc.positions)
		}
	}
}
