package glassbox

import (
	"os"

	"glassbox/trace"
)

// ModelInfo describes an opened model: its architecture and size, its file,
// and the memory its generation sessions use. It is the one description of a
// model the SDK gives: the server's model page (GET /glassbox/models/{id})
// writes it as JSON with these names, and the "meta" event of every trace a
// Model emits is built from it (see TraceMeta).
type ModelInfo struct {
	Path          string         `json:"path"`          // the file the model was opened from (the name given to OpenBytes)
	Arch          string         `json:"arch"`          // architecture: llama, qwen2, qwen3, qwen3moe, …
	Params        int64          `json:"params"`        // distinct parameters: a stored copy of the embedding as output matrix and zero padding not counted
	ParamsStored  int64          `json:"params_stored"` // parameters as the file stores them, duplicates and padding included
	Layers        int            `json:"layers"`
	Heads         int            `json:"heads"`
	KVHeads       int            `json:"kv_heads"`
	Dim           int            `json:"dim"`
	HiddenDim     int            `json:"hidden_dim"` // feed-forward width (of one expert in a mixture of experts)
	HeadDim       int            `json:"head_dim"`
	Vocab         int            `json:"vocab"`
	Tokenizer     string         `json:"tokenizer"`      // llama (SentencePiece), gpt2 (byte-level BPE) or bert: how pieces spell text
	ContextLength int            `json:"context_length"` // the context the model was trained with
	Context       int            `json:"context"`        // positions available to a generation (Options.Context)
	FileType      string         `json:"file_type"`      // the weights' quantization, as GGUF's general.file_type names it
	TensorTypes   map[string]int `json:"tensor_types"`   // the file's tensors counted by element type
	FileBytes     int64          `json:"file_bytes"`     // size of the model file (0 when unknown)
	KVCache       string         `json:"kv_cache"`       // element type of the KV cache: F16 or F32 (of the values, and of the keys unless KVCacheK differs)
	KVCacheK      string         `json:"kv_cache_k"`     // element type of the keys: KVCache, Q8_0 or Q4_0 (Options.KeyCacheType)
	KVCacheBytes  int64          `json:"kv_cache_bytes"` // size of one session's KV cache (see Model.KVCacheBytes)
	ChatTemplate  string         `json:"chat_template"`  // the source of the chat template ("" if none)
	// LoRA lists the adapters applied to the weights (Options.LoRA).
	LoRA []trace.LoRA `json:"lora,omitempty"`
	// Experts and ExpertsUsed are a mixture of experts' experts per layer
	// and experts picked per token (absent for dense models).
	Experts     int `json:"experts,omitempty"`
	ExpertsUsed int `json:"experts_used,omitempty"`
	// AttnSoftcap and FinalSoftcap are the soft-capping of the attention
	// scores and of the logits (x becomes cap·tanh(x/cap): gemma2, gemma3
	// when its file sets it), absent for models that do not cap.
	AttnSoftcap  float32 `json:"attn_softcap,omitempty"`
	FinalSoftcap float32 `json:"final_softcap,omitempty"`
}

// Info describes the model. It reads the weights (to count distinct
// parameters, once), so it fails with ErrClosed once Close has begun.
func (m *Model) Info() (ModelInfo, error) {
	release, err := m.Acquire()
	if err != nil {
		return ModelInfo{}, err
	}
	defer release()
	return m.info(), nil
}

// info is Info for a caller that holds the model (Acquire).
func (m *Model) info() ModelInfo {
	c := &m.model.Config
	info := ModelInfo{
		Path: m.path, Arch: c.Arch, Params: m.model.DistinctParams(), ParamsStored: c.Params(),
		Layers: c.Layers, Heads: c.Heads, KVHeads: c.KVHeads, Dim: c.Dim, HiddenDim: c.HiddenDim, HeadDim: c.HeadDim,
		Vocab: c.VocabSize, Tokenizer: m.tok.Model(), ContextLength: c.ContextLength, Context: m.opts.Context,
		FileType: c.FileType, TensorTypes: map[string]int{}, KVCache: m.KVCacheType().String(), KVCacheK: m.KeyCacheType().String(), KVCacheBytes: m.KVCacheBytes(),
		ChatTemplate: m.tmplSrc, Experts: c.Experts, ExpertsUsed: c.ExpertsUsed,
		AttnSoftcap: c.AttnSoftcap, FinalSoftcap: c.FinalSoftcap,
	}
	info.LoRA = m.LoRA()
	if f := m.file; f != nil {
		for _, t := range f.Tensors {
			info.TensorTypes[t.Type.String()]++
			info.FileBytes = max(info.FileBytes, f.DataOffset+int64(t.Offset+t.Size()))
		}
		return info
	}
	// a llama2.c checkpoint stores every tensor in F32: the token embeddings,
	// nine per layer, the output norm, and the output matrix unless it is the
	// embeddings'
	n := 2 + 9*c.Layers
	if !c.TiedOutput {
		n++
	}
	info.TensorTypes["F32"] = n
	if st, err := os.Stat(m.path); err == nil {
		info.FileBytes = st.Size()
	}
	return info
}

// TraceMeta returns the meta event's description of the model: the model's
// facts from info, named name, with the layers and heads a trace covers.
func (info ModelInfo) TraceMeta(name string, tracedLayers, tracedHeads []int) TraceMeta {
	return trace.Meta{
		Version: trace.Version, Model: name, Arch: info.Arch, Params: info.Params, ParamsStored: info.ParamsStored,
		Layers: info.Layers, Heads: info.Heads, KVHeads: info.KVHeads, Dim: info.Dim, HiddenDim: info.HiddenDim,
		HeadDim: info.HeadDim, Vocab: info.Vocab, ContextLength: info.ContextLength, Context: info.Context,
		QuantType: info.FileType, Tokenizer: info.Tokenizer, KVCache: info.KVCache, LoRA: info.LoRA,
		TracedLayers: tracedLayers, TracedHeads: tracedHeads, Experts: info.Experts, ExpertsUsed: info.ExpertsUsed,
		AttnSoftcap: info.AttnSoftcap, FinalSoftcap: info.FinalSoftcap,
	}
}

// withInfo returns tracing whose meta event describes the model by its
// ModelInfo, so that the model page and every trace read the same facts; the
// engine's event supplies what only the run knows (the name, the session's
// positions and KV cache, the traced layers and heads). The caller holds the
// model (Acquire).
func (m *Model) withInfo(t *Tracing) *Tracing {
	if t == nil || t.Emit == nil {
		return t
	}
	info, emit := m.info(), t.Emit
	out := *t
	out.Emit = func(ev TraceEvent) error {
		if ev.Type == trace.TypeMeta && ev.Meta != nil {
			meta := info.TraceMeta(ev.Meta.Model, ev.Meta.TracedLayers, ev.Meta.TracedHeads)
			meta.Context, meta.KVCache, meta.KVCacheK = ev.Meta.Context, ev.Meta.KVCache, ev.Meta.KVCacheK
			ev.Meta = &meta
		}
		return emit(ev)
	}
	return &out
}
