package main

import (
	"os"
	"strconv"
	"strings"
)

// selfPeakRSS returns this process's peak resident set size in bytes (the
// VmHWM line of /proc/self/status: the high-water mark of the memory mapped
// since exec, so a parent's memory never counts), or 0 when it cannot be
// read.
func selfPeakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}
