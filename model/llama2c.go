package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"glassbox/internal/mmap"
	"glassbox/tensor"
)

// llama2.c checkpoint layouts.
const (
	llama2cMagic      = 0x616b3432 // "ak42" read as a little-endian uint32
	llama2cV1Header   = 256
	llama2cLegacyHead = 7 * 4
)

// LoadLlama2C maps a llama2.c checkpoint: either the legacy format (a header
// of seven int32 — dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
// seq_len — where a negative vocab_size means the classifier is not shared with
// the embedding), or the version-1 export (magic "ak42", a 256-byte header).
// Weights are F32 and used in place, without copying.
func LoadLlama2C(path string) (*Model, error) {
	mp, err := mmap.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := parseLlama2C(mp.Data)
	if err != nil {
		mp.Close()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	m.close = mp.Close
	return m, nil
}

// NotLlama2CError is the error of LoadLlama2C for a file that cannot be a
// llama2.c checkpoint at all (too short for the header, or a header no model
// has), as opposed to a damaged or truncated one. Detail says what was found.
type NotLlama2CError struct {
	Detail string
}

func (e *NotLlama2CError) Error() string { return "not a llama2.c checkpoint: " + e.Detail }

// IsNotLlama2C reports whether err says a file is not a llama2.c checkpoint.
func IsNotLlama2C(err error) bool {
	var e *NotLlama2CError
	return errors.As(err, &e)
}

// Bounds of a plausible legacy llama2.c header: real checkpoints range from
// stories260K (dim 64) to Llama 2 70B (dim 8192, 80 layers, vocab 32000).
const (
	llama2cMaxDim    = 1 << 16
	llama2cMaxHidden = 1 << 18
	llama2cMaxLayers = 1024
	llama2cMaxHeads  = 1024
	llama2cMaxVocab  = 1 << 22
	llama2cMaxSeq    = 1 << 22
)

// checkLegacyHeader returns a NotLlama2CError when the seven header ints
// cannot describe a model, nil otherwise.
func checkLegacyHeader(hdr [7]int32) error {
	vocab := int64(hdr[5])
	if vocab < 0 {
		vocab = -vocab
	}
	in := func(v, hi int64) bool { return v >= 1 && v <= hi }
	if in(int64(hdr[0]), llama2cMaxDim) && in(int64(hdr[1]), llama2cMaxHidden) && in(int64(hdr[2]), llama2cMaxLayers) &&
		in(int64(hdr[3]), llama2cMaxHeads) && in(int64(hdr[4]), int64(hdr[3])) && in(vocab, llama2cMaxVocab) && in(int64(hdr[6]), llama2cMaxSeq) {
		return nil
	}
	return &NotLlama2CError{Detail: fmt.Sprintf("read as its header, the first 28 bytes give dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d: "+
		"no model has that shape; stories260K's header is 64, 172, 5, 8, 4, 512, 512",
		hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5], hdr[6])}
}

