//go:build unix

package feedback

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockExclusive waits for an exclusive flock on f (the feedback file
// itself: appends are short, so a blocking lock is fair to every writer).
func lockExclusive(f *os.File) error { return flock(f, unix.LOCK_EX) }

// lockShared waits for a shared flock on f: readers exclude writers only.
func lockShared(f *os.File) error { return flock(f, unix.LOCK_SH) }

func unlockFile(f *os.File) error { return flock(f, unix.LOCK_UN) }

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
