package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"glassbox"
	"glassbox/mcpserver"
	"glassbox/models"
)

// mcpTask runs a task whose plan forces a call of tokenize, then an
// answer, with the tools of server, and checks that the call reached the
// server and its result came back.
func mcpTask(t *testing.T, m *glassbox.Model, server *MCPServer, check *glassbox.Model) {
	t.Helper()
	var names []string
	for _, tl := range server.Tools() {
		names = append(names, tl.Name)
	}
	if want := "dissect embed generate logit_lens tokenize"; strings.Join(sorted(names), " ") != want {
		t.Fatalf("the server's tools: %v, want %s", names, want)
	}
	// the file tools' search and the server's tools side by side
	tools := Combine([]Tool{{Name: "tokenize", Source: "files", Parameters: noArgs, Call: func(context.Context, json.RawMessage) (string, error) { return "", nil }}}, server.Tools())
	var renamed string
	for _, tl := range tools[1:] {
		if strings.HasSuffix(tl.Name, "tokenize") {
			renamed = tl.Name
			tools = []Tool{tools[0], tl} // a short prompt: only the two tokenize tools
			break
		}
	}
	if renamed != server.Name+"_tokenize" {
		t.Fatalf("the server's tokenize is named %q beside another tokenize", renamed)
	}
	plan := []glassbox.ToolChoice{{Mode: "function", Function: renamed}, {Mode: "none"}}
	res, err := Run(context.Background(), m, "Tokenize the word hello.", Options{Tools: tools, ToolChoices: plan, NoParallelToolCalls: true, MaxTokens: 256, MaxSteps: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stop != StopAnswered || len(res.Steps) != 2 {
		t.Fatalf("stop %s (%v) after %d steps", res.Stop, res.Err, len(res.Steps))
	}
	c := res.Steps[0].Calls
	if len(c) != 1 || c[0].Name != renamed || c[0].Err != "" {
		t.Fatalf("calls %+v", c)
	}
	// the result is the server's answer for these arguments: the tokens of the text
	var args struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(c[0].Arguments), &args); err != nil {
		t.Fatal(err)
	}
	// the text content of tokenize: "N tokens", then "id<TAB>text" lines
	ids := check.Tokenizer().Encode(args.Text, glassbox.EncodeOptions{})
	lines := strings.Split(strings.TrimSuffix(c[0].Output, "\n"), "\n")
	if len(lines) != len(ids)+1 || lines[0] != fmt.Sprintf("%d tokens", len(ids)) && lines[0] != "1 token" {
		t.Fatalf("tokenize %q gave %q, want %d tokens", args.Text, c[0].Output, len(ids))
	}
	for i, id := range ids {
		if !strings.HasPrefix(lines[i+1], strconv.Itoa(id)+"\t") {
			t.Errorf("token %d: the server says %q, here %d", i, lines[i+1], id)
		}
	}
	// the model read it: the tool message holds it
	t.Logf("tokenize %s → %s", c[0].Arguments, c[0].Output)
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestMCPInMemory: the agent calls a tool of glassbox's MCP server, run in
// this process over the go-sdk's in-memory transport.
func TestMCPInMemory(t *testing.T) {
	m := openDefault(t)
	served, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	s, err := mcpserver.New(mcpserver.Config{Model: served})
	if err != nil {
		t.Fatal(err)
	}
	ct, st := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	server, err := ConnectMCP(ctx, ct, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if server.Name != "glassbox" {
		t.Errorf("server name %q", server.Name)
	}
	mcpTask(t, m, server, served)
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildOut  []byte
)

// glassboxBinary builds cmd/glassbox once per test run.
func glassboxBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "glassbox-agent-test-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "glassbox")
		buildOut, buildErr = exec.Command("go", "build", "-o", binary, "glassbox/cmd/glassbox").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build glassbox: %v\n%s", buildErr, buildOut)
	}
	return binary
}

// TestMCPStdio: the agent starts `glassbox mcp` as a command (stdio) and
// calls its tokenize tool.
func TestMCPStdio(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the stdio MCP test (builds the binary)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build glassbox with")
	}
	bin := glassboxBinary(t)
	m := openDefault(t)
	tr, err := CommandTransport(bin + " mcp --threads 1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, err := ConnectMCP(ctx, tr, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	mcpTask(t, m, server, m)
}

// TestContentText: what the model reads of each kind of MCP content.
func TestContentText(t *testing.T) {
	res := &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.TextContent{Text: "hello"},
		&mcp.ImageContent{MIMEType: "image/png", Data: []byte{1, 2, 3}},
		&mcp.ResourceLink{URI: "glassbox://trace/1", Name: "trace 1"},
		&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///a", Text: "embedded"}},
		&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///b", MIMEType: "application/octet-stream", Blob: []byte{0}}},
	}}
	want := "hello\n[image image/png, 3 bytes]\n[resource glassbox://trace/1: trace 1]\nembedded\n[resource file:///b, application/octet-stream, 1 bytes]"
	if got := ContentText(res); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := ContentText(&mcp.CallToolResult{StructuredContent: map[string]any{"n": 1}}); got != `{"n":1}` {
		t.Errorf("structured: %q", got)
	}
}
