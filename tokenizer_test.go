package glassbox_test

import (
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// TestLoadTokenizer: a vocabulary read without the model — from a GGUF file
// held in memory, from a GGUF file on disk, from a llama2.c tokenizer.bin —
// encodes as the opened model's tokenizer does; input that is no vocabulary
// is an error.
func TestLoadTokenizer(t *testing.T) {
	const text = "Once upon a time, a cat said: \"Bonjour\"!"
	open := func(t *testing.T, path string, opts *glassbox.Options) *glassbox.Tokenizer {
		t.Helper()
		m, err := glassbox.Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m.Tokenizer()
	}
	embedded, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer embedded.Close()
	gguf := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	bin, tok := fixtures.Path(t, "llama2c", "stories260K.bin"), fixtures.Path(t, "llama2c", "tok512.bin")
	tests := []struct {
		name string
		load func() (*glassbox.Tokenizer, error)
		want *glassbox.Tokenizer
	}{
		{"embedded GGUF", func() (*glassbox.Tokenizer, error) { return glassbox.ParseTokenizer("embedded", models.Default) }, embedded.Tokenizer()},
		{"GGUF file", func() (*glassbox.Tokenizer, error) { return glassbox.LoadTokenizer(gguf) }, open(t, gguf, nil)},
		{"tokenizer.bin", func() (*glassbox.Tokenizer, error) { return glassbox.LoadTokenizer(tok) }, open(t, bin, &glassbox.Options{Tokenizer: tok})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			opts := glassbox.EncodeOptions{AddBOS: true}
			if got, want := tk.Encode(text, opts), tt.want.Encode(text, opts); !slices.Equal(got, want) || tk.VocabSize() != tt.want.VocabSize() {
				t.Errorf("ids %v (vocabulary %d), want the model's %v (vocabulary %d)", got, tk.VocabSize(), want, tt.want.VocabSize())
			}
		})
	}
	if _, err := glassbox.ParseTokenizer("junk", []byte("not a GGUF file")); err == nil || !strings.Contains(err.Error(), "junk") {
		t.Errorf("ParseTokenizer of junk: error %v, want one naming it", err)
	}
	if _, err := glassbox.LoadTokenizer(t.TempDir() + "/missing.json"); err == nil {
		t.Error("LoadTokenizer of a missing file: no error")
	}
}
