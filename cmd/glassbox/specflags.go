package main

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/spf13/cobra"

	"glassbox"
)

// specFlags are the speculative-decoding flags (llama.cpp's names where it
// has them): a draft model or prompt lookup, and the draft lengths.
type specFlags struct {
	draft              string
	lookup             bool
	ngramMin, ngramMax int
	max, min           int
	pMin               float64
}

// registerSpec registers the flags.
func (f *specFlags) registerSpec(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.draft, "draft", "", "speculative decoding with this draft `MODEL` (a smaller model with the same tokenizer)")
	fl.StringVar(&f.draft, "model-draft", "", "the same as --draft (llama.cpp's name)")
	fl.BoolVar(&f.lookup, "lookup", false, "speculative decoding by prompt lookup: draft the tokens that followed the last n-gram's latest earlier occurrence")
	fl.IntVar(&f.ngramMin, "lookup-ngram-min", 2, "with --lookup, the shortest n-gram looked up")
	fl.IntVar(&f.ngramMax, "lookup-ngram-max", 3, "with --lookup, the longest n-gram looked up (tried first)")
	fl.IntVar(&f.max, "draft-max", 8, "tokens drafted per round at most")
	fl.IntVar(&f.min, "draft-min", 0, "decode plainly when fewer tokens than this are drafted")
	fl.Float64Var(&f.pMin, "draft-p-min", 0, "stop a draft model's round at a token it gives less than this probability")
}

// on reports whether speculative decoding was asked for.
func (f *specFlags) on() bool { return f.draft != "" || f.lookup }

// check validates the flags before any model loads.
func (f *specFlags) check() error {
	if !f.on() {
		return nil // the draft settings mean nothing without a drafter
	}
	switch {
	case f.draft != "" && f.lookup:
		return fmt.Errorf("--draft and --lookup are two ways of drafting: give one of them")
	case f.max < 1:
		return fmt.Errorf("--draft-max must be at least 1, got %d", f.max)
	case f.min < 0 || f.min > f.max:
		return fmt.Errorf("--draft-min must be between 0 and --draft-max (%d), got %d", f.max, f.min)
	case math.IsNaN(f.pMin) || f.pMin < 0 || f.pMin > 1:
		return fmt.Errorf("--draft-p-min must be between 0 and 1, got %v", f.pMin)
	case f.ngramMin < 1 || f.ngramMax < f.ngramMin:
		return fmt.Errorf("--lookup-ngram-min (%d) must be at least 1 and at most --lookup-ngram-max (%d)", f.ngramMin, f.ngramMax)
	}
	return nil
}

// open returns the speculative settings (nil when none were asked for),
// opening the draft model with the runtime settings of mf (threads,
// context, caches); the caller closes the draft model returned.
func (f *specFlags) open(ctx context.Context, mf *modelFlags) (*glassbox.Speculative, *glassbox.Model, error) {
	if !f.on() {
		return nil, nil, nil
	}
	sp := &glassbox.Speculative{Lookup: f.lookup, NGramMin: f.ngramMin, NGramMax: f.ngramMax, Max: f.max, Min: f.min, PMin: f.pMin}
	if f.draft == "" {
		return sp, nil, nil
	}
	d := *mf
	d.model, d.tokenizer, d.lora, d.loraScaled, d.chatTemplateFile = f.draft, "", nil, nil, ""
	m, err := d.open(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("--draft: %w", err)
	}
	sp.Draft = m
	return sp, m, nil
}

// writeSpecStats prints a generation's speculative counts (--verbose).
func writeSpecStats(w io.Writer, st glassbox.SpecStats) {
	fmt.Fprintf(w, "speculative: %s in %s, %d accepted (%.1f%%), %.2f tokens per pass\n",
		plural(st.Drafted, "drafted token"), plural(st.Rounds, "round"), st.Accepted, 100*st.AcceptRate(),
		float64(st.Accepted+st.Rounds)/math.Max(1, float64(st.Rounds)))
}
