package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"glassbox"
	"glassbox/mcpserver"
)

type mcpOptions struct {
	modelFlags
	http      string
	maxTraces int
	listening func(addr string) // called once the listener is open (tests)
}

func newMCPCmd() *cobra.Command {
	o := &mcpOptions{}
	cmd := &cobra.Command{
		Use:   "mcp [-m MODEL] [--http ADDR]",
		Short: "Serve a model to MCP clients (Model Context Protocol, stdio or Streamable HTTP)",
		Long: `Serve one model over the Model Context Protocol, on stdin/stdout (the default: an MCP
client such as Claude Desktop starts the process) or over Streamable HTTP with --http ADDR
(the endpoint is /mcp).

Tools: generate, tokenize, dissect (top candidates, attention highlights and logit lens of
each generated token), embed and logit_lens (each layer's top tokens at a prompt position).
Each dissection is kept as a resource glassbox://trace/{id} (JSON Lines, docs/trace-schema.md);
the last --max-traces are kept. Without -m, the model embedded in the binary is served.`,
		Example: `  glassbox mcp                       # stdio, the embedded model
  glassbox mcp -m qwen2.5-0.5b-instruct-q8_0.gguf
  glassbox mcp --http 127.0.0.1:8090   # Streamable HTTP at http://127.0.0.1:8090/mcp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	o.modelFlags.register(cmd)
	cmd.Flags().StringVar(&o.http, "http", "", "serve Streamable HTTP on ADDR (host:port) at /mcp instead of stdio")
	cmd.Flags().IntVar(&o.maxTraces, "max-traces", mcpserver.DefaultMaxTraces, "dissection traces kept as resources")
	return cmd
}

func (o *mcpOptions) run(cmd *cobra.Command) error {
	if o.maxTraces < 1 {
		return fmt.Errorf("--max-traces must be at least 1, got %d", o.maxTraces)
	}
	m, err := o.open(cmd.Context())
	if err != nil {
		return err
	}
	defer m.Close()
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = readBuildVersion(bi).Version
	}
	s, err := mcpserver.New(mcpserver.Config{Model: m, Version: version, MaxTraces: o.maxTraces})
	if err != nil {
		return err
	}
	if o.http == "" {
		// stdout is the protocol's: nothing else may be written there
		return s.Run(cmd.Context())
	}
	ln, err := net.Listen("tcp", o.http)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", s.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "glassbox mcp: %s on http://%s/mcp\n", m.Name(), ln.Addr())
	if o.listening != nil {
		o.listening(ln.Addr().String())
	}
	go func() {
		<-cmd.Context().Done()
		hs.Close()
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// withMCP serves the MCP server of model at /mcp beside the API's handler.
// With an API key, /mcp needs it as the API does ("Authorization: Bearer KEY").
func withMCP(api http.Handler, model *glassbox.Model, apiKey string) (http.Handler, error) {
	s, err := mcpserver.New(mcpserver.Config{Model: model, Version: "devel"})
	if err != nil {
		return nil, err
	}
	m := s.Handler()
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if apiKey != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+apiKey)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, `{"error":{"message":"/mcp needs the API key as \"Authorization: Bearer KEY\"","type":"invalid_request_error","code":"invalid_api_key"}}`, http.StatusUnauthorized)
			return
		}
		m.ServeHTTP(w, r)
	}))
	return mux, nil
}
