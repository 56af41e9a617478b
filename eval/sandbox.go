package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The statuses of a sandboxed program.
const (
	StatusPassed        = "passed"          // go test passed
	StatusFailed        = "failed"          // a test failed or the program panicked
	StatusBuildFailed   = "build failed"    // go test -c refused the program
	StatusTimeout       = "timeout"         // killed at the time limit
	StatusMemory        = "memory"          // ran out of its memory limit
	StatusPromptTooLong = "prompt too long" // the prompt did not fit the model's context
)

// sandboxGoMod and sandboxGoSum are the module of HumanEval-X Go's
// evaluation (THUDM/CodeGeeX, codegeex/benchmark/humaneval-x/go/evaluation/
// go.mod), reduced to what the tests import: testify's assert and its
// dependencies (the original also requires github.com/go-openapi/inflect,
// which no problem uses).
const sandboxGoMod = `module humanEval

go 1.18

require github.com/stretchr/testify v1.8.0

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
`

const sandboxGoSum = `github.com/davecgh/go-spew v1.1.0/go.mod h1:J7Y8YcW2NihsgmVo/mv3lAwl/skON4iLHjSsI+c5H38=
github.com/davecgh/go-spew v1.1.1 h1:vj9j/u1bqnvCEfJOwUhtlOARqs3+rkHYY13jYWTU97c=
github.com/davecgh/go-spew v1.1.1/go.mod h1:J7Y8YcW2NihsgmVo/mv3lAwl/skON4iLHjSsI+c5H38=
github.com/pmezard/go-difflib v1.0.0 h1:4DBwDE0NGyQoBHbLQYPwSUPoCMWR5BEzIk/f1lZbAQM=
github.com/pmezard/go-difflib v1.0.0/go.mod h1:iKH77koFhYxTK1pcRnkKkqfTogsbg7gZNVY4sRDYZ/4=
github.com/stretchr/objx v0.1.0/go.mod h1:HFkY916IF+rwdDfMAkV7OtwuqBVzrE8GR6GFx+wExME=
github.com/stretchr/objx v0.4.0/go.mod h1:YvHI0jy2hoMjB+UWwv71VJQ9isScKT/TqJzVSSt89Yw=
github.com/stretchr/testify v1.7.1/go.mod h1:6Fq8oRcR53rry900zMqJjRRixrwX3KX962/h/Wwjteg=
github.com/stretchr/testify v1.8.0 h1:pSgiaMZlXftHpm5L7V1+rVB+AZJydKsMxsQBIJw4PKk=
github.com/stretchr/testify v1.8.0/go.mod h1:yNjHg4UonilssWZ8iaSj1OCr/vHnekPRkoO+kdMU+MU=
gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405 h1:yhCVgyC4o1eVCa2tZl7eS0r+SDo693bJlVdllGtEeKM=
gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405/go.mod h1:Co6ibVJAznAaIkqp8huTwlJQCZ016jof/cbN4VW5Yz0=
gopkg.in/yaml.v3 v3.0.0-20200313102051-9f266ea9e77c/go.mod h1:K4uyk7z7BCEPqu6E+C64Yfv1cQ7kz7rIZviUmN+EgEM=
gopkg.in/yaml.v3 v3.0.1 h1:fxVm/GzAzEWqLHuvctI91KS9hhNmmWOoWu0XTYJS7CA=
gopkg.in/yaml.v3 v3.0.1/go.mod h1:K4uyk7z7BCEPqu6E+C64Yfv1cQ7kz7rIZviUmN+EgEM=
`

// SandboxOptions configures a Sandbox. The zero value is usable.
type SandboxOptions struct {
	// Go is the go command (default: "go" on PATH).
	Go string
	// Timeout bounds the run of one program's tests (default 10 s); the
	// build has its own bound, BuildTimeout (default 60 s).
	Timeout, BuildTimeout time.Duration
	// MemoryLimit bounds the data memory of the test process (RLIMIT_DATA:
	// its heap, its anonymous writable mappings), in bytes (default 1 GiB).
	MemoryLimit int64
}

