//go:build linux

package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

func available() (Memory, bool) {
	mem, ok := memAvailable("/proc/meminfo")
	if !ok {
		return Memory{}, false
	}
	if room, ok := cgroupRoom("/sys/fs/cgroup"); ok && room < mem.Bytes {
		mem = Memory{Bytes: room, Source: "the room left under the cgroup memory limit"}
	}
	return mem, true
}

// memAvailable reads MemAvailable (in kB) from a meminfo file.
func memAvailable(path string) (Memory, bool) {
	f, err := os.Open(path)
	if err != nil {
		return Memory{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return Memory{}, false
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil || kb > 1<<53 {
			return Memory{}, false
		}
		return Memory{Bytes: kb * 1024, Source: "MemAvailable in /proc/meminfo"}, true
	}
	return Memory{}, false
}

// cgroupRoom returns the limit minus the usage of the process's cgroup (v2,
// or v1's memory controller) under root, when a limit is set.
func cgroupRoom(root string) (uint64, bool) {
	dir := root
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		// cgroup v2: a single line "0::/path"
		for _, line := range bytes.Split(b, []byte("\n")) {
			if p, ok := bytes.CutPrefix(line, []byte("0::")); ok {
				dir = root + string(bytes.TrimSpace(p))
			}
		}
	}
	for _, d := range []string{dir, root} {
		limit, ok1 := readUint(d + "/memory.max")
		usage, ok2 := readUint(d + "/memory.current")
		if ok1 && ok2 {
			return sub(limit, usage), true
		}
	}
	limit, ok1 := readUint(root + "/memory/memory.limit_in_bytes")
	usage, ok2 := readUint(root + "/memory/memory.usage_in_bytes")
	if ok1 && ok2 && limit < 1<<62 { // v1 reports "no limit" as a huge number
		return sub(limit, usage), true
	}
	return 0, false
}

// readUint reads a file holding one number ("max" means no limit: false).
func readUint(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	return n, err == nil
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
