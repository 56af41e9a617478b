package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"glassbox/store"
)

// progressBar draws the store's progress reports (store.ProgressEvent) as a
// one-line bar with bytes, speed and ETA, redrawn in place with carriage
// returns; notes get a line of their own.
type progressBar struct {
	w     io.Writer
	width int // columns of the bar itself
	now   func() time.Time

	mu      sync.Mutex
	name    string
	total   int64
	done    int64
	started time.Time
	drawn   time.Time
	samples []progressSample // recent (time, bytes) pairs for the speed
}

type progressSample struct {
	t time.Time
	n int64
}

// redrawEvery is the shortest interval between two redraws.
const redrawEvery = 150 * time.Millisecond

// speedWindow is the span over which the speed is averaged.
const speedWindow = 5 * time.Second

// newProgress returns the progress callback of a pull: a bar drawn on w when
// w is a terminal, and nil (no output) otherwise, so that redirected output
// stays clean.
func newProgress(w io.Writer) store.Progress {
	if !isTerminal(w) {
		return nil
	}
	return newProgressBar(w).report
}

// newProgressBar returns a bar that always draws on w.
func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, width: 24, now: time.Now}
}

// report draws one progress event.
func (p *progressBar) report(ev store.ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Kind {
	case store.ProgressStart:
		p.name, p.total, p.done = ev.File, ev.Total, ev.Done
		p.started = p.now()
		p.samples = []progressSample{{p.started, ev.Done}}
		p.drawn = time.Time{}
		p.draw(false)
	case store.ProgressUpdate:
		back := ev.Done < p.done
		p.total, p.done = ev.Total, ev.Done
		if back { // a restart: the speed starts over
			p.samples = []progressSample{{p.now(), p.done}}
		}
		if p.now().Sub(p.drawn) >= redrawEvery {
			p.draw(false)
		}
	case store.ProgressFinish:
		p.total, p.done = ev.Total, ev.Done
		p.draw(true)
	case store.ProgressNote:
		fmt.Fprintf(p.w, "\r\x1b[K%s\n", ev.Message)
	}
}

func (p *progressBar) draw(final bool) {
	now := p.now()
	p.drawn = now
	p.samples = append(p.samples, progressSample{now, p.done})
	for len(p.samples) > 2 && now.Sub(p.samples[1].t) >= speedWindow {
		p.samples = p.samples[1:]
	}
	var speed float64
	if first := p.samples[0]; now.Sub(first.t) > 0 {
		speed = float64(p.done-first.n) / now.Sub(first.t).Seconds()
	}
	line := formatBar(p.name, p.done, p.total, speed, p.width)
	end := ""
	if final {
		line = formatBar(p.name, p.done, p.total, -1, p.width) + "  in " + formatDuration(now.Sub(p.started))
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s%s", line, end)
}

// formatBar renders "NAME  42% [=====>    ] 1.2 MiB/3.0 MiB  2.0 MiB/s  ETA 1s";
// speed < 0 leaves out the speed and ETA.
func formatBar(name string, done, total int64, speed float64, width int) string {
	var b strings.Builder
	if name != "" {
		b.WriteString(name)
		b.WriteString("  ")
	}
	if total > 0 {
		frac := float64(done) / float64(total)
		frac = max(0, min(1, frac))
		fill := int(frac * float64(width))
		bar := strings.Repeat("=", fill)
		if fill < width {
			bar += ">" + strings.Repeat(" ", width-fill-1)
		}
		fmt.Fprintf(&b, "%3d%% [%s] %s/%s", int(frac*100), bar, store.FormatBytes(done), store.FormatBytes(total))
	} else {
		b.WriteString(store.FormatBytes(done))
	}
	if speed >= 0 {
		fmt.Fprintf(&b, "  %s/s", store.FormatBytes(int64(speed)))
		if total > 0 && done < total {
			if speed > 0 {
				eta := time.Duration(float64(total-done) / speed * float64(time.Second))
				fmt.Fprintf(&b, "  ETA %s", formatDuration(eta))
			} else {
				b.WriteString("  ETA --")
			}
		}
	}
	return b.String()
}

// formatDuration renders a duration rounded to the second, such as "1h02m03s",
// "4m05s" or "7s".
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d > 999*time.Hour {
		return ">999h"
	}
	s := int64(d.Round(time.Second) / time.Second)
	h, m := s/3600, s/60%60
	s %= 60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// isTerminal reports whether w is a terminal (a console on Windows).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
