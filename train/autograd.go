package train

import "math"

// Tensor is a row-major matrix of Rows×Cols values with a gradient of the
// same shape (nil until the backward pass needs it).
type Tensor[F Float] struct {
	Data, Grad []F
	Rows, Cols int
}

// newTensor allocates a zero Rows×Cols tensor with a gradient buffer.
func newTensor[F Float](rows, cols int) *Tensor[F] {
	return &Tensor[F]{Data: make([]F, rows*cols), Grad: make([]F, rows*cols), Rows: rows, Cols: cols}
}

// Tape records the backward functions of the ops run in a forward pass, to
// be replayed in reverse order (reverse-mode automatic differentiation).
// A Tape is used by one goroutine; Threads bounds the goroutines its matrix
// products may use (results do not depend on it).
type Tape[F Float] struct {
	back    []func()
	Threads int
	scratch []F
}

// Backward runs the recorded backward functions in reverse order and clears the tape.
func (t *Tape[F]) Backward() {
	for i := len(t.back) - 1; i >= 0; i-- {
		t.back[i]()
	}
	t.back = t.back[:0]
}

// Reset forgets the recorded ops without running them (for evaluation).
func (t *Tape[F]) Reset() { t.back = t.back[:0] }

func (t *Tape[F]) push(f func()) { t.back = append(t.back, f) }

// Embedding gathers rows ids of the table (vocab×dim) into a len(ids)×dim tensor.
func (t *Tape[F]) Embedding(table *Tensor[F], ids []int) *Tensor[F] {
	d := table.Cols
	out := newTensor[F](len(ids), d)
	for i, id := range ids {
		copy(out.Data[i*d:(i+1)*d], table.Data[id*d:(id+1)*d])
	}
	t.push(func() {
		for i, id := range ids {
			g := table.Grad[id*d : (id+1)*d]
			for j, v := range out.Grad[i*d : (i+1)*d] {
				g[j] += v
			}
		}
	})
	return out
}

// Linear computes x·Wᵀ for x (n×in) and a weight W (out×in), the GGUF layout.
func (t *Tape[F]) Linear(x, w *Tensor[F]) *Tensor[F] {
	n, in, outDim := x.Rows, x.Cols, w.Rows
	out := newTensor[F](n, outDim)
	matABt(out.Data, x.Data, w.Data, n, outDim, in, false, t.Threads)
	t.push(func() {
		// dx += dy·W ; dW += dyᵀ·x
		matAB(x.Grad, out.Grad, w.Data, n, in, outDim, true, t.Threads, &t.scratch)
		matAtB(w.Grad, out.Grad, x.Data, outDim, in, n, true, t.Threads, &t.scratch)
	})
	return out
}

// RMSNorm normalizes each row of x to unit root mean square and scales it by w.
func (t *Tape[F]) RMSNorm(x, w *Tensor[F], eps float64) *Tensor[F] {
	n, d := x.Rows, x.Cols
	out := newTensor[F](n, d)
	inv := make([]F, n)
	for i := 0; i < n; i++ {
		row := x.Data[i*d : (i+1)*d]
		var ss F
		for _, v := range row {
			ss += v * v
		}
		r := F(1 / math.Sqrt(float64(ss/F(d))+eps))
		inv[i] = r
		o := out.Data[i*d : (i+1)*d]
		for j, v := range row {
			o[j] = v * r * w.Data[j]
		}
	}
	t.push(func() {
		for i := 0; i < n; i++ {
			row := x.Data[i*d : (i+1)*d]
			g := out.Grad[i*d : (i+1)*d]
			r := inv[i]
			// y_j = w_j·x_j·r, r = (mean(x²)+eps)^-1/2
			// dx_j = r·w_j·g_j − x_j·r³/d·Σ_k g_k·w_k·x_k
			var dot F
			for j, v := range row {
				dot += g[j] * w.Data[j] * v
			}
			if w.Grad != nil { // nil: a frozen weight
				for j, v := range row {
					w.Grad[j] += g[j] * v * r
				}
			}
			c := dot * r * r * r / F(d)
			xg := x.Grad[i*d : (i+1)*d]
			for j, v := range row {
				xg[j] += r*w.Data[j]*g[j] - v*c
			}
		}
	})
	return out
}

