package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"glassbox/eval"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// TestEndpointBenchAndEval measures models served by a second glassbox on
// loopback with --endpoint: bench through streamed completions, HumanEval
// through completions (the same completions as the local model's), and the
// records of both in the leaderboard with the endpoint as their source.
func TestEndpointBenchAndEval(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GLASSBOX_HOME", home)
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("GLASSBOX_API_KEY", "secret")
	stories := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	srv := startServe(t, "-m", stories, "--addr", "127.0.0.1:0", "--api-key", "secret", "--threads", "1")
	endpoint := srv.base + "/v1"

	out, _, err := execute(t, newRootCmd(), "", "bench", "--endpoint", srv.base, "-m", "stories260K-f32", "-p", "24", "-n", "16", "-r", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Endpoint string `json:"endpoint"`
		Model    string `json:"model"`
		eval.Speed
		Runs []struct {
			PromptTokens     int     `json:"prompt_tokens"`
			CompletionTokens int     `json:"completion_tokens"`
			TTFTMS           float64 `json:"ttft_ms"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if b.Endpoint != endpoint || b.Model != "stories260K-f32" || len(b.Runs) != 2 || b.GenTPS <= 0 || b.PromptTPS <= 0 || b.TTFTMS <= 0 || b.GenTokens != 16 {
		t.Errorf("bench --endpoint: %s", out)
	}
	for _, r := range b.Runs {
		// the prompt is 24 token ids of the vocabulary, as the server counts them
		if r.PromptTokens != 24 || r.CompletionTokens != 16 || r.TTFTMS <= 0 {
			t.Errorf("run %+v", r)
		}
	}
	out, stderr, err := execute(t, newRootCmd(), "", "bench", "--endpoint", endpoint, "-m", "stories260K-f32", "-p", "8", "-n", "4", "-r", "1")
	if err != nil || !strings.Contains(out, "stories260K-f32 at "+endpoint) || !strings.Contains(out, "mean") || !strings.Contains(stderr, "record saved") {
		t.Errorf("bench --endpoint table: %v\n%s\n%s", err, out, stderr)
	}

	// a wrong key, a flag for local models, an endpoint that is not a URL
	t.Setenv("GLASSBOX_API_KEY", "wrong")
	if _, _, err := execute(t, newRootCmd(), "", "bench", "--endpoint", endpoint, "-m", "stories260K-f32", "-p", "8", "-n", "4", "-r", "1"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: %v", err)
	}
	t.Setenv("GLASSBOX_API_KEY", "secret")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--endpoint", endpoint, "-t", "2"}, "--threads does not apply to --endpoint"},
		{[]string{"bench", "--endpoint", "localhost:8080"}, "expected an http:// or https:// URL"},
		{[]string{"eval", "perplexity", "--endpoint", endpoint, "--file", stories, "--kl-base", stories}, "--kl-base does not apply to --endpoint"},
	} {
		if _, _, err := execute(t, newRootCmd(), "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}

	// perplexity and choice through the endpoint (prompt log-probabilities:
	// echo with logprobs) give the local figures
	text := shakespeareFile(t)
	for _, args := range [][]string{
		{"eval", "perplexity", "--file", text, "--ctx", "64", "--chunks", "1", "--json"},
		{"eval", "choice", "--file", "../../eval/testdata/choice-en-fr.jsonl", "--json"},
	} {
		loc, _, err := execute(t, newRootCmd(), "", append(args, "-m", stories, "--no-save")...)
		if err != nil {
			t.Fatal(err)
		}
		rem, _, err := execute(t, newRootCmd(), "", append(args, "--endpoint", endpoint, "-m", "stories260K-f32")...)
		if err != nil {
			t.Fatalf("%v --endpoint: %v", args[:2], err)
		}
		var l, r map[string]any
		if err := json.Unmarshal([]byte(loc), &l); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(rem), &r); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"perplexity", "acc", "acc_norm"} {
			lv, ok := l[k].(float64)
			if !ok {
				continue
			}
			if rv, _ := r[k].(float64); math.Abs(rv-lv) > 1e-4 {
				t.Errorf("%v: %s %v through the endpoint, %v locally", args[:2], k, r[k], lv)
			}
		}
	}

	// HumanEval: the embedded model served, its completions the local ones
	data := fixtures.Path(t, "humaneval-x-go", "humaneval_go.jsonl.gz")
	def := startServe(t, "--addr", "127.0.0.1:0", "--api-key", "secret", "--threads", "1")
	name := strings.TrimSuffix(models.DefaultName, ".gguf")
	type heOut struct {
		PassAt1 float64 `json:"pass_at_1"`
		Total   int     `json:"total"`
		Tasks   []eval.HumanEvalTask
	}
	var local, remote heOut
	for i, args := range [][]string{
		{"eval", "humaneval", "--file", data, "--limit", "3", "--max-tokens", "48", "--json", "--no-save", "-t", "1"},
		{"eval", "humaneval", "--file", data, "--limit", "3", "--max-tokens", "48", "--json", "--endpoint", def.base, "-m", name},
	} {
		out, _, err := execute(t, newRootCmd(), "", args...)
		if err != nil {
			t.Fatal(err)
		}
		dst := []*heOut{&local, &remote}[i]
		if err := json.Unmarshal([]byte(out), dst); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if remote.Total != 3 || len(remote.Tasks) != 3 || remote.PassAt1 != local.PassAt1 {
		t.Errorf("humaneval --endpoint: %+v, local %+v", remote, local)
	}
	for i := range min(len(local.Tasks), len(remote.Tasks)) {
		if l, r := local.Tasks[i], remote.Tasks[i]; l.Completion != r.Completion || strings.Join(l.Statuses, ",") != strings.Join(r.Statuses, ",") {
			t.Errorf("%s: local completion %q (%v), at the endpoint %q (%v)", l.TaskID, l.Completion, l.Statuses, r.Completion, r.Statuses)
		}
	}

	// the leaderboard: the two remote models, their source the endpoint
	out, _, err = execute(t, newRootCmd(), "", "leaderboard", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var lb eval.Leaderboard
	if err := json.Unmarshal([]byte(out), &lb); err != nil {
		t.Fatal(err)
	}
	if len(lb.Rows) != 2 {
		t.Fatalf("leaderboard rows %+v", lb.Rows)
	}
	for _, r := range lb.Rows {
		switch r.Model {
		case "stories260K-f32":
			if r.Source != endpoint || r.GenTPS <= 0 || r.TTFTMS <= 0 || r.Records != 4 || r.PeakRSSBytes != 0 || r.Scores["acc choice-en-fr.jsonl"] == 0 {
				t.Errorf("bench row %+v", r)
			}
		case name:
			if r.Source != def.base+"/v1" || r.Scores["pass@1 humaneval_go.jsonl.gz limit3"] != remote.PassAt1 {
				t.Errorf("humaneval row %+v", r)
			}
		default:
			t.Errorf("row %+v", r)
		}
	}
}
