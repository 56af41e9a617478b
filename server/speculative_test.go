package server

import (
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

// TestSpeculativeCompletion serves stories260K with a draft model (its
// Q8_0 conversion) on two batched slots: /completion at temperature 0
// gives the text of a server without speculation, timings.draft_n and
// draft_n_accepted count the drafts, speculative.n_max changes the round
// length, a bad speculative.* field is a 400, and /slots says speculative.
func TestSpeculativeCompletion(t *testing.T) {
	target := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	draft := openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-Q8_0.gguf"), 0)
	_, plain := testServer(t, Config{Models: []Model{{Name: "stories", Model: openModel(t, target, 0)}}, Parallel: 2, Queue: 4})
	_, spec := testServer(t, Config{Models: []Model{{Name: "stories", Model: openModel(t, target, 0)}}, Parallel: 2, Queue: 4,
		Speculative: &glassbox.Speculative{Draft: draft, Max: 6}})
	body := `{"prompt":"Once upon a time","n_predict":40,"temperature":0,"cache_prompt":false`
	want := llamaComplete(t, plain, body+`}`)
	for _, extra := range []string{``, `,"speculative.n_max":2,"speculative.n_min":1,"speculative.p_min":0.2`} {
		got := llamaComplete(t, spec, body+extra+`}`)
		if got.Content != want.Content || !slices.Equal(got.Tokens, want.Tokens) {
			t.Errorf("%s: %q, without speculation %q", extra, got.Content, want.Content)
		}
		if got.Timings == nil || got.Timings.DraftN == 0 || got.Timings.DraftNAccepted == 0 || got.Timings.DraftNAccepted > got.Timings.DraftN {
			t.Errorf("%s: timings %+v, want drafted and accepted tokens", extra, got.Timings)
		}
	}
	if w := llamaComplete(t, plain, body+`,"speculative.n_max":3}`); w.Timings.DraftN != 0 {
		t.Errorf("a server without speculation drafted %d tokens", w.Timings.DraftN)
	}
	code, _, b := post(t, spec+"/completion", body+`,"speculative.n_max":0}`, nil)
	if code != 400 || !strings.Contains(string(b), "speculative.n_max") {
		t.Errorf("speculative.n_max 0: %d %s", code, b)
	}
	if _, _, b = get(t, spec+"/slots", nil); !strings.Contains(string(b), `"speculative":true`) {
		t.Errorf("/slots: %s", b)
	}
}
