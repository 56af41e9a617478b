package store

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ChecksumError reports downloaded data whose hash is not the one the hub
// published. The data was deleted; the next pull downloads the file again
// from the start.
type ChecksumError struct {
	File      string
	Want, Got string
}

// Error explains the mismatch.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: checksum mismatch: the hub publishes %s but the downloaded data hashes to %s; "+
		"the data was deleted; run the pull again to download it afresh", e.File, e.Want, e.Got)
}

// DefaultIdleTimeout is how long a download may receive nothing before it
// is abandoned and resumed (see PullOptions.IdleTimeout).
const DefaultIdleTimeout = 30 * time.Second

// StallError reports a server that sent nothing for the idle timeout. Pull
// resumes the download, as after any network failure.
type StallError struct {
	// Idle is the idle timeout.
	Idle time.Duration
}

// Error says how long nothing came.
func (e *StallError) Error() string {
	return fmt.Sprintf("the server sent no data for %s (idle timeout)", e.Idle)
}

// lockPath returns the lock file for a kind of object ("blob", "model") and key.
func (s *Store) lockPath(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.lockDir(), kind+"-"+hex.EncodeToString(sum[:12])+".lock")
}

// fetch is one file to download into the store.
type fetch struct {
	hub      *Hub
	repo     string
	revision string
	entry    TreeEntry
	retries  int
	idle     time.Duration // idle timeout of a response; <= 0 for none
	progress *reporter
}

// fetchBlob downloads a file of a repository into the blob store unless it is
// already there, and returns its SHA-256. The download goes to a .partial file
// that survives interruptions and crashes and is resumed with an HTTP Range
// request; the hash is computed while streaming (over the existing partial
// data first) and checked against the hub's: the LFS SHA-256, or for a file
// not in LFS the git blob SHA-1. Only verified data is renamed into place.
func (s *Store) fetchBlob(ctx context.Context, f fetch) (string, error) {
	e := f.entry
	key := "git-" + e.OID
	if e.LFS != nil {
		key = "sha256-" + e.LFS.OID
		// Already in the store: nothing to do.
		if st, err := os.Stat(s.BlobPath(e.LFS.OID)); err == nil && st.Size() == e.Size {
			return e.LFS.OID, nil
		}
	}
	unlock, err := lockFile(ctx, s.lockPath("blob", key), func() {
		f.progress.Note("%s: waiting for another glassbox pull of the same file", e.Path)
	})
	if err != nil {
		return "", fmt.Errorf("download %s: %w", e.Path, err)
	}
	defer unlock()
	if e.LFS != nil {
		// Another pull may have finished it while we waited.
		if st, err := os.Stat(s.BlobPath(e.LFS.OID)); err == nil && st.Size() == e.Size {
			return e.LFS.OID, nil
		}
	}
	partial := filepath.Join(s.blobDir(), key+".partial")
	out, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", e.Path, err)
	}
	defer func() {
		if out != nil {
			out.Close()
		}
	}()
	d := &downloader{fetch: f, out: out}
	if err := d.resume(); err != nil {
		return "", fmt.Errorf("download %s: %w", e.Path, err)
	}
	f.progress.Start(e.Path, e.Size, d.have)
	url := f.hub.FileURL(f.repo, f.revision, e.Path)
	for attempt := 0; d.have < e.Size; attempt++ {
		err := d.get(ctx, url)
		if err == nil {
			continue
		}
		var he *HTTPError
		permanent := errors.As(err, &he) && !he.temporary() || ctx.Err() != nil || errors.Is(err, errPermanent)
		if permanent || attempt >= f.retries {
			f.progress.Finish()
			if d.have > 0 && !permanent {
				return "", fmt.Errorf("download %s: interrupted with %s of %s saved: %w (run the pull again to resume)",
					e.Path, FormatBytes(d.have), FormatBytes(e.Size), err)
			}
			return "", fmt.Errorf("download %s: %w", e.Path, err)
		}
		// Back off before resuming: 1s, 2s, 4s ... at most 30s.
		wait := min(time.Second<<attempt, 30*time.Second)
		if f.retries > 0 && testBackoff > 0 {
			wait = testBackoff
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("download %s: %w", e.Path, ctx.Err())
		case <-time.After(wait):
		}
	}
	f.progress.Finish()
	if d.have != e.Size {
		return "", fmt.Errorf("download %s: got %d bytes, the hub lists %d", e.Path, d.have, e.Size)
	}
	got256 := hex.EncodeToString(d.sha.Sum(nil))
	want, got := "", ""
	if e.LFS != nil {
		want, got = "sha256:"+e.LFS.OID, "sha256:"+got256
	} else {
		want, got = "git-sha1:"+e.OID, "git-sha1:"+hex.EncodeToString(d.git.Sum(nil))
	}
	if want != got {
		out.Close()
		out = nil
		if err := os.Remove(partial); err != nil {
			return "", fmt.Errorf("%w (and removing the rejected data failed: %v)", &ChecksumError{File: e.Path, Want: want, Got: got}, err)
		}
		return "", &ChecksumError{File: e.Path, Want: want, Got: got}
	}
	if err := out.Sync(); err != nil {
		return "", fmt.Errorf("download %s: sync: %w", e.Path, err)
	}
	if err := out.Close(); err != nil {
		out = nil
		return "", fmt.Errorf("download %s: %w", e.Path, err)
	}
	out = nil
	if err := os.Rename(partial, s.BlobPath(got256)); err != nil {
		return "", fmt.Errorf("download %s: %w", e.Path, err)
	}
	syncDir(s.blobDir())
	return got256, nil
}

