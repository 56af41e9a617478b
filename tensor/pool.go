package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallelMin is the number of multiply-adds below which a product runs on
// the calling goroutine alone: waking workers costs more than it saves.
const parallelMin = 1 << 16

// workerPool is the persistent set of goroutines that MatVec and MatMul
// split rows over. The calling goroutine works too, so a pool for t threads
// runs t-1 workers.
type workerPool struct {
	threads atomic.Int32

	mu      sync.Mutex // held for a whole parallel product and by SetThreads
	jobs    chan *poolJob
	running int // workers started on jobs
	job     poolJob
}

// poolJob is the work being done, a product or a Parallel call, and its
// chunk counter.
type poolJob struct {
	ps      [maxMulti]product        // the products, one after the other, when fn is nil
	np      int                      // how many of ps are in use
	fn      func(lo, hi, worker int) // the Parallel body, or nil
	n       int                      // rows or iterations
	packed  bool                     // a product runs over a packed copy
	stream  bool                     // every product has one activation row
	chunk   int
	next    atomic.Int64
	ids     atomic.Int32 // worker numbers handed out (the caller is 0)
	pending atomic.Int32 // workers not done yet (the caller spins on it)
	wg      sync.WaitGroup
}

var pool = func() *workerPool {
	p := &workerPool{}
	p.threads.Store(int32(runtime.NumCPU()))
	return p
}()

// SetThreads sets the number of goroutines (the caller included) that MatVec
// and MatMul use; n < 1 means runtime.NumCPU(). Workers are persistent: they
// are started once and reused by every call.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.NumCPU()
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	pool.threads.Store(int32(n))
	if pool.jobs != nil && pool.running != n-1 {
		close(pool.jobs) // the old workers exit; new ones start on next use
		pool.jobs = nil
		pool.running = 0
	}
}

// Threads returns the number of goroutines MatVec and MatMul use.
func Threads() int { return int(pool.threads.Load()) }

// work computes chunks until none is left; worker numbers the goroutine.
func (j *poolJob) work(worker int) {
	n := j.n
	for {
		hi := int(j.next.Add(int64(j.chunk)))
		lo := hi - j.chunk
		if lo >= n {
			return
		}
		if j.fn != nil {
			j.fn(lo, min(hi, n), worker)
		} else {
			j.products(lo, min(hi, n))
		}
	}
}

// spinTime is how long an idle worker (or a caller waiting for its workers)
// polls before it blocks. A decode step hands out work about a hundred
// times, with serial work between (norms, the cache stores, a batched
// pass's hand-over to the next round) that can take a few hundred
// microseconds, and waking a parked goroutine takes 50 µs to 1 ms: a worker
// that blocked in such a gap joins the next product late, leaving the caller
// to do most of it (measured on a 2-core server decoding four streams, a
// spin of about 40 µs left the worker late for a quarter of the time, one
// of 1 ms for a twentieth). The polling stops at once when work comes.
const spinTime = time.Millisecond

// spinCheck is how many polls go between two readings of the clock.
const spinCheck = 256

// products computes rows [lo, hi) of the job's products taken one after
// the other.
func (j *poolJob) products(lo, hi int) {
	off := 0
	for k := 0; k < j.np && lo < hi; k++ {
		p := &j.ps[k]
		if lo < off+p.rows {
			b := min(hi-off, p.rows)
			p.rowsRange(lo-off, b)
			lo = off + b
		}
		off += p.rows
	}
}

func worker(jobs chan *poolJob) {
	for {
		if len(jobs) == 0 {
			t0 := time.Now()
			for i := 1; len(jobs) == 0; i++ {
				if i%spinCheck == 0 && time.Since(t0) > spinTime {
					break
				}
			}
		}
		j, ok := <-jobs
		if !ok {
			return
		}
		j.work(int(j.ids.Add(1)))
		j.wg.Done()
		j.pending.Add(-1)
	}
}

// run computes the product p, in parallel when it is large enough and the
// pool is free (a concurrent caller computes on its own goroutine instead).
func run(p product) {
	ps := [1]product{p}
	runMulti(ps[:])
}