// ropeTable holds cos and sin of position·θ_i for each position and pair i.
type ropeTable[F Float] struct {
	cos, sin []F
	half     int
}

// newRopeTable precomputes the rotations for n positions of heads of width hd
// with frequency base theta: θ_i = theta^(−2i/hd).
func newRopeTable[F Float](n, hd int, theta float64) *ropeTable[F] {
	half := hd / 2
	rt := &ropeTable[F]{cos: make([]F, n*half), sin: make([]F, n*half), half: half}
	for p := 0; p < n; p++ {
		for i := 0; i < half; i++ {
			// Computed in float32 like llama.cpp's ggml rope.
			freq := float32(math.Pow(theta, -2*float64(i)/float64(hd)))
			ang := float64(float32(p) * freq)
			rt.cos[p*half+i] = F(math.Cos(ang))
			rt.sin[p*half+i] = F(math.Sin(ang))
		}
	}
	return rt
}

// RoPE rotates adjacent pairs (x[2i], x[2i+1]) of every head of x (n×heads·hd)
// by the angle of row's position (row index) times θ_i: the "normal" GGML
// layout of the llama architecture.
func (t *Tape[F]) RoPE(x *Tensor[F], rt *ropeTable[F]) *Tensor[F] {
	n, w := x.Rows, x.Cols
	half := rt.half
	out := newTensor[F](n, w)
	rot := func(dst, src []F, sign F) {
		for p := 0; p < n; p++ {
			c := rt.cos[p*half : (p+1)*half]
			s := rt.sin[p*half : (p+1)*half]
			for h := 0; h < w; h += 2 * half {
				for i := 0; i < half; i++ {
					a, b := src[p*w+h+2*i], src[p*w+h+2*i+1]
					dst[p*w+h+2*i] += a*c[i] - sign*b*s[i]
					dst[p*w+h+2*i+1] += sign*a*s[i] + b*c[i]
				}
			}
		}
	}
	rot(out.Data, x.Data, 1)
	t.push(func() { rot(x.Grad, out.Grad, -1) })
	return out
}

// Attention is causal scaled dot-product attention with grouped-query heads:
// q is n×(heads·hd), k and v are n×(kvHeads·hd); query head h reads key/value
// head h/(heads/kvHeads).
func (t *Tape[F]) Attention(q, k, v *Tensor[F], heads, kvHeads int) *Tensor[F] {
	n := q.Rows
	hd := q.Cols / heads
	group := heads / kvHeads
	qw, kw := q.Cols, k.Cols
	scale := F(1 / math.Sqrt(float64(hd)))
	out := newTensor[F](n, qw)
	probs := make([]F, heads*n*n) // probs[h][i][j], j ≤ i
	for h := 0; h < heads; h++ {
		kh := h / group
		for i := 0; i < n; i++ {
			qi := q.Data[i*qw+h*hd : i*qw+h*hd+hd]
			pr := probs[(h*n+i)*n : (h*n+i)*n+i+1]
			mx := F(math.Inf(-1))
			for j := 0; j <= i; j++ {
				kj := k.Data[j*kw+kh*hd : j*kw+kh*hd+hd]
				var s F
				for d, x := range qi {
					s += x * kj[d]
				}
				s *= scale
				pr[j] = s
				mx = max(mx, s)
			}
			var sum F
			for j := range pr {
				e := F(math.Exp(float64(pr[j] - mx)))
				pr[j] = e
				sum += e
			}
			o := out.Data[i*qw+h*hd : i*qw+h*hd+hd]
			for j := range pr {
				pr[j] /= sum
				vj := v.Data[j*kw+kh*hd : j*kw+kh*hd+hd]
				p := pr[j]
				for d, x := range vj {
					o[d] += p * x
				}
			}
		}
	}
	t.push(func() {
		dp := make([]F, n)
		for h := 0; h < heads; h++ {
			kh := h / group
			for i := 0; i < n; i++ {
				pr := probs[(h*n+i)*n : (h*n+i)*n+i+1]
				g := out.Grad[i*qw+h*hd : i*qw+h*hd+hd]
				// dP_ij = g·v_j ; dv_j += P_ij·g
				var dot F
				for j := range pr {
					vj := v.Data[j*kw+kh*hd : j*kw+kh*hd+hd]
					vg := v.Grad[j*kw+kh*hd : j*kw+kh*hd+hd]
					var s F
					p := pr[j]
					for d, x := range g {
						s += x * vj[d]
						vg[d] += p * x
					}
					dp[j] = s
					dot += p * s
				}
				// dS_ij = P_ij (dP_ij − Σ_l P_il dP_il), scaled
				qi := q.Data[i*qw+h*hd : i*qw+h*hd+hd]
				qg := q.Grad[i*qw+h*hd : i*qw+h*hd+hd]
				for j := range pr {
					ds := pr[j] * (dp[j] - dot) * scale
					kj := k.Data[j*kw+kh*hd : j*kw+kh*hd+hd]
					kg := k.Grad[j*kw+kh*hd : j*kw+kh*hd+hd]
					for d := range qi {
						qg[d] += ds * kj[d]
						kg[d] += ds * qi[d]
					}
				}
			}
		}
	})
	return out
}

