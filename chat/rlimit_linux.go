//go:build linux && !race

package chat

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// hardMemoryLimit tells that limitMemory sets a limit the kernel enforces.
const hardMemoryLimit = true

// limitMemory lowers the process's data-segment limit (which on Linux counts
// the anonymous memory the Go heap maps) to n bytes above what it maps now,
// so that an allocation beyond it fails at once. It returns a function
// restoring the previous limit.
func limitMemory(n int64) (restore func()) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_DATA, &old); err != nil {
		return func() {}
	}
	used, ok := dataBytes()
	if !ok {
		return func() {}
	}
	lim := old
	lim.Cur = uint64(used + n)
	if lim.Cur > old.Max {
		lim.Cur = old.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &lim); err != nil {
		return func() {}
	}
	return func() { syscall.Setrlimit(syscall.RLIMIT_DATA, &old) }
}

// dataBytes returns the process's data-segment size (VmData).
func dataBytes() (int64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmData:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
