package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// SchemaError is a JSON Schema FromJSONSchema cannot turn into a grammar:
// Path is the JSON Pointer of the schema (or keyword) at fault.
type SchemaError struct {
	Path string
	Msg  string
}

func (e *SchemaError) Error() string {
	p := e.Path
	if p == "" {
		p = "/"
	}
	return fmt.Sprintf("json schema: at %s: %s", p, e.Msg)
}

// jsonObject is a JSON object that keeps its keys in document order (the
// order properties are generated in).
type jsonObject struct {
	keys []string
	vals map[string]any
}

func (o *jsonObject) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// decodeOrdered decodes one JSON value: objects as *jsonObject, numbers as
// json.Number, arrays as []any.
func decodeOrdered(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &jsonObject{vals: map[string]any{}}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				v, err := decodeOrdered(d)
				if err != nil {
					return nil, err
				}
				if _, dup := o.vals[k]; dup {
					return nil, fmt.Errorf("duplicate key %q", k)
				}
				o.keys = append(o.keys, k)
				o.vals[k] = v
			}
			_, err := d.Token()
			return o, err
		case '[':
			a := []any{}
			for d.More() {
				v, err := decodeOrdered(d)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := d.Token()
			return a, err
		}
	}
	return t, nil
}

// primitives are the rules the converter may use, by name.
var primitives = map[string]string{
	"space":            `| " " | "\n" [ \t]{0,20}`,
	"boolean":          `("true" | "false") space`,
	"null":             `"null" space`,
	"integral-part":    `[0] | [1-9] [0-9]{0,15}`,
	"decimal-part":     `[0-9]{1,16}`,
	"number":           `("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space`,
	"integer":          `("-"? integral-part) space`,
	"char":             `[^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4})`,
	"string":           `"\"" char* "\"" space`,
	"value":            `object | array | string | number | boolean | null`,
	"object":           `"{" space ( string ":" space value ("," space string ":" space value)* )? "}" space`,
	"array":            `"[" space ( value ("," space value)* )? "]" space`,
	"uuid":             `"\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} "\"" space`,
	"date":             `[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] )`,
	"time":             `( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )`,
	"date-string":      `"\"" date "\"" space`,
	"time-string":      `"\"" time "\"" space`,
	"date-time-string": `"\"" date "T" time "\"" space`,
	"email-string":     `"\"" [a-zA-Z0-9._%+-]{1,64} "@" [a-zA-Z0-9-]{1,63} ( "." [a-zA-Z0-9-]{1,63} ){1,4} "\"" space`,
	"ipv4-octet":       `[0-9] | [1-9] [0-9] | "1" [0-9] [0-9] | "2" [0-4] [0-9] | "25" [0-5]`,
	"ipv4-string":      `"\"" ipv4-octet "." ipv4-octet "." ipv4-octet "." ipv4-octet "\"" space`,
}

// primitiveDeps lists the primitives each primitive refers to.
var primitiveDeps = map[string][]string{
	"boolean":          {"space"},
	"null":             {"space"},
	"number":           {"integral-part", "decimal-part", "space"},
	"integer":          {"integral-part", "space"},
	"string":           {"char", "space"},
	"value":            {"object", "array", "string", "number", "boolean", "null"},
	"object":           {"string", "space", "value"},
	"array":            {"value", "space"},
	"uuid":             {"space"},
	"date-string":      {"date", "space"},
	"time-string":      {"time", "space"},
	"date-time-string": {"date", "time", "space"},
	"email-string":     {"space"},
	"ipv4-string":      {"ipv4-octet", "space"},
}

// formats maps the supported string formats to their rules.
var formats = map[string]string{
	"date": "date-string", "time": "time-string", "date-time": "date-time-string",
	"uuid": "uuid", "email": "email-string", "ipv4": "ipv4-string",
}

// annotations are keywords that describe a schema without constraining it.
var annotations = map[string]bool{
	"title": true, "description": true, "$schema": true, "$id": true, "$comment": true,
	"default": true, "examples": true, "deprecated": true, "readOnly": true, "writeOnly": true,
	"$defs": true, "definitions": true, "strict": true, "$anchor": true,
}

type converter struct {
	root  any
	rules map[string]string
	order []string
	refs  map[string]string // $ref target -> rule name
}

