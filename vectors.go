package glassbox

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"glassbox/vectors"
)

// TokenEmbeddings returns the model's token embedding table (its first layer)
// as word vectors, dequantized to float32, so that the vectors package's
// queries and evaluations run on it as on word2vec vectors. Row i is token i.
//
// Each token's word is the text it decodes to, trimmed of surrounding spaces
// ("▁king" and "Ġking" give "king"), so that words can be typed. Texts must be
// unique: a token that starts a word (its text began with a space) gets the
// plain text first, then the other tokens in id order; a token whose text is
// taken, empty, holds spaces or is not UTF-8 gets its vocabulary piece as
// spelled in the tokenizer ("▁king", "<0x0A>", "<s>"), and if that is taken
// too, the piece followed by "#" and the id. Every token also answers to its
// piece (Vectors.Alias) when no word is spelled so: "▁time" finds the row of
// "time". The table is a copy: it stays valid after Close.
func (m *Model) TokenEmbeddings() (*vectors.Vectors, error) {
	release, err := m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	emb := m.model.TokenEmbedding
	if emb == nil {
		return nil, fmt.Errorf("%s has no token embedding table", m.Name())
	}
	n, dim := emb.Rows, emb.Cols
	if m.tok != nil && m.tok.VocabSize() < n {
		n = m.tok.VocabSize()
	}
	data := make([]float32, n*dim)
	for i := range n {
		emb.Row(i, data[i*dim:(i+1)*dim])
	}
	v, err := vectors.New(m.tokenWords(n), dim, data)
	if err != nil {
		return nil, err
	}
	if m.tok != nil {
		for i := range n {
			v.Alias(m.tok.Piece(i), i)
		}
	}
	return v, nil
}

// tokenWords names tokens 0..n-1 as TokenEmbeddings documents.
func (m *Model) tokenWords(n int) []string {
	words := make([]string, n)
	taken := make(map[string]bool, n)
	text := make([]string, n)
	starts := make([]bool, n)
	for i := range n {
		var b []byte
		if m.tok != nil {
			b = m.tok.TokenBytes(i)
		}
		s := string(b)
		starts[i] = strings.HasPrefix(s, " ")
		t := strings.TrimSpace(s)
		if t == "" || !utf8.ValidString(t) || strings.ContainsAny(t, " \t\n\r") || m.tok != nil && m.tok.IsSpecial(i) {
			t = ""
		}
		text[i] = t
	}
	for pass := range 2 {
		for i := range n {
			if words[i] != "" || text[i] == "" || taken[text[i]] || pass == 0 && !starts[i] {
				continue
			}
			words[i], taken[text[i]] = text[i], true
		}
	}
	for i := range n {
		if words[i] != "" {
			continue
		}
		p := ""
		if m.tok != nil {
			p = m.tok.Piece(i)
		}
		if p == "" || taken[p] || strings.ContainsAny(p, " \n") || !utf8.ValidString(p) {
			p = strings.Map(func(r rune) rune {
				if r == ' ' || r == '\n' || r == utf8.RuneError {
					return '_'
				}
				return r
			}, p) + "#" + strconv.Itoa(i)
		}
		words[i], taken[p] = p, true
	}
	return words
}
