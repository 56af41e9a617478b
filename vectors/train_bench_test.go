package vectors

import (
	"context"
	"fmt"
	"sync"
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

// novelsCorpus is war-and-peace.txt and tinyshakespeare.txt lower-cased
// (778 288 words), the corpus of the comparison with gensim in
// docs/vectors.md, read once.
var novelsCorpus = sync.OnceValues(func() (*Corpus, error) {
	return ReadCorpus([]string{"../../shared/fixtures/text/war-and-peace.txt", "../../shared/fixtures/text/tinyshakespeare.txt"}, WordTokenizer(true))
})

func benchTrain(b *testing.B, c *Corpus, minCount int, cbow, hogwild bool, threads int) {
	o := DefaultTrainOptions()
	o.CBOW, o.Epochs, o.Threads, o.MinCount, o.Hogwild = cbow, 1, threads, minCount, hogwild
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
// over lee_background.cor (min count 2), words/s reported, with the
// reproducible schedule and (hogwild/) without it.
func BenchmarkTrain(b *testing.B) {
	for _, arch := range []string{"skipgram", "cbow"} {
		for _, hw := range []string{"", "hogwild/"} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s%d", arch, hw, threads), func(b *testing.B) {
					benchTrain(b, benchCorpus(b), 2, arch == "cbow", hw != "", threads)
				})
			}
		}
	}
}

// BenchmarkTrainNovels is one epoch over the corpus of docs/vectors.md's
// comparison with gensim (war-and-peace.txt + tinyshakespeare.txt, min count
// 5), words/s reported.
func BenchmarkTrainNovels(b *testing.B) {
	c, err := novelsCorpus()
	if err != nil {
		b.Skip("fixture:", err)
	}
	for _, arch := range []string{"skipgram", "cbow"} {
		for _, hw := range []string{"", "hogwild/"} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s%d", arch, hw, threads), func(b *testing.B) {
					benchTrain(b, c, 5, arch == "cbow", hw != "", threads)
				})
			}
		}
	}
}
