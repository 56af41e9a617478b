//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"glassbox/internal/fixtures"
)

// TestGlassboxProcess is not a test: it is the glassbox command in the child
// processes that startGlassbox starts, so that signals reach a real process.
func TestGlassboxProcess(t *testing.T) {
	if os.Getenv("GLASSBOX_TEST_PROCESS") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Args = append([]string{"glassbox"}, args...)
	main()
	os.Exit(0)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// process is glassbox running in a child process.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
}

// startGlassbox runs glassbox with args in a child process, its stdin a pipe.
func startGlassbox(t *testing.T, args ...string) *process {
	t.Helper()
	return startGlassboxEnv(t, nil, args...)
}

// startGlassboxEnv is startGlassbox with further environment variables (NAME=VALUE).
func startGlassboxEnv(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], append([]string{"-test.run=^TestGlassboxProcess$", "--"}, args...)...)
	p.cmd.Env = append(append(os.Environ(), "GLASSBOX_TEST_PROCESS=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitFor waits until stdout satisfies ok, failing the test after a minute.
func (p *process) waitFor(what string, ok func(stdout string) bool) {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok(p.stdout.String()) {
		select {
		case <-p.done:
			p.t.Fatalf("glassbox ended while waiting for %s\nstdout:\n%s\nstderr:\n%s", what, p.stdout.String(), p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %s after a minute\nstdout:\n%s\nstderr:\n%s", what, p.stdout.String(), p.stderr.String())
		}
	}
}

func (p *process) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// exitCode waits for the process to end (a minute at most) and returns its code.
func (p *process) exitCode() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.t.Fatalf("glassbox still running a minute after the signal\nstdout:\n%s\nstderr:\n%s", p.stdout.String(), p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestInterruptRun checks that Ctrl-C (SIGINT) and SIGTERM stop a generation
// and exit quietly with 130 and 143, the line of text ended.
func TestInterruptRun(t *testing.T) {
	model := fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf")
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			// thousands of tokens: minutes of generation
			p := startGlassbox(t, "run", "-m", model, "-n", "-1", "Hello")
			p.waitFor("generated text", func(s string) bool { return len(s) > 0 })
			p.signal(tc.sig)
			if code := p.exitCode(); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if stderr := p.stderr.String(); stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			if out := p.stdout.String(); !strings.HasSuffix(out, "\n") {
				t.Errorf("the interrupted text does not end its line: %q", out[max(0, len(out)-40):])
			}
		})
	}
}

// TestInterruptBench checks that SIGINT and SIGTERM stop bench promptly,
// with 130 and 143, printing the rows measured so far.
func TestInterruptBench(t *testing.T) {
	model := fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf")
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			// pp16 is done at once; tg4096 51 times takes minutes
			p := startGlassbox(t, "bench", "-m", model, "-p", "16", "-n", "4096", "-r", "50", "-t", "1")
			time.Sleep(time.Second)
			p.signal(tc.sig)
			if code := p.exitCode(); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if stderr := p.stderr.String(); stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			if out := p.stdout.String(); !strings.Contains(out, "pp16") || strings.Contains(out, "tg4096") {
				t.Errorf("stdout should hold the pp16 row only:\n%s", out)
			}
		})
	}
}

// TestInterruptChat drives glassbox chat through a pipe: the first Ctrl-C
// stops the reply and the session goes on; Ctrl-C at the prompt quits; two
// Ctrl-C during a reply quit too.
func TestInterruptChat(t *testing.T) {
	model := chatModelFrom(t, "llama-2-tiny-random.gguf") // random weights: thousands of tokens before an end
	args := []string{"chat", "-m", model, "-n", "4000"}
	prompts := func(s string) int { return strings.Count(s, ">>> ") }
	p := startGlassbox(t, args...)
	for turn := 1; turn <= 2; turn++ {
		p.waitFor("the prompt", func(s string) bool { return prompts(s) == turn })
		fmt.Fprintf(p.stdin, "Message %d\n", turn)
		p.waitFor("a reply", func(s string) bool { return !strings.HasSuffix(s, ">>> ") })
		p.signal(syscall.SIGINT)
		p.waitFor("the prompt after the stopped reply", func(s string) bool { return prompts(s) == turn+1 })
	}
	if n := strings.Count(p.stderr.String(), "(reply stopped; Ctrl-C at the prompt quits)"); n != 2 {
		t.Errorf("%d replies stopped, want 2; stderr:\n%s", n, p.stderr.String())
	}
	p.signal(syscall.SIGINT) // at the prompt
	if code := p.exitCode(); code != 130 {
		t.Errorf("Ctrl-C at the prompt: exit code %d, want 130", code)
	}
	if strings.Contains(p.stderr.String(), "canceled") {
		t.Errorf("stderr:\n%s", p.stderr.String())
	}

	// two Ctrl-C during a reply
	p = startGlassbox(t, args...)
	p.waitFor("the prompt", func(s string) bool { return prompts(s) == 1 })
	fmt.Fprintln(p.stdin, "Hello")
	p.waitFor("a reply", func(s string) bool { return !strings.HasSuffix(s, ">>> ") })
	p.signal(syscall.SIGINT)
	time.Sleep(50 * time.Millisecond) // two signals sent at once may arrive as one
	p.signal(syscall.SIGINT)
	if code := p.exitCode(); code != 130 {
		t.Errorf("two Ctrl-C: exit code %d, want 130", code)
	}
}

// TestExitStatus checks the exit codes and messages of commands.
func TestExitStatus(t *testing.T) {
	cancelled := func(sig os.Signal) context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(interrupted{sig})
		return ctx
	}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		code   int
		stderr string
	}{
		{"success", context.Background(), nil, 0, ""},
		{"error", context.Background(), errors.New("bad flag"), 1, "glassbox: bad flag\n"},
		{"Ctrl-C", cancelled(os.Interrupt), fmt.Errorf("generate: %w", context.Canceled), 130, ""},
		{"SIGTERM", cancelled(syscall.SIGTERM), context.Canceled, 143, ""},
		{"success despite a signal", cancelled(os.Interrupt), nil, 0, ""},
		{"another error after a signal", cancelled(os.Interrupt), errors.New("disk full"), 130, "glassbox: disk full\n"},
		{"a note after the cancellation", cancelled(syscall.SIGTERM), fmt.Errorf("%w (checkpoint at step 7)", context.Canceled), 143,
			"glassbox: context canceled (checkpoint at step 7)\n"},
	} {
		var w bytes.Buffer
		if code := exitStatus(tc.ctx, tc.err, &w); code != tc.code || w.String() != tc.stderr {
			t.Errorf("%s: code %d, stderr %q; want %d, %q", tc.name, code, w.String(), tc.code, tc.stderr)
		}
	}
}
