package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"glassbox/tokenizer/bpe"
)

// DataSpec selects the training text.
type DataSpec struct {
	// Globs select files. "**" matches any number of directories and
	// "$GOROOT" expands to the output of `go env GOROOT`.
	Globs []string `json:"globs"`
	// ExcludeDirs are directory names skipped anywhere below a "**" (e.g. "testdata").
	ExcludeDirs []string `json:"exclude_dirs,omitempty"`
	// HeldOutPermille is the share of files (‰) held out for validation and
	// evaluation, chosen by the SHA-256 of the file's manifest path.
	HeldOutPermille int `json:"held_out_permille"`
}

// File is one file of the corpus.
type File struct {
	Path    string // manifest path: relative to the glob's root, slash-separated
	Abs     string // path on this machine
	Size    int64
	SHA256  string
	HeldOut bool
}

// Corpus is the sorted list of files a DataSpec selects.
type Corpus struct {
	Files []File
}

// expandGOROOT replaces $GOROOT in s.
func expandGOROOT(s string) (string, error) {
	if !strings.Contains(s, "$GOROOT") {
		return s, nil
	}
	root := ""
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	}
	if root == "" {
		root = os.Getenv("GOROOT")
	}
	if root == "" {
		return "", fmt.Errorf("train: %q needs GOROOT, but `go env GOROOT` failed and $GOROOT is empty", s)
	}
	return strings.ReplaceAll(s, "$GOROOT", root), nil
}

// LoadCorpus lists, reads, hashes and splits the files of spec, sorted by
// manifest path (byte order). A file matched by two globs is listed once.
func LoadCorpus(spec DataSpec) (*Corpus, error) {
	if len(spec.Globs) == 0 {
		return nil, fmt.Errorf("train: no data globs given")
	}
	if spec.HeldOutPermille < 0 || spec.HeldOutPermille >= 1000 {
		return nil, fmt.Errorf("train: held_out_permille must be in [0, 1000), got %d", spec.HeldOutPermille)
	}
	seen := map[string]bool{}
	var files []File
	for _, g := range spec.Globs {
		g, err := expandGOROOT(g)
		if err != nil {
			return nil, err
		}
		matches, err := globFiles(g, spec.ExcludeDirs)
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("train: glob %q matches no files", g)
		}
		for _, m := range matches {
			if seen[m.Abs] {
				continue
			}
			seen[m.Abs] = true
			files = append(files, m)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path {
			return nil, fmt.Errorf("train: two globs give the same manifest path %q (%s and %s)", files[i].Path, files[i-1].Abs, files[i].Abs)
		}
	}
	for i := range files {
		f := &files[i]
		data, err := os.ReadFile(f.Abs)
		if err != nil {
			return nil, fmt.Errorf("train: reading data file: %w", err)
		}
		sum := sha256.Sum256(data)
		f.SHA256 = hex.EncodeToString(sum[:])
		f.Size = int64(len(data))
		f.HeldOut = heldOut(f.Path, spec.HeldOutPermille)
	}
	return &Corpus{Files: files}, nil
}

// heldOut reports whether the file at manifest path p belongs to the held-out
// split: the first two bytes of SHA-256(p), big-endian, modulo 1000, are below permille.
func heldOut(p string, permille int) bool {
	sum := sha256.Sum256([]byte(p))
	return int(binary.BigEndian.Uint16(sum[:2]))%1000 < permille
}

