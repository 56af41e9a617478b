package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// APIError is an error answered to the client as an OpenAI error object:
// {"error": {"message", "type", "param", "code"}} with an HTTP status.
type APIError struct {
	Status  int    // HTTP status code
	Message string // what went wrong and what was expected
	Type    string // "invalid_request_error", "server_error", ...
	Param   string // the request field at fault, if any
	Code    string // a machine-readable code such as "model_not_found", if any
	// RetryAfter, when > 0, is sent as the Retry-After header (seconds).
	RetryAfter int
}

// Error returns the message.
func (e *APIError) Error() string { return e.Message }

func badRequest(param, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Message: fmt.Sprintf(format, args...)}
}

func serverError(err error) *APIError {
	return &APIError{Status: http.StatusInternalServerError, Type: "server_error", Message: "internal error: " + err.Error()}
}

// errorBody is the JSON shape of an OpenAI error.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *APIError) body() errorBody {
	b := errorBody{Error: errorObject{Message: e.Message, Type: e.Type}}
	if e.Param != "" {
		p := e.Param
		b.Error.Param = &p
	}
	if e.Code != "" {
		c := e.Code
		b.Error.Code = &c
	}
	return b
}

// writeError answers err as an OpenAI error object; errors that are not
// *APIError are internal errors (500).
func writeError(w http.ResponseWriter, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = serverError(err)
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	writeJSON(w, ae.Status, ae.body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(&buf, `{"error":{"message":%q,"type":"server_error","param":null,"code":null}}`+"\n", "encode response: "+err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// decodeJSON reads a request body into v. It answers 413 when the body is
// over the size limit and 400, naming the field and the expected type, when
// the JSON is malformed or a value has the wrong type, and 400 naming the
// field for the fields glassbox does not implement (unsupportedFields).
// Other unknown fields are ignored.
func decodeJSON(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return &APIError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "request_too_large",
				Message: fmt.Sprintf("the request body is larger than the limit of %d bytes", mb.Limit)}
		}
		return badRequest("", "could not read the request body: %v", err)
	}
	return unmarshalRequest(data, v)
}

// unmarshalRequest decodes a JSON request body with the error messages of decodeJSON.
func unmarshalRequest(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("", "the request body is empty: expected a JSON object")
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		if r, ok := v.(apiRequest); ok {
			return checkUnsupported(data, r.api())
		}
		return nil
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		return badRequest(fe.field, "invalid value for '%s': %s", fe.field, fe.msg)
	case errors.As(err, &te):
		te.Field = strings.TrimPrefix(te.Field, "SamplingFields.")
		if te.Field == "" {
			return badRequest("", "the request body must be a JSON object, got %s", jsonKind(te.Value))
		}
		return badRequest(te.Field, "invalid type for '%s': expected %s, got %s", te.Field, goKind(te.Type.Kind().String(), te.Type.String()), jsonKind(te.Value))
	case errors.As(err, &se):
		return badRequest("", "the request body is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	return badRequest("", "the request body is not valid JSON: %v", err)
}

// fieldError is returned by the custom decoders of union-typed fields.
type fieldError struct{ field, msg string }

// Error returns the field and what was wrong with it.
func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func jsonKind(v string) string {
	switch v {
	case "string", "number", "bool", "array", "object", "null":
		if v == "bool" {
			return "a boolean"
		}
		if v == "array" || v == "object" {
			return "an " + v
		}
		return "a " + v
	}
	if strings.HasPrefix(v, "number") {
		return "a number (" + strings.TrimPrefix(v, "number ") + ")"
	}
	return v
}

func goKind(kind, typ string) string {
	switch kind {
	case "int", "int64", "int32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return typ
}
