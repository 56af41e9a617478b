package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"glassbox"
	"glassbox/gguf"
	"glassbox/internal/fixtures"
	"glassbox/models"
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

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// openModel opens a model file, closed when the test ends.
func openModel(t *testing.T, path string) *glassbox.Model {
	t.Helper()
	m, err := glassbox.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// serve starts the server on the given models; wrap, when not nil, wraps
// its handler (to watch or slow down requests).
func serve(t *testing.T, wrap func(http.Handler) http.Handler, ms ...server.Model) *httptest.Server {
	t.Helper()
	srv, err := server.New(server.Config{Models: ms, Parallel: 1, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}

// browse starts headless Chromium with a width×height viewport (a phone's
// when mobile) and returns a context bounding the test's steps.
func browse(t *testing.T, width, height int, mobile bool) context.Context {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// start the browser without a deadline (a deadline on the first run would
	// bound the browser's life), then bound each step
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	step, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	var vp []chromedp.EmulateViewportOption
	if mobile {
		vp = append(vp, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	if err := chromedp.Do(step, chromedp.EmulateViewport(int64(width), int64(height), vp...)); err != nil {
		t.Fatal(err)
	}
	return step
}

// screenshot saves the whole page as name in the artifact folder.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// pressEnter presses Enter in the focused element as a keyboard does: one
// key-down event carrying the text, which the page may cancel.
func pressEnter(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if err := chromedp.Do(ctx, chromedp.Focus(css(sel))); err != nil {
			return err
		}
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13,
			NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	})
}

// failed reports err with what the page shows (messages and a screenshot).
func failed(t *testing.T, ctx context.Context, err error) {
	t.Helper()
	// the step's deadline may be what failed: look with a fresh one
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if msgs, e := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('.msg')].map((m) => m.textContent).join('\n')`)); e == nil {
		t.Logf("messages:\n%s", msgs)
	}
	if png, e := chromedp.Run(ctx, chromedp.FullScreenshot(90)); e == nil {
		shot := filepath.Join(artifactDir(t), t.Name()+"-failed.png")
		if os.WriteFile(shot, png, 0o644) == nil {
			t.Logf("screenshot: %s", shot)
		}
	}
	t.Fatal(err)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// TestPageInBrowser loads the page in headless Chromium, sends a prompt,
// waits for the streamed reply, clicks a token and checks that its attention
// heatmap and candidate bars render.
func TestPageInBrowser(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	hs := serve(t, nil, server.Model{Name: "stories260K", Model: m})
	step := browse(t, 1400, 1000, false)
	err := chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="stories260K"]`)),
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
	screenshot(t, step, "page-dissection.png")
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
	screenshot(t, step, "page-model.png")
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
	if hidden, err := chromedp.Run(step, chromedp.Evaluate[bool](`document.getElementById('d-experts-section').hidden`)); err != nil || !hidden {
		t.Errorf("a dense model's dissection shows the experts section (hidden %v, %v)", hidden, err)
	}
	if rows != 5*8 || !painted {
		t.Errorf("heatmap: %d rows (want %d), painted %v", rows, 5*8, painted)
	}
}

// chatTemplate renders the messages one after the other, so that a chat on
// stories260K continues the conversation as plain text.
const chatTemplate = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% else %}{{ ' ' + m.content }}{% endif %}{% endfor %}"

// chatModel writes a copy of stories260K that carries a chat template (no
// fixture model has one) and opens it.
func chatModel(t *testing.T) *glassbox.Model {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chat.gguf")
	if err := gguf.Rewrite(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), path, map[string]any{"tokenizer.chat_template": chatTemplate}); err != nil {
		t.Fatal(err)
	}
	m := openModel(t, path)
	if !m.HasChatTemplate() {
		t.Fatal("the copy has no chat template")
	}
	return m
}

