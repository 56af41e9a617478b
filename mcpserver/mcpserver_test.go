package mcpserver_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"glassbox"
	"glassbox/mcpserver"
	"glassbox/models"
)

// skipOrFail skips a test that cannot run here, but fails it in CI (CI=true).
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
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
		dir, err := os.MkdirTemp("", "glassbox-mcp-test-")
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

func openDefault(t *testing.T) *glassbox.Model {
	t.Helper()
	m, err := glassbox.OpenBytes(models.DefaultName, models.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// exercise lists and calls every tool through a connected go-sdk client
// session and checks the answers against the model itself.
func exercise(t *testing.T, ctx context.Context, cs *mcp.ClientSession, m *glassbox.Model) {
	t.Helper()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
		if tl.InputSchema == nil {
			t.Errorf("tool %s has no input schema", tl.Name)
		}
	}
	slices.Sort(names)
	if want := []string{"dissect", "embed", "generate", "logit_lens", "tokenize"}; !slices.Equal(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}
	call := func(name string, args map[string]any, out any) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out != nil {
			if res.IsError {
				t.Fatalf("%s: tool error %v", name, res.Content)
			}
			b, _ := json.Marshal(res.StructuredContent)
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s: structured content %s: %v", name, b, err)
			}
		}
		return res
	}

	prompt := "package main\n\nfunc "
	var gen mcpserver.GenerateOutput
	call("generate", map[string]any{"prompt": prompt, "max_tokens": 8}, &gen)
	want, err := m.Generate(ctx, prompt, glassbox.GenerateOptions{MaxTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	if gen.Text != want.Text || gen.GeneratedTokens != len(want.IDs) || gen.Text == "" {
		t.Errorf("generate: %+v, want the SDK's greedy %q (%d tokens)", gen, want.Text, len(want.IDs))
	}

	var tk mcpserver.TokenizeOutput
	call("tokenize", map[string]any{"text": "func main() {"}, &tk)
	ids := m.Tokenizer().Encode("func main() {", glassbox.EncodeOptions{})
	if tk.Count != len(ids) || len(tk.Tokens) != len(ids) {
		t.Fatalf("tokenize: %+v, want ids %v", tk, ids)
	}
	var joined strings.Builder
	for i, x := range tk.Tokens {
		if x.ID != ids[i] {
			t.Errorf("token %d: id %d, want %d", i, x.ID, ids[i])
		}
		joined.WriteString(x.Text)
	}
	if joined.String() != "func main() {" {
		t.Errorf("token texts join to %q", joined.String())
	}

	var d mcpserver.DissectOutput
	res := call("dissect", map[string]any{"prompt": prompt, "max_tokens": 3, "top": 4}, &d)
	if len(d.Steps) != 3 || d.Text != want.Text[:len(d.Text)] || !strings.HasPrefix(d.TraceURI, mcpserver.TraceURIPrefix) {
		t.Fatalf("dissect: %d steps, text %q, uri %q", len(d.Steps), d.Text, d.TraceURI)
	}
	for _, st := range d.Steps {
		if len(st.Candidates) != 4 || st.Candidates[0].ID != st.Token.ID || len(st.Attention) != 3 || len(st.LogitLens) != m.Config().Layers {
			t.Errorf("step %d: %d candidates (first %d, chosen %d), %d heads, %d lens layers", st.Index, len(st.Candidates), st.Candidates[0].ID, st.Token.ID, len(st.Attention), len(st.LogitLens))
		}
	}
	var report string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			report = tc.Text
		}
	}
	if !strings.Contains(report, "1 · TOKENIZATION") || !strings.Contains(report, "logit lens") {
		t.Errorf("dissect report:\n%s", report)
	}
	rl, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rl.Resources, func(r *mcp.Resource) bool { return r.URI == d.TraceURI }) {
		t.Errorf("resources/list lacks %s", d.TraceURI)
	}
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: d.TraceURI})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(rr.Contents[0].Text), "\n") {
		var ev glassbox.TraceEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("trace line %q: %v", line, err)
		}
		types = append(types, ev.Type)
	}
	if want := []string{"meta", "tokenization", "embeddings", "step", "step", "step", "done"}; !slices.Equal(types, want) {
		t.Errorf("trace events %v, want %v", types, want)
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: mcpserver.TraceURIPrefix + "999"}); err == nil {
		t.Error("reading an unknown trace succeeded")
	}

	// the logit lens at the last position agrees with the dissection's first step
	var ll mcpserver.LogitLensOutput
	call("logit_lens", map[string]any{"prompt": prompt, "top": 4}, &ll)
	if ll.Position != d.Steps[0].Position || len(ll.Layers) != m.Config().Layers {
		t.Fatalf("logit_lens: position %d (dissect %d), %d layers", ll.Position, d.Steps[0].Position, len(ll.Layers))
	}
	for i, l := range ll.Layers {
		if l.Top[0].ID != d.Steps[0].LogitLens[i].Top[0].ID {
			t.Errorf("layer %d: lens top %d, dissect %d", i, l.Top[0].ID, d.Steps[0].LogitLens[i].Top[0].ID)
		}
	}
	if ll.Final[0].ID != d.Steps[0].Token.ID {
		t.Errorf("lens final %d, greedy token %d", ll.Final[0].ID, d.Steps[0].Token.ID)
	}
	var ll0 mcpserver.LogitLensOutput
	call("logit_lens", map[string]any{"prompt": prompt, "position": 1}, &ll0)
	if ll0.Position != 1 || ll0.Token.ID != d.PromptTokens[1].ID || len(ll0.Layers[0].Top) != 3 {
		t.Errorf("logit_lens at 1: %+v", ll0)
	}

	var e mcpserver.EmbedOutput
	call("embed", map[string]any{"text": "for i := range n"}, &e)
	v, err := m.Embed("for i := range n")
	if err != nil {
		t.Fatal(err)
	}
	if e.Dimensions != len(v) || len(e.Embedding) != len(v) {
		t.Fatalf("embed: %d dimensions, want %d", e.Dimensions, len(v))
	}
	var norm float64
	for _, x := range e.Embedding {
		norm += x * x
	}
	if norm < 0.999 || norm > 1.001 {
		t.Errorf("embedding norm² %v, want 1", norm)
	}

	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"generate", map[string]any{"prompt": "x", "max_tokens": 5000}, "max_tokens must be between 1 and 1024"},
		{"generate", map[string]any{"prompt": "x", "temperature": -1}, "temperature must be between 0 and 10"},
		{"dissect", map[string]any{"prompt": "x", "top": 50}, "top must be between 1 and 20"},
		{"logit_lens", map[string]any{"prompt": "x", "position": 40}, "position 40 is outside the prompt"},
		{"generate", map[string]any{"max_tokens": 2}, "prompt"},
	} {
		res := call(tc.tool, tc.args, nil)
		b, _ := json.Marshal(res.Content)
		if !res.IsError || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %v: isError %v, content %s, want %q", tc.tool, tc.args, res.IsError, b, tc.want)
		}
	}
}

