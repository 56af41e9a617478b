package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Tool is a tool the agent offers the model: its name, description and the
// JSON Schema of its arguments, as the model sees them, and the function
// that runs a call.
type Tool struct {
	// Name is the function's name (letters, digits, _ and -, at most 64).
	Name string
	// Description tells the model what the tool does.
	Description string
	// Parameters is the JSON Schema of the arguments (an object).
	Parameters json.RawMessage
	// Source says where the tool comes from: "files", "sandbox", or
	// "mcp:" and the MCP server's name. A tool whose name another tool
	// already took is renamed with it (Combine).
	Source string
	// Call runs the tool with the arguments the model wrote (JSON text) and
	// returns the text the model gets back. It should return when ctx is
	// done; one that does not is abandoned at the tool timeout.
	Call func(ctx context.Context, args json.RawMessage) (string, error)
}

// Combine joins tool sets into one list: a tool whose name is already taken
// is renamed with its source as a prefix ("glassbox_generate" for the
// generate tool of the MCP server glassbox), and with a number after that
// when the prefixed name is taken too.
func Combine(sets ...[]Tool) []Tool {
	taken := map[string]bool{}
	var out []Tool
	for _, set := range sets {
		for _, t := range set {
			name := t.Name
			if taken[name] {
				prefix := t.Source
				if i := strings.LastIndexByte(prefix, ':'); i >= 0 {
					prefix = prefix[i+1:]
				}
				base := sanitizeName(prefix + "_" + t.Name)
				name = base
				for n := 2; taken[name]; n++ {
					suffix := fmt.Sprintf("_%d", n)
					name = base[:min(len(base), 64-len(suffix))] + suffix
				}
			}
			taken[name] = true
			t.Name = name
			out = append(out, t)
		}
	}
	return out
}

// sanitizeName turns a name into one OpenAI accepts for a function: letters,
// digits, _ and -, at most 64 ("tool" when nothing is left).
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	if b.Len() == 0 {
		return "tool"
	}
	return b.String()[:min(b.Len(), 64)]
}

// FileOptions are the limits of the file tools. The zero value takes the
// defaults.
type FileOptions struct {
	// MaxList is the number of entries list_files returns (default 500).
	MaxList int
	// MaxRead is the number of bytes of a file read_file and search read
	// (default 1 MiB): read_file says where it stopped; search skips
	// larger files and says so.
	MaxRead int64
	// MaxMatches is the number of lines search returns (default 100).
	MaxMatches int
	// PathEnum: when the folder holds at most PathEnum files (.git aside),
	// read_file's path parameter is an enum of them and the path parameters
	// of list_files and search an enum of the folders, so that a call
	// forced by a grammar can only name what exists; read_file's line
	// numbers are then bounded by the longest file's number of lines.
	// 0: never.
	PathEnum int
}

func (o *FileOptions) defaults() {
	if o.MaxList <= 0 {
		o.MaxList = 500
	}
	if o.MaxRead <= 0 {
		o.MaxRead = 1 << 20
	}
	if o.MaxMatches <= 0 {
		o.MaxMatches = 100
	}
}

// maxLine is the largest line number read_file's schema allows, so that a
// call forced by a grammar writes a number of at most 7 digits.
const maxLine = 9999999

// maxSearchLine bounds the text of one search result line.
const maxSearchLine = 200

// Folder gives read-only access to the files under one directory: every
// path is relative to it, absolute paths and paths with ".." that leave it
// are refused, and files are opened through an os.Root, so a symbolic link
// that leads outside the folder is refused too.
type Folder struct {
	dir  string
	opts FileOptions
}

// NewFolder checks that dir is a directory and returns its Folder.
func NewFolder(dir string, opts FileOptions) (*Folder, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("the agent's folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("the agent's folder %s is not a directory", dir)
	}
	opts.defaults()
	return &Folder{dir: abs, opts: opts}, nil
}

// Dir returns the folder's absolute path.
func (f *Folder) Dir() string { return f.dir }

// Clean checks a path the model gave and returns it relative to the folder
// in slash form ("." for the folder itself). Absolute paths and paths that
// leave the folder through ".." are refused with an error saying so;
// symbolic links are checked when the path is opened.
func Clean(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", errors.New("the path holds a NUL byte")
	}
	if p == "" {
		return ".", nil
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) {
		return "", fmt.Errorf("%q is an absolute path: give a path relative to the folder, such as \"src/main.go\"", p)
	}
	c := path.Clean(filepath.ToSlash(p))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q leads outside the folder: paths are relative to it and stay inside", p)
	}
	return c, nil
}

