package rewards

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"glassbox/eval"
)

// Func scores one completion. It returns NaN when the reward does not apply
// to the record (test, for a record without tests): like TRL's reward
// functions returning None, such a value is left out of the weighted sum
// and of the reward's mean.
type Func func(ctx context.Context, in Input) (float64, error)

// Reward is a named reward function and its weight in the sum.
type Reward struct {
	Name   string
	Weight float64
	Fn     Func
}

// Names are the built-in rewards; a command reward is written cmd:COMMAND.
var Names = []string{"parse", "typecheck", "vet", "test"}

// Options configures the rewards that run the go command or a user's
// command.
type Options struct {
	// Timeout bounds one command reward, and one go vet or go test run
	// (default 10 s).
	Timeout time.Duration
	// MemoryLimit bounds the data memory of go vet and go test processes
	// (default 1 GiB).
	MemoryLimit int64
	// Go is the go command (default: "go" on PATH).
	Go string
}

// Set is a list of rewards and the resources they hold (a Go sandbox).
type Set struct {
	Rewards []Reward

	opts    Options
	once    sync.Once
	sandbox *eval.Sandbox
	sbErr   error
	checker *Checker
}

// ParseSpec reads a reward list such as
// "parse=1,typecheck=1,vet=0.5,test=2,cmd:./score.sh=1": comma-separated
// NAME=WEIGHT items (the weight defaults to 1; the last "=" of an item
// separates it, so a command may hold "="), NAME being a built-in reward or
// cmd:COMMAND (split into words at spaces, run without a shell).
func ParseSpec(spec string, opts Options) (*Set, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	s := &Set{opts: opts, checker: NewChecker()}
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, weight := item, 1.0
		if i := strings.LastIndexByte(item, '='); i >= 0 {
			w, err := strconv.ParseFloat(strings.TrimSpace(item[i+1:]), 64)
			if err != nil || math.IsNaN(w) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("reward %q: weight %q is not a number", item, item[i+1:])
			}
			name, weight = strings.TrimSpace(item[:i]), w
		}
		if seen[name] {
			return nil, fmt.Errorf("reward %q is listed twice", name)
		}
		seen[name] = true
		var fn Func
		switch {
		case name == "parse":
			fn = s.checker.Parse
		case name == "typecheck":
			fn = s.checker.TypeCheck
		case name == "vet":
			fn = s.vet
		case name == "test":
			fn = s.test
		case strings.HasPrefix(name, "cmd:"):
			args := strings.Fields(strings.TrimPrefix(name, "cmd:"))
			if len(args) == 0 {
				return nil, fmt.Errorf("reward %q: no command after cmd:", item)
			}
			fn = Command(args, opts.Timeout)
		default:
			return nil, fmt.Errorf("unknown reward %q (built in: %s; or cmd:COMMAND)", name, strings.Join(Names, ", "))
		}
		s.Rewards = append(s.Rewards, Reward{Name: name, Weight: weight, Fn: fn})
	}
	if len(s.Rewards) == 0 {
		return nil, fmt.Errorf("no reward given (e.g. parse=1,typecheck=1)")
	}
	return s, nil
}

// Close releases the sandbox of vet and test.
func (s *Set) Close() error {
	if s.sandbox != nil {
		return s.sandbox.Close()
	}
	return nil
}

func (s *Set) goSandbox(ctx context.Context) (*eval.Sandbox, error) {
	s.once.Do(func() {
		s.sandbox, s.sbErr = eval.NewGoSandbox(ctx, eval.SandboxOptions{Go: s.opts.Go, Timeout: s.opts.Timeout, MemoryLimit: s.opts.MemoryLimit})
	})
	return s.sandbox, s.sbErr
}

// Checker parses and type-checks sources. Type-checking imports the
// standard library from source (go/importer's "source" compiler, which
// needs GOROOT's sources and no network or build cache); the imported
// packages are kept for the next checks. It is safe for concurrent use.
type Checker struct {
	mu   sync.Mutex
	fset *token.FileSet
	imp  types.Importer
	// baselines caches the type errors of prompt + closers per prompt.
	baselines sync.Map // [32]byte → map[string]int or error
}

// NewChecker returns a Checker.
func NewChecker() *Checker {
	fset := token.NewFileSet()
	return &Checker{fset: fset, imp: importer.ForCompiler(fset, "source", nil)}
}

// Parse is 1 when Source(in) is a Go file go/parser accepts and the
// completion holds code (not only blanks and comments), else 0.
func (c *Checker) Parse(_ context.Context, in Input) (float64, error) {
	if !hasCode(in.Completion) {
		return 0, nil
	}
	src, _ := Source(in)
	if _, err := parser.ParseFile(token.NewFileSet(), "completion.go", src, parser.SkipObjectResolution); err != nil {
		return 0, nil
	}
	return 1, nil
}

