package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"glassbox"
	"glassbox/models"
	"glassbox/server"
	"glassbox/trace"
)

// TestPageShowsTokenText: the page shows each token as the text the trace
// carries, with no tokenizer of its own. With the embedded byte-level BPE
// model, whose pieces spell spaces and new lines with GPT-2's byte table (Ġ,
// Ċ), the dissection's token strip and candidate bars must show the bytes
// the tokenizer decodes each token to (spaces as ␣, new lines as ⏎).
func TestPageShowsTokenText(t *testing.T) {
	exe := chromium(t)
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv, err := server.New(server.Config{Models: []server.Model{{Name: "default", Model: m}}, Parallel: 1, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	step, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// the model has no chat template: the page continues the text as written;
	// greedy, the next token is a new line (the piece Ċ)
	err = chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="default"]`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), "2"),
		chromedp.SendKeys(css(`#prompt`), "// Copyright 2009 The Go Authors. All rights reserved."),
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(`.msg.assistant .tok[data-index="1"]`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
		chromedp.Click(css(`.msg.assistant .tok[data-index="1"]`)),
		chromedp.WaitVisible(css(`#dissection`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	chips, err := chromedp.Run(step, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#d-tokens .chip')].map((c) => c.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := chromedp.Run(step, chromedp.Evaluate[[]int](`[...document.querySelectorAll('#d-tokens .chip')].map((c) => Number(c.title.slice(3)))`))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := chromedp.Run(step, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#d-bars .bar-row .label')].map((c) => c.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	tok := m.Tokenizer()
	// what the page shows for a token: its text, spaces and line ends made visible
	show := func(id int) string {
		s := trace.Text(tok.TokenBytes(id))
		return strings.NewReplacer("\n", "⏎", "\t", "⇥", " ", "␣").Replace(s)
	}
	if len(chips) != len(ids) || len(chips) < 3 {
		t.Fatalf("token strip %q, ids %v", chips, ids)
	}
	coded := 0
	for i, id := range ids {
		if chips[i] != show(id) {
			t.Errorf("chip %d (token %d, piece %q) shows %q, want %q", i, id, tok.Piece(id), chips[i], show(id))
		}
		if strings.ContainsAny(tok.Piece(id), "ĠĊ") {
			coded++
		}
	}
	if coded == 0 {
		t.Errorf("no token of %q spells a space or new line with the byte table: the test proves nothing", chips)
	}
	if len(labels) == 0 || !strings.Contains(strings.Join(labels, " "), "⏎") || strings.ContainsAny(strings.Join(labels, " "), "ĠĊ") {
		t.Errorf("candidate bars %q: want decoded texts (a new line among them), no byte-table pieces", labels)
	}
}
