package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"glassbox"
)

// Limits on request values.
const (
	maxN        = 16 // choices per request
	maxTopProbs = 20 // top_logprobs / logprobs
	maxStops    = 16 // stop strings
)

// SamplingFields are the sampling settings a request may carry: OpenAI's and
// the extra ones llama.cpp's server accepts. Unset fields take llama.cpp's
// defaults (glassbox.DefaultSamplerParams).
type SamplingFields struct {
	Temperature      *float32 `json:"temperature"`
	TopP             *float32 `json:"top_p"`
	TopK             *int     `json:"top_k"`
	MinP             *float32 `json:"min_p"`
	RepeatPenalty    *float32 `json:"repeat_penalty"`
	RepeatLastN      *int     `json:"repeat_last_n"`
	PresencePenalty  *float32 `json:"presence_penalty"`
	FrequencyPenalty *float32 `json:"frequency_penalty"`
	Seed             *int64   `json:"seed"`
	// LogitBias is added to the logits of the given tokens before sampling.
	LogitBias LogitBias `json:"logit_bias"`
	// IgnoreEOS (llama.cpp) keeps generating past end-of-generation tokens.
	IgnoreEOS bool `json:"ignore_eos"`
	// Grammar (llama.cpp) is a GBNF grammar the output must follow.
	Grammar string `json:"grammar"`
	// JSONSchema (llama.cpp) is a JSON Schema the output must validate against.
	JSONSchema json.RawMessage `json:"json_schema"`
	// ResponseFormat (OpenAI) is {"type": "text"}, {"type": "json_object"}
	// or {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}.
	ResponseFormat json.RawMessage `json:"response_format"`
	// CachePrompt (llama.cpp, default true) reuses the longest prefix of
	// the prompt a slot's KV cache already holds, and picks the free slot
	// holding the longest one; false takes any free slot and processes the
	// whole prompt.
	CachePrompt *bool `json:"cache_prompt"`
	// SpecNMax, SpecNMin and SpecPMin (llama.cpp's speculative.n_max,
	// speculative.n_min and speculative.p_min) override, for this request,
	// the draft lengths and probability floor of a server started with
	// speculative decoding (glassbox serve --draft or --lookup); without
	// it they are ignored, as llama.cpp ignores them without a draft model.
	SpecNMax *int     `json:"speculative.n_max"`
	SpecNMin *int     `json:"speculative.n_min"`
	SpecPMin *float64 `json:"speculative.p_min"`
}

// speculative validates the speculative.* fields and applies them to base
// (nil: the server does not decode speculatively, and they are ignored).
func (f *SamplingFields) speculative(base *glassbox.Speculative) (*glassbox.Speculative, error) {
	if f.SpecNMax != nil && (*f.SpecNMax < 1 || *f.SpecNMax > 64) {
		return nil, badRequest("speculative.n_max", "invalid value for 'speculative.n_max': expected an integer between 1 and 64, got %d", *f.SpecNMax)
	}
	if f.SpecNMin != nil && *f.SpecNMin < 0 {
		return nil, badRequest("speculative.n_min", "invalid value for 'speculative.n_min': expected an integer >= 0, got %d", *f.SpecNMin)
	}
	if f.SpecPMin != nil && (math.IsNaN(*f.SpecPMin) || *f.SpecPMin < 0 || *f.SpecPMin > 1) {
		return nil, badRequest("speculative.p_min", "invalid value for 'speculative.p_min': expected a number between 0 and 1, got %v", *f.SpecPMin)
	}
	if base == nil {
		return nil, nil
	}
	sp := *base
	if f.SpecNMax != nil {
		sp.Max = *f.SpecNMax
	}
	if f.SpecNMin != nil {
		sp.Min = *f.SpecNMin
	}
	if f.SpecPMin != nil {
		sp.PMin = *f.SpecPMin
	}
	if sp.Min > sp.Max && sp.Max > 0 {
		return nil, badRequest("speculative.n_min", "invalid value for 'speculative.n_min': %d is above speculative.n_max %d", sp.Min, sp.Max)
	}
	return &sp, nil
}

