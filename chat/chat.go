// Package chat renders a conversation into the prompt text a chat model was
// trained on, with the model's own Jinja chat template (GGUF
// tokenizer.chat_template or the chat_template of a Hugging Face
// tokenizer_config.json).
//
// Templates see the variables Hugging Face transformers provides: messages,
// add_generation_prompt, bos_token, eos_token, the functions
// raise_exception and strftime_now, plus any extra variables (such as
// enable_thinking) given in Options. tools is left undefined. Rendering uses
// github.com/ardanlabs/jinja with the trim_blocks and lstrip_blocks
// behaviour of transformers.
package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
)

// Message is one turn of a conversation.
type Message struct {
	// Role is "system", "user", "assistant" or "tool" (templates decide
	// which roles they accept).
	Role string `json:"role"`
	// Content is the text of the turn.
	Content string `json:"content"`
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
}

// Template is a parsed chat template. It is safe for concurrent use.
type Template struct {
	src  string
	tmpl *jinja.Template
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
var reserved = []string{"messages", "add_generation_prompt", "bos_token", "eos_token", "raise_exception", "strftime_now"}

// Parse compiles a Jinja chat template. Malformed templates give an error
// naming what the parser expected and where. Templates whose macros call
// each other recursively are rejected, since the engine would overflow the
// stack rendering them.
func Parse(src string) (t *Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("chat: parsing template: jinja engine failed: %v", r)
		}
	}()
	tmpl, err := jinja.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("chat: parsing template: %w", err)
	}
	if err := checkMacroRecursion(src); err != nil {
		return nil, fmt.Errorf("chat: parsing template: %w", err)
	}
	return &Template{src: src, tmpl: tmpl}, nil
}

// Source returns the template's Jinja source.
func (t *Template) Source() string { return t.src }

// Render renders msgs with the template.
func (t *Template) Render(msgs []Message, opt Options) (out string, err error) {
	data := make(map[string]jinja.Value, len(opt.Extra)+len(reserved))
	for k, v := range opt.Extra {
		for _, r := range reserved {
			if k == r {
				return "", fmt.Errorf("chat: Options.Extra may not set %q: Render sets it", k)
			}
		}
		data[k] = jinja.FromGoValue(v)
	}
	list := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(m.Role))
		d.AsDict().Set("content", jinja.NewString(m.Content))
		list[i] = d
	}
	data["messages"] = jinja.NewList(list)
	data["add_generation_prompt"] = jinja.NewBool(opt.AddGenerationPrompt)
	data["bos_token"] = jinja.NewString(opt.BOSToken)
	data["eos_token"] = jinja.NewString(opt.EOSToken)
	var raised *RaiseError
	data["raise_exception"] = jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		msg := "raise_exception called without a message"
		if len(args) > 0 {
			if args[0].IsString() {
				msg = args[0].AsString()
			} else {
				msg = args[0].String()
			}
		}
		raised = &RaiseError{Message: msg}
		return jinja.Undefined(), raised
	})
	now := opt.Now
	data["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 || !args[0].IsString() {
			return jinja.Undefined(), errors.New("strftime_now expects one format string")
		}
		at := now
		if at.IsZero() {
			at = time.Now()
		}
		return jinja.NewString(Strftime(at, args[0].AsString())), nil
	})

	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chat: rendering template: jinja engine failed: %v", r)
		}
	}()
	out, err = t.tmpl.RenderValues(data)
	if err != nil {
		if raised != nil && strings.Contains(err.Error(), raised.Error()) {
			// Keep the template's own error as the cause, whatever
			// wrapping the engine does.
			return "", fmt.Errorf("chat: rendering template: %w", raised)
		}
		return "", fmt.Errorf("chat: rendering template: %w", err)
	}
	return out, nil
}
