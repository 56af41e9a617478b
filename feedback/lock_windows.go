//go:build windows

package feedback

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockExclusive waits for an exclusive LockFileEx lock on f.
func lockExclusive(f *os.File) error { return lock(f, windows.LOCKFILE_EXCLUSIVE_LOCK) }

// lockShared waits for a shared LockFileEx lock on f.
func lockShared(f *os.File) error { return lock(f, 0) }

func lock(f *os.File, flags uint32) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, new(windows.Overlapped))
}

func unlockFile(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}
