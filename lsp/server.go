// Package lsp is `glassbox lsp`: a Language Server (stdio, JSON-RPC 2.0 with
// Content-Length framing) that completes code with a local model. It keeps
// the open documents (full and incremental sync), and answers
// textDocument/completion (completion items) and textDocument/inlineCompletion
// (LSP 3.18 ghost text) from a fill-in-the-middle generation at the cursor:
// the lines before the cursor as prefix, the lines after it as suffix, laid
// out with the model's FIM tokens (tokenizer.ggml.fim_pre/suf/mid_token_id, or
// tokens such as <|fim_prefix|>). A model without FIM tokens completes the
// prefix alone, and the server says so with window/logMessage.
//
// Settings come from initializationOptions: model, n_predict,
// max_prefix_lines, max_suffix_lines, temperature. $/cancelRequest stops a
// completion at its next token.
package lsp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"glassbox"
)

// Settings are the options a client passes as initializationOptions.
type Settings struct {
	Model          string  `json:"model"`            // a model to open instead of the server's (file, store name)
	NPredict       int     `json:"n_predict"`        // tokens to generate per completion (default 32)
	MaxPrefixLines int     `json:"max_prefix_lines"` // lines before the cursor given to the model (default 64)
	MaxSuffixLines int     `json:"max_suffix_lines"` // lines after the cursor (default 16)
	Temperature    float64 `json:"temperature"`      // 0 (default): greedy
}

// DefaultSettings are the settings without initializationOptions.
func DefaultSettings() Settings {
	return Settings{NPredict: 32, MaxPrefixLines: 64, MaxSuffixLines: 16}
}

// Config configures a Server.
type Config struct {
	// Model completes code unless initializationOptions names another.
	Model *glassbox.Model
	// Open opens the model initializationOptions.model names (nil: the
	// option is refused).
	Open func(ctx context.Context, name string) (*glassbox.Model, error)
	// Version is reported in serverInfo.
	Version string
}

// Server is one language server connection.
type Server struct {
	cfg Config

	wmu sync.Mutex
	w   io.Writer

	mu          sync.Mutex
	model       *glassbox.Model
	opened      *glassbox.Model // the model the server opened itself (closed at the end)
	settings    Settings
	initialized bool
	shutdown    bool
	docs        map[string]string
	running     map[string]context.CancelFunc // request id → cancel
	wg          sync.WaitGroup
}

// New creates a server.
func New(cfg Config) *Server {
	return &Server{cfg: cfg, settings: DefaultSettings(), docs: map[string]string{}, running: map[string]context.CancelFunc{}}
}

// ErrExitWithoutShutdown is returned by Serve when the client sent exit
// without shutdown first (the process should exit with code 1).
var ErrExitWithoutShutdown = errors.New("exit without shutdown")

// Serve reads messages from r and writes answers to w until exit (nil after
// shutdown, ErrExitWithoutShutdown otherwise), the end of r (io.EOF
// wrapped as an error unless shutdown came first) or a framing error.
func (s *Server) Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	s.w = w
	br := bufio.NewReader(r)
	defer func() {
		s.mu.Lock()
		for _, c := range s.running {
			c()
		}
		s.mu.Unlock()
		s.wg.Wait()
		if s.opened != nil {
			s.opened.Close()
		}
	}()
	for {
		body, err := ReadMessage(br)
		if err != nil {
			if errors.Is(err, io.EOF) && s.isShutdown() {
				return nil
			}
			return err
		}
		m, perr := ParseMessage(body)
		if perr != nil {
			var id json.RawMessage
			if m != nil {
				id = m.ID
			}
			s.reply(id, nil, perr)
			continue
		}
		if m.Method == "" {
			continue // a response to a request of ours: we send none that need one
		}
		if m.Method == "exit" {
			if s.isShutdown() {
				return nil
			}
			return ErrExitWithoutShutdown
		}
		s.handle(ctx, m)
	}
}

func (s *Server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

func (s *Server) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = WriteMessage(s.w, b)
}

func (s *Server) reply(id json.RawMessage, result any, rerr *ResponseError) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	if rerr != nil {
		s.send(map[string]any{"jsonrpc": "2.0", "id": id, "error": rerr})
		return
	}
	s.send(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
}

func (s *Server) notify(method string, params any) {
	s.send(map[string]any{"jsonrpc": "2.0", "method": method, "params": params})
}

// logMessage sends window/logMessage (typ: 1 error, 2 warning, 3 info, 4 log).
func (s *Server) logMessage(typ int, msg string) {
	s.notify("window/logMessage", map[string]any{"type": typ, "message": msg})
}

func invalidParams(method string, err error) *ResponseError {
	return &ResponseError{Code: CodeInvalidParams, Message: method + ": invalid params: " + err.Error()}
}

