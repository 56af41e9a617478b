package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// TestLeadingSpaceContent: when a continuation starts with a "▁word" token,
// completions and chat keep its leading space, as llama-server does, and the
// log-probability tokens spell exactly the text. The prompts are llama-server's
// reference prompt plus its first k generated tokens.
func TestLeadingSpaceContent(t *testing.T) {
	ref := loadReference(t)
	_, base := stdServer(t, nil)
	c := client(base, "")
	ctx := context.Background()
	prefix := ""
	cases := 0
	for k, p := range ref.Probs {
		if k > 0 && strings.HasPrefix(p.Token, " ") && (k == 1 || k == len(ref.Probs)-1) {
			cases++
			prompt := "Once upon a time" + prefix
			want := strings.TrimPrefix(ref.Content, prefix)
			var wantTokens []string
			for _, r := range ref.Probs[k:] {
				wantTokens = append(wantTokens, r.Token)
			}
			res, err := c.Completions.New(ctx, openai.CompletionNewParams{
				Model:     "stories",
				Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
				MaxTokens: openai.Int(int64(len(ref.Probs) - k)), Temperature: openai.Float(0), Logprobs: openai.Int(1),
			})
			if err != nil {
				t.Fatal(err)
			}
			ch := res.Choices[0]
			if ch.Text != want || strings.Join(ch.Logprobs.Tokens, "") != want || strings.Join(wantTokens, "") != want {
				t.Errorf("completion of %q: text %q, logprob tokens %q, want %q (llama-server's tokens %q)", prompt, ch.Text, ch.Logprobs.Tokens, want, wantTokens)
			}
			chat, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:     "chat",
				Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
				MaxTokens: openai.Int(int64(len(ref.Probs) - k)), Temperature: openai.Float(0), Logprobs: openai.Bool(true),
			})
			if err != nil {
				t.Fatal(err)
			}
			var spelled strings.Builder
			for _, lp := range chat.Choices[0].Logprobs.Content {
				spelled.WriteString(lp.Token)
			}
			if got := chat.Choices[0].Message.Content; got != want || spelled.String() != want {
				t.Errorf("chat after %q: content %q, logprob tokens %q, want %q", prompt, got, spelled.String(), want)
			}
		}
		prefix += p.Token
	}
	if cases != 2 {
		t.Fatalf("%d cases, want 2 (the reference's tokens changed?)", cases)
	}

	// An empty prompt (BOS alone): the text starts at the first token, which
	// loses its space prefix, in the text and in the log-probabilities alike.
	res, err := c.Completions.New(ctx, openai.CompletionNewParams{
		Model:     "stories",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("")},
		MaxTokens: openai.Int(8), Temperature: openai.Float(0), Logprobs: openai.Int(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := res.Choices[0]
	if !strings.HasPrefix(ch.Text, "Once upon a time") || strings.Join(ch.Logprobs.Tokens, "") != ch.Text {
		t.Errorf("empty prompt: text %q, logprob tokens %q", ch.Text, ch.Logprobs.Tokens)
	}
	if _, ok := ch.Logprobs.TopLogprobs[0]["Once"]; !ok {
		t.Errorf("empty prompt: first top logprobs %v lack \"Once\"", ch.Logprobs.TopLogprobs[0])
	}
}

// TestModelInfoParams: the model view reports distinct parameters, the
// stories260K conversion storing its embedding twice counted once.
func TestModelInfoParams(t *testing.T) {
	_, url := stdServer(t, nil)
	resp, err := http.Get(url + "/glassbox/models/stories")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info modelInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.Params != 260032 || info.ParamsStored != 292800 {
		t.Errorf("params %d, stored %d; want 260032 and 292800", info.Params, info.ParamsStored)
	}
}
