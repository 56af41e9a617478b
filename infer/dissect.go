package infer

import (
	"fmt"
	"math"
	"sort"

	"glassbox/model"
	"glassbox/sample"
	"glassbox/tensor"
	"glassbox/tokenizer"
	"glassbox/trace"
)

// Tracing asks Generate to dissect the generation: Emit receives the trace's
// events as they happen (meta, tokenization, embeddings, one step per
// generated token, done), all taken from the numbers the engine computes.
type Tracing struct {
	Options    trace.Options
	ModelName  string
	PromptText string // the prompt as text, after any chat template
	Emit       func(trace.Event) error
}

// recorder implements model.Tracer for the position being predicted and
// builds the trace events.
type recorder struct {
	m   *model.Model
	tok *tokenizer.Tokenizer
	cfg Tracing
	top int
	// want… wantEnd are the positions to record: one for a decode step,
	// several for a speculative verification pass
	want, wantEnd int
	layerOn       []bool
	headOn        []bool

	recs   map[int]*posRecord // what was recorded at each wanted position
	free   []*posRecord       // records to reuse
	logits []float32          // scratch for the logit lens and softmax
	normed []float32
	smp    sample.Trace
	// constrained is set when a grammar constrains the generation
	constrained bool
	// draft is the speculative record of the next step, when a drafter
	// proposed its token
	draft *trace.Draft
}

// posRecord is what the model reported at one wanted position.
type posRecord struct {
	attn  []trace.HeadAttention // per traced head
	exps  []trace.ExpertChoice  // the routers' choices
	resid [][]float32           // residual stream after each traced layer (logit lens)
	// uncapped holds the next-token logits before final soft-capping,
	// when hasUncapped (models with Config.FinalSoftcap only)
	uncapped    []float32
	hasUncapped bool
}

// want sets the positions to record: n from pos.
func (r *recorder) wantRange(pos, n int) {
	for p, rec := range r.recs {
		r.free = append(r.free, rec)
		delete(r.recs, p)
	}
	r.want, r.wantEnd = pos, pos+n
}

// at returns the record of position pos, started on first use.
func (r *recorder) at(pos int) *posRecord {
	if rec := r.recs[pos]; rec != nil {
		return rec
	}
	var rec *posRecord
	if k := len(r.free); k > 0 {
		rec, r.free = r.free[k-1], r.free[:k-1]
		rec.attn, rec.exps, rec.hasUncapped = rec.attn[:0], rec.exps[:0], false
	} else {
		rec = &posRecord{resid: make([][]float32, r.m.Config.Layers)}
		if r.cfg.Options.LogitLens {
			for l, on := range r.layerOn {
				if on {
					rec.resid[l] = make([]float32, r.m.Config.Dim)
				}
			}
		}
	}
	r.recs[pos] = rec
	return rec
}

func newRecorder(m *model.Model, tok *tokenizer.Tokenizer, cfg Tracing) (*recorder, error) {
	c := &m.Config
	r := &recorder{m: m, tok: tok, cfg: cfg, top: cfg.Options.Top, want: -1, wantEnd: -1, recs: map[int]*posRecord{}}
	if r.top <= 0 {
		r.top = 5
	}
	if r.top > 100 {
		return nil, fmt.Errorf("trace: at most 100 candidates per list, got %d", r.top)
	}
	var err error
	if r.layerOn, err = selection("layer", cfg.Options.Layers, c.Layers); err != nil {
		return nil, err
	}
	if r.headOn, err = selection("head", cfg.Options.Heads, c.Heads); err != nil {
		return nil, err
	}
	r.logits = make([]float32, c.VocabSize)
	r.normed = make([]float32, c.Dim)
	return r, nil
}

func selection(what string, sel []int, n int) ([]bool, error) {
	on := make([]bool, n)
	if sel == nil {
		for i := range on {
			on[i] = true
		}
		return on, nil
	}
	for _, i := range sel {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("trace: %s %d does not exist (the model has %d: 0..%d)", what, i, n, n-1)
		}
		on[i] = true
	}
	return on, nil
}

func (r *recorder) indices(on []bool) []int {
	out := []int{}
	for i, b := range on {
		if b {
			out = append(out, i)
		}
	}
	return out
}

// Position implements model.Tracer.
func (r *recorder) Position(pos int) bool { return pos >= r.want && pos < r.wantEnd }

