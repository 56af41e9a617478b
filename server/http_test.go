package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

// TestErrors sends bad requests of every kind and checks the status and the
// OpenAI error object.
func TestErrors(t *testing.T) {
	_, base := stdServer(t, func(c *Config) { c.APIKey = "sesame"; c.MaxBodyBytes = 4096 })
	auth := map[string]string{"Authorization": "Bearer sesame"}
	chat := func(extra string) string {
		return `{"model":"chat","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":4` + extra + `}`
	}
	long := strings.Repeat(" a", 700) // 1400 bytes, over 512 tokens
	tests := []struct {
		name   string
		path   string
		body   string
		header map[string]string
		status int
		param  string
		msg    string
	}{
		{"no key", "/v1/chat/completions", chat(""), nil, 401, "", "API key"},
		{"wrong key", "/v1/chat/completions", chat(""), map[string]string{"Authorization": "Bearer sesamf"}, 401, "", "API key"},
		{"key not bearer", "/v1/chat/completions", chat(""), map[string]string{"Authorization": "Basic sesame"}, 401, "", "API key"},
		{"key on tokenize", "/tokenize", `{"content":"hi"}`, nil, 401, "", "API key"},
		{"oversized body", "/v1/chat/completions", chat(`,"user":"` + strings.Repeat("x", 5000) + `"`), auth, 413, "", "larger than the limit of 4096 bytes"},
		{"empty body", "/v1/chat/completions", "", auth, 400, "", "body is empty"},
		{"malformed JSON", "/v1/chat/completions", `{"model":`, auth, 400, "", "not valid JSON"},
		{"body not an object", "/v1/chat/completions", `[1,2]`, auth, 400, "", "must be a JSON object"},
		{"temperature as string", "/v1/chat/completions", chat(`,"temperature":"hot"`), auth, 400, "temperature", "invalid type for 'temperature': expected a number, got a string"},
		{"max_tokens as float", "/v1/chat/completions", chat(`,"max_tokens":1.5`), auth, 400, "max_tokens", "expected an integer"},
		{"stream as string", "/v1/chat/completions", chat(`,"stream":"yes"`), auth, 400, "stream", "expected a boolean"},
		{"stop as number", "/v1/chat/completions", chat(`,"stop":5`), auth, 400, "stop", "a string or an array of strings"},
		{"messages missing", "/v1/chat/completions", `{"model":"chat"}`, auth, 400, "messages", "'messages' is required"},
		{"bad role", "/v1/chat/completions", `{"messages":[{"role":"wizard","content":"hi"}]}`, auth, 400, "messages[0].role", "expected system"},
		{"image part", "/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, auth, 400, "messages.content", "text only"},
		{"max_tokens 0", "/v1/chat/completions", chat(`,"max_tokens":0`), auth, 400, "max_tokens", ">= 1"},
		{"top_p 2", "/v1/chat/completions", chat(`,"top_p":2`), auth, 400, "top_p", "between 0 and 1"},
		{"top_k negative", "/v1/chat/completions", chat(`,"top_k":-1`), auth, 400, "top_k", ">= 0"},
		{"presence_penalty 3", "/v1/chat/completions", chat(`,"presence_penalty":3`), auth, 400, "presence_penalty", "between -2 and 2"},
		{"stream_options without stream", "/v1/chat/completions", chat(`,"stream_options":{"include_usage":true}`), auth, 400, "stream_options", "only allowed when 'stream' is true"},
		{"unknown model", "/v1/chat/completions", `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`, auth, 404, "model", `"gpt-5" does not exist: this server has chat, stories, fim`},
		{"prompt too long", "/v1/completions", `{"model":"stories","prompt":"` + long + `"}`, auth, 400, "prompt", "tokens too many"},
		{"prompt missing", "/v1/completions", `{"model":"stories"}`, auth, 400, "prompt", "'prompt' is required"},
		{"prompt object", "/v1/completions", `{"prompt":{"a":1}}`, auth, 400, "prompt", "expected a string, an array of strings"},
		{"token out of vocabulary", "/v1/completions", `{"model":"stories","prompt":[1,99999]}`, auth, 400, "prompt", "token 99999 at position 1 is outside the vocabulary"},
		{"logprobs too many", "/v1/completions", `{"prompt":"a","logprobs":50}`, auth, 400, "logprobs", "between 0 and 20"},
		{"max_tokens 0 without echo", "/v1/completions", `{"prompt":"a","max_tokens":0}`, auth, 400, "max_tokens", "0 is allowed with 'echo'"},
		{"suffix without FIM", "/v1/completions", `{"model":"stories","prompt":"a","suffix":"b"}`, auth, 400, "suffix", "no fill-in-the-middle tokens"},
		{"infill without FIM", "/infill", `{"model":"chat","input_prefix":"a","input_suffix":"b"}`, auth, 400, "input_prefix", "no fill-in-the-middle tokens"},
		{"infill n_predict -2", "/infill", `{"model":"fim","input_prefix":"a","n_predict":-2}`, auth, 400, "n_predict", "-1 (no limit)"},
		{"infill extra without text", "/infill", `{"model":"fim","input_prefix":"a","input_extra":[{"filename":"a.go"}]}`, auth, 400, "input_extra", "chunk 0 has no text"},
		{"infill n_indent", "/infill", `{"model":"fim","input_prefix":"a","n_indent":-1}`, auth, 400, "n_indent", "integer >= 0"},
		{"infill t_max_predict_ms", "/infill", `{"model":"fim","input_prefix":"a","t_max_predict_ms":-5}`, auth, 400, "t_max_predict_ms", "integer >= 0"},
		{"infill response_fields", "/infill", `{"model":"fim","input_prefix":"a","response_fields":["timings/"]}`, auth, 400, "response_fields", "not a field name"},
		{"tokenize without content", "/tokenize", `{}`, auth, 400, "content", "'content' is required"},
		{"tokenize null content", "/tokenize", `{"content":null,"with_pieces":true}`, auth, 400, "content", "'content' is required"},
		{"detokenize without tokens", "/detokenize", `{}`, auth, 400, "tokens", "'tokens' is required"},
		{"detokenize null tokens", "/detokenize", `{"tokens":null}`, auth, 400, "tokens", "'tokens' is required"},
		{"detokenize bad id", "/detokenize", `{"model":"stories","tokens":[1,-3]}`, auth, 400, "tokens", "outside the vocabulary"},
		{"detokenize wrong type", "/detokenize", `{"tokens":"abc"}`, auth, 400, "tokens", "expected an array"},
		{"embedding empty", "/v1/embeddings", `{"input":""}`, auth, 400, "input", "empty string"},
		{"embedding format", "/v1/embeddings", `{"input":"a","encoding_format":"hex"}`, auth, 400, "encoding_format", "\"float\" or \"base64\""},
		{"embedding too long", "/v1/embeddings", `{"input":"` + long + `"}`, auth, 400, "input", "tokens too many"},
		{"unknown route", "/v2/chat", `{}`, auth, 404, "", "no route POST /v2/chat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, base+tt.path, tt.body, tt.header)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			e := decodeError(t, body)
			param := ""
			if e.Param != nil {
				param = *e.Param
			}
			if param != tt.param || !strings.Contains(e.Message, tt.msg) || e.Type == "" {
				t.Errorf("error %q (type %q, param %q), want param %q and a message containing %q", e.Message, e.Type, param, tt.param, tt.msg)
			}
		})
	}
	// a known path with the wrong method
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/chat/completions", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if e := decodeError(t, b); resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || !strings.Contains(e.Message, "use POST") {
		t.Errorf("GET /v1/chat/completions: %d Allow %q: %s", resp.StatusCode, resp.Header.Get("Allow"), b)
	}
	// /health needs no key; /metrics does
	for _, c := range []struct {
		path   string
		header map[string]string
		status int
	}{{"/health", nil, 200}, {"/metrics", nil, 401}, {"/metrics", auth, 200}, {"/v1/models", nil, 401}, {"/v1/models", auth, 200}} {
		req, _ := http.NewRequest(http.MethodGet, base+c.path, nil)
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("GET %s with %v: %d, want %d", c.path, c.header, resp.StatusCode, c.status)
		}
	}
}

