package tokenizer

import (
	"fmt"
	"slices"
	"strings"

	"glassbox/gguf"
	"glassbox/tokenizer/bpe"
)

// loadGGUFFile opens a GGUF file and reads its tokenizer.
func loadGGUFFile(path string) (*Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	t, err := FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return t, nil
}

// FromGGUF builds the tokenizer stored in a GGUF file's tokenizer.ggml.* metadata.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	model, ok := f.String("tokenizer.ggml.model")
	if !ok {
		return nil, fmt.Errorf("tokenizer: GGUF has no tokenizer.ggml.model key (no vocabulary)")
	}
	tokens, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(tokens) == 0 {
		return nil, fmt.Errorf("tokenizer: GGUF has no tokenizer.ggml.tokens string array")
	}
	t := newTokenizer(model)
	t.pieces = slices.Clone(tokens)
	n := len(tokens)
	if scores, ok := f.Float32s("tokenizer.ggml.scores"); ok {
		if len(scores) != n {
			return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.scores has %d entries, expected %d (one per token)", len(scores), n)
		}
		t.scores = slices.Clone(scores)
	}
	if types, ok := f.Int32s("tokenizer.ggml.token_type"); ok {
		if len(types) != n {
			return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.token_type has %d entries, expected %d (one per token)", len(types), n)
		}
		t.types = make([]TokenType, n)
		for i, ty := range types {
			t.types[i] = TokenType(ty)
		}
	}
	t.pre, _ = f.String("tokenizer.ggml.pre")

	switch model {
	case ModelSPM:
		t.bos, t.eos, t.unk = 1, 2, 0
		t.addSpacePrefix, t.addBOS = true, true
		if t.scores == nil {
			t.scores = make([]float32, n)
		}
	case ModelWPM:
		t.bos, t.unk, t.sep, t.pad, t.mask = 101, 100, 102, 0, 103
		t.addBOS, t.addEOS, t.cleanSpaces = true, true, true
	case ModelBPE:
		t.bos, t.eos = 11, 11
		t.cleanSpaces = true
		switch t.pre {
		case "llama3", "llama-v3", "llama-bpe", "falcon3", "tekken", "chameleon":
			t.addBOS = true
		}
		switch t.pre {
		case "command-r", "qwen2", "deepseek-llm", "deepseek-coder", "deepseek-v3", "poro-chat", "viking",
			"tekken", "smollm", "chameleon", "gpt-4o", "minerva-7b", "megrez", "exaone":
			t.cleanSpaces = false
		}
	default:
		return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.model %q is not supported (expected llama, gpt2 or bert)", model)
	}

	ids := []struct {
		key string
		dst *int
	}{
		{"bos_token_id", &t.bos}, {"eos_token_id", &t.eos}, {"eot_token_id", &t.eot}, {"eom_token_id", &t.eom},
		{"unknown_token_id", &t.unk}, {"seperator_token_id", &t.sep}, {"separator_token_id", &t.sep},
		{"padding_token_id", &t.pad}, {"cls_token_id", &t.cls}, {"mask_token_id", &t.mask},
		{"fim_pre_token_id", &t.fimPre}, {"fim_suf_token_id", &t.fimSuf}, {"fim_mid_token_id", &t.fimMid},
		{"fim_pad_token_id", &t.fimPad}, {"fim_rep_token_id", &t.fimRep}, {"fim_sep_token_id", &t.fimSep},
		{"prefix_token_id", &t.fimPre}, {"suffix_token_id", &t.fimSuf}, {"middle_token_id", &t.fimMid},
	}
	for _, k := range ids {
		if v, ok := ggufID(f, "tokenizer.ggml."+k.key); ok && v < int64(n) {
			*k.dst = int(v)
		}
	}
	if v, ok := f.Bool("tokenizer.ggml.add_space_prefix"); ok {
		t.addSpacePrefix = v
	}
	if v, ok := f.Bool("tokenizer.ggml.add_bos_token"); ok && model != ModelWPM {
		t.addBOS = v
	}
	if v, ok := f.Bool("tokenizer.ggml.add_eos_token"); ok && model != ModelWPM {
		t.addEOS = v
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	if model == ModelBPE {
		merges, _ := f.Strings("tokenizer.ggml.merges")
		pairs, err := splitMerges(merges)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.merges: %w", err)
		}
		name := t.pre
		if name == "" {
			name = "default"
		}
		pre, err := bpe.PreTokenizerByName(name)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: GGUF tokenizer.ggml.pre %q: %w", t.pre, err)
		}
		opts := bpe.Options{Unk: t.unk}
		switch t.pre {
		case "llama3", "llama-v3", "llama-bpe", "falcon3", "tekken":
			opts.IgnoreMerges = true
		}
		m, err := bpe.New(t.vocabMap(), pairs, pre, opts)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: building BPE model from GGUF: %w", err)
		}
		t.bpe = m
	}
	return t, nil
}

// ggufID reads an integer metadata value of any integer type.
func ggufID(f *gguf.File, key string) (int64, bool) {
	if v, ok := f.Int(key); ok {
		return v, v >= 0
	}
	if v, ok := f.Uint(key); ok {
		return int64(v), v < 1<<62
	}
	return 0, false
}

// splitMerges turns "a b" merge strings into pairs.
func splitMerges(merges []string) ([][2]string, error) {
	pairs := make([][2]string, 0, len(merges))
	for i, m := range merges {
		// llama.cpp looks for the separating space from the second byte on.
		k := -1
		if len(m) > 1 {
			k = strings.IndexByte(m[1:], ' ')
		}
		if k < 0 {
			return nil, fmt.Errorf("merge %d %q: expected two symbols separated by one space", i, m)
		}
		a, b := m[:k+1], m[k+2:]
		if b == "" {
			return nil, fmt.Errorf("merge %d %q: expected two symbols separated by one space", i, m)
		}
		pairs = append(pairs, [2]string{a, b})
	}
	return pairs, nil
}

// vocabMap returns piece → id for the byte-level BPE model.
func (t *Tokenizer) vocabMap() map[string]int {
	m := make(map[string]int, len(t.toID))
	for p, id := range t.toID {
		m[p] = id
	}
	return m
}
