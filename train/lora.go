package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
)

// LoRAConfig says which weights get a low-rank adapter and how it is shaped
// and initialised (PEFT's LoraConfig: r, lora_alpha, target_modules).
type LoRAConfig struct {
	Rank  int     `json:"rank"`
	Alpha float64 `json:"alpha"`
	// Targets are GGUF weight names without the block prefix and ".weight"
	// (model.LoRATargets: attn_q, attn_k, attn_v, attn_output, ffn_gate,
	// ffn_up, ffn_down).
	Targets []string `json:"targets"`
}

// DefaultLoRATargets are the weights adapted when none are named: every
// linear weight of the blocks (PEFT's target_modules="all-linear", which
// QLoRA recommends and TRL's examples use).
var DefaultLoRATargets = model.LoRATargets

// Validate checks the rank, alpha and target names.
func (c LoRAConfig) Validate() error {
	if c.Rank < 1 || c.Rank > 4096 {
		return fmt.Errorf("train: LoRA rank must be in [1, 4096], got %d", c.Rank)
	}
	if !(c.Alpha > 0) || math.IsInf(c.Alpha, 0) {
		return fmt.Errorf("train: LoRA alpha must be positive, got %g", c.Alpha)
	}
	if len(c.Targets) == 0 {
		return fmt.Errorf("train: LoRA needs at least one target (known: %s)", strings.Join(model.LoRATargets, ", "))
	}
	seen := map[string]bool{}
	for _, t := range c.Targets {
		if !slices.Contains(model.LoRATargets, t) {
			return fmt.Errorf("train: unknown LoRA target %q (known: %s)", t, strings.Join(model.LoRATargets, ", "))
		}
		if seen[t] {
			return fmt.Errorf("train: LoRA target %q given twice", t)
		}
		seen[t] = true
	}
	return nil
}

// Scale is alpha/rank, the factor of B·A.
func (c LoRAConfig) Scale() float64 { return c.Alpha / float64(c.Rank) }

// The block's linear weights, in model.LoRATargets order.
const (
	slotQ = iota
	slotK
	slotV
	slotO
	slotGate
	slotUp
	slotDown
	numSlots
)

// frozenLinear is a weight matrix W (rows×cols, the GGUF layout) that is not
// trained: the forward pass multiplies by it and the backward pass carries
// the gradient through it to its input.
type frozenLinear[F Float] interface {
	dims() (rows, cols int)
	// mul sets out (n×rows) to x (n×cols)·Wᵀ.
	mul(out, x []F, n int)
	// mulT adds dy (n×rows)·W to dx (n×cols), with up to threads
	// goroutines; the result does not depend on threads.
	mulT(dx, dy []F, n, threads int)
	// row sets dst to row r of W (an embedding lookup).
	row(r int, dst []F)
}

// quantLinear is a frozen weight kept in its file's type (F32, F16, BF16,
// Q8_0, Q4_0, K-quants…): the forward pass uses the inference engine's
// product kernels (which convert the activations to the type's dot-product
// type, as llama.cpp does), the backward pass dequantizes one block range
// of a row at a time, so the weight is never held in F32.
type quantLinear struct{ m *tensor.Matrix }

func (q quantLinear) dims() (int, int) { return q.m.Rows, q.m.Cols }

func (q quantLinear) mul(out, x []float32, n int) {
	tensor.MatMul(out[:n*q.m.Rows], q.m, x[:n*q.m.Cols], n)
}

func (q quantLinear) row(r int, dst []float32) { q.m.Row(r, dst) }

// mulT splits the columns into ranges of whole blocks, one goroutine each;
// every dx element sums its terms in row order whatever the split.
func (q quantLinear) mulT(dx, dy []float32, n, threads int) {
	rows, cols := q.m.Rows, q.m.Cols
	bs := q.m.Type.BlockSize()
	blocks := cols / bs
	parts := max(1, min(threads, blocks))
	per := (blocks + parts - 1) / parts
	var wg sync.WaitGroup
	for lo := 0; lo < blocks; lo += per {
		hi := min(lo+per, blocks)
		wg.Add(1)
		go func(c0, c1 int) {
			defer wg.Done()
			w := make([]float32, c1-c0)
			for r := 0; r < rows; r++ {
				q.m.DequantizeCols(r, c0, c1, w)
				for i := 0; i < n; i++ {
					if g := dy[i*rows+r]; g != 0 {
						tensor.Axpy(dx[i*cols+c0:i*cols+c1], w, g)
					}
				}
			}
		}(lo*bs, hi*bs)
	}
	wg.Wait()
}

