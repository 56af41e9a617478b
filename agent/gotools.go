package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"glassbox/eval"
)

// GoOptions configure the go_build and go_test tools.
type GoOptions struct {
	// Go is the go command (default "go" on PATH).
	Go string
	// Timeout bounds one go build or go test, build included (default 60 s).
	Timeout time.Duration
	// MemoryLimit bounds the data memory of each process of the command
	// (default 1 GiB).
	MemoryLimit int64
}

// GoTools runs the go command over a copy of a folder in eval's sandbox
// (eval.Sandbox.RunGo): a temporary copy, no network, time and memory
// limits.
type GoTools struct {
	dir  string
	sb   *eval.Sandbox
	pkgs []string // the package parameter's enum (nil: a free pattern)
}

// NewGoTools prepares the sandbox for a folder. Close removes it. When the
// folder's FileOptions.PathEnum applies (it has at most that many files),
// the package parameter is an enum: "./..." and each folder holding .go
// files.
func NewGoTools(ctx context.Context, folder *Folder, opts GoOptions) (*GoTools, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	sb, err := eval.NewGoSandbox(ctx, eval.SandboxOptions{Go: opts.Go, Timeout: opts.Timeout, MemoryLimit: opts.MemoryLimit})
	if err != nil {
		return nil, err
	}
	g := &GoTools{dir: folder.Dir(), sb: sb}
	if folder.opts.PathEnum > 0 {
		if files, _, _, ok := folder.inventory(folder.opts.PathEnum); ok {
			seen := map[string]bool{}
			g.pkgs = []string{"./..."}
			for _, f := range files {
				if !strings.HasSuffix(f, ".go") {
					continue
				}
				d := path.Dir(f)
				if d != "." {
					d = "./" + d
				}
				if !seen[d] {
					seen[d] = true
					g.pkgs = append(g.pkgs, d)
				}
			}
		}
	}
	return g, nil
}

// Close removes the sandbox's temporary directory.
func (g *GoTools) Close() error { return g.sb.Close() }

// Isolated reports whether the commands run in a network namespace of their
// own (see eval.Sandbox.Isolated).
func (g *GoTools) Isolated() bool { return g.sb.Isolated() }

// GoArgs are the arguments of go_build and go_test.
type GoArgs struct {
	Package string `json:"package"`
	Run     string `json:"run"`
}

// patternRE is a package pattern relative to the module: ".", "./..." or
// "./a/b" with an optional "/..." at the end.
var patternRE = regexp.MustCompile(`^\.(/[A-Za-z0-9_.+-]+)*(/\.\.\.)?$`)

// ParseGoArgs reads the arguments of go_build (test false) or go_test: a
// package pattern relative to the module (default "./..."), and for go_test
// a -run regular expression.
func ParseGoArgs(raw json.RawMessage, test bool) (GoArgs, error) {
	var a GoArgs
	fields := "package (a pattern such as \"./...\" or \"./pkg\", optional)"
	if test {
		fields += " and run (a regular expression of test names, optional)"
	}
	if err := decodeArgs(raw, &a, fields); err != nil {
		return a, err
	}
	if !test && a.Run != "" {
		return a, fmt.Errorf("go_build has no run argument: the arguments are %s", fields)
	}
	if a.Package == "" {
		a.Package = "./..."
	}
	if !patternRE.MatchString(a.Package) {
		return a, fmt.Errorf("package %q is not a pattern relative to the module: expected \".\", \"./...\", \"./dir\" or \"./dir/...\"", a.Package)
	}
	for _, el := range strings.Split(a.Package, "/") {
		if el == ".." {
			return a, fmt.Errorf("package %q leads outside the folder", a.Package)
		}
	}
	if a.Run != "" {
		if _, err := regexp.Compile(a.Run); err != nil {
			return a, fmt.Errorf("run %q is not a valid regular expression: %v", a.Run, err)
		}
	}
	return a, nil
}

// run runs go with args in the sandbox and reports the status first.
func (g *GoTools) run(ctx context.Context, args ...string) (string, error) {
	r := g.sb.RunGo(ctx, g.dir, args...)
	net := "no network (GOPROXY=off, own network namespace)"
	if !g.sb.Isolated() {
		net = "no module downloads (GOPROXY=off); the machine's network is reachable"
	}
	out := strings.TrimSpace(r.Output)
	if out == "" {
		out = "(no output)"
	}
	return fmt.Sprintf("go %s: %s in %.1f s (sandbox: temporary copy, %s)\n%s\n", strings.Join(args, " "), r.Status, r.Duration.Seconds(), net, out), nil
}

// Tools returns go_build and go_test.
func (g *GoTools) Tools() []Tool {
	pkg := map[string]any{"type": "string", "description": "package pattern relative to the module (default ./...)"}
	if g.pkgs != nil {
		pkg["enum"] = g.pkgs
	}
	build, _ := json.Marshal(map[string]any{"type": "object", "properties": map[string]any{"package": pkg}})
	test, _ := json.Marshal(map[string]any{"type": "object", "properties": map[string]any{
		"package": pkg,
		"run":     map[string]any{"type": "string", "description": "run only the tests matching this regular expression"},
	}})
	return []Tool{
		{
			Name: "go_build", Description: "Build the Go packages in a sandboxed copy of the folder and show the compiler's errors.",
			Parameters: build, Source: "sandbox",
			Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
				a, err := ParseGoArgs(raw, false)
				if err != nil {
					return "", err
				}
				return g.run(ctx, "build", "-o", os.DevNull, a.Package)
			},
		},
		{
			Name: "go_test", Description: "Run the Go tests in a sandboxed copy of the folder and show their output.",
			Parameters: test, Source: "sandbox",
			Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
				a, err := ParseGoArgs(raw, true)
				if err != nil {
					return "", err
				}
				args := []string{"test", "-count=1"}
				if a.Run != "" {
					args = append(args, "-run="+a.Run)
				}
				return g.run(ctx, append(args, a.Package)...)
			},
		},
	}
}
