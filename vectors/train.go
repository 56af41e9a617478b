package vectors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// TrainOptions are the settings of word2vec training; DefaultTrainOptions
// gives word2vec.c's and gensim's defaults.
type TrainOptions struct {
	// CBOW trains continuous bag of words (the mean of the context predicts
	// the word) instead of skip-gram (the word predicts each context word).
	CBOW bool
	// Dim is the vector size.
	Dim int
	// Window is the largest distance between a word and its context; each
	// word draws its own window in 1…Window (word2vec's random shrink).
	Window int
	// Negative is the number of noise words per prediction (negative
	// sampling from the unigram^0.75 distribution); 0 turns it off.
	Negative int
	// HS turns on hierarchical softmax (a Huffman tree over the vocabulary).
	HS bool
	// Sample is the frequent-word subsampling threshold (1e-3); 0 keeps
	// every word.
	Sample float64
	// MinCount drops words seen fewer times.
	MinCount int
	// Epochs is the number of passes over the corpus.
	Epochs int
	// Alpha is the starting learning rate (0.025 skip-gram, 0.05 CBOW when
	// 0); it decays linearly to MinAlpha over the whole run.
	Alpha, MinAlpha float64
	// Threads is the number of training goroutines (GOMAXPROCS when 0; at
	// most RoundChunks do work unless Hogwild). The result does not depend
	// on it.
	Threads int
	// Hogwild trains as word2vec.c and gensim do: the threads take chunks in
	// corpus order and update the shared weights without waiting for each
	// other or copying any row. It is faster with several threads, uses any
	// number of them, and trains as well, but with more than one thread the
	// vectors depend on the threads' timing: they differ from run to run.
	// With one thread it is plain sequential SGD, reproducible, but not the
	// same vectors as the default schedule.
	Hogwild bool
	// Seed makes the run: the same seed, corpus and options give the same
	// vectors, bit for bit, whatever Threads.
	Seed uint64
	// Progress, when set, is called after each round of chunks (about
	// RoundChunks × ChunkWords words; with Hogwild after each chunk), one
	// call at a time, and at the end of each epoch.
	Progress func(Progress)
}

// DefaultTrainOptions returns skip-gram, dim 100, window 5, negative 5,
// sample 1e-3, min count 5, 5 epochs, alpha by architecture, min alpha
// 0.0001, seed 1.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{Dim: 100, Window: 5, Negative: 5, Sample: 1e-3, MinCount: 5, Epochs: 5, MinAlpha: 0.0001, Seed: 1}
}

// Progress is a snapshot of a training run.
type Progress struct {
	Epoch, Epochs int
	// Words is the number of corpus words (before subsampling) trained so
	// far, over all epochs; Total is what the run will train.
	Words, Total int64
	// Alpha is the current learning rate.
	Alpha float64
	// Loss is the mean loss per prediction of the current epoch so far
	// (negative log-likelihood of the true and noise words).
	Loss float64
	// EpochDone is set on the call that ends an epoch.
	EpochDone bool
	// Elapsed is the time since training started.
	Elapsed time.Duration
}

// Trained is the result of Train.
type Trained struct {
	*Vectors
	// Counts holds the corpus count of each word (row order).
	Counts []int64
	// EpochLoss is the mean loss per prediction of each epoch.
	EpochLoss []float64
	// TrainedWords is the number of corpus words trained over all epochs
	// (before subsampling), and Elapsed the training time (vocabulary
	// building excluded).
	TrainedWords int64
	Elapsed      time.Duration
}

// Chunking of the corpus: the unit of deterministic parallel work. The
// corpus is cut into chunks of about ChunkWords words (whole sentences), and
// rounds of RoundChunks chunks are trained in parallel, each chunk against
// the weights as they were when the round began plus its own updates; the
// rounds' updates are then added to the weights chunk by chunk in corpus
// order. Neither depends on the thread count, so neither does the result.
const (
	ChunkWords  = 1024
	RoundChunks = 2
)

const (
	maxExp       = 6 // word2vec.c's MAX_EXP: the sigmoid is 0 or 1 outside ±6
	expTableSize = 1000
)

