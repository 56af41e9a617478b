package main

import (
	"encoding/json"
	"strings"
	"testing"

	"glassbox/eval"
	"glassbox/internal/fixtures"
)

// TestLeaderboardCommand evaluates and benchmarks two fixture models, then
// reads them back side by side from the leaderboard, as a table and JSON.
func TestLeaderboardCommand(t *testing.T) {
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	out, _, err := execute(t, newRootCmd(), "", "leaderboard")
	if err != nil || !strings.Contains(out, "no records yet") {
		t.Fatalf("empty store: %v %q", err, out)
	}
	text := shakespeareFile(t)
	models := []string{fixtures.Path(t, "gguf", "stories260K-f32.gguf"), fixtures.Path(t, "gguf", "stories260K-Q4_K_M.gguf")}
	for _, m := range models {
		if _, _, err := execute(t, newRootCmd(), "", "eval", "perplexity", "-m", m, "--file", text, "--ctx", "128", "--chunks", "4", "-t", "1", "--json"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := execute(t, newRootCmd(), "", "bench", "-m", m, "-p", "32", "-n", "8", "-r", "1", "-t", "1", "--json"); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err = execute(t, newRootCmd(), "", "leaderboard", "--json", "--sort", "ppl")
	if err != nil {
		t.Fatal(err)
	}
	var lb eval.Leaderboard
	if err := json.Unmarshal([]byte(out), &lb); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(lb.Rows) != 2 || len(lb.Scores) != 1 || lb.Scores[0].Key != "ppl ts20k.txt ctx128 chunks4" || lb.SortedBy != lb.Scores[0].Key {
		t.Fatalf("leaderboard %+v", lb)
	}
	key := lb.Scores[0].Key
	if lb.Rows[0].Scores[key] > lb.Rows[1].Scores[key] {
		t.Errorf("not sorted by perplexity, lowest first: %v then %v", lb.Rows[0].Scores, lb.Rows[1].Scores)
	}
	for _, r := range lb.Rows {
		if r.Scores[key] <= 1 || r.PromptTPS <= 0 || r.GenTPS <= 0 || r.TTFTMS <= 0 || r.PeakRSSBytes <= 0 || r.SizeBytes <= 0 ||
			r.ContextLength != 128 || r.Source != eval.SourceLocal || r.Records != 2 || r.Threads != 1 || r.Arch != "llama" {
			t.Errorf("row %+v", r)
		}
	}
	out, _, err = execute(t, newRootCmd(), "", "leaderboard", "--sort", "tg")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "tg t/s") || !strings.Contains(lines[0], key+" ↓") ||
		!strings.Contains(out, "stories260K-f32.gguf") || !strings.Contains(out, "stories260K-Q4_K_M.gguf") {
		t.Errorf("table:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"leaderboard", "--sort", "nope"}, `no column "nope"`},
		{[]string{"leaderboard", "--reverse"}, "--reverse needs --sort"},
	} {
		if _, _, err := execute(t, newRootCmd(), "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
