package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// The fine-tuning datasets are JSONL files (one JSON object a line; blank
// lines are skipped) in the shapes of Hugging Face TRL:
//
//   - language modelling: {"text": "..."};
//   - prompt/completion: {"prompt": "...", "completion": "..."}, or
//     conversational, {"prompt": [messages], "completion": [messages]};
//   - conversation: {"messages": [{"role": "user", "content": "..."}, ...]};
//   - preference: {"prompt", "chosen", "rejected"} (strings, or message lists
//     in the conversational shape), with optional precomputed reference
//     log-probabilities "ref_chosen_logps" and "ref_rejected_logps";
//   - unpaired preference: {"prompt", "completion", "label": true|false},
//     paired per prompt (every desirable completion against every
//     undesirable one of the same prompt) for the pairwise losses.
//
// Other fields (a feedback record's model, sampling settings, time…) are
// ignored. Errors name the file's line and the field.

// Message is one chat message of a conversational record.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Turns is a prompt or a completion: plain text, or chat messages rendered
// with the model's chat template.
type Turns struct {
	Text     string
	Messages []Message // non-nil for the conversational shape
}

// IsChat tells whether t holds messages.
func (t Turns) IsChat() bool { return t.Messages != nil }

// SFTRecord is one line of a supervised fine-tuning dataset.
type SFTRecord struct {
	Line int
	// Exactly one shape is set: Text, Messages, or Prompt and Completion.
	Text               *string
	Messages           []Message
	Prompt, Completion *Turns
}

// PrefRecord is one preference pair.
type PrefRecord struct {
	Line             int // line of the chosen (or only) record
	Prompt           Turns
	Chosen, Rejected Turns
	// RefChosen and RefRejected are precomputed reference log-probabilities
	// (NaN when absent).
	RefChosen, RefRejected float64
}

// lineError names the line (and field) of a bad record.
func lineError(line int, field, format string, args ...any) error {
	if field == "" {
		return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("line %d: field %q: %s", line, field, fmt.Sprintf(format, args...))
}

// readJSONL calls f with every non-blank line's object and its 1-based number.
func readJSONL(r io.Reader, f func(line int, obj map[string]json.RawMessage) error) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		raw, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) > 0 {
			var obj map[string]json.RawMessage
			dec := json.NewDecoder(bytes.NewReader(raw))
			if derr := dec.Decode(&obj); derr != nil || obj == nil {
				if derr == nil {
					derr = fmt.Errorf("null")
				}
				return lineError(n, "", "not a JSON object: %v", derr)
			}
			if dec.More() {
				return lineError(n, "", "more than one JSON value on the line (JSONL has one object a line)")
			}
			if ferr := f(n, obj); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
}

// stringField decodes obj[name] as a string.
func stringField(line int, obj map[string]json.RawMessage, name string) (string, error) {
	raw, ok := obj[name]
	if !ok {
		return "", lineError(line, name, "missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", lineError(line, name, "expected a string, got %s", jsonKind(raw))
	}
	return s, nil
}

// messagesField decodes a list of {"role","content"} messages.
func messagesField(line int, raw json.RawMessage, name string) ([]Message, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, lineError(line, name, "expected a list of messages {\"role\", \"content\"}, got %s", jsonKind(raw))
	}
	if len(items) == 0 {
		return nil, lineError(line, name, "empty list of messages")
	}
	msgs := make([]Message, len(items))
	for i, it := range items {
		f := fmt.Sprintf("%s[%d]", name, i)
		if it == nil {
			return nil, lineError(line, f, "expected a message object, got null")
		}
		var err error
		if msgs[i].Role, err = stringField(line, it, "role"); err != nil {
			return nil, lineError(line, f+".role", "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("line %d: field \"role\": ", line)))
		}
		if msgs[i].Content, err = stringField(line, it, "content"); err != nil {
			return nil, lineError(line, f+".content", "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("line %d: field \"content\": ", line)))
		}
		if msgs[i].Role == "" {
			return nil, lineError(line, f+".role", "empty role")
		}
	}
	return msgs, nil
}

