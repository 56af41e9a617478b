package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// DefaultEndpoint is the Hugging Face hub, overridden by $HF_ENDPOINT.
const DefaultEndpoint = "https://huggingface.co"

// maxTreePages bounds the pages of a tree listing followed (1,000 entries each
// on the real hub).
const maxTreePages = 1000

// maxTreeBytes bounds one page of a tree listing.
const maxTreeBytes = 64 << 20

// Hub is a client of the Hugging Face hub API (or of a mirror speaking it).
type Hub struct {
	// Endpoint is the base URL, such as https://huggingface.co.
	Endpoint string
	// Token is sent as "Authorization: Bearer TOKEN" to Endpoint's host and
	// never to a host a request is redirected to.
	Token string
	// Client does the requests; its CheckRedirect is replaced (see NewHub).
	Client *http.Client
	// UserAgent is sent with every request.
	UserAgent string
}

// NewHub returns a client of the hub at endpoint ("" means DefaultEndpoint)
// sending token ("" means none).
func NewHub(endpoint, token string) *Hub {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	h := &Hub{Endpoint: strings.TrimRight(endpoint, "/"), Token: token, UserAgent: "glassbox"}
	h.Client = &http.Client{
		// No overall timeout: a large download takes hours. Requests carry a
		// context instead, and the transport bounds the wait for headers.
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
		},
		CheckRedirect: h.checkRedirect,
	}
	return h
}

// HubFromEnv returns NewHub($HF_ENDPOINT, $HF_TOKEN).
func HubFromEnv() *Hub {
	return NewHub(os.Getenv("HF_ENDPOINT"), os.Getenv("HF_TOKEN"))
}

// checkRedirect drops the Authorization header when a redirect leaves the host
// of the first request (huggingface_hub does the same): the hub redirects file
// downloads to a CDN that must not see the user's token. Go alone would
// forward it to a subdomain, or to the same host name on another port.
func (h *Hub) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !strings.EqualFold(req.URL.Host, via[0].URL.Host) || req.URL.Scheme != via[0].URL.Scheme && via[0].URL.Scheme == "https" {
		req.Header.Del("Authorization")
	}
	return nil
}

// newRequest builds a request to the hub, with the token when url is on the
// endpoint's host.
func (h *Hub) newRequest(ctx context.Context, method, rawURL string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if h.UserAgent != "" {
		req.Header.Set("User-Agent", h.UserAgent)
	}
	if h.Token != "" {
		if eu, err := url.Parse(h.Endpoint); err == nil && strings.EqualFold(eu.Host, req.URL.Host) {
			req.Header.Set("Authorization", "Bearer "+h.Token)
		}
	}
	return req, nil
}

func (h *Hub) client() *http.Client {
	if h.Client == nil {
		return NewHub(h.Endpoint, h.Token).Client
	}
	return h.Client
}

// TreeEntry is one entry of a repository tree listing.
type TreeEntry struct {
	Type string `json:"type"` // "file" or "directory"
	Path string `json:"path"`
	Size int64  `json:"size"`
	// OID is the git object id: the SHA-1 of the git blob of a regular file,
	// or of the LFS pointer of an LFS file.
	OID string   `json:"oid"`
	LFS *LFSInfo `json:"lfs,omitempty"`
}

// LFSInfo describes a file stored with Git LFS.
type LFSInfo struct {
	OID  string `json:"oid"` // the SHA-256 of the file's content, in hex
	Size int64  `json:"size"`
}

var (
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	sha1RE   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// DecodeTree decodes and checks one page of a tree listing: a JSON array of
// entries whose file sizes are not negative and whose hashes are hex digests.
func DecodeTree(data []byte) ([]TreeEntry, error) {
	var entries []TreeEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("tree listing: expected a JSON array of {type, path, size, oid, lfs}: %w", err)
	}
	for i := range entries {
		e := &entries[i]
		switch {
		case e.Type != "file" && e.Type != "directory":
			return nil, fmt.Errorf("tree listing: entry %d (%q): type %q, expected \"file\" or \"directory\"", i, e.Path, e.Type)
		case e.Path == "":
			return nil, fmt.Errorf("tree listing: entry %d has no path", i)
		case e.Size < 0:
			return nil, fmt.Errorf("tree listing: entry %q: negative size %d", e.Path, e.Size)
		}
		if e.Type != "file" {
			continue
		}
		e.OID = strings.ToLower(e.OID)
		if e.LFS != nil {
			e.LFS.OID = strings.ToLower(e.LFS.OID)
			if !sha256RE.MatchString(e.LFS.OID) {
				return nil, fmt.Errorf("tree listing: entry %q: LFS oid %q, expected 64 hex digits (a SHA-256)", e.Path, e.LFS.OID)
			}
			if e.LFS.Size < 0 {
				return nil, fmt.Errorf("tree listing: entry %q: negative LFS size %d", e.Path, e.LFS.Size)
			}
			if e.LFS.Size != e.Size {
				return nil, fmt.Errorf("tree listing: entry %q: size %d differs from its LFS size %d", e.Path, e.Size, e.LFS.Size)
			}
		} else if !sha1RE.MatchString(e.OID) {
			return nil, fmt.Errorf("tree listing: entry %q: oid %q, expected 40 hex digits (a git SHA-1)", e.Path, e.OID)
		}
	}
	return entries, nil
}

