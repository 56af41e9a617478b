package main

import "github.com/spf13/cobra"

// newVectorsCmd is "glassbox vectors": word vectors, trained, queried,
// evaluated and drawn.
func newVectorsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vectors",
		Short: "Word vectors: query, evaluate and compare word2vec files and a model's token embeddings",
		Long: `Word vectors (word2vec text or binary files, gensim's too, or any model's token
embedding table with -m) and what people do with them: nearest neighbours,
analogies, distances, the odd one out, and the standard benchmarks.`,
	}
	cmd.AddCommand(newVectorsQueryCmds()...)
	return cmd
}
