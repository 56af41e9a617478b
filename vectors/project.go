package vectors

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MaxProjectWords bounds the words of one projection: PCA diagonalizes a
// matrix of side min(words, dimension), and a picture of more words is
// unreadable anyway.
const MaxProjectWords = 500

// Point is a word and its place on a 2-D projection.
type Point struct {
	Word string  `json:"word"`
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
}

// Projection is a set of words placed on a plane.
type Projection struct {
	// Method is how the points were placed: "pca".
	Method string `json:"method"`
	// Points are the words in the order asked, duplicates dropped.
	Points []Point `json:"points"`
	// Explained is the fraction of the words' variance along each axis
	// (PC1, PC2), between 0 and 1.
	Explained [2]float64 `json:"explained"`
}

// PCA projects the vectors of words onto their first two principal
// components: the vectors are centered on their mean, and the coordinates
// are their products with the two eigenvectors of largest eigenvalue of the
// covariance (computed exactly, by Jacobi rotations on the smaller of the
// covariance and the Gram matrix). Each axis is oriented so that its point
// of largest absolute coordinate is on the positive side, so the picture is
// the same from run to run and machine to machine (on near ties, the first
// such point in the order asked). Every word must be in
// the vocabulary; repeated words count once; at most MaxProjectWords.
func (v *Vectors) PCA(words []string) (*Projection, error) {
	var idx []int
	seen := map[int]bool{}
	for _, w := range words {
		i, err := v.mustIndex(w)
		if err != nil {
			return nil, err
		}
		if !seen[i] {
			seen[i] = true
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 {
		return nil, fmt.Errorf("vectors: a projection needs at least two distinct words, got %d", len(idx))
	}
	if len(idx) > MaxProjectWords {
		return nil, fmt.Errorf("vectors: %d words to project, at most %d", len(idx), MaxProjectWords)
	}
	k, d := len(idx), v.Dim
	// centered rows, in float64
	mean := make([]float64, d)
	for _, i := range idx {
		for j, x := range v.Row(i) {
			mean[j] += float64(x)
		}
	}
	for j := range mean {
		mean[j] /= float64(k)
	}
	x := make([]float64, k*d)
	for r, i := range idx {
		for j, val := range v.Row(i) {
			x[r*d+j] = float64(val) - mean[j]
		}
	}
	for _, val := range x {
		if math.IsNaN(val) || math.IsInf(val, 0) {
			return nil, errors.New("vectors: the vectors hold NaN or infinite values")
		}
	}
	coords := make([][2]float64, k)
	var lambda [2]float64
	if k <= d {
		// Gram matrix X·Xᵀ: its eigenvectors u give the coordinates sqrt(λ)·u
		g := make([]float64, k*k)
		for a := range k {
			for b := a; b < k; b++ {
				var s float64
				ra, rb := x[a*d:(a+1)*d], x[b*d:(b+1)*d]
				for j := range ra {
					s += ra[j] * rb[j]
				}
				g[a*k+b], g[b*k+a] = s, s
			}
		}
		vals, vecs := symEigen(g, k)
		top := topTwo(vals)
		for c, e := range top {
			lambda[c] = max(vals[e], 0)
			sv := math.Sqrt(lambda[c])
			for r := range k {
				coords[r][c] = sv * vecs[r*k+e]
			}
		}
	} else {
		// covariance Xᵀ·X: the coordinates are the products with its eigenvectors
		cv := make([]float64, d*d)
		for r := range k {
			row := x[r*d : (r+1)*d]
			for a := range d {
				if row[a] == 0 {
					continue
				}
				for b := a; b < d; b++ {
					cv[a*d+b] += row[a] * row[b]
				}
			}
		}
		for a := range d {
			for b := a + 1; b < d; b++ {
				cv[b*d+a] = cv[a*d+b]
			}
		}
		vals, vecs := symEigen(cv, d)
		top := topTwo(vals)
		for c, e := range top {
			lambda[c] = max(vals[e], 0)
			for r := range k {
				var s float64
				for j := range d {
					s += x[r*d+j] * vecs[j*d+e]
				}
				coords[r][c] = s
			}
		}
	}
	var total float64
	for _, val := range x {
		total += val * val
	}
	p := &Projection{Method: "pca", Points: make([]Point, k)}
	for c := range 2 {
		if total > 0 && lambda[c] > 0 {
			p.Explained[c] = min(lambda[c]/total, 1)
		}
		// orientation: the largest absolute coordinate is positive (the
		// first of those within rounding of the largest, as float32 input
		// leaves ties such as ±3 a few ulps apart)
		big := 0
		for r := range k {
			if math.Abs(coords[r][c]) > math.Abs(coords[big][c])*(1+1e-5) {
				big = r
			}
		}
		if coords[big][c] < 0 {
			for r := range k {
				coords[r][c] = -coords[r][c]
			}
		}
		if lambda[c] == 0 { // no variance on this axis: exactly zero, not rounding noise
			for r := range k {
				coords[r][c] = 0
			}
		}
	}
	for r, i := range idx {
		p.Points[r] = Point{Word: v.Words[i], X: coords[r][0] + 0, Y: coords[r][1] + 0}
	}
	return p, nil
}

// topTwo returns the indices of the two largest eigenvalues (the first
// index on ties).
func topTwo(vals []float64) [2]int {
	order := make([]int, len(vals))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case vals[a] > vals[b]:
			return -1
		case vals[a] < vals[b]:
			return 1
		}
		return 0
	})
	if len(order) == 1 {
		return [2]int{order[0], order[0]}
	}
	return [2]int{order[0], order[1]}
}

// symEigen diagonalizes the symmetric n×n matrix a (row-major, overwritten)
// by cyclic Jacobi rotations. It returns the eigenvalues and the
// eigenvectors as the columns of an n×n row-major matrix.
func symEigen(a []float64, n int) (vals, vecs []float64) {
	vecs = make([]float64, n*n)
	for i := range n {
		vecs[i*n+i] = 1
	}
	var norm float64
	for _, x := range a {
		norm += x * x
	}
	for sweep := 0; sweep < 100; sweep++ {
		var off float64
		for p := range n {
			for q := p + 1; q < n; q++ {
				off += a[p*n+q] * a[p*n+q]
			}
		}
		if off <= 1e-30*norm || off == 0 {
			break
		}
		for p := range n {
			for q := p + 1; q < n; q++ {
				apq := a[p*n+q]
				if apq == 0 || math.Abs(apq) < 1e-300 {
					continue
				}
				theta := (a[q*n+q] - a[p*n+p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range n { // columns p and q
					akp, akq := a[k*n+p], a[k*n+q]
					a[k*n+p], a[k*n+q] = c*akp-s*akq, s*akp+c*akq
				}
				for k := range n { // rows p and q
					apk, aqk := a[p*n+k], a[q*n+k]
					a[p*n+k], a[q*n+k] = c*apk-s*aqk, s*apk+c*aqk
				}
				a[p*n+q], a[q*n+p] = 0, 0
				for k := range n {
					vkp, vkq := vecs[k*n+p], vecs[k*n+q]
					vecs[k*n+p], vecs[k*n+q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	vals = make([]float64, n)
	for i := range n {
		vals[i] = a[i*n+i]
	}
	return vals, vecs
}