func (s *Server) handle(ctx context.Context, m *Message) {
	s.mu.Lock()
	init, down := s.initialized, s.shutdown
	s.mu.Unlock()
	notification := m.IsNotification()
	if !init && m.Method != "initialize" {
		if !notification {
			s.reply(m.ID, nil, &ResponseError{Code: CodeServerNotInitialized, Message: "the server is not initialized: send initialize first"})
		}
		return
	}
	if down && !notification {
		s.reply(m.ID, nil, &ResponseError{Code: CodeInvalidRequest, Message: "the server is shutting down: only exit is accepted"})
		return
	}
	switch m.Method {
	case "initialize":
		if init {
			s.reply(m.ID, nil, &ResponseError{Code: CodeInvalidRequest, Message: "initialize was already received"})
			return
		}
		res, rerr := s.initialize(ctx, m.Params)
		s.reply(m.ID, res, rerr)
	case "initialized":
		s.mu.Lock()
		model := s.model
		s.mu.Unlock()
		if _, _, _, ok := model.Tokenizer().FIM(); ok {
			s.logMessage(3, "glassbox: "+model.Name()+" completes with its fill-in-the-middle tokens (prefix and suffix of the cursor)")
		} else {
			s.logMessage(2, "glassbox: "+model.Name()+" has no fill-in-the-middle tokens: completions continue the text before the cursor (plain prefix completion)")
		}
	case "shutdown":
		s.mu.Lock()
		s.shutdown = true
		s.mu.Unlock()
		s.reply(m.ID, nil, nil)
	case "$/cancelRequest":
		var p struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(m.Params, &p) == nil {
			s.mu.Lock()
			if c := s.running[string(p.ID)]; c != nil {
				c()
			}
			s.mu.Unlock()
		}
	case "textDocument/didOpen":
		var p struct {
			TextDocument struct {
				URI  string `json:"uri"`
				Text string `json:"text"`
			} `json:"textDocument"`
		}
		if err := json.Unmarshal(m.Params, &p); err != nil || p.TextDocument.URI == "" {
			s.logMessage(1, "glassbox: textDocument/didOpen without a document uri")
			return
		}
		s.mu.Lock()
		s.docs[p.TextDocument.URI] = p.TextDocument.Text
		s.mu.Unlock()
	case "textDocument/didChange":
		var p struct {
			TextDocument struct {
				URI string `json:"uri"`
			} `json:"textDocument"`
			ContentChanges []ContentChange `json:"contentChanges"`
		}
		if err := json.Unmarshal(m.Params, &p); err != nil {
			s.logMessage(1, "glassbox: textDocument/didChange: "+err.Error())
			return
		}
		s.mu.Lock()
		text, ok := s.docs[p.TextDocument.URI]
		var err error
		for _, c := range p.ContentChanges {
			if !ok {
				break
			}
			if text, err = apply(text, c); err != nil {
				break
			}
		}
		if ok && err == nil {
			s.docs[p.TextDocument.URI] = text
		}
		s.mu.Unlock()
		switch {
		case !ok:
			s.logMessage(1, "glassbox: textDocument/didChange of "+p.TextDocument.URI+", which is not open")
		case err != nil:
			s.logMessage(1, "glassbox: textDocument/didChange of "+p.TextDocument.URI+": "+err.Error()+" (the change is ignored)")
		}
	case "textDocument/didClose":
		var p struct {
			TextDocument struct {
				URI string `json:"uri"`
			} `json:"textDocument"`
		}
		if json.Unmarshal(m.Params, &p) == nil {
			s.mu.Lock()
			delete(s.docs, p.TextDocument.URI)
			s.mu.Unlock()
		}
	case "textDocument/completion", "textDocument/inlineCompletion":
		s.complete(ctx, m)
	default:
		if !notification {
			s.reply(m.ID, nil, &ResponseError{Code: CodeMethodNotFound, Message: "method not supported: " + m.Method})
		}
	}
}

func (s *Server) initialize(ctx context.Context, params json.RawMessage) (any, *ResponseError) {
	var p struct {
		InitializationOptions json.RawMessage `json:"initializationOptions"`
	}
	if len(params) > 0 {
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, invalidParams("initialize", err)
		}
	}
	st := DefaultSettings()
	if len(p.InitializationOptions) > 0 && string(p.InitializationOptions) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(p.InitializationOptions)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			return nil, invalidParams("initialize", fmt.Errorf("initializationOptions: %v (known: model, n_predict, max_prefix_lines, max_suffix_lines, temperature)", err))
		}
	}
	switch {
	case st.NPredict < 1 || st.NPredict > 1024:
		return nil, invalidParams("initialize", fmt.Errorf("initializationOptions.n_predict must be between 1 and 1024, got %d", st.NPredict))
	case st.MaxPrefixLines < 1 || st.MaxSuffixLines < 0:
		return nil, invalidParams("initialize", fmt.Errorf("initializationOptions.max_prefix_lines must be >= 1 and max_suffix_lines >= 0, got %d and %d", st.MaxPrefixLines, st.MaxSuffixLines))
	case st.Temperature < 0 || st.Temperature > 10:
		return nil, invalidParams("initialize", fmt.Errorf("initializationOptions.temperature must be between 0 and 10, got %v", st.Temperature))
	}
	model := s.cfg.Model
	var opened *glassbox.Model
	if st.Model != "" {
		if s.cfg.Open == nil {
			return nil, invalidParams("initialize", errors.New("initializationOptions.model: this server cannot open other models"))
		}
		m, err := s.cfg.Open(ctx, st.Model)
		if err != nil {
			return nil, &ResponseError{Code: CodeRequestFailed, Message: "opening model " + st.Model + ": " + err.Error()}
		}
		model, opened = m, m
	}
	if model == nil {
		return nil, &ResponseError{Code: CodeRequestFailed, Message: "no model: start glassbox lsp with -m or pass initializationOptions.model"}
	}
	s.mu.Lock()
	s.model, s.opened, s.settings, s.initialized = model, opened, st, true
	s.mu.Unlock()
	version := s.cfg.Version
	if version == "" {
		version = "dev"
	}
	return map[string]any{
		"capabilities": map[string]any{
			"positionEncoding":         "utf-16",
			"textDocumentSync":         map[string]any{"openClose": true, "change": 2}, // incremental
			"completionProvider":       map[string]any{"resolveProvider": false, "triggerCharacters": []string{".", "(", " "}},
			"inlineCompletionProvider": map[string]any{},
		},
		"serverInfo": map[string]any{"name": "glassbox", "version": version},
	}, nil
}