// FromJSONSchema converts a JSON Schema to a GBNF grammar whose sentences
// are the JSON texts valid under the schema (with optional white space), as
// llama.cpp's json-schema-to-grammar does. Supported: type (one or a list),
// enum, const, object properties in their order with required and optional
// ones, additionalProperties (false unless given, once properties are
// listed), arrays with items, prefixItems, minItems and maxItems, strings
// with minLength, maxLength and the formats date, time, date-time, uuid,
// email and ipv4, integers with minimum, maximum, exclusiveMinimum and
// exclusiveMaximum, numbers with whole-number minimum and maximum, boolean,
// null, $ref into the same document ($defs, definitions, any JSON Pointer,
// recursion included), anyOf and oneOf (as anyOf), true and {} (any JSON
// value). Any other keyword is a *SchemaError naming it and its path, as is
// a schema that is not valid JSON.
func FromJSONSchema(schema []byte) (string, error) {
	d := json.NewDecoder(bytes.NewReader(schema))
	d.UseNumber()
	root, err := decodeOrdered(d)
	if err != nil {
		return "", &SchemaError{Msg: "not valid JSON: " + err.Error()}
	}
	if _, err := d.Token(); err != io.EOF {
		return "", &SchemaError{Msg: "not valid JSON: text after the schema"}
	}
	c := &converter{root: root, rules: map[string]string{}, refs: map[string]string{}}
	c.order = append(c.order, "root")
	c.rules["root"] = ""
	body, err := c.visit(root, "", "root")
	if err != nil {
		return "", err
	}
	c.rules["root"] = body
	used := c.reachable()
	var b strings.Builder
	for _, name := range c.order {
		if used[name] {
			fmt.Fprintf(&b, "%s ::= %s\n", name, c.rules[name])
		}
	}
	return b.String(), nil
}

// reachable returns the rules root refers to, directly or not.
func (c *converter) reachable() map[string]bool {
	used := map[string]bool{"root": true}
	queue := []string{"root"}
	for len(queue) > 0 {
		body := c.rules[queue[0]]
		queue = queue[1:]
		for _, name := range ruleRefs(body) {
			if _, ok := c.rules[name]; ok && !used[name] {
				used[name] = true
				queue = append(queue, name)
			}
		}
	}
	return used
}

