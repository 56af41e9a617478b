package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"glassbox/remote"
)

// fakeScorer is an OpenAI-compatible server over a toy model: each byte of
// a text is a token (BOS is 1000 when asked), and the log-probability of
// token id after any context is −(1 + id mod 4)/4. It returns prompt
// log-probabilities only when logprobs is true.
func fakeScorer(t *testing.T, logprobs bool) string {
	t.Helper()
	lp := func(id int) float64 { return -float64(1+id%4) / 4 }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokenize", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var req struct {
			Content    string `json:"content"`
			AddSpecial bool   `json:"add_special"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		ids := []int{}
		if req.AddSpecial {
			ids = append(ids, 1000)
		}
		for _, b := range []byte(req.Content) {
			ids = append(ids, int(b))
		}
		json.NewEncoder(w).Encode(map[string]any{"tokens": ids})
	})
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var req struct {
			Prompt   []int `json:"prompt"`
			Echo     bool  `json:"echo"`
			Logprobs *int  `json:"logprobs"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !req.Echo || req.Logprobs == nil {
			http.Error(w, `{"error":{"message":"want token ids with echo and logprobs"}}`, 400)
			return
		}
		choice := map[string]any{"text": "x", "index": 0, "finish_reason": "length"}
		if logprobs {
			var lps []any
			for i, id := range append(req.Prompt, 'x') {
				if i == 0 {
					lps = append(lps, nil)
				} else {
					lps = append(lps, lp(id))
				}
			}
			choice["logprobs"] = map[string]any{"token_logprobs": lps}
		}
		json.NewEncoder(w).Encode(map[string]any{"id": "c", "object": "text_completion", "model": "toy", "choices": []any{choice},
			"usage": map[string]any{"prompt_tokens": len(req.Prompt), "completion_tokens": 1, "total_tokens": len(req.Prompt) + 1}})
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL
}

func TestPerplexityAndChoiceEndpoint(t *testing.T) {
	c, err := remote.New(fakeScorer(t, true), "toy", "")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("abcdefgh", 5) // 40 tokens and BOS
	res, err := PerplexityEndpoint(context.Background(), c, text, PerplexityOptions{Ctx: 8})
	if err != nil {
		t.Fatal(err)
	}
	// 41 tokens: 5 chunks of 8, each scoring positions 4…6 against tokens 5…7
	var nll float64
	tokens := []int{1000}
	for _, b := range []byte(text) {
		tokens = append(tokens, int(b))
	}
	for ch := range 5 {
		for i := 4; i < 7; i++ {
			nll += float64(1+tokens[ch*8+i+1]%4) / 4
		}
	}
	if want := math.Exp(nll / 15); res.Chunks != 5 || res.Scored != 15 || res.Tokens != 41 || math.Abs(res.Perplexity-want) > 1e-12 {
		t.Errorf("perplexity %+v, want %.6f over 5 chunks", res, want)
	}
	// choices: " b" (−1/4 − 3/4) beats " c" (−1/4 − 1), " a" (−1/4 − 1/2) beats " b"
	items := []ChoiceItem{{Context: "x", Choices: []string{"b", "c"}, Answer: 0}, {Context: "x", Choices: []string{"b", "a"}, Answer: 0}}
	cr, err := ChoiceEndpoint(context.Background(), c, items, ChoiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cr.Correct != 1 || cr.Items[0].Predicted != 0 || cr.Items[1].Predicted != 1 || cr.Items[0].LogLikelihoods[0] != -1.0 {
		t.Errorf("choice %+v", cr)
	}
	// a server that echoes without log-probabilities
	c2, _ := remote.New(fakeScorer(t, false), "toy", "")
	if _, err := PerplexityEndpoint(context.Background(), c2, text, PerplexityOptions{Ctx: 8}); !errors.Is(err, remote.ErrUnsupported) || !strings.Contains(err.Error(), "no log-probabilities") {
		t.Errorf("without logprobs: %v", err)
	}
}
