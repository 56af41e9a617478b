// Package remote measures a model served by an OpenAI-compatible server (a
// hosted API, llama.cpp's llama-server, vLLM, Ollama, another glassbox serve)
// with the tasks glassbox runs locally: its completions (for HumanEval), its
// streaming latency and speed (for bench), and, when the server returns
// them, the log-probabilities of a prompt's tokens (for perplexity and
// multiple-choice scoring). It is a thin layer over the OpenAI Go SDK
// (github.com/openai/openai-go) and llama.cpp's /tokenize extension.
//
// The API key comes from the environment: GLASSBOX_API_KEY, else
// OPENAI_API_KEY (see APIKeyFromEnv).
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// ErrUnsupported reports a task the endpoint cannot serve (the error says
// what it lacks).
var ErrUnsupported = errors.New("remote: the endpoint does not support this")

// ErrContextLength reports a prompt the served model's context cannot hold
// (the API error code context_length_exceeded).
var ErrContextLength = errors.New("remote: the prompt does not fit the model's context")

// APIKeyFromEnv returns the API key for an endpoint: $GLASSBOX_API_KEY,
// else $OPENAI_API_KEY, else "" (no Authorization header).
func APIKeyFromEnv() string {
	if k := os.Getenv("GLASSBOX_API_KEY"); k != "" {
		return k
	}
	return os.Getenv("OPENAI_API_KEY")
}

// Client calls one model at one endpoint.
type Client struct {
	// Endpoint is the API's base URL, ending in /v1 (as given, or with /v1
	// added).
	Endpoint string
	// Model is the model name sent with every request ("" lets the server
	// choose its default).
	Model string

	api  openai.Client
	http *http.Client
	key  string
}

// New returns a client of model at endpoint, an http(s) URL such as
// http://127.0.0.1:8080 or https://api.openai.com/v1 (/v1 is added when the
// path has no version), with key as its API key ("": none).
func New(endpoint, model, key string) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote: endpoint %q: expected an http:// or https:// URL such as http://127.0.0.1:8080/v1", endpoint)
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/v1") {
		u.Path += "/v1"
	}
	c := &Client{Endpoint: u.String(), Model: model, http: &http.Client{}, key: key}
	// the key given, not the SDK's $OPENAI_API_KEY default; no retry (a
	// retried request would distort a measurement)
	c.api = openai.NewClient(option.WithBaseURL(c.Endpoint+"/"), option.WithAPIKey(key), option.WithMaxRetries(0), option.WithHTTPClient(c.http))
	return c, nil
}

// CompleteOptions are the sampling settings of a completion.
type CompleteOptions struct {
	MaxTokens   int      // tokens to generate at most (> 0)
	Temperature float64  // 0: greedy
	TopP        float64  // 0: the server's default
	Seed        *int64   // when set, sent as the seed
	Stop        []string // stop strings (at most 4, as the OpenAI API allows)
}

// Complete returns the model's continuation of prompt (POST /v1/completions).
func (c *Client) Complete(ctx context.Context, prompt string, o CompleteOptions) (string, error) {
	p := c.params(prompt, o.MaxTokens)
	p.Temperature = openai.Float(o.Temperature)
	if o.TopP > 0 {
		p.TopP = openai.Float(o.TopP)
	}
	if o.Seed != nil {
		p.Seed = openai.Int(*o.Seed)
	}
	if len(o.Stop) > 0 {
		p.Stop = openai.CompletionNewParamsStopUnion{OfStringArray: o.Stop}
	}
	res, err := c.api.Completions.New(ctx, p)
	if err != nil {
		return "", c.wrap(err)
	}
	if len(res.Choices) == 0 {
		return "", fmt.Errorf("remote: %s answered a completion without a choice", c.Endpoint)
	}
	return res.Choices[0].Text, nil
}

