package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/spf13/cobra"

	"glassbox/internal/synth"
)

// hermesTemplate is the tool-capable template of the server's tests.
var hermesTemplate = filepath.Join("..", "..", "server", "testdata", "tools", "hermes.jinja")

// toolModelFile writes the synthetic qwen2 chat model with a template that
// knows nothing of tools, so that the tests' --chat-template-file is what
// makes tool calling work.
func toolModelFile(t testing.TB) string {
	t.Helper()
	var buf bytes.Buffer
	if err := synth.WriteChat(&buf, "{% for m in messages %}{{ m.content }}{% endfor %}", 7); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "toolchat.gguf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// weatherTool's arguments are fully enumerated, so that a random-weight
// model under the grammar ends them within a few tokens.
var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Current weather of a city"),
	Parameters: shared.FunctionParameters{
		"type": "object",
		"properties": map[string]any{
			"city": map[string]any{"enum": []string{"Paris", "Lyon", "Nice"}},
			"unit": map[string]any{"enum": []string{"C", "F"}},
		},
		"required":             []string{"city", "unit"},
		"additionalProperties": false,
	},
})

// checkCall checks a forced call of get_weather.
func checkCall(t *testing.T, id, name, args string) {
	t.Helper()
	if !strings.HasPrefix(id, "call_") || name != "get_weather" {
		t.Fatalf("call %q of %q, want an id call_… and get_weather", id, name)
	}
	var a struct{ City, Unit string }
	dec := json.NewDecoder(strings.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("arguments %q: %v", args, err)
	}
	if !strings.Contains("Paris Lyon Nice", a.City) || a.City == "" || (a.Unit != "C" && a.Unit != "F") {
		t.Fatalf("arguments %q do not follow the schema", args)
	}
}

// TestServeToolCalling runs a two-step tool-calling conversation with the
// official Go client against glassbox serve, without and with streaming:
// the request with tools gets a tool call (forced by tool_choice, which the
// grammar makes well-formed), the tool's result goes back as a "tool"
// message through the model's template, and the model answers.
func TestServeToolCalling(t *testing.T) {
	srv := startServe(t, "--addr", "127.0.0.1:0", "-m", "toolchat="+toolModelFile(t), "--chat-template-file", hermesTemplate, "-t", "1")
	c := openai.NewClient(option.WithBaseURL(srv.base+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0), option.WithRequestTimeout(2*time.Minute))
	ctx := context.Background()
	question := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")}
	params := func(msgs []openai.ChatCompletionMessageParamUnion, choice openai.ChatCompletionToolChoiceOptionUnionParam) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{
			Model: "toolchat", Messages: msgs, Tools: []openai.ChatCompletionToolUnionParam{weatherTool},
			ToolChoice: choice, ParallelToolCalls: openai.Bool(false),
			Temperature: openai.Float(0), MaxTokens: openai.Int(200),
		}
	}
	required := openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
	auto := openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")}

	// step 1, not streamed
	r1, err := c.Chat.Completions.New(ctx, params(question, required))
	if err != nil {
		t.Fatal(err)
	}
	ch := r1.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.Content != "" {
		t.Fatalf("step 1: finish %q, %d calls, content %q", ch.FinishReason, len(ch.Message.ToolCalls), ch.Message.Content)
	}
	call := ch.Message.ToolCalls[0]
	checkCall(t, call.ID, call.Function.Name, call.Function.Arguments)

	// step 1, streamed: the same call, in OpenAI's deltas
	stream := c.Chat.Completions.NewStreaming(ctx, params(question, required))
	acc := openai.ChatCompletionAccumulator{}
	headers, fragments := 0, 0
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		for _, choice := range chunk.Choices {
			for _, d := range choice.Delta.ToolCalls {
				switch {
				case d.ID != "":
					headers++
					if d.Index != 0 || d.Type != "function" || d.Function.Name != "get_weather" || d.Function.Arguments != "" {
						t.Errorf("first tool-call delta %+v: want index 0, its id, type function, the name and empty arguments", d)
					}
				default:
					fragments++
					if d.Function.Name != "" || d.Type != "" {
						t.Errorf("argument delta %+v carries a name or type", d)
					}
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	sc := acc.Choices[0]
	if headers != 1 || fragments < 1 || sc.FinishReason != "tool_calls" || len(sc.Message.ToolCalls) != 1 {
		t.Fatalf("streamed step 1: %d headers, %d fragments, finish %q, %d calls", headers, fragments, sc.FinishReason, len(sc.Message.ToolCalls))
	}
	if got := sc.Message.ToolCalls[0].Function.Arguments; got != call.Function.Arguments {
		t.Errorf("streamed arguments %q, not streamed %q", got, call.Function.Arguments)
	}

	// step 2: the tool's result goes back; the model answers
	result := `{"city": "Paris", "temperature": 18, "sky": "clear"}`
	msgs := append(question, ch.Message.ToParam(), openai.ToolMessage(result, call.ID))
	r2, err := c.Chat.Completions.New(ctx, params(msgs, auto))
	if err != nil {
		t.Fatal(err)
	}
	if m := r2.Choices[0].Message; m.Content == "" || len(m.ToolCalls) != 0 {
		t.Errorf("step 2: content %q, %d calls", m.Content, len(m.ToolCalls))
	}
	if fr := r2.Choices[0].FinishReason; fr != "stop" && fr != "length" || r2.Usage.PromptTokens <= r1.Usage.PromptTokens {
		t.Errorf("step 2: finish %q, prompt %d tokens (step 1: %d)", fr, r2.Usage.PromptTokens, r1.Usage.PromptTokens)
	}
	stream = c.Chat.Completions.NewStreaming(ctx, params(msgs, auto))
	acc = openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := acc.Choices[0].Message.Content, r2.Choices[0].Message.Content; got != want {
		t.Errorf("step 2 streamed %q, not streamed %q", got, want)
	}

	// the model saw the call and the result through its template
	body := `{"model":"toolchat","max_tokens":1,"glassbox":{"dissect":true},"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],` +
		`"messages":[{"role":"user","content":"What is the weather in Paris?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"` + call.ID + `","type":"function","function":{"name":"get_weather","arguments":` + mustJSON(call.Function.Arguments) + `}}]},` +
		`{"role":"tool","tool_call_id":"` + call.ID + `","content":` + mustJSON(result) + `}]}`
	prompt := dissectPrompt(t, srv.base, body)
	for _, want := range []string{
		"<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"",
		"<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": ",
		"<tool_response>\n" + result + "\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
	} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, prompt)
		}
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// dissectPrompt posts a dissected chat request and returns the prompt text
// of its tokenization event.
func dissectPrompt(t *testing.T, base, body string) string {
	t.Helper()
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("dissect: %d %s %v", resp.StatusCode, b, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Type         string `json:"type"`
			Tokenization *struct {
				Text string `json:"text"`
			} `json:"tokenization"`
		}
		if json.Unmarshal([]byte(data), &ev) == nil && ev.Tokenization != nil {
			return ev.Tokenization.Text
		}
	}
	t.Fatalf("no tokenization event in %s", b)
	return ""
}

