package server

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStreamOrJSON: a failed generation is the response when nothing is
// streamed, and the last event of a stream otherwise — except when the
// client has gone away, where nothing more is written.
func TestStreamOrJSON(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	failure := errors.New("the model failed")
	tests := []struct {
		name    string
		stream  bool
		ctx     context.Context
		wantErr bool   // the error is returned, to be answered as JSON
		body    string // what the stream holds ("" for nothing)
	}{
		{"JSON response", false, live, true, ""},
		{"JSON response, client gone", false, gone, true, ""},
		{"stream", true, live, false, `data: {"error":{"message":"internal error: the model failed","type":"server_error","param":null,"code":null}}`},
		{"stream, client gone", true, gone, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			st := streamIf(tt.stream, w)
			if (st != nil) != tt.stream {
				t.Fatalf("streamIf(%v) = %v", tt.stream, st)
			}
			err := st.failed(tt.ctx, failure)
			if tt.wantErr != (err == failure) || (!tt.wantErr && err != nil) {
				t.Errorf("failed returned %v, want the error: %v", err, tt.wantErr)
			}
			body := strings.TrimSpace(w.Body.String())
			if body != tt.body {
				t.Errorf("stream holds %q, want %q", body, tt.body)
			}
			if tt.body != "" && w.Header().Get("Content-Type") != "text/event-stream" {
				t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
			}
		})
	}
}
