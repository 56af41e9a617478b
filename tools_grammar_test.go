package glassbox

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"glassbox/chat"
)

func TestRenameRule(t *testing.T) {
	src := "root ::= \"{\" ws item ws \"}\" # the root\nitem ::= [a-z]+ | \"root\" | root-like | root\nroot-like ::= \"x\\\"root\" [root]\nws ::= [ \\t\\n]*"
	got, err := renameRule(src, "root", "tool-call-object")
	if err != nil {
		t.Fatal(err)
	}
	want := "tool-call-object ::= \"{\" ws item ws \"}\" # the root\nitem ::= [a-z]+ | \"root\" | root-like | tool-call-object\nroot-like ::= \"x\\\"root\" [root]\nws ::= [ \\t\\n]*"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := renameRule("root ::= tool-call-object\ntool-call-object ::= \"a\"", "root", "tool-call-object"); err == nil {
		t.Error("renaming onto an existing rule: no error")
	}
	if err := CheckGrammar("root ::= tool-call-object\n" + got); err != nil {
		t.Errorf("renamed grammar: %v", err)
	}
}

func TestGBNFLiteral(t *testing.T) {
	lit := gbnfLiteral("<tool_call>\n{\"a\\b\"\t")
	if lit != `"<tool_call>\n{\"a\\b\"\t"` {
		t.Errorf("gbnfLiteral: %s", lit)
	}
	if err := CheckGrammar("root ::= " + lit); err != nil {
		t.Errorf("%s: %v", lit, err)
	}
}

// TestToolCallGrammarFormats generates, under each format's forcing
// grammar, a call with the synthetic model and reads it back with that
// format's parser: the call is well-formed and its arguments follow the
// schema.
func TestToolCallGrammarFormats(t *testing.T) {
	m := toolChatModel(t)
	tool := Tool{Type: "function", Function: ToolFunction{Name: "get_weather",
		Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"enum":["Paris","Lyon"]},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false}`)}}
	other := Tool{Type: "function", Function: ToolFunction{Name: "now"}}
	for f := chat.ToolFormatGeneric; f <= chat.ToolFormatMistral; f++ {
		for _, choice := range []ToolChoice{{Mode: "required"}, {Mode: "function", Function: "get_weather"}} {
			t.Run(f.String()+"/"+choice.Mode, func(t *testing.T) {
				g, err := toolCallGrammar(f, []Tool{other, tool}, choice, true)
				if err != nil {
					t.Fatal(err)
				}
				if err := CheckGrammar(g); err != nil {
					t.Fatalf("%v\n%s", err, g)
				}
				res, err := m.Generate(context.Background(), "<|im_start|>assistant\n", GenerateOptions{MaxTokens: 300, Grammar: g, ParseSpecial: true})
				if err != nil {
					t.Fatal(err)
				}
				r := chat.ParseReply(res.Text, chat.ParseOptions{Format: f, Tools: true})
				if res.FinishReason != FinishStop || len(r.Calls) != 1 || !r.Calls[0].Complete || r.Content != "" {
					t.Fatalf("%q (%s) reads as %+v", res.Text, res.FinishReason, r)
				}
				c := r.Calls[0]
				if choice.Mode == "function" && c.Name != "get_weather" {
					t.Errorf("call of %s, want get_weather", c.Name)
				}
				if c.Name == "get_weather" {
					var args struct {
						City string
						Days int
					}
					if err := json.Unmarshal([]byte(c.Arguments), &args); err != nil || args.City == "" || args.Days < 1 || args.Days > 7 {
						t.Errorf("arguments %q: %v", c.Arguments, err)
					}
				} else if !json.Valid([]byte(c.Arguments)) {
					t.Errorf("arguments %q", c.Arguments)
				}
			})
		}
	}
	// a schema the grammar cannot express names its tool
	bad := Tool{Type: "function", Function: ToolFunction{Name: "find", Parameters: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string","pattern":"^a"}}}`)}}
	_, err := toolCallGrammar(chat.ToolFormatHermes, []Tool{tool, bad}, ToolChoice{Mode: "required"}, false)
	var te *ToolError
	if !errors.As(err, &te) || te.Param != "tools[1].function.parameters" || !strings.Contains(te.Message, "pattern") {
		t.Errorf("unsupported keyword: %v", err)
	}
}
