package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"glassbox/explain"
)

// DecisionSpans locates, in a traced step's generated tokens, the tokens
// that made its decisions: the first token (where the model starts a call
// or an answer), then for each tool call the tokens of its name and of the
// values of its first arguments (at most maxArgs), as they appear in the
// generated text. A part that cannot be found in the text (a template
// format that does not write it as JSON) gets no span.
func DecisionSpans(s *Step, maxArgs int) []explain.Span {
	t, err := explain.Collect(s.Trace)
	if err != nil || len(t.Steps) == 0 {
		return nil
	}
	var text strings.Builder
	starts := make([]int, len(t.Steps))
	for i, st := range t.Steps {
		starts[i] = text.Len()
		text.WriteString(st.Text)
	}
	full := text.String()
	// tokens returns the span of the tokens overlapping bytes [a, b).
	tokens := func(label string, a, b int) (explain.Span, bool) {
		first, last := -1, -1
		for i, st := range t.Steps {
			s0, s1 := starts[i], starts[i]+len(st.Text)
			if s0 < b && (s1 > a || s0 == s1 && s0 >= a) {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first < 0 {
			return explain.Span{}, false
		}
		return explain.Span{Label: label, First: t.Steps[first].Index, Last: t.Steps[last].Index}, true
	}
	spans := []explain.Span{{Label: "first token (a call or an answer)", First: t.Steps[0].Index, Last: t.Steps[0].Index}}
	pos := 0
	for k, c := range s.Reply.ToolCalls {
		name, _ := json.Marshal(c.Function.Name)
		i := strings.Index(full[pos:], string(name))
		if i < 0 {
			continue
		}
		a := pos + i + 1
		pos = a + len(c.Function.Name)
		if sp, ok := tokens(fmt.Sprintf("call %d: name %s", k+1, name), a, pos); ok {
			spans = append(spans, sp)
		}
		for _, key := range argKeys(c.Function.Arguments, maxArgs) {
			qk, _ := json.Marshal(key)
			j := strings.Index(full[pos:], string(qk))
			if j < 0 {
				break
			}
			v := pos + j + len(qk)
			for v < len(full) && strings.IndexByte(" \t\r\n:", full[v]) >= 0 {
				v++
			}
			end := valueEnd(full, v)
			if end <= v {
				break
			}
			if sp, ok := tokens(fmt.Sprintf("call %d: argument %s = %s", k+1, key, clip(full[v:end], 40)), v, end); ok {
				spans = append(spans, sp)
			}
			pos = end
		}
	}
	return spans
}

// argKeys returns the first n keys of a JSON object, in the order written.
func argKeys(args string, n int) []string {
	dec := json.NewDecoder(strings.NewReader(args))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for len(keys) < n && dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		key, ok := tok.(string)
		if !ok {
			return keys
		}
		keys = append(keys, key)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// valueEnd returns the end of the JSON value starting at s[v:] (v when none
// parses).
func valueEnd(s string, v int) int {
	dec := json.NewDecoder(strings.NewReader(s[v:]))
	var raw json.RawMessage
	if dec.Decode(&raw) != nil {
		return v
	}
	return v + int(dec.InputOffset())
}

// WriteDecisions writes the decisions of a traced step (DecisionSpans, with
// the first three arguments of each call), at most tokens tokens per
// decision (0: all), with ANSI colours when color is set. A step without a
// trace writes nothing.
func WriteDecisions(w io.Writer, s *Step, tokens int, color bool) error {
	if len(s.Trace) == 0 {
		return nil
	}
	t, err := explain.Collect(s.Trace)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "  why (step %d, tool choice %s): the model's candidates where it chose\n", s.Index, FormatToolChoice(s.ToolChoice))
	if err := explain.Decisions(&b, t, DecisionSpans(s, 3), explain.ReportOptions{Color: color, Steps: tokens}); err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}
