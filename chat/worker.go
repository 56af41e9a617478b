package chat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/ardanlabs/jinja"
)

// workerEnv, set to "1" in a process's environment, makes it a template
// worker: this package's init serves requests on stdin and stdout and exits
// without running the program's main.
const workerEnv = "GLASSBOX_CHAT_TEMPLATE_WORKER"

func init() {
	if os.Getenv(workerEnv) != "1" {
		return
	}
	os.Exit(serveWorker(os.Stdin, os.Stdout))
}

// retireAbove is the memory mapped by the Go runtime after a request above
// which a worker exits instead of serving more: every request starts small,
// so that its memory limit is not met by reusing memory an earlier request
// mapped (the runtime never unmaps it).
const retireAbove = 256 << 20

// worker is the state of a worker process.
type worker struct {
	mu       sync.Mutex // serializes answers
	out      io.Writer
	answered bool
	cache    map[string]*jinja.Template
}

// serveWorker answers requests until its input ends. It returns the exit code.
func serveWorker(in io.Reader, out io.Writer) int {
	// Anything else printing to standard output must not corrupt answers.
	os.Stdout = os.Stderr
	// Ctrl-C in a terminal reaches the whole process group: the caller
	// decides what it means, and cancels the render if it should stop.
	signal.Ignore(os.Interrupt)
	debug.SetMaxStack(StackLimit)
	w := &worker{out: out, cache: make(map[string]*jinja.Template)}
	r := bufio.NewReader(in)
	for {
		frame, err := readFrame(r, 1<<62)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "chat template worker:", err)
			return 1
		}
		var req request
		if err := decode(frame, &req); err != nil {
			fmt.Fprintln(os.Stderr, "chat template worker: bad request:", err)
			return 1
		}
		if !w.serve(&req) {
			return 0
		}
	}
}

// heapSample is read by heapBytes; the watchdog must not allocate (it would
// be made to assist the garbage collector).
var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// mappedBytes returns the memory the Go runtime has mapped.
func mappedBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// heapBytes returns the bytes of heap objects, live or not yet swept. Only
// one goroutine at a time may call it.
func heapBytes() int64 {
	metrics.Read(heapSample)
	return int64(heapSample[0].Value.Uint64())
}

// serve answers one request, enforcing its limits. It reports whether the
// worker should go on serving.
func (w *worker) serve(req *request) bool {
	lim := req.Limits
	base := heapBytes()
	debug.SetMemoryLimit(base + lim.Memory)
	// The hard limit stops single huge allocations the watchdog would only
	// see after the fact.
	restore := limitMemory(lim.Memory + lim.Memory/4)
	defer restore()
	w.mu.Lock()
	w.answered = false
	w.mu.Unlock()

	done := make(chan struct{})
	var watching sync.WaitGroup
	watching.Add(1)
	go func() {
		defer watching.Done()
		deadline := time.NewTimer(lim.Time)
		defer deadline.Stop()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-deadline.C:
				w.abort(&LimitError{Limit: "time", Detail: fmt.Sprintf("%s did not finish within %s", req.Op, lim.Time)})
			case <-tick.C:
				if heapBytes()-base > lim.Memory {
					w.abort(&LimitError{Limit: "memory", Detail: fmt.Sprintf("%s needed more than %s", req.Op, formatSize(lim.Memory))})
				}
			}
		}
	}()

	out, err := w.run(req)
	close(done)
	watching.Wait()
	resp := response{}
	if err == nil && int64(len(out)) > lim.Output {
		err = &LimitError{Limit: "output", Detail: fmt.Sprintf("the rendered text would be %d bytes, more than the %s allowed", len(out), formatSize(lim.Output))}
		out = ""
	}
	if err != nil {
		resp.setError(err)
		out = ""
	}
	debug.SetMemoryLimit(math.MaxInt64)
	resp.Retire = mappedBytes() > retireAbove
	w.answer(&resp, out)
	return !resp.Retire
}

// abort answers with err and ends the worker process.
func (w *worker) abort(err error) {
	resp := response{Retire: true}
	resp.setError(err)
	w.answer(&resp, "")
	os.Exit(0)
}

// answer writes the response to the current request unless one was written.
func (w *worker) answer(resp *response, out string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.answered {
		return
	}
	w.answered = true
	head, err := encode(resp)
	if err != nil {
		panic(err) // a response is always representable
	}
	var buf bytes.Buffer
	writeFrame(&buf, head)
	writeFrame(&buf, []byte(out))
	if _, err := w.out.Write(buf.Bytes()); err != nil {
		os.Exit(1) // the caller is gone
	}
}

// compile parses a template, reusing the last ones parsed.
func (w *worker) compile(src string) (*jinja.Template, error) {
	if t, ok := w.cache[src]; ok {
		return t, nil
	}
	t, err := jinja.Compile(src)
	if err != nil {
		return nil, err
	}
	if len(w.cache) >= 16 {
		clear(w.cache)
	}
	w.cache[src] = t
	return t, nil
}

