package vectors

import (
	"fmt"
	"math"
)

// TSNEOptions tunes TSNE; the zero value uses the usual settings.
type TSNEOptions struct {
	// Perplexity is the effective number of neighbours each word keeps
	// (30 when 0), lowered to (words − 1) / 3 for few words.
	Perplexity float64
	// Iterations of gradient descent (1000 when 0), the first 250 with the
	// affinities exaggerated 12 times.
	Iterations int
}

// TSNE places words on a plane with exact t-SNE (van der Maaten and Hinton
// 2008) over their unit vectors, so words near each other by cosine end up
// near each other on the picture; unlike PCA, distances between clusters
// mean little. It starts from the PCA layout of the unit vectors (scaled
// down) instead of random points, so the result is the same on every run
// without a seed. Every word must be in the vocabulary, repeated words count
// once, at most MaxProjectWords (the cost grows with the square of their
// number). Explained is left at zero: t-SNE's axes hold no variance share.
func (v *Vectors) TSNE(words []string, opts TSNEOptions) (*Projection, error) {
	if opts.Perplexity < 0 || math.IsNaN(opts.Perplexity) || opts.Perplexity > 1000 {
		return nil, fmt.Errorf("vectors: t-SNE perplexity %g, expected 1 to 1000 (or 0 for 30)", opts.Perplexity)
	}
	if opts.Iterations < 0 || opts.Iterations > 100000 {
		return nil, fmt.Errorf("vectors: %d t-SNE iterations, expected 1 to 100000 (or 0 for 1000)", opts.Iterations)
	}
	perp, iters := opts.Perplexity, opts.Iterations
	if perp == 0 {
		perp = 30
	}
	if iters == 0 {
		iters = 1000
	}
	// the unit vectors of the words, as a vectors set of their own
	seen := map[int]bool{}
	var ws []string
	var data []float32
	for _, w := range words {
		i, err := v.mustIndex(w)
		if err != nil {
			return nil, err
		}
		if !seen[i] {
			seen[i] = true
			ws = append(ws, w)
			data = append(data, v.Unit(i)...)
		}
	}
	n := len(ws)
	if n < 2 {
		return nil, fmt.Errorf("vectors: a projection needs at least two distinct words, got %d", n)
	}
	if n > MaxProjectWords {
		return nil, fmt.Errorf("vectors: %d words to project, at most %d", n, MaxProjectWords)
	}
	for _, x := range data {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("vectors: the vectors hold NaN or infinite values")
		}
	}
	u, err := New(ws, v.Dim, data)
	if err != nil {
		return nil, err
	}
	init, err := u.PCA(ws)
	if err != nil {
		return nil, err
	}
	perp = max(1, min(perp, float64(n-1)/3))

	// squared distances between the unit vectors
	d2 := make([]float64, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			var s float64
			a, b := u.Row(i), u.Row(j)
			for k := range a {
				t := float64(a[k]) - float64(b[k])
				s += t * t
			}
			d2[i*n+j], d2[j*n+i] = s, s
		}
	}
	p := affinities(d2, n, perp)

	// start: the PCA layout scaled to a standard deviation of 1e-4 on PC1
	y := make([]float64, 2*n)
	var ss float64
	for _, pt := range init.Points {
		ss += pt.X * pt.X
	}
	scale := 1.0
	if ss > 0 {
		scale = 1e-4 / math.Sqrt(ss/float64(n))
	}
	for i, pt := range init.Points {
		y[2*i], y[2*i+1] = pt.X*scale, pt.Y*scale
	}
	const exaggeration, exaggerated = 12.0, 250
	lr := max(float64(n)/exaggeration, 50)
	gains, step, grad := make([]float64, 2*n), make([]float64, 2*n), make([]float64, 2*n)
	for i := range gains {
		gains[i] = 1
	}
	num := make([]float64, n*n)
	for it := range iters {
		exag, momentum := 1.0, 0.8
		if it < exaggerated {
			exag, momentum = exaggeration, 0.5
		}
		var z float64
		for i := range n {
			for j := i + 1; j < n; j++ {
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				q := 1 / (1 + dx*dx + dy*dy)
				num[i*n+j], num[j*n+i] = q, q
				z += 2 * q
			}
		}
		for i := range n {
			var gx, gy float64
			for j := range n {
				if j == i {
					continue
				}
				q := num[i*n+j]
				f := (exag*p[i*n+j] - max(q/z, 1e-12)) * q
				gx += f * (y[2*i] - y[2*j])
				gy += f * (y[2*i+1] - y[2*j+1])
			}
			grad[2*i], grad[2*i+1] = 4*gx, 4*gy
		}
		for k := range y {
			if (grad[k] > 0) != (step[k] > 0) {
				gains[k] += 0.2
			} else {
				gains[k] = max(gains[k]*0.8, 0.01)
			}
			step[k] = momentum*step[k] - lr*gains[k]*grad[k]
			y[k] += step[k]
		}
		// keep the layout centered
		var mx, my float64
		for i := range n {
			mx += y[2*i]
			my += y[2*i+1]
		}
		mx, my = mx/float64(n), my/float64(n)
		for i := range n {
			y[2*i] -= mx
			y[2*i+1] -= my
		}
	}
	out := &Projection{Method: "tsne", Points: make([]Point, n)}
	for i, w := range ws {
		out.Points[i] = Point{Word: w, X: y[2*i], Y: y[2*i+1]}
	}
	return out, nil
}

// affinities returns t-SNE's symmetric input affinities: for each word a
// Gaussian over the others whose width gives the wanted perplexity (found
// by bisection), then p_ij = (p_j|i + p_i|j) / 2n.
func affinities(d2 []float64, n int, perp float64) []float64 {
	cond := make([]float64, n*n)
	target := math.Log(perp)
	row := make([]float64, n)
	for i := range n {
		beta, lo, hi := 1.0, 0.0, math.Inf(1)
		for range 100 {
			var sum, hsum float64
			for j := range n {
				row[j] = 0
				if j != i {
					row[j] = math.Exp(-beta * d2[i*n+j])
					sum += row[j]
					hsum += beta * d2[i*n+j] * row[j]
				}
			}
			if sum == 0 {
				sum = 1e-300
			}
			h := math.Log(sum) + hsum/sum // entropy of row i, in nats
			if math.Abs(h-target) < 1e-5 {
				break
			}
			if h > target { // too flat: narrow the Gaussian
				lo = beta
				if math.IsInf(hi, 1) {
					beta *= 2
				} else {
					beta = (beta + hi) / 2
				}
			} else {
				hi = beta
				beta = (beta + lo) / 2
			}
		}
		var sum float64
		for j := range n {
			sum += row[j]
		}
		for j := range n {
			if sum > 0 {
				cond[i*n+j] = row[j] / sum
			}
		}
	}
	p := make([]float64, n*n)
	for i := range n {
		for j := range n {
			if i != j {
				p[i*n+j] = max((cond[i*n+j]+cond[j*n+i])/(2*float64(n)), 1e-12)
			}
		}
	}
	return p
}
