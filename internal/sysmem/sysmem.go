// Package sysmem reports how much memory the process can still allocate, so
// that large buffers (a KV cache) are refused with a clear message instead of
// ending the process with the Go runtime's "fatal error: out of memory".
package sysmem

import "sync/atomic"

// Memory is an estimate of the memory available to the process.
type Memory struct {
	// Bytes is the number of bytes available.
	Bytes uint64
	// Source says where the figure comes from, such as "MemAvailable in
	// /proc/meminfo" or "physical memory".
	Source string
}

// pretend, when set, replaces the system's figure (see Pretend).
var pretend atomic.Pointer[Memory]

// Available returns the memory the process can still use, and false when the
// platform gives no way to know it.
//
// On Linux it is MemAvailable from /proc/meminfo (free memory plus the caches
// the kernel can reclaim), lowered to the room left under the cgroup's memory
// limit when there is one (containers). On macOS and the BSDs it is the
// physical memory, on Windows the available physical memory.
func Available() (Memory, bool) {
	if m := pretend.Load(); m != nil {
		return *m, true
	}
	return available()
}

// Pretend makes Available report m until restore is called, so that tests
// can check what happens on a machine with that much memory.
func Pretend(m Memory) (restore func()) {
	old := pretend.Swap(&m)
	return func() { pretend.Store(old) }
}
