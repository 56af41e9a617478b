package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// grpoPrompts writes n Go prompts (the start of a function) as GRPO records.
func grpoPrompts(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		line, _ := json.Marshal(map[string]string{
			"prompt": fmt.Sprintf("// F%d returns the sum of a and b.\nfunc F%d(a, b int) int {", i, i),
			"file":   "package sums\n",
		})
		b.Write(append(line, '\n'))
	}
	p := filepath.Join(t.TempDir(), "prompts.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrainGRPOCommand runs GRPO on the embedded model through the CLI with
// the built-in rewards and a command reward: the run's files, TRL's metrics
// in the summary and in loss.csv, the reward curve, the export, and a resume
// with nothing left to do.
func TestTrainGRPOCommand(t *testing.T) {
	data := grpoPrompts(t, 20)
	dir := t.TempDir()
	score := filepath.Join(t.TempDir(), "score.sh")
	// The command reward: 1 when the completion mentions a.
	if err := os.WriteFile(score, []byte("#!/bin/sh\nif grep -q '\\\\ta\\|a +\\|+ a' ; then echo 1; else echo 0.0; fi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"grpo", "--data", data, "--out", dir, "--steps", "2", "--batch", "2", "--group", "3",
		"--max-completion-length", "8", "--stop-lines", "1", "--kl-beta", "0.04", "--iterations", "2",
		"--reward", "parse=1,typecheck=0.5,cmd:" + score + "=0.25", "--val-permille", "200", "-q", "--name", "tuned"}
	out, err := runTrainCLI(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "checkpoint.bin", "loss.csv", "loss.svg", "reward.svg", "tuned.f32.gguf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing output %s: %v", f, err)
		}
	}
	for _, m := range []string{"grpo: 4 steps", "reward ", "reward_std", "rewards/parse/mean", "rewards/typecheck/std", "rewards/cmd:" + score + "/mean",
		"kl ", "clip_ratio", "completions/mean_length", "validation: reward"} {
		if !strings.Contains(out, m) {
			t.Errorf("summary lacks %q:\n%s", m, out)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "loss.csv"))
	if head := strings.SplitN(string(csv), "\n", 2)[0]; !strings.Contains(head, "rewards/parse/mean") || !strings.Contains(head, "eval_reward") {
		t.Errorf("loss.csv header %q", head)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	for _, want := range []string{`"method": "grpo"`, `"group": 3`, `"kl_beta": 0.04`, `"num_iterations": 2`, `"rewards": "parse=1,typecheck=0.5,cmd:`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config.json lacks %s:\n%s", want, cfg)
		}
	}
	out, err = runTrainCLI(t, append(args, "--resume", "--export", "")...)
	if err != nil || !strings.Contains(out, "grpo: 4 steps") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
}

// TestTrainGRPOPtx runs GRPO with a pretraining mix through the CLI:
// ptx_loss in the summary and loss.csv (training and validation), γ and the
// text's SHA-256 in config.json.
func TestTrainGRPOPtx(t *testing.T) {
	data := grpoPrompts(t, 12)
	dir := t.TempDir()
	var text strings.Builder
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&text, "func add%d(a, b int) int {\n\treturn a + b + %d\n}\n\n", i, i)
	}
	line, _ := json.Marshal(map[string]string{"text": text.String()})
	ptx := filepath.Join(t.TempDir(), "ptx.jsonl")
	if err := os.WriteFile(ptx, append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runTrainCLI(t, "grpo", "--data", data, "--out", dir, "--steps", "2", "--batch", "2", "--group", "2",
		"--max-completion-length", "6", "--stop-lines", "1", "--ptx-coef", "0.5", "--ptx-data", ptx, "--ptx-batch", "2",
		"--val-permille", "300", "--export", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "ptx_loss") {
		t.Errorf("summary lacks ptx_loss:\n%s", out)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "loss.csv"))
	if head := strings.SplitN(string(csv), "\n", 2)[0]; !strings.Contains(head, ",ptx_loss,") || !strings.Contains(head, "eval_ptx_loss") {
		t.Errorf("loss.csv header %q", head)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	for _, want := range []string{`"ptx_coef": 0.5`, `"ptx_batch": 2`, `"ptx_data_sha256": "`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config.json lacks %s:\n%s", want, cfg)
		}
	}
}

// TestTrainGRPOErrors: bad prompt files, reward lists and settings give
// errors naming the file, the line and the field, or the flag.
func TestTrainGRPOErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"prompt": "func f() {"}` + "\n"
	bad := write("bad.sh", "#!/bin/sh\necho many\n")
	if err := os.Chmod(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing prompt", []string{"--data", write("miss.jsonl", good+`{"completion": "x"}`+"\n")}, `miss.jsonl: line 2: field "prompt": missing`},
		{"tests not a string", []string{"--data", write("tests.jsonl", good+good+`{"prompt": "p", "tests": 3}`+"\n")}, `tests.jsonl: line 3: field "tests": expected a string, got a number`},
		{"malformed", []string{"--data", write("mal.jsonl", "{\"prompt\": \n")}, "mal.jsonl: line 1: not a JSON object"},
		{"chat without template", []string{"--data", write("chat.jsonl", `{"messages": [{"role": "user", "content": "hi"}]}`+"\n")}, `chat.jsonl: line 1: field "prompt": the model has no chat template`},
		{"prompt too long", []string{"--max-length", "16", "--data", write("long.jsonl", good+`{"prompt": "`+strings.Repeat("x := 1\\n", 10)+`"}`+"\n")}, `long.jsonl: line 2: field "prompt":`},
		{"unknown reward", []string{"--reward", "parse,bleu=2", "--data", write("ok.jsonl", good)}, `--reward: unknown reward "bleu"`},
		{"bad weight", []string{"--reward", "parse=x", "--data", write("ok2.jsonl", good)}, `--reward: reward "parse=x": weight "x" is not a number`},
		{"group", []string{"--group", "1", "--data", write("ok3.jsonl", good)}, "group of at least 2"},
		{"ptx coef without data", []string{"--ptx-coef", "0.5", "--data", write("ok5.jsonl", good)}, "--ptx-coef needs --ptx-data"},
		{"ptx data without coef", []string{"--ptx-data", write("ptx.jsonl", `{"text": "package a"}`+"\n"), "--data", write("ok6.jsonl", good)}, "--ptx-data needs --ptx-coef > 0"},
		{"ptx text not a string", []string{"--ptx-coef", "1", "--ptx-data", write("ptx2.jsonl", `{"text": "package a"}`+"\n"+`{"text": 1}`+"\n"), "--data", write("ok7.jsonl", good)}, `ptx2.jsonl: line 2: field "text": expected a string, got a number`},
		{"ptx text too short", []string{"--ptx-coef", "1", "--ptx-data", write("ptx3.jsonl", `{"text": "package a"}`+"\n"), "--data", write("ok8.jsonl", good)}, "leaves no training window of 257 tokens"},
		{"command not a number", []string{"--reward", "cmd:" + bad, "--steps", "1", "--val-permille", "0", "--data", write("ok4.jsonl", good)}, `line 1: reward cmd:` + bad + `: expected one number on standard output, got "many"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runTrainCLI(t, append(append([]string{"grpo"}, tc.args...), "-q", "--out", t.TempDir(), "--export", "")...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