var sigmoidTable, logSigmoidTable = func() ([expTableSize + 1]float32, [expTableSize + 1]float32) {
	var s, l [expTableSize + 1]float32
	for i := range s {
		x := (float64(i)/expTableSize*2 - 1) * maxExp
		e := math.Exp(x)
		s[i] = float32(e / (e + 1))
		l[i] = float32(-math.Log1p(math.Exp(-x)))
	}
	return s, l
}()

// Train learns word vectors from the corpus with word2vec.
func Train(ctx context.Context, c *Corpus, o TrainOptions) (*Trained, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Alpha == 0 {
		o.Alpha = 0.025
		if o.CBOW {
			o.Alpha = 0.05
		}
	}
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if !o.Hogwild {
		threads = min(threads, RoundChunks)
	}
	if c == nil || c.Words() == 0 {
		return nil, errors.New("vectors: the corpus is empty")
	}
	voc, remap := buildVocab(c, o.MinCount)
	if len(voc.words) == 0 {
		return nil, fmt.Errorf("vectors: no word occurs %d times or more (min count); lower it", o.MinCount)
	}
	if mats := 1 + min(o.Negative, 1) + btoi(o.HS); int64(len(voc.words))*int64(o.Dim)*4*int64(mats) > maxWeightBytes {
		return nil, fmt.Errorf("vectors: %d words × %d dims need %d GiB of weights, more than the %d GiB allowed; raise --min-count or lower --dim",
			len(voc.words), o.Dim, int64(len(voc.words))*int64(o.Dim)*4*int64(mats)>>30, maxWeightBytes>>30)
	}
	t := newTrainer(c, voc, remap, o)
	t.start = time.Now()
	t.total = int64(o.Epochs) * voc.total
	res := &Trained{Counts: voc.counts}
	var err error
	if o.Hogwild {
		err = t.hogwild(ctx, threads)
	} else {
		err = t.rounds(ctx, threads)
	}
	if err != nil {
		return nil, err
	}
	res.EpochLoss = t.epochLoss
	res.TrainedWords, res.Elapsed = t.done, time.Since(t.start)
	v, err := New(voc.words, o.Dim, t.syn0)
	if err != nil {
		return nil, err
	}
	res.Vectors = v
	return res, nil
}

// maxWeightBytes bounds the weight matrices Train allocates.
var maxWeightBytes int64 = 64 << 30

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func meanLoss(loss float64, n int64) float64 {
	if n == 0 {
		return 0
	}
	return loss / float64(n)
}

func (o *TrainOptions) check() error {
	switch {
	case o.Dim <= 0 || o.Dim > 1<<16:
		return fmt.Errorf("vectors: dimension %d, expected 1 to %d", o.Dim, 1<<16)
	case o.Window <= 0:
		return fmt.Errorf("vectors: window %d, expected a positive number", o.Window)
	case o.Negative < 0:
		return fmt.Errorf("vectors: negative %d, expected 0 or more", o.Negative)
	case o.Negative == 0 && !o.HS:
		return errors.New("vectors: nothing to train: turn on negative sampling (negative > 0) or hierarchical softmax")
	case o.Sample < 0 || math.IsNaN(o.Sample):
		return fmt.Errorf("vectors: sample %g, expected 0 (off) or a small positive number such as 1e-3", o.Sample)
	case o.MinCount < 1:
		return fmt.Errorf("vectors: min count %d, expected at least 1", o.MinCount)
	case o.Epochs < 1:
		return fmt.Errorf("vectors: epochs %d, expected at least 1", o.Epochs)
	case o.Alpha < 0 || math.IsNaN(o.Alpha) || o.Alpha > 1:
		return fmt.Errorf("vectors: alpha %g, expected a learning rate in (0, 1]", o.Alpha)
	case o.MinAlpha < 0 || math.IsNaN(o.MinAlpha) || (o.Alpha > 0 && o.MinAlpha > o.Alpha):
		return fmt.Errorf("vectors: min alpha %g, expected 0 or more and at most alpha", o.MinAlpha)
	}
	return nil
}

// chunk is a run of whole sentences of the vocabulary-mapped corpus.
type chunk struct {
	start, end int   // sentence indices
	words      int64 // corpus words in it
	before     int64 // corpus words before it
}

