package glassbox

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"glassbox/chat"
	"glassbox/internal/synth"
	"glassbox/tensor"
)

// harmonyModel opens a small random gpt-oss model (the tinygptoss shape,
// with a context that holds the template's system prompt spelled in byte
// tokens) that carries the harmony test template and harmony's special tokens.
func harmonyModel(t *testing.T) *Model {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join("chat", "testdata", "harmony.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	shape := synth.Shapes["tinygptoss"]
	shape.Context = 4096
	var buf bytes.Buffer
	if err := synth.WriteHarmony(&buf, shape, tensor.Q8_0, 3, string(tmpl)); err != nil {
		t.Fatal(err)
	}
	m, err := OpenBytes("harmony.gguf", buf.Bytes(), &Options{Threads: 1, Context: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestChatCompletionHarmony chats with a gpt-oss model whose replies a
// grammar shapes into harmony messages: the analysis channel becomes the
// reasoning, final the content, a commentary message to functions.NAME a
// tool call; the generation stops at <|return|> or <|call|> (a random
// model ends only where the grammar lets it end, with one of them), the
// streamed deltas add up to the message, and the reasoning goes back to the
// template as thinking before a later call.
func TestChatCompletionHarmony(t *testing.T) {
	m := harmonyModel(t)
	if got := m.Config().Arch; got != "gpt-oss" {
		t.Fatalf("architecture %q", got)
	}
	for _, tc := range []struct {
		name, grammar string
		tools         []Tool
		want          Message
		finish        string
	}{
		{"answer", `root ::= "<|channel|>analysis<|message|>The user greets me.<|end|><|start|>assistant<|channel|>final<|message|>Hello!"`, nil,
			Message{Role: "assistant", ReasoningContent: "The user greets me.", Content: "Hello!"}, FinishStop},
		{"call", `root ::= "<|channel|>analysis<|message|>I need the weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}"`,
			[]Tool{weather},
			Message{Role: "assistant", ReasoningContent: "I need the weather.", ToolCalls: []ToolCall{{Type: "function", Function: ToolCallFunction{Name: "get_weather", Arguments: `{"city": "Paris"}`}}}},
			FinishToolCalls},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reasoning, content, args string
			res, err := m.ChatCompletion(context.Background(), []Message{{Role: "user", Content: "Hi"}}, ChatOptions{
				GenerateOptions: GenerateOptions{MaxTokens: 200, Grammar: tc.grammar},
				Tools:           tc.tools,
				OnDelta: func(d ChatDelta) error {
					reasoning += d.Reasoning
					content += d.Content
					for _, c := range d.ToolCalls {
						args += c.Arguments
					}
					return nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Result.FinishReason != FinishStop || res.FinishReason != tc.finish {
				t.Fatalf("generation finished %q, chat %q; want stop and %q (text %q)", res.Result.FinishReason, res.FinishReason, tc.finish, res.Text)
			}
			last := res.Tokens[len(res.Tokens)-1]
			if piece := m.tok.Piece(last.ID); piece != "<|return|>" && piece != "<|call|>" {
				t.Errorf("the generation ended with %q, not <|return|> or <|call|>", piece)
			}
			got := res.Message
			for i := range got.ToolCalls {
				if !strings.HasPrefix(got.ToolCalls[i].ID, "call_") {
					t.Errorf("call id %q", got.ToolCalls[i].ID)
				}
				got.ToolCalls[i].ID = ""
			}
			wantArgs := ""
			for _, c := range tc.want.ToolCalls {
				wantArgs += c.Function.Arguments
			}
			if !reflect.DeepEqual(got, tc.want) || reasoning != tc.want.ReasoningContent || content != tc.want.Content || args != wantArgs {
				t.Errorf("message %+v (streamed reasoning %q, content %q, arguments %q), want %+v (text %q)", got, reasoning, content, args, tc.want, res.Text)
			}
			if len(got.ToolCalls) == 0 {
				return
			}
			// the call and its reasoning go back to the template
			p, err := m.PrepareChat(context.Background(), []Message{{Role: "user", Content: "Hi"}, res.Message, {Role: "tool", Content: "18 C"}}, ChatOptions{Tools: tc.tools})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"<|start|>assistant<|channel|>analysis<|message|>I need the weather.<|end|>",
				"<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{\"city\": \"Paris\"}<|call|>",
				"<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>18 C<|end|><|start|>assistant",
			} {
				if !strings.Contains(p.Text, want) {
					t.Errorf("the prompt lacks %q:\n%s", want, p.Text)
				}
			}
		})
	}
}

// TestHarmonyToolChoiceRequired: a tool choice that requires a call gives a
// gpt-oss model a grammar of harmony calls, each tool's arguments following
// its schema, and the reply reads as one call.
func TestHarmonyToolChoiceRequired(t *testing.T) {
	m := harmonyModel(t)
	clock := Tool{Type: "function", Function: ToolFunction{Name: "now", Description: "The time"}}
	w := weather
	w.Function.Parameters = json.RawMessage(`{"type":"object","properties":{"city":{"enum":["Paris","Lyon"]},"unit":{"enum":["C","F"]}},"required":["city","unit"]}`)
	for _, tc := range []struct {
		name   string
		choice ToolChoice
		names  []string
	}{
		{"required", ToolChoice{Mode: "required"}, []string{"get_weather", "now"}},
		{"function", ToolChoice{Mode: "function", Function: "get_weather"}, []string{"get_weather"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := ChatOptions{GenerateOptions: GenerateOptions{MaxTokens: 200}, Tools: []Tool{w, clock}, ToolChoice: tc.choice}
			p, err := m.PrepareChat(context.Background(), []Message{{Role: "user", Content: "Weather?"}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != chat.ToolFormatHarmony || !p.Reasons() {
				t.Fatalf("format %v, reasons %v", p.Format, p.Reasons())
			}
			for _, n := range []string{"get_weather", "now"} {
				want := slicesContains(tc.names, n)
				if got := strings.Contains(p.Grammar, `"<|channel|>commentary to=functions.`+n+` <|constrain|>json<|message|>"`); got != want {
					t.Errorf("grammar offers %s: %v, want %v:\n%s", n, got, want, p.Grammar)
				}
			}
			res, err := m.ChatCompletion(context.Background(), []Message{{Role: "user", Content: "Weather?"}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.FinishReason != FinishToolCalls || len(res.Message.ToolCalls) != 1 {
				t.Fatalf("%q reads as %+v (%s)", res.Text, res.Message, res.FinishReason)
			}
			c := res.Message.ToolCalls[0].Function
			if !slicesContains(tc.names, c.Name) || !json.Valid([]byte(c.Arguments)) {
				t.Errorf("call %+v from %q", c, res.Text)
			}
			if c.Name == "get_weather" {
				var a struct{ City, Unit string }
				if err := json.Unmarshal([]byte(c.Arguments), &a); err != nil || a.City == "" || a.Unit == "" {
					t.Errorf("arguments %s do not follow the schema: %v", c.Arguments, err)
				}
			}
		})
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
