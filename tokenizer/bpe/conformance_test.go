package bpe

import (
	"testing"
)

func TestConformanceTokenizerJSON(t *testing.T) {
	tests := []struct {
		fixture string // ggml-vocab-NAME
		json    string // tokenizer-json/DIR
		byName  string // llama.cpp tokenizer.ggml.pre
	}{
		{"llama-bpe", "llama3", "llama-bpe"},
		{"qwen2", "qwen3", "qwen2"},
		{"deepseek-r1-qwen", "qwen3", "deepseek-r1-qwen"},
	}
	for _, tc := range tests {
		tj := readTokenizerJSON(t, "vocab", "tokenizer-json", tc.json, "tokenizer.json")
		cases := readVocabCases(t, tc.fixture)
		fromJSON, err := PreTokenizerFromJSON(tj.pre)
		if err != nil {
			t.Fatal(err)
		}
		byName, err := PreTokenizerByName(tc.byName)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct {
			name string
			pre  PreTokenizer
		}{{"json", fromJSON}, {"byname", byName}} {
			t.Run(tc.fixture+"/"+p.name, func(t *testing.T) {
				m, err := New(tj.vocab, tj.merges, p.pre, Options{IgnoreMerges: tj.ignoreMerges, Unk: -1})
				if err != nil {
					t.Fatal(err)
				}
				ok := checkCases(t, m, cases)
				t.Logf("%d/%d cases match llama.cpp", ok, len(cases))
			})
		}
	}
}

func TestConformanceGGUF(t *testing.T) {
	for _, name := range []string{"gpt-2", "starcoder", "falcon", "mpt", "refact", "deepseek-coder", "deepseek-llm"} {
		t.Run(name, func(t *testing.T) {
			m, gv := ggufModel(t, name, nil, Options{Unk: -1})
			cases := readVocabCases(t, name)
			ids := map[string]int{}
			for i, tok := range gv.tokens {
				ids[tok] = i
			}
			ok := checkCases(t, partitionModel{m, gv.userDefined(), ids}, cases)
			t.Logf("pre %q: %d/%d cases match llama.cpp", gv.pre, ok, len(cases))
		})
	}
}
