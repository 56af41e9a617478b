package chat

import (
	"reflect"
	"testing"
)

func TestDetectToolFormat(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want ToolFormat
	}{
		{"{{ '<tool_call>' }}{% for t in tools %}{% endfor %}", ToolFormatHermes},
		{"{{ '[TOOL_CALLS]' }}", ToolFormatMistral},
		{"{{ '<|python_tag|>' }}", ToolFormatLlama3},
		{"{% if message.role == 'ipython' %}{% endif %}", ToolFormatLlama3},
		{"{{ messages[0].content }}", ToolFormatGeneric},
	} {
		if got := DetectToolFormat(tc.src); got != tc.want {
			t.Errorf("DetectToolFormat(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

// done is a shorthand for a complete parsed call.
func done(name, args string) ParsedCall {
	return ParsedCall{Name: name, Arguments: args, Complete: true}
}

func TestParseReply(t *testing.T) {
	hermes := ParseOptions{Format: ToolFormatHermes, Tools: true}
	hermesThink := ParseOptions{Format: ToolFormatHermes, Tools: true, Reasoning: true}
	llama3 := ParseOptions{Format: ToolFormatLlama3, Tools: true}
	mistral := ParseOptions{Format: ToolFormatMistral, Tools: true}
	generic := ParseOptions{Format: ToolFormatGeneric, Tools: true}
	for _, tc := range []struct {
		name string
		opt  ParseOptions
		text string
		want ParsedReply
	}{
		{"hermes one call", hermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
			ParsedReply{Calls: []ParsedCall{done("get_weather", `{"city": "Paris"}`)}}},
		{"hermes content and two calls", hermes, "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"arguments\": {\"x\": [1, {\"y\": \"}\"}]}, \"name\": \"b\"}\n</tool_call>",
			ParsedReply{Content: "Let me check.", Calls: []ParsedCall{done("a", "{}"), done("b", `{"x": [1, {"y": "}"}]}`)}}},
		{"hermes string arguments", hermes, `<tool_call>{"name": "f", "arguments": "{\"q\": 1}"}</tool_call>`,
			ParsedReply{Calls: []ParsedCall{done("f", `{"q": 1}`)}}},
		{"hermes no arguments", hermes, `<tool_call>{"name": "now"}</tool_call>`,
			ParsedReply{Calls: []ParsedCall{done("now", "{}")}}},
		{"hermes OpenAI shape", hermes, `<tool_call>{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}</tool_call>`,
			ParsedReply{Calls: []ParsedCall{done("f", `{"a": 1}`)}}},
		{"hermes plain text", hermes, "The weather is fine.\n", ParsedReply{Content: "The weather is fine."}},
		{"hermes not JSON", hermes, "<tool_call>hello</tool_call>", ParsedReply{Content: "<tool_call>hello</tool_call>"}},
		{"hermes object without name", hermes, `<tool_call>{"x": 1}</tool_call>`, ParsedReply{Content: `<tool_call>{"x": 1}</tool_call>`}},
		{"hermes cut short", hermes, `<tool_call>{"name": "f", "arguments": {"a": "long`,
			ParsedReply{Calls: []ParsedCall{{Name: "f", Arguments: `{"a": "long`}}}},
		{"hermes cut in name", hermes, `ok <tool_call>{"na`, ParsedReply{Content: `ok <tool_call>{"na`}},
		{"hermes missing close tag", hermes, `<tool_call>{"name": "f", "arguments": {}} then`,
			ParsedReply{Content: "then", Calls: []ParsedCall{done("f", "{}")}}},
		{"think then call", hermesThink, "<think>\nI should call f.\n</think>\n\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
			ParsedReply{Reasoning: "I should call f.", Calls: []ParsedCall{done("f", "{}")}}},
		{"think then answer", ParseOptions{Reasoning: true}, "<think>hmm</think>\n\nParis.", ParsedReply{Reasoning: "hmm", Content: "Paris."}},
		{"think opened by the prompt", ParseOptions{Reasoning: true, InThink: true}, "hmm\n</think>\nParis.", ParsedReply{Reasoning: "hmm", Content: "Paris."}},
		{"think unclosed", ParseOptions{Reasoning: true}, "<think>still thinking", ParsedReply{Reasoning: "still thinking"}},
		{"no think", ParseOptions{Reasoning: true}, "Paris.", ParsedReply{Content: "Paris."}},
		{"tools off", ParseOptions{Format: ToolFormatHermes}, `<tool_call>{"name": "f"}</tool_call>`, ParsedReply{Content: `<tool_call>{"name": "f"}</tool_call>`}},
		{"llama3 call", llama3, `{"name": "get_weather", "parameters": {"city": "Paris"}}`,
			ParsedReply{Calls: []ParsedCall{done("get_weather", `{"city": "Paris"}`)}}},
		{"llama3 python tag and two calls", llama3, `<|python_tag|>{"name": "a", "parameters": {"x": 1}}; {"type": "function", "name": "b", "parameters": {}}`,
			ParsedReply{Calls: []ParsedCall{done("a", `{"x": 1}`), done("b", "{}")}}},
		{"llama3 text", llama3, "Hello there", ParsedReply{Content: "Hello there"}},
		{"llama3 JSON that is not a call", llama3, `{"answer": 42}`, ParsedReply{Content: `{"answer": 42}`}},
		{"mistral array", mistral, `[TOOL_CALLS][{"name": "a", "arguments": {"x": 1}, "id": "abc123def"}, {"name": "b", "arguments": {}}]`,
			ParsedReply{Calls: []ParsedCall{done("a", `{"x": 1}`), done("b", "{}")}}},
		{"mistral args form", mistral, `[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]now[ARGS]{}`,
			ParsedReply{Calls: []ParsedCall{done("get_weather", `{"city": "Paris"}`), done("now", "{}")}}},
		{"mistral text", mistral, "Bonjour", ParsedReply{Content: "Bonjour"}},
		{"mistral broken", mistral, "[TOOL_CALLS][oops", ParsedReply{Content: "[TOOL_CALLS][oops"}},
		{"generic tool_calls", generic, `{"tool_calls": [{"name": "f", "arguments": {"a": 1}}]}`,
			ParsedReply{Calls: []ParsedCall{done("f", `{"a": 1}`)}}},
		{"generic tool_call", generic, `{"tool_call": {"name": "f", "arguments": {}}}`, ParsedReply{Calls: []ParsedCall{done("f", "{}")}}},
		{"generic bare call", generic, `{"name": "f", "arguments": {"b": true}}`, ParsedReply{Calls: []ParsedCall{done("f", `{"b": true}`)}}},
		{"generic cut short", generic, `{"tool_calls": [{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": {"b": [`,
			ParsedReply{Calls: []ParsedCall{done("f", `{"a": 1}`), {Name: "g", Arguments: `{"b": [`}}}},
		{"generic response", generic, `{"response": "Hi!"}`, ParsedReply{Content: "Hi!"}},
		{"generic text", generic, "Hi!", ParsedReply{Content: "Hi!"}},
		{"generic other JSON", generic, `{"x": 1}`, ParsedReply{Content: `{"x": 1}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseReply(tc.text, tc.opt)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseReply(%q)\n got %+v\nwant %+v", tc.text, got, tc.want)
			}
			// streamed a byte at a time, the deltas add up to the same reply
			checkStream(t, tc.text, tc.opt, 1)
		})
	}
}

// checkStream feeds text to a ReplyParser in pieces of n bytes and checks
// that the deltas add up to the parse of the whole text.
func checkStream(t *testing.T, text string, opt ParseOptions, n int) {
	t.Helper()
	p := NewReplyParser(opt)
	var got ParsedReply
	apply := func(d ReplyDelta) {
		got.Reasoning += d.Reasoning
		got.Content += d.Content
		for _, c := range d.Calls {
			if c.Index == len(got.Calls) {
				if c.Name == "" {
					t.Errorf("first delta of call %d has no name", c.Index)
				}
				got.Calls = append(got.Calls, ParsedCall{Name: c.Name})
			} else if c.Index > len(got.Calls) || c.Name != "" {
				t.Fatalf("delta %+v out of order (%d calls so far)", c, len(got.Calls))
			}
			got.Calls[c.Index].Arguments += c.Arguments
		}
	}
	for i := 0; i < len(text); i += n {
		apply(p.Add(text[i:min(i+n, len(text))]))
	}
	d, final := p.Finish()
	apply(d)
	want := ParseReply(text, opt)
	if !reflect.DeepEqual(final, want) {
		// Finish reports what was streamed; it must be the final parse
		t.Errorf("stream of %q ended as %+v, the whole text parses as %+v", text, final, want)
	}
	for i := range want.Calls {
		want.Calls[i].Complete = false
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deltas of %q add up to %+v, want %+v", text, got, want)
	}
}

func FuzzReplyParser(f *testing.F) {
	for _, s := range []string{
		"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
		"<think>a</think>b<tool_call>{\"name\": \"x\", \"arguments\": {\"s\": \"}\\\"\"}}</tool_call>",
		`<|python_tag|>{"name": "a", "parameters": {"x": 1}}; {"name": "b", "parameters": {}}`,
		`[TOOL_CALLS][{"name": "a", "arguments": {"x": 1}, "id": "abc123def"}]`,
		`[TOOL_CALLS]f[ARGS]{"a": [1, 2]}`,
		`{"tool_calls": [{"name": "f", "arguments": {"a": 1}}]}`,
		`{"response": "hi"}`,
		"<tool_call>{\"function\": {\"name\": \"f\", \"arguments\": {\"a\": -1.5e3, \"b\": null}}}</tool_call>",
		"plain text",
	} {
		for fm := range 4 {
			f.Add(s, uint8(fm), uint8(3))
		}
	}
	f.Fuzz(func(t *testing.T, text string, flags, n uint8) {
		opt := ParseOptions{Format: ToolFormat(flags % 4), Tools: flags&4 == 0, Reasoning: flags&8 != 0, InThink: flags&16 != 0}
		checkStream(t, text, opt, int(n%7)+1)
	})
}
