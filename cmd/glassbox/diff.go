package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/eval"
	"glassbox/explain"
)

type diffOptions struct {
	samplingFlags
	runtime   modelFlags // -t, -c, --kv-f32
	models    []string
	n         int
	generator string
	top       int
	highlight int
	minShift  float64
	raw       bool
	jsonOut   bool
	colorMode string
}

func newDiffCmd() *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff -m BASE -m TUNED [flags] PROMPT",
		Short: "Show token by token what fine-tuning changed between a base model and a tuned one",
		Long: `Generate a continuation of PROMPT with one model (the tuned one unless --generator base),
then show for every generated token the probability each model gave it, their top alternatives
(base → tuned), the shift of the chosen token's probability (the biggest shifts highlighted)
and the KL divergence KL(tuned‖base) of the two next-token distributions over the whole
vocabulary. The summary gives the mean KL and the tokens where the models' most likely choice
differs. The models must share a tokenizer. With a single -m, the base is the embedded default
model (glassbox-go-1m).

Chat models get the prompt as a user message in the generator's chat template unless --raw.
Sampling is greedy by default (--temperature 0).`,
		Example: `  glassbox diff -m glassbox-go-1m-grpo "func add(a, b int) int {"    # the embedded aligned model against the default one
  glassbox diff -m glassbox-go-1m -m aligned.gguf "func add(a, b int) int {"
  glassbox diff -m base.gguf -m tuned.gguf --generator base --json "Once upon a time"`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.models, "model", "m", nil, "the base model, then the tuned one ("+strings.TrimPrefix(modelHelp, "model: ")+"); a single -m is the tuned model against the embedded one")
	o.runtime.registerRuntime(cmd, "")
	d := glassbox.DefaultSamplerParams()
	d.Temperature = 0
	o.samplingFlags.registerWith(cmd, d)
	registerNPredict(cmd, &o.n, 32, "tokens to generate at most")
	f.StringVar(&o.generator, "generator", eval.DiffTuned, "the model that writes the text: tuned or base")
	f.IntVar(&o.top, "top", 3, "alternatives shown per model and token (1-100)")
	f.IntVar(&o.highlight, "highlight", 5, "how many of the biggest shifts to highlight")
	f.Float64Var(&o.minShift, "min-shift", 0.05, "the least change of a chosen token's probability that is highlighted")
	f.BoolVar(&o.raw, "raw", false, "use the prompt as is, without the chat template")
	f.BoolVar(&o.jsonOut, "json", false, "print the comparison as one JSON object")
	f.StringVar(&o.colorMode, "color", "auto", "colour the table: auto, always or never")
	return cmd
}

func (o *diffOptions) run(cmd *cobra.Command, args []string) error {
	switch {
	case len(o.models) == 0 || len(o.models) > 2:
		return &usageError{cmd: cmd, err: fmt.Errorf("diff needs two models, -m BASE -m TUNED (or one, -m TUNED, against the embedded model); got %d", len(o.models))}
	case o.n <= 0:
		return fmt.Errorf("-n must be positive, got %d", o.n)
	case o.generator != eval.DiffTuned && o.generator != eval.DiffBase:
		return fmt.Errorf("--generator must be tuned or base, got %q", o.generator)
	case o.top < 1 || o.top > 100:
		return fmt.Errorf("--top must be between 1 and 100, got %d", o.top)
	case o.highlight < 0:
		return fmt.Errorf("--highlight must be >= 0, got %d", o.highlight)
	case o.minShift < 0 || o.minShift > 1:
		return fmt.Errorf("--min-shift must be between 0 and 1, got %g", o.minShift)
	}
	color, err := colorFlag(o.colorMode, cmd.OutOrStdout())
	if err != nil {
		return err
	}
	prompt, err := promptArg(cmd, args)
	if err != nil {
		return err
	}
	params, err := o.samplingFlags.params()
	if err != nil {
		return err
	}
	specs := o.models
	if len(specs) == 1 {
		specs = []string{"", specs[0]} // "" is the embedded model
	}
	var opened []*glassbox.Model
	defer func() {
		for _, m := range opened {
			m.Close()
		}
	}()
	for i, name := range specs {
		mf := o.runtime
		mf.model = name
		m, err := mf.open(cmd.Context())
		if err != nil {
			return fmt.Errorf("%s model: %w", []string{"base", "tuned"}[i], err)
		}
		opened = append(opened, m)
	}
	base, tuned := opened[0], opened[1]
	gen := tuned
	if o.generator == eval.DiffBase {
		gen = base
	}
	res, err := eval.Diff(cmd.Context(), base, tuned, prompt, eval.DiffOptions{
		Generator: o.generator, MaxTokens: o.n, Sampler: params, Chat: gen.HasChatTemplate() && !o.raw,
		Top: o.top, Highlight: o.highlight, MinShift: o.minShift,
	})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeDiff(out, res, params, o.top, color)
}

// diffPainter colours the table when the output is a terminal.
type diffPainter bool

