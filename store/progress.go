package store

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress draws a one-line progress bar with bytes, speed and ETA, redrawn
// in place with carriage returns. A nil *Progress draws nothing, so callers
// need no checks.
type Progress struct {
	w     io.Writer
	width int // columns of the bar itself
	now   func() time.Time

	mu      sync.Mutex
	name    string
	total   int64
	done    int64
	started time.Time
	drawn   time.Time
	samples []sample // recent (time, bytes) pairs for the speed
}

type sample struct {
	t time.Time
	n int64
}

// redraw is the shortest interval between two redraws.
const redraw = 150 * time.Millisecond

// speedWindow is the span over which the speed is averaged.
const speedWindow = 5 * time.Second

// NewProgress returns a Progress drawing on w when w is a terminal, and nil
// (no output) otherwise, so that redirected output stays clean.
func NewProgress(w io.Writer) *Progress {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f.Fd()) {
		return nil
	}
	return NewProgressTo(w)
}

// NewProgressTo returns a Progress that always draws on w.
func NewProgressTo(w io.Writer) *Progress {
	return &Progress{w: w, width: 24, now: time.Now}
}

// Start begins a bar for a file of total bytes (negative when unknown) of
// which done are already present (a resumed download).
func (p *Progress) Start(name string, total, done int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.total, p.done = name, total, done
	p.started = p.now()
	p.samples = []sample{{p.started, done}}
	p.drawn = time.Time{}
	p.drawLocked(false)
}

// Write counts len(b) more bytes done; it makes a Progress an io.Writer for
// io.MultiWriter.
func (p *Progress) Write(b []byte) (int, error) {
	p.Add(int64(len(b)))
	return len(b), nil
}

// Add counts n more bytes done (negative to go back, as when a download
// restarts from zero).
func (p *Progress) Add(n int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if n < 0 {
		p.samples = []sample{{p.now(), p.done}}
	}
	if p.now().Sub(p.drawn) >= redraw {
		p.drawLocked(false)
	}
}

// Finish draws the bar one last time and ends its line.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked(true)
}

// Note prints a message on a line of its own.
func (p *Progress) Note(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[K"+format+"\n", args...)
}

func (p *Progress) drawLocked(final bool) {
	now := p.now()
	p.drawn = now
	p.samples = append(p.samples, sample{now, p.done})
	for len(p.samples) > 2 && now.Sub(p.samples[1].t) >= speedWindow {
		p.samples = p.samples[1:]
	}
	var speed float64
	if first := p.samples[0]; now.Sub(first.t) > 0 {
		speed = float64(p.done-first.n) / now.Sub(first.t).Seconds()
	}
	line := formatBar(p.name, p.done, p.total, speed, p.width)
	if final {
		line = formatBar(p.name, p.done, p.total, -1, p.width) + "  in " + formatDuration(now.Sub(p.started))
	}
	end := ""
	if final {
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
		fmt.Fprintf(&b, "%3d%% [%s] %s/%s", int(frac*100), bar, FormatBytes(done), FormatBytes(total))
	} else {
		b.WriteString(FormatBytes(done))
	}
	if speed >= 0 {
		fmt.Fprintf(&b, "  %s/s", FormatBytes(int64(speed)))
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

// FormatBytes renders a byte count with binary units: "512 B", "1.5 KiB",
// "3.25 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for (f >= unit || f <= -unit) && i < len(units)-1 {
		f /= unit
		i++
	}
	switch {
	case f >= 100 || f <= -100:
		return fmt.Sprintf("%.0f %s", f, units[i])
	case f >= 10 || f <= -10:
		return fmt.Sprintf("%.1f %s", f, units[i])
	}
	return fmt.Sprintf("%.2f %s", f, units[i])
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
