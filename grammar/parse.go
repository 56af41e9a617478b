// Package grammar constrains generation to a formal language written in GBNF,
// the grammar notation of llama.cpp, and converts JSON Schemas to GBNF.
//
// Parse reads a grammar; a Matcher follows the text generated so far through
// every parse the grammar allows (a set of parse stacks, advanced one Unicode
// character at a time, with characters split across tokens held until they
// complete) and tells which tokens of a vocabulary can continue a valid text,
// working on the bytes each token adds to the text, so that any tokenizer
// (SentencePiece, byte-level BPE) fits. End-of-generation tokens are allowed
// only where the text is a complete sentence of the grammar.
//
// GBNF, as llama.cpp writes it:
//
//	# a comment
//	root   ::= object
//	object ::= "{" ws ( pair ( "," ws pair )* )? "}"
//	pair   ::= string ":" ws value
//	digit  ::= [0-9]
//	name   ::= [a-zA-Z_] [a-zA-Z0-9_]{0,15}
//	ws     ::= [ \t\n]*
//
// A rule is a name, "::=" and alternatives separated by "|"; an alternative
// is a sequence of string literals ("..."), character classes ([...], [^...]
// with ranges a-z), "." (any character), rule names and parenthesised groups,
// each optionally followed by *, +, ?, {m}, {m,} or {m,n}. Literals and
// classes take the escapes \n \r \t \\ \" \[ \] \- \^ \xHH \uHHHH and
// \UHHHHHHHH. A rule ends at the end of its line unless a group is open or
// the line ends with "|"; a following line that starts with "|" adds
// alternatives to it. Generation starts at the rule named root.
package grammar

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxRepeat bounds the counts of {m,n} repetitions, and maxElements the size
// of a compiled grammar, so that a small hostile grammar cannot make Parse
// allocate without bound.
const (
	maxRepeat   = 10000
	maxElements = 1 << 20
)

// Kinds of compiled elements.
const (
	kindEnd  = iota // end of an alternative
	kindChar        // one character from a class
	kindRef         // a reference to a rule
)

// span is an inclusive range of code points.
type span struct{ lo, hi rune }

// elem is one element of a compiled alternative.
type elem struct {
	kind  uint8
	neg   bool      // kindChar: the class is negated ([^...])
	ascii [2]uint64 // kindChar: which ASCII characters match (negation applied)
	spans []span    // kindChar: sorted, merged ranges (before negation)
	rule  int32     // kindRef: the rule referenced
}

// Grammar is a parsed GBNF grammar, compiled for matching. It is immutable
// and safe for concurrent use by many Matchers.
type Grammar struct {
	src   string
	names []string  // rule names; generated rules are named after their parent
	alts  [][]int32 // per rule, the index in elems of each alternative's first element
	elems []elem
	root  int32
}

// Rules returns the number of rules, the generated ones for groups and
// repetitions included.
func (g *Grammar) Rules() int { return len(g.names) }

// Source returns the text the grammar was parsed from.
func (g *Grammar) Source() string { return g.src }

// SyntaxError is a grammar that cannot be parsed or used: Line and Col (1
// based, columns counted in characters) say where.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("grammar: %d:%d: %s", e.Line, e.Col, e.Msg)
}

// item is one element of a rule while parsing.
type item struct {
	kind  uint8
	neg   bool
	spans []span
	rule  int
}

// ruleDef is a rule while parsing.
type ruleDef struct {
	name    string
	alts    [][]item
	defined bool
	at      int // offset of the first reference, or of the definition
	owner   int // for a generated rule, the rule written by the user; else -1
}

type parser struct {
	src   string
	pos   int
	rules []*ruleDef
	index map[string]int
	total int // elements so far, bounded by maxElements
}

