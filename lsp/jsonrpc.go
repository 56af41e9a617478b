package lsp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxMessageBytes bounds the body of one message (a whole document arrives
// in didOpen, so it is generous).
const MaxMessageBytes = 64 << 20

// maxHeaderBytes bounds one header line.
const maxHeaderBytes = 4096

// JSON-RPC and LSP error codes.
const (
	CodeParseError           = -32700
	CodeInvalidRequest       = -32600
	CodeMethodNotFound       = -32601
	CodeInvalidParams        = -32602
	CodeInternalError        = -32603
	CodeServerNotInitialized = -32002
	CodeRequestCancelled     = -32800
	CodeRequestFailed        = -32803
)

// Message is one JSON-RPC 2.0 message: a request (ID and Method), a
// notification (Method without ID) or a response (ID with Result or Error).
type Message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *ResponseError  `json:"error,omitempty"`
}

// ResponseError is the error of a failed request.
type ResponseError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *ResponseError) Error() string { return fmt.Sprintf("%s (code %d)", e.Message, e.Code) }

// IsNotification reports whether m is a notification (no id).
func (m *Message) IsNotification() bool { return len(m.ID) == 0 }

// ReadMessage reads one message framed as the base protocol says: headers
// ("Content-Length: N" required, "Content-Type" optional) ending with an
// empty line, then N bytes of JSON. It returns io.EOF at a clean end of input.
func ReadMessage(r *bufio.Reader) ([]byte, error) {
	length := -1
	first := true
	for {
		line, err := readLine(r)
		if err != nil {
			if err == io.EOF && first {
				return nil, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading the message header: %w", err)
		}
		first = false
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("header line %q: expected Name: value", line)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("Content-Length %q: expected a non-negative integer", value)
			}
			if n > MaxMessageBytes {
				return nil, fmt.Errorf("Content-Length %d is over the limit of %d bytes", n, MaxMessageBytes)
			}
			length = n
		case "content-type":
			if ct := strings.ToLower(value); !strings.Contains(ct, "json") {
				return nil, fmt.Errorf("Content-Type %q: expected application/vscode-jsonrpc; charset=utf-8", value)
			}
		}
	}
	if length < 0 {
		return nil, errors.New("message header without Content-Length")
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading a %d-byte message body: %w", length, err)
	}
	return body, nil
}

// readLine reads a header line ending with \r\n (a bare \n is accepted).
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		if c == '\n' {
			return string(bytes.TrimSuffix(b, []byte{'\r'})), nil
		}
		if len(b) >= maxHeaderBytes {
			return "", fmt.Errorf("header line longer than %d bytes", maxHeaderBytes)
		}
		b = append(b, c)
	}
}

// WriteMessage writes body with its Content-Length header.
func WriteMessage(w io.Writer, body []byte) error {
	if _, err := fmt.Fprintf(w, "Content-Length: %d\r\n\r\n", len(body)); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// ParseMessage decodes and checks one JSON-RPC message.
func ParseMessage(body []byte) (*Message, *ResponseError) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &ResponseError{Code: CodeParseError, Message: "invalid JSON: " + err.Error()}
	}
	if m.JSONRPC != "2.0" {
		return &m, &ResponseError{Code: CodeInvalidRequest, Message: fmt.Sprintf("jsonrpc must be \"2.0\", got %q", m.JSONRPC)}
	}
	if len(m.ID) > 0 {
		var id any
		if err := json.Unmarshal(m.ID, &id); err != nil {
			return &m, &ResponseError{Code: CodeInvalidRequest, Message: "invalid id"}
		}
		switch id.(type) {
		case string, float64, nil:
		default:
			return &m, &ResponseError{Code: CodeInvalidRequest, Message: "id must be a number or a string, got " + string(m.ID)}
		}
		if id == nil {
			m.ID = nil
		}
	}
	if m.Method == "" && len(m.ID) == 0 {
		return &m, &ResponseError{Code: CodeInvalidRequest, Message: "a message needs a method or an id"}
	}
	return &m, nil
}
