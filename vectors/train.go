package vectors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
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
	// most RoundChunks do work). The result does not depend on it.
	Threads int
	// Seed makes the run: the same seed, corpus and options give the same
	// vectors, bit for bit, whatever Threads.
	Seed uint64
	// Progress, when set, is called after each round of chunks (every
	// RoundWords words or so) and at the end of each epoch.
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
	threads = min(threads, RoundChunks)
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
	start := time.Now()
	total := int64(o.Epochs) * voc.total
	res := &Trained{Counts: voc.counts}
	var done int64
	ws := make([]*worker, threads)
	for i := range ws {
		ws[i] = t.newWorker()
	}
	slots := make([]*slot, RoundChunks)
	for i := range slots {
		slots[i] = &slot{}
	}
	for epoch := range o.Epochs {
		var loss float64
		var preds int64
		for r := 0; r < len(t.chunks); r += RoundChunks {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			round := t.chunks[r:min(r+RoundChunks, len(t.chunks))]
			var wg sync.WaitGroup
			var mu sync.Mutex
			next := 0
			work := func(w *worker) {
				for {
					mu.Lock()
					k := next
					next++
					mu.Unlock()
					if k >= len(round) {
						return
					}
					ch := round[k]
					progress := float64(int64(epoch)*voc.total+ch.before) / float64(total)
					alpha := o.Alpha - (o.Alpha-o.MinAlpha)*progress
					w.run(slots[k], ch, alpha, o.Seed, epoch, r+k)
				}
			}
			// the calling goroutine is one of the workers
			for _, w := range ws[1:min(threads, len(round))] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					work(w)
				}()
			}
			work(ws[0])
			wg.Wait()
			t.apply(slots[:len(round)])
			for k, ch := range round {
				loss += slots[k].loss
				preds += slots[k].preds
				done += ch.words
			}
			if o.Progress != nil {
				last := round[len(round)-1]
				o.Progress(Progress{Epoch: epoch + 1, Epochs: o.Epochs, Words: done, Total: total,
					Alpha: o.Alpha - (o.Alpha-o.MinAlpha)*float64(int64(epoch)*voc.total+last.before)/float64(total),
					Loss:  meanLoss(loss, preds), Elapsed: time.Since(start)})
			}
		}
		res.EpochLoss = append(res.EpochLoss, meanLoss(loss, preds))
		if o.Progress != nil {
			o.Progress(Progress{Epoch: epoch + 1, Epochs: o.Epochs, Words: done, Total: total,
				Alpha: o.Alpha - (o.Alpha-o.MinAlpha)*float64(int64(epoch+1)*voc.total)/float64(total),
				Loss:  meanLoss(loss, preds), EpochDone: true, Elapsed: time.Since(start)})
		}
	}
	res.TrainedWords, res.Elapsed = done, time.Since(start)
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
}

