package eval

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestSaveList(t *testing.T) {
	root := t.TempDir()
	model := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(model, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if recs, err := List(root, ""); err != nil || len(recs) != 0 {
		t.Fatalf("empty store: %v, %v", recs, err)
	}
	var ids []string
	for i, kind := range []string{"perplexity", "choice", "perplexity"} {
		r, err := NewRecord(kind, "m", model)
		if err != nil {
			t.Fatal(err)
		}
		r.Date = time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC)
		r.Settings["ctx"] = 128
		r.Results["perplexity"] = 97.05
		path, err := Save(root, r)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(path) != filepath.Join(root, "evals") {
			t.Errorf("saved at %s, want under %s/evals", path, root)
		}
		ids = append(ids, r.ID)
	}
	tests := []struct {
		kind string
		want []string
	}{
		{"", ids},
		{"perplexity", []string{ids[0], ids[2]}},
		{"choice", []string{ids[1]}},
		{"humaneval", nil},
	}
	for _, tt := range tests {
		recs, err := List(root, tt.kind)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.ID)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("List(%q) = %v, want %v", tt.kind, got, tt.want)
		}
	}
	recs, _ := List(root, "choice")
	r := recs[0]
	// sha256("abc")
	if r.Model.SHA256 != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || r.Model.Size != 3 {
		t.Errorf("model = %+v", r.Model)
	}
	if r.Machine.Cores != runtime.NumCPU() || r.Machine.OS != runtime.GOOS || r.Glassbox == "" || r.Version != RecordVersion {
		t.Errorf("record = %+v", r)
	}
	if r.Settings["ctx"] != float64(128) || r.Results["perplexity"] != 97.05 {
		t.Errorf("settings %v results %v", r.Settings, r.Results)
	}
	// saving the same ID twice never overwrites
	dup := recs[0]
	if _, err := Save(root, &dup); err == nil {
		t.Error("saving an existing record id: no error")
	}
}

func TestSaveListErrors(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name string
		rec  *Record
	}{
		{"nil", nil},
		{"no kind", &Record{}},
		{"bad id", &Record{Kind: "x", ID: "../escape"}},
	}
	for _, tt := range tests {
		if _, err := Save(root, tt.rec); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := NewRecord("x", "m", filepath.Join(root, "missing.gguf")); err == nil {
		t.Error("NewRecord of a missing file: no error")
	}
	if err := os.MkdirAll(filepath.Join(root, "evals"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "evals", "junk.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := List(root, ""); err == nil || !strings.Contains(err.Error(), "junk.json") {
		t.Errorf("List with a broken file: %v", err)
	}
}

func TestMachineFiles(t *testing.T) {
	dir := t.TempDir()
	cpu := filepath.Join(dir, "cpuinfo")
	mem := filepath.Join(dir, "meminfo")
	os.WriteFile(cpu, []byte("processor\t: 0\nmodel name\t: Test CPU @ 3GHz\nflags\t: x\n"), 0o644)
	os.WriteFile(mem, []byte("MemTotal:       16384 kB\nMemFree: 1 kB\n"), 0o644)
	if got := cpuModel(cpu); got != "Test CPU @ 3GHz" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := memTotal(mem); got != 16384*1024 {
		t.Errorf("memTotal = %d", got)
	}
	if cpuModel(filepath.Join(dir, "none")) != "" || memTotal(filepath.Join(dir, "none")) != 0 {
		t.Error("missing files should give zero values")
	}
}

func TestSpeedRecord(t *testing.T) {
	root := t.TempDir()
	in := Speed{PromptTokens: 512, PromptTPS: 123.5, GenTokens: 128, GenTPS: 12.25, TTFTMS: 4145.7, Threads: 2, PeakRSSBytes: 1 << 30, ContextLength: 4096}
	r, err := NewBenchRecord("remote-model", "", in)
	if err != nil {
		t.Fatal(err)
	}
	r.Model.Endpoint = "http://127.0.0.1:1/v1"
	if _, err := Save(root, r); err != nil {
		t.Fatal(err)
	}
	recs, err := List(root, KindBench)
	if err != nil || len(recs) != 1 {
		t.Fatalf("List: %v, %v", recs, err)
	}
	out, err := recs[0].Speed()
	if err != nil {
		t.Fatal(err)
	}
	if out.PromptTPS != in.PromptTPS || out.GenTPS != in.GenTPS || out.TTFTMS != in.TTFTMS || out.PeakRSSBytes != in.PeakRSSBytes ||
		out.ContextLength != in.ContextLength || out.Threads != 2 || recs[0].Model.Endpoint != r.Model.Endpoint {
		t.Errorf("read back %+v from %+v", out, in)
	}
	other := Record{ID: "x", Kind: "perplexity"}
	if _, err := other.Speed(); err == nil || !strings.Contains(err.Error(), "not a bench record") {
		t.Errorf("Speed of a perplexity record: %v", err)
	}
}
