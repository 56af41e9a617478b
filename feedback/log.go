package feedback

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"glassbox/store"
)

// FileName is the feedback file's name in the store's feedback folder.
const FileName = "feedback.jsonl"

// DefaultPath returns the feedback file of the store at root ("" means
// store.DefaultRoot: $GLASSBOX_HOME or ~/.glassbox): ROOT/feedback/feedback.jsonl.
func DefaultPath(root string) (string, error) {
	if root == "" {
		var err error
		if root, err = store.DefaultRoot(); err != nil {
			return "", err
		}
	}
	return filepath.Join(root, "feedback", FileName), nil
}

// Log is a feedback file. Its methods are safe for concurrent use, and
// several processes may append to the same file at once.
type Log struct {
	path string
	mu   sync.Mutex // one append at a time within the process (the file lock orders processes)
}

// Open returns the feedback file at path. The file and its folder are
// created by the first Append.
func Open(path string) (*Log, error) {
	if path == "" {
		return nil, errors.New("feedback: no file given")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("feedback: %s is a folder, not a file", path)
	}
	return &Log{path: path}, nil
}

// Path returns the file's path.
func (l *Log) Path() string { return l.path }

// Append completes r (Record.Normalize: id, time, kind), checks it and adds
// it to the file as one line: one write to the file opened with O_APPEND,
// under an exclusive lock, then fsync. When it returns nil the record is on
// disk. A torn line a crash left at the end of the file is first moved to
// FILE.torn.
func (l *Log) Append(r *Record) error {
	if err := r.Normalize(); err != nil {
		return fmt.Errorf("feedback: %w", err)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("feedback: encoding the record: %w", err)
	}
	line = append(line, '\n') // json.Marshal escapes new lines: the record is one line
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
		return fmt.Errorf("feedback: %w", err)
	}
	_, statErr := os.Stat(l.path)
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("feedback: %w", err)
	}
	defer f.Close()
	if errors.Is(statErr, os.ErrNotExist) {
		syncDir(filepath.Dir(l.path)) // the new file's name is durable too
	}
	if err := lockExclusive(f); err != nil {
		return fmt.Errorf("feedback: lock %s: %w", l.path, err)
	}
	defer unlockFile(f)
	if err := l.repairTail(f); err != nil {
		return fmt.Errorf("feedback: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("feedback: writing %s: %w", l.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("feedback: syncing %s: %w", l.path, err)
	}
	return nil
}

// repairTail moves an unterminated last line (a write a crash cut short) to
// FILE.torn and cuts it from the file, so that the next line starts on a
// line of its own. The caller holds the exclusive lock.
func (l *Log) repairTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return fmt.Errorf("reading %s: %w", l.path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	// find the start of the torn line
	start := int64(0)
	buf := make([]byte, 64<<10)
	for end := size; end > 0 && start == 0; {
		n := min(int64(len(buf)), end)
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return fmt.Errorf("reading %s: %w", l.path, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			start = end - n + int64(i) + 1
		}
		end -= n
	}
	torn := make([]byte, size-start, size-start+1)
	if _, err := f.ReadAt(torn, start); err != nil {
		return fmt.Errorf("reading %s: %w", l.path, err)
	}
	tf, err := os.OpenFile(l.path+".torn", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = tf.Write(append(torn, '\n'))
	if err == nil {
		err = tf.Sync()
	}
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("saving the torn last line: %w", err)
	}
	if err := f.Truncate(start); err != nil {
		return fmt.Errorf("cutting the torn last line of %s: %w", l.path, err)
	}
	return f.Sync()
}

// syncDir makes a new directory entry durable (best effort: not every
// platform can sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// LineError is a line of a feedback file that is not a valid record.
type LineError struct {
	Line int   // 1-based
	Err  error // what is wrong (a *FieldError names the field)
	// Torn is set for an unterminated last line that does not parse: a write
	// a crash cut short, skipped with a warning.
	Torn bool
}

func (e *LineError) Error() string {
	if e.Torn {
		return fmt.Sprintf("line %d: torn last line (a write cut short by a crash), skipped: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Read returns the records of the file, in the order they were written,
// and the lines that are not valid records (LineError: blank lines are
// skipped silently). A missing file holds no records. It reads under a
// shared lock, so it never sees a line being written.
func (l *Log) Read() ([]Record, []LineError, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("feedback: %w", err)
	}
	defer f.Close()
	if err := lockShared(f); err != nil {
		return nil, nil, fmt.Errorf("feedback: lock %s: %w", l.path, err)
	}
	defer unlockFile(f)
	return Read(f)
}

// ReadFile reads the feedback records of the file at path (see Log.Read).
func ReadFile(path string) ([]Record, []LineError, error) {
	return (&Log{path: path}).Read()
}

// Read reads feedback records, one JSON object a line, from r. Lines that
// are not valid records come back as LineErrors and do not stop the
// reading; an unterminated last line that does not parse is marked Torn.
// The error is that of the reader.
func Read(r io.Reader) ([]Record, []LineError, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var recs []Record
	var bad []LineError
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return recs, bad, fmt.Errorf("feedback: line %d: %w", n, err)
		}
		terminated := len(line) > 0 && line[len(line)-1] == '\n'
		if t := bytes.TrimSpace(line); len(t) > 0 {
			rec, perr := Parse(t)
			if perr == nil {
				rec.Complete()
				perr = rec.Validate()
			}
			if perr != nil {
				bad = append(bad, LineError{Line: n, Err: perr, Torn: !terminated})
			} else {
				recs = append(recs, rec)
			}
		}
		if err != nil { // io.EOF
			return recs, bad, nil
		}
	}
}
