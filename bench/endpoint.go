package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"text/tabwriter"

	"glassbox/eval"
	"glassbox/remote"
)

// EndpointOptions says what RunEndpoint measures.
type EndpointOptions struct {
	Prompt      int // prompt tokens (about this many when the server cannot tokenize); at least 1
	Gen         int // tokens to generate in each request, at least 2
	Repetitions int // measured requests after one warm-up, at least 1
}

// EndpointRun is one measured request.
type EndpointRun struct {
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	TTFTMS           float64 `json:"ttft_ms"`
	TotalMS          float64 `json:"total_ms"`
	PromptTPS        float64 `json:"pp_tokens_per_s"`
	GenTPS           float64 `json:"tg_tokens_per_s"`
}

// fillerWords make the prompts of RunEndpoint: ordinary English words, each
// about one token in common vocabularies.
var fillerWords = strings.Fields(`the time people year way day man thing woman life child world school state family
student group country problem hand part place case week company system program question work government number
night point home water room mother area money story fact month lot right study book eye job word business issue
side kind head house service friend father power hour game line end member law car city community name president
team minute idea kid body information back parent face others level office door health person art war history
party result change morning reason research girl guy moment air teacher force education`)

// endpointPrompt returns a prompt of n tokens whose first words differ from
// one seed to the next, so that a server's prompt cache cannot serve a
// repetition from the previous one: n token ids of the server's vocabulary
// when it tokenizes (POST /tokenize), else a text of about n tokens.
func endpointPrompt(ctx context.Context, c *remote.Client, n int, seed uint64) (string, []int, error) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	words := make([]string, n)
	for i := range words {
		words[i] = fillerWords[rng.IntN(len(fillerWords))]
	}
	text := strings.Join(words, " ")
	ids, err := c.Tokenize(ctx, text, false)
	switch {
	case errors.Is(err, remote.ErrUnsupported):
		// about 4/3 tokens a word in large vocabularies
		return strings.Join(words[:max(n*3/4, 1)], " "), nil, nil
	case err != nil:
		return "", nil, err
	case len(ids) < n:
		return "", nil, fmt.Errorf("bench: %s tokenized %d words into %d tokens, fewer than the %d asked", c.Endpoint, n, len(ids), n)
	}
	return "", ids[:n], nil
}

// RunEndpoint measures the model at an endpoint as bench measures a local
// one, through streamed completions: after a warm-up request, each of
// opts.Repetitions requests sends a prompt of opts.Prompt tokens (token ids
// from the server's POST /tokenize when it has one, else a text of about
// that many tokens; a different one each time, so no prompt cache helps)
// and generates
// opts.Gen tokens. The time to first token is the time from sending the
// request to the first streamed text, which includes the network and the
// server's queue; prompt processing speed is the prompt tokens (from the
// server's usage) over that time; generation speed is the tokens after the
// first over the time from the first text to the end of the stream. The
// figures are means over the repetitions; peak RAM cannot be seen.
func RunEndpoint(ctx context.Context, c *remote.Client, opts EndpointOptions) (eval.Speed, []EndpointRun, error) {
	if opts.Prompt < 1 || opts.Gen < 2 || opts.Repetitions < 1 {
		return eval.Speed{}, nil, fmt.Errorf("bench: an endpoint needs a prompt of at least 1 token, at least 2 generated tokens and 1 repetition (got %d, %d, %d)", opts.Prompt, opts.Gen, opts.Repetitions)
	}
	var runs []EndpointRun
	for rep := range opts.Repetitions + 1 {
		text, ids, err := endpointPrompt(ctx, c, opts.Prompt, uint64(rep)+1)
		if err != nil {
			return eval.Speed{}, runs, err
		}
		t, err := c.Stream(ctx, text, ids, opts.Gen)
		if err != nil {
			return eval.Speed{}, runs, err
		}
		if rep == 0 {
			continue // warm-up: the server may load the model
		}
		if t.CompletionTokens < 2 {
			return eval.Speed{}, runs, fmt.Errorf("bench: %s generated %d token(s) of the %d asked: it stopped early (it ignores ignore_eos), so generation speed cannot be measured", c.Endpoint, t.CompletionTokens, opts.Gen)
		}
		r := EndpointRun{PromptTokens: t.PromptTokens, CompletionTokens: t.CompletionTokens,
			TTFTMS: float64(t.TTFT.Microseconds()) / 1000, TotalMS: float64(t.Total.Microseconds()) / 1000, GenTPS: t.GenTPS()}
		if t.TTFT > 0 {
			r.PromptTPS = float64(t.PromptTokens) / t.TTFT.Seconds()
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return eval.Speed{}, nil, errors.New("bench: no request measured")
	}
	var pp, tg, ttft, ptoks, gtoks []float64
	s := eval.Speed{}
	for _, r := range runs {
		pp, tg, ttft = append(pp, r.PromptTPS), append(tg, r.GenTPS), append(ttft, r.TTFTMS)
		ptoks, gtoks = append(ptoks, float64(r.PromptTokens)), append(gtoks, float64(r.CompletionTokens))
		s.Rows = append(s.Rows, map[string]any{"prompt_tokens": r.PromptTokens, "completion_tokens": r.CompletionTokens,
			"ttft_ms": r.TTFTMS, "total_ms": r.TotalMS, "pp_tokens_per_s": r.PromptTPS, "tg_tokens_per_s": r.GenTPS})
	}
	s.PromptTPS, s.PromptStdDev = meanStd(pp)
	s.GenTPS, s.GenStdDev = meanStd(tg)
	s.TTFTMS, _ = meanStd(ttft)
	p, _ := meanStd(ptoks)
	g, _ := meanStd(gtoks)
	s.PromptTokens, s.GenTokens = int(p+0.5), int(g+0.5)
	return s, runs, nil
}

// WriteEndpointTable writes the measurement of an endpoint as a table: one
// row per request and the mean.
func WriteEndpointTable(w io.Writer, endpoint, model string, s eval.Speed, runs []EndpointRun) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s at %s\n", model, endpoint)
	fmt.Fprintln(tw, "request\tprompt tokens\tgen tokens\tTTFT\tpp t/s\ttg t/s\ttotal\t")
	for i, r := range runs {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.1f ms\t%.2f\t%.2f\t%.1f ms\t\n", i+1, r.PromptTokens, r.CompletionTokens, r.TTFTMS, r.PromptTPS, r.GenTPS, r.TotalMS)
	}
	fmt.Fprintf(tw, "mean\t%d\t%d\t%.1f ms\t%.2f ± %.2f\t%.2f ± %.2f\t\t\n", s.PromptTokens, s.GenTokens, s.TTFTMS, s.PromptTPS, s.PromptStdDev, s.GenTPS, s.GenStdDev)
	return tw.Flush()
}
