// Package remote measures a model served by an OpenAI-compatible server (a
// hosted API, llama.cpp's llama-server, vLLM, Ollama, another glassbox serve)
// with the tasks glassbox runs locally: its completions (for HumanEval), its
// streaming latency and speed (for bench), and, when the server returns
// them, the log-probabilities of a prompt's tokens (for perplexity and
// multiple-choice scoring). It speaks the OpenAI completions API (JSON and
// server-sent events) and llama.cpp's /tokenize extension over net/http, so
// the glassbox binary carries no full API SDK (an SDK for the whole OpenAI
// API adds about 30 MB to the binary and 10 MB to the memory of every run).
//
// The API key comes from the environment: GLASSBOX_API_KEY, else
// OPENAI_API_KEY (see APIKeyFromEnv).
package remote

import (
	"bufio"
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
	"sync/atomic"
	"time"
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

	http *http.Client
	key  string
	// scoreTokens is the max_tokens ScorePrompt sends once it is known:
	// 0 (prompt scoring only, as glassbox and vLLM accept) or 1 (a server
	// that refuses 0); -1 until the first ScorePrompt finds out.
	scoreTokens atomic.Int32
}

// New returns a client of model at endpoint, an http(s) URL such as
// http://127.0.0.1:8080 or https://api.openai.com/v1 (/v1 is added when the
// path has no version), with key as its API key ("": none). Requests are
// never retried: a retried request would distort a measurement.
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
	c.scoreTokens.Store(-1)
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

// completionRequest is the body of POST /v1/completions: the OpenAI
// fields glassbox sends, and llama.cpp's ignore_eos.
type completionRequest struct {
	Model         string         `json:"model"`
	Prompt        any            `json:"prompt"` // a string or token ids
	MaxTokens     int            `json:"max_tokens"`
	Temperature   float64        `json:"temperature"`
	TopP          *float64       `json:"top_p,omitempty"`
	Seed          *int64         `json:"seed,omitempty"`
	Stop          []string       `json:"stop,omitempty"`
	Echo          bool           `json:"echo,omitempty"`
	Logprobs      *int           `json:"logprobs,omitempty"`
	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	IgnoreEOS     bool           `json:"ignore_eos,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// completion is a completion response or one streamed chunk of it.
type completion struct {
	Choices []struct {
		Text     string `json:"text"`
		Logprobs *struct {
			Tokens        []string   `json:"tokens"`
			TokenLogprobs []*float64 `json:"token_logprobs"`
			TextOffset    []int      `json:"text_offset"`
		} `json:"logprobs"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// apiError is an error answer of the API, with its HTTP status.
type apiError struct {
	status  int
	message string
	code    string
}

func (e *apiError) Error() string { return fmt.Sprintf("answered %d: %s", e.status, e.message) }

// maxResponse bounds a response body (a completion with the log-probabilities
// of a long prompt is the largest).
const maxResponse = 256 << 20

// post sends a completion request and returns the response, whose body the
// caller closes; an error status becomes an *apiError.
func (c *Client) post(ctx context.Context, path string, body any) (*http.Response, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint+path, bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("remote: %s: %w", c.Endpoint, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &apiError{status: resp.StatusCode}
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &v) == nil && len(v.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
			Code    any    `json:"code"`
		}
		if json.Unmarshal(v.Error, &obj) == nil {
			e.message = obj.Message
			if s, ok := obj.Code.(string); ok {
				e.code = s
			}
		} else {
			var str string
			if json.Unmarshal(v.Error, &str) == nil {
				e.message = str
			}
		}
	}
	if e.message == "" {
		e.message = strings.TrimSpace(string(raw[:min(len(raw), 500)]))
		if e.message == "" {
			e.message = resp.Status
		}
	}
	return nil, e
}

// wrap names the endpoint in an error.
func (c *Client) wrap(err error) error {
	if err == nil {
		return nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.code == "context_length_exceeded" {
			return fmt.Errorf("%w: %s answered %d: %s", ErrContextLength, c.Endpoint, ae.status, ae.message)
		}
		return fmt.Errorf("remote: %s answered %d: %s", c.Endpoint, ae.status, ae.message)
	}
	return err
}

// complete sends a non-streamed completion request and decodes its answer.
func (c *Client) complete(ctx context.Context, r completionRequest) (*completion, error) {
	resp, err := c.post(ctx, "/completions", r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("remote: %s/completions: %w", c.Endpoint, err)
	}
	if len(raw) > maxResponse {
		return nil, fmt.Errorf("remote: %s/completions: the answer is larger than %d MiB", c.Endpoint, maxResponse>>20)
	}
	var out completion
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("remote: %s/completions: expected a completion object: %w", c.Endpoint, err)
	}
	if len(out.Choices) == 0 {
		return nil, fmt.Errorf("remote: %s answered a completion without a choice", c.Endpoint)
	}
	return &out, nil
}

// prompt is the prompt field: the token ids when given, else the text.
func prompt(text string, ids []int) any {
	if ids != nil {
		return ids
	}
	return text
}

