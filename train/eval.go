package train

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"os"
	"strings"

	"glassbox/model"
	"glassbox/tokenizer/bpe"
)

// The completion suite. For every held-out file (manifest order) that parses
// as Go, every top-level function declaration whose text (from the line of
// its "func" keyword to its closing brace, doc comment excluded) has at least
// CompletionMinLines lines gives one candidate case:
//
//   - prompt: the first CompletionPromptLines lines of the function, joined
//     with "\n" and without a trailing newline (so the model writes the line
//     break and the indentation itself);
//   - target: the next line, which must not be blank.
//
// The model sees the end-of-text token (BOS) followed by the encoded prompt
// and decodes greedily (argmax) until its output holds two newlines, the
// end-of-text token, or MaxTokens tokens. The predicted line is the text
// between the first and second newline of the output (to the end if there is
// no second one). A case is an exact match when the predicted and target
// lines are equal after strings.TrimSpace. A case parses when the predicted
// line is not blank and "package p\n" + the function's text with its target line replaced by the
// predicted line is accepted by go/parser.ParseFile. When more than N
// candidates exist, N are taken evenly: candidate ⌊i·len/N⌋ for i < N.
// Candidates whose prompt is longer than context − MaxTokens − 1 tokens are
// dropped before that selection.
const (
	CompletionPromptLines = 3
	CompletionMinLines    = CompletionPromptLines + 2
)

// CompletionCase is one prompt of the completion suite.
type CompletionCase struct {
	File   string `json:"file"` // manifest path
	Line   int    `json:"line"` // 1-based line of the target in the file
	Func   string `json:"-"`    // the function's full text
	Prompt string `json:"prompt"`
	Target string `json:"target"`
	// Filled in by RunCompletions:
	Predicted string `json:"predicted"`
	Exact     bool   `json:"exact"`
	Parses    bool   `json:"parses"`
}

// CompletionCases builds the suite from the held-out files (see the
// package comment on the completion suite); tok and maxPrompt drop prompts
// longer than maxPrompt tokens.
func CompletionCases(files []File, n int, tok *bpe.Model, maxPrompt int) ([]CompletionCase, error) {
	var all []CompletionCase
	fset := token.NewFileSet()
	for _, f := range files {
		if !f.HeldOut {
			continue
		}
		src, err := os.ReadFile(f.Abs)
		if err != nil {
			return nil, fmt.Errorf("train: completion suite: %w", err)
		}
		af, err := parser.ParseFile(fset, f.Path, src, parser.SkipObjectResolution)
		if err != nil {
			continue // not a parsable Go file (e.g. a template): no cases
		}
		lines := strings.Split(string(src), "\n")
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			first := fset.Position(fd.Type.Func).Line
			last := fset.Position(fd.Body.Rbrace).Line
			if last-first+1 < CompletionMinLines {
				continue
			}
			fl := lines[first-1 : last]
			target := fl[CompletionPromptLines]
			if strings.TrimSpace(target) == "" {
				continue
			}
			prompt := strings.Join(fl[:CompletionPromptLines], "\n")
			if len(tok.Encode(nil, prompt))+1 > maxPrompt {
				continue
			}
			all = append(all, CompletionCase{
				File: f.Path, Line: first + CompletionPromptLines, Func: strings.Join(fl, "\n"),
				Prompt: prompt, Target: target,
			})
		}
	}
	if n <= 0 || len(all) <= n {
		return all, nil
	}
	out := make([]CompletionCase, n)
	for i := range out {
		out[i] = all[i*len(all)/n]
	}
	return out, nil
}

// parsesWith reports whether the function c.Func parses with its target line replaced by line.
func (c *CompletionCase) parsesWith(line string) bool {
	fl := strings.Split(c.Func, "\n")
	fl[CompletionPromptLines] = line
	src := "package p\n" + strings.Join(fl, "\n") + "\n"
	_, err := parser.ParseFile(token.NewFileSet(), "case.go", src, parser.SkipObjectResolution)
	return err == nil
}

// CompletionScore sums a suite's results.
type CompletionScore struct {
	Cases  int `json:"cases"`
	Exact  int `json:"exact"`
	Parses int `json:"parses"`
	// TargetParses counts cases whose function parses with its true line
	// (all should; it checks the harness).
	TargetParses int `json:"target_parses"`
}

// RunCompletions decodes every case greedily with the glassbox engine (the
// exported GGUF model gm) and scores it.
func RunCompletions(gm *model.Model, tok *bpe.Model, eot int, cases []CompletionCase, maxTokens int) (CompletionScore, error) {
	var sc CompletionScore
	V := gm.Config.VocabSize
	logits := make([]float32, V)
	for i := range cases {
		c := &cases[i]
		st, err := gm.NewState(model.StateOptions{})
		if err != nil {
			return sc, err
		}
		ids := append([]int{eot}, tok.Encode(nil, c.Prompt)...)
		if err := gm.Forward(st, ids, 0, logits); err != nil {
			return sc, fmt.Errorf("train: completion %s:%d: %w", c.File, c.Line, err)
		}
		pos := len(ids)
		var out []byte
		var gen []int
		for len(gen) < maxTokens && pos < st.Context() {
			next := argmax(logits)
			if next == eot {
				break
			}
			gen = append(gen, next)
			out, err = tok.Decode(out[:0], gen)
			if err != nil {
				return sc, err
			}
			if strings.Count(string(out), "\n") >= 2 {
				break
			}
			if err := gm.Forward(st, []int{next}, pos, logits); err != nil {
				return sc, err
			}
			pos++
		}
		text := string(out)
		pred := ""
		if j := strings.IndexByte(text, '\n'); j >= 0 {
			pred = text[j+1:]
			if k := strings.IndexByte(pred, '\n'); k >= 0 {
				pred = pred[:k]
			}
		}
		c.Predicted = pred
		c.Exact = strings.TrimSpace(pred) == strings.TrimSpace(c.Target)
		c.Parses = strings.TrimSpace(pred) != "" && c.parsesWith(pred)
		sc.Cases++
		if c.Exact {
			sc.Exact++
		}
		if c.Parses {
			sc.Parses++
		}
		if c.parsesWith(c.Target) {
			sc.TargetParses++
		}
	}
	return sc, nil
}

// HeldOutLoss returns the mean cross-entropy (nats/token) of m over the first
// seqs non-overlapping context-long windows of stream, and the number of
// tokens and of text bytes (decoded with tok; the end-of-text token eot
// counts no bytes) predicted.
func HeldOutLoss(m *Model[float32], stream []int32, seqs, threads int, tok *bpe.Model, eot int) (loss float64, tokens, bytes int, err error) {
	r := Recipe{Model: m.Config, EvalSeqs: seqs}
	t := &Trainer{Recipe: r, Model: m, val: stream, Threads: threads}
	loss, err = t.ValLoss()
	if err != nil {
		return 0, 0, 0, err
	}
	n := m.Config.Context
	for off := 0; off+n+1 <= len(stream) && tokens < seqs*n; off += n {
		for _, id := range stream[off+1 : off+n+1] {
			if int(id) == eot {
				continue
			}
			b, err := tok.Decode(nil, []int{int(id)})
			if err != nil {
				return 0, 0, 0, err
			}
			bytes += len(b)
		}
		tokens += n
	}
	if math.IsNaN(loss) {
		return 0, 0, 0, fmt.Errorf("train: held-out stream of %d tokens is shorter than one window", len(stream))
	}
	return loss, tokens, bytes, nil
}

const ln2 = math.Ln2

func exp(x float64) float64 { return math.Exp(x) }

// argmax returns the index of the largest value (the first one on ties).
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
