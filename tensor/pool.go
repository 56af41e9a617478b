package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
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

// poolJob is the product being computed and its row-chunk counter.
type poolJob struct {
	p     product
	chunk int
	next  atomic.Int64
	wg    sync.WaitGroup
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

// work computes chunks of rows until none is left.
func (j *poolJob) work() {
	rows := j.p.rows
	for {
		hi := int(j.next.Add(int64(j.chunk)))
		lo := hi - j.chunk
		if lo >= rows {
			return
		}
		j.p.rowsRange(lo, min(hi, rows))
	}
}

func worker(jobs <-chan *poolJob) {
	for j := range jobs {
		j.work()
		j.wg.Done()
	}
}

// run computes the product p, in parallel when it is large enough and the
// pool is free (a concurrent caller computes on its own goroutine instead).
func run(p product) {
	t := Threads()
	if t <= 1 || p.rows < 2 || p.rows*p.n*p.w.Cols < parallelMin || !pool.mu.TryLock() {
		p.rowsRange(0, p.rows)
		return
	}
	defer pool.mu.Unlock()
	t = Threads() // SetThreads may have run since the first read
	if pool.jobs != nil && pool.running != t-1 {
		close(pool.jobs)
		pool.jobs = nil
	}
	if pool.jobs == nil {
		pool.jobs = make(chan *poolJob, t)
		pool.running = t - 1
		for i := 0; i < t-1; i++ {
			go worker(pool.jobs)
		}
	}
	nw := min(t, p.rows)
	j := &pool.job
	j.p = p
	j.chunk = max(1, p.rows/(4*nw))
	j.next.Store(0)
	j.wg.Add(nw - 1)
	for i := 0; i < nw-1; i++ {
		pool.jobs <- j
	}
	j.work()
	j.wg.Wait()
	j.p = product{} // do not keep the caller's buffers alive
}