// Attention implements model.Tracer.
func (r *recorder) Attention(layer, head, pos int, weights, out []float32) {
	if !r.cfg.Options.Attention || !r.layerOn[layer] || !r.headOn[head] {
		return
	}
	c := &r.m.Config
	rec := r.at(pos)
	rec.attn = append(rec.attn, trace.HeadAttention{
		Layer: layer, Head: head, KVHead: head / (c.Heads / c.KVHeads),
		Weights: append([]float32(nil), weights...), Window: c.AttnWindow(layer),
	})
}

// AttentionSink implements model.SinkTracer: the sink's share of the head
// just recorded.
func (r *recorder) AttentionSink(layer, head, pos int, share float32) {
	if !r.cfg.Options.Attention || !r.layerOn[layer] || !r.headOn[head] {
		return
	}
	rec := r.at(pos)
	if n := len(rec.attn); n > 0 && rec.attn[n-1].Layer == layer && rec.attn[n-1].Head == head {
		rec.attn[n-1].Sink = share
	}
}

// AttentionScores implements model.ScoreTracer: the scores of the head just
// recorded, before and after attention soft-capping.
func (r *recorder) AttentionScores(layer, head, pos int, raw, capped []float32) {
	if !r.cfg.Options.Attention || !r.layerOn[layer] || !r.headOn[head] {
		return
	}
	rec := r.at(pos)
	if n := len(rec.attn); n > 0 && rec.attn[n-1].Layer == layer && rec.attn[n-1].Head == head {
		rec.attn[n-1].ScoresUncapped = append([]float32(nil), raw...)
		rec.attn[n-1].Scores = append([]float32(nil), capped...)
	}
}

// Experts implements model.ExpertTracer: the router's choice in a traced
// layer, as the engine computed and used it.
func (r *recorder) Experts(layer, pos int, _ []float32, ids []int, weights, probs []float32) {
	if !r.layerOn[layer] {
		return
	}
	ec := trace.ExpertChoice{Layer: layer, IDs: append([]int(nil), ids...), Weights: append([]float32(nil), weights...),
		Probs: make([]float32, len(ids)), Entropy: entropy(probs)}
	for j, e := range ids {
		ec.Probs[j] = probs[e]
	}
	rec := r.at(pos)
	rec.exps = append(rec.exps, ec)
}

// UncappedLogits implements model.LogitTracer: the logits predicting the
// token after pos before the model's final soft-capping.
func (r *recorder) UncappedLogits(pos int, logits []float32) {
	rec := r.at(pos)
	rec.uncapped = append(rec.uncapped[:0], logits...)
	rec.hasUncapped = true
}

// Residual implements model.Tracer.
func (r *recorder) Residual(layer, pos int, x []float32) {
	if rec := r.at(pos); rec.resid[layer] != nil {
		copy(rec.resid[layer], x)
	}
}

func (r *recorder) token(id int) trace.Token {
	t := trace.Token{ID: id, Bytes: []int{}}
	if r.tok == nil || id < 0 || id >= r.tok.VocabSize() {
		return t
	}
	b := r.tok.TokenBytes(id)
	t.Piece, t.Bytes, t.Text = r.tok.Piece(id), trace.Ints(b), trace.Text(b)
	t.Special = r.tok.IsSpecial(id)
	return t
}

// candidate names token id in a list of candidates.
func (r *recorder) candidate(id int, logit, prob float32) trace.Candidate {
	t := r.token(id)
	return trace.Candidate{ID: id, Piece: t.Piece, Bytes: t.Bytes, Text: t.Text, Logit: logit, Prob: prob}
}

func (r *recorder) meta(ctxSize int, kv, keys tensor.Type) trace.Event {
	c := &r.m.Config
	keyName := ""
	if keys != kv {
		keyName = keys.String()
	}
	var loras []trace.LoRA
	for _, a := range r.m.LoRA {
		loras = append(loras, trace.LoRA{Name: a.Adapter.Name, Scale: a.Scale, Alpha: a.Adapter.Alpha, Weights: len(a.Adapter.Weights)})
	}
	return trace.Event{Type: trace.TypeMeta, Meta: &trace.Meta{
		Version: trace.Version, Model: r.cfg.ModelName, Arch: c.Arch, Params: r.m.DistinctParams(), ParamsStored: c.Params(),
		Layers: c.Layers, Heads: c.Heads, KVHeads: c.KVHeads, Dim: c.Dim, HiddenDim: c.HiddenDim,
		HeadDim: c.HeadDim, Vocab: c.VocabSize, ContextLength: c.ContextLength, Context: ctxSize,
		QuantType: c.FileType, KVCache: kv.String(), KVCacheK: keyName, Tokenizer: r.tokenizerModel(), LoRA: loras,
		TracedLayers: r.indices(r.layerOn), TracedHeads: r.indices(r.headOn),
		Experts: c.Experts, ExpertsUsed: c.ExpertsUsed, AttnSoftcap: c.AttnSoftcap, FinalSoftcap: c.FinalSoftcap,
	}}
}

