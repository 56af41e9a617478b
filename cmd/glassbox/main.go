// Command glassbox runs, dissects and serves open-weights language models on
// the CPU, showing what happens inside for every token.
package main

import (
	"context"
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
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newChatCmd(), newTokenizeCmd(), newDissectCmd(), newExplainCmd(),
		newPullCmd(), newListCmd(), newShowCmd(), newRmCmd(), newServeCmd(), newBenchCmd(), newTrainCmd())
	return root
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
