// Package tokenizer turns text into token ids and back exactly like the reference
// tokenizers of llama.cpp: SentencePiece-style score merges ("llama" vocabularies,
// also llama2.c tokenizer.bin files), byte-level BPE ("gpt2" vocabularies and
// Hugging Face tokenizer.json files, through package bpe) and WordPiece ("bert").
//
// Special tokens (control and user-defined tokens) are split out of the text
// before the model runs, longest first, as llama.cpp does. Decoding follows
// llama_token_to_piece: SentencePiece '▁' becomes a space and <0xNN> byte tokens
// become their byte, byte-level BPE pieces are mapped back to raw bytes, control
// tokens decode to nothing.
package tokenizer

import (
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"glassbox/tokenizer/bpe"
)

// TokenType is the GGUF token type of a vocabulary entry.
type TokenType int32

// GGUF token types (tokenizer.ggml.token_type).
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// String returns the lower-case name of the token type.
func (t TokenType) String() string {
	switch t {
	case TypeNormal:
		return "normal"
	case TypeUnknown:
		return "unknown"
	case TypeControl:
		return "control"
	case TypeUserDefined:
		return "user-defined"
	case TypeUnused:
		return "unused"
	case TypeByte:
		return "byte"
	}
	return "undefined"
}

// Model kinds returned by Tokenizer.Model (the GGUF tokenizer.ggml.model names).
const (
	ModelSPM = "llama"
	ModelBPE = "gpt2"
	ModelWPM = "bert"
)

// EncodeOptions controls Tokenizer.Encode.
type EncodeOptions struct {
	// AddBOS prepends the beginning-of-sequence token (CLS for WordPiece vocabularies).
	AddBOS bool
	// AddEOS appends the end-of-sequence token (SEP for WordPiece vocabularies).
	AddEOS bool
	// ParseSpecial turns control-token strings such as "<s>" or "<|eot_id|>" in the
	// text into their ids; when false they are tokenized as plain text.
	// User-defined tokens are always matched, as in llama.cpp.
	ParseSpecial bool
}

// DecodeOptions controls Tokenizer.DecodeWith.
type DecodeOptions struct {
	// Special renders control and unknown tokens as their text instead of nothing.
	Special bool
	// RemoveSpecial drops a leading BOS and a trailing EOS when the vocabulary adds them.
	RemoveSpecial bool
	// CleanSpaces applies llama.cpp's clean-up of spaces before punctuation and
	// apostrophe contractions (for vocabularies that ask for it, see CleansSpaces).
	CleanSpaces bool
}

// token attribute bits beyond the type.
const (
	attrLStrip = 1 << iota
	attrRStrip
)

// Tokenizer encodes and decodes text for one vocabulary. It is safe for
// concurrent use once built.
type Tokenizer struct {
	model  string
	pre    string
	pieces []string
	scores []float32
	types  []TokenType
	strip  []uint8 // attrLStrip / attrRStrip per token
	toID   map[string]int

	bos, eos, eot, eom, unk, pad, sep, cls, mask   int
	fimPre, fimSuf, fimMid, fimPad, fimRep, fimSep int

	addBOS, addEOS, addSpacePrefix, cleanSpaces bool

	eog      map[int]bool
	specials []int // control, user-defined and unknown tokens, longest text first

	// decoded bytes of each token as llama_token_to_piece renders it (special=true).
	tokBytes [][]byte

	// SentencePiece
	spaceSym string // "▁" (GGUF) or " " (llama2.c tokenizer.bin)
	runC     bool   // llama2.c run.c symbol grouping (continuation bytes join their lead)
	// spaceSplits: no token holds the space symbol after another character, so
	// words can be merged one at a time (an exact speed-up).
	spaceSplits bool
	spmPool     sync.Pool // *spmState
	byteTok     [256]int

	// WordPiece
	maxTokLen int

	// byte-level BPE
	bpe *bpe.Model
}

// newTokenizer returns a Tokenizer with every special id unset.
func newTokenizer(model string) *Tokenizer {
	return &Tokenizer{
		model: model, bos: -1, eos: -1, eot: -1, eom: -1, unk: -1, pad: -1, sep: -1, cls: -1, mask: -1,
		fimPre: -1, fimSuf: -1, fimMid: -1, fimPad: -1, fimRep: -1, fimSep: -1,
		spaceSym: "▁",
	}
}

