package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
// read_file, then an answer; the tools read the real folder, the transcript
// records the three steps and the run stops with "answered".
func TestScriptedTask(t *testing.T) {
	m := openDefault(t)
	files := map[string]string{
		"main.go":      "package main\n\nfunc main() { println(\"hello\") }\n\n",
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
	var stepped []int
	res, err := Run(context.Background(), m, "What does main.go print?", Options{
		Tools: folder.Tools(), ToolChoices: plan, MaxSteps: 5, MaxTokens: 256, NoParallelToolCalls: true,
		Trace: &glassbox.TraceOptions{Top: 5}, Transcript: tf, OnStep: func(s *Step) { stepped = append(stepped, s.Index) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != StopAnswered || len(res.Steps) != 3 || !slices.Equal(stepped, []int{1, 2, 3}) {
		t.Fatalf("stop %s (%v) after %d steps (OnStep %v)", res.Stop, res.Err, len(res.Steps), stepped)
	}
	// step 1: the real listing
	s1 := res.Steps[0]
	if len(s1.Calls) != 1 || s1.Calls[0].Name != "list_files" || s1.Calls[0].Err != "" {
		t.Fatalf("step 1 calls %+v", s1.Calls)
	}
	var a ListArgs
	if err := json.Unmarshal([]byte(s1.Calls[0].Arguments), &a); err != nil {
		t.Fatal(err)
	}
	want, err := folder.List(context.Background(), a.Path, a.Recursive == nil || *a.Recursive)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Calls[0].Output != want || !strings.Contains(want, "main.go\n") {
		t.Errorf("list_files %s gave %q, want %q", s1.Calls[0].Arguments, s1.Calls[0].Output, want)
	}
	// step 2: a real file's content, the lines asked for
	s2 := res.Steps[1]
	if len(s2.Calls) != 1 || s2.Calls[0].Name != "read_file" || s2.Calls[0].Err != "" {
		t.Fatalf("step 2 calls %+v", s2.Calls)
	}
	var r ReadArgs
	if err := json.Unmarshal([]byte(s2.Calls[0].Arguments), &r); err != nil {
		t.Fatal(err)
	}
	content, ok := files[r.Path]
	if !ok {
		t.Fatalf("read_file of %q, not a file of the folder", r.Path)
	}
	lines := strings.SplitAfter(content, "\n")
	lines = lines[:len(lines)-1]
	first, last := max(r.StartLine, 1), r.EndLine
	if last == 0 || last > len(lines) {
		last = len(lines)
	}
	if wantRead := strings.Join(lines[first-1:last], ""); s2.Calls[0].Output != wantRead || wantRead == "" {
		t.Errorf("read_file %s gave %q, want %q", s2.Calls[0].Arguments, s2.Calls[0].Output, wantRead)
	}
	// step 3: an answer, no tool call
	s3 := res.Steps[2]
	if len(s3.Reply.ToolCalls) != 0 || res.Answer != s3.Reply.Content || s3.ToolChoice.Mode != "none" {
		t.Errorf("step 3: %+v, answer %q", s3.Reply, res.Answer)
	}
	// every step was traced, and the decisions name the calls
	var report strings.Builder
	for _, s := range res.Steps {
		if len(s.Trace) == 0 {
			t.Errorf("step %d has no trace", s.Index)
		}
		if err := WriteDecisions(&report, s, 2, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{`call 1: name "list_files"`, `call 1: name "read_file"`, "call 1: argument path = " + strconv.Quote(r.Path), "candidates:", "grammar:"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("the decisions lack %q:\n%s", want, report.String())
		}
	}

	// the transcript: task, three replies, two results, stop
	evs := readTranscript(t, tpath)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if want := []string{EventTask, EventReply, EventResult, EventReply, EventResult, EventReply, EventStop}; !slices.Equal(types, want) {
		t.Fatalf("transcript events %v, want %v", types, want)
	}
	if evs[0].Task != "What does main.go print?" || !slices.Equal(evs[0].ToolChoices, []string{"list_files", "read_file", "none"}) || evs[0].Limits.MaxSteps != 5 {
		t.Errorf("task event %+v", evs[0])
	}
	if evs[1].Step != 1 || len(evs[1].ToolCalls) != 1 || evs[1].ToolCalls[0].Name != "list_files" || evs[1].FinishReason != glassbox.FinishToolCalls {
		t.Errorf("reply 1 %+v", evs[1])
	}
	if evs[2].Name != "list_files" || *evs[2].Output != s1.Calls[0].Output || evs[2].CallID != evs[1].ToolCalls[0].ID {
		t.Errorf("result 1 %+v", evs[2])
	}
	if evs[4].Name != "read_file" || *evs[4].Output != s2.Calls[0].Output {
		t.Errorf("result 2 %+v", evs[4])
	}
	if evs[5].Step != 3 || len(evs[5].ToolCalls) != 0 || *evs[5].Content != res.Answer {
		t.Errorf("reply 3 %+v", evs[5])
	}
	if stop := evs[6]; stop.Reason != StopAnswered || stop.Steps != 3 || stop.Answer != res.Answer || stop.DurationMS <= 0 {
		t.Errorf("stop event %+v", stop)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ElapsedMS < evs[i-1].ElapsedMS {
			t.Errorf("event %d elapsed %v before event %d's %v", i, evs[i].ElapsedMS, i-1, evs[i-1].ElapsedMS)
		}
	}
}

// spinTool is a tool that never returns on its own: it ignores its
// context and waits until the test ends.
func spinTool(t *testing.T, calls *atomic.Int32) Tool {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return Tool{Name: "spin", Description: "Spin.", Parameters: noArgs, Source: "test",
		Call: func(context.Context, json.RawMessage) (string, error) {
			calls.Add(1)
			for {
				select {
				case <-release:
					return "released", nil
				case <-time.After(time.Millisecond):
				}
			}
		}}
}

// TestRunawayTool: a tool that never returns is stopped at the tool
// timeout, and the loop by its step limit, its time limit or the caller.
func TestRunawayTool(t *testing.T) {
	m := openDefault(t)
	for _, tc := range []struct {
		name                 string
		maxSteps             int
		maxTime, toolTimeout time.Duration
		cancelAfter          time.Duration
		stop                 string
		callErr              string
		minCalls             int32
	}{
		{"tool timeout, then max steps", 2, time.Minute, 300 * time.Millisecond, 0, StopMaxSteps, "did not finish within 300ms", 1},
		{"max time", 10, 1500 * time.Millisecond, time.Minute, 0, StopTimeout, "stopped: the run ended", 1},
		{"canceled", 10, time.Minute, time.Minute, 1500 * time.Millisecond, StopCanceled, "stopped: the run ended", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			plan, _ := ParseToolChoices("spin*10")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAfter > 0 {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			var buf bytes.Buffer
			start := time.Now()
			res, err := Run(ctx, m, "Spin.", Options{Tools: []Tool{spinTool(t, &calls)}, ToolChoices: plan, NoParallelToolCalls: true,
				MaxSteps: tc.maxSteps, MaxTime: tc.maxTime, ToolTimeout: tc.toolTimeout, MaxTokens: 128, Transcript: &buf})
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != tc.stop {
				t.Fatalf("stop %s (%v), want %s", res.Stop, res.Err, tc.stop)
			}
			if elapsed := time.Since(start); elapsed > 30*time.Second {
				t.Errorf("the run took %s", elapsed)
			}
			if calls.Load() < tc.minCalls {
				t.Errorf("%d calls of the tool", calls.Load())
			}
			c := res.Steps[0].Calls
			if len(c) != 1 || !strings.Contains(c[0].Err, tc.callErr) || c[0].Output != "error: "+c[0].Err {
				t.Fatalf("the first call: %+v, want an error with %q", c, tc.callErr)
			}
			if tc.stop == StopMaxSteps {
				if len(res.Steps) != 2 || !res.Steps[1].Calls[0].NotRun || calls.Load() != 1 {
					t.Errorf("at max steps: %d steps, last calls %+v, %d runs", len(res.Steps), res.Steps[len(res.Steps)-1].Calls, calls.Load())
				}
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			var last Event
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != EventStop || last.Reason != tc.stop || last.Error == "" {
				t.Errorf("the transcript ends with %s (%v)", lines[len(lines)-1], err)
			}
		})
	}
}

// TestTruncatedOutput: a result beyond MaxToolOutput is cut at a character
// boundary and ends with a line the model reads.
func TestTruncatedOutput(t *testing.T) {
	for _, tc := range []struct {
		in        string
		max       int
		out       string
		truncated bool
	}{
		{"short", 10, "short", false},
		{"0123456789", 10, "0123456789", false},
		{"0123456789abc", 10, "0123456789\n[output truncated: 10 of 13 bytes shown]", true},
		{"ééééé", 5, "éé\n[output truncated: 4 of 10 bytes shown]", true},
	} {
		out, cut := truncate(tc.in, tc.max)
		if out != tc.out || cut != tc.truncated {
			t.Errorf("truncate(%q, %d) = %q, %v; want %q, %v", tc.in, tc.max, out, cut, tc.out, tc.truncated)
		}
	}
	// through a run: the model reads the cut text, the transcript says so
	m := openDefault(t)
	big := Tool{Name: "big", Parameters: noArgs, Call: func(context.Context, json.RawMessage) (string, error) {
		return strings.Repeat("x", 5000), nil
	}}
	var buf bytes.Buffer
	res, err := Run(context.Background(), m, "Big.", Options{Tools: []Tool{big}, ToolChoices: []glassbox.ToolChoice{{Mode: "required"}, {Mode: "none"}},
		NoParallelToolCalls: true, MaxToolOutput: 100, MaxTokens: 64, Transcript: &buf})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Steps[0].Calls[0]
	if !c.Truncated || c.Bytes != 5000 || c.Output != strings.Repeat("x", 100)+"\n[output truncated: 100 of 5000 bytes shown]" {
		t.Errorf("call %+v", c)
	}
	if !strings.Contains(buf.String(), `"truncated":true,"output_bytes":5000`) {
		t.Errorf("the transcript does not record the cut:\n%s", buf.String())
	}
}

// TestRunErrors: a run that cannot start says why.
func TestRunErrors(t *testing.T) {
	m := openDefault(t)
	ok := Tool{Name: "ok", Parameters: json.RawMessage(`{"type": "object"}`), Call: func(context.Context, json.RawMessage) (string, error) { return "", nil }}
	for _, tc := range []struct {
		name string
		task string
		opts Options
		want string
	}{
		{"no task", " ", Options{}, "needs a task"},
		{"no call function", "x", Options{Tools: []Tool{{Name: "f"}}}, "has no Call function"},
		{"bad name", "x", Options{Tools: []Tool{{Name: "a b", Call: ok.Call}}}, "function.name"},
		{"two tools, one name", "x", Options{Tools: []Tool{ok, ok}}, "two tools are named"},
		{"bad schema", "x", Options{Tools: []Tool{{Name: "f", Parameters: json.RawMessage(`{"type": "string"}`), Call: ok.Call}}}, "must be \"object\""},
		{"unknown tool in the plan", "x", Options{Tools: []Tool{ok}, ToolChoices: []glassbox.ToolChoice{{Mode: "function", Function: "nope"}}}, "tool choice of step 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), m, tc.task, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
	plain, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := Run(context.Background(), plain, "x", Options{}); err == nil || !strings.Contains(err.Error(), "no chat template") {
		t.Errorf("a model without a template: %v", err)
	}
}

// TestContextFull: a conversation the context cannot hold stops the run
// with "error", saying so.
func TestContextFull(t *testing.T) {
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Threads: 1, Context: 128, FallbackChatTemplate: DefaultTemplate})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res, err := Run(context.Background(), m, strings.Repeat("long task ", 100), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != StopError || !errors.Is(res.Err, glassbox.ErrContext) {
		t.Errorf("stop %s, error %v", res.Stop, res.Err)
	}
}

// noArgs is the schema of a tool without arguments.
var noArgs = json.RawMessage(`{"type": "object", "properties": {}, "additionalProperties": false}`)