// TestGoClientStreamableHTTP: the go-sdk client over Streamable HTTP.
func TestGoClientStreamableHTTP(t *testing.T) {
	m := openDefault(t)
	s, err := mcpserver.New(mcpserver.Config{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: hs.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	exercise(t, ctx, cs, m)
}

// TestGoClientStdio: the go-sdk client spawns `glassbox mcp` (the embedded
// model) and talks to it over stdio.
func TestGoClientStdio(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the stdio test (builds the binary)")
	}
	bin := glassboxBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cmd := exec.Command(bin, "mcp")
	cmd.Stderr = os.Stderr
	cs, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got := cs.InitializeResult().ServerInfo.Name; got != "glassbox" {
		t.Errorf("server name %q", got)
	}
	exercise(t, ctx, cs, openDefault(t))
}

// TestNodeClient: the official MCP TypeScript SDK (pinned by
// testdata/node/package-lock.json) spawns `glassbox mcp` and lists and calls
// its tools over stdio.
func TestNodeClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Node client test (npm ci)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed: the MCP client test needs Node 20 and npm")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		skipOrFail(t, "npm is not installed: the MCP client test needs Node 20 and npm")
	}
	bin := glassboxBinary(t)
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "client.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "node", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		skipOrFail(t, "npm ci failed (offline?), cannot install @modelcontextprotocol/sdk: %v\n%s", err, out)
	}
	run := exec.CommandContext(ctx, node, "client.mjs", bin)
	run.Dir = dir
	var stderr strings.Builder
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("node client.mjs: %v\n%s", err, stderr.String())
	}
	var got struct {
		Server struct{ Name string }
		Tools  []struct {
			Name       string
			Required   []string
			Properties []string
		}
		Calls map[string]struct {
			IsError    bool            `json:"isError"`
			Structured json.RawMessage `json:"structured"`
			Text       string
			Links      []string
		}
		Resources  []string
		TraceLines []string `json:"trace_lines"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	if got.Server.Name != "glassbox" || len(got.Tools) != 5 {
		t.Fatalf("server %q with %d tools", got.Server.Name, len(got.Tools))
	}
	for _, tl := range got.Tools {
		if len(tl.Required) == 0 || len(tl.Properties) == 0 {
			t.Errorf("tool %s: schema with required %v, properties %v", tl.Name, tl.Required, tl.Properties)
		}
	}
	m := openDefault(t)
	want, err := m.Generate(ctx, "package main\n\nfunc ", glassbox.GenerateOptions{MaxTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Calls["generate"]; g.IsError || g.Text != want.Text {
		t.Errorf("generate over node: %+v, want %q", g, want.Text)
	}
	for _, name := range []string{"tokenize", "dissect", "logit_lens", "embed"} {
		if c := got.Calls[name]; c.IsError || len(c.Structured) < 10 {
			t.Errorf("%s over node: %+v", name, c)
		}
	}
	if b := got.Calls["bad"]; !b.IsError || !strings.Contains(b.Text, "max_tokens must be between 1 and 1024") {
		t.Errorf("a bad call over node: %+v", b)
	}
	d := got.Calls["dissect"]
	if len(d.Links) != 1 || !slices.Contains(got.Resources, d.Links[0]) {
		t.Errorf("dissect links %v, resources %v", d.Links, got.Resources)
	}
	if w := []string{"meta", "tokenization", "embeddings", "step", "step", "done"}; !slices.Equal(got.TraceLines, w) {
		t.Errorf("trace read over node: %v, want %v", got.TraceLines, w)
	}
}

// TestTraceEviction: only the last MaxTraces dissections stay listed and readable.
func TestTraceEviction(t *testing.T) {
	m := openDefault(t)
	s, err := mcpserver.New(mcpserver.Config{Model: m, MaxTraces: 2})
	if err != nil {
		t.Fatal(err)
	}
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	var uris []string
	for range 3 {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "dissect", Arguments: map[string]any{"prompt": "func", "max_tokens": 1}})
		if err != nil || res.IsError {
			t.Fatalf("dissect: %v %v", err, res)
		}
		uris = append(uris, res.StructuredContent.(map[string]any)["trace_uri"].(string))
	}
	rl, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range rl.Resources {
		listed = append(listed, r.URI)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, uris[1:]) {
		t.Errorf("listed %v, want the last two of %v", listed, uris)
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uris[0]}); err == nil {
		t.Errorf("the evicted %s is still readable", uris[0])
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uris[2]}); err != nil {
		t.Errorf("reading %s: %v", uris[2], err)
	}
}
