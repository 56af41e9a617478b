//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly && !windows

package store

// isTerminal reports false: terminals are not detected on this platform, so
// no progress bar is drawn.
func isTerminal(fd uintptr) bool { return false }
