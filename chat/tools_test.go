package chat

import (
	"encoding/json"
	"strings"
	"testing"
)

var weatherTool = Tool{Type: "function", Function: ToolFunction{
	Name: "get_weather", Description: "Weather of a city",
	Parameters: json.RawMessage(`{"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}`),
}}

// toolConversation is a two-step tool conversation: the user's question,
// the assistant's call, the tool's answer.
var toolConversation = []Message{
	{Role: "user", Content: "Weather in Paris?"},
	{Role: "assistant", ToolCalls: []ToolCall{{ID: "call_1", Type: "function", Function: ToolCallFunction{Name: "get_weather", Arguments: `{"city": "Paris", "days": 1}`}}}},
	{Role: "tool", ToolCallID: "call_1", Name: "get_weather", Content: `{"sky": "clear"}`},
}

// TestRenderTools renders tools, tool calls and tool results with Qwen3's
// own template, as transformers' apply_chat_template does.
func TestRenderTools(t *testing.T) {
	tmpl, opt := loadFixtureTemplate(t, "qwen3")
	if !tmpl.SupportsTools() || tmpl.ToolFormat() != ToolFormatHermes || !tmpl.Thinks() {
		t.Fatalf("qwen3: SupportsTools %v, ToolFormat %v, Thinks %v", tmpl.SupportsTools(), tmpl.ToolFormat(), tmpl.Thinks())
	}
	opt.AddGenerationPrompt = true
	opt.Tools = []Tool{weatherTool}
	got, err := tmpl.Render(toolConversation, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
		"You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
		`{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}}` +
		"\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\nWeather in Paris?<|im_end|>\n" +
		"<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 1}}\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\n<tool_response>\n{\"sky\": \"clear\"}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}
}

// TestRenderToolFields checks the fields a template sees.
func TestRenderToolFields(t *testing.T) {
	src := "{% for t in tools %}{{ t.function.name }}:{{ t.function.parameters.required[0] }};{% endfor %}" +
		"{% for m in messages %}[{{ m.role }}|{{ m.content }}|{% for c in m.tool_calls %}{{ c.id }} {{ c.function.name }} {{ c.function.arguments.city }} {{ c.function.arguments.days + 1 }}{% endfor %}|{{ m.tool_call_id }}|{{ m.name }}]{% endfor %}" +
		"{% if messages[1].tool_calls[0].function.arguments is string %}S{% else %}O{% endif %}"
	tmpl, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render(toolConversation, Options{Tools: []Tool{weatherTool}})
	if err != nil {
		t.Fatal(err)
	}
	want := `get_weather:city;[user|Weather in Paris?|||][assistant||call_1 get_weather Paris 2||][tool|{"sky": "clear"}||call_1|get_weather]O`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// arguments that are not a JSON object reach the template as a string
	msgs := []Message{{Role: "assistant", ToolCalls: []ToolCall{{Function: ToolCallFunction{Name: "f", Arguments: "not json"}}}}}
	tmpl2, _ := Parse("{% for c in messages[0].tool_calls %}{{ c.type }}|{{ c.function.arguments }}{% if c.function.arguments is string %}!{% endif %}{% endfor %}")
	if got, err := tmpl2.Render(msgs, Options{}); err != nil || got != "function|not json!" {
		t.Errorf("string arguments: %q, %v", got, err)
	}
	if got, _ := tmpl.Render(nil, Options{}); strings.Contains(got, "get_weather") {
		t.Errorf("tools without Options.Tools: %q", got)
	}
}
