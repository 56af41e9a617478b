package server

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Access says who may reach a Server beyond the API key: which Host headers
// it answers (against DNS rebinding) and which web origins may call it
// (CORS). The zero value answers localhost and IP addresses only and allows
// no cross-origin calls.
type Access struct {
	// ListenAddr is the address the server listens on (host:port, as given
	// to `serve --addr`). Its host is a name the Host header may carry, and
	// whether it is a loopback address decides the Host check (see
	// AllowedHosts). "" counts as loopback.
	ListenAddr string
	// AllowedHosts are further names the Host header may carry (any port);
	// "*.example.com" allows the subdomains of example.com and "*" turns the
	// Host check off. Without them the server answers only Host headers that
	// are IP addresses, localhost (and *.localhost) or the listen host, so
	// that a web page whose domain an attacker re-points at this machine
	// (DNS rebinding) gets 403. With an API key and a listen address beyond
	// loopback, every Host is answered: the key guards the API.
	AllowedHosts []string
	// CORSOrigins are the web origins (scheme://host[:port]) whose pages may
	// call the API from a browser; "*" allows every origin. None by default:
	// browsers then keep other sites' pages from reading the answers.
	CORSOrigins []string
}

// apiMethods are the methods of the API (for CORS preflights).
const apiMethods = "GET, POST, OPTIONS"

// guard holds the validated Access settings.
type guard struct {
	checkHost  bool
	listenHost string
	hosts      []string // lower case; "*.x" entries match subdomains of x
	anyOrigin  bool
	origins    map[string]bool
	jsonPaths  map[string]bool // the POST routes, whose bodies must be JSON
}

func newGuard(a Access, apiKey string, jsonPaths map[string]bool) (*guard, error) {
	g := &guard{checkHost: true, origins: map[string]bool{}, jsonPaths: jsonPaths}
	loopback := true
	if a.ListenAddr != "" {
		host, _, err := net.SplitHostPort(a.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("server: listen address %q: expected host:port: %v", a.ListenAddr, err)
		}
		g.listenHost = normalHost(host)
		loopback = IsLoopback(host)
	}
	if apiKey != "" && !loopback {
		g.checkHost = false
	}
	for _, h := range a.AllowedHosts {
		h = normalHost(strings.TrimSpace(h))
		switch {
		case h == "*":
			g.checkHost = false
		case h == "" || strings.ContainsAny(h, "/ :@") && net.ParseIP(h) == nil:
			return nil, fmt.Errorf("server: allowed host %q: expected a host name such as example.com or *.example.com (no scheme, port or path)", h)
		}
		g.hosts = append(g.hosts, h)
	}
	for _, o := range a.CORSOrigins {
		o = strings.TrimSpace(o)
		if o == "*" {
			g.anyOrigin = true
			continue
		}
		norm, err := normalOrigin(o)
		if err != nil {
			return nil, err
		}
		g.origins[norm] = true
	}
	return g, nil
}

// IsLoopback reports whether a listen host (an IP address or a name) only
// reaches this machine: a loopback address or localhost. The empty host and
// 0.0.0.0 listen on every interface.
func IsLoopback(host string) bool {
	host = normalHost(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// normalHost lower-cases a host and removes IPv6 brackets and a final dot.
func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// normalOrigin checks a CORS origin (scheme://host[:port]) and returns it as
// browsers send it: lower case, without a final slash.
func normalOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("server: CORS origin %q: expected scheme://host[:port] such as https://example.com, or *", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// hostAllowed reports whether the server answers a request's Host header.
func (g *guard) hostAllowed(hostport string) bool {
	if !g.checkHost || hostport == "" {
		return true
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = normalHost(host)
	if _, err := netip.ParseAddr(host); err == nil {
		return true // an IP address cannot be re-pointed
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || host == g.listenHost {
		return true
	}
	for _, h := range g.hosts {
		if h == host || strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:]) {
			return true
		}
	}
	return false
}

func (g *guard) originAllowed(origin string) bool {
	return g.anyOrigin || g.origins[strings.ToLower(origin)]
}

// jsonContentType reports whether a Content-Type header says JSON in UTF-8.
func jsonContentType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8")
}

// middleware wraps the routes with, from the outside in: the request log,
// the Host check, CORS, and the JSON content type of POST bodies.
func (s *Server) middleware(next http.Handler) (http.Handler, error) {
	jsonPaths := map[string]bool{}
	for _, rt := range s.routeTable() {
		if method, path, _ := strings.Cut(rt.pattern, " "); method == http.MethodPost {
			jsonPaths[path] = true
		}
	}
	g, err := newGuard(s.cfg.Access, s.cfg.APIKey, jsonPaths)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		info := &requestInfo{}
		lw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		defer func() { s.logRequest(r, lw, info, time.Since(t0)) }()
		if err := g.check(lw, r); err != nil {
			writeErrorFor(lw, r, err)
			return
		}
		if s.draining.Load() {
			lw.Header().Set("Connection", "close") // the next request goes, through the load balancer, to another replica
		}
		if r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			lw.WriteHeader(http.StatusNoContent) // a preflight that check allowed
			return
		}
		next.ServeHTTP(lw, r)
	}), nil
}

