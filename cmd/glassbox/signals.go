package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

// interrupted is the cause of the command context's cancellation by a signal.
type interrupted struct{ sig os.Signal }

func (e interrupted) Error() string { return "interrupted by " + e.sig.String() }

// exitCode is the shell's convention for a process ended by the signal:
// 128 + its number (130 for SIGINT, 143 for SIGTERM).
func (e interrupted) exitCode() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// interruptHook, when set, sees each SIGINT before it cancels the command
// (see onInterrupt).
var interruptHook struct {
	mu sync.Mutex
	fn func() bool
}

// onInterrupt makes fn the first receiver of SIGINT until remove is called:
// when fn returns true the signal is consumed (chat stops a reply and goes
// on), otherwise it cancels the command as usual.
func onInterrupt(fn func() bool) (remove func()) {
	interruptHook.mu.Lock()
	defer interruptHook.mu.Unlock()
	interruptHook.fn = fn
	return func() {
		interruptHook.mu.Lock()
		defer interruptHook.mu.Unlock()
		interruptHook.fn = nil
	}
}

// consumeInterrupt offers a SIGINT to the hook installed by onInterrupt.
func consumeInterrupt() bool {
	interruptHook.mu.Lock()
	fn := interruptHook.fn
	interruptHook.mu.Unlock()
	return fn != nil && fn()
}

// watchSignals returns a context that SIGINT or SIGTERM cancels, with an
// interrupted cause, so that generation, downloads and benchmarks stop
// cleanly. After that first signal the default action is restored: a second
// one ends the process at once, whatever it is busy with.
func watchSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig == os.Interrupt && consumeInterrupt() {
					continue
				}
				signal.Stop(sigs)
				cancel(interrupted{sig})
				return
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel(nil)
		})
	}
}

// exitStatus reports the outcome of a command run with ctx: it prints err to
// w (as "glassbox: …") and returns the process's exit code. A command stopped
// by a signal exits with 128 + the signal's number, quietly when its error
// only says that it was cancelled (a note after it, such as where training
// left its checkpoint, is printed).
func exitStatus(ctx context.Context, err error, w io.Writer) int {
	if err == nil {
		return 0
	}
	var sig interrupted
	if errors.As(context.Cause(ctx), &sig) {
		if !errors.Is(err, context.Canceled) || !strings.HasSuffix(err.Error(), context.Canceled.Error()) {
			printError(w, err)
		}
		return sig.exitCode()
	}
	printError(w, err)
	return 1
}
