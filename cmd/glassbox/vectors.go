package main

import "github.com/spf13/cobra"

// newVectorsCmd returns the "vectors" command: train, query and evaluate word
// vectors (word2vec).
func newVectorsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vectors",
		Short: "Train, query and evaluate word vectors (word2vec)",
		Long:  "Word vectors: train word2vec (skip-gram or CBOW) on plain text, query and evaluate them.",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newVectorsTrainCmd())
	return cmd
}
