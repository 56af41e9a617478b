package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"glassbox"
	"glassbox/remote"
)

// DefaultPerplexityContext is the chunk length Perplexity uses when none is
// given (llama-perplexity's customary 512), lowered to the model's training
// context when that is shorter.
const DefaultPerplexityContext = 512

// PerplexityOptions configures Perplexity.
type PerplexityOptions struct {
	// Ctx is the number of tokens per chunk (default DefaultPerplexityContext,
	// at most the model's training context).
	Ctx int
	// Chunks limits the number of chunks (0: every whole chunk of the text).
	Chunks int
	// Base, when set, is the reference model (typically the F16 or F32 file
	// the model was quantized from): the KL divergence of the model's
	// next-token distribution from the base's and their top-1 agreement are
	// measured over the same positions. It must have the same vocabulary.
	Base *glassbox.Model
	// Progress, when set, is called after each chunk with the number of
	// chunks done, their total and the perplexity so far.
	Progress func(done, total int, ppl float64)
}

// PerplexityResult is what Perplexity measured.
type PerplexityResult struct {
	// Perplexity is exp of the mean negative log-likelihood of the scored
	// tokens, and PerplexityError llama.cpp's ± estimate of it.
	Perplexity      float64 `json:"perplexity"`
	PerplexityError float64 `json:"perplexity_error"`
	// NLL is the mean negative log-likelihood (nats per token).
	NLL float64 `json:"nll"`
	// Chunks is the number of chunks evaluated, Ctx their length.
	Chunks int `json:"chunks"`
	Ctx    int `json:"ctx"`
	// Tokens is the number of tokens of the tokenized text (BOS included
	// when the vocabulary adds it); Scored the number of positions scored.
	Tokens int `json:"tokens"`
	Scored int `json:"scored"`
	// ChunkPerplexity is the running perplexity after each chunk (llama.cpp's
	// [1]…, [2]… line).
	ChunkPerplexity []float64 `json:"chunk_perplexity"`
	// KL is the comparison with the base model (nil without one).
	KL *KLResult `json:"kl,omitempty"`
}

