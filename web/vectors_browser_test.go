package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"glassbox/internal/fixtures"
	"glassbox/server"
	"glassbox/vectors"
)

// TestVectorsView drives the page's vectors view: a word's neighbours (from
// a word-vector set whose answers are known) listed with their cosines and
// drawn on the projection, an analogy, a model's token embeddings, and the
// view at a phone's width.
func TestVectorsView(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	// roi's neighbours: homme (0.7071), reine (0.5), femme (0), été (−0.7071);
	// homme is to roi as femme is to reine
	fr, err := vectors.New([]string{"roi", "reine", "homme", "femme", "été"}, 3,
		[]float32{1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, -1})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Models: []server.Model{{Name: "stories260K", Model: m}}, Vectors: []server.VectorSet{{Name: "fr", Vectors: fr}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	step := browse(t, 1280, 900, false)
	painted := `(() => { const c = document.getElementById('v-canvas');
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()`
	results := `[...document.querySelectorAll('#v-results tr')].slice(1).map((r) => r.cells[1].textContent + ' ' + r.cells[2].querySelector('.val').textContent).join('|')`
	err = chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.Click(css(`#tab-vectors`)),
		chromedp.WaitReady(css(`#v-source option[value="1"]`)),
		chromedp.SendKeys(css(`#v-word`), "roi"),
		chromedp.Click(css(`#v-similar`)),
		chromedp.WaitVisible(css(`#v-results td.word`)),
		chromedp.WaitReady(css(`#v-canvas[data-points="5"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	if got, want := eval[string](t, step, results), "homme 0.7071|reine 0.5000|femme 0.0000|été -0.7071"; got != want {
		t.Errorf("neighbours of roi: %q, want %q", got, want)
	}
	if got := eval[string](t, step, `document.getElementById('v-canvas').dataset.words`); got != "roi\nhomme\nreine\nfemme\nété" {
		t.Errorf("projected words %q", got)
	}
	if n := eval[int](t, step, painted); n < 500 {
		t.Errorf("the projection has %d painted pixels: not drawn", n)
	}
	if axes := eval[string](t, step, `document.getElementById('v-plot-axes').textContent`); !strings.Contains(axes, "PC1 holds") {
		t.Errorf("axes note %q", axes)
	}
	screenshot(t, step, "page-vectors.png")
	// the same words laid out by t-SNE
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#v-proj`), "tsne"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('v-proj').dispatchEvent(new Event('change'))`),
		chromedp.WaitReady(css(`#v-canvas[data-method="tsne"][data-points="5"]`)),
		chromedp.SetValue(css(`#v-proj`), "pca"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('v-proj').dispatchEvent(new Event('change'))`),
		chromedp.WaitReady(css(`#v-canvas[data-method="pca"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}

	// an analogy: homme is to roi as femme is to reine
	err = chromedp.Do(step,
		chromedp.SendKeys(css(`#v-a`), "homme"),
		chromedp.SendKeys(css(`#v-b`), "roi"),
		chromedp.SendKeys(css(`#v-c`), "femme"),
		chromedp.Click(css(`#v-analogy`)),
		// the projection of the analogy's words: a, b, c, then the answers
		chromedp.Poll[chromedp.Void](`document.getElementById('v-canvas').dataset.words === 'homme\nroi\nfemme\nreine\nété'`),
	)
	if err != nil {
		failed(t, step, err)
	}
	if got := eval[string](t, step, results); !strings.HasPrefix(got, "reine ") {
		t.Errorf("homme : roi :: femme : ? answered %q, want reine first", got)
	}
	if got := eval[string](t, step, `document.getElementById('v-results-title').textContent`); got != "homme is to roi as femme is to ?" {
		t.Errorf("analogy title %q", got)
	}
	// an unknown word: the server's message, shown
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#v-word`), "reina"),
		chromedp.Click(css(`#v-similar`)),
		chromedp.WaitVisible(css(`#v-error`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	if msg := eval[string](t, step, `document.getElementById('v-error').textContent`); !strings.Contains(msg, `"reina" is not in the vocabulary of fr`) {
		t.Errorf("error shown: %q", msg)
	}

	// the model's token embeddings, at a phone's width; "she" is the token "▁she"
	if err := chromedp.Do(step, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)); err != nil {
		t.Fatal(err)
	}
	eval[bool](t, step, `(() => { const s = document.getElementById('v-source'); s.value = '1'; s.dispatchEvent(new Event('change')); return true; })()`)
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#v-word`), "she"),
		chromedp.SetValue(css(`#v-n`), "8"),
		chromedp.Click(css(`#v-similar`)),
		chromedp.WaitReady(css(`#v-canvas[data-points="9"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	if got := eval[string](t, step, `document.getElementById('v-results-title').textContent`); got != "Nearest to “▁she” in stories260K" {
		t.Errorf("title %q", got)
	}
	if info := eval[string](t, step, `document.getElementById('v-source-info').textContent`); !strings.Contains(info, "512 tokens of dimension 64") {
		t.Errorf("source info %q", info)
	}
	if w := eval[int](t, step, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the vectors view is %d px wide on a 390 px screen", w)
	}
	if cw := eval[int](t, step, `document.getElementById('v-canvas').getBoundingClientRect().width`); cw > 390 || cw < 250 {
		t.Errorf("the projection is %d px wide on a 390 px screen", cw)
	}
	if n := eval[int](t, step, painted); n < 500 {
		t.Errorf("the phone projection has %d painted pixels", n)
	}
	screenshot(t, step, "page-phone-vectors.png")
}
