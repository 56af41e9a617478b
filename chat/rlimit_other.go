//go:build !linux

package chat

// limitMemory has no hard memory limit to set on this system: the worker's
// watchdog alone enforces Limits.Memory.
func limitMemory(n int64) (restore func()) { return func() {} }
