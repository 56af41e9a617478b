package grammar_test

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// validate checks instance against schema for the keywords FromJSONSchema
// supports, independently of the grammar engine. Both are decoded with
// json.Decoder.UseNumber.
func validate(root, schema, inst any, path string) error {
	switch s := schema.(type) {
	case bool:
		if !s {
			return fmt.Errorf("%s: schema false", path)
		}
		return nil
	case map[string]any:
		return validateObject(root, s, inst, path)
	}
	return fmt.Errorf("%s: bad schema %T", path, schema)
}

var (
	dateRe     = `[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])`
	timeRe     = `([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])`
	formatRes  = map[string]*regexp.Regexp{
		"date":      regexp.MustCompile(`^` + dateRe + `$`),
		"time":      regexp.MustCompile(`^` + timeRe + `$`),
		"date-time": regexp.MustCompile(`^` + dateRe + `T` + timeRe + `$`),
		"uuid":      regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`),
		"email":     regexp.MustCompile(`^[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9-]{1,63}(\.[a-zA-Z0-9-]{1,63}){1,4}$`),
		"ipv4":      regexp.MustCompile(`^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$`),
	}
)

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if r, ok := new(big.Rat).SetString(v.String()); ok && r.IsInt() {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	var x any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	d.Decode(&x)
	b, _ = json.Marshal(x)
	return string(b)
}

func validateObject(root any, s map[string]any, inst any, path string) error {
	if ref, ok := s["$ref"].(string); ok {
		target := root
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
			target = target.(map[string]any)[tok]
		}
		return validate(root, target, inst, path)
	}
	if c, ok := s["const"]; ok && canonical(c) != canonical(inst) {
		return fmt.Errorf("%s: %s is not the const %s", path, canonical(inst), canonical(c))
	}
	if e, ok := s["enum"].([]any); ok {
		if !slices.ContainsFunc(e, func(x any) bool { return canonical(x) == canonical(inst) }) {
			return fmt.Errorf("%s: %s is not in the enum", path, canonical(inst))
		}
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		if subs, ok := s[kw].([]any); ok {
			n := 0
			for _, sub := range subs {
				if validate(root, sub, inst, path) == nil {
					n++
				}
			}
			if n == 0 {
				return fmt.Errorf("%s: matches none of %s", path, kw)
			}
		}
	}
	if s["nullable"] == true && inst == nil {
		return nil
	}
	if t, ok := s["type"]; ok {
		types := []any{t}
		if list, isList := t.([]any); isList {
			types = list
		}
		got := jsonType(inst)
		if !slices.ContainsFunc(types, func(x any) bool { return x == got || x == "number" && got == "integer" }) {
			return fmt.Errorf("%s: %s is not of type %v", path, got, t)
		}
	}
	switch v := inst.(type) {
	case string:
		n := utf8.RuneCountInString(v)
		if m, ok := s["minLength"].(json.Number); ok && int64(n) < mustInt(m) {
			return fmt.Errorf("%s: shorter than minLength", path)
		}
		if m, ok := s["maxLength"].(json.Number); ok && int64(n) > mustInt(m) {
			return fmt.Errorf("%s: longer than maxLength", path)
		}
		if f, ok := s["format"].(string); ok && !formatRes[f].MatchString(v) {
			return fmt.Errorf("%s: %q is not a %s", path, v, f)
		}
	case json.Number:
		x, _ := new(big.Rat).SetString(v.String())
		cmp := func(kw string, ok func(int) bool) error {
			if b, has := s[kw].(json.Number); has {
				r, _ := new(big.Rat).SetString(b.String())
				if !ok(x.Cmp(r)) {
					return fmt.Errorf("%s: %s fails %s %s", path, v, kw, b)
				}
			}
			return nil
		}
		for _, err := range []error{
			cmp("minimum", func(c int) bool { return c >= 0 }),
			cmp("maximum", func(c int) bool { return c <= 0 }),
			cmp("exclusiveMinimum", func(c int) bool { return c > 0 }),
			cmp("exclusiveMaximum", func(c int) bool { return c < 0 }),
		} {
			if err != nil {
				return err
			}
		}
	case []any:
		if m, ok := s["minItems"].(json.Number); ok && int64(len(v)) < mustInt(m) {
			return fmt.Errorf("%s: fewer than minItems", path)
		}
		if m, ok := s["maxItems"].(json.Number); ok && int64(len(v)) > mustInt(m) {
			return fmt.Errorf("%s: more than maxItems", path)
		}
		prefix, _ := s["prefixItems"].([]any)
		for i, x := range v {
			var sub any = true
			if i < len(prefix) {
				sub = prefix[i]
			} else if it, ok := s["items"]; ok {
				sub = it
			}
			if err := validate(root, sub, x, fmt.Sprintf("%s/%d", path, i)); err != nil {
				return err
			}
		}
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, k := range req {
				if _, has := v[k.(string)]; !has {
					return fmt.Errorf("%s: missing required %q", path, k)
				}
			}
		}
		ap, hasAP := s["additionalProperties"]
		for k, x := range v {
			if sub, ok := props[k]; ok {
				if err := validate(root, sub, x, path+"/"+k); err != nil {
					return err
				}
				continue
			}
			if !hasAP {
				if _, req := s["required"]; len(props) > 0 || req {
					return fmt.Errorf("%s: additional property %q", path, k)
				}
				continue
			}
			if err := validate(root, ap, x, path+"/"+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func mustInt(n json.Number) int64 {
	i, err := n.Int64()
	if err != nil {
		panic(err)
	}
	return i
}

// decode parses JSON with numbers kept as json.Number.
func decode(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("text after the value")
	}
	return v, nil
}
