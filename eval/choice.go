package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"glassbox"
	"glassbox/remote"
)

// ChoiceItem is one multiple-choice question. In a JSONL file each line is
// one object:
//
//	{"context": "The capital of France is", "choices": ["Paris", "Rome"], "answer": 0}
//
// "question" is accepted for "context"; "answer" is the 0-based index of the
// right choice; "id" is optional.
type ChoiceItem struct {
	ID       string   `json:"id,omitempty"`
	Context  string   `json:"context"`
	Question string   `json:"question,omitempty"`
	Choices  []string `json:"choices"`
	Answer   int      `json:"answer"`
}

// maxChoiceLine bounds one line of a choice file (16 MiB).
const maxChoiceLine = 16 << 20

// ParseChoices reads a JSONL multiple-choice file. Blank lines are skipped;
// a line that is not a valid item is an error naming the line and what was
// expected.
func ParseChoices(r io.Reader) ([]ChoiceItem, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxChoiceLine)
	var items []ChoiceItem
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var raw struct {
			ID       json.RawMessage `json:"id"`
			Context  *string         `json:"context"`
			Question *string         `json:"question"`
			Choices  []string        `json:"choices"`
			Answer   *int            `json:"answer"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("line %d: %v (want an object {\"context\": string, \"choices\": [strings], \"answer\": index})", line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d: more than one JSON value (want one object a line)", line)
		}
		it := ChoiceItem{Choices: raw.Choices}
		switch {
		case raw.Context != nil && raw.Question != nil:
			return nil, fmt.Errorf("line %d: both \"context\" and \"question\" (want one of them)", line)
		case raw.Context != nil:
			it.Context = *raw.Context
		case raw.Question != nil:
			it.Context, it.Question = *raw.Question, *raw.Question
		default:
			return nil, fmt.Errorf("line %d: no \"context\" (or \"question\") string", line)
		}
		if len(it.Choices) < 2 {
			return nil, fmt.Errorf("line %d: \"choices\" has %d strings, want at least 2", line, len(it.Choices))
		}
		for i, c := range it.Choices {
			if c == "" {
				return nil, fmt.Errorf("line %d: choice %d is empty", line, i)
			}
		}
		if raw.Answer == nil {
			return nil, fmt.Errorf("line %d: no \"answer\" (the 0-based index of the right choice)", line)
		}
		if *raw.Answer < 0 || *raw.Answer >= len(it.Choices) {
			return nil, fmt.Errorf("line %d: answer %d is not the index of one of the %d choices (0 to %d)", line, *raw.Answer, len(it.Choices), len(it.Choices)-1)
		}
		it.Answer = *raw.Answer
		if len(raw.ID) > 0 {
			var s string
			if json.Unmarshal(raw.ID, &s) == nil {
				it.ID = s
			} else {
				it.ID = string(raw.ID)
			}
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxChoiceLine)
		}
		return nil, err
	}
	if len(items) == 0 {
		return nil, errors.New("no questions (want one JSON object a line)")
	}
	return items, nil
}

// ChoiceOptions configures Choice.
type ChoiceOptions struct {
	// Progress, when set, is called after each question with the number done
	// and the total.
	Progress func(done, total int)
}

// ChoiceScore is the scoring of one question.
type ChoiceScore struct {
	ID string `json:"id,omitempty"`
	// LogLikelihoods holds, per choice, the sum of log p(choice token |
	// context and earlier choice tokens), in nats.
	LogLikelihoods []float64 `json:"loglikelihoods"`
	// Predicted is the choice of highest log-likelihood, PredictedNorm the
	// one of highest log-likelihood per byte of the choice.
	Predicted     int  `json:"predicted"`
	PredictedNorm int  `json:"predicted_norm"`
	Answer        int  `json:"answer"`
	Correct       bool `json:"correct"`
	CorrectNorm   bool `json:"correct_norm"`
}

// ChoiceResult is what Choice measured.
type ChoiceResult struct {
	// Acc and AccNorm are the fractions (0–1) of questions answered right by
	// log-likelihood and by log-likelihood per byte of the choice.
	Acc     float64 `json:"acc"`
	AccNorm float64 `json:"acc_norm"`
	// Correct, CorrectNorm and Total count the questions.
	Correct     int           `json:"correct"`
	CorrectNorm int           `json:"correct_norm"`
	Total       int           `json:"total"`
	Items       []ChoiceScore `json:"items"`
}

// Choice scores multiple-choice questions by log-likelihood, as
// lm-evaluation-harness does for HellaSwag, ARC or MMLU: each choice is
// appended to the context (after a space, unless the context ends with
// white space), and its score is the sum of the log-probabilities of its
// tokens given the context (acc); acc_norm divides that sum by the choice's
// length in bytes. The tokens of a choice are those of the whole text after
// the context's own tokens, so that a word split across the boundary is
// tokenized as in running text.
func Choice(ctx context.Context, m *glassbox.Model, items []ChoiceItem, opt ChoiceOptions) (*ChoiceResult, error) {
	tok := m.Tokenizer()
	enc := func(_ context.Context, s string) ([]int, error) {
		return tok.Encode(s, glassbox.EncodeOptions{AddBOS: tok.AddBOSDefault()}), nil
	}
	var sc *glassbox.Scorer
	var logits []float32
	score := func(ctx context.Context, ids []int, start int) (float64, error) {
		var err error
		if logits, err = sc.Logits(ctx, ids, logits); err != nil {
			return 0, err
		}
		vocab := sc.VocabSize()
		var ll float64
		for i := start; i < len(ids); i++ {
			ll += logSoftmaxAt(logits[(i-1)*vocab:i*vocab], ids[i])
		}
		return ll, nil
	}
	return choice(ctx, items, opt, enc, func(longest int) error {
		// one cache length for every file (the model's context), so that a
		// question's scores do not depend on the other questions: the length
		// of an F16 cache changes the attention's sums in the last bits
		var err error
		sc, err = m.NewScorer(max(longest, m.ContextSize()))
		return err
	}, score)
}

// ChoiceEndpoint is Choice for a model at an OpenAI-compatible endpoint:
// the texts are tokenized by the server (POST /tokenize) and the choices
// scored from the log-probabilities it returns for a prompt's tokens (a
// completion with echo and logprobs). A server that lacks either gives an
// error saying so (wrapping remote.ErrUnsupported).
func ChoiceEndpoint(ctx context.Context, c *remote.Client, items []ChoiceItem, opt ChoiceOptions) (*ChoiceResult, error) {
	enc := func(ctx context.Context, s string) ([]int, error) { return c.Tokenize(ctx, s, true) }
	score := func(ctx context.Context, ids []int, start int) (float64, error) {
		lp, err := c.ScorePrompt(ctx, "", ids)
		if err != nil {
			return 0, err
		}
		var ll float64
		for i := start; i < len(ids); i++ {
			ll += lp.Logprobs[i]
		}
		return ll, nil
	}
	return choice(ctx, items, opt, enc, func(int) error { return nil }, score)
}

// choice is the method of Choice: enc tokenizes a text as the model does
// (BOS first when it adds one), prepare is called with the longest sequence
// before any scoring, and score returns the sum of the log-probabilities of
// ids[start:] given the tokens before each.
func choice(ctx context.Context, items []ChoiceItem, opt ChoiceOptions,
	enc func(context.Context, string) ([]int, error), prepare func(longest int) error,
	score func(ctx context.Context, ids []int, start int) (float64, error)) (*ChoiceResult, error) {
	if len(items) == 0 {
		return nil, errors.New("choice: no questions")
	}
	type seq struct {
		ids   []int
		start int // first continuation token
	}
	seqs := make([][]seq, len(items))
	longest := 0
	for q, it := range items {
		for c, choice := range it.Choices {
			ctxText, cont := splitPair(it.Context, choice)
			whole, err := enc(ctx, ctxText+cont)
			if err != nil {
				return nil, err
			}
			head, err := enc(ctx, ctxText)
			if err != nil {
				return nil, err
			}
			start := len(head)
			// the context's tokens are a prefix of the whole's unless the
			// boundary merges; then the continuation starts at the first
			// token that differs
			for i := range min(len(head), len(whole)) {
				if head[i] != whole[i] {
					start = i
					break
				}
			}
			if start < 1 {
				start = 1 // the first token has no prediction
			}
			if start >= len(whole) {
				return nil, fmt.Errorf("choice: question %d, choice %d: the choice adds no token to the context", q+1, c)
			}
			seqs[q] = append(seqs[q], seq{whole, start})
			longest = max(longest, len(whole))
		}
	}
	if err := prepare(longest); err != nil {
		return nil, err
	}
	res := &ChoiceResult{Total: len(items)}
	for q, it := range items {
		s := ChoiceScore{ID: it.ID, Answer: it.Answer}
		bestNorm := math.Inf(-1)
		for c, sq := range seqs[q] {
			ll, err := score(ctx, sq.ids, sq.start)
			if err != nil {
				return nil, err
			}
			s.LogLikelihoods = append(s.LogLikelihoods, ll)
			if ll > s.LogLikelihoods[s.Predicted] {
				s.Predicted = c
			}
			if norm := ll / float64(len(it.Choices[c])); norm > bestNorm {
				bestNorm, s.PredictedNorm = norm, c
			}
		}
		s.Correct, s.CorrectNorm = s.Predicted == it.Answer, s.PredictedNorm == it.Answer
		if s.Correct {
			res.Correct++
		}
		if s.CorrectNorm {
			res.CorrectNorm++
		}
		res.Items = append(res.Items, s)
		if opt.Progress != nil {
			opt.Progress(q+1, len(items))
		}
	}
	res.Acc = float64(res.Correct) / float64(res.Total)
	res.AccNorm = float64(res.CorrectNorm) / float64(res.Total)
	return res, nil
}

// splitPair returns the context and the continuation for a choice: a
// space between them unless the context is empty or ends with white
// space, and trailing spaces of the context moved to the continuation
// (lm-evaluation-harness's target delimiter and encode_pair).
func splitPair(context, choice string) (string, string) {
	cont := choice
	if context != "" && !endsWithSpace(context) {
		cont = " " + choice
	}
	trimmed := strings.TrimRight(context, " ")
	return trimmed, context[len(trimmed):] + cont
}

// endsWithSpace reports whether s ends with a white-space character.
func endsWithSpace(s string) bool {
	r, size := utf8.DecodeLastRuneInString(s)
	return size > 0 && unicode.IsSpace(r)
}
