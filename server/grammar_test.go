package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestStructuredOutput asks for constrained output on every endpoint and
// field that carries a grammar or a schema, and checks the replies.
func TestStructuredOutput(t *testing.T) {
	_, url := stdServer(t, nil)
	schema := `{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":1,"maximum":99},"good":{"type":"boolean"}},"required":["name","age","good"]}`
	type person struct {
		Name *string `json:"name"`
		Age  *int    `json:"age"`
		Good *bool   `json:"good"`
	}
	checkPerson := func(t *testing.T, text string) {
		var p person
		d := json.NewDecoder(strings.NewReader(text))
		d.DisallowUnknownFields()
		if err := d.Decode(&p); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if p.Name == nil || p.Age == nil || p.Good == nil || len([]rune(*p.Name)) > 12 || *p.Age < 1 || *p.Age > 99 {
			t.Fatalf("%q does not validate", text)
		}
	}
	chat := func(extra string) string {
		return `{"model":"chat","messages":[{"role":"user","content":"Tell me about a cat"}],"max_tokens":200,"temperature":1,"seed":SEED` + extra + `}`
	}
	for seed := range 5 {
		for _, tt := range []struct {
			name, path, body string
			check            func(*testing.T, string)
		}{
			{"response_format json_schema", "/v1/chat/completions", chat(`,"response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,"schema":` + schema + `}}`), checkPerson},
			{"response_format json_object", "/v1/chat/completions", chat(`,"response_format":{"type":"json_object"}`), func(t *testing.T, s string) {
				var v map[string]any
				if err := json.Unmarshal([]byte(s), &v); err != nil {
					t.Fatalf("%q is not a JSON object: %v", s, err)
				}
			}},
			{"json_schema field", "/v1/chat/completions", chat(`,"json_schema":` + schema), checkPerson},
			{"grammar field", "/v1/completions", `{"model":"stories","prompt":"Once upon a time","max_tokens":50,"temperature":1,"seed":SEED,"grammar":"root ::= \" \" (\"yes\" | \"no\") \".\""}`, func(t *testing.T, s string) {
				if s != " yes." && s != " no." {
					t.Fatalf("%q", s)
				}
			}},
			{"completions response_format", "/v1/completions", `{"model":"stories","prompt":"Once upon a time","max_tokens":200,"temperature":1,"seed":SEED,"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":` + schema + `}}}`, checkPerson},
		} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, seed), func(t *testing.T) {
				code, _, body := post(t, url+tt.path, strings.ReplaceAll(tt.body, "SEED", fmt.Sprint(seed)), nil)
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				var r struct {
					Choices []struct {
						Text         string `json:"text"`
						FinishReason string `json:"finish_reason"`
						Message      struct {
							Content string `json:"content"`
						} `json:"message"`
					} `json:"choices"`
				}
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				c := r.Choices[0]
				if c.FinishReason == "length" && tt.name == "response_format json_object" {
					// any JSON object: a small random model may not close it in the
					// context; the text so far must still start one
					if !strings.HasPrefix(c.Message.Content, "{") {
						t.Fatalf("%q does not start a JSON object", c.Message.Content)
					}
					return
				}
				if c.FinishReason != "stop" {
					t.Fatalf("finish_reason %q: %s", c.FinishReason, body)
				}
				tt.check(t, c.Text+c.Message.Content)
			})
		}
	}
}

func TestStructuredOutputErrors(t *testing.T) {
	_, url := stdServer(t, nil)
	chat := func(extra string) string {
		return `{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":5` + extra + `}`
	}
	tests := []struct {
		name, path, body, param string
		msg                     *regexp.Regexp
	}{
		{"malformed grammar", "/v1/completions", `{"model":"stories","prompt":"a","grammar":"root ::= (\"a\""}`, "grammar", regexp.MustCompile(`grammar: 1:\d+: expected \) to close the group`)},
		{"undefined rule", "/v1/chat/completions", chat(`,"grammar":"root ::= x"`), "grammar", regexp.MustCompile(`undefined rule "x"`)},
		{"unsupported keyword", "/v1/chat/completions", chat(`,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"a+"}}}`), "response_format", regexp.MustCompile(`at /pattern: unsupported keyword "pattern"`)},
		{"schema missing", "/v1/chat/completions", chat(`,"response_format":{"type":"json_schema"}`), "response_format", regexp.MustCompile(`needs "json_schema"`)},
		{"bad type", "/v1/chat/completions", chat(`,"response_format":{"type":"xml"}`), "response_format", regexp.MustCompile(`expected text, json_object or json_schema`)},
		{"bad json_schema", "/v1/completions", `{"model":"stories","prompt":"a","json_schema":{"type":"strin"}}`, "json_schema", regexp.MustCompile(`unknown type "strin"`)},
		{"two constraints", "/v1/chat/completions", chat(`,"grammar":"root ::= \"a\"","response_format":{"type":"json_object"}`), "response_format", regexp.MustCompile(`both constrain the output`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := post(t, url+tt.path, tt.body, nil)
			var e struct {
				Error struct {
					Message, Type string
					Param         string
				}
			}
			json.Unmarshal(body, &e)
			if code != 400 || e.Error.Type != "invalid_request_error" || e.Error.Param != tt.param || !tt.msg.MatchString(e.Error.Message) {
				t.Errorf("status %d %s, want 400 with param %s and a message matching %s", code, body, tt.param, tt.msg)
			}
		})
	}
}
