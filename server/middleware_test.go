package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"glassbox/internal/fixtures"
)

// do sends a request with the given headers (and Host) and returns the
// status, the headers and the body.
func do(t *testing.T, method, url, body string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func storiesServer(t *testing.T, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := Config{Models: []Model{{Name: "stories", Model: openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 0)}}}
	if mod != nil {
		mod(&cfg)
	}
	return testServer(t, cfg)
}

// TestContentType: API POST routes take only JSON bodies, so that a web page
// cannot post a form or text/plain to the server without a CORS preflight.
func TestContentType(t *testing.T) {
	_, base := storiesServer(t, nil)
	body := `{"content":"Once"}`
	for _, tc := range []struct {
		path, ct string
		status   int
	}{
		{"/tokenize", "application/json", 200},
		{"/tokenize", "application/json; charset=utf-8", 200},
		{"/tokenize", "Application/JSON; charset=UTF-8", 200},
		{"/tokenize", "", 415},
		{"/tokenize", "text/plain", 415},
		{"/tokenize", "text/plain; charset=UTF-8", 415},
		{"/tokenize", "application/x-www-form-urlencoded", 415},
		{"/tokenize", "multipart/form-data; boundary=x", 415},
		{"/tokenize", "application/json; charset=latin1", 415},
		{"/tokenize", "application/jsonx", 415},
		{"/v1/completions", "text/plain", 415},
		{"/v1/chat/completions", "", 415},
		{"/v1/embeddings", "text/plain", 415},
		{"/v1/dissect", "text/plain", 415},
		{"/infill", "text/plain", 415},
		{"/detokenize", "text/plain", 415},
		{"/v2/nothing", "text/plain", 404}, // not an API route
	} {
		h := map[string]string{}
		if tc.ct != "" {
			h["Content-Type"] = tc.ct
		}
		status, _, b := do(t, http.MethodPost, base+tc.path, body, h)
		if status != tc.status {
			t.Errorf("POST %s with %q: %d, want %d: %s", tc.path, tc.ct, status, tc.status, b)
			continue
		}
		if status == 415 {
			if e := decodeError(t, b); !strings.Contains(e.Message, "Content-Type: application/json") || e.Code == nil || *e.Code != "unsupported_media_type" {
				t.Errorf("415 message %q", e.Message)
			}
		}
	}
	// GET routes need no content type
	if status, _, b := do(t, http.MethodGet, base+"/v1/models", "", nil); status != 200 {
		t.Errorf("GET /v1/models: %d %s", status, b)
	}
}

// TestHostCheck: a Host header naming another domain (DNS rebinding) gets 403
// unless the server is told to answer it.
func TestHostCheck(t *testing.T) {
	type probe struct {
		host string
		ok   bool
	}
	for _, tc := range []struct {
		name   string
		access Access
		key    string
		probes []probe
	}{
		{"loopback default", Access{}, "", []probe{
			{"127.0.0.1:8080", true}, {"localhost:8080", true}, {"LOCALHOST.", true}, {"[::1]:8080", true},
			{"app.localhost", true}, {"192.168.1.5", true}, {"evil.example:8080", false}, {"localhost.evil.example", false},
		}},
		{"listen on a name", Access{ListenAddr: "mybox.lan:8080"}, "", []probe{{"mybox.lan:8080", true}, {"MyBox.lan", true}, {"other.lan", false}}},
		{"allowed hosts", Access{ListenAddr: "127.0.0.1:8080", AllowedHosts: []string{"api.example.com", "*.corp.example"}}, "", []probe{
			{"api.example.com", true}, {"api.example.com:443", true}, {"a.corp.example", true}, {"b.a.corp.example", true},
			{"corp.example", false}, {"example.com", false}, {"evilcorp.example", false},
		}},
		{"every interface without a key", Access{ListenAddr: "0.0.0.0:8080"}, "", []probe{{"10.0.0.2:8080", true}, {"evil.example", false}}},
		{"every interface with a key", Access{ListenAddr: ":8080"}, "k", []probe{{"evil.example", true}, {"anything", true}}},
		{"loopback with a key", Access{ListenAddr: "127.0.0.1:8080"}, "k", []probe{{"evil.example", false}}},
		{"star", Access{AllowedHosts: []string{"*"}}, "", []probe{{"evil.example", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := storiesServer(t, func(c *Config) { c.Access = tc.access; c.APIKey = tc.key })
			for _, p := range tc.probes {
				h := map[string]string{"Host": p.host, "Authorization": "Bearer k"}
				for _, path := range []string{"/health", "/v1/models", "/"} {
					status, _, b := do(t, http.MethodGet, base+path, "", h)
					if p.ok && status != 200 || !p.ok && status != 403 {
						t.Errorf("Host %s, GET %s: %d %s", p.host, path, status, b)
					}
					if !p.ok && path == "/v1/models" {
						if e := decodeError(t, b); !strings.Contains(e.Message, "--allowed-host") || e.Code == nil || *e.Code != "host_not_allowed" {
							t.Errorf("403 message %q", e.Message)
						}
					}
				}
			}
		})
	}
}

// TestCORS: without --cors-origin no cross-origin call is allowed; with it,
// preflights of the listed origins succeed without the key and answers
// carry the CORS headers.
func TestCORS(t *testing.T) {
	preflight := func(base, origin string) (int, http.Header) {
		status, h, _ := do(t, http.MethodOptions, base+"/v1/chat/completions", "", map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os"})
		return status, h
	}
	_, closed := storiesServer(t, func(c *Config) { c.APIKey = "k" })
	if status, h := preflight(closed, "https://app.example"); status != 403 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without --cors-origin: %d %v", status, h)
	}
	if _, h, _ := do(t, http.MethodGet, closed+"/health", "", map[string]string{"Origin": "https://app.example"}); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS header without --cors-origin: %v", h)
	}

	_, open := storiesServer(t, func(c *Config) {
		c.APIKey = "k"
		c.Access.CORSOrigins = []string{"https://App.example/", "http://localhost:5173"}
	})
	status, h := preflight(open, "https://app.example")
	if status != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		h.Get("Access-Control-Allow-Headers") != "authorization, content-type, x-stainless-os" || !strings.Contains(h.Get("Vary"), "Origin") {
		t.Errorf("preflight of a listed origin: %d %v", status, h)
	}
	if status, _ := preflight(open, "https://evil.example"); status != 403 {
		t.Errorf("preflight of another origin: %d", status)
	}
	// an answer (even an error) to a listed origin carries the headers
	status, h, _ = do(t, http.MethodPost, open+"/tokenize", `{"content":"a"}`, map[string]string{"Origin": "http://localhost:5173", "Content-Type": "application/json"})
	if status != 401 || h.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("answer to a listed origin: %d %v", status, h)
	}
	status, h, _ = do(t, http.MethodPost, open+"/tokenize", `{"content":"a"}`, map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json", "Authorization": "Bearer k"})
	if status != 200 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("answer to another origin: %d %v", status, h)
	}

	_, star := storiesServer(t, func(c *Config) { c.Access.CORSOrigins = []string{"*"} })
	if status, h := preflight(star, "https://anyone.example"); status != 204 || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight with *: %d %v", status, h)
	}
}

