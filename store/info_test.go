package store

import (
	"os"
	"testing"

	"glassbox/internal/fixtures"
)

// TestInspectBytes: the metadata of a GGUF file held in memory are those of
// the same file on disk (but the path), and bytes that are not GGUF are an
// error.
func TestInspectBytes(t *testing.T) {
	for _, name := range []string{"stories260K-f32.gguf", "stories260K-Q4_K_M.gguf"} {
		t.Run(name, func(t *testing.T) {
			path := fixtures.Path(t, "gguf", name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Inspect(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := InspectBytes(data)
			if err != nil {
				t.Fatal(err)
			}
			if got.Path != "" || got.Size != int64(len(data)) || got.Parameters == 0 {
				t.Errorf("InspectBytes: %+v", got)
			}
			got.Path = want.Path
			if *got != *want {
				t.Errorf("InspectBytes %+v, Inspect %+v", got, want)
			}
		})
	}
	for _, bad := range [][]byte{nil, []byte("GGUF"), []byte("not a model at all")} {
		if _, err := InspectBytes(bad); err == nil {
			t.Errorf("InspectBytes(%q) succeeded", bad)
		}
	}
}
