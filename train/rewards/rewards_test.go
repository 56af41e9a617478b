package rewards

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A prompt as the embedded model's data has them: the first lines of a
// function of the standard library, without the final newline.
const toUpper = "func ToUpper(s []byte) []byte {\n\tisASCII, hasLower := true, false\n\tfor i := 0; i < len(s); i++ {"

func TestSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Input
		want string
	}{
		{"closes braces", Input{Prompt: "func f() {\n\tif x {", Completion: "\n\t\ty()"}, "package p\nfunc f() {\n\tif x {\n\t\ty()\n}\n}\n"},
		{"nothing open", Input{Prompt: "func f() {}", Completion: "\n"}, "package p\nfunc f() {}\n"},
		{"file context", Input{File: "package q\n\nimport \"strings\"", Prompt: "func f() {", Completion: "\n\tstrings.ToUpper(\"a\""}, "package q\n\nimport \"strings\"\nfunc f() {\n\tstrings.ToUpper(\"a\"\n)\n}\n"},
		{"package in prompt", Input{Prompt: "// c\npackage z\nfunc f() {"}, "// c\npackage z\nfunc f() {\n}\n"},
		{"line comment at the end", Input{Prompt: "func f() {", Completion: " // done"}, "package p\nfunc f() { // done\n}\n"},
		{"wrong closer kept", Input{Prompt: "func f() {", Completion: ")"}, "package p\nfunc f() {)\n}\n"},
		{"suffix after the completion", Input{Prompt: "func f() {\n\tif x {", Completion: "\n\t\ty()", Suffix: "\t}\n}\n"}, "package p\nfunc f() {\n\tif x {\n\t\ty()\n\t}\n}\n"},
		{"brackets in strings ignored", Input{Prompt: "func f() {", Completion: "\n\ts := \"{[(\""}, "package p\nfunc f() {\n\ts := \"{[(\"\n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, start := Source(tc.in)
			if got != tc.want {
				t.Errorf("Source = %q, want %q", got, tc.want)
			}
			if !strings.HasPrefix(got[start:], tc.in.Completion) {
				t.Errorf("start %d does not point at the completion in %q", start, got)
			}
		})
	}
}

func TestParseAndTypeCheck(t *testing.T) {
	c := NewChecker()
	ctx := context.Background()
	for _, tc := range []struct {
		name          string
		in            Input
		parse, typeOK float64
	}{
		{"valid next line", Input{Prompt: toUpper, Completion: "\n\t\tc := s[i]\n"}, 1, 1},
		{"valid, uses an import", Input{File: "import \"unicode/utf8\"", Prompt: toUpper, Completion: "\n\t\t_ = utf8.RuneLen(rune(s[i]))\n"}, 1, 1},
		{"partial expression", Input{Prompt: toUpper, Completion: "\n\t\tc := s[i] +\n"}, 0, 0},
		{"syntax error", Input{Prompt: toUpper, Completion: "\n\t\tc := := s\n"}, 0, 0},
		{"unterminated string", Input{Prompt: toUpper, Completion: "\n\t\tc := \"abc\n"}, 0, 0},
		{"blank completion", Input{Prompt: toUpper, Completion: "\n\n"}, 0, 0},
		{"comment only", Input{Prompt: toUpper, Completion: "\n\t\t// nothing\n"}, 0, 0},
		{"empty completion", Input{Prompt: toUpper}, 0, 0},
		{"parses, wrong type", Input{Prompt: toUpper, Completion: "\n\t\tisASCII = 3\n"}, 1, 0},
		{"parses, undefined name", Input{Prompt: toUpper, Completion: "\n\t\tc := undefinedThing(s)\n"}, 1, 0},
		{"parses, unknown package", Input{Prompt: toUpper, Completion: "\n\t\tstrings.ToUpper(s)\n"}, 1, 0},
		{"unused variable is not an error", Input{Prompt: toUpper, Completion: "\n\t\tc := s[i]\n"}, 1, 1},
		{"error the prompt already has", Input{Prompt: "func f() int {\n\tx := missing()", Completion: "\n\t_ = x\n"}, 1, 1},
		{"new error besides the prompt's", Input{Prompt: "func f() int {\n\tx := missing()", Completion: "\n\t_ = missing2()\n"}, 1, 0},
		{"closing the function", Input{Prompt: "func f() {\n\tg()\n", Completion: "}\n\nfunc g() {}\n"}, 1, 1},
		{"fits the rest of the function", Input{Prompt: toUpper, Completion: "\n\t\tc := s[i]\n", Suffix: "\t\t_ = c\n\t}\n\treturn s\n}\n"}, 1, 1},
		{"closing early breaks the rest of the function", Input{Prompt: toUpper, Completion: "\n\t}\n", Suffix: "\t\t_ = isASCII\n\t}\n\treturn s\n}\n"}, 0, 0},
		{"missing return added by closing is the prompt's", Input{Prompt: "func f() int {", Completion: "\n\tx := 1\n"}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.Parse(ctx, tc.in)
			if err != nil || p != tc.parse {
				t.Errorf("Parse = %v, %v; want %v", p, err, tc.parse)
			}
			ty, err := c.TypeCheck(ctx, tc.in)
			if err != nil || ty != tc.typeOK {
				src, _ := Source(tc.in)
				errs, _ := c.typeErrors(src)
				t.Errorf("TypeCheck = %v, %v; want %v (errors %v)", ty, err, tc.typeOK, errs)
			}
		})
	}
}