func (r *recorder) tokenizerModel() string {
	if r.tok == nil {
		return ""
	}
	return r.tok.Model()
}

func (r *recorder) tokenization(prompt []int) trace.Event {
	tz := &trace.Tokenization{Text: r.cfg.PromptText, Tokens: make([]trace.Token, len(prompt))}
	for i, id := range prompt {
		tz.Tokens[i] = r.token(id)
	}
	return trace.Event{Type: trace.TypeTokenization, Tokenization: tz}
}

// embeddings describes each prompt token's embedding row and finds its
// nearest tokens by cosine similarity over the whole embedding table.
func (r *recorder) embeddings(prompt []int) trace.Event {
	c := &r.m.Config
	first := r.cfg.Options.EmbedFirst
	if first <= 0 {
		first = 8
	}
	first = min(first, c.Dim)
	// the distinct prompt tokens, normalised
	uniq := map[int]int{}
	var vecs [][]float32
	var ids []int
	for _, id := range prompt {
		if _, ok := uniq[id]; ok {
			continue
		}
		uniq[id] = len(vecs)
		v := make([]float32, c.Dim)
		r.m.EmbeddingRow(id, v)
		vecs = append(vecs, v)
		ids = append(ids, id)
	}
	norms := make([]float64, len(vecs))
	for i, v := range vecs {
		norms[i] = norm(v)
	}
	best := make([][]trace.Neighbor, len(vecs))
	// the table a block of rows at a time (EmbeddingRows releases the pages
	// of a mapped file once per block, not once per row)
	const block = 256
	rows := make([]float32, block*c.Dim)
	for id := 0; id < c.VocabSize; id++ {
		if id%block == 0 {
			r.m.EmbeddingRows(id, min(id+block, c.VocabSize), rows)
		}
		row := rows[id%block*c.Dim : (id%block+1)*c.Dim]
		rn := norm(row)
		if rn == 0 {
			continue
		}
		for i, v := range vecs {
			if id == ids[i] || norms[i] == 0 {
				continue
			}
			var dot float64
			for j := range v {
				dot += float64(v[j]) * float64(row[j])
			}
			cos := float32(dot / (norms[i] * rn))
			best[i] = insertNeighbor(best[i], trace.Neighbor{ID: id, Cosine: cos}, r.top)
		}
	}
	out := make([]trace.Embedding, len(prompt))
	for p, id := range prompt {
		i := uniq[id]
		nb := append([]trace.Neighbor(nil), best[i]...)
		for k := range nb {
			t := r.token(nb[k].ID)
			nb[k].Piece, nb[k].Bytes, nb[k].Text = t.Piece, t.Bytes, t.Text
		}
		out[p] = trace.Embedding{
			Position: p, Token: r.token(id), Norm: float32(norms[i]),
			First: append([]float32(nil), vecs[i][:first]...), Neighbors: nb,
		}
	}
	return trace.Event{Type: trace.TypeEmbeddings, Embeddings: out}
}

