package model

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"glassbox/tensor"
)

// Model is a loaded Llama-family transformer. The GGUF tensors each weight is
// bound to, and their shapes, are given by the layout (see TensorSpec).
type Model struct {
	Config Config

	TokenEmbedding *tensor.Matrix
	Layers         []Layer
	OutputNorm     []float32
	Output         *tensor.Matrix // the token embedding itself when the output is tied
	RopeFreqs      []float32      // llama3 RoPE frequency factors, when the file has them
	// LongRoPE frequency factors (phi3), when the file has them: a State
	// whose context exceeds Config.RopeOrigContext uses RopeLong, others
	// RopeShort (as llama.cpp chooses by its context size).
	RopeLong, RopeShort []float32
	// LoRA lists the adapters whose updates the products add (WithLoRA),
	// in order.
	LoRA []AppliedLoRA

	close func() error

	paramsOnce sync.Once // DistinctParams
	distinct   int64
}

// Layer is one transformer block: attention then feed-forward, each behind an
// RMS norm and a residual connection.
type Layer struct {
	AttnNorm []float32
	Wq       *tensor.Matrix
	Wk       *tensor.Matrix
	Wv       *tensor.Matrix
	Wo       *tensor.Matrix
	Bq       []float32 // attention biases (qwen2)
	Bk       []float32
	Bv       []float32
	QNorm    []float32 // per-head query and key norms (qwen3)
	KNorm    []float32
	FFNNorm  []float32
	W1       *tensor.Matrix // gate projection
	W2       *tensor.Matrix // down projection
	W3       *tensor.Matrix // up projection

	AttnPostNorm []float32 // norms of the attention and FFN outputs (gemma)
	FFNPostNorm  []float32

	// Mixture of experts (Config.Experts > 0) instead of W1, W2, W3: the
	// router (Experts rows of Dim) and every expert's gate, up and down
	// projections, views of the rows of the file's 3-D tensors.
	Router                     *tensor.Matrix
	GateExps, UpExps, DownExps []*tensor.Matrix

	// gpt-oss: the attention output bias, the heads' sink logits, the
	// router's bias and the experts' biases (Experts rows of HiddenDim for
	// gate and up, of Dim for down, row e for expert e).
	Bo, Sinks                              []float32
	RouterBias                             []float32
	GateExpsBias, UpExpsBias, DownExpsBias []float32
}

// Close releases the memory mapping behind the weights. The model must not be
// used afterwards.
func (m *Model) Close() error {
	if m == nil || m.close == nil {
		return nil
	}
	err := m.close()
	m.close = nil
	return err
}

// rawTensor is a tensor as stored in a file: its type, GGML dimensions (Dims[0]
// is the row length) and bytes.
type rawTensor struct {
	Type tensor.Type
	Dims []uint64
	Data []byte
}

// source gives the tensors of a file by name.
type source interface {
	tensor(name string) (rawTensor, bool, error)
}

// minReleasedTable is the smallest token-embedding table (bytes) whose
// pages an embedding lookup releases: two of the 2 MiB windows one release
// covers (tensor's faultAround).
const minReleasedTable = 4 << 20

// releaser is a source whose tensor data is a file mapping: release drops
// the pages of data from memory (they stay readable, from the file).
type releaser interface {
	release(data []byte) error
}

