package server

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/synth"
)

// toolServer serves the synthetic qwen2 chat model with the Hermes tool
// template of testdata/tools as "toolchat".
func toolServer(t *testing.T) string {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("testdata", "tools", "hermes.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := synth.WriteChat(&buf, string(tmpl), 7); err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.OpenBytes("toolchat", buf.Bytes(), &glassbox.Options{Threads: 1, Context: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	_, base := testServer(t, Config{Models: []Model{{Name: "toolchat", Model: m}}})
	return base
}

// TestToolRequestErrors: malformed tools, tool choices and tool messages
// get a 400 naming the field and the problem.
func TestToolRequestErrors(t *testing.T) {
	base := toolServer(t)
	const user = `{"role":"user","content":"hi"}`
	tool := func(params string) string {
		return `[{"type":"function","function":{"name":"f","parameters":` + params + `}}]`
	}
	for _, tc := range []struct {
		name, fields, param, msg string
	}{
		{"parameters not a schema", `"tools":` + tool(`"object"`), "tools[0].function.parameters", "invalid schema for function 'f'"},
		{"parameters of an array", `"tools":` + tool(`{"type":"array"}`), "tools[0].function.parameters", `"type" must be "object"`},
		{"bad property type", `"tools":` + tool(`{"type":"object","properties":{"n":{"type":"int"}}}`), "tools[0].function.parameters", `unknown type "int"`},
		{"required not listed", `"tools":` + tool(`{"type":"object","properties":{},"required":["x"]}`), "tools[0].function.parameters", `"required" lists "x"`},
		{"no function", `"tools":[{"type":"function"}]`, "tools[0].function", "is required"},
		{"not a function", `"tools":[{"type":"code_interpreter","function":{"name":"f"}}]`, "tools[0].type", `expected "function"`},
		{"bad name", `"tools":[{"type":"function","function":{"name":"a b"}}]`, "tools[0].function.name", "letters, digits"},
		{"same name twice", `"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]`, "tools[1].function.name", "two tools"},
		{"tools not an array", `"tools":{"type":"function"}`, "tools", ""},
		{"unknown tool_choice", `"tools":` + tool(`{}`) + `,"tool_choice":"always"`, "tool_choice", `got "always"`},
		{"tool_choice of a missing function", `"tools":` + tool(`{}`) + `,"tool_choice":{"type":"function","function":{"name":"g"}}`, "tool_choice", `named "g"`},
		{"schema the grammar cannot force", `"tool_choice":"required","tools":` + tool(`{"type":"object","properties":{"q":{"type":"string","pattern":"^a"}}}`), "tools[0].function.parameters", `unsupported keyword "pattern"`},
		{"reserved template variable", `"chat_template_kwargs":{"tools":[]}`, "chat_template_kwargs", `"tools" is set by the server`},
		{"required without tools", `"tool_choice":"required"`, "tool_choice", "at least one tool"},
		{"forced call and a response_format", `"tool_choice":"required","tools":` + tool(`{}`) + `,"response_format":{"type":"json_object"}`, "tool_choice", "cannot be combined with 'response_format'"},
		{"forced call and a grammar", `"tool_choice":{"type":"function","function":{"name":"f"}},"tools":` + tool(`{}`) + `,"grammar":"root ::= \"a\""`, "tool_choice", "cannot be combined"},
		{"tool_calls in a user message", `"messages":[{"role":"user","content":"hi","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]}]`, "messages[0].tool_calls", "only allowed in assistant messages"},
		{"tool call without a name", `"messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"arguments":"{}"}}]}]`, "messages[1].tool_calls[0].function.name", "is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"toolchat","max_tokens":1,` + tc.fields
			if !strings.Contains(tc.fields, `"messages"`) {
				body += `,"messages":[` + user + `]`
			}
			status, _, resp := post(t, base+"/v1/chat/completions", body+"}", nil)
			e := decodeError(t, resp)
			if status != http.StatusBadRequest || e.Param == nil || *e.Param != tc.param || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("%d %s, want 400 on %s saying %q", status, resp, tc.param, tc.msg)
			}
		})
	}
}

// TestToolMessages: a conversation with an assistant's tool calls (content
// null) and a tool's result is accepted, and the reply to a request without
// a call is plain content with finish_reason stop or length.
func TestToolMessages(t *testing.T) {
	base := toolServer(t)
	body := `{"model":"toolchat","max_tokens":4,"temperature":0,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],` +
		`"messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"18 C"}]}`
	status, _, resp := post(t, base+"/v1/chat/completions", body, nil)
	if status != http.StatusOK || !strings.Contains(string(resp), `"finish_reason":"length"`) || strings.Contains(string(resp), "tool_calls") {
		t.Errorf("%d %s", status, resp)
	}
	// a schema keyword the grammar lacks is no obstacle when no call is forced
	body = strings.Replace(body, `{"city":{"type":"string"}}`, `{"city":{"type":"string","pattern":"^[A-Z]"}}`, 1)
	if status, _, resp := post(t, base+"/v1/chat/completions", body, nil); status != http.StatusOK {
		t.Errorf("auto with a pattern: %d %s", status, resp)
	}
}