// denseLinear is a frozen weight held as values (the gradient checks'
// float64 base).
type denseLinear[F Float] struct {
	w          []F
	rows, cols int
}

func (d denseLinear[F]) dims() (int, int) { return d.rows, d.cols }

func (d denseLinear[F]) mul(out, x []F, n int) { matABt(out, x, d.w, n, d.rows, d.cols, false, 1) }

func (d denseLinear[F]) mulT(dx, dy []F, n, threads int) {
	var scratch []F
	matAB(dx, dy, d.w, n, d.cols, d.rows, true, threads, &scratch)
}

func (d denseLinear[F]) row(r int, dst []F) { copy(dst, d.w[r*d.cols:(r+1)*d.cols]) }

// Frozen computes x·Wᵀ for a frozen W (n×cols → n×rows); the backward pass
// adds the gradient of x only.
func (t *Tape[F]) Frozen(x *Tensor[F], w frozenLinear[F]) *Tensor[F] {
	rows, cols := w.dims()
	if x.Cols != cols {
		panic(fmt.Sprintf("train: Frozen: input of %d columns for a weight of %d", x.Cols, cols))
	}
	out := newTensor[F](x.Rows, rows)
	w.mul(out.Data, x.Data, x.Rows)
	t.push(func() { w.mulT(x.Grad, out.Grad, x.Rows, max(t.Threads, 1)) })
	return out
}

// AddScaled returns a + s·b.
func (t *Tape[F]) AddScaled(a, b *Tensor[F], s F) *Tensor[F] {
	out := newTensor[F](a.Rows, a.Cols)
	for i := range out.Data {
		out.Data[i] = a.Data[i] + s*b.Data[i]
	}
	t.push(func() {
		for i, g := range out.Grad {
			a.Grad[i] += g
			b.Grad[i] += s * g
		}
	})
	return out
}

// LoRA computes x·Wᵀ + scale·(x·Aᵀ)·Bᵀ: the frozen weight W (rows×cols)
// with a trained low-rank update, A (rank×cols) and B (rows×rank), summed
// in llama.cpp's order (the update scaled, then added to the product).
func (t *Tape[F]) LoRA(x *Tensor[F], w frozenLinear[F], a, b *Tensor[F], scale F) *Tensor[F] {
	y := t.Frozen(x, w)
	return t.AddScaled(y, t.Linear(t.Linear(x, a), b), scale)
}

// loraPair is the trained A and B of one adapted weight.
type loraPair[F Float] struct{ a, b *Tensor[F] }

// frozenBase is the part of a LoRA model that is not trained.
type frozenBase[F Float] struct {
	embed  frozenLinear[F] // token embeddings (vocab×dim), read by row
	output frozenLinear[F] // output projection (the embeddings when tied)
	scale  F               // alpha/rank
	lora   LoRAConfig
}

// layer weights of the frozen base, in slot order.
type frozenLayer[F Float] struct {
	w    [numSlots]frozenLinear[F]
	lora [numSlots]*loraPair[F]
}

// IsLoRA tells whether the model trains low-rank adapters over a frozen base.
func (m *Model[F]) IsLoRA() bool { return m.base != nil }

// LoRA returns the adapter settings of a LoRA model.
func (m *Model[F]) LoRA() LoRAConfig { return m.base.lora }

