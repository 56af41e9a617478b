package lsp

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Position is a place in a document: a zero-based line and a character
// offset counted in UTF-16 code units (the protocol's default encoding).
type Position struct {
	Line      int `json:"line"`
	Character int `json:"character"`
}

// Range is a span of a document, End excluded.
type Range struct {
	Start Position `json:"start"`
	End   Position `json:"end"`
}

// ContentChange is one change of textDocument/didChange: the whole text when
// Range is nil (full sync), otherwise a replacement of Range (incremental).
type ContentChange struct {
	Range *Range `json:"range,omitempty"`
	Text  string `json:"text"`
}

// offset returns the byte offset of p in text. A character beyond the end
// of its line means the end of the line, as the specification says; a line
// beyond the document is an error.
func offset(text string, p Position) (int, error) {
	if p.Line < 0 || p.Character < 0 {
		return 0, fmt.Errorf("position %d:%d: line and character must be >= 0", p.Line, p.Character)
	}
	start := 0
	for l := 0; l < p.Line; l++ {
		i := strings.IndexByte(text[start:], '\n')
		if i < 0 {
			return 0, fmt.Errorf("position %d:%d: the document has %d lines", p.Line, p.Character, l+1)
		}
		start += i + 1
	}
	end := strings.IndexByte(text[start:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += start
	}
	line := text[start:end]
	line = strings.TrimSuffix(line, "\r")
	units, i := 0, 0
	for i < len(line) && units < p.Character {
		r, n := utf8.DecodeRuneInString(line[i:])
		w := utf16.RuneLen(r)
		if w < 0 {
			w = 1
		}
		if units+w > p.Character {
			break // inside a surrogate pair: stop before the character
		}
		units += w
		i += n
	}
	return start + i, nil
}

// apply returns text with one change made.
func apply(text string, c ContentChange) (string, error) {
	if c.Range == nil {
		return c.Text, nil
	}
	a, err := offset(text, c.Range.Start)
	if err != nil {
		return "", err
	}
	b, err := offset(text, c.Range.End)
	if err != nil {
		return "", err
	}
	if b < a {
		return "", fmt.Errorf("range %d:%d-%d:%d ends before it starts", c.Range.Start.Line, c.Range.Start.Character, c.Range.End.Line, c.Range.End.Character)
	}
	return text[:a] + c.Text + text[b:], nil
}

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if w := utf16.RuneLen(r); w > 0 {
			n += w
		} else {
			n++
		}
	}
	return n
}

// window cuts the text around byte offset at into the prefix (at most
// maxPrefix lines: the cursor's line up to the cursor and the lines before
// it) and the suffix (at most maxSuffix lines: the rest of the cursor's line
// and the lines after it). A limit <= 0 keeps everything.
func window(text string, at, maxPrefix, maxSuffix int) (prefix, suffix string) {
	prefix, suffix = text[:at], text[at:]
	if maxPrefix > 0 {
		if lines := strings.Split(prefix, "\n"); len(lines) > maxPrefix {
			prefix = strings.Join(lines[len(lines)-maxPrefix:], "\n")
		}
	}
	if maxSuffix > 0 {
		if lines := strings.SplitAfter(suffix, "\n"); len(lines) > maxSuffix {
			suffix = strings.Join(lines[:maxSuffix], "")
		}
	}
	return prefix, suffix
}
