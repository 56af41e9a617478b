package vectors

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func mustNew(t *testing.T, words []string, dim int, data []float32) *Vectors {
	t.Helper()
	v, err := New(words, dim, data)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSymEigen: Jacobi's eigenpairs satisfy A·v = λ·v with orthonormal v.
func TestSymEigen(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 5, 17} {
		a := make([]float64, n*n)
		for i := range n {
			for j := i; j < n; j++ {
				x := r.NormFloat64()
				a[i*n+j], a[j*n+i] = x, x
			}
		}
		orig := append([]float64(nil), a...)
		vals, vecs := symEigen(a, n)
		for e := range n {
			for i := range n {
				var av float64
				for j := range n {
					av += orig[i*n+j] * vecs[j*n+e]
				}
				if d := av - vals[e]*vecs[i*n+e]; math.Abs(d) > 1e-9 {
					t.Fatalf("n=%d: (A·v%d)[%d] - λ·v = %g", n, e, i, d)
				}
			}
			for f := range n {
				var dot float64
				for i := range n {
					dot += vecs[i*n+e] * vecs[i*n+f]
				}
				want := 0.0
				if e == f {
					want = 1
				}
				if math.Abs(dot-want) > 1e-9 {
					t.Fatalf("n=%d: v%d·v%d = %g, want %g", n, e, f, dot, want)
				}
			}
		}
	}
}

// rotated places 2-D points in dim dimensions through a fixed random rotation
// (an orthonormal pair of directions), plus an offset, as word vectors.
func rotated(t *testing.T, pts [][2]float64, dim int) *Vectors {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	u, w := make([]float64, dim), make([]float64, dim)
	for j := range dim {
		u[j], w[j] = r.NormFloat64(), r.NormFloat64()
	}
	unit := func(a []float64) {
		var s float64
		for _, x := range a {
			s += x * x
		}
		for j := range a {
			a[j] /= math.Sqrt(s)
		}
	}
	unit(u)
	var d float64
	for j := range dim {
		d += u[j] * w[j]
	}
	for j := range dim {
		w[j] -= d * u[j]
	}
	unit(w)
	words := make([]string, len(pts))
	data := make([]float32, len(pts)*dim)
	for i, p := range pts {
		words[i] = fmt.Sprintf("w%d", i)
		for j := range dim {
			data[i*dim+j] = float32(5 + p[0]*u[j] + p[1]*w[j])
		}
	}
	return mustNew(t, words, dim, data)
}

// TestPCA: points with known principal axes come back at their places (up
// to the orientation rule), with the variance fractions, whether the Gram
// matrix (fewer words than dimensions) or the covariance is diagonalized.
func TestPCA(t *testing.T) {
	// centered, axes along x (variance 18+8) and y (variance 2)
	pts := [][2]float64{{3, 0}, {-3, 0}, {0, 1}, {0, -1}, {2, 0}, {-2, 0}}
	wantX := []float64{3, -3, 0, 0, 2, -2}
	wantY := []float64{0, 0, 1, -1, 0, 0}
	for _, dim := range []int{3, 4, 50} { // 3, 4: covariance; 50: Gram
		t.Run(fmt.Sprint("dim", dim), func(t *testing.T) {
			v := rotated(t, pts, dim)
			p, err := v.PCA(v.Words)
			if err != nil {
				t.Fatal(err)
			}
			if p.Method != "pca" || len(p.Points) != len(pts) {
				t.Fatalf("got %+v", p)
			}
			for i, pt := range p.Points {
				if pt.Word != v.Words[i] || math.Abs(pt.X-wantX[i]) > 1e-4 || math.Abs(math.Abs(pt.Y)-math.Abs(wantY[i])) > 1e-4 {
					t.Errorf("point %d = %+v, want (%g, ±%g)", i, pt, wantX[i], wantY[i])
				}
			}
			if math.Abs(p.Explained[0]-26.0/28) > 1e-6 || math.Abs(p.Explained[1]-2.0/28) > 1e-6 {
				t.Errorf("explained = %v, want [%g %g]", p.Explained, 26.0/28, 2.0/28)
			}
		})
	}
}