// grammar returns the GBNF grammar the fields ask for ("" for none): from
// grammar, json_schema or response_format, at most one of them.
func (f *SamplingFields) grammar() (string, error) {
	var g, from string
	set := func(field, src string) error {
		if from != "" {
			return badRequest(field, "'%s' and '%s' both constrain the output: give one of them", from, field)
		}
		g, from = src, field
		return nil
	}
	if f.Grammar != "" {
		if err := glassbox.CheckGrammar(f.Grammar); err != nil {
			return "", badRequest("grammar", "invalid value for 'grammar': %v", err)
		}
		set("grammar", f.Grammar)
	}
	if js := bytes.TrimSpace(f.JSONSchema); len(js) > 0 && !bytes.Equal(js, []byte("null")) {
		src, err := glassbox.JSONSchemaGrammar(js)
		if err != nil {
			return "", badRequest("json_schema", "invalid value for 'json_schema': %v", err)
		}
		if err := set("json_schema", src); err != nil {
			return "", err
		}
	}
	if rf := bytes.TrimSpace(f.ResponseFormat); len(rf) > 0 && !bytes.Equal(rf, []byte("null")) {
		var v struct {
			Type       string          `json:"type"`
			Schema     json.RawMessage `json:"schema"` // llama.cpp's json_object with a schema
			JSONSchema *struct {
				Name   string          `json:"name"`
				Schema json.RawMessage `json:"schema"`
				Strict *bool           `json:"strict"`
			} `json:"json_schema"`
		}
		if err := json.Unmarshal(rf, &v); err != nil {
			return "", badRequest("response_format", `invalid value for 'response_format': expected {"type": "text" | "json_object" | "json_schema", ...}: %v`, err)
		}
		var schema json.RawMessage
		switch v.Type {
		case "text":
			return g, nil
		case "json_object":
			schema = v.Schema
		case "json_schema":
			if v.JSONSchema == nil || len(bytes.TrimSpace(v.JSONSchema.Schema)) == 0 {
				return "", badRequest("response_format", `invalid value for 'response_format': type json_schema needs "json_schema": {"name": ..., "schema": {...}}`)
			}
			schema = v.JSONSchema.Schema
		default:
			return "", badRequest("response_format", "invalid value for 'response_format.type': expected text, json_object or json_schema, got %q", v.Type)
		}
		src := glassbox.JSONObjectGrammar()
		if len(bytes.TrimSpace(schema)) > 0 {
			var err error
			if src, err = glassbox.JSONSchemaGrammar(schema); err != nil {
				return "", badRequest("response_format", "invalid value for 'response_format': %v", err)
			}
		}
		if err := set("response_format", src); err != nil {
			return "", err
		}
	}
	return g, nil
}

// maxBias is the largest absolute bias of logit_bias, as in OpenAI's API.
const maxBias = 100

// LogitBias is the "logit_bias" field: OpenAI's object mapping token ids (as
// strings) to a bias between -100 and 100, or llama.cpp's array of
// [token, bias] pairs where the token is an id or a text (each of its tokens
// gets the bias) and the bias a number between -100 and 100 or false (the
// token is banned). The bias is added to the token's logit before sampling.
type LogitBias []BiasEntry

// BiasEntry is one token (or text) of a LogitBias and its bias.
type BiasEntry struct {
	ID     int     // the token id, when Text is nil
	Text   *string // llama.cpp's text form: every token of the text
	Bias   float32 // added to the logit
	Banned bool    // llama.cpp's false: the token is never sampled
}

const biasExpected = `expected an object mapping token ids to numbers between -100 and 100 (such as {"50256": -100}), or llama.cpp's array of [token id or text, bias or false] pairs`

