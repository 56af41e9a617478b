package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"glassbox/internal/fixtures"
	"glassbox/trace"
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
		for _, c := range []struct {
			name string
			cmd  func() *cobra.Command
			args []string
		}{
			{"run", newRunCmd, []string{"x"}},
			{"dissect", newDissectCmd, []string{"x"}},
			{"chat", newChatCmd, nil},
		} {
			_, _, err := execute(t, c.cmd(), "", append(append([]string{"-m", model}, tt.args...), c.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s %v: err %v, want %q", c.name, tt.args, err, tt.want)
			}
		}
	}
}

// TestDissectGrammar: dissect follows --grammar and --json-schema, and
// both the JSON trace and the report show what the grammar removed.
func TestDissectGrammar(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	dir := t.TempDir()
	nums := filepath.Join(dir, "nums.gbnf")
	if err := os.WriteFile(nums, []byte(`root ::= " " [0-9]{3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	schema := filepath.Join(dir, "s.json")
	if err := os.WriteFile(schema, []byte(`{"type":"object","properties":{"n":{"type":"integer","minimum":0,"maximum":9}},"required":["n"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, newDissectCmd(), "", "-m", model, "--temperature", "0", "-n", "8", "--grammar", nums, "--no-attention", "--no-logit-lens", "--json", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	var steps []*trace.Step
	var done *trace.Done
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev trace.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if ev.Step != nil {
			steps = append(steps, ev.Step)
		}
		if ev.Done != nil {
			done = ev.Done
		}
	}
	if done == nil || !regexp.MustCompile(`^ [0-9]{3}$`).MatchString(done.Text) {
		t.Fatalf("done %+v: the text does not follow the grammar", done)
	}
	removed := 0
	for _, s := range steps {
		if s.Sampling.Grammar == nil {
			t.Errorf("step %d has no grammar record", s.Index)
			continue
		}
		removed += len(s.Sampling.Grammar.Removed)
	}
	if removed == 0 {
		t.Error("the grammar removed no candidate in the whole trace")
	}
	report, _, err := execute(t, newDissectCmd(), "", "-m", model, "--temperature", "0", "-n", "8", "--grammar", nums, "--color", "never", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report, "removed (p before the grammar): ") || !strings.Contains(report, "TEXT  \" ") {
		t.Errorf("the report shows no grammar record:\n%s", report)
	}
	out, _, err = execute(t, newDissectCmd(), "", "-m", model, "--temperature", "0", "-n", "16", "--json-schema", schema, "--color", "never", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^TEXT  (".*") · finish`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no TEXT line:\n%s", out)
	}
	text, err := strconv.Unquote(m[1])
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ N *int }
	if err := json.Unmarshal([]byte(text), &v); err != nil || v.N == nil || *v.N < 0 || *v.N > 9 {
		t.Errorf("--json-schema text %q: %v", text, err)
	}
}