// VocabSize returns the number of tokens in the vocabulary.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// Model returns the tokenizer kind: "llama" (SentencePiece), "gpt2" (byte-level BPE) or "bert" (WordPiece).
func (t *Tokenizer) Model() string { return t.model }

// PreTokenizer returns the GGUF pre-tokenizer name (tokenizer.ggml.pre), or "" when none was given.
func (t *Tokenizer) PreTokenizer() string { return t.pre }

// BOS returns the beginning-of-sequence token id, or -1 when the vocabulary has none.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the end-of-sequence token id, or -1 when the vocabulary has none.
func (t *Tokenizer) EOS() int { return t.eos }

// EOT returns the end-of-turn token id, or -1 when the vocabulary has none.
func (t *Tokenizer) EOT() int { return t.eot }

// UNK returns the unknown token id, or -1 when the vocabulary has none.
func (t *Tokenizer) UNK() int { return t.unk }

// PAD returns the padding token id, or -1 when the vocabulary has none.
func (t *Tokenizer) PAD() int { return t.pad }

// SEP returns the separator token id, or -1 when the vocabulary has none.
func (t *Tokenizer) SEP() int { return t.sep }

// FIM returns the fill-in-the-middle prefix, suffix and middle token ids; ok is
// false unless all three are known.
func (t *Tokenizer) FIM() (pre, suf, mid int, ok bool) {
	return t.fimPre, t.fimSuf, t.fimMid, t.fimPre >= 0 && t.fimSuf >= 0 && t.fimMid >= 0
}

// FIMRepo returns the repository-level FIM token (<|repo_name|>,
// tokenizer.ggml.fim_rep_token_id), or -1 when the vocabulary has none.
func (t *Tokenizer) FIMRepo() int { return t.fimRep }

// FIMSep returns the file separator of repository-level FIM (<|file_sep|>,
// tokenizer.ggml.fim_sep_token_id), or -1 when the vocabulary has none.
func (t *Tokenizer) FIMSep() int { return t.fimSep }

// AddBOSDefault reports whether the vocabulary asks for a BOS token at the start of a prompt.
func (t *Tokenizer) AddBOSDefault() bool { return t.addBOS }

// AddEOSDefault reports whether the vocabulary asks for an EOS token at the end of a prompt.
func (t *Tokenizer) AddEOSDefault() bool { return t.addEOS }

// AddSpacePrefix reports whether SentencePiece encoding prepends a space to the text.
func (t *Tokenizer) AddSpacePrefix() bool { return t.addSpacePrefix }

// CleansSpaces reports whether llama.cpp cleans up spaces when detokenizing with this vocabulary.
func (t *Tokenizer) CleansSpaces() bool { return t.cleanSpaces }

// IsEOG reports whether id ends generation (EOS, EOT, EOM, <|im_end|>, <|eot_id|> ...).
func (t *Tokenizer) IsEOG(id int) bool { return t.eog[id] }