// UnmarshalJSON accepts OpenAI's object form, llama.cpp's array form and null.
func (lb *LogitBias) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*lb = nil
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return &fieldError{"logit_bias", biasExpected}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			id, err := strconv.Atoi(strings.TrimSpace(k))
			if err != nil {
				return &fieldError{"logit_bias", fmt.Sprintf("the keys are token ids such as \"50256\", got %q (to bias a text, use llama.cpp's array form [[%q, -100]])", k, k)}
			}
			e := BiasEntry{ID: id}
			if err := e.setBias(m[k], false, k); err != nil {
				return err
			}
			*lb = append(*lb, e)
		}
		return nil
	case len(b) > 0 && b[0] == '[':
		var pairs []json.RawMessage
		if err := json.Unmarshal(b, &pairs); err != nil {
			return &fieldError{"logit_bias", biasExpected}
		}
		for i, raw := range pairs {
			var pair []json.RawMessage
			if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
				return &fieldError{"logit_bias", fmt.Sprintf("element %d: expected a [token id or text, bias or false] pair, got %s", i, shorten(raw))}
			}
			var e BiasEntry
			var text string
			if err := json.Unmarshal(pair[0], &e.ID); err != nil {
				if err := json.Unmarshal(pair[0], &text); err != nil {
					return &fieldError{"logit_bias", fmt.Sprintf("element %d: the token must be an integer id or a text, got %s", i, shorten(pair[0]))}
				}
				e.Text = &text
			}
			if err := e.setBias(pair[1], true, shorten(pair[0])); err != nil {
				return err
			}
			*lb = append(*lb, e)
		}
		return nil
	}
	return &fieldError{"logit_bias", biasExpected}
}

// setBias reads a bias value: a number in [-maxBias, maxBias], or false when allowed.
func (e *BiasEntry) setBias(raw json.RawMessage, allowFalse bool, token string) error {
	if allowFalse && bytes.Equal(bytes.TrimSpace(raw), []byte("false")) {
		e.Banned = true
		return nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil || math.IsNaN(v) || v < -maxBias || v > maxBias {
		also := ""
		if allowFalse {
			also = " or false"
		}
		return &fieldError{"logit_bias", fmt.Sprintf("the bias of token %s must be a number between -%d and %d%s, got %s", token, maxBias, maxBias, also, shorten(raw))}
	}
	e.Bias = float32(v)
	return nil
}

// resolveBias turns the request's logit bias into the sampler's, checking
// token ids against the model's vocabulary and tokenizing texts.
// generationRequest is a request body that starts a generation: it checks
// itself and names its model.
type generationRequest interface {
	validate() (genParams, error)
	modelName() string
}

func (r *ChatRequest) modelName() string       { return r.Model }
func (r *CompletionRequest) modelName() string { return r.Model }
func (r *InfillRequest) modelName() string     { return r.Model }

// beginGeneration is the prologue every generation handler shares: decode the
// body into req, validate it, find its model and bind its logit biases to
// that model's vocabulary.
func (s *Server) beginGeneration(r *http.Request, req generationRequest) (genParams, *entry, error) {
	if err := decodeJSON(r.Body, req); err != nil {
		return genParams{}, nil, err
	}
	g, err := req.validate()
	if err != nil {
		return genParams{}, nil, err
	}
	e, err := s.lookup(r.Context(), req.modelName())
	if err != nil {
		return genParams{}, nil, err
	}
	if err := g.resolveBias(e); err != nil {
		return genParams{}, nil, err
	}
	return g, e, nil
}

func (g *genParams) resolveBias(e *entry) error {
	if len(g.bias) == 0 {
		return nil
	}
	tok := e.model.Tokenizer()
	n := tok.VocabSize()
	m := make(map[int]float32, len(g.bias))
	for _, b := range g.bias {
		v := b.Bias
		if b.Banned {
			v = float32(math.Inf(-1))
		}
		if b.Text != nil {
			ids := tok.Encode(*b.Text, noSpecial)
			if len(ids) == 0 {
				return badRequest("logit_bias", "invalid value for 'logit_bias': the text %q has no tokens", *b.Text)
			}
			for _, id := range ids {
				m[id] = v
			}
			continue
		}
		if b.ID < 0 || b.ID >= n {
			return badRequest("logit_bias", "invalid value for 'logit_bias': token %d is outside the vocabulary of model %s (0 to %d)", b.ID, e.name, n-1)
		}
		m[b.ID] = v
	}
	g.sampler.LogitBias = m
	return nil
}

// StopList is the "stop" field: a string or an array of strings.
type StopList []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (s *StopList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = StopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return &fieldError{"stop", "expected a string or an array of strings"}
	}
	*s = many
	return nil
}

