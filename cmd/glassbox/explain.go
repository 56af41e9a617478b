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
	o.modelFlags.register(cmd)
	greedy := glassbox.DefaultSamplerParams()
	greedy.Temperature = 0
	o.samplingFlags.registerWith(cmd, greedy)
	o.registerTraceFlags(cmd)
	registerNPredict(cmd, &o.n, 48, "tokens at most for the sentence")
	cmd.Flags().BoolVar(&o.raw, "raw", false, "use the prompt as is, without the chat template")
	cmd.Flags().StringVar(&o.lang, "lang", "", "fr or en (default: the prompt's language)")
	return cmd
}

func (o *explainOptions) run(cmd *cobra.Command, args []string) error {
	if o.n <= 0 {
		return fmt.Errorf("-n must be positive, got %d", o.n)
	}
	prompt := explain.DefaultPrompt
	if len(args) > 0 {
		prompt = strings.Join(args, " ")
	}
	lang := o.lang
	switch lang {
	case "":
		lang = explain.DetectLanguage(prompt)
	case "fr", "en":
	default:
		return fmt.Errorf("--lang must be fr or en, got %q", lang)
	}
	topts, err := o.traceOptions()
	if err != nil {
		return err
	}
	params, err := o.samplingFlags.params()
	if err != nil {
		return err
	}
	m, err := o.modelFlags.open(cmd.Context())
	if err != nil {
		return err
	}
	defer m.Close()
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
