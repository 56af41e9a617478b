package glassbox_test

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/vectors"
)

// TestTokenEmbeddings: the token embedding table as word vectors holds the
// checkpoint's rows (read here straight from the llama2.c file, whose first
// tensor after the 28-byte header is the embedding), named by the pieces,
// and stays valid after Close; a closed model refuses.
func TestTokenEmbeddings(t *testing.T) {
	path := fixtures.Path(t, "llama2c", "stories260K.bin")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.Open(path, &glassbox.Options{Tokenizer: fixtures.Path(t, "llama2c", "tok512.bin")})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.TokenEmbeddings()
	if err != nil {
		t.Fatal(err)
	}
	if v.Len() != 512 || v.Dim != 64 {
		t.Fatalf("got %d words of dimension %d, want 512 of 64", v.Len(), v.Dim)
	}
	for _, id := range []int{0, 1, 300, 511} {
		if piece := m.Tokenizer().Piece(id); piece != "" && v.Words[id] != piece && v.Index(piece) != id {
			t.Errorf("word %d = %q, want the piece %q", id, v.Words[id], piece)
		}
		row := v.Row(id)
		for j := range 64 {
			want := math.Float32frombits(binary.LittleEndian.Uint32(raw[28+4*(id*64+j):]))
			if row[j] != want {
				t.Fatalf("row %d[%d] = %v, want %v (the file's)", id, j, row[j], want)
			}
		}
	}
	if _, err := v.Similar(vectors.Query{Positive: []string{v.Words[300]}, N: 5}); err != nil {
		t.Errorf("a query on the table: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if v.Row(511)[0] != math.Float32frombits(binary.LittleEndian.Uint32(raw[28+4*511*64:])) {
		t.Error("the table changed after Close: it must be a copy")
	}
	if _, err := m.TokenEmbeddings(); !errors.Is(err, glassbox.ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
}
