package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"glassbox"
)

// TestLogitBiasOpenAIClient: logit_bias sent by the official client bans a
// token from a greedy chat reply and forces one in a completion.
func TestLogitBiasOpenAIClient(t *testing.T) {
	ref := loadReference(t)
	s, base := stdServer(t, nil)
	c := client(base, "")
	ctx := context.Background()
	first := ref.Tokens[0]
	res, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once upon a time")},
		MaxTokens: openai.Int(8), Temperature: openai.Float(0),
		LogitBias: map[string]int64{strconv.Itoa(first): -100},
	})
	if err != nil {
		t.Fatal(err)
	}
	plain := ref.Content
	if got := res.Choices[0].Message.Content; got == "" || strings.HasPrefix(plain, got) {
		t.Fatalf("with token %d banned the reply %q is still llama-server's unbiased %q", first, got, plain)
	}
	ids := s.models["stories"].model.Tokenizer().Encode("Lily", noSpecial) // "▁Lily"
	if len(ids) != 1 {
		t.Fatalf("\"Lily\" is %d tokens", len(ids))
	}
	comp, err := c.Completions.New(ctx, openai.CompletionNewParams{
		Model: "stories", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens: openai.Int(4), Temperature: openai.Float(1), Seed: openai.Int(5),
		LogitBias: map[string]int64{strconv.Itoa(ids[0]): 100},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := comp.Choices[0].Text; !allLily(got, 4) {
		t.Fatalf("with \" Lily\" biased by +100 the completion is %q", got)
	}
}

// allLily reports whether text is n times the word "Lily" (and spaces).
func allLily(text string, n int) bool {
	w := strings.Fields(text)
	for _, x := range w {
		if x != "Lily" {
			return false
		}
	}
	return len(w) == n
}

// TestLogitBiasForms covers llama.cpp's array form (ids, texts and false) on
// the completion endpoints, and the dissection's logit_bias step.
func TestLogitBiasForms(t *testing.T) {
	ref := loadReference(t)
	s, base := stdServer(t, nil)
	tok := s.models["stories"].model.Tokenizer()
	first := ref.Tokens[0]
	firstText := tok.Decode([]int{first})
	lily := tok.Encode("Lily", noSpecial)[0]
	completion := func(path, bias string) (string, []int) {
		body := `{"model":"stories","prompt":"Once upon a time","max_tokens":6,"temperature":0,"logit_bias":` + bias + `}`
		if path == "/infill" {
			body = `{"model":"fim","input_prefix":"Once upon a time","n_predict":6,"temperature":0,"logit_bias":` + bias + `}`
		}
		status, _, b := post(t, base+path, body, nil)
		if status != http.StatusOK {
			t.Fatalf("%s %s: %d %s", path, bias, status, b)
		}
		var out struct {
			Choices []struct {
				Text string `json:"text"`
			} `json:"choices"`
			Content string `json:"content"`
			Tokens  []int  `json:"tokens"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if path == "/infill" {
			return out.Content, out.Tokens
		}
		return out.Choices[0].Text, nil
	}
	for _, tc := range []struct {
		name, path, bias string
		check            func(text string, ids []int) error
	}{
		{"array id false", "/v1/completions", fmt.Sprintf(`[[%d,false]]`, first), func(text string, _ []int) error {
			if strings.HasPrefix(text, firstText) {
				return fmt.Errorf("starts with the banned %q", firstText)
			}
			return nil
		}},
		{"array text", "/v1/completions", `[["Lily",100]]`, func(text string, _ []int) error {
			if !allLily(text, 6) {
				return errors.New("want \" Lily\" 6 times")
			}
			return nil
		}},
		{"object form", "/v1/completions", fmt.Sprintf(`{"%d":100}`, lily), func(text string, _ []int) error {
			if !allLily(text, 6) {
				return errors.New("want \" Lily\" 6 times")
			}
			return nil
		}},
		{"null", "/v1/completions", `null`, func(text string, _ []int) error {
			if !strings.HasPrefix(ref.Content, text) {
				return errors.New("differs from the unbiased reference")
			}
			return nil
		}},
		{"infill array", "/infill", fmt.Sprintf(`[[%d,100]]`, lily), func(_ string, ids []int) error {
			for _, id := range ids {
				if id != lily {
					return fmt.Errorf("tokens %v, want only %d", ids, lily)
				}
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, ids := completion(tc.path, tc.bias)
			if err := tc.check(text, ids); err != nil {
				t.Errorf("logit_bias %s: %q: %v", tc.bias, text, err)
			}
		})
	}
	// the dissection lists the bias as the first sampler step
	evs := dissectEvents(t, base+"/v1/dissect", fmt.Sprintf(`{"model":"stories","prompt":"Once upon a time","max_tokens":2,"temperature":0,"logit_bias":{"%d":-100},"trace":{"top":3}}`, first))
	steps := 0
	for _, ev := range evs {
		if ev.Type != glassbox.TraceTypeStep {
			continue
		}
		steps++
		sm := ev.Step.Sampling
		if len(sm.Steps) != 2 || sm.Steps[0].Name != "logit_bias" || sm.Steps[1].Name != "greedy" {
			t.Fatalf("sampler steps %+v, want logit_bias then greedy", sm.Steps)
		}
		for _, c := range sm.Steps[0].Top {
			if c.ID == first {
				t.Fatalf("the banned token %d is among the best after the bias: %+v", first, sm.Steps[0].Top)
			}
		}
	}
	if steps != 2 {
		t.Fatalf("%d steps", steps)
	}
}

// TestLogitBiasErrors: bad logit_bias values get a 400 naming the field.
func TestLogitBiasErrors(t *testing.T) {
	_, base := stdServer(t, nil)
	for _, tc := range []struct {
		name, path, bias, msg string
	}{
		{"over 100", "/v1/completions", `{"5":150}`, "between -100 and 100, got 150"},
		{"under -100", "/v1/chat/completions", `{"5":-100.5}`, "between -100 and 100, got -100.5"},
		{"string value", "/v1/completions", `{"5":"high"}`, `got "high"`},
		{"false in the object form", "/v1/completions", `{"5":false}`, "between -100 and 100, got false"},
		{"key not an id", "/v1/completions", `{"hello":1}`, `token ids such as "50256", got "hello"`},
		{"outside the vocabulary", "/v1/completions", `{"512":1}`, "token 512 is outside the vocabulary of model stories (0 to 511)"},
		{"negative id", "/infill", `[[-1,1]]`, "token -1 is outside the vocabulary"},
		{"not a pair", "/v1/completions", `[[5]]`, "element 0: expected a [token id or text, bias or false] pair"},
		{"bad token", "/v1/completions", `[[true,1]]`, "element 0: the token must be an integer id or a text"},
		{"pair over 100", "/v1/completions", `[[5,101]]`, "between -100 and 100 or false, got 101"},
		{"empty text", "/v1/completions", `[["",1]]`, `the text "" has no tokens`},
		{"a number", "/v1/dissect", `5`, "expected an object mapping token ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"stories","prompt":"Once","max_tokens":1,"logit_bias":` + tc.bias + `}`
			switch tc.path {
			case "/v1/chat/completions":
				body = `{"model":"chat","messages":[{"role":"user","content":"Once"}],"max_tokens":1,"logit_bias":` + tc.bias + `}`
			case "/infill":
				body = `{"model":"fim","input_prefix":"Once","n_predict":1,"logit_bias":` + tc.bias + `}`
			}
			status, _, b := post(t, base+tc.path, body, nil)
			e := decodeError(t, b)
			if status != http.StatusBadRequest || e.Param == nil || *e.Param != "logit_bias" || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("%d %s, want 400 naming logit_bias with %q", status, b, tc.msg)
			}
		})
	}
}

