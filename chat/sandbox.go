package chat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Operations a worker performs.
const (
	opParse  = "parsing"
	opRender = "rendering"
)

// Requests and responses travel as gob, which keeps strings' bytes as they
// are (JSON would replace invalid UTF-8).

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func decode(b []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(b)).Decode(v)
}

// request is what the caller sends a worker.
type request struct {
	Op                  string            `json:"op"`
	Template            string            `json:"template"`
	Messages            []Message         `json:"messages,omitempty"`
	AddGenerationPrompt bool              `json:"add_generation_prompt,omitempty"`
	BOSToken            string            `json:"bos_token,omitempty"`
	EOSToken            string            `json:"eos_token,omitempty"`
	Extra               json.RawMessage   `json:"extra,omitempty"`
	Tools               []json.RawMessage // each tool as a JSON object
	Now                 int64             `json:"now"`
	Zone                string            `json:"zone"`
	ZoneOffset          int               `json:"zone_offset"`
	Limits              Limits            `json:"limits"`
}

// response is a worker's answer; the rendered text follows it in its own frame.
type response struct {
	Error  string `json:"error,omitempty"`
	Raised bool   `json:"raised,omitempty"` // Error is a raise_exception message
	Limit  string `json:"limit,omitempty"`  // Error is the detail of a LimitError
	Retire bool   `json:"retire,omitempty"` // the worker exits after answering
}

func (r *response) setError(err error) {
	var raised *RaiseError
	var lim *LimitError
	switch {
	case errors.As(err, &lim):
		r.Limit, r.Error = lim.Limit, lim.Detail
	case errors.As(err, &raised):
		r.Raised, r.Error = true, raised.Message
	default:
		r.Error = err.Error()
	}
}

func (r *response) err() error {
	switch {
	case r.Limit != "":
		return &LimitError{Limit: r.Limit, Detail: r.Error}
	case r.Raised:
		return &RaiseError{Message: r.Error}
	case r.Error != "":
		return errors.New(r.Error)
	}
	return nil
}

// writeFrame writes a length-prefixed frame.
func writeFrame(w io.Writer, b []byte) error {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// readFrame reads a frame of at most max bytes.
func readFrame(r io.Reader, max int64) ([]byte, error) {
	var n [8]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint64(n[:])
	if size > uint64(max) {
		return nil, fmt.Errorf("frame of %d bytes, at most %d expected", size, max)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}

// Worker processes.
const (
	maxIdle     = 2               // idle workers kept for reuse
	idleTimeout = time.Minute     // an idle worker exits after this
	killGrace   = 2 * time.Second // the caller's margin over Limits.Time
	headerMax   = 1 << 20         // bytes of a response header
	stderrKeep  = 8 << 10         // first bytes of a worker's error output kept
)

var pool struct {
	mu   sync.Mutex
	idle []*proc
}

// slots bounds the workers running at once.
var slots = make(chan struct{}, max(4, 2*runtime.NumCPU()))

// liveWorkers counts worker processes not yet reaped.
var liveWorkers atomic.Int64

// proc is a worker process.
type proc struct {
	cmd    *exec.Cmd
	in     *os.File // the worker's standard input
	out    *os.File // the worker's standard output
	rd     *bufio.Reader
	stderr *headBuffer
	exited chan struct{}
	timer  *time.Timer // closes an idle worker
}

// headBuffer keeps the first bytes written to it (where a crashing Go
// program says why).
type headBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p[:min(len(p), stderrKeep-len(t.buf))]...)
	return len(p), nil
}

func (t *headBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// startWorker starts a worker process: this program's executable, which
// serves requests from this package's init.
func startWorker() (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("starting the template worker: %w", err)
	}
	if runtime.GOOS == "linux" {
		// Still there when the executable was replaced or deleted (an
		// upgrade under a running server).
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			exe = "/proc/self/exe"
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting the template worker: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("starting the template worker: %w", err)
	}
	p := &proc{in: inW, out: outR, rd: bufio.NewReader(outR), stderr: &headBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(exe)
	// A crash report without goroutine dumps is quicker to write. One
	// thread renders: a template gets one core, and an allocation failing
	// under the memory limit cannot race a garbage collector running on
	// another thread (which can then fault instead of reporting "out of
	// memory").
	p.cmd.Env = append(os.Environ(), workerEnv+"=1", "GOTRACEBACK=none", "GOMAXPROCS=1")
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	err = p.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting the template worker %s: %w", exe, err)
	}
	liveWorkers.Add(1)
	go func() {
		p.cmd.Wait()
		liveWorkers.Add(-1)
		close(p.exited)
	}()
	return p, nil
}