type trainer struct {
	o       TrainOptions
	dim     int
	ids     []int32 // the corpus in vocabulary rows, dropped words removed
	ends    []int
	chunks  []chunk
	keep    []uint64
	noise   aliasTable
	tree    huffman
	syn0    []float32 // input vectors (the result)
	syn1    []float32 // hierarchical softmax inner nodes
	syn1neg []float32 // negative sampling output vectors
	nvocab  int
	voc     int64 // corpus words after min count, one epoch

	start     time.Time
	total     int64 // words over the run
	done      int64 // words trained so far
	epochLoss []float64
}

func newTrainer(c *Corpus, voc vocab, remap []int32, o TrainOptions) *trainer {
	t := &trainer{o: o, dim: o.Dim, nvocab: len(voc.words), voc: voc.total}
	t.ids = make([]int32, 0, voc.total)
	start := 0
	for _, end := range c.ends {
		n := len(t.ids)
		for _, id := range c.ids[start:end] {
			if r := remap[id]; r >= 0 {
				t.ids = append(t.ids, r)
				if len(t.ids)-n == ChunkWords { // a chunk is at most ChunkWords long
					t.ends = append(t.ends, len(t.ids))
					n = len(t.ids)
				}
			}
		}
		if len(t.ids) > n {
			t.ends = append(t.ends, len(t.ids))
		}
		start = end
	}
	var before int64
	cs, pos := 0, 0
	for s, end := range t.ends {
		if int64(end-pos) >= ChunkWords || s == len(t.ends)-1 {
			t.chunks = append(t.chunks, chunk{start: cs, end: s + 1, words: int64(end - pos), before: before})
			before += int64(end - pos)
			cs, pos = s+1, end
		}
	}
	t.keep = keepProbs(voc.counts, voc.total, o.Sample)
	if o.Negative > 0 {
		t.noise = newAliasTable(voc.counts, 0.75)
		t.syn1neg = make([]float32, len(voc.words)*o.Dim)
	}
	if o.HS {
		t.tree = newHuffman(voc.counts)
		t.syn1 = make([]float32, max(len(voc.words)-1, 1)*o.Dim)
	}
	// word2vec.c's initialisation: (rand − 0.5) / dim, from one stream in
	// row order.
	t.syn0 = make([]float32, len(voc.words)*o.Dim)
	r := newRNG(o.Seed, math.MaxUint64, 0)
	for i := range t.syn0 {
		t.syn0[i] = (float32(r.next()>>40)/(1<<24) - 0.5) / float32(o.Dim)
	}
	return t
}

// rng is splitmix64: small, fast and good enough for sampling.
type rng struct{ s uint64 }

