package main

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
	"glassbox/vectors"
)

// frenchFile writes five French word vectors (roi's nearest is homme, then
// reine) as a word2vec file, text or binary.
func frenchFile(t *testing.T, name string, binary bool) string {
	t.Helper()
	v, err := vectors.New([]string{"roi", "reine", "homme", "femme", "été"}, 3,
		[]float32{1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, -1})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := v.WriteFile(p, binary); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseVectorSpec(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "a=b.txt")
	if err := os.WriteFile(odd, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in, name, path, err string
	}{
		{"vec.bin", "vec", "vec.bin", ""},
		{"/x/fr.vec.txt", "fr.vec", "/x/fr.vec.txt", ""},
		{"glove.6B", "glove.6B", "glove.6B", ""},
		{"fr=/x/v.bin", "fr", "/x/v.bin", ""},
		{odd, "a=b", odd, ""},
		{"", "", "", "empty --vectors value"},
		{"=v.bin", "", "", "expected NAME=FILE"},
		{"fr=", "", "", "expected NAME=FILE"},
	} {
		got, err := parseVectorSpec(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got.name != tt.name || got.path != tt.path {
			t.Errorf("%q: %+v %v, want %s=%s", tt.in, got, err, tt.name, tt.path)
		}
	}
}

// TestServeVectors: --vectors files are served by the vectors endpoints
// (text and binary, named or not); bad ones stop the server with the reason.
func TestServeVectors(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	text, bin := frenchFile(t, "fr.txt", false), frenchFile(t, "fr.bin", true)
	srv := startServe(t, "-m", model, "--vectors", text, "--vectors", "frb="+bin, "--addr", "127.0.0.1:0", "--ctx", "64")
	for _, body := range []string{`{"word":"roi","n":2}`, `{"vectors":"frb","word":"roi","n":2}`} {
		resp, err := http.Post(srv.base+"/glassbox/vectors/similar", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var a struct {
			Neighbors []vectors.Neighbor `json:"neighbors"`
		}
		json.Unmarshal(b, &a)
		if resp.StatusCode != 200 || len(a.Neighbors) != 2 || a.Neighbors[0].Word != "homme" || math.Abs(a.Neighbors[0].Cosine-math.Sqrt2/2) > 1e-6 ||
			a.Neighbors[1].Word != "reine" || math.Abs(a.Neighbors[1].Cosine-0.5) > 1e-6 {
			t.Errorf("%s: %d %s", body, resp.StatusCode, b)
		}
	}
	resp, err := http.Get(srv.base + "/glassbox/vectors")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `{"name":"fr","kind":"vectors","dim":3,"words":5},{"name":"frb","kind":"vectors","dim":3,"words":5},{"name":"stories260K-f32","kind":"model"`) {
		t.Errorf("list: %s", b)
	}
	srv.cancel()
	if err := <-srv.done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if !strings.Contains(srv.logs.String(), "loaded word vectors frb from "+bin+": 5 words of dimension 3") {
		t.Errorf("srv.logs:\n%s", srv.logs.String())
	}

	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("3 2\nroi 1 2\nreine 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"--vectors", "/nonexistent/v.bin"}, "--vectors v: open /nonexistent/v.bin"},
		{"corrupt", []string{"--vectors", bad}, "--vectors bad: " + bad + ": word2vec line 3"},
		{"same name", []string{"--vectors", "a=" + text, "--vectors", "a=" + bin}, `two word-vector sets are named "a"`},
		{"empty name", []string{"--vectors", "=" + text}, "expected NAME=FILE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-m", model, "--addr", "127.0.0.1:0", "--ctx", "64"}, tt.args...)
			_, _, err := execute(t, newServeCmd(), "", args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