// StreamOptions are the options of a streamed response.
type StreamOptions struct {
	// IncludeUsage adds a last chunk with the usage and no choices.
	IncludeUsage bool `json:"include_usage"`
}

// ChatMessage is one message of a chat request.
type ChatMessage struct {
	Role    string         `json:"role"`
	Content MessageContent `json:"content"`
	// Name is the name of the message's author or, in a "tool" message, of
	// the tool.
	Name string `json:"name"`
	// ToolCalls are the calls of an assistant message.
	ToolCalls []ChatToolCall `json:"tool_calls"`
	// ToolCallID is the id of the call a "tool" message answers.
	ToolCallID string `json:"tool_call_id"`
	// ReasoningContent is an assistant message's reasoning (llama.cpp's
	// and DeepSeek's field), given back to templates that show it.
	ReasoningContent string `json:"reasoning_content"`
}

// ChatToolCall is a tool call, in an assistant message of a request and in
// replies.
type ChatToolCall struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function ChatToolFunction `json:"function"`
}

// ChatToolFunction is the function of a ChatToolCall; Arguments is JSON text.
type ChatToolFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ChatTool is an element of a request's "tools".
type ChatTool struct {
	Type     string        `json:"type"`
	Function *ChatFunction `json:"function"`
}

// ChatFunction describes a function tool.
type ChatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

// ToolChoice is the "tool_choice" field: "none", "auto", "required", or
// {"type": "function", "function": {"name": ...}}.
type ToolChoice glassbox.ToolChoice

const toolChoiceExpected = `expected "none", "auto", "required" or {"type": "function", "function": {"name": ...}}`