// open opens a path of the folder through an os.Root.
func (f *Folder) open(p string) (*os.Root, string, error) {
	c, err := Clean(p)
	if err != nil {
		return nil, "", err
	}
	r, err := os.OpenRoot(f.dir)
	if err != nil {
		return nil, "", err
	}
	if _, err := r.Stat(c); err != nil {
		r.Close()
		return nil, "", pathError(p, err)
	}
	return r, c, nil
}

// pathError rewords the errors of an os.Root for the model.
func pathError(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%q does not exist in the folder (list_files shows what does)", p)
	case strings.Contains(err.Error(), "escapes from parent"):
		return fmt.Errorf("%q leads outside the folder through a symbolic link: refused", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%q cannot be read: permission denied", p)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%q: %v", p, pe.Err)
	}
	return fmt.Errorf("%q: %v", p, err)
}

// decodeArgs reads a call's arguments into v: a JSON object (or nothing)
// with only the fields v has. Errors name what was expected.
func decodeArgs(raw json.RawMessage, v any, fields string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return fmt.Errorf("the arguments must be a JSON object with the fields %s, got %s", fields, clip(string(raw), 60))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the arguments must be a JSON object with the fields %s: %v", fields, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("the arguments must be one JSON object with the fields %s: there is text after it", fields)
	}
	return nil
}

// clip cuts s to n bytes at a character boundary, with "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ListArgs are the arguments of list_files.
type ListArgs struct {
	Path      string `json:"path"`
	Recursive *bool  `json:"recursive"`
}

// ReadArgs are the arguments of read_file.
type ReadArgs struct {
	Path      string `json:"path"`
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
}

// SearchArgs are the arguments of search.
type SearchArgs struct {
	Pattern string `json:"pattern"`
	Regexp  bool   `json:"regexp"`
	Path    string `json:"path"`
}

// ParseListArgs, ParseReadArgs and ParseSearchArgs read and check the
// arguments of the file tools.
func ParseListArgs(raw json.RawMessage) (ListArgs, error) {
	var a ListArgs
	if err := decodeArgs(raw, &a, "path (string, optional) and recursive (boolean, optional)"); err != nil {
		return a, err
	}
	_, err := Clean(a.Path)
	return a, err
}

// ParseReadArgs reads read_file's arguments: a path, and an optional range
// of lines from 1.
func ParseReadArgs(raw json.RawMessage) (ReadArgs, error) {
	var a ReadArgs
	if err := decodeArgs(raw, &a, "path (string), start_line and end_line (integers from 1, optional)"); err != nil {
		return a, err
	}
	if a.Path == "" {
		return a, errors.New("read_file needs a path, such as {\"path\": \"main.go\"}")
	}
	if _, err := Clean(a.Path); err != nil {
		return a, err
	}
	if a.StartLine < 0 || a.EndLine < 0 {
		return a, fmt.Errorf("lines count from 1: start_line %d, end_line %d", a.StartLine, a.EndLine)
	}
	if a.EndLine > 0 && a.EndLine < max(a.StartLine, 1) {
		return a, fmt.Errorf("end_line %d is before start_line %d", a.EndLine, a.StartLine)
	}
	return a, nil
}

// ParseSearchArgs reads search's arguments: a pattern (a substring, or a Go
// regular expression with regexp), and an optional folder.
func ParseSearchArgs(raw json.RawMessage) (SearchArgs, *regexp.Regexp, error) {
	var a SearchArgs
	if err := decodeArgs(raw, &a, "pattern (string), regexp (boolean, optional) and path (string, optional)"); err != nil {
		return a, nil, err
	}
	if a.Pattern == "" {
		return a, nil, errors.New("search needs a pattern, such as {\"pattern\": \"func main\"}")
	}
	if _, err := Clean(a.Path); err != nil {
		return a, nil, err
	}
	expr := regexp.QuoteMeta(a.Pattern)
	if a.Regexp {
		expr = a.Pattern
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return a, nil, fmt.Errorf("the pattern is not a valid Go regular expression: %v", err)
	}
	return a, re, nil
}