// ruleRefs returns the rule names a GBNF rule body refers to.
func ruleRefs(body string) []string {
	var out []string
	for i := 0; i < len(body); {
		switch ch := body[i]; {
		case ch == '"' || ch == '[':
			end := byte('"')
			if ch == '[' {
				end = ']'
			}
			i++
			for i < len(body) && body[i] != end {
				if body[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case ch == '{':
			for i < len(body) && body[i] != '}' {
				i++
			}
		case isWordChar(ch):
			j := i
			for j < len(body) && isWordChar(body[j]) {
				j++
			}
			out = append(out, body[i:j])
			i = j
		default:
			i++
		}
	}
	return out
}

// JSONObject returns a grammar for any JSON object, as OpenAI's
// response_format {"type": "json_object"} asks.
func JSONObject() string {
	g, err := FromJSONSchema([]byte(`{"type":"object"}`))
	if err != nil {
		panic(err) // the schema is fixed
	}
	return g
}

// use adds a primitive rule (and those it needs) and returns its name.
func (c *converter) use(name string) string {
	if _, ok := c.rules[name]; ok {
		return name
	}
	c.rules[name] = primitives[name]
	c.order = append(c.order, name)
	for _, d := range primitiveDeps[name] {
		c.use(d)
	}
	return name
}

// add adds a rule with a name derived from hint and returns the name.
func (c *converter) add(hint, body string) string {
	name := sanitizeName(hint)
	if _, taken := c.rules[name]; taken {
		if c.rules[name] == body {
			return name
		}
		for i := 1; ; i++ {
			n := fmt.Sprintf("%s-%d", name, i)
			if cur, taken := c.rules[n]; !taken || cur == body {
				name = n
				break
			}
		}
	}
	if _, ok := c.rules[name]; !ok {
		c.order = append(c.order, name)
	}
	c.rules[name] = body
	return name
}

func sanitizeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if isWordChar(ch) && ch != '_' {
			b.WriteByte(ch)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" || primitives[out] != "" || out == "root" {
		out = "r-" + out
	}
	return out
}

func schemaErr(path, format string, args ...any) error {
	return &SchemaError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

func esc(token string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(token)
}

// literal returns a GBNF string literal matching s exactly.
func literal(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7F:
			fmt.Fprintf(&b, `\x%02X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// jsonLiteral returns the GBNF for the JSON text of value v (compact).
func jsonLiteral(v any) (string, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return "", err
	}
	return literal(buf.String()), nil
}

func writeJSON(buf *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case *jsonObject:
		buf.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, k)
			buf.WriteByte(':')
			if err := writeJSON(buf, v.vals[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, x); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case string:
		writeJSONString(buf, v)
	case json.Number:
		buf.WriteString(v.String())
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case nil:
		buf.WriteString("null")
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	e := json.NewEncoder(buf)
	e.SetEscapeHTML(false)
	e.Encode(s)
	buf.Truncate(buf.Len() - 1) // the encoder's new line
}

// visit returns the GBNF expression for schema s at path, naming the rules it
// creates after name.
func (c *converter) visit(s any, path, name string) (string, error) {
	switch s := s.(type) {
	case bool:
		if !s {
			return "", schemaErr(path, "the schema false allows no value")
		}
		return c.use("value"), nil
	case *jsonObject:
		return c.visitObject(s, path, name)
	}
	return "", schemaErr(path, "expected a schema (an object or a boolean), found %s", kindOf(s))
}

func kindOf(v any) string {
	switch v.(type) {
	case *jsonObject:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// known keywords handled by visitObject, by the type they apply to.
var handled = map[string]bool{
	"type": true, "enum": true, "const": true, "$ref": true, "anyOf": true, "oneOf": true,
	"properties": true, "required": true, "additionalProperties": true,
	"items": true, "prefixItems": true, "minItems": true, "maxItems": true,
	"minLength": true, "maxLength": true, "format": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
	"nullable": true,
}

func (c *converter) visitObject(s *jsonObject, path, name string) (string, error) {
	for _, k := range s.keys {
		if !handled[k] && !annotations[k] {
			return "", schemaErr(path+"/"+esc(k), "unsupported keyword %q: supported are type, enum, const, $ref, anyOf, oneOf, properties, required, additionalProperties, items, prefixItems, minItems, maxItems, minLength, maxLength, format, minimum, maximum, exclusiveMinimum, exclusiveMaximum", k)
		}
	}
	expr, err := c.visitInner(s, path, name)
	if err != nil {
		return "", err
	}
	if v, ok := s.get("nullable"); ok && v == true {
		return "(" + expr + ") | " + c.use("null"), nil
	}
	return expr, nil
}

func (c *converter) visitInner(s *jsonObject, path, name string) (string, error) {
	if ref, ok := s.get("$ref"); ok {
		r, isStr := ref.(string)
		if !isStr {
			return "", schemaErr(path+"/$ref", "expected a string, found %s", kindOf(ref))
		}
		return c.ref(r, path+"/$ref")
	}
	if v, ok := s.get("const"); ok {
		return c.literalRule(v, path+"/const")
	}
	if v, ok := s.get("enum"); ok {
		vals, isArr := v.([]any)
		if !isArr || len(vals) == 0 {
			return "", schemaErr(path+"/enum", "expected a non-empty array of values")
		}
		var alts []string
		for i, x := range vals {
			lit, err := c.literalRule(x, fmt.Sprintf("%s/enum/%d", path, i))
			if err != nil {
				return "", err
			}
			alts = append(alts, lit)
		}
		return "(" + strings.Join(alts, " | ") + ")", nil
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		v, ok := s.get(kw)
		if !ok {
			continue
		}
		subs, isArr := v.([]any)
		if !isArr || len(subs) == 0 {
			return "", schemaErr(path+"/"+kw, "expected a non-empty array of schemas")
		}
		var alts []string
		for i, sub := range subs {
			e, err := c.visit(sub, fmt.Sprintf("%s/%s/%d", path, kw, i), fmt.Sprintf("%s-%d", name, i))
			if err != nil {
				return "", err
			}
			alts = append(alts, c.add(fmt.Sprintf("%s-%d", name, i), e))
		}
		return strings.Join(alts, " | "), nil
	}
	t, hasType := s.get("type")
	if !hasType {
		switch {
		case has(s, "properties") || has(s, "additionalProperties") || has(s, "required"):
			t = "object"
		case has(s, "items") || has(s, "prefixItems") || has(s, "minItems") || has(s, "maxItems"):
			t = "array"
		case has(s, "minLength") || has(s, "maxLength") || has(s, "format"):
			t = "string"
		case has(s, "minimum") || has(s, "maximum") || has(s, "exclusiveMinimum") || has(s, "exclusiveMaximum"):
			t = "number"
		default:
			return c.use("value"), nil
		}
	}
	if list, ok := t.([]any); ok {
		var alts []string
		for i, x := range list {
			tn, isStr := x.(string)
			if !isStr {
				return "", schemaErr(fmt.Sprintf("%s/type/%d", path, i), "expected a type name, found %s", kindOf(x))
			}
			e, err := c.typed(tn, s, path, name+"-"+tn)
			if err != nil {
				return "", err
			}
			alts = append(alts, c.add(name+"-"+tn, e))
		}
		if len(alts) == 0 {
			return "", schemaErr(path+"/type", "expected at least one type")
		}
		return strings.Join(alts, " | "), nil
	}
	tn, isStr := t.(string)
	if !isStr {
		return "", schemaErr(path+"/type", "expected a type name or an array of them, found %s", kindOf(t))
	}
	return c.typed(tn, s, path, name)
}

func has(s *jsonObject, k string) bool {
	_, ok := s.get(k)
	return ok
}

func (c *converter) literalRule(v any, path string) (string, error) {
	lit, err := jsonLiteral(v)
	if err != nil {
		return "", schemaErr(path, "%v", err)
	}
	return lit + " " + c.use("space"), nil
}

// ref returns the rule for a $ref, converting its target once.
func (c *converter) ref(r, path string) (string, error) {
	if name, ok := c.refs[r]; ok {
		return name, nil
	}
	if !strings.HasPrefix(r, "#") {
		return "", schemaErr(path, "only references into the same document (#/...) are supported, found %q", r)
	}
	target, err := c.resolve(strings.TrimPrefix(r, "#"))
	if err != nil {
		return "", schemaErr(path, "reference %q: %v", r, err)
	}
	ptr := strings.TrimPrefix(r, "#")
	hint := "ref" + ptr
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		hint = ptr[i+1:]
	}
	if ptr == "" {
		c.refs[r] = "root"
		return "root", nil
	}
	name := c.add(hint, "") // reserve the name first: the target may refer to itself
	c.refs[r] = name
	body, err := c.visit(target, ptr, name)
	if err != nil {
		return "", err
	}
	c.rules[name] = body
	return name, nil
}

// resolve follows a JSON Pointer from the document root.
func (c *converter) resolve(ptr string) (any, error) {
	cur := c.root
	if ptr == "" {
		return cur, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, errors.New("expected a JSON Pointer such as #/$defs/name")
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch v := cur.(type) {
		case *jsonObject:
			x, ok := v.get(tok)
			if !ok {
				return nil, fmt.Errorf("no member %q", tok)
			}
			cur = x
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, fmt.Errorf("no element %q", tok)
			}
			cur = v[i]
		default:
			return nil, fmt.Errorf("%q leads into %s", tok, kindOf(v))
		}
	}
	return cur, nil
}

// count reads a non-negative integer keyword (-1 when absent).
func count(s *jsonObject, k, path string) (int, error) {
	v, ok := s.get(k)
	if !ok {
		return -1, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return 0, schemaErr(path+"/"+k, "expected a non-negative integer, found %s", kindOf(v))
	}
	i, err := strconv.Atoi(n.String())
	if err != nil || i < 0 {
		return 0, schemaErr(path+"/"+k, "expected a non-negative integer, found %s", n)
	}
	if i > maxRepeat {
		return 0, schemaErr(path+"/"+k, "%d is over the limit of %d", i, maxRepeat)
	}
	return i, nil
}

// checkFor rejects keywords that belong to another type than t.
func checkFor(s *jsonObject, t, path string) error {
	owner := map[string]string{
		"properties": "object", "required": "object", "additionalProperties": "object",
		"items": "array", "prefixItems": "array", "minItems": "array", "maxItems": "array",
		"minLength": "string", "maxLength": "string", "format": "string",
		"minimum": "number", "maximum": "number", "exclusiveMinimum": "number", "exclusiveMaximum": "number",
	}
	for _, k := range s.keys {
		o, ok := owner[k]
		if !ok {
			continue
		}
		if o == t || o == "number" && t == "integer" {
			continue
		}
		return schemaErr(path+"/"+k, "keyword %q applies to type %s, not %s", k, o, t)
	}
	return nil
}

func (c *converter) typed(t string, s *jsonObject, path, name string) (string, error) {
	if err := checkFor(s, t, path); err != nil {
		if _, list := s.vals["type"].([]any); !list {
			return "", err
		}
	}
	switch t {
	case "null":
		return c.use("null"), nil
	case "boolean":
		return c.use("boolean"), nil
	case "string":
		return c.stringRule(s, path)
	case "integer", "number":
		return c.numberRule(t, s, path)
	case "array":
		return c.arrayRule(s, path, name)
	case "object":
		return c.objectRule(s, path, name)
	}
	return "", schemaErr(path+"/type", "unknown type %q: expected string, number, integer, boolean, null, object or array", t)
}

func (c *converter) stringRule(s *jsonObject, path string) (string, error) {
	lo, err := count(s, "minLength", path)
	if err != nil {
		return "", err
	}
	hi, err := count(s, "maxLength", path)
	if err != nil {
		return "", err
	}
	if f, ok := s.get("format"); ok {
		fs, _ := f.(string)
		rule, known := formats[fs]
		if !known {
			return "", schemaErr(path+"/format", "unsupported format %q: supported are date, time, date-time, uuid, email, ipv4", f)
		}
		if lo >= 0 || hi >= 0 {
			return "", schemaErr(path, "minLength and maxLength cannot be combined with a format")
		}
		return c.use(rule), nil
	}
	if lo < 0 && hi < 0 {
		return c.use("string"), nil
	}
	lo = max(lo, 0)
	if hi >= 0 && hi < lo {
		return "", schemaErr(path+"/maxLength", "maxLength %d is below minLength %d", hi, lo)
	}
	c.use("char")
	rep := fmt.Sprintf("{%d,}", lo)
	if hi >= 0 {
		rep = fmt.Sprintf("{%d,%d}", lo, hi)
	}
	return `"\"" char` + rep + ` "\"" ` + c.use("space"), nil
}

// bound reads a numeric bound.
func bound(s *jsonObject, k, path string) (*big.Rat, error) {
	v, ok := s.get(k)
	if !ok {
		return nil, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return nil, schemaErr(path+"/"+k, "expected a number, found %s", kindOf(v))
	}
	r, ok := new(big.Rat).SetString(n.String())
	if !ok {
		return nil, schemaErr(path+"/"+k, "expected a number, found %s", n)
	}
	return r, nil
}

// ratFloor returns the largest integer <= r (big.Int's Div is Euclidean,
// which is the floor for a positive denominator).
func ratFloor(r *big.Rat) *big.Int { return new(big.Int).Div(r.Num(), r.Denom()) }

// ratCeil returns the smallest integer >= r.
func ratCeil(r *big.Rat) *big.Int {
	f := ratFloor(r)
	if !r.IsInt() {
		f.Add(f, big.NewInt(1))
	}
	return f
}

var maxDigits = new(big.Int).Exp(big.NewInt(10), big.NewInt(16), nil) // integers have at most 16 digits

func (c *converter) numberRule(t string, s *jsonObject, path string) (string, error) {
	var lo, hi *big.Int // inclusive integer bounds, nil when unbounded
	for _, kw := range []string{"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"} {
		r, err := bound(s, kw, path)
		if err != nil {
			return "", err
		}
		if r == nil {
			continue
		}
		if t == "number" && (!r.IsInt() || strings.HasPrefix(kw, "exclusive")) {
			return "", schemaErr(path+"/"+kw, "a number's %s is only supported as a whole number with minimum or maximum (use type integer, or a whole-number bound)", kw)
		}
		var b *big.Int
		switch kw {
		case "minimum":
			b = ratCeil(r)
		case "exclusiveMinimum":
			b = new(big.Int).Add(ratFloor(r), big.NewInt(1))
		case "maximum":
			b = ratFloor(r)
		case "exclusiveMaximum":
			b = new(big.Int).Sub(ratCeil(r), big.NewInt(1))
		}
		if new(big.Int).Abs(b).Cmp(maxDigits) >= 0 {
			return "", schemaErr(path+"/"+kw, "bound %s has more than 16 digits", r.RatString())
		}
		if strings.HasSuffix(strings.ToLower(kw), "minimum") {
			if lo == nil || b.Cmp(lo) > 0 {
				lo = b
			}
		} else if hi == nil || b.Cmp(hi) < 0 {
			hi = b
		}
	}
	if lo == nil && hi == nil {
		return c.use(t), nil
	}
	if lo != nil && hi != nil && lo.Cmp(hi) > 0 {
		return "", schemaErr(path, "no %s lies between the minimum %s and the maximum %s", t, lo, hi)
	}
	space := c.use("space")
	if t == "integer" {
		return "(" + intRange(lo, hi) + ") " + space, nil
	}
	// a number x = ±I.F with whole-number bounds: fractions are free except
	// where the integer part sits on a bound it must not pass
	frac := `("." [0-9]{1,16})?`
	zero := `("." "0"{1,16})?`
	var alts []string
	one := big.NewInt(1)
	// x >= 0 with integer part I: x <= hi needs I < hi, or I == hi with a zero fraction
	if hi == nil || hi.Sign() >= 0 {
		from := big.NewInt(0)
		if lo != nil && lo.Sign() > 0 {
			from = lo // I >= lo: x >= I >= lo
		}
		if hi == nil {
			alts = append(alts, "("+intRange(from, nil)+") "+frac)
		} else {
			if from.Cmp(hi) < 0 {
				alts = append(alts, "("+intRange(from, new(big.Int).Sub(hi, one))+") "+frac)
			}
			alts = append(alts, literal(hi.String())+" "+zero)
		}
	}
	// x < 0, written -A.F: x >= lo needs A < -lo, or A == -lo with a zero fraction; x <= hi < 0 needs A >= -hi
	if lo == nil || lo.Sign() < 0 {
		from := big.NewInt(0)
		if hi != nil && hi.Sign() < 0 {
			from = new(big.Int).Neg(hi)
		}
		if lo == nil {
			alts = append(alts, `"-" (`+intRange(from, nil)+") "+frac)
		} else {
			top := new(big.Int).Neg(lo)
			if from.Cmp(top) < 0 {
				alts = append(alts, `"-" (`+intRange(from, new(big.Int).Sub(top, one))+") "+frac)
			}
			alts = append(alts, `"-" `+literal(top.String())+" "+zero)
		}
	}
	return "(" + strings.Join(alts, " | ") + ") " + space, nil
}

// intRange returns GBNF for the decimal integers in [lo, hi] (nil: unbounded,
// up to 16 digits), without leading zeros and with "-" for negatives.
func intRange(lo, hi *big.Int) string {
	var alts []string
	if lo == nil || lo.Sign() < 0 {
		// negatives: -A with A in [max(1, -hi), -lo]
		a := big.NewInt(1)
		if hi != nil && hi.Sign() < 0 {
			a = new(big.Int).Neg(hi)
		}
		var b *big.Int
		if lo != nil {
			b = new(big.Int).Neg(lo)
		}
		if b == nil || a.Cmp(b) <= 0 {
			alts = append(alts, `"-" (`+natRange(a, b)+")")
		}
	}
	if hi == nil || hi.Sign() >= 0 {
		a := big.NewInt(0)
		if lo != nil && lo.Sign() > 0 {
			a = lo
		}
		alts = append(alts, natRange(a, hi))
	}
	return strings.Join(alts, " | ")
}

// natRange returns GBNF for the natural numbers in [a, b] (b nil: any with
// up to 16 digits).
func natRange(a, b *big.Int) string {
	if b == nil {
		b = new(big.Int).Sub(maxDigits, big.NewInt(1))
	}
	as, bs := a.String(), b.String()
	var alts []string
	for n := len(as); n <= len(bs); n++ {
		lo, hi := as, bs
		if n > len(as) {
			lo = "1" + strings.Repeat("0", n-1)
		}
		if n < len(bs) {
			hi = strings.Repeat("9", n)
		}
		alts = append(alts, sameLength(lo, hi))
	}
	return strings.Join(alts, " | ")
}

// sameLength returns GBNF for the digit strings of one length between lo and
// hi inclusive.
func sameLength(lo, hi string) string {
	if lo == hi {
		return literal(lo)
	}
	if len(lo) == 1 {
		return digitClass(lo[0], hi[0])
	}
	if lo[0] == hi[0] {
		return literal(lo[:1]) + " (" + sameLength(lo[1:], hi[1:]) + ")"
	}
	rest := len(lo) - 1
	var alts []string
	allZero := strings.Trim(lo[1:], "0") == ""
	allNine := strings.Trim(hi[1:], "9") == ""
	first, last := lo[0], hi[0]
	if !allZero {
		alts = append(alts, literal(lo[:1])+" ("+sameLength(lo[1:], strings.Repeat("9", rest))+")")
		first++
	}
	if !allNine {
		last--
	}
	if first <= last {
		alts = append(alts, digitClass(first, last)+fmt.Sprintf(" [0-9]{%d}", rest))
	}
	if !allNine {
		alts = append(alts, literal(hi[:1])+" ("+sameLength(strings.Repeat("0", rest), hi[1:])+")")
	}
	return strings.Join(alts, " | ")
}

func digitClass(a, b byte) string {
	if a == b {
		return literal(string(a))
	}
	return fmt.Sprintf("[%c-%c]", a, b)
}

func (c *converter) arrayRule(s *jsonObject, path, name string) (string, error) {
	lo, err := count(s, "minItems", path)
	if err != nil {
		return "", err
	}
	hi, err := count(s, "maxItems", path)
	if err != nil {
		return "", err
	}
	lo = max(lo, 0)
	if hi >= 0 && hi < lo {
		return "", schemaErr(path+"/maxItems", "maxItems %d is below minItems %d", hi, lo)
	}
	space := c.use("space")
	var prefix []string
	if p, ok := s.get("prefixItems"); ok {
		subs, isArr := p.([]any)
		if !isArr {
			return "", schemaErr(path+"/prefixItems", "expected an array of schemas")
		}
		for i, sub := range subs {
			e, err := c.visit(sub, fmt.Sprintf("%s/prefixItems/%d", path, i), fmt.Sprintf("%s-%d", name, i))
			if err != nil {
				return "", err
			}
			prefix = append(prefix, c.add(fmt.Sprintf("%s-%d", name, i), e))
		}
	}
	item := ""
	if it, ok := s.get("items"); ok {
		if b, isBool := it.(bool); !isBool || b {
			e, err := c.visit(it, path+"/items", name+"-item")
			if err != nil {
				return "", err
			}
			item = c.add(name+"-item", e)
		}
	} else if len(prefix) == 0 {
		item = c.use("value")
	}
	// the elements: the prefix items in order, then items; minItems and
	// maxItems count all of them
	var seq []string // element i's rule
	seq = append(seq, prefix...)
	n := len(seq)
	if hi >= 0 && hi < n {
		seq, n = seq[:hi], hi
	}
	if item == "" && lo > n {
		return "", schemaErr(path+"/minItems", "minItems %d needs more elements than the %d prefixItems allow", lo, n)
	}
	// mandatory elements
	var body strings.Builder
	body.WriteString(`"[" ` + space)
	var tail string // optional continuation after the mandatory elements
	mand := min(lo, n)
	for i := 0; i < mand; i++ {
		if i > 0 {
			body.WriteString(` "," ` + space)
		}
		body.WriteString(" " + seq[i])
	}
	mandItems := max(lo-n, 0) // mandatory elements beyond the prefix
	for i := 0; i < mandItems; i++ {
		if mand+i > 0 {
			body.WriteString(` "," ` + space)
		}
		body.WriteString(" " + item)
	}
	started := mand+mandItems > 0
	// optional: the remaining prefix items in order, then more items up to maxItems
	var opt []string
	for i := mand; i < n; i++ {
		opt = append(opt, seq[i])
	}
	more := -1 // optional items after the prefix: -1 unbounded
	if item != "" {
		if hi >= 0 {
			more = hi - max(n, lo)
			if more < 0 {
				more = 0
			}
		}
	} else {
		more = 0
	}
	tail = c.optionalElems(opt, item, more, started, space)
	if tail != "" {
		body.WriteString(" " + tail)
	}
	body.WriteString(` "]" ` + space)
	return body.String(), nil
}

// optionalElems returns GBNF for optional array elements: opt in order (each
// present only if the previous one is), then up to more (-1: any number of)
// item elements. started says whether an element precedes them.
func (c *converter) optionalElems(opt []string, item string, more int, started bool, space string) string {
	sep := `"," ` + space + " "
	// items: ( sep item ){0,more}
	items := ""
	if item != "" && more != 0 {
		rep := "*"
		if more > 0 {
			rep = fmt.Sprintf("{0,%d}", more)
		}
		items = "(" + sep + item + ")" + rep
	}
	// from the end: each optional prefix element carries the rest
	rest := items
	for i := len(opt) - 1; i >= 0; i-- {
		inner := sep + opt[i]
		if rest != "" {
			inner += " " + rest
		}
		rest = "(" + inner + ")?"
	}
	if started {
		return rest
	}
	// nothing yet: the first present element has no comma
	if len(opt) > 0 {
		inner := opt[0]
		after := items
		for i := len(opt) - 1; i >= 1; i-- {
			in := sep + opt[i]
			if after != "" {
				in += " " + after
			}
			after = "(" + in + ")?"
		}
		if after != "" {
			inner += " " + after
		}
		return "(" + inner + ")?"
	}
	if items == "" {
		return ""
	}
	rep := "*"
	if more > 0 {
		rep = fmt.Sprintf("{0,%d}", more-1)
	}
	return "(" + item + " (" + sep + item + ")" + rep + ")?"
}

func (c *converter) objectRule(s *jsonObject, path, name string) (string, error) {
	space := c.use("space")
	type member struct {
		key      string
		rule     string
		required bool
	}
	var members []member
	index := map[string]int{}
	if p, ok := s.get("properties"); ok {
		props, isObj := p.(*jsonObject)
		if !isObj {
			return "", schemaErr(path+"/properties", "expected an object of schemas, found %s", kindOf(p))
		}
		for _, k := range props.keys {
			e, err := c.visit(props.vals[k], path+"/properties/"+esc(k), name+"-"+k)
			if err != nil {
				return "", err
			}
			keyLit, _ := jsonLiteral(k)
			kv := c.add(name+"-"+k+"-kv", keyLit+` ":" `+space+" "+c.add(name+"-"+k, e))
			index[k] = len(members)
			members = append(members, member{key: k, rule: kv})
		}
	}
	if r, ok := s.get("required"); ok {
		list, isArr := r.([]any)
		if !isArr {
			return "", schemaErr(path+"/required", "expected an array of property names")
		}
		for i, x := range list {
			k, isStr := x.(string)
			if !isStr {
				return "", schemaErr(fmt.Sprintf("%s/required/%d", path, i), "expected a property name, found %s", kindOf(x))
			}
			if j, ok := index[k]; ok {
				members[j].required = true
				continue
			}
			keyLit, _ := jsonLiteral(k)
			kv := c.add(name+"-"+k+"-kv", keyLit+` ":" `+space+" "+c.use("value"))
			index[k] = len(members)
			members = append(members, member{key: k, rule: kv, required: true})
		}
	}
	// additional properties: false unless given once properties are listed
	extra := ""
	ap, hasAP := s.get("additionalProperties")
	if !hasAP && len(members) == 0 {
		ap, hasAP = true, true
	}
	if hasAP {
		if b, isBool := ap.(bool); !isBool || b {
			e, err := c.visit(ap, path+"/additionalProperties", name+"-additional")
			if err != nil {
				return "", err
			}
			extra = c.add(name+"-additional-kv", c.use("string")+` ":" `+space+" "+c.add(name+"-additional-value", e))
		}
	}
	// members in order, optional ones skippable, commas between those present:
	// after[i] matches members i.. once one was written (each with a comma),
	// from[i] members i.. before any was; both "" when nothing is left
	sep := `"," ` + space + " "
	n := len(members)
	after := make([]string, n+1)
	from := make([]string, n+1)
	if extra != "" {
		after[n] = "(" + sep + extra + ")*"
		from[n] = "(" + extra + " (" + sep + extra + ")*)?"
	}
	cat := func(a, b string) string {
		if b == "" {
			return a
		}
		return a + " " + b
	}
	for i := n - 1; i >= 0; i-- {
		m := members[i]
		var a, b string
		switch {
		case m.required:
			a = cat(sep+m.rule, after[i+1])
			b = cat(m.rule, after[i+1])
		case after[i+1] == "":
			a = "(" + sep + m.rule + ")?"
			b = "(" + m.rule + ")?"
		default:
			a = "(" + cat(sep+m.rule, after[i+1]) + ") | " + after[i+1]
			b = "(" + cat(m.rule, after[i+1]) + ") | " + from[i+1]
			if from[i+1] == "" {
				b = "(" + cat(m.rule, after[i+1]) + ")?"
			}
		}
		if i > 0 {
			after[i] = c.add(fmt.Sprintf("%s-after-%d", name, i), a)
		}
		from[i] = c.add(fmt.Sprintf("%s-from-%d", name, i), b)
	}
	body := `"{" ` + space
	if from[0] != "" {
		body += " " + from[0]
	}
	body += ` "}" ` + space
	return body, nil
}
