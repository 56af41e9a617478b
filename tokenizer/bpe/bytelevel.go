// Package bpe implements byte-level BPE (the GPT-2 scheme used by Llama 3,
// Qwen2/3, GPT-2, StarCoder, Falcon, MPT, DeepSeek and others): the
// pre-tokenizers of llama.cpp and of Hugging Face tokenizer.json files, rank
// ordered merging over byte symbols, and a deterministic trainer that writes
// tokenizer.json files.
//
// Vocabularies use the GPT-2 "byte to unicode" form, in which every byte is
// shown as a printable character (a space is "Ġ", a newline "Ċ").
package bpe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// byteChar maps a byte to its printable GPT-2 character; charByte is the
// inverse (indexed by rune, valid where charOK is set).
var (
	byteChar [256]rune
	byteStr  [256]string
	charByte [324]byte
	charOK   [324]bool
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		r := rune(b)
		if !printable {
			r = rune(256 + n)
			n++
		}
		byteChar[b] = r
		byteStr[b] = string(r)
		charByte[r] = byte(b)
		charOK[r] = true
	}
}

// BytesToUnicode returns b in GPT-2 byte-level form: each byte becomes one
// printable character (for example a space becomes "Ġ").
func BytesToUnicode(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) * 2)
	for _, c := range b {
		sb.WriteString(byteStr[c])
	}
	return sb.String()
}

// bytesToUnicodeString is BytesToUnicode for a string argument.
func bytesToUnicodeString(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		sb.WriteString(byteStr[s[i]])
	}
	return sb.String()
}

// UnicodeToBytes inverts BytesToUnicode. It fails on a character that is not
// part of the GPT-2 byte alphabet, naming it and its position.
func UnicodeToBytes(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return nil, fmt.Errorf("bpe: invalid UTF-8 at byte %d of %q", i, s)
			}
		}
		if r < 0 || int(r) >= len(charOK) || !charOK[r] {
			return nil, fmt.Errorf("bpe: character %q (U+%04X) at byte %d of %q is not in the GPT-2 byte-level alphabet", r, r, i, s)
		}
		out = append(out, charByte[r])
	}
	return out, nil
}