func newTrainer(c *Corpus, voc vocab, remap []int32, o TrainOptions) *trainer {
	t := &trainer{o: o, dim: o.Dim, nvocab: len(voc.words)}
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

// overlay is one chunk's private copy of the weight rows it touched: rows are
// copied from the shared weights on first use, updated in place, and turned
// into differences when the chunk ends.
type overlay struct {
	rows []int32   // weight rows touched, in order of first use
	buf  []float32 // their values (then differences), dim each
}

// slot holds what one chunk of a round produced, until the round's updates
// are applied.
type slot struct {
	in, out, hs overlay
	loss        float64
	preds       int64
}

// apply adds a round's chunk differences to the shared weights, chunk by
// chunk in corpus order: the same additions in the same order whatever the
// thread count. (This is SGD with a delay of at most one round: a chunk does
// not see the updates of the round's other chunks. Averaging the chunks'
// changes instead of adding them was measured worse: it shrinks the steps of
// frequent words.)
func (t *trainer) apply(slots []*slot) {
	d := t.dim
	for _, s := range slots {
		for m, w := range [][]float32{t.syn0, t.syn1neg, t.syn1} {
			o := [...]*overlay{&s.in, &s.out, &s.hs}[m]
			for k, row := range o.rows {
				axpy1(w[int(row)*d:int(row)*d+d], o.buf[k*d:k*d+d])
			}
		}
	}
}

// worker trains chunks; its index arrays map weight rows to overlay rows of
// the chunk in progress (-1: not touched yet).
type worker struct {
	_                   [64]byte // keep the fields two threads write off each other's cache lines
	t                   *trainer
	inIdx, outIdx, hIdx []int32
	sen                 []int32
	neu1, neu1e         []float32
	ctxRows             [][]float32
	ctxIdx              []int32
	r                   rng
	cur                 *slot
	loss                float64 // of the chunk in progress
	preds               int64
	_                   [64]byte
}

func (t *trainer) newWorker() *worker {
	pad := func() []float32 { return make([]float32, t.dim+32)[16 : 16+t.dim : 16+t.dim] } // away from other allocations' lines
	w := &worker{t: t, neu1: pad(), neu1e: pad()}
	fill := func(n int) []int32 {
		a := make([]int32, n)
		for i := range a {
			a[i] = -1
		}
		return a
	}
	w.inIdx = fill(t.nvocab)
	if t.syn1neg != nil {
		w.outIdx = fill(t.nvocab)
	}
	if t.syn1 != nil {
		w.hIdx = fill(len(t.syn1) / t.dim)
	}
	return w
}

// row returns the chunk's copy of row i of w. The slice is valid until the
// next call on the same overlay (its buffer may grow).
func (wk *worker) row(ov *overlay, idx []int32, w []float32, i int32) []float32 {
	d := wk.t.dim
	k := int(wk.ensure(ov, idx, w, i))
	return ov.buf[k*d : k*d+d : k*d+d]
}

// ensure copies row i of w into the overlay if it is not there yet and
// returns its overlay index.
func (wk *worker) ensure(ov *overlay, idx []int32, w []float32, i int32) int32 {
	k := idx[i]
	if k < 0 {
		d := wk.t.dim
		k = int32(len(ov.rows))
		idx[i] = k
		ov.rows = append(ov.rows, i)
		ov.buf = append(ov.buf, w[int(i)*d:int(i)*d+d]...)
	}
	return k
}

// finish turns the overlay into differences against the shared weights and
// clears the index.
func (wk *worker) finish(ov *overlay, idx []int32, w []float32) {
	d := wk.t.dim
	for k, i := range ov.rows {
		sub(ov.buf[k*d:k*d+d], w[int(i)*d:int(i)*d+d])
		idx[i] = -1
	}
}

func (wk *worker) run(s *slot, ch chunk, alpha float64, seed uint64, epoch, index int) {
	t := wk.t
	s.in.rows, s.in.buf = s.in.rows[:0], s.in.buf[:0]
	s.out.rows, s.out.buf = s.out.rows[:0], s.out.buf[:0]
	s.hs.rows, s.hs.buf = s.hs.rows[:0], s.hs.buf[:0]
	wk.loss, wk.preds = 0, 0
	wk.cur = s
	wk.r = newRNG(seed, uint64(epoch), index)
	a := float32(alpha)
	start := 0
	if ch.start > 0 {
		start = t.ends[ch.start-1]
	}
	for _, end := range t.ends[ch.start:ch.end] {
		sen := wk.sen[:0]
		for _, id := range t.ids[start:end] {
			if t.keep[id] >= 1<<32 || t.keep[id] > wk.r.next()>>32 {
				sen = append(sen, id)
			}
		}
		wk.sen = sen
		start = end
		if t.o.CBOW {
			wk.cbow(sen, a)
		} else {
			wk.skipGram(sen, a)
		}
	}
	s.loss, s.preds = wk.loss, wk.preds
	wk.finish(&s.in, wk.inIdx, t.syn0)
	if t.syn1neg != nil {
		wk.finish(&s.out, wk.outIdx, t.syn1neg)
	}
	if t.syn1 != nil {
		wk.finish(&s.hs, wk.hIdx, t.syn1)
	}
}

func (wk *worker) skipGram(sen []int32, a float32) {
	win := wk.t.o.Window
	for pos, word := range sen {
		b := int(wk.r.next() % uint64(win))
		lo, hi := max(pos-win+b, 0), min(pos+win-b, len(sen)-1)
		for c := lo; c <= hi; c++ {
			if c == pos {
				continue
			}
			l1 := wk.row(&wk.cur.in, wk.inIdx, wk.t.syn0, sen[c])
			clear(wk.neu1e)
			wk.predict(word, l1, wk.neu1e, a)
			axpy1(l1, wk.neu1e)
		}
	}
}

func (wk *worker) cbow(sen []int32, a float32) {
	win := wk.t.o.Window
	for pos, word := range sen {
		b := int(wk.r.next() % uint64(win))
		lo, hi := max(pos-win+b, 0), min(pos+win-b, len(sen)-1)
		ks := wk.ctxIdx[:0]
		for c := lo; c <= hi; c++ {
			if c != pos {
				ks = append(ks, wk.ensure(&wk.cur.in, wk.inIdx, wk.t.syn0, sen[c]))
			}
		}
		wk.ctxIdx = ks
		if len(ks) == 0 {
			continue
		}
		d, buf := wk.t.dim, wk.cur.in.buf
		ctx := wk.ctxRows[:0]
		for _, k := range ks {
			ctx = append(ctx, buf[int(k)*d:int(k)*d+d:int(k)*d+d])
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
// Huffman path and/or negative sampling against noise words, as word2vec.c
// does (the sigmoid from a 1000-entry table over ±6, clipped outside), adding
// the gradient for l1 to neu1e and updating the output rows.
func (wk *worker) predict(word int32, l1, neu1e []float32, a float32) {
	t := wk.t
	s := wk.cur
	wk.preds++
	if t.syn1 != nil {
		points, codes := t.tree.points[word], t.tree.codes[word]
		for d, p := range points {
			l2 := wk.row(&s.hs, wk.hIdx, t.syn1, p)
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
	for d := 0; d <= t.o.Negative && t.syn1neg != nil; d++ {
		target, label := word, float32(1)
		if d > 0 {
			target, label = t.noise.draw(wk.r.next()), 0
			if target == word {
				continue
			}
		}
		l2 := wk.row(&s.out, wk.outIdx, t.syn1neg, target)
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
