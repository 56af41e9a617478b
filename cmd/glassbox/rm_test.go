package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRmPrune(t *testing.T) {
	home := t.TempDir()
	t.Setenv("GLASSBOX_HOME", home)
	if _, _, err := execute(t, newRmCmd(), ""); err == nil || !strings.Contains(err.Error(), "or --prune") {
		t.Errorf("rm without a name: %v", err)
	}
	if _, _, err := execute(t, newRmCmd(), "", "--prune", "--older-than", "-1s"); err == nil || !strings.Contains(err.Error(), "--older-than must not be negative") {
		t.Errorf("rm --older-than -1s: %v", err)
	}
	out, _, err := execute(t, newRmCmd(), "", "--prune")
	if err != nil || out != "nothing to prune\n" {
		t.Fatalf("prune of an empty store: %q, %v", out, err)
	}
	blobs := filepath.Join(home, "blobs")
	orphan := "sha256-" + strings.Repeat("ab", 32)
	if err := os.WriteFile(filepath.Join(blobs, orphan), make([]byte, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(blobs, "sha256-"+strings.Repeat("cd", 32)+".partial")
	if err := os.WriteFile(partial, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(partial, old, old); err != nil {
		t.Fatal(err)
	}
	// The partial download is younger than the default 24 hours: kept.
	out, _, err = execute(t, newRmCmd(), "", "--prune")
	lines := strings.Split(out, "\n")
	if err != nil || len(lines) != 4 ||
		lines[0] != "removed blobs/"+orphan+" (2.93 KiB): blob used by no model" ||
		!strings.HasPrefix(lines[1], "kept blobs/sha256-"+strings.Repeat("cd", 32)+".partial (100 B): partial download last written 2h0m") ||
		!strings.HasSuffix(lines[1], " ago, kept so that the next pull resumes it (younger than 24h0m0s)") ||
		lines[2] != "pruned 1 file, freed 2.93 KiB" {
		t.Errorf("rm --prune: %q, %v", out, err)
	}
	out, _, err = execute(t, newRmCmd(), "", "--prune", "--older-than", "1h")
	if err != nil || !strings.HasPrefix(out, "removed blobs/sha256-"+strings.Repeat("cd", 32)+".partial (100 B): partial download last written 2h0m") ||
		!strings.HasSuffix(out, "pruned 1 file, freed 100 B\n") {
		t.Errorf("rm --prune --older-than 1h: %q, %v", out, err)
	}
}