func parseLlama2C(data []byte) (*Model, error) {
	if len(data) < llama2cLegacyHead {
		return nil, &NotLlama2CError{Detail: fmt.Sprintf("the file has %d bytes, fewer than the %d of a llama2.c header", len(data), llama2cLegacyHead)}
	}
	le := binary.LittleEndian
	var hdr [7]int32
	var shared bool
	off := 0
	version := 0
	if le.Uint32(data) == llama2cMagic {
		if len(data) < llama2cV1Header {
			return nil, fmt.Errorf("llama2.c checkpoint: version header needs %d bytes, file has %d", llama2cV1Header, len(data))
		}
		version = int(int32(le.Uint32(data[4:])))
		if version != 1 {
			return nil, fmt.Errorf("llama2.c checkpoint: version %d is not supported (want 1: fp32 export)", version)
		}
		for i := range hdr {
			hdr[i] = int32(le.Uint32(data[8+4*i:]))
		}
		shared = data[8+7*4] != 0
		off = llama2cV1Header
	} else {
		for i := range hdr {
			hdr[i] = int32(le.Uint32(data[4*i:]))
		}
		if err := checkLegacyHeader(hdr); err != nil {
			return nil, err
		}
		shared = hdr[5] > 0
		if hdr[5] < 0 {
			hdr[5] = -hdr[5]
		}
		off = llama2cLegacyHead
	}
	dim, hidden, layers, heads, kvHeads, vocab, seqLen := int(hdr[0]), int(hdr[1]), int(hdr[2]), int(hdr[3]), int(hdr[4]), int(hdr[5]), int(hdr[6])
	if heads <= 0 || dim%max(heads, 1) != 0 {
		return nil, fmt.Errorf("llama2.c checkpoint: dim %d is not a multiple of the head count %d", dim, heads)
	}
	headDim := dim / heads
	c := Config{
		Arch: "llama", Name: "llama2.c", VocabSize: vocab, Dim: dim, HiddenDim: hidden, Layers: layers,
		Heads: heads, KVHeads: kvHeads, HeadDim: headDim, ValueDim: headDim, RopeDim: headDim,
		ContextLength: seqLen, NormEps: 1e-5, RopeTheta: 10000, TiedOutput: shared, FileType: "F32",
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("llama2.c checkpoint header: %w", err)
	}

	// The tensors in file order: llama2.c's fields by their GGUF names, with
	// the layout's shapes, and the RoPE tables llama2.c stores (skipped).
	type part struct {
		name       string
		cols, rows int
		perLayer   bool
	}
	parts := func(names ...string) []part {
		ps := make([]part, len(names))
		for i, n := range names {
			s, _ := Spec(n)
			ps[i].name, ps[i].perLayer = n, s.PerLayer
			ps[i].cols, ps[i].rows = s.Shape(&c)
		}
		return ps
	}
	var order []part
	if version == 0 {
		order = parts(NameTokenEmbd, NameAttnNorm, NameAttnQ, NameAttnK, NameAttnV, NameAttnOutput,
			NameFFNNorm, NameFFNGate, NameFFNDown, NameFFNUp, NameOutputNorm)
		order = append(order, part{"freq_cis_real", headDim / 2, seqLen, false}, part{"freq_cis_imag", headDim / 2, seqLen, false})
	} else {
		order = parts(NameAttnNorm, NameFFNNorm, NameOutputNorm, NameTokenEmbd, NameAttnQ, NameAttnK, NameAttnV, NameAttnOutput,
			NameFFNGate, NameFFNDown, NameFFNUp)
	}
	if !shared {
		order = append(order, parts(NameOutput)...)
	}

	src := mapSource{}
	for _, p := range order {
		n := 1
		if p.perLayer {
			n = layers
		}
		for l := range n {
			size := p.cols * p.rows * 4
			if off+size > len(data) || off+size < off {
				return nil, fmt.Errorf("llama2.c checkpoint: file of %d bytes ends inside tensor %s (needs %d bytes from offset %d)", len(data), p.name, size, off)
			}
			name := p.name
			if p.perLayer {
				name = LayerName(l, p.name)
			}
			dims := []uint64{uint64(p.cols)}
			if p.rows > 1 {
				dims = append(dims, uint64(p.rows))
			}
			if !strings.HasPrefix(name, "freq_cis") {
				src[name] = rawTensor{Type: tensor.F32, Dims: dims, Data: data[off : off+size]}
			}
			off += size
		}
	}
	if off != len(data) {
		return nil, fmt.Errorf("llama2.c checkpoint: %d bytes left after the last tensor (header says dim %d, hidden %d, layers %d, heads %d/%d, vocab %d, seq %d)",
			len(data)-off, dim, hidden, layers, heads, kvHeads, vocab, seqLen)
	}
	m := &Model{Config: c}
	if err := bind(m, src); err != nil {
		return nil, err
	}
	return m, nil
}

// mapSource serves tensors from a map.
type mapSource map[string]rawTensor

func (s mapSource) tensor(name string) (rawTensor, bool, error) {
	t, ok := s[name]
	return t, ok, nil
}
