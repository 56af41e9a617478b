package glassbox

import (
	"fmt"

	"glassbox/vectors"
)

// TokenEmbeddings returns the model's token embedding table as word vectors:
// row i is the input embedding of token i (dequantized to float32), named by
// its vocabulary piece, so the queries of package vectors (nearest
// neighbours, analogies) run on what the model's first layer holds. A piece
// that is empty is named "[i]", and one that repeats an earlier piece
// "piece#i", as word vectors need distinct, non-empty words. The table is a
// copy: it stays valid after Close.
func (m *Model) TokenEmbeddings() (*vectors.Vectors, error) {
	release, err := m.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	n, dim := m.model.Config.VocabSize, m.model.Config.Dim
	words := make([]string, n)
	seen := make(map[string]bool, n)
	data := make([]float32, n*dim)
	for id := range n {
		w := m.tok.Piece(id)
		switch {
		case w == "":
			w = fmt.Sprintf("[%d]", id)
		case seen[w]:
			w = fmt.Sprintf("%s#%d", w, id)
		}
		seen[w] = true
		words[id] = w
	}
	m.model.EmbeddingRows(0, n, data)
	return vectors.New(words, dim, data)
}
