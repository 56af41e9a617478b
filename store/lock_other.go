//go:build !unix && !windows

package store

import (
	"context"
	"sync"
	"time"
)

// Platforms without file locks (js/wasm, plan9) serialise pulls within the
// process only.
var (
	lockMu   sync.Mutex
	lockHeld = map[string]bool{}
)

// lockFile marks path as held by this process, waiting (polling, so that ctx
// can cancel) while another goroutine holds it; waiting is called once when
// it must wait.
func lockFile(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	told := false
	for {
		lockMu.Lock()
		if !lockHeld[path] {
			lockHeld[path] = true
			lockMu.Unlock()
			return func() {
				lockMu.Lock()
				delete(lockHeld, path)
				lockMu.Unlock()
			}, nil
		}
		lockMu.Unlock()
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
