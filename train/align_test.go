package train

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// byteEncoder is a test vocabulary: id 0 is BOS = EOS, byte b is id b+1;
// the chat template (when chat is set) renders "<role>content\n" turns and
// opens an assistant turn with "<assistant>".
type byteEncoder struct{ chat bool }

func (byteEncoder) Encode(text string, special bool) []int {
	ids := make([]int, 0, len(text))
	for i := 0; i < len(text); i++ {
		ids = append(ids, int(text[i])+1)
	}
	return ids
}
func (byteEncoder) BOS() (int, bool) { return 0, true }
func (byteEncoder) EOS() int         { return 0 }
func (byteEncoder) Piece(id int) string {
	if id == 0 {
		return "<s>"
	}
	return string(rune(id - 1))
}
func (e byteEncoder) RenderChat(msgs []Message, gen bool) (string, error) {
	if !e.chat {
		return "", ErrNoTemplate
	}
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "<%s>%s\n", m.Role, m.Content)
	}
	if gen {
		b.WriteString("<assistant>")
	}
	return b.String(), nil
}

func decodeBytes(ids []int) string {
	var b []byte
	for _, id := range ids {
		if id > 0 {
			b = append(b, byte(id-1))
		} else {
			b = append(b, '$')
		}
	}
	return string(b)
}

// learned returns the text of the trained targets.
func learned(s Sequence) string {
	var ids []int
	for _, t := range s.Targets {
		if t >= 0 {
			ids = append(ids, t)
		}
	}
	return decodeBytes(ids)
}

func TestReadSFTShapesAndErrors(t *testing.T) {
	good := `{"text": "hello"}

{"prompt": "p", "completion": "c", "extra": 1}
{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
{"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}]}
`
	recs, err := ReadSFT(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0].Text == nil || recs[1].Prompt == nil || recs[2].Messages == nil || !recs[3].Prompt.IsChat() {
		t.Fatalf("records %+v", recs)
	}
	if recs[1].Line != 3 || recs[3].Line != 5 {
		t.Fatalf("lines %d, %d", recs[1].Line, recs[3].Line)
	}
	bad := []struct{ data, want string }{
		{"{\"text\": \"a\"}\n{\"text\": ", "line 2: not a JSON object"},
		{`[1, 2]`, "line 1: not a JSON object"},
		{`null`, "line 1: not a JSON object"},
		{`{"text": "a"} {"text": "b"}`, "line 1: more than one JSON value"},
		{`{"prompt": "p"}`, `line 1: field "completion": missing`},
		{`{"completion": "c"}`, `line 1: field "prompt": missing`},
		{`{"text": 3}`, `line 1: field "text": expected a string, got a number`},
		{`{"messages": "hi"}`, `line 1: field "messages": expected a list of messages`},
		{`{"messages": [{"role": "user"}]}`, `line 1: field "messages[0].content": missing`},
		{`{"messages": [{"role": 1, "content": "x"}]}`, `line 1: field "messages[0].role": expected a string`},
		{`{"messages": []}`, `line 1: field "messages": empty list`},
		{`{"prompt": "p", "completion": [{"role": "assistant", "content": "a"}]}`, `line 1: field "completion": prompt and completion must both be`},
		{`{"foo": 1}`, `line 1: expected a field "messages"`},
		{"\n\n", "no records"},
	}
	for _, tc := range bad {
		_, err := ReadSFT(strings.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.data, err, tc.want)
		}
	}
}