// UnmarshalJSON accepts the forms of OpenAI's tool_choice and null.
func (c *ToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*c = ToolChoice{}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var mode string
	if err := json.Unmarshal(b, &mode); err == nil {
		switch mode {
		case "none", "auto", "required":
			c.Mode = mode
			return nil
		}
		return &fieldError{"tool_choice", fmt.Sprintf("%s, got %q", toolChoiceExpected, mode)}
	}
	var obj struct {
		Type     string `json:"type"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.Type != "function" || obj.Function == nil || obj.Function.Name == "" {
		return &fieldError{"tool_choice", fmt.Sprintf("%s, got %s", toolChoiceExpected, shorten(b))}
	}
	c.Mode, c.Function = "function", obj.Function.Name
	return nil
}

// MessageContent is a message's content: a string, null, or an array of
// content parts of which only {"type": "text", "text": ...} are supported.
type MessageContent string

// UnmarshalJSON accepts a string, null or an array of text parts.
func (c *MessageContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*c = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = MessageContent(s)
		return nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return &fieldError{"messages.content", "expected a string or an array of content parts"}
	}
	var buf bytes.Buffer
	for _, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return &fieldError{"messages.content", fmt.Sprintf("content parts of type %q are not supported: this model reads text only (parts of type \"text\" with a \"text\" field)", p.Type)}
		}
		buf.WriteString(*p.Text)
	}
	*c = MessageContent(buf.String())
	return nil
}

// ChatRequest is the body of POST /v1/chat/completions.
type ChatRequest struct {
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	SamplingFields
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	N                   *int           `json:"n"`
	Stop                StopList       `json:"stop"`
	Stream              bool           `json:"stream"`
	StreamOptions       *StreamOptions `json:"stream_options"`
	Logprobs            *bool          `json:"logprobs"`
	TopLogprobs         *int           `json:"top_logprobs"`
	// Glassbox holds glassbox's extension: {"dissect": true} streams the
	// dissection of the reply (as /v1/dissect) instead of chat chunks.
	Glassbox *GlassboxOptions `json:"glassbox"`
	// Tools are the tools the model may call.
	Tools []ChatTool `json:"tools"`
	// ToolChoice says whether the model must call one.
	ToolChoice ToolChoice `json:"tool_choice"`
	// ParallelToolCalls false allows one call per reply (default true).
	ParallelToolCalls *bool `json:"parallel_tool_calls"`
	// ChatTemplateKwargs are further variables of the chat template
	// (llama.cpp's and vLLM's chat_template_kwargs), such as
	// {"enable_thinking": false}.
	ChatTemplateKwargs map[string]any `json:"chat_template_kwargs"`
}

// chatOptions returns the request's tool settings for the SDK; malformed
// tools are a bad request naming the field.
func (r *ChatRequest) chatOptions() (glassbox.ChatOptions, error) {
	var o glassbox.ChatOptions
	for i, t := range r.Tools {
		if t.Function == nil {
			return o, badRequest(fmt.Sprintf("tools[%d].function", i), "'tools[%d].function' is required: expected {\"name\", \"description\", \"parameters\"}", i)
		}
		o.Tools = append(o.Tools, glassbox.Tool{Type: t.Type, Function: glassbox.ToolFunction{
			Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters,
			Strict: t.Function.Strict != nil && *t.Function.Strict,
		}})
	}
	o.ToolChoice = glassbox.ToolChoice(r.ToolChoice)
	o.NoParallelToolCalls = r.ParallelToolCalls != nil && !*r.ParallelToolCalls
	for k := range r.ChatTemplateKwargs {
		switch k {
		case "messages", "tools", "add_generation_prompt", "bos_token", "eos_token", "raise_exception", "strftime_now":
			return o, badRequest("chat_template_kwargs", "invalid value for 'chat_template_kwargs': %q is set by the server (from the request's messages, tools and the model), not by chat_template_kwargs", k)
		}
	}
	o.TemplateVars = r.ChatTemplateKwargs
	if err := glassbox.ValidateTools(o.Tools, o.ToolChoice); err != nil {
		te := err.(*glassbox.ToolError)
		return o, badRequest(te.Param, "%s", te.Message)
	}
	return o, nil
}

// PromptInput is the "prompt" of a completion request: a string, an array of
// strings, an array of token ids, or an array of arrays of token ids. Each
// element is one prompt, given as text or as ids.
type PromptInput []Prompt

// Prompt is one prompt, as text or as token ids.
type Prompt struct {
	Text string
	IDs  []int // when non-nil, the prompt is these ids
}

// UnmarshalJSON accepts the four forms of OpenAI's prompt field.
func (p *PromptInput) UnmarshalJSON(b []byte) error {
	in, err := decodeTextsOrTokens(b, "prompt")
	if err != nil {
		return err
	}
	*p = in
	return nil
}

func decodeTextsOrTokens(b []byte, field string) ([]Prompt, error) {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return []Prompt{{Text: s}}, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, &fieldError{field, "expected a string, an array of strings, an array of token ids or an array of arrays of token ids"}
	}
	if len(raw) == 0 {
		return []Prompt{}, nil
	}
	var ids []int
	if err := json.Unmarshal(b, &ids); err == nil {
		return []Prompt{{IDs: ids}}, nil
	}
	out := make([]Prompt, len(raw))
	for i, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			out[i] = Prompt{Text: s}
			continue
		}
		var ids []int
		if err := json.Unmarshal(r, &ids); err != nil || ids == nil {
			return nil, &fieldError{field, fmt.Sprintf("element %d: expected a string or an array of integer token ids", i)}
		}
		out[i] = Prompt{IDs: ids}
	}
	return out, nil
}

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Model  string      `json:"model"`
	Prompt PromptInput `json:"prompt"`
	Suffix *string     `json:"suffix"`
	SamplingFields
	MaxTokens     *int           `json:"max_tokens"`
	N             *int           `json:"n"`
	Stop          StopList       `json:"stop"`
	Stream        bool           `json:"stream"`
	StreamOptions *StreamOptions `json:"stream_options"`
	Logprobs      *int           `json:"logprobs"`
	Echo          bool           `json:"echo"`
}

// EmbeddingRequest is the body of POST /v1/embeddings.
type EmbeddingRequest struct {
	Model          string      `json:"model"`
	Input          PromptInput `json:"input"`
	EncodingFormat string      `json:"encoding_format"`
}

// genParams are the validated generation settings of a request.
type genParams struct {
	sampler   glassbox.SamplerParams
	seeded    bool // the request gave a seed
	maxTokens int  // 0: until the end of the context
	// promptOnly is a completion with echo and max_tokens 0: the prompt is
	// scored (with logprobs) and nothing is generated
	promptOnly bool
	stop       []string
	n          int
	logprobs   bool
	topProbs   int
	stream     bool
	usage      bool // include usage in the last stream chunk
	ignoreEOS  bool
	bias       LogitBias         // resolved against the model by resolveBias
	trace      *glassbox.Tracing // dissect the generation
	special    bool              // render control tokens as text (tool-call markers)
	grammar    string            // GBNF the reply follows ("" for none)
	noCache    bool              // cache_prompt false: process the whole prompt on any free slot
	// fields are the request's sampling fields, for what depends on the
	// model (speculative.*: applied by Server.speculation)
	fields *SamplingFields
}

// slotKey is the prompt the slot choice matches against the slots' caches:
// none when the request turned the prompt cache off.
func (g *genParams) slotKey(prompt []int) []int {
	if g.noCache {
		return nil
	}
	return prompt
}

// seedFor returns the sampler settings of choice i: a given seed is offset by
// the choice index so that n > 1 gives different samples; without one each
// choice draws its own random seed.
func (g *genParams) seedFor(i int) glassbox.SamplerParams {
	p := g.sampler
	if g.seeded {
		p.Seed += uint64(i)
	} else {
		p.Seed = rand.Uint64() >> 1
	}
	return p
}

func finite(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }

// params validates the sampling fields and returns sampler settings with
// llama.cpp's defaults for what is unset.
func (f *SamplingFields) params() (glassbox.SamplerParams, bool, error) {
	p := glassbox.DefaultSamplerParams()
	if v := f.Temperature; v != nil {
		if !finite(*v) || *v < 0 || *v > 2 {
			return p, false, badRequest("temperature", "invalid value for 'temperature': expected a number between 0 and 2, got %v", *v)
		}
		p.Temperature = *v
	}
	if v := f.TopP; v != nil {
		if !finite(*v) || *v < 0 || *v > 1 {
			return p, false, badRequest("top_p", "invalid value for 'top_p': expected a number between 0 and 1, got %v", *v)
		}
		p.TopP = *v
		if p.TopP == 0 { // OpenAI allows 0: keep only the most likely token
			p.TopP = math.SmallestNonzeroFloat32
		}
	}
	if v := f.TopK; v != nil {
		if *v < 0 {
			return p, false, badRequest("top_k", "invalid value for 'top_k': expected an integer >= 0 (0 = off), got %d", *v)
		}
		p.TopK = *v
	}
	if v := f.MinP; v != nil {
		if !finite(*v) || *v < 0 || *v > 1 {
			return p, false, badRequest("min_p", "invalid value for 'min_p': expected a number between 0 and 1, got %v", *v)
		}
		p.MinP = *v
	}
	if v := f.RepeatPenalty; v != nil {
		if !finite(*v) || *v <= 0 {
			return p, false, badRequest("repeat_penalty", "invalid value for 'repeat_penalty': expected a number > 0 (1 = off), got %v", *v)
		}
		p.RepeatPenalty = *v
	}
	if v := f.RepeatLastN; v != nil {
		if *v < -1 {
			return p, false, badRequest("repeat_last_n", "invalid value for 'repeat_last_n': expected an integer >= -1 (-1 = whole history), got %d", *v)
		}
		p.RepeatLastN = *v
	}
	if v := f.PresencePenalty; v != nil {
		if !finite(*v) || *v < -2 || *v > 2 {
			return p, false, badRequest("presence_penalty", "invalid value for 'presence_penalty': expected a number between -2 and 2, got %v", *v)
		}
		p.PresencePenalty = *v
	}
	if v := f.FrequencyPenalty; v != nil {
		if !finite(*v) || *v < -2 || *v > 2 {
			return p, false, badRequest("frequency_penalty", "invalid value for 'frequency_penalty': expected a number between -2 and 2, got %v", *v)
		}
		p.FrequencyPenalty = *v
	}
	seeded := false
	if f.Seed != nil {
		seeded = true
		p.Seed = uint64(*f.Seed) &^ (1 << 63) // never glassbox.SeedRandom
	}
	if err := p.Validate(); err != nil {
		return p, false, badRequest("", "invalid sampling settings: %v", err)
	}
	return p, seeded, nil
}

func checkCommon(sf *SamplingFields, maxTokens, n *int, stop StopList, stream bool, so *StreamOptions) (genParams, error) {
	var g genParams
	var err error
	if _, err = sf.speculative(nil); err != nil {
		return g, err
	}
	g.fields = sf
	if g.sampler, g.seeded, err = sf.params(); err != nil {
		return g, err
	}
	g.ignoreEOS, g.bias = sf.IgnoreEOS, sf.LogitBias
	g.noCache = sf.CachePrompt != nil && !*sf.CachePrompt
	if g.grammar, err = sf.grammar(); err != nil {
		return g, err
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return g, badRequest("max_tokens", "invalid value for 'max_tokens': expected an integer >= 1, got %d", *maxTokens)
		}
		g.maxTokens = *maxTokens
	}
	g.n = 1
	if n != nil {
		if *n < 1 || *n > maxN {
			return g, badRequest("n", "invalid value for 'n': expected an integer between 1 and %d, got %d", maxN, *n)
		}
		g.n = *n
	}
	if len(stop) > maxStops {
		return g, badRequest("stop", "invalid value for 'stop': at most %d stop strings, got %d", maxStops, len(stop))
	}
	g.stop = stop
	g.stream = stream
	if so != nil {
		if !stream {
			return g, badRequest("stream_options", "invalid value for 'stream_options': only allowed when 'stream' is true")
		}
		g.usage = so.IncludeUsage
	}
	return g, nil
}

// validate checks a chat request and returns its generation settings.
func (r *ChatRequest) validate() (genParams, error) {
	if len(r.Messages) == 0 {
		return genParams{}, badRequest("messages", "'messages' is required: expected a non-empty array of {role, content}")
	}
	for i, m := range r.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			return genParams{}, badRequest(fmt.Sprintf("messages[%d].role", i), "invalid value for 'messages[%d].role': expected system, developer, user, assistant or tool, got %q", i, m.Role)
		}
		if len(m.ToolCalls) > 0 && m.Role != "assistant" {
			return genParams{}, badRequest(fmt.Sprintf("messages[%d].tool_calls", i), "'messages[%d].tool_calls' is only allowed in assistant messages, not in a %s message", i, m.Role)
		}
		for j, c := range m.ToolCalls {
			p := fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
			if c.Type != "" && c.Type != "function" {
				return genParams{}, badRequest(p+".type", "invalid value for '%s.type': expected \"function\", got %q", p, c.Type)
			}
			if c.Function.Name == "" {
				return genParams{}, badRequest(p+".function.name", "'%s.function.name' is required", p)
			}
		}
	}
	mt := r.MaxTokens
	if r.MaxCompletionTokens != nil {
		mt = r.MaxCompletionTokens
		if *mt < 1 {
			return genParams{}, badRequest("max_completion_tokens", "invalid value for 'max_completion_tokens': expected an integer >= 1, got %d", *mt)
		}
	}
	g, err := checkCommon(&r.SamplingFields, mt, r.N, r.Stop, r.Stream, r.StreamOptions)
	if err != nil {
		return g, err
	}
	g.logprobs = r.Logprobs != nil && *r.Logprobs
	if r.TopLogprobs != nil {
		if *r.TopLogprobs < 0 || *r.TopLogprobs > maxTopProbs {
			return g, badRequest("top_logprobs", "invalid value for 'top_logprobs': expected an integer between 0 and %d, got %d", maxTopProbs, *r.TopLogprobs)
		}
		if !g.logprobs {
			return g, badRequest("top_logprobs", "'top_logprobs' needs 'logprobs' set to true")
		}
		g.topProbs = *r.TopLogprobs
	}
	return g, nil
}

// validate checks a completion request and returns its generation settings.
func (r *CompletionRequest) validate() (genParams, error) {
	if r.Prompt == nil {
		return genParams{}, badRequest("prompt", "'prompt' is required: expected a string, an array of strings or an array of token ids")
	}
	if len(r.Prompt) == 0 {
		return genParams{}, badRequest("prompt", "invalid value for 'prompt': the array is empty")
	}
	if len(r.Prompt) > maxN {
		return genParams{}, badRequest("prompt", "invalid value for 'prompt': at most %d prompts per request, got %d", maxN, len(r.Prompt))
	}
	// max_tokens 0 with echo scores the prompt only, as OpenAI's legacy
	// completions and vLLM allow
	mt, promptOnly := r.MaxTokens, false
	if mt != nil && *mt == 0 {
		if !r.Echo {
			return genParams{}, badRequest("max_tokens", "invalid value for 'max_tokens': expected an integer >= 1, got 0 (0 is allowed with 'echo': the prompt is returned, and scored with 'logprobs', without generating)")
		}
		mt, promptOnly = nil, true
	}
	g, err := checkCommon(&r.SamplingFields, mt, r.N, r.Stop, r.Stream, r.StreamOptions)
	if err != nil {
		return g, err
	}
	g.promptOnly = promptOnly
	if len(r.Prompt)*g.n > maxN {
		return g, badRequest("n", "invalid value for 'n': %d prompts × n=%d gives more than %d choices", len(r.Prompt), g.n, maxN)
	}
	if r.Logprobs != nil {
		if *r.Logprobs < 0 || *r.Logprobs > maxTopProbs {
			return g, badRequest("logprobs", "invalid value for 'logprobs': expected an integer between 0 and %d, got %d", maxTopProbs, *r.Logprobs)
		}
		g.logprobs = true
		g.topProbs = *r.Logprobs
	}
	if r.Echo && r.Suffix != nil {
		return g, badRequest("echo", "'echo' together with 'suffix' is not supported")
	}
	return g, nil
}

// validate checks an embedding request.
func (r *EmbeddingRequest) validate() error {
	if r.Input == nil {
		return badRequest("input", "'input' is required: expected a string, an array of strings or an array of token ids")
	}
	if len(r.Input) == 0 {
		return badRequest("input", "invalid value for 'input': the array is empty")
	}
	if len(r.Input) > 2048 {
		return badRequest("input", "invalid value for 'input': at most 2048 inputs per request, got %d", len(r.Input))
	}
	for i, in := range r.Input {
		if in.IDs == nil && in.Text == "" {
			return badRequest("input", "invalid value for 'input': element %d is an empty string", i)
		}
		if in.IDs != nil && len(in.IDs) == 0 {
			return badRequest("input", "invalid value for 'input': element %d is an empty array of tokens", i)
		}
	}
	switch r.EncodingFormat {
	case "", "float", "base64":
	default:
		return badRequest("encoding_format", "invalid value for 'encoding_format': expected \"float\" or \"base64\", got %q", r.EncodingFormat)
	}
	return nil
}
