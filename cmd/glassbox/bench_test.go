package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchSynthetic writes a tiny synthetic model with bench --synthetic,
// then benchmarks it in table and JSON form.
func TestBenchSynthetic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.gguf")
	for _, typ := range []string{"Q4_0", "Q8_0", "F16"} {
		t.Run(typ, func(t *testing.T) {
			var out bytes.Buffer
			cmd := newBenchCmd()
			cmd.SetOut(&out)
			cmd.SetArgs([]string{"--synthetic", "tiny", "--type", typ, "-o", path})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "wrote "+path) {
				t.Fatalf("unexpected output %q", out.String())
			}
			out.Reset()
			cmd = newBenchCmd()
			cmd.SetOut(&out)
			cmd.SetArgs([]string{"-m", path, "-p", "16", "-n", "4", "-t", "1,2", "-r", "2", "--json"})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			var res []benchResult
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("bad JSON %q: %v", out.String(), err)
			}
			if len(res) != 4 {
				t.Fatalf("%d results, want 4 (pp16, tg4 × 2 thread counts)", len(res))
			}
			st, _ := os.Stat(path)
			for i, r := range res {
				wantTest := []string{"pp16", "tg4"}[i%2]
				if r.Test != wantTest || r.Threads != 1+i/2 || r.Type != typ || len(r.Samples) != 2 {
					t.Errorf("result %d: %+v", i, r)
				}
				if r.TokensPerS <= 0 || r.PeakRSS <= 0 || r.SizeBytes <= 0 || r.SizeBytes > st.Size() {
					t.Errorf("result %d: implausible numbers %+v (file %d bytes)", i, r, st.Size())
				}
			}
			out.Reset()
			cmd = newBenchCmd()
			cmd.SetOut(&out)
			cmd.SetArgs([]string{"-m", path, "-p", "8", "-n", "2", "-r", "1"})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "pp8") || !strings.Contains(out.String(), "tg2") || !strings.Contains(out.String(), "peak RSS") {
				t.Fatalf("table lacks a row or column:\n%s", out.String())
			}
		})
	}
}

// TestBenchErrors checks the messages of bad invocations.
func TestBenchErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no model"},
		{[]string{"-m", "x.gguf", "-t", "0"}, "not a positive thread count"},
		{[]string{"-m", "x.gguf", "-r", "0"}, "-r ≥ 1"},
		{[]string{"--synthetic", "huge", "-o", "x"}, "unknown synthetic model shape"},
		{[]string{"--synthetic", "tiny", "--type", "Q4_K", "-o", filepath.Join(t.TempDir(), "x")}, "not supported"},
		{[]string{"--synthetic", "tiny"}, "needs -o"},
	} {
		cmd := newBenchCmd()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// BenchmarkBenchModel profiles bench on the model named by GLASSBOX_BENCH_MODEL.
func BenchmarkBenchModel(b *testing.B) {
	path := os.Getenv("GLASSBOX_BENCH_MODEL")
	if path == "" {
		b.Skip("set GLASSBOX_BENCH_MODEL to a GGUF file")
	}
	for i := 0; i < b.N; i++ {
		if err := runBench(&bytes.Buffer{}, benchOptions{model: path, prompt: 512, gen: 0, threads: os.Getenv("GLASSBOX_BENCH_THREADS"), reps: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
