package server

import (
	"fmt"
	"net/http"
	"sync/atomic"
)

// Probes. A process that serves HTTP is alive; it is ready once its models
// are loaded and until it starts shutting down:
//
//	GET /livez   200 {"status":"alive"} while the process answers, loading and draining included
//	GET /readyz  200 {"status":"ok"} when ready; 503 while loading and while draining
//	GET /health  the same as /readyz, with llama.cpp's bodies (503 "Loading model" while loading)
//
// Kubernetes' liveness probe belongs on /livez (a pod that drains or loads a
// large model must not be restarted), its readiness probe on /readyz or
// /health (a pod that is not ready gets no new traffic from a Service or an
// inference gateway).
const (
	// LivePath is the liveness probe's route.
	LivePath = "/livez"
	// ReadyPath is the readiness probe's route.
	ReadyPath = "/readyz"
	// HealthPath is the llama.cpp-compatible health route, which is a readiness probe too.
	HealthPath = "/health"
)

// shutdownRetryAfter is the Retry-After, in seconds, of the 503 answers of a
// server that is loading or shutting down: the client should retry at once
// elsewhere (a Service or a gateway sends the retry to another replica).
const shutdownRetryAfter = 1

// loadingError is the answer, llama.cpp's, to every request but the probes
// while the models load.
func loadingError() *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Type: "unavailable_error", Code: "model_loading", RetryAfter: shutdownRetryAfter,
		Message: "Loading model: the server is starting and answers once its models are loaded; retry shortly"}
}

// writeLoading answers /health and /readyz while loading: llama.cpp's body
// {"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}.
func writeLoading(w http.ResponseWriter) {
	w.Header().Set("Retry-After", fmt.Sprint(shutdownRetryAfter))
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{
		"status": "loading",
		"error":  map[string]any{"code": http.StatusServiceUnavailable, "message": "Loading model", "type": "unavailable_error"},
	})
}

func writeAlive(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

// Gate is the handler of a listener opened before the server exists, so that
// probes are answered while the models load (or download): until Open, the
// liveness route answers 200, the readiness routes 503 "Loading model", and
// every other request 503 with Retry-After; after Open, everything goes to
// the server's handler. The zero value is a closed gate.
type Gate struct {
	next atomic.Pointer[http.Handler]
}

// Open sends every later request to h.
func (g *Gate) Open(h http.Handler) { g.next.Store(&h) }

// ServeHTTP answers r: with the opened handler, or as a server that is loading.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.next.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		switch r.URL.Path {
		case LivePath:
			writeAlive(w)
			return
		case ReadyPath, HealthPath:
			writeLoading(w)
			return
		}
	}
	// a server that is not there yet: no Keep-Alive, the next try may reach another one
	w.Header().Set("Connection", "close")
	writeError(w, loadingError())
}

// Ready reports whether the server takes new generation requests: false
// once Drain has been called.
func (s *Server) Ready() bool { return !s.draining.Load() }

func (s *Server) live(w http.ResponseWriter, r *http.Request) error {
	writeAlive(w)
	return nil
}

// ready answers the readiness probes (/readyz and /health): 200 while the
// server takes new requests, 503 once it drains.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		w.Header().Set("Retry-After", fmt.Sprint(shutdownRetryAfter))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