// testBackoff, when set by tests, replaces the retry back-off.
var testBackoff time.Duration

// errPermanent marks errors that retrying cannot fix.
var errPermanent = errors.New("permanent failure")

// downloader appends to a partial file while hashing.
type downloader struct {
	fetch
	out  *os.File
	have int64 // bytes in the partial file
	sha  hash.Hash
	git  hash.Hash // git blob SHA-1, for files not in LFS
}

// reset empties the partial file and the hashes.
func (d *downloader) reset() error {
	if err := d.out.Truncate(0); err != nil {
		return err
	}
	if _, err := d.out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	d.progress.Add(-d.have)
	d.have = 0
	return d.resetHashes()
}

// resume hashes the data already in the partial file, or empties it when it
// is longer than the file should be.
func (d *downloader) resume() error {
	st, err := d.out.Stat()
	if err != nil {
		return err
	}
	if err := d.resetHashes(); err != nil {
		return err
	}
	if st.Size() > d.entry.Size {
		return d.reset()
	}
	if st.Size() > 0 {
		n, err := io.Copy(io.MultiWriter(d.sha, d.git), io.NewSectionReader(d.out, 0, st.Size()))
		if err != nil {
			return fmt.Errorf("hash the partial download: %w", err)
		}
		d.have = n
	}
	_, err = d.out.Seek(d.have, io.SeekStart)
	return err
}

func (d *downloader) resetHashes() error {
	d.sha = sha256.New()
	d.git = sha1.New()
	_, err := fmt.Fprintf(d.git, "blob %d\x00", d.entry.Size)
	return err
}

// idleReader reads a response body, restarting an idle timer whenever data
// comes.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.idle)
	}
	return n, err
}

// idleTimeout bounds the silence of one HTTP exchange: a request made with
// the returned context is cancelled when nothing came for idle (headers
// included), each read of a body wrapped by body restarting the wait; done
// turns the resulting error into a *StallError and releases the timer.
// idle <= 0 means no timeout.
func idleTimeout(ctx context.Context, idle time.Duration) (rctx context.Context, body func(io.Reader) io.Reader, done func(error) error) {
	if idle <= 0 {
		return ctx, func(r io.Reader) io.Reader { return r }, func(err error) error { return err }
	}
	rctx, cancel := context.WithCancelCause(ctx)
	stall := &StallError{Idle: idle}
	timer := time.AfterFunc(idle, func() { cancel(stall) })
	body = func(r io.Reader) io.Reader { return &idleReader{r: r, timer: timer, idle: idle} }
	done = func(err error) error {
		timer.Stop()
		if err != nil && errors.Is(context.Cause(rctx), stall) {
			err = stall
		}
		cancel(nil)
		return err
	}
	return rctx, body, done
}

// get requests the bytes from d.have on and appends them. A response that
// sends nothing (headers included) for d.idle is abandoned with a
// *StallError.
func (d *downloader) get(ctx context.Context, url string) (err error) {
	ctx, body, done := idleTimeout(ctx, d.idle)
	defer func() { err = done(err) }()
	req, err := d.hub.newRequest(ctx, http.MethodGet, url)
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	if d.have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", d.have))
	}
	resp, err := d.hub.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if d.have > 0 {
			// The server ignored the range: start again.
			if err := d.reset(); err != nil {
				return fmt.Errorf("%w: %v", errPermanent, err)
			}
		}
	case http.StatusPartialContent:
		start, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return err
		}
		if start != d.have {
			return fmt.Errorf("asked for bytes from %d, the server sent from %d", d.have, start)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// The partial data does not fit the file any more: start again.
		if err := d.reset(); err != nil {
			return fmt.Errorf("%w: %v", errPermanent, err)
		}
		return errors.New("the server refused to resume (HTTP 416): restarting from zero")
	default:
		return d.hub.statusError(resp, d.repo)
	}
	want := d.entry.Size - d.have
	n, err := io.Copy(io.MultiWriter(d.out, d.sha, d.git, d.progress), io.LimitReader(body(resp.Body), want))
	d.have += n
	if err != nil {
		return err
	}
	if n < want {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// parseContentRange returns the first byte of "bytes START-END/TOTAL".
func parseContentRange(s string) (int64, error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, fmt.Errorf("206 answer with Content-Range %q, expected \"bytes START-END/TOTAL\"", s)
	}
	startStr, _, ok := strings.Cut(rest, "-")
	start, err := strconv.ParseInt(startStr, 10, 64)
	if !ok || err != nil || start < 0 {
		return 0, fmt.Errorf("206 answer with Content-Range %q, expected \"bytes START-END/TOTAL\"", s)
	}
	return start, nil
}