func (p diffPainter) c(code, s string) string {
	if !p {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// shift colours a change of probability: green when the tuned model likes
// the token more, red when less; bold when highlighted.
func (p diffPainter) shift(d float64, hl bool, s string) string {
	code := ""
	switch {
	case d >= 0.005:
		code = "32"
	case d <= -0.005:
		code = "31"
	}
	if hl {
		code = strings.TrimPrefix(code+";1", ";")
	}
	if code == "" {
		return s
	}
	return p.c(code, s)
}

// pad pads s with spaces to width w in display columns (runes).
func pad(s string, w int) string {
	if n := len([]rune(s)); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func pctf(p float64) string { return fmt.Sprintf("%5.1f%%", 100*p) }

// writeDiff prints a diff as a table, one row per generated token, and its summary.
func writeDiff(w io.Writer, r *eval.DiffResult, params glassbox.SamplerParams, top int, color bool) error {
	p := diffPainter(color)
	sampling := "greedy"
	if params.Temperature > 0 {
		sampling = fmt.Sprintf("temperature %g, seed %d", params.Temperature, params.Seed)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "base  %s\ntuned %s\n", r.Base, r.Tuned)
	fmt.Fprintf(&b, "text written by the %s model (%s), %s after a prompt of %s:\n", r.Generator, sampling, plural(len(r.Tokens), "token"), plural(r.PromptTokens, "token"))
	fmt.Fprintf(&b, "  %s\n\n", explain.Show(r.Text))
	tokW := len("token")
	for _, t := range r.Tokens {
		tokW = max(tokW, len([]rune(quoteTok(t.Text))))
	}
	fmt.Fprintf(&b, "%4s  %s  %6s  %6s  %8s  %8s  %s\n", "#", pad("token", tokW), "base", "tuned", "shift", "KL(t‖b)", "top alternatives, base → tuned")
	for _, t := range r.Tokens {
		mark := " "
		if t.ArgmaxDiffers {
			mark = "≠"
		}
		shift := fmt.Sprintf("%+7.1fpt", 100*t.Shift)
		row := fmt.Sprintf("%4d%s %s  %s  %s  %s  %8.4f  %s", t.Index, mark, pad(quoteTok(t.Text), tokW), pctf(t.Base), pctf(t.Tuned),
			p.shift(t.Shift, t.Highlight, shift), t.KL, alternatives(p, t, top))
		if t.Highlight {
			row += p.c("1", "  ◀")
		}
		b.WriteString(row + "\n")
	}
	b.WriteString("\n")
	if len(r.Tokens) > 0 {
		maxAt := 0
		for i, t := range r.Tokens {
			if t.KL > r.Tokens[maxAt].KL {
				maxAt = i
			}
		}
		fmt.Fprintf(&b, "mean KL(tuned‖base) %.4f nats, max %.4f at token %d; mean |shift| %.1f pt\n", r.MeanKL, r.MaxKL, maxAt, 100*r.MeanAbsShift)
		var at []string
		for _, t := range r.Tokens {
			if t.ArgmaxDiffers {
				at = append(at, fmt.Sprint(t.Index))
			}
		}
		fmt.Fprintf(&b, "the models' most likely token differs at %d of %s", r.ArgmaxDiffers, plural(len(r.Tokens), "token"))
		if len(at) > 0 {
			fmt.Fprintf(&b, " (≠: %s)", strings.Join(at, ", "))
		}
		fmt.Fprintf(&b, "\nlog-probability of the text: base %.3f, tuned %.3f\n", r.BaseLogProb, r.TunedLogProb)
		if len(r.Highlighted) > 0 {
			b.WriteString("biggest shifts:")
			for _, i := range r.Highlighted {
				t := r.Tokens[i]
				b.WriteString(p.shift(t.Shift, true, fmt.Sprintf(" #%d %s %.1f%% → %.1f%% (%+.1f pt);", i, quoteTok(t.Text), 100*t.Base, 100*t.Tuned, 100*t.Shift)))
			}
			b.WriteString("\n")
		} else {
			b.WriteString("no shift of a chosen token reaches the highlight threshold\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// quoteTok shows a token between quotes with its control characters escaped.
func quoteTok(s string) string { return `"` + explain.Show(s) + `"` }

// alternatives lists the top tokens of both models (the tuned model's
// first), each with its probability under the base and the tuned model.
func alternatives(p diffPainter, t eval.DiffToken, top int) string {
	var alts []eval.DiffAlt
	seen := map[int]bool{}
	for _, a := range slices.Concat(t.TunedTop, t.BaseTop) {
		if !seen[a.ID] {
			seen[a.ID] = true
			alts = append(alts, a)
		}
	}
	slices.SortStableFunc(alts, func(a, b eval.DiffAlt) int {
		return -cmpFloat(math.Max(a.Base, a.Tuned), math.Max(b.Base, b.Tuned))
	})
	if len(alts) > top {
		alts = alts[:top]
	}
	parts := make([]string, len(alts))
	for i, a := range alts {
		s := quoteTok(a.Text) + " " + shortPct(a.Base) + "→" + shortPct(a.Tuned)
		if a.ID == t.ID {
			s = p.c("4", s) // the chosen token underlined
		}
		parts[i] = s
	}
	return strings.Join(parts, " · ")
}

// shortPct is a probability in percent, with a decimal below 10 %.
func shortPct(p float64) string {
	if p < 0.0995 {
		return fmt.Sprintf("%.1f", 100*p)
	}
	return fmt.Sprintf("%.0f", 100*p)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
