package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/bench"
	"glassbox/eval"
	"glassbox/internal/fixtures"
	"glassbox/models"
)

// TestBenchSynthetic writes a tiny synthetic model with bench --synthetic,
// then benchmarks it in table and JSON form, each run saving a record.
func TestBenchSynthetic(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	t.Setenv("GLASSBOX_HOME", home)
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
			cmd.SetArgs([]string{"-m", path, "-p", "16", "-n", "4", "-t", "1,2", "-r", "2", "--json", "--bandwidth-mib", "2"})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			var res []bench.Result
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
				if tg := i%2 == 1; tg != (r.BytesPerToken > 0 && r.Bandwidth > 0 && r.BandwidthFraction > 0) ||
					r.BytesPerToken > r.SizeBytes+r.KVBytes {
					t.Errorf("result %d: bytes per token %d, bandwidth %g, fraction %g (weights %d, KV %d): want them on tg rows only, at most the weights and the cache",
						i, r.BytesPerToken, r.Bandwidth, r.BandwidthFraction, r.SizeBytes, r.KVBytes)
				}
			}
			checkBenchRecord(t, home, path, res)
			out.Reset()
			cmd = newBenchCmd()
			cmd.SetOut(&out)
			cmd.SetArgs([]string{"-m", path, "-p", "8", "-n", "2", "-r", "1", "--no-save", "--bandwidth-mib", "2"})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "pp8") || !strings.Contains(out.String(), "tg2") || !strings.Contains(out.String(), "peak RSS") ||
				!strings.Contains(out.String(), "GB/s") {
				t.Fatalf("table lacks a row or column:\n%s", out.String())
			}
		})
	}
}

// checkBenchRecord checks the record the last bench run of the model file
// at path saved in the store at home against the rows it printed.
func checkBenchRecord(t *testing.T, home, path string, rows []bench.Result) {
	t.Helper()
	recs, err := eval.List(home, eval.KindBench)
	if err != nil || len(recs) == 0 {
		t.Fatalf("no bench record: %v", err)
	}
	r := recs[len(recs)-1]
	sum, size, err := eval.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Model.SHA256 != sum || r.Model.Size != size || r.Model.Name != path || r.Model.Arch != "llama" || r.Model.ContextLength <= 0 ||
		r.Machine.Cores <= 0 || r.Glassbox == "" {
		t.Errorf("record's model and machine: %+v %+v %q", r.Model, r.Machine, r.Glassbox)
	}
	s, err := r.Speed()
	if err != nil {
		t.Fatal(err)
	}
	// the summary is the thread count of the fastest tg row, with its pp row
	var tg, pp *bench.Result
	for i := range rows {
		if strings.HasPrefix(rows[i].Test, "tg") && (tg == nil || rows[i].TokensPerS > tg.TokensPerS) {
			tg = &rows[i]
		}
	}
	for i := range rows {
		if strings.HasPrefix(rows[i].Test, "pp") && rows[i].Threads == tg.Threads {
			pp = &rows[i]
		}
	}
	if s.GenTPS != tg.TokensPerS || s.PromptTPS != pp.TokensPerS || s.Threads != tg.Threads || s.PromptTokens != 16 || s.GenTokens != 4 ||
		len(s.Rows) != len(rows) || s.PeakRSSBytes <= 0 || s.ContextLength != r.Model.ContextLength {
		t.Errorf("speed %+v from rows %+v", s, rows)
	}
	if want := 16 / pp.TokensPerS * 1000; s.TTFTMS < want*0.999 || s.TTFTMS > want*1.001 {
		t.Errorf("ttft %.3f ms, want the pp16 duration %.3f ms", s.TTFTMS, want)
	}
}

// TestBenchErrors checks the messages of bad invocations.
func TestBenchErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-m", "nothing/here.gguf"}, "no such file"},
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

// TestBenchSpeculativeCPUProfile checks that --cpuprofile profiles the
// speculative runs of --lookup and --draft: the file holds a gzipped CPU
// profile (the sample types cpu/nanoseconds in its strings).
func TestBenchSpeculativeCPUProfile(t *testing.T) {
	dir := t.TempDir()
	draft := filepath.Join(dir, models.DefaultName)
	if err := os.WriteFile(draft, models.Default, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		test string // the speculative row
	}{
		{"lookup", []string{"--lookup"}, "tg8+lookup"},
		{"draft", []string{"--draft", draft}, "tg8+draft"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			profile := filepath.Join(dir, tc.name+".pprof")
			var out bytes.Buffer
			cmd := newBenchCmd()
			cmd.SetOut(&out)
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(append([]string{"-n", "8", "-r", "1", "-t", "1", "--json", "--cpuprofile", profile}, tc.args...))
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			var res []bench.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("bad JSON %q: %v", out.String(), err)
			}
			if len(res) != 2 || res[1].Test != tc.test {
				t.Fatalf("rows %+v, want tg8 and %s", res, tc.test)
			}
			f, err := os.Open(profile)
			if err != nil {
				t.Fatalf("no profile: %v", err)
			}
			defer f.Close()
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("the profile is not gzipped: %v", err)
			}
			data, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte("cpu")) || !bytes.Contains(data, []byte("nanoseconds")) {
				t.Errorf("the profile (%d bytes) is not a CPU profile", len(data))
			}
		})
	}
}

