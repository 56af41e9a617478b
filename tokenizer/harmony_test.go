package tokenizer

import (
	"bytes"
	"testing"

	"glassbox/gguf"
)

// harmonyVocab returns a SentencePiece vocabulary of the byte tokens and
// the given markers of gpt-oss's harmony format, control tokens as in the
// gpt-oss files, whose EOS is the token eos.
func harmonyVocab(t *testing.T, markers []string, eos string) *Tokenizer {
	t.Helper()
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3}
	for b := range 256 {
		tokens = append(tokens, byteTokenName(byte(b)))
		types = append(types, 6)
	}
	for _, m := range markers {
		tokens = append(tokens, m)
		types = append(types, 3)
	}
	eosID := uint32(2)
	for i, tok := range tokens {
		if tok == eos {
			eosID = uint32(i)
		}
	}
	w := gguf.NewWriter(0)
	for _, kv := range []struct {
		k string
		v any
	}{
		{"tokenizer.ggml.model", "llama"}, {"tokenizer.ggml.tokens", tokens}, {"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.scores", make([]float32, len(tokens))}, {"tokenizer.ggml.eos_token_id", eosID},
	} {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestHarmonyTokens: with gpt-oss's markers, <|return|> and <|call|> end
// the generation and <|end|> does not (it ends one message of the reply),
// and <|channel|>, <|message|>, <|start|>, <|constrain|> and <|end|> are
// rendered as text for the chat parser, as llama.cpp does; a vocabulary
// without <|return|> and <|call|> keeps <|end|> an end of generation.
func TestHarmonyTokens(t *testing.T) {
	all := []string{"<|return|>", "<|call|>", "<|end|>", "<|start|>", "<|channel|>", "<|message|>", "<|constrain|>"}
	tk := harmonyVocab(t, all, "<|return|>")
	id := func(s string) int {
		i, ok := tk.TokenID(s)
		if !ok {
			t.Fatalf("no token %s", s)
		}
		return i
	}
	for _, tc := range []struct {
		tok      string
		eog      bool
		rendered bool
	}{
		{"<|return|>", true, false}, {"<|call|>", true, false}, {"<|end|>", false, true},
		{"<|start|>", false, true}, {"<|channel|>", false, true}, {"<|message|>", false, true}, {"<|constrain|>", false, true},
	} {
		i := id(tc.tok)
		if tk.IsEOG(i) != tc.eog {
			t.Errorf("%s: IsEOG %v, want %v", tc.tok, tk.IsEOG(i), tc.eog)
		}
		if got := tk.Decode([]int{i}); (got == tc.tok) != tc.rendered {
			t.Errorf("%s: decodes to %q, rendered %v", tc.tok, got, tc.rendered)
		}
	}
	if tk.EOS() != id("<|return|>") {
		t.Errorf("EOS %d, want <|return|>", tk.EOS())
	}
	// the rendered markers are read in any text, as llama.cpp reads
	// user-defined tokens
	got := tk.Encode("<|start|>assistant<|channel|>final<|message|>", EncodeOptions{})
	if len(got) < 3 || got[0] != id("<|start|>") || got[len(got)-1] != id("<|message|>") {
		t.Errorf("Encode of a harmony header: %v", got)
	}

	other := harmonyVocab(t, []string{"<|end|>", "<|start|>"}, "</s>")
	if e, _ := other.TokenID("<|end|>"); !other.IsEOG(e) {
		t.Errorf("without <|return|> and <|call|>, <|end|> is not an end of generation")
	}
}
