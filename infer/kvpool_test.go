package infer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
)

// TestSessionsShareKVBudget runs two sessions of a batcher whose caches
// share a budget of half a full cache (run it with -race): a long prompt
// evicts the idle session's cache, whose next generation processes its
// whole prompt and gives the same reply; a prompt larger than the budget
// fails with ErrKVBudget; two sessions generating at once both finish.
func TestSessionsShareKVBudget(t *testing.T) {
	path := fixtures.Path(t, "llama2c", "stories260K.bin")
	ref, err := glassbox.Open(path, &glassbox.Options{Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	full := ref.KVCacheBytes() // 4 pages of 256 positions
	pool, err := glassbox.NewKVPool(full / 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.Open(path, &glassbox.Options{Context: 1024, KVPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, err := m.NewBatcher(2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := b.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if a.CacheBytes() != 0 || c.CacheBytes() != 0 {
		t.Fatalf("new sessions hold %d and %d bytes", a.CacheBytes(), c.CacheBytes())
	}
	ctx := context.Background()
	gen := func(s *glassbox.Session, text string) (*infer.Result, error) {
		return s.Generate(ctx, infer.Request{Prompt: m.Encode(text, glassbox.GenerateOptions{}), MaxTokens: 8})
	}
	alone := func(text string) string {
		s, err := ref.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Generate(ctx, infer.Request{Prompt: ref.Encode(text, glassbox.GenerateOptions{}), MaxTokens: 8})
		if err != nil {
			t.Fatal(err)
		}
		return r.Text
	}
	short := "Once upon a time"
	long := strings.Repeat("The cat sat on the mat. ", 25) // 2 pages
	r, err := gen(a, short)
	if err != nil || r.Text != alone(short) {
		t.Fatalf("short prompt: %v %q", err, r.Text)
	}
	r, err = gen(c, long)
	if err != nil || r.Text != alone(long) {
		t.Fatalf("long prompt: %v", err)
	}
	if !a.Evicted() || a.CacheBytes() != 0 || pool.Evictions() != 1 || len(a.Tokens()) != 0 {
		t.Fatalf("a after c's long prompt: evicted %v, %d bytes, %d evictions", a.Evicted(), a.CacheBytes(), pool.Evictions())
	}
	r, err = gen(a, short)
	if err != nil || r.Timings.CachedTokens != 0 || r.Text != alone(short) {
		t.Fatalf("a after its eviction: %v, %d cached, %q", err, r.Timings.CachedTokens, r.Text)
	}
	if a.Evicted() {
		t.Error("a still reported evicted after a generation")
	}
	_, err = gen(a, strings.Repeat(long, 3))
	if !errors.Is(err, glassbox.ErrKVBudget) {
		t.Fatalf("a prompt larger than the budget: %v", err)
	}
	// both at once, a page each: they fit together
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*glassbox.Session{a, c} {
		wg.Go(func() { _, errs[i] = gen(s, short) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("two sessions at once: %v, %v", errs[0], errs[1])
	}
	a.Free()
	if a.CacheBytes() != 0 || pool.Used() != c.CacheBytes() {
		t.Errorf("after Free: a holds %d, the pool counts %d, c holds %d", a.CacheBytes(), pool.Used(), c.CacheBytes())
	}
}