// run carries out a request.
func (w *worker) run(req *request) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("jinja engine failed: %v", r)
		}
	}()
	tmpl, err := w.compile(req.Template)
	if err != nil || req.Op == opParse {
		return "", err
	}
	return render(tmpl, req)
}

// render renders a request's messages with tmpl.
func render(tmpl *jinja.Template, req *request) (string, error) {
	data := make(map[string]jinja.Value, 8)
	if len(req.Extra) > 0 {
		dec := json.NewDecoder(bytes.NewReader(req.Extra))
		dec.UseNumber()
		var extra map[string]any
		if err := dec.Decode(&extra); err != nil {
			return "", fmt.Errorf("decoding Options.Extra: %w", err)
		}
		for k, v := range extra {
			data[k] = jinja.FromGoValue(v)
		}
	}
	list := make([]jinja.Value, len(req.Messages))
	harmony := IsHarmony(req.Template)
	for i, m := range req.Messages {
		list[i] = messageValue(m, harmony)
	}
	data["messages"] = jinja.NewList(list)
	if len(req.Tools) > 0 {
		tools := make([]jinja.Value, len(req.Tools))
		for i, raw := range req.Tools {
			v, err := jsonValue(raw)
			if err != nil {
				return "", fmt.Errorf("decoding tool %d: %w", i, err)
			}
			tools[i] = v
		}
		data["tools"] = jinja.NewList(tools)
	}
	data["add_generation_prompt"] = jinja.NewBool(req.AddGenerationPrompt)
	data["bos_token"] = jinja.NewString(req.BOSToken)
	data["eos_token"] = jinja.NewString(req.EOSToken)
	var raised *RaiseError
	data["raise_exception"] = jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		msg := "raise_exception called without a message"
		if len(args) > 0 {
			if args[0].IsString() {
				msg = args[0].AsString()
			} else {
				msg = args[0].String()
			}
		}
		raised = &RaiseError{Message: msg}
		return jinja.Undefined(), raised
	})
	now := time.Unix(0, req.Now).In(time.FixedZone(req.Zone, req.ZoneOffset))
	data["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 || !args[0].IsString() {
			return jinja.Undefined(), errors.New("strftime_now expects one format string")
		}
		return jinja.NewString(Strftime(now, args[0].AsString())), nil
	})
	rng := &boundedRange{lim: req.Limits}
	data["range"] = jinja.NewCallable("range", rng.call)

	out, err := tmpl.RenderValues(data)
	if err != nil {
		// Keep the template's own error, or the limit, as the cause,
		// whatever wrapping the engine does.
		if rng.err != nil {
			return "", rng.err
		}
		if raised != nil && strings.Contains(err.Error(), raised.Error()) {
			return "", raised
		}
		return "", err
	}
	return out, nil
}

// boundedRange is range() with Limits.Range and Limits.RangeTotal.
type boundedRange struct {
	lim   Limits
	total int64
	err   *LimitError
}

func (b *boundedRange) call(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	start, stop, step := int64(0), int64(0), int64(1)
	switch len(args) {
	case 1:
		stop = toInt(args[0])
	case 2:
		start, stop = toInt(args[0]), toInt(args[1])
	case 3:
		start, stop, step = toInt(args[0]), toInt(args[1]), toInt(args[2])
	default:
		return jinja.Undefined(), fmt.Errorf("range: expected 1-3 arguments, got %d", len(args))
	}
	if step == 0 {
		return jinja.Undefined(), errors.New("range: step must not be zero")
	}
	n := rangeLen(start, stop, step)
	if n > uint64(b.lim.Range) {
		strs := make([]string, len(args))
		for i, a := range args {
			strs[i] = a.String()
		}
		b.err = &LimitError{Limit: "range", Detail: fmt.Sprintf("range(%s) would produce %d items, more than the %d allowed", strings.Join(strs, ", "), n, b.lim.Range)}
		return jinja.Undefined(), b.err
	}
	if b.total += int64(n); b.total > b.lim.RangeTotal {
		b.err = &LimitError{Limit: "range total", Detail: fmt.Sprintf("the range() calls of one render produced more than the %d items allowed together", b.lim.RangeTotal)}
		return jinja.Undefined(), b.err
	}
	items := make([]jinja.Value, n)
	for i := range items {
		items[i] = jinja.NewInt(start + int64(i)*step)
	}
	return jinja.NewList(items), nil
}

// rangeLen is the number of items of range(start, stop, step), step != 0.
func rangeLen(start, stop, step int64) uint64 {
	if step > 0 {
		if start >= stop {
			return 0
		}
		return (uint64(stop)-uint64(start)-1)/uint64(step) + 1
	}
	if start <= stop {
		return 0
	}
	return (uint64(start)-uint64(stop)-1)/(-uint64(step)) + 1
}

// toInt converts a range() argument as the engine converts numbers.
func toInt(v jinja.Value) int64 {
	switch {
	case v.IsInt():
		return v.AsInt()
	case v.IsFloat():
		return int64(v.AsFloat())
	case v.IsBool():
		if v.AsBool() {
			return 1
		}
		return 0
	case v.IsString():
		var n int64
		fmt.Sscanf(v.AsString(), "%d", &n)
		return n
	}
	return 0
}
