package vectors

import "fmt"

// PhraseOptions are the settings of bigram detection (word2phrase, gensim's
// Phrases with its default scorer).
type PhraseOptions struct {
	// MinCount: words and bigrams seen fewer times are never joined (gensim 5).
	MinCount int
	// Threshold: a bigram a b is joined when
	// (count(a b) − MinCount) / (count(a) · count(b)) · N > Threshold, N the
	// number of tokens in the corpus (gensim 10; word2phrase 100).
	Threshold float64
	// Delimiter joins the two words (gensim "_").
	Delimiter string
}

// DefaultPhraseOptions are gensim's defaults: min count 5, threshold 10, "_".
func DefaultPhraseOptions() PhraseOptions {
	return PhraseOptions{MinCount: 5, Threshold: 10, Delimiter: "_"}
}

// PhraseScore is the word2phrase score of a bigram: (ab − minCount) / (a · b) · n.
func PhraseScore(ab, a, b, n int64, minCount int) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return float64(ab-int64(minCount)) / float64(a) / float64(b) * float64(n)
}

// Phrases returns a new corpus where each bigram scoring above the threshold
// is one token, its two words joined by the delimiter. Like gensim, the scan
// goes left to right in each sentence and a word joined to its left
// neighbour is not joined again to its right one; run it twice for
// trigrams.
func (c *Corpus) Phrases(o PhraseOptions) (*Corpus, error) {
	if o.MinCount < 1 {
		return nil, fmt.Errorf("vectors: phrase min count %d, expected at least 1", o.MinCount)
	}
	if !(o.Threshold > 0) {
		return nil, fmt.Errorf("vectors: phrase threshold %g, expected a positive number", o.Threshold)
	}
	bigrams := map[uint64]int64{}
	start := 0
	for _, end := range c.ends {
		for i := start; i+1 < end; i++ {
			bigrams[uint64(c.ids[i])<<32|uint64(uint32(c.ids[i+1]))]++
		}
		start = end
	}
	n := c.Words()
	joins := func(a, b int32) bool {
		ab := bigrams[uint64(a)<<32|uint64(uint32(b))]
		ca, cb := c.counts[a], c.counts[b]
		if ab < int64(o.MinCount) || ca < int64(o.MinCount) || cb < int64(o.MinCount) {
			return false
		}
		return PhraseScore(ab, ca, cb, n, o.MinCount) > o.Threshold
	}
	out := NewCorpus()
	var sent []string
	start = 0
	for _, end := range c.ends {
		sent = sent[:0]
		for i := start; i < end; i++ {
			if i+1 < end && joins(c.ids[i], c.ids[i+1]) {
				sent = append(sent, c.words[c.ids[i]]+o.Delimiter+c.words[c.ids[i+1]])
				i++
				continue
			}
			sent = append(sent, c.words[c.ids[i]])
		}
		out.AddSentence(sent)
		start = end
	}
	return out, nil
}