func insertNeighbor(list []trace.Neighbor, n trace.Neighbor, k int) []trace.Neighbor {
	if len(list) == k && n.Cosine <= list[k-1].Cosine {
		return list
	}
	i := sort.Search(len(list), func(i int) bool { return list[i].Cosine < n.Cosine })
	if len(list) < k {
		list = append(list, trace.Neighbor{})
	}
	copy(list[i+1:], list[i:len(list)-1])
	list[i] = n
	return list
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// step builds the dissection of one generated token from what the recorder
// saw at its position, the logits and the sampler's trace.
func (r *recorder) step(index, pos int, history []int, logits []float32, chosen int, text string) *trace.Step {
	st := &trace.Step{Index: index, Position: pos, Input: r.token(history[pos]), Token: r.token(chosen), Text: text}

	rec := r.at(pos)
	// attention: the most attended positions of each recorded head
	for _, h := range rec.attn {
		h.Top = r.topAttended(h.Weights, history)
		h.Entropy = entropy(h.Weights)
		st.Attention = append(st.Attention, h)
	}

	// mixture of experts: the routers' choices
	st.Experts = append(st.Experts, rec.exps...)

	// logit lens: each traced layer's residual through the final norm and output
	if r.cfg.Options.LogitLens {
		for l, x := range rec.resid {
			if x == nil {
				continue
			}
			r.m.LogitLens(r.logits, x, r.normed)
			top, _ := r.candidates(r.logits)
			st.LogitLens = append(st.LogitLens, trace.LensLayer{Layer: l, Top: top})
		}
	}

	// prediction: the raw distribution
	top, ent := r.candidates(logits)
	st.Prediction = trace.Prediction{Top: top, Entropy: ent}
	if rec.hasUncapped {
		for k := range top {
			v := rec.uncapped[top[k].ID] // a copy: the record is reused
			top[k].LogitUncapped = &v
		}
		ch := r.candidate(chosen, logits[chosen], softmaxProb(logits, chosen))
		v := rec.uncapped[chosen]
		ch.LogitUncapped = &v
		st.Prediction.Chosen = &ch
	}

	// decoding: the sampler chain as applied
	s := &r.smp
	st.Sampling = trace.Sampling{Draw: s.Draw, ChosenRank: s.ChosenRank, ChosenProb: s.ChosenProb}
	st.Sampling.RawProb = softmaxProb(logits, chosen)
	for _, sp := range s.Steps {
		ss := trace.SamplerStep{Name: sp.Name, Kept: sp.Kept}
		for _, c := range sp.Top {
			ss.Top = append(ss.Top, r.candidate(c.ID, c.Logit, c.Prob))
		}
		st.Sampling.Steps = append(st.Sampling.Steps, ss)
	}
	st.Draft, r.draft = r.draft, nil
	if r.constrained {
		g := &trace.GrammarCheck{Checked: s.Checked, Removed: []trace.Candidate{}}
		for _, c := range s.Removed {
			g.Removed = append(g.Removed, r.candidate(c.ID, c.Logit, c.Prob))
		}
		st.Sampling.Grammar = g
	}
	return st
}

func (r *recorder) topAttended(w []float32, history []int) []trace.Attended {
	idx := make([]int, len(w))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return w[idx[a]] > w[idx[b]] })
	idx = idx[:min(r.top, len(idx))]
	out := make([]trace.Attended, len(idx))
	for k, p := range idx {
		out[k] = trace.Attended{Position: p, Token: r.token(history[p]), Weight: w[p]}
	}
	return out
}

// candidates returns the top tokens of logits with their softmax
// probabilities, and the entropy of the distribution.
func (r *recorder) candidates(logits []float32) ([]trace.Candidate, float32) {
	maxv := float32(math.Inf(-1))
	for _, v := range logits {
		if v > maxv {
			maxv = v
		}
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - maxv))
	}
	var ent float64
	for _, v := range logits {
		p := math.Exp(float64(v-maxv)) / sum
		if p > 0 {
			ent -= p * math.Log(p)
		}
	}
	var top []trace.Candidate
	for id, v := range logits {
		if len(top) == r.top && v <= top[len(top)-1].Logit {
			continue
		}
		i := sort.Search(len(top), func(i int) bool { return top[i].Logit < v })
		if len(top) < r.top {
			top = append(top, trace.Candidate{})
		}
		copy(top[i+1:], top[i:len(top)-1])
		top[i] = trace.Candidate{ID: id, Logit: v}
	}
	for k, c := range top {
		top[k] = r.candidate(c.ID, c.Logit, float32(math.Exp(float64(c.Logit-maxv))/sum))
	}
	return top, float32(ent)
}

func softmaxProb(logits []float32, id int) float32 {
	maxv := float32(math.Inf(-1))
	for _, v := range logits {
		maxv = max(maxv, v)
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - maxv))
	}
	return float32(math.Exp(float64(logits[id]-maxv)) / sum)
}

func entropy(w []float32) float32 {
	var e float64
	for _, p := range w {
		if p > 0 {
			e -= float64(p) * math.Log(float64(p))
		}
	}
	return float32(e)
}