// TypeCheck is 1 when the completion parses (Parse) and adds no type
// error: go/types reports no error on Source(in) that it does not also
// report on the same source without the completion (errors compared by
// message, counted; soft errors such as unused variables and imports, which
// an unfinished function always has, are ignored). So a prompt whose context
// is incomplete (a function of a package whose other files are absent) is
// judged on what the completion adds. Else 0.
func (c *Checker) TypeCheck(ctx context.Context, in Input) (float64, error) {
	if p, _ := c.Parse(ctx, in); p == 0 {
		return 0, nil
	}
	src, _ := Source(in)
	got, err := c.typeErrors(src)
	if err != nil {
		return 0, nil
	}
	base := c.baseline(in)
	for msg, n := range got {
		if n > base[msg] {
			return 0, nil
		}
	}
	return 1, nil
}

// baseline returns the type errors of the record without a completion
// (none when that does not parse).
func (c *Checker) baseline(in Input) map[string]int {
	key := sha256.Sum256([]byte(in.File + "\x00" + in.Prompt + "\x00" + in.Suffix))
	if v, ok := c.baselines.Load(key); ok {
		return v.(map[string]int)
	}
	src, _ := Source(Input{File: in.File, Prompt: in.Prompt, Suffix: in.Suffix})
	errs, err := c.typeErrors(src)
	if err != nil {
		errs = map[string]int{}
	}
	c.baselines.Store(key, errs)
	return errs
}

// typeErrors parses src and returns its hard type errors by message.
func (c *Checker) typeErrors(src string) (map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := parser.ParseFile(c.fset, "completion.go", src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	errs := map[string]int{}
	conf := types.Config{
		Importer: c.imp,
		Error: func(err error) {
			var te types.Error
			if errors.As(err, &te) && te.Soft {
				return
			}
			if errors.As(err, &te) {
				errs[te.Msg]++
			} else {
				errs[err.Error()]++
			}
		},
	}
	conf.Check(f.Name.Name, c.fset, []*ast.File{f}, nil)
	return errs, nil
}

// vet is 1 when the completion parses and go vet, run in the sandbox on a
// module holding Source(in), reports nothing.
func (s *Set) vet(ctx context.Context, in Input) (float64, error) {
	if p, _ := s.checker.Parse(ctx, in); p == 0 {
		return 0, nil
	}
	src, _ := Source(in)
	return s.runGo(ctx, map[string]string{"completion.go": src}, "vet", ".")
}

// test is NaN for a record without tests, else 1 when the completion
// parses and go test, run in the sandbox on a module holding Source(in) and
// the tests (given Source's package clause when they have none), passes.
func (s *Set) test(ctx context.Context, in Input) (float64, error) {
	if strings.TrimSpace(in.Tests) == "" {
		return math.NaN(), nil
	}
	if p, _ := s.checker.Parse(ctx, in); p == 0 {
		return 0, nil
	}
	src, _ := Source(in)
	tests := in.Tests
	if !hasPackageClause(tests) {
		tests = "package " + packageName(src) + "\n\n" + tests
	}
	return s.runGo(ctx, map[string]string{"completion.go": src, "completion_test.go": tests}, "test", "-count=1", "-vet=off", ".")
}

// runGo writes a module with files and runs the go command on it in the
// sandbox: 1 when it passes, 0 when it fails or times out.
func (s *Set) runGo(ctx context.Context, files map[string]string, args ...string) (float64, error) {
	sb, err := s.goSandbox(ctx)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "glassbox-reward-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	files["go.mod"] = "module reward\n\ngo 1.22\n"
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return 0, err
		}
	}
	if r := sb.RunGo(ctx, dir, args...); r.Status != eval.StatusPassed {
		return 0, ctx.Err()
	}
	return 1, nil
}

// Command returns a reward that runs args (no shell) with the record as one
// line of JSON on its standard input, {"prompt", "completion", "suffix",
// "file", "tests"} (the last three when set), and reads a number from its standard
// output (surrounding blanks ignored). A command that fails, prints
// something else than one number or outlives timeout is an error.
func Command(args []string, timeout time.Duration) Func {
	return func(ctx context.Context, in Input) (float64, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		line, _ := json.Marshal(in)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stdin = bytes.NewReader(append(line, '\n'))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		name := strings.Join(args, " ")
		switch {
		case ctx.Err() == context.DeadlineExceeded:
			return 0, fmt.Errorf("reward cmd:%s: no answer within %s", name, timeout)
		case err != nil:
			return 0, fmt.Errorf("reward cmd:%s: %v: %s", name, err, firstLine(errb.String()))
		}
		text := strings.TrimSpace(out.String())
		v, perr := strconv.ParseFloat(text, 64)
		if perr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			if len(text) > 80 {
				text = text[:80] + "…"
			}
			return 0, fmt.Errorf("reward cmd:%s: expected one number on standard output, got %q", name, text)
		}
		return v, nil
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
