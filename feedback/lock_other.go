//go:build !unix && !windows

package feedback

import (
	"os"
	"sync"
)

// Platforms without file locks (js/wasm, plan9) order the writers of the
// process only.
var fileLock sync.Mutex

func lockExclusive(f *os.File) error { fileLock.Lock(); return nil }

func lockShared(f *os.File) error { fileLock.Lock(); return nil }

// unlockFile releases the lock (readers take the same one as writers).
func unlockFile(f *os.File) error { fileLock.Unlock(); return nil }
