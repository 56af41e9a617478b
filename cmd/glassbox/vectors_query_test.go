package main

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
	"glassbox/vectors"
)

// The gensim reference files of the vectors package.
const (
	gensimTxt  = "../../vectors/testdata/gensim.txt"
	gensimBin  = "../../vectors/testdata/gensim.bin"
	gensimJSON = "../../vectors/testdata/gensim.json"
)

func TestVectorsSimilarJSON(t *testing.T) {
	for _, file := range []string{gensimTxt, gensimBin} {
		out, _, err := execute(t, newVectorsCmd(), "", "similar", "--vectors", file, "-n", "3", "--json", "king")
		if err != nil {
			t.Fatal(err)
		}
		var nb []struct {
			Word   string  `json:"word"`
			Cosine float64 `json:"cosine"`
		}
		if err := json.Unmarshal([]byte(out), &nb); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		v, _ := vectors.ReadFile(gensimTxt)
		want, _ := v.Similar(vectors.Query{Positive: []string{"king"}, N: 3})
		if len(nb) != 3 || nb[0].Word != want[0].Word || nb[0].Cosine != want[0].Cosine {
			t.Errorf("%s: %v, want %v", file, nb, want)
		}
	}
}

func TestVectorsEvalJSON(t *testing.T) {
	out, _, err := execute(t, newVectorsCmd(), "", "eval", "--vectors", gensimTxt,
		"--analogies", "../../vectors/testdata/analogies.txt", "--similarity", "../../vectors/testdata/pairs.tsv", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Analogies struct {
			Accuracy       float64
			Correct, Total int
			Sections       []struct {
				Name           string
				Accuracy       float64
				Correct, Total int
			}
		}
		Similarity []struct {
			File              string
			Pearson, Spearman float64
			OOVRatio          float64 `json:"oov_ratio"`
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// gensim's answers (testdata/gensim.json, restrict_vocab 300000).
	var ref struct {
		Analogies []struct {
			Score    float64
			Sections []struct{ Correct, Incorrect int }
		}
		Pairs []struct {
			Spearman float64
			OOVRatio float64 `json:"oov_ratio"`
		}
	}
	b, _ := os.ReadFile(gensimJSON)
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	total := ref.Analogies[0].Sections[len(ref.Analogies[0].Sections)-1]
	if got.Analogies.Accuracy != ref.Analogies[0].Score || got.Analogies.Correct != total.Correct || got.Analogies.Total != total.Correct+total.Incorrect || len(got.Analogies.Sections) != 2 {
		t.Errorf("analogies %+v, gensim %+v", got.Analogies, ref.Analogies[0])
	}
	if len(got.Similarity) != 1 || !strings.HasSuffix(got.Similarity[0].File, "pairs.tsv") ||
		got.Similarity[0].Spearman-ref.Pairs[0].Spearman > 1e-9 || got.Similarity[0].OOVRatio-ref.Pairs[0].OOVRatio > 1e-9 {
		t.Errorf("similarity %+v, gensim %+v", got.Similarity, ref.Pairs[0])
	}
}

func TestVectorsCommands(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	tests := []struct {
		name    string
		args    []string
		want    string // in stdout
		wantErr string
		usage   bool
	}{
		{"table", []string{"similar", "--vectors", gensimTxt, "-n", "2", "king"}, "WORD    COSINE\n", "", false},
		{"negative", []string{"similar", "--vectors", gensimTxt, "--negative", "man", "king", "woman"}, "COSINE", "", false},
		{"analogy", []string{"analogy", "--vectors", gensimTxt, "--mul", "-n", "1", "man", "king", "woman"}, "3COSMUL", "", false},
		{"distance", []string{"distance", "--vectors", gensimTxt, "--json", "king", "queen"}, `"word2": "queen"`, "", false},
		{"doesnt-match", []string{"doesnt-match", "--vectors", gensimTxt, "walks", "talks", "sleeps", "france"}, "france\n", "", false},
		{"eval text", []string{"eval", "--vectors", gensimTxt, "--analogies", "../../vectors/testdata/analogies.txt"}, "capitals", "", false},
		{"model", []string{"similar", "-m", model, "-n", "3", "time"}, "▁day", "", false},
		{"model eval", []string{"eval", "-m", fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf"), "--similarity", "../../vectors/testdata/pairs.tsv"}, "pairs.tsv", "", false},
		{"model analogy", []string{"analogy", "-m", model, "he", "she", "day"}, "COSINE", "", false},
		{"unknown word", []string{"similar", "--vectors", gensimTxt, "unicorn"}, "", `word "unicorn" is not in the vocabulary`, false},
		{"no source", []string{"similar", "king"}, "", "needs --vectors FILE or -m MODEL", true},
		{"both sources", []string{"similar", "--vectors", gensimTxt, "-m", model, "king"}, "", "not both", true},
		{"analogy args", []string{"analogy", "--vectors", gensimTxt, "a", "b"}, "", "three words", true},
		{"eval nothing", []string{"eval", "--vectors", gensimTxt}, "", "needs --analogies FILE or --similarity FILE", true},
		{"bad -n", []string{"similar", "--vectors", gensimTxt, "-n", "0", "king"}, "", "from 1", true},
		{"corrupt file", []string{"similar", "--vectors", "../../vectors/testdata/pairs.tsv", "king"}, "", "word2vec header", false},
		{"missing file", []string{"similar", "--vectors", "nope.bin", "king"}, "", "no such file", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootCmd()
			out, _, err := execute(t, root, "", append([]string{"vectors"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				var ue *usageError
				if errors.As(err, &ue) != tt.usage {
					t.Errorf("usage error: %v, want %v", !tt.usage, tt.usage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output %q, want it to contain %q", out, tt.want)
			}
		})
	}
}
