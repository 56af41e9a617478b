package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ardanlabs/jinja"
)

// Tool is a tool a model may call, as the OpenAI API and Hugging Face chat
// templates describe it: {"type": "function", "function": {...}}.
type Tool struct {
	// Type is "function".
	Type string `json:"type"`
	// Function describes the function.
	Function ToolFunction `json:"function"`
}

// ToolFunction is the description of a function tool.
type ToolFunction struct {
	// Name is the function's name.
	Name string `json:"name"`
	// Description says what the function does (optional).
	Description string `json:"description,omitempty"`
	// Parameters is the JSON Schema of the function's arguments, an
	// object schema (nil: no arguments).
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// Strict asks that the arguments follow Parameters exactly.
	Strict bool `json:"strict,omitempty"`
}

// ToolCall is one call of a tool by the model.
type ToolCall struct {
	// ID identifies the call; the "tool" message answering it repeats it.
	ID string `json:"id"`
	// Type is "function".
	Type string `json:"type"`
	// Function is the function called and its arguments.
	Function ToolCallFunction `json:"function"`
}

// ToolCallFunction is the function of a ToolCall.
type ToolCallFunction struct {
	// Name is the function's name.
	Name string `json:"name"`
	// Arguments is the JSON text of the arguments, as the model wrote it.
	Arguments string `json:"arguments"`
}

// messageValue is the template's view of a message: role and content
// always, the other fields of the OpenAI message when set. A tool call's
// arguments are given as the JSON object they hold (templates apply tojson
// to them, or test "is string"); arguments that are not a JSON object stay a
// string.
//
// For a harmony template (gpt-oss, harmony true) the reasoning is also
// given as thinking, the field its template reads, and an assistant turn
// with both reasoning and tool calls loses its content (gpt-oss's template
// refuses both), as llama.cpp does.
func messageValue(m Message, harmony bool) jinja.Value {
	v := jinja.NewDict()
	d := v.AsDict()
	d.Set("role", jinja.NewString(m.Role))
	// content is a string even beside tool calls (where OpenAI clients
	// send null): templates test it with "in" and string methods.
	content := m.Content
	if harmony && m.ReasoningContent != "" && len(m.ToolCalls) > 0 {
		content = ""
	}
	d.Set("content", jinja.NewString(content))
	if m.ReasoningContent != "" {
		d.Set("reasoning_content", jinja.NewString(m.ReasoningContent))
		if harmony {
			d.Set("thinking", jinja.NewString(m.ReasoningContent))
		}
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			fn := jinja.NewDict()
			fn.AsDict().Set("name", jinja.NewString(c.Function.Name))
			args, err := jsonValue([]byte(c.Function.Arguments))
			if err != nil || !args.IsDict() {
				args = jinja.NewString(c.Function.Arguments)
			}
			fn.AsDict().Set("arguments", args)
			call := jinja.NewDict()
			if c.ID != "" {
				call.AsDict().Set("id", jinja.NewString(c.ID))
			}
			typ := c.Type
			if typ == "" {
				typ = "function"
			}
			call.AsDict().Set("type", jinja.NewString(typ))
			call.AsDict().Set("function", fn)
			calls[i] = call
		}
		d.Set("tool_calls", jinja.NewList(calls))
	}
	if m.ToolCallID != "" {
		d.Set("tool_call_id", jinja.NewString(m.ToolCallID))
	}
	if m.Name != "" {
		d.Set("name", jinja.NewString(m.Name))
	}
	return v
}

// jsonValue decodes one JSON value into a template value, keeping the order
// of object keys (tojson writes them back in that order, as Python does)
// and integers as integers.
func jsonValue(raw []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return jinja.Undefined(), err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jinja.Undefined(), fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// maxJSONDepth bounds the nesting of decoded JSON values.
const maxJSONDepth = 256

func decodeValue(dec *json.Decoder, depth int) (jinja.Value, error) {
	if depth > maxJSONDepth {
		return jinja.Undefined(), fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return jinja.Undefined(), err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := jinja.NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return jinja.Undefined(), err
				}
				key, _ := k.(string)
				item, err := decodeValue(dec, depth+1)
				if err != nil {
					return jinja.Undefined(), err
				}
				v.AsDict().Set(key, item)
			}
			if _, err := dec.Token(); err != nil {
				return jinja.Undefined(), err
			}
			return v, nil
		case '[':
			var items []jinja.Value
			for dec.More() {
				item, err := decodeValue(dec, depth+1)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, item)
			}
			if _, err := dec.Token(); err != nil {
				return jinja.Undefined(), err
			}
			return jinja.NewList(items), nil
		}
		return jinja.Undefined(), fmt.Errorf("unexpected %v", t)
	default:
		return jinja.FromGoValue(t), nil
	}
}
