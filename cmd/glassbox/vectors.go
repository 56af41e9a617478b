package main

import "github.com/spf13/cobra"

// newVectorsCmd returns the "vectors" command: word vectors, trained or read
// from a file, and any model's token embedding table, queried and pictured.
func newVectorsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vectors",
		Short: "Word vectors: train, query, evaluate and plot them, or a model's token embeddings",
		Long: "Word vectors (word2vec text or binary files) and the token embedding table of any model (-m),\n" +
			"explored the same way.",
	}
	cmd.AddCommand(newVectorsPlotCmd())
	cmd.AddCommand(newVectorsTrainCmd())
	cmd.AddCommand(newVectorsQueryCmds()...)
	return cmd
}
