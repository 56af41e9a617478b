package grammar

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t testing.TB, src string) *Grammar {
	t.Helper()
	g, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return g
}

func readGrammar(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// matches reports whether s is a complete sentence of g.
func matches(g *Grammar, s string) bool {
	m := NewMatcher(g, nil)
	return m.AcceptString(s) == nil && m.Complete()
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		grammar string // a file in testdata (ending .gbnf) or the grammar itself
		ok, bad []string
	}{
		{"literal", `root ::= "yes" | "no"`, []string{"yes", "no"}, []string{"", "y", "yess", "No"}},
		{"star", `root ::= "a"*`, []string{"", "a", "aaaa"}, []string{"b", "ab"}},
		{"plus", `root ::= "ab"+`, []string{"ab", "abab"}, []string{"", "a", "aba"}},
		{"optional", `root ::= "x"? "y"`, []string{"y", "xy"}, []string{"x", "xxy"}},
		{"counted", `root ::= [0-9]{2,3}`, []string{"12", "123"}, []string{"1", "1234"}},
		{"exact", `root ::= [0-9]{2}`, []string{"12"}, []string{"1", "123"}},
		{"at least", `root ::= "a"{2,}`, []string{"aa", "aaaaa"}, []string{"a"}},
		{"class", `root ::= [a-cx]`, []string{"a", "b", "c", "x"}, []string{"d", "w", "ab"}},
		{"negated", `root ::= [^a-c]`, []string{"d", "é", "日"}, []string{"a", "b"}},
		{"any", `root ::= . .`, []string{"ab", "é日"}, []string{"a", "abc"}},
		{"escapes", `root ::= "\x41\u00e9\n\t\"\\" [\]\[]`, []string{"Aé\n\t\"\\]", "Aé\n\t\"\\["}, []string{"Aé"}},
		{"unicode class", `root ::= [α-ω]+`, []string{"αβγ"}, []string{"abc", "Α"}},
		{"group", `root ::= ("a" | "b") ("c" | "d")`, []string{"ac", "bd"}, []string{"ab", "a"}},
		{"nullable loop", `root ::= ("a"?)* "b"`, []string{"b", "ab", "aaab"}, []string{"a"}},
		{"multiline", "root ::= a\n  | b\na ::= \"A\" # comment\nb ::= (\n  \"B\"\n  | \"C\"\n)\n", []string{"A", "B", "C"}, []string{"D"}},
		{"json", "json.gbnf",
			[]string{`{}`, `{"a": [1, 2.5e-3, -0, true, false, null]}`, ` [ "x\u00e9\n" ] `, `"\"\\"`, `{"a":{"b":[]}}`, `"日本"`},
			[]string{`{`, `{"a"}`, `[1,]`, `01`, `"a`, "\"\x01\"", `{"a":1,}`, `tru`}},
		{"arithmetic", "arithmetic.gbnf",
			[]string{"1", "1 + 2 * 3", "-(a1 - 4)/b", "((x))", "(1 + (2 * x))"},
			[]string{"", "1 +", "(1", "1 2", "A", "(((x)))", "12345"}},
		{"list", "list.gbnf",
			[]string{"- milk\n", "- eggs, milk\n- bread!\n"},
			[]string{"", "- \n", "milk\n", "- a\n- b\n- c\n- d\n- e\n"}},
		{"chess", "chess.gbnf",
			[]string{"1. e4 e5", "1. e4 e5 2. Nf3 Nc6", "1. O-O exd8=Q+"},
			[]string{"1. e9 e5", "1. e4", "e4 e5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.grammar
			if strings.HasSuffix(src, ".gbnf") {
				src = readGrammar(t, src)
			}
			g := mustParse(t, src)
			for _, s := range tt.ok {
				if !matches(g, s) {
					t.Errorf("%q rejected", s)
				}
			}
			for _, s := range tt.bad {
				if matches(g, s) {
					t.Errorf("%q accepted", s)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{``, "1:1: the grammar is empty"},
		{`root ::= foo`, `1:10: undefined rule "foo"`},
		{`start ::= "a"`, "no rule named root"},
		{`root = "a"`, "1:6: expected ::="},
		{`root ::= "a`, "1:10: unterminated string literal"},
		{`root ::= [a-`, "unterminated character class"},
		{`root ::= [z-a]`, "goes backwards"},
		{`root ::= ("a"`, "expected ) to close the group"},
		{"root ::= (\"a\"\nx ::= \"b\"", "expected ) to close a group before the definition of \"x\""},
		{`root ::= "\q"`, `unknown escape \q`},
		{`root ::= "\x4"`, `\x needs 2 hexadecimal digits`},
		{`root ::= *`, "must follow an element"},
		{`root ::= "a"{3,1}`, "expected the minimum first"},
		{`root ::= "a"{99999}`, "repetition count over"},
		{`root ::= "a" ) "b"`, "expected the end of the line"},
		{"root ::= \"a\"\nroot ::= \"b\"", `2:1: rule "root" is defined twice`},
		{"root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]", "2:1: left recursion: expr -> expr"},
		{"root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"b\"", "left recursion: a -> a"},
		{"root ::= a\na ::= (\"\" b)\nb ::= a \"x\"", "left recursion"},
		{`root ::= <think>`, "token references"},
		{`root ::= []`, "empty character class"},
		{"root ::= \"\xff\"", "invalid UTF-8"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.src)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error containing %q", tt.src, tt.want)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q): %T is not a *SyntaxError", tt.src, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", tt.src, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"json.gbnf", "arithmetic.gbnf", "list.gbnf", "chess.gbnf"} {
		f.Add(readGrammar(f, name), `{"a": [1, "x"]}`)
	}
	f.Add(`root ::= ("a"?)* "b"{2,3} [^\x00-\x1F] .`, "aabb")
	f.Add("root ::= a\na ::= a \"x\" | \"y\"", "yx")
	f.Fuzz(func(t *testing.T, src, text string) {
		g, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SyntaxError: %v", err, err)
			}
			return
		}
		m := NewMatcher(g, nil)
		for i := 0; i < len(text) && i < 64; i++ {
			if m.AcceptString(text[i:i+1]) != nil {
				break
			}
		}
		m.Complete()
	})
}
