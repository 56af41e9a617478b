package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// agentFolder writes a small Go folder.
func agentFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "util"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, c := range map[string]string{
		"main.go":      "package main\n\nfunc main() { println(\"hello\") }\n\n",
		"util/math.go": "package util\n\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAgentCommand: glassbox agent on the embedded model, its steps
// scripted by --tool-choice, prints each step, the decisions and the stop
// reason, writes the transcript and the answer.
func TestAgentCommand(t *testing.T) {
	dir := agentFolder(t)
	transcript := filepath.Join(t.TempDir(), "run.jsonl")
	out, errOut, err := execute(t, newRootCmd(), "", "agent", "--dir", dir, "--tool-choice", "list_files,read_file,none", "--no-parallel-tool-calls",
		"--no-go-tools", "-n", "256", "-t", "1", "-c", "2048", "--transcript", transcript, "--dissect", "--color", "never", "What does main.go print?")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, want := range []string{
		"has no chat template: using the agent's",
		"tools list_files, read_file, search · at most 10 steps, 5m0s",
		"step 1 (tool choice list_files):", "  → list_files {", "      main.go\n",
		"step 2 (tool choice read_file):", "  → read_file {\"path\":",
		"step 3 (tool choice none):", "  answer: ",
		"why (step 1, tool choice list_files)", `call 1: name "list_files"`, "candidates:",
		"stop: answered after 3 steps",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.TrimSpace(out) == "" {
		t.Error("no answer on stdout")
	}
	b, err := os.ReadFile(transcript)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], `{"type":"task"`) || !strings.Contains(lines[6], `"reason":"answered"`) {
		t.Errorf("transcript:\n%s", b)
	}
}

// TestAgentCommandStops: a run that does not answer fails with its stop
// reason; bad flags fail before the model loads.
func TestAgentCommandStops(t *testing.T) {
	dir := agentFolder(t)
	_, errOut, err := execute(t, newRootCmd(), "", "agent", "--dir", dir, "--tool-choice", "required*3", "--no-parallel-tool-calls",
		"--no-go-tools", "--max-steps", "2", "-n", "256", "-t", "1", "List the files.")
	if err == nil || !strings.Contains(err.Error(), "the agent stopped (max_steps)") || !strings.Contains(errOut, "stop: max_steps after 2 steps") ||
		!strings.Contains(errOut, "not run: the step was the last one allowed") {
		t.Errorf("error %v\n%s", err, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tool-choice", "read file"}, "--tool-choice: tool choice 1"},
		{[]string{"--max-steps", "0"}, "--max-steps must be at least 1"},
		{[]string{"--tool-timeout", "0s"}, "--tool-timeout must be positive"},
		{[]string{"--dir", filepath.Join(dir, "main.go")}, "is not a directory"},
		{[]string{"--mcp", `"unterminated`}, "unterminated double quote"},
		{[]string{"--mcp-url", "ftp://x"}, "expected an http:// or https:// URL"},
		{[]string{"--tool-choice", "nope"}, `no tool in 'tools' is named "nope"`},
	} {
		args := append([]string{"agent", "--dir", dir, "--no-go-tools", "-t", "1"}, tc.args...)
		_, _, err := execute(t, newRootCmd(), "", append(args, "task")...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
