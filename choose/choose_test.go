package choose

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glassbox/bench"
	"glassbox/catalog"
	"glassbox/eval"
)

func TestEstimateRAM(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       Shape
		ctx     int
		weights int64
		kv      int64
		over    int64
		assumed int
		how     string
	}{
		{"Llama 3.2 1B Q4_K_M", Shape{Params: 1.23e9, Quant: "Q4_K_M", Layers: 16, KVHeads: 8, HeadDim: 64, Vocab: 128256}, 4096,
			691875000, 2 * 16 * 4096 * 8 * 64 * 2, 22<<20 + 200*128256, 0, "1.23B parameters × 4.5 bits (Q4_K, the base type of Q4_K_M) / 8"},
		{"Q8_0", Shape{Params: 1e9, Quant: "Q8_0", Layers: 1, KVHeads: 1, HeadDim: 1, Vocab: 1}, 1,
			1062500000, 4, 22<<20 + 200, 0, "1B parameters × 8.5 bits (Q8_0) / 8"},
		{"file size wins", Shape{Params: 1e9, WeightBytes: 12345, Quant: "Q8_0", Layers: 2, KVHeads: 2, HeadDim: 16, Vocab: 300}, 256,
			12345, 2 * 2 * 256 * 2 * 16 * 2, 22<<20 + 200*300, 0, "the file's size"},
		{"layers unknown", Shape{Params: 4e9, Quant: "F16", Vocab: 1000}, 1000,
			8e9, 1000 * 131072, 22<<20 + 200*1000, 1, "4B parameters × 16 bits (F16) / 8"},
		{"vocabulary unknown", Shape{Params: 1e9, Quant: "Q4_0", Layers: 1, KVHeads: 1, HeadDim: 2}, 10,
			562500000, 2 * 10 * 2 * 2, 22<<20 + 200*262144, 1, "1B parameters × 4.5 bits (Q4_0) / 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := EstimateRAM(tc.s, tc.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.Weights != tc.weights || r.KV != tc.kv || r.Overhead != tc.over || r.Total != tc.weights+tc.kv+tc.over || len(r.Assumed) != tc.assumed {
				t.Errorf("got %+v", r)
			}
			if r.WeightsHow != tc.how {
				t.Errorf("weights: %q, want %q", r.WeightsHow, tc.how)
			}
			f := r.Formula()
			if !strings.Contains(f, "KV cache") || !strings.HasSuffix(f, "= "+FormatBytes(r.Total)) {
				t.Errorf("formula %q", f)
			}
		})
	}
	for _, tc := range []struct {
		s    Shape
		ctx  int
		want string
	}{
		{Shape{Params: 1e9, Quant: "Q4_K_M"}, 0, "at least 1 token"},
		{Shape{Quant: "Q4_K_M"}, 10, "neither the size"},
		{Shape{Params: 1e9, Quant: "Q7"}, 10, "unknown quantization"},
	} {
		if _, err := EstimateRAM(tc.s, tc.ctx); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v ctx %d: %v, want %q", tc.s, tc.ctx, err, tc.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"8G", 8 << 30}, {"8g", 8 << 30}, {"8GB", 8 << 30}, {"8GiB", 8 << 30}, {"512M", 512 << 20}, {"1.5G", 3 << 29},
		{"100K", 100 << 10}, {"1T", 1 << 40}, {"1073741824", 1 << 30}, {" 2 G ", 2 << 30}, {"100B", 100},
	} {
		if got, err := ParseBytes(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "G", "-8G", "0", "8X", "1e9", "8.G.", "NaN", "99999999999T", "8 GB 2"} {
		if got, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) = %d, no error", bad, got)
		}
	}
	for _, tc := range []struct {
		n    int64
		want string
	}{{512, "512 B"}, {1536, "1.5 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.00 GiB"}} {
		if got := FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// testCatalog has one model of each kind the constraints tell apart.
func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	src := "https://huggingface.co/x/y"
	model := func(id string, params int64, arch, license, openness string, ctx int, tasks ...string) catalog.Model {
		m := catalog.Model{
			ID: id, Name: id, Repo: "org/" + id,
			Architecture:  &catalog.Fact[string]{Value: arch, Source: src},
			Params:        &catalog.Fact[int64]{Value: params, Source: src},
			ContextLength: &catalog.Fact[int]{Value: ctx, Source: src},
			Layers:        &catalog.Fact[int]{Value: 16, Source: src}, KVHeads: &catalog.Fact[int]{Value: 8, Source: src},
			HeadDim: &catalog.Fact[int]{Value: 64, Source: src}, Vocab: &catalog.Fact[int]{Value: 32000, Source: src},
			License:  &catalog.Fact[string]{Value: license, Source: src},
			Openness: &catalog.Fact[string]{Value: openness, Source: src},
			GGUF:     []catalog.GGUFRepo{{Repo: "gguf/" + id + "-GGUF", Source: "https://huggingface.co/gguf/" + id + "-GGUF"}},
		}
		for _, task := range tasks {
			m.Tasks = append(m.Tasks, catalog.Fact[string]{Value: task, Source: src + "/" + task})
		}
		return m
	}
	c := &catalog.Catalog{Version: catalog.Version, Models: []catalog.Model{
		model("coder-1b", 1e9, "qwen2", "apache-2.0", catalog.OpenWeights, 32768, "code", "chat"),
		model("coder-7b", 7e9, "qwen2", "apache-2.0", catalog.OpenWeights, 32768, "code", "chat"),
		model("chat-3b", 3e9, "llama", "llama3.2", catalog.OpenWeights, 131072, "chat", "fr"),
		model("open-1b", 1e9, "llama", "apache-2.0", catalog.OpenSource, 2048, "chat"),
		model("mistral-7b", 7e9, "mistral", "apache-2.0", catalog.OpenWeights, 32768, "chat"),
		model("gemma-2b", 2e9, "gemma2", "gemma", catalog.OpenWeights, 8192, "chat", "fr"),
	}}
	c.Models[5].GGUF = nil
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// testMachine processes 10 GB of weights per second.
func testMachine() Machine {
	return Machine{Bandwidth: 20e9, Throughput: func(string) (float64, error) { return 10e9, nil }}
}

func TestChoose(t *testing.T) {
	in := Input{Catalog: testCatalog(t), Machine: testMachine(), Architectures: []string{"llama", "qwen2", "qwen3"}}
	for _, tc := range []struct {
		name string
		c    Constraints
		in   []string          // candidates in, best first
		why  map[string]string // a failed check's explanation, by candidate: "constraint: text"
	}{
		{"no constraint: everything that runs and downloads, largest first", Constraints{},
			[]string{"coder-7b", "mistral-7b", "chat-3b", "coder-1b"},
			map[string]string{"gemma-2b": "runs: architecture gemma2: glassbox runs llama, qwen2, qwen3 only", "open-1b": "context: 4096 > the 2048 tokens it supports"}},
		{"code", Constraints{Task: "code"}, []string{"coder-7b", "coder-1b"},
			map[string]string{"chat-3b": "task: not listed as suiting code (its tasks: chat, fr)"}},
		{"code in 2 GiB", Constraints{Task: "code", MaxRAM: 2 << 30}, []string{"coder-1b"},
			map[string]string{"coder-7b": "ram: 3.82 GiB > 2.00 GiB"}},
		{"at 10 tokens/s", Constraints{MinTPS: 10}, []string{"coder-1b"},
			map[string]string{"coder-7b": "speed: estimated 2.5 < 10 tokens/s", "chat-3b": "speed: estimated 5.9 < 10 tokens/s"}},
		{"permissive", Constraints{Permissive: true}, []string{"coder-7b", "mistral-7b", "coder-1b"},
			map[string]string{"chat-3b": "license: llama3.2 (Llama 3.2 Community License Agreement) is not permissive"}},
		{"open source, short context", Constraints{OpenSource: true, Context: 2048}, []string{"open-1b"},
			map[string]string{"coder-1b": "open-source: open weights only"}},
		{"French", Constraints{Task: "fr"}, []string{"chat-3b"},
			map[string]string{"gemma-2b": "download: no GGUF repository known"}},
		{"long context", Constraints{Context: 65536}, []string{"chat-3b"},
			map[string]string{"coder-7b": "context: 65536 > the 32768 tokens it supports"}},
		{"nothing fits", Constraints{Task: "fr", Permissive: true}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cands, c, err := Choose(in, tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if c.Context == 0 || c.Quant == "" {
				t.Errorf("defaults not filled: %+v", c)
			}
			if len(cands) != len(in.Catalog.Models) {
				t.Fatalf("%d candidates, want every model", len(cands))
			}
			var got []string
			for i, cd := range cands {
				if cd.Rank != i+1 {
					t.Errorf("%s: rank %d at %d", cd.Name, cd.Rank, i)
				}
				if cd.Fits {
					got = append(got, cd.Name)
					if i >= len(tc.in) {
						t.Errorf("%s fits after one that does not", cd.Name)
					}
				}
				if cd.Fits != (len(cd.Failed()) == 0) {
					t.Errorf("%s: fits %v with failed %v", cd.Name, cd.Fits, cd.Failed())
				}
				for _, ch := range cd.Checks {
					if ch.Why == "" {
						t.Errorf("%s: check %s unexplained", cd.Name, ch.Constraint)
					}
				}
				if cd.Fits && !strings.HasPrefix(cd.Pull, "glassbox pull hf.co/gguf/"+cd.Name+"-GGUF:Q4_K_M") {
					t.Errorf("%s: pull %q", cd.Name, cd.Pull)
				}
				if want, ok := tc.why[cd.Name]; ok {
					found := false
					for _, ch := range cd.Checks {
						found = found || !ch.Pass && strings.HasPrefix(ch.Constraint+": "+ch.Why, want)
					}
					if !found {
						t.Errorf("%s: checks %+v, want a failure %q", cd.Name, cd.Checks, want)
					}
				}
			}
			if !slices.Equal(got, tc.in) {
				t.Errorf("in: %v, want %v", got, tc.in)
			}
		})
	}
	for _, bad := range []Constraints{{Task: "poetry"}, {Context: -1}, {MinTPS: -1}} {
		if _, _, err := Choose(in, bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestChooseLocal: a model of the store is matched to its catalog entry
// (license, openness, tasks), uses its measured speed and peak RSS, shows its
// measured quality, and replaces the catalog's estimate of the same quant.
func TestChooseLocal(t *testing.T) {
	cat := testCatalog(t)
	bench := eval.Record{Kind: eval.KindBench, Model: eval.ModelFile{Name: "hf.co/gguf/coder-1b-GGUF:Q4_K_M", Size: 600 << 20}}
	if err := bench.SetSpeed(eval.Speed{GenTPS: 3.5, GenTokens: 128, Threads: 2, PeakRSSBytes: 3 << 30}); err != nil {
		t.Fatal(err)
	}
	ppl := eval.Record{Kind: "perplexity", Results: map[string]any{"perplexity": 12.5}}
	local := Local{Name: "hf.co/gguf/coder-1b-GGUF:Q4_K_M", Path: "/models/coder.gguf", Arch: "qwen2", Quant: "Q4_K_M", Params: 1e9, FileBytes: 600 << 20,
		ContextLength: 32768, Layers: 16, KVHeads: 8, HeadDim: 64, Vocab: 32000, Records: []eval.Record{ppl, bench}}
	stranger := Local{Name: "/tmp/mine.gguf", Path: "/tmp/mine.gguf", Arch: "llama", Quant: "Q8_0", Params: 5e8, FileBytes: 530 << 20,
		ContextLength: 2048, Layers: 8, KVHeads: 4, HeadDim: 64, Vocab: 32000, License: "MIT"}
	in := Input{Catalog: cat, Local: []Local{local, stranger}, Machine: testMachine(), Architectures: []string{"llama", "qwen2"}}
	cands, _, err := Choose(in, Constraints{Task: "code", MaxRAM: 2 << 30, MinTPS: 3, Context: 2048, Permissive: true})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Candidate{}
	for _, c := range cands {
		if _, dup := byName[c.Name]; dup {
			t.Errorf("%s listed twice", c.Name)
		}
		byName[c.Name] = c
	}
	if _, ok := byName["coder-1b"]; ok {
		t.Error("the catalog's coder-1b is listed beside the same model on this machine")
	}
	lc, ok := byName[local.Name]
	if !ok {
		t.Fatal("the local model is not a candidate")
	}
	if lc.CatalogID != "coder-1b" || lc.License != "apache-2.0" || !slices.Contains(lc.Tasks, "code") || lc.Origin != "local" {
		t.Errorf("catalog facts not applied: %+v", lc)
	}
	if !lc.Speed.Measured || lc.Speed.TPS != 3.5 || lc.MeasuredRAM != 3<<30 || lc.Quality["perplexity"] != 12.5 {
		t.Errorf("measurements not used: %+v", lc)
	}
	if lc.Fits || !slices.Equal(lc.Failed(), []string{"ram"}) {
		t.Errorf("the measured 3 GiB peak should fail --max-ram 2G alone: %v", lc.Checks)
	}
	if lc.RAM.WeightsHow != "the file's size" || lc.RAM.Weights != 600<<20 {
		t.Errorf("local weights: %+v", lc.RAM)
	}
	sc := byName[stranger.Name]
	if sc.Speed.Measured || sc.Speed.TPS <= 0 || !strings.Contains(sc.Speed.How, "estimate") {
		t.Errorf("the unmeasured model's speed: %+v", sc.Speed)
	}
	wantWhy := map[string]string{"task": "not in the catalog: not known to suit code", "license": "mit (MIT License) is permissive", "runs": "architecture llama runs in glassbox"}
	for _, ch := range sc.Checks {
		if w, ok := wantWhy[ch.Constraint]; ok && ch.Why != w {
			t.Errorf("%s: %q, want %q", ch.Constraint, ch.Why, w)
		}
	}
	// another quant of the same model leaves the catalog estimate in
	cands, _, err = Choose(in, Constraints{Quant: "Q8_0"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cands {
		found = found || c.Name == "coder-1b"
	}
	if !found {
		t.Error("coder-1b at Q8_0 is not a candidate")
	}
}

func TestEstimateSpeed(t *testing.T) {
	m := Machine{Bandwidth: 20e9, Throughput: func(q string) (float64, error) {
		if q == "F16" {
			return 0, errors.New("not measured") // the bandwidth stands in
		}
		return 10e9, nil
	}}
	if s := m.EstimateSpeed(1e9, "Q4_K_M"); s.TPS != 10 || s.Measured || !strings.Contains(s.How, "Q4_K matrix-vector product") {
		t.Errorf("Q4_K_M: %+v", s)
	}
	if s := m.EstimateSpeed(1e9, "F16"); s.TPS != 20 || !strings.Contains(s.How, "memory bandwidth") {
		t.Errorf("F16: %+v", s)
	}
	m.Calibration, m.CalibrationRuns = 0.5, 3
	if s := m.EstimateSpeed(1e9, "Q4_K_M"); s.TPS != 5 || !strings.Contains(s.How, "× 0.50 (measured/estimated over 3 bench runs here)") {
		t.Errorf("calibrated: %+v", s)
	}
	if s := (&Machine{}).EstimateSpeed(1e9, "Q4_K_M"); s.TPS != 0 || !strings.Contains(s.How, "unknown") {
		t.Errorf("no measurement: %+v", s)
	}
}

func TestCalibrate(t *testing.T) {
	here := eval.Machine{CPU: "cpu", Cores: 2}
	rec := func(tps float64, m eval.Machine, endpoint string) eval.Record {
		r := eval.Record{Kind: eval.KindBench, Machine: m, Model: eval.ModelFile{Size: 1e9, Endpoint: endpoint}}
		if err := r.SetSpeed(eval.Speed{GenTPS: tps}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	tiny := rec(100, here, "")
	tiny.Model.Size = 1 << 20 // in the caches: not a calibration
	recs := []eval.Record{rec(4, here, ""), rec(6, here, ""), rec(100, eval.Machine{CPU: "other", Cores: 2}, ""), rec(100, here, "http://x"),
		rec(8, here, ""), {Kind: "perplexity", Machine: here}, tiny}
	f, n := Calibrate(recs, here, func(*eval.Record) float64 { return 10 })
	if n != 3 || f != 0.6 {
		t.Errorf("Calibrate = %v over %d, want the median 0.6 over 3", f, n)
	}
	if f, n := Calibrate(recs[:2], here, func(*eval.Record) float64 { return 10 }); n != 2 || f != 0.5 {
		t.Errorf("two records: %v over %d", f, n)
	}
	if f, n := Calibrate(nil, here, nil); f != 0 || n != 0 {
		t.Errorf("no records: %v, %d", f, n)
	}
}

// TestGather: a model file with records in the store's evals folder is a
// local candidate, its facts read from the file; a record of a file that has
// gone is not.
func TestGather(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.gguf")
	sm, err := bench.ParseSynthetic("tiny", "Q8_0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.Write(f, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := eval.NewRecord("perplexity", path, path)
	if err != nil {
		t.Fatal(err)
	}
	r.Results["perplexity"] = 300.0
	if _, err := eval.Save(root, r); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(dir, "gone.gguf")
	if err := os.WriteFile(gone, []byte("GGUF gone"), 0o644); err != nil {
		t.Fatal(err)
	}
	r2, err := eval.NewRecord("perplexity", gone, gone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eval.Save(root, r2); err != nil {
		t.Fatal(err)
	}
	os.Remove(gone)
	ls, err := Gather(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 {
		t.Fatalf("Gather: %d models, want 1: %+v", len(ls), ls)
	}
	l := ls[0]
	fi, _ := os.Stat(path)
	if l.Name != path || l.Path != path || l.Arch != "llama" || l.Layers != 2 || l.KVHeads != 2 || l.HeadDim != 16 || l.Vocab != 300 || l.FileBytes != fi.Size() || l.Quant == "" || len(l.Records) != 1 {
		t.Errorf("Gather: %+v", l)
	}
	if ls, err := Gather(filepath.Join(root, "absent")); err != nil || len(ls) != 0 {
		t.Errorf("a missing store: %v, %v", ls, err)
	}
}

// TestEstimateRAMKeys checks the KV cache of the estimate with quantized keys:
// Llama 3.2 1B's 16 layers × 8 KV heads × 64 at 4096 tokens hold 33.5M key
// elements, 34/32 bytes each in Q8_0 and 18/32 in Q4_0, beside F16 values.
func TestEstimateRAMKeys(t *testing.T) {
	s := Shape{Params: 1.23e9, Quant: "Q4_K_M", Layers: 16, KVHeads: 8, HeadDim: 64, Vocab: 128256}
	const elems = 16 * 4096 * 8 * 64
	for _, tc := range []struct {
		keys string
		kv   int64
	}{
		{"", 2 * elems * 2},
		{"f16", 2 * elems * 2},
		{"Q8_0", elems*34/32 + elems*2},
		{"q4_0", elems*18/32 + elems*2},
	} {
		r, err := EstimateRAMKeys(s, 4096, tc.keys)
		if err != nil {
			t.Fatal(err)
		}
		if r.KV != tc.kv || r.Total != r.Weights+r.KV+r.Overhead {
			t.Errorf("keys %q: KV %d (total %d), want %d", tc.keys, r.KV, r.Total, tc.kv)
		}
	}
	// unknown layers: the assumed per-token cache shrinks alike
	r, err := EstimateRAMKeys(Shape{Params: 4e9, Quant: "F16", Vocab: 1000}, 1000, "q8_0")
	if err != nil || r.KV != 1000*(AssumedKVBytesPerToken/2*34/64+AssumedKVBytesPerToken/2) {
		t.Errorf("assumed shape, Q8_0 keys: KV %d, %v", r.KV, err)
	}
	if _, err := EstimateRAMKeys(s, 4096, "q5_1"); err == nil || !strings.Contains(err.Error(), "want F16, Q8_0 or Q4_0") {
		t.Errorf("q5_1 keys: error %v", err)
	}
}

// TestEstimateRAMCache checks the KV cache of the estimate with quantized
// values (flash attention): the same 33.5M elements per half, each half at
// its type's bytes.
func TestEstimateRAMCache(t *testing.T) {
	s := Shape{Params: 1.23e9, Quant: "Q4_K_M", Layers: 16, KVHeads: 8, HeadDim: 64, Vocab: 128256}
	const elems = 16 * 4096 * 8 * 64
	for _, tc := range []struct {
		keys, values string
		kv           int64
	}{
		{"", "", 2 * elems * 2},
		{"q8_0", "", elems*34/32 + elems*2},
		{"", "Q8_0", elems*2 + elems*34/32},
		{"q8_0", "q8_0", 2 * (elems * 34 / 32)},
		{"q4_0", "q4_0", 2 * (elems * 18 / 32)},
		{"F16", "q4_0", elems*2 + elems*18/32},
	} {
		r, err := EstimateRAMCache(s, 4096, tc.keys, tc.values)
		if err != nil {
			t.Fatal(err)
		}
		if r.KV != tc.kv || r.Total != r.Weights+r.KV+r.Overhead {
			t.Errorf("keys %q values %q: KV %d (total %d), want %d", tc.keys, tc.values, r.KV, r.Total, tc.kv)
		}
	}
	if _, err := EstimateRAMCache(s, 4096, "", "q5_1"); err == nil || !strings.Contains(err.Error(), "value cache type") {
		t.Errorf("q5_1 values: error %v", err)
	}
}
