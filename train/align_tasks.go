package train

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
)

// DataReport describes the examples of a fine-tuning run.
type DataReport struct {
	Records   int // dataset records (pairs for preference data)
	Train     int // training examples (rows after packing)
	Val       int // validation examples
	Truncated int // sequences cut to MaxLength (with Truncate)
	// Tokens and TrainedTokens count the training split's tokens and the
	// tokens the loss covers (SFT).
	Tokens, TrainedTokens int
}

// inVal reports whether an example whose token ids are ids belongs to the
// validation split: the first two bytes of the SHA-256 of the ids
// (little-endian int32), big-endian, modulo 1000, below permille.
func inVal(permille int, seqs ...[]int) bool {
	h := sha256.New()
	var b [4]byte
	for _, ids := range seqs {
		for _, id := range ids {
			binary.LittleEndian.PutUint32(b[:], uint32(id))
			h.Write(b[:])
		}
		h.Write([]byte{0xff, 0xff, 0xff, 0xff})
	}
	sum := h.Sum(nil)
	return int(binary.BigEndian.Uint16(sum[:2]))%1000 < permille
}

// checkFits refuses a max length beyond the model's context and ids outside
// its vocabulary.
func checkFits(c FineTuneConfig, m *Model[float32], seqs []*Sequence) error {
	if c.MaxLength > m.Config.Context {
		return fmt.Errorf("train: --max-length %d exceeds the model's context %d", c.MaxLength, m.Config.Context)
	}
	for _, s := range seqs {
		for _, id := range s.IDs {
			if id < 0 || id >= m.Config.Vocab {
				return fmt.Errorf("line %d: token id %d outside the model's vocabulary of %d", s.Line, id, m.Config.Vocab)
			}
		}
	}
	return nil
}

// sftTask: causal language modelling loss on the targets.
type sftTask struct {
	train, val []Sequence
}

func (t *sftTask) split(val bool) []Sequence {
	if val {
		return t.val
	}
	return t.train
}

func (t *sftTask) count(val bool) int { return len(t.split(val)) }

func (t *sftTask) weight(ex int, val bool) float64 { return float64(t.split(val)[ex].Trained()) }

func (t *sftTask) run(m *Model[float32], tape *Tape[float32], ex int, val bool, scale float32, grad bool) ([]float64, error) {
	s := t.split(val)[ex]
	logits := m.forward(tape, s.IDs)
	nll := tape.CrossEntropy(logits, s.Targets, scale)
	V := logits.Cols
	correct := 0
	for i, tg := range s.Targets {
		if tg < 0 {
			continue
		}
		row := logits.Data[i*V : (i+1)*V]
		best := 0
		for j, x := range row {
			if x > row[best] {
				best = j
			}
		}
		if best == tg {
			correct++
		}
	}
	return []float64{nll, float64(correct)}, nil
}

func (t *sftTask) metrics(sum []float64, weight float64) []Metric {
	return []Metric{{"loss", sum[0] / weight}, {"mean_token_accuracy", sum[1] / weight}, {"num_tokens", weight}}
}

// NewSFT prepares supervised fine-tuning of m on the records: encoding
// (errors name the line), the validation split, the length check, packing.
func NewSFT(c FineTuneConfig, m *Model[float32], recs []SFTRecord, enc Encoder) (*FineTuner, DataReport, error) {
	rep := DataReport{Records: len(recs)}
	if err := c.Validate(); err != nil {
		return nil, rep, err
	}
	seqs := make([]Sequence, len(recs))
	ptrs := make([]*Sequence, len(recs))
	for i, r := range recs {
		s, err := EncodeSFT(enc, r, c.CompletionOnly)
		if err != nil {
			return nil, rep, err
		}
		seqs[i] = s
		ptrs[i] = &seqs[i]
	}
	if err := checkFits(c, m, ptrs); err != nil {
		return nil, rep, err
	}
	var err error
	if rep.Truncated, err = checkLengths(ptrs, c.MaxLength, c.Truncate); err != nil {
		return nil, rep, err
	}
	t := &sftTask{}
	for _, s := range seqs {
		if s.Trained() == 0 {
			continue // truncation removed every target
		}
		if inVal(c.ValPermille, s.IDs) {
			t.val = append(t.val, s)
		} else {
			t.train = append(t.train, s)
			rep.Tokens += len(s.IDs)
			rep.TrainedTokens += s.Trained()
		}
	}
	if c.Packing {
		t.train, t.val = Pack(t.train, c.MaxLength), Pack(t.val, c.MaxLength)
	}
	rep.Train, rep.Val = len(t.train), len(t.val)
	ft, err := newFineTuner(c, m, t)
	return ft, rep, err
}

