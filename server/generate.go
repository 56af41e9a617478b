package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"glassbox"
)

// systemFingerprint identifies the backend in OpenAI responses.
const systemFingerprint = "fp_glassbox"

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// genJob is one generation of a request: a prompt and the sampler of one choice.
type genJob struct {
	prompt  []int
	sampler glassbox.SamplerParams
}

// errStopped is the cause of the cancellation of generations by StopGenerations.
var errStopped = errors.New("generations stopped: the server is shutting down")

// errLimit, returned by an onToken function, ends a generation at a limit of
// the request (/infill's n_indent and t_max_predict_ms, a warm-up call): run
// then returns the result so far with finish_reason "length". The token whose
// onToken returned it is in the result but was never decoded into the cache.
var errLimit = errors.New("a limit of the request ended the generation")

// run generates one choice on a slot, streaming tokens to onToken, and
// records the metrics. start is when the request arrived, for the time to
// first token (zero for the later choices of a request, which do not count).
// A generation ended by StopGenerations is a result, not an error: its text
// so far, finish_reason "length" (and, when traced, a final "done" event).
func (s *Server) run(ctx context.Context, e *entry, sl *slot, job genJob, g *genParams, start time.Time, onToken func(glassbox.Token) error) (*glassbox.Result, error) {
	if s.stopped.Err() != nil {
		return s.stoppedResult(&glassbox.Result{PromptIDs: append([]int(nil), job.prompt...)}, g)
	}
	if err := s.slotFit(e, len(job.prompt), g.maxTokens); err != nil {
		return nil, err
	}
	maxTokens := g.maxTokens
	if e.limited() {
		// the slot's cache may not grow past its budget: the generation
		// stops with "length" when it is full, as at the end of the context
		if room := e.slotCtx - len(job.prompt); maxTokens == 0 || maxTokens > room {
			maxTokens = room
		}
	}
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	unhook := context.AfterFunc(s.stopped, func() { cancel(errStopped) })
	defer unhook()
	var last time.Time // when the previous token came
	generated := 0
	sl.used.Store(int64(len(job.prompt))) // the prompt's positions are the request's from now on
	ttft, itl := s.metrics.ttft.WithLabelValues(e.name), s.metrics.itl.WithLabelValues(e.name)
	req := glassbox.Request{
		Prompt: job.prompt, MaxTokens: maxTokens, Stop: g.stop, Sampler: job.sampler, IgnoreEOS: g.ignoreEOS, Trace: g.trace, Special: g.special, Grammar: g.grammar,
		OnToken: func(t glassbox.Token) error {
			now := time.Now()
			switch {
			case !last.IsZero():
				itl.Observe(now.Sub(last).Seconds())
			case !start.IsZero():
				ttft.Observe(now.Sub(start).Seconds())
			}
			last = now
			generated++
			sl.used.Store(int64(len(job.prompt) + generated))
			if onToken != nil {
				return onToken(t)
			}
			return nil
		},
	}
	if g.logprobs {
		req.LogProbs = max(g.topProbs, 1)
	}
	if sp := s.speculation(e); sp != nil && g.fields != nil {
		if sp, err := g.fields.speculative(sp); err != nil {
			return nil, err
		} else if req.Speculative, err = sl.session.Speculation(sp); err != nil {
			return nil, err
		}
	}
	if g.noCache { // cache_prompt false: the whole prompt is processed
		sl.session.Reset()
		sl.last = sl.last[:0]
	}
	sl.state.begin(e, g, job)
	res, err := sl.session.Generate(gctx, req)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(gctx), errStopped) {
		if res == nil {
			res = &glassbox.Result{PromptIDs: append([]int(nil), job.prompt...)}
		}
		res, err = s.stoppedResult(res, g)
	}
	limited := false
	if err != nil && errors.Is(err, errLimit) && res != nil {
		res.FinishReason, res.StopString, err, limited = glassbox.FinishLength, "", nil, true
	}
	if res != nil {
		sl.last = append(append(sl.last[:0], res.PromptIDs...), res.IDs...)
		if limited && len(res.IDs) > 0 {
			sl.last = sl.last[:len(sl.last)-1] // the last token was not decoded
		}
		s.metrics.promptTokens.WithLabelValues(e.name).Add(float64(len(res.PromptIDs)))
		s.cache.note(e.name, res.Timings.CachedTokens)
		sl.state.end(len(sl.last), res.Timings.CachedTokens)
		s.metrics.promptCacheHit(e.name, res.Timings.CachedTokens)
		s.metrics.generatedTokens.WithLabelValues(e.name).Add(float64(len(res.IDs)))
		if tps := res.Timings.GenPerSecond(); tps > 0 {
			s.metrics.tokensPerSecond.WithLabelValues(e.name).Set(tps)
			s.metrics.genSpeed.WithLabelValues(e.name).Observe(tps)
		}
	} else {
		sl.session.Reset()
		sl.last = sl.last[:0]
		sl.state.end(0, 0)
	}
	if err != nil {
		return res, genError(err)
	}
	return res, nil
}

