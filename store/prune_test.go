package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A pull whose file is rejected after its checksum passed (not a GGUF file,
// or a truncated one) leaves nothing in the store.
func TestPullRejectedLeavesNothing(t *testing.T) {
	good := fixtureFile(t, "stories260K-Q4_K_M.gguf")
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not GGUF", []byte("<html>this is not a model</html>"), "not a usable GGUF file"},
		{"truncated", good.data[:len(good.data)/2], "not a usable GGUF file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hub := newFakeHub(t)
			hub.addRepo("test/bad", false, map[string]fakeFile{"model-Q4_K_M.gguf": {data: tc.data, lfs: true}})
			s := newTestStore(t)
			_, err := s.Pull(context.Background(), "hf.co/test/bad", PullOptions{Hub: hub.client("")})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "the downloaded data was deleted") {
				t.Fatalf("error %v, want %q and that the data was deleted", err, tc.want)
			}
			if left := blobsLeft(t, s); len(left) != 0 {
				t.Errorf("left in the store: %v", left)
			}
			if _, err := os.Stat(s.BlobPath(sha256Hex(tc.data))); err == nil {
				t.Error("the rejected file is still a blob")
			}
		})
	}
}

func TestPrune(t *testing.T) {
	hub := newFakeHub(t)
	data := fixtureFile(t, "stories260K-Q4_K_M.gguf")
	hub.addRepo("test/one", false, map[string]fakeFile{"model-Q4_K_M.gguf": data})
	s := newTestStore(t)
	m, err := s.Pull(context.Background(), "hf.co/test/one", PullOptions{Hub: hub.client("")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	write := func(name string, size int, age time.Duration) {
		t.Helper()
		p := filepath.Join(s.blobDir(), name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{1}, size), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	orphan := "sha256-" + strings.Repeat("ab", 32)
	write(orphan, 1000, time.Minute)
	write("sha256-"+strings.Repeat("cd", 32)+".partial", 200, 48*time.Hour)
	write("git-"+strings.Repeat("ef", 20)+".partial", 30, 48*time.Hour)
	write("sha256-"+strings.Repeat("01", 32)+".partial", 40, time.Hour)    // recent: kept
	write("sha256-"+strings.Repeat("23", 32)+".partial", 50, 48*time.Hour) // being written: kept
	write("sha256-"+strings.Repeat("45", 32)+".bad", 7, time.Hour)
	write("merge-123.partial", 9, time.Hour)
	write("notes.txt", 5, 48*time.Hour) // not the store's: left alone
	unlock, err := lockFile(context.Background(), s.lockPath("blob", "sha256-"+strings.Repeat("23", 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	// While a pull runs, files without a manifest may be that pull's.
	unlockModel, err := lockFile(context.Background(), s.lockPath("model", "hf.co/test/other:latest"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Prune(PruneOptions{PartialAge: 24 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(rep.Removed); !slices.Equal(got, []string{
		"blobs/git-" + strings.Repeat("ef", 20) + ".partial",
		"blobs/sha256-" + strings.Repeat("45", 32) + ".bad",
		"blobs/sha256-" + strings.Repeat("cd", 32) + ".partial",
	}) {
		t.Errorf("removed while a pull runs: %v", got)
	}
	if rep.Freed != 237 {
		t.Errorf("freed %d bytes, want 237", rep.Freed)
	}
	if got := paths(rep.Kept); !slices.Equal(got, []string{
		"blobs/merge-123.partial",
		"blobs/sha256-" + strings.Repeat("01", 32) + ".partial",
		"blobs/sha256-" + strings.Repeat("23", 32) + ".partial",
		"blobs/" + orphan,
	}) {
		t.Errorf("kept while a pull runs: %v", got)
	}
	unlockModel()

	rep, err = s.Prune(PruneOptions{PartialAge: 24 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(rep.Removed); !slices.Equal(got, []string{"blobs/merge-123.partial", "blobs/" + orphan}) || rep.Freed != 1009 {
		t.Errorf("removed %v (%d bytes), want the merge and the orphan blob (1009 bytes)", got, rep.Freed)
	}
	for _, f := range rep.Kept {
		if strings.Contains(f.Path, strings.Repeat("23", 32)) && !strings.Contains(f.Reason, "a running pull is writing it") ||
			strings.Contains(f.Path, strings.Repeat("01", 32)) && !strings.Contains(f.Reason, "kept so that the next pull resumes it (younger than 24h0m0s)") {
			t.Errorf("kept %s: %s", f.Path, f.Reason)
		}
	}
	// PartialAge 0 removes every partial download no pull is writing.
	rep, err = s.Prune(PruneOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(rep.Removed); !slices.Equal(got, []string{"blobs/sha256-" + strings.Repeat("01", 32) + ".partial"}) {
		t.Errorf("removed %v", got)
	}
	// The model is untouched.
	if _, err := s.Path(m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.blobDir(), "notes.txt")); err != nil {
		t.Error("a file that is not the store's was removed")
	}
}

func paths(fs []PrunedFile) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	slices.Sort(out)
	return out
}
