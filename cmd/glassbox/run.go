package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/choose"
)

type runOptions struct {
	genFlags
	specFlags
	raw      bool
	jsonOut  bool
	logprobs int
	verbose  bool
	noBOS    bool
	stop     []string
	hideThk  bool
}

func newRunCmd() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] PROMPT",
		Short: "Continue a prompt (chat models get their chat template unless --raw)",
		Long: `Run a model on a prompt and print the continuation on stdout as it is generated.
The prompt is the arguments, or stdin when there are none. Chat models (those whose GGUF file
carries tokenizer.chat_template) get the prompt as a user message in their template, unless --raw.`,
		Example: `  glassbox run -m stories260K.bin --temperature 0 -n 64 "Once upon a time"
  echo "Bonjour" | glassbox run -m qwen3.gguf --json --logprobs 3`,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	o.genFlags.register(cmd, glassbox.DefaultSamplerParams(), 256, "tokens to generate at most (-1 = until the context is full)")
	cmd.Flags().BoolVar(&o.raw, "raw", false, "use the prompt as is, without the chat template")
	cmd.Flags().BoolVar(&o.jsonOut, "json", false, "print one JSON object: prompt_ids, ids, text, logprobs, timings")
	cmd.Flags().IntVar(&o.logprobs, "logprobs", 0, "with --json, include each token's log-probability and the top K alternatives")
	cmd.Flags().BoolVar(&o.verbose, "verbose", false, "print load time and speeds to stderr")
	cmd.Flags().BoolVar(&o.noBOS, "no-bos", false, "do not add the beginning-of-sequence token")
	cmd.Flags().StringArrayVar(&o.stop, "stop", nil, "stop when this text is generated (repeatable)")
	o.registerGrammar(cmd)
	o.registerSpec(cmd)
	cmd.Flags().BoolVar(&o.hideThk, "hide-thinking", false, "do not print the reasoning a thinking model writes between <think> and </think> (gpt-oss: its analysis channel)")
	return cmd
}

func (o *runOptions) run(cmd *cobra.Command, args []string) error {
	gen, err := o.prologue(cmd.Context(), func() error {
		if o.n == 0 || o.n < -1 {
			return fmt.Errorf("-n must be positive or -1, got %d", o.n)
		}
		if o.logprobs < 0 || o.logprobs > 20 {
			return fmt.Errorf("--logprobs must be between 0 and 20, got %d", o.logprobs)
		}
		return o.specFlags.check()
	}, func() (string, error) { return promptArg(cmd, args) })
	if err != nil {
		return err
	}
	m, params, prompt := gen.m, gen.params, gen.prompt
	defer m.Close()
	spec, draft, err := o.specFlags.open(cmd.Context(), &o.modelFlags)
	if err != nil {
		return err
	}
	if draft != nil {
		defer draft.Close()
	}

	out := cmd.OutOrStdout()
	opts := glassbox.GenerateOptions{
		MaxTokens: max(o.n, 0), Sampler: params, Stop: o.stop, LogProbs: o.logprobs, NoBOS: o.noBOS,
		Grammar: o.grammar, Speculative: spec,
	}
	// a thinking model's reasoning is printed apart from its answer
	var rd *glassbox.ReplyReader
	var ids []int
	if m.HasChatTemplate() && !o.raw {
		cp, err := m.PrepareChat(cmd.Context(), []glassbox.Message{{Role: "user", Content: prompt}}, glassbox.ChatOptions{})
		if err != nil {
			return err
		}
		ids = m.EncodeChat(cp.Text, opts)
		if cp.Reasons() {
			rd = cp.NewReader()
		}
	} else {
		ids = m.Encode(prompt, opts)
	}
	pr := &replyPrinter{out: out, dim: isTerminal(out), hide: o.hideThk}
	opts.OnToken = func(t glassbox.Token) error {
		switch {
		case rd != nil && o.jsonOut:
			rd.Add(t.Text)
		case rd != nil:
			return pr.delta(rd.Add(t.Text))
		case !o.jsonOut:
			return pr.write(t.Text, false)
		}
		return nil
	}
	res, err := m.GenerateIDs(cmd.Context(), ids, opts)
	if err != nil {
		if cmd.Context().Err() != nil && pr.last != "" && !strings.HasSuffix(pr.last, "\n") {
			fmt.Fprintln(out) // interrupted: end the line the text was on
		}
		return err
	}
	var reply *glassbox.Message
	if rd != nil {
		d, msg, _ := rd.Finish(res.FinishReason)
		reply = &msg
		if !o.jsonOut {
			if err := pr.delta(d); err != nil {
				return err
			}
			if err := pr.endThinking(); err != nil {
				return err
			}
		}
	}
	if o.verbose {
		t := res.Timings
		rss := ""
		if peak := selfPeakRSS(); peak > 0 {
			rss = " · peak RSS " + choose.FormatBytes(peak)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "\nseed %d · load %.1f ms · prompt %s, %.1f tokens/s · generation %s, %.1f tokens/s · finish %s%s\n",
			params.Seed, ms(m.LoadDuration()), plural(t.PromptTokens, "token"), t.PromptPerSecond(), plural(t.GenTokens, "token"), t.GenPerSecond(), res.FinishReason, rss)
		if spec != nil {
			writeSpecStats(cmd.ErrOrStderr(), res.Speculative)
		}
	}
	if o.jsonOut {
		return writeRunJSON(out, m, params.Seed, res, reply, o.logprobs > 0)
	} else if pr.last != "" && !strings.HasSuffix(pr.last, "\n") {
		fmt.Fprintln(out)
	}
	return nil
}

