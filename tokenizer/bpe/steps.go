package bpe

import (
	"github.com/dlclark/regexp2"
)

// step splits the code points [lo, hi) of a scratch text into consecutive
// pieces, appending the end of each piece to out.
type step interface {
	segments(sc *scratch, lo, hi int32, out []seg) []seg
}

// segEmitter appends non-empty pieces.
type segEmitter struct {
	out  []seg
	prev int32
}

func (e *segEmitter) emit(end int32, match bool) {
	if end > e.prev {
		e.out = append(e.out, seg{end, match})
		e.prev = end
	}
}

// gpt2Step is the GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// written out by hand (the final |\s+ changes nothing: a lone unmatched
// white-space character becomes its own piece either way).
type gpt2Step struct{}

func (gpt2Step) segments(sc *scratch, lo, hi int32, out []seg) []seg {
	r, f := sc.runes, sc.fl
	e := segEmitter{out: out, prev: lo}
	const lns = fLetter | fNumber | fSpace
	for pos := lo; pos < hi; {
		c := r[pos]
		if c == '\'' && pos+1 < hi {
			n := r[pos+1]
			if n == 's' || n == 't' || n == 'm' || n == 'd' {
				pos += 2
				e.emit(pos, true)
				continue
			}
			if pos+2 < hi {
				nn := r[pos+2]
				if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
					pos += 3
					e.emit(pos, true)
					continue
				}
			}
		}
		q := pos
		if c == ' ' {
			q = pos + 1
		}
		if q < hi {
			var want cflags
			switch {
			case f[q]&fLetter != 0:
				want = fLetter
			case f[q]&fNumber != 0:
				want = fNumber
			}
			if want != 0 {
				q++
				for q < hi && f[q]&want != 0 {
					q++
				}
				pos = q
				e.emit(pos, true)
				continue
			}
			if f[q]&lns == 0 {
				q++
				for q < hi && f[q]&lns == 0 {
					q++
				}
				pos = q
				e.emit(pos, true)
				continue
			}
		}
		n := int32(0)
		for pos+n < hi && f[pos+n]&fSpace != 0 {
			n++
		}
		switch {
		case n > 1 && pos+n < hi:
			pos += n - 1
		case n > 0:
			pos += n
		default:
			pos++
		}
		e.emit(pos, true)
	}
	return e.out
}

// llama3Step is the Llama 3 pattern (maxDigits 3) and the Qwen2 one
// (maxDigits 1):
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
type llama3Step struct{ maxDigits int32 }

func asciiLower(c rune) rune {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (s llama3Step) segments(sc *scratch, lo, hi int32, out []seg) []seg {
	r, f := sc.runes, sc.fl
	e := segEmitter{out: out, prev: lo}
	const lns = fLetter | fNumber | fSpace
	for pos := lo; pos < hi; {
		c := r[pos]
		fc := f[pos]
		if c == '\'' && pos+1 < hi {
			n := asciiLower(r[pos+1])
			if n == 's' || n == 't' || n == 'm' || n == 'd' {
				pos += 2
				e.emit(pos, true)
				continue
			}
			if pos+2 < hi {
				nn := asciiLower(r[pos+2])
				if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
					pos += 3
					e.emit(pos, true)
					continue
				}
			}
		}
		if c != '\r' && c != '\n' && fc&fNumber == 0 {
			if fc&fLetter != 0 || (pos+1 < hi && f[pos+1]&fLetter != 0) {
				pos++
				for pos < hi && f[pos]&fLetter != 0 {
					pos++
				}
				e.emit(pos, true)
				continue
			}
		}
		if fc&fNumber != 0 {
			ini := pos
			for pos < hi && f[pos]&fNumber != 0 {
				pos++
				if pos-ini >= s.maxDigits {
					e.emit(pos, true)
					ini = pos
				}
			}
			e.emit(pos, true)
			continue
		}
		q := pos
		if c == ' ' {
			q = pos + 1
		}
		if q < hi && f[q]&lns == 0 {
			q++
			for q < hi && f[q]&lns == 0 {
				q++
			}
			for q < hi && (r[q] == '\r' || r[q] == '\n') {
				q++
			}
			pos = q
			e.emit(pos, true)
			continue
		}
		n := int32(0)
		lastNL := int32(-1)
		for pos+n < hi && f[pos+n]&fSpace != 0 {
			if c2 := r[pos+n]; c2 == '\r' || c2 == '\n' {
				lastNL = pos + n + 1
			}
			n++
		}
		switch {
		case lastNL >= 0:
			pos = lastNL
		case n > 1 && pos+n < hi:
			pos += n - 1
		case n > 0:
			pos += n
		default:
			pos++
		}
		e.emit(pos, true)
	}
	return e.out
}

