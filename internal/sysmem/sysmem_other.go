//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package sysmem

func available() (Memory, bool) { return Memory{}, false }
