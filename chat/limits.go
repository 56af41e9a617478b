package chat

import (
	"fmt"
	"time"
)

// Chat templates come inside downloaded model files, so they are untrusted
// code: a few bytes of Jinja can loop for hours ({% for i in range(10**8) %}),
// allocate gigabytes ({{ 'x' * 1000000000 }}), or build a list that contains
// itself and overflow the stack when printed. The jinja engine has no limits
// of its own and a Go goroutine cannot be stopped from outside, so templates
// are parsed and rendered in a separate worker process (the program's own
// executable, started with an environment variable that makes this package
// serve render requests instead of running main). The worker enforces
// Limits; the caller kills it when the limits or its context say so. Either
// way the caller gets a *LimitError naming the limit, and its process is
// unharmed.

// Default limits. They are far above what real chat templates need:
// rendering a conversation with Llama 3's or Qwen 3's template takes well
// under a millisecond, a few hundred kilobytes of memory and output a few
// hundred bytes longer than the messages; the largest templates in use loop
// over message characters, hence the per-input allowances.
const (
	// DefaultTimeLimit bounds the wall-clock time of one parse or render.
	DefaultTimeLimit = 10 * time.Second
	// DefaultMemoryLimit is the memory a render may use besides the
	// per-input allowance (MemoryPerInputByte for each byte of messages,
	// extra variables and template).
	DefaultMemoryLimit = 512 << 20
	// MemoryPerInputByte is the memory allowance for each byte of input.
	MemoryPerInputByte = 32
	// DefaultOutputLimit is the rendered text a render may produce besides
	// the per-input allowance (OutputPerInputByte for each byte of input).
	DefaultOutputLimit = 16 << 20
	// OutputPerInputByte is the output allowance for each byte of input.
	OutputPerInputByte = 8
	// DefaultRangeLimit is the most items one range() call may produce
	// (Hugging Face's sandboxed Jinja allows 100,000).
	DefaultRangeLimit = 1_000_000
	// DefaultRangeTotalLimit is the most items all range() calls of one
	// render may produce together; it stops nested loops early (a loop
	// iteration of the engine takes 1 to 3 µs).
	DefaultRangeTotalLimit = 4_000_000
	// StackLimit is the stack the engine may use: deeper nesting (or a
	// list that contains itself) is reported as exceeding the stack limit.
	StackLimit = 64 << 20
)

// Limits bound the work of one parse or render. A zero field means its
// default; negative values are invalid.
type Limits struct {
	// Time bounds the wall-clock time (default DefaultTimeLimit).
	Time time.Duration
	// Memory bounds the memory, in bytes, the render may allocate (default
	// DefaultMemoryLimit plus MemoryPerInputByte per input byte).
	Memory int64
	// Output bounds the length in bytes of the rendered text (default
	// DefaultOutputLimit plus OutputPerInputByte per input byte).
	Output int64
	// Range bounds the items of one range() call (default DefaultRangeLimit).
	Range int64
	// RangeTotal bounds the items of all range() calls of a render together
	// (default DefaultRangeTotalLimit).
	RangeTotal int64
}

// resolve fills in the defaults for an input of n bytes.
func (l Limits) resolve(n int64) (Limits, error) {
	if l.Time < 0 || l.Memory < 0 || l.Output < 0 || l.Range < 0 || l.RangeTotal < 0 {
		return l, fmt.Errorf("chat: negative rendering limit in %+v", l)
	}
	if l.Time == 0 {
		l.Time = DefaultTimeLimit
	}
	if l.Memory == 0 {
		l.Memory = DefaultMemoryLimit + MemoryPerInputByte*n
	}
	if l.Output == 0 {
		l.Output = DefaultOutputLimit + OutputPerInputByte*n
	}
	if l.Range == 0 {
		l.Range = DefaultRangeLimit
	}
	if l.RangeTotal == 0 {
		l.RangeTotal = DefaultRangeTotalLimit
	}
	return l, nil
}

// LimitError reports a template that exceeded one of its Limits. Its message
// names the limit.
type LimitError struct {
	// Limit is the limit exceeded: "time", "memory", "output", "range",
	// "range total" or "stack".
	Limit string
	// Detail says by how much.
	Detail string
}

// Error names the limit and says by how much it was exceeded.
func (e *LimitError) Error() string {
	return fmt.Sprintf("the chat template exceeded the %s limit: %s", e.Limit, e.Detail)
}

// formatSize writes a byte count in binary units.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) != 0:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
