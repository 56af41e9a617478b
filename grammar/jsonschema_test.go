package grammar_test

import (
	"errors"
	"strings"
	"testing"

	"glassbox/grammar"
)

// schemaCases are conformance cases: for each supported keyword, instances
// the schema accepts and instances it rejects.
var schemaCases = []struct {
	name        string
	schema      string
	valid       []string
	invalid     []string
	noGenerate  bool // skip in the sampling test (unbounded output)
}{
	{"type string", `{"type":"string"}`, []string{`"x"`, `""`, `"é\n\u00e9"`}, []string{`1`, `null`, `"a`, "\"\x01\""}, true},
	{"type integer", `{"type":"integer"}`, []string{`0`, `-12`, `42`}, []string{`1.5`, `01`, `"1"`, `-`}, true},
	{"type number", `{"type":"number"}`, []string{`0`, `-1.5`, `2e10`, `3.25E-2`}, []string{`.5`, `1.`, `+1`, `NaN`}, true},
	{"type boolean", `{"type":"boolean"}`, []string{`true`, `false`}, []string{`1`, `"true"`, `True`}, false},
	{"type null", `{"type":"null"}`, []string{`null`}, []string{`0`, `""`, `nul`}, false},
	{"type list", `{"type":["integer","null"]}`, []string{`3`, `null`}, []string{`"3"`, `true`}, true},
	{"enum", `{"enum":["red","green",3,null,{"a":[1]}]}`, []string{`"red"`, `"green"`, `3`, `null`, `{"a":[1]}`}, []string{`"blue"`, `4`, `{"a":[2]}`}, false},
	{"const", `{"const":"on"}`, []string{`"on"`}, []string{`"off"`, `on`}, false},
	{"object required and optional", `{"type":"object","properties":{"name":{"type":"string","maxLength":10},"age":{"type":"integer","minimum":0,"maximum":120},"ok":{"type":"boolean"}},"required":["name"]}`,
		[]string{`{"name":"a"}`, `{"name":"a","age":3}`, `{"name":"a","ok":true}`, `{ "name": "bob", "age": 120, "ok": false }`},
		[]string{`{}`, `{"age":3}`, `{"name":"a","age":121}`, `{"name":"a","extra":1}`, `{"name":"a",}`}, false},
	{"object all optional", `{"type":"object","properties":{"a":{"type":"integer","minimum":0,"maximum":9},"b":{"type":"boolean"}}}`,
		[]string{`{}`, `{"a":1}`, `{"b":true}`, `{"a":1,"b":false}`}, []string{`{,"b":true}`, `{"a":1,}`, `{"c":1}`}, false},
	{"additionalProperties schema", `{"type":"object","properties":{"id":{"type":"integer","minimum":1,"maximum":99}},"required":["id"],"additionalProperties":{"type":"boolean"}}`,
		[]string{`{"id":1}`, `{"id":1,"x":true,"y":false}`}, []string{`{"id":1,"x":1}`, `{"x":true}`}, false},
	{"object without properties", `{"type":"object"}`, []string{`{}`, `{"a":[1,{"b":null}]}`}, []string{`[]`, `{"a"}`}, true},
	{"array items", `{"type":"array","items":{"type":"integer","minimum":-5,"maximum":5}}`, []string{`[]`, `[1]`, `[-5,0,5]`}, []string{`[6]`, `[1,]`, `["1"]`}, true},
	{"array minItems maxItems", `{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":3}`,
		[]string{`[true,false]`, `[true,true,true]`}, []string{`[]`, `[true]`, `[true,true,true,true]`}, false},
	{"array maxItems only", `{"type":"array","items":{"enum":[1,2]},"maxItems":2}`, []string{`[]`, `[1]`, `[2,1]`}, []string{`[1,2,1]`, `[3]`}, false},
	{"prefixItems", `{"type":"array","prefixItems":[{"type":"string","maxLength":3},{"type":"integer","minimum":0,"maximum":9}],"items":false}`,
		[]string{`[]`, `["a"]`, `["a",1]`}, []string{`[1]`, `["a",1,2]`, `["a","b"]`}, false},
	{"string lengths", `{"type":"string","minLength":2,"maxLength":4}`, []string{`"ab"`, `"abcd"`, `"日本"`}, []string{`"a"`, `"abcde"`}, false},
	{"format date", `{"type":"string","format":"date"}`, []string{`"2024-02-29"`, `"1999-12-31"`}, []string{`"2024-13-01"`, `"2024-1-01"`, `"x"`}, false},
	{"format time", `{"type":"string","format":"time"}`, []string{`"23:59:59Z"`, `"08:00:00.5+02:00"`}, []string{`"24:00:00Z"`, `"08:00"`}, false},
	{"format date-time", `{"type":"string","format":"date-time"}`, []string{`"2024-02-29T12:30:00Z"`}, []string{`"2024-02-29 12:30:00Z"`}, false},
	{"format uuid", `{"type":"string","format":"uuid"}`, []string{`"123e4567-e89b-12d3-a456-426614174000"`}, []string{`"123e4567e89b12d3a456426614174000"`, `"g23e4567-e89b-12d3-a456-426614174000"`}, false},
	{"format email", `{"type":"string","format":"email"}`, []string{`"a.b@example.com"`}, []string{`"a@b"`, `"@example.com"`}, false},
	{"format ipv4", `{"type":"string","format":"ipv4"}`, []string{`"192.168.0.1"`, `"255.255.255.255"`}, []string{`"256.1.1.1"`, `"1.2.3"`, `"01.2.3.4"`}, false},
	{"integer range", `{"type":"integer","minimum":-15,"maximum":207}`,
		[]string{`-15`, `-9`, `0`, `9`, `10`, `99`, `100`, `199`, `200`, `207`}, []string{`-16`, `208`, `300`, `1000`, `-100`}, false},
	{"integer exclusive", `{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10}`, []string{`1`, `9`}, []string{`0`, `10`}, false},
	{"integer minimum only", `{"type":"integer","minimum":37}`, []string{`37`, `40`, `99`, `100`, `123456`}, []string{`36`, `0`, `-40`}, true},
	{"integer maximum only", `{"type":"integer","maximum":-3}`, []string{`-3`, `-10`, `-999`}, []string{`-2`, `0`, `5`}, true},
	{"number range", `{"type":"number","minimum":-2,"maximum":3}`, []string{`-2`, `-1.5`, `0`, `2.999`, `3`, `3.000`}, []string{`-2.5`, `3.5`, `4`, `-3`}, false},
	{"$defs and $ref", `{"$defs":{"pt":{"type":"object","properties":{"x":{"type":"integer","minimum":0,"maximum":9}},"required":["x"]}},"type":"array","items":{"$ref":"#/$defs/pt"},"maxItems":2}`,
		[]string{`[]`, `[{"x":1},{"x":2}]`}, []string{`[{"y":1}]`, `[{"x":10}]`}, false},
	{"definitions recursion", `{"definitions":{"node":{"type":"object","properties":{"v":{"type":"integer","minimum":0,"maximum":9},"next":{"anyOf":[{"$ref":"#/definitions/node"},{"type":"null"}]}},"required":["v","next"]}},"$ref":"#/definitions/node"}`,
		[]string{`{"v":1,"next":null}`, `{"v":1,"next":{"v":2,"next":null}}`}, []string{`{"v":1}`, `{"v":1,"next":{"v":2}}`}, true},
	{"anyOf", `{"anyOf":[{"type":"integer","minimum":0,"maximum":5},{"type":"string","maxLength":2}]}`, []string{`3`, `"ab"`}, []string{`6`, `"abc"`, `null`}, false},
	{"oneOf", `{"oneOf":[{"const":1},{"const":"one"}]}`, []string{`1`, `"one"`}, []string{`2`}, false},
	{"empty schema", `{}`, []string{`1`, `"x"`, `{"a":[]}`, `null`}, []string{`{`, `x`}, true},
	{"nullable", `{"type":"integer","minimum":0,"maximum":3,"nullable":true}`, []string{`null`, `2`}, []string{`4`}, false},
}

