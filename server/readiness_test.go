package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// get sends a GET with optional headers and returns the status, headers and body.
func get(t testing.TB, url string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	resp, b := send(t, http.MethodGet, url, "", header)
	return resp.StatusCode, resp.Header, b
}

// send sends a request (a JSON body when body is not empty) and returns the
// response, its body read.
func send(t testing.TB, method, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
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
	return resp, b
}

// TestGate: before Open the gate answers as a server whose models load —
// alive, not ready (llama.cpp's "Loading model" body), every other request
// 503 with Retry-After and no Keep-Alive —, after it everything reaches the
// opened handler.
func TestGate(t *testing.T) {
	g := &Gate{}
	hs := httptest.NewServer(g)
	defer hs.Close()

	tests := []struct {
		method, path string
		status       int
		want         string // in the body
		retry        bool   // Retry-After expected
	}{
		{"GET", LivePath, 200, `"status":"alive"`, false},
		{"GET", ReadyPath, 503, `"message":"Loading model"`, true},
		{"GET", HealthPath, 503, `"error":{"code":503,"message":"Loading model","type":"unavailable_error"}`, true},
		{"GET", "/v1/models", 503, `"code":"model_loading"`, true},
		{"POST", "/v1/chat/completions", 503, `"type":"unavailable_error"`, true},
		{"POST", LivePath, 503, `"code":"model_loading"`, true},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, hs.URL+tt.path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s %s while loading: %d %s, want %d with %s", tt.method, tt.path, resp.StatusCode, b, tt.status, tt.want)
		}
		if got := resp.Header.Get("Retry-After"); tt.retry != (got == "1") {
			t.Errorf("%s %s while loading: Retry-After %q", tt.method, tt.path, got)
		}
		if !json.Valid(b) {
			t.Errorf("%s %s: not JSON: %s", tt.method, tt.path, b)
		}
	}

	g.Open(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "opened "+r.URL.Path) }))
	for _, p := range []string{LivePath, ReadyPath, "/v1/models"} {
		if st, _, b := get(t, hs.URL+p, nil); st != 200 || string(b) != "opened "+p {
			t.Errorf("GET %s after Open: %d %s", p, st, b)
		}
	}
}

// TestProbes: the probes need no API key; readiness (/readyz, /health)
// flips to 503 on Drain while liveness stays 200; from then on generation
// requests get 503 with Retry-After and every response closes its
// connection. /metrics needs the key unless PublicMetrics.
func TestProbes(t *testing.T) {
	for _, public := range []bool{false, true} {
		srv, base := stdServer(t, func(c *Config) { c.APIKey = "k"; c.PublicMetrics = public })
		auth := map[string]string{"Authorization": "Bearer k"}
		for _, p := range []string{LivePath, ReadyPath, HealthPath} {
			if st, _, b := get(t, base+p, nil); st != 200 || !json.Valid(b) {
				t.Errorf("GET %s without a key: %d %s", p, st, b)
			}
		}
		want := 401
		if public {
			want = 200
		}
		if st, _, _ := get(t, base+"/metrics", nil); st != want {
			t.Errorf("PublicMetrics %v: /metrics without a key: %d, want %d", public, st, want)
		}
		if st, _, _ := get(t, base+"/metrics", auth); st != 200 {
			t.Errorf("/metrics with the key: %d", st)
		}
		if !srv.Ready() {
			t.Error("a new server is not ready")
		}

		srv.Drain()
		if srv.Ready() {
			t.Error("a draining server is ready")
		}
		for _, p := range []string{ReadyPath, HealthPath} {
			st, h, b := get(t, base+p, nil)
			if st != 503 || !strings.Contains(string(b), "shutting down") || h.Get("Retry-After") != "1" {
				t.Errorf("GET %s while draining: %d %v %s", p, st, h, b)
			}
		}
		// (the client takes "Connection: close" out of the headers into resp.Close)
		if resp, _ := send(t, "GET", base+LivePath, "", nil); resp.StatusCode != 200 || !resp.Close {
			t.Errorf("GET %s while draining: %d, connection closed %v", LivePath, resp.StatusCode, resp.Close)
		}
		resp, b := send(t, "POST", base+"/v1/chat/completions", `{"messages":[{"role":"user","content":"Hi"}],"max_tokens":2}`, auth)
		if e := decodeError(t, b); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || e.Code == nil || *e.Code != "server_shutting_down" || !resp.Close {
			t.Errorf("a generation while draining: %d %v close %v %s", resp.StatusCode, resp.Header, resp.Close, b)
		}
		// requests that generate nothing are still answered
		if st, _, b := post(t, base+"/tokenize", `{"content":"Once"}`, auth); st != 200 {
			t.Errorf("/tokenize while draining: %d %s", st, b)
		}
	}
}
