package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Store is a model store rooted at a folder.
type Store struct {
	// Root is the store folder ($GLASSBOX_HOME).
	Root string
}

// DefaultRoot returns $GLASSBOX_HOME, or ~/.glassbox.
func DefaultRoot() (string, error) {
	if d := os.Getenv("GLASSBOX_HOME"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("model store: no home folder (set GLASSBOX_HOME): %w", err)
	}
	return filepath.Join(home, ".glassbox"), nil
}

// Open returns the store rooted at root ("" means DefaultRoot), creating its
// folders.
func Open(root string) (*Store, error) {
	if root == "" {
		var err error
		if root, err = DefaultRoot(); err != nil {
			return nil, err
		}
	}
	s := &Store{Root: root}
	for _, d := range []string{s.blobDir(), s.manifestDir(), s.lockDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("model store: %w", err)
		}
	}
	return s, nil
}

func (s *Store) blobDir() string     { return filepath.Join(s.Root, "blobs") }
func (s *Store) manifestDir() string { return filepath.Join(s.Root, "manifests") }
func (s *Store) lockDir() string     { return filepath.Join(s.Root, "locks") }

// BlobPath returns the path of the blob with the given SHA-256 (hex).
func (s *Store) BlobPath(sha256 string) string {
	return filepath.Join(s.blobDir(), "sha256-"+sha256)
}

// ManifestVersion is the schema version written in manifests.
const ManifestVersion = 1

// Manifest describes a model of the store.
type Manifest struct {
	Version int `json:"version"`
	// Name is the store name, hf.co/OWNER/REPO:TAG.
	Name string `json:"name"`
	// SHA256 and Size identify the GGUF blob to run.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Source is where the model came from.
	Source Source `json:"source"`
	// Files are the files downloaded: one, or the parts merged into the blob.
	Files []SourceFile `json:"files"`
	// Pulled is when the model was pulled.
	Pulled time.Time `json:"pulled"`
}

// Source is the origin of a model.
type Source struct {
	Endpoint string `json:"endpoint"`
	Repo     string `json:"repo"`
	Revision string `json:"revision"`
}