// EOGs returns the end-of-generation token ids in increasing order.
func (t *Tokenizer) EOGs() []int {
	ids := make([]int, 0, len(t.eog))
	for id := range t.eog {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// valid reports whether id is in the vocabulary.
func (t *Tokenizer) valid(id int) bool { return id >= 0 && id < len(t.pieces) }

// Piece returns the vocabulary string of id ("" when id is out of range).
func (t *Tokenizer) Piece(id int) string {
	if !t.valid(id) {
		return ""
	}
	return t.pieces[id]
}

// Score returns the SentencePiece score of id (0 when the vocabulary has none).
func (t *Tokenizer) Score(id int) float32 {
	if !t.valid(id) || t.scores == nil {
		return 0
	}
	return t.scores[id]
}

// Type returns the token type of id (TypeUndefined when id is out of range).
func (t *Tokenizer) Type(id int) TokenType {
	if !t.valid(id) {
		return TypeUndefined
	}
	return t.types[id]
}

// IsSpecial reports whether id is a control, unknown or user-defined token.
func (t *Tokenizer) IsSpecial(id int) bool {
	switch t.Type(id) {
	case TypeControl, TypeUnknown, TypeUserDefined:
		return true
	}
	return false
}

// TokenID returns the id of the token whose vocabulary string is piece.
func (t *Tokenizer) TokenID(piece string) (int, bool) {
	id, ok := t.toID[piece]
	return id, ok
}

// TokenBytes returns the bytes id decodes to on its own: control, unknown and
// user-defined tokens give their text, SentencePiece '▁' gives a space, byte
// tokens give their byte, byte-level BPE pieces give their raw bytes. The
// result must not be modified.
func (t *Tokenizer) TokenBytes(id int) []byte {
	if !t.valid(id) {
		return nil
	}
	return t.tokBytes[id]
}

// pieceBytes renders one token as llama_token_to_piece does.
func (t *Tokenizer) pieceBytes(id int, special bool) []byte {
	if !t.valid(id) {
		return nil
	}
	switch t.types[id] {
	case TypeControl, TypeUnknown:
		if !special {
			return nil
		}
	}
	return t.tokBytes[id]
}

// computeTokenBytes fills tokBytes from the pieces and types.
func (t *Tokenizer) computeTokenBytes() {
	t.tokBytes = make([][]byte, len(t.pieces))
	for id, p := range t.pieces {
		switch t.types[id] {
		case TypeControl, TypeUnknown, TypeUserDefined:
			t.tokBytes[id] = []byte(p)
			continue
		case TypeUnused:
			continue
		}
		switch t.model {
		case ModelSPM, ModelWPM:
			switch t.types[id] {
			case TypeByte:
				if b, ok := parseByteToken(p); ok {
					t.tokBytes[id] = []byte{b}
				}
			default:
				if t.spaceSym == " " {
					t.tokBytes[id] = []byte(p)
				} else {
					t.tokBytes[id] = []byte(strings.ReplaceAll(p, "▁", " "))
				}
			}
		case ModelBPE:
			if t.types[id] == TypeByte {
				continue // llama.cpp renders nothing for byte tokens of BPE vocabularies
			}
			t.tokBytes[id] = decodeByteLevel(p)
		}
	}
}

// decodeByteLevel maps a GPT-2 byte-to-unicode piece back to bytes; characters
// outside the mapping are written as llama.cpp does ("[UNK_BYTE_0x..]").
func decodeByteLevel(p string) []byte {
	if b, err := bpe.UnicodeToBytes(p); err == nil {
		return b
	}
	var out []byte
	for _, r := range p {
		s := string(r)
		if b, err := bpe.UnicodeToBytes(s); err == nil {
			out = append(out, b...)
			continue
		}
		out = append(out, "[UNK_BYTE_0x"...)
		for i := 0; i < len(s); i++ {
			out = append(out, "0123456789abcdef"[s[i]>>4], "0123456789abcdef"[s[i]&15])
		}
		out = append(out, p...)
		out = append(out, ']')
	}
	return out
}

// parseByteToken parses "<0xNN>" (hex digits in either case).
func parseByteToken(p string) (byte, bool) {
	if len(p) != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(p[3])
	lo, ok2 := hexVal(p[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// finish builds the lookup tables shared by every loader: the piece→id map,
// byte tokens, end-of-generation set, special-token list and decoded bytes.
func (t *Tokenizer) finish() error {
	n := len(t.pieces)
	if t.types == nil {
		t.types = make([]TokenType, n)
		for i := range t.types {
			t.types[i] = TypeNormal
		}
	}
	if t.strip == nil {
		t.strip = make([]uint8, n)
	}
	t.toID = make(map[string]int, n)
	for id, p := range t.pieces {
		t.toID[p] = id // the last duplicate wins, as in llama.cpp
		if len(p) > t.maxTokLen {
			t.maxTokLen = len(p)
		}
	}
	for _, p := range []*int{&t.bos, &t.eos, &t.eot, &t.eom, &t.unk, &t.pad, &t.sep, &t.cls, &t.mask,
		&t.fimPre, &t.fimSuf, &t.fimMid, &t.fimPad, &t.fimRep, &t.fimSep} {
		if *p >= n {
			*p = -1
		}
	}
	for b := 0; b < 256; b++ {
		t.byteTok[b] = -1
		if id, ok := t.toID[byteTokenName(byte(b))]; ok {
			t.byteTok[b] = id
		} else if id, ok := t.toID[string([]byte{byte(b)})]; ok {
			t.byteTok[b] = id
		}
	}
	t.detectSpecials()
	t.specials = t.specials[:0]
	for id, ty := range t.types {
		if ty == TypeControl || ty == TypeUserDefined || ty == TypeUnknown {
			if t.pieces[id] != "" {
				t.specials = append(t.specials, id)
			}
		}
	}
	sort.SliceStable(t.specials, func(i, j int) bool {
		return len(t.pieces[t.specials[i]]) > len(t.pieces[t.specials[j]])
	})
	t.computeTokenBytes()
	t.computeSpaceSplits()
	return nil
}

func byteTokenName(b byte) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{'<', '0', 'x', hex[b>>4], hex[b&15], '>'})
}

// detectSpecials finds EOT, EOM and FIM tokens by their text when the vocabulary
// does not declare them, and builds the end-of-generation set, as llama.cpp does.
func (t *Tokenizer) detectSpecials() {
	markControl := func(id int) {
		if t.types[id] != TypeControl {
			t.types[id] = TypeControl
		}
	}
	find := func(dst *int, names ...string) {
		if *dst >= 0 {
			return
		}
		for _, name := range names {
			if id, ok := t.toID[name]; ok {
				*dst = id
				markControl(id)
				return
			}
		}
	}
	find(&t.eot, "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>")
	find(&t.eom, "<|eom_id|>")
	find(&t.fimPre, "<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>")
	find(&t.fimSuf, "<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>")
	find(&t.fimMid, "<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>")
	find(&t.fimPad, "<|fim_pad|>", "<fim-pad>", "<PAD>")
	find(&t.fimRep, "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>")
	find(&t.fimSep, "<|file_sep|>")

	t.eog = map[int]bool{}
	for _, id := range []int{t.fimPad, t.fimRep, t.fimSep} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	for _, name := range []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>"} {
		if id, ok := t.toID[name]; ok {
			t.eog[id] = true
			markControl(id)
		}
	}
	// gpt-oss's harmony markers: llama.cpp always renders these (they are
	// what its chat parser reads)
	for _, name := range []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"} {
		if id, ok := t.toID[name]; ok {
			t.types[id] = TypeUserDefined
		}
	}
	for _, id := range []int{t.eos, t.eot, t.eom} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	// harmony (o200k_harmony): <|end|> ends a message, not the reply, which
	// <|return|> or <|call|> ends; llama.cpp drops <|end|> from the
	// end-of-generation set when all three are in it, and renders it
	t.harmonyEnd()
}

// harmonyEnd takes <|end|> out of the end-of-generation tokens, and makes
// it rendered text, when <|return|> and <|call|> are in them (gpt-oss), as
// llama.cpp does.
func (t *Tokenizer) harmonyEnd() {
	ret, okR := t.toID["<|return|>"]
	call, okC := t.toID["<|call|>"]
	end, okE := t.toID["<|end|>"]
	if okR && okC && okE && t.eog[ret] && t.eog[call] && t.eog[end] {
		delete(t.eog, end)
		t.types[end] = TypeUserDefined
	}
}

// fragment is a piece of the input: raw text (id < 0) or one special token.
type fragment struct {
	text string
	id   int
}

func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// partition splits text on special-token strings, longest first, as llama.cpp's
// tokenizer_st_partition: control and unknown tokens only when parseSpecial,
// user-defined tokens always.
func (t *Tokenizer) partition(dst []fragment, text string, parseSpecial bool) []fragment {
	dst = append(dst[:0], fragment{text: text, id: -1})
	for _, id := range t.specials {
		ty := t.types[id]
		if !parseSpecial && (ty == TypeControl || ty == TypeUnknown) {
			continue
		}
		piece := t.pieces[id]
		if !strings.Contains(text, piece) {
			continue
		}
		var out []fragment
		for _, f := range dst {
			if f.id >= 0 || !strings.Contains(f.text, piece) {
				out = append(out, f)
				continue
			}
			s := f.text
			for {
				i := strings.Index(s, piece)
				if i < 0 {
					if s != "" {
						out = append(out, fragment{text: s, id: -1})
					}
					break
				}
				left := s[:i]
				if t.strip[id]&attrLStrip != 0 {
					for len(left) > 0 && isCSpace(left[len(left)-1]) {
						left = left[:len(left)-1]
					}
				}
				if left != "" {
					out = append(out, fragment{text: left, id: -1})
				}
				out = append(out, fragment{id: id})
				s = s[i+len(piece):]
				if t.strip[id]&attrRStrip != 0 {
					for len(s) > 0 && isCSpace(s[0]) {
						s = s[1:]
					}
				}
			}
		}
		dst = out
	}
	return dst
}

// Encode tokenizes text.
func (t *Tokenizer) Encode(text string, opt EncodeOptions) []int {
	out := make([]int, 0, len(text)/3+2)
	return t.AppendEncode(out, text, opt)
}

// EncodeDefault tokenizes text with the vocabulary's own BOS/EOS flags, special
// tokens not parsed.
func (t *Tokenizer) EncodeDefault(text string) []int {
	return t.Encode(text, EncodeOptions{AddBOS: t.addBOS, AddEOS: t.addEOS})
}

// AppendEncode tokenizes text and appends the ids to dst.
func (t *Tokenizer) AppendEncode(dst []int, text string, opt EncodeOptions) []int {
	var frags []fragment
	if text != "" {
		if len(t.specials) == 0 {
			frags = []fragment{{text: text, id: -1}}
		} else {
			frags = t.partition(nil, text, opt.ParseSpecial)
		}
	}
	switch t.model {
	case ModelSPM:
		if opt.AddBOS && t.bos >= 0 {
			dst = append(dst, t.bos)
		}
		prevSpecial := true
		st := t.getSPMState()
		defer t.spmPool.Put(st)
		for _, f := range frags {
			if f.id >= 0 {
				dst = append(dst, f.id)
				prevSpecial = true
				continue
			}
			dst = t.encodeSPM(st, dst, f.text, t.addSpacePrefix && prevSpecial)
			prevSpecial = false
		}
		if opt.AddEOS && t.eos >= 0 {
			dst = append(dst, t.eos)
		}
	case ModelWPM:
		if opt.AddBOS {
			if id := t.firstValid(t.cls, t.bos); id >= 0 {
				dst = append(dst, id)
			}
		}
		for _, f := range frags {
			if f.id >= 0 {
				dst = append(dst, f.id)
				continue
			}
			dst = t.encodeWPM(dst, f.text)
		}
		if opt.AddEOS {
			if id := t.firstValid(t.sep, t.eos); id >= 0 {
				dst = append(dst, id)
			}
		}
	default:
		if opt.AddBOS && t.bos >= 0 {
			dst = append(dst, t.bos)
		}
		for _, f := range frags {
			if f.id >= 0 {
				dst = append(dst, f.id)
				continue
			}
			dst = t.bpe.Encode(dst, f.text)
		}
		if opt.AddEOS && t.eos >= 0 {
			dst = append(dst, t.eos)
		}
	}
	return dst
}

func (t *Tokenizer) firstValid(ids ...int) int {
	for _, id := range ids {
		if t.valid(id) {
			return id
		}
	}
	return -1
}

// Decode turns ids back into text exactly as llama.cpp's llama_detokenize with
// remove_special and unparse_special off and no space clean-up: control and
// unknown tokens give nothing, and when the vocabulary adds a space prefix the
// first token loses one leading space. The result may be invalid UTF-8 when the
// ids split a character. Ids outside the vocabulary are skipped.
func (t *Tokenizer) Decode(ids []int) string {
	return t.DecodeWith(ids, DecodeOptions{})
}

// DecodeWith decodes ids with explicit options (see DecodeOptions).
func (t *Tokenizer) DecodeWith(ids []int, opt DecodeOptions) string {
	removeSpace := t.addSpacePrefix
	if opt.RemoveSpecial && t.addBOS && len(ids) > 0 && ids[0] == t.bos {
		removeSpace = false
		ids = ids[1:]
	}
	if opt.RemoveSpecial && t.addEOS && len(ids) > 0 && ids[len(ids)-1] == t.eos {
		ids = ids[:len(ids)-1]
	}
	var buf []byte
	for i, id := range ids {
		buf = t.appendPiece(buf, id, i == 0 && removeSpace, opt.Special)
	}
	if opt.CleanSpaces {
		buf = cleanSpaces(buf)
	}
	return string(buf)
}

// appendPiece appends the rendering of one token, dropping one leading space when stripSpace.
func (t *Tokenizer) appendPiece(dst []byte, id int, stripSpace, special bool) []byte {
	p := t.pieceBytes(id, special)
	if stripSpace && len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	return append(dst, p...)
}

// cleanSpaces applies llama.cpp's detokenizer clean-up: no space before ? ! . ,
// no spaces around a lone apostrophe, and no space before 's 'm 're 've.
func cleanSpaces(b []byte) []byte {
	out := b[:0:0]
	for i, x := range b {
		if i > 0 && b[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			out = out[:len(out)-1]
		}
		out = append(out, x)
	}
	b = out
	out = b[:0:0]
	for i := 0; i < len(b); i++ {
		x := b[i]
		if i > 0 && x == '\'' && i+1 < len(b) && b[i-1] == ' ' && b[i+1] == ' ' {
			out = out[:len(out)-1]
			out = append(out, x)
			i++ // drop the following space
			continue
		}
		out = append(out, x)
	}
	b = out
	out = b[:0:0]
	for i, x := range b {
		if i > 0 && b[i-1] == ' ' && x == '\'' && i+1 < len(b) {
			x1 := b[i+1]
			switch {
			case x1 == 's' || x1 == 'm':
				out = out[:len(out)-1]
			case i+2 < len(b) && ((x1 == 'r' && b[i+2] == 'e') || (x1 == 'v' && b[i+2] == 'e')):
				out = out[:len(out)-1]
			}
		}
		out = append(out, x)
	}
	return out
}

// Decoder decodes a stream of token ids incrementally, holding back a UTF-8
// character split across tokens until it is complete.
type Decoder struct {
	t       *Tokenizer
	pending []byte
	strip   bool // the next token loses one leading space
	// afterBOS: strip the token that follows every BOS (continuation decoding);
	// otherwise only the first token is stripped (llama_detokenize).
	afterBOS bool
	special  bool
}

// NewDecoder returns an incremental decoder. Concatenating every Add result and
// the final Flush gives Decode of the same ids.
func (t *Tokenizer) NewDecoder() *Decoder { return &Decoder{t: t, strip: t.addSpacePrefix} }

// NewSpecialDecoder returns an incremental decoder that renders control tokens as their text.
func (t *Tokenizer) NewSpecialDecoder() *Decoder {
	return &Decoder{t: t, strip: t.addSpacePrefix, special: true}
}

// NewDecoderAfter returns an incremental decoder for tokens that continue the
// token prev (-1 when nothing precedes them), such as a generation continuing
// its prompt. A SentencePiece space prefix belongs to the text except where
// the text begins: a token keeps its leading space (" saw") unless it follows
// BOS or nothing, where it loses it ("Once"), as llama2.c's run.c and the
// SentencePiece decoder print it. (llama.cpp agrees everywhere except right
// after BOS, where its token_to_piece keeps the space.) Every output path of a
// generation (its text, trace and log-probabilities) renders tokens this way;
// see TokenBytesAfter.
func (t *Tokenizer) NewDecoderAfter(prev int) *Decoder {
	return &Decoder{t: t, strip: t.startsText(prev), afterBOS: true}
}

// NewSpecialDecoderAfter is NewDecoderAfter rendering control tokens as their
// text (markers such as [TOOL_CALLS] or <|python_tag|> that a reply parser
// reads).
func (t *Tokenizer) NewSpecialDecoderAfter(prev int) *Decoder {
	d := t.NewDecoderAfter(prev)
	d.special = true
	return d
}

// StartsText reports whether a token that follows prev (-1: nothing) begins
// the text and so loses the SentencePiece space prefix: TokenBytesAfter(prev,
// id) is then TokenBytes(id) without one leading space.
func (t *Tokenizer) StartsText(prev int) bool { return t.startsText(prev) }

// startsText reports whether a token that follows prev begins the text and so
// loses the space prefix the encoder added.
func (t *Tokenizer) startsText(prev int) bool {
	return t.addSpacePrefix && (prev < 0 || (prev == t.bos && t.bos >= 0))
}

// TokenBytesAfter returns the bytes id adds to a text when it follows the token
// prev (-1 when nothing precedes it): TokenBytes without the SentencePiece
// space prefix where the text begins, exactly as a decoder made by
// NewDecoderAfter(prev) renders it. Log-probability entries use it so that
// their tokens spell the generated text. The result must not be modified.
func (t *Tokenizer) TokenBytesAfter(prev, id int) []byte {
	b := t.TokenBytes(id)
	if t.startsText(prev) && len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

// Add decodes one more token and returns the text that is now complete. Bytes
// that start a valid but unfinished UTF-8 sequence are held; bytes that can
// never form a valid character are returned as they are, so no byte is lost.
func (d *Decoder) Add(id int) string {
	d.pending = d.t.appendPiece(d.pending, id, d.strip, d.special)
	d.strip = d.afterBOS && d.t.startsText(id)
	n := completePrefix(d.pending)
	s := string(d.pending[:n])
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return s
}

// Flush returns the held bytes (an unfinished UTF-8 sequence) and resets the hold.
func (d *Decoder) Flush() string {
	s := string(d.pending)
	d.pending = d.pending[:0]
	return s
}

// completePrefix returns the length of b without a trailing unfinished but
// still completable UTF-8 sequence.
func completePrefix(b []byte) int {
	for k := 1; k <= utf8.UTFMax && k <= len(b); k++ {
		i := len(b) - k
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			return len(b)
		}
	}
	return len(b)
}
