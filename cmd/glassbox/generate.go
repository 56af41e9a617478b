package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"glassbox"
)

// genFlags are the flags every generation command (run, chat, dissect,
// explain) shares: the model, the sampler, and -n, the tokens to generate.
type genFlags struct {
	modelFlags
	samplingFlags
	n int
}

// register registers the shared flags with the sampler defaults d, -n's
// default nDefault and its help.
func (g *genFlags) register(cmd *cobra.Command, d glassbox.SamplerParams, nDefault int, nUsage string) {
	g.modelFlags.register(cmd)
	g.samplingFlags.registerWith(cmd, d)
	registerNPredict(cmd, &g.n, nDefault, nUsage)
}

// generation is what a generation command works with once its prologue is
// done: the opened model (the caller closes it), the sampler parameters and
// the prompt.
type generation struct {
	m      *glassbox.Model
	params glassbox.SamplerParams
	prompt string
}

// prologue is the one way every generation command starts: it checks the
// command's own flags (check), reads the prompt (readPrompt; nil for a
// command without one), parses the sampling flags, then opens the model.
// Mistakes in the command line are reported before a model is loaded.
func (g *genFlags) prologue(ctx context.Context, check func() error, readPrompt func() (string, error)) (*generation, error) {
	if check != nil {
		if err := check(); err != nil {
			return nil, err
		}
	}
	gen := &generation{}
	if readPrompt != nil {
		var err error
		if gen.prompt, err = readPrompt(); err != nil {
			return nil, err
		}
	}
	var err error
	if gen.params, err = g.samplingFlags.params(); err != nil {
		return nil, err
	}
	if gen.m, err = g.modelFlags.open(ctx); err != nil {
		return nil, err
	}
	return gen, nil
}

// checkN refuses an -n below 1, for the commands without run's -1 (until the
// context is full).
func (g *genFlags) checkN() error {
	if g.n <= 0 {
		return fmt.Errorf("-n must be positive, got %d", g.n)
	}
	return nil
}
