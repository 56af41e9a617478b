// Package rewards scores completions of Go code for reinforcement learning
// (glassbox train grpo) without people: does the completion parse, does it
// type-check, does go vet accept it, do its tests pass in a sandboxed go
// test, and what does a user's command say about it.
//
// Every check reads one Go file assembled from the prompt, the completion
// and the record's optional file context (Source): the completion need not
// finish what the prompt started, because the brackets still open at its
// end are closed. For the embedded model's data, a prompt is the start of a
// function of the Go standard library (its first lines), the completion
// the model's next line and the suffix the rest of the function: the check
// is then "does the line fit the function".
package rewards

import (
	"go/scanner"
	"go/token"
	"strings"
)

// Input is what a reward judges: a prompt, the model's completion, and the
// record's optional Go context (File, written before the prompt; Suffix,
// the code that follows the completion, such as the rest of the function)
// and test code (Tests, a _test.go file of the same package).
type Input struct {
	Prompt     string `json:"prompt"`
	Completion string `json:"completion"`
	Suffix     string `json:"suffix,omitempty"`
	File       string `json:"file,omitempty"`
	Tests      string `json:"tests,omitempty"`
}

// DefaultPackage is the package clause given to sources that have none.
const DefaultPackage = "p"

// Source returns the Go file the checks read and the byte offset where the
// completion starts in it:
//
//	[package p\n]  File  [\n]  Prompt  Completion  [\n]  Suffix  \n closers
//
// "package p" is prepended when neither File nor Prompt starts with a
// package clause; a newline separates a non-empty File from the prompt, and
// a non-empty Suffix from a completion that does not end with one; the
// closers are the brackets ( [ { still open at the end of prompt +
// completion + suffix, closed in reverse order, each on its own line (a line comment
// at the end cannot swallow them). A bracket closed by the wrong kind is left
// as it is: the file then fails to parse.
func Source(in Input) (src string, start int) {
	var b strings.Builder
	if !hasPackageClause(in.File + "\n" + in.Prompt) {
		b.WriteString("package " + DefaultPackage + "\n")
	}
	if in.File != "" {
		b.WriteString(in.File)
		if !strings.HasSuffix(in.File, "\n") {
			b.WriteByte('\n')
		}
	}
	b.WriteString(in.Prompt)
	start = b.Len()
	b.WriteString(in.Completion)
	if in.Suffix != "" {
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(in.Suffix)
	}
	body := b.String()
	return body + closers(body), start
}

// hasPackageClause tells whether the first token of src (comments skipped) is
// the keyword package.
func hasPackageClause(src string) bool {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(src)), []byte(src), nil, 0)
	for {
		_, tok, _ := s.Scan()
		switch tok {
		case token.SEMICOLON: // automatic, after a newline
			continue
		case token.PACKAGE:
			return true
		default:
			return false
		}
	}
}

// closers returns "\n" followed by the closing brackets of the ( [ { still
// open at the end of src, innermost first, one a line ("" when none is open).
func closers(src string) string {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(src)), []byte(src), func(token.Position, string) {}, 0)
	var stack []byte
	for {
		_, tok, _ := s.Scan()
		if tok == token.EOF {
			break
		}
		switch tok {
		case token.LPAREN:
			stack = append(stack, ')')
		case token.LBRACK:
			stack = append(stack, ']')
		case token.LBRACE:
			stack = append(stack, '}')
		case token.RPAREN, token.RBRACK, token.RBRACE:
			want := map[token.Token]byte{token.RPAREN: ')', token.RBRACK: ']', token.RBRACE: '}'}[tok]
			if n := len(stack); n > 0 && stack[n-1] == want {
				stack = stack[:n-1]
			}
		}
	}
	if len(stack) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('\n')
	for i := len(stack) - 1; i >= 0; i-- {
		b.WriteByte(stack[i])
		b.WriteByte('\n')
	}
	return b.String()
}

// hasCode tells whether text holds a Go token other than comments and
// automatic semicolons: a completion of blank lines or comments only says
// nothing and scores 0 on every check.
func hasCode(text string) bool {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(text)), []byte(text), func(token.Position, string) {}, 0)
	for {
		_, tok, lit := s.Scan()
		switch {
		case tok == token.EOF:
			return false
		case tok == token.SEMICOLON && lit == "\n":
			continue
		case tok == token.ILLEGAL:
			return true // not a comment: code, however bad
		default:
			return true
		}
	}
}

// packageName returns the package name of a parsed-or-not source ("p" when
// the clause cannot be read).
func packageName(src string) string {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(src)), []byte(src), nil, 0)
	seenPackage := false
	for {
		_, tok, lit := s.Scan()
		switch {
		case tok == token.SEMICOLON && !seenPackage:
			continue
		case tok == token.PACKAGE && !seenPackage:
			seenPackage = true
		case tok == token.IDENT && seenPackage:
			return lit
		default:
			return DefaultPackage
		}
	}
}
