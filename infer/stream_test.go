package infer

import (
	"slices"
	"testing"

	"glassbox/internal/fixtures"
	"glassbox/tokenizer"
)

// TestTextStream feeds tokens to the text stream and checks what each one
// emits, the stop string found, the rest released at the end and the whole
// text: leading spaces after BOS or another token, a character split across
// byte tokens (held back until complete, released as it is when it never
// completes), stop strings split across tokens, and end-of-generation tokens.
func TestTextStream(t *testing.T) {
	const eos = "</s>"
	tok, err := tokenizer.LoadLlama2C(fixtures.Path(t, "llama2c", "tok512.bin"), 512)
	if err != nil {
		t.Fatal(err)
	}
	id := func(t *testing.T, piece string) int {
		switch piece {
		case "<s>":
			return tok.BOS()
		case eos:
			return tok.EOS()
		}
		i, ok := tok.TokenID(piece)
		if !ok {
			t.Fatalf("no token %q in tok512", piece)
		}
		return i
	}
	tests := []struct {
		name    string
		prev    string
		pieces  []string // eos: an end-of-generation token
		stops   []string
		emits   []string
		stopped string
		rest    string
		text    string
	}{
		{"text starts after BOS", "<s>", []string{" Once", " upon"}, nil, []string{"Once", " upon"}, "", "", "Once upon"},
		{"text continues a token", " a", []string{" Once"}, nil, []string{" Once"}, "", "", " Once"},
		{"character split across byte tokens", " a", []string{"<0xC3>", "<0xA9>"}, nil, []string{"", "é"}, "", "", "é"},
		{"character never completed", " a", []string{"<0xC3>"}, nil, []string{""}, "", "\xc3", "\xc3"},
		{"stop string across tokens", " a", []string{" Once", " upon", " a"}, []string{"upon a"}, []string{" Once", " ", ""}, "upon a", "", " Once "},
		{"partial stop string released at the end", " a", []string{" upon"}, []string{"upon the"}, []string{" "}, "", "upon", " upon"},
		{"end of generation releases held text", " a", []string{" upon", eos}, []string{"upon the"}, []string{" ", "upon"}, "", "", " upon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTextStream(tok, id(t, tt.prev), tt.stops, false)
			var emits []string
			stopped := ""
			for _, p := range tt.pieces {
				e, st := s.add(id(t, p), p == eos)
				emits = append(emits, e)
				if st != "" {
					stopped = st
				}
			}
			rest, text := s.finish()
			if !slices.Equal(emits, tt.emits) || stopped != tt.stopped || rest != tt.rest || text != tt.text {
				t.Errorf("emits %q stopped %q rest %q text %q, want %q %q %q %q", emits, stopped, rest, text, tt.emits, tt.stopped, tt.rest, tt.text)
			}
		})
	}
}
