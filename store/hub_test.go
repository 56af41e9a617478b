package store

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/internal/fixtures"
)

// fakeFile is a file of a fake repository.
type fakeFile struct {
	data []byte
	lfs  bool
}

// fakeRepo is a repository of the fake hub.
type fakeRepo struct {
	files map[string]fakeFile
	gated bool // requires "Authorization: Bearer " + fakeToken
}

const fakeToken = "hf_secret"

// logged is one request seen by a fake server.
type logged struct {
	Method, Path, Auth, Range string
}

// fakeHub serves the Hugging Face routes the store uses: the tree listing
// (paginated with Link headers) and resolve URLs that redirect (302) to a
// second server, the CDN, on another port, which serves the bytes with Range
// support. Both log every request.
type fakeHub struct {
	t     testing.TB
	hub   *httptest.Server
	cdn   *httptest.Server
	mu    sync.Mutex
	repos map[string]*fakeRepo
	log   []logged // hub requests
	cdnLg []logged // CDN requests
	// pageSize > 0 splits tree listings into pages.
	pageSize int
	// cutAfter > 0 closes the connection after that many body bytes, for the
	// next cuts CDN responses.
	cutAfter int64
	cuts     int
	// stallAfter > 0 stops sending after that many body bytes (keeping the
	// connection open until the client gives up), for the next stalls CDN
	// responses; stallAfter < 0 stalls before the headers.
	stallAfter int64
	stalls     int
	// treeStall makes tree listings send their headers and then nothing.
	treeStall bool
	// corrupt flips a byte of every file served by the CDN.
	corrupt bool
	// delay slows the CDN down, per response.
	delay time.Duration
	// blobs maps a SHA-256 to content for the CDN.
	blobs map[string][]byte
}

func newFakeHub(t testing.TB) *fakeHub {
	t.Helper()
	f := &fakeHub{t: t, repos: map[string]*fakeRepo{}, blobs: map[string][]byte{}}
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	// Two muxes: the patterns overlap (/api/models/... could be an owner).
	api, files := http.NewServeMux(), http.NewServeMux()
	api.HandleFunc("GET /api/models/{owner}/{repo}/tree/{rev}", f.serveTree)
	files.HandleFunc("/{owner}/{repo}/resolve/{rev}/{path...}", f.serveResolve)
	f.hub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.log = append(f.log, logged{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Range")})
		f.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api.ServeHTTP(w, r)
		} else {
			files.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() {
		f.hub.Close()
		f.cdn.Close()
	})
	return f
}

// addRepo adds a repository with the given files.
func (f *fakeHub) addRepo(id string, gated bool, files map[string]fakeFile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repos[id] = &fakeRepo{files: files, gated: gated}
	for _, ff := range files {
		sum := sha256.Sum256(ff.data)
		f.blobs[hex.EncodeToString(sum[:])] = ff.data
	}
}

// fixtureFile reads a fixture GGUF as an LFS file.
func fixtureFile(t *testing.T, name string) fakeFile {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, "gguf", name))
	if err != nil {
		t.Fatal(err)
	}
	return fakeFile{data: data, lfs: true}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func gitOID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// authorize answers 401 (no token) or 403 (wrong token) for a gated repo, as
// the hub does, and reports whether the request may go on.
func (f *fakeHub) authorize(w http.ResponseWriter, r *http.Request, repo *fakeRepo) bool {
	if !repo.gated {
		return true
	}
	switch r.Header.Get("Authorization") {
	case "Bearer " + fakeToken:
		return true
	case "":
		w.Header().Set("X-Error-Code", "GatedRepo")
		w.Header().Set("X-Error-Message", "Access to model is restricted. You must have access to it and be authenticated to access it. Please log in.")
		http.Error(w, `{"error":"Access restricted"}`, http.StatusUnauthorized)
	default:
		w.Header().Set("X-Error-Code", "GatedRepo")
		http.Error(w, `{"error":"Access to this model is restricted"}`, http.StatusForbidden)
	}
	return false
}

func (f *fakeHub) repo(w http.ResponseWriter, r *http.Request) (string, *fakeRepo) {
	id := r.PathValue("owner") + "/" + r.PathValue("repo")
	f.mu.Lock()
	repo := f.repos[id]
	f.mu.Unlock()
	if repo == nil {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
		return id, nil
	}
	if !f.authorize(w, r, repo) {
		return id, nil
	}
	return id, repo
}

