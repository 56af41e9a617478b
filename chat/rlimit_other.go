//go:build !linux || race

package chat

// hardMemoryLimit tells that limitMemory sets a limit the kernel enforces.
const hardMemoryLimit = false

// limitMemory has no hard memory limit to set on this system (nor under the
// race detector, whose runtime maps gigabytes of shadow memory): the
// worker's watchdog alone enforces Limits.Memory.
func limitMemory(n int64) (restore func()) { return func() {} }