// Sandbox builds and runs HumanEval-X Go programs with `go test`, each in a
// temporary module with the benchmark's go.mod, removed afterwards (Run),
// and the go command over a temporary copy of a folder (RunGo, for
// NewGoSandbox's sandboxes):
//
//   - no network: the go command runs with GOPROXY=off and GOFLAGS=-mod=mod,
//     so it resolves modules from the module cache only (PrepareSandbox
//     fills it once), and, when glassbox runs as root with unshare(1), the
//     test process runs in a new network namespace (no interface but a
//     down loopback); otherwise the test process keeps the machine's
//     network (Sandbox.Isolated says which);
//   - a time limit: the test process and its children form a process group
//     killed at Timeout (and at CPU time Timeout+1 s through RLIMIT_CPU);
//   - a memory limit: RLIMIT_DATA is set by the shell's ulimit in the
//     process that then execs the test binary, so the limit holds from its
//     first instruction (os/exec has no rlimit hook). RLIMIT_DATA rather
//     than RLIMIT_AS: the Go runtime reserves some 700 MB of address space
//     it never touches, so an address-space limit would measure that
//     reservation; since Linux 4.7 RLIMIT_DATA counts the private writable
//     mappings, which is what a Go heap grows by. Files are bounded to
//     64 MiB (RLIMIT_FSIZE);
//   - a scrubbed environment: PATH, HOME and TMPDIR inside the temporary
//     directory, the Go caches, CGO_ENABLED=0, GOTOOLCHAIN=local, nothing
//     else of glassbox's environment.
//
// The build cache (GOCACHE) is shared with the user's, so testify is
// compiled once and each problem costs one compile and one link.
type Sandbox struct {
	opts     SandboxOptions
	goBin    string
	env      []string // the go command's environment, scrubbed
	shell    string
	unshare  string // unshare(1) when a network namespace can be made
	mu       sync.Mutex
	tempRoot string
}

// NewSandbox checks that the go command works and that the module cache
// holds the benchmark's modules (without the network), and returns a
// sandbox. Close removes its temporary directory.
func NewSandbox(ctx context.Context, opts SandboxOptions) (*Sandbox, error) {
	s, err := newSandbox(ctx, opts, "-mod=mod")
	if err != nil {
		return nil, err
	}
	// The modules must be in the cache: build a test that imports assert.
	p := HumanEvalProblem{TestSetup: "package main\n\nimport (\n    \"testing\"\n    \"github.com/stretchr/testify/assert\"\n)\n", Test: "func TestSandbox(t *testing.T) { assert.Equal(t, 1, 1) }\n"}
	if r := s.Run(ctx, p.Program("")); r.Status != StatusPassed {
		s.Close()
		return nil, fmt.Errorf("the sandbox cannot build a test importing testify offline (%s); run `glassbox eval humaneval --prepare` (or `go mod download` in a module with its go.mod) once with network access: %s", r.Status, firstLines(r.Output, 5))
	}
	return s, nil
}

// NewGoSandbox returns a sandbox for the go command over a folder of the
// user's (RunGo): the limits, the scrubbed environment and the network
// isolation of NewSandbox, without the benchmark's modules. The go command
// keeps its default -mod mode (readonly, or vendor when the module has a
// vendor directory), so a module whose dependencies are not in the module
// cache fails to build rather than reaching the network. Close removes its
// temporary directory.
func NewGoSandbox(ctx context.Context, opts SandboxOptions) (*Sandbox, error) {
	s, err := newSandbox(ctx, opts, "")
	if err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, s.goBin, "version").CombinedOutput(); err != nil {
		s.Close()
		return nil, fmt.Errorf("the sandbox's go command does not run: %v: %s", err, firstLines(string(out), 3))
	}
	return s, nil
}