// HTTPError is an unexpected answer of the hub.
type HTTPError struct {
	URL        string
	StatusCode int
	// Code and Message are the hub's X-Error-Code and X-Error-Message, if any.
	Code, Message string
	// Hint says what the user can do.
	Hint string
}

// Error describes the failure and what to do about it.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// ErrAccessDenied matches (errors.Is) the error of a 401 or 403 answer.
var ErrAccessDenied = errors.New("access denied")

// ErrNotFound matches (errors.Is) the error of a 404 answer.
var ErrNotFound = errors.New("not found")

// Is makes errors.Is(err, ErrAccessDenied) and errors.Is(err, ErrNotFound) work.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

// temporary reports whether retrying the request may succeed.
func (e *HTTPError) temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// statusError builds the error for an unexpected response, explaining 401,
// 403 and 404 in terms of repo (OWNER/REPO).
func (h *Hub) statusError(resp *http.Response, repo string) error {
	e := &HTTPError{
		URL:        resp.Request.URL.Redacted(),
		StatusCode: resp.StatusCode,
		Code:       resp.Header.Get("X-Error-Code"),
		Message:    resp.Header.Get("X-Error-Message"),
	}
	page := h.Endpoint + "/" + repo
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		if h.Token == "" {
			e.Hint = fmt.Sprintf("the repository %s is gated or private: accept its license at %s while logged in, "+
				"then set HF_TOKEN to an access token with read permission (https://huggingface.co/settings/tokens)", repo, page)
		} else {
			e.Hint = fmt.Sprintf("the repository %s is gated or private and the token in HF_TOKEN was refused: "+
				"accept its license at %s with the account that owns the token, and check the token has read permission", repo, page)
		}
	case http.StatusNotFound:
		if e.Code == "RepoNotFound" || e.Code == "" {
			e.Hint = fmt.Sprintf("repository %s not found (check the name at %s; a private repository also needs HF_TOKEN)", repo, page)
		}
		if e.Code == "RevisionNotFound" {
			e.Hint = fmt.Sprintf("revision not found in %s", repo)
		}
	case http.StatusTooManyRequests:
		e.Hint = "rate limited by the hub: wait and run the pull again (setting HF_TOKEN raises the limit)"
	}
	return e
}

// Tree lists every file of repo (OWNER/REPO) at revision ("" means "main"),
// following the listing's pagination.
// A listing that sends nothing for DefaultIdleTimeout fails with a
// *StallError.
func (h *Hub) Tree(ctx context.Context, repo, revision string) ([]TreeEntry, error) {
	return h.tree(ctx, repo, revision, DefaultIdleTimeout)
}

// tree is Tree with an idle timeout (<= 0 for none).
func (h *Hub) tree(ctx context.Context, repo, revision string, idle time.Duration) ([]TreeEntry, error) {
	if revision == "" {
		revision = "main"
	}
	next := fmt.Sprintf("%s/api/models/%s/tree/%s?recursive=true", h.Endpoint, repo, url.PathEscape(revision))
	var all []TreeEntry
	for page := 0; next != ""; page++ {
		if page >= maxTreePages {
			return nil, fmt.Errorf("list files of %s: more than %d pages", repo, maxTreePages)
		}
		entries, link, err := h.treePage(ctx, repo, next, idle)
		if err != nil {
			return nil, err
		}
		all = append(all, entries...)
		next = link
	}
	return all, nil
}

func (h *Hub) treePage(ctx context.Context, repo, pageURL string, idle time.Duration) (_ []TreeEntry, _ string, err error) {
	ctx, body, done := idleTimeout(ctx, idle)
	defer func() {
		if e := done(err); e != err {
			err = fmt.Errorf("list files of %s: %w", repo, e)
		}
	}()
	req, err := h.newRequest(ctx, http.MethodGet, pageURL)
	if err != nil {
		return nil, "", fmt.Errorf("list files of %s: %w", repo, err)
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("list files of %s: %w", repo, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("list files of %s: %w", repo, h.statusError(resp, repo))
	}
	data, err := io.ReadAll(io.LimitReader(body(resp.Body), maxTreeBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("list files of %s: %w", repo, err)
	}
	if len(data) > maxTreeBytes {
		return nil, "", fmt.Errorf("list files of %s: the listing exceeds %d bytes", repo, maxTreeBytes)
	}
	entries, err := DecodeTree(data)
	if err != nil {
		return nil, "", fmt.Errorf("list files of %s: %w", repo, err)
	}
	next := nextLink(resp.Header.Values("Link"))
	if next != "" {
		u, err := resp.Request.URL.Parse(next)
		if err != nil {
			return nil, "", fmt.Errorf("list files of %s: bad Link header %q: %w", repo, next, err)
		}
		next = u.String()
	}
	return entries, next, nil
}

// nextLink returns the URL of the rel="next" link of RFC 8288 Link headers.
func nextLink(headers []string) string {
	for _, h := range headers {
		for _, link := range strings.Split(h, ",") {
			parts := strings.Split(link, ";")
			target := strings.TrimSpace(parts[0])
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range parts[1:] {
				p = strings.TrimSpace(p)
				if strings.EqualFold(p, `rel="next"`) || strings.EqualFold(p, "rel=next") {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// FileURL returns the download URL of a file of repo at revision.
func (h *Hub) FileURL(repo, revision, file string) string {
	if revision == "" {
		revision = "main"
	}
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", h.Endpoint, repo, url.PathEscape(revision), strings.Join(segs, "/"))
}
