package infer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/models"
	"glassbox/sample"
	"glassbox/trace"
)

// batchModels opens the models the batching tests run on: the llama2c
// fixture (SentencePiece, F32 weights) and the embedded default model
// (byte-level BPE, quantized), both with prompt chunks of batch tokens.
func batchModels(t *testing.T, batch int) map[string]*glassbox.Model {
	t.Helper()
	opts := &glassbox.Options{Context: 256, Batch: batch}
	fix, err := glassbox.Open(fixtures.Path(t, "llama2c", "stories260K.bin"), opts)
	if err != nil {
		t.Fatal(err)
	}
	def, err := glassbox.OpenBytes(models.DefaultName, models.Default, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fix.Close(); def.Close() })
	return map[string]*glassbox.Model{"stories260K": fix, "default": def}
}

// batchCase is one request of a batching test.
type batchCase struct {
	prompt  string
	max     int
	sampler sample.Params
	stop    []string
	grammar string
	trace   bool
}

var batchCases = []batchCase{
	{prompt: "Once upon a time", max: 24},
	{prompt: "The little dog ran to the park and saw a big red ball. It", max: 30, sampler: sampled(0.9, 40, 0.95, 7)},
	{prompt: "func main() {", max: 16, sampler: sampled(1.2, 0, 1, 99), stop: []string{"\n\n", "the"}},
	{prompt: "A", max: 20, grammar: `root ::= [a-z ]+ "."`},
	{prompt: "Tom and Lily", max: 12, trace: true},
}

// sampled returns the default sampler with a temperature, top-k, top-p and seed.
func sampled(temp float32, topK int, topP float32, seed uint64) sample.Params {
	p := sample.DefaultParams()
	p.Temperature, p.TopK, p.TopP, p.Seed = temp, topK, topP, seed
	return p
}

// outcome is what a generation produced, compared between a batched and a
// lone run.
type outcome struct {
	res    *glassbox.Result
	err    error
	events []string // trace events, without timings
}

// runCase runs one case on a session; onToken, when set, is called with the
// number of tokens generated so far after each one.
func runCase(ctx context.Context, m *glassbox.Model, s *glassbox.Session, c batchCase, onToken func(n int)) outcome {
	ids := m.Tokenizer().Encode(c.prompt, glassbox.EncodeOptions{AddBOS: true})
	var o outcome
	n := 0
	req := glassbox.Request{Prompt: ids, MaxTokens: c.max, Sampler: c.sampler, Stop: c.stop, Grammar: c.grammar,
		LogProbs: 3, IgnoreEOS: true,
		OnToken: func(glassbox.Token) error {
			n++
			if onToken != nil {
				onToken(n)
			}
			return nil
		}}
	if c.trace {
		req.Trace = &infer.Tracing{Options: trace.All(4), Emit: func(ev trace.Event) error {
			if ev.Type == trace.TypeDone {
				ev.Done.PromptPerSec, ev.Done.GenPerSec = 0, 0
			}
			b, err := json.Marshal(ev)
			o.events = append(o.events, string(b))
			return err
		}}
	}
	o.res, o.err = s.Generate(ctx, req)
	return o
}

// sameOutcome fails the test unless a and b generated the same tokens with
// the same log-probabilities (bit for bit), text and trace.
func sameOutcome(t *testing.T, what string, got, want outcome) {
	t.Helper()
	if (got.err == nil) != (want.err == nil) {
		t.Fatalf("%s: error %v, alone %v", what, got.err, want.err)
	}
	if want.res == nil {
		return
	}
	g, w := got.res, want.res
	if fmt.Sprint(g.IDs) != fmt.Sprint(w.IDs) || g.Text != w.Text || g.FinishReason != w.FinishReason || g.StopString != w.StopString {
		t.Fatalf("%s: batched %v %q (%s), alone %v %q (%s)", what, g.IDs, g.Text, g.FinishReason, w.IDs, w.Text, w.FinishReason)
	}
	for i := range w.Tokens {
		a, b := g.Tokens[i], w.Tokens[i]
		if math.Float32bits(a.LogProb) != math.Float32bits(b.LogProb) || fmt.Sprint(a.Top) != fmt.Sprint(b.Top) {
			t.Fatalf("%s: token %d log-probabilities %v %v, alone %v %v", what, i, a.LogProb, a.Top, b.LogProb, b.Top)
		}
	}
	if len(got.events) != len(want.events) {
		t.Fatalf("%s: %d trace events, alone %d", what, len(got.events), len(want.events))
	}
	for i := range want.events {
		if got.events[i] != want.events[i] {
			t.Fatalf("%s: trace event %d differs:\n%.300s\nalone:\n%.300s", what, i, got.events[i], want.events[i])
		}
	}
}

// alone runs every case on a fresh plain session.
func alone(t *testing.T, m *glassbox.Model, cases []batchCase) []outcome {
	t.Helper()
	out := make([]outcome, len(cases))
	for i, c := range cases {
		s, err := m.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = runCase(context.Background(), m, s, c, nil)
		if out[i].err != nil {
			t.Fatalf("case %d alone: %v", i, out[i].err)
		}
	}
	return out
}

