package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"glassbox"
)

// dissectEvents posts to a dissection endpoint and decodes the event stream.
func dissectEvents(t *testing.T, url, body string) []glassbox.TraceEvent {
	t.Helper()
	status, hdr, b := post(t, url, body, nil)
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q: %s", status, hdr.Get("Content-Type"), b)
	}
	data := sseEvents(t, b)
	if data[len(data)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", data[len(data)-1])
	}
	var evs []glassbox.TraceEvent
	for _, d := range data[:len(data)-1] {
		var ev glassbox.TraceEvent
		if err := json.Unmarshal([]byte(d), &ev); err != nil {
			t.Fatalf("event %q: %v", d, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestDissectStream: /v1/dissect and the chat extension stream the trace, and
// the generated tokens are llama-server's greedy tokens.
func TestDissectStream(t *testing.T) {
	ref := loadReference(t)
	_, url := stdServer(t, nil)
	bodies := map[string]string{
		"prompt":    `{"model":"stories","prompt":"Once upon a time","max_tokens":8,"temperature":0,"trace":{"top":3,"layers":[0,4],"heads":[1]}}`,
		"messages":  `{"model":"chat","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8,"temperature":0,"trace":{"top":3,"layers":[0,4],"heads":[1]}}`,
		"extension": `{"model":"chat","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8,"temperature":0,"stream":true,"glassbox":{"dissect":true,"trace":{"top":3,"layers":[0,4],"heads":[1]}}}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			path := "/v1/dissect"
			if name == "extension" {
				path = "/v1/chat/completions"
			}
			evs := dissectEvents(t, url+path, body)
			var types []string
			var ids []int
			for _, ev := range evs {
				types = append(types, ev.Type)
				if ev.Type == glassbox.TraceTypeStep {
					ids = append(ids, ev.Step.Token.ID)
					if len(ev.Step.Attention) != 2 || len(ev.Step.LogitLens) != 2 || len(ev.Step.Prediction.Top) != 3 {
						t.Errorf("step: %d heads, %d lens layers, %d candidates", len(ev.Step.Attention), len(ev.Step.LogitLens), len(ev.Step.Prediction.Top))
					}
				}
			}
			if got := strings.Join(types, ","); got != "meta,tokenization,embeddings,step,step,step,step,step,step,step,step,done" {
				t.Errorf("events %s", got)
			}
			for i, id := range ids {
				if id != ref.Tokens[i] {
					t.Fatalf("token %d is %d, llama-server %d", i, id, ref.Tokens[i])
				}
			}
		})
	}
}

// TestDissectGrammar: /v1/dissect takes grammar, json_schema and
// response_format like the completion endpoints; the text follows the
// constraint and every step records what the grammar removed.
func TestDissectGrammar(t *testing.T) {
	_, url := stdServer(t, nil)
	for name, tc := range map[string]struct {
		body  string
		valid func(string) bool
	}{
		"grammar": {`{"model":"stories","prompt":"Once upon a time","max_tokens":8,"temperature":0,"grammar":"root ::= \" \" [0-9]{3}","trace":{"top":4,"attention":false,"logit_lens":false,"embeddings":false}}`,
			func(s string) bool { return len(s) == 4 && strings.Trim(s[1:], "0123456789") == "" }},
		"json_schema": {`{"model":"stories","prompt":"Once upon a time","max_tokens":24,"temperature":0,"json_schema":{"type":"object","properties":{"n":{"type":"integer","minimum":0,"maximum":9}},"required":["n"]},"trace":{"top":4,"attention":false,"logit_lens":false,"embeddings":false}}`,
			func(s string) bool {
				var v struct{ N *int }
				return json.Unmarshal([]byte(s), &v) == nil && v.N != nil
			}},
		"response_format": {`{"model":"chat","messages":[{"role":"user","content":"a number"}],"max_tokens":24,"temperature":0,"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object","properties":{"n":{"type":"integer","minimum":0,"maximum":9}},"required":["n"]}}},"trace":{"top":4,"attention":false,"logit_lens":false,"embeddings":false}}`,
			func(s string) bool { return json.Valid([]byte(s)) }},
	} {
		t.Run(name, func(t *testing.T) {
			evs := dissectEvents(t, url+"/v1/dissect", tc.body)
			removed := 0
			var text string
			for _, ev := range evs {
				switch ev.Type {
				case glassbox.TraceTypeStep:
					g := ev.Step.Sampling.Grammar
					if g == nil {
						t.Fatalf("step %d has no grammar record", ev.Step.Index)
					}
					if len(g.Removed) > 4 || g.Checked < len(g.Removed) {
						t.Errorf("step %d: grammar record %+v (top 4)", ev.Step.Index, g)
					}
					removed += len(g.Removed)
				case glassbox.TraceTypeDone:
					text = ev.Done.Text
				}
			}
			if !tc.valid(text) {
				t.Errorf("text %q does not follow the constraint", text)
			}
			if removed == 0 {
				t.Error("the grammar removed nothing")
			}
		})
	}
}

func TestDissectErrors(t *testing.T) {
	_, url := stdServer(t, nil)
	tests := []struct {
		name, path, body, want string
		status                 int
	}{
		{"no input", "/v1/dissect", `{"model":"stories"}`, "'messages' or 'prompt'", 400},
		{"both inputs", "/v1/dissect", `{"model":"chat","prompt":"a","messages":[{"role":"user","content":"b"}]}`, "not both", 400},
		{"no stream", "/v1/dissect", `{"model":"stories","prompt":"a","stream":false}`, "always streams", 400},
		{"bad layer", "/v1/dissect", `{"model":"stories","prompt":"a","trace":{"layers":[9]}}`, "layer 9 does not exist", 400},
		{"bad head", "/v1/dissect", `{"model":"stories","prompt":"a","trace":{"heads":[-1]}}`, "head -1 does not exist", 400},
		{"bad top", "/v1/dissect", `{"model":"stories","prompt":"a","trace":{"top":0}}`, "trace.top", 400},
		{"wrong type", "/v1/dissect", `{"model":"stories","prompt":"a","trace":{"layers":"all"}}`, "layers", 400},
		{"no template", "/v1/dissect", `{"model":"stories","messages":[{"role":"user","content":"b"}]}`, "no chat template", 400},
		{"unknown model", "/v1/dissect", `{"model":"nope","prompt":"a"}`, "nope", 404},
		{"bad grammar", "/v1/dissect", `{"model":"stories","prompt":"a","grammar":"root ::= ("}`, "invalid value for 'grammar'", 400},
		{"bad schema", "/v1/dissect", `{"model":"stories","prompt":"a","json_schema":{"type":"string","pattern":"a"}}`, "pattern", 400},
		{"n with dissect", "/v1/chat/completions", `{"model":"chat","n":2,"messages":[{"role":"user","content":"b"}],"glassbox":{"dissect":true}}`, "one choice", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, b := post(t, url+tt.path, tt.body, nil)
			if status != tt.status || !strings.Contains(string(b), tt.want) {
				t.Errorf("status %d body %s; want %d mentioning %q", status, b, tt.status, tt.want)
			}
		})
	}
}

func TestModelInfoAndPage(t *testing.T) {
	_, url := stdServer(t, func(c *Config) { c.APIKey = "k" })
	req, _ := http.NewRequest(http.MethodGet, url+"/glassbox/models/chat", nil)
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var info modelInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.Arch != "llama" || info.Layers != 5 || info.Heads != 8 || info.Vocab != 512 || info.TensorTypes["F32"] == 0 || info.ChatTemplate != chatTemplate || info.KVCacheBytes <= 0 {
		t.Errorf("model info %+v", info)
	}
	if info.Path != "chat.gguf" {
		t.Errorf("model info path %q, want the file name only (chat.gguf)", info.Path)
	}
	// without the key: 401
	resp, err = http.Get(url + "/glassbox/models/chat")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("model info without key: %d", resp.StatusCode)
	}
	// the page is public and names no outside host
	for _, p := range []string{"/", "/app.js", "/style.css"} {
		resp, err := http.Get(url + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Errorf("%s: status %d", p, resp.StatusCode)
		}
		if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
			t.Errorf("%s refers to another host", p)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no content security policy", p)
		}
	}
}
