package store

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// DefaultQuant is chosen, as Ollama and llama.cpp do, when a repository holds
// several GGUF models and the reference names none.
const DefaultQuant = "Q4_K_M"

// Candidate is one GGUF model of a repository: a single file, or every part of
// a split file in order.
type Candidate struct {
	// Files are the file entries, one for a single file, the parts in order
	// for a split model.
	Files []TreeEntry
}

// Name returns the path of the candidate's (first) file.
func (c Candidate) Name() string { return c.Files[0].Path }

// Size returns the total size of the candidate's files.
func (c Candidate) Size() int64 {
	var n int64
	for _, f := range c.Files {
		n += f.Size
	}
	return n
}

// Split reports whether the model is split into several files.
func (c Candidate) Split() bool { return len(c.Files) > 1 }

// String names the candidate for messages: its path, with the part count.
func (c Candidate) String() string {
	if c.Split() {
		m := splitRE.FindStringSubmatch(path.Base(c.Files[0].Path))
		if m != nil {
			return path.Join(path.Dir(c.Files[0].Path), m[1]) + fmt.Sprintf("-*-of-%05d.gguf (%d parts)", len(c.Files), len(c.Files))
		}
	}
	return c.Files[0].Path
}

// Candidates groups the GGUF files of a tree listing into models, in path
// order. Multimodal projectors (mmproj*.gguf) are left out. Split files whose
// parts are incomplete are an error.
func Candidates(entries []TreeEntry) ([]Candidate, error) {
	type set struct {
		count int
		parts map[int]TreeEntry
	}
	sets := map[string]*set{}
	var out []Candidate
	for _, e := range entries {
		if e.Type != "file" || !strings.HasSuffix(strings.ToLower(e.Path), ".gguf") {
			continue
		}
		if strings.HasPrefix(strings.ToLower(path.Base(e.Path)), "mmproj") {
			continue
		}
		m := splitRE.FindStringSubmatch(path.Base(e.Path))
		if m == nil {
			out = append(out, Candidate{Files: []TreeEntry{e}})
			continue
		}
		no, _ := strconv.Atoi(m[2])
		count, _ := strconv.Atoi(m[3])
		if no < 1 || count < 1 || no > count {
			return nil, fmt.Errorf("split file %q: part %d of %d is out of range", e.Path, no, count)
		}
		key := path.Join(path.Dir(e.Path), m[1]) + "\x00" + m[3]
		s := sets[key]
		if s == nil {
			s = &set{count: count, parts: map[int]TreeEntry{}}
			sets[key] = s
		}
		s.parts[no] = e
	}
	for _, s := range sets {
		var c Candidate
		for i := 1; i <= s.count; i++ {
			p, ok := s.parts[i]
			if !ok {
				var any TreeEntry
				for _, v := range s.parts {
					any = v
					break
				}
				return nil, fmt.Errorf("split model %q: part %d of %d is missing from the repository", any.Path, i, s.count)
			}
			c.Files = append(c.Files, p)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// SelectError reports that no single model matches a reference; it lists the
// models the repository offers.
type SelectError struct {
	Repo       string
	Want       string // the quant or file asked for, "" for none
	Candidates []Candidate
	Ambiguous  bool
}

// Error explains the problem and lists the candidates.
func (e *SelectError) Error() string {
	var b strings.Builder
	switch {
	case len(e.Candidates) == 0 && e.Want == "":
		fmt.Fprintf(&b, "repository %s holds no GGUF file", e.Repo)
		return b.String()
	case e.Ambiguous && e.Want == "":
		fmt.Fprintf(&b, "repository %s holds several GGUF models: name one with hf.co/%s:QUANT or hf.co/%s/FILE.gguf", e.Repo, e.Repo, e.Repo)
	case e.Ambiguous:
		fmt.Fprintf(&b, "%q matches several GGUF models of %s: name the file with hf.co/%s/FILE.gguf", e.Want, e.Repo, e.Repo)
	default:
		fmt.Fprintf(&b, "no GGUF file of %s matches %q", e.Repo, e.Want)
	}
	b.WriteString("; available:")
	for _, c := range e.Candidates {
		fmt.Fprintf(&b, "\n  %s", c)
		if q := guessQuant(c.Name()); q != "" {
			fmt.Fprintf(&b, "  (hf.co/%s:%s)", e.Repo, q)
		}
	}
	return b.String()
}

// knownQuants are the quantization names found in GGUF file names, longest
// first so that Q4_K_M is preferred to Q4_K.
var knownQuants = func() []string {
	q := []string{
		"F32", "F16", "BF16", "Q8_0", "Q8_1", "Q6_K", "Q5_0", "Q5_1", "Q5_K", "Q5_K_S", "Q5_K_M", "Q5_K_L", "Q5_K_XL",
		"Q4_0", "Q4_1", "Q4_K", "Q4_K_S", "Q4_K_M", "Q4_K_L", "Q4_K_XL", "Q3_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q3_K_XL",
		"Q2_K", "Q2_K_S", "Q2_K_L", "Q2_K_XL", "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS",
		"IQ3_S", "IQ3_M", "IQ4_XS", "IQ4_NL", "TQ1_0", "TQ2_0", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "MXFP4",
	}
	sort.Slice(q, func(i, j int) bool { return len(q[i]) > len(q[j]) || len(q[i]) == len(q[j]) && q[i] < q[j] })
	return q
}()

// guessQuant returns the quantization named in a file name, or "".
func guessQuant(file string) string {
	for _, q := range knownQuants {
		if tokenMatch(path.Base(file), q) {
			return q
		}
	}
	return ""
}

// isWordByte reports whether c may be part of a quantization name.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// tokenMatch reports whether s contains tag (case-insensitively) as a whole
// token: not preceded nor followed by a letter, a digit or '_'. So Q4_K
// matches "model-Q4_K.gguf" but not "model-Q4_K_M.gguf".
func tokenMatch(s, tag string) bool {
	ls, lt := strings.ToLower(s), strings.ToLower(tag)
	for from := 0; ; {
		i := strings.Index(ls[from:], lt)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(lt)
		if (i == 0 || !isWordByte(ls[i-1])) && (end == len(ls) || !isWordByte(ls[end])) {
			return true
		}
		from = i + 1
	}
}

// Select picks the model a reference asks for among a repository's files:
//   - ref.File: that file (or, for a part of a split model, every part);
//   - ref.Quant: the model whose path holds the quant as a whole token, or
//     failing that as a substring (case-insensitively);
//   - neither: the only model, or else the DefaultQuant one.
//
// When no model or several match, the error is a *SelectError listing the
// models available.
func Select(repo string, entries []TreeEntry, ref Ref) (Candidate, error) {
	cands, err := Candidates(entries)
	if err != nil {
		return Candidate{}, fmt.Errorf("repository %s: %w", repo, err)
	}
	if ref.File != "" {
		for _, c := range cands {
			for _, f := range c.Files {
				if f.Path == ref.File {
					return c, nil
				}
			}
		}
		// A projector or other file left out of the candidates.
		for _, e := range entries {
			if e.Type == "file" && e.Path == ref.File {
				return Candidate{Files: []TreeEntry{e}}, nil
			}
		}
		return Candidate{}, &SelectError{Repo: repo, Want: ref.File, Candidates: cands}
	}
	if len(cands) == 0 {
		return Candidate{}, &SelectError{Repo: repo, Want: ref.Quant}
	}
	want := ref.Quant
	if want == "" {
		if len(cands) == 1 {
			return cands[0], nil
		}
		want = DefaultQuant
	}
	pick := func(match func(name string) bool) []Candidate {
		var m []Candidate
		for _, c := range cands {
			if match(c.Name()) {
				m = append(m, c)
			}
		}
		return m
	}
	matches := pick(func(name string) bool { return tokenMatch(name, want) })
	if len(matches) == 0 {
		matches = pick(func(name string) bool { return strings.Contains(strings.ToLower(name), strings.ToLower(want)) })
	}
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		return Candidate{}, &SelectError{Repo: repo, Want: want, Candidates: matches, Ambiguous: true}
	case ref.Quant == "":
		return Candidate{}, &SelectError{Repo: repo, Candidates: cands, Ambiguous: true}
	}
	return Candidate{}, &SelectError{Repo: repo, Want: want, Candidates: cands}
}