// classStep isolates code points of a class: each one alone (single), or
// maximal runs of them.
type classStep struct {
	class  cflags
	single bool
}

func (s classStep) segments(sc *scratch, lo, hi int32, out []seg) []seg {
	f := sc.fl
	e := segEmitter{out: out, prev: lo}
	for pos := lo; pos < hi; {
		if f[pos]&s.class == 0 {
			for pos < hi && f[pos]&s.class == 0 {
				pos++
			}
			e.emit(pos, false)
			continue
		}
		pos++
		if !s.single {
			for pos < hi && f[pos]&s.class != 0 {
				pos++
			}
		}
		e.emit(pos, true)
	}
	return e.out
}

// predStep makes every code point for which pred holds a match of its own
// (the Hugging Face "character predicate" pattern).
type predStep struct{ pred func(r rune, f cflags) bool }

func (s predStep) segments(sc *scratch, lo, hi int32, out []seg) []seg {
	e := segEmitter{out: out, prev: lo}
	for pos := lo; pos < hi; pos++ {
		if s.pred(sc.runes[pos], sc.fl[pos]) {
			e.emit(pos, false)
			e.emit(pos+1, true)
		}
	}
	e.emit(hi, false)
	return e.out
}

// literalStep matches a literal string (non-overlapping, left to right).
type literalStep struct{ lit []rune }

func (s literalStep) segments(sc *scratch, lo, hi int32, out []seg) []seg {
	e := segEmitter{out: out, prev: lo}
	n := int32(len(s.lit))
	if n == 0 {
		e.emit(hi, false)
		return e.out
	}
	for pos := lo; pos+n <= hi; {
		ok := true
		for i := int32(0); i < n; i++ {
			if sc.runes[pos+i] != s.lit[i] {
				ok = false
				break
			}
		}
		if !ok {
			pos++
			continue
		}
		e.emit(pos, false)
		pos += n
		e.emit(pos, true)
	}
	e.emit(hi, false)
	return e.out
}

// regexStep runs a regexp2 pattern. With wide set, non-ASCII white space is
// first replaced by U+000B, as llama.cpp does before running a pattern that
// names no Unicode class.
type regexStep struct {
	re   *regexp2.Regexp
	wide bool
}

func (s regexStep) segments(sc *scratch, lo, hi int32, out []seg) []seg {
	e := segEmitter{out: out, prev: lo}
	rs := sc.runes[lo:hi]
	if s.wide {
		sc.wide = append(sc.wide[:0], rs...)
		for i, c := range sc.wide {
			if c > 0x7F && sc.fl[lo+int32(i)]&fSpace != 0 {
				sc.wide[i] = 0x0B
			}
		}
		rs = sc.wide
	}
	m, err := s.re.FindRunesMatch(rs)
	for err == nil && m != nil {
		if m.Length > 0 {
			e.emit(lo+int32(m.Index), false)
			e.emit(lo+int32(m.Index+m.Length), true)
		}
		m, err = s.re.FindNextMatch(m)
	}
	e.emit(hi, false)
	return e.out
}
