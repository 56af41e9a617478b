package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/server"
)

// TestGrammarInDissection: with a grammar typed in the settings, the page
// sends it, the reply follows it, and a token's dissection lists the
// candidates the grammar removed, with the engine's probabilities before it.
func TestGrammarInDissection(t *testing.T) {
	const grammar = `root ::= " " [0-9]{3}`
	path := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	// the same generation through the library, traced, for the expected record
	ref := openModel(t, path)
	var steps []*glassbox.TraceStep
	res, err := ref.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{
		MaxTokens: 8, Sampler: glassbox.SamplerParams{}, Grammar: grammar,
		Trace: &glassbox.Tracing{Options: glassbox.TraceOptions{Top: 5}, Emit: func(ev glassbox.TraceEvent) error {
			if ev.Step != nil {
				steps = append(steps, ev.Step)
			}
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	g := steps[0].Sampling.Grammar
	if g == nil || len(g.Removed) == 0 {
		t.Fatalf("the reference removed nothing at the first step (%+v): the test proves nothing", g)
	}

	hs := serve(t, nil, server.Model{Name: "stories260K", Model: openModel(t, path)})
	step := browse(t, 1400, 1000, false)
	err = chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="stories260K"]`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), "8"),
		chromedp.SetValue(css(`#grammar`), grammar),
		chromedp.SendKeys(css(`#prompt`), "Once upon a time"),
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(`.msg.assistant .tok[data-index="0"]`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	reply, err := chromedp.Run(step, chromedp.Text(css(`.msg.assistant .body`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(reply) != strings.TrimSpace(res.Text) {
		t.Errorf("page reply %q, the library's %q", reply, res.Text)
	}
	if err := chromedp.Do(step, chromedp.Click(css(`.msg.assistant .tok[data-index="0"]`)), chromedp.WaitVisible(css(`#d-grammar`))); err != nil {
		failed(t, step, err)
	}
	shown, err := chromedp.Run(step, chromedp.Text(css(`#d-grammar`)))
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, c := range g.Removed {
		parts = append(parts, visible(c.Text)+" "+fmt.Sprintf("%.1f%%", c.Prob*100))
	}
	for _, want := range []string{fmt.Sprintf("%d checked", g.Checked), strings.Join(parts, " · ")} {
		if !strings.Contains(shown, want) {
			t.Errorf("the grammar record shows %q, want it to contain %q", shown, want)
		}
	}
	// the sampler section, where the record is (the dissection panel scrolls)
	eval[bool](t, step, `(document.getElementById('d-grammar').scrollIntoView({ block: 'center' }), true)`)
	png, err := chromedp.Run(step, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifactDir(t), "page-grammar.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// visible is the page's way of showing a token's text.
func visible(s string) string {
	s = strings.NewReplacer("\n", "⏎", "\t", "⇥", " ", "␣").Replace(s)
	if s == "" {
		return "∅"
	}
	return s
}
