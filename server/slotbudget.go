package server

import (
	"fmt"
	"net/http"

	"glassbox"
	"glassbox/store"
)

// The KV cache budget of a slot (Config.KVSlotBudget). A slot's cache grows
// in pages (glassbox.Model.KVPage); under the budget it may hold as many
// whole pages as the budget pays for, so a model's slot holds at most
// slotContext positions, as if its context were that long: a request that
// would need more is refused before any work (slotFit), and a generation
// stops with finish_reason "length" once its slot is full (run). It
// combines with the budget all slots share (Config.KVPool): a slot within
// its own budget may still wait for, or evict, another slot's pages.

// slotContext returns the positions a slot of m may hold under a budget of
// budget bytes (0: no limit, the context): the whole pages it pays for, at
// most the context. A budget smaller than one page is an error.
func slotContext(m *glassbox.Model, budget int64) (int, error) {
	ctx := m.ContextSize()
	if budget <= 0 {
		return ctx, nil
	}
	positions, bytes := m.KVPage()
	pages := budget / bytes
	if pages < 1 {
		return 0, fmt.Errorf("the KV cache budget of a slot (--kv-budget-slot), %s (%d bytes), is less than one page of its cache: %d positions of %s (%d bytes); raise it to at least %d bytes",
			store.FormatBytes(budget), budget, positions, store.FormatBytes(bytes), bytes, bytes)
	}
	return int(min(pages*int64(positions), int64(ctx))), nil
}

// limited reports whether the budget of a slot holds the model's slots to
// fewer positions than its context.
func (e *entry) limited() bool { return e.slotCtx > 0 && e.slotCtx < e.model.ContextSize() }

// slotPositions returns the positions a slot of the model may hold: its
// context, or fewer under Config.KVSlotBudget.
func (e *entry) slotPositions() int {
	if e.limited() {
		return e.slotCtx
	}
	return e.model.ContextSize()
}

// slotFit refuses (400) a generation whose prompt of n tokens and up to
// maxTokens generated (0: no limit, and at least one position for the first
// token) would need more positions than a slot may hold under
// Config.KVSlotBudget, saying what it needs and what a slot may hold.
func (s *Server) slotFit(e *entry, n, maxTokens int) error {
	if !e.limited() {
		return nil
	}
	need := n + max(maxTokens, 1)
	if need <= e.slotCtx {
		return nil
	}
	positions, bytes := e.model.KVPage()
	pages := (need + positions - 1) / positions
	what := fmt.Sprintf("the prompt's %d tokens and up to %d generated ones need %d positions", n, maxTokens, need)
	if maxTokens <= 0 {
		what = fmt.Sprintf("the prompt's %d tokens need %d positions (generating needs at least one free position)", n, need)
	}
	budget := s.cfg.KVSlotBudget
	return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "context_length_exceeded",
		Message: fmt.Sprintf("%s of KV cache, %s (%d pages of %d positions), but a slot of model %s may hold at most %s (%d bytes, --kv-budget-slot): %d positions; shorten the prompt or ask for fewer tokens",
			what, store.FormatBytes(int64(pages)*bytes), pages, positions, e.name, store.FormatBytes(budget), budget, e.slotCtx)}
}

// kvHeld returns the bytes of KV cache pages the model's slots hold, running
// or idle.
func (e *entry) kvHeld() int64 {
	var held int64
	for _, sl := range e.pool.all {
		held += sl.session.CacheBytes()
	}
	return held
}

// slotBytes returns the most bytes of KV cache a slot of the model holds:
// its full cache, or the whole pages of its positions under
// Config.KVSlotBudget.
func (e *entry) slotBytes() int64 {
	if !e.limited() {
		return e.model.KVCacheBytes()
	}
	positions, bytes := e.model.KVPage()
	return int64((e.slotCtx+positions-1)/positions) * bytes
}