// recorder keeps the bodies of the page's /v1/dissect requests and, when
// delay is set, spaces the writes of their streamed replies so that a test
// can act while a reply is still streaming.
type recorder struct {
	delay  time.Duration
	mu     sync.Mutex
	bodies [][]byte
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/dissect" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			rec.mu.Lock()
			rec.bodies = append(rec.bodies, body)
			rec.mu.Unlock()
			if rec.delay > 0 {
				w = &slowWriter{ResponseWriter: w, delay: rec.delay}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// requests returns the bodies received so far, decoded.
func (rec *recorder) requests(t *testing.T) []map[string]any {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []map[string]any
	for _, b := range rec.bodies {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("request body %q: %v", b, err)
		}
		out = append(out, m)
	}
	return out
}

// slowWriter sleeps before each write of a response.
type slowWriter struct {
	http.ResponseWriter
	delay time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	return w.ResponseWriter.Write(p)
}

func (w *slowWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *slowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// selectModel chooses a model in the page's model list, as a user would.
func selectModel(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	eval[bool](t, ctx, `(() => { const s = document.getElementById('model'); s.value = `+strconv.Quote(id)+`;
		s.dispatchEvent(new Event('change')); return true; })()`)
}

// TestDefaultModelChatsInCompletionMode: the embedded model has no chat
// template, so the page puts itself in completion mode, says why in plain
// words, and the first message gets a continuation instead of an error;
// a model with a template brings chat mode back.
func TestDefaultModelChatsInCompletionMode(t *testing.T) {
	def, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { def.Close() })
	hs := serve(t, nil, server.Model{Name: "glassbox-go-1m", Model: def}, server.Model{Name: "chat", Model: chatModel(t)})
	step := browse(t, 1200, 900, false)
	err = chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="chat"]`)),
		chromedp.WaitVisible(css(`#mode-note`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	mode := func() (checked, disabled, note bool) {
		return eval[bool](t, step, `document.getElementById('raw').checked`),
			eval[bool](t, step, `document.getElementById('raw').disabled`),
			eval[bool](t, step, `!document.getElementById('mode-note').hidden`)
	}
	if c, d, n := mode(); !c || !d || !n {
		t.Errorf("default model: completion mode %v, locked %v, explained %v; want all true", c, d, n)
	}
	note, err := chromedp.Run(step, chromedp.Text(css(`#mode-note`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Completion mode", "glassbox-go-1m", "no chat template", "continues the text you write"} {
		if !strings.Contains(note, want) {
			t.Errorf("explanation %q lacks %q", note, want)
		}
	}
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#max_tokens`), "16"),
		chromedp.SendKeys(css(`#prompt`), "func main() {"),
		pressEnter(`#prompt`),
		chromedp.WaitVisible(css(`.msg.assistant .tok`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	if errs := eval[string](t, step, `[...document.querySelectorAll('.msg .error')].map((e) => e.textContent).join('; ')`); errs != "" {
		t.Errorf("the first message failed: %s", errs)
	}
	if n := eval[int](t, step, `document.querySelectorAll('.msg.assistant .tok').length`); n == 0 {
		t.Error("no reply tokens")
	}
	screenshot(t, step, "page-default-model.png")

	// a model with a chat template: chat mode, no note; back: completion mode again
	selectModel(t, step, "chat")
	if c, d, n := mode(); c || d || n {
		t.Errorf("chat model: completion mode %v, locked %v, explained %v; want all false", c, d, n)
	}
	selectModel(t, step, "glassbox-go-1m")
	if c, d, n := mode(); !c || !d || !n {
		t.Errorf("back to the default model: completion mode %v, locked %v, explained %v; want all true", c, d, n)
	}
	if err := chromedp.Do(step, chromedp.Click(css(`#tab-model`)), chromedp.WaitVisible(css(`#model-info table.kv`))); err != nil {
		failed(t, step, err)
	}
	info, err := chromedp.Run(step, chromedp.Text(css(`#model-info`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "completion mode") {
		t.Errorf("model page does not say the chat runs in completion mode:\n%s", info)
	}
}

// TestEnterWhileStreaming: Enter during a reply neither sends the message
// nor loses it; once the reply is over it goes, with the first exchange in
// the conversation.
func TestEnterWhileStreaming(t *testing.T) {
	rec := &recorder{delay: 40 * time.Millisecond}
	hs := serve(t, rec.wrap, server.Model{Name: "chat", Model: chatModel(t)})
	step := browse(t, 1200, 900, false)
	err := chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="chat"]`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), "24"),
		chromedp.SendKeys(css(`#prompt`), "Once upon a time"),
		pressEnter(`#prompt`),
		chromedp.WaitVisible(css(`.msg.assistant .tok`)),
		chromedp.SendKeys(css(`#prompt`), "Lily"),
		pressEnter(`#prompt`),
	)
	if err != nil {
		failed(t, step, err)
	}
	if !eval[bool](t, step, `document.querySelector('.streaming') !== null`) {
		t.Fatal("the reply ended before the second Enter: the test did not exercise Enter during streaming")
	}
	stop := eval[bool](t, step, `document.getElementById('stop')?.hidden === false`)
	screenshot(t, step, "page-streaming.png")
	if err := chromedp.Do(step, chromedp.WaitNotPresent(css(`.streaming`))); err != nil {
		failed(t, step, err)
	}
	if !stop {
		t.Error("no Stop button while the reply streams")
	}
	if n := len(rec.requests(t)); n != 1 {
		t.Fatalf("%d requests after Enter during a reply, want 1", n)
	}
	if n := eval[int](t, step, `document.querySelectorAll('.msg.assistant').length`); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
	if v := eval[string](t, step, `document.getElementById('prompt').value`); v != "Lily" {
		t.Errorf("the message typed during the reply became %q, want it kept", v)
	}
	first := eval[string](t, step, `document.querySelector('.msg.assistant .body').textContent`)
	err = chromedp.Do(step,
		pressEnter(`#prompt`),
		chromedp.WaitVisible(css(`.msg.assistant:nth-of-type(4) .tok`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	reqs := rec.requests(t)
	if len(reqs) != 2 {
		t.Fatalf("%d requests after the second message, want 2", len(reqs))
	}
	got, _ := json.Marshal(reqs[1]["messages"])
	want, _ := json.Marshal([]map[string]string{
		{"role": "user", "content": "Once upon a time"},
		{"role": "assistant", "content": strings.TrimSpace(first)},
		{"role": "user", "content": "Lily"},
	})
	if string(got) != string(want) {
		t.Errorf("second turn sent\n%s\nwant\n%s", got, want)
	}
}

// TestStopButton: Stop ends the reply where it is, keeps what came, and the
// page is ready for the next message.
func TestStopButton(t *testing.T) {
	rec := &recorder{delay: 30 * time.Millisecond}
	hs := serve(t, rec.wrap, server.Model{Name: "chat", Model: chatModel(t)})
	step := browse(t, 1200, 900, false)
	err := chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="chat"]`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), "200"),
		chromedp.SendKeys(css(`#prompt`), "Once upon a time"),
		pressEnter(`#prompt`),
		chromedp.WaitVisible(css(`.msg.assistant .tok[data-index="2"]`)),
		chromedp.Click(css(`#stop`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	toks := eval[int](t, step, `document.querySelectorAll('.msg.assistant .tok').length`)
	if toks < 3 || toks >= 200 {
		t.Errorf("%d tokens after Stop, want between 3 and 199", toks)
	}
	if !eval[bool](t, step, `document.querySelector('.msg.assistant .stopped') !== null`) {
		t.Error("the stopped reply is not marked as stopped")
	}
	if eval[bool](t, step, `document.querySelector('.msg .error') !== null`) {
		t.Error("Stop shows an error")
	}
	if !eval[bool](t, step, `!document.getElementById('send').disabled && document.getElementById('stop').hidden`) {
		t.Error("after Stop, Send is not enabled again or Stop is still shown")
	}
	partial := strings.TrimSpace(eval[string](t, step, `[...document.querySelectorAll('.msg.assistant .tok')].map((e) => e.textContent).join('')`))
	err = chromedp.Do(step,
		chromedp.SetValue(css(`#max_tokens`), "4"),
		chromedp.SendKeys(css(`#prompt`), "Lily"),
		pressEnter(`#prompt`),
		chromedp.WaitVisible(css(`.msg.assistant:nth-of-type(4) .tok`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	reqs := rec.requests(t)
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	msgs, _ := reqs[1]["messages"].([]any)
	if len(msgs) != 3 || msgs[1].(map[string]any)["content"] != partial {
		t.Errorf("after Stop the next turn sent %v, want the partial reply %q as the assistant's turn", msgs, partial)
	}
}

// TestPhoneWidthAndHeatmap: on a 390 px wide phone nothing is wider than the
// screen, in the chat with a dissection open and on the model page; the
// attention heatmap of a 200+ token context has a colour scale, column
// labels that do not overlap, and a tooltip naming token and weight.
func TestPhoneWidthAndHeatmap(t *testing.T) {
	def, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { def.Close() })
	// a prompt of 200+ tokens that leaves room in the context
	prompt := ""
	for i := 0; len(def.Encode(prompt, glassbox.GenerateOptions{})) < 205; i++ {
		prompt += fmt.Sprintf("func add%d(a, b int) int {\n\treturn a + b*%d\n}\n\n", i, i)
	}
	if n := len(def.Encode(prompt, glassbox.GenerateOptions{})); n+4 > def.ContextSize() {
		t.Fatalf("the prompt has %d tokens, the context %d", n, def.ContextSize())
	}
	hs := serve(t, nil, server.Model{Name: "glassbox-go-1m", Model: def})
	const width = 390
	step := browse(t, width, 844, true)
	err = chromedp.Do(step,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(css(`#model option[value="glassbox-go-1m"]`)),
		chromedp.SetValue(css(`#temperature`), "0"),
		chromedp.SetValue(css(`#max_tokens`), "3"),
		// (the page is in completion mode already, the model having no chat template)
		chromedp.Evaluate[chromedp.Void](`(() => { const r = document.getElementById('raw'); if (!r.checked && !r.disabled) r.click(); })()`),
		chromedp.SetValue(css(`#prompt`), prompt),
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(`.msg.assistant .tok[data-index="2"]`)),
		chromedp.WaitNotPresent(css(`.streaming`)),
	)
	if err != nil {
		failed(t, step, err)
	}
	overflow := func(where string) {
		t.Helper()
		if w := eval[int](t, step, `document.documentElement.scrollWidth`); w > width {
			t.Errorf("%s: the page is %d px wide on a %d px screen", where, w, width)
		}
	}
	overflow("chat")
	if err := chromedp.Do(step, chromedp.Click(css(`.msg.assistant .tok[data-index="2"]`)), chromedp.WaitVisible(css(`#dissection`))); err != nil {
		failed(t, step, err)
	}
	overflow("chat with the dissection open")
	n := eval[int](t, step, `state.current.turn.steps[2].position + 1`)
	if n < 200 {
		t.Fatalf("the context has %d positions, want 200+", n)
	}
	// column labels: thinned, at least a label's height apart, the last position labelled
	xs := strings.Split(eval[string](t, step, `document.getElementById('d-heatmap').dataset.labelX || ''`), ",")
	if len(xs) < 3 || len(xs) >= n {
		t.Errorf("%d column labels for %d positions, want a readable few", len(xs), n)
	}
	prev := -1e9
	for _, s := range xs {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("label positions %q: %v", xs, err)
		}
		if x-prev < 12 {
			t.Errorf("column labels %.1f px apart (at x=%.1f), they overlap: want 12+ for 10 px text", x-prev, x)
		}
		prev = x
	}
	// the colour scale: a gradient with numbered ticks from 0 to 1
	ticks := eval[[]string](t, step, `[...document.querySelectorAll('#d-legend .legend-ticks span')].map((e) => e.textContent)`)
	if len(ticks) < 3 || ticks[0] != "0" || ticks[len(ticks)-1] != "1" {
		t.Errorf("legend ticks %q, want 0 … 1", ticks)
	}
	if g := eval[string](t, step, `getComputedStyle(document.querySelector('#d-legend .legend-bar')).backgroundImage`); !strings.Contains(g, "gradient") {
		t.Errorf("legend bar background %q, want a gradient", g)
	}
	// the tooltip over a cell: row 0, position 5
	tip := eval[string](t, step, `(() => { const c = document.getElementById('d-heatmap'), h = state.heat, r = c.getBoundingClientRect();
		c.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: r.left + 5 * h.cellW + 1, clientY: r.top + h.top + 2 }));
		const tip = document.getElementById('d-tip');
		return tip.hidden ? '' : tip.textContent + '|' + h.rows[0].weights[5].toFixed(4); })()`)
	text, w, _ := strings.Cut(tip, "|")
	if !strings.Contains(text, "position 5") || w == "" || !strings.Contains(text, "weight "+w) {
		t.Errorf("tooltip %q, want position 5 and its weight %s", text, w)
	}
	screenshot(t, step, "page-phone-dissection.png")
	if err := chromedp.Do(step, chromedp.Click(css(`#tab-model`)), chromedp.WaitVisible(css(`#model-info table.kv`))); err != nil {
		failed(t, step, err)
	}
	overflow("model page")
	screenshot(t, step, "page-phone-model.png")
}