// batchSessions starts a batcher of n sessions.
func batchSessions(t *testing.T, m *glassbox.Model, n int) (*glassbox.Batcher, []*glassbox.Session) {
	t.Helper()
	b, err := m.NewBatcher(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ss := make([]*glassbox.Session, n)
	for i := range ss {
		if ss[i], err = b.NewSession(); err != nil {
			t.Fatal(err)
		}
	}
	return b, ss
}

// TestBatcherMatchesAlone runs five different requests (greedy and seeded
// sampling, a stop string, a grammar, a dissection) at once on a batcher
// and checks each against the same request run alone: same tokens,
// log-probabilities, text and trace. The batcher must have batched.
func TestBatcherMatchesAlone(t *testing.T) {
	for name, m := range batchModels(t, 8) {
		t.Run(name, func(t *testing.T) {
			want := alone(t, m, batchCases)
			b, ss := batchSessions(t, m, len(batchCases))
			got := make([]outcome, len(batchCases))
			var wg sync.WaitGroup
			for i, c := range batchCases {
				wg.Go(func() { got[i] = runCase(context.Background(), m, ss[i], c, nil) })
			}
			wg.Wait()
			for i := range batchCases {
				sameOutcome(t, fmt.Sprintf("case %d", i), got[i], want[i])
			}
			if rounds, rows := b.Stats(); rows <= rounds {
				t.Errorf("%d decode steps held %d sequence steps: nothing was batched", rounds, rows)
			}
			// a second turn on the same sessions reuses their caches and
			// still matches a lone session's second turn
			for i, c := range batchCases {
				c.prompt += " and then"
				wg.Go(func() { got[i] = runCase(context.Background(), m, ss[i], c, nil) })
			}
			wg.Wait()
			for i, c := range batchCases {
				s, err := m.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				runCase(context.Background(), m, s, c, nil)
				c.prompt += " and then"
				w := runCase(context.Background(), m, s, c, nil)
				if got[i].res.Timings.CachedTokens == 0 || got[i].res.Timings.CachedTokens != w.res.Timings.CachedTokens {
					t.Errorf("case %d, second turn: %d cached tokens, alone %d", i, got[i].res.Timings.CachedTokens, w.res.Timings.CachedTokens)
				}
				sameOutcome(t, fmt.Sprintf("case %d, second turn", i), got[i], w)
			}
		})
	}
}

// TestBatcherJoinAndLongPrompt starts two requests, lets them decode, then
// adds a request whose long prompt takes many chunks and, once it decodes,
// a fourth one: the two first keep decoding while the long prompt is
// processed, and every request matches its lone run.
func TestBatcherJoinAndLongPrompt(t *testing.T) {
	m := batchModels(t, 4)["stories260K"]
	long := "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. One day, she saw a big, red ball in the park."
	cases := []batchCase{
		{prompt: "Once upon a time", max: 80},
		{prompt: "The cat sat", max: 80, sampler: sampled(0.8, 0, 1, 3)},
		{prompt: long, max: 20},
		{prompt: "Tom had a toy", max: 10, sampler: sampled(1, 10, 1, 11)},
	}
	if ids := m.Tokenizer().Encode(long, glassbox.EncodeOptions{AddBOS: true}); len(ids) < 8*4 {
		t.Fatalf("the long prompt has %d tokens, want at least 8 chunks", len(ids))
	}
	want := alone(t, m, cases)
	_, ss := batchSessions(t, m, 4)
	got := make([]outcome, len(cases))
	var produced atomic.Int64 // tokens of the first two requests
	var duringLong atomic.Int64
	longStarted, longFirst := make(chan struct{}), make(chan struct{})
	fourthStart := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	for i := range 2 {
		wg.Go(func() {
			got[i] = runCase(context.Background(), m, ss[i], cases[i], func(n int) {
				produced.Add(1)
				if n == 3 && i == 0 {
					once.Do(func() { close(longStarted) })
				}
			})
		})
	}
	<-longStarted
	wg.Go(func() {
		before := produced.Load()
		first := true
		got[2] = runCase(context.Background(), m, ss[2], cases[2], func(n int) {
			if first {
				first = false
				duringLong.Store(produced.Load() - before)
				close(longFirst)
			}
			if n == 5 {
				close(fourthStart)
			}
		})
	})
	<-longFirst
	<-fourthStart
	wg.Go(func() { got[3] = runCase(context.Background(), m, ss[3], cases[3], nil) })
	wg.Wait()
	for i := range cases {
		sameOutcome(t, fmt.Sprintf("case %d", i), got[i], want[i])
	}
	if d := duringLong.Load(); d < 4 {
		t.Errorf("the other requests generated %d tokens while the long prompt was processed, want at least 4 (one per chunk)", d)
	}
}

// TestBatcherCancelOne cancels one of four requests mid-stream: it ends
// with context.Canceled and the tokens so far, the others are unchanged.
func TestBatcherCancelOne(t *testing.T) {
	m := batchModels(t, 8)["default"]
	cases := batchCases[:4]
	want := alone(t, m, cases)
	_, ss := batchSessions(t, m, 4)
	got := make([]outcome, len(cases))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			cctx := context.Background()
			var on func(int)
			if i == 1 {
				cctx = ctx
				on = func(n int) {
					if n == 4 {
						cancel()
					}
				}
			}
			got[i] = runCase(cctx, m, ss[i], c, on)
		})
	}
	wg.Wait()
	for i := range cases {
		if i == 1 {
			if !errors.Is(got[i].err, context.Canceled) || got[i].res == nil || len(got[i].res.IDs) != 4 {
				t.Fatalf("cancelled request: %v, %v", got[i].err, got[i].res)
			}
			if fmt.Sprint(got[i].res.IDs) != fmt.Sprint(want[i].res.IDs[:4]) {
				t.Errorf("cancelled request's tokens %v, alone %v", got[i].res.IDs, want[i].res.IDs[:4])
			}
			continue
		}
		sameOutcome(t, fmt.Sprintf("case %d", i), got[i], want[i])
	}
	// the cancelled session serves the next request as if alone
	ss[1].Reset()
	again := runCase(context.Background(), m, ss[1], cases[1], nil)
	sameOutcome(t, "after the cancellation", again, want[1])
}