// NewLoRA returns a model that trains LoRA adapters over the frozen weights
// of em, which stay in their file's type (F32, F16, BF16, Q8_0, Q4_0,
// K-quants …) and are shared with em: em must stay open while the model is
// used. Its parameters are the adapters only, named
// "blk.N.TARGET.weight.lora_a" (A, rank×cols, PEFT's initialisation
// U(−1/√cols, 1/√cols), from the stream (seed, 2e9)) and ".lora_b" (B,
// rows×rank, zero), so the model starts as the base model exactly.
func NewLoRA(em *model.Model, c LoRAConfig, seed uint64) (*Model[float32], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	mc, err := ConfigFromEngine(&em.Config)
	if err != nil {
		return nil, err
	}
	if len(em.RopeFreqs) > 0 {
		return nil, fmt.Errorf("train: cannot fine-tune this model: it carries RoPE frequency factors (rope_freqs)")
	}
	if err := mc.Validate(); err != nil {
		return nil, err
	}
	m := &Model[float32]{Config: mc}
	m.base = &frozenBase[float32]{embed: quantLinear{em.TokenEmbedding}, output: quantLinear{em.Output}, scale: float32(c.Scale()), lora: c}
	if em.Output == nil {
		m.base.output = m.base.embed
	}
	vec := func(v []float32, n int, name string) (*Tensor[float32], error) {
		if len(v) != n {
			return nil, fmt.Errorf("train: %s has %d values, expected %d", name, len(v), n)
		}
		return &Tensor[float32]{Data: v, Rows: 1, Cols: n}, nil // no Grad: frozen
	}
	if m.norm, err = vec(em.OutputNorm, mc.Dim, model.NameOutputNorm); err != nil {
		return nil, err
	}
	rng := NewRNG(seed, 2_000_000_000)
	m.layers = make([]layerParams[float32], mc.Layers)
	m.frozen = make([]frozenLayer[float32], mc.Layers)
	for li := range em.Layers {
		el := &em.Layers[li]
		l := &m.layers[li]
		if l.attnNorm, err = vec(el.AttnNorm, mc.Dim, model.LayerName(li, model.NameAttnNorm)); err != nil {
			return nil, err
		}
		if l.ffnNorm, err = vec(el.FFNNorm, mc.Dim, model.LayerName(li, model.NameFFNNorm)); err != nil {
			return nil, err
		}
		mats := [numSlots]*tensor.Matrix{el.Wq, el.Wk, el.Wv, el.Wo, el.W1, el.W3, el.W2}
		fl := &m.frozen[li]
		for s, mat := range mats {
			if mat == nil {
				return nil, fmt.Errorf("train: block %d has no %s weight", li, model.LoRATargets[s])
			}
			fl.w[s] = quantLinear{mat}
			if !slices.Contains(c.Targets, model.LoRATargets[s]) {
				continue
			}
			name := model.LayerName(li, model.LoRATargets[s]+".weight")
			p := &loraPair[float32]{a: newTensor[float32](c.Rank, mat.Cols), b: newTensor[float32](mat.Rows, c.Rank)}
			bound := 1 / math.Sqrt(float64(mat.Cols))
			for i := range p.a.Data {
				p.a.Data[i] = float32((2*rng.Float64() - 1) * bound)
			}
			fl.lora[s] = p
			m.Params = append(m.Params,
				Param[float32]{Name: name + ".lora_a", T: p.a, Decay: true},
				Param[float32]{Name: name + ".lora_b", T: p.b, Decay: true})
		}
	}
	m.rope = newRopeTable[float32](mc.Context, mc.HeadDim(), mc.RopeTheta)
	return m, nil
}

// linear records the product of x with the slot's weight of block li: the
// trained weight, or the frozen one plus its adapter.
func (m *Model[F]) linear(tape *Tape[F], x *Tensor[F], li, slot int, w *Tensor[F]) *Tensor[F] {
	if m.base == nil {
		return tape.Linear(x, w)
	}
	fl := &m.frozen[li]
	if p := fl.lora[slot]; p != nil {
		return tape.LoRA(x, fl.w[slot], p.a, p.b, m.base.scale)
	}
	return tape.Frozen(x, fl.w[slot])
}

// frozenEmbedding gathers the rows ids of the frozen token embeddings.
func (m *Model[F]) frozenEmbedding(ids []int) *Tensor[F] {
	d := m.Config.Dim
	out := newTensor[F](len(ids), d)
	for i, id := range ids {
		m.base.embed.row(id, out.Data[i*d:(i+1)*d])
	}
	return out
}

