package model

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"glassbox/gguf"
	"glassbox/tensor"
)

// LoRA targets: the linear weights of a block that an adapter can update,
// by their GGUF names (PEFT's q_proj, k_proj, v_proj, o_proj, gate_proj,
// up_proj, down_proj).
var LoRATargets = []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}

// LoRA is a low-rank adapter in llama.cpp's GGUF format (general.type
// "adapter", adapter.type "lora", as convert_lora_to_gguf.py writes it):
// for each adapted weight W (rows×cols, GGUF name N) a pair of tensors
// N.lora_a (A: rank rows of cols values; GGML shape [cols, rank]) and
// N.lora_b (B: rows rows of rank values; GGML shape [rank, rows]). Applied
// with a user scale s, a product W·x becomes W·x + s·(alpha/rank)·B·(A·x)
// (s alone when alpha is 0), as llama.cpp's build_lora_mm computes it.
type LoRA struct {
	Arch  string  // general.architecture; must match the model's
	Name  string  // general.name (may be empty)
	Alpha float32 // adapter.lora.alpha (0: the scale is the user's alone)
	// Weights maps the adapted weight's file name ("blk.0.attn_q.weight")
	// to its pair, in F32.
	Weights map[string]*LoRAWeight
}

// LoRAWeight is the A and B of one adapted weight (see LoRA).
type LoRAWeight struct {
	A, B       []float32
	Rank       int
	Rows, Cols int // the adapted weight's shape: Rows outputs, Cols inputs
}

// Names returns the adapted weights' names, sorted.
func (a *LoRA) Names() []string {
	names := make([]string, 0, len(a.Weights))
	for n := range a.Weights {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Scale returns the factor applied to B·A for a user scale s: s·alpha/rank,
// or s when alpha is 0 (llama.cpp's llama_adapter_lora_weight::get_scale).
func (w *LoRAWeight) Scale(alpha, s float32) float32 {
	if alpha == 0 {
		return s
	}
	return s * alpha / float32(w.Rank)
}

// maxLoRARank bounds the rank of an adapter a file may declare.
const maxLoRARank = 1 << 16

// ReadLoRA reads a LoRA adapter from a parsed GGUF file, with the checks
// llama.cpp makes (general.type "adapter", adapter.type "lora", pairs
// complete, A and B of matching rank) plus finite values. The tensors may
// be of any type glassbox dequantizes (convert_lora_to_gguf.py writes F32,
// F16, BF16 or Q8_0); they are expanded to F32.
func ReadLoRA(f *gguf.File) (*LoRA, error) {
	typ, _ := f.String("general.type")
	if typ != "adapter" {
		return nil, fmt.Errorf("lora: general.type is %q, expected \"adapter\" (is this a model rather than an adapter?)", typ)
	}
	at, _ := f.String("adapter.type")
	if at != "lora" {
		return nil, fmt.Errorf("lora: adapter.type is %q, expected \"lora\"", at)
	}
	a := &LoRA{Arch: f.Architecture(), Weights: map[string]*LoRAWeight{}}
	if a.Arch == "" {
		return nil, fmt.Errorf("lora: the adapter has no general.architecture")
	}
	a.Name, _ = f.String("general.name")
	if kv, ok := f.Lookup("adapter.lora.alpha"); ok {
		v, ok := f.Float("adapter.lora.alpha")
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("lora: adapter.lora.alpha is %v (%s), expected a finite non-negative float32", kv.Value, kv.Type)
		}
		a.Alpha = float32(v)
	}
	type pair struct{ a, b *gguf.TensorInfo }
	pairs := map[string]*pair{}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		base, isA := strings.CutSuffix(ti.Name, ".lora_a")
		if !isA {
			var isB bool
			if base, isB = strings.CutSuffix(ti.Name, ".lora_b"); !isB {
				return nil, fmt.Errorf("lora: tensor %q is neither a .lora_a nor a .lora_b tensor", ti.Name)
			}
		}
		p := pairs[base]
		if p == nil {
			p = &pair{}
			pairs[base] = p
		}
		if isA {
			p.a = ti
		} else {
			p.b = ti
		}
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("lora: the adapter has no tensors")
	}
	for name, p := range pairs {
		switch {
		case p.a == nil:
			return nil, fmt.Errorf("lora: %s.lora_b has no %s.lora_a (the pair is incomplete)", name, name)
		case p.b == nil:
			return nil, fmt.Errorf("lora: %s.lora_a has no %s.lora_b (the pair is incomplete)", name, name)
		case len(p.a.Dims) != 2 || len(p.b.Dims) != 2:
			return nil, fmt.Errorf("lora: %s: lora_a has shape %v and lora_b %v, expected two dimensions each", name, p.a.Dims, p.b.Dims)
		case p.a.Dims[1] != p.b.Dims[0]:
			return nil, fmt.Errorf("lora: %s: lora_a has rank %d (shape %v) but lora_b %d (shape %v); lora_a must be [cols, rank] and lora_b [rank, rows]", name, p.a.Dims[1], p.a.Dims, p.b.Dims[0], p.b.Dims)
		case p.a.Dims[1] < 1 || p.a.Dims[1] > maxLoRARank:
			return nil, fmt.Errorf("lora: %s: rank %d out of range [1, %d]", name, p.a.Dims[1], maxLoRARank)
		case p.a.Dims[0] < 1 || p.b.Dims[1] < 1 || p.a.Dims[0] > math.MaxInt32 || p.b.Dims[1] > math.MaxInt32:
			return nil, fmt.Errorf("lora: %s: bad shape (lora_a %v, lora_b %v)", name, p.a.Dims, p.b.Dims)
		}
		w := &LoRAWeight{Rank: int(p.a.Dims[1]), Cols: int(p.a.Dims[0]), Rows: int(p.b.Dims[1])}
		var err error
		if w.A, err = loraValues(f, p.a); err != nil {
			return nil, err
		}
		if w.B, err = loraValues(f, p.b); err != nil {
			return nil, err
		}
		a.Weights[name] = w
	}
	return a, nil
}

