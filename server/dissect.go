package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"glassbox"
)

// TraceFields selects what a dissection records (the "trace" object of
// /v1/dissect and of the "glassbox" extension of chat requests). Absent
// booleans default to true; layers and heads default to all.
type TraceFields struct {
	Layers     []int `json:"layers"`
	Heads      []int `json:"heads"`
	Top        *int  `json:"top"`
	Attention  *bool `json:"attention"`
	LogitLens  *bool `json:"logit_lens"`
	Embeddings *bool `json:"embeddings"`
}

// GlassboxOptions is the "glassbox" extension of a chat completion request:
// with dissect, the response is the dissection stream of /v1/dissect.
type GlassboxOptions struct {
	Dissect bool         `json:"dissect"`
	Trace   *TraceFields `json:"trace"`
}

// DissectRequest is the body of POST /v1/dissect: a chat (messages) or a raw
// prompt, the usual sampling fields, and what to trace.
type DissectRequest struct {
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	Prompt   *string       `json:"prompt"`
	SamplingFields
	MaxTokens *int         `json:"max_tokens"`
	Stop      StopList     `json:"stop"`
	Stream    *bool        `json:"stream"`
	Trace     *TraceFields `json:"trace"`
}

const maxTraceTop = 50

func (f *TraceFields) options() (glassbox.TraceOptions, error) {
	opts := glassbox.TraceOptions{Top: 5, Attention: true, LogitLens: true, Embeddings: true}
	if f == nil {
		return opts, nil
	}
	if f.Top != nil {
		if *f.Top < 1 || *f.Top > maxTraceTop {
			return opts, badRequest("trace.top", "invalid value for 'trace.top': expected an integer between 1 and %d, got %d", maxTraceTop, *f.Top)
		}
		opts.Top = *f.Top
	}
	for _, b := range []struct {
		p   *bool
		dst *bool
	}{{f.Attention, &opts.Attention}, {f.LogitLens, &opts.LogitLens}, {f.Embeddings, &opts.Embeddings}} {
		if b.p != nil {
			*b.dst = *b.p
		}
	}
	opts.Layers, opts.Heads = f.Layers, f.Heads
	return opts, nil
}

func (s *Server) dissect(w http.ResponseWriter, r *http.Request) error {
	var req DissectRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if req.Stream != nil && !*req.Stream {
		return badRequest("stream", "invalid value for 'stream': /v1/dissect always streams (server-sent events, one trace event each)")
	}
	switch {
	case req.Prompt == nil && len(req.Messages) == 0:
		return badRequest("messages", "'messages' or 'prompt' is required")
	case req.Prompt != nil && len(req.Messages) > 0:
		return badRequest("prompt", "give either 'messages' or 'prompt', not both")
	}
	chat := ChatRequest{Model: req.Model, Messages: req.Messages, SamplingFields: req.SamplingFields, MaxTokens: req.MaxTokens, Stop: req.Stop}
	if req.Prompt != nil {
		chat.Messages = []ChatMessage{{Role: "user", Content: MessageContent(*req.Prompt)}}
	}
	g, err := chat.validate()
	if err != nil {
		return err
	}
	e, err := s.lookup(r.Context(), req.Model)
	if err != nil {
		return err
	}
	if err := g.resolveBias(e); err != nil {
		return err
	}
	var ids []int
	var text string
	if req.Prompt != nil {
		text = *req.Prompt
		ids = e.model.Encode(text, glassbox.GenerateOptions{})
	} else {
		if ids, text, err = s.chatPrompt(r.Context(), e, req.Messages); err != nil {
			return err
		}
	}
	return s.streamDissection(r.Context(), w, e, ids, text, &g, req.Trace, time.Now())
}

// chatPrompt renders messages with the model's chat template and tokenizes them.
// A template that exceeds a rendering limit is a bad request too (400, the
// message naming the limit); rendering stops when ctx is done.
func (s *Server) chatPrompt(ctx context.Context, e *entry, messages []ChatMessage) ([]int, string, error) {
	ids, p, err := s.chatPromptTools(ctx, e, messages, glassbox.ChatOptions{})
	if err != nil {
		return nil, "", err
	}
	return ids, p.Text, nil
}