func newRNG(seed, epoch uint64, chunk int) rng {
	r := rng{seed ^ 0x9e3779b97f4a7c15}
	r.s = r.next() ^ epoch*0xbf58476d1ce4e5b9
	r.s = r.next() ^ uint64(chunk)*0x94d049bb133111eb
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// The schedule. A chunk is trained in two steps: its plan (the words kept by
// subsampling, each word's window, every noise word, and the list of weight
// rows it will touch) comes from its own random stream alone, so it is known
// before training starts; then the training proper follows the plan. The
// plans of a round's chunks say which rows only one chunk touches: that chunk
// updates them in place in the shared weights, as sequential SGD would. A row
// that several chunks of the round touch is copied into each one's overlay
// (its private copy, made when its training starts) so that no chunk sees
// another's changes; when the round ends, the first chunk's copy replaces the
// row and the others' changes (copy − row at the round's start) are added, in
// corpus order. Which chunk a thread runs changes nothing, so neither does
// the thread count. The frequent words are the shared rows; the many rare
// rows (most noise words) cost no copy and no merge.

// overlay is one chunk's private copy of the shared rows it touches.
type overlay struct {
	rows []int32   // weight rows, in plan order
	buf  []float32 // their values (then differences), dim each
}

// plan is what a chunk's random stream decides, drawn before training.
type plan struct {
	alpha   float32
	words   int64   // corpus words in the chunk (before subsampling)
	sen     []int32 // kept words of the sentences with two or more, concatenated
	ends    []int32 // end of each of those sentences in sen
	shrink  []int32 // each kept word's window shrink b (window − b is used)
	negs    []int32 // the noise words, Negative per prediction, in order
	touched [3][]int32
}

// slot is one chunk of a round: its plan, its overlays and what it measured.
type slot struct {
	plan
	ov    [3]overlay
	loss  float64
	preds int64
}

// matrices returns syn0, syn1neg and syn1 (nil when not trained), in the order
// of plan.touched and slot.ov.
func (t *trainer) matrices() [3][]float32 { return [3][]float32{t.syn0, t.syn1neg, t.syn1} }

// makePlan draws the plan of chunk ci of the epoch, marking the rows it
// touches with stamp value g in stamps.
func (t *trainer) makePlan(p *plan, stamps *[3][]uint32, g uint32, epoch, ci int) {
	ch := t.chunks[ci]
	o := &t.o
	progress := float64(int64(epoch)*t.voc+ch.before) / float64(t.total)
	p.alpha = float32(o.Alpha - (o.Alpha-o.MinAlpha)*progress)
	p.words = ch.words
	p.sen, p.ends, p.shrink, p.negs = p.sen[:0], p.ends[:0], p.shrink[:0], p.negs[:0]
	for m := range p.touched {
		p.touched[m] = p.touched[m][:0]
	}
	mark := func(m int, row int32) {
		if st := stamps[m]; st != nil && st[row] != g {
			st[row] = g
			p.touched[m] = append(p.touched[m], row)
		}
	}
	r := newRNG(o.Seed, uint64(epoch), ci)
	win := o.Window
	start := 0
	if ch.start > 0 {
		start = t.ends[ch.start-1]
	}
	for _, end := range t.ends[ch.start:ch.end] {
		n := len(p.sen)
		for _, id := range t.ids[start:end] {
			if t.keep[id] >= 1<<32 || t.keep[id] > r.next()>>32 {
				p.sen = append(p.sen, id)
			}
		}
		start = end
		sen := p.sen[n:]
		if len(sen) < 2 { // no context: nothing to train
			p.sen = p.sen[:n]
			continue
		}
		p.ends = append(p.ends, int32(len(p.sen)))
		for pos, word := range sen {
			b := int(r.next() % uint64(win))
			p.shrink = append(p.shrink, int32(b))
			// every word is the context of a neighbour (each window
			// reaches at least one word away) and is predicted itself
			mark(0, word)
			if t.syn1neg != nil {
				mark(1, word)
			}
			if t.syn1 != nil {
				for _, q := range t.tree.points[word] {
					mark(2, q)
				}
			}
			if o.Negative == 0 {
				continue
			}
			preds := 1
			if !o.CBOW {
				lo, hi := max(pos-win+b, 0), min(pos+win-b, len(sen)-1)
				preds = hi - lo
			}
			for range preds * o.Negative {
				q := t.noise.draw(r.next())
				p.negs = append(p.negs, q)
				if q != word {
					mark(1, q)
				}
			}
		}
	}
}

// rounds trains the chunks in rounds of RoundChunks on threads goroutines.
func (t *trainer) rounds(ctx context.Context, threads int) error {
	nc := len(t.chunks)
	perEpoch := (nc + RoundChunks - 1) / RoundChunks
	nrounds := t.o.Epochs * perEpoch
	// round g holds chunks [lo, hi) of epoch e
	span := func(g int) (e, lo, hi int) {
		e, r := g/perEpoch, g%perEpoch
		return e, r * RoundChunks, min(r*RoundChunks+RoundChunks, nc)
	}
	// plans, overlays and stamps alternate between even and odd rounds:
	// round g+1 is planned while round g trains.
	var slots [2][RoundChunks]*slot
	var stamps [2][RoundChunks][3][]uint32
	mats := t.matrices()
	for p := range slots {
		for k := range slots[p] {
			slots[p][k] = &slot{}
			for m, w := range mats {
				if w != nil {
					stamps[p][k][m] = make([]uint32, len(w)/t.dim)
				}
			}
		}
	}
	ws := make([]*worker, threads)
	for i := range ws {
		ws[i] = t.newWorker()
	}
	plan := func(g, k int) {
		e, lo, _ := span(g)
		t.makePlan(&slots[g&1][k].plan, &stamps[g&1][k], uint32(g+1), e, lo+k)
	}
	{
		_, lo, hi := span(0)
		for k := range hi - lo {
			plan(0, k)
		}
	}
	// Each round is a list of tasks claimed by the threads: train each chunk
	// of round g, then plan each chunk of round g+1.
	var next atomic.Int64
	var loss float64
	var preds int64
	var stop error
	g := 0
	b := newBarrier(threads)
	endRound := func() {
		e, lo, hi := span(g)
		cur := slots[g&1][:hi-lo]
		t.merge(cur)
		for k, s := range cur {
			loss += s.loss
			preds += s.preds
			t.done += t.chunks[lo+k].words
		}
		epochDone := hi == nc
		if epochDone {
			t.epochLoss = append(t.epochLoss, meanLoss(loss, preds))
		}
		if t.o.Progress != nil {
			p := Progress{Epoch: e + 1, Epochs: t.o.Epochs, Words: t.done, Total: t.total,
				Alpha: float64(cur[len(cur)-1].alpha), Loss: meanLoss(loss, preds), Elapsed: time.Since(t.start)}
			if epochDone {
				p.EpochDone = true
				p.Alpha = t.o.Alpha - (t.o.Alpha-t.o.MinAlpha)*float64(int64(e+1)*t.voc)/float64(t.total)
			}
			t.o.Progress(p)
		}
		if epochDone {
			loss, preds = 0, 0
		}
		g++
		next.Store(0)
		if err := ctx.Err(); err != nil {
			stop = err
		}
	}
	run := func(wk *worker) {
		for stop == nil && g < nrounds {
			_, lo, hi := span(g)
			n := hi - lo
			nn := 0
			if g+1 < nrounds {
				_, lo1, hi1 := span(g + 1)
				nn = hi1 - lo1
			}
			for {
				task := int(next.Add(1) - 1)
				if task >= n+nn {
					break
				}
				if task < n {
					wk.train(slots[g&1][task], task, &stamps[g&1], uint32(g+1), n)
				} else {
					plan(g+1, task-n)
				}
			}
			b.wait(endRound)
		}
	}
	var wg sync.WaitGroup
	for _, wk := range ws[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(wk)
		}()
	}
	run(ws[0])
	wg.Wait()
	return stop
}