// runMulti computes the products ps (at most maxMulti) as one parallel job
// over their rows taken one after the other.
func runMulti(ps []product) {
	rows, work := 0, 0
	for i := range ps {
		rows += ps[i].rows
		work += ps[i].rows * ps[i].n * ps[i].w.Cols
	}
	if Threads() <= 1 || rows < 2 || work < parallelMin || !pool.mu.TryLock() {
		for i := range ps {
			ps[i].rowsRange(0, ps[i].rows)
		}
		return
	}
	defer pool.mu.Unlock()
	j := &pool.job
	j.np = copy(j.ps[:], ps)
	j.packed, j.stream = false, true
	for i := range ps {
		j.packed = j.packed || ps[i].gemv16 != nil
		j.stream = j.stream && ps[i].n == 1
	}
	pool.dispatch(rows, Threads())
	j.ps, j.np = [maxMulti]product{}, 0 // do not keep the caller's buffers alive
}

// Parallel calls fn(lo, hi, worker) on disjoint ranges [lo, hi) that
// together cover [0, n), from at most min(workers, Threads()) goroutines of
// the persistent pool (the caller included). worker, in [0, workers), tells
// which goroutine runs the range, so fn can use per-worker scratch: no two
// concurrent calls of fn get the same worker. Ranges are handed out in
// chunks of about n/(8×goroutines) in increasing order. Parallel returns
// when every range is done; it runs everything on the caller, as
// fn(0, n, 0), when workers or Threads() is 1 or the pool is busy with
// another call. fn is kept only during the call: pass a function value
// built once to avoid an allocation per call.
func Parallel(n, workers int, fn func(lo, hi, worker int)) {
	if n <= 0 {
		return
	}
	t := min(workers, Threads())
	if t <= 1 || n < 2 || !pool.mu.TryLock() {
		fn(0, n, 0)
		return
	}
	defer pool.mu.Unlock()
	j := &pool.job
	j.fn = fn
	j.packed, j.stream = false, false
	pool.dispatch(n, min(workers, Threads()))
	j.fn = nil
}

// dispatch runs pool.job over n rows or iterations on up to t goroutines;
// the caller holds pool.mu.
func (wp *workerPool) dispatch(n, t int) {
	t = max(1, t)
	if th := Threads(); wp.jobs != nil && wp.running != th-1 {
		close(wp.jobs) // SetThreads ran since the workers started
		wp.jobs = nil
	}
	if wp.jobs == nil {
		th := Threads()
		wp.jobs = make(chan *poolJob, th)
		wp.running = th - 1
		for i := 0; i < th-1; i++ {
			go worker(wp.jobs)
		}
	}
	nw := min(t, n, wp.running+1)
	j := &wp.job
	j.n = n
	j.chunk = chunkSize(n, nw, j.stream, j.packed)
	j.next.Store(0)
	j.ids.Store(0)
	j.wg.Add(nw - 1)
	j.pending.Store(int32(nw - 1))
	for i := 0; i < nw-1; i++ {
		wp.jobs <- j
	}
	j.work(0)
	if j.pending.Load() != 0 {
		t0 := time.Now()
		for i := 1; j.pending.Load() != 0; i++ {
			if i%spinCheck == 0 && time.Since(t0) > spinTime {
				break
			}
		}
	}
	j.wg.Wait()
}

// chunkSize is how many rows or iterations a goroutine takes at a time when
// nw goroutines share n of them; stream says every product has one
// activation row, packed that one runs over a packed copy.
func chunkSize(n, nw int, stream, packed bool) int {
	var c int
	switch {
	case stream:
		// one contiguous range per goroutine, rounded up to whole groups:
		// a product of one activation row streams its weights once, and
		// the kernels keep more reads in flight over a few long streams
		// than over many short ones (400M generation at 2 threads, against
		// eight ranges per goroutine: Q4_0 +11 %, Q4_K_M +15 %; the 1B
		// shape, whose ranges were already longer, −1 % to +15 %)
		c = (n + nw - 1) / nw
		if packed || c >= 32 {
			c = (c + 15) &^ 15
		} else if c > 8 {
			c = (c + 7) &^ 7
		}
	case packed || n/(8*nw) >= 32:
		// whole groups of sixteen rows for the packed kernels
		c = max(16, (n/(8*nw)+8)&^15)
	default:
		c = max(1, n/(8*nw))
		if c > 8 {
			c &^= 7 // whole groups of eight rows for the eight-row kernels
		}
	}
	return c
}
