package synth

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"glassbox/model"
	"glassbox/tensor"
	"glassbox/tokenizer/bpe"
)

// ChatSpecials are the special tokens of WriteChat's vocabulary, in id order
// after the byte tokens and merges: Qwen's control tokens (<|im_end|> ends
// a turn and is the EOS) and its user-defined markers of tool calls and
// reasoning, which a reply spells as text.
var ChatSpecials = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<think>", "</think>"}

// chatMerges are the few merges of WriteChat's vocabulary.
var chatMerges = [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"\"", ":"}, {"n", "a"}, {"na", "m"}, {"nam", "e"}}

// WriteChat writes a small random-weight qwen2 GGUF chat model (dim 64,
// 2 layers, untied output so that its replies vary, seeded by seed) whose tokenizer is byte-level BPE (the 256 byte
// tokens, a few merges, then ChatSpecials) and whose chat template is
// template, for testing chat features (tool calls, reasoning) end to end
// without a downloaded model. Its replies are noise unless a grammar shapes
// them.
func WriteChat(out io.Writer, template string, seed uint64) error {
	var tokens []string
	var types []int32
	for b := range 256 {
		tokens = append(tokens, bpe.BytesToUnicode([]byte{byte(b)}))
		types = append(types, 1)
	}
	merges := make([]string, len(chatMerges))
	for i, m := range chatMerges {
		merges[i] = m[0] + " " + m[1]
		tokens = append(tokens, m[0]+m[1])
		types = append(types, 1)
	}
	eos := -1
	for _, s := range ChatSpecials {
		typ := int32(4) // user-defined: spelled in replies
		if s[1] == '|' {
			typ = 3 // control
		}
		if s == "<|im_end|>" {
			eos = len(tokens)
		}
		tokens = append(tokens, s)
		types = append(types, typ)
	}
	c := model.Config{
		Arch: "qwen2", VocabSize: len(tokens), Dim: 64, HiddenDim: 128, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 16, ValueDim: 16, RopeDim: 16, ContextLength: 2048, NormEps: 1e-6, RopeTheta: 1e6,
		RopeNeox: true, AttnBias: true,
	}
	stream := map[string]uint64{}
	for _, t := range c.Tensors() {
		stream[t.Name] = uint64(len(stream))
	}
	err := model.WriteGGUF(out, &c, model.WriteOptions{
		Type: tensor.F32,
		Name: "glassbox synthetic chat",
		Metadata: []model.KV{
			{Key: "tokenizer.ggml.model", Value: "gpt2"},
			{Key: "tokenizer.ggml.pre", Value: "qwen2"},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.merges", Value: merges},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(eos)},
			{Key: "tokenizer.ggml.padding_token_id", Value: uint32(256 + len(chatMerges))},
			{Key: "tokenizer.ggml.add_bos_token", Value: false},
			{Key: "tokenizer.chat_template", Value: template},
		},
		Weights: func(t model.TensorRef) ([]float32, error) {
			if strings.Contains(t.Name, "norm") {
				return ones(t.Rows * t.Cols), nil
			}
			return randomMatrix(rand.New(rand.NewPCG(seed, stream[t.Name])), t.Rows*t.Cols), nil
		},
	})
	if err != nil {
		return fmt.Errorf("synthetic chat model: %w", err)
	}
	return nil
}
