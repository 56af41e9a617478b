package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/models"
)

// openDefault opens the embedded default model with the agent's template
// and a context that holds a few steps.
func openDefault(t testing.TB) *glassbox.Model {
	t.Helper()
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Threads: 1, Context: 2048, FallbackChatTemplate: DefaultTemplate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// writeFiles writes files (path → content) under a new temporary folder.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readTranscript reads a JSONL transcript.
func readTranscript(t testing.TB, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("transcript line %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

// TestScriptedTask: on the default model, a plan forces list_files, then
// read_file, then an answer; the tools read the real folder.
func TestScriptedTask(t *testing.T) {
	m := openDefault(t)
	files := map[string]string{
		"main.go":      "package main\n\nfunc main() { println(\"hello\") }\n",
		"util/math.go": "package util\n\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n",
	}
	dir := writeFiles(t, files)
	folder, err := NewFolder(dir, FileOptions{PathEnum: 32})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := ParseToolChoices("list_files,read_file,none")
	if err != nil {
		t.Fatal(err)
	}
	tpath := filepath.Join(t.TempDir(), "run.jsonl")
	tf, err := os.Create(tpath)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	res, err := Run(context.Background(), m, "What does main.go print?", Options{
		Tools: folder.Tools()[:2], ToolChoices: plan, MaxSteps: 5, MaxTokens: 256, Trace: &glassbox.TraceOptions{Top: 5}, Transcript: tf, NoParallelToolCalls: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		t.Logf("step %d %q %+v", s.Index, s.Text, s.Reply.ToolCalls)
		WriteDecisions(os.Stderr, s, 4, false)
		for _, c := range s.Calls {
			t.Logf("  %s %s -> %q %s", c.Name, c.Arguments, c.Output, c.Err)
		}
	}
	t.Logf("stop %s %v answer %q", res.Stop, res.Err, res.Answer)
	evs := readTranscript(t, tpath)
	for _, e := range evs {
		b, _ := json.Marshal(e)
		t.Log(string(b))
	}
	_ = strings.Contains
}
