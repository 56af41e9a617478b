package glassbox

import "glassbox/grammar"

// CheckGrammar parses a GBNF grammar (GenerateOptions.Grammar) and returns
// the error a generation with it would fail with: a *GrammarError naming the
// line, the column and what was expected, or nil when it can be used.
func CheckGrammar(src string) error {
	_, err := grammar.Parse(src)
	return err
}

// GrammarError is a grammar that cannot be parsed or used; Line and Col say
// where.
type GrammarError = grammar.SyntaxError