// loraValues returns the values of one adapter tensor in F32.
func loraValues(f *gguf.File, ti *gguf.TensorInfo) ([]float32, error) {
	n := ti.Elements()
	if n == 0 || n > 1<<31 {
		return nil, fmt.Errorf("lora: tensor %s has %d elements", ti.Name, n)
	}
	data, err := f.TensorData(ti)
	if err != nil {
		return nil, fmt.Errorf("lora: tensor %s: %w", ti.Name, err)
	}
	out := make([]float32, n)
	if err := tensor.Dequantize(ti.Type, data, out); err != nil {
		return nil, fmt.Errorf("lora: tensor %s: %w", ti.Name, err)
	}
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("lora: tensor %s: value %d is %v", ti.Name, i, v)
		}
	}
	return out, nil
}

// AppliedLoRA is an adapter with its user scale (llama.cpp's --lora FILE is
// scale 1, --lora-scaled FILE S is S).
type AppliedLoRA struct {
	Adapter *LoRA
	Scale   float32
}

// loraMatrix returns the field of the model's matrix called name (a file
// name such as "blk.3.ffn_up.weight"), or an error naming what the adapter
// may target.
func (m *Model) loraMatrix(name string) (**tensor.Matrix, error) {
	l, short, ok := splitLayerName(name)
	targets := strings.Join(LoRATargets, ", ")
	if !ok {
		if name == NameOutput && !m.Config.TiedOutput {
			return &m.Output, nil
		}
		return nil, fmt.Errorf("lora: adapter tensor %q: glassbox applies adapters to the blocks' %s weights (and an untied output.weight)", name, targets)
	}
	base, _ := strings.CutSuffix(short, ".weight")
	supported := false
	for _, t := range LoRATargets {
		supported = supported || t == base
	}
	if !supported || short != base+".weight" {
		return nil, fmt.Errorf("lora: adapter tensor %q: glassbox applies adapters to the blocks' %s weights", name, targets)
	}
	if l >= len(m.Layers) {
		return nil, fmt.Errorf("lora: adapter tensor %q: the model has %d blocks (hint: maybe the wrong base model?)", name, len(m.Layers))
	}
	s, _ := Spec(short)
	p := s.mat(m, &m.Layers[l])
	if *p == nil {
		return nil, fmt.Errorf("lora: adapter tensor %q: the model has no such weight (hint: maybe the wrong base model?)", name)
	}
	return p, nil
}

