//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import "io"

// isTerminal reports whether w is a terminal; without termios, never.
func isTerminal(w io.Writer) bool { return false }
