package eval

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"glassbox/store"
)

// RecordVersion is the version of the Record JSON schema.
const RecordVersion = 1

// Record is one evaluation run as saved in the store: what was measured, on
// which model file, with which settings, on which machine, and the results.
type Record struct {
	// Version is RecordVersion when the record was written.
	Version int `json:"version"`
	// ID names the record uniquely (its file name without .json).
	ID string `json:"id"`
	// Kind is the measurement: "perplexity", "choice", "humaneval" (quality)
	// or "bench" (speed and memory, see Speed).
	Kind string `json:"kind"`
	// Date is when the run ended (UTC).
	Date time.Time `json:"date"`
	// Model is the model file evaluated.
	Model ModelFile `json:"model"`
	// Settings are the run's settings (context, chunks, data file …).
	Settings map[string]any `json:"settings,omitempty"`
	// Machine is the computer the run was made on.
	Machine Machine `json:"machine"`
	// Glassbox is the version of glassbox that made the run.
	Glassbox string `json:"glassbox"`
	// Results are the measured numbers (perplexity, accuracy, pass@1 …).
	Results map[string]any `json:"results"`
}

// ModelFile identifies a model file by content.
type ModelFile struct {
	// Name is the name the user gave (a store name or a path).
	Name string `json:"name"`
	// Path is the file's path when the run was made.
	Path string `json:"path,omitempty"`
	// SHA256 is the hex SHA-256 of the file's bytes ("" for a model without a
	// file, such as a remote endpoint).
	SHA256 string `json:"sha256,omitempty"`
	// Size is the file's size in bytes.
	Size int64 `json:"size,omitempty"`
	// Endpoint is the base URL of the OpenAI-compatible server that ran the
	// model, for a remote run ("" for a model run by this process).
	Endpoint string `json:"endpoint,omitempty"`
	// Arch, FileType, Params and ContextLength describe the model when the
	// run knew them: architecture, the weights' quantization (GGUF
	// general.file_type), parameters, and the context it was trained with.
	Arch          string `json:"arch,omitempty"`
	FileType      string `json:"file_type,omitempty"`
	Params        int64  `json:"params,omitempty"`
	ContextLength int    `json:"context_length,omitempty"`
	// License is the file's GGUF general.license, when it has one.
	License string `json:"license,omitempty"`
	// Repo is the Hugging Face repository the file came from (OWNER/NAME:
	// from the store name, or the GGUF general.source.repo_url or
	// general.repo_url), GeneralName the GGUF general.name, and Basename
	// general.basename, general.size_label and general.finetune joined by
	// '-': what tells which catalog model the file is.
	Repo        string `json:"repo,omitempty"`
	GeneralName string `json:"general_name,omitempty"`
	Basename    string `json:"basename,omitempty"`
}

// Machine describes the computer a run was made on.
type Machine struct {
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	CPU         string `json:"cpu,omitempty"` // CPU model name, when the system tells it
	Cores       int    `json:"cores"`         // logical CPUs
	MemoryBytes uint64 `json:"memory_bytes,omitempty"`
}

// NewRecord returns a record of kind for the model file at path (hashed; ""
// for a model without a file), with the date, this machine and this
// build's glassbox version filled in. name is how the user named the model.
func NewRecord(kind, name, path string) (*Record, error) {
	r := &Record{
		Version:  RecordVersion,
		Kind:     kind,
		Date:     time.Now().UTC(),
		Model:    ModelFile{Name: name, Path: path},
		Machine:  ThisMachine(),
		Glassbox: Version(),
		Settings: map[string]any{},
		Results:  map[string]any{},
	}
	if path != "" {
		sum, size, err := FileSHA256(path)
		if err != nil {
			return nil, err
		}
		r.Model.SHA256, r.Model.Size = sum, size
	}
	return r, nil
}

// FileSHA256 returns the hex SHA-256 of the file at path and its size.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("eval: hashing the model file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("eval: hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Version returns this build's glassbox version: the module version, or
// "devel" followed by the VCS revision when the binary has one.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := "devel"
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + modified
	}
	return v
}

// ThisMachine describes the computer the process runs on.
func ThisMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU()}
	if runtime.GOOS == "linux" {
		m.CPU = cpuModel("/proc/cpuinfo")
		m.MemoryBytes = memTotal("/proc/meminfo")
	}
	return m
}

// cpuModel returns the first "model name" of a /proc/cpuinfo file, or "".
func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memTotal returns MemTotal of a /proc/meminfo file in bytes, or 0.
func memTotal(path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// Dir returns the folder records are kept in under the store root
// ("" means store.DefaultRoot, that is $GLASSBOX_HOME or ~/.glassbox).
func Dir(root string) (string, error) {
	if root == "" {
		var err error
		if root, err = store.DefaultRoot(); err != nil {
			return "", err
		}
	}
	return filepath.Join(root, "evals"), nil
}

// Save writes r as JSON into the evals folder of the store at root (""
// means the default store), giving it an ID when it has none, and returns
// the file's path. An existing record is never overwritten.
func Save(root string, r *Record) (string, error) {
	if r == nil || r.Kind == "" {
		return "", errors.New("eval: a record needs a kind")
	}
	dir, err := Dir(root)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("eval: %w", err)
	}
	if r.Version == 0 {
		r.Version = RecordVersion
	}
	if r.Date.IsZero() {
		r.Date = time.Now().UTC()
	}
	if r.ID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		r.ID = r.Date.UTC().Format("20060102T150405Z") + "-" + safeName(r.Kind) + "-" + hex.EncodeToString(b[:])
	}
	if safeName(r.ID) != r.ID {
		return "", fmt.Errorf("eval: record id %q: want letters, digits, '-', '_' and '.' only", r.ID)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("eval: encoding the record: %w", err)
	}
	path := filepath.Join(dir, r.ID+".json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("eval: saving the record: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("eval: saving the record: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("eval: saving the record: %w", err)
	}
	return path, nil
}

// safeName keeps the characters of s that are safe in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return -1
	}, s)
}

// List returns the records saved in the store at root ("" means the default
// store), oldest first; kind, when not "", keeps only that kind. A missing
// evals folder is no records; a file that is not a record is an error naming it.
func List(root, kind string) ([]Record, error) {
	dir, err := Dir(root)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var out []Record
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		var r Record
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("eval: %s is not an evaluation record: %w", e.Name(), err)
		}
		if r.Kind == "" {
			return nil, fmt.Errorf("eval: %s is not an evaluation record: no kind", e.Name())
		}
		if kind == "" || r.Kind == kind {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.Before(out[j].Date)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
