package glassbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"glassbox/internal/synth"
)

// toolChatModel writes the synthetic qwen2 chat model with the Hermes tool
// template of server/testdata and opens it.
func toolChatModel(t testing.TB) *Model {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("server", "testdata", "tools", "hermes.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := synth.WriteChat(&buf, string(tmpl), 7); err != nil {
		t.Fatal(err)
	}
	m, err := OpenBytes("toolchat", buf.Bytes(), &Options{Threads: 1, Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var weather = Tool{Type: "function", Function: ToolFunction{
	Name: "get_weather", Description: "Current weather of a city",
	Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["C","F"]}},"required":["city"]}`),
}}

func TestPrepareChatTools(t *testing.T) {
	m := toolChatModel(t)
	msgs := []Message{
		{Role: "user", Content: "Weather in Paris?"},
		{Role: "assistant", ToolCalls: []ToolCall{{ID: "call_1", Type: "function", Function: ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{Role: "tool", ToolCallID: "call_1", Content: "18 C, clear"},
	}
	p, err := m.PrepareChat(context.Background(), msgs, ChatOptions{Tools: []Tool{weather}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{"type": "function", "function": {"name": "get_weather", "description": "Current weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}}, "required": ["city"]}}}`,
		"<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n",
		"<|im_start|>user\n<tool_response>\n18 C, clear\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, p.Text)
		}
	}
	if p.Format != ToolFormat(1) || p.Grammar != "" || p.Special {
		t.Errorf("format %v, grammar %q, special %v", p.Format, p.Grammar, p.Special)
	}
	// the markers are single tokens of the prompt
	ids := m.EncodeChat(p.Text, GenerateOptions{})
	tc, _ := m.Tokenizer().TokenID("<tool_call>")
	n := 0
	for _, id := range ids {
		if id == tc {
			n++
		}
	}
	if n != 3 {
		t.Errorf("<tool_call> appears %d times as a token, want 3 (twice in the system turn, once in the assistant's)", n)
	}
	// tool_choice none: the tools are not shown
	p, err = m.PrepareChat(context.Background(), msgs[:1], ChatOptions{Tools: []Tool{weather}, ToolChoice: ToolChoice{Mode: "none"}})
	if err != nil || strings.Contains(p.Text, "<tools>") {
		t.Errorf("tool_choice none: %v\n%s", err, p.Text)
	}
}