// check applies the Host check, sets the CORS headers, and checks the
// content type of POST bodies. It returns the error to answer, if any.
func (g *guard) check(w http.ResponseWriter, r *http.Request) error {
	if !g.hostAllowed(r.Host) {
		return &APIError{Status: http.StatusForbidden, Type: "invalid_request_error", Code: "host_not_allowed",
			Message: fmt.Sprintf("this server does not answer the host name %q: it answers localhost, IP addresses and the names given with --allowed-host, so that other web sites cannot reach it by re-pointing their domain at this machine (DNS rebinding); start it with --allowed-host %s to accept this name", r.Host, hostOnly(r.Host))}
	}
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
	if origin != "" && g.originAllowed(origin) {
		h := w.Header()
		h.Add("Vary", "Origin")
		if g.anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		h.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate")
		if preflight {
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", apiMethods)
			allow := "Authorization, Content-Type"
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && validHeaderList(req) {
				allow = req
			}
			h.Set("Access-Control-Allow-Headers", allow)
			h.Set("Access-Control-Max-Age", "600")
		}
	} else if preflight {
		return &APIError{Status: http.StatusForbidden, Type: "invalid_request_error", Code: "origin_not_allowed",
			Message: fmt.Sprintf("cross-origin requests from %s are not allowed: start the server with --cors-origin %s to let that site's pages call the API", origin, origin)}
	}
	// Ollama's clients and documented curl calls post JSON without saying
	// so; a browser always sends an Origin with a cross-site POST, so an
	// /api/ request without one (or from an allowed origin) cannot be a web
	// page's forged form.
	ollamaOK := isOllamaPath(r.URL.Path) && (origin == "" || g.originAllowed(origin))
	if r.Method == http.MethodPost && g.jsonPaths[r.URL.Path] && !ollamaOK && !jsonContentType(r.Header.Get("Content-Type")) {
		got := r.Header.Get("Content-Type")
		if got == "" {
			got = "none"
		} else {
			got = fmt.Sprintf("%q", got)
		}
		return &APIError{Status: http.StatusUnsupportedMediaType, Type: "invalid_request_error", Code: "unsupported_media_type",
			Message: fmt.Sprintf("the request body must be JSON sent with the header \"Content-Type: application/json\", got %s (with curl: -H 'Content-Type: application/json'); other types are refused so that web pages cannot post to this server", got)}
	}
	return nil
}

// hostOnly is the host of a Host header, without the port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// validHeaderList reports whether s is a comma-separated list of header names.
func validHeaderList(s string) bool {
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return false
		}
		for _, c := range f {
			if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// requestInfo collects what a handler knows about a request for its log line.
type requestInfo struct {
	model     string
	tokensIn  int
	tokensOut int
	counted   bool
}

type requestInfoKey struct{}

// noteTokens records the model and the token counts of a request for its log
// line: tokens in (prompt) and out (generated), added over the request's
// generations.
func noteTokens(ctx context.Context, model string, in, out int) {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.model = model
		info.tokensIn += in
		info.tokensOut += out
		info.counted = true
	}
}

// logRequest writes the request's log line.
func (s *Server) logRequest(r *http.Request, w *statusWriter, info *requestInfo, d time.Duration) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Duration("duration", d), slog.String("remote", r.RemoteAddr),
	}
	if info.counted {
		attrs = append(attrs, slog.String("model", info.model), slog.Int("tokens_in", info.tokensIn), slog.Int("tokens_out", info.tokensOut))
	}
	s.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}
