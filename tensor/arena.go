package tensor

import "unsafe"

// hugePage is the size of a transparent huge page on the platforms that
// have them (x86-64 and arm64 Linux with 4 KiB base pages).
const hugePage = 2 << 20

// Arena is one allocation that holds the packed copies (Pack) of many
// matrices, for a model loader that knows their total (PackedBytes) before
// packing: its start is aligned to a huge page and, where the platform has
// transparent huge pages, the memory is advised to use them (madvise
// MADV_HUGEPAGE) before any page of it is touched. Token generation streams
// every packed byte once per token; with 2 MiB pages instead of 4 KiB ones
// it takes a TLB miss per 2 MiB instead of per 4 KiB, as a file mapping of
// the kernel's page cache already does (the 1B Q4_0 shape generates 3–7 %
// faster at 1 thread, measured on an AMD EPYC; see docs/performance.md).
// The copies keep the arena alive; it is released with the last of them.
// An Arena is not safe for concurrent use.
type Arena struct {
	buf []byte
}

// NewArena returns an arena of n bytes. Nothing of it is resident until a
// copy is written to it.
func NewArena(n int) *Arena {
	if n <= 0 {
		return &Arena{}
	}
	if n < hugePage {
		return &Arena{buf: make([]byte, 0, n)}
	}
	// fresh memory from the runtime is not touched until the copies are
	// written, so the slack before the aligned start costs address space only
	raw := make([]byte, n+hugePage)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&raw[0])) % hugePage); r != 0 {
		off = hugePage - r
	}
	buf := raw[off : off : off+n]
	adviseHugePages(buf[:n])
	return &Arena{buf: buf}
}

// alloc returns n zeroed bytes from the arena, 64-byte aligned within it, or
// a new allocation when the arena is nil or has too little left.
func (a *Arena) alloc(n int) []byte {
	if a == nil {
		return make([]byte, n)
	}
	start := (len(a.buf) + 63) &^ 63
	if start+n > cap(a.buf) {
		return make([]byte, n)
	}
	a.buf = a.buf[:start+n]
	return a.buf[start : start+n : start+n]
}

// Left returns the bytes the arena has not handed out.
func (a *Arena) Left() int {
	if a == nil {
		return 0
	}
	return cap(a.buf) - len(a.buf)
}