// TestServeToolCallingNode runs the same conversation with the official
// openai npm package (server/testdata/node, pinned by its package-lock.json).
func TestServeToolCallingNode(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Node client test (npm ci)")
	}
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf // CI installs Node and npm
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not installed: the Node client test needs Node 20 and npm")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		skip("npm is not installed: the Node client test needs Node 20 and npm")
	}
	// npm ci in a copy, so that node_modules never lands in the repository
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "tools_chat.mjs"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "server", "testdata", "node", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		skip("npm ci failed (offline?), cannot install the openai package: %v\n%s", err, out)
	}
	srv := startServe(t, "--addr", "127.0.0.1:0", "-m", "toolchat="+toolModelFile(t), "--chat-template-file", hermesTemplate, "-t", "1")
	run := exec.CommandContext(ctx, node, "tools_chat.mjs", srv.base, "toolchat")
	run.Dir = dir
	var stderr strings.Builder
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node tools_chat.mjs: %v\n%s", err, stderr.String())
	}
	var got struct {
		Call struct {
			ID       string `json:"id"`
			Function struct{ Name, Arguments string }
		} `json:"call"`
		Fragments int `json:"fragments"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	checkCall(t, got.Call.ID, got.Call.Function.Name, got.Call.Function.Arguments)
	t.Logf("node: %s", out)
}

// TestChatTemplateFile: run and chat use the template of
// --chat-template-file instead of the model's; a missing, empty or
// malformed file is an error naming it.
func TestChatTemplateFile(t *testing.T) {
	model := toolModelFile(t)
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	raising := write("raise.jinja", "{{ raise_exception('the template of the file') }}")
	for _, tc := range []struct {
		name string
		cmd  func() *cobra.Command
		args []string
		want string
	}{
		{"run uses the file", newRunCmd, []string{"-m", model, "-n", "1", "--chat-template-file", raising, "hi"}, "the template of the file"},
		{"chat uses the file", newChatCmd, []string{"-m", model, "-n", "1", "--chat-template-file", raising}, "the template of the file"},
		{"missing file", newRunCmd, []string{"-m", model, "-n", "1", "--chat-template-file", filepath.Join(dir, "none.jinja"), "hi"}, "--chat-template-file: open"},
		{"empty file", newRunCmd, []string{"-m", model, "-n", "1", "--chat-template-file", write("empty.jinja", " \n"), "hi"}, "is empty: expected a Jinja chat template"},
		{"malformed", newRunCmd, []string{"-m", model, "-n", "1", "--chat-template-file", write("bad.jinja", "{% for %}"), "hi"}, "the chat template given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// chat reports a failed reply and goes on; run fails
			_, stderr, err := execute(t, tc.cmd(), "hi\n", tc.args...)
			msg := stderr
			if err != nil {
				msg += err.Error()
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %v (stderr %q), want one saying %q", err, stderr, tc.want)
			}
		})
	}
}
