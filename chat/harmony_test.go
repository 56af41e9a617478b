package chat

import (
	"reflect"
	"strings"
	"testing"
)

func TestIsHarmony(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"{{- '<|start|>assistant<|channel|>final<|message|>' + m.content + '<|end|>' }}", true},
		{"{{ '<tool_call>' }}", false},
		{"{{ '<|start|>user<|message|>' }}", false},
	} {
		if got := IsHarmony(tc.src); got != tc.want {
			t.Errorf("IsHarmony(%q) = %v, want %v", tc.src, got, tc.want)
		}
		if got := DetectToolFormat(tc.src) == ToolFormatHarmony; got != tc.want {
			t.Errorf("DetectToolFormat(%q) harmony %v, want %v", tc.src, got, tc.want)
		}
	}
	if s := ToolFormatHarmony.String(); s != "harmony" {
		t.Errorf("ToolFormatHarmony.String() = %q", s)
	}
}

func TestParseHarmony(t *testing.T) {
	full := ParseOptions{Format: ToolFormatHarmony, Tools: true, Reasoning: true}
	noTools := ParseOptions{Format: ToolFormatHarmony, Reasoning: true}
	raw := ParseOptions{Format: ToolFormatHarmony, Tools: true} // reasoning not split
	const weather = `{"city": "Paris"}`
	for _, tc := range []struct {
		name string
		opt  ParseOptions
		text string
		want ParsedReply
	}{
		{"analysis then final", full,
			"<|channel|>analysis<|message|>The user greets me.<|end|><|start|>assistant<|channel|>final<|message|>Hello! How can I help?",
			ParsedReply{Reasoning: "The user greets me.", Content: "Hello! How can I help?"}},
		{"final with return marker", full,
			"<|channel|>final<|message|> Paris. <|return|>",
			ParsedReply{Content: "Paris."}},
		{"final only, multi-line", full,
			"<|channel|>final<|message|>Line one.\n\nLine two.",
			ParsedReply{Content: "Line one.\n\nLine two."}},
		{"cut in the analysis", full,
			"<|channel|>analysis<|message|>Let me think about",
			ParsedReply{Reasoning: "Let me think about"}},
		{"two analysis messages", full,
			"<|channel|>analysis<|message|>First.<|end|><|start|>assistant<|channel|>analysis<|message|>Second.<|end|><|start|>assistant<|channel|>final<|message|>Done.",
			ParsedReply{Reasoning: "First.\n\nSecond.", Content: "Done."}},
		{"call in the channel header", full,
			"<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>" + weather + "<|call|>",
			ParsedReply{Reasoning: "Need weather.", Calls: []ParsedCall{done("get_weather", weather)}}},
		{"call in the role header", full,
			" to=functions.get_weather<|channel|>commentary json<|message|>" + weather,
			ParsedReply{Calls: []ParsedCall{done("get_weather", weather)}}},
		{"call after a later start", full,
			"<|channel|>analysis<|message|>x<|end|><|start|>assistant to=functions.lookup<|channel|>commentary <|constrain|>json<|message|>{\"q\": [1, 2]}",
			ParsedReply{Reasoning: "x", Calls: []ParsedCall{done("lookup", `{"q": [1, 2]}`)}}},
		{"call cut short", full,
			"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Par",
			ParsedReply{Calls: []ParsedCall{{Name: "get_weather", Arguments: `{"city": "Par`}}}},
		{"call without arguments", full,
			"<|channel|>commentary to=functions.now <|constrain|>json<|message|><|call|>",
			ParsedReply{Calls: []ParsedCall{done("now", "{}")}}},
		{"calls dropped without tools", noTools,
			"<|channel|>analysis<|message|>r<|end|><|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json<|message|>{}<|call|>",
			ParsedReply{Reasoning: "r"}},
		{"preamble then call", full,
			"<|channel|>commentary<|message|>Checking the weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather json<|message|>" + weather,
			ParsedReply{Content: "Checking the weather.", Calls: []ParsedCall{done("get_weather", weather)}}},
		{"stray commentary before analysis", full,
			"<|channel|>commentary to=assistant<|channel|>analysis<|message|>think<|end|><|start|>assistant<|channel|>final<|message|>ok",
			ParsedReply{Reasoning: "think", Content: "ok"}},
		{"built-in tool dropped", full,
			"<|channel|>analysis<|message|>search<|end|><|start|>assistant<|channel|>commentary to=browser.search code<|message|>{\"query\": \"x\"}<|call|>",
			ParsedReply{Reasoning: "search"}},
		{"reasoning kept raw", raw,
			"<|channel|>analysis<|message|>hmm<|end|><|start|>assistant<|channel|>final<|message|>yes",
			ParsedReply{Content: "<|channel|>analysis<|message|>hmm<|end|>\n\nyes"}},
		{"not harmony", full, "  Just text, no markers.\n", ParsedReply{Content: "Just text, no markers."}},
		{"unfinished header", full, "<|channel|>fin", ParsedReply{}},
		{"text after the messages", full,
			"<|channel|>final<|message|>a<|end|>b",
			ParsedReply{Content: "a\n\nb"}},
		{"empty", full, "", ParsedReply{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseReply(tc.text, tc.opt)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseReply(%q) = %+v, want %+v", tc.text, got, tc.want)
			}
			for _, n := range []int{1, 3, 7} {
				checkStream(t, tc.text, tc.opt, n)
			}
		})
	}
}

