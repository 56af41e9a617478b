package eval

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glassbox/catalog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// boardRecords are the records of three local models and a remote one:
// perplexity on two contexts, a later perplexity run replacing an earlier
// one, HumanEval, multiple choice, and bench runs.
func boardRecords() []Record {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	mach := Machine{OS: "linux", Arch: "amd64", CPU: "Test CPU", Cores: 2}
	q4 := ModelFile{Name: "/models/tiny-Q4_K_M.gguf", SHA256: "aaa", Size: 1 << 20, Arch: "llama", FileType: "Q4_K_M", Params: 260000, ContextLength: 512, License: "mit"}
	f16 := ModelFile{Name: "test/tiny:F16", SHA256: "bbb", Size: 4 << 20, Arch: "llama", FileType: "F16", Params: 260000, ContextLength: 512, Repo: "test/Tiny-Chat-GGUF"}
	q8 := ModelFile{Name: "tiny-Q8_0.gguf", SHA256: "ccc", Size: 2 << 20, FileType: "Q8_0", GeneralName: "Tiny Open", License: "other"}
	remote := ModelFile{Name: "qwen", Endpoint: "http://127.0.0.1:8080/v1"}
	ppl := func(m ModelFile, d int, ctx int, v float64) Record {
		return Record{ID: "p", Kind: "perplexity", Date: day(d), Model: m, Machine: mach,
			Settings: map[string]any{"file": "/data/shakespeare.txt", "ctx": float64(ctx), "chunks": 0.0},
			Results:  map[string]any{"perplexity": v, "ctx": float64(ctx)}}
	}
	bench := func(m ModelFile, d int, pp, tg, ttft float64, rss int64) Record {
		r := Record{ID: "b", Kind: KindBench, Date: day(d), Model: m, Machine: mach}
		if err := r.SetSpeed(Speed{PromptTokens: 512, PromptTPS: pp, GenTPS: tg, TTFTMS: ttft, PeakRSSBytes: rss, Threads: 2}); err != nil {
			panic(err)
		}
		return r
	}
	he := Record{ID: "h", Kind: "humaneval", Date: day(5), Model: remote, Machine: mach,
		Settings: map[string]any{"file": "humaneval_go.jsonl.gz", "limit": 0.0}, Results: map[string]any{"pass_at_1": 0.25}}
	heLimited := Record{ID: "h2", Kind: "humaneval", Date: day(6), Model: q4, Machine: mach,
		Settings: map[string]any{"file": "humaneval_go.jsonl.gz", "limit": 10.0}, Results: map[string]any{"pass_at_1": 0.1}}
	choice := Record{ID: "c", Kind: "choice", Date: day(7), Model: f16, Machine: mach,
		Settings: map[string]any{"file": "/x/arc-fr.jsonl"}, Results: map[string]any{"acc": 0.5, "acc_norm": 0.625}}
	return []Record{
		ppl(q4, 1, 128, 99.5), ppl(q4, 2, 128, 98.25), ppl(q4, 2, 256, 80),
		ppl(f16, 3, 128, 97.05), ppl(q8, 3, 128, 97.1),
		bench(q4, 4, 900, 150, 568.9, 30<<20), bench(f16, 4, 400, 60, 1280, 40<<20), bench(q4, 8, 1000, 160, 512, 31<<20),
		bench(remote, 4, 50, 25, 320, 0),
		he, heLimited, choice,
	}
}

// testCatalog lists two of the test's models: F16 by its repository, Q8_0
// by its GGUF general.name; Q4_K_M's file name (tiny) names neither.
func testCatalog() *catalog.Catalog {
	fact := func(v, src string) *catalog.Fact[string] { return &catalog.Fact[string]{Value: v, Source: src} }
	return &catalog.Catalog{Version: catalog.Version, Models: []catalog.Model{
		{ID: "tiny-chat", Name: "Tiny Chat", Repo: "test/Tiny-Chat", GGUF: []catalog.GGUFRepo{{Repo: "test/Tiny-Chat-GGUF"}},
			License: fact("apache-2.0", "https://example.org/card"), Openness: fact(catalog.OpenWeights, "https://example.org/card")},
		{ID: "tiny-open", Name: "Tiny Open", Repo: "test/Tiny-Open",
			License: fact("mit", "https://example.org/open"), Openness: fact(catalog.OpenSource, "https://example.org/paper")},
	}}
}

