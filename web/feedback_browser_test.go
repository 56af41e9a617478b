package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"glassbox"
	gbeval "glassbox/eval"
	"glassbox/feedback"
	"glassbox/internal/fixtures"
	"glassbox/server"
)

// setSelect chooses value in the select sel and tells the page.
func setSelect(t *testing.T, ctx context.Context, sel, value string) {
	t.Helper()
	eval[bool](t, ctx, `(() => { const s = document.querySelector(`+strconv.Quote(sel)+`); s.value = `+strconv.Quote(value)+`;
		s.dispatchEvent(new Event('change')); return s.value === `+strconv.Quote(value)+`; })()`)
}

// TestFeedbackInBrowser clicks a thumbs up under a chat reply and picks B
// in an A/B comparison, then finds both judgements in the feedback file,
// with the prompt, the replies, the model and the sampling settings.
func TestFeedbackInBrowser(t *testing.T) {
	log, err := feedback.Open(filepath.Join(t.TempDir(), "feedback.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	stories := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	srv, err := server.New(server.Config{Models: []server.Model{{Name: "chat", Model: chatModel(t)}, {Name: "stories", Model: stories}},
		Feedback: log, Parallel: 1, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	step := browse(t, 1280, 900, false)

	// thumbs up on a chat reply
	err = chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="stories"]`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), "8"),
		chromedp.SendKeys(css(`#prompt`), "Once upon a time"),
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(`.msg.assistant .fb-up`)),
		chromedp.Click(css(`.msg.assistant .fb-up`)),
		chromedp.WaitReady(css(`.msg.assistant .fb-status[data-id]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	reply := eval[string](t, step, `document.querySelector('.msg.assistant .body').textContent`)
	recs, bad, err := log.Read()
	if err != nil || len(bad) != 0 || len(recs) != 1 {
		t.Fatalf("after the thumbs: %d records, bad %v, %v", len(recs), bad, err)
	}
	th := recs[0]
	wantPrompt := feedback.Content{Messages: []feedback.Message{{Role: "user", Content: "Once upon a time"}}}
	if th.Kind != feedback.KindThumbs || th.Label == nil || !*th.Label || !th.Prompt.Equal(wantPrompt) || th.Model != "chat" || th.Source != "web" {
		t.Errorf("thumbs record %+v", th)
	}
	if th.Completion == nil || len(th.Completion.Messages) != 1 || th.Completion.Messages[0].Role != "assistant" || th.Completion.Messages[0].Content != strings.TrimSpace(reply) || reply == "" {
		t.Errorf("completion %+v, the page shows %q", th.Completion, reply)
	}
	if s := th.Sampling; s == nil || s.Temperature != 0 || s.MaxTokens != 8 || s.Seed == nil || *s.Seed != 42 {
		t.Errorf("sampling %+v", th.Sampling)
	}
	if id := eval[string](t, step, `document.querySelector('.fb-status').dataset.id`); id != th.ID {
		t.Errorf("the page says record %q, the file has %q", id, th.ID)
	}

	// an A/B comparison on the model without a template: B is better
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#temperature`), "1"),
		chromedp.Click(css(`#tab-compare`)),
		chromedp.WaitReady(css(`#ab-model option[value="stories"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	setSelect(t, step, "#ab-model", "stories")
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#ab-seed`), "5"),
		chromedp.SendKeys(css(`#ab-prompt`), "Once upon a time"),
		chromedp.Click(css(`#ab-generate`)),
		chromedp.WaitVisible(css(`#ab-pick-b`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	a, b := eval[string](t, step, `document.getElementById('ab-a').textContent`), eval[string](t, step, `document.getElementById('ab-b').textContent`)
	screenshot(t, step, "page-compare.png")
	err = chromedp.Do(step,
		chromedp.Click(css(`#ab-pick-b`)),
		chromedp.WaitReady(css(`#ab-status[data-id]`)),
		chromedp.WaitReady(css(`#fb-recent tr[data-id]:nth-of-type(3)`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	recs, bad, err = log.Read()
	if err != nil || len(bad) != 0 || len(recs) != 2 {
		t.Fatalf("after the pick: %d records, bad %v, %v", len(recs), bad, err)
	}
	ab := recs[1]
	if ab.Kind != feedback.KindAB || ab.Choice != "b" || !ab.Prompt.Equal(feedback.Text("Once upon a time")) || ab.Model != "stories" || ab.Source != "web" {
		t.Errorf("A/B record %+v", ab)
	}
	if len(ab.Completions) != 2 || ab.Completions[0].Text != a || ab.Completions[1].Text != b || ab.Chosen == nil || ab.Chosen.Text != b || ab.Rejected.Text != a {
		t.Errorf("A/B replies %+v, the page shows A %q and B %q", ab, a, b)
	}
	if fmt.Sprint(ab.Seeds) != "[5 6]" || ab.Sampling == nil || ab.Sampling.Temperature != 1 || ab.Sampling.MaxTokens != 8 {
		t.Errorf("A/B seeds %v, sampling %+v", ab.Seeds, ab.Sampling)
	}
	// B is what seed 6 gives
	res, err := stories.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{MaxTokens: 8,
		Sampler: glassbox.SamplerParams{Temperature: 1, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, RepeatLastN: 64, Seed: 6}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != b {
		t.Errorf("seed 6 gives %q, B is %q", res.Text, b)
	}
	if got := eval[string](t, step, `document.getElementById('ab-seed').value`); got != "7" {
		t.Errorf("the next seed is %s, want 7", got)
	}
	if n := eval[int](t, step, `document.querySelectorAll('#fb-recent tr[data-id]').length`); n != 2 {
		t.Errorf("%d recent judgements listed, want 2", n)
	}
	// both records make a TRL dataset
	pairs, _ := feedback.Pairs(recs)
	if len(pairs) != 1 || pairs[0].Chosen.Text != b {
		t.Errorf("pairs %+v", pairs)
	}
	screenshot(t, step, "page-compare-recorded.png")
}

// TestDiffView compares two models that share a tokenizer in the page's
// Diff view: one row per generated token, the highlighted shifts, and the
// summary equal to eval.Diff's; then a model with another tokenizer is
// refused with the reason.
func TestDiffView(t *testing.T) {
	base := openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-f32.gguf"))
	tuned := openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-Q4_0.gguf"))
	other := openModel(t, fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf"))
	hs := serve(t, nil, server.Model{Name: "f32", Model: base}, server.Model{Name: "q4", Model: tuned}, server.Model{Name: "other", Model: other})
	step := browse(t, 1280, 900, false)
	err := chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="q4"]`)),
		chromedp.Click(css(`#tab-diff`)),
		chromedp.WaitReady(css(`#df-tuned option[value="q4"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	if b, tu := eval[string](t, step, `document.getElementById('df-base').value`), eval[string](t, step, `document.getElementById('df-tuned').value`); b != "f32" || tu != "q4" {
		t.Fatalf("default models %s and %s", b, tu)
	}
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#df-n`), "16"),
		chromedp.SendKeys(css(`#df-prompt`), "Once upon a time"),
		chromedp.Click(css(`#df-run`)),
		chromedp.WaitReady(css(`#df-table[data-rows="16"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	want, err := gbeval.Diff(context.Background(), base, tuned, "Once upon a time", gbeval.DiffOptions{MaxTokens: 16, Top: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got, w := eval[string](t, step, `document.getElementById('df-meankl').textContent`), fmt.Sprintf("mean KL(tuned‖base) %.4f nats", want.MeanKL); got != w {
		t.Errorf("page %q, eval.Diff %q", got, w)
	}
	if got := eval[string](t, step, `document.getElementById('df-argmax').textContent`); got != fmt.Sprintf("%d of 16", want.ArgmaxDiffers) {
		t.Errorf("argmax differs: %q", got)
	}
	rows := eval[int](t, step, `document.querySelectorAll('#df-table tr.hl').length`)
	spans := eval[int](t, step, `document.querySelectorAll('#df-text .df-tok.hl').length`)
	if rows == 0 || rows != len(want.Highlighted) || spans != rows {
		t.Errorf("%d highlighted rows and %d tokens, eval.Diff highlights %d", rows, spans, len(want.Highlighted))
	}
	if text := eval[string](t, step, `[...document.querySelectorAll('#df-text .df-tok')].map((s) => s.textContent).join('')`); text != want.Text {
		t.Errorf("text %q, want %q", text, want.Text)
	}
	first := want.Highlighted[0]
	tint := eval[string](t, step, `getComputedStyle(document.querySelector('#df-text .df-tok[data-index="`+strconv.Itoa(first)+`"]')).backgroundColor`)
	if !strings.HasPrefix(tint, "rgba(") || strings.HasSuffix(tint, ", 0)") {
		t.Errorf("the biggest shift is not tinted: %q", tint)
	}
	row := eval[string](t, step, `document.querySelector('#df-table tr[data-index="`+strconv.Itoa(first)+`"]').textContent`)
	if w := fmt.Sprintf("%.1f%%", 100*want.Tokens[first].Base); !strings.Contains(row, w) {
		t.Errorf("row %q lacks the base probability %s", row, w)
	}
	screenshot(t, step, "page-diff.png")

	// another tokenizer: refused with the reason
	setSelect(t, step, "#df-tuned", "other")
	err = chromedp.Do(step, chromedp.Click(css(`#df-run`)), chromedp.WaitVisible(css(`#df-error`)))
	if err != nil {
		failed(t, step, err)
	}
	if msg := eval[string](t, step, `document.getElementById('df-error').textContent`); !strings.Contains(msg, "must share a tokenizer") {
		t.Errorf("error %q", msg)
	}
}

// TestCompareAndDiffAtPhoneWidth: the Compare and Diff views fit a phone's
// width (the diff table scrolls sideways in its card).
func TestCompareAndDiffAtPhoneWidth(t *testing.T) {
	base := openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-f32.gguf"))
	tuned := openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-Q8_0.gguf"))
	hs := serve(t, nil, server.Model{Name: "f32", Model: base}, server.Model{Name: "q8", Model: tuned})
	step := browse(t, 390, 844, true)
	err := chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="q8"]`)),
		chromedp.Click(css(`#tab-compare`)),
		chromedp.WaitVisible(css(`#ab-generate`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	if w := eval[int](t, step, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the compare view is %d px wide on a 390 px screen", w)
	}
	err = chromedp.Do(step,
		chromedp.Click(css(`#tab-diff`)),
		chromedp.WaitReady(css(`#df-tuned option[value="q8"]`)),
		chromedp.SetValue(css(`#df-n`), "8"),
		chromedp.SendKeys(css(`#df-prompt`), "Once upon a time"),
		chromedp.Click(css(`#df-run`)),
		chromedp.WaitReady(css(`#df-table[data-rows="8"]`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	if w := eval[int](t, step, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the diff view is %d px wide on a 390 px screen", w)
	}
	screenshot(t, step, "page-phone-diff.png")
}