// newSandbox sets a sandbox up: defaults, the go command, the scrubbed
// environment (GOFLAGS set to goflags) and whether a network namespace can
// be made.
func newSandbox(ctx context.Context, opts SandboxOptions, goflags string) (*Sandbox, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.BuildTimeout <= 0 {
		opts.BuildTimeout = 60 * time.Second
	}
	if opts.MemoryLimit <= 0 {
		opts.MemoryLimit = 1 << 30
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	goBin, err := exec.LookPath(opts.Go)
	if err != nil {
		return nil, fmt.Errorf("the sandbox needs the go command: %w", err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("the sandbox needs sh to set its limits: %w", err)
	}
	root, err := os.MkdirTemp("", "glassbox-sandbox-")
	if err != nil {
		return nil, err
	}
	s := &Sandbox{opts: opts, goBin: goBin, shell: sh, tempRoot: root}
	goenv := func(name string) string {
		out, _ := exec.CommandContext(ctx, goBin, "env", name).Output()
		return strings.TrimSpace(string(out))
	}
	gocache, modcache, gopath, goroot := goenv("GOCACHE"), goenv("GOMODCACHE"), goenv("GOPATH"), goenv("GOROOT")
	if gocache == "" || modcache == "" || goroot == "" {
		os.RemoveAll(root)
		return nil, fmt.Errorf("%s env gave no GOCACHE, GOMODCACHE or GOROOT", goBin)
	}
	home := filepath.Join(root, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	s.env = []string{
		"PATH=" + filepath.Join(goroot, "bin") + ":/usr/bin:/bin",
		"HOME=" + home,
		"TMPDIR=" + home,
		"GOCACHE=" + gocache,
		"GOMODCACHE=" + modcache,
		"GOPATH=" + gopath,
		"GOROOT=" + goroot,
		"GOPROXY=off",
		"GOSUMDB=off",
		"GOFLAGS=" + goflags,
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"CGO_ENABLED=0",
		"GO111MODULE=on",
	}
	if os.Geteuid() == 0 {
		if u, err := exec.LookPath("unshare"); err == nil && exec.CommandContext(ctx, u, "-n", "true").Run() == nil {
			s.unshare = u
		}
	}
	return s, nil
}

// PrepareSandbox downloads the benchmark's modules (testify and its
// dependencies) into the module cache, with the network, so that sandboxes
// then work offline. It does nothing when they are already there.
func PrepareSandbox(ctx context.Context, goCmd string) error {
	if goCmd == "" {
		goCmd = "go"
	}
	dir, err := os.MkdirTemp("", "glassbox-humaneval-prepare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeModule(dir); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goCmd, "mod", "download", "all")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go mod download: %v: %s", err, firstLines(string(out), 5))
	}
	return nil
}

func writeModule(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(sandboxGoMod), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "go.sum"), []byte(sandboxGoSum), 0o644)
}

// Isolated reports whether test processes run without network (a network
// namespace of their own).
func (s *Sandbox) Isolated() bool { return s.unshare != "" }

// Close removes the sandbox's temporary directory.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tempRoot == "" {
		return nil
	}
	err := os.RemoveAll(s.tempRoot)
	s.tempRoot = ""
	return err
}

// SandboxResult is the outcome of one program.
type SandboxResult struct {
	Status   string        // one of the Status constants
	Output   string        // the build's or the tests' output, truncated
	Duration time.Duration // build and run
}

// maxOutput bounds the output kept of a build or a run.
const maxOutput = 16 << 10

// Run builds program (a main_test.go of package main) in a fresh temporary
// module and runs its tests under the sandbox's limits. The module is
// removed before Run returns, whatever happened.
func (s *Sandbox) Run(ctx context.Context, program string) SandboxResult {
	start := time.Now()
	r := s.run(ctx, program)
	r.Duration = time.Since(start)
	if len(r.Output) > maxOutput {
		r.Output = r.Output[:maxOutput] + "\n… (truncated)"
	}
	return r
}