// SwiGLU computes silu(g)·u elementwise, silu(x) = x·σ(x).
func (t *Tape[F]) SwiGLU(g, u *Tensor[F]) *Tensor[F] {
	out := newTensor[F](g.Rows, g.Cols)
	sig := make([]F, len(g.Data))
	for i, x := range g.Data {
		s := F(1 / (1 + math.Exp(-float64(x))))
		sig[i] = s
		out.Data[i] = x * s * u.Data[i]
	}
	t.push(func() {
		for i, x := range g.Data {
			s := sig[i]
			dy := out.Grad[i]
			u.Grad[i] += dy * x * s
			g.Grad[i] += dy * u.Data[i] * s * (1 + x*(1-s))
		}
	})
	return out
}

// Add returns a+b (the residual connection).
func (t *Tape[F]) Add(a, b *Tensor[F]) *Tensor[F] {
	out := newTensor[F](a.Rows, a.Cols)
	for i := range out.Data {
		out.Data[i] = a.Data[i] + b.Data[i]
	}
	t.push(func() {
		for i, g := range out.Grad {
			a.Grad[i] += g
			b.Grad[i] += g
		}
	})
	return out
}

// CrossEntropy returns the summed negative log-likelihood of targets under
// softmax(logits) (one row per position; a negative target is skipped). The
// backward pass seeds the logits' gradient with scale·(softmax − onehot), so
// scale = 1/(number of targets in the step) yields the mean loss's gradient.
func (t *Tape[F]) CrossEntropy(logits *Tensor[F], targets []int, scale F) float64 {
	n, V := logits.Rows, logits.Cols
	probs := make([]F, n*V)
	var total float64
	for i := 0; i < n; i++ {
		row := logits.Data[i*V : (i+1)*V]
		pr := probs[i*V : (i+1)*V]
		mx := row[0]
		for _, x := range row {
			mx = max(mx, x)
		}
		var sum F
		for j, x := range row {
			e := F(math.Exp(float64(x - mx)))
			pr[j] = e
			sum += e
		}
		for j := range pr {
			pr[j] /= sum
		}
		if targets[i] >= 0 {
			total -= float64(row[targets[i]]-mx) - math.Log(float64(sum))
		}
	}
	t.push(func() {
		for i := 0; i < n; i++ {
			if targets[i] < 0 {
				continue
			}
			pr := probs[i*V : (i+1)*V]
			g := logits.Grad[i*V : (i+1)*V]
			for j, p := range pr {
				g[j] += scale * p
			}
			g[targets[i]] -= scale
		}
	})
	return total
}