// bind fills the weights of m from src following the layout and checks every
// shape against the config.
func bind(m *Model, src source) error {
	c := &m.Config
	src = fusedSource{src: src, c: c}
	m.Layers = make([]Layer, c.Layers)
	// the matrices token generation streams get packed copies, all in one
	// arena (tensor.Arena: huge pages), once every tensor is bound and the
	// arena's size is known
	var packs []packing
	for _, r := range c.tensors(func(*TensorSpec) bool { return true }) {
		s := r.Spec
		raw, found, err := src.tensor(r.Name)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", r.Name, err)
		}
		var l *Layer
		if r.Layer >= 0 {
			l = &m.Layers[r.Layer]
		}
		if !found {
			if s.Alt != "" {
				// Bind the matrix already bound under the other name (tied output).
				if alt, ok := Spec(s.Alt); ok && alt.mat != nil && s.mat != nil && *alt.mat(m, l) != nil {
					*s.mat(m, l) = *alt.mat(m, l)
					continue
				}
			}
			if !s.carried(c) {
				continue
			}
			return fmt.Errorf("tensor %s is missing%s", r.Name, needs(s, c))
		}
		if s.Stacked {
			mats, err := bindExperts(raw, r)
			if err != nil {
				return fmt.Errorf("tensor %s: %w", r.Name, err)
			}
			for e, mat := range mats {
				packs = append(packs, packing{fmt.Sprintf("%s (expert %d)", r.Name, e), mat})
			}
			*s.mats(l) = mats
			continue
		}
		if err := checkShape(raw, r.Cols, r.Rows); err != nil {
			return fmt.Errorf("tensor %s: %w", r.Name, err)
		}
		if s.mat != nil {
			mat, err := tensor.NewMatrix(raw.Type, r.Rows, r.Cols, raw.Data)
			if err != nil {
				return fmt.Errorf("tensor %s: %w", r.Name, err)
			}
			// The embedding table is only looked up by rows, unless the
			// output shares it (packed below).
			if r.Name != NameTokenEmbd {
				packs = append(packs, packing{r.Name, mat})
			}
			*s.mat(m, l) = mat
			continue
		}
		vec := make([]float32, r.Cols*r.Rows)
		if err := tensor.Dequantize(raw.Type, raw.Data, vec); err != nil {
			return fmt.Errorf("tensor %s: %w", r.Name, err)
		}
		*s.vec(m, l) = vec
	}
	if m.Output == m.TokenEmbedding {
		c.TiedOutput = true
		packs = append(packs, packing{NameTokenEmbd, m.Output})
	}
	size := 0
	for _, p := range packs {
		size += p.mat.PackedBytes()
	}
	arena := tensor.NewArena(size)
	for _, p := range packs {
		if err := pack(p.mat, src, arena); err != nil {
			return fmt.Errorf("tensor %s: %w", p.name, err)
		}
	}
	// a lookup faults in the table's pages around its row; they are
	// dropped again so that the table read one row per token does not
	// become resident. A small table is left alone: it holds little
	// memory, and a release and the faults after it cost more per token
	// than its product does (8 % of the generation of a 10 M model with a
	// 3 MiB table, measured on an AMD EPYC)
	if rel, ok := src.(releaser); ok && m.TokenEmbedding != nil && len(m.TokenEmbedding.Data) >= minReleasedTable {
		m.TokenEmbedding.ReleaseRows(rel.release)
	}
	return nil
}

// packing is a matrix to pack once the weights are bound, and the name of
// its tensor.
type packing struct {
	name string
	mat  *tensor.Matrix
}

// bindExperts checks the shape of a stacked tensor (GGML dims [cols rows
// experts]) and returns one matrix per expert, each viewing its rows of raw.
func bindExperts(raw rawTensor, r TensorRef) ([]*tensor.Matrix, error) {
	rows := r.Rows / r.Experts
	if len(raw.Dims) != 3 || raw.Dims[0] != uint64(r.Cols) || raw.Dims[1] != uint64(rows) || raw.Dims[2] != uint64(r.Experts) {
		return nil, fmt.Errorf("shape %v, want [%d %d %d] (columns, rows, experts)", raw.Dims, r.Cols, rows, r.Experts)
	}
	if !tensor.Supported(raw.Type) {
		return nil, fmt.Errorf("tensor type %s is not supported", raw.Type)
	}
	rb, err := raw.Type.RowBytes(r.Cols)
	if err != nil {
		return nil, err
	}
	per := rows * rb
	if len(raw.Data) != r.Experts*per {
		return nil, fmt.Errorf("holds %d bytes, want %d", len(raw.Data), r.Experts*per)
	}
	mats := make([]*tensor.Matrix, r.Experts)
	for e := range mats {
		m, err := tensor.NewMatrix(raw.Type, rows, r.Cols, raw.Data[e*per:(e+1)*per])
		if err != nil {
			return nil, fmt.Errorf("expert %d: %w", e, err)
		}
		mats[e] = m
	}
	return mats, nil
}

// pack builds mat's packed copy for token generation (tensor.Matrix.Pack)
// in arena and, when src is a file mapping, drops the mapped pages the copy
// replaces, so that memory holds the weights once.
func pack(mat *tensor.Matrix, src source, arena *tensor.Arena) error {
	if mat == nil {
		return nil
	}
	rel, ok := src.(releaser)
	if !ok {
		_, err := mat.PackReleasing(arena, nil)
		return err
	}
	// each part of the mapping is dropped as soon as it is packed, then the
	// whole (pages straddling two parts)
	n, err := mat.PackReleasing(arena, rel.release)
	if err != nil || n == 0 {
		return err
	}
	return rel.release(mat.Data)
}

// needs explains why a missing tensor that only some architectures carry is
// required by this one.
func needs(s *TensorSpec, c *Config) string {
	if s.In == nil {
		return ""
	}
	return fmt.Sprintf(" (architecture %s needs it)", c.Arch)
}

func checkShape(raw rawTensor, cols, rows int) error {
	got := "["
	for i, d := range raw.Dims {
		if i > 0 {
			got += " "
		}
		got += strconv.FormatUint(d, 10)
	}
	got += "]"
	want := fmt.Sprintf("[%d %d]", cols, rows)
	if rows == 1 {
		want = fmt.Sprintf("[%d]", cols)
	}
	ok := len(raw.Dims) >= 1 && raw.Dims[0] == uint64(cols)
	if rows == 1 {
		for _, d := range raw.Dims[1:] {
			ok = ok && d == 1
		}
	} else {
		ok = ok && len(raw.Dims) >= 2 && raw.Dims[1] == uint64(rows)
		for _, d := range raw.Dims[2:] {
			ok = ok && d == 1
		}
	}
	if !ok {
		return fmt.Errorf("shape %s, want %s", got, want)
	}
	if !tensor.Supported(raw.Type) {
		return fmt.Errorf("tensor type %s is not supported", raw.Type)
	}
	return nil
}