// Adapter returns the trained adapters as a llama.cpp GGUF LoRA adapter of
// architecture arch (alpha: the config's), named name.
func (m *Model[F]) Adapter(arch, name string) (*model.LoRA, error) {
	if m.base == nil {
		return nil, fmt.Errorf("train: the model has no LoRA adapters")
	}
	a := &model.LoRA{Arch: arch, Name: name, Alpha: float32(m.base.lora.Alpha), Weights: map[string]*model.LoRAWeight{}}
	for li := range m.frozen {
		for s, p := range m.frozen[li].lora {
			if p == nil {
				continue
			}
			rows, cols := m.frozen[li].w[s].dims()
			w := &model.LoRAWeight{Rank: p.a.Rows, Rows: rows, Cols: cols, A: make([]float32, len(p.a.Data)), B: make([]float32, len(p.b.Data))}
			for i, v := range p.a.Data {
				w.A[i] = float32(v)
			}
			for i, v := range p.b.Data {
				w.B[i] = float32(v)
			}
			a.Weights[model.LayerName(li, model.LoRATargets[s]+".weight")] = w
		}
	}
	return a, nil
}

// peftNames maps PEFT's (Hugging Face) module names to the GGUF ones.
var peftNames = map[string]string{
	"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
	"gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
}

// ParseLoRATargets reads a comma-separated list of LoRA targets: GGUF
// names (attn_q, …), PEFT's module names (q_proj, k_proj, v_proj, o_proj,
// gate_proj, up_proj, down_proj) or "all-linear" (every one, the
// default when s is empty), returned as GGUF names in the blocks' order.
func ParseLoRATargets(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all-linear" {
		return slices.Clone(DefaultLoRATargets), nil
	}
	want := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		t := strings.TrimSpace(part)
		if g, ok := peftNames[t]; ok {
			t = g
		}
		if !slices.Contains(model.LoRATargets, t) {
			return nil, fmt.Errorf("unknown LoRA target %q (known: all-linear, %s, or PEFT's q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)", part, strings.Join(model.LoRATargets, ", "))
		}
		if want[t] {
			return nil, fmt.Errorf("LoRA target %q given twice", part)
		}
		want[t] = true
	}
	var out []string
	for _, t := range model.LoRATargets {
		if want[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// ExportLoRA writes the trained adapters of m as dir/name.lora.gguf in
// llama.cpp's GGUF LoRA format (architecture arch) and, for each format of
// formats ("f32", "f16"), the base model em (loaded from src) with the
// adapters merged in as dir/name.FORMAT.gguf. It returns the paths with
// their SHA-256 sums.
func ExportLoRA(dir, name string, m *Model[float32], em *model.Model, src *gguf.File, formats []string) (map[string]string, error) {
	ad, err := m.Adapter(em.Config.Arch, name)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	write := func(p string, data []byte) error {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		s := sha256.Sum256(data)
		sums[p] = hex.EncodeToString(s[:])
		return nil
	}
	var buf bytes.Buffer
	if err := model.WriteLoRA(&buf, ad); err != nil {
		return nil, err
	}
	if err := write(filepath.Join(dir, name+".lora.gguf"), buf.Bytes()); err != nil {
		return nil, err
	}
	if len(formats) == 0 {
		return sums, nil
	}
	if src == nil {
		return nil, fmt.Errorf("train: merging needs a GGUF base model")
	}
	tuned, err := em.WithLoRA([]model.AppliedLoRA{{Adapter: ad, Scale: 1}})
	if err != nil {
		return nil, err
	}
	for _, f := range formats {
		if f != "f32" && f != "f16" {
			return nil, fmt.Errorf("train: merged export format %q (f32 or f16)", f)
		}
		buf.Reset()
		if _, err := model.WriteMerged(&buf, src, tuned, model.MergeType(f), name); err != nil {
			return nil, err
		}
		if err := write(filepath.Join(dir, name+"."+f+".gguf"), buf.Bytes()); err != nil {
			return nil, err
		}
	}
	return sums, nil
}
