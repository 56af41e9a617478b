package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// roundTripTokenizers are vocabularies that can represent every byte and keep
// every character (no lower-casing or normalisation).
var roundTripTokenizers = []struct {
	name string
	load func(t testing.TB) *Tokenizer
}{
	{"llama-spm.gguf", func(t testing.TB) *Tokenizer { return loadFixture(t, "vocab", "ggml-vocab-llama-spm.gguf") }},
	{"llama2c tokenizer.bin", func(t testing.TB) *Tokenizer { return loadLlama2C(t, "tokenizer.bin", 32000) }},
	{"tok512.bin", func(t testing.TB) *Tokenizer { return loadLlama2C(t, "tok512.bin", 0) }},
	{"gpt-2.gguf", func(t testing.TB) *Tokenizer { return loadFixture(t, "vocab", "ggml-vocab-gpt-2.gguf") }},
	{"llama3 tokenizer.json", func(t testing.TB) *Tokenizer {
		return loadFixture(t, "vocab", "tokenizer-json", "llama3", "tokenizer.json")
	}},
	{"qwen3 tokenizer.json", func(t testing.TB) *Tokenizer {
		return loadFixture(t, "vocab", "tokenizer-json", "qwen3", "tokenizer.json")
	}},
}

// checkRoundTrip verifies decode(encode(text)) == text and that the incremental
// decoder gives the same bytes without breaking a valid character.
func checkRoundTrip(t testing.TB, tk *Tokenizer, text string) {
	t.Helper()
	ids := tk.Encode(text, EncodeOptions{})
	if got := tk.Decode(ids); got != text {
		t.Fatalf("Decode(Encode(%q)) = %q (ids %v)", text, got, ids)
	}
	d := tk.NewDecoder()
	var sb strings.Builder
	for _, id := range ids {
		s := d.Add(id)
		if utf8.ValidString(text) && !utf8.ValidString(s) {
			t.Fatalf("%q: incremental decoder emitted broken UTF-8 %q for id %d", text, s, id)
		}
		sb.WriteString(s)
	}
	sb.WriteString(d.Flush())
	if sb.String() != text {
		t.Fatalf("incremental decode of %q = %q", text, sb.String())
	}
}

func TestRoundTripFixtureTexts(t *testing.T) {
	cases := readVocabCases(t, "ggml-vocab-llama-spm.gguf")
	lines := corpusLines(t, 300)
	for _, rt := range roundTripTokenizers {
		t.Run(rt.name, func(t *testing.T) {
			tk := rt.load(t)
			n := 0
			for _, c := range cases {
				checkRoundTrip(t, tk, c.text)
				n++
			}
			for _, l := range lines {
				checkRoundTrip(t, tk, l)
				n++
			}
			for _, s := range []string{"\xff\xfe", "a\xe4\xbd", "\xe4\xbd\xa0\xe5", " lead", "<s> </s>"} {
				checkRoundTrip(t, tk, s)
				n++
			}
			t.Logf("%d texts round-trip", n)
		})
	}
}

func TestDecodeSPMSpaces(t *testing.T) {
	tk := loadFixture(t, "vocab", "ggml-vocab-llama-spm.gguf")
	hello := tk.Encode("Hello", EncodeOptions{})
	tests := []struct {
		name string
		ids  []int
		opt  DecodeOptions
		want string
	}{
		// llama.cpp drops one leading space of the first token when add_space_prefix ...
		{"first token", hello, DecodeOptions{}, "Hello"},
		// ... and a BOS in front (rendered as nothing) keeps the space.
		{"after BOS", append([]int{tk.BOS()}, hello...), DecodeOptions{}, " Hello"},
		// llama_detokenize with remove_special also keeps the space after a removed BOS.
		{"BOS removed", append([]int{tk.BOS()}, hello...), DecodeOptions{RemoveSpecial: true}, " Hello"},
		{"special shown", append([]int{tk.BOS()}, hello...), DecodeOptions{Special: true}, "<s> Hello"},
		{"byte token", []int{tk.byteTok['\n']}, DecodeOptions{}, "\n"},
		{"out of range", []int{-1, tk.VocabSize()}, DecodeOptions{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tk.DecodeWith(tc.ids, tc.opt); got != tc.want {
				t.Errorf("DecodeWith(%v, %+v) = %q, want %q", tc.ids, tc.opt, got, tc.want)
			}
		})
	}
}

