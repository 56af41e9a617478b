package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func client(base, key string) openai.Client {
	if key == "" {
		key = "unused"
	}
	return openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0),
		option.WithRequestTimeout(60*time.Second))
}

const logprobTol = 2e-3

func near(a, b float64) bool { return math.Abs(a-b) <= logprobTol }

// TestOpenAIChat checks chat completions through the official Go client
// against llama-server's greedy output and log-probabilities for the same model.
func TestOpenAIChat(t *testing.T) {
	ref := loadReference(t)
	_, base := stdServer(t, nil)
	c := client(base, "")
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:       "chat",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once upon a time")},
		MaxTokens:   openai.Int(32),
		Temperature: openai.Float(0),
		Logprobs:    openai.Bool(true),
		TopLogprobs: openai.Int(5),
	}
	t.Run("non-streamed", func(t *testing.T) {
		res, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.ID, "chatcmpl-") || res.Object != "chat.completion" || res.Model != "chat" || res.Created == 0 || res.SystemFingerprint == "" {
			t.Errorf("envelope: id %q object %q model %q created %d fingerprint %q", res.ID, res.Object, res.Model, res.Created, res.SystemFingerprint)
		}
		if len(res.Choices) != 1 {
			t.Fatalf("%d choices", len(res.Choices))
		}
		ch := res.Choices[0]
		if ch.Message.Content != ref.Content || ch.Message.Role != "assistant" || ch.FinishReason != "length" {
			t.Errorf("content %q role %q finish %q, want %q, length", ch.Message.Content, ch.Message.Role, ch.FinishReason, ref.Content)
		}
		if u := res.Usage; u.PromptTokens != 5 || u.CompletionTokens != 32 || u.TotalTokens != 37 {
			t.Errorf("usage %+v, want 5 + 32 = 37", u)
		}
		lp := ch.Logprobs.Content
		if len(lp) != 32 {
			t.Fatalf("%d logprobs entries, want 32", len(lp))
		}
		for i, e := range lp {
			r := ref.Probs[i]
			if e.Token != r.Token || !near(e.Logprob, r.Logprob) || !equalInts64(e.Bytes, r.Bytes) || len(e.TopLogprobs) != 5 {
				t.Errorf("token %d: %q %v %v (%d top), llama-server %q %v %v", i, e.Token, e.Logprob, e.Bytes, len(e.TopLogprobs), r.Token, r.Logprob, r.Bytes)
				continue
			}
			for k, top := range e.TopLogprobs {
				if top.Token != r.Top[k].Token || !near(top.Logprob, r.Top[k].Logprob) {
					t.Errorf("token %d top %d: %q %v, llama-server %q %v", i, k, top.Token, top.Logprob, r.Top[k].Token, r.Top[k].Logprob)
				}
			}
		}
	})
	t.Run("streamed", func(t *testing.T) {
		p := params
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := c.Chat.Completions.NewStreaming(ctx, p)
		defer stream.Close()
		var text strings.Builder
		var role, finish string
		var usage *openai.CompletionUsage
		var lps []openai.ChatCompletionTokenLogprob
		chunks := 0
		for stream.Next() {
			ch := stream.Current()
			chunks++
			if ch.Object != "chat.completion.chunk" || !strings.HasPrefix(ch.ID, "chatcmpl-") {
				t.Errorf("chunk envelope %q %q", ch.Object, ch.ID)
			}
			if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
				u := ch.Usage
				usage = &u
				if len(ch.Choices) != 0 {
					t.Errorf("the usage chunk has %d choices", len(ch.Choices))
				}
			}
			for _, c := range ch.Choices {
				if c.Delta.Role != "" {
					role = c.Delta.Role
				}
				text.WriteString(c.Delta.Content)
				lps = append(lps, c.Logprobs.Content...)
				if c.FinishReason != "" {
					finish = c.FinishReason
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != ref.Content || role != "assistant" || finish != "length" {
			t.Errorf("streamed %q (role %q, finish %q), want %q", text.String(), role, finish, ref.Content)
		}
		if chunks < 32 {
			t.Errorf("only %d chunks for 32 tokens", chunks)
		}
		if usage == nil || usage.PromptTokens != 5 || usage.CompletionTokens != 32 {
			t.Errorf("usage chunk %+v", usage)
		}
		if len(lps) != 32 {
			t.Fatalf("%d streamed logprobs, want 32", len(lps))
		}
		for i, e := range lps {
			if e.Token != ref.Probs[i].Token || !near(e.Logprob, ref.Probs[i].Logprob) {
				t.Errorf("streamed token %d: %q %v, llama-server %q %v", i, e.Token, e.Logprob, ref.Probs[i].Token, ref.Probs[i].Logprob)
			}
		}
	})
	t.Run("stop and n", func(t *testing.T) {
		res, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once upon a time")},
			MaxTokens: openai.Int(32), Temperature: openai.Float(0), N: openai.Int(2),
			Stop: openai.ChatCompletionNewParamsStopUnion{OfString: openai.String(" Lily")},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := ref.Content[:strings.Index(ref.Content, " Lily")]
		if len(res.Choices) != 2 {
			t.Fatalf("%d choices, want 2", len(res.Choices))
		}
		for i, ch := range res.Choices {
			if ch.Index != int64(i) || ch.Message.Content != want || ch.FinishReason != "stop" {
				t.Errorf("choice %d: index %d %q finish %q, want %q stop", i, ch.Index, ch.Message.Content, ch.FinishReason, want)
			}
		}
	})
}

func equalInts64(a []int64, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != int64(b[i]) {
			return false
		}
	}
	return true
}