// merge ends a round: the first chunk's copies replace their rows, then the
// other chunks' differences are added, in corpus order.
func (t *trainer) merge(slots []*slot) {
	d := t.dim
	for m, w := range t.matrices() {
		if w == nil {
			continue
		}
		for k, s := range slots {
			o := &s.ov[m]
			for i, row := range o.rows {
				dst, src := w[int(row)*d:int(row)*d+d], o.buf[i*d:i*d+d]
				if k == 0 {
					copy(dst, src)
				} else {
					axpy1(dst, src)
				}
			}
		}
	}
}

// barrier makes n goroutines wait for each other; the last to arrive runs
// the round's end alone before the others go on. A waiter spins briefly
// before sleeping: rounds are short.
type barrier struct {
	n       int32
	arrived atomic.Int32
	gen     atomic.Uint32
	mu      sync.Mutex
	cond    *sync.Cond
}

func newBarrier(n int) *barrier {
	b := &barrier{n: int32(n)}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *barrier) wait(last func()) {
	gen := b.gen.Load()
	if b.arrived.Add(1) == b.n {
		last()
		b.arrived.Store(0)
		b.mu.Lock()
		b.gen.Add(1)
		b.cond.Broadcast()
		b.mu.Unlock()
		return
	}
	for range 2000 {
		if b.gen.Load() != gen {
			return
		}
		runtime.Gosched()
	}
	b.mu.Lock()
	for b.gen.Load() == gen {
		b.cond.Wait()
	}
	b.mu.Unlock()
}

// worker trains chunks; idx maps a weight row to the index of its copy in
// the overlay of the chunk in progress (−1: the row is used in place).
type worker struct {
	_       [64]byte // keep the fields two threads write off each other's cache lines
	t       *trainer
	mats    [3][]float32
	idx     [3][]int32
	neu1    []float32
	neu1e   []float32
	ctxRows [][]float32
	cur     *slot
	negs    []int32 // the plan's noise words not used yet
	loss    float64 // of the chunk in progress
	preds   int64
	_       [64]byte
}

