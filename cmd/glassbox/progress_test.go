package main

import (
	"strings"
	"testing"
	"time"

	"glassbox/store"
)

// TestProgressBar drives the bar with a fake clock through the events of a
// resumed download, a restart and a note.
func TestProgressBar(t *testing.T) {
	var b strings.Builder
	p := newProgressBar(&b)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	ev := func(kind store.ProgressKind, done int64) store.ProgressEvent {
		return store.ProgressEvent{Kind: kind, File: "m.gguf", Total: 1000, Done: done}
	}
	p.report(store.ProgressEvent{Kind: store.ProgressNote, Message: "m: waiting for another glassbox pull"})
	p.report(ev(store.ProgressStart, 200)) // resumed at 200
	now = now.Add(time.Second)
	p.report(ev(store.ProgressUpdate, 300))
	now = now.Add(time.Second)
	p.report(ev(store.ProgressUpdate, 400))
	p.report(ev(store.ProgressUpdate, 410)) // within the redraw interval: not drawn
	p.report(ev(store.ProgressFinish, 410))
	out := b.String()
	for _, w := range []string{"\r\x1b[Km: waiting for another glassbox pull\n", "20% [", "30% [", "100 B/s  ETA 7s", "40% [", "400 B/1000 B", "410 B/1000 B  in 2s\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("progress output %q lacks %q", out, w)
		}
	}
	if strings.Count(out, "410 B/1000 B") != 1 {
		t.Errorf("progress output %q: an update within %s of the last redraw was drawn", out, redrawEvery)
	}

	// a restart from zero: the speed starts over from the restart
	b.Reset()
	p.report(ev(store.ProgressStart, 0))
	now = now.Add(time.Second)
	p.report(ev(store.ProgressUpdate, 500))
	p.report(ev(store.ProgressUpdate, 0))
	now = now.Add(time.Second)
	p.report(ev(store.ProgressUpdate, 100))
	if out := b.String(); !strings.HasSuffix(out, "10% [==>                     ] 100 B/1000 B  100 B/s  ETA 9s") {
		t.Errorf("after a restart: %q, want 100 B/s measured from the restart", out)
	}

	if newProgress(&b) != nil {
		t.Error("newProgress draws on a strings.Builder, which is no terminal")
	}
}

func TestFormatBar(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatBar("m.gguf", 25, 100, 10, 8), "m.gguf   25% [==>     ] 25 B/100 B  10 B/s  ETA 8s"},
		{formatBar("m.gguf", 100, 100, -1, 4), "m.gguf  100% [====] 100 B/100 B"},
		{formatBar("", 5, -1, 0, 4), "5 B  0 B/s"},
		{formatBar("x", 0, 10, 0, 4), "x    0% [>   ] 0 B/10 B  0 B/s  ETA --"},
		{formatDuration(0), "0s"},
		{formatDuration(61 * time.Second), "1m01s"},
		{formatDuration(3723 * time.Second), "1h02m03s"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}
