package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DefaultPartialAge is how long Prune keeps a partial download that no pull
// is writing, so that a later pull can still resume it.
const DefaultPartialAge = 24 * time.Hour

// PruneOptions tunes Prune.
type PruneOptions struct {
	// PartialAge keeps partial downloads modified more recently than this
	// (a later pull resumes them); 0 removes every partial download that
	// no running pull is writing.
	PartialAge time.Duration
	// Now is the time ages are measured from; zero means time.Now().
	Now time.Time
}

// PrunedFile is a file of the store that Prune removed or kept.
type PrunedFile struct {
	// Path is relative to the store's root, such as blobs/sha256-….partial.
	Path string
	// Size is its size in bytes.
	Size int64
	// Reason says what it is, and for a kept file why it was kept.
	Reason string
}

// PruneReport is what Prune did.
type PruneReport struct {
	// Removed lists the files removed, Kept the unreferenced files left.
	Removed, Kept []PrunedFile
	// Freed is the total size of the removed files.
	Freed int64
}

var blobName = regexp.MustCompile(`^sha256-[0-9a-f]{64}$`)

// tryLock takes the lock at path if no one holds it.
func tryLock(path string) (unlock func(), ok bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	unlock, err = lockFile(ctx, path, nil)
	if errors.Is(err, context.Canceled) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return unlock, true, nil
}

// pullsRunning reports whether a pull (of this process or another) holds a
// model lock. Lock files that no one holds are removed on the way.
func (s *Store) pullsRunning() (bool, error) {
	ents, err := os.ReadDir(s.lockDir())
	if err != nil {
		return false, err
	}
	running := false
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "model-") || !strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		unlock, ok, err := tryLock(filepath.Join(s.lockDir(), e.Name()))
		if err != nil {
			return false, err
		}
		if !ok {
			running = true
			continue
		}
		unlock()
	}
	return running, nil
}

// Prune removes what no model of the store uses: blobs without a manifest
// (left by a pull that failed after downloading, or by an older version),
// data that failed its checksum, unfinished merges, and partial downloads
// that no running pull is writing and that are older than
// opts.PartialAge. While a pull runs, blobs without a manifest are kept,
// since they may be that pull's files not yet recorded.
func (s *Store) Prune(opts PruneOptions) (*PruneReport, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	running, err := s.pullsRunning()
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	ms, err := s.List()
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	used := make(map[string]bool, len(ms))
	for _, m := range ms {
		used["sha256-"+m.SHA256] = true
	}
	ents, err := os.ReadDir(s.blobDir())
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	rep := &PruneReport{}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || used[name] {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		f := PrunedFile{Path: filepath.ToSlash(filepath.Join("blobs", name)), Size: info.Size()}
		var lockKey string
		switch {
		case blobName.MatchString(name):
			f.Reason = "blob used by no model"
			if running {
				f.Reason += ", kept while a pull runs (it may be that pull's)"
				rep.Kept = append(rep.Kept, f)
				continue
			}
			lockKey = name
		case strings.HasSuffix(name, ".bad"):
			f.Reason = "data that failed its checksum"
		case strings.HasPrefix(name, "merge-") && strings.HasSuffix(name, ".partial"):
			f.Reason = "unfinished merge of a split model"
			if running {
				f.Reason += ", kept while a pull runs"
				rep.Kept = append(rep.Kept, f)
				continue
			}
		case strings.HasSuffix(name, ".partial"):
			lockKey = strings.TrimSuffix(name, ".partial")
			age := now.Sub(info.ModTime()).Truncate(time.Second)
			f.Reason = fmt.Sprintf("partial download last written %s ago", age)
			if age < opts.PartialAge {
				f.Reason += fmt.Sprintf(", kept so that the next pull resumes it (younger than %s)", opts.PartialAge)
				rep.Kept = append(rep.Kept, f)
				continue
			}
		default:
			continue // not the store's
		}
		if lockKey != "" {
			unlock, ok, err := tryLock(s.lockPath("blob", lockKey))
			if err != nil {
				return rep, fmt.Errorf("prune: %w", err)
			}
			if !ok {
				f.Reason += ", kept: a running pull is writing it"
				rep.Kept = append(rep.Kept, f)
				continue
			}
			err = os.Remove(filepath.Join(s.blobDir(), name))
			unlock()
			if err != nil {
				return rep, fmt.Errorf("prune: %w", err)
			}
		} else if err := os.Remove(filepath.Join(s.blobDir(), name)); err != nil {
			return rep, fmt.Errorf("prune: %w", err)
		}
		rep.Removed = append(rep.Removed, f)
		rep.Freed += f.Size
	}
	syncDir(s.blobDir())
	return rep, nil
}
