package glassbox_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

// TestReadConfig: a file's hyper-parameters without its weights, equal to
// those of the opened model, for GGUF and both llama2.c layouts (no tokenizer
// needed); a file of neither format is an error saying so.
func TestReadConfig(t *testing.T) {
	tok := fixtures.Path(t, "llama2c", "tok512.bin")
	for _, path := range []string{
		fixtures.Path(t, "gguf", "stories260K-f32.gguf"),
		fixtures.Path(t, "llama2c", "stories260K.bin"),
		fixtures.Path(t, "llama2c", "stories260K_v1.bin"),
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got, err := glassbox.ReadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := glassbox.Open(path, &glassbox.Options{Tokenizer: tok})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if want := m.Config(); !reflect.DeepEqual(got, want) {
				t.Errorf("ReadConfig = %+v\nthe opened model's = %+v", got, want)
			}
		})
	}
	dir := t.TempDir()
	for _, tt := range []struct{ name, data, want string }{
		{"notes.txt", "hello, this is text and not a model at all, really", "neither a GGUF file"},
		{"short.bin", "GG", "too short"},
	} {
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, []byte(tt.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := glassbox.ReadConfig(p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}