func TestParseSpec(t *testing.T) {
	s, err := ParseSpec("parse=1, typecheck=0.5,vet,test=2,cmd:./score.sh --k=v=3", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.Rewards {
		got = append(got, r.Name+"="+strconv.FormatFloat(r.Weight, 'g', -1, 64))
	}
	if want := "parse=1 typecheck=0.5 vet=1 test=2 cmd:./score.sh --k=v=3"; strings.Join(got, " ") != want {
		t.Errorf("rewards %q, want %q", strings.Join(got, " "), want)
	}
	for _, tc := range []struct{ spec, want string }{
		{"", "no reward given"},
		{"parse=x", `weight "x" is not a number`},
		{"parse=NaN", "not a number"},
		{"bleu=1", `unknown reward "bleu"`},
		{"parse,parse=2", "listed twice"},
		{"cmd:=1", "no command"},
	} {
		if _, err := ParseSpec(tc.spec, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSpec(%q) = %v, want an error with %q", tc.spec, err, tc.want)
		}
	}
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	in := Input{Prompt: "func f() {", Completion: "\n\treturn\n"}
	// The command reads the record as JSON: score the completion's length.
	length := script("len.sh", `python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r["completion"]))' 2>/dev/null || { read line; echo "  ${#line} "; }`+"\n")
	v, err := Command([]string{length}, 5*time.Second)(ctx, in)
	if err != nil || v <= 0 {
		t.Fatalf("length reward = %v, %v", v, err)
	}
	for _, tc := range []struct {
		body, want string
		timeout    time.Duration
	}{
		{"echo hello\n", `expected one number on standard output, got "hello"`, time.Minute},
		{"echo 1 2\n", `got "1 2"`, time.Minute},
		{"echo NaN\n", "expected one number", time.Minute},
		{"echo oops >&2; exit 3\n", "exit status 3: oops", time.Minute},
		{"sleep 60\n", "no answer within", 500 * time.Millisecond},
	} {
		p := script("bad.sh", tc.body)
		_, err := Command([]string{p}, tc.timeout)(ctx, in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "reward cmd:"+p) {
			t.Errorf("%q: err = %v, want it to name the command and say %q", tc.body, err, tc.want)
		}
		os.Remove(p)
	}
}

func TestVetAndTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command in a sandbox")
	}
	s, err := ParseSpec("vet,test", Options{Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	vet, test := s.Rewards[0].Fn, s.Rewards[1].Fn
	add := "func Add(a, b int) int {"
	tests := "import \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatal(Add(2, 3))\n\t}\n}\n"
	for _, tc := range []struct {
		name      string
		in        Input
		vet, test float64
	}{
		{"right", Input{Prompt: add, Completion: "\n\treturn a + b\n}\n", Tests: tests}, 1, 1},
		{"wrong", Input{Prompt: add, Completion: "\n\treturn a - b\n}\n", Tests: tests}, 1, 0},
		{"vet complains", Input{File: "import \"fmt\"", Prompt: add, Completion: "\n\tfmt.Printf(\"%d\\n\", \"x\")\n\treturn a + b\n}\n", Tests: tests}, 0, 1},
		{"does not parse", Input{Prompt: add, Completion: "\n\treturn a +\n", Tests: tests}, 0, 0},
		{"no tests", Input{Prompt: add, Completion: "\n\treturn a + b\n}\n"}, 1, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := vet(ctx, tc.in)
			if err != nil || v != tc.vet {
				t.Errorf("vet = %v, %v; want %v", v, err, tc.vet)
			}
			r, err := test(ctx, tc.in)
			if err != nil || !(r == tc.test || math.IsNaN(r) && math.IsNaN(tc.test)) {
				t.Errorf("test = %v, %v; want %v", r, err, tc.test)
			}
		})
	}
}

func FuzzRewards(f *testing.F) {
	f.Add("", toUpper, "\n\t\tc := s[i]\n")
	f.Add("import \"strings\"", "func f() {", "\n\tstrings.ToUpper(\"x\"")
	f.Add("package q", "func f() {)", "]}")
	f.Add("", "/* open", " comment")
	f.Add("", "`raw", "\n")
	c := NewChecker()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, file, prompt, completion string) {
		in := Input{File: file, Prompt: prompt, Completion: completion}
		src, start := Source(in)
		if start > len(src) || !strings.HasPrefix(src[start:], completion) {
			t.Fatalf("start %d does not point at the completion", start)
		}
		p, err := c.Parse(ctx, in)
		if err != nil || (p != 0 && p != 1) {
			t.Fatalf("Parse = %v, %v", p, err)
		}
		if len(src) > 2000 {
			return // type-checking long random files is slow and says nothing more
		}
		ty, err := c.TypeCheck(ctx, in)
		if err != nil || ty > p {
			t.Fatalf("TypeCheck = %v, %v with Parse %v", ty, err, p)
		}
	})
}
