package explain

import (
	"fmt"
	"io"
	"strings"

	"glassbox/trace"
)

// Span names the generated tokens of a trace that made one decision, such
// as the name of a tool call or one of its arguments: the steps whose
// indices (trace.Step.Index, from 0) run from First to Last.
type Span struct {
	Label       string
	First, Last int
}

// Decisions writes, for each span, each token's decision: the chosen token
// with its probability before sampling (the model's) and its rank, the
// model's top candidates (▶ the chosen one, ✗ those a grammar rejected),
// what a grammar did (candidates examined and kept; with greedy or top-k sampling it examines only the best until
// enough are allowed) and the chosen token's probability after sampling.
// opt.Steps bounds the tokens detailed per span (0: all).
func Decisions(w io.Writer, t *Trace, spans []Span, opt ReportOptions) error {
	p := painter{opt.Color}
	byIndex := map[int]*trace.Step{}
	for i := range t.Steps {
		byIndex[t.Steps[i].Index] = &t.Steps[i]
	}
	var b strings.Builder
	for _, sp := range spans {
		n := sp.Last - sp.First + 1
		fmt.Fprintf(&b, "   %s  %s\n", p.bold(sp.Label), p.dim(plural(n, "token")))
		for i := sp.First; i <= sp.Last; i++ {
			if opt.Steps > 0 && i-sp.First >= opt.Steps {
				fmt.Fprintf(&b, "     %s\n", p.dim(fmt.Sprintf("… %s more", plural(sp.Last-i+1, "token"))))
				break
			}
			s, ok := byIndex[i]
			if !ok {
				fmt.Fprintf(&b, "     token %d: not in the trace\n", i+1)
				continue
			}
			writeDecision(&b, p, s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeDecision writes one token's decision.
func writeDecision(b *strings.Builder, p painter, s *trace.Step) {
	removed := map[int]bool{}
	var g *trace.GrammarCheck = s.Sampling.Grammar
	if g != nil {
		for _, c := range g.Removed {
			removed[c.ID] = true
		}
	}
	how := fmt.Sprintf("model %s, rank %d", Pct(s.Sampling.RawProb), s.Sampling.ChosenRank)
	if g != nil {
		kept := -1
		for _, st := range s.Sampling.Steps {
			if st.Name == "grammar" {
				kept = st.Kept
			}
		}
		if kept >= 0 {
			how += fmt.Sprintf(" · grammar: %d examined, %d kept", g.Checked, kept)
		}
	}
	how += " · " + Pct(s.Sampling.ChosenProb) + " after sampling"
	fmt.Fprintf(b, "     token %d %s  %s\n", s.Index+1, p.prob(s.Sampling.RawProb, "["+Show(s.Token.Text)+"]"), p.dim(how))
	var cands []string
	for _, c := range s.Prediction.Top {
		mark := ""
		switch {
		case c.ID == s.Token.ID:
			mark = "▶"
		case removed[c.ID]:
			mark = "✗"
		}
		cands = append(cands, fmt.Sprintf("%s[%s] %s", mark, Show(c.Text), Pct(c.Prob)))
	}
	fmt.Fprintf(b, "       %s %s\n", p.dim("candidates:"), strings.Join(cands, " · "))
}
