package train

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Encoder turns dataset text into a model's token ids. The command line
// implements it with the SDK's tokenizer and chat template.
type Encoder interface {
	// Encode tokenizes text without adding BOS; special-token strings are
	// parsed as their ids when special is set (rendered chat templates).
	Encode(text string, special bool) []int
	// BOS returns the beginning-of-sequence id (-1: none) and whether the
	// vocabulary asks for it at the start of a sequence.
	BOS() (id int, add bool)
	// EOS returns the end-of-sequence id (-1: none).
	EOS() int
	// Piece returns the text of token id.
	Piece(id int) string
	// RenderChat applies the model's chat template to msgs, opening the
	// assistant's turn when addGenerationPrompt is set. It fails when the
	// model has no chat template.
	RenderChat(msgs []Message, addGenerationPrompt bool) (string, error)
}

// Sequence is a tokenized training example: the model reads IDs and learns
// to predict Targets[i] after IDs[:i+1]; a negative target is not trained on.
type Sequence struct {
	Line    int // dataset line
	IDs     []int
	Targets []int
}

// Trained counts the positions that carry a target.
func (s Sequence) Trained() int {
	n := 0
	for _, t := range s.Targets {
		if t >= 0 {
			n++
		}
	}
	return n
}

// segment is a piece of an example's text and whether it is learned.
type segment struct {
	text    string
	special bool // parse special tokens (rendered chat)
	learn   bool
	eos     bool // an EOS token after the text (learned like the text)
}

// buildSequence tokenizes segments one by one (so that a learned segment's
// tokens are exactly its own), adds BOS when the vocabulary wants it and the
// text does not start with it, and derives the targets.
func buildSequence(enc Encoder, line int, segs []segment) (Sequence, error) {
	var ids []int
	var learn []bool
	bos, addBOS := enc.BOS()
	if addBOS && bos >= 0 && !(len(segs) > 0 && segs[0].special && strings.HasPrefix(segs[0].text, enc.Piece(bos))) {
		ids, learn = append(ids, bos), append(learn, false)
	}
	for _, s := range segs {
		for _, id := range enc.Encode(s.text, s.special) {
			ids, learn = append(ids, id), append(learn, s.learn)
		}
		if s.eos {
			eos := enc.EOS()
			if eos < 0 {
				return Sequence{}, fmt.Errorf("line %d: the model's vocabulary has no end-of-sequence token to end the completion with", line)
			}
			ids, learn = append(ids, eos), append(learn, s.learn)
		}
	}
	if len(ids) < 2 {
		return Sequence{}, fmt.Errorf("line %d: the example is %d token long; nothing to predict", line, len(ids))
	}
	seq := Sequence{Line: line, IDs: ids, Targets: make([]int, len(ids))}
	for i := range ids {
		seq.Targets[i] = -1
		if i+1 < len(ids) && learn[i+1] {
			seq.Targets[i] = ids[i+1]
		}
	}
	if seq.Trained() == 0 {
		return Sequence{}, fmt.Errorf("line %d: no token to learn (empty completion or no assistant message)", line)
	}
	return seq, nil
}

// ErrNoTemplate is wrapped by the errors of conversational records when the
// model has no chat template.
var ErrNoTemplate = errors.New("the model has no chat template")

// chatSegments renders a conversation turn by turn: the text of every
// assistant message (with the template's end-of-turn markup) is learned when
// learnAssistant is set, the rest is context. With openTurn the conversation
// ends with the assistant's turn opened (a prompt).
func chatSegments(enc Encoder, line int, field string, msgs []Message, learnAssistant, openTurn bool) ([]segment, error) {
	render := func(m []Message, gen bool) (string, error) {
		s, err := enc.RenderChat(m, gen)
		if err != nil {
			return "", fmt.Errorf("line %d: field %q: %w", line, field, err)
		}
		return s, nil
	}
	full, err := render(msgs, openTurn)
	if err != nil {
		return nil, err
	}
	var segs []segment
	done := ""
	for i, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		p, err := render(msgs[:i], true)
		if err != nil {
			return nil, err
		}
		f, err := render(msgs[:i+1], false)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(p, done) || !strings.HasPrefix(f, p) || !strings.HasPrefix(full, f) {
			return nil, fmt.Errorf("line %d: field %q: the chat template does not render the conversation turn by turn (message %d's rendering is not a prefix of the next); use the prompt/completion shape", line, field, i)
		}
		segs = append(segs, segment{text: p[len(done):], special: true}, segment{text: f[len(p):], special: true, learn: learnAssistant})
		done = f
	}
	if rest := full[len(done):]; rest != "" {
		segs = append(segs, segment{text: rest, special: true})
	}
	return segs, nil
}