func (t *trainer) newWorker() *worker {
	pad := func() []float32 { return make([]float32, t.dim+32)[16 : 16+t.dim : 16+t.dim] } // away from other allocations' lines
	w := &worker{t: t, neu1: pad(), neu1e: pad(), mats: t.matrices()}
	for m, mat := range w.mats {
		if mat != nil {
			w.idx[m] = make([]int32, len(mat)/t.dim)
			for i := range w.idx[m] {
				w.idx[m][i] = -1
			}
		}
	}
	return w
}

// row returns the weights of row i of matrix m as the chunk in progress sees
// them: its copy for a shared row, else the shared weights themselves.
func (wk *worker) row(m int, i int32) []float32 {
	d := wk.t.dim
	if k := int(wk.idx[m][i]); k >= 0 {
		b := wk.cur.ov[m].buf
		return b[k*d : k*d+d : k*d+d]
	}
	return wk.mats[m][int(i)*d : int(i)*d+d : int(i)*d+d]
}

// train runs chunk k of a round of n chunks from its plan: the rows another
// chunk of the round touches (stamp g in stamps) are copied first, the others
// are updated in place; then the copies become differences.
func (wk *worker) train(s *slot, k int, stamps *[RoundChunks][3][]uint32, g uint32, n int) {
	t := wk.t
	d := t.dim
	for m, w := range wk.mats {
		ov := &s.ov[m]
		ov.rows, ov.buf = ov.rows[:0], ov.buf[:0]
		if w == nil {
			continue
		}
		idx := wk.idx[m]
		ov.buf = slices.Grow(ov.buf, len(s.touched[m])*d) // at most: one allocation, not a doubling series
		for _, row := range s.touched[m] {
			for j := range n {
				if j != k && stamps[j][m][row] == g {
					idx[row] = int32(len(ov.rows))
					ov.rows = append(ov.rows, row)
					ov.buf = append(ov.buf, w[int(row)*d:int(row)*d+d]...)
					break
				}
			}
		}
	}
	wk.runPlan(s)
	for m, w := range wk.mats {
		idx := wk.idx[m]
		ov := &s.ov[m]
		for i, row := range ov.rows {
			if k > 0 {
				sub(ov.buf[i*d:i*d+d], w[int(row)*d:int(row)*d+d])
			}
			idx[row] = -1
		}
	}
}

// runPlan trains the chunk of slot s from its plan.
func (wk *worker) runPlan(s *slot) {
	t := wk.t
	wk.cur = s
	wk.loss, wk.preds = 0, 0
	wk.negs = s.negs
	start, off := int32(0), 0
	for _, end := range s.ends {
		sen := s.sen[start:end]
		shrink := s.shrink[off : off+len(sen)]
		if t.o.CBOW {
			wk.cbow(sen, shrink, s.alpha)
		} else {
			wk.skipGram(sen, shrink, s.alpha)
		}
		start, off = end, off+len(sen)
	}
	s.loss, s.preds = wk.loss, wk.preds
}

func (wk *worker) skipGram(sen, shrink []int32, a float32) {
	win := wk.t.o.Window
	for pos, word := range sen {
		b := int(shrink[pos])
		lo, hi := max(pos-win+b, 0), min(pos+win-b, len(sen)-1)
		for c := lo; c <= hi; c++ {
			if c == pos {
				continue
			}
			l1 := wk.row(0, sen[c])
			clear(wk.neu1e)
			wk.predict(word, l1, wk.neu1e, a)
			axpy1(l1, wk.neu1e)
		}
	}
}

func (wk *worker) cbow(sen, shrink []int32, a float32) {
	win := wk.t.o.Window
	for pos, word := range sen {
		b := int(shrink[pos])
		lo, hi := max(pos-win+b, 0), min(pos+win-b, len(sen)-1)
		ctx := wk.ctxRows[:0]
		for c := lo; c <= hi; c++ {
			if c != pos {
				ctx = append(ctx, wk.row(0, sen[c]))
			}
		}
		wk.ctxRows = ctx
		clear(wk.neu1)
		for _, r := range ctx {
			axpy1(wk.neu1, r)
		}
		scale(wk.neu1, 1/float32(len(ctx)))
		clear(wk.neu1e)
		wk.predict(word, wk.neu1, wk.neu1e, a)
		for _, r := range ctx {
			axpy1(r, wk.neu1e)
		}
	}
}