// turnsField decodes a string or a list of messages.
func turnsField(line int, obj map[string]json.RawMessage, name string) (Turns, error) {
	raw, ok := obj[name]
	if !ok {
		return Turns{}, lineError(line, name, "missing")
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		msgs, err := messagesField(line, raw, name)
		return Turns{Messages: msgs}, err
	}
	s, err := stringField(line, obj, name)
	if err != nil {
		return Turns{}, lineError(line, name, "expected a string or a list of messages, got %s", jsonKind(raw))
	}
	return Turns{Text: s}, nil
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// ReadSFT reads a supervised fine-tuning dataset (see the shapes above).
func ReadSFT(r io.Reader) ([]SFTRecord, error) {
	var out []SFTRecord
	err := readJSONL(r, func(line int, obj map[string]json.RawMessage) error {
		rec := SFTRecord{Line: line}
		_, hasMsgs := obj["messages"]
		_, hasText := obj["text"]
		_, hasPrompt := obj["prompt"]
		_, hasCompl := obj["completion"]
		switch {
		case hasMsgs:
			msgs, err := messagesField(line, obj["messages"], "messages")
			if err != nil {
				return err
			}
			rec.Messages = msgs
		case hasPrompt || hasCompl:
			p, err := turnsField(line, obj, "prompt")
			if err != nil {
				return err
			}
			c, err := turnsField(line, obj, "completion")
			if err != nil {
				return err
			}
			if p.IsChat() != c.IsChat() {
				return lineError(line, "completion", "prompt and completion must both be strings or both lists of messages")
			}
			rec.Prompt, rec.Completion = &p, &c
		case hasText:
			s, err := stringField(line, obj, "text")
			if err != nil {
				return err
			}
			rec.Text = &s
		default:
			return lineError(line, "", "expected a field \"messages\", \"prompt\" and \"completion\", or \"text\"")
		}
		out = append(out, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the dataset has no records")
	}
	return out, nil
}

// ReadPreferences reads a preference dataset: paired records, or unpaired
// ones ({"prompt","completion","label"}) paired per prompt, desirable
// against undesirable, in file order.
func ReadPreferences(r io.Reader) ([]PrefRecord, error) {
	var out []PrefRecord
	type unpaired struct {
		line  int
		turns Turns
	}
	type group struct {
		prompt    Turns
		good, bad []unpaired
	}
	groups := map[string]*group{}
	var order []string
	err := readJSONL(r, func(line int, obj map[string]json.RawMessage) error {
		p, err := turnsField(line, obj, "prompt")
		if err != nil {
			return err
		}
		if _, ok := obj["label"]; ok {
			c, err := turnsField(line, obj, "completion")
			if err != nil {
				return err
			}
			var label bool
			if err := json.Unmarshal(obj["label"], &label); err != nil {
				return lineError(line, "label", "expected true or false, got %s", jsonKind(obj["label"]))
			}
			key, _ := json.Marshal(p)
			g := groups[string(key)]
			if g == nil {
				g = &group{prompt: p}
				groups[string(key)] = g
				order = append(order, string(key))
			}
			u := unpaired{line, c}
			if label {
				g.good = append(g.good, u)
			} else {
				g.bad = append(g.bad, u)
			}
			return nil
		}
		rec := PrefRecord{Line: line, Prompt: p, RefChosen: math.NaN(), RefRejected: math.NaN()}
		if rec.Chosen, err = turnsField(line, obj, "chosen"); err != nil {
			return err
		}
		if rec.Rejected, err = turnsField(line, obj, "rejected"); err != nil {
			return err
		}
		if rec.Chosen.IsChat() != rec.Rejected.IsChat() || (p.IsChat() && !rec.Chosen.IsChat()) {
			return lineError(line, "rejected", "prompt, chosen and rejected must be all strings or all lists of messages (a string prompt with message completions is not a shape)")
		}
		_, hc := obj["ref_chosen_logps"]
		_, hr := obj["ref_rejected_logps"]
		if hc != hr {
			missing := "ref_rejected_logps"
			if hr {
				missing = "ref_chosen_logps"
			}
			return lineError(line, missing, "missing (the reference log-probabilities come in pairs)")
		}
		for _, f := range []struct {
			name string
			dst  *float64
		}{{"ref_chosen_logps", &rec.RefChosen}, {"ref_rejected_logps", &rec.RefRejected}} {
			if raw, ok := obj[f.name]; ok {
				if err := json.Unmarshal(raw, f.dst); err != nil || math.IsNaN(*f.dst) || *f.dst > 0 {
					return lineError(line, f.name, "expected a log-probability (a number ≤ 0), got %s", bytes.TrimSpace(raw))
				}
			}
		}
		out = append(out, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range order {
		g := groups[k]
		for _, a := range g.good {
			for _, b := range g.bad {
				out = append(out, PrefRecord{Line: a.line, Prompt: g.prompt, Chosen: a.turns, Rejected: b.turns,
					RefChosen: math.NaN(), RefRejected: math.NaN()})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the dataset has no preference pairs (unpaired records need a desirable and an undesirable completion of the same prompt)")
	}
	return out, nil
}
