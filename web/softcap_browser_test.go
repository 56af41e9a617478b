package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"glassbox/internal/synth"
	"glassbox/server"
)

// pageStep is the part of a trace step the soft-capping views show, as the
// page received it.
type pageStep struct {
	Position   int `json:"position"`
	Prediction struct {
		Top    []pageCand `json:"top"`
		Chosen *pageCand  `json:"chosen"`
	} `json:"prediction"`
	Attention []struct {
		Layer          int       `json:"layer"`
		Head           int       `json:"head"`
		Window         int       `json:"window"`
		Scores         []float64 `json:"scores"`
		ScoresUncapped []float64 `json:"scores_uncapped"`
	} `json:"attention"`
}

type pageCand struct {
	Logit         float64  `json:"logit"`
	LogitUncapped *float64 `json:"logit_uncapped"`
}

// near tells whether a value shown with 3 decimals is v.
func near(shown string, v float64) bool {
	x, err := strconv.ParseFloat(shown, 64)
	return err == nil && math.Abs(x-v) <= 0.0006
}

// TestSoftcapInBrowser generates with a gemma2 model that soft-caps its
// attention scores (at 4) and final logits (at 3) and slides layer 0 over 4
// positions, opens the last token's dissection, and checks the page against
// the trace it received: every candidate's logit before and after capping
// (the one after being 3·tanh(before/3)), the chosen token's, the cap in
// the header; for layer 0 head 0, the scores before and after capping of
// the positions in the window (4·tanh(before/4)) and the positions before
// it marked as outside the window, in the table, the heatmap and the
// legend; for the global layer 1, no position outside.
func TestSoftcapInBrowser(t *testing.T) {
	var file bytes.Buffer
	if err := synth.WriteGemma2(&file); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gemma2.gguf")
	if err := os.WriteFile(path, file.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	m := openModel(t, path)
	hs := serve(t, nil, server.Model{Name: "gemma2", Model: m})
	step := browse(t, 1400, 1000, false)
	const last = 7
	err := chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="gemma2"]`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), strconv.Itoa(last+1)),
		chromedp.SendKeys(css(`#prompt`), "hello the cat"),
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(fmt.Sprintf(`.msg.assistant .tok[data-index="%d"]`, last))),
		chromedp.WaitNotPresent(css(`.streaming`)),
		chromedp.Click(css(fmt.Sprintf(`.msg.assistant .tok[data-index="%d"]`, last))),
		chromedp.WaitVisible(css(`#d-bars .bar-row`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := chromedp.Run(step, chromedp.Evaluate[string](fmt.Sprintf(`JSON.stringify(state.turns[0].steps[%d])`, last)))
	if err != nil {
		t.Fatal(err)
	}
	var s pageStep
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}

	// prediction: "logit A (before capping B)" for each candidate
	logits, err := chromedp.Run(step, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#d-bars .bar-row .logit')].map((e) => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != len(s.Prediction.Top) || len(logits) == 0 {
		t.Fatalf("%d candidates show their logits, the trace has %d", len(logits), len(s.Prediction.Top))
	}
	checkLogit := func(what, text string, c pageCand) {
		t.Helper()
		var a, b string
		if _, err := fmt.Sscanf(strings.TrimSuffix(text, ")"), "logit %s (before capping %s", &a, &b); err != nil || c.LogitUncapped == nil {
			t.Errorf("%s: %q (trace %+v): %v", what, text, c, err)
			return
		}
		u := *c.LogitUncapped
		if !near(a, c.Logit) || !near(b, u) || !near(a, 3*math.Tanh(u/3)) {
			t.Errorf("%s: shown %q, trace logit %g before capping %g (3·tanh = %g)", what, text, c.Logit, u, 3*math.Tanh(u/3))
		}
	}
	for i, text := range logits {
		checkLogit(fmt.Sprintf("candidate %d", i), text, s.Prediction.Top[i])
	}
	chosen, err := chromedp.Run(step, chromedp.Text(css(`#d-chosen`)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Prediction.Chosen == nil {
		t.Fatal("the trace has no prediction.chosen")
	}
	checkLogit("chosen", chosen[strings.Index(chosen, "logit"):], *s.Prediction.Chosen)
	bars, err := chromedp.Run(step, chromedp.Text(css(`#d-bars`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bars, "soft-capped at 3") {
		t.Errorf("the prediction header does not say the cap:\n%s", bars)
	}

	n := s.Position + 1
	if n <= 4 {
		t.Fatalf("the dissected token is at position %d, inside the window of 4: nothing to mark", s.Position)
	}
	for _, tc := range []struct {
		layer   int
		outside int // positions before the window
	}{
		{0, n - 4},
		{1, 0},
	} {
		var rec *struct {
			Layer          int       `json:"layer"`
			Head           int       `json:"head"`
			Window         int       `json:"window"`
			Scores         []float64 `json:"scores"`
			ScoresUncapped []float64 `json:"scores_uncapped"`
		}
		for i := range s.Attention {
			if s.Attention[i].Layer == tc.layer && s.Attention[i].Head == 0 {
				rec = &s.Attention[i]
			}
		}
		if rec == nil || len(rec.Scores) != n || len(rec.ScoresUncapped) != n {
			t.Fatalf("layer %d head 0: no scores of %d positions in the trace", tc.layer, n)
		}
		err := chromedp.Do(step,
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { for (const [id, v] of [['d-layer', '%d'], ['d-head', '0']]) {
				const s = document.getElementById(id); s.value = v; s.dispatchEvent(new Event('change')); } })()`, tc.layer)),
			chromedp.WaitVisible(css(`#d-scores`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			Pos     int      `json:"pos"`
			Outside bool     `json:"outside"`
			Cells   []string `json:"cells"`
		}
		rows, err := chromedp.Run(step, chromedp.Evaluate[[]row](`[...document.querySelectorAll('#d-scores tr[data-pos]')].map((r) => ({pos: Number(r.dataset.pos), outside: r.classList.contains('outside'), cells: [...r.cells].map((c) => c.textContent)}))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != n {
			t.Fatalf("layer %d: %d rows in the scores table, want %d", tc.layer, len(rows), n)
		}
		for _, r := range rows {
			if want := r.Pos < tc.outside; r.Outside != want {
				t.Errorf("layer %d position %d: outside %v, want %v", tc.layer, r.Pos, r.Outside, want)
				continue
			}
			if r.Outside {
				if len(r.Cells) != 3 || r.Cells[2] != "outside the sliding window of 4" {
					t.Errorf("layer %d position %d: %q", tc.layer, r.Pos, r.Cells)
				}
				continue
			}
			u, c := rec.ScoresUncapped[r.Pos], rec.Scores[r.Pos]
			if len(r.Cells) != 5 || !near(r.Cells[2], u) || !near(r.Cells[3], c) || !near(r.Cells[3], 4*math.Tanh(u/4)) {
				t.Errorf("layer %d position %d: shown %q, trace scores %g → %g (4·tanh = %g)", tc.layer, r.Pos, r.Cells, u, c, 4*math.Tanh(u/4))
			}
		}
		marked, err := chromedp.Run(step, chromedp.Evaluate[string](`document.getElementById('d-heatmap').dataset.outside`))
		if err != nil {
			t.Fatal(err)
		}
		legend, err := chromedp.Run(step, chromedp.Text(css(`#d-legend`)))
		if err != nil {
			t.Fatal(err)
		}
		if marked != strconv.Itoa(tc.outside) {
			t.Errorf("layer %d: the heatmap greys %q positions, want %d", tc.layer, marked, tc.outside)
		}
		if got := strings.Contains(legend, "outside the sliding window of 4"); got != (tc.outside > 0) {
			t.Errorf("layer %d: legend %q", tc.layer, legend)
		}
		if tc.layer == 0 {
			screenshot(t, step, "page-softcap.png")
		}
	}
}