// TestUnsupportedFields: every field glassbox does not implement gets a 400
// naming it, unless its value asks for nothing.
func TestUnsupportedFields(t *testing.T) {
	_, base := stdServer(t, nil)
	bodies := map[int]func(string) (string, string){
		apiChat: func(f string) (string, string) {
			return "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"Once"}],"max_tokens":1` + f + `}`
		},
		apiCompletion: func(f string) (string, string) {
			return "/v1/completions", `{"model":"stories","prompt":"Once","max_tokens":1` + f + `}`
		},
		apiInfill: func(f string) (string, string) {
			return "/infill", `{"model":"fim","input_prefix":"Once","n_predict":1` + f + `}`
		},
		apiEmbedding: func(f string) (string, string) {
			return "/v1/embeddings", `{"model":"stories","input":"Once"` + f + `}`
		},
	}
	bad := map[string]string{
		"functions": `[{"name":"f"}]`, "function_call": `{"name":"f"}`,
		"audio": `{"voice":"alloy","format":"wav"}`, "modalities": `["text","audio"]`, "prediction": `{"type":"content","content":"x"}`,
		"reasoning_effort": `"high"`, "verbosity": `"low"`, "web_search_options": `{}`, "best_of": `3`, "dimensions": `8`,
		"mirostat": `2`, "typical_p": `0.5`, "dry_multiplier": `0.8`,
		"xtc_probability": `0.5`, "samplers": `["top_k"]`,
	}
	seen := map[string]bool{}
	for _, f := range unsupportedFields {
		seen[f.name] = true
		v, ok := bad[f.name]
		if !ok {
			t.Errorf("no test value for %s", f.name)
			continue
		}
		for api, body := range bodies {
			path, b := body(`,"` + f.name + `":` + v)
			t.Run(f.name+path, func(t *testing.T) {
				status, _, resp := post(t, base+path, b, nil)
				if f.apis&api == 0 {
					if status != http.StatusOK {
						t.Errorf("%s does not belong to %s but gets %d %s", f.name, path, status, resp)
					}
					return
				}
				e := decodeError(t, resp)
				if status != http.StatusBadRequest || e.Param == nil || *e.Param != f.name || !strings.Contains(e.Message, "'"+f.name+"' is not supported") {
					t.Errorf("%d %s, want 400 naming %s", status, resp, f.name)
				}
				for _, h := range f.harmless {
					path, b := body(`,"` + f.name + `":` + h)
					if status, _, resp := post(t, base+path, b, nil); status != http.StatusOK {
						t.Errorf("%s: %s asks for nothing but gets %d %s", f.name, h, status, resp)
					}
				}
			})
		}
	}
	for name := range bad {
		if !seen[name] {
			t.Errorf("%s is tested but not in unsupportedFields", name)
		}
	}
	// accepted and ignored: fields that do not change the reply
	path, b := bodies[apiChat](`,"user":"u1","store":false,"metadata":{"a":"b"},"service_tier":"auto","prompt_cache_key":"k","safety_identifier":"s"`)
	if status, _, resp := post(t, base+path, b, nil); status != http.StatusOK {
		t.Errorf("metadata fields: %d %s", status, resp)
	}
	// message fields
	for _, tc := range []struct{ msg, param string }{
		{`{"role":"assistant","content":"x","function_call":{"name":"f","arguments":"{}"}}`, "messages[1].function_call"},
		{`{"role":"assistant","content":"x","audio":{"id":"a"}}`, "messages[1].audio"},
	} {
		status, _, resp := post(t, base+"/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"},`+tc.msg+`]}`, nil)
		if e := decodeError(t, resp); status != 400 || e.Param == nil || *e.Param != tc.param {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.msg, status, resp, tc.param)
		}
	}
	// the official client sees the same
	c := client(base, "")
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once")},
		Functions: []openai.ChatCompletionNewParamsFunction{{Name: "weather"}},
	}, option.WithMaxRetries(0))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Param != "functions" {
		t.Errorf("functions through the client: %v", err)
	}
}