func TestFromJSONSchema(t *testing.T) {
	for _, tt := range schemaCases {
		t.Run(tt.name, func(t *testing.T) {
			src, err := grammar.FromJSONSchema([]byte(tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			g, err := grammar.Parse(src)
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			schema, err := decode(tt.schema)
			if err != nil {
				t.Fatal(err)
			}
			check := func(s string, want bool) {
				m := grammar.NewMatcher(g, nil)
				got := m.AcceptString(s) == nil && m.Complete()
				if got != want {
					t.Errorf("grammar: %s accepted=%v, want %v\n%s", s, got, want, src)
				}
				// the test's own validator agrees (when the text is JSON at all)
				if inst, err := decode(s); err == nil {
					if verr := validate(schema, schema, inst, ""); (verr == nil) != want {
						t.Errorf("validator: %s: %v, want valid=%v", s, verr, want)
					}
				} else if want {
					t.Errorf("%s is not JSON: %v", s, err)
				}
			}
			for _, s := range tt.valid {
				check(s, true)
			}
			for _, s := range tt.invalid {
				check(s, false)
			}
		})
	}
}

func TestFromJSONSchemaErrors(t *testing.T) {
	tests := []struct{ schema, want string }{
		{`{"type":"string","pattern":"^a+$"}`, `at /pattern: unsupported keyword "pattern"`},
		{`{"type":"object","properties":{"a":{"type":"array","uniqueItems":true}}}`, `at /properties/a/uniqueItems: unsupported keyword "uniqueItems"`},
		{`{"allOf":[{"type":"string"}]}`, `unsupported keyword "allOf"`},
		{`{"not":{"type":"string"}}`, `unsupported keyword "not"`},
		{`{"type":"number","multipleOf":2}`, `unsupported keyword "multipleOf"`},
		{`{"type":"object","patternProperties":{"^x":{}}}`, `unsupported keyword "patternProperties"`},
		{`{"type":"string","format":"uri"}`, `at /format: unsupported format "uri"`},
		{`{"type":"strin"}`, `unknown type "strin"`},
		{`{"$defs":{},"$ref":"#/$defs/missing"}`, `no member "missing"`},
		{`{"$ref":"https://example.com/s.json"}`, `only references into the same document`},
		{`{"type":"array","minItems":3,"maxItems":2}`, `maxItems 2 is below minItems 3`},
		{`{"type":"integer","minimum":5,"maximum":4}`, `no integer lies between`},
		{`{"type":"number","minimum":0.5}`, `only supported as a whole number`},
		{`{"type":"string","minItems":1}`, `keyword "minItems" applies to type array, not string`},
		{`{"enum":[]}`, `expected a non-empty array`},
		{`false`, `the schema false allows no value`},
		{`{"type":`, `not valid JSON`},
		{`[1]`, `expected a schema`},
		{`{"type":"object","properties":{"a":1}}`, `at /properties/a: expected a schema`},
	}
	for _, tt := range tests {
		_, err := grammar.FromJSONSchema([]byte(tt.schema))
		var se *grammar.SchemaError
		if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FromJSONSchema(%s) = %v, want a *SchemaError containing %q", tt.schema, err, tt.want)
		}
	}
}

func TestJSONObjectGrammar(t *testing.T) {
	g, err := grammar.Parse(grammar.JSONObject())
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{`{}`: true, `{"a": [1, 2.5, "x", null, true, {}]}`: true, `[]`: false, `"x"`: false, `{"a":}`: false} {
		m := grammar.NewMatcher(g, nil)
		if got := m.AcceptString(s) == nil && m.Complete(); got != want {
			t.Errorf("%s: accepted=%v, want %v", s, got, want)
		}
	}
}