// globFiles expands one pattern. Without "**" it is filepath.Glob; with it,
// the part before "**" is the root walked, and the part after is matched
// against each file's name (or its path below the root when it has a slash).
// Manifest paths are relative to the root (or to the pattern's directory).
func globFiles(pattern string, exclude []string) ([]File, error) {
	pattern = filepath.ToSlash(pattern)
	i := strings.Index(pattern, "**")
	if i < 0 {
		ms, err := filepath.Glob(filepath.FromSlash(pattern))
		if err != nil {
			return nil, fmt.Errorf("train: bad glob %q: %w", pattern, err)
		}
		var out []File
		for _, m := range ms {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				out = append(out, File{Path: filepath.ToSlash(m), Abs: m})
			}
		}
		return out, nil
	}
	root := strings.TrimSuffix(pattern[:i], "/")
	if root == "" {
		root = "."
	}
	rest := strings.TrimPrefix(pattern[i+2:], "/")
	if _, err := filepath.Match(rest, ""); err != nil {
		return nil, fmt.Errorf("train: bad glob %q: %w", pattern, err)
	}
	skip := map[string]bool{}
	for _, d := range exclude {
		skip[d] = true
	}
	var out []File
	err := filepath.WalkDir(filepath.FromSlash(root), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skip[d.Name()] && p != filepath.FromSlash(root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(filepath.FromSlash(root), p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		target := d.Name()
		if strings.Contains(rest, "/") {
			target = rel
		}
		if ok, _ := filepath.Match(rest, target); ok {
			out = append(out, File{Path: rel, Abs: p})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("train: walking %s: %w", root, err)
	}
	return out, nil
}

// Manifest returns the manifest text, one line per file,
// "sha256 size split path\n" (split is "train" or "heldout").
func (c *Corpus) Manifest() []byte {
	var b bytes.Buffer
	for _, f := range c.Files {
		split := "train"
		if f.HeldOut {
			split = "heldout"
		}
		fmt.Fprintf(&b, "%s %d %s %s\n", f.SHA256, f.Size, split, f.Path)
	}
	return b.Bytes()
}

// ManifestSHA256 is the SHA-256 of Manifest(): it names the exact data.
func (c *Corpus) ManifestSHA256() string {
	sum := sha256.Sum256(c.Manifest())
	return hex.EncodeToString(sum[:])
}

// Split returns the training and held-out files.
func (c *Corpus) Split() (trainFiles, heldOutFiles []File) {
	for _, f := range c.Files {
		if f.HeldOut {
			heldOutFiles = append(heldOutFiles, f)
		} else {
			trainFiles = append(trainFiles, f)
		}
	}
	return trainFiles, heldOutFiles
}

// TokenizerSpec configures the BPE tokenizer trained before the model.
type TokenizerSpec struct {
	VocabSize    int    `json:"vocab_size"`
	PreTokenizer string `json:"pre_tokenizer"` // a llama.cpp tokenizer.ggml.pre name, e.g. "gpt-2"
	// SampleEvery trains the tokenizer on every SampleEvery-th training file
	// (in manifest order), 1 meaning all.
	SampleEvery int `json:"sample_every"`
	// EndOfText is the one special token: it begins every file in the token
	// stream and serves as BOS and EOS.
	EndOfText string `json:"end_of_text"`
}

// TrainTokenizer learns the BPE tokenizer from the training files.
func TrainTokenizer(files []File, spec TokenizerSpec) (*bpe.Trained, error) {
	pre, err := bpe.PreTokenizerByName(spec.PreTokenizer)
	if err != nil {
		return nil, err
	}
	every := max(spec.SampleEvery, 1)
	var readErr error
	texts := func(yield func(string) bool) {
		for i, f := range files {
			if i%every != 0 {
				continue
			}
			data, err := os.ReadFile(f.Abs)
			if err != nil {
				readErr = err
				return
			}
			if !yield(string(data)) {
				return
			}
		}
	}
	tr, err := bpe.Train(iter.Seq[string](texts), bpe.TrainOptions{
		VocabSize:     spec.VocabSize,
		Pre:           pre,
		SpecialTokens: []string{spec.EndOfText},
	})
	if readErr != nil {
		return nil, fmt.Errorf("train: reading tokenizer data: %w", readErr)
	}
	if err != nil {
		return nil, fmt.Errorf("train: training the tokenizer: %w", err)
	}
	return tr, nil
}

// TokenStream encodes files in order into one stream, each file preceded by
// the end-of-text token eot. Files are encoded in parallel; the result does
// not depend on the number of goroutines.
func TokenStream(tok *bpe.Model, files []File, eot int) ([]int32, error) {
	parts := make([][]int32, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ids []int
			for i := range next {
				data, err := os.ReadFile(files[i].Abs)
				if err != nil {
					errs[i] = err
					continue
				}
				ids = tok.Encode(ids[:0], string(data))
				p := make([]int32, len(ids)+1)
				p[0] = int32(eot)
				for j, id := range ids {
					p[j+1] = int32(id)
				}
				parts[i] = p
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	n := 0
	for i, p := range parts {
		if errs[i] != nil {
			return nil, fmt.Errorf("train: reading %s: %w", files[i].Abs, errs[i])
		}
		n += len(p)
	}
	out := make([]int32, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}