// List lists the files and folders under p (the folder itself when
// empty), folders with a trailing slash, symbolic links with a trailing @,
// recursively unless recursive is false; .git folders are skipped. At most
// MaxList entries are listed, and the listing says how many were left out.
func (f *Folder) List(ctx context.Context, p string, recursive bool) (string, error) {
	r, c, err := f.open(p)
	if err != nil {
		return "", err
	}
	defer r.Close()
	fsys := r.FS()
	st, err := fs.Stat(fsys, c)
	if err != nil {
		return "", pathError(p, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%q is a file, not a folder: read_file reads it", p)
	}
	var b strings.Builder
	n, more := 0, 0
	err = fs.WalkDir(fsys, c, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable folder is skipped
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if q == c {
			return nil
		}
		if d.IsDir() && d.Name() == ".git" {
			return fs.SkipDir
		}
		if n >= f.opts.MaxList {
			more++
		} else {
			n++
			b.WriteString(q)
			switch {
			case d.IsDir():
				b.WriteByte('/')
			case d.Type()&fs.ModeSymlink != 0:
				b.WriteByte('@')
			}
			b.WriteByte('\n')
		}
		if d.IsDir() && !recursive {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "(the folder is empty)\n", nil
	}
	if more > 0 {
		fmt.Fprintf(&b, "[listing cut at %d entries: %d more not listed; list a subfolder to see them]\n", f.opts.MaxList, more)
	}
	return b.String(), nil
}

// Read returns the text of a file, or of its lines from start to end (from
// 1, inclusive; 0 for the first and the last). It reads at most MaxRead
// bytes and refuses files with NUL bytes (binary).
func (f *Folder) Read(p string, start, end int) (string, error) {
	r, c, err := f.open(p)
	if err != nil {
		return "", err
	}
	defer r.Close()
	file, err := r.Open(c)
	if err != nil {
		return "", pathError(p, err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return "", pathError(p, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("%q is a folder: list_files lists it", p)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%q is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(file, f.opts.MaxRead))
	if err != nil {
		return "", pathError(p, err)
	}
	if bytes.IndexByte(data[:min(len(data), 8192)], 0) >= 0 {
		return "", fmt.Errorf("%q looks binary (it has NUL bytes): read_file reads text files", p)
	}
	cut := st.Size() > f.opts.MaxRead
	if start <= 1 && end == 0 {
		if cut {
			return string(data) + fmt.Sprintf("\n[read_file stopped after the first %d of %d bytes: ask for a range of lines]\n", f.opts.MaxRead, st.Size()), nil
		}
		return string(data), nil
	}
	start = max(start, 1)
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if start > len(lines) {
		return "", fmt.Errorf("%q has %d lines: start_line %d is past its end", p, len(lines), start)
	}
	if end == 0 || end > len(lines) {
		end = len(lines)
	}
	out := strings.Join(lines[start-1:end], "")
	if cut && end == len(lines) {
		out += fmt.Sprintf("\n[read_file stopped after the first %d of %d bytes]\n", f.opts.MaxRead, st.Size())
	}
	return out, nil
}

// Search returns the lines of the text files under p that match re, as
// path:line: text, at most MaxMatches of them (and how many more there
// were); binary files are skipped, and files larger than MaxRead named.
func (f *Folder) Search(ctx context.Context, re *regexp.Regexp, p string) (string, error) {
	r, c, err := f.open(p)
	if err != nil {
		return "", err
	}
	defer r.Close()
	fsys := r.FS()
	var b strings.Builder
	n, more := 0, 0
	var large []string
	err = fs.WalkDir(fsys, c, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			if d.Name() == ".git" && q != c {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > f.opts.MaxRead {
			if err == nil {
				large = append(large, q)
			}
			return nil
		}
		data, err := fs.ReadFile(fsys, q)
		if err != nil || bytes.IndexByte(data[:min(len(data), 8192)], 0) >= 0 {
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64<<10), int(f.opts.MaxRead)+1)
		for line := 1; sc.Scan(); line++ {
			if !re.Match(sc.Bytes()) {
				continue
			}
			if n >= f.opts.MaxMatches {
				more++
				continue
			}
			n++
			fmt.Fprintf(&b, "%s:%d: %s\n", q, line, clip(strings.TrimRight(sc.Text(), "\r"), maxSearchLine))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if n == 0 {
		b.WriteString("(no match)\n")
	}
	if more > 0 {
		fmt.Fprintf(&b, "[%d more matching lines not shown: narrow the pattern or the path]\n", more)
	}
	if len(large) > 0 {
		sort.Strings(large)
		fmt.Fprintf(&b, "[not searched, larger than %d bytes: %s]\n", f.opts.MaxRead, strings.Join(large, ", "))
	}
	return b.String(), nil
}

// inventory returns the files and the folders under the folder (".git"
// aside), up to limit files, and the number of lines of the longest text
// file; ok is false when there are more files.
func (f *Folder) inventory(limit int) (files, dirs []string, lines int, ok bool) {
	r, err := os.OpenRoot(f.dir)
	if err != nil {
		return nil, nil, 0, false
	}
	defer r.Close()
	dirs = []string{"."}
	ok = true
	fs.WalkDir(r.FS(), ".", func(q string, d fs.DirEntry, err error) error {
		if err != nil || q == "." {
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			dirs = append(dirs, q)
			return nil
		}
		if d.Type().IsRegular() {
			if len(files) >= limit {
				ok = false
				return fs.SkipAll
			}
			files = append(files, q)
			if data, err := fs.ReadFile(r.FS(), q); err == nil && int64(len(data)) <= f.opts.MaxRead {
				n := bytes.Count(data, []byte("\n"))
				if len(data) > 0 && data[len(data)-1] != '\n' {
					n++
				}
				lines = max(lines, n)
			}
		}
		return nil
	})
	return files, dirs, lines, ok
}

// Tools returns the folder's tools: list_files, read_file and search.
func (f *Folder) Tools() []Tool {
	pathSchema := func(desc string, enum []string) map[string]any {
		s := map[string]any{"type": "string", "description": desc}
		if enum != nil {
			s["enum"] = enum
		}
		return s
	}
	var fileEnum, dirEnum []string
	lastLine := maxLine
	if f.opts.PathEnum > 0 {
		if files, dirs, lines, ok := f.inventory(f.opts.PathEnum); ok && len(files) > 0 {
			fileEnum, dirEnum = files, dirs
			lastLine = max(lines, 1)
		}
	}
	schema := func(props map[string]any, required ...string) json.RawMessage {
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		b, _ := json.Marshal(s)
		return b
	}
	return []Tool{
		{
			Name:        "list_files",
			Description: "List the files and folders under a folder (recursive by default; folders end with /).",
			Parameters: schema(map[string]any{
				"path":      pathSchema("folder relative to the root (default: the root)", dirEnum),
				"recursive": map[string]any{"type": "boolean", "description": "list subfolders too (default true)"},
			}),
			Source: "files",
			Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
				a, err := ParseListArgs(raw)
				if err != nil {
					return "", err
				}
				return f.List(ctx, a.Path, a.Recursive == nil || *a.Recursive)
			},
		},
		{
			Name:        "read_file",
			Description: "Read a text file, or a range of its lines (from 1).",
			Parameters: schema(map[string]any{
				"path":       pathSchema("file relative to the root", fileEnum),
				"start_line": map[string]any{"type": "integer", "minimum": 1, "maximum": lastLine, "description": "first line (default 1)"},
				"end_line":   map[string]any{"type": "integer", "minimum": 1, "maximum": lastLine, "description": "last line (default: the end)"},
			}, "path"),
			Source: "files",
			Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
				a, err := ParseReadArgs(raw)
				if err != nil {
					return "", err
				}
				return f.Read(a.Path, a.StartLine, a.EndLine)
			},
		},
		{
			Name:        "search",
			Description: "Find the lines of the text files that contain a string (or match a Go regular expression), as path:line: text.",
			Parameters: schema(map[string]any{
				"pattern": map[string]any{"type": "string", "description": "text to find"},
				"regexp":  map[string]any{"type": "boolean", "description": "the pattern is a Go regular expression (default false)"},
				"path":    pathSchema("folder to search (default: the root)", dirEnum),
			}, "pattern"),
			Source: "files",
			Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
				a, re, err := ParseSearchArgs(raw)
				if err != nil {
					return "", err
				}
				return f.Search(ctx, re, a.Path)
			},
		},
	}
}
