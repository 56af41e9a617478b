//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package sysmem

import (
	"runtime"

	"golang.org/x/sys/unix"
)

func available() (Memory, bool) {
	names := []string{"hw.physmem"}
	switch runtime.GOOS {
	case "darwin":
		names = []string{"hw.memsize"}
	case "netbsd", "openbsd":
		names = []string{"hw.physmem64", "hw.physmem"}
	}
	for _, name := range names {
		if n, err := unix.SysctlUint64(name); err == nil && n > 0 {
			return Memory{Bytes: n, Source: "physical memory (" + name + ")"}, true
		}
	}
	return Memory{}, false
}