// TestBenchContext checks that -p and -n beyond the model's context are
// refused with run's wording, and that the defaults shrink to fit it.
func TestBenchContext(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf") // a context of 128
	for _, tc := range []struct {
		args []string
		want string // the error, or the tests run
	}{
		{[]string{"-p", "100000"}, "-p 100000: prompt does not fit the context: the prompt has 100000 tokens and the context holds 128 (99872 too many)"},
		{[]string{"-p", "129", "-n", "0"}, "the prompt has 129 tokens and the context holds 128 (1 too many)"},
		{[]string{"-p", "0", "-n", "1000"}, "-n 1000: the generated tokens do not fit the context: the tg test generates 1000 tokens and the context holds 128 (872 too many)"},
		{[]string{"-p", "16", "-n", "129"}, "(1 too many)"},
		{[]string{}, "pp128 tg128"},
		{[]string{"-n", "4"}, "pp128 tg4"},
		{[]string{"-p", "128", "-n", "128"}, "pp128 tg128"},
	} {
		var out bytes.Buffer
		cmd := newBenchCmd()
		cmd.SetOut(&out)
		cmd.SetArgs(append([]string{"-m", model, "-r", "1", "--json"}, tc.args...))
		err := cmd.Execute()
		if strings.HasPrefix(tc.want, "pp") {
			if err != nil {
				t.Fatalf("%v: %v", tc.args, err)
			}
			var res []bench.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			var tests []string
			for _, r := range res {
				tests = append(tests, r.Test)
			}
			if got := strings.Join(tests, " "); got != tc.want {
				t.Errorf("%v: tests %q, want %q", tc.args, got, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestBenchAndShowResolveModels checks that bench and show take -m like
// every command: the embedded model by default, a llama2.c checkpoint, a
// store name and an hf.co reference (pulled first).
func TestBenchAndShowResolveModels(t *testing.T) {
	data, err := os.ReadFile(fixtures.Path(t, "gguf", "stories260K-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	srv := fakeHubServer(t, "stories260K-Q4_K_M.gguf", data)
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // where show finds the embedded model's file
	checkpoint := fixtures.Path(t, "llama2c", "stories260K.bin")
	st, err := os.Stat(checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		m         []string // -m and its value, or nothing
		wantModel string
		wantType  string
		wantSize  int64
	}{
		{"embedded", nil, models.DefaultName, "F32", 0},
		{"llama2.c", []string{"-m", checkpoint}, "stories260K.bin", "F32", st.Size()},
		{"hf.co", []string{"-m", "hf.co/test/stories:Q4_K_M"}, "", "Q4_K_M", 0}, // pulled here
		{"store name", []string{"-m", "test/stories:Q4_K_M"}, "", "Q4_K_M", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := execute(t, newBenchCmd(), "", append([]string{"-p", "8", "-n", "2", "-r", "1", "--json"}, tc.m...)...)
			if err != nil {
				t.Fatal(err)
			}
			var res []bench.Result
			if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 2 {
				t.Fatalf("bench: %v, %q", err, out)
			}
			if tc.wantModel != "" && res[0].Model != tc.wantModel || res[0].Type != tc.wantType || res[0].Params <= 0 ||
				tc.wantSize != 0 && res[0].SizeBytes != tc.wantSize {
				t.Errorf("bench: %+v", res[0])
			}
			out, _, err = execute(t, newShowCmd(), "", tc.m...)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"llama", tc.wantType, "layers"}
			switch tc.name {
			case "store name", "hf.co":
				want = append(want, "hf.co/test/stories:Q4_K_M")
			case "embedded":
				want = append(want, models.DefaultName)
			case "llama2.c":
				want = append(want, checkpoint, "260K")
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("show %v lacks %q:\n%s", tc.m, w, out)
				}
			}
		})
	}
	// the argument and -m are the same thing; two different models are refused
	if _, _, err := execute(t, newShowCmd(), "", "-m", checkpoint, "test/stories:Q4_K_M"); err == nil || !strings.Contains(err.Error(), "two models") {
		t.Errorf("show with two models: %v", err)
	}
}

// BenchmarkBenchModel profiles bench on the model named by GLASSBOX_BENCH_MODEL.
func BenchmarkBenchModel(b *testing.B) {
	path := os.Getenv("GLASSBOX_BENCH_MODEL")
	if path == "" {
		b.Skip("set GLASSBOX_BENCH_MODEL to a GGUF file")
	}
	for i := 0; i < b.N; i++ {
		if err := runBench(context.Background(), &bytes.Buffer{}, io.Discard, benchOptions{model: path, prompt: 512, gen: 0, threads: os.Getenv("GLASSBOX_BENCH_THREADS"), reps: 1, noSave: true}); err != nil {
			b.Fatal(err)
		}
	}
}
