package chat

import (
	"fmt"
	"regexp"
	"slices"
)

// The jinja engine has no recursion limit: a macro that calls itself,
// directly or through other macros, overflows the Go stack, which kills the
// process instead of returning an error. Parse therefore rejects templates
// whose macros can call each other in a cycle. The check is textual and
// conservative: a macro's name followed by "(" anywhere in a macro body
// (even inside a string literal) counts as a call.

var (
	macroDef = regexp.MustCompile(`\{%[-+]?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(`)
	macroEnd = regexp.MustCompile(`\{%[-+]?\s*endmacro\b`)
)

// checkMacroRecursion returns an error naming a cycle of macro calls in src.
func checkMacroRecursion(src string) error {
	defs := macroDef.FindAllStringSubmatchIndex(src, -1)
	if len(defs) == 0 {
		return nil
	}
	bodies := make(map[string]string, len(defs))
	var names []string
	for i, d := range defs {
		name := src[d[2]:d[3]]
		limit := len(src)
		if i+1 < len(defs) {
			limit = defs[i+1][0]
		}
		body := src[d[1]:limit]
		if end := macroEnd.FindStringIndex(body); end != nil {
			body = body[:end[0]]
		}
		if _, dup := bodies[name]; !dup {
			names = append(names, name)
		}
		bodies[name] += body
	}
	calls := make(map[string][]string, len(names))
	for _, caller := range names {
		for _, callee := range names {
			if regexp.MustCompile(`\b` + callee + `\s*\(`).MatchString(bodies[caller]) {
				calls[caller] = append(calls[caller], callee)
			}
		}
	}
	// Depth-first search for a cycle.
	const (
		unseen = iota
		active
		done
	)
	state := make(map[string]int, len(names))
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		state[n] = active
		path = append(path, n)
		for _, m := range calls[n] {
			switch state[m] {
			case active:
				i := slices.Index(path, m)
				return append(slices.Clone(path[i:]), m)
			case unseen:
				if c := visit(m); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for _, n := range names {
		if state[n] == unseen {
			if cycle := visit(n); cycle != nil {
				return fmt.Errorf("recursive macro calls %v are not supported (the jinja engine has no recursion limit)", cycle)
			}
		}
	}
	return nil
}