func (s *Sandbox) run(ctx context.Context, program string) SandboxResult {
	s.mu.Lock()
	root := s.tempRoot
	s.mu.Unlock()
	if root == "" {
		return SandboxResult{Status: StatusFailed, Output: "sandbox closed"}
	}
	dir, err := os.MkdirTemp(root, "prog-")
	if err != nil {
		return SandboxResult{Status: StatusFailed, Output: err.Error()}
	}
	defer os.RemoveAll(dir)
	if err := writeModule(dir); err != nil {
		return SandboxResult{Status: StatusFailed, Output: err.Error()}
	}
	if err := os.WriteFile(filepath.Join(dir, "main_test.go"), []byte(program), 0o644); err != nil {
		return SandboxResult{Status: StatusFailed, Output: err.Error()}
	}

	// Build: the compiler runs no code of the program (cgo is off).
	bin := filepath.Join(dir, "prog.test")
	build := exec.Command(s.goBin, "test", "-c", "-vet=off", "-ldflags=-s -w", "-o", bin, ".")
	build.Dir, build.Env = dir, s.env
	out, status := s.limited(ctx, build, dir, s.opts.BuildTimeout)
	if status == StatusTimeout {
		return SandboxResult{Status: StatusBuildFailed, Output: "build: time limit exceeded\n" + out}
	}
	if status != StatusPassed {
		return SandboxResult{Status: StatusBuildFailed, Output: out}
	}

	// Run: the shell sets the limits, then becomes the test binary.
	run := s.limitedCommand(bin, "-test.timeout="+(s.opts.Timeout+time.Second).String(), "-test.v")
	run.Dir = dir
	run.Env = append(append([]string{}, s.env...), "GOMAXPROCS=1")
	out, status = s.limited(ctx, run, dir, s.opts.Timeout)
	if status == StatusFailed && outOfMemory(out) {
		status = StatusMemory
	}
	return SandboxResult{Status: status, Output: out}
}

// limitedCommand returns the command running args under the sandbox's
// limits: a shell sets RLIMIT_DATA, RLIMIT_CPU and RLIMIT_FSIZE, then
// becomes args[0] (in a network namespace of its own when unshare works).
func (s *Sandbox) limitedCommand(args ...string) *exec.Cmd {
	const script = `ulimit -d "$1" && ulimit -t "$2" && ulimit -f "$3" && shift 3 && exec "$@"`
	kb := s.opts.MemoryLimit >> 10
	cpu := int64(s.opts.Timeout/time.Second) + 1
	const fileBlocks = 64 << 20 >> 9 // 64 MiB in 512-byte blocks (1 KiB blocks in some shells: 128 MiB)
	full := append([]string{s.shell, "-c", script, "sh", strconv.FormatInt(kb, 10), strconv.FormatInt(cpu, 10), strconv.Itoa(fileBlocks)}, args...)
	if s.unshare != "" {
		full = append([]string{s.unshare, "-n", "--"}, full...)
	}
	return exec.Command(full[0], full[1:]...)
}

// Limits of the copy RunGo makes of a folder.
const (
	MaxCopyBytes = 256 << 20 // bytes of regular files
	MaxCopyFiles = 20000     // files and directories
)

// RunGo copies the folder src into a fresh temporary directory and runs the
// go command there with args (such as "test", "-run", "TestX", "./...")
// under the sandbox's limits: no network (GOPROXY=off, and a network
// namespace when Isolated), every process of the command bounded to
// MemoryLimit of data memory and Timeout+1 s of CPU, the whole command
// killed at Timeout, files bounded to 64 MiB. The copy holds src's regular
// files and directories (at most MaxCopyBytes and MaxCopyFiles) without
// symbolic links and .git directories, read through an os.Root so that
// nothing outside src is read; it is removed before RunGo returns. The
// status is StatusPassed when the command exits with 0, StatusFailed
// (StatusMemory when it ran out of memory) or StatusTimeout; the output is
// the command's, truncated.
func (s *Sandbox) RunGo(ctx context.Context, src string, args ...string) SandboxResult {
	start := time.Now()
	r := s.runGo(ctx, src, args)
	r.Duration = time.Since(start)
	if len(r.Output) > maxOutput {
		r.Output = r.Output[:maxOutput] + "\n… (truncated)"
	}
	return r
}

