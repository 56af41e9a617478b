package glassbox

import (
	"context"

	"glassbox/vectors"
)

// TrainVectors trains word2vec vectors on a corpus (vectors.ReadCorpus reads
// text files into one): skip-gram or CBOW, negative sampling and/or
// hierarchical softmax, reproducible for a seed whatever the thread count.
// It is vectors.Train; DefaultVectorTrainOptions gives the usual settings.
func TrainVectors(ctx context.Context, c *vectors.Corpus, o vectors.TrainOptions) (*vectors.Trained, error) {
	return vectors.Train(ctx, c, o)
}

// DefaultVectorTrainOptions returns word2vec's defaults (skip-gram, dim 100,
// window 5, negative 5, sample 1e-3, min count 5, 5 epochs).
func DefaultVectorTrainOptions() vectors.TrainOptions { return vectors.DefaultTrainOptions() }