// promptCompletion encodes a prompt and its completion; the completion (and
// EOS, for text) is learned, the prompt too when !completionOnly.
func promptCompletion(enc Encoder, line int, prompt, completion Turns, completionOnly bool) (Sequence, error) {
	if !prompt.IsChat() {
		return buildSequence(enc, line, []segment{
			{text: prompt.Text, learn: !completionOnly},
			{text: completion.Text, learn: true, eos: true},
		})
	}
	segs, err := chatSegments(enc, line, "prompt", append(append([]Message(nil), prompt.Messages...), completion.Messages...), true, false)
	if err != nil {
		return Sequence{}, err
	}
	// The prompt's own assistant messages (few-shot turns) are context.
	pf, err := enc.RenderChat(prompt.Messages, true)
	if err != nil {
		return Sequence{}, fmt.Errorf("line %d: field \"prompt\": %w", line, err)
	}
	off := 0
	for i := range segs {
		if off+len(segs[i].text) <= len(pf) {
			segs[i].learn = !completionOnly
		}
		off += len(segs[i].text)
	}
	return buildSequence(enc, line, segs)
}

// EncodeSFT tokenizes one supervised record. With completionOnly the loss
// covers the completion (prompt/completion), the assistant messages
// (conversations), or everything (text); without it, every token.
func EncodeSFT(enc Encoder, rec SFTRecord, completionOnly bool) (Sequence, error) {
	switch {
	case rec.Text != nil:
		return buildSequence(enc, rec.Line, []segment{{text: *rec.Text, learn: true, eos: true}})
	case rec.Messages != nil:
		segs, err := chatSegments(enc, rec.Line, "messages", rec.Messages, true, false)
		if err != nil {
			return Sequence{}, err
		}
		if !completionOnly {
			for i := range segs {
				segs[i].learn = true
			}
		}
		return buildSequence(enc, rec.Line, segs)
	case rec.Prompt != nil && rec.Completion != nil:
		return promptCompletion(enc, rec.Line, *rec.Prompt, *rec.Completion, completionOnly)
	}
	return Sequence{}, fmt.Errorf("line %d: empty record", rec.Line)
}

// PairSequences are the tokenized chosen and rejected sequences of a
// preference pair (prompt + completion; only the completion is a target).
type PairSequences struct {
	Line             int
	Chosen, Rejected Sequence
	// RefChosen, RefRejected: reference log-probabilities (NaN: to compute).
	RefChosen, RefRejected float64
}

// EncodePair tokenizes a preference pair.
func EncodePair(enc Encoder, rec PrefRecord) (PairSequences, error) {
	c, err := promptCompletion(enc, rec.Line, rec.Prompt, rec.Chosen, true)
	if err != nil {
		return PairSequences{}, fmt.Errorf("%w (chosen)", err)
	}
	r, err := promptCompletion(enc, rec.Line, rec.Prompt, rec.Rejected, true)
	if err != nil {
		return PairSequences{}, fmt.Errorf("%w (rejected)", err)
	}
	return PairSequences{Line: rec.Line, Chosen: c, Rejected: r, RefChosen: rec.RefChosen, RefRejected: rec.RefRejected}, nil
}

// checkLengths reports the sequences longer than maxLen: an error listing
// them, or, with truncate, cuts them and returns how many were cut.
func checkLengths(seqs []*Sequence, maxLen int, truncate bool) (int, error) {
	var long []string
	cut := 0
	for _, s := range seqs {
		if len(s.IDs) <= maxLen {
			continue
		}
		if !truncate {
			if len(long) < 5 {
				long = append(long, fmt.Sprintf("line %d (%d tokens)", s.Line, len(s.IDs)))
			}
			cut++
			continue
		}
		s.IDs, s.Targets = s.IDs[:maxLen], s.Targets[:maxLen]
		s.Targets[maxLen-1] = -1
		cut++
	}
	if len(long) > 0 {
		more := ""
		if cut > len(long) {
			more = fmt.Sprintf(" and %d more", cut-len(long))
		}
		return cut, fmt.Errorf("%d examples are longer than --max-length %d: %s%s; raise --max-length (up to the model's context) or pass --truncate to cut them", cut, maxLen, strings.Join(long, ", "), more)
	}
	return cut, nil
}

// Pack groups sequences into rows of at most maxLen tokens, best fit
// decreasing (longest first, each into the fullest row it fits; ties by
// dataset order), without splitting any. Attention spans the whole row, as
// in pretraining windows; an example's first token is never a target of
// the previous one.
func Pack(seqs []Sequence, maxLen int) []Sequence {
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(seqs[order[a]].IDs) > len(seqs[order[b]].IDs) })
	var rows []Sequence
	for _, i := range order {
		s := seqs[i]
		best := -1
		for r := range rows {
			if free := maxLen - len(rows[r].IDs); free >= len(s.IDs) && (best < 0 || len(rows[r].IDs) > len(rows[best].IDs)) {
				best = r
			}
		}
		if best < 0 {
			rows = append(rows, Sequence{Line: s.Line})
			best = len(rows) - 1
		}
		rows[best].IDs = append(rows[best].IDs, s.IDs...)
		rows[best].Targets = append(rows[best].Targets, s.Targets...)
	}
	return rows
}