// TestBatcherManyOnFew runs 16 requests over 4 sessions (each request takes
// a free session, as the server's slots do): all finish and match.
func TestBatcherManyOnFew(t *testing.T) {
	m := batchModels(t, 8)["stories260K"]
	var cases []batchCase
	for i := range 16 {
		c := batchCases[i%len(batchCases)]
		c.trace = false
		if c.sampler.Temperature > 0 {
			c.sampler.Seed += uint64(i)
		}
		c.max = 6 + i%5
		cases = append(cases, c)
	}
	want := alone(t, m, cases)
	_, ss := batchSessions(t, m, 4)
	free := make(chan *glassbox.Session, len(ss))
	for _, s := range ss {
		free <- s
	}
	got := make([]outcome, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			s := <-free
			s.Reset()
			got[i] = runCase(context.Background(), m, s, c, nil)
			free <- s
		})
	}
	wg.Wait()
	for i := range cases {
		sameOutcome(t, fmt.Sprintf("case %d", i), got[i], want[i])
	}
}

// TestBatcherClosed: generations fail with ErrBatcherClosed once the
// batcher is closed.
func TestBatcherClosed(t *testing.T) {
	m := batchModels(t, 8)["stories260K"]
	b, ss := batchSessions(t, m, 1)
	b.Close()
	b.Close() // twice is fine
	o := runCase(context.Background(), m, ss[0], batchCases[0], nil)
	if !errors.Is(o.err, infer.ErrBatcherClosed) {
		t.Fatalf("error %v, want ErrBatcherClosed", o.err)
	}
}

// TestBatcherPromptsTogether starts four requests with prompts of several
// chunks at once (one of them traced): their chunks go through the model
// together (fewer passes with prompt chunks than chunks), and every request
// matches its lone run. With a round budget of one token, each pass holds
// one chunk, and the requests still match.
func TestBatcherPromptsTogether(t *testing.T) {
	for name, m := range batchModels(t, 8) {
		t.Run(name, func(t *testing.T) {
			long := "Once upon a time, there was a little girl named Lily. She loved to play outside"
			cases := []batchCase{
				{prompt: long, max: 12},
				{prompt: "The cat sat on the mat and looked at the big dog in the garden", max: 10, sampler: sampled(0.8, 0, 1, 3)},
				{prompt: long + " in the sunshine.", max: 8, trace: true},
				{prompt: "Tom had a toy car. He liked to play with it every day.", max: 9},
			}
			want := alone(t, m, cases)
			for _, budget := range []int{0, 1} {
				b, ss := batchSessions(t, m, len(cases))
				if budget > 0 {
					if err := b.SetTokens(budget); err != nil {
						t.Fatal(err)
					}
				}
				got := make([]outcome, len(cases))
				var wg sync.WaitGroup
				for i, c := range cases {
					wg.Go(func() { got[i] = runCase(context.Background(), m, ss[i], c, nil) })
				}
				wg.Wait()
				for i := range cases {
					sameOutcome(t, fmt.Sprintf("budget %d, case %d", budget, i), got[i], want[i])
				}
				passes, chunks := b.PromptStats()
				switch {
				case budget == 0 && chunks <= passes:
					t.Errorf("%d prompt chunks in %d passes: no two prompts were processed together", chunks, passes)
				case budget == 1 && chunks != passes:
					t.Errorf("budget of one token: %d prompt chunks in %d passes, want one per pass", chunks, passes)
				}
			}
			b, _ := batchSessions(t, m, 1)
			if err := b.SetTokens(0); err == nil {
				t.Error("SetTokens(0) succeeded")
			}
		})
	}
}