func TestReadPreferences(t *testing.T) {
	data := `{"prompt": "p", "chosen": "a", "rejected": "b", "model": "m", "time": "2026-01-01"}
{"prompt": "q", "completion": "good1", "label": true}
{"prompt": "q", "completion": "bad1", "label": false}
{"prompt": "q", "completion": "good2", "label": true}
{"prompt": "r", "completion": "lonely", "label": true}
{"prompt": "p", "chosen": "a", "rejected": "b", "ref_chosen_logps": -1.5, "ref_rejected_logps": -2}
`
	recs, err := ReadPreferences(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%d:%s>%s", r.Line, r.Chosen.Text, r.Rejected.Text))
	}
	if want := "1:a>b 6:a>b 2:good1>bad1 4:good2>bad1"; strings.Join(got, " ") != want {
		t.Fatalf("pairs %s, want %s", strings.Join(got, " "), want)
	}
	if !math.IsNaN(recs[0].RefChosen) || recs[1].RefChosen != -1.5 || recs[1].RefRejected != -2 {
		t.Fatalf("reference log-probabilities %v %v", recs[0], recs[1])
	}
	bad := []struct{ data, want string }{
		{`{"prompt": "p", "chosen": "a"}`, `line 1: field "rejected": missing`},
		{`{"chosen": "a", "rejected": "b"}`, `line 1: field "prompt": missing`},
		{`{"prompt": "p", "chosen": 1, "rejected": "b"}`, `line 1: field "chosen": expected a string or a list of messages, got a number`},
		{`{"prompt": "p", "completion": "a", "label": "yes"}`, `line 1: field "label": expected true or false`},
		{`{"prompt": "p", "chosen": "a", "rejected": "b", "ref_chosen_logps": -1}`, `line 1: field "ref_rejected_logps": missing`},
		{`{"prompt": "p", "chosen": "a", "rejected": "b", "ref_chosen_logps": 1, "ref_rejected_logps": -1}`, `line 1: field "ref_chosen_logps": expected a log-probability`},
		{`{"prompt": "p", "completion": "a", "label": true}`, "no preference pairs"},
		{"{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n{", "line 2: not a JSON object"},
	}
	for _, tc := range bad {
		_, err := ReadPreferences(strings.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.data, err, tc.want)
		}
	}
}

func TestEncodeSFTMasks(t *testing.T) {
	enc := byteEncoder{chat: true}
	p, c := Turns{Text: "ab"}, Turns{Text: "cd"}
	msgs := []Message{{"system", "s"}, {"user", "u1"}, {"assistant", "a1"}, {"user", "u2"}, {"assistant", "a2"}}
	tests := []struct {
		name           string
		rec            SFTRecord
		completionOnly bool
		ids, learned   string
	}{
		{"prompt/completion", SFTRecord{Prompt: &p, Completion: &c}, true, "$abcd$", "cd$"},
		{"whole sequence", SFTRecord{Prompt: &p, Completion: &c}, false, "$abcd$", "abcd$"},
		{"text", SFTRecord{Text: &c.Text}, true, "$cd$", "cd$"},
		{"messages", SFTRecord{Messages: msgs}, true, "$<system>s\n<user>u1\n<assistant>a1\n<user>u2\n<assistant>a2\n", "a1\na2\n"},
		{"messages, all", SFTRecord{Messages: msgs}, false, "$<system>s\n<user>u1\n<assistant>a1\n<user>u2\n<assistant>a2\n", "<system>s\n<user>u1\n<assistant>a1\n<user>u2\n<assistant>a2\n"},
		{"chat prompt/completion", SFTRecord{Prompt: &Turns{Messages: msgs[:4]}, Completion: &Turns{Messages: msgs[4:]}}, true, "$<system>s\n<user>u1\n<assistant>a1\n<user>u2\n<assistant>a2\n", "a2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := EncodeSFT(enc, tc.rec, tc.completionOnly)
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeBytes(s.IDs); got != tc.ids {
				t.Errorf("ids %q, want %q", got, tc.ids)
			}
			if got := learned(s); got != tc.learned {
				t.Errorf("learned %q, want %q", got, tc.learned)
			}
		})
	}
	_, err := EncodeSFT(byteEncoder{}, SFTRecord{Line: 7, Messages: msgs}, true)
	if !errors.Is(err, ErrNoTemplate) || !strings.Contains(err.Error(), `line 7: field "messages"`) {
		t.Errorf("no template: %v", err)
	}
	_, err = EncodeSFT(enc, SFTRecord{Line: 3, Messages: msgs[:2]}, true)
	if err == nil || !strings.Contains(err.Error(), "line 3: no token to learn") {
		t.Errorf("no assistant message: %v", err)
	}
}

