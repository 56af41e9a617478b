package glassbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"glassbox/chat"
)

// callRule is the name the JSON Schema grammar of a call object gets in a
// tool-call grammar.
const callRule = "tool-call-object"

// toolCallGrammar returns a GBNF grammar of a reply made of tool calls in
// the format's syntax: one call (single) or one or more, each of a tool
// choice allows, with arguments following the tool's parameters schema.
func toolCallGrammar(f ToolFormat, tools []Tool, choice ToolChoice, single bool) (string, error) {
	if f == chat.ToolFormatHarmony {
		return harmonyCallGrammar(tools, choice)
	}
	argsKey := "arguments"
	if f == chat.ToolFormatLlama3 {
		argsKey = "parameters"
	}
	var alts []json.RawMessage
	var index []int
	for i, t := range tools {
		if choice.Mode == "function" && t.Function.Name != choice.Function {
			continue
		}
		params := t.Function.Parameters
		if len(params) == 0 || string(params) == "null" {
			params = json.RawMessage(`{"type": "object"}`)
		}
		name, _ := json.Marshal(t.Function.Name)
		alts = append(alts, json.RawMessage(fmt.Sprintf(`{"type": "object", "properties": {"name": {"enum": [%s]}, %q: %s}, "required": ["name", %q]}`, name, argsKey, params, argsKey)))
		index = append(index, i)
	}
	var schema []byte
	if len(alts) == 1 {
		schema = alts[0]
	} else {
		schema, _ = json.Marshal(map[string]any{"anyOf": alts})
	}
	obj, err := JSONSchemaGrammar(schema)
	if err != nil {
		// find the tool at fault to name it
		for k, a := range alts {
			if _, err1 := JSONSchemaGrammar(a); err1 != nil {
				i := index[k]
				return "", &ToolError{fmt.Sprintf("tools[%d].function.parameters", i),
					fmt.Sprintf("invalid schema for function '%s' (tools[%d].function.parameters): %v", tools[i].Function.Name, i, err1)}
			}
		}
		return "", &ToolError{"tools", fmt.Sprintf("invalid tools: %v", err)}
	}
	obj, err = renameRule(obj, "root", callRule)
	if err != nil {
		return "", err
	}
	var root string
	switch f {
	case chat.ToolFormatHermes:
		root = "root ::= tool-call" + repeat(single, `"\n" tool-call`) + "\n" +
			"tool-call ::= " + gbnfLiteral("<tool_call>\n") + " " + callRule + " " + gbnfLiteral("\n</tool_call>")
	case chat.ToolFormatLlama3:
		root = "root ::= " + callRule + repeat(single, `"; " `+callRule)
	case chat.ToolFormatMistral:
		root = "root ::= " + gbnfLiteral("[TOOL_CALLS][") + " " + callRule + repeat(single, `", " `+callRule) + ` "]"`
	default:
		root = "root ::= " + gbnfLiteral(`{"tool_calls": [`) + " " + callRule + repeat(single, `", " `+callRule) + " " + gbnfLiteral("]}")
	}
	return root + "\n" + obj, nil
}

// harmonyCallGrammar returns the grammar of one harmony tool call (gpt-oss:
// a reply ends at its first call, <|call|>), "<|channel|>commentary
// to=functions.NAME <|constrain|>json<|message|>" then arguments following
// that tool's parameters schema, for each tool choice allows. Each tool's
// schema grammar keeps its own rules, their names prefixed with "tool" and
// the tool's index.
func harmonyCallGrammar(tools []Tool, choice ToolChoice) (string, error) {
	var root, rules strings.Builder
	root.WriteString("root ::=")
	alts := 0
	for i, t := range tools {
		if choice.Mode == "function" && t.Function.Name != choice.Function {
			continue
		}
		params := t.Function.Parameters
		if len(params) == 0 || string(params) == "null" {
			params = json.RawMessage(`{"type": "object"}`)
		}
		g, err := JSONSchemaGrammar(params)
		if err != nil {
			return "", &ToolError{fmt.Sprintf("tools[%d].function.parameters", i),
				fmt.Sprintf("invalid schema for function '%s' (tools[%d].function.parameters): %v", t.Function.Name, i, err)}
		}
		prefix := fmt.Sprintf("tool%d-", i)
		if g, err = renameRules(g, func(name string) (string, error) { return prefix + name, nil }); err != nil {
			return "", err
		}
		if alts > 0 {
			root.WriteString(" |")
		}
		alts++
		root.WriteString(" " + gbnfLiteral("<|channel|>commentary to=functions."+t.Function.Name+" <|constrain|>json<|message|>") + " " + prefix + "root")
		rules.WriteString(g)
		if !strings.HasSuffix(g, "\n") {
			rules.WriteByte('\n')
		}
	}
	if alts == 0 {
		return "", &ToolError{"tool_choice", "no tool matches the tool choice"}
	}
	return root.String() + "\n" + rules.String(), nil
}

// repeat returns " (item)*" unless single.
func repeat(single bool, item string) string {
	if single {
		return ""
	}
	return " (" + item + ")*"
}

// gbnfLiteral quotes s as a GBNF string literal.
func gbnfLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// renameRule renames the rule from (its definition and every reference) in
// GBNF source, leaving string literals, character classes and comments as
// they are. It fails when the source already has a rule named to.
func renameRule(src, from, to string) (string, error) {
	return renameRules(src, func(name string) (string, error) {
		switch name {
		case from:
			return to, nil
		case to:
			return "", errors.New("the arguments' grammar already has a rule named " + to)
		}
		return name, nil
	})
}

// renameRules gives every rule name of GBNF source (definitions and
// references) the name rename returns, leaving string literals, character
// classes, comments and repetition counts as they are.
func renameRules(src string, rename func(string) (string, error)) (string, error) {
	var b strings.Builder
	isName := func(c byte) bool {
		return c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"' || c == '[':
			end := byte('"')
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(src) && src[j] != end {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			b.WriteString(src[i:j])
			i = j
		case c == '#':
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = len(src) - i
			}
			b.WriteString(src[i : i+j])
			i += j
		case isName(c):
			j := i
			for j < len(src) && isName(src[j]) {
				j++
			}
			name := src[i:j]
			if c < '0' || c > '9' { // not a repetition count such as {0,20}
				var err error
				if name, err = rename(name); err != nil {
					return "", err
				}
			}
			b.WriteString(name)
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}