// chatPromptTools is chatPrompt with tools and template variables: it
// returns the prompt's ids and the rendered prompt with how to read the
// reply. Malformed tools are a bad request naming the field.
func (s *Server) chatPromptTools(ctx context.Context, e *entry, messages []ChatMessage, opts glassbox.ChatOptions) ([]int, *glassbox.ChatPrompt, error) {
	if !e.model.HasChatTemplate() {
		return nil, nil, badRequest("model", "the model %s has no chat template (tokenizer.chat_template in its GGUF file): use a raw prompt (/v1/completions, or 'prompt' on /v1/dissect)", e.name)
	}
	msgs := make([]glassbox.Message, len(messages))
	for i, m := range messages {
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		msgs[i] = glassbox.Message{Role: role, Content: string(m.Content), ReasoningContent: m.ReasoningContent, ToolCallID: m.ToolCallID, Name: m.Name}
		for _, c := range m.ToolCalls {
			msgs[i].ToolCalls = append(msgs[i].ToolCalls, glassbox.ToolCall{ID: c.ID, Type: "function", Function: glassbox.ToolCallFunction{Name: c.Function.Name, Arguments: c.Function.Arguments}})
		}
	}
	p, err := e.model.PrepareChat(ctx, msgs, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		var te *glassbox.ToolError
		if errors.As(err, &te) {
			return nil, nil, badRequest(te.Param, "%s", te.Message)
		}
		return nil, nil, badRequest("messages", "the chat template of model %s rejected the messages: %v", e.name, err)
	}
	return e.model.EncodeChat(p.Text, glassbox.GenerateOptions{}), p, nil
}

// streamDissection generates on a slot with tracing on, sending each trace
// event as a server-sent event, then [DONE].
func (s *Server) streamDissection(ctx context.Context, w http.ResponseWriter, e *entry, ids []int, text string, g *genParams, tf *TraceFields, start time.Time) error {
	opts, err := tf.options()
	if err != nil {
		return err
	}
	cfg := e.model.Config()
	for _, l := range opts.Layers {
		if l < 0 || l >= cfg.Layers {
			return badRequest("trace.layers", "invalid value for 'trace.layers': layer %d does not exist (model %s has %d: 0 to %d)", l, e.name, cfg.Layers, cfg.Layers-1)
		}
	}
	for _, h := range opts.Heads {
		if h < 0 || h >= cfg.Heads {
			return badRequest("trace.heads", "invalid value for 'trace.heads': head %d does not exist (model %s has %d: 0 to %d)", h, e.name, cfg.Heads, cfg.Heads-1)
		}
	}
	if err := contextError(e, len(ids)); err != nil {
		return err
	}
	if err := s.slotFit(e, len(ids), g.maxTokens); err != nil {
		return err
	}
	sl, err := s.acquire(ctx, e, ids)
	if err != nil {
		return err
	}
	defer e.pool.release(sl)
	st := newSSE(w)
	tg := *g
	tg.trace = &glassbox.Tracing{Options: opts, ModelName: e.name, PromptText: text, Emit: func(ev glassbox.TraceEvent) error { return st.send(ev) }}
	res, err := s.run(ctx, e, sl, genJob{ids, g.seedFor(0)}, &tg, start, nil)
	if res != nil {
		noteTokens(ctx, e.name, len(ids), len(res.IDs))
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		// a stream that has begun reports its error as a trace event
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = serverError(err)
		}
		st.send(struct {
			Type  string      `json:"type"`
			Error errorObject `json:"error"`
		}{"error", ae.body().Error})
		return nil
	}
	return st.done()
}

// modelInfo is GET /glassbox/models/{id}: what the web page's model view shows.
type modelInfo struct {
	ID string `json:"id"`
	glassbox.ModelInfo
	Memory struct {
		HeapBytes uint64 `json:"heap_bytes"`
		RSSBytes  uint64 `json:"rss_bytes"`
	} `json:"memory"`
}

func (s *Server) modelInfo(w http.ResponseWriter, r *http.Request) error {
	e, err := s.lookup(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	mi, err := e.model.Info()
	if err != nil { // the model is being closed
		return shuttingDown()
	}
	info := modelInfo{ID: e.name, ModelInfo: mi}
	info.Path = filepath.Base(info.Path) // the file name only: the page must not reveal the server's directories
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	info.Memory.HeapBytes = ms.HeapAlloc
	info.Memory.RSSBytes = residentBytes()
	writeJSON(w, http.StatusOK, info)
	return nil
}

// residentBytes reads the process's resident set size (Linux), or 0.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}
