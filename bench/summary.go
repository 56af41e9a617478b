package bench

import (
	"encoding/json"
	"strings"

	"glassbox/eval"
)

// Summarize turns the results of Run into the figures a bench record keeps
// (eval.Speed): the pp and tg speeds at the thread count whose generation
// was fastest, the time to first token (the mean duration of that pp test:
// the prefill of the prompt, whose last logits give the first token), the
// highest peak RSS, the load time and every row as measured. contextLength
// is the model's training context.
func Summarize(results []Result, contextLength int) eval.Speed {
	s := eval.Speed{ContextLength: contextLength}
	best := -1
	for i, r := range results {
		if strings.HasPrefix(r.Test, "tg") && (best < 0 || r.TokensPerS > results[best].TokensPerS) {
			best = i
		}
	}
	threads := 0
	if best >= 0 {
		threads = results[best].Threads
	} else if len(results) > 0 { // a pp test alone: its fastest thread count
		for i, r := range results {
			if best < 0 || r.TokensPerS > results[best].TokensPerS {
				best = i
			}
		}
		threads = results[best].Threads
	}
	s.Threads = threads
	for _, r := range results {
		s.PeakRSSBytes = max(s.PeakRSSBytes, r.PeakRSS)
		s.LoadMS = r.LoadMS
		s.Rows = append(s.Rows, row(r))
		if r.Threads != threads {
			continue
		}
		n := testSize(r.Test)
		switch {
		case strings.HasPrefix(r.Test, "pp"):
			s.PromptTokens, s.PromptTPS, s.PromptStdDev = n, r.TokensPerS, r.StdDev
			if r.TokensPerS > 0 {
				s.TTFTMS = float64(n) / r.TokensPerS * 1000
			}
		case strings.HasPrefix(r.Test, "tg"):
			s.GenTokens, s.GenTPS, s.GenStdDev = n, r.TokensPerS, r.StdDev
		}
	}
	return s
}

// testSize returns N of a test named ppN or tgN (0 if it has none).
func testSize(test string) int {
	n := 0
	for _, c := range test[min(2, len(test)):] {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// row is r as the JSON object --json prints.
func row(r Result) map[string]any {
	b, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