// Complete returns the model's continuation of prompt (POST /v1/completions).
func (c *Client) Complete(ctx context.Context, prompt string, o CompleteOptions) (string, error) {
	r := completionRequest{Model: c.Model, Prompt: prompt, MaxTokens: o.MaxTokens, Temperature: o.Temperature, Seed: o.Seed, Stop: o.Stop}
	if o.TopP > 0 {
		r.TopP = &o.TopP
	}
	res, err := c.complete(ctx, r)
	if err != nil {
		return "", c.wrap(err)
	}
	return res.Choices[0].Text, nil
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
func (c *Client) Stream(ctx context.Context, text string, ids []int, maxTokens int) (StreamTiming, error) {
	r := completionRequest{Model: c.Model, Prompt: prompt(text, ids), MaxTokens: maxTokens, Stream: true,
		StreamOptions: &streamOptions{IncludeUsage: true}, IgnoreEOS: true}
	var t StreamTiming
	start := time.Now()
	resp, err := c.post(ctx, "/completions", r)
	if err != nil {
		return t, c.wrap(err)
	}
	defer resp.Body.Close()
	usage := false
	err = readEvents(resp.Body, func(data []byte) error {
		var ch struct {
			completion
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(data, &ch); err != nil {
			return fmt.Errorf("remote: %s: expected a completion chunk in the stream: %w", c.Endpoint, err)
		}
		if ch.Error != nil {
			return fmt.Errorf("remote: %s: the stream ended with an error: %s", c.Endpoint, ch.Error.Message)
		}
		for _, choice := range ch.Choices {
			if choice.Text != "" {
				if t.Chunks == 0 {
					t.TTFT = time.Since(start)
				}
				t.Chunks++
			}
		}
		if ch.Usage != nil && (ch.Usage.CompletionTokens > 0 || ch.Usage.PromptTokens > 0) {
			t.PromptTokens, t.CompletionTokens = ch.Usage.PromptTokens, ch.Usage.CompletionTokens
			usage = true
		}
		return nil
	})
	t.Total = time.Since(start)
	if err != nil {
		return t, err
	}
	if t.Chunks == 0 {
		return t, fmt.Errorf("remote: %s streamed no text for a %d-token completion", c.Endpoint, maxTokens)
	}
	if !usage {
		return t, fmt.Errorf("%w: %s sent no token usage at the end of the stream (stream_options.include_usage), so tokens per second cannot be measured", ErrUnsupported, c.Endpoint)
	}
	return t, nil
}

// maxEvent bounds one server-sent event.
const maxEvent = 16 << 20

// readEvents calls fn with the data of each server-sent event of r until
// "data: [DONE]" or the end of the stream. Comments and other fields are
// skipped; the data lines of one event are joined by newlines.
func readEvents(r io.Reader, fn func(data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEvent)
	var data []byte
	have := false
	flush := func() error {
		if !have {
			return nil
		}
		d := data
		data, have = data[:0], false
		if string(d) == "[DONE]" {
			return io.EOF
		}
		return fn(d)
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if err := flush(); err != nil {
				return ignoreEOF(err)
			}
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue // a comment (": …") or event, id, retry
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if have {
			data = append(data, '\n')
		}
		data = append(data, value...)
		have = true
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("remote: a streamed event is longer than %d MiB", maxEvent>>20)
		}
		return fmt.Errorf("remote: reading the stream: %w", err)
	}
	return ignoreEOF(flush())
}

func ignoreEOF(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
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
// given as text or, when ids is not nil, as token ids: a completion with
// echo and logprobs, as the OpenAI API scores a text (the method of
// lm-evaluation-harness against it). It asks for max_tokens 0 (the prompt
// scored, nothing generated: glassbox serve, vLLM and OpenAI's legacy
// completions accept it) and, where the server refuses 0, for one token
// whose log-probability is dropped; the client remembers which. A server
// that does not return prompt log-probabilities (llama-server's
// /v1/completions refuses echo; most chat-only APIs lack it) gives an error
// wrapping ErrUnsupported that says so.
func (c *Client) ScorePrompt(ctx context.Context, text string, ids []int) (*PromptLogprobs, error) {
	zero := 0
	req := completionRequest{Model: c.Model, Prompt: prompt(text, ids), Echo: true, Logprobs: &zero}
	refused := func(err error) bool {
		var ae *apiError
		return errors.As(err, &ae) && ae.status >= 400 && ae.status < 500 && ae.status != 401 && ae.status != 403 && ae.status != 404 && ae.status != 429
	}
	known := c.scoreTokens.Load()
	req.MaxTokens = max(int(known), 0)
	res, err := c.complete(ctx, req)
	if err != nil && known < 0 && refused(err) {
		req.MaxTokens = 1
		res, err = c.complete(ctx, req)
		if err == nil {
			c.scoreTokens.Store(1)
		}
	} else if err == nil && known < 0 {
		c.scoreTokens.Store(0)
	}
	if err != nil {
		if refused(err) {
			return nil, fmt.Errorf("%w: %s cannot return the log-probabilities of a prompt's tokens (a completion with echo and logprobs): %v", ErrUnsupported, c.Endpoint, c.wrap(err))
		}
		return nil, c.wrap(err)
	}
	lp := res.Choices[0].Logprobs
	n := 0
	if res.Usage != nil {
		n = res.Usage.PromptTokens
	}
	if ids != nil {
		n = len(ids)
	}
	if lp == nil || len(lp.TokenLogprobs) == 0 || n > 0 && len(lp.TokenLogprobs) < n {
		return nil, fmt.Errorf("%w: %s returned no log-probabilities for the prompt's tokens (echo with logprobs): perplexity and multiple-choice scoring need them", ErrUnsupported, c.Endpoint)
	}
	if n == 0 {
		n = len(lp.TokenLogprobs)
	}
	out := &PromptLogprobs{Logprobs: make([]float64, n)}
	for i, v := range lp.TokenLogprobs[:n] {
		switch {
		case i == 0: // the first token has no context (JSON null)
			out.Logprobs[i] = math.NaN()
		case v == nil:
			return nil, fmt.Errorf("remote: %s returned no log-probability (null) for prompt token %d of %d", c.Endpoint, i, n)
		default:
			out.Logprobs[i] = *v
		}
	}
	if len(lp.Tokens) >= n {
		out.Tokens = lp.Tokens[:n]
	}
	if len(lp.TextOffset) >= n {
		out.Offsets = lp.TextOffset[:n]
	}
	return out, nil
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
