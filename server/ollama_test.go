package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/store"
)

// ollamaCall sends a request to an Ollama route and returns the status and body.
func ollamaCall(t testing.TB, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// ollamaLines splits an NDJSON body into its objects.
func ollamaLines(t testing.TB, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestOllamaErrors: every bad request gets Ollama's {"error": "..."} with
// its status and a message naming what was expected.
func TestOllamaErrors(t *testing.T) {
	_, base := stdServer(t, nil)
	gen := func(extra string) string {
		return `{"model":"chat","prompt":"Once upon a time","stream":false` + extra + `}`
	}
	cases := []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"no model", "POST", "/api/generate", `{"prompt":"x"}`, 400, "model is required"},
		{"unknown model", "POST", "/api/generate", `{"model":"nope","prompt":"x"}`, 404, "model 'nope' not found"},
		{"unknown tag", "POST", "/api/chat", `{"model":"chat:7b","messages":[{"role":"user","content":"x"}]}`, 404, "model 'chat:7b' not found"},
		{"not JSON", "POST", "/api/generate", `{"model":`, 400, "not valid JSON"},
		{"images", "POST", "/api/generate", gen(`,"images":["aGk="]`), 400, "images are not supported"},
		{"chat images", "POST", "/api/chat", `{"model":"chat","messages":[{"role":"user","content":"x","images":["aGk="]}]}`, 400, "images are not supported"},
		{"suffix without FIM", "POST", "/api/generate", gen(`,"suffix":" end"`), 400, "no fill-in-the-middle tokens"},
		{"num_ctx too large", "POST", "/api/generate", gen(`,"options":{"num_ctx":4096}`), 400, "hold 128 positions"},
		{"option type", "POST", "/api/generate", gen(`,"options":{"top_k":"many"}`), 400, "option 'top_k': expected an integer"},
		{"option fraction", "POST", "/api/generate", gen(`,"options":{"num_predict":2.5}`), 400, "expected an integer"},
		{"temperature range", "POST", "/api/generate", gen(`,"options":{"temperature":5}`), 400, "between 0 and 2"},
		{"mirostat", "POST", "/api/generate", gen(`,"options":{"mirostat":2}`), 400, "'mirostat' is not supported"},
		{"typical_p", "POST", "/api/chat", `{"model":"chat","messages":[{"role":"user","content":"x"}],"options":{"typical_p":0.5}}`, 400, "'typical_p' is not supported"},
		{"num_predict", "POST", "/api/generate", gen(`,"options":{"num_predict":-3}`), 400, "num_predict"},
		{"stop type", "POST", "/api/generate", gen(`,"options":{"stop":7}`), 400, "option 'stop'"},
		{"format word", "POST", "/api/generate", gen(`,"format":"yaml"`), 400, `expected "json" or a JSON schema`},
		{"format schema", "POST", "/api/generate", gen(`,"format":{"type":"object","properties":{"a":{"type":"frobnicate"}}}`), 400, "invalid format"},
		{"keep_alive", "POST", "/api/generate", gen(`,"keep_alive":"forever"`), 400, "keep_alive"},
		{"think", "POST", "/api/chat", `{"model":"chat","messages":[{"role":"user","content":"x"}],"think":"maximum"}`, 400, "'think'"},
		{"template", "POST", "/api/generate", gen(`,"template":"{{ .Prompt "`), 400, "'template'"},
		{"context ids", "POST", "/api/generate", gen(`,"context":[99999]`), 400, "outside the vocabulary"},
		{"role", "POST", "/api/chat", `{"model":"chat","messages":[{"role":"robot","content":"x"}]}`, 400, "role"},
		{"tool arguments", "POST", "/api/chat", `{"model":"chat","messages":[{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":7}}]}]}`, 400, "expected an object"},
		{"no chat template", "POST", "/api/chat", `{"model":"stories","messages":[{"role":"user","content":"x"}]}`, 400, "no chat template"},
		{"long prompt", "POST", "/api/generate", gen(`,"raw":true,"prompt":"` + strings.Repeat("a b c ", 200) + `"`), 400, "context of model chat holds 128"},
		{"embed truncate false", "POST", "/api/embed", `{"model":"chat","input":"` + strings.Repeat("a b c ", 200) + `","truncate":false}`, 400, "set truncate to true"},
		{"embed dimensions", "POST", "/api/embed", `{"model":"chat","input":"x","dimensions":65}`, 400, "expected 1 to 64"},
		{"embed input type", "POST", "/api/embed", `{"model":"chat","input":[1,2]}`, 400, "expected a string or an array of strings"},
		{"show unknown", "POST", "/api/show", `{"model":"nope"}`, 404, "model 'nope' not found"},
		{"show no model", "POST", "/api/show", `{}`, 400, "model is required"},
		{"pull without store", "POST", "/api/pull", `{"model":"hf.co/a/b"}`, 501, "no model store"},
		{"delete served", "DELETE", "/api/delete", `{"model":"chat"}`, 400, "is served by this server"},
		{"delete unknown", "DELETE", "/api/delete", `{"model":"nope"}`, 404, "model 'nope' not found"},
		{"method", "GET", "/api/generate", ``, 405, "use POST"},
		{"route", "GET", "/api/nothing", ``, 404, "no route"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, b := ollamaCall(t, c.method, base+c.path, c.body)
			var e map[string]any
			if err := json.Unmarshal(b, &e); err != nil || len(e) != 1 {
				t.Fatalf("not an Ollama error {\"error\"}: %s", b)
			}
			msg, _ := e["error"].(string)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Errorf("%d %q, want %d and %q", code, msg, c.code, c.msg)
			}
		})
	}
}