func TestLeaderboard(t *testing.T) {
	lb := NewLeaderboard(boardRecords(), LeaderboardOptions{Catalog: testCatalog()})
	if len(lb.Rows) != 4 {
		t.Fatalf("%d rows, want 4: %+v", len(lb.Rows), lb.Rows)
	}
	var keys []string
	for _, c := range lb.Scores {
		keys = append(keys, c.Key)
	}
	wantKeys := []string{"ppl shakespeare.txt ctx128", "acc arc-fr.jsonl", "acc_norm arc-fr.jsonl", "pass@1 humaneval_go.jsonl.gz",
		"pass@1 humaneval_go.jsonl.gz limit10", "ppl shakespeare.txt ctx256"}
	if strings.Join(keys, "|") != strings.Join(wantKeys, "|") {
		t.Errorf("score columns %q, want %q", keys, wantKeys)
	}
	q4 := lb.Rows[0]
	if q4.Model != "tiny-Q4_K_M.gguf" || q4.Source != SourceLocal || q4.Scores["ppl shakespeare.txt ctx128"] != 98.25 || // the later run
		q4.GenTPS != 160 || q4.PromptTPS != 1000 || q4.TTFTMS != 512 || q4.PeakRSSBytes != 31<<20 || q4.License != "mit" ||
		q4.Records != 6 || q4.ContextLength != 512 || q4.SizeBytes != 1<<20 || q4.CPU != "Test CPU" {
		t.Errorf("Q4 row %+v", q4)
	}
	if f16 := lb.Rows[1]; f16.Model != "test/tiny:F16" || f16.Openness != catalog.OpenWeights || f16.License != "apache-2.0" ||
		f16.FactSource != "https://example.org/card" || f16.CatalogID != "tiny-chat" || f16.CatalogMatch != catalog.MatchRepo || f16.Scores["acc arc-fr.jsonl"] != 0.5 {
		t.Errorf("F16 row %+v", f16)
	}
	if q4 := lb.Rows[0]; q4.FactSource != FactGGUF || q4.Openness != "" || q4.CatalogID != "" {
		t.Errorf("Q4 row: license from %q, openness %q, catalog %q; want the GGUF license only", q4.FactSource, q4.Openness, q4.CatalogID)
	}
	// the catalog's license wins over the file's
	if q8 := lb.Rows[2]; q8.License != "mit" || q8.Openness != catalog.OpenSource || q8.CatalogMatch != catalog.MatchGeneral || q8.FactSource != "https://example.org/open" {
		t.Errorf("Q8 row %+v", q8)
	}
	if r := lb.Rows[3]; r.Source != "http://127.0.0.1:8080/v1" || r.Model != "qwen" || r.Scores["pass@1 humaneval_go.jsonl.gz"] != 0.25 || r.GenTPS != 25 {
		t.Errorf("remote row %+v", r)
	}
	order := func() string {
		var names []string
		for _, r := range lb.Rows {
			names = append(names, r.Model)
		}
		return strings.Join(names, ",")
	}
	for _, tt := range []struct {
		column  string
		reverse bool
		want    string
	}{
		{"tg", false, "tiny-Q4_K_M.gguf,test/tiny:F16,qwen,tiny-Q8_0.gguf"},
		{"tg", true, "qwen,test/tiny:F16,tiny-Q4_K_M.gguf,tiny-Q8_0.gguf"}, // unmeasured still last
		{"ppl shakespeare.txt ctx128", false, "test/tiny:F16,tiny-Q8_0.gguf,tiny-Q4_K_M.gguf,qwen"},
		{"ppl shakespeare.txt ctx1", false, "test/tiny:F16,tiny-Q8_0.gguf,tiny-Q4_K_M.gguf,qwen"}, // a unique prefix
		{"ram", false, "tiny-Q4_K_M.gguf,test/tiny:F16,tiny-Q8_0.gguf,qwen"},
		{"ttft", false, "qwen,tiny-Q4_K_M.gguf,test/tiny:F16,tiny-Q8_0.gguf"},
		{"model", false, "qwen,test/tiny:F16,tiny-Q4_K_M.gguf,tiny-Q8_0.gguf"},
		{"size", false, "tiny-Q4_K_M.gguf,tiny-Q8_0.gguf,test/tiny:F16,qwen"},
		{"acc arc-fr.jsonl", false, "test/tiny:F16,tiny-Q4_K_M.gguf,tiny-Q8_0.gguf,qwen"},
	} {
		if err := lb.Sort(tt.column, tt.reverse); err != nil {
			t.Fatalf("Sort(%q): %v", tt.column, err)
		}
		if got := order(); got != tt.want && !(tt.column == "acc arc-fr.jsonl" && strings.HasPrefix(got, "test/tiny:F16,")) {
			t.Errorf("Sort(%q, %v) = %s, want %s", tt.column, tt.reverse, got, tt.want)
		}
	}
	for _, bad := range []string{"speed", "ppl", "pass@1"} {
		err := lb.Sort(bad, false)
		if err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("Sort(%q): %v, want an error listing the columns", bad, err)
		}
	}
	if err := lb.Sort("tg", false); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := lb.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "leaderboard.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
	// the JSON glassbox leaderboard --json prints and the page reads
	js, err := json.MarshalIndent(lb, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	golden = filepath.Join("testdata", "leaderboard.json.golden")
	if *update {
		if err := os.WriteFile(golden, js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err = os.ReadFile(golden); err != nil {
		t.Fatal(err)
	}
	if string(js) != string(want) {
		t.Errorf("JSON:\n%s\nwant:\n%s", js, want)
	}
}

func TestLeaderboardEmpty(t *testing.T) {
	lb := NewLeaderboard(nil, LeaderboardOptions{})
	if len(lb.Rows) != 0 || len(lb.Scores) != 0 {
		t.Fatalf("%+v", lb)
	}
	if err := lb.Sort("tg", false); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := lb.WriteTable(&buf); err != nil || !strings.HasPrefix(buf.String(), "model") {
		t.Fatalf("%q %v", buf.String(), err)
	}
}

// FuzzLeaderboard builds, sorts and prints the leaderboard of any records a
// store may hold: nothing panics, every row keeps its scores in a column.
func FuzzLeaderboard(f *testing.F) {
	for _, r := range boardRecords() {
		b, _ := json.Marshal(r)
		f.Add(b, "tg")
	}
	f.Add([]byte(`{"kind":"perplexity","settings":{"file":7,"limit":-3,"chunks":1e300},"results":{"perplexity":"x","ctx":1e300}}`), "ppl")
	f.Add([]byte(`{"kind":"bench","results":{"rows":5,"pp_tokens_per_s":-1}}`), "ram")
	f.Fuzz(func(t *testing.T, data []byte, column string) {
		var r Record
		if json.Unmarshal(data, &r) != nil {
			return
		}
		recs := append(boardRecords(), r, r)
		lb := NewLeaderboard(recs, LeaderboardOptions{Catalog: testCatalog()})
		keys := map[string]bool{}
		for _, c := range lb.Scores {
			keys[c.Key] = true
		}
		for _, row := range lb.Rows {
			for k := range row.Scores {
				if !keys[k] {
					t.Fatalf("row %q has a score %q without a column", row.Model, k)
				}
			}
		}
		_ = lb.Sort(column, len(column)%2 == 0)
		if err := lb.WriteTable(io.Discard); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(lb); err != nil {
			t.Fatal(err)
		}
	})
}