// fusedSource presents the tensors of a file under the layout's names:
// gpt-oss's pre-FFN norm (post_attention_norm.weight in its files) as
// ffn_norm.weight, and the fused tensors as the layout's separate ones: attn_qkv.weight (when a file has it instead of attn_q/attn_k/attn_v)
// split into its query, key and value rows, and, when the config fuses the
// gate and up projections (phi3), ffn_up.weight split into its gate half
// (ffn_gate) and up half (ffn_up). The parts are views of the file's rows.
type fusedSource struct {
	src source
	c   *Config
}

func (s fusedSource) release(data []byte) error {
	if rel, ok := s.src.(releaser); ok {
		return rel.release(data)
	}
	return nil
}

func (s fusedSource) tensor(name string) (rawTensor, bool, error) {
	l, base, ok := splitLayerName(name)
	if !ok {
		return s.src.tensor(name)
	}
	c := s.c
	switch {
	case c.ffnNormIsPostAttn() && base == NameFFNNorm:
		return s.src.tensor(LayerName(l, NameAttnPost))
	case c.ffnNormIsPostAttn() && base == NameAttnPost:
		// the same tensor, bound as the pre-FFN norm
		return rawTensor{}, false, nil
	case base == NameAttnQ || base == NameAttnK || base == NameAttnV:
		fused := LayerName(l, NameAttnQKV)
		raw, found, err := s.src.tensor(fused)
		if err != nil {
			return rawTensor{}, true, fmt.Errorf("%s: %w", fused, err)
		}
		if !found {
			return s.src.tensor(name)
		}
		if _, hasBias, _ := s.src.tensor(LayerName(l, "attn_qkv.bias")); hasBias {
			return rawTensor{}, true, fmt.Errorf("%s: fused query/key/value biases (attn_qkv.bias) are not supported", name)
		}
		parts := []int{c.QDim(), c.KVDim(), c.VDim()}
		idx := map[string]int{NameAttnQ: 0, NameAttnK: 1, NameAttnV: 2}[base]
		return rowsOf(raw, fused, c.Dim, parts, idx)
	case c.FusedGateUp && (base == NameFFNGate || base == NameFFNUp):
		fused := LayerName(l, NameFFNUp)
		raw, found, err := s.src.tensor(fused)
		if err != nil || !found {
			return raw, found, err
		}
		idx := 0
		if base == NameFFNUp {
			idx = 1
		}
		return rowsOf(raw, fused+" (gate and up fused)", c.Dim, []int{c.HiddenDim, c.HiddenDim}, idx)
	}
	return s.src.tensor(name)
}

// rowsOf returns part idx of raw, a matrix of cols columns whose rows are
// the parts (of the given row counts) one after the other.
func rowsOf(raw rawTensor, name string, cols int, parts []int, idx int) (rawTensor, bool, error) {
	total := 0
	for _, n := range parts {
		total += n
	}
	if len(raw.Dims) < 2 || raw.Dims[0] != uint64(cols) || raw.Dims[1] != uint64(total) {
		return rawTensor{}, true, fmt.Errorf("%s has shape %v, want [%d %d]", name, raw.Dims, cols, total)
	}
	for _, d := range raw.Dims[2:] {
		if d != 1 {
			return rawTensor{}, true, fmt.Errorf("%s has shape %v, want [%d %d]", name, raw.Dims, cols, total)
		}
	}
	rb, err := raw.Type.RowBytes(cols)
	if err != nil {
		return rawTensor{}, true, fmt.Errorf("%s: %w", name, err)
	}
	if len(raw.Data) != total*rb {
		return rawTensor{}, true, fmt.Errorf("%s holds %d bytes, want %d", name, len(raw.Data), total*rb)
	}
	off := 0
	for _, n := range parts[:idx] {
		off += n
	}
	n := parts[idx]
	return rawTensor{Type: raw.Type, Dims: []uint64{uint64(cols), uint64(n)}, Data: raw.Data[off*rb : (off+n)*rb]}, true, nil
}

// splitLayerName splits "blk.N.name" into N and name.
func splitLayerName(s string) (int, string, bool) {
	rest, ok := strings.CutPrefix(s, "blk.")
	if !ok {
		return 0, "", false
	}
	num, name, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, "", false
	}
	l, err := strconv.Atoi(num)
	if err != nil || l < 0 {
		return 0, "", false
	}
	return l, name, true
}

// ffnNormIsPostAttn reports whether files store the pre-FFN norm
// (ffn_norm) as post_attention_norm.weight, as gpt-oss's do.
func (c *Config) ffnNormIsPostAttn() bool { return families[c.Arch].gptOSS }
