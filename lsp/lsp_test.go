package lsp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"glassbox"
	"glassbox/models"
)

func TestOffsetAndApply(t *testing.T) {
	text := "package main\n\nfunc héllo😀x() {\n}\n"
	for _, tc := range []struct {
		pos  Position
		want int
		err  bool
	}{
		{Position{0, 0}, 0, false},
		{Position{0, 7}, 7, false},
		{Position{0, 99}, 12, false}, // past the end of the line: the end
		{Position{2, 6}, 20, false},  // after "func h"
		{Position{2, 7}, 22, false},  // é is 2 bytes, 1 UTF-16 unit
		{Position{2, 10}, 25, false}, // after "llo"
		{Position{2, 11}, 25, false}, // inside the surrogate pair of 😀: before it
		{Position{2, 12}, 29, false}, // after 😀 (2 units, 4 bytes)
		{Position{4, 0}, len(text), false},
		{Position{5, 0}, 0, true},
		{Position{-1, 0}, 0, true},
	} {
		got, err := offset(text, tc.pos)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("offset(%v) = %d, %v; want %d (error %v)", tc.pos, got, err, tc.want, tc.err)
		}
	}
	for _, tc := range []struct {
		name string
		c    ContentChange
		want string
	}{
		{"full", ContentChange{Text: "x"}, "x"},
		{"insert", ContentChange{Range: &Range{Position{1, 0}, Position{1, 0}}, Text: "// hi\n"}, "package main\n// hi\n\nfunc héllo😀x() {\n}\n"},
		{"replace across lines", ContentChange{Range: &Range{Position{0, 8}, Position{2, 4}}, Text: "x\nvar"}, "package x\nvar héllo😀x() {\n}\n"},
		{"delete after emoji", ContentChange{Range: &Range{Position{2, 12}, Position{2, 13}}, Text: ""}, "package main\n\nfunc héllo😀() {\n}\n"},
	} {
		got, err := apply(text, tc.c)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := apply(text, ContentChange{Range: &Range{Position{2, 3}, Position{1, 0}}}); err == nil {
		t.Error("a reversed range was applied")
	}
}

func TestWindow(t *testing.T) {
	text := "a\nb\nc\nd|e\nf\ng\n"
	at := strings.IndexByte(text, '|')
	text = strings.Replace(text, "|", "", 1)
	for _, tc := range []struct {
		pre, suf         int
		wantPre, wantSuf string
	}{
		{0, 0, "a\nb\nc\nd", "e\nf\ng\n"},
		{1, 1, "d", "e\n"},
		{2, 2, "c\nd", "e\nf\n"},
		{10, 10, "a\nb\nc\nd", "e\nf\ng\n"},
	} {
		p, s := window(text, at, tc.pre, tc.suf)
		if p != tc.wantPre || s != tc.wantSuf {
			t.Errorf("window(%d, %d) = %q, %q; want %q, %q", tc.pre, tc.suf, p, s, tc.wantPre, tc.wantSuf)
		}
	}
}

func TestReadMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"ok", "Content-Length: 2\r\n\r\n{}", "{}", ""},
		{"content type", "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: 2\r\n\r\n{}", "{}", ""},
		{"bare newlines", "Content-Length: 2\n\n{}", "{}", ""},
		{"no length", "Content-Type: application/json\r\n\r\n{}", "", "without Content-Length"},
		{"bad length", "Content-Length: x\r\n\r\n", "", "non-negative integer"},
		{"huge", "Content-Length: 999999999999\r\n\r\n", "", "over the limit"},
		{"short body", "Content-Length: 10\r\n\r\n{}", "", "unexpected EOF"},
		{"not a header", "hello\r\n\r\n", "", "expected Name: value"},
		{"wrong type", "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", "", "Content-Type"},
		{"cut header", "Content-Length: 2", "", "unexpected EOF"},
	} {
		got, err := ReadMessage(bufio.NewReader(strings.NewReader(tc.in)))
		if tc.err == "" && (err != nil || string(got) != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %q, %v; want %q / error %q", tc.name, got, err, tc.want, tc.err)
		}
	}
	if _, err := ReadMessage(bufio.NewReader(strings.NewReader(""))); err != io.EOF {
		t.Errorf("empty input: %v, want io.EOF", err)
	}
}

