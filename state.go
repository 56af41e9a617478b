package glassbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"glassbox/infer"
)

// ErrStateMismatch is wrapped by Session.LoadState's error for a state saved
// from another model or with other cache types, or longer than the context.
var ErrStateMismatch = infer.ErrStateMismatch

// StateVersion is the version of the session state files this build writes.
const StateVersion = infer.StateVersion

// modelID is a model's identity, computed once.
type modelID struct {
	once sync.Once
	id   [32]byte
	err  error
}

// storeBlob matches the file name of a model store blob: its SHA-256.
var storeBlob = regexp.MustCompile(`^sha256-([0-9a-f]{64})$`)

// ID returns the model's identity: the SHA-256 of its file (of a store
// blob, its name; else read once, on the first call). Session states name
// it so that a state is only restored into the model that saved it.
func (m *Model) ID() ([32]byte, error) {
	id := &m.id
	id.once.Do(func() {
		release, err := m.Acquire()
		if err != nil {
			id.err = err
			return
		}
		defer release()
		if sm := storeBlob.FindStringSubmatch(filepath.Base(m.path)); sm != nil {
			if b, err := hex.DecodeString(sm[1]); err == nil {
				copy(id.id[:], b)
				return
			}
		}
		if m.file != nil {
			id.id = sha256.Sum256(m.file.Bytes())
			return
		}
		f, err := os.Open(m.path)
		if err != nil {
			id.err = fmt.Errorf("model identity: %w", err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			id.err = fmt.Errorf("model identity: %w", err)
			return
		}
		copy(id.id[:], h.Sum(nil))
	})
	return id.id, id.err
}

// Tokens returns the tokens whose keys and values the session's cache holds.
func (s *Session) Tokens() []int { return s.s.Tokens() }

// SaveState writes the session's cache (its tokens, keys and values) to w
// with a versioned header naming the model's identity, its cache types and
// sizes (see infer.Session.SaveState). It returns the tokens saved.
func (s *Session) SaveState(w io.Writer) (int, error) {
	release, err := s.m.Acquire()
	if err != nil {
		return 0, err
	}
	defer release()
	id, err := s.m.ID()
	if err != nil {
		return 0, err
	}
	return s.s.SaveState(w, id)
}

// LoadState restores a state SaveState wrote, from this model with the
// same cache types: the session's cache then holds its tokens, and a
// generation whose prompt starts with them processes only the rest. Another
// model's state, or one with other cache types or too long for the context,
// is an error wrapping ErrStateMismatch (the session unchanged).
func (s *Session) LoadState(r io.Reader) (int, error) {
	release, err := s.m.Acquire()
	if err != nil {
		return 0, err
	}
	defer release()
	id, err := s.m.ID()
	if err != nil {
		return 0, err
	}
	return s.s.LoadState(r, id)
}
