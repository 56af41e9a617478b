package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
)

func TestRunGrammarFlags(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nums := write("nums.gbnf", `root ::= " " [0-9]{3} ("," [0-9]{3}){0,2}`+"\n")
	schema := write("person.json", `{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":1,"maximum":99}},"required":["name","age"]}`)
	for seed := range 5 {
		s := string(rune('0' + seed))
		out, _, err := execute(t, newRunCmd(), "", "-m", model, "--grammar", nums, "--temperature", "1", "--seed", s, "Once upon a time")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^ [0-9]{3}(,[0-9]{3}){0,2}\n$`).MatchString(out) {
			t.Errorf("--grammar output %q", out)
		}
		out, _, err = execute(t, newRunCmd(), "", "-m", model, "--json-schema", schema, "--temperature", "1", "--seed", s, "Once upon a time")
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Name *string `json:"name"`
			Age  *int    `json:"age"`
		}
		d := json.NewDecoder(strings.NewReader(out))
		d.DisallowUnknownFields()
		if err := d.Decode(&p); err != nil || p.Name == nil || p.Age == nil || *p.Age < 1 || *p.Age > 99 {
			t.Errorf("--json-schema output %q: %v", out, err)
		}
	}
	bad := write("bad.gbnf", "root ::= (\n")
	badSchema := write("bad.json", `{"type":"string","pattern":"a"}`)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--grammar", bad}, `grammar: 2:1: expected ) to close the group`},
		{[]string{"--json-schema", badSchema}, `at /pattern: unsupported keyword "pattern"`},
		{[]string{"--grammar", nums, "--json-schema", badSchema}, "give one of them"},
		{[]string{"--grammar", filepath.Join(dir, "missing.gbnf")}, "no such file"},
	} {
		_, _, err := execute(t, newRunCmd(), "", append(append([]string{"-m", model}, tt.args...), "x")...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err %v, want %q", tt.args, err, tt.want)
		}
	}
}
