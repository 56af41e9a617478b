//go:build !linux

package main

// selfPeakRSS returns 0: the peak resident set size is read from /proc on
// Linux only.
func selfPeakRSS() int64 { return 0 }
