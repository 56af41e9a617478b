// Package feedback keeps the judgements people make of a model's replies —
// thumbs up or down on one reply, a pick between two replies to the same
// prompt — as an append-only JSONL file, and turns them into preference
// datasets in the shapes Hugging Face TRL reads: pairs (prompt, chosen,
// rejected) for reward models and DPO, unpaired examples (prompt,
// completion, label) for KTO-style training.
//
// One record is one line of JSON. Its fields:
//
//	id           a unique id ("fb-" and 16 hex digits), given by Append when missing
//	time         when the judgement was made (RFC 3339, UTC)
//	kind         "pair", "thumbs" or "ab" (inferred from the fields when missing)
//	prompt       the prompt: a string, or a list of {role, content} messages
//	chosen       pair and ab (a winner picked): the preferred reply
//	rejected     pair and ab (a winner picked): the other reply
//	completion   thumbs: the reply judged
//	label        thumbs: true for thumbs up, false for thumbs down
//	completions  ab: the two replies shown, A then B
//	choice       ab: "a", "b", "tie" or "both_bad"
//	seeds        ab: the sampling seeds of A and B
//	model        the model that wrote the replies
//	sampling     its settings: temperature, top_k, top_p, min_p, max_tokens, seed
//	source       who wrote the record: "web" (the page), "cli", a script's name
//
// A reply (chosen, rejected, completion, completions[i]) is a string or a
// list of messages, as the prompt. A line written by a script in TRL's own
// shapes, {"prompt","chosen","rejected"} or {"prompt","completion","label"},
// is a valid record.
//
// Writes are safe under concurrent writers, goroutines and processes alike,
// and under crashes: each record is one write of one whole line to the file
// opened with O_APPEND, under an exclusive file lock, followed by fsync
// before Append returns. A line torn by a crash in the middle of a write (it
// was never acknowledged) is the only one that can be damaged: readers skip
// it with a warning, and the next writer moves it to FILE.torn before
// appending, so that it never merges with a new line.
package feedback

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of records.
const (
	// KindPair is a preference between two replies: chosen over rejected.
	KindPair = "pair"
	// KindThumbs is a thumbs up (label true) or down (label false) on one reply.
	KindThumbs = "thumbs"
	// KindAB is a side-by-side comparison of two replies to the same prompt
	// (A and B, sampled with different seeds) and the person's choice.
	KindAB = "ab"
)

// Choices of an A/B comparison.
const (
	ChoiceA       = "a"        // A is better
	ChoiceB       = "b"        // B is better
	ChoiceTie     = "tie"      // both are as good
	ChoiceBothBad = "both_bad" // neither is acceptable
)

// Message is one chat message of a conversational prompt or reply.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Content is a prompt or a reply: plain text, or (when Messages is not nil)
// a list of chat messages, the two shapes TRL datasets use. It is written as
// a JSON string or a JSON array of messages.
type Content struct {
	Text     string
	Messages []Message
}

// Text returns plain-text content.
func Text(s string) Content { return Content{Text: s} }

// IsZero reports whether c holds no text and no message.
func (c Content) IsZero() bool { return c.Text == "" && len(c.Messages) == 0 }

// Conversational reports whether c is a list of messages.
func (c Content) Conversational() bool { return c.Messages != nil }

// String returns the text, or the messages as "role: content" lines.
func (c Content) String() string {
	if c.Messages == nil {
		return c.Text
	}
	var b strings.Builder
	for i, m := range c.Messages {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m.Role)
		b.WriteString(": ")
		b.WriteString(m.Content)
	}
	return b.String()
}

// Equal reports whether a and b hold the same text or the same messages.
func (c Content) Equal(o Content) bool {
	if (c.Messages == nil) != (o.Messages == nil) || c.Text != o.Text || len(c.Messages) != len(o.Messages) {
		return false
	}
	for i := range c.Messages {
		if c.Messages[i] != o.Messages[i] {
			return false
		}
	}
	return true
}

// MarshalJSON writes the text as a JSON string, or the messages as an array.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Messages != nil {
		return json.Marshal(c.Messages)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON reads a JSON string or an array of {role, content} messages.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Content{Text: s}
		return nil
	case len(b) > 0 && b[0] == '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		msgs := make([]Message, 0, len(raw))
		for i, r := range raw {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(r, &m); err != nil || m == nil {
				return fmt.Errorf("message %d: expected an object with \"role\" and \"content\"", i)
			}
			var msg Message
			if err := json.Unmarshal(m["role"], &msg.Role); err != nil || msg.Role == "" {
				return fmt.Errorf("message %d: \"role\" must be a non-empty string", i)
			}
			if err := json.Unmarshal(m["content"], &msg.Content); err != nil {
				return fmt.Errorf("message %d: \"content\" must be a string", i)
			}
			msgs = append(msgs, msg)
		}
		*c = Content{Messages: msgs}
		return nil
	}
	return errors.New("expected a string or a list of {\"role\", \"content\"} messages")
}

