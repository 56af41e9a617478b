package agent

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// confinedFolder makes a folder with a file, a subfolder, a link inside
// it, and links and a file outside it.
func confinedFolder(t *testing.T) (*Folder, string) {
	t.Helper()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	root := filepath.Join(base, "root")
	for _, d := range []string{outside, filepath.Join(root, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret.txt"), "SECRET\n")
	write(filepath.Join(root, "a.txt"), "alpha\nbeta\ngamma\n")
	write(filepath.Join(root, "sub", "b.go"), "package sub\n\n// Beta is b.\nfunc Beta() {}\n")
	write(filepath.Join(root, "bin.dat"), "x\x00y")
	links := map[string]string{
		"up.txt":        filepath.Join(outside, "secret.txt"), // absolute, outside
		"rel.txt":       "../outside/secret.txt",              // relative, outside
		"outdir":        outside,                              // a folder outside
		"sub/inner.txt": "../a.txt",                           // inside
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
	}
	f, err := NewFolder(root, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f, outside
}

// TestConfinement: the file tools read inside the folder only, whatever
// the path: absolute, with "..", or through a symbolic link.
func TestConfinement(t *testing.T) {
	f, outside := confinedFolder(t)
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		want string // in the output, or in the error when err
		err  bool
	}{
		{"a.txt", "alpha\nbeta\ngamma\n", false},
		{"./sub/../a.txt", "alpha", false},
		{"sub/inner.txt", "alpha", false}, // a link that stays inside
		{"", "is a folder", true},
		{"sub", "is a folder", true},
		{"missing.txt", "does not exist", true},
		{"bin.dat", "looks binary", true},
		{"/etc/passwd", "absolute path", true},
		{filepath.Join(outside, "secret.txt"), "absolute path", true},
		{"../outside/secret.txt", "leads outside the folder", true},
		{"sub/../../outside/secret.txt", "leads outside the folder", true},
		{"..", "leads outside the folder", true},
		{"up.txt", "through a symbolic link", true},
		{"rel.txt", "through a symbolic link", true},
		{"outdir/secret.txt", "through a symbolic link", true},
		{"a.txt\x00", "NUL", true},
	} {
		out, err := f.Read(tc.path, 0, 0)
		switch {
		case tc.err && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("read %q: %q, %v; want an error with %q", tc.path, out, err, tc.want)
		case !tc.err && (err != nil || !strings.Contains(out, tc.want)):
			t.Errorf("read %q: %q, %v; want %q", tc.path, out, err, tc.want)
		}
		if strings.Contains(out, "SECRET") || err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("read %q reached the outside file", tc.path)
		}
	}
	for _, p := range []string{"/", "..", "outdir", "../outside", "up.txt"} {
		if out, err := f.List(ctx, p, true); err == nil {
			t.Errorf("list %q: %q, want an error", p, out)
		}
		re := regexp.MustCompile("SECRET")
		if out, err := f.Search(ctx, re, p); err == nil {
			t.Errorf("search %q: %q, want an error", p, out)
		}
	}
	// the whole folder: links listed, not followed
	out, err := f.List(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a.txt\nbin.dat\noutdir@\nrel.txt@\nsub/\nsub/b.go\nsub/inner.txt@\nup.txt@\n"; out != want {
		t.Errorf("list:\n%s\nwant:\n%s", out, want)
	}
	if out, err := f.Search(ctx, regexp.MustCompile("SECRET|alpha"), "."); err != nil || out != "a.txt:1: alpha\n" {
		t.Errorf("search: %q, %v", out, err)
	}
}

// TestFileTools: the three tools through their JSON arguments.
func TestFileTools(t *testing.T) {
	f, _ := confinedFolder(t)
	tools := map[string]Tool{}
	for _, tl := range f.Tools() {
		tools[tl.Name] = tl
	}
	for _, tc := range []struct {
		tool, args string
		want       string
		err        bool
	}{
		{"list_files", `{}`, "a.txt\nbin.dat\noutdir@\n", false},
		{"list_files", `{"recursive": false}`, "sub/\nup.txt@\n", false},
		{"list_files", `{"path": "sub", "recursive": false}`, "sub/b.go\nsub/inner.txt@\n", false},
		{"list_files", `{"path": "a.txt"}`, "is a file", true},
		{"list_files", `{"depth": 2}`, `unknown field "depth"`, true},
		{"list_files", `[1]`, "must be a JSON object", true},
		{"read_file", `{"path": "a.txt", "start_line": 2, "end_line": 2}`, "beta\n", false},
		{"read_file", `{"path": "a.txt", "start_line": 3}`, "gamma\n", false},
		{"read_file", `{"path": "a.txt", "start_line": 9}`, "has 3 lines", true},
		{"read_file", `{"path": "a.txt", "start_line": 3, "end_line": 2}`, "before start_line", true},
		{"read_file", `{}`, "needs a path", true},
		{"read_file", `{"path": "a.txt"} {}`, "text after it", true},
		{"read_file", `{"path": 3}`, "cannot unmarshal", true},
		{"search", `{"pattern": "Beta"}`, "sub/b.go:3: // Beta is b.\nsub/b.go:4: func Beta() {}\n", false},
		{"search", `{"pattern": "^func", "regexp": true, "path": "sub"}`, "sub/b.go:4: func Beta() {}\n", false},
		{"search", `{"pattern": "nothing like this"}`, "(no match)\n", false},
		{"search", `{"pattern": "(", "regexp": true}`, "not a valid Go regular expression", true},
		{"search", `{"pattern": ""}`, "needs a pattern", true},
	} {
		out, err := tools[tc.tool].Call(context.Background(), json.RawMessage(tc.args))
		switch {
		case tc.err && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %s: %q, %v; want an error with %q", tc.tool, tc.args, out, err, tc.want)
		case !tc.err && (err != nil || !strings.Contains(out, tc.want)):
			t.Errorf("%s %s: %q, %v; want it to contain %q", tc.tool, tc.args, out, err, tc.want)
		}
	}
}

// TestFileLimits: a listing and a search stop at their limits and say so;
// a large file is read in part, saying so.
func TestFileLimits(t *testing.T) {
	dir := t.TempDir()
	for i := range 30 {
		os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+".txt"), []byte("match\nmatch\n"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "zbig.txt"), []byte(strings.Repeat("match line\n", 200)), 0o644)
	f, err := NewFolder(dir, FileOptions{MaxList: 10, MaxMatches: 5, MaxRead: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := f.List(context.Background(), "", true)
	if !strings.HasSuffix(out, "[listing cut at 10 entries: 21 more not listed; list a subfolder to see them]\n") || strings.Count(out, "\n") != 11 {
		t.Errorf("list:\n%s", out)
	}
	out, _ = f.Search(context.Background(), regexp.MustCompile("match"), "")
	if !strings.Contains(out, "[55 more matching lines not shown") || !strings.Contains(out, "[not searched, larger than 1000 bytes: zbig.txt]") {
		t.Errorf("search:\n%s", out)
	}
	out, _ = f.Read("zbig.txt", 0, 0)
	if !strings.HasSuffix(out, "[read_file stopped after the first 1000 of 2200 bytes: ask for a range of lines]\n") {
		t.Errorf("read:\n%s", out[len(out)-100:])
	}
}

// TestPathEnum: a small folder's paths become enums in the schemas, and
// read_file's line numbers are bounded by its longest file.
func TestPathEnum(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.go": "package a\n", "d/b.txt": "1\n2\n3\n", ".git/HEAD": "ref\n"})
	f, err := NewFolder(dir, FileOptions{PathEnum: 2})
	if err != nil {
		t.Fatal(err)
	}
	var read, list string
	for _, tl := range f.Tools() {
		switch tl.Name {
		case "read_file":
			read = string(tl.Parameters)
		case "list_files":
			list = string(tl.Parameters)
		}
	}
	if !strings.Contains(read, `"enum":["a.go","d/b.txt"]`) || !strings.Contains(read, `"maximum":3`) || !strings.Contains(list, `"enum":[".","d"]`) {
		t.Errorf("read_file %s\nlist_files %s", read, list)
	}
	f2, _ := NewFolder(dir, FileOptions{PathEnum: 1}) // too many files: free paths
	for _, tl := range f2.Tools() {
		if strings.Contains(string(tl.Parameters), "enum") {
			t.Errorf("%s has an enum with more files than PathEnum: %s", tl.Name, tl.Parameters)
		}
	}
}

// TestCombine: a name already taken gets its source as a prefix.
func TestCombine(t *testing.T) {
	a := []Tool{{Name: "read_file", Source: "files"}, {Name: "search", Source: "files"}}
	b := []Tool{{Name: "search", Source: "mcp:my server"}, {Name: "generate", Source: "mcp:glassbox"}}
	c := []Tool{{Name: "search", Source: "mcp:my server"}}
	var names []string
	for _, tl := range Combine(a, b, c) {
		names = append(names, tl.Name)
	}
	if want := "read_file search my_server_search generate my_server_search_2"; strings.Join(names, " ") != want {
		t.Errorf("names %v, want %s", names, want)
	}
}

// TestGoTools: go_test and go_build in the sandbox on a tiny module.
func TestGoTools(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command: the sandboxed go tools cannot be tested")
	}
	dir := writeFiles(t, map[string]string{
		"go.mod":       "module tiny\n\ngo 1.21\n",
		"tiny.go":      "package tiny\n\nfunc Add(a, b int) int { return a + b }\n",
		"tiny_test.go": "package tiny\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 2) != 4 {\n\t\tt.Fatal(\"no\")\n\t}\n}\n\nfunc TestWrong(t *testing.T) {\n\tif Add(2, 2) != 5 {\n\t\tt.Fatal(\"Add(2, 2) is not 5\")\n\t}\n}\n",
		"bad/bad.go":   "package bad\n\nfunc F() int { return \"x\" }\n",
	})
	f, err := NewFolder(dir, FileOptions{PathEnum: 32})
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGoTools(context.Background(), f, GoOptions{Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tools := map[string]Tool{}
	for _, tl := range g.Tools() {
		tools[tl.Name] = tl
		if !strings.Contains(string(tl.Parameters), `"enum":["./...","./bad","."]`) {
			t.Errorf("%s: package enum missing: %s", tl.Name, tl.Parameters)
		}
	}
	for _, tc := range []struct {
		tool, args string
		want       []string
	}{
		{"go_test", `{"package": ".", "run": "TestAdd"}`, []string{"go test -count=1 -run=TestAdd .: passed", "ok  \ttiny"}},
		{"go_test", `{"package": "."}`, []string{": failed", "Add(2, 2) is not 5", "--- FAIL: TestWrong"}},
		{"go_build", `{"package": "./bad"}`, []string{": failed", "bad.go:3"}},
		{"go_build", `{"package": "."}`, []string{"go build -o /dev/null .: passed"}},
	} {
		out, err := tools[tc.tool].Call(context.Background(), json.RawMessage(tc.args))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.tool, tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s %s lacks %q:\n%s", tc.tool, tc.args, w, out)
			}
		}
	}
	// the folder itself is untouched: no binary, no cache written there
	if _, err := os.Stat(filepath.Join(dir, "tiny.test")); err == nil {
		t.Error("the sandbox wrote into the folder")
	}
	for _, args := range []string{`{"package": "../x"}`, `{"package": "-exec=sh"}`, `{"package": "/abs"}`, `{"package": "./a/../.."}`, `{"run": "("}`} {
		if _, err := tools["go_test"].Call(context.Background(), json.RawMessage(args)); err == nil {
			t.Errorf("go_test %s: no error", args)
		}
	}
}