// params starts the completion request of a text prompt.
func (c *Client) params(prompt string, maxTokens int) openai.CompletionNewParams {
	return openai.CompletionNewParams{
		Model:     openai.CompletionNewParamsModel(c.Model),
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens: openai.Int(int64(maxTokens)),
	}
}

// wrap names the endpoint in an error of the SDK.
func (c *Client) wrap(err error) error {
	if err == nil {
		return nil
	}
	var ae *openai.Error
	if errors.As(err, &ae) {
		msg := ae.Message
		if msg == "" {
			msg = strings.TrimSpace(ae.RawJSON())
		}
		if ae.Code == "context_length_exceeded" {
			return fmt.Errorf("%w: %s answered %d: %s", ErrContextLength, c.Endpoint, ae.StatusCode, msg)
		}
		return fmt.Errorf("remote: %s answered %d: %s", c.Endpoint, ae.StatusCode, msg)
	}
	return fmt.Errorf("remote: %s: %w", c.Endpoint, err)
}

// StreamTiming is what one streamed completion measured.
type StreamTiming struct {
	// PromptTokens and CompletionTokens are the usage the server reported
	// (0 when it reported none).
	PromptTokens, CompletionTokens int
	// TTFT is the time from sending the request to the first streamed text.
	TTFT time.Duration
	// Total is the time from sending the request to the end of the stream.
	Total time.Duration
	// Chunks counts the streamed chunks that carried text.
	Chunks int
}

// GenTPS returns the generation speed: the tokens after the first over the
// time from the first text to the end of the stream (0 when unknown).
func (t StreamTiming) GenTPS() float64 {
	d := (t.Total - t.TTFT).Seconds()
	if t.CompletionTokens < 2 || d <= 0 {
		return 0
	}
	return float64(t.CompletionTokens-1) / d
}

// Stream runs a streamed completion of prompt (the token ids, when ids is
// not nil) generating maxTokens tokens
// (llama.cpp's and glassbox's ignore_eos asks the server not to stop early;
// other servers ignore it) and times it. The token counts come from the
// usage the server sends at the end (stream_options.include_usage); a
// server that sends none is an error, since speeds cannot be measured
// without them.
func (c *Client) Stream(ctx context.Context, prompt string, ids []int, maxTokens int) (StreamTiming, error) {
	p := c.params(prompt, maxTokens)
	if ids != nil {
		p.Prompt = openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: toInt64(ids)}
	}
	p.Temperature = openai.Float(0)
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	var t StreamTiming
	start := time.Now()
	stream := c.api.Completions.NewStreaming(ctx, p, option.WithJSONSet("ignore_eos", true))
	defer stream.Close()
	usage := false
	for stream.Next() {
		ch := stream.Current()
		for _, choice := range ch.Choices {
			if choice.Text != "" {
				if t.Chunks == 0 {
					t.TTFT = time.Since(start)
				}
				t.Chunks++
			}
		}
		if ch.Usage.CompletionTokens > 0 || ch.Usage.PromptTokens > 0 {
			t.PromptTokens, t.CompletionTokens = int(ch.Usage.PromptTokens), int(ch.Usage.CompletionTokens)
			usage = true
		}
	}
	t.Total = time.Since(start)
	if err := stream.Err(); err != nil {
		return t, c.wrap(err)
	}
	if t.Chunks == 0 {
		return t, fmt.Errorf("remote: %s streamed no text for a %d-token completion", c.Endpoint, maxTokens)
	}
	if !usage {
		return t, fmt.Errorf("%w: %s sent no token usage at the end of the stream (stream_options.include_usage), so tokens per second cannot be measured", ErrUnsupported, c.Endpoint)
	}
	return t, nil
}

// PromptLogprobs is the log-probability the model gives each token of a
// prompt given the tokens before it.
type PromptLogprobs struct {
	// Tokens are the prompt's tokens as the server spelled them.
	Tokens []string
	// Logprobs[i] is log P(token i | tokens before it); Logprobs[0] has no
	// context and is NaN.
	Logprobs []float64
	// Offsets[i] is the byte offset of token i in the prompt's text (when
	// the server gives them; nil otherwise).
	Offsets []int
}