// predict trains l1 to predict word: hierarchical softmax along the word's
// Huffman path and/or negative sampling against the plan's next noise words,
// as word2vec.c does (the sigmoid from a 1000-entry table over ±6, clipped
// outside), adding the gradient for l1 to neu1e and updating the output rows.
func (wk *worker) predict(word int32, l1, neu1e []float32, a float32) {
	t := wk.t
	wk.preds++
	if t.syn1 != nil {
		points, codes := t.tree.points[word], t.tree.codes[word]
		for d, p := range points {
			l2 := wk.row(2, p)
			f := dot(l1, l2)
			if f <= -maxExp || f >= maxExp {
				continue
			}
			i := int((f + maxExp) * (expTableSize / (2.0 * maxExp)))
			g := (1 - float32(codes[d]) - sigmoidTable[i]) * a
			if codes[d] == 0 {
				wk.loss -= float64(logSigmoidTable[i])
			} else {
				wk.loss -= float64(logSigmoidTable[expTableSize-i])
			}
			axpy(neu1e, l2, g)
			axpy(l2, l1, g)
		}
	}
	if t.syn1neg == nil {
		return
	}
	negs := wk.negs[:t.o.Negative]
	wk.negs = wk.negs[t.o.Negative:]
	for d := -1; d < len(negs); d++ {
		target, label := word, float32(1)
		if d >= 0 {
			target, label = negs[d], 0
			if target == word {
				continue
			}
		}
		l2 := wk.row(1, target)
		f := dot(l1, l2)
		var g float32
		switch {
		case f > maxExp:
			g = (label - 1) * a
			if label == 0 {
				wk.loss += float64(f)
			}
		case f < -maxExp:
			g = label * a
			if label == 1 {
				wk.loss -= float64(f)
			}
		default:
			i := int((f + maxExp) * (expTableSize / (2.0 * maxExp)))
			g = (label - sigmoidTable[i]) * a
			if label == 1 {
				wk.loss -= float64(logSigmoidTable[i])
			} else {
				wk.loss -= float64(logSigmoidTable[expTableSize-i])
			}
		}
		axpy(neu1e, l2, g)
		axpy(l2, l1, g)
	}
}

// hogwild trains the chunks in corpus order on threads goroutines that update
// the shared weights without waiting for each other (TrainOptions.Hogwild).
func (t *trainer) hogwild(ctx context.Context, threads int) error {
	nc := len(t.chunks)
	n := t.o.Epochs * nc
	var next atomic.Int64
	var mu sync.Mutex
	var stop error
	loss := make([]float64, t.o.Epochs)
	preds := make([]int64, t.o.Epochs)
	left := make([]int, t.o.Epochs)
	for e := range left {
		left[e] = nc
	}
	var none [3][]uint32 // no stamps: every row is used in place
	run := func(wk *worker) {
		s := &slot{}
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			if err := ctx.Err(); err != nil {
				mu.Lock()
				stop = err
				mu.Unlock()
				return
			}
			e, ci := i/nc, i%nc
			t.makePlan(&s.plan, &none, 0, e, ci)
			wk.runPlan(s)
			mu.Lock()
			loss[e] += s.loss
			preds[e] += s.preds
			t.done += s.words
			left[e]--
			if t.o.Progress != nil {
				p := Progress{Epoch: e + 1, Epochs: t.o.Epochs, Words: t.done, Total: t.total, Alpha: float64(s.alpha),
					Loss: meanLoss(loss[e], preds[e]), EpochDone: left[e] == 0, Elapsed: time.Since(t.start)}
				if p.EpochDone {
					p.Alpha = t.o.Alpha - (t.o.Alpha-t.o.MinAlpha)*float64(int64(e+1)*t.voc)/float64(t.total)
				}
				t.o.Progress(p)
			}
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for range threads - 1 {
		wk := t.newWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(wk)
		}()
	}
	run(t.newWorker())
	wg.Wait()
	for e := range loss {
		t.epochLoss = append(t.epochLoss, meanLoss(loss[e], preds[e]))
	}
	return stop
}
