// Package explain turns a dissection trace into text for people: a terminal
// report of each stage (tokenization, embeddings, attention, logit lens,
// prediction, decoding) and the four-layer explanation of `glassbox explain`,
// in French or English. Every number it prints is read from the trace. Prose
// counts as people do: layers and heads from 1, prompt tokens without the
// start-of-text token (named apart); the report keeps the trace's 0-based
// layer and head indices, which the --layers and --heads flags use.
package explain

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"glassbox/trace"
)

// Trace is a whole dissection: the events of one generation, grouped.
type Trace struct {
	Meta         trace.Meta
	Tokenization trace.Tokenization
	Embeddings   []trace.Embedding
	Steps        []trace.Step
	Done         *trace.Done
}

// Collect groups a stream of events into a Trace.
func Collect(events []trace.Event) (*Trace, error) {
	t := &Trace{}
	seenMeta := false
	for i, ev := range events {
		switch ev.Type {
		case trace.TypeMeta:
			if ev.Meta == nil {
				return nil, fmt.Errorf("event %d: meta event without meta", i)
			}
			t.Meta, seenMeta = *ev.Meta, true
		case trace.TypeTokenization:
			if ev.Tokenization == nil {
				return nil, fmt.Errorf("event %d: tokenization event without tokens", i)
			}
			t.Tokenization = *ev.Tokenization
		case trace.TypeEmbeddings:
			t.Embeddings = ev.Embeddings
		case trace.TypeStep:
			if ev.Step == nil {
				return nil, fmt.Errorf("event %d: step event without step", i)
			}
			t.Steps = append(t.Steps, *ev.Step)
		case trace.TypeDone:
			t.Done = ev.Done
		default:
			return nil, fmt.Errorf("event %d: unknown type %q", i, ev.Type)
		}
	}
	if !seenMeta {
		return nil, fmt.Errorf("trace has no meta event")
	}
	return t, nil
}

// ReportOptions controls the terminal report.
type ReportOptions struct {
	Color bool // ANSI colours
	Steps int  // generated tokens to detail (0: all)
}

type painter struct{ on bool }