// kill ends the worker and waits for it.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	p.in.Close()
	<-p.exited
	p.out.Close()
}

// close asks the worker to exit (it does when its input ends).
func (p *proc) close() {
	p.in.Close()
	go func() {
		<-p.exited
		p.out.Close()
	}()
}

// takeWorker returns an idle worker or starts one.
func takeWorker() (*proc, error) {
	pool.mu.Lock()
	for len(pool.idle) > 0 {
		p := pool.idle[len(pool.idle)-1]
		pool.idle = pool.idle[:len(pool.idle)-1]
		p.timer.Stop()
		select {
		case <-p.exited:
			p.out.Close()
			p.in.Close()
			continue
		default:
		}
		pool.mu.Unlock()
		return p, nil
	}
	pool.mu.Unlock()
	return startWorker()
}

// putWorker keeps a worker for reuse, or closes it.
func putWorker(p *proc) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if len(pool.idle) >= maxIdle {
		p.close()
		return
	}
	pool.idle = append(pool.idle, p)
	p.timer = time.AfterFunc(idleTimeout, func() {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		for i, q := range pool.idle {
			if q == p {
				pool.idle = append(pool.idle[:i], pool.idle[i+1:]...)
				p.close()
				return
			}
		}
	})
}

// crashError explains why a worker ended without answering.
func (p *proc) crashError(req *request) error {
	<-p.exited
	log := p.stderr.String()
	switch {
	// When the kernel refuses the runtime memory, the runtime reports it;
	// or, if a garbage collector thread touches the memory first, it
	// faults (neither the engine nor this package uses unsafe or cgo, so
	// nothing else makes the worker fault).
	case strings.Contains(log, "out of memory") || strings.Contains(log, "cannot allocate memory") ||
		hardMemoryLimit && (strings.Contains(log, "SIGSEGV") || strings.Contains(log, "unexpected signal")):
		return &LimitError{Limit: "memory", Detail: fmt.Sprintf("%s needed more than %s", req.Op, formatSize(req.Limits.Memory))}
	case strings.Contains(log, "stack overflow") || strings.Contains(log, "stack exceeds"):
		return &LimitError{Limit: "stack", Detail: fmt.Sprintf("%s nested deeper than %s of stack allow (a value that contains itself does this when printed)", req.Op, formatSize(StackLimit))}
	}
	line := strings.TrimSpace(log)
	if i := strings.Index(line, "\n"); i >= 0 {
		line = line[:i]
	}
	if line == "" {
		line = p.cmd.ProcessState.String()
	}
	return fmt.Errorf("the template worker process failed: %s", line)
}

// call has a worker carry out req, and returns the rendered text.
func call(ctx context.Context, req *request) (string, error) {
	frame, err := encode(req)
	if err != nil {
		return "", err
	}
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-slots }()
	p, err := takeWorker()
	if err != nil {
		return "", err
	}
	type result struct {
		resp response
		out  []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		if r.err = writeFrame(p.in, frame); r.err != nil {
			return
		}
		head, err := readFrame(p.rd, headerMax)
		if err != nil {
			r.err = err
			return
		}
		if r.err = decode(head, &r.resp); r.err != nil {
			return
		}
		r.out, r.err = readFrame(p.rd, req.Limits.Output)
	}()
	timer := time.NewTimer(req.Limits.Time + killGrace)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			p.kill()
			return "", p.crashError(req)
		}
		if r.resp.Retire {
			p.close()
		} else {
			putWorker(p)
		}
		if err := r.resp.err(); err != nil {
			return "", err
		}
		return string(r.out), nil
	case <-ctx.Done():
		p.kill()
		<-done
		return "", ctx.Err()
	case <-timer.C:
		p.kill()
		<-done
		return "", &LimitError{Limit: "time", Detail: fmt.Sprintf("%s did not finish within %s", req.Op, req.Limits.Time)}
	}
}