// TestTokenizeMatchesLlamaServer compares /tokenize with llama-server's
// answer for the same model and text.
func TestTokenizeMatchesLlamaServer(t *testing.T) {
	b, err := os.ReadFile(fixtures.Path(t, "gguf", "reference", "server_stories260K-f32_tokenize.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Tokens []tokenPiece `json:"tokens"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	_, base := stdServer(t, nil)
	text := "Once upon a time, there was a little girl named Lily."
	tests := []struct {
		name, body string
		want       string
	}{
		{"with pieces", fmt.Sprintf(`{"model":"stories","content":%q,"add_special":true,"with_pieces":true}`, text), string(mustJSON(t, map[string]any{"tokens": ref.Tokens}))},
		{"ids", fmt.Sprintf(`{"model":"stories","content":%q,"add_special":true}`, text), string(mustJSON(t, map[string]any{"tokens": ids(ref.Tokens)}))},
		{"no special", fmt.Sprintf(`{"model":"stories","content":%q}`, text), string(mustJSON(t, map[string]any{"tokens": ids(ref.Tokens)[1:]}))},
		{"empty content", `{"model":"stories","content":""}`, `{"tokens":[]}`},
		{"empty content with BOS", `{"model":"stories","content":"","add_special":true}`, `{"tokens":[1]}`},
		{"empty detokenize", `{"model":"stories","tokens":[]}`, `{"content":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/tokenize"
			if strings.Contains(tt.body, `"tokens"`) {
				path = "/detokenize"
			}
			status, _, body := post(t, base+path, tt.body, nil)
			if status != 200 || !sameJSON(body, []byte(tt.want)) {
				t.Errorf("status %d\n got %s\nwant %s", status, body, tt.want)
			}
		})
	}
	status, _, body := post(t, base+"/detokenize", string(mustJSON(t, map[string]any{"model": "stories", "tokens": ids(ref.Tokens)[1:]})), nil)
	var out struct{ Content string }
	json.Unmarshal(body, &out)
	if status != 200 || out.Content != text {
		t.Errorf("detokenize: %d %q, want %q", status, out.Content, text)
	}
}

// sameJSON reports whether two JSON documents hold the same values.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func ids(ps []tokenPiece) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFIM checks /infill and "suffix" on /v1/completions: the prompt is
// [BOS] FIM_PRE prefix FIM_SUF suffix FIM_MID (middle), and /infill puts its
// prompt at the end of the prefix as llama.cpp does ([BOS] FIM_PRE prefix
// prompt FIM_SUF suffix FIM_MID), so the answer must be the greedy
// continuation of exactly those tokens.
func TestFIM(t *testing.T) {
	srv, base := stdServer(t, nil)
	m := srv.models["fim"].model
	tok := m.Tokenizer()
	enc := func(s string) []int { return tok.Encode(s, glassbox.EncodeOptions{}) }
	prefix, suffix, middle := "Once upon a time", " They were happy.", " there"
	prompt := append([]int{tok.BOS(), fimPre}, enc(prefix)...)
	prompt = append(append(prompt, fimSuf), enc(suffix)...)
	withMid := append(append([]int{tok.BOS(), fimPre}, enc(prefix)...), enc(middle)...)
	withMid = append(append(append(withMid, fimSuf), enc(suffix)...), fimMid)
	prompt = append(prompt, fimMid)
	sess, err := m.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	want := func(p []int) string {
		res, err := sess.Generate(context.Background(), glassbox.Request{Prompt: p, MaxTokens: 12})
		if err != nil {
			t.Fatal(err)
		}
		return res.Text
	}
	wantPlain, wantMid := want(prompt), want(withMid)

	status, _, body := post(t, base+"/infill", fmt.Sprintf(`{"model":"fim","input_prefix":%q,"input_suffix":%q,"prompt":%q,"n_predict":12,"temperature":0}`, prefix, suffix, middle), nil)
	var inf llamaCompletion
	if err := json.Unmarshal(body, &inf); err != nil || status != 200 {
		t.Fatalf("infill: %d %v %s", status, err, body)
	}
	if inf.Content != wantMid || inf.TokensEvaluated != len(withMid) || !inf.Stop || inf.StopType != "limit" || inf.TokensPredicted != 12 {
		t.Errorf("infill %+v, want content %q from %d prompt tokens", inf, wantMid, len(withMid))
	}
	// streamed /infill: llama.cpp's event stream, ending with stop:true
	status, _, body = post(t, base+"/infill", fmt.Sprintf(`{"model":"fim","input_prefix":%q,"input_suffix":%q,"prompt":%q,"n_predict":12,"temperature":0,"stream":true}`, prefix, suffix, middle), nil)
	var text strings.Builder
	events := sseEvents(t, body)
	for i, ev := range events {
		var c llamaCompletion
		if err := json.Unmarshal([]byte(ev), &c); err != nil {
			t.Fatalf("event %q: %v", ev, err)
		}
		text.WriteString(c.Content)
		if c.Stop != (i == len(events)-1) {
			t.Errorf("event %d of %d has stop %v", i, len(events), c.Stop)
		}
	}
	if status != 200 || text.String() != wantMid {
		t.Errorf("streamed infill %d %q, want %q", status, text.String(), wantMid)
	}

	status, _, body = post(t, base+"/v1/completions", fmt.Sprintf(`{"model":"fim","prompt":%q,"suffix":%q,"max_tokens":12,"temperature":0}`, prefix, suffix), nil)
	var cmp struct {
		Choices []struct{ Text string }
		Usage   usage
	}
	if err := json.Unmarshal(body, &cmp); err != nil || status != 200 || len(cmp.Choices) != 1 {
		t.Fatalf("completions with suffix: %d %v %s", status, err, body)
	}
	if cmp.Choices[0].Text != wantPlain || cmp.Usage.PromptTokens != len(prompt) {
		t.Errorf("completion with suffix %q from %d tokens, want %q from %d", cmp.Choices[0].Text, cmp.Usage.PromptTokens, wantPlain, len(prompt))
	}
}

// TestMetrics checks that /metrics counts requests, tokens and slots.
func TestMetrics(t *testing.T) {
	_, base := stdServer(t, nil)
	for range 2 {
		if status, _, body := post(t, base+"/v1/completions", `{"model":"stories","prompt":"Once upon a time","max_tokens":8,"temperature":0}`, nil); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	post(t, base+"/v1/completions", `{"model":"nope","prompt":"x"}`, nil)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`glassbox_http_requests_total{route="/v1/completions",status="200"} 2`,
		`glassbox_http_requests_total{route="/v1/completions",status="404"} 1`,
		`glassbox_prompt_tokens_total{model="stories"} 10`,
		`glassbox_generated_tokens_total{model="stories"} 16`,
		`glassbox_slots{model="stories"} 2`,
		`glassbox_slots_busy{model="stories"} 0`,
		`glassbox_queue_depth{model="stories"} 0`,
		`glassbox_time_to_first_token_seconds_count{model="stories"} 2`,
		`glassbox_http_request_duration_seconds_count{route="/v1/completions"} 3`,
		`glassbox_tokens_per_second{model="stories"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestStreamShapes checks the order of the chunks of streamed responses
// with several choices and include_usage.
func TestStreamShapes(t *testing.T) {
	ref := loadReference(t)
	want := ""
	for _, p := range ref.Probs[:5] {
		want += p.Token
	}
	_, base := stdServer(t, nil)
	tests := []struct {
		name, path, body string
		choices          int
	}{
		{"chat n=2", "/v1/chat/completions", `{"messages":[{"role":"user","content":"Once upon a time"}],"n":2,"max_tokens":5,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`, 2},
		{"completions 2 prompts", "/v1/completions", `{"model":"stories","prompt":["Once upon a time","Once upon a time"],"max_tokens":5,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := post(t, base+tt.path, tt.body, nil)
			if status != 200 || hdr.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%d %q: %s", status, hdr.Get("Content-Type"), body)
			}
			events := sseEvents(t, body)
			if len(events) < 3 || events[len(events)-1] != "[DONE]" {
				t.Fatalf("events %q", events)
			}
			var last struct {
				Choices []json.RawMessage `json:"choices"`
				Usage   *usage            `json:"usage"`
			}
			if err := json.Unmarshal([]byte(events[len(events)-2]), &last); err != nil || last.Usage == nil || len(last.Choices) != 0 {
				t.Fatalf("usage chunk %s: %v", events[len(events)-2], err)
			}
			if last.Usage.CompletionTokens != 10 || last.Usage.PromptTokens != 5*(1+btoi(tt.path == "/v1/completions")) {
				t.Errorf("usage %+v", *last.Usage)
			}
			finished := map[int]bool{}
			texts := map[int]string{}
			for _, ev := range events[:len(events)-2] {
				var c struct {
					Choices []struct {
						Index        int    `json:"index"`
						Text         string `json:"text"`
						Delta        struct{ Content string }
						FinishReason *string `json:"finish_reason"`
					} `json:"choices"`
					Usage *usage `json:"usage"`
				}
				if err := json.Unmarshal([]byte(ev), &c); err != nil || len(c.Choices) != 1 || c.Usage != nil {
					t.Fatalf("chunk %s: %v", ev, err)
				}
				ch := c.Choices[0]
				if finished[ch.Index] {
					t.Errorf("chunk after the finish of choice %d: %s", ch.Index, ev)
				}
				texts[ch.Index] += ch.Text + ch.Delta.Content
				if ch.FinishReason != nil {
					finished[ch.Index] = true
				}
			}
			if len(finished) != tt.choices || texts[0] != texts[1] || texts[0] != want {
				t.Errorf("finished %v, texts %v", finished, texts)
			}
		})
	}
}
