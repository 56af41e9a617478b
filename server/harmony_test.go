package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"glassbox"
	"glassbox/internal/synth"
	"glassbox/tensor"
)

// TestHarmonyChat: the OpenAI-compatible chat endpoint serves a gpt-oss
// model (a small random one carrying the harmony test template) as
// llama-server does: the analysis channel of a reply is reasoning_content,
// final is content, a commentary message to functions.NAME a tool call with
// finish_reason tool_calls. A grammar shapes the random model's replies.
func TestHarmonyChat(t *testing.T) {
	tmpl, err := os.ReadFile(filepath.Join("..", "chat", "testdata", "harmony.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	shape := synth.Shapes["tinygptoss"]
	shape.Context = 4096
	var buf bytes.Buffer
	if err := synth.WriteHarmony(&buf, shape, tensor.Q8_0, 3, string(tmpl)); err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.OpenBytes("gptoss", buf.Bytes(), &glassbox.Options{Threads: 1, Context: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	_, base := testServer(t, Config{Models: []Model{{Name: "gptoss", Model: m}}})
	grammar := func(g string) string { b, _ := json.Marshal(g); return string(b) }
	for _, tc := range []struct {
		name, fields       string
		reasoning, content string
		call, args, finish string
	}{
		{"answer", `"grammar":` + grammar(`root ::= "<|channel|>analysis<|message|>Greeting.<|end|><|start|>assistant<|channel|>final<|message|>Hello!"`),
			"Greeting.", "Hello!", "", "", "stop"},
		{"call", `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],` +
			`"grammar":` + grammar(`root ::= "<|channel|>analysis<|message|>Need it.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}"`),
			"Need it.", "", "get_weather", `{"city": "Paris"}`, "tool_calls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"gptoss","max_tokens":200,"messages":[{"role":"user","content":"Hi"}],` + tc.fields + `}`
			status, _, resp := post(t, base+"/v1/chat/completions", body, nil)
			var r struct {
				Choices []struct {
					Message struct {
						Content          *string `json:"content"`
						ReasoningContent string  `json:"reasoning_content"`
						ToolCalls        []struct {
							Function struct{ Name, Arguments string } `json:"function"`
						} `json:"tool_calls"`
					} `json:"message"`
					FinishReason string `json:"finish_reason"`
				} `json:"choices"`
			}
			if status != http.StatusOK || json.Unmarshal(resp, &r) != nil || len(r.Choices) != 1 {
				t.Fatalf("%d %s", status, resp)
			}
			c := r.Choices[0]
			content := ""
			if c.Message.Content != nil {
				content = *c.Message.Content
			}
			call, args := "", ""
			if len(c.Message.ToolCalls) == 1 {
				call, args = c.Message.ToolCalls[0].Function.Name, c.Message.ToolCalls[0].Function.Arguments
			}
			if c.Message.ReasoningContent != tc.reasoning || content != tc.content || call != tc.call || args != tc.args ||
				len(c.Message.ToolCalls) > 1 || c.FinishReason != tc.finish {
				t.Errorf("reply %s", resp)
			}
		})
	}
}
