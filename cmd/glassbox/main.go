// Command glassbox runs, dissects and serves open-weights language models on
// the CPU, showing what happens inside for every token.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "glassbox",
		Short: "An LLM you can see through: run, tokenize and dissect language models on the CPU",
		Long: `glassbox runs GGUF and llama2.c models of the Llama family (Llama 2/3, Mistral,
Qwen2/3, SmolLM …) on the CPU, tokenizes exactly like the reference tokenizers, and shows
what happens inside for every token: tokenization → embeddings → attention → prediction → decoding.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newRunCmd(), newChatCmd(), newTokenizeCmd(), newDissectCmd(), newExplainCmd(),
		newPullCmd(), newListCmd(), newShowCmd(), newRmCmd(), newServeCmd(), newBenchCmd(), newTrainCmd(),
		newEvalCmd(), newVectorsCmd(), newMCPCmd(), newLSPCmd(), newVersionCmd())
	root.AddCommand(newAgentCmd())
	root.AddCommand(newLeaderboardCmd())
	root.AddCommand(newCatalogCmd(), newChooseCmd())
	root.AddCommand(newDiffCmd(), newFeedbackCmd(), newExportCmd())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{cmd: c, err: err, flag: true}
	})
	withUsage(root)
	return root
}

// usageError is a mistake in a command's arguments or flags: main prints it
// followed by the command's usage (arguments) or a pointer to --help (flags).
type usageError struct {
	cmd  *cobra.Command
	err  error
	flag bool // from the flag parser, not from an argument check
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// withUsage makes the argument checks of c and its subcommands return
// usageErrors, so that a wrong argument count shows how to call the command.
func withUsage(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				var ue *usageError
				if errors.As(err, &ue) {
					return err
				}
				return &usageError{cmd: cmd, err: err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		withUsage(sub)
	}
}

// exactArgs requires n arguments; what names them in the error ("the model
// to download").
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return &usageError{cmd: cmd, err: fmt.Errorf("%s needs %s", subcommand(cmd), what)}
		case len(args) > n:
			return &usageError{cmd: cmd, err: fmt.Errorf("%s takes %s, got %d: %q", subcommand(cmd), plural(n, "argument"), len(args), args)}
		}
		return nil
	}
}

// maxArgs allows at most n arguments.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return &usageError{cmd: cmd, err: fmt.Errorf("%s takes at most %s, got %d: %q", subcommand(cmd), plural(n, "argument"), len(args), args)}
		}
		return nil
	}
}

// subcommand is the command's path without the program name: "pull", "train export".
func subcommand(cmd *cobra.Command) string {
	if cmd.HasParent() {
		if p := subcommand(cmd.Parent()); p != "" {
			return p + " " + cmd.Name()
		}
		return cmd.Name()
	}
	return ""
}

// printError writes err as every glassbox error is written: once, on one
// line, after "glassbox: ". A usage error is followed by the command's usage.
func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "glassbox: %v\n", err)
	var ue *usageError
	if !errors.As(err, &ue) {
		return
	}
	if ue.flag {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", ue.cmd.CommandPath())
		return
	}
	fmt.Fprintf(w, "\n%s", ue.cmd.UsageString())
}

// plural returns "1 token", "2 tokens": n and the word, plural when n != 1.
func plural(n int, word string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func main() {
	// Ctrl-C cancels the context: generation and downloads stop cleanly, and
	// the process exits quietly with 130 (143 for SIGTERM).
	ctx, stop := watchSignals(context.Background())
	err := newRootCmd().ExecuteContext(ctx)
	code := exitStatus(ctx, err, os.Stderr)
	stop()
	if code != 0 {
		os.Exit(code)
	}
}