type jsonTop struct {
	ID      int     `json:"id"`
	LogProb float32 `json:"logprob"`
}

type jsonLogProb struct {
	ID      int       `json:"id"`
	LogProb float32   `json:"logprob"`
	Top     []jsonTop `json:"top"`
}

type jsonTimings struct {
	LoadMS            float64 `json:"load_ms"`
	PromptN           int     `json:"prompt_n"`
	PromptCached      int     `json:"prompt_cached"`
	PromptMS          float64 `json:"prompt_ms"`
	PromptPerSecond   float64 `json:"prompt_per_second"`
	PredictedN        int     `json:"predicted_n"`
	PredictedMS       float64 `json:"predicted_ms"`
	PredictedPerSecnd float64 `json:"predicted_per_second"`
}

type jsonRun struct {
	PromptIDs    []int  `json:"prompt_ids"`
	IDs          []int  `json:"ids"`
	Text         string `json:"text"`
	FinishReason string `json:"finish_reason"`
	Seed         uint64 `json:"seed"`
	// ReasoningContent and Content split the text of a thinking model's
	// reply (its <think> reasoning, then the answer).
	ReasoningContent *string       `json:"reasoning_content,omitempty"`
	Content          *string       `json:"content,omitempty"`
	LogProbs         []jsonLogProb `json:"logprobs,omitempty"`
	Timings          jsonTimings   `json:"timings"`
}

// writeRunJSON prints the result; reply, when not nil, is the reply of a
// thinking model split into reasoning and answer.
func writeRunJSON(w io.Writer, m *glassbox.Model, seed uint64, res *glassbox.Result, reply *glassbox.Message, withLogProbs bool) error {
	t := res.Timings
	j := jsonRun{
		PromptIDs: res.PromptIDs, IDs: res.IDs, Text: res.Text, FinishReason: res.FinishReason, Seed: seed,
		Timings: jsonTimings{
			LoadMS: ms(m.LoadDuration()), PromptN: t.PromptTokens, PromptCached: t.CachedTokens,
			PromptMS: ms(t.PromptDuration), PromptPerSecond: t.PromptPerSecond(),
			PredictedN: t.GenTokens, PredictedMS: ms(t.GenDuration), PredictedPerSecnd: t.GenPerSecond(),
		},
	}
	if j.IDs == nil {
		j.IDs = []int{}
	}
	if reply != nil {
		j.ReasoningContent, j.Content = &reply.ReasoningContent, &reply.Content
	}
	if withLogProbs {
		j.LogProbs = make([]jsonLogProb, len(res.Tokens))
		for i, tk := range res.Tokens {
			lp := jsonLogProb{ID: tk.ID, LogProb: tk.LogProb, Top: make([]jsonTop, len(tk.Top))}
			for k, c := range tk.Top {
				lp.Top[k] = jsonTop{ID: c.ID, LogProb: c.LogProb}
			}
			j.LogProbs[i] = lp
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(j)
}

func ms(d interface{ Seconds() float64 }) float64 { return d.Seconds() * 1000 }
