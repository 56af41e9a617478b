// Command batchload measures a completions server under concurrent streams:
// it sends -c streamed /v1/completions at once (each with its own prompt,
// -n tokens, end-of-generation ignored), -rounds times, and prints the
// aggregate generation rate (completion tokens of all streams over the wall
// time from the first request to the last end), the generation rate after
// the first tokens (completion tokens but each stream's first over the time
// from the median first token to the last end; one at a time, over the
// streams' times after their first tokens) and each stream's time to first
// token. With -c 1 the requests go one at a time.
//
//	go run ./internal/cmd/batchload -url http://127.0.0.1:8080 -c 4 -n 128
//
// serverload.sh beside it starts one server (glassbox serve or llama-server),
// runs the measurements of docs/serving.md ("Measured") against it and stops it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// prompts are different openings of about 26 tokens each, so that no
// stream reuses another's prompt cache.
var prompts = []string{
	"Once upon a time there was a little girl who lived in a village near the forest. One day she went out to",
	"The weather report for the coming week says that the northern regions will see heavy rain and strong winds, while",
	"In the beginning of the project the team wrote a short list of the features the first version would need, such as",
	"My grandmother kept a small garden behind her house where she grew tomatoes, beans, herbs and flowers of every",
	"The history of the printing press begins long before Gutenberg, with wooden blocks carved by hand in China and",
	"To install the package, first download the archive from the release page, then unpack it into a folder and run",
	"The old lighthouse keeper climbed the stairs every evening at dusk to light the lamp, and every morning he",
	"A good cup of coffee starts with fresh beans, ground just before brewing, and water that is hot but not boiling so",
}

type result struct {
	tokens int
	ttft   time.Duration // to the first token
	total  time.Duration // to the end of the stream
	err    error
}

// client opens a connection per request: llama-server v0.5.0 closes a
// connection after a streamed completion without saying so, and a POST on
// such a reused connection fails with EOF.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func stream(url, model, prompt string, n int) result {
	body, _ := json.Marshal(map[string]any{
		"model": model, "prompt": prompt, "max_tokens": n, "temperature": 0, "stream": true,
		"ignore_eos": true, "cache_prompt": false, "stream_options": map[string]any{"include_usage": true},
	})
	t0 := time.Now()
	resp, err := client.Post(url+"/v1/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return result{err: fmt.Errorf("status %d", resp.StatusCode)}
	}
	var r result
	chunks := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		d, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Text string `json:"text"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(d), &c); err != nil {
			return result{err: err}
		}
		if len(c.Choices) > 0 && c.Choices[0].Text != "" {
			if chunks == 0 {
				r.ttft = time.Since(t0)
			}
			chunks++
		}
		if c.Usage != nil && c.Usage.CompletionTokens > 0 {
			r.tokens = c.Usage.CompletionTokens
		}
	}
	if r.tokens == 0 {
		r.tokens = chunks
	}
	r.err = sc.Err()
	r.total = time.Since(t0)
	return r
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "server base URL")
	model := flag.String("model", "m", "model name sent")
	conc := flag.Int("c", 4, "concurrent streams (1: one at a time)")
	total := flag.Int("requests", 0, "requests per round (default: -c; more than -c queue)")
	n := flag.Int("n", 128, "tokens per completion")
	rounds := flag.Int("rounds", 1, "rounds")
	flag.Parse()
	reqs := *total
	if reqs <= 0 {
		reqs = *conc
	}
	for round := range *rounds {
		res := make([]result, reqs)
		t0 := time.Now()
		if *conc == 1 {
			for i := range reqs {
				res[i] = stream(*url, *model, prompts[(round*reqs+i)%len(prompts)], *n)
			}
		} else {
			var wg sync.WaitGroup
			for i := range reqs {
				wg.Go(func() {
					res[i] = stream(*url, *model, prompts[(round*reqs+i)%len(prompts)]+fmt.Sprintf(" (%d)", i), *n)
				})
			}
			wg.Wait()
		}
		wall := time.Since(t0)
		tokens, later := 0, 0
		var ttft []time.Duration
		var decoding time.Duration // one at a time: the streams' time after their first tokens
		for i, r := range res {
			if r.err != nil {
				fmt.Fprintf(os.Stderr, "request %d: %v\n", i, r.err)
				os.Exit(1)
			}
			tokens += r.tokens
			later += max(0, r.tokens-1)
			ttft = append(ttft, r.ttft)
			decoding += r.total - r.ttft
		}
		slices.Sort(ttft)
		if *conc > 1 {
			decoding = wall - ttft[len(ttft)/2]
		}
		fmt.Printf("round %d: %d requests (%d at once), %d tokens in %.2fs: %.1f tokens/s aggregate, %.1f after the first tokens; time to first token min %v median %v max %v\n",
			round+1, reqs, *conc, tokens, wall.Seconds(), float64(tokens)/wall.Seconds(), float64(later)/decoding.Seconds(),
			ttft[0].Round(time.Millisecond), ttft[len(ttft)/2].Round(time.Millisecond), ttft[len(ttft)-1].Round(time.Millisecond))
	}
}
