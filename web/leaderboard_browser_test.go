package web_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"glassbox/catalog"
	gbeval "glassbox/eval"
	"glassbox/internal/fixtures"
	"glassbox/server"
)

// boardStore saves the records of five models in a temporary store:
// perplexity and bench records for four local quantizations and a remote
// model, HumanEval for two of them, and a model evaluated but never
// benchmarked; it returns the store's folder.
func boardStore(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type model struct {
		name, sha, typ, endpoint string
		size, rss                int64
		ppl, tg, pp, ttft, pass  float64
		repo, generalName        string // what tells the catalog entry
	}
	ms := []model{
		{"qwen2.5-0.5b-q8_0.gguf", "a1", "Q8_0", "", 531 << 20, 690 << 20, 13.71, 38.2, 410, 1249, 0.22, "Qwen/Qwen2.5-0.5B-Instruct-GGUF", ""},
		{"qwen2.5-0.5b-q4_k_m.gguf", "a2", "Q4_K_M", "", 398 << 20, 560 << 20, 14.62, 55.9, 352, 1455, 0.18, "", "Qwen2.5 0.5B Instruct"},
		{"smollm2-360m-q8_0.gguf", "a3", "Q8_0", "", 386 << 20, 470 << 20, 17.9, 61.5, 590, 868, 0, "", "SmolLM2 360M Instruct"},
		{"llama-3.2-1b-q4_k_m.gguf", "a4", "Q4_K_M", "", 808 << 20, 1100 << 20, 11.2, 21.7, 160, 3200, 0, "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", ""},
		{"gpt-test", "", "", "http://127.0.0.1:9/v1", 0, 0, 0, 95.0, 0, 310, 0.61, "", ""},
	}
	save := func(r *gbeval.Record) {
		t.Helper()
		r.Date = day
		day = day.Add(time.Minute)
		if _, err := gbeval.Save(root, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		mf := gbeval.ModelFile{Name: m.name, SHA256: m.sha, Size: m.size, FileType: m.typ, Endpoint: m.endpoint, ContextLength: 32768, Repo: m.repo, GeneralName: m.generalName}
		if m.endpoint == "" {
			mf.License = "apache-2.0" // the files' general.license, which the catalog's replaces
		}
		if m.ppl > 0 {
			save(&gbeval.Record{Kind: "perplexity", Model: mf, Settings: map[string]any{"file": "wiki.test.raw", "ctx": 512},
				Results: map[string]any{"perplexity": m.ppl, "ctx": 512}})
		}
		if m.pass > 0 {
			save(&gbeval.Record{Kind: "humaneval", Model: mf, Settings: map[string]any{"file": "humaneval_go.jsonl.gz"},
				Results: map[string]any{"pass_at_1": m.pass}})
		}
		r := &gbeval.Record{Kind: gbeval.KindBench, Model: mf}
		if err := r.SetSpeed(gbeval.Speed{PromptTokens: 512, PromptTPS: m.pp, GenTPS: m.tg, TTFTMS: m.ttft, PeakRSSBytes: m.rss, Threads: 2}); err != nil {
			t.Fatal(err)
		}
		save(r)
	}
	save(&gbeval.Record{Kind: "perplexity", Model: gbeval.ModelFile{Name: "unbenched-f16.gguf", SHA256: "a5", Size: 1 << 30, License: "bsd-3-clause"},
		Settings: map[string]any{"file": "wiki.test.raw", "ctx": 512}, Results: map[string]any{"perplexity": 13.1, "ctx": 512}})
	return root
}

// newTestServer serves srv's handler on loopback until the test ends and
// returns its URL.
func newTestServer(t *testing.T, srv *server.Server) string {
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

// TestLeaderboardView drives the Leaderboard tab: the table lists every
// model of the store, a click on a column ranks them by it (again: worst
// first), the two plots have a point per model with both values, and the
// quality selector changes the plots' score.
func TestLeaderboardView(t *testing.T) {
	root := boardStore(t)
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	srv, err := server.New(server.Config{Models: []server.Model{{Name: "stories260K", Model: m}},
		Leaderboard: func() (*gbeval.Leaderboard, error) {
			recs, err := gbeval.List(root, "")
			if err != nil {
				return nil, err
			}
			cat, err := catalog.Load()
			if err != nil {
				return nil, err
			}
			return gbeval.NewLeaderboard(recs, gbeval.LeaderboardOptions{Catalog: cat}), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	hs := newTestServer(t, srv)
	step := browse(t, 1400, 1000, false)
	err = chromedp.Do(step,
		chromedp.Navigate(hs+"/"),
		chromedp.Click(css(`#tab-board`)),
		chromedp.WaitReady(css(`#view-board[data-loaded="true"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	column := func(col string) string {
		return eval[string](t, step, fmt.Sprintf(`(() => { const th = [...document.querySelectorAll('#lb-table th')];
			const i = th.findIndex((h) => h.dataset.col === %q);
			return [...document.querySelectorAll('#lb-table tbody tr')].map((r) => r.cells[i].textContent).join('|'); })()`, col))
	}
	// sorted by the most measured score at first: perplexity, lowest first
	if got, want := column("model"), "llama-3.2-1b-q4_k_m.gguf|unbenched-f16.gguf|qwen2.5-0.5b-q8_0.gguf|qwen2.5-0.5b-q4_k_m.gguf|smollm2-360m-q8_0.gguf|gpt-test"; got != want {
		t.Errorf("models by perplexity: %q, want %q", got, want)
	}
	if got, want := column("ppl wiki.test.raw ctx512"), "11.200|13.100|13.710|14.620|17.900|–"; got != want {
		t.Errorf("perplexity column %q, want %q", got, want)
	}
	// license and openness: the catalog's for the models it lists (found by
	// repository, store name or GGUF general.name), the file's license otherwise
	if got, want := column("license"), "llama3.2|bsd-3-clause|apache-2.0|apache-2.0|apache-2.0|–"; got != want {
		t.Errorf("license column %q, want %q", got, want)
	}
	if got, want := column("openness"), "open-weights|–|open-weights|open-weights|open-source|–"; got != want {
		t.Errorf("openness column %q, want %q", got, want)
	}
	licenseTitles := eval[string](t, step, `(() => { const th = [...document.querySelectorAll('#lb-table th')];
		const i = th.findIndex((h) => h.dataset.col === 'license');
		return [...document.querySelectorAll('#lb-table tbody tr')].map((r) => r.cells[i].title).join('|'); })()`)
	if want := "source: https://huggingface.co/meta-llama/Llama-3.2-1B-Instruct (catalog entry llama-3.2-1b-instruct, recognised by its repository)|source: GGUF general.license|"; !strings.HasPrefix(licenseTitles, want) {
		t.Errorf("license sources %q, want them to start with %q", licenseTitles, want)
	}
	if got := column("source"); !strings.HasSuffix(got, "|http://127.0.0.1:9/v1") || !strings.HasPrefix(got, "local|") {
		t.Errorf("source column %q", got)
	}
	headers := eval[string](t, step, `[...document.querySelectorAll('#lb-table th')].map((h) => h.textContent).join('|')`)
	for _, h := range []string{"pass@1 humaneval_go.jsonl.gz ↑", "tg t/s ↑", "TTFT ↓", "peak RAM ↓", "size ↓", "ctx ↑", "license", "openness"} {
		if !strings.Contains(headers, h) {
			t.Errorf("headers %q lack %q", headers, h)
		}
	}
	// a click on tg t/s ranks by generation speed, fastest first; a second, slowest first
	err = chromedp.Do(step, chromedp.Click(css(`#lb-table th[data-col="tg"]`)), chromedp.WaitReady(css(`#lb-table[data-sort="tg"][data-reverse="false"]`)))
	if err != nil {
		failed(t, step, err)
	}
	if got, want := column("tg"), "95.0|61.5|55.9|38.2|21.7|–"; got != want {
		t.Errorf("tg after a click: %q, want %q", got, want)
	}
	err = chromedp.Do(step, chromedp.Click(css(`#lb-table th[data-col="tg"]`)), chromedp.WaitReady(css(`#lb-table[data-sort="tg"][data-reverse="true"]`)))
	if err != nil {
		failed(t, step, err)
	}
	if got, want := column("tg"), "21.7|38.2|55.9|61.5|95.0|–"; got != want {
		t.Errorf("tg after a second click: %q, want %q", got, want)
	}
	err = chromedp.Do(step, chromedp.Click(css(`#lb-table th[data-col="ram"]`)), chromedp.WaitReady(css(`#lb-table[data-sort="ram"]`)))
	if err != nil {
		failed(t, step, err)
	}
	if got, want := column("ram"), "470.0 MiB|560.0 MiB|690.0 MiB|1.07 GiB|–|–"; got != want {
		t.Errorf("peak RAM, least first: %q, want %q", got, want)
	}
	// perplexity plots: the four benchmarked local models (the remote one has
	// no perplexity, the unbenched one no speed); RAM: the same four
	points := func(id string) string {
		return eval[string](t, step, fmt.Sprintf(`(() => { const b = document.getElementById(%q);
			return b.dataset.points + ':' + b.querySelectorAll('circle.lb-pt').length; })()`, id))
	}
	if got := points("lb-speed"); got != "4:4" {
		t.Errorf("speed plot points %s, want 4:4", got)
	}
	if got := points("lb-ram"); got != "4:4" {
		t.Errorf("RAM plot points %s, want 4:4", got)
	}
	if note := eval[string](t, step, `document.getElementById('lb-speed-note').textContent`); !strings.Contains(note, "1 model with this score but no") {
		t.Errorf("speed plot note %q", note)
	}
	// the points sit where their values say: faster is further right, lower perplexity higher up
	pos := eval[string](t, step, `[...document.querySelectorAll('#lb-speed circle.lb-pt')].map((c) => c.dataset.model + '@' + Math.round(c.getAttribute('cx')) + ',' + Math.round(c.getAttribute('cy'))).join('|')`)
	xy := map[string][2]int{}
	for _, p := range strings.Split(pos, "|") {
		var x, y int
		name, at, _ := strings.Cut(p, "@")
		fmt.Sscanf(at, "%d,%d", &x, &y)
		xy[name] = [2]int{x, y}
	}
	if a, b := xy["smollm2-360m-q8_0.gguf"], xy["llama-3.2-1b-q4_k_m.gguf"]; !(a[0] > b[0] && a[1] > b[1]) {
		t.Errorf("smollm2 (faster, worse perplexity) at %v, llama (slower, better) at %v: %s", a, b, pos)
	}
	screenshot(t, step, "page-leaderboard.png")
	// HumanEval in the plots: the two qwen and the remote model (no RAM figure for it)
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#lb-quality`), "pass@1 humaneval_go.jsonl.gz"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('lb-quality').dispatchEvent(new Event('change'))`),
		chromedp.WaitReady(css(`#lb-speed[data-points="3"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	if got := points("lb-ram"); got != "2:2" {
		t.Errorf("RAM plot of pass@1: %s points, want 2 (the endpoint's RAM is not known)", got)
	}
	if got := eval[string](t, step, `document.getElementById('lb-speed').dataset.models`); got != "qwen2.5-0.5b-q8_0.gguf\nqwen2.5-0.5b-q4_k_m.gguf\ngpt-test" {
		t.Errorf("pass@1 speed plot models %q", got)
	}
	screenshot(t, step, "page-leaderboard-humaneval.png")
}

// TestLeaderboardViewEmpty checks the tab of a store without records.
func TestLeaderboardViewEmpty(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	srv, err := server.New(server.Config{Models: []server.Model{{Name: "stories260K", Model: m}},
		Leaderboard: func() (*gbeval.Leaderboard, error) {
			return gbeval.NewLeaderboard(nil, gbeval.LeaderboardOptions{}), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	hs := newTestServer(t, srv)
	step := browse(t, 1000, 700, false)
	err = chromedp.Do(step,
		chromedp.Navigate(hs+"/"),
		chromedp.Click(css(`#tab-board`)),
		chromedp.WaitReady(css(`#view-board[data-loaded="true"]`)),
		chromedp.WaitVisible(css(`#lb-empty`)),
	)
	if err != nil {
		failed(t, step, err)
	}
}