// TestOpenAICompletions checks the legacy completions API, its logprobs
// shape and streaming, against llama-server's output.
func TestOpenAICompletions(t *testing.T) {
	ref := loadReference(t)
	srv, base := stdServer(t, nil)
	c := client(base, "")
	ctx := context.Background()
	params := openai.CompletionNewParams{
		Model:       "stories",
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens:   openai.Int(32),
		Temperature: openai.Float(0),
		Logprobs:    openai.Int(5),
	}
	t.Run("non-streamed", func(t *testing.T) {
		res, err := c.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.ID, "cmpl-") || res.Object != "text_completion" || res.Model != "stories" {
			t.Errorf("envelope %q %q %q", res.ID, res.Object, res.Model)
		}
		ch := res.Choices[0]
		if ch.Text != ref.Content || ch.FinishReason != "length" {
			t.Errorf("text %q finish %q, want %q length", ch.Text, ch.FinishReason, ref.Content)
		}
		if res.Usage.PromptTokens != 5 || res.Usage.CompletionTokens != 32 || res.Usage.TotalTokens != 37 {
			t.Errorf("usage %+v", res.Usage)
		}
		lp := ch.Logprobs
		if len(lp.Tokens) != 32 || len(lp.TokenLogprobs) != 32 || len(lp.TopLogprobs) != 32 || len(lp.TextOffset) != 32 {
			t.Fatalf("logprobs lengths %d %d %d %d, want 32", len(lp.Tokens), len(lp.TokenLogprobs), len(lp.TopLogprobs), len(lp.TextOffset))
		}
		offset := 0
		for i := range lp.Tokens {
			r := ref.Probs[i]
			if lp.Tokens[i] != r.Token || !near(lp.TokenLogprobs[i], r.Logprob) || lp.TextOffset[i] != int64(offset) {
				t.Errorf("token %d: %q %v offset %d, want %q %v offset %d", i, lp.Tokens[i], lp.TokenLogprobs[i], lp.TextOffset[i], r.Token, r.Logprob, offset)
			}
			offset += len(r.Token)
			if len(lp.TopLogprobs[i]) != 5 {
				t.Errorf("token %d: %d top logprobs, want 5", i, len(lp.TopLogprobs[i]))
			}
			for _, top := range r.Top {
				if v, ok := lp.TopLogprobs[i][top.Token]; !ok || !near(v, top.Logprob) {
					t.Errorf("token %d: top %q = %v (present %v), llama-server %v", i, top.Token, v, ok, top.Logprob)
				}
			}
		}
	})
	t.Run("streamed", func(t *testing.T) {
		p := params
		p.Logprobs = openai.Int(0)
		stream := c.Completions.NewStreaming(ctx, p)
		defer stream.Close()
		var text strings.Builder
		finish := ""
		for stream.Next() {
			for _, ch := range stream.Current().Choices {
				text.WriteString(ch.Text)
				if ch.FinishReason != "" {
					finish = string(ch.FinishReason)
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != ref.Content || finish != "length" {
			t.Errorf("streamed %q finish %q, want %q", text.String(), finish, ref.Content)
		}
	})
	t.Run("token prompt, echo and several prompts", func(t *testing.T) {
		res, err := c.Completions.New(ctx, openai.CompletionNewParams{
			Model:       "stories",
			Prompt:      openai.CompletionNewParamsPromptUnion{OfArrayOfTokenArrays: [][]int64{{1, 403, 407, 261, 378}, {1, 403, 407, 261, 378}}},
			MaxTokens:   openai.Int(32),
			Temperature: openai.Float(0),
			Echo:        openai.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Choices) != 2 || res.Usage.PromptTokens != 10 || res.Usage.CompletionTokens != 64 {
			t.Fatalf("%d choices, usage %+v", len(res.Choices), res.Usage)
		}
		// echo gives the detokenized prompt, as llama.cpp renders it (" Once" keeps its space)
		echo := srv.models["stories"].model.Tokenizer().Decode([]int{1, 403, 407, 261, 378})
		if echo != " Once upon a time" {
			t.Fatalf("detokenized prompt %q", echo)
		}
		for i, ch := range res.Choices {
			if ch.Text != echo+ref.Content || ch.Index != int64(i) {
				t.Errorf("choice %d: %q", i, ch.Text)
			}
		}
	})
}

// TestOpenAIErrors checks that the client sees OpenAI error objects with the right status.
func TestOpenAIErrors(t *testing.T) {
	_, base := stdServer(t, func(c *Config) { c.APIKey = "sesame" })
	ctx := context.Background()
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once upon a time")}
	tests := []struct {
		name   string
		key    string
		params openai.ChatCompletionNewParams
		status int
		code   string
		param  string
		msg    string
	}{
		{"unknown model", "sesame", openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: msgs}, 404, "model_not_found", "model", `"gpt-4o" does not exist`},
		{"bad key", "wrong", openai.ChatCompletionNewParams{Model: "chat", Messages: msgs}, 401, "invalid_api_key", "", "API key"},
		{"temperature", "sesame", openai.ChatCompletionNewParams{Model: "chat", Messages: msgs, Temperature: openai.Float(3)}, 400, "", "temperature", "between 0 and 2"},
		{"no template", "sesame", openai.ChatCompletionNewParams{Model: "stories", Messages: msgs}, 400, "", "model", "no chat template"},
		{"n", "sesame", openai.ChatCompletionNewParams{Model: "chat", Messages: msgs, N: openai.Int(99)}, 400, "", "n", "between 1 and 16"},
		{"top_logprobs", "sesame", openai.ChatCompletionNewParams{Model: "chat", Messages: msgs, TopLogprobs: openai.Int(3)}, 400, "", "top_logprobs", "needs 'logprobs'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := client(base, tt.key)
			_, err := cl.Chat.Completions.New(ctx, tt.params)
			var ae *openai.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want an *openai.Error", err)
			}
			if ae.StatusCode != tt.status || ae.Code != tt.code || ae.Param != tt.param || !strings.Contains(ae.Message, tt.msg) {
				t.Errorf("status %d code %q param %q message %q; want %d %q %q containing %q", ae.StatusCode, ae.Code, ae.Param, ae.Message, tt.status, tt.code, tt.param, tt.msg)
			}
		})
	}
	// the streaming client sees the error before any chunk
	cl := client(base, "sesame")
	stream := cl.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "nope", Messages: msgs})
	for stream.Next() {
		t.Error("a chunk for an unknown model")
	}
	var ae *openai.Error
	if err := stream.Err(); !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound {
		t.Errorf("stream error %v", err)
	}
}

