package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"glassbox/gguf"
	"glassbox/tokenizer/bpe"
)

type hfAddedToken struct {
	ID      *int   `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
	LStrip  bool   `json:"lstrip"`
	RStrip  bool   `json:"rstrip"`
}

type hfTokenizer struct {
	Model struct {
		Type         string          `json:"type"`
		Vocab        json.RawMessage `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		IgnoreMerges bool            `json:"ignore_merges"`
		ByteFallback bool            `json:"byte_fallback"`
		UnkToken     *string         `json:"unk_token"`
	} `json:"model"`
	AddedTokens  []hfAddedToken  `json:"added_tokens"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Decoder      json.RawMessage `json:"decoder"`
}

// FromTokenizerJSON builds a tokenizer from a Hugging Face tokenizer.json with a
// byte-level BPE model. BOS/EOS come from tokenizer_config.json (see
// FromTokenizerJSONConfig and LoadFile); without it only end-of-generation
// tokens recognisable by their text are known.
func FromTokenizerJSON(data []byte) (*Tokenizer, error) {
	return FromTokenizerJSONConfig(data, nil)
}

// FromTokenizerJSONConfig is FromTokenizerJSON with the tokenizer_config.json
// beside it (nil when absent), which gives bos_token, eos_token, add_bos_token,
// add_eos_token and clean_up_tokenization_spaces.
func FromTokenizerJSONConfig(data, config []byte) (*Tokenizer, error) {
	var hf hfTokenizer
	if err := json.Unmarshal(data, &hf); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if hf.Model.Type != "" && hf.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer.json: model type %q is not supported (expected BPE)", hf.Model.Type)
	}
	if len(hf.Model.Vocab) == 0 {
		return nil, fmt.Errorf("tokenizer.json: model.vocab is missing (expected an object of token → id)")
	}
	var vocab map[string]int
	if err := json.Unmarshal(hf.Model.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer.json: model.vocab: expected an object of token → id: %w", err)
	}
	merges, err := parseJSONMerges(hf.Model.Merges)
	if err != nil {
		return nil, err
	}
	var pre bpe.PreTokenizer
	if len(hf.PreTokenizer) > 0 && !bytes.Equal(bytes.TrimSpace(hf.PreTokenizer), []byte("null")) {
		pre, err = bpe.PreTokenizerFromJSON(hf.PreTokenizer)
		if err != nil {
			return nil, fmt.Errorf("tokenizer.json: pre_tokenizer: %w", err)
		}
	}
	unk := -1
	if hf.Model.UnkToken != nil {
		if id, ok := vocab[*hf.Model.UnkToken]; ok {
			unk = id
		}
	}
	t, err := buildHFBPE(vocab, merges, hf.AddedTokens, pre, bpe.Options{IgnoreMerges: hf.Model.IgnoreMerges, ByteFallback: hf.Model.ByteFallback, Unk: unk}, config)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	return t, nil
}

// buildHFBPE assembles a byte-level BPE tokenizer from a vocabulary, merges and
// added tokens (ids beyond the vocabulary are allowed; gaps become unused tokens).
func buildHFBPE(vocab map[string]int, merges [][2]string, added []hfAddedToken, pre bpe.PreTokenizer, opts bpe.Options, config []byte) (*Tokenizer, error) {
	n := 0
	for p, id := range vocab {
		if id < 0 || id > 1<<24 {
			return nil, fmt.Errorf("model.vocab %q has id %d outside 0..16777216", p, id)
		}
		n = max(n, id+1)
	}
	for i, a := range added {
		if a.ID == nil || *a.ID < 0 || *a.ID > 1<<24 {
			return nil, fmt.Errorf("added_tokens[%d] %q: expected an id in 0..16777216", i, a.Content)
		}
		n = max(n, *a.ID+1)
	}
	if n > 2*(len(vocab)+len(added))+1024 {
		return nil, fmt.Errorf("token ids reach %d for %d tokens: expected ids close to 0..%d", n-1, len(vocab)+len(added), len(vocab)+len(added)-1)
	}
	t := newTokenizer(ModelBPE)
	t.pieces = make([]string, n)
	t.types = make([]TokenType, n)
	t.strip = make([]uint8, n)
	filled := make([]bool, n)
	for p, id := range vocab {
		t.pieces[id], t.types[id], filled[id] = p, TypeNormal, true
	}
	for _, a := range added {
		id := *a.ID
		t.pieces[id], filled[id] = a.Content, true
		t.types[id] = TypeUserDefined
		if a.Special {
			t.types[id] = TypeControl
		}
		if a.LStrip {
			t.strip[id] |= attrLStrip
		}
		if a.RStrip {
			t.strip[id] |= attrRStrip
		}
	}
	for id := range t.pieces {
		if !filled[id] {
			t.pieces[id], t.types[id] = fmt.Sprintf("[PAD%d]", id), TypeUnused
		}
	}
	t.unk = opts.Unk
	t.cleanSpaces = true
	if err := applyHFConfig(t, config); err != nil {
		return nil, err
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	m, err := bpe.New(vocab, merges, pre, opts)
	if err != nil {
		return nil, fmt.Errorf("building BPE model: %w", err)
	}
	t.bpe = m
	return t, nil
}

// parseJSONMerges accepts merges as "a b" strings or as ["a", "b"] pairs.
func parseJSONMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("tokenizer.json: model.merges: expected an array of \"a b\" strings or of [\"a\", \"b\"] pairs")
	}
	pairs := make([][2]string, 0, len(items))
	for i, item := range items {
		var s string
		if json.Unmarshal(item, &s) == nil {
			p, err := splitMerges([]string{s})
			if err != nil {
				return nil, fmt.Errorf("tokenizer.json: model.merges[%d]: %w", i, err)
			}
			pairs = append(pairs, p[0])
			continue
		}
		var l []string
		if err := json.Unmarshal(item, &l); err != nil || len(l) != 2 {
			return nil, fmt.Errorf("tokenizer.json: model.merges[%d]: expected a pair of 2 symbols or an \"a b\" string", i)
		}
		pairs = append(pairs, [2]string{l[0], l[1]})
	}
	return pairs, nil
}

// hfTokenName reads a tokenizer_config.json token: a string or {"content": ...}.
func hfTokenName(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var o struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Content, o.Content != ""
	}
	return "", false
}

// applyHFConfig applies a tokenizer_config.json (nil: nothing to apply).
func applyHFConfig(t *Tokenizer, config []byte) error {
	if len(config) == 0 {
		return nil
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(config, &c); err != nil {
		return fmt.Errorf("tokenizer_config.json: %w", err)
	}
	lookup := func(key string, dst *int) {
		if raw, ok := c[key]; ok {
			if name, ok := hfTokenName(raw); ok {
				for id, p := range t.pieces {
					if p == name {
						*dst = id
						return
					}
				}
			}
		}
	}
	lookup("bos_token", &t.bos)
	lookup("eos_token", &t.eos)
	lookup("unk_token", &t.unk)
	lookup("pad_token", &t.pad)
	flag := func(key string, dst *bool) {
		if raw, ok := c[key]; ok {
			var b bool
			if json.Unmarshal(raw, &b) == nil {
				*dst = b
			}
		}
	}
	// Hugging Face's fast tokenizers add BOS when the config names one and does not say otherwise.
	t.addBOS = t.bos >= 0
	flag("add_bos_token", &t.addBOS)
	flag("add_eos_token", &t.addEOS)
	flag("clean_up_tokenization_spaces", &t.cleanSpaces)
	return nil
}

// LoadEncoderJSON builds a byte-level BPE tokenizer from GPT-2 style files: an
// encoder.json (token → id) and a vocab.bpe (merges, one "a b" pair a line, after
// an optional "#version" line), with the GPT-2 pre-tokenizer.
func LoadEncoderJSON(encoderPath, vocabBPEPath string) (*Tokenizer, error) {
	return LoadEncoderJSONPre(encoderPath, vocabBPEPath, "gpt-2")
}

// LoadEncoderJSONPre is LoadEncoderJSON with a llama.cpp pre-tokenizer name
// (such as "llama3" for Llama 3 vocabularies, see bpe.PreTokenizerByName).
func LoadEncoderJSONPre(encoderPath, vocabBPEPath, preName string) (*Tokenizer, error) {
	enc, err := os.ReadFile(encoderPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	bpeText, err := os.ReadFile(vocabBPEPath)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(enc, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: expected a JSON object of token → id: %w", encoderPath, err)
	}
	var lines []string
	for i, line := range strings.Split(string(bpeText), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || (i == 0 && strings.HasPrefix(line, "#version")) {
			continue
		}
		lines = append(lines, line)
	}
	merges, err := splitMerges(lines)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabBPEPath, err)
	}
	pre, err := bpe.PreTokenizerByName(preName)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: pre-tokenizer %q: %w", preName, err)
	}
	t, err := buildHFBPE(vocab, merges, nil, pre, bpe.Options{Unk: -1}, nil)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s + %s: %w", encoderPath, vocabBPEPath, err)
	}
	return t, nil
}

// LoadFile loads a tokenizer from a GGUF file, a tokenizer.json (with the
// tokenizer_config.json beside it when present), a llama2.c tokenizer.bin, or a
// directory holding tokenizer.json or encoder.json + vocab.bpe.
func LoadFile(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "tokenizer.json")); err == nil {
			return LoadFile(filepath.Join(path, "tokenizer.json"))
		}
		enc, vb := filepath.Join(path, "encoder.json"), filepath.Join(path, "vocab.bpe")
		if _, err := os.Stat(enc); err == nil {
			return LoadEncoderJSON(enc, vb)
		}
		return nil, fmt.Errorf("tokenizer: directory %s holds neither tokenizer.json nor encoder.json + vocab.bpe", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	switch {
	case gguf.HasMagic(data):
		return loadGGUFFile(path)
	case looksLikeJSONObject(data):
		var config []byte
		if c, err := os.ReadFile(filepath.Join(filepath.Dir(path), "tokenizer_config.json")); err == nil {
			config = c
		}
		t, err := FromTokenizerJSONConfig(data, config)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
		}
		return t, nil
	}
	t, err := ParseLlama2C(data, 0)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s is not GGUF, not a tokenizer.json, and not a llama2.c tokenizer.bin: %w", path, err)
	}
	return t, nil
}

func looksLikeJSONObject(data []byte) bool {
	d := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(d) > 0 && d[0] == '{' && bytes.Contains(data, []byte(`"model"`))
}
