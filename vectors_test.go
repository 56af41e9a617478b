package glassbox_test

import (
	"errors"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/vectors"
)

// The token embedding table as word vectors: one unique word per token, the
// values of the model's own rows (dequantized), and queries that run.
func TestTokenEmbeddings(t *testing.T) {
	for _, name := range []string{"stories260K-f32.gguf", "stories260K-h192-Q8_0.gguf"} {
		m, err := glassbox.Open(fixtures.Path(t, "gguf", name), &glassbox.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		v, err := m.TokenEmbeddings()
		if err != nil {
			t.Fatal(err)
		}
		if v.Len() != 512 || v.Dim != 64 {
			t.Fatalf("%s: %d words of dim %d, want 512 of 64", name, v.Len(), v.Dim)
		}
		tok := m.Tokenizer()
		id, ok := tok.TokenID("▁time")
		if !ok {
			t.Fatal("no ▁time token")
		}
		if got := v.Words[id]; got != "time" {
			t.Errorf("%s: token ▁time is the word %q, want \"time\"", name, got)
		}
		if w := v.Words[tok.BOS()]; w != "<s>" {
			t.Errorf("%s: BOS is the word %q, want its piece <s>", name, w)
		}
		dst := make([]float32, 64)
		m.Engine().EmbeddingRow(id, dst)
		for k, x := range v.Vector("time") {
			if x != dst[k] {
				t.Fatalf("%s: value %d of time = %v, model row has %v", name, k, x, dst[k])
			}
		}
		nb, err := v.Similar(vectors.Query{Positive: []string{"time"}})
		if err != nil || len(nb) != 10 {
			t.Errorf("%s: neighbours of time: %v, %v", name, nb, err)
		}
		if v.Index("▁time") != id {
			t.Errorf("%s: the piece ▁time finds row %d, want %d", name, v.Index("▁time"), id)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if v.Vector("time")[0] != dst[0] {
			t.Errorf("%s: the table changed after Close", name)
		}
		if _, err := m.TokenEmbeddings(); !errors.Is(err, glassbox.ErrClosed) {
			t.Errorf("%s: after Close: %v, want ErrClosed", name, err)
		}
	}
}
