package store

import (
	"fmt"
	"sync"
)

// Progress receives the progress of a pull as it happens; the application
// renders it (the glassbox command draws a bar on a terminal). The store
// never writes to the terminal itself. A nil Progress reports nothing. It is
// called from the goroutine running the pull, once per chunk received, so it
// should return quickly (a renderer redraws at its own pace).
type Progress func(ProgressEvent)

// ProgressKind says what a ProgressEvent reports.
type ProgressKind int

// The kinds of ProgressEvent, in the order a download reports them: one
// Start, Updates as bytes arrive, one Finish. Notes come at any time.
const (
	// ProgressStart: a download of File begins, with Done bytes already
	// present (a resumed download) out of Total.
	ProgressStart ProgressKind = iota
	// ProgressUpdate: Done bytes of File are now present. Done may go back
	// (to 0 when a server refuses to resume and the download restarts).
	ProgressUpdate
	// ProgressFinish: the download of File ended, complete or not (Done
	// says how far it got).
	ProgressFinish
	// ProgressNote: Message is a line for the user, such as waiting for
	// another pull of the same model, or merging the parts of a split file.
	ProgressNote
)

// ProgressEvent is one report of a pull's progress.
type ProgressEvent struct {
	Kind    ProgressKind
	File    string // the file downloaded, as the repository names it (not set for a note)
	Total   int64  // its size in bytes; negative when unknown
	Done    int64  // its bytes present so far
	Message string // the note (ProgressNote only)
}

// reporter turns the store's view of a download (start, bytes written,
// finish) into ProgressEvents with running totals. A nil reporter, or one
// without a function, reports nothing, so callers need no checks.
type reporter struct {
	fn Progress

	mu    sync.Mutex
	file  string
	total int64
	done  int64
}

// newReporter returns a reporter calling fn, or nil when fn is nil.
func newReporter(fn Progress) *reporter {
	if fn == nil {
		return nil
	}
	return &reporter{fn: fn}
}

// Start begins the download of a file of total bytes (negative when unknown)
// of which done are already present (a resumed download).
func (r *reporter) Start(file string, total, done int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.file, r.total, r.done = file, total, done
	r.fn(ProgressEvent{Kind: ProgressStart, File: file, Total: total, Done: done})
}

// Write counts len(b) more bytes done; it makes a reporter an io.Writer for
// io.MultiWriter.
func (r *reporter) Write(b []byte) (int, error) {
	r.Add(int64(len(b)))
	return len(b), nil
}

// Add counts n more bytes done (negative to go back, as when a download
// restarts from zero).
func (r *reporter) Add(n int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += n
	r.fn(ProgressEvent{Kind: ProgressUpdate, File: r.file, Total: r.total, Done: r.done})
}

// Finish reports the end of the current download.
func (r *reporter) Finish() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(ProgressEvent{Kind: ProgressFinish, File: r.file, Total: r.total, Done: r.done})
}

// Note reports a message for a line of its own.
func (r *reporter) Note(format string, args ...any) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(ProgressEvent{Kind: ProgressNote, Message: fmt.Sprintf(format, args...)})
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