// KLResult compares a model's next-token distributions with a base model's
// over the scored positions (llama-perplexity --kl-divergence's figures).
type KLResult struct {
	// Mean is the mean KL(base‖model) in nats, MeanError its standard error.
	Mean      float64 `json:"mean"`
	MeanError float64 `json:"mean_error"`
	// Median, P99 and Max are statistics of the per-token KL divergence.
	Median float64 `json:"median"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
	// Top1Agreement is the percentage of positions where both models give
	// the highest logit to the same token.
	Top1Agreement float64 `json:"top1_agreement"`
	// BasePerplexity is the base model's perplexity over the same tokens.
	BasePerplexity float64 `json:"base_perplexity"`
}

// Perplexity measures m's perplexity over text with llama-perplexity's
// method, so that the number is comparable with llama.cpp's: the text is
// tokenized once (BOS first when the vocabulary adds it), cut into
// non-overlapping chunks of opt.Ctx tokens (the remainder is dropped), the
// first token of each chunk is replaced by BOS (when the vocabulary adds
// it), and only the second half of each chunk is scored: the logits at
// positions Ctx/2 … Ctx-2 against the tokens that follow them. The text
// must hold at least two chunks.
func Perplexity(ctx context.Context, m *glassbox.Model, text string, opt PerplexityOptions) (*PerplexityResult, error) {
	n := opt.Ctx
	if n == 0 {
		n = min(DefaultPerplexityContext, m.Config().ContextLength)
	}
	if n < 4 {
		return nil, fmt.Errorf("perplexity: the context must be at least 4 tokens, got %d", n)
	}
	if opt.Chunks < 0 {
		return nil, fmt.Errorf("perplexity: the number of chunks must be positive or 0 (all), got %d", opt.Chunks)
	}
	tok := m.Tokenizer()
	addBOS := tok.AddBOSDefault()
	tokens := tok.Encode(text, glassbox.EncodeOptions{AddBOS: addBOS})
	if len(tokens) < 2*n {
		return nil, fmt.Errorf("perplexity: the text has %d tokens; at least 2×%d (two chunks of the context) are needed", len(tokens), n)
	}
	chunks := len(tokens) / n
	if opt.Chunks > 0 {
		chunks = min(chunks, opt.Chunks)
	}
	sc, err := m.NewScorer(n)
	if err != nil {
		return nil, err
	}
	var base *glassbox.Scorer
	if opt.Base != nil {
		btok := opt.Base.Tokenizer()
		if opt.Base.Config().VocabSize != m.Config().VocabSize {
			return nil, fmt.Errorf("perplexity: the base model has %d tokens in its vocabulary and the model %d: KL divergence needs the same vocabulary", opt.Base.Config().VocabSize, m.Config().VocabSize)
		}
		if btok.AddBOSDefault() != addBOS || !slices.Equal(btok.Encode(text, glassbox.EncodeOptions{AddBOS: addBOS}), tokens) {
			return nil, errors.New("perplexity: the base model tokenizes the text differently: KL divergence needs the same tokenizer")
		}
		if base, err = opt.Base.NewScorer(n); err != nil {
			return nil, err
		}
	}
	vocab := sc.VocabSize()
	first := n / 2
	res := &PerplexityResult{Chunks: chunks, Ctx: n, Tokens: len(tokens)}
	var nll, nll2, baseNLL float64
	var kls []float64
	agree := 0
	batch := make([]int, n)
	var logits, blogits []float32
	var lp, lq []float64
	if base != nil {
		lp, lq = make([]float64, vocab), make([]float64, vocab)
	}
	for c := range chunks {
		copy(batch, tokens[c*n:(c+1)*n])
		if addBOS {
			batch[0] = tok.BOS()
		}
		if logits, err = sc.Logits(ctx, batch, logits); err != nil {
			return nil, err
		}
		if base != nil {
			if blogits, err = base.Logits(ctx, batch, blogits); err != nil {
				return nil, err
			}
		}
		for i := first; i < n-1; i++ {
			row := logits[i*vocab : (i+1)*vocab]
			next := batch[i+1]
			v := -logSoftmaxAt(row, next)
			nll += v
			nll2 += v * v
			if base != nil {
				brow := blogits[i*vocab : (i+1)*vocab]
				baseNLL -= logSoftmaxAt(brow, next)
				kl, same := klDivergence(brow, row, lp, lq)
				kls = append(kls, kl)
				if same {
					agree++
				}
			}
		}
		res.Scored += n - 1 - first
		res.ChunkPerplexity = append(res.ChunkPerplexity, math.Exp(nll/float64(res.Scored)))
		if opt.Progress != nil {
			opt.Progress(c+1, chunks, res.ChunkPerplexity[c])
		}
	}
	finishPerplexity(res, nll, nll2)
	count := float64(res.Scored)
	if base != nil {
		res.KL = klStats(kls, agree)
		res.KL.BasePerplexity = math.Exp(baseNLL / count)
	}
	return res, nil
}

// finishPerplexity sets the perplexity of res from the sums of the scored
// positions' negative log-likelihoods (nll) and of their squares (nll2).
func finishPerplexity(res *PerplexityResult, nll, nll2 float64) {
	count := float64(res.Scored)
	res.NLL = nll / count
	res.Perplexity = math.Exp(res.NLL)
	// llama.cpp's estimate: the standard error of the mean NLL times the
	// perplexity (the derivative of exp)
	if v := nll2/count - res.NLL*res.NLL; v > 0 && res.Scored > 1 {
		res.PerplexityError = math.Sqrt(v/(count-1)) * res.Perplexity
	}
}

// PerplexityEndpoint is Perplexity for a model at an OpenAI-compatible
// endpoint, by the same method: the server tokenizes the text (POST
// /tokenize, with and without its special tokens, which tells whether it
// adds BOS and which id it is), each chunk of opt.Ctx token ids (default
// DefaultPerplexityContext, which must fit the served context) is sent as a
// prompt, and the log-probabilities the server returns for the prompt's
// tokens (a completion with echo and logprobs) are scored over the second
// half of the chunk. A server that lacks either gives an error saying so
// (wrapping remote.ErrUnsupported). KL divergence needs the full
// distributions of two local models: opt.Base must be nil.
func PerplexityEndpoint(ctx context.Context, c *remote.Client, text string, opt PerplexityOptions) (*PerplexityResult, error) {
	if opt.Base != nil {
		return nil, errors.New("perplexity: KL divergence needs every logit of both models: it runs on local models only")
	}
	n := opt.Ctx
	if n == 0 {
		n = DefaultPerplexityContext
	}
	if n < 4 {
		return nil, fmt.Errorf("perplexity: the context must be at least 4 tokens, got %d", n)
	}
	if opt.Chunks < 0 {
		return nil, fmt.Errorf("perplexity: the number of chunks must be positive or 0 (all), got %d", opt.Chunks)
	}
	plain, err := c.Tokenize(ctx, text, false)
	if err != nil {
		return nil, err
	}
	special, err := c.Tokenize(ctx, text, true)
	if err != nil {
		return nil, err
	}
	// BOS is what add_special puts before the text's own tokens
	addBOS := len(special) > len(plain) && slices.Equal(special[1:1+len(plain)], plain)
	tokens := plain
	bos := -1
	if addBOS {
		bos = special[0]
		tokens = append([]int{bos}, plain...)
	}
	if len(tokens) < 2*n {
		return nil, fmt.Errorf("perplexity: the text has %d tokens; at least 2×%d (two chunks of the context) are needed", len(tokens), n)
	}
	chunks := len(tokens) / n
	if opt.Chunks > 0 {
		chunks = min(chunks, opt.Chunks)
	}
	first := n / 2
	res := &PerplexityResult{Chunks: chunks, Ctx: n, Tokens: len(tokens)}
	var nll, nll2 float64
	batch := make([]int, n)
	for ch := range chunks {
		copy(batch, tokens[ch*n:(ch+1)*n])
		if addBOS {
			batch[0] = bos
		}
		lp, err := c.ScorePrompt(ctx, "", batch)
		if err != nil {
			return nil, err
		}
		for i := first; i < n-1; i++ {
			v := -lp.Logprobs[i+1]
			nll += v
			nll2 += v * v
		}
		res.Scored += n - 1 - first
		res.ChunkPerplexity = append(res.ChunkPerplexity, math.Exp(nll/float64(res.Scored)))
		if opt.Progress != nil {
			opt.Progress(ch+1, chunks, res.ChunkPerplexity[ch])
		}
	}
	finishPerplexity(res, nll, nll2)
	return res, nil
}

// logSoftmaxAt returns log softmax(logits)[tok] with llama.cpp's arithmetic:
// the maximum in float32, the exponentials of the shifted logits in float32
// summed in float64.
func logSoftmaxAt(logits []float32, tok int) float64 {
	mx := logits[0]
	for _, l := range logits[1:] {
		mx = max(mx, l)
	}
	var sum float64
	for _, l := range logits {
		sum += float64(float32(math.Exp(float64(l - mx))))
	}
	return float64(logits[tok]-mx) - math.Log(sum)
}

// logSoftmax writes the log-probabilities of logits into dst (float64).
func logSoftmax(dst []float64, logits []float32) (argmax int) {
	mx := logits[0]
	for i, l := range logits {
		if l > mx {
			mx, argmax = l, i
		}
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l - mx))
	}
	ls := math.Log(sum)
	for i, l := range logits {
		dst[i] = float64(l-mx) - ls
	}
	return argmax
}

// klDivergence returns KL(p‖q) = Σ p·(log p − log q) of the distributions
// of the base logits p and the model logits q, and whether their argmax is
// the same token.
// lp and lq are scratch space of len(p) values.
func klDivergence(p, q []float32, lp, lq []float64) (float64, bool) {
	ap := logSoftmax(lp, p)
	aq := logSoftmax(lq, q)
	var kl float64
	for i := range lp {
		kl += math.Exp(lp[i]) * (lp[i] - lq[i])
	}
	return max(kl, 0), ap == aq
}

// klStats summarizes per-token KL divergences.
func klStats(kls []float64, agree int) *KLResult {
	n := float64(len(kls))
	var sum, sum2 float64
	for _, k := range kls {
		sum += k
		sum2 += k * k
	}
	r := &KLResult{Mean: sum / n, Top1Agreement: 100 * float64(agree) / n}
	if v := sum2/n - r.Mean*r.Mean; v > 0 && len(kls) > 1 {
		r.MeanError = math.Sqrt(v / (n - 1))
	}
	sorted := slices.Clone(kls)
	slices.Sort(sorted)
	r.Median = percentile(sorted, 0.5)
	r.P99 = percentile(sorted, 0.99)
	r.Max = sorted[len(sorted)-1]
	return r
}

// percentile returns the p-quantile of sorted values, interpolating
// linearly between the two nearest ranks.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	x := p * float64(len(sorted)-1)
	i := int(x)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := x - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}
