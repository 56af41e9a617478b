package agent

import (
	"encoding/json"
	"path"
	"strings"
	"testing"
)

// FuzzToolArgs: the argument parsers of the built-in tools never panic,
// and what they accept holds a path inside the folder.
func FuzzToolArgs(f *testing.F) {
	for _, s := range []string{`{}`, `{"path": "a/b.go", "start_line": 2, "end_line": 3}`, `{"path": "../x"}`, `{"pattern": "(", "regexp": true}`,
		`{"package": "./...", "run": "TestX"}`, `null`, `[]`, `{"path": "/etc"}`, `{"path": "a"} x`, `{"recursive": "yes"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := json.RawMessage(s)
		inside := func(p string) {
			c, err := Clean(p)
			if err != nil || c == ".." || strings.HasPrefix(c, "../") || path.IsAbs(c) {
				t.Fatalf("accepted path %q cleans to %q (%v)", p, c, err)
			}
		}
		if a, err := ParseListArgs(raw); err == nil {
			inside(a.Path)
		}
		if a, err := ParseReadArgs(raw); err == nil {
			inside(a.Path)
			if a.StartLine < 0 || a.EndLine < 0 || a.EndLine > 0 && a.EndLine < a.StartLine {
				t.Fatalf("accepted lines %d-%d", a.StartLine, a.EndLine)
			}
		}
		if a, re, err := ParseSearchArgs(raw); err == nil {
			inside(a.Path)
			if re == nil || a.Pattern == "" {
				t.Fatal("accepted a search without a pattern")
			}
		}
		for _, test := range []bool{false, true} {
			if a, err := ParseGoArgs(raw, test); err == nil {
				if !patternRE.MatchString(a.Package) || strings.Contains(a.Package+"/", "/../") || strings.HasPrefix(a.Package, "-") {
					t.Fatalf("accepted package %q", a.Package)
				}
			}
		}
		mcpArguments(raw)
	})
}

// FuzzClean: a cleaned path never leaves the folder.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a/../..", "/a", `\a`, "a//b/./c", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := Clean(p)
		if err != nil {
			return
		}
		if c == ".." || strings.HasPrefix(c, "../") || strings.HasPrefix(c, "/") || c == "" || strings.ContainsRune(c, 0) {
			t.Fatalf("Clean(%q) = %q", p, c)
		}
	})
}

// FuzzParseToolChoices: a plan parses or gives an error; a parsed plan
// formats back to choices that parse to the same plan.
func FuzzParseToolChoices(f *testing.F) {
	for _, s := range []string{"", "auto", "required*2,none", "read_file,list_files*3", "x*0", "a b", ",", "none*99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plan, err := ParseToolChoices(s)
		if err != nil {
			return
		}
		if len(plan) > maxPlanSteps {
			t.Fatalf("%d steps", len(plan))
		}
		var parts []string
		for _, c := range plan {
			parts = append(parts, FormatToolChoice(c))
		}
		again, err := ParseToolChoices(strings.Join(parts, ","))
		if err != nil || len(again) != len(plan) {
			t.Fatalf("%q → %v → %v (%v)", s, plan, again, err)
		}
		for i := range plan {
			if again[i] != plan[i] {
				t.Fatalf("step %d: %+v then %+v", i, plan[i], again[i])
			}
		}
	})
}

// FuzzSplitCommand: splitting never panics, and arguments quoted back
// with single quotes split to themselves.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{`glassbox mcp -m "my model.gguf"`, `a 'b c' d\ e`, `"unterminated`, `x\`, `"a\"b" '\'`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := SplitCommand(s)
		if err != nil {
			return
		}
		var quoted []string
		for _, a := range args {
			quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
		}
		again, err := SplitCommand(strings.Join(quoted, " "))
		if err != nil || strings.Join(again, "\x00") != strings.Join(args, "\x00") || len(again) != len(args) {
			t.Fatalf("%q → %q → %q (%v)", s, args, again, err)
		}
	})
}

// FuzzDecisionText: reading the keys of arguments and the end of a value
// in generated text never panics and stays inside the text.
func FuzzDecisionText(f *testing.F) {
	for _, s := range []string{`{"path": "a", "n": 1}`, `{"a": [1, {"b": 2}]`, `"x`, `{`, `{"a":`, ``} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, s string, v int) {
		argKeys(s, 3)
		if v < 0 || v > len(s) {
			return
		}
		if end := valueEnd(s, v); end < v || end > len(s) {
			t.Fatalf("valueEnd(%q, %d) = %d", s, v, end)
		}
	})
}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{`glassbox mcp -m model.gguf`, []string{"glassbox", "mcp", "-m", "model.gguf"}, ""},
		{`  a   'b c'  "d \"e\" \n" f\ g`, []string{"a", "b c", `d "e" \n`, "f g"}, ""},
		{`a''b ""`, []string{"ab", ""}, ""},
		{`"open`, nil, "unterminated double quote"},
		{`'open`, nil, "unterminated single quote"},
		{`a\`, nil, "lone backslash"},
		{``, nil, ""},
	} {
		got, err := SplitCommand(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseToolChoices(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  string
	}{
		{"", "", ""},
		{"required*2, read_file ,none", "required required read_file none", ""},
		{"auto", "auto", ""},
		{"a,,b", "", "tool choice 2 is empty"},
		{"x*0", "", "whole number from 1"},
		{"x*y", "", "whole number from 1"},
		{"read file", "", "a tool's name"},
		{"none*20000", "", "more than 10000 steps"},
	} {
		plan, err := ParseToolChoices(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, %v; want an error with %q", tc.in, plan, err, tc.err)
			}
			continue
		}
		var parts []string
		for _, c := range plan {
			parts = append(parts, FormatToolChoice(c))
		}
		if err != nil || strings.Join(parts, " ") != tc.want {
			t.Errorf("%q: %v, %v; want %s", tc.in, parts, err, tc.want)
		}
	}
}
