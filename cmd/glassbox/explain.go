package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/explain"
)

type explainOptions struct {
	dissectOptions
	lang string
}

func newExplainCmd() *cobra.Command {
	o := &explainOptions{}
	cmd := &cobra.Command{
		Use:   "explain [flags] [PROMPT]",
		Short: "The model explains itself in four layers, from its own numbers",
		Long: `The four-layer explanation of an LLM, about the model you run: (1) a literal
self-description from its real metadata; (2) the Russian-doll analogy, the doll's layers mapped to
the model's layers as the logit lens sees them; (3) the dissection of one real sentence the model
generates for PROMPT (tokens, embedding neighbours, attention, prediction, decoding, with the real
numbers); (4) metacognition: why a layered explanation mirrors how the model builds its
representations. In French or English (--lang; by default the prompt's language).`,
		Example: `  glassbox explain -m stories260K.bin "Once upon a time"
  glassbox explain -m model.gguf --lang fr`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	greedy := glassbox.DefaultSamplerParams()
	greedy.Temperature = 0
	o.genFlags.register(cmd, greedy, 48, "tokens at most for the sentence")
	o.registerTraceFlags(cmd)
	cmd.Flags().BoolVar(&o.raw, "raw", false, "use the prompt as is, without the chat template")
	cmd.Flags().StringVar(&o.lang, "lang", "", "fr or en (default: the prompt's language)")
	return cmd
}

func (o *explainOptions) run(cmd *cobra.Command, args []string) error {
	var topts glassbox.TraceOptions
	gen, err := o.prologue(cmd.Context(), func() error {
		if err := o.checkN(); err != nil {
			return err
		}
		switch o.lang {
		case "", "fr", "en":
		default:
			return fmt.Errorf("--lang must be fr or en, got %q", o.lang)
		}
		var err error
		topts, err = o.traceOptions()
		return err
	}, func() (string, error) {
		if len(args) > 0 {
			return strings.Join(args, " "), nil
		}
		return explain.DefaultPrompt, nil
	})
	if err != nil {
		return err
	}
	m, params, prompt := gen.m, gen.params, gen.prompt
	defer m.Close()
	lang := o.lang
	if lang == "" {
		lang = explain.DetectLanguage(prompt)
	}
	// one sentence: stop after a token that ends one, once a few were written
	var sentence strings.Builder
	generated := 0
	opts := glassbox.GenerateOptions{MaxTokens: o.n, Sampler: params, OnToken: func(t glassbox.Token) error {
		generated++
		sentence.WriteString(t.Text)
		if generated >= 3 && strings.ContainsAny(t.Text, ".!?\n") && strings.TrimSpace(sentence.String()) != "" {
			return errSentenceEnd
		}
		return nil
	}}
	events, _, err := dissect(cmd, m, prompt, o.raw, opts, topts, nil)
	if err != nil && !errors.Is(err, errSentenceEnd) {
		return err
	}
	t, err := explain.Collect(events)
	if err != nil {
		return err
	}
	if t.Done == nil { // stopped at the end of the sentence: the text is what was written
		t.Done = &glassbox.TraceDone{}
		t.Done.Text = sentence.String()
		t.Done.FinishReason = "stop"
	}
	text, err := explain.Explain(t, lang)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(cmd.OutOrStdout(), text)
	return err
}