// stoppedResult completes the result of a generation that StopGenerations
// ended: the text of the tokens so far, finish_reason "length", and the final
// trace event of a dissection.
func (s *Server) stoppedResult(res *glassbox.Result, g *genParams) (*glassbox.Result, error) {
	var text strings.Builder
	for _, t := range res.Tokens {
		text.WriteString(t.Text)
	}
	res.Text = text.String()
	res.StopString = ""
	res.FinishReason = glassbox.FinishLength
	if g.trace != nil && g.trace.Emit != nil {
		t := res.Timings
		err := g.trace.Emit(glassbox.TraceEvent{Type: glassbox.TraceTypeDone, Done: &glassbox.TraceDone{
			FinishReason: res.FinishReason, Text: res.Text, PromptTokens: len(res.PromptIDs), GenTokens: len(res.IDs),
			PromptPerSec: t.PromptPerSecond(), GenPerSec: t.GenPerSecond(),
		}})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// checkIDs verifies that token ids given by a client exist in the vocabulary.
func checkIDs(e *entry, ids []int, param string) error {
	n := e.model.Tokenizer().VocabSize()
	for i, id := range ids {
		if id < 0 || id >= n {
			return badRequest(param, "invalid value for '%s': token %d at position %d is outside the vocabulary of model %s (0 to %d)", param, id, i, e.name, n-1)
		}
	}
	return nil
}

// usage is OpenAI's token accounting.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	// PromptTokensDetails says how many prompt tokens came from a slot's
	// prompt cache (llama.cpp's tokens_cached).
	PromptTokensDetails promptTokensDetails `json:"prompt_tokens_details"`
}

// promptTokensDetails is OpenAI's breakdown of the prompt tokens.
type promptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// cached counts prompt tokens reused from the prompt cache.
func (u *usage) cached(n int) { u.PromptTokensDetails.CachedTokens += n }

func (u *usage) add(prompt, completion int) {
	u.PromptTokens += prompt
	u.CompletionTokens += completion
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
}

// safeLogProb keeps a log-probability encodable in JSON (-Inf becomes -9999, as OpenAI reports it).
func safeLogProb(x float32) float64 {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), -1) || x < -9999 {
		return -9999
	}
	return float64(x)
}

// sse writes a Server-Sent Events stream.
type sse struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	began bool
}

func newSSE(w http.ResponseWriter) *sse { return &sse{w: w, rc: http.NewResponseController(w)} }

// streamIf returns the event stream of a response when the client asked for
// one, and nil when the response is one JSON body.
func streamIf(stream bool, w http.ResponseWriter) *sse {
	if !stream {
		return nil
	}
	return newSSE(w)
}

// failed ends a response whose generation failed. Without a stream (a nil
// s) the error is the response; in a stream it becomes the stream's last
// event, unless the client went away (ctx is done) and nobody would read it.
func (s *sse) failed(ctx context.Context, err error) error {
	if s == nil {
		return err
	}
	if ctx.Err() == nil {
		s.fail(err)
	}
	return nil
}

func (s *sse) begin() {
	if s.began {
		return
	}
	s.began = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
}

// send writes one "data: JSON" event and flushes it.
func (s *sse) send(v any) error {
	var buf bytes.Buffer
	buf.WriteString("data: ")
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	buf.WriteByte('\n') // Encode ended the line; a blank line ends the event
	return s.raw(buf.Bytes())
}

func (s *sse) raw(b []byte) error {
	s.begin()
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// done ends an OpenAI stream.
func (s *sse) done() error { return s.raw([]byte("data: [DONE]\n\n")) }

// fail reports an error inside a stream that has begun, as OpenAI does.
func (s *sse) fail(err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = serverError(err)
	}
	s.send(ae.body())
}

// tokenText is the text and bytes of a token for logprobs, as the generated
// text spells it after the token prev.
func (e *entry) tokenText(prev, id int) (string, []int) {
	b := e.model.Tokenizer().TokenBytesAfter(prev, id)
	ints := make([]int, len(b))
	for i, c := range b {
		ints[i] = int(c)
	}
	return string(b), ints
}

// isEOG reports whether a generated token ends the generation (it is not part of the text).
func (e *entry) isEOG(id int) bool { return e.model.Tokenizer().IsEOG(id) }

// speculation returns the server's speculative settings for the model of
// e (nil when its generations decode plainly).
func (s *Server) speculation(e *entry) *glassbox.Speculative {
	sp := s.cfg.Speculative
	if sp == nil {
		return nil
	}
	if name := cmp.Or(s.cfg.SpeculativeModel, s.defaultName); name != e.name {
		return nil
	}
	return sp
}