// TestOllamaGenerate: streamed and not, raw and templated, a suffix (FIM),
// a JSON format, a template override, the context of a previous answer,
// warm-up and load requests.
func TestOllamaGenerate(t *testing.T) {
	ref := loadReference(t)
	var want strings.Builder
	for _, p := range ref.Probs[:8] {
		want.WriteString(p.Token)
	}
	_, base := stdServer(t, nil)
	greedy := `"options":{"temperature":0,"repeat_penalty":1,"num_predict":8}`
	type genOut struct {
		Model, Response string
		DoneReason      string `json:"done_reason"`
		Done            bool
		Context         []int
		ollamaTimes
	}
	var one genOut
	decode := func(b []byte) {
		t.Helper()
		one = genOut{}
		if err := json.Unmarshal(b, &one); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
	}
	for _, model := range []string{"chat", "stories:latest"} {
		code, b := ollamaCall(t, "POST", base+"/api/generate", `{"model":"`+model+`","prompt":"Once upon a time","stream":false,`+greedy+`}`)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		decode(b)
		if one.Response != want.String() || !one.Done || one.DoneReason != "length" || one.EvalCount != 8 || one.PromptEvalCount != 5 || len(one.Context) != 13 || one.TotalDuration <= 0 {
			t.Errorf("%s: %s", model, b)
		}
	}
	// streamed: the pieces make the same text, the last line has the counts
	code, b := ollamaCall(t, "POST", base+"/api/generate", `{"model":"stories","prompt":"Once upon a time",`+greedy+`}`)
	lines := ollamaLines(t, b)
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(l["response"].(string))
	}
	last := lines[len(lines)-1]
	if code != 200 || text.String() != want.String() || last["done"] != true || last["eval_count"].(float64) != 8 || len(lines) < 9 {
		t.Errorf("stream: %d %q %v", code, text.String(), last)
	}
	// the context of the answer continues the story: the same as one longer generation
	ctx, _ := json.Marshal(one.Context)
	_, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"stories","prompt":" ","raw":true,"context":`+string(ctx)+`,"stream":false,`+greedy+`}`)
	decode(b)
	if one.PromptEvalCount <= 13 || one.TokensCached < 12 {
		t.Errorf("with context: %s", b)
	}
	// suffix: a FIM prompt on the FIM model
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"fim","prompt":"Once upon a time","suffix":" The end.","stream":false,`+greedy+`}`)
	decode(b)
	if code != 200 || one.PromptEvalCount < 10 || !one.Done {
		t.Errorf("suffix: %d %s", code, b)
	}
	// format json: the output is JSON
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"stories","prompt":"Once upon a time","format":"json","stream":false,"options":{"temperature":0,"num_predict":40}}`)
	decode(b)
	if code != 200 || !strings.HasPrefix(strings.TrimSpace(one.Response), "{") {
		t.Errorf("format json: %d %s", code, b)
	}
	// format schema
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"stories","prompt":"Once upon a time","format":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]},"stream":false,"options":{"temperature":0,"num_predict":40}}`)
	decode(b)
	var obj map[string]bool
	if code != 200 || one.DoneReason != "stop" || json.Unmarshal([]byte(one.Response), &obj) != nil || len(obj) != 1 {
		t.Errorf("format schema: %d %s", code, b)
	}
	// a template override: its text is the prompt
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"chat","prompt":"upon a time","system":"Once","template":"{{ .System }} {{ .Prompt }}","stream":false,`+greedy+`}`)
	decode(b)
	if code != 200 || one.Response != want.String() {
		t.Errorf("template: %d %s", code, b)
	}
	// num_predict 0: the prompt is processed, nothing generated
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"stories","prompt":"Once upon a time there","stream":false,"options":{"num_predict":0}}`)
	decode(b)
	if code != 200 || one.Response != "" || one.EvalCount != 0 || one.PromptEvalCount != 6 {
		t.Errorf("warm-up: %d %s", code, b)
	}
	// an empty prompt loads the model, keep_alive is accepted
	code, b = ollamaCall(t, "POST", base+"/api/generate", `{"model":"chat","keep_alive":"10m"}`)
	decode(b)
	if code != 200 || one.DoneReason != "load" || !one.Done {
		t.Errorf("load: %d %s", code, b)
	}
	// curl -d sends no JSON content type: accepted without an Origin, refused from a foreign page
	for _, origin := range []string{"", "https://evil.example"} {
		req, _ := http.NewRequest("POST", base+"/api/generate", strings.NewReader(`{"model":"chat","prompt":"Once","stream":false,"options":{"num_predict":1}}`))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[string]int{"": 200, "https://evil.example": 415}[origin]; resp.StatusCode != want {
			t.Errorf("form content type, origin %q: %d, want %d", origin, resp.StatusCode, want)
		}
	}
}