// Sampling is the sampling settings a reply was generated with.
type Sampling struct {
	Temperature float64 `json:"temperature"`
	TopK        int     `json:"top_k"`
	TopP        float64 `json:"top_p"`
	MinP        float64 `json:"min_p"`
	MaxTokens   int     `json:"max_tokens,omitempty"`
	// Seed is the seed of the reply (thumbs records); an A/B record keeps
	// the seeds of its two replies in Record.Seeds.
	Seed *int64 `json:"seed,omitempty"`
}

// Record is one judgement: one line of the feedback file. See the package
// documentation for its fields and kinds.
type Record struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Kind        string    `json:"kind"`
	Prompt      Content   `json:"prompt"`
	Chosen      *Content  `json:"chosen,omitempty"`
	Rejected    *Content  `json:"rejected,omitempty"`
	Completion  *Content  `json:"completion,omitempty"`
	Label       *bool     `json:"label,omitempty"`
	Completions []Content `json:"completions,omitempty"`
	Choice      string    `json:"choice,omitempty"`
	Seeds       []int64   `json:"seeds,omitempty"`
	Model       string    `json:"model,omitempty"`
	Sampling    *Sampling `json:"sampling,omitempty"`
	Source      string    `json:"source,omitempty"`
}

// FieldError is a record field that is missing or wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Msg) }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// maxIDLen bounds a record id.
const maxIDLen = 128

// Normalize completes a record as Append stores it — an id and the time
// when missing, then Complete — and checks it (Validate).
func (r *Record) Normalize() error {
	if r.ID == "" {
		r.ID = NewID()
	}
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	r.Complete()
	return r.Validate()
}

// Complete infers the kind from the fields when it is empty, and fills
// chosen and rejected in from an A/B choice of a winner, so that a record a
// script wrote in TRL's shapes reads as any other.
func (r *Record) Complete() {
	if r.Kind == "" {
		switch {
		case r.Completions != nil || r.Choice != "":
			r.Kind = KindAB
		case r.Chosen != nil || r.Rejected != nil:
			r.Kind = KindPair
		case r.Completion != nil || r.Label != nil:
			r.Kind = KindThumbs
		}
	}
	if r.Kind == KindAB && len(r.Completions) == 2 && (r.Choice == ChoiceA || r.Choice == ChoiceB) && r.Chosen == nil && r.Rejected == nil {
		w, l := r.Completions[0], r.Completions[1]
		if r.Choice == ChoiceB {
			w, l = l, w
		}
		r.Chosen, r.Rejected = &w, &l
	}
}