func TestCheckLengthsAndPack(t *testing.T) {
	mk := func(line, n int) Sequence {
		s := Sequence{Line: line, IDs: make([]int, n), Targets: make([]int, n)}
		for i := range s.IDs {
			s.IDs[i], s.Targets[i] = line, line
		}
		return s
	}
	seqs := []Sequence{mk(1, 3), mk(2, 9), mk(3, 5), mk(4, 12)}
	ptrs := []*Sequence{&seqs[0], &seqs[1], &seqs[2], &seqs[3]}
	if _, err := checkLengths(ptrs, 8, false); err == nil || !strings.Contains(err.Error(), "2 examples are longer than --max-length 8: line 2 (9 tokens), line 4 (12 tokens)") {
		t.Fatalf("got %v", err)
	}
	n, err := checkLengths(ptrs, 8, true)
	if err != nil || n != 2 || len(seqs[1].IDs) != 8 || seqs[3].Targets[7] != -1 {
		t.Fatalf("truncate: %d %v %v", n, err, seqs[3].Targets)
	}
	rows := Pack([]Sequence{mk(1, 3), mk(2, 6), mk(3, 5), mk(4, 2), mk(5, 4)}, 8)
	var got []string
	for _, r := range rows {
		got = append(got, decodeLines(r.IDs))
	}
	// best fit decreasing: 6 → row A; 5 → row B; 4 → row C; 3 → row B (5+3=8); 2 → row A (6+2=8)
	if want := "22222244 33333111 5555"; strings.Join(got, " ") != want {
		t.Fatalf("rows %v", got)
	}
}

func decodeLines(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprint(&b, id)
	}
	return b.String()
}

// FuzzReadSFT: the dataset parser never panics, and what it accepts has
// exactly one shape per record.
func FuzzReadSFT(f *testing.F) {
	for _, s := range []string{
		`{"text": "hello"}`,
		`{"prompt": "p", "completion": "c"}`,
		`{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}`,
		`{"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}]}`,
		"{\"text\": \"a\"}\n\n{\"text\": ",
		`{"messages": [null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ReadSFT(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range recs {
			shapes := 0
			if r.Text != nil {
				shapes++
			}
			if r.Messages != nil {
				shapes++
			}
			if r.Prompt != nil && r.Completion != nil {
				shapes++
			}
			if shapes != 1 || r.Line < 1 {
				t.Fatalf("record %+v has %d shapes", r, shapes)
			}
			if _, err := EncodeSFT(byteEncoder{chat: true}, r, true); err != nil && !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d:", r.Line)) {
				t.Fatalf("encoding error without its line: %v", err)
			}
		}
	})
}

// FuzzReadPreferences: the preference parser never panics, and every pair
// it returns has a chosen and a rejected completion of one shape.
func FuzzReadPreferences(f *testing.F) {
	for _, s := range []string{
		`{"prompt": "p", "chosen": "a", "rejected": "b"}`,
		`{"prompt": "p", "chosen": "a", "rejected": "b", "ref_chosen_logps": -1, "ref_rejected_logps": -2}`,
		"{\"prompt\": \"q\", \"completion\": \"g\", \"label\": true}\n{\"prompt\": \"q\", \"completion\": \"b\", \"label\": false}",
		`{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ReadPreferences(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.Chosen.IsChat() != r.Rejected.IsChat() || r.Line < 1 {
				t.Fatalf("bad pair %+v", r)
			}
			if _, err := EncodePair(byteEncoder{chat: true}, r); err != nil && !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d:", r.Line)) {
				t.Fatalf("encoding error without its line: %v", err)
			}
		}
	})
}
