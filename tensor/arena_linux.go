package tensor

import "golang.org/x/sys/unix"

// adviseHugePages advises the kernel to back the whole 2 MiB pages of b with
// transparent huge pages (madvise MADV_HUGEPAGE). It is only advice: with
// transparent huge pages off, or the advice refused, b keeps base pages.
func adviseHugePages(b []byte) {
	if len(b) < hugePage {
		return
	}
	_ = unix.Madvise(b[:len(b)&^(hugePage-1)], unix.MADV_HUGEPAGE) // a hint: the copies work without it
}
