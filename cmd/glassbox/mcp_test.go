package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearer adds an API key to every request.
type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// TestServeMCP: `glassbox serve --mcp` answers MCP clients at /mcp, behind
// the API key, beside the API.
func TestServeMCP(t *testing.T) {
	srv := startServe(t, "--mcp", "--api-key", "k", "--addr", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := http.Post(srv.base+"/mcp", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/mcp without the key: %d, want 401", resp.StatusCode)
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: srv.base + "/mcp", HTTPClient: &http.Client{Transport: bearer{"k"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "generate", Arguments: map[string]any{"prompt": "func main() {", "max_tokens": 4}})
	if err != nil || res.IsError {
		t.Fatalf("generate over /mcp: %v %+v", err, res)
	}
	if out := res.StructuredContent.(map[string]any); out["generated_tokens"].(float64) != 4 {
		t.Errorf("generate over /mcp: %v", out)
	}
	// the API is still there
	req, _ := http.NewRequest("GET", srv.base+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer k")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("/v1/models beside /mcp: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
}
