package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"glassbox/gguf"
)

// DefaultRetries is how many times a download resumes by itself after a
// network failure before Pull gives up (the partial data is kept either way).
const DefaultRetries = 5

// PullOptions tunes Pull.
type PullOptions struct {
	// Hub is the hub client; nil means HubFromEnv() ($HF_ENDPOINT, $HF_TOKEN).
	Hub *Hub
	// Revision is the branch, tag or commit; "" means "main".
	Revision string
	// Progress is told how the pull advances (see ProgressEvent); nil
	// reports nothing.
	Progress Progress
	// Retries is how many times a broken download resumes by itself:
	// 0 means DefaultRetries, a negative value none.
	Retries int
	// IdleTimeout is how long a download may receive nothing before it is
	// abandoned and resumed like a broken one: 0 means DefaultIdleTimeout,
	// a negative value no timeout.
	IdleTimeout time.Duration
}

// Pull downloads the model named by ref (hf.co/OWNER/REPO[:QUANT|/FILE.gguf])
// into the store, unless the store already holds the same files, and returns
// its manifest. Concurrent pulls of the same model, in this process or
// others, wait for each other and reuse the result.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Manifest, error) {
	r, err := ParseRef(ref, true)
	if err != nil {
		return nil, err
	}
	hub := opts.Hub
	if hub == nil {
		hub = HubFromEnv()
	}
	rev := opts.Revision
	if rev == "" {
		rev = "main"
	}
	retries := opts.Retries
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	idle := opts.IdleTimeout
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	progress := newReporter(opts.Progress)
	unlock, err := lockFile(ctx, s.lockPath("model", r.Name()), func() {
		progress.Note("%s: waiting for another glassbox pull of the same model", r.Name())
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	defer unlock()

	entries, err := hub.tree(ctx, r.RepoID(), rev, idle)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	cand, err := Select(r.RepoID(), entries, r)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	old, _ := s.readManifest(r)
	if old != nil && sameFiles(old, cand) {
		if _, err := s.Path(old); err == nil {
			return old, nil
		}
	}

	m := &Manifest{
		Version: ManifestVersion,
		Name:    r.Name(),
		Source:  Source{Endpoint: hub.Endpoint, Repo: r.RepoID(), Revision: rev},
	}
	shas := make([]string, len(cand.Files))
	for i, e := range cand.Files {
		sha, err := s.fetchBlob(ctx, fetch{hub: hub, repo: r.RepoID(), revision: rev, entry: e, retries: retries, idle: idle, progress: progress})
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", r, err)
		}
		shas[i] = sha
		m.Files = append(m.Files, SourceFile{Path: e.Path, URL: hub.FileURL(r.RepoID(), rev, e.Path), SHA256: sha, Size: e.Size})
	}
	// Data rejected from here on (parts that do not merge, a file that is
	// not a GGUF model) is deleted, unless another model uses it: no
	// manifest would refer to it, so list would not show it nor rm remove it.
	reject := func(err error) (*Manifest, error) {
		for _, sha := range append(shas, m.SHA256) {
			if sha == "" {
				continue
			}
			if rerr := s.removeBlobIfUnused(sha); rerr != nil {
				return nil, fmt.Errorf("pull %s: %w (and deleting the rejected data failed: %v)", r, err, rerr)
			}
		}
		return nil, fmt.Errorf("pull %s: %w; the downloaded data was deleted", r, err)
	}
	if cand.Split() {
		progress.Note("merging %d parts into one GGUF file", len(shas))
		m.SHA256, m.Size, err = s.mergeIntoStore(shas)
		if err != nil {
			return reject(err)
		}
	} else {
		m.SHA256, m.Size = shas[0], cand.Files[0].Size
	}
	// Refuse to record a file that is not a GGUF model.
	if f, err := gguf.Open(s.BlobPath(m.SHA256)); err != nil {
		return reject(fmt.Errorf("%s is not a usable GGUF file: %w", cand.Name(), err))
	} else {
		f.Close()
	}
	m.Pulled = time.Now().UTC().Truncate(time.Second)
	if err := s.writeManifest(r, m); err != nil {
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	// The parts of a merged model and the blob of a replaced version are no
	// longer needed.
	if cand.Split() {
		for _, sha := range shas {
			if err := s.removeBlobIfUnused(sha); err != nil {
				return nil, fmt.Errorf("pull %s: %w", r, err)
			}
		}
	}
	if old != nil && old.SHA256 != m.SHA256 {
		if err := s.removeBlobIfUnused(old.SHA256); err != nil {
			return nil, fmt.Errorf("pull %s: %w", r, err)
		}
	}
	return m, nil
}

// sameFiles reports whether a manifest was made from the files of cand.
func sameFiles(m *Manifest, cand Candidate) bool {
	if len(m.Files) != len(cand.Files) {
		return false
	}
	for i, e := range cand.Files {
		f := m.Files[i]
		if f.Path != e.Path || f.Size != e.Size || e.LFS == nil || f.SHA256 != e.LFS.OID {
			return false
		}
	}
	return true
}

// ResolveOptions tunes ResolveModel.
type ResolveOptions struct {
	// Store is the model store; nil means Open("") ($GLASSBOX_HOME).
	Store *Store
	// Pull tunes the pull of an hf.co reference not yet in the store.
	Pull PullOptions
}

// ResolveModel returns the path of the model file named by name:
//   - the path of an existing file, returned as is (run in place, no copy);
//   - a store name, hf.co/OWNER/REPO:TAG or OWNER/REPO[:TAG];
//   - an hf.co/OWNER/REPO[:QUANT|/FILE.gguf] reference, pulled first when
//     the store does not hold it yet.
func ResolveModel(ctx context.Context, name string, opts ResolveOptions) (string, error) {
	if name == "" {
		return "", errors.New("no model given: expected a GGUF file path, a store name (see glassbox list) or hf.co/OWNER/REPO:QUANT")
	}
	if st, err := os.Stat(name); err == nil {
		if st.IsDir() {
			return "", fmt.Errorf("model %s is a folder, expected a GGUF file or a llama2.c checkpoint", name)
		}
		return name, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("model %s: %w", name, err)
	}
	s := opts.Store
	if s == nil {
		var err error
		if s, err = Open(""); err != nil {
			return "", err
		}
	}
	if IsHFRef(name) {
		r, err := ParseRef(name, true)
		if err != nil {
			return "", err
		}
		if m, err := s.Lookup(r.Name()); err == nil {
			if p, err := s.Path(m); err == nil {
				return p, nil
			}
		}
		m, err := s.Pull(ctx, name, opts.Pull)
		if err != nil {
			return "", err
		}
		return s.Path(m)
	}
	r, perr := ParseRef(name, false)
	if perr != nil && strings.Contains(name, "/") {
		return "", fmt.Errorf("model %s: no such file, and not a model name (%v)", name, perr)
	}
	m, err := s.Lookup(name)
	if errors.Is(err, ErrModelNotFound) && perr != nil { // a bare word
		return "", fmt.Errorf("no file named %s, and %w", name, err)
	}
	if errors.Is(err, ErrModelNotFound) {
		return "", fmt.Errorf("model %s: no such file, and no model of that name in the store (see glassbox list); "+
			"to download it from Hugging Face: glassbox pull %s", name, r)
	}
	if err != nil {
		return "", err
	}
	return s.Path(m)
}