// Parse parses a GBNF grammar. Errors are *SyntaxError values naming the
// line and column and what was expected; a grammar whose rules refer to an
// undefined rule, that has no root rule or that is left-recursive (a rule
// that can reach itself without consuming a character, which no parser of
// this kind can run) is an error too.
func Parse(src string) (*Grammar, error) {
	p := &parser{src: src, index: map[string]int{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.compile()
}

func (p *parser) errAt(off int, format string, args ...any) error {
	if off > len(p.src) {
		off = len(p.src)
	}
	line, col := 1, 1
	for _, r := range p.src[:off] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// describe names what is at offset off, for error messages.
func (p *parser) describe(off int) string {
	if off >= len(p.src) {
		return "the end of the grammar"
	}
	r, _ := utf8.DecodeRuneInString(p.src[off:])
	switch r {
	case '\n':
		return "the end of the line"
	case utf8.RuneError:
		return fmt.Sprintf("byte 0x%02X", p.src[off])
	}
	return fmt.Sprintf("%q", r)
}

// skip skips spaces, tabs, comments and, when newlines is set, line breaks.
func (p *parser) skip(newlines bool) {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' && p.src[p.pos] != '\r' {
				p.pos++
			}
		case (c == '\n' || c == '\r') && newlines:
			p.pos++
		default:
			return
		}
	}
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func (p *parser) name() string {
	start := p.pos
	for p.pos < len(p.src) && isWordChar(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// ruleID returns the index of the rule called name, creating it (undefined
// until its definition is read) on first use at offset at.
func (p *parser) ruleID(name string, at int) int {
	if id, ok := p.index[name]; ok {
		return id
	}
	p.rules = append(p.rules, &ruleDef{name: name, at: at, owner: -1})
	p.index[name] = len(p.rules) - 1
	return len(p.rules) - 1
}

// newRule creates a generated rule (a group or a repetition) named after parent.
func (p *parser) newRule(parent string, at int) int {
	// "~" cannot appear in a rule name the user writes
	id := p.ruleID(fmt.Sprintf("%s~%d", parent, len(p.rules)), at)
	p.rules[id].defined = true
	p.rules[id].owner = p.index[parent]
	return id
}

func (p *parser) parse() error {
	p.skip(true)
	if p.pos >= len(p.src) {
		return p.errAt(p.pos, "the grammar is empty: expected a rule such as root ::= \"yes\" | \"no\"")
	}
	for p.pos < len(p.src) {
		at := p.pos
		name := p.name()
		if name == "" {
			return p.errAt(at, "expected a rule name, found %s", p.describe(at))
		}
		p.skip(false)
		if !strings.HasPrefix(p.src[p.pos:], "::=") {
			return p.errAt(p.pos, "expected ::= after the rule name %q, found %s", name, p.describe(p.pos))
		}
		p.pos += 3
		p.skip(true)
		id := p.ruleID(name, at)
		r := p.rules[id]
		if r.defined {
			return p.errAt(at, "rule %q is defined twice", name)
		}
		r.defined, r.at = true, at
		alts, err := p.alternatives(name, false)
		if err != nil {
			return err
		}
		r.alts = alts
		// the rule ends at a line break (or the end of the grammar)
		if p.pos < len(p.src) && p.src[p.pos] != '\n' && p.src[p.pos] != '\r' {
			return p.errAt(p.pos, "expected the end of the line after rule %q, found %s", name, p.describe(p.pos))
		}
		p.skip(true)
	}
	for _, r := range p.rules {
		if !r.defined {
			return p.errAt(r.at, "undefined rule %q: expected a definition such as %s ::= ...", r.name, r.name)
		}
	}
	if _, ok := p.index["root"]; !ok {
		return p.errAt(0, "no rule named root: generation starts at root ::= ...")
	}
	return nil
}

// alternatives parses "seq | seq | ..." up to a ")" (nested) or the end of
// the line (top level).
func (p *parser) alternatives(rule string, nested bool) ([][]item, error) {
	var alts [][]item
	for {
		seq, err := p.sequence(rule, nested)
		if err != nil {
			return nil, err
		}
		alts = append(alts, seq)
		if p.pos < len(p.src) && p.src[p.pos] == '|' {
			p.pos++
			p.skip(true)
			continue
		}
		if !nested {
			// a following line starting with "|" continues the rule
			save := p.pos
			p.skip(true)
			if p.pos < len(p.src) && p.src[p.pos] == '|' {
				p.pos++
				p.skip(true)
				continue
			}
			p.pos = save
		}
		return alts, nil
	}
}

// sequence parses the elements of one alternative.
func (p *parser) sequence(rule string, nested bool) ([]item, error) {
	var seq []item
	last := -1 // start in seq of the last element, for repetitions
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		at := p.pos
		switch {
		case c == '"':
			p.pos++
			last = len(seq)
			for {
				if p.pos >= len(p.src) || p.src[p.pos] == '\n' || p.src[p.pos] == '\r' {
					return nil, p.errAt(at, "unterminated string literal: expected a closing \"")
				}
				if p.src[p.pos] == '"' {
					p.pos++
					break
				}
				r, err := p.char()
				if err != nil {
					return nil, err
				}
				seq = append(seq, item{kind: kindChar, spans: []span{{r, r}}})
			}
		case c == '[':
			p.pos++
			last = len(seq)
			it := item{kind: kindChar}
			if p.pos < len(p.src) && p.src[p.pos] == '^' {
				it.neg = true
				p.pos++
			}
			for {
				if p.pos >= len(p.src) || p.src[p.pos] == '\n' || p.src[p.pos] == '\r' {
					return nil, p.errAt(at, "unterminated character class: expected a closing ]")
				}
				if p.src[p.pos] == ']' {
					p.pos++
					break
				}
				lo, err := p.char()
				if err != nil {
					return nil, err
				}
				hi := lo
				if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
					p.pos++
					rat := p.pos
					if hi, err = p.char(); err != nil {
						return nil, err
					}
					if hi < lo {
						return nil, p.errAt(rat, "character range %q-%q goes backwards: expected the smaller character first", lo, hi)
					}
				}
				it.spans = append(it.spans, span{lo, hi})
			}
			if len(it.spans) == 0 && !it.neg {
				return nil, p.errAt(at, "empty character class [] matches nothing: expected at least one character")
			}
			seq = append(seq, it)
		case c == '.':
			p.pos++
			last = len(seq)
			seq = append(seq, item{kind: kindChar, neg: true}) // [^] : any character
		case c == '(':
			p.pos++
			p.skip(true)
			id := p.newRule(rule, at)
			alts, err := p.alternatives(rule, true)
			if err != nil {
				return nil, err
			}
			if p.pos >= len(p.src) || p.src[p.pos] != ')' {
				return nil, p.errAt(p.pos, "expected ) to close the group opened at %s, found %s", p.lineCol(at), p.describe(p.pos))
			}
			p.pos++
			p.rules[id].alts = alts
			last = len(seq)
			seq = append(seq, item{kind: kindRef, rule: id})
		case isWordChar(c):
			name := p.name()
			if strings.HasPrefix(strings.TrimLeft(p.src[p.pos:], " \t"), "::=") {
				if nested {
					return nil, p.errAt(at, "expected ) to close a group before the definition of %q", name)
				}
				return nil, p.errAt(at, "expected the end of the line before the definition of %q", name)
			}
			last = len(seq)
			seq = append(seq, item{kind: kindRef, rule: p.ruleID(name, at)})
		case c == '*' || c == '+' || c == '?' || c == '{':
			if last < 0 {
				return nil, p.errAt(at, "%q must follow an element to repeat", c)
			}
			var err error
			if seq, err = p.repeat(rule, seq, last); err != nil {
				return nil, err
			}
		case c == '<':
			return nil, p.errAt(at, "token references (<...>) are not supported: expected a literal, a class, a rule name or a group")
		default:
			if c == '|' || c == ')' || c == '\n' || c == '\r' {
				return seq, nil
			}
			return nil, p.errAt(at, "expected a literal, a class, a rule name, a group or a repetition, found %s", p.describe(at))
		}
		p.skip(nested)
		if p.total += len(seq); p.total > maxElements {
			return nil, p.errAt(at, "the grammar is too large (over %d elements once repetitions are expanded)", maxElements)
		}
	}
	return seq, nil
}

func (p *parser) lineCol(off int) string {
	e := p.errAt(off, "").(*SyntaxError)
	return fmt.Sprintf("%d:%d", e.Line, e.Col)
}

// repeat applies the repetition operator at p.pos to seq[last:].
func (p *parser) repeat(rule string, seq []item, last int) ([]item, error) {
	at := p.pos
	c := p.src[p.pos]
	p.pos++
	lo, hi := 0, -1 // hi -1: unbounded
	switch c {
	case '*':
	case '+':
		lo = 1
	case '?':
		hi = 1
	case '{':
		p.skip(false)
		n, ok := p.number()
		if !ok {
			return nil, p.errAt(p.pos, "expected a number after {, found %s", p.describe(p.pos))
		}
		lo, hi = n, n
		p.skip(false)
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			p.skip(false)
			hi = -1
			if m, ok := p.number(); ok {
				hi = m
			}
			p.skip(false)
		}
		if p.pos >= len(p.src) || p.src[p.pos] != '}' {
			return nil, p.errAt(p.pos, "expected } to close the repetition, found %s", p.describe(p.pos))
		}
		p.pos++
		if lo > maxRepeat || hi > maxRepeat {
			return nil, p.errAt(at, "repetition count over %d", maxRepeat)
		}
		if hi >= 0 && hi < lo {
			return nil, p.errAt(at, "repetition {%d,%d}: expected the minimum first", lo, hi)
		}
	}
	body := append([]item(nil), seq[last:]...)
	seq = seq[:last]
	if len(body)*(lo+max(hi, 1)) > maxElements {
		return nil, p.errAt(at, "the grammar is too large once this repetition is expanded")
	}
	for range lo {
		seq = append(seq, body...)
	}
	switch {
	case hi < 0:
		// star ::= body star |
		id := p.newRule(rule, at)
		p.rules[id].alts = [][]item{append(append([]item(nil), body...), item{kind: kindRef, rule: id}), nil}
		seq = append(seq, item{kind: kindRef, rule: id})
	case hi > lo:
		// opt_k ::= body opt_{k-1} | ;  opt_1 ::= body |
		next := -1
		for k := 1; k <= hi-lo; k++ {
			id := p.newRule(rule, at)
			a := append([]item(nil), body...)
			if next >= 0 {
				a = append(a, item{kind: kindRef, rule: next})
			}
			p.rules[id].alts = [][]item{a, nil}
			next = id
		}
		seq = append(seq, item{kind: kindRef, rule: next})
	}
	return seq, nil
}

