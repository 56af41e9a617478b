package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"glassbox"
)

// genFlags are the flags every generation command (run, chat, dissect,
// explain) shares: the model, the sampler, and -n, the tokens to generate.
type genFlags struct {
	modelFlags
	samplingFlags
	grammarFlags
	n int
}

// grammarFlags are --grammar and --json-schema, for the commands that
// constrain their output (run, chat, dissect): registerGrammar adds them,
// and the prologue reads and checks the file before the model loads.
type grammarFlags struct {
	grammarFile string
	schemaFile  string
	grammar     string // the grammar read from grammarFile or converted from schemaFile
}

// registerGrammar registers --grammar and --json-schema.
func (g *grammarFlags) registerGrammar(cmd *cobra.Command) {
	cmd.Flags().StringVar(&g.grammarFile, "grammar", "", "constrain the output to the GBNF grammar in `FILE` (llama.cpp's notation)")
	cmd.Flags().StringVar(&g.schemaFile, "json-schema", "", "constrain the output to JSON valid under the JSON Schema in `FILE`")
}

// loadGrammar reads --grammar or --json-schema into g.grammar.
func (g *grammarFlags) loadGrammar() error {
	switch {
	case g.grammarFile != "" && g.schemaFile != "":
		return fmt.Errorf("--grammar and --json-schema both constrain the output: give one of them")
	case g.grammarFile != "":
		b, err := os.ReadFile(g.grammarFile)
		if err != nil {
			return fmt.Errorf("--grammar: %w", err)
		}
		if err := glassbox.CheckGrammar(string(b)); err != nil {
			return fmt.Errorf("--grammar %s: %w", g.grammarFile, err)
		}
		g.grammar = string(b)
	case g.schemaFile != "":
		b, err := os.ReadFile(g.schemaFile)
		if err != nil {
			return fmt.Errorf("--json-schema: %w", err)
		}
		src, err := glassbox.JSONSchemaGrammar(b)
		if err != nil {
			return fmt.Errorf("--json-schema %s: %w", g.schemaFile, err)
		}
		g.grammar = src
	}
	return nil
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
// command without one), parses the sampling flags, reads --grammar or
// --json-schema where the command has them, then opens the model.
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
	if err := g.loadGrammar(); err != nil {
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
