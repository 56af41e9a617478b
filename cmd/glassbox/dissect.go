package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/explain"
)

type dissectOptions struct {
	genFlags
	layers    string
	heads     string
	top       int
	jsonOut   bool
	raw       bool
	noEmbed   bool
	noAttn    bool
	noLens    bool
	steps     int
	colorMode string
}

func newDissectCmd() *cobra.Command {
	o := &dissectOptions{}
	cmd := &cobra.Command{
		Use:   "dissect [flags] PROMPT",
		Short: "Generate and show what happened inside for every token",
		Long: `Generate a continuation and dissect each token from the engine's own numbers:
tokenization → embeddings (norms, nearest tokens) → attention (per layer and head) →
logit lens (what each layer would predict) → prediction (top candidates, entropy) →
decoding (each sampler step, the draw, the chosen token's rank and probability; with
--grammar or --json-schema, the candidates the grammar removed and their probabilities).
--json writes the trace as JSON Lines, one event per line (schema: docs/trace-schema.md).`,
		Example: `  glassbox dissect -m stories260K.bin --temperature 0 -n 4 "Once upon a time"
  glassbox dissect -m model.gguf --layers 0,5-7 --heads 0-3 --json "Bonjour" > trace.jsonl
  glassbox dissect --temperature 0 --json-schema person.schema.json "A person as JSON:"`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	o.genFlags.register(cmd, glassbox.DefaultSamplerParams(), 8, "tokens to generate and dissect")
	o.registerTraceFlags(cmd)
	o.registerGrammar(cmd)
	cmd.Flags().BoolVar(&o.jsonOut, "json", false, "write the trace as JSON Lines")
	cmd.Flags().BoolVar(&o.raw, "raw", false, "use the prompt as is, without the chat template")
	cmd.Flags().IntVar(&o.steps, "steps", 0, "generated tokens to detail in the report (0 = all)")
	cmd.Flags().StringVar(&o.colorMode, "color", "auto", "colour the report: auto, always or never")
	return cmd
}

func (o *dissectOptions) registerTraceFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.layers, "layers", "all", "layers to trace for attention and the logit lens: all, or a list such as 0,2,5-7")
	cmd.Flags().StringVar(&o.heads, "heads", "all", "attention heads to trace: all, or a list such as 0-3")
	cmd.Flags().IntVar(&o.top, "top", 5, "candidates, neighbours and attended positions per list")
	cmd.Flags().BoolVar(&o.noEmbed, "no-embeddings", false, "skip the embedding neighbours (a scan of the whole embedding table)")
	cmd.Flags().BoolVar(&o.noAttn, "no-attention", false, "skip attention weights")
	cmd.Flags().BoolVar(&o.noLens, "no-logit-lens", false, "skip the logit lens")
}

// traceOptions parses the trace selection flags.
func (o *dissectOptions) traceOptions() (glassbox.TraceOptions, error) {
	if o.top < 1 || o.top > 100 {
		return glassbox.TraceOptions{}, fmt.Errorf("--top must be between 1 and 100, got %d", o.top)
	}
	opts := glassbox.TraceOptions{Top: o.top, Attention: !o.noAttn, LogitLens: !o.noLens, Embeddings: !o.noEmbed}
	var err error
	if opts.Layers, err = parseList("--layers", o.layers); err != nil {
		return opts, err
	}
	if opts.Heads, err = parseList("--heads", o.heads); err != nil {
		return opts, err
	}
	return opts, nil
}

// parseList parses "all" (nil) or comma-separated numbers and ranges "a-b".
func parseList(flag, s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return nil, nil
	}
	out := []int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%s: %q is not a number or range (want all, or a list such as 0,2,5-7)", flag, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil, fmt.Errorf("%s: %q is not a valid range (want a-b with a <= b)", flag, part)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// dissect runs one traced generation and returns its events.
func dissect(cmd *cobra.Command, m *glassbox.Model, prompt string, raw bool, opts glassbox.GenerateOptions, topts glassbox.TraceOptions, each func(glassbox.TraceEvent) error) ([]glassbox.TraceEvent, *glassbox.Result, error) {
	ids, text, err := buildPrompt(m, prompt, raw, opts)
	if err != nil {
		return nil, nil, err
	}
	var events []glassbox.TraceEvent
	opts.Trace = &glassbox.Tracing{Options: topts, PromptText: text, Emit: func(ev glassbox.TraceEvent) error {
		events = append(events, ev)
		if each != nil {
			return each(ev)
		}
		return nil
	}}
	res, err := m.GenerateIDs(cmd.Context(), ids, opts)
	return events, res, err
}

func (o *dissectOptions) run(cmd *cobra.Command, args []string) error {
	var color bool
	var topts glassbox.TraceOptions
	gen, err := o.prologue(cmd.Context(), func() error {
		if err := o.checkN(); err != nil {
			return err
		}
		if o.steps < 0 {
			return fmt.Errorf("--steps must be 0 (all) or more, got %d", o.steps)
		}
		var err error
		if color, err = colorFlag(o.colorMode, cmd.OutOrStdout()); err != nil {
			return err
		}
		topts, err = o.traceOptions()
		return err
	}, func() (string, error) { return promptArg(cmd, args) })
	if err != nil {
		return err
	}
	m, params, prompt := gen.m, gen.params, gen.prompt
	defer m.Close()
	out := cmd.OutOrStdout()
	opts := glassbox.GenerateOptions{MaxTokens: o.n, Sampler: params, Grammar: o.grammar}
	var each func(glassbox.TraceEvent) error
	if o.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		each = func(ev glassbox.TraceEvent) error { return enc.Encode(ev) }
	}
	events, _, err := dissect(cmd, m, prompt, o.raw, opts, topts, each)
	if err != nil || o.jsonOut {
		return err
	}
	t, err := explain.Collect(events)
	if err != nil {
		return err
	}
	return explain.Report(out, t, explain.ReportOptions{Color: color, Steps: o.steps})
}

func colorFlag(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		return isTerminal(w), nil
	}
	return false, fmt.Errorf("--color must be auto, always or never, got %q", mode)
}

var errSentenceEnd = errors.New("end of sentence")
