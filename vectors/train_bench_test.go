package vectors

import (
	"context"
	"testing"
)

// benchCorpus is lee_background.cor (about 60 000 words), read once.
func benchCorpus(b *testing.B) *Corpus {
	b.Helper()
	c, err := ReadCorpus([]string{"../../shared/fixtures/embeddings/lee_background.cor"}, WordTokenizer(true))
	if err != nil {
		b.Skip("fixture:", err)
	}
	return c
}

func benchTrain(b *testing.B, cbow bool, threads int) {
	c := benchCorpus(b)
	o := DefaultTrainOptions()
	o.CBOW, o.Epochs, o.Threads, o.MinCount = cbow, 1, threads, 2
	b.ResetTimer()
	var words int64
	for b.Loop() {
		r, err := Train(context.Background(), c, o)
		if err != nil {
			b.Fatal(err)
		}
		words += r.TrainedWords
	}
	b.ReportMetric(float64(words)/b.Elapsed().Seconds(), "words/s")
}

// BenchmarkTrain is one epoch of word2vec (dim 100, window 5, negative 5)
// over lee_background.cor, words/s reported.
func BenchmarkTrain(b *testing.B) {
	b.Run("skipgram/1", func(b *testing.B) { benchTrain(b, false, 1) })
	b.Run("skipgram/2", func(b *testing.B) { benchTrain(b, false, 2) })
	b.Run("cbow/1", func(b *testing.B) { benchTrain(b, true, 1) })
	b.Run("cbow/2", func(b *testing.B) { benchTrain(b, true, 2) })
}
