// Package chat renders a conversation into the prompt text a chat model was
// trained on, with the model's own Jinja chat template (GGUF
// tokenizer.chat_template or the chat_template of a Hugging Face
// tokenizer_config.json).
//
// Templates see the variables Hugging Face transformers provides: messages,
// add_generation_prompt, bos_token, eos_token, the functions
// raise_exception and strftime_now, plus any extra variables (such as
// enable_thinking) given in Options, and tools when Options.Tools lists
// some (as transformers' apply_chat_template(tools=...) passes them).
// Assistant messages carry their tool_calls and tool messages their
// tool_call_id and name, with the arguments of each call as a JSON object
// where they are one, as Hugging Face templates expect. Rendering uses
// github.com/ardanlabs/jinja with the trim_blocks and lstrip_blocks
// behaviour of transformers, in a worker process under Limits, since a
// template is untrusted input (see RenderContext).
package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Message is one turn of a conversation.
type Message struct {
	// Role is "system", "user", "assistant" or "tool" (templates decide
	// which roles they accept).
	Role string `json:"role"`
	// Content is the text of the turn.
	Content string `json:"content"`
	// ReasoningContent is the reasoning an assistant turn wrote before its
	// reply (between <think> and </think>), given to templates as
	// reasoning_content when not empty.
	ReasoningContent string `json:"reasoning_content,omitempty"`
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID is the id of the call a "tool" message answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Name is the name of the tool a "tool" message comes from (or of the
	// author of another message).
	Name string `json:"name,omitempty"`
}

// Options are the variables a render passes to the template besides the messages.
type Options struct {
	// AddGenerationPrompt asks the template to end with the header that opens
	// the assistant's reply.
	AddGenerationPrompt bool
	// BOSToken and EOSToken are the text of the model's begin- and
	// end-of-sequence tokens ("" when the model has none).
	BOSToken, EOSToken string
	// Extra holds further template variables, for example
	// {"enable_thinking": false} for Qwen3. They may not replace messages,
	// add_generation_prompt, bos_token, eos_token, raise_exception or
	// strftime_now.
	Extra map[string]any
	// Now is the time strftime_now formats; the zero value means the
	// current time.
	Now time.Time
	// Limits bound the rendering; the zero value means the defaults.
	Limits Limits
	// Tools are the tools the model may call, given to the template as
	// tools (left undefined when empty).
	Tools []Tool
}

// Template is a parsed chat template. It is safe for concurrent use.
type Template struct {
	src string
}

// RaiseError is the error a template raises with raise_exception, for
// example when a conversation uses a role the model does not support.
type RaiseError struct {
	// Message is the template's message.
	Message string
}

// Error returns the template's message.
func (e *RaiseError) Error() string { return "template raised an exception: " + e.Message }

// reserved lists the variables Render sets itself.
var reserved = []string{"messages", "add_generation_prompt", "bos_token", "eos_token", "raise_exception", "strftime_now", "tools"}

// Parse compiles a Jinja chat template. Malformed templates give an error
// naming what the parser expected and where. Macros may call themselves
// (gpt-oss's template renders nested JSON Schema types so, as does the
// harmony template of the tests): recursion that does not end exceeds the
// worker's stack limit and the render returns a *LimitError. Parsing runs
// in a worker process under the default Limits (see RenderContext).
func Parse(src string) (*Template, error) {
	in := int64(len(src))
	lim, _ := Limits{}.resolve(in)
	if _, err := call(context.Background(), &request{Op: opParse, Template: src, Limits: lim}); err != nil {
		return nil, fmt.Errorf("chat: parsing template: %w", err)
	}
	return &Template{src: src}, nil
}

// Source returns the template's Jinja source.
func (t *Template) Source() string { return t.src }

// Render renders msgs with the template; it is RenderContext without a
// context.
func (t *Template) Render(msgs []Message, opt Options) (string, error) {
	return t.RenderContext(context.Background(), msgs, opt)
}

// RenderContext renders msgs with the template. Templates are untrusted
// input (they come inside downloaded model files), so rendering runs in a
// separate worker process, started from the program's own executable, under
// opt.Limits: a template that exceeds one gets a *LimitError naming it, and
// the worker is killed when ctx is done. Errors the template raises with
// raise_exception are a *RaiseError.
func (t *Template) RenderContext(ctx context.Context, msgs []Message, opt Options) (string, error) {
	req := &request{Op: opRender, Template: t.src, Messages: msgs, AddGenerationPrompt: opt.AddGenerationPrompt,
		BOSToken: opt.BOSToken, EOSToken: opt.EOSToken}
	if len(opt.Extra) > 0 {
		for k := range opt.Extra {
			if slices.Contains(reserved, k) {
				return "", fmt.Errorf("chat: Options.Extra may not set %q: Render sets it", k)
			}
		}
		extra, err := json.Marshal(opt.Extra)
		if err != nil {
			return "", fmt.Errorf("chat: Options.Extra must be representable as JSON: %w", err)
		}
		req.Extra = extra
	}
	for i, tool := range opt.Tools {
		b, err := json.Marshal(tool)
		if err != nil {
			return "", fmt.Errorf("chat: tool %d: %w", i, err)
		}
		req.Tools = append(req.Tools, b)
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	req.Now = now.UnixNano()
	req.Zone, req.ZoneOffset = now.Zone()
	in := int64(len(t.src) + len(req.Extra) + len(opt.BOSToken) + len(opt.EOSToken))
	for _, b := range req.Tools {
		in += int64(len(b))
	}
	for _, m := range msgs {
		in += int64(len(m.Role) + len(m.Content) + len(m.ReasoningContent) + len(m.ToolCallID) + len(m.Name))
		for _, c := range m.ToolCalls {
			in += int64(len(c.ID) + len(c.Function.Name) + len(c.Function.Arguments))
		}
	}
	lim, err := opt.Limits.resolve(in)
	if err != nil {
		return "", err
	}
	req.Limits = lim
	out, err := call(ctx, req)
	if err != nil {
		return "", fmt.Errorf("chat: rendering template: %w", err)
	}
	return out, nil
}