func (p *parser) number() (int, bool) {
	start := p.pos
	n := 0
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		if n <= maxRepeat {
			n = n*10 + int(p.src[p.pos]-'0')
		}
		p.pos++
	}
	return n, p.pos > start
}

// char reads one character of a literal or class, escapes included.
func (p *parser) char() (rune, error) {
	at := p.pos
	if p.src[p.pos] != '\\' {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if r == utf8.RuneError && n <= 1 {
			return 0, p.errAt(at, "invalid UTF-8 (byte 0x%02X): expected text", p.src[p.pos])
		}
		p.pos += n
		return r, nil
	}
	if p.pos+1 >= len(p.src) {
		return 0, p.errAt(at, "expected an escaped character after \\")
	}
	e := p.src[p.pos+1]
	p.pos += 2
	switch e {
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case '\\', '"', '[', ']', '-', '^', '/', '\'', '.':
		return rune(e), nil
	case 'x', 'u', 'U':
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
		var v rune
		for i := range n {
			if p.pos >= len(p.src) {
				return 0, p.errAt(at, "\\%c needs %d hexadecimal digits, found %d", e, n, i)
			}
			d := hexDigit(p.src[p.pos])
			if d < 0 {
				return 0, p.errAt(p.pos, "\\%c needs %d hexadecimal digits, found %s", e, n, p.describe(p.pos))
			}
			v = v*16 + rune(d)
			p.pos++
		}
		if v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
			return 0, p.errAt(at, "\\%c%0*X is not a Unicode character", e, n, v)
		}
		return v, nil
	}
	return 0, p.errAt(at, "unknown escape \\%c: expected one of \\n \\r \\t \\\\ \\\" \\[ \\] \\- \\^ \\xHH \\uHHHH \\UHHHHHHHH", e)
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
