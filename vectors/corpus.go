package vectors

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// MaxSentenceWords is the longest sentence training sees: longer ones are cut
// into pieces of this many words, as gensim does (MAX_WORDS_IN_BATCH).
const MaxSentenceWords = 10000

// Corpus is a training text as a stream of word ids cut into sentences
// (training windows never cross a sentence end). Build it with AddSentence or
// ReadCorpus.
type Corpus struct {
	words  []string         // id → word
	index  map[string]int32 // word → id
	counts []int64          // id → occurrences
	ids    []int32          // the text
	ends   []int            // ends[i] is the end of sentence i in ids
}

// NewCorpus returns an empty corpus.
func NewCorpus() *Corpus { return &Corpus{index: map[string]int32{}} }

// AddSentence appends a sentence of tokens; empty tokens are skipped and a
// sentence longer than MaxSentenceWords is cut into several.
func (c *Corpus) AddSentence(tokens []string) {
	n := 0
	for _, w := range tokens {
		if w == "" {
			continue
		}
		id, ok := c.index[w]
		if !ok {
			id = int32(len(c.words))
			c.index[w] = id
			c.words = append(c.words, w)
			c.counts = append(c.counts, 0)
		}
		c.counts[id]++
		c.ids = append(c.ids, id)
		n++
		if n == MaxSentenceWords {
			c.ends = append(c.ends, len(c.ids))
			n = 0
		}
	}
	if n > 0 {
		c.ends = append(c.ends, len(c.ids))
	}
}

// Words is the number of tokens in the corpus.
func (c *Corpus) Words() int64 { return int64(len(c.ids)) }

// Sentences is the number of sentences.
func (c *Corpus) Sentences() int { return len(c.ends) }

// Distinct is the number of distinct tokens.
func (c *Corpus) Distinct() int { return len(c.words) }

// Count returns how many times word occurs.
func (c *Corpus) Count(word string) int64 {
	if id, ok := c.index[word]; ok {
		return c.counts[id]
	}
	return 0
}

// Sentence returns the tokens of sentence i.
func (c *Corpus) Sentence(i int) []string {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	out := make([]string, 0, c.ends[i]-start)
	for _, id := range c.ids[start:c.ends[i]] {
		out = append(out, c.words[id])
	}
	return out
}

// Tokenize splits a paragraph of text into tokens.
type Tokenize func(paragraph string) []string

// WordTokenizer returns the Tokenize of Words (WordRule), lower-casing when
// lower is set.
func WordTokenizer(lower bool) Tokenize {
	return func(p string) []string { return Words(nil, p, lower) }
}

// ReadCorpus reads text files, and every file under a folder (recursively,
// in lexical order, skipping names starting with a dot), cuts each text into
// paragraphs at blank lines, splits the paragraphs with tok and returns the
// corpus, one sentence per paragraph. A file that is not UTF-8 text (it holds
// a NUL byte or invalid UTF-8) is an error.
func ReadCorpus(paths []string, tok Tokenize) (*Corpus, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("vectors: no input file")
	}
	c := NewCorpus()
	add := func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b) {
			return fmt.Errorf("vectors: %s is not a UTF-8 text file", path)
		}
		for _, p := range Paragraphs(string(b)) {
			c.AddSentence(tok(p))
		}
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("vectors: %w", err)
		}
		if !st.IsDir() {
			if err := add(p); err != nil {
				return nil, err
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				return add(path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("vectors: %w", err)
		}
	}
	if len(c.ids) == 0 {
		return nil, fmt.Errorf("vectors: the input holds no token")
	}
	return c, nil
}
