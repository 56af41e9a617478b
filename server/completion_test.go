package server

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

var (
	parseSpecialOpts = glassbox.GenerateOptions{ParseSpecial: true}
	noBOSOpts        = glassbox.GenerateOptions{ParseSpecial: true, NoBOS: true}
)

// llamaAnswer is the non-streamed answer of /completion.
type llamaAnswer struct {
	Content         string `json:"content"`
	Tokens          []int  `json:"tokens"`
	IDSlot          int    `json:"id_slot"`
	Stop            bool   `json:"stop"`
	StopType        string `json:"stop_type"`
	TokensPredicted int    `json:"tokens_predicted"`
	TokensEvaluated int    `json:"tokens_evaluated"`
	TokensCached    int    `json:"tokens_cached"`
	Timings         *struct {
		PromptN        int     `json:"prompt_n"`
		PredictedN     int     `json:"predicted_n"`
		DraftN         int     `json:"draft_n"`
		DraftNAccepted int     `json:"draft_n_accepted"`
		PromptMS       float64 `json:"prompt_ms"`
	} `json:"timings"`
	Probs []struct {
		ID      int     `json:"id"`
		Token   string  `json:"token"`
		Logprob float64 `json:"logprob"`
		Top     []struct {
			ID      int     `json:"id"`
			Logprob float64 `json:"logprob"`
		} `json:"top_logprobs"`
	} `json:"completion_probabilities"`
}

func llamaComplete(t *testing.T, base, body string) llamaAnswer {
	t.Helper()
	code, _, b := post(t, base+"/completion", body, nil)
	if code != 200 {
		t.Fatalf("/completion %s: %d %s", body, code, b)
	}
	var a llamaAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return a
}

// TestLlamaCompletionMatchesLlamaServer: /completion answers what
// llama-server v0.5.0 answered for stories260K: the same text, tokens and
// log-probabilities, in its shape.
func TestLlamaCompletionMatchesLlamaServer(t *testing.T) {
	ref := loadReference(t)
	_, base := stdServer(t, nil)
	a := llamaComplete(t, base, `{"model":"stories","prompt":"Once upon a time","n_predict":32,"n_probs":5,"temperature":0}`)
	if a.Content != ref.Content || !slices.Equal(a.Tokens, ref.Tokens) {
		t.Errorf("content %q tokens %v\nwant %q %v", a.Content, a.Tokens, ref.Content, ref.Tokens)
	}
	if !a.Stop || a.StopType != "limit" || a.TokensPredicted != 32 || a.TokensEvaluated != 5 || a.Timings == nil || a.Timings.PredictedN != 32 {
		t.Errorf("fields: %+v", a)
	}
	if len(a.Probs) != 32 {
		t.Fatalf("%d probabilities", len(a.Probs))
	}
	for i, p := range a.Probs {
		r := ref.Probs[i]
		if p.ID != r.ID || p.Token != r.Token || math.Abs(p.Logprob-r.Logprob) > 1e-3 || len(p.Top) != 5 {
			t.Errorf("token %d: %+v, want %d %q %v", i, p, r.ID, r.Token, r.Logprob)
		}
	}
	// n_predict 0: a warm-up that only fills the cache
	tok := llamaComplete(t, base, `{"model":"stories","prompt":"Once upon a time","n_predict":0}`)
	if tok.Content != "" || len(tok.Tokens) != 0 || tok.StopType != "none" {
		t.Errorf("warm-up: %+v", tok)
	}
}

