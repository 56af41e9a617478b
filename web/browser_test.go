package web_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/server"
)

// chromium finds the browser; without one the test skips, except in CI
// (.ci/run installs Debian's chromium).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH (CI=true: .ci/run installs Debian's chromium)")
	}
	t.Skip("skipping: no chromium on PATH (apt-get install chromium)")
	return ""
}

// artifactDir is where the screenshot goes: $GLASSBOX_ARTIFACTS, or a
// folder in the system's temporary directory.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("GLASSBOX_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "glassbox-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPageInBrowser loads the page in headless Chromium, sends a prompt,
// waits for the streamed reply, clicks a token and checks that its attention
// heatmap and candidate bars render.
func TestPageInBrowser(t *testing.T) {
	exe := chromium(t)
	m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv, err := server.New(server.Config{Models: []server.Model{{Name: "stories260K", Model: m}}, Parallel: 1, Queue: 4})
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
	// start the browser without a deadline (a deadline on the first run would
	// bound the browser's life), then bound each step
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	step, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err = chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="stories260K"]`)),
		chromedp.Click(css(`#raw`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), "12"),
		chromedp.SendKeys(css(`#prompt`), "Once upon a time"),
		chromedp.Click(css(`#send`)),
		// the streamed reply is complete when the cursor goes away
		chromedp.WaitVisible(css(`.msg.assistant .tok[data-index="11"]`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := chromedp.Run(step, chromedp.Text(css(`.msg.assistant .body`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(step, chromedp.Click(css(`.msg.assistant .tok[data-index="0"]`)), chromedp.WaitVisible(css(`#dissection`))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(step, chromedp.Text(css(`#d-title`)))
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelectorAll('#d-bars .bar-row').length`))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(step, chromedp.Evaluate[int](`Number(document.getElementById('d-heatmap').dataset.rows)`))
	if err != nil {
		t.Fatal(err)
	}
	painted, err := chromedp.Run(step, chromedp.Evaluate[bool](`(() => { const c = document.getElementById('d-heatmap');
		const d = c.getContext('2d').getImageData(64, 0, c.width - 64, c.height).data;
		for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; })()`))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(step, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifactDir(t), "page-dissection.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	// the model page: architecture, sizes, tensor types, memory
	if err := chromedp.Do(step, chromedp.Click(css(`#tab-model`)), chromedp.WaitVisible(css(`#model-info table.kv`))); err != nil {
		t.Fatal(err)
	}
	info, err := chromedp.Run(step, chromedp.Text(css(`#model-info`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"llama", "parameters", "F32 ×", "KV cache", "resident", "no chat template"} {
		if !strings.Contains(info, want) {
			t.Errorf("model page lacks %q:\n%s", want, info)
		}
	}
	if png, err := chromedp.Run(step, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifactDir(t), "page-model.png"), png, 0o644)
	}
	// greedy decoding gives the llama.cpp / run.c text
	if want := ", there was a little girl named Lily. She"; !strings.HasPrefix(reply, want) {
		t.Errorf("reply %q, want it to start with %q", reply, want)
	}
	if !strings.Contains(title, "Token 1") {
		t.Errorf("dissection title %q", title)
	}
	if bars < 3 {
		t.Errorf("%d candidate bars, want at least 3", bars)
	}
	if rows != 5*8 || !painted {
		t.Errorf("heatmap: %d rows (want %d), painted %v", rows, 5*8, painted)
	}
}