// TestOllamaChat: a chat streamed and not, a conversation with a tool call
// and its result, and the load request.
func TestOllamaChat(t *testing.T) {
	ref := loadReference(t)
	var want strings.Builder
	for _, p := range ref.Probs[:8] {
		want.WriteString(p.Token)
	}
	_, base := stdServer(t, nil)
	body := `{"model":"chat","messages":[{"role":"user","content":"Once upon a time"}],"options":{"temperature":0,"repeat_penalty":1,"num_predict":8}`
	code, b := ollamaCall(t, "POST", base+"/api/chat", body+`,"stream":false}`)
	var res struct {
		Message    OllamaMessage
		Done       bool
		DoneReason string `json:"done_reason"`
		ollamaTimes
	}
	if err := json.Unmarshal(b, &res); err != nil || code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if res.Message.Role != "assistant" || res.Message.Content != want.String() || !res.Done || res.DoneReason != "length" || res.EvalCount != 8 || res.PromptEvalCount != 5 {
		t.Errorf("chat: %s", b)
	}
	code, b = ollamaCall(t, "POST", base+"/api/chat", body+`}`)
	lines := ollamaLines(t, b)
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(l["message"].(map[string]any)["content"].(string))
	}
	if code != 200 || text.String() != want.String() || lines[len(lines)-1]["done"] != true {
		t.Errorf("chat stream: %d %q", code, text.String())
	}
	// tools and a tool result in Ollama's shape are accepted and rendered
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	conv := `{"model":"toolchat","stream":false,` + tools + `,"options":{"num_predict":2},"messages":[{"role":"user","content":"Weather?"},` +
		`{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},{"role":"tool","tool_name":"get_weather","content":"sunny"}]}`
	if code, b := ollamaCall(t, "POST", toolServer(t)+"/api/chat", conv); code != 200 || !strings.Contains(string(b), `"done":true`) {
		t.Errorf("tool conversation: %d %s", code, b)
	}
	code, b = ollamaCall(t, "POST", base+"/api/chat", `{"model":"chat","messages":[]}`)
	if code != 200 || !strings.Contains(string(b), `"done_reason":"load"`) {
		t.Errorf("load: %d %s", code, b)
	}
}

