package server

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/eval"
	"glassbox/internal/fixtures"
	"glassbox/models"
	"glassbox/remote"
)

// TestEvalThroughEndpoint: glassbox eval perplexity and choice through
// --endpoint against glassbox serve (this package, on loopback) give the
// local computation's figures on the default model, within 1e-4.
func TestEvalThroughEndpoint(t *testing.T) {
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	srv, err := New(Config{Models: []Model{{Name: "default", Model: m}}, Parallel: 1, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	c, err := remote.New(hs.URL+"/v1", "default", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	b, err := os.ReadFile(fixtures.Path(t, "text", "tinyshakespeare.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b[:6000])
	opt := eval.PerplexityOptions{Ctx: 128, Chunks: 4}
	local, err := eval.Perplexity(ctx, m, text, opt)
	if err != nil {
		t.Fatal(err)
	}
	remoteRes, err := eval.PerplexityEndpoint(ctx, c, text, opt)
	if err != nil {
		t.Fatal(err)
	}
	if local.Chunks != 4 || remoteRes.Chunks != local.Chunks || remoteRes.Scored != local.Scored || remoteRes.Tokens != local.Tokens {
		t.Fatalf("chunks %d/%d, scored %d/%d, tokens %d/%d", remoteRes.Chunks, local.Chunks, remoteRes.Scored, local.Scored, remoteRes.Tokens, local.Tokens)
	}
	if d := math.Abs(remoteRes.Perplexity - local.Perplexity); d > 1e-4 {
		t.Errorf("perplexity through the endpoint %.6f, local %.6f (differ by %.2g)", remoteRes.Perplexity, local.Perplexity, d)
	}
	if d := math.Abs(remoteRes.NLL - local.NLL); d > 1e-4 {
		t.Errorf("NLL through the endpoint %.6f, local %.6f", remoteRes.NLL, local.NLL)
	}
	t.Logf("perplexity %.6f local, %.6f through the endpoint", local.Perplexity, remoteRes.Perplexity)

	f, err := os.Open("../eval/testdata/choice-en-fr.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	items, err := eval.ParseChoices(f)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := eval.Choice(ctx, m, items, eval.ChoiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := eval.ChoiceEndpoint(ctx, c, items, eval.ChoiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lc.Acc != rc.Acc || lc.AccNorm != rc.AccNorm || len(lc.Items) != len(rc.Items) {
		t.Fatalf("choice: acc %v/%v, acc_norm %v/%v through the endpoint/locally", rc.Acc, lc.Acc, rc.AccNorm, lc.AccNorm)
	}
	for i := range lc.Items {
		for k, want := range lc.Items[i].LogLikelihoods {
			if got := rc.Items[i].LogLikelihoods[k]; math.Abs(got-want) > 1e-4 {
				t.Errorf("question %d choice %d: log-likelihood %.6f through the endpoint, %.6f locally", i, k, got, want)
			}
		}
	}
}

// TestEchoLogprobs: echo with logprobs returns the prompt's text and its
// tokens' log-probabilities (null for the first), then the generated
// tokens'; max_tokens 0 scores the prompt only.
func TestEchoLogprobs(t *testing.T) {
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	srv, err := New(Config{Models: []Model{{Name: "default", Model: m}}, Parallel: 1, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	const prompt = "func main() {"
	ids := m.Encode(prompt, glassbox.GenerateOptions{})
	sc, err := m.NewScorer(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	logits, err := sc.Logits(context.Background(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := sc.VocabSize()
	type resp struct {
		Choices []struct {
			Text     string `json:"text"`
			Logprobs struct {
				Tokens        []string             `json:"tokens"`
				TokenLogprobs []*float64           `json:"token_logprobs"`
				TopLogprobs   []map[string]float64 `json:"top_logprobs"`
				TextOffset    []int                `json:"text_offset"`
			} `json:"logprobs"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	for _, tc := range []struct {
		name      string
		maxTokens int
		stream    bool
	}{{"prompt only", 0, false}, {"and 3 new tokens", 3, false}, {"streamed", 3, true}} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"default","prompt":` + quote(prompt) + `,"echo":true,"logprobs":2,"temperature":0,"max_tokens":` + itoa(tc.maxTokens)
			var r resp
			if tc.stream {
				status, _, b := post(t, hs.URL+"/v1/completions", body+`,"stream":true}`, nil)
				if status != 200 {
					t.Fatalf("status %d: %s", status, b)
				}
				// concatenate the chunks
				r.Choices = make([]struct {
					Text     string `json:"text"`
					Logprobs struct {
						Tokens        []string             `json:"tokens"`
						TokenLogprobs []*float64           `json:"token_logprobs"`
						TopLogprobs   []map[string]float64 `json:"top_logprobs"`
						TextOffset    []int                `json:"text_offset"`
					} `json:"logprobs"`
					FinishReason string `json:"finish_reason"`
				}, 1)
				for _, d := range sseEvents(t, b) {
					if d == "[DONE]" {
						break
					}
					var ch resp
					if err := json.Unmarshal([]byte(d), &ch); err != nil {
						t.Fatal(err)
					}
					for _, c := range ch.Choices {
						a := &r.Choices[0]
						a.Text += c.Text
						a.Logprobs.Tokens = append(a.Logprobs.Tokens, c.Logprobs.Tokens...)
						a.Logprobs.TokenLogprobs = append(a.Logprobs.TokenLogprobs, c.Logprobs.TokenLogprobs...)
						a.Logprobs.TopLogprobs = append(a.Logprobs.TopLogprobs, c.Logprobs.TopLogprobs...)
						a.Logprobs.TextOffset = append(a.Logprobs.TextOffset, c.Logprobs.TextOffset...)
					}
				}
			} else {
				status, _, b := post(t, hs.URL+"/v1/completions", body+"}", nil)
				if status != 200 {
					t.Fatalf("status %d: %s", status, b)
				}
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatal(err)
				}
				if r.Usage.PromptTokens != len(ids) || r.Usage.CompletionTokens != tc.maxTokens {
					t.Errorf("usage %+v", r.Usage)
				}
				if tc.maxTokens == 0 && r.Choices[0].FinishReason != "length" {
					t.Errorf("finish_reason %q", r.Choices[0].FinishReason)
				}
			}
			ch := r.Choices[0]
			if !strings.HasPrefix(ch.Text, prompt) || (tc.maxTokens == 0) != (ch.Text == prompt) {
				t.Errorf("text %q, want the prompt %q in front", ch.Text, prompt)
			}
			lp := ch.Logprobs
			if len(lp.TokenLogprobs) != len(ids)+tc.maxTokens || len(lp.Tokens) != len(lp.TokenLogprobs) || len(lp.TopLogprobs) != len(lp.Tokens) || len(lp.TextOffset) != len(lp.Tokens) {
				t.Fatalf("%d tokens, %d log-probabilities, %d tops, %d offsets; want %d", len(lp.Tokens), len(lp.TokenLogprobs), len(lp.TopLogprobs), len(lp.TextOffset), len(ids)+tc.maxTokens)
			}
			if lp.TokenLogprobs[0] != nil || lp.TopLogprobs[0] != nil {
				t.Errorf("the first token has log-probability %v and top %v, want null", lp.TokenLogprobs[0], lp.TopLogprobs[0])
			}
			for i := 1; i < len(ids); i++ {
				row := logits[(i-1)*v : i*v]
				want := float64(row[ids[i]]) - lse(row)
				if lp.TokenLogprobs[i] == nil || math.Abs(*lp.TokenLogprobs[i]-want) > 1e-4 {
					t.Errorf("prompt token %d: log-probability %v, want %.6f", i, lp.TokenLogprobs[i], want)
				}
				// the top 2: the row's two largest log-probabilities (two
				// tokens that print alike keep the likelier)
				sorted := slices.Clone(row)
				slices.Sort(sorted)
				best := float64(sorted[v-1]) - lse(row)
				var got []float64
				for _, x := range lp.TopLogprobs[i] {
					got = append(got, x)
				}
				slices.Sort(got)
				if len(got) == 0 || len(got) > 2 || math.Abs(got[len(got)-1]-best) > 1e-4 ||
					len(got) == 2 && math.Abs(got[0]-(float64(sorted[v-2])-lse(row))) > 1e-4 {
					t.Errorf("prompt token %d: top %v, want the two best log-probabilities %.4f, %.4f", i, lp.TopLogprobs[i], best, float64(sorted[v-2])-lse(row))
				}
			}
			for i := len(ids); i < len(lp.TokenLogprobs); i++ {
				if lp.TokenLogprobs[i] == nil {
					t.Errorf("generated token %d has no log-probability", i-len(ids))
				}
			}
			for i := 1; i < len(lp.TextOffset); i++ {
				if lp.TextOffset[i] < lp.TextOffset[i-1] || lp.TextOffset[i] > len(ch.Text) {
					t.Errorf("offsets %v are not increasing within the text", lp.TextOffset)
					break
				}
			}
		})
	}
}

// TestEchoFullContext: a prompt that fills the context can be scored
// (max_tokens 0), not continued.
func TestEchoFullContext(t *testing.T) {
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Context: 32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	srv, err := New(Config{Models: []Model{{Name: "default", Model: m}}, Parallel: 1, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ids := make([]int, 32)
	for i := range ids {
		ids[i] = 100 + i
	}
	b, _ := json.Marshal(ids)
	for mt, want := range map[int]int{0: 200, 1: 400} {
		status, _, body := post(t, hs.URL+"/v1/completions", `{"model":"default","prompt":`+string(b)+`,"echo":true,"logprobs":0,"max_tokens":`+itoa(mt)+`}`, nil)
		if status != want {
			t.Errorf("max_tokens %d: status %d, want %d: %s", mt, status, want, body)
		}
	}
}

func lse(row []float32) float64 {
	mx := math.Inf(-1)
	for _, x := range row {
		mx = math.Max(mx, float64(x))
	}
	var s float64
	for _, x := range row {
		s += math.Exp(float64(x) - mx)
	}
	return mx + math.Log(s)
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