func TestAccessErrors(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"), 0)
	for _, tc := range []struct {
		access Access
		want   string
	}{
		{Access{CORSOrigins: []string{"app.example"}}, `CORS origin "app.example": expected scheme://host[:port]`},
		{Access{CORSOrigins: []string{"https://app.example/path"}}, "expected scheme://host[:port]"},
		{Access{CORSOrigins: []string{"ftp://app.example"}}, "expected scheme://host[:port]"},
		{Access{AllowedHosts: []string{"https://app.example"}}, "expected a host name"},
		{Access{AllowedHosts: []string{""}}, "expected a host name"},
		{Access{ListenAddr: "localhost"}, "expected host:port"},
	} {
		_, err := New(Config{Models: []Model{{Name: "s", Model: m}}, Access: tc.access})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error containing %q", tc.access, err, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRequestLog: every request gets one log line with its method, path,
// status, duration, and for generations the model and tokens in and out.
func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	_, base := storiesServer(t, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	js := map[string]string{"Content-Type": "application/json"}
	do(t, http.MethodPost, base+"/v1/completions", `{"prompt":"Once upon a time","max_tokens":7,"temperature":0,"n":2}`, js)
	do(t, http.MethodPost, base+"/v1/completions", `{"prompt":"Once upon a time","max_tokens":3,"temperature":0,"stream":true}`, js)
	do(t, http.MethodPost, base+"/v1/embeddings", `{"input":"Once upon a time"}`, js)
	do(t, http.MethodPost, base+"/tokenize", `{"content":"a"}`, nil)
	do(t, http.MethodGet, base+"/health", "", nil)
	do(t, http.MethodGet, base+"/nowhere", "", nil)
	type line struct {
		Level     string  `json:"level"`
		Msg       string  `json:"msg"`
		Method    string  `json:"method"`
		Path      string  `json:"path"`
		Status    int     `json:"status"`
		Duration  float64 `json:"duration"`
		Remote    string  `json:"remote"`
		Model     string  `json:"model"`
		TokensIn  *int    `json:"tokens_in"`
		TokensOut *int    `json:"tokens_out"`
	}
	var got []line
	for _, s := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", s, err)
		}
		got = append(got, l)
	}
	want := []struct {
		method, path string
		status       int
		model        string
		in, out      int // -1: not a generation
	}{
		{"POST", "/v1/completions", 200, "stories", 5, 14},
		{"POST", "/v1/completions", 200, "stories", 5, 3},
		{"POST", "/v1/embeddings", 200, "stories", 5, 0},
		{"POST", "/tokenize", 415, "", -1, -1},
		{"GET", "/health", 200, "", -1, -1},
		{"GET", "/nowhere", 404, "", -1, -1},
	}
	if len(got) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i, w := range want {
		g := got[i]
		ok := g.Msg == "request" && g.Level == "INFO" && g.Method == w.method && g.Path == w.path && g.Status == w.status && g.Duration > 0 && g.Remote != "" && g.Model == w.model
		if w.in < 0 {
			ok = ok && g.TokensIn == nil && g.TokensOut == nil
		} else {
			ok = ok && g.TokensIn != nil && *g.TokensIn == w.in && g.TokensOut != nil && *g.TokensOut == w.out
		}
		if !ok {
			t.Errorf("line %d: %+v, want %+v", i, g, w)
		}
	}
}