// SourceFile is one file downloaded for a model.
type SourceFile struct {
	Path   string `json:"path"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// DecodeManifest decodes and checks a manifest.
func DecodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: expected a JSON object {version, name, sha256, size, source, files, pulled}: %w", err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("manifest: version %d, expected %d", m.Version, ManifestVersion)
	}
	if _, err := ParseRef(m.Name, true); err != nil {
		return nil, fmt.Errorf("manifest: name: %w", err)
	}
	if !sha256RE.MatchString(m.SHA256) {
		return nil, fmt.Errorf("manifest %s: sha256 %q, expected 64 lower-case hex digits", m.Name, m.SHA256)
	}
	if m.Size < 0 {
		return nil, fmt.Errorf("manifest %s: negative size %d", m.Name, m.Size)
	}
	if len(m.Files) == 0 {
		return nil, fmt.Errorf("manifest %s: no source files", m.Name)
	}
	for i, f := range m.Files {
		if f.Path == "" || f.Size < 0 || f.SHA256 != "" && !sha256RE.MatchString(f.SHA256) {
			return nil, fmt.Errorf("manifest %s: file %d (%q): expected a path, a size >= 0 and a hex SHA-256", m.Name, i, f.Path)
		}
	}
	return &m, nil
}

// manifestPath returns the path of the manifest of the model named by r.
func (s *Store) manifestPath(r Ref) string {
	return filepath.Join(s.manifestDir(), r.Host, r.Owner, r.Repo, r.Tag())
}

// writeManifest writes m atomically (temporary file, fsync, rename).
func (s *Store) writeManifest(r Ref, m *Manifest) error {
	p := s.manifestPath(r)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write manifest of %s: %w", m.Name, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write manifest of %s: %w", m.Name, err)
	}
	if err := writeFileAtomic(p, append(data, '\n')); err != nil {
		return fmt.Errorf("write manifest of %s: %w", m.Name, err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it to path.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir flushes a folder's entries (a rename) to disk, where supported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ErrModelNotFound matches (errors.Is) the error of a lookup of a name that
// is not in the store.
var ErrModelNotFound = errors.New("model not in the store")

// readManifest reads the manifest of the model named by r.
func (s *Store) readManifest(r Ref) (*Manifest, error) {
	p := s.manifestPath(r)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		// Names are matched case-insensitively, as the hub does.
		if alt := s.findFold(r); alt != "" {
			data, err = os.ReadFile(alt)
			p = alt
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (see glassbox list; pull it with glassbox pull %s)", r.Name(), ErrModelNotFound, r)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", r.Name(), err)
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, nil
}

// findFold returns the manifest path matching r case-insensitively, or "".
func (s *Store) findFold(r Ref) string {
	dir := s.manifestDir()
	for _, part := range []string{r.Host, r.Owner, r.Repo, r.Tag()} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return ""
		}
		found := ""
		for _, e := range ents {
			if strings.EqualFold(e.Name(), part) {
				found = filepath.Join(dir, e.Name())
				break
			}
		}
		if found == "" {
			return ""
		}
		dir = found
	}
	return dir
}

// Lookup returns the manifest of a model by name: hf.co/OWNER/REPO:TAG or
// OWNER/REPO:TAG (the host may be left out). Without a tag, the model tagged
// "latest" is taken, or the only model of the repository.
func (s *Store) Lookup(name string) (*Manifest, error) {
	r, err := ParseRef(name, false)
	if err != nil {
		if !strings.Contains(name, "/") { // a bare word: no store name has that form
			return nil, s.notInStore(name)
		}
		return nil, err
	}
	if r.Quant == "" && r.File == "" {
		if _, err := os.Stat(s.manifestPath(r)); err != nil {
			// No "latest": take the repository's only model.
			ms, _ := s.List()
			var found []*Manifest
			for _, m := range ms {
				mr, err := ParseRef(m.Name, true)
				if err == nil && strings.EqualFold(mr.RepoID(), r.RepoID()) {
					found = append(found, m)
				}
			}
			if len(found) == 1 {
				return found[0], nil
			}
			if len(found) > 1 {
				names := make([]string, len(found))
				for i, m := range found {
					names[i] = m.Name
				}
				return nil, fmt.Errorf("%s: several models of this repository are in the store, name one: %s", name, strings.Join(names, ", "))
			}
		}
	}
	return s.readManifest(r)
}

// Path returns the blob path of a model of the store, checking the blob is
// present and complete.
func (s *Store) Path(m *Manifest) (string, error) {
	p := s.BlobPath(m.SHA256)
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%s: its file is missing from the store (%w): pull it again", m.Name, err)
	}
	if st.Size() != m.Size {
		return "", fmt.Errorf("%s: its file %s has %d bytes, the manifest says %d: pull it again", m.Name, p, st.Size(), m.Size)
	}
	return p, nil
}

// List returns the manifests of the store, sorted by name. Unreadable
// manifests are skipped.
func (s *Store) List() ([]*Manifest, error) {
	var out []*Manifest
	err := filepath.WalkDir(s.manifestDir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if m, err := DecodeManifest(data); err == nil {
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a model from the store: its manifest, and its blob when no
// other model uses it. It returns the removed manifest.
func (s *Store) Remove(name string) (*Manifest, error) {
	m, err := s.Lookup(name)
	if err != nil {
		return nil, err
	}
	r, _ := ParseRef(m.Name, true)
	unlock, err := lockFile(context.Background(), s.lockPath("model", r.Name()), nil)
	if err != nil {
		return nil, err
	}
	defer unlock()
	p := s.manifestPath(r)
	if _, err := os.Stat(p); err != nil {
		p = s.findFold(r)
	}
	if p == "" {
		return nil, fmt.Errorf("%s: %w", m.Name, ErrModelNotFound)
	}
	if err := os.Remove(p); err != nil {
		return nil, fmt.Errorf("remove %s: %w", m.Name, err)
	}
	// Remove the folders left empty, up to manifests/.
	for dir := filepath.Dir(p); dir != s.manifestDir() && strings.HasPrefix(dir, s.manifestDir()); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	if err := s.removeBlobIfUnused(m.SHA256); err != nil {
		return m, err
	}
	return m, nil
}

// removeBlobIfUnused deletes a blob that no manifest refers to, under the
// blob's lock so that a pull writing it is not disturbed.
func (s *Store) removeBlobIfUnused(sha string) error {
	ms, err := s.List()
	if err != nil {
		return err
	}
	for _, o := range ms {
		if o.SHA256 == sha {
			return nil
		}
	}
	unlock, err := lockFile(context.Background(), s.lockPath("blob", "sha256-"+sha), nil)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.BlobPath(sha)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove blob: %w", err)
	}
	return nil
}