func TestCleanSpaces(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello , world !", "Hello, world!"},
		{"it ' s", "it's"},
		{"they 're here", "they're here"},
		{"I 'm", "I'm"},
		{"don 't", "don 't"},
		{"a", "a"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := string(cleanSpaces([]byte(tc.in))); got != tc.want {
			t.Errorf("cleanSpaces(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCompletePrefix(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"abc", 3},
		{"a\xe4", 1},         // start of a 3-byte character: held
		{"a\xe4\xbd", 1},     // still incomplete
		{"a\xe4\xbd\xa0", 4}, // complete
		{"a\xe4A", 3},        // can never complete: flushed
		{"\xf0\x9f\x98", 0},  // incomplete 4-byte
		{"\x80", 1},          // lone continuation byte
		{"\xf4\x90", 2},      // beyond U+10FFFF: invalid
		{"", 0},
	}
	for _, tc := range tests {
		if got := completePrefix([]byte(tc.in)); got != tc.want {
			t.Errorf("completePrefix(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSpecialTokens(t *testing.T) {
	tk := loadFixture(t, "vocab", "ggml-vocab-llama-spm.gguf")
	tests := []struct {
		name string
		text string
		opt  EncodeOptions
		want []string // pieces
	}{
		{"parsed", "<s>Hi</s>", EncodeOptions{ParseSpecial: true}, []string{"<s>", "▁Hi", "</s>"}},
		{"plain text", "<s>", EncodeOptions{}, []string{"▁<", "s", ">"}},
		{"bos eos", "Hi", EncodeOptions{AddBOS: true, AddEOS: true}, []string{"<s>", "▁Hi", "</s>"}},
		{"no prefix after text", "a<s>b", EncodeOptions{ParseSpecial: true}, []string{"▁a", "<s>", "▁b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, id := range tk.Encode(tc.text, tc.opt) {
				got = append(got, tk.Piece(id))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Encode(%q, %+v) pieces %q, want %q", tc.text, tc.opt, got, tc.want)
			}
		})
	}
	if !tk.IsEOG(tk.EOS()) || tk.IsEOG(tk.BOS()) {
		t.Errorf("IsEOG: eos %v bos %v", tk.IsEOG(tk.EOS()), tk.IsEOG(tk.BOS()))
	}
	if tk.Type(tk.BOS()) != TypeControl || tk.Type(0) != TypeUnknown || tk.Type(3) != TypeByte || !tk.IsSpecial(2) {
		t.Errorf("types: bos %v unk %v byte %v", tk.Type(tk.BOS()), tk.Type(0), tk.Type(3))
	}
	if id, ok := tk.TokenID("▁Hello"); !ok || tk.Piece(id) != "▁Hello" {
		t.Errorf("TokenID(▁Hello) = %d, %v", id, ok)
	}
}

func FuzzRoundTripSPM(f *testing.F) {
	tk := loadLlama2C(f, "tokenizer.bin", 32000)
	for _, s := range []string{"Hello world", " x", "\xe4\xbd", "日本語 ▁", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkRoundTrip(t, tk, s) })
}

func FuzzRoundTripBPE(f *testing.F) {
	tk := loadFixture(f, "vocab", "tokenizer-json", "llama3", "tokenizer.json")
	for _, s := range []string{"Hello world", " x  y\n\n", "\xe4\xbd", "日本語 123456", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkRoundTrip(t, tk, s) })
}

// TestDecoderAfter: a continuation keeps its first token's SentencePiece space
// unless it starts the text (after BOS or nothing), as run.c prints it, and
// TokenBytesAfter spells each token the same way.
func TestDecoderAfter(t *testing.T) {
	spm := loadFixture(t, "vocab", "ggml-vocab-llama-spm.gguf")
	bin := loadLlama2C(t, "tok512.bin", 0)
	gpt2 := loadFixture(t, "vocab", "ggml-vocab-gpt-2.gguf")
	id := func(tk *Tokenizer, text string) int {
		t.Helper()
		ids := tk.Encode(text, EncodeOptions{})
		if len(ids) != 1 {
			t.Fatalf("%q is %d tokens, want one", text, len(ids))
		}
		return ids[0]
	}
	tests := []struct {
		name     string
		tk       *Tokenizer
		prev, id int
		want     string
	}{
		{"spm after a word", spm, id(spm, "time"), id(spm, "saw"), " saw"},
		{"spm after BOS", spm, spm.BOS(), id(spm, "Once"), "Once"},
		{"spm at the start", spm, -1, id(spm, "Once"), "Once"},
		{"spm after a newline", spm, spm.byteTok['\n'], id(spm, "Once"), " Once"},
		{"spm after EOS", spm, spm.EOS(), id(spm, "Once"), " Once"},
		{"llama2c after a word", bin, id(bin, "time"), id(bin, "saw"), " saw"},
		{"llama2c after BOS", bin, bin.BOS(), id(bin, "Once"), "Once"},
		{"bpe after BOS", gpt2, gpt2.BOS(), gpt2.Encode(" Once", EncodeOptions{})[0], " Once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.tk.NewDecoderAfter(tc.prev)
			if got := d.Add(tc.id) + d.Flush(); got != tc.want {
				t.Errorf("decoder after %d: %d gives %q, want %q", tc.prev, tc.id, got, tc.want)
			}
			if got := string(tc.tk.TokenBytesAfter(tc.prev, tc.id)); got != tc.want {
				t.Errorf("TokenBytesAfter(%d, %d) = %q, want %q", tc.prev, tc.id, got, tc.want)
			}
		})
	}
	// Split anywhere, the prompt's text and the continuation's text make the
	// whole text, and the tokens' TokenBytesAfter spell it.
	for _, tk := range []*Tokenizer{spm, bin, gpt2} {
		const text = "Once upon a time, she saw a big dog.\nThe dog was happy."
		ids := tk.Encode(text, EncodeOptions{AddBOS: true})
		for k := 1; k < len(ids); k++ {
			var sb strings.Builder
			d := tk.NewDecoderAfter(-1)
			for _, x := range ids[:k] {
				sb.WriteString(d.Add(x))
			}
			sb.WriteString(d.Flush())
			d = tk.NewDecoderAfter(ids[k-1])
			for _, x := range ids[k:] {
				sb.WriteString(d.Add(x))
			}
			sb.WriteString(d.Flush())
			if sb.String() != text {
				t.Fatalf("%s: split at %d gives %q", tk.Model(), k, sb.String())
			}
		}
		var sb strings.Builder
		for i, x := range ids {
			prev := -1
			if i > 0 {
				prev = ids[i-1]
			}
			if !tk.IsSpecial(x) {
				sb.Write(tk.TokenBytesAfter(prev, x))
			}
		}
		if sb.String() != text {
			t.Errorf("%s: TokenBytesAfter spells %q", tk.Model(), sb.String())
		}
	}
}
