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

// JSONSchemaGrammar converts a JSON Schema to a GBNF grammar for
// GenerateOptions.Grammar, so that the output always parses as JSON and
// validates against the schema (see grammar.FromJSONSchema for the keywords
// supported). An unsupported keyword or a malformed schema is a
// *JSONSchemaError naming it and its JSON Pointer path.
func JSONSchemaGrammar(schema []byte) (string, error) {
	return grammar.FromJSONSchema(schema)
}

// JSONSchemaError is a JSON Schema JSONSchemaGrammar cannot convert.
type JSONSchemaError = grammar.SchemaError

// JSONObjectGrammar returns a grammar for any JSON object, as OpenAI's
// response_format {"type": "json_object"} asks.
func JSONObjectGrammar() string { return grammar.JSONObject() }