// TestPCAOrientation: the picture does not depend on the eigenvectors' sign:
// mirrored vectors give the same coordinates, and so does a second run.
func TestPCAOrientation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	words := []string{"a", "b", "c", "d", "e", "f", "g"}
	dim := 10
	data := make([]float32, len(words)*dim)
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	neg := make([]float32, len(data))
	for i, x := range data {
		neg[i] = -x
	}
	p1, err := mustNew(t, words, dim, data).PCA(words)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := mustNew(t, words, dim, neg).PCA(words)
	if err != nil {
		t.Fatal(err)
	}
	p3, _ := mustNew(t, words, dim, data).PCA(words)
	for i := range p1.Points {
		a, b, c := p1.Points[i], p2.Points[i], p3.Points[i]
		if math.Abs(a.X-b.X) > 1e-9 || math.Abs(a.Y-b.Y) > 1e-9 || a != c {
			t.Errorf("point %d: %+v, mirrored %+v, again %+v", i, a, b, c)
		}
	}
	if p1.Explained[0] < p1.Explained[1] || p1.Explained[0]+p1.Explained[1] > 1+1e-12 {
		t.Errorf("explained %v: PC1 first, sum at most 1", p1.Explained)
	}
}

// TestPCADegenerate: identical vectors, and points on a line, give zeros
// where there is no variance (no NaN); repeated words count once.
func TestPCADegenerate(t *testing.T) {
	same := mustNew(t, []string{"x", "y", "z"}, 2, []float32{1, 1, 1, 1, 1, 1})
	p, err := same.PCA([]string{"x", "y", "z", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Points) != 3 || p.Explained != [2]float64{} {
		t.Fatalf("got %+v", p)
	}
	for _, pt := range p.Points {
		if pt.X != 0 || pt.Y != 0 {
			t.Errorf("%+v: want the origin", pt)
		}
	}
	line := mustNew(t, []string{"x", "y", "z"}, 3, []float32{0, 0, 0, 1, 2, 2, 2, 4, 4})
	p, err = line.PCA(line.Words)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.Explained[0]-1) > 1e-12 || p.Explained[1] != 0 {
		t.Errorf("explained %v, want [1 0]", p.Explained)
	}
	for i, want := range []float64{3, 0, -3} {
		if pt := p.Points[i]; math.Abs(pt.X-want) > 1e-9 || pt.Y != 0 {
			t.Errorf("point %d = %+v, want (%g, 0)", i, pt, want)
		}
	}
}

// TestPCAErrors: unknown words, too few and too many words, non-finite values.
func TestPCAErrors(t *testing.T) {
	v := mustNew(t, []string{"a", "b"}, 2, []float32{1, 2, 3, 4})
	nan := mustNew(t, []string{"a", "b"}, 2, []float32{1, float32(math.NaN()), 3, 4})
	many := make([]string, MaxProjectWords+1)
	for i := range many {
		many[i] = fmt.Sprint("w", i)
	}
	big := mustNew(t, many, 1, make([]float32, len(many)))
	for _, tt := range []struct {
		name  string
		v     *Vectors
		words []string
		want  string
	}{
		{"unknown", v, []string{"a", "zz"}, `word "zz" is not in the vocabulary`},
		{"one", v, []string{"a", "a"}, "at least two distinct words, got 1"},
		{"none", v, nil, "got 0"},
		{"too many", big, many, "at most 500"},
		{"nan", nan, []string{"a", "b"}, "NaN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.v.PCA(tt.words)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.name == "unknown" && !errors.Is(err, ErrUnknownWord) {
				t.Error("not ErrUnknownWord")
			}
		})
	}
}