func (f *fakeHub) serveTree(w http.ResponseWriter, r *http.Request) {
	_, repo := f.repo(w, r)
	if repo == nil {
		return
	}
	f.mu.Lock()
	stall := f.treeStall
	f.mu.Unlock()
	if stall {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	if r.PathValue("rev") != "main" {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, "Invalid rev id", http.StatusNotFound)
		return
	}
	type lfs struct {
		OID         string `json:"oid"`
		Size        int64  `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type entry struct {
		Type string `json:"type"`
		OID  string `json:"oid"`
		Size int64  `json:"size"`
		Path string `json:"path"`
		LFS  *lfs   `json:"lfs,omitempty"`
	}
	var paths []string
	for p := range repo.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var all []entry
	dirs := map[string]bool{}
	for _, p := range paths {
		if i := strings.LastIndexByte(p, '/'); i > 0 && !dirs[p[:i]] {
			dirs[p[:i]] = true
			all = append(all, entry{Type: "directory", OID: strings.Repeat("d", 40), Path: p[:i]})
		}
		ff := repo.files[p]
		e := entry{Type: "file", Path: p, Size: int64(len(ff.data)), OID: gitOID(ff.data)}
		if ff.lfs {
			e.OID = strings.Repeat("a", 40) // the pointer's oid
			e.LFS = &lfs{OID: sha256Hex(ff.data), Size: int64(len(ff.data)), PointerSize: 134}
		}
		all = append(all, e)
	}
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		start, _ = strconv.Atoi(c)
	}
	end := len(all)
	if f.pageSize > 0 && start+f.pageSize < len(all) {
		end = start + f.pageSize
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?recursive=true&cursor=%d>; rel="next"`, f.hub.URL, r.URL.Path, end))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(all[min(start, len(all)):end])
}

func (f *fakeHub) serveResolve(w http.ResponseWriter, r *http.Request) {
	_, repo := f.repo(w, r)
	if repo == nil {
		return
	}
	ff, ok := repo.files[r.PathValue("path")]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	sha := sha256Hex(ff.data)
	w.Header().Set("X-Repo-Commit", strings.Repeat("c", 40))
	if ff.lfs {
		w.Header().Set("X-Linked-Etag", `"`+sha+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(ff.data)))
		w.Header().Set("ETag", `"`+gitOID(ff.data)+`"`)
		w.Header().Set("Location", f.cdn.URL+"/repos/"+sha+"?X-Amz-Signature=abc")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitOID(ff.data)+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(ff.data))
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.cdnLg = append(f.cdnLg, logged{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Range")})
	data := f.blobs[strings.TrimPrefix(r.URL.Path, "/repos/")]
	cut := int64(0)
	if f.cuts > 0 && f.cutAfter > 0 {
		cut = f.cutAfter
		f.cuts--
	}
	stall := int64(0)
	if f.stalls > 0 && f.stallAfter != 0 {
		stall = f.stallAfter
		f.stalls--
	}
	corrupt, delay := f.corrupt, f.delay
	f.mu.Unlock()
	if stall < 0 {
		<-r.Context().Done()
		return
	}
	if data == nil {
		http.NotFound(w, r)
		return
	}
	if corrupt {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	time.Sleep(delay)
	w.Header().Set("ETag", `"`+sha256Hex(data)+`"`)
	var out http.ResponseWriter = w
	if cut > 0 {
		out = &cutWriter{ResponseWriter: w, left: cut}
	}
	if stall > 0 {
		out = &stallWriter{ResponseWriter: w, left: stall, done: r.Context().Done()}
	}
	http.ServeContent(out, r, "", time.Time{}, bytes.NewReader(data))
}

// cutWriter closes the connection after left body bytes, like a network
// failure in the middle of a download.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= c.left {
		c.left -= int64(len(p))
		return c.ResponseWriter.Write(p)
	}
	n, _ := c.ResponseWriter.Write(p[:c.left])
	c.left = 0
	conn, buf, err := c.ResponseWriter.(http.Hijacker).Hijack()
	if err == nil {
		buf.Flush()
		conn.Close()
	}
	return n, errors.New("connection cut by the test")
}

// stallWriter sends left body bytes, then nothing until the client gives up,
// like a server that hangs in the middle of a download.
type stallWriter struct {
	http.ResponseWriter
	left int64
	done <-chan struct{}
}

func (c *stallWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= c.left {
		c.left -= int64(len(p))
		return c.ResponseWriter.Write(p)
	}
	n, _ := c.ResponseWriter.Write(p[:c.left])
	c.left = 0
	c.ResponseWriter.(http.Flusher).Flush()
	<-c.done
	return n, errors.New("stalled by the test")
}

// hubRequests returns the hub's log.
func (f *fakeHub) hubRequests() []logged {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]logged(nil), f.log...)
}

// cdnRequests returns the CDN's log.
func (f *fakeHub) cdnRequests() []logged {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]logged(nil), f.cdnLg...)
}

// client returns a Hub for the fake, with token.
func (f *fakeHub) client(token string) *Hub { return NewHub(f.hub.URL, token) }