// TestLlamaCompletionPrompts: the prompt forms, id_slot and the cache.
func TestLlamaCompletionPrompts(t *testing.T) {
	s, base := stdServer(t, nil)
	e := s.models["stories"]
	text := e.model.Encode("Once upon a time", parseSpecialOpts)
	want := llamaComplete(t, base, `{"model":"stories","prompt":"Once upon a time","n_predict":8,"temperature":0,"cache_prompt":false}`)
	idsJSON, _ := json.Marshal(text)
	for name, prompt := range map[string]string{
		"ids":   string(idsJSON),
		"mixed": fmt.Sprintf(`[%d, " Once", %d]`, text[0], text[len(text)-1]),
	} {
		if name == "mixed" {
			// BOS, then " Once" without a BOS, then the last id: a different prompt, checked by its tokens_evaluated
			a := llamaComplete(t, base, `{"model":"stories","prompt":`+prompt+`,"n_predict":2,"temperature":0,"cache_prompt":false}`)
			n := 1 + len(e.model.Encode(" Once", noBOSOpts)) + 1
			if a.TokensEvaluated != n {
				t.Errorf("mixed prompt: %d tokens evaluated, want %d", a.TokensEvaluated, n)
			}
			continue
		}
		a := llamaComplete(t, base, `{"model":"stories","prompt":`+prompt+`,"n_predict":8,"temperature":0,"cache_prompt":false}`)
		if a.Content != want.Content || !slices.Equal(a.Tokens, want.Tokens) {
			t.Errorf("%s: %q, want %q", name, a.Content, want.Content)
		}
	}
	// id_slot: the slot asked for; its cache reused by the next request on it
	first := llamaComplete(t, base, `{"model":"stories","prompt":"Once upon a time","n_predict":4,"temperature":0,"id_slot":1}`)
	second := llamaComplete(t, base, `{"model":"stories","prompt":"Once upon a time","n_predict":4,"temperature":0,"id_slot":1}`)
	if first.IDSlot != 1 || second.IDSlot != 1 || second.TokensCached < len(text)-1 || second.Content != first.Content {
		t.Errorf("id_slot 1: first %+v second %+v", first, second)
	}
	// streamed: pieces, then the totals, in llama.cpp's events (no [DONE])
	code, _, b := post(t, base+"/completion", `{"model":"stories","prompt":"Once upon a time","n_predict":8,"temperature":0,"stream":true,"n_probs":2}`, nil)
	if code != 200 {
		t.Fatalf("stream: %d %s", code, b)
	}
	events := sseEvents(t, b)
	var got strings.Builder
	for i, ev := range events {
		var a llamaAnswer
		if err := json.Unmarshal([]byte(ev), &a); err != nil {
			t.Fatalf("event %d: %s", i, ev)
		}
		got.WriteString(a.Content)
		if last := i == len(events)-1; a.Stop != last || (last && (a.Timings == nil || a.TokensPredicted != 8)) || (!last && len(a.Probs) != 1) {
			t.Errorf("event %d: %s", i, ev)
		}
	}
	if got.String() != want.Content {
		t.Errorf("streamed %q, want %q", got.String(), want.Content)
	}
	for _, c := range []struct{ body, want string }{
		{`{"model":"stories"}`, "'prompt' is required"},
		{`{"model":"stories","prompt":["a","b"]}`, "several prompts"},
		{`{"model":"stories","prompt":[[1,2]]}`, "element 0 is [1,2]"},
		{`{"model":"stories","prompt":[1,99999]}`, "outside the vocabulary"},
		{`{"model":"stories","prompt":"x","id_slot":2}`, "has slots 0 to 1"},
		{`{"model":"stories","prompt":"x","id_slot":-2}`, "id_slot"},
		{`{"model":"stories","prompt":"x","n_predict":-2}`, "n_predict"},
		{`{"model":"stories","prompt":"x","mirostat":2}`, "mirostat"},
		{`{"model":"stories","prompt":7}`, "expected a string"},
	} {
		code, _, b := post(t, base+"/completion", c.body, nil)
		if code != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, code, b, c.want)
		}
	}
}

// FuzzLlamaPrompt: any prompt field gives ids inside the vocabulary or a 400.
func FuzzLlamaPrompt(f *testing.F) {
	for _, s := range []string{`"Once upon a time"`, `[1, 2, 3]`, `[1, " Once", 5]`, `["a", "b"]`, `[[1]]`, `null`, `""`, `[]`, `7`, `[-1]`, `["<s>x"]`} {
		f.Add([]byte(s))
	}
	m := openModel(f, fixtures.Path(f, "gguf", "stories260K-f32.gguf"), 0)
	e := &entry{name: "stories", model: m}
	n := m.Tokenizer().VocabSize()
	f.Fuzz(func(t *testing.T, raw []byte) {
		ids, err := llamaPrompt(e, raw)
		if err != nil {
			if !isAPIError(err) {
				t.Fatalf("%q: not an API error: %v", raw, err)
			}
			return
		}
		if len(ids) == 0 {
			t.Fatalf("%q: no ids and no error", raw)
		}
		for _, id := range ids {
			if id < 0 || id >= n {
				t.Fatalf("%q: id %d outside the vocabulary", raw, id)
			}
		}
	})
}