// FuzzReadMessage: no framing or message input makes the parser panic, and
// a framed body reads back as written.
func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{
		"Content-Length: 2\r\n\r\n{}",
		"Content-Length: 52\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}    ",
		"Content-Length: 5\r\n\r\n[1,2]",
		"Content-Type: application/json\r\n\r\n",
		"Content-Length: -1\r\n\r\n",
		"\r\n",
		`{"jsonrpc":"2.0","id":{"a":1},"method":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for {
			body, err := ReadMessage(r)
			if err != nil {
				break
			}
			_, _ = ParseMessage(body)
		}
		_, _ = ParseMessage(in)
		var buf bytes.Buffer
		if err := WriteMessage(&buf, in); err != nil {
			t.Fatal(err)
		}
		if len(in) <= MaxMessageBytes {
			got, err := ReadMessage(bufio.NewReader(&buf))
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("round trip of %q: %q, %v", in, got, err)
			}
		}
	})
}

// client drives a Server over pipes.
type client struct {
	t    *testing.T
	w    io.Writer
	in   chan []byte
	next int
	logs []string
	done chan error
}

func newClient(t *testing.T, s *Server) *client {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	c := &client{t: t, w: cw, in: make(chan []byte, 100), done: make(chan error, 1)}
	go func() {
		r := bufio.NewReader(cr)
		for {
			body, err := ReadMessage(r)
			if err != nil {
				close(c.in)
				return
			}
			c.in <- body
		}
	}()
	go func() {
		err := s.Serve(context.Background(), sr, sw)
		sw.Close()
		c.done <- err
	}()
	return c
}

func (c *client) send(v map[string]any) {
	v["jsonrpc"] = "2.0"
	b, _ := json.Marshal(v)
	if err := WriteMessage(c.w, b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) notify(method string, params any) {
	c.send(map[string]any{"method": method, "params": params})
}

// request sends a request and returns its answer (notifications before it are logged).
func (c *client) request(method string, params any) *Message {
	c.next++
	c.send(map[string]any{"id": c.next, "method": method, "params": params})
	return c.wait(c.next)
}

func (c *client) wait(id int) *Message {
	for {
		var body []byte
		select {
		case b, ok := <-c.in:
			if !ok {
				c.t.Fatalf("waiting for answer %d: the server closed its output", id)
			}
			body = b
		case <-time.After(time.Minute):
			c.t.Fatalf("no answer %d after a minute", id)
		}
		m, perr := ParseMessage(body)
		if perr != nil {
			c.t.Fatalf("answer %s: %v", body, perr)
		}
		if m.Method == "window/logMessage" {
			c.logs = append(c.logs, string(m.Params))
			continue
		}
		if string(m.ID) == strings.TrimSpace(string(mustJSON(id))) {
			return m
		}
		c.t.Fatalf("unexpected message %s", body)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func openDefault(t *testing.T) *glassbox.Model {
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

const goFile = "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.\n}\n"

func TestServerSession(t *testing.T) {
	m := openDefault(t)
	c := newClient(t, New(Config{Model: m, Version: "test"}))
	if r := c.request("textDocument/completion", map[string]any{}); r.Error == nil || r.Error.Code != CodeServerNotInitialized {
		t.Fatalf("completion before initialize: %+v", r)
	}
	if r := c.request("initialize", map[string]any{"initializationOptions": map[string]any{"n_predct": 3}}); r.Error == nil || !strings.Contains(r.Error.Message, "n_predct") {
		t.Fatalf("unknown option: %+v", r)
	}
	r := c.request("initialize", map[string]any{"capabilities": map[string]any{}, "initializationOptions": map[string]any{"n_predict": 12, "max_prefix_lines": 8}})
	if r.Error != nil || !strings.Contains(string(r.Result), `"completionProvider"`) || !strings.Contains(string(r.Result), `"inlineCompletionProvider"`) {
		t.Fatalf("initialize: %s %v", r.Result, r.Error)
	}
	c.notify("initialized", map[string]any{})
	uri := "file:///tmp/main.go"
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "languageId": "go", "version": 1, "text": "package main\n"}})
	// incremental changes build the file
	c.notify("textDocument/didChange", map[string]any{"textDocument": map[string]any{"uri": uri, "version": 2},
		"contentChanges": []any{map[string]any{"range": Range{Position{1, 0}, Position{1, 0}}, "text": goFile[len("package main\n"):]}}})
	pos := Position{Line: 5, Character: 5} // after "\tfmt."
	r = c.request("textDocument/completion", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": pos})
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if len(c.logs) != 1 || !strings.Contains(c.logs[0], "no fill-in-the-middle tokens") {
		t.Errorf("log messages %v, want the prefix-completion notice", c.logs)
	}
	var list struct {
		Items []CompletionItem `json:"items"`
	}
	if err := json.Unmarshal(r.Result, &list); err != nil || len(list.Items) != 1 {
		t.Fatalf("completion %s: %v", r.Result, err)
	}
	// the same completion from the SDK: the prefix of the document
	prompt, err := BuildPrompt(m, goFile[:strings.Index(goFile, "fmt.")+4], "", 12)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.GenerateIDs(context.Background(), prompt.IDs, glassbox.GenerateOptions{MaxTokens: 12})
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(strings.TrimRight(want.Text, " \t\n"), "\n", 2)[0]
	it := list.Items[0]
	if it.TextEdit == nil || it.TextEdit.NewText != first || it.TextEdit.Range.End != pos || it.Label != strings.TrimSpace(first) || it.Doc != strings.TrimRight(want.Text, " \t\n") {
		t.Errorf("item %+v, want the first line %q of %q", it, first, want.Text)
	}
	r = c.request("textDocument/inlineCompletion", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": pos, "context": map[string]any{"triggerKind": 1}})
	var inline struct {
		Items []InlineCompletionItem `json:"items"`
	}
	if err := json.Unmarshal(r.Result, &inline); err != nil || len(inline.Items) != 1 || inline.Items[0].InsertText != it.Doc || inline.Items[0].Range.Start != pos {
		t.Errorf("inline completion %s (%v), want %q at %v", r.Result, err, it.Doc, pos)
	}
	for _, tc := range []struct {
		method string
		params any
		code   int
	}{
		{"textDocument/completion", map[string]any{"textDocument": map[string]any{"uri": "file:///nope.go"}, "position": pos}, CodeInvalidParams},
		{"textDocument/completion", map[string]any{"textDocument": map[string]any{"uri": uri}, "position": Position{40, 0}}, CodeInvalidParams},
		{"textDocument/hover", map[string]any{}, CodeMethodNotFound},
	} {
		if r := c.request(tc.method, tc.params); r.Error == nil || r.Error.Code != tc.code {
			t.Errorf("%s %v: %+v, want code %d", tc.method, tc.params, r.Error, tc.code)
		}
	}
	if r := c.request("shutdown", nil); r.Error != nil || string(r.Result) != "null" {
		t.Errorf("shutdown: %s %v", r.Result, r.Error)
	}
	c.notify("exit", nil)
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("Serve after shutdown and exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after exit")
	}
}

// TestCancel: $/cancelRequest stops a running completion with RequestCancelled.
func TestCancel(t *testing.T) {
	m := openDefault(t)
	s := New(Config{Model: m})
	c := newClient(t, s)
	c.request("initialize", map[string]any{"initializationOptions": map[string]any{"n_predict": 200}})
	uri := "file:///a.go"
	c.notify("textDocument/didOpen", map[string]any{"textDocument": map[string]any{"uri": uri, "text": "package a\n"}})
	// hold the model so that the completion cannot finish before the cancel arrives
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		m.GenerateIDs(context.Background(), []int{0}, glassbox.GenerateOptions{MaxTokens: 1, OnToken: func(glassbox.Token) error {
			close(started)
			<-release
			return nil
		}})
	}()
	<-started
	c.next++
	id := c.next
	c.send(map[string]any{"id": id, "method": "textDocument/completion", "params": map[string]any{"textDocument": map[string]any{"uri": uri}, "position": Position{1, 0}}})
	for deadline := time.Now().Add(time.Minute); ; {
		s.mu.Lock()
		n := len(s.running)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the completion never started")
		}
		time.Sleep(time.Millisecond)
	}
	c.notify("$/cancelRequest", map[string]any{"id": id})
	// messages are read in order: once this answer comes, the cancel was handled
	if r := c.request("glassbox/ping", nil); r.Error == nil || r.Error.Code != CodeMethodNotFound {
		t.Fatalf("ping: %+v", r)
	}
	close(release)
	if r := c.wait(id); r.Error == nil || r.Error.Code != CodeRequestCancelled {
		t.Errorf("cancelled completion: %s %+v", r.Result, r.Error)
	}
	c.notify("exit", nil)
	if err := <-c.done; !errors.Is(err, ErrExitWithoutShutdown) {
		t.Errorf("exit without shutdown: %v", err)
	}
}
