//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package bench

// peakRSS returns 0: this platform has no getrusage.
func peakRSS() int64 { return 0 }
