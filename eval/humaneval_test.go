package eval

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/internal/fixtures"
)

// humanEvalProblems reads the HumanEval-X Go fixture.
func humanEvalProblems(t *testing.T) []HumanEvalProblem {
	t.Helper()
	ps, err := ReadHumanEval(fixtures.Path(t, "humaneval-x-go", "humaneval_go.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

var (
	sharedSandbox    *Sandbox
	sharedSandboxErr error
	sandboxOnce      sync.Once
)

// testSandbox returns one sandbox for the package's tests, preparing the
// module cache (network) once if it lacks testify.
func testSandbox(t *testing.T) *Sandbox {
	t.Helper()
	sandboxOnce.Do(func() {
		ctx := context.Background()
		opts := SandboxOptions{Timeout: 5 * time.Second, MemoryLimit: 512 << 20}
		sharedSandbox, sharedSandboxErr = NewSandbox(ctx, opts)
		if sharedSandboxErr != nil {
			if err := PrepareSandbox(ctx, ""); err != nil {
				sharedSandboxErr = err
				return
			}
			sharedSandbox, sharedSandboxErr = NewSandbox(ctx, opts)
		}
	})
	if sharedSandboxErr != nil {
		t.Fatal(sharedSandboxErr)
	}
	return sharedSandbox
}

func TestPassAtK(t *testing.T) {
	binom := func(n, k int) float64 {
		if k < 0 || k > n {
			return 0
		}
		r := 1.0
		for i := 1; i <= k; i++ {
			r = r * float64(n-k+i) / float64(i)
		}
		return r
	}
	for _, tc := range []struct{ n, c, k int }{
		{1, 0, 1}, {1, 1, 1}, {10, 0, 1}, {10, 3, 1}, {10, 3, 5}, {10, 9, 2}, {20, 1, 10}, {200, 13, 100}, {200, 200, 1}, {5, 2, 5},
	} {
		want := 1 - binom(tc.n-tc.c, tc.k)/binom(tc.n, tc.k)
		if got := PassAtK(tc.n, tc.c, tc.k); math.Abs(got-want) > 1e-9 {
			t.Errorf("PassAtK(%d, %d, %d) = %v, want %v", tc.n, tc.c, tc.k, got, want)
		}
	}
	if got := PassAtK(10, 3, 1); math.Abs(got-0.3) > 1e-12 {
		t.Errorf("pass@1 with 3 of 10 = %v, want c/n = 0.3", got)
	}
	for _, bad := range []struct{ n, c, k int }{{0, 0, 1}, {5, 6, 1}, {5, -1, 1}, {5, 2, 0}, {5, 2, 6}} {
		if got := PassAtK(bad.n, bad.c, bad.k); !math.IsNaN(got) {
			t.Errorf("PassAtK(%d, %d, %d) = %v, want NaN", bad.n, bad.c, bad.k, got)
		}
	}
}

func TestCleanCompletion(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"closed then more", "    return 1\n}\n\nfunc main() {\n}\n", "    return 1\n}\n"},
		{"stopped before the brace", "    return 1", "    return 1\n}\n"},
		{"nested", "    if x {\n        return 1\n    }\n    return 2\n}\nrest", "    if x {\n        return 1\n    }\n    return 2\n}\n"},
		{"brace in string", "    s := \"}\"\n    return s\n}\n", "    s := \"}\"\n    return s\n}\n"},
		{"brace in rune and comment", "    r := '}' // }\n    /* } */ return r\n}", "    r := '}' // }\n    /* } */ return r\n}\n"},
		{"brace in raw string", "    s := `\n}`\n    return s\n}x", "    s := `\n}`\n    return s\n}\n"},
		{"unbalanced left alone", "    if x {\n        return 1", "    if x {\n        return 1"},
		{"empty", "", "\n}\n"},
	} {
		if got := CleanCompletion(tc.in); got != tc.want {
			t.Errorf("%s: CleanCompletion(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestParseHumanEval(t *testing.T) {
	line := `{"task_id":"Go/0","prompt":"func F() int {\n","import":"","test":"func TestF(t *testing.T) {}\n","test_setup":"package main\n"}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(line + "\n\n"))
	zw.Close()
	for _, in := range [][]byte{[]byte(line + "\n"), gz.Bytes()} {
		ps, err := ParseHumanEval(bytes.NewReader(in))
		if err != nil || len(ps) != 1 || ps[0].TaskID != "Go/0" {
			t.Errorf("ParseHumanEval = %+v, %v; want one problem Go/0", ps, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "no problems"},
		{"not json\n", "line 1: expected a JSON object"},
		{`{"task_id":"Go/0"}` + "\n", "missing prompt, test, test_setup"},
		{line + "\n" + line + "\n", "task Go/0 appears twice"},
		{"\x1f\x8bnot gzip", "gzip"},
	} {
		_, err := ParseHumanEval(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseHumanEval(%q) error = %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

func TestHumanEvalFixtureShape(t *testing.T) {
	ps := humanEvalProblems(t)
	if len(ps) != 164 {
		t.Fatalf("%d problems, want 164", len(ps))
	}
	for _, p := range ps {
		if p.CanonicalSolution == "" || !strings.HasPrefix(p.TestSetup, "package main") {
			t.Errorf("%s: no canonical solution or no package clause", p.TaskID)
		}
	}
}

func TestProgramImports(t *testing.T) {
	p := HumanEvalProblem{
		Prompt:    "import (\n    \"math\"\n)\n\nfunc F(x float64) float64 {\n",
		Import:    "import (\n    \"math\"\n)\n",
		TestSetup: "package main\n\nimport (\n    \"testing\"\n    \"math/rand\"\n)\n",
		Test:      "func TestF(t *testing.T) { _ = rand.Int() }\n",
	}
	prog := p.Program("    mymath := 1.0\n    // strings.Fields\n    return math.Sqrt(x) + mymath\n}\n")
	if strings.Count(prog, "\"math\"") != 1 || strings.Contains(prog, "\"strings\"") || strings.Count(prog, "\"math/rand\"") != 1 {
		t.Errorf("program imports: want math once and neither strings nor a second math/rand:\n%s", prog)
	}
	if strings.Count(prog, "import (") != 2 || strings.Count(prog, "func F(") != 1 {
		t.Errorf("want the setup's import block and one of the harness's, and the prompt once:\n%s", prog)
	}
}

// TestHumanEvalCanonical scores a subset of the canonical solutions (each
// program costs a compile and a link, about 1.5 s here; the full run of 164
// is `glassbox eval humaneval --canonical`, see docs/eval.md): the first
// ten, every problem whose test imports more than testing and testify, and
// Go/95.
func TestHumanEvalCanonical(t *testing.T) {
	var ps []HumanEvalProblem
	for i, p := range humanEvalProblems(t) {
		if i < 10 || p.TaskID == "Go/95" || strings.Count(p.TestSetup, "\"") > 4 {
			ps = append(ps, p)
		}
	}
	sb := testSandbox(t)
	start := time.Now()
	res, err := RunHumanEval(context.Background(), ps, HumanEvalOptions{Canonical: true, Sandbox: sb})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d canonical solutions in %v", len(ps), time.Since(start).Round(time.Millisecond))
	// Go/95's canonical solution depends on map iteration order (see
	// docs/eval.md): when it fails, its program must pass on a later run.
	for _, task := range res.Tasks {
		if task.Passed == 1 {
			continue
		}
		if task.TaskID != "Go/95" {
			t.Errorf("%s: %v\n%s", task.TaskID, task.Statuses, task.Output)
			continue
		}
		passed := false
		for range 20 {
			if sb.Run(context.Background(), task.Program).Status == StatusPassed {
				passed = true
				break
			}
		}
		if !passed {
			t.Errorf("Go/95 failed 21 runs: %s", task.Output)
		}
	}
}

func TestHumanEvalEmptyAndBrokenScoreZero(t *testing.T) {
	ps := humanEvalProblems(t)[:12]
	sb := testSandbox(t)
	for _, tc := range []struct {
		name       string
		completion string
		status     string
	}{
		{"empty", "", StatusBuildFailed},
		{"closed but empty", "}\n", StatusBuildFailed},
		{"syntax error", "    return )(\n}\n", StatusBuildFailed},
		{"wrong answer", "    panic(\"no\")\n}\n", StatusFailed},
	} {
		res, err := RunHumanEval(context.Background(), ps, HumanEvalOptions{Sandbox: sb, Completion: func(HumanEvalProblem, int) string { return tc.completion }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Passed != 0 || res.PassAt1 != 0 || res.Total != len(ps) {
			t.Errorf("%s: passed %d of %d, pass@1 %v; want 0", tc.name, res.Passed, res.Total, res.PassAt1)
		}
		for _, task := range res.Tasks {
			if task.Statuses[0] != tc.status {
				t.Errorf("%s: %s status %q, want %q", tc.name, task.TaskID, task.Statuses[0], tc.status)
			}
		}
	}
}

func TestSandboxLimits(t *testing.T) {
	sb := testSandbox(t)
	p := HumanEvalProblem{
		TestSetup: "package main\n\nimport (\n    \"testing\"\n)\n",
		Prompt:    "func F() int {\n",
		Test:      "func TestF(t *testing.T) {\n    if F() != 1 {\n        t.Fatal(\"F\")\n    }\n}\n",
	}
	for _, tc := range []struct {
		name, completion string
		status           []string
		within           time.Duration
	}{
		{"passes", "    return 1\n}\n", []string{StatusPassed}, 30 * time.Second},
		{"infinite loop", "    for {\n    }\n}\n", []string{StatusTimeout}, 30 * time.Second},
		{"infinite loop in goroutines", "    for i := 0; i < 4; i++ {\n        go func() { for {} }()\n    }\n    select {}\n}\n", []string{StatusTimeout, StatusFailed}, 30 * time.Second},
		{"unbounded allocation", "    var keep [][]byte\n    for {\n        b := make([]byte, 64<<20)\n        for i := 0; i < len(b); i += 4096 { b[i] = 1 }\n        keep = append(keep, b)\n    }\n}\n", []string{StatusMemory}, 30 * time.Second},
		{"child process outlives", "    exec.Command(\"sleep\", \"1000\").Start()\n    for {}\n}\n", []string{StatusTimeout}, 30 * time.Second},
		{"child process left behind", "    exec.Command(\"sleep\", \"1000\").Start()\n    return 1\n}\n", []string{StatusPassed}, 30 * time.Second},
		{"crash", "    var p *int\n    return *p\n}\n", []string{StatusFailed}, 30 * time.Second},
		{"exit", "    os.Exit(0)\n    return 1\n}\n", []string{StatusFailed, StatusPassed}, 30 * time.Second},
	} {
		prog := p.Program(tc.completion)
		if strings.Contains(tc.completion, "exec.") {
			prog = strings.Replace(prog, "import (\n", "import (\n    \"os/exec\"\n", 1)
		}
		if strings.Contains(tc.completion, "os.") && !strings.Contains(tc.completion, "exec.") {
			prog = strings.Replace(prog, "import (\n", "import (\n    \"os\"\n", 1)
		}
		start := time.Now()
		r := sb.Run(context.Background(), prog)
		took := time.Since(start)
		ok := false
		for _, s := range tc.status {
			ok = ok || r.Status == s
		}
		if !ok {
			t.Errorf("%s: status %q, want one of %q\n%s", tc.name, r.Status, tc.status, r.Output)
		}
		if took > tc.within {
			t.Errorf("%s: took %v, want at most %v", tc.name, took, tc.within)
		}
	}
}

func TestSandboxCleansUp(t *testing.T) {
	sb, err := NewSandbox(context.Background(), SandboxOptions{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	root := sb.tempRoot
	sb.Run(context.Background(), "package main\n\nfunc broken(")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "home" {
			t.Errorf("left behind in the sandbox: %s", e.Name())
		}
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("Close left %s (%v)", root, err)
	}
	if r := sb.Run(context.Background(), "package main\n"); r.Status == StatusPassed {
		t.Error("a closed sandbox ran a program")
	}
}
