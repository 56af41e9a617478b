package tensor

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestArenaHugePageAdvice checks that a large arena's memory is eligible for
// transparent huge pages (its mapping's THPeligible in /proc/self/smaps) on
// a kernel where they are used only where advised, or always.
func TestArenaHugePageAdvice(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("transparent huge pages are off here (%q, %v)", strings.TrimSpace(string(mode)), err)
	}
	a := NewArena(4 * hugePage)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(a.buf)))
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, found := false, false
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			lo, hi, _ := strings.Cut(fields[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= l && uint64(addr) < h
			continue
		}
		if in && strings.HasPrefix(line, "THPeligible:") {
			found = true
			if v := strings.TrimSpace(strings.TrimPrefix(line, "THPeligible:")); v != "1" {
				t.Fatalf("the arena's mapping has THPeligible %s, want 1 (transparent huge pages: %s)", v, strings.TrimSpace(string(mode)))
			}
		}
	}
	if !found {
		t.Skip("smaps has no THPeligible line for the arena's mapping")
	}
	runtime.KeepAlive(a)
}