func (p painter) c(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
func (p painter) bold(s string) string { return p.c("1", s) }
func (p painter) dim(s string) string  { return p.c("2", s) }
func (p painter) tok(s string) string  { return p.c("36", s) }

// probColor colours text by probability: red when unsure, green when sure.
func (p painter) prob(pr float32, s string) string {
	switch {
	case pr >= 0.7:
		return p.c("32", s)
	case pr >= 0.3:
		return p.c("33", s)
	default:
		return p.c("31", s)
	}
}

// Show renders a token's display text (trace.Token.Text, Candidate.Text,
// Neighbor.Text) on one line: Go string escapes for new lines, tabs, other
// control characters and invalid UTF-8, and nothing else changed.
func Show(text string) string {
	q := strconv.Quote(text)
	return q[1 : len(q)-1]
}

func bar(p float32, width int) string {
	n := int(p*float32(width) + 0.5)
	n = max(0, min(n, width))
	return strings.Repeat("█", n) + strings.Repeat("·", width-n)
}

func pad(s string, w int) string {
	n := utf8.RuneCountInString(s)
	if n >= w {
		return s
	}
	return s + strings.Repeat(" ", w-n)
}

// Pct formats a probability as a percentage with one decimal, as the
// report and explanations print it.
func Pct(p float32) string { return strconv.FormatFloat(float64(p)*100, 'f', 1, 64) + "%" }

// F3 formats a value with three decimals.
func F3(v float32) string { return strconv.FormatFloat(float64(v), 'f', 3, 64) }

// PctIn formats a probability as Pct does, in the conventions of lang: French
// writes a decimal comma and a (narrow no-break) space before the percent sign.
func PctIn(lang string, p float32) string {
	if lang == "fr" {
		return strings.Replace(strings.TrimSuffix(Pct(p), "%"), ".", ",", 1) + "\u202f%"
	}
	return Pct(p)
}

// F3In formats a value as F3 does, with a decimal comma in French.
func F3In(lang string, v float32) string {
	if lang == "fr" {
		return strings.Replace(F3(v), ".", ",", 1)
	}
	return F3(v)
}

// Report writes the readable dissection of a trace.
func Report(w io.Writer, t *Trace, opt ReportOptions) error {
	p := painter{opt.Color}
	show := Show
	var b strings.Builder
	m := t.Meta
	moe := ""
	if m.Experts > 0 {
		moe = fmt.Sprintf(" · %d experts, %d per token", m.Experts, m.ExpertsUsed)
	}
	if m.AttnSoftcap > 0 {
		moe += " · attention scores soft-capped at " + strconv.FormatFloat(float64(m.AttnSoftcap), 'g', -1, 32)
	}
	if m.FinalSoftcap > 0 {
		moe += " · logits soft-capped at " + strconv.FormatFloat(float64(m.FinalSoftcap), 'g', -1, 32)
	}
	fmt.Fprintf(&b, "%s  %s · %s · %d layers × %d heads (%d KV) · dim %d%s · vocab %d · %s · KV cache %s\n\n",
		p.bold("glassbox dissect"), m.Model, m.Arch, m.Layers, m.Heads, m.KVHeads, m.Dim, moe, m.Vocab, m.QuantType, m.KVCache)

	// 1. tokenization
	fmt.Fprintf(&b, "%s  %s\n", p.bold("1 · TOKENIZATION"), plural(len(t.Tokenization.Tokens), "token"))
	var strip []string
	for _, tk := range t.Tokenization.Tokens {
		strip = append(strip, p.tok("["+show(tk.Text)+"]"))
	}
	fmt.Fprintf(&b, "   %s\n", strings.Join(strip, " "))
	var ids []string
	for _, tk := range t.Tokenization.Tokens {
		ids = append(ids, strconv.Itoa(tk.ID))
	}
	fmt.Fprintf(&b, "   %s %s\n\n", p.dim("ids:"), strings.Join(ids, " "))

	// 2. embeddings
	if len(t.Embeddings) > 0 {
		fmt.Fprintf(&b, "%s  one %d-dimensional vector per token; nearest tokens by cosine over the whole table\n", p.bold("2 · EMBEDDINGS"), m.Dim)
		fmt.Fprintf(&b, "   %s\n", p.dim(pad("pos", 5)+pad("token", 14)+pad("norm", 8)+"nearest (cosine)"))
		for _, e := range t.Embeddings {
			var nb []string
			for _, n := range e.Neighbors {
				nb = append(nb, fmt.Sprintf("%s %s", show(n.Text), F3(n.Cosine)))
			}
			fmt.Fprintf(&b, "   %s%s%s%s\n", pad(strconv.Itoa(e.Position), 5), p.tok(pad(show(e.Token.Text), 14)), pad(F3(e.Norm), 8), strings.Join(nb, " · "))
		}
		b.WriteString("\n")
	}

	// 3-5. each generated token
	fmt.Fprintf(&b, "%s  %s\n", p.bold("3 · GENERATION"), plural(len(t.Steps), "token"))
	for i, s := range t.Steps {
		if opt.Steps > 0 && i >= opt.Steps {
			fmt.Fprintf(&b, "   %s\n", p.dim(fmt.Sprintf("… %d more tokens (use --steps 0 to show all)", len(t.Steps)-i)))
			break
		}
		fmt.Fprintf(&b, "\n   %s %s  %s\n", p.bold(fmt.Sprintf("token %d →", s.Index+1)), p.prob(s.Sampling.RawProb, "["+show(s.Token.Text)+"]"),
			p.dim(fmt.Sprintf("predicted at position %d from [%s]", s.Position, show(s.Input.Text))))
		if len(s.Attention) > 0 {
			heads := append([]trace.HeadAttention(nil), s.Attention...)
			sort.SliceStable(heads, func(a, c int) bool { return heads[a].Entropy < heads[c].Entropy })
			fmt.Fprintf(&b, "     %s  most focused heads (lowest entropy):\n", p.bold("attention"))
			for _, h := range heads[:min(3, len(heads))] {
				var tops []string
				for _, a := range h.Top[:min(3, len(h.Top))] {
					score := ""
					if a.Position < len(h.Scores) && a.Position < len(h.ScoresUncapped) {
						score = p.dim(fmt.Sprintf(" (score %s, %s before capping)", F3(h.Scores[a.Position]), F3(h.ScoresUncapped[a.Position])))
					}
					tops = append(tops, fmt.Sprintf("[%s]@%d %s%s", show(a.Token.Text), a.Position, F3(a.Weight), score))
				}
				fmt.Fprintf(&b, "       L%d H%d (kv %d) entropy %s: %s\n", h.Layer, h.Head, h.KVHead, F3(h.Entropy), strings.Join(tops, " · "))
			}
		}
		if len(s.LogitLens) > 0 {
			fmt.Fprintf(&b, "     %s  top token after each layer:\n", p.bold("logit lens"))
			for _, l := range s.LogitLens {
				if len(l.Top) == 0 {
					continue
				}
				c := l.Top[0]
				fmt.Fprintf(&b, "       L%-3d %s %s\n", l.Layer, pad("["+show(c.Text)+"]", 14), p.prob(c.Prob, Pct(c.Prob)))
			}
		}
		if len(s.Experts) > 0 {
			fmt.Fprintf(&b, "     %s  experts the router picked in each layer (weight · router probability):\n", p.bold("experts"))
			for _, e := range s.Experts {
				picks := make([]string, len(e.IDs))
				for j, id := range e.IDs {
					picks[j] = fmt.Sprintf("#%d %s · %s", id, F3(e.Weights[j]), Pct(e.Probs[j]))
				}
				fmt.Fprintf(&b, "       L%-3d %s  %s\n", e.Layer, strings.Join(picks, "  "), p.dim("router entropy "+F3(e.Entropy)))
			}
		}
		fmt.Fprintf(&b, "     %s  entropy %s nats\n", p.bold("prediction"), F3(s.Prediction.Entropy))
		for _, c := range s.Prediction.Top {
			mark := " "
			if c.ID == s.Token.ID {
				mark = "▶"
			}
			fmt.Fprintf(&b, "     %s %s %s %s%s\n", mark, pad("["+show(c.Text)+"]", 14), p.prob(c.Prob, bar(c.Prob, 24)), Pct(c.Prob), uncapped(p, c))
		}
		if ch := s.Prediction.Chosen; ch != nil && !slices.ContainsFunc(s.Prediction.Top, func(c trace.Candidate) bool { return c.ID == ch.ID }) {
			fmt.Fprintf(&b, "     ▶ %s %s %s%s\n", pad("["+show(ch.Text)+"]", 14), p.prob(ch.Prob, bar(ch.Prob, 24)), Pct(ch.Prob), uncapped(p, *ch))
		}
		var chain []string
		for _, st := range s.Sampling.Steps {
			chain = append(chain, fmt.Sprintf("%s→%d", st.Name, st.Kept))
		}
		draw := "greedy (no draw)"
		if s.Sampling.Draw >= 0 {
			draw = "draw " + strconv.FormatFloat(s.Sampling.Draw, 'f', 4, 64)
		}
		fmt.Fprintf(&b, "     %s  %s · %s · chose [%s] rank %d, p %s after the chain (%s raw)\n", p.bold("decoding"),
			strings.Join(chain, " "), draw, show(s.Token.Text), s.Sampling.ChosenRank, Pct(s.Sampling.ChosenProb), Pct(s.Sampling.RawProb))
		if g := s.Sampling.Grammar; g != nil {
			if len(g.Removed) == 0 {
				fmt.Fprintf(&b, "     %s  checked %s, removed none of the best ones\n", p.bold("grammar"), plural(g.Checked, "candidate"))
			} else {
				removed := make([]string, len(g.Removed))
				for k, c := range g.Removed {
					removed[k] = fmt.Sprintf("[%s] %s", show(c.Text), p.prob(c.Prob, Pct(c.Prob)))
				}
				fmt.Fprintf(&b, "     %s  checked %s, removed (p before the grammar): %s\n", p.bold("grammar"), plural(g.Checked, "candidate"), strings.Join(removed, " · "))
			}
		}
	}
	if t.Done != nil {
		fmt.Fprintf(&b, "\n%s  %q · finish %s · %.1f prompt tokens/s · %.1f generated tokens/s\n", p.bold("TEXT"), t.Done.Text, t.Done.FinishReason, t.Done.PromptPerSec, t.Done.GenPerSec)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// uncapped describes a soft-capped candidate's logit, before and after the
// cap ("" for a model that does not cap).
func uncapped(p painter, c trace.Candidate) string {
	if c.LogitUncapped == nil {
		return ""
	}
	return p.dim(fmt.Sprintf("  logit %s (%s before capping)", F3(c.Logit), F3(*c.LogitUncapped)))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