// pairTask: the Bradley–Terry loss of a reward model, or DPO's loss.
type pairTask struct {
	dpo        bool
	beta       float64
	kind       PairLossKind
	train, val []PairSequences
}

func (t *pairTask) split(val bool) []PairSequences {
	if val {
		return t.val
	}
	return t.train
}

func (t *pairTask) count(val bool) int { return len(t.split(val)) }

func (t *pairTask) weight(int, bool) float64 { return 1 }

// logp records a sequence's summed (IPO: mean) target log-probability.
func (t *pairTask) logp(m *Model[float32], tape *Tape[float32], s Sequence) *Tensor[float32] {
	scale := float32(1)
	if t.kind == PairIPO {
		scale = float32(1 / float64(s.Trained()))
	}
	return tape.Sum(tape.TokenLogProbs(m.forward(tape, s.IDs), s.Targets), scale)
}

func (t *pairTask) run(m *Model[float32], tape *Tape[float32], ex int, val bool, scale float32, grad bool) ([]float64, error) {
	p := t.split(val)[ex]
	if !t.dpo {
		a, b := m.reward(tape, p.Chosen.IDs), m.reward(tape, p.Rejected.IDs)
		loss := tape.PairLoss(a, b, 0, 0, 1, PairSigmoid, scale)
		ra, rb := float64(a.Data[0]), float64(b.Data[0])
		return []float64{loss, b2f(ra > rb), ra - rb, ra, rb}, nil
	}
	a, b := t.logp(m, tape, p.Chosen), t.logp(m, tape, p.Rejected)
	loss := tape.PairLoss(a, b, p.RefChosen, p.RefRejected, t.beta, t.kind, scale)
	la, lb := float64(a.Data[0]), float64(b.Data[0])
	rc, rr := t.beta*(la-p.RefChosen), t.beta*(lb-p.RefRejected)
	return []float64{loss, b2f(rc > rr), rc - rr, rc, rr, la, lb}, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (t *pairTask) metrics(sum []float64, n float64) []Metric {
	if !t.dpo {
		return []Metric{{"loss", sum[0] / n}, {"accuracy", sum[1] / n}, {"margin", sum[2] / n},
			{"rewards/chosen", sum[3] / n}, {"rewards/rejected", sum[4] / n}}
	}
	return []Metric{{"loss", sum[0] / n}, {"rewards/accuracies", sum[1] / n}, {"rewards/margins", sum[2] / n},
		{"rewards/chosen", sum[3] / n}, {"rewards/rejected", sum[4] / n},
		{"logps/chosen", sum[5] / n}, {"logps/rejected", sum[6] / n}}
}

// encodePairs encodes, length-checks and splits preference records.
func encodePairs(c FineTuneConfig, m *Model[float32], recs []PrefRecord, enc Encoder, rep *DataReport) (train, val []PairSequences, err error) {
	pairs := make([]PairSequences, len(recs))
	var ptrs []*Sequence
	for i, r := range recs {
		if pairs[i], err = EncodePair(enc, r); err != nil {
			return nil, nil, err
		}
	}
	for i := range pairs {
		ptrs = append(ptrs, &pairs[i].Chosen, &pairs[i].Rejected)
	}
	if err := checkFits(c, m, ptrs); err != nil {
		return nil, nil, err
	}
	if rep.Truncated, err = checkLengths(ptrs, c.MaxLength, c.Truncate); err != nil {
		return nil, nil, err
	}
	for _, p := range pairs {
		if p.Chosen.Trained() == 0 || p.Rejected.Trained() == 0 {
			continue // truncation removed a whole completion
		}
		if inVal(c.ValPermille, p.Chosen.IDs, p.Rejected.IDs) {
			val = append(val, p)
		} else {
			train = append(train, p)
			rep.Tokens += len(p.Chosen.IDs) + len(p.Rejected.IDs)
			rep.TrainedTokens += p.Chosen.Trained() + p.Rejected.Trained()
		}
	}
	rep.Train, rep.Val = len(train), len(val)
	return train, val, nil
}

// NewReward prepares training a reward model: m gets a scalar head
// (initialised from the config's seed) trained with the Bradley–Terry loss
// −log σ(r_chosen − r_rejected) on the pairs.
func NewReward(c FineTuneConfig, m *Model[float32], recs []PrefRecord, enc Encoder) (*FineTuner, DataReport, error) {
	rep := DataReport{Records: len(recs)}
	if err := c.Validate(); err != nil {
		return nil, rep, err
	}
	t := &pairTask{}
	var err error
	if t.train, t.val, err = encodePairs(c, m, recs, enc, &rep); err != nil {
		return nil, rep, err
	}
	m.AddRewardHead(NewRNG(c.Seed, 2_000_000_000))
	ft, err := newFineTuner(c, m, t)
	return ft, rep, err
}

// NewDPO prepares direct preference optimisation of the policy m against a
// frozen reference: the reference log-probabilities of every pair are
// taken from the data when given, and otherwise computed once here with ref
// (nil: the policy's own starting weights, TRL's default).
func NewDPO(c FineTuneConfig, m, ref *Model[float32], recs []PrefRecord, enc Encoder, threads int) (*FineTuner, DataReport, error) {
	rep := DataReport{Records: len(recs)}
	if err := c.Validate(); err != nil {
		return nil, rep, err
	}
	t := &pairTask{dpo: true, beta: c.Beta}
	if c.Loss == "ipo" {
		t.kind = PairIPO
	}
	var err error
	if t.train, t.val, err = encodePairs(c, m, recs, enc, &rep); err != nil {
		return nil, rep, err
	}
	if ref == nil {
		ref = m
	}
	if ref.Config.Vocab != m.Config.Vocab {
		return nil, rep, fmt.Errorf("train: the reference model has %d tokens, the policy %d: they must share the tokenizer", ref.Config.Vocab, m.Config.Vocab)
	}
	var todo []*float64
	var seqs []Sequence
	for _, ps := range [][]PairSequences{t.train, t.val} {
		for i := range ps {
			for _, x := range []struct {
				v *float64
				s Sequence
			}{{&ps[i].RefChosen, ps[i].Chosen}, {&ps[i].RefRejected, ps[i].Rejected}} {
				if math.IsNaN(*x.v) {
					if len(x.s.IDs) > ref.Config.Context {
						return nil, rep, fmt.Errorf("line %d: %d tokens exceed the reference model's context %d", x.s.Line, len(x.s.IDs), ref.Config.Context)
					}
					todo, seqs = append(todo, x.v), append(seqs, x.s)
				}
			}
		}
	}
	vals := make([]float64, len(seqs))
	parallelFor(len(seqs), threads, func(i int) {
		tape := &Tape[float32]{Threads: 1}
		vals[i] = float64(t.logp(ref, tape, seqs[i]).Data[0])
		tape.Reset()
	})
	for i, v := range vals {
		*todo[i] = v
	}
	ft, err := newFineTuner(c, m, t)
	return ft, rep, err
}

// parallelFor runs f(0..n-1) on up to threads goroutines (0: GOMAXPROCS).
func parallelFor(n, threads int, f func(i int)) {
	if threads <= 0 {
		threads = maxProcs()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < min(threads, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