// TestOpenAIModelsAndEmbeddings lists the models and embeds text through the client.
func TestOpenAIModelsAndEmbeddings(t *testing.T) {
	_, base := stdServer(t, nil)
	c := client(base, "")
	ctx := context.Background()
	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" || m.OwnedBy != "glassbox" || m.Created == 0 {
			t.Errorf("model %+v", m)
		}
	}
	if strings.Join(ids, ",") != "chat,stories,fim" {
		t.Errorf("models %v", ids)
	}
	if m, err := c.Models.Get(ctx, "fim"); err != nil || m.ID != "fim" {
		t.Errorf("get fim: %v %+v", err, m)
	}
	var ae *openai.Error
	if _, err := c.Models.Get(ctx, "nope"); !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "model_not_found" {
		t.Errorf("get unknown model: %v", err)
	}

	texts := []string{"Once upon a time", "The cat sat on the mat.", "Once upon a time"}
	res, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "stories", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 3 || res.Usage.PromptTokens == 0 || res.Model != "stories" {
		t.Fatalf("%d embeddings, usage %+v", len(res.Data), res.Usage)
	}
	for i, d := range res.Data {
		var ss float64
		for _, x := range d.Embedding {
			ss += x * x
		}
		if len(d.Embedding) != 64 || math.Abs(ss-1) > 1e-4 || d.Index != int64(i) {
			t.Errorf("embedding %d: %d values, norm² %v", i, len(d.Embedding), ss)
		}
	}
	if cos := dot(res.Data[0].Embedding, res.Data[2].Embedding); math.Abs(cos-1) > 1e-6 {
		t.Errorf("the same text gave cosine %v", cos)
	}
	if cos := dot(res.Data[0].Embedding, res.Data[1].Embedding); cos > 0.9999 {
		t.Errorf("different texts gave cosine %v", cos)
	}
	// token ids and base64 give the same vector
	b64, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "stories", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfTokens: []int64{1, 403, 407, 261, 378}},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cos := dot(res.Data[0].Embedding, b64.Data[0].Embedding); math.Abs(cos-1) > 1e-6 {
		t.Errorf("token ids + base64 gave cosine %v with the text", cos)
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
