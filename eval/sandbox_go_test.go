package eval

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCopyTree: the copy holds the regular files and folders, without
// symbolic links or .git.
func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	os.MkdirAll(filepath.Join(src, "a", "b"), 0o755)
	os.MkdirAll(filepath.Join(src, ".git"), 0o755)
	os.WriteFile(filepath.Join(src, "a", "b", "f.go"), []byte("package b\n"), 0o644)
	os.WriteFile(filepath.Join(src, ".git", "HEAD"), []byte("ref"), 0o644)
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(src, "link")); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	os.Symlink(outside, filepath.Join(src, "dirlink"))
	dst := filepath.Join(t.TempDir(), "copy")
	if err := CopyTree(dst, src); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.Walk(dst, func(p string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(dst, p)
		got = append(got, rel)
		return nil
	})
	if want := ". a a/b a/b/f.go"; strings.Join(got, " ") != want {
		t.Errorf("copied %v, want %s", got, want)
	}
	if err := CopyTree(dst, src); err == nil {
		t.Error("a copy over an existing folder: no error")
	}
}

// TestRunGoTimeout: a test that outlives the sandbox's time limit is
// killed and reported as a timeout.
func TestRunGoTimeout(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command: the sandbox cannot be tested")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module slow\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "slow_test.go"), []byte("package slow\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestSlow(t *testing.T) { time.Sleep(time.Hour) }\n"), 0o644)
	sb, err := NewGoSandbox(context.Background(), SandboxOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	start := time.Now()
	r := sb.RunGo(context.Background(), dir, "test", "-count=1", ".")
	if r.Status != StatusTimeout || time.Since(start) > time.Minute {
		t.Errorf("status %s after %s: %s", r.Status, time.Since(start), r.Output)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the folder changed: %d entries", len(entries))
	}
}
