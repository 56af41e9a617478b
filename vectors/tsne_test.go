package vectors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// clusters makes k groups of m words around k random directions.
func clusters(t *testing.T, k, m, dim int) *Vectors {
	r := rand.New(rand.NewPCG(7, 8))
	var words []string
	var data []float32
	for c := range k {
		center := make([]float64, dim)
		for j := range center {
			center[j] = r.NormFloat64()
		}
		for i := range m {
			words = append(words, fmt.Sprintf("c%dw%d", c, i))
			for j := range dim {
				data = append(data, float32(center[j]+0.15*r.NormFloat64()))
			}
		}
	}
	return mustNew(t, words, dim, data)
}

// TestTSNE: words of the same cluster end up next to each other, every
// point's nearest point on the plane is of its own cluster, and the layout
// is the same on a second run.
func TestTSNE(t *testing.T) {
	// eight clusters in 20 dimensions: two principal components cannot
	// keep them apart, t-SNE does
	v := clusters(t, 8, 8, 20)
	p, err := v.TSNE(v.Words, TSNEOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Method != "tsne" || len(p.Points) != 64 || p.Explained != [2]float64{} {
		t.Fatalf("got method %s, %d points, explained %v", p.Method, len(p.Points), p.Explained)
	}
	// strangers counts the points whose nearest point on the plane is of another cluster
	strangers := func(p *Projection) int {
		n := 0
		for i, a := range p.Points {
			if math.IsNaN(a.X) || math.IsNaN(a.Y) {
				t.Fatalf("point %d is NaN", i)
			}
			best, bd := -1, math.Inf(1)
			for j, b := range p.Points {
				if d := math.Hypot(a.X-b.X, a.Y-b.Y); j != i && d < bd {
					best, bd = j, d
				}
			}
			if a.Word[:2] != p.Points[best].Word[:2] {
				n++
			}
		}
		return n
	}
	if n := strangers(p); n != 0 {
		t.Errorf("t-SNE: %d of 64 points have a nearest point of another cluster", n)
	}
	pca, err := v.PCA(v.Words)
	if err != nil {
		t.Fatal(err)
	}
	if n := strangers(pca); n == 0 {
		t.Error("PCA keeps these clusters apart too: the data does not test what t-SNE adds")
	}
	again, _ := v.TSNE(v.Words, TSNEOptions{})
	for i := range p.Points {
		if p.Points[i] != again.Points[i] {
			t.Fatalf("second run: point %d = %+v, first %+v", i, again.Points[i], p.Points[i])
		}
	}
}

// TestTSNEErrors: bad options and words.
func TestTSNEErrors(t *testing.T) {
	v := mustNew(t, []string{"a", "b", "c"}, 2, []float32{1, 0, 0, 1, 1, 1})
	for _, tt := range []struct {
		name  string
		words []string
		opts  TSNEOptions
		want  string
	}{
		{"perplexity", []string{"a", "b"}, TSNEOptions{Perplexity: -1}, "perplexity -1"},
		{"iterations", []string{"a", "b"}, TSNEOptions{Iterations: -5}, "-5 t-SNE iterations"},
		{"unknown", []string{"a", "x"}, TSNEOptions{}, `"x" is not in the vocabulary`},
		{"one", []string{"a", "a"}, TSNEOptions{}, "at least two distinct words"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.TSNE(tt.words, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// few words: the perplexity is lowered and the layout stays finite
	p, err := v.TSNE([]string{"a", "b", "c"}, TSNEOptions{Iterations: 300})
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range p.Points {
		if math.IsNaN(pt.X) || math.IsInf(pt.X, 0) || math.IsNaN(pt.Y) || math.IsInf(pt.Y, 0) {
			t.Errorf("point %+v is not finite", pt)
		}
	}
}