// Validate checks that the record has the fields its kind needs, each
// error naming the field. The id and the time may be missing (a line a
// script wrote); Append always writes them.
func (r *Record) Validate() error {
	if len(r.ID) > maxIDLen || strings.ContainsAny(r.ID, "\x00\n\r") {
		return fieldErr("id", "at most %d characters, on one line", maxIDLen)
	}
	if r.Prompt.IsZero() {
		return fieldErr("prompt", "missing or empty: the text or the messages the replies answer")
	}
	reply := func(field string, c *Content) error {
		if c == nil {
			return fieldErr(field, "missing")
		}
		if c.Messages != nil && len(c.Messages) == 0 {
			return fieldErr(field, "an empty list of messages")
		}
		return nil
	}
	switch r.Kind {
	case "":
		return fieldErr("kind", `missing, and the fields say nothing: give "chosen" and "rejected" (a pair), "completion" and "label" (thumbs) or "completions" and "choice" (A/B)`)
	case KindPair:
		if err := reply("chosen", r.Chosen); err != nil {
			return err
		}
		if err := reply("rejected", r.Rejected); err != nil {
			return err
		}
		if r.Completion != nil || r.Label != nil || r.Completions != nil || r.Choice != "" {
			return fieldErr("kind", `a "pair" record has "chosen" and "rejected", not "completion", "label", "completions" or "choice"`)
		}
	case KindThumbs:
		if err := reply("completion", r.Completion); err != nil {
			return err
		}
		if r.Label == nil {
			return fieldErr("label", "missing: true for thumbs up, false for thumbs down")
		}
		if r.Chosen != nil || r.Rejected != nil || r.Completions != nil || r.Choice != "" {
			return fieldErr("kind", `a "thumbs" record has "completion" and "label", not "chosen", "rejected", "completions" or "choice"`)
		}
	case KindAB:
		if len(r.Completions) != 2 {
			return fieldErr("completions", "want the two replies compared, A then B; got %d", len(r.Completions))
		}
		for i := range r.Completions {
			if err := reply(fmt.Sprintf("completions[%d]", i), &r.Completions[i]); err != nil {
				return err
			}
		}
		if r.Seeds != nil && len(r.Seeds) != 2 {
			return fieldErr("seeds", "want the seeds of A and B; got %d", len(r.Seeds))
		}
		switch r.Choice {
		case ChoiceA, ChoiceB:
			w, l := r.Completions[0], r.Completions[1]
			if r.Choice == ChoiceB {
				w, l = l, w
			}
			if r.Chosen == nil || !r.Chosen.Equal(w) {
				return fieldErr("chosen", "must be the reply the choice %q names", r.Choice)
			}
			if r.Rejected == nil || !r.Rejected.Equal(l) {
				return fieldErr("rejected", "must be the reply the choice %q does not name", r.Choice)
			}
		case ChoiceTie, ChoiceBothBad:
			if r.Chosen != nil || r.Rejected != nil {
				return fieldErr("chosen", "a %q choice has no winner: no \"chosen\" or \"rejected\"", r.Choice)
			}
		case "":
			return fieldErr("choice", `missing: "a", "b", "tie" or "both_bad"`)
		default:
			return fieldErr("choice", `%q: want "a", "b", "tie" or "both_bad"`, r.Choice)
		}
		if r.Completion != nil || r.Label != nil {
			return fieldErr("kind", `an "ab" record has "completions" and "choice", not "completion" or "label"`)
		}
	default:
		return fieldErr("kind", `%q: want "pair", "thumbs" or "ab"`, r.Kind)
	}
	if s := r.Sampling; s != nil {
		switch {
		case s.Temperature < 0:
			return fieldErr("sampling.temperature", "must be >= 0, got %g", s.Temperature)
		case s.TopK < 0:
			return fieldErr("sampling.top_k", "must be >= 0, got %d", s.TopK)
		case s.TopP < 0 || s.TopP > 1:
			return fieldErr("sampling.top_p", "must be in [0, 1], got %g", s.TopP)
		case s.MinP < 0 || s.MinP > 1:
			return fieldErr("sampling.min_p", "must be in [0, 1], got %g", s.MinP)
		case s.MaxTokens < 0:
			return fieldErr("sampling.max_tokens", "must be >= 0, got %d", s.MaxTokens)
		}
	}
	return nil
}

// recordFields are the fields of a record, in the order they are decoded.
var recordFields = []string{"id", "time", "kind", "prompt", "chosen", "rejected", "completion", "label", "completions", "choice", "seeds", "model", "sampling", "source"}

// Parse decodes one line of a feedback file. Its error names the field
// that is wrong; the record is neither completed nor checked (readers call
// Complete and Validate, Append calls Normalize). Fields it does not know are
// ignored, as TRL ignores extra columns.
func Parse(line []byte) (Record, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if m == nil {
		return Record{}, errors.New("not a JSON object: null")
	}
	var r Record
	dst := map[string]any{
		"id": &r.ID, "time": &r.Time, "kind": &r.Kind, "prompt": &r.Prompt, "chosen": &r.Chosen,
		"rejected": &r.Rejected, "completion": &r.Completion, "label": &r.Label, "completions": &r.Completions,
		"choice": &r.Choice, "seeds": &r.Seeds, "model": &r.Model, "sampling": &r.Sampling, "source": &r.Source,
	}
	for _, f := range recordFields {
		raw, ok := m[f]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		if err := json.Unmarshal(raw, dst[f]); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				want := te.Type.String()
				switch te.Type.String() {
				case "bool":
					want = "true or false"
				case "string":
					want = "a string"
				}
				sub := f
				if te.Field != "" {
					sub = f + "." + te.Field
				}
				return Record{}, fieldErr(sub, "got a JSON %s, want %s", te.Value, want)
			}
			return Record{}, fieldErr(f, "%v", err)
		}
	}
	return r, nil
}

// NewID returns a new record id: "fb-" and 16 random hex digits.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "fb-" + hex.EncodeToString(b[:])
}