// TestParseHarmonyPartial: while a reply is generated, text that may be the
// start of a marker is held back.
func TestParseHarmonyPartial(t *testing.T) {
	opt := ParseOptions{Format: ToolFormatHarmony, Tools: true, Reasoning: true, Partial: true}
	for _, tc := range []struct {
		text string
		want ParsedReply
	}{
		{"<|chan", ParsedReply{}},
		{"<|channel|>analysis<|message|>abc<|e", ParsedReply{Reasoning: "abc"}},
		{"<|channel|>analysis<|message|>abc<|end|><|sta", ParsedReply{Reasoning: "abc"}},
		{"<|channel|>final<|message|>Hi there ", ParsedReply{Content: "Hi there"}},
		{"<|channel|>commentary to=functions.f json<|message|>{\"a\": 1", ParsedReply{Calls: []ParsedCall{{Name: "f", Arguments: `{"a": 1`}}}},
		{"<|channel|>commentary to=functions.f json<|message|>{\"a\": 1}", ParsedReply{Calls: []ParsedCall{{Name: "f", Arguments: `{"a": 1}`}}}},
		{"<|channel|>commentary to=functions.f json<|message|>{\"a\": 1}<|call|>", ParsedReply{Calls: []ParsedCall{done("f", `{"a": 1}`)}}},
	} {
		if got := ParseReply(tc.text, opt); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("partial ParseReply(%q) = %+v, want %+v", tc.text, got, tc.want)
		}
	}
}

// TestHarmonyTemplate renders conversations with the harmony test template
// (testdata/harmony.jinja) and checks the harmony text: the reasoning of an
// assistant turn given back (as thinking) only before a tool call, calls
// and tool results addressed to and from functions.NAME, tools shown as a
// TypeScript namespace (the template's recursive macro), and the prompt
// ending with the assistant's header. (The golden renders of cases.json
// compare whole harmony renders with the reference engine.)
func TestHarmonyTemplate(t *testing.T) {
	tmpl := harmonyTemplate(t)
	if !tmpl.Thinks() || tmpl.ToolFormat() != ToolFormatHarmony || !tmpl.SupportsTools() {
		t.Fatalf("harmony template: thinks %v, format %v, tools %v", tmpl.Thinks(), tmpl.ToolFormat(), tmpl.SupportsTools())
	}
	tools := []Tool{{Type: "function", Function: ToolFunction{Name: "get_weather", Description: "Get the weather",
		Parameters: []byte(`{"type": "object", "properties": {"city": {"type": "string", "description": "City"}}, "required": ["city"]}`)}}}
	msgs := []Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "Hello!", ReasoningContent: "A greeting."},
		{Role: "user", Content: "Weather in Paris?"},
		{Role: "assistant", Content: "ignored", ReasoningContent: "I need the weather.", ToolCalls: []ToolCall{{ID: "call_1", Type: "function", Function: ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{Role: "tool", ToolCallID: "call_1", Content: `{"temp": 20}`},
	}
	out, err := tmpl.Render(msgs, Options{AddGenerationPrompt: true, Tools: tools, Now: harmonyDate})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2025-08-05\n\nReasoning: medium\n\n",
		"<|start|>developer<|message|># Instructions\n\nBe brief.\n\n# Tools\n\n## functions\n\nnamespace functions {\n\n// Get the weather\ntype get_weather = (_: {\n// City\ncity: string,\n}) => any;\n\n} // namespace functions<|end|>",
		"<|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|>Hello!<|end|>",
		"<|start|>assistant<|channel|>analysis<|message|>I need the weather.<|end|>",
		"<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|>",
		"<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{\"temp\": 20}<|end|>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "A greeting.") || strings.Contains(out, "ignored") {
		t.Errorf("render shows the reasoning of an earlier answer, or the content beside a call:\n%s", out)
	}
	if !strings.HasSuffix(out, "<|end|><|start|>assistant") {
		t.Errorf("render does not end with the assistant's header: %q", out[max(0, len(out)-60):])
	}
}

// FuzzHarmonyParser: any text, fed in pieces of any size, streams deltas
// that add up to the parse of the whole text (every partial parse a prefix
// of the final one), every call has a name and, once complete, arguments
// that are valid JSON or {} (a call ended by <|call|> keeps its text as
// written), and a reply without a marker is its own trimmed content.
func FuzzHarmonyParser(f *testing.F) {
	for _, s := range []string{
		"<|channel|>analysis<|message|>The user greets me.<|end|><|start|>assistant<|channel|>final<|message|>Hello!",
		"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|>",
		" to=functions.f<|channel|>commentary json<|message|>{\"a\": [1, {\"b\": \"<|end|>\"}]}",
		"<|channel|>commentary to=assistant<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>final<|message|>y<|return|>",
		"<|channel|>commentary<|message|>pre<|end|><|start|>assistant to=browser.search<|channel|>commentary<|message|>{}<|call|>",
		"<|channel|>final<|message|>a<|end|>b<|start|>",
		"plain text",
		"<|chan",
	} {
		for fl := range 4 {
			f.Add(s, uint8(fl), uint8(3))
		}
	}
	f.Fuzz(func(t *testing.T, text string, flags, n uint8) {
		opt := ParseOptions{Format: ToolFormatHarmony, Tools: flags&1 == 0, Reasoning: flags&2 == 0}
		checkStream(t, text, opt, int(n%7)+1)
		got := ParseReply(text, opt)
		for _, c := range got.Calls {
			if c.Name == "" {
				t.Errorf("call without a name in %q: %+v", text, got)
			}
		}
		if !opt.Tools && len(got.Calls) > 0 {
			t.Errorf("calls parsed without tools from %q", text)
		}
		if !strings.Contains(text, "<|") && !strings.HasPrefix(strings.TrimSpace(text), "to=") && got.Content != strings.TrimSpace(text) {
			t.Errorf("marker-free %q parsed as %+v", text, got)
		}
	})
}