func TestValidateTools(t *testing.T) {
	fn := func(name, params string) Tool {
		return Tool{Type: "function", Function: ToolFunction{Name: name, Parameters: json.RawMessage(params)}}
	}
	for _, tc := range []struct {
		name   string
		tools  []Tool
		choice ToolChoice
		param  string // "" when valid
		msg    string
	}{
		{"valid", []Tool{weather}, ToolChoice{Mode: "required"}, "", ""},
		{"no parameters", []Tool{fn("now", "")}, ToolChoice{Mode: "function", Function: "now"}, "", ""},
		{"bad type", []Tool{{Type: "retrieval", Function: ToolFunction{Name: "f"}}}, ToolChoice{}, "tools[0].type", `expected "function"`},
		{"bad name", []Tool{fn("get weather", "")}, ToolChoice{}, "tools[0].function.name", "letters, digits"},
		{"duplicate", []Tool{fn("f", ""), fn("f", "")}, ToolChoice{}, "tools[1].function.name", `two tools are named "f"`},
		{"parameters not an object", []Tool{fn("f", `[1]`)}, ToolChoice{}, "tools[0].function.parameters", "expected a JSON Schema object"},
		{"parameters of type string", []Tool{fn("f", `{"type":"string"}`)}, ToolChoice{}, "tools[0].function.parameters", `"type" must be "object"`},
		{"properties not an object", []Tool{fn("f", `{"type":"object","properties":[]}`)}, ToolChoice{}, "tools[0].function.parameters", `"properties" must be an object`},
		{"unknown property type", []Tool{fn("f", `{"type":"object","properties":{"a":{"type":"str"}}}`)}, ToolChoice{}, "tools[0].function.parameters", `property "a": unknown type "str"`},
		{"required unknown", []Tool{fn("f", `{"type":"object","properties":{"a":{}},"required":["b"]}`)}, ToolChoice{}, "tools[0].function.parameters", `"required" lists "b"`},
		{"required without tools", nil, ToolChoice{Mode: "required"}, "tool_choice", "needs at least one tool"},
		{"unknown function", []Tool{weather}, ToolChoice{Mode: "function", Function: "f"}, "tool_choice", `no tool in 'tools' is named "f"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateTools(tc.tools, tc.choice)
			if tc.param == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var te *ToolError
			if !errors.As(err, &te) || te.Param != tc.param || !strings.Contains(te.Message, tc.msg) {
				t.Errorf("error %v, want a ToolError on %s saying %q", err, tc.param, tc.msg)
			}
		})
	}
}

// TestChatCompletionStream generates a call shaped by a hand-written
// grammar and checks the SDK's reading of it: the message, the finish
// reason and the deltas, whose first names the call and whose arguments add
// up to the message's.
func TestChatCompletionStream(t *testing.T) {
	m := toolChatModel(t)
	g := `root ::= "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": " city ", \"unit\": " unit "}}\n</tool_call>"
city ::= "\"Paris\"" | "\"Lyon\""
unit ::= "\"C\"" | "\"F\""`
	var deltas []ChatDelta
	res, err := m.ChatCompletion(context.Background(), []Message{{Role: "user", Content: "Weather in Paris?"}}, ChatOptions{
		GenerateOptions: GenerateOptions{MaxTokens: 80, Grammar: g},
		Tools:           []Tool{weather},
		OnDelta:         func(d ChatDelta) error { deltas = append(deltas, d); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := res.Message
	if res.FinishReason != FinishToolCalls || res.Result.FinishReason != FinishStop || msg.Content != "" || len(msg.ToolCalls) != 1 {
		t.Fatalf("finish %q (generation %q), message %+v", res.FinishReason, res.Result.FinishReason, msg)
	}
	call := msg.ToolCalls[0]
	var args struct{ City, Unit string }
	if err := json.Unmarshal([]byte(call.Function.Arguments), &args); err != nil || args.City == "" || args.Unit == "" ||
		!strings.HasPrefix(call.ID, "call_") || call.Type != "function" || call.Function.Name != "get_weather" {
		t.Fatalf("call %+v: %v", call, err)
	}
	var streamed string
	for i, d := range deltas {
		if d.Content != "" || d.Reasoning != "" {
			t.Errorf("delta %d has text %+v", i, d)
		}
		for _, c := range d.ToolCalls {
			if c.Index != 0 || (c.ID != "") != (c.Name != "") || (c.ID != "" && (c.ID != call.ID || streamed != "")) {
				t.Errorf("delta %d: %+v", i, c)
			}
			streamed += c.Arguments
		}
	}
	if streamed != call.Function.Arguments {
		t.Errorf("streamed arguments %q, message %q", streamed, call.Function.Arguments)
	}
}

// TestChatCompletionReasoning reads <think> reasoning apart from the
// content and the calls, and gives it back to the template.
func TestChatCompletionReasoning(t *testing.T) {
	m := toolChatModel(t)
	if !m.template.Thinks() {
		t.Fatal("the template does not reason")
	}
	for _, tc := range []struct {
		name, grammar string
		want          Message
	}{
		{"answer", `root ::= "<think>\nThe user greets me.\n</think>\n\nHello!"`,
			Message{Role: "assistant", ReasoningContent: "The user greets me.", Content: "Hello!"}},
		{"call", `root ::= "<think>\nI need the weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"`,
			Message{Role: "assistant", ReasoningContent: "I need the weather.", ToolCalls: []ToolCall{{Type: "function", Function: ToolCallFunction{Name: "get_weather", Arguments: `{"city": "Paris"}`}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reasoning, content string
			res, err := m.ChatCompletion(context.Background(), []Message{{Role: "user", Content: "Hi"}}, ChatOptions{
				GenerateOptions: GenerateOptions{MaxTokens: 80, Grammar: tc.grammar},
				Tools:           []Tool{weather},
				OnDelta: func(d ChatDelta) error {
					reasoning += d.Reasoning
					content += d.Content
					return nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Message
			for i := range got.ToolCalls {
				got.ToolCalls[i].ID = ""
			}
			if !reflect.DeepEqual(got, tc.want) || reasoning != tc.want.ReasoningContent || content != tc.want.Content {
				t.Errorf("message %+v (streamed reasoning %q, content %q), want %+v", got, reasoning, content, tc.want)
			}
			// the reasoning goes back to the template with the message
			p, err := m.PrepareChat(context.Background(), []Message{{Role: "user", Content: "Hi"}, res.Message, {Role: "user", Content: "And?"}}, ChatOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := "<|im_start|>assistant\n<think>\n" + tc.want.ReasoningContent + "\n</think>\n"; !strings.Contains(p.Text, want) {
				t.Errorf("the prompt lacks %q:\n%s", want, p.Text)
			}
		})
	}
}

// TestPrepareChatGeneric: a template that does not show tools gets them in
// the system message, with the generic JSON format.
func TestPrepareChatGeneric(t *testing.T) {
	var buf bytes.Buffer
	if err := synth.WriteChat(&buf, "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n", 7); err != nil {
		t.Fatal(err)
	}
	m, err := OpenBytes("plain", buf.Bytes(), &Options{Threads: 1, Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// the city is enumerated so that the random model ends it
	weather := weather
	weather.Function.Parameters = json.RawMessage(`{"type":"object","properties":{"city":{"enum":["Paris","Lyon"]}},"required":["city"]}`)
	for _, msgs := range [][]Message{
		{{Role: "user", Content: "Weather?"}},
		{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Weather?"}},
	} {
		p, err := m.PrepareChat(context.Background(), msgs, ChatOptions{Tools: []Tool{weather}, ToolChoice: ToolChoice{Mode: "required"}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Format != ToolFormat(0) || !strings.HasPrefix(p.Text, "<|im_start|>system\n"+msgs[0].Content) && msgs[0].Role == "system" ||
			!strings.Contains(p.Text, `{"name":"get_weather","description":"Current weather of a city","parameters":`) ||
			!strings.Contains(p.Text, `{"tool_calls": [`) || !strings.HasPrefix(p.Grammar, `root ::= "{\"tool_calls\": ["`) {
			t.Errorf("format %v, prompt:\n%s\ngrammar:\n%s", p.Format, p.Text, p.Grammar)
		}
		res, err := m.ChatCompletion(context.Background(), msgs, ChatOptions{GenerateOptions: GenerateOptions{MaxTokens: 300}, Tools: []Tool{weather}, ToolChoice: ToolChoice{Mode: "required"}, NoParallelToolCalls: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.FinishReason != FinishToolCalls || len(res.Message.ToolCalls) != 1 || res.Message.ToolCalls[0].Function.Name != "get_weather" {
			t.Errorf("%q reads as %+v (%s)", res.Text, res.Message, res.FinishReason)
		}
	}
}