// WithLoRA returns a model whose products with the adapted weights add
// every adapter's update (in the order given), sharing all weights with m:
// W·x + Σ scale·B·(A·x). It checks each adapter against the model as
// llama.cpp does (architecture, tensor names, shapes). The returned model
// takes over closing m's mapping (Close it instead of m; m stays usable
// until then).
func (m *Model) WithLoRA(adapters []AppliedLoRA) (*Model, error) {
	out := &Model{
		Config: m.Config, TokenEmbedding: m.TokenEmbedding, OutputNorm: m.OutputNorm, Output: m.Output,
		RopeFreqs: m.RopeFreqs, RopeLong: m.RopeLong, RopeShort: m.RopeShort,
		Layers: append([]Layer(nil), m.Layers...), LoRA: append(append([]AppliedLoRA(nil), m.LoRA...), adapters...),
	}
	for _, ap := range adapters {
		a := ap.Adapter
		if a.Arch != m.Config.Arch {
			return nil, fmt.Errorf("lora: the adapter is for architecture %q, the model is %q", a.Arch, m.Config.Arch)
		}
		if math.IsNaN(float64(ap.Scale)) || math.IsInf(float64(ap.Scale), 0) {
			return nil, fmt.Errorf("lora: scale %v is not finite", ap.Scale)
		}
		for _, name := range a.Names() {
			w := a.Weights[name]
			p, err := out.loraMatrix(name)
			if err != nil {
				return nil, err
			}
			if w.Rows != (*p).Rows || w.Cols != (*p).Cols {
				return nil, fmt.Errorf("lora: adapter tensor %q is for a %d×%d weight (lora_a [%d, %d], lora_b [%d, %d]), the model's is %d×%d (hint: maybe the wrong base model?)",
					name, w.Rows, w.Cols, w.Cols, w.Rank, w.Rank, w.Rows, (*p).Rows, (*p).Cols)
			}
			nm, err := (*p).WithUpdates(tensor.LowRank{A: w.A, B: w.B, Rank: w.Rank, Scale: w.Scale(a.Alpha, ap.Scale)})
			if err != nil {
				return nil, fmt.Errorf("lora: adapter tensor %q: %w", name, err)
			}
			*p = nm
		}
	}
	out.close, m.close = m.close, nil
	return out, nil
}

// MergeLoRA returns the weight W + Σ scale·B·A of the matrix w (all of its
// low-rank updates folded in) as rows×cols F32 values: W dequantized, then
// for each update in order, each element gets scale·Σ_k B[r,k]·A[k,c].
func MergeLoRA(w *tensor.Matrix) []float32 {
	out := make([]float32, w.Rows*w.Cols)
	for r := 0; r < w.Rows; r++ {
		w.Row(r, out[r*w.Cols:(r+1)*w.Cols])
	}
	for _, u := range w.Updates() {
		for r := 0; r < w.Rows; r++ {
			row := out[r*w.Cols : (r+1)*w.Cols]
			b := u.B[r*u.Rank : (r+1)*u.Rank]
			for c := range row {
				var s float32
				for k, v := range b {
					s += v * u.A[k*w.Cols+c]
				}
				row[c] += u.Scale * s
			}
		}
	}
	return out
}

// WriteLoRA writes the adapter as a GGUF file in llama.cpp's format:
// general.architecture, general.type "adapter", general.name (when set),
// adapter.type "lora", adapter.lora.alpha (F32), then for each weight in
// name order its lora_a (GGML shape [cols, rank]) and lora_b ([rank, rows])
// tensors in F32.
func WriteLoRA(out io.Writer, a *LoRA) error {
	w := gguf.NewWriter(0)
	kvs := []gguf.KV{
		{Key: "general.architecture", Type: gguf.TypeString, Value: a.Arch},
		{Key: "general.type", Type: gguf.TypeString, Value: "adapter"},
	}
	if a.Name != "" {
		kvs = append(kvs, gguf.KV{Key: "general.name", Type: gguf.TypeString, Value: a.Name})
	}
	kvs = append(kvs,
		gguf.KV{Key: "adapter.type", Type: gguf.TypeString, Value: "lora"},
		gguf.KV{Key: "adapter.lora.alpha", Type: gguf.TypeFloat32, Value: a.Alpha})
	for _, kv := range kvs {
		if err := w.AddKVTyped(kv); err != nil {
			return err
		}
	}
	for _, name := range a.Names() {
		lw := a.Weights[name]
		if len(lw.A) != lw.Rank*lw.Cols || len(lw.B) != lw.Rows*lw.Rank {
			return fmt.Errorf("lora: %s: A holds %d values and B %d, expected %d and %d", name, len(lw.A), len(lw.B), lw.Rank*lw.Cols, lw.Rows*lw.Rank)
		}
		if err := w.AddTensor(name+".lora_a", tensor.F32, []uint64{uint64(lw.Cols), uint64(lw.Rank)}, f32LE(lw.A)); err != nil {
			return err
		}
		if err := w.AddTensor(name+".lora_b", tensor.F32, []uint64{uint64(lw.Rank), uint64(lw.Rows)}, f32LE(lw.B)); err != nil {
			return err
		}
	}
	_, err := w.WriteTo(out)
	return err
}

// f32LE encodes values as little-endian F32 bytes.
func f32LE(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}