func (s *Sandbox) runGo(ctx context.Context, src string, args []string) SandboxResult {
	s.mu.Lock()
	root := s.tempRoot
	s.mu.Unlock()
	if root == "" {
		return SandboxResult{Status: StatusFailed, Output: "sandbox closed"}
	}
	dir, err := os.MkdirTemp(root, "go-")
	if err != nil {
		return SandboxResult{Status: StatusFailed, Output: err.Error()}
	}
	defer os.RemoveAll(dir)
	mod := filepath.Join(dir, "src")
	if err := CopyTree(mod, src); err != nil {
		return SandboxResult{Status: StatusFailed, Output: "copying the folder: " + err.Error()}
	}
	cmd := s.limitedCommand(append([]string{s.goBin}, args...)...)
	cmd.Dir, cmd.Env = mod, s.env
	out, status := s.limited(ctx, cmd, dir, s.opts.Timeout)
	if status == StatusFailed && outOfMemory(out) {
		status = StatusMemory
	}
	return SandboxResult{Status: status, Output: out}
}

// CopyTree copies the regular files and directories of src into dst (which
// must not exist), skipping symbolic links, other special files and .git
// directories; src is read through an os.Root, so nothing outside it is
// read. More than MaxCopyBytes or MaxCopyFiles is an error.
func CopyTree(dst, src string) error {
	r, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	var bytes int64
	files := 0
	return fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if files++; files > MaxCopyFiles {
			return fmt.Errorf("the folder has more than %d files and directories", MaxCopyFiles)
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		switch {
		case d.IsDir():
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return os.Mkdir(target, 0o755)
		case !d.Type().IsRegular():
			return nil // symbolic links, devices, sockets
		}
		in, err := r.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		st, err := in.Stat()
		if err != nil {
			return err
		}
		if bytes += st.Size(); bytes > MaxCopyBytes {
			return fmt.Errorf("the folder holds more than %d MiB", MaxCopyBytes>>20)
		}
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm()|0o200)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, io.LimitReader(in, st.Size())); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// outOfMemory reports whether a test process's output shows that it hit its
// address-space limit (the Go runtime's messages when mmap fails).
func outOfMemory(out string) bool {
	for _, m := range []string{"out of memory", "cannot allocate memory", "runtime: failed to create new OS thread"} {
		if strings.Contains(out, m) {
			return true
		}
	}
	return false
}

// limited runs cmd in its own process group, killed whole at the time limit
// or when ctx ends, and returns its output and StatusPassed (exit 0),
// StatusFailed or StatusTimeout. The output goes to a file of dir, not a
// pipe, so a process the program leaves behind cannot hold up the wait; it
// is killed with the group when the command ends.
func (s *Sandbox) limited(ctx context.Context, cmd *exec.Cmd, dir string, limit time.Duration) (string, string) {
	f, err := os.CreateTemp(dir, "output-")
	if err != nil {
		return err.Error(), StatusFailed
	}
	defer f.Close()
	output := func() string {
		b := make([]byte, maxOutput+1)
		n, _ := f.ReadAt(b, 0)
		return string(b[:n])
	}
	cmd.Stdout, cmd.Stderr, cmd.Stdin = f, f, nil
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return err.Error(), StatusFailed
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		killProcessGroup(cmd)
		<-done
		return output(), StatusTimeout
	case <-ctx.Done():
		killProcessGroup(cmd)
		<-done
		return output() + "\ncancelled", StatusFailed
	}
	killProcessGroup(cmd)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && cpuLimitSignal(ee) {
			return output(), StatusTimeout
		}
		return output() + "\n" + err.Error(), StatusFailed
	}
	return output(), StatusPassed
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
