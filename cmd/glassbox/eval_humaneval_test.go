package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"glassbox/eval"
	"glassbox/internal/fixtures"
)

func TestEvalHumanEvalCommand(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GLASSBOX_HOME", home)
	data := fixtures.Path(t, "humaneval-x-go", "humaneval_go.jsonl.gz")
	type output struct {
		PassAt1  *float64           `json:"pass_at_1"`
		PassAtK  map[string]float64 `json:"pass_at_k"`
		Passed   *int               `json:"passed"`
		Total    int                `json:"total"`
		Samples  int                `json:"samples"`
		Tasks    []eval.HumanEvalTask
		Isolated *bool `json:"network_isolated"`
	}
	// the canonical solutions of the first three problems pass; no record
	out, _, err := execute(t, newEvalHumanEvalCmd(), "", "--file", data, "--canonical", "--limit", "3", "--json", "--prepare")
	if err != nil {
		t.Fatal(err)
	}
	var got output
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.PassAt1 == nil || *got.PassAt1 != 1 || got.Passed == nil || *got.Passed != 3 || got.Total != 3 || got.Isolated == nil {
		t.Errorf("--canonical --limit 3: %s", out)
	}
	// the embedded model, greedy, on two problems: scored and recorded
	out, stderr, err := execute(t, newEvalHumanEvalCmd(), "", "--file", data, "--limit", "2", "--max-tokens", "48")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "HumanEval-X Go, completions of the embedded model:") || !strings.Contains(out, "of 2 (1 sample each)") || !strings.Contains(out, "pass@1") || !strings.Contains(stderr, "record saved") {
		t.Errorf("text output %q, stderr %q", out, stderr)
	}
	recs, err := eval.List(home, "humaneval")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Results["pass_at_1"] == nil || recs[0].Results["total"] != float64(2) || recs[0].Model.SHA256 == "" {
		t.Fatalf("records %+v, want one humaneval record of 2 problems", recs)
	}
	// sampled: -n 2 with pass@2
	out, _, err = execute(t, newEvalHumanEvalCmd(), "", "--file", data, "--limit", "1", "--max-tokens", "24", "-n", "2", "--k", "1,2", "--seed", "7", "--json", "--no-save")
	if err != nil {
		t.Fatal(err)
	}
	got = output{}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.PassAtK["2"]; !ok || got.Samples != 2 || len(got.Tasks) != 1 || len(got.Tasks[0].Statuses) != 2 {
		t.Errorf("-n 2 --k 1,2: %s", out)
	}
}

func TestEvalHumanEvalCommandErrors(t *testing.T) {
	data := fixtures.Path(t, "humaneval-x-go", "humaneval_go.jsonl.gz")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--file is required"},
		{[]string{"--file", data, "--k", "10"}, "pass@10 needs at least 10 samples"},
		{[]string{"--file", data, "--k", "x"}, "--k: expected comma-separated whole numbers"},
		{[]string{"--file", data, "--canonical", "-n", "5"}, "takes neither -m, -n nor --endpoint"},
		{[]string{"--file", data, "--canonical", "--endpoint", "http://127.0.0.1:1"}, "nor --endpoint"},
		{[]string{"--file", data, "-n", "0"}, "a whole number of samples from 1"},
		{[]string{"--file", data, "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"--file", "/nonexistent.jsonl.gz", "--canonical"}, "no such file"},
		{[]string{"--file", fixtures.Path(t, "humaneval-x-go", "go.mod.evaluation"), "--canonical"}, "expected a JSON object"},
	} {
		_, _, err := execute(t, newEvalHumanEvalCmd(), "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestParseKs(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 1, "[1]"}, {"", 10, "[1 10]"}, {"", 200, "[1 10 100]"}, {"1, 5", 5, "[1 5]"},
	} {
		ks, err := parseKs(tc.s, tc.n)
		if err != nil || fmt.Sprint(ks) != tc.want {
			t.Errorf("parseKs(%q, %d) = %v, %v; want %s", tc.s, tc.n, ks, err, tc.want)
		}
	}
}