// TestOllamaToolCalls: a reply's calls in Ollama's shape (arguments an
// object), and Ollama's call history into the OpenAI route's messages.
func TestOllamaToolCalls(t *testing.T) {
	got := ollamaToolCalls([]glassbox.ToolCall{
		{ID: "call_1", Function: glassbox.ToolCallFunction{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
		{ID: "call_2", Function: glassbox.ToolCallFunction{Name: "broken", Arguments: `{"city":`}},
	})
	b, _ := json.Marshal(got)
	if string(b) != `[{"id":"call_1","function":{"index":0,"name":"get_weather","arguments":{"city":"Paris"}}},{"id":"call_2","function":{"index":1,"name":"broken","arguments":"{\"city\":"}}]` {
		t.Errorf("calls %s", b)
	}
	req := OllamaChatRequest{Messages: []OllamaMessage{
		{Role: "assistant", ToolCalls: []OllamaToolCall{{Function: OllamaToolFunction{Name: "a", Arguments: json.RawMessage(`{"x":1}`)}}, {Function: OllamaToolFunction{Name: "b", Arguments: json.RawMessage(`"{\"y\":2}"`)}}}},
		{Role: "tool", ToolName: "a", Content: "1"},
		{Role: "tool", Content: "2"},
	}}
	msgs, err := req.chatMessages(&entry{name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if c := msgs[0].ToolCalls; len(c) != 2 || c[0].Function.Arguments != `{"x":1}` || c[1].Function.Arguments != `{"y":2}` || c[0].ID == "" {
		t.Errorf("calls %+v", c)
	}
	if msgs[1].ToolCallID != msgs[0].ToolCalls[0].ID || msgs[2].ToolCallID != msgs[0].ToolCalls[1].ID || msgs[2].Name != "b" {
		t.Errorf("tool results %+v %+v", msgs[1], msgs[2])
	}
}

// TestOllamaEmbed: /api/embed (string, array, truncation, dimensions) and
// the legacy /api/embeddings, against /v1/embeddings.
func TestOllamaEmbed(t *testing.T) {
	_, base := stdServer(t, nil)
	code, _, b := post(t, base+"/v1/embeddings", `{"model":"chat","input":"Once upon a time"}`, nil)
	var oa struct {
		Data []struct{ Embedding []float32 }
	}
	if code != 200 || json.Unmarshal(b, &oa) != nil {
		t.Fatalf("%d %s", code, b)
	}
	var res struct {
		Embeddings      [][]float32
		PromptEvalCount int `json:"prompt_eval_count"`
	}
	code, b = ollamaCall(t, "POST", base+"/api/embed", `{"model":"chat","input":["Once upon a time","Once upon a time"]}`)
	if code != 200 || json.Unmarshal(b, &res) != nil || len(res.Embeddings) != 2 || res.PromptEvalCount != 10 {
		t.Fatalf("%d %s", code, b)
	}
	if !slices.Equal(res.Embeddings[0], oa.Data[0].Embedding) || !slices.Equal(res.Embeddings[1], oa.Data[0].Embedding) {
		t.Errorf("/api/embed differs from /v1/embeddings")
	}
	code, b = ollamaCall(t, "POST", base+"/api/embed", `{"model":"chat","input":"Once upon a time","dimensions":8}`)
	if code != 200 || json.Unmarshal(b, &res) != nil || len(res.Embeddings) != 1 || len(res.Embeddings[0]) != 8 {
		t.Errorf("dimensions: %d %s", code, b)
	}
	code, b = ollamaCall(t, "POST", base+"/api/embed", `{"model":"chat","input":"`+strings.Repeat("a b c ", 200)+`"}`)
	if code != 200 || json.Unmarshal(b, &res) != nil || res.PromptEvalCount != 128 {
		t.Errorf("truncate: %d %.200s", code, b)
	}
	code, b = ollamaCall(t, "POST", base+"/api/embed", `{"model":"chat","input":""}`)
	if code != 200 || !strings.Contains(string(b), `"embeddings":[]`) {
		t.Errorf("empty input: %d %s", code, b)
	}
	var legacy struct{ Embedding []float32 }
	code, b = ollamaCall(t, "POST", base+"/api/embeddings", `{"model":"chat","prompt":"Once upon a time"}`)
	if code != 200 || json.Unmarshal(b, &legacy) != nil || len(legacy.Embedding) != 64 {
		t.Fatalf("legacy: %d %s", code, b)
	}
	var ss float64
	for _, x := range legacy.Embedding {
		ss += float64(x) * float64(x)
	}
	if ss > 0.99 && ss < 1.01 {
		t.Errorf("the legacy embedding is normalised (Ollama's is not): |v|² = %v", ss)
	}
}

// fakeHub serves one GGUF file as a Hugging Face repository: the tree
// listing and the file, for /api/pull.
func fakeHub(t *testing.T, repo, file string, data []byte) *store.Hub {
	sum := sha256.Sum256(data)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/models/"+repo+"/tree/main", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `[{"type":"file","oid":"x","size":%d,"path":%q,"lfs":{"oid":%q,"size":%d,"pointerSize":130}}]`, len(data), file, hex.EncodeToString(sum[:]), len(data))
	})
	mux.HandleFunc("/"+repo+"/resolve/main/"+file, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, file, time.Time{}, bytes.NewReader(data))
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return store.NewHub(hs.URL, "")
}

// TestOllamaStore: /api/pull streams progress into the store, /api/tags
// and /api/show list and describe the model, /api/delete removes it.
func TestOllamaStore(t *testing.T) {
	data, err := os.ReadFile(fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hub := fakeHub(t, "test/tiny-GGUF", "tiny-F32.gguf", data)
	_, base := stdServer(t, func(c *Config) { c.Store, c.Hub = st, hub })
	code, b := ollamaCall(t, "POST", base+"/api/pull", `{"model":"hf.co/test/tiny-GGUF"}`)
	lines := ollamaLines(t, b)
	if code != 200 || lines[0]["status"] != "pulling manifest" || lines[len(lines)-1]["status"] != "success" {
		t.Fatalf("pull: %d %s", code, b)
	}
	sawTotal := false
	for _, l := range lines {
		if l["digest"] == "tiny-F32.gguf" && l["total"] == float64(len(data)) && l["completed"] == float64(len(data)) {
			sawTotal = true
		}
	}
	if !sawTotal {
		t.Errorf("no progress line with the file's total and completed bytes: %s", b)
	}
	name := "hf.co/test/tiny-GGUF:latest"
	// a second pull, not streamed: the store has it
	if code, b := ollamaCall(t, "POST", base+"/api/pull", `{"name":"test/tiny-GGUF","stream":false}`); code != 200 || strings.TrimSpace(string(b)) != `{"status":"success"}` {
		t.Errorf("pull again: %d %s", code, b)
	}
	code, b = ollamaCall(t, "GET", base+"/api/tags", "")
	var tags struct{ Models []ollamaModel }
	if code != 200 || json.Unmarshal(b, &tags) != nil {
		t.Fatalf("tags: %d %s", code, b)
	}
	var names []string
	for _, m := range tags.Models {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"chat:latest", "stories:latest", "fim:latest", name}) {
		t.Fatalf("tags %v", names)
	}
	sum := sha256.Sum256(data)
	if m := tags.Models[3]; m.Digest != hex.EncodeToString(sum[:]) || m.Size != int64(len(data)) || m.Details.Family != "llama" || m.Details.QuantizationLevel != "F32" || m.Details.ParameterSize != "293K" {
		t.Errorf("store model %+v", m)
	}
	// show describes a store model without serving it; generating with it is a clear 404
	code, b = ollamaCall(t, "POST", base+"/api/show", `{"model":"`+name+`"}`)
	var show ollamaShowResponse
	if code != 200 || json.Unmarshal(b, &show) != nil || show.ModelInfo["llama.context_length"] != float64(128) || show.ModelInfo["general.architecture"] != "llama" {
		t.Errorf("show: %d %.300s", code, b)
	}
	if code, b := ollamaCall(t, "POST", base+"/api/generate", `{"model":"`+name+`","prompt":"x"}`); code != 404 || !strings.Contains(string(b), "in the store but this server does not serve it") {
		t.Errorf("generate with a store model: %d %s", code, b)
	}
	if code, b := ollamaCall(t, "DELETE", base+"/api/delete", `{"model":"`+name+`"}`); code != 200 {
		t.Errorf("delete: %d %s", code, b)
	}
	if code, b := ollamaCall(t, "DELETE", base+"/api/delete", `{"model":"`+name+`"}`); code != 404 {
		t.Errorf("delete again: %d %s", code, b)
	}
	for _, c := range []struct{ body, msg string }{
		{`{"model":"llama3.2"}`, "name one as hf.co/OWNER/REPO"},
		{`{"model":"hf.co/test/missing"}`, "pull model 'hf.co/test/missing'"},
	} {
		code, b := ollamaCall(t, "POST", base+"/api/pull", c.body)
		if !strings.Contains(string(b), c.msg) || code == 200 && !strings.Contains(string(b), `"error"`) {
			t.Errorf("pull %s: %d %s", c.body, code, b)
		}
	}
}

// TestOllamaModels: /api/show, /api/ps and /api/version of served models.
func TestOllamaModels(t *testing.T) {
	_, base := stdServer(t, nil)
	code, b := ollamaCall(t, "POST", base+"/api/show", `{"model":"fim:latest"}`)
	var show ollamaShowResponse
	if code != 200 || json.Unmarshal(b, &show) != nil {
		t.Fatalf("%d %s", code, b)
	}
	if !slices.Equal(show.Capabilities, []string{"completion", "insert", "embedding"}) || show.ModelInfo["tokenizer.ggml.fim_pre_token_id"] != float64(fimPre) ||
		show.ModelInfo["tokenizer.ggml.tokens"] != nil || !strings.Contains(show.Parameters, "num_ctx 128") || !strings.Contains(show.Modelfile, "FROM ") {
		t.Errorf("show fim: %.600s", b)
	}
	code, b = ollamaCall(t, "POST", base+"/api/show", `{"name":"chat","verbose":true}`)
	if code != 200 || json.Unmarshal(b, &show) != nil || show.Template != chatTemplate || show.ModelInfo["tokenizer.ggml.tokens"] == nil {
		t.Errorf("show chat verbose: %d %.300s", code, b)
	}
	code, b = ollamaCall(t, "GET", base+"/api/ps", "")
	var ps struct{ Models []ollamaModel }
	if code != 200 || json.Unmarshal(b, &ps) != nil || len(ps.Models) != 3 || ps.Models[0].ContextLength != 128 || ps.Models[0].ExpiresAt == "" || ps.Models[0].SizeVRAM == nil {
		t.Errorf("ps: %d %s", code, b)
	}
	code, b = ollamaCall(t, "GET", base+"/api/version", "")
	if code != 200 || strings.TrimSpace(string(b)) != `{"version":"`+ollamaVersion+`"}` {
		t.Errorf("version: %d %s", code, b)
	}
	// the page is still served at /, and HEAD / answers as Ollama's liveness check
	for _, m := range []string{"GET", "HEAD"} {
		req, _ := http.NewRequest(m, base+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s /: %d %s", m, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}
