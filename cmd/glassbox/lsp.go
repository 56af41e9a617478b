package main

import (
	"context"
	"errors"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/lsp"
)

type lspOptions struct {
	modelFlags
	stdio bool
}

func newLSPCmd() *cobra.Command {
	o := &lspOptions{}
	cmd := &cobra.Command{
		Use:   "lsp [-m MODEL]",
		Short: "Serve code completion to editors (Language Server Protocol over stdio)",
		Long: `Run a Language Server on stdin/stdout for editors (neovim, VS Code-like clients):
textDocument/completion items and textDocument/inlineCompletion (ghost text) from a
fill-in-the-middle generation at the cursor, with the lines around the cursor as context and
the model's FIM tokens. A model without FIM tokens (such as the embedded one) continues the text
before the cursor, and the server says so in a window/logMessage.

initializationOptions: {"model": FILE-OR-NAME, "n_predict": 32, "max_prefix_lines": 64,
"max_suffix_lines": 16, "temperature": 0}. Without -m or "model", the embedded model is used.`,
		Example: `  glassbox lsp                        # the embedded Go-code model
  glassbox lsp -m qwen2.5-coder-0.5b-q8_0.gguf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	o.modelFlags.register(cmd)
	cmd.Flags().BoolVar(&o.stdio, "stdio", true, "talk over stdin/stdout (the only transport; accepted because clients pass it)")
	return cmd
}

func (o *lspOptions) run(cmd *cobra.Command) error {
	m, err := o.open(cmd.Context())
	if err != nil {
		return err
	}
	defer m.Close()
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = readBuildVersion(bi).Version
	}
	s := lsp.New(lsp.Config{Model: m, Version: version, Open: func(ctx context.Context, name string) (*glassbox.Model, error) {
		f := o.modelFlags
		f.model = name
		return f.open(ctx)
	}})
	err = s.Serve(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
	if errors.Is(err, lsp.ErrExitWithoutShutdown) {
		os.Exit(1)
	}
	return err
}
