package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"glassbox/internal/synth"
	"glassbox/server"
	"glassbox/tensor"
)

// TestExpertsInBrowser chats with a small random mixture of experts
// (qwen3moe) and opens a token's dissection: the Experts section lists the
// router's picks for every layer, with their weights; for a dense model
// (TestPageInBrowser's) the section stays hidden.
func TestExpertsInBrowser(t *testing.T) {
	s, err := synth.ParseShape("tinymoe")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tinymoe.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.Write(f, s, tensor.Q8_0, 3); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m := openModel(t, path)
	hs := serve(t, nil, server.Model{Name: "tinymoe", Model: m})
	step := browse(t, 1400, 1000, false)
	err = chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="tinymoe"]`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), "4"),
		chromedp.SendKeys(css(`#prompt`), "hello"),
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(`.msg.assistant .tok[data-index="3"]`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
		chromedp.Click(css(`.msg.assistant .tok[data-index="1"]`)),
		chromedp.WaitVisible(css(`#d-experts-section`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelectorAll('#d-experts tr').length - 1`))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelectorAll('#d-experts td.expert').length`))
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(step, chromedp.Text(css(`#d-experts`)))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, step, "page-experts.png")
	if rows != s.Layers || cells != s.Layers*s.ExpertsUsed {
		t.Errorf("experts table: %d layer rows (want %d), %d expert cells (want %d)", rows, s.Layers, cells, s.Layers*s.ExpertsUsed)
	}
	for _, want := range []string{"L0", "L1", "#", "entropy"} {
		if !strings.Contains(text, want) {
			t.Errorf("experts table lacks %q:\n%s", want, text)
		}
	}
}