// ScorePrompt returns the log-probabilities of the tokens of a prompt,
// given as text or, when ids is not nil, as token ids: a completion of one
// new token with echo and logprobs, as the OpenAI API scores a text (the
// method of lm-evaluation-harness against it). A server that does not
// return them (glassbox serve, llama-server and most chat-only APIs do not)
// gives an error wrapping ErrUnsupported that says so.
func (c *Client) ScorePrompt(ctx context.Context, text string, ids []int) (*PromptLogprobs, error) {
	// one new token (max_tokens 0 is refused by many servers); its
	// log-probability follows the prompt's and is dropped
	p := c.params(text, 1)
	if ids != nil {
		p.Prompt = openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: toInt64(ids)}
	}
	p.Echo = openai.Bool(true)
	p.Logprobs = openai.Int(0)
	p.Temperature = openai.Float(0)
	res, err := c.api.Completions.New(ctx, p)
	if err != nil {
		var ae *openai.Error
		if errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 && ae.StatusCode != 401 && ae.StatusCode != 403 && ae.StatusCode != 404 {
			return nil, fmt.Errorf("%w: %s cannot return the log-probabilities of a prompt's tokens (a completion with echo and logprobs): %v", ErrUnsupported, c.Endpoint, c.wrap(err))
		}
		return nil, c.wrap(err)
	}
	if len(res.Choices) == 0 {
		return nil, fmt.Errorf("remote: %s answered a completion without a choice", c.Endpoint)
	}
	lp := res.Choices[0].Logprobs
	n := int(res.Usage.PromptTokens)
	if ids != nil {
		n = len(ids)
	}
	if len(lp.TokenLogprobs) == 0 || n > 0 && len(lp.TokenLogprobs) < n {
		return nil, fmt.Errorf("%w: %s returned no log-probabilities for the prompt's tokens (echo with logprobs): perplexity and multiple-choice scoring need them", ErrUnsupported, c.Endpoint)
	}
	if n == 0 {
		n = len(lp.TokenLogprobs)
	}
	out := &PromptLogprobs{Logprobs: make([]float64, n)}
	copy(out.Logprobs, lp.TokenLogprobs[:n])
	// the JSON null of the first token arrives as 0
	out.Logprobs[0] = math.NaN()
	if len(lp.Tokens) >= n {
		out.Tokens = lp.Tokens[:n]
	}
	if len(lp.TextOffset) >= n {
		out.Offsets = make([]int, n)
		for i := range n {
			out.Offsets[i] = int(lp.TextOffset[i])
		}
	}
	return out, nil
}

func toInt64(ids []int) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

// Tokenize returns the token ids of text in the model's vocabulary, with
// the BOS (and EOS) the model adds when special is true, through llama.cpp's
// POST /tokenize (which glassbox serve also answers). A server without it
// gives an error wrapping ErrUnsupported.
func (c *Client) Tokenize(ctx context.Context, text string, special bool) ([]int, error) {
	body, _ := json.Marshal(map[string]any{"content": text, "add_special": special, "model": c.Model})
	root := strings.TrimSuffix(c.Endpoint, "/v1")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, root+"/tokenize", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("remote: %s: %w", root, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("remote: %s/tokenize: %w", root, err)
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		return nil, fmt.Errorf("%w: %s has no POST /tokenize (llama.cpp's tokenizer endpoint), needed to cut a text into chunks of tokens", ErrUnsupported, root)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("remote: %s/tokenize answered %s: %s", root, resp.Status, strings.TrimSpace(string(data[:min(len(data), 500)])))
	}
	var out struct {
		Tokens []int `json:"tokens"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("remote: %s/tokenize: expected {\"tokens\": [ids…]}: %w", root, err)
	}
	return out.Tokens, nil
}
