package catalog

import (
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Identity is what tells which model a file (or a model at an endpoint) is:
// each field may be empty. Match tries them from the most to the least
// reliable.
type Identity struct {
	// Repo is the Hugging Face repository the file came from: OWNER/NAME,
	// a store name (hf.co/OWNER/NAME[:QUANT]) or a URL
	// (https://huggingface.co/OWNER/NAME, as GGUF general.source.repo_url
	// and general.repo_url write it).
	Repo string
	// Files are names the model goes by: the file's name or path
	// (Qwen2.5-0.5B-Instruct-Q4_K_M.gguf), or the model's name at an endpoint.
	Files []string
	// Names are the names the GGUF file gives itself: general.name
	// ("Qwen2.5 0.5B Instruct"), and general.basename, size_label and
	// finetune joined by '-' ("Qwen2.5-0.5B-Instruct"), as llama.cpp names
	// its files.
	Names []string
}

// How a model was matched (Match's second result).
const (
	MatchRepo    = "repository"
	MatchFile    = "file name"
	MatchGeneral = "general.name"
)

// Match returns the catalog entry the identity names, and how it was found
// (MatchRepo, MatchFile or MatchGeneral), or nil and "". In order:
//
//  1. the repository is one the entry lists (its publisher's, or one
//     publishing it as GGUF);
//  2. the repository's name, a file name or a GGUF name, normalised (lower
//     case, '_' and ' ' as '-', without ".gguf", "-GGUF", the quantization
//     suffix such as "-Q4_K_M" or ".F16", and a split file's "-00001-of-00003"),
//     is the entry's id, its name, or the name of one of its repositories
//     normalised the same way.
//
// A normalised name that several entries share matches none of them, and a
// name is never matched by a prefix: "qwen2.5-0.5b" is not
// "qwen2.5-0.5b-instruct".
func (c *Catalog) Match(id Identity) (*Model, string) {
	if repo := repoID(id.Repo); repo != "" {
		if m := c.ByGGUFRepo(repo); m != nil {
			return m, MatchRepo
		}
		if m := c.byKey(path.Base(repo)); m != nil {
			return m, MatchRepo
		}
	}
	for _, f := range id.Files {
		if m := c.byKey(fileBase(f)); m != nil {
			return m, MatchFile
		}
	}
	for _, n := range id.Names {
		if m := c.byKey(n); m != nil {
			return m, MatchGeneral
		}
	}
	return nil, ""
}

// byKey returns the only entry whose keys include key's normal form.
func (c *Catalog) byKey(name string) *Model {
	k := NormalizeName(name)
	if k == "" {
		return nil
	}
	var found *Model
	for i := range c.Models {
		m := &c.Models[i]
		if !m.hasKey(k) {
			continue
		}
		if found != nil {
			return nil // ambiguous
		}
		found = m
	}
	return found
}

// hasKey reports whether k (normalised) names m.
func (m *Model) hasKey(k string) bool {
	if k == NormalizeName(m.ID) || k == NormalizeName(m.Name) || k == NormalizeName(path.Base(m.Repo)) {
		return true
	}
	for _, g := range m.GGUF {
		if k == NormalizeName(path.Base(g.Repo)) {
			return true
		}
	}
	return false
}

var (
	// a quantization or precision suffix, with llama.cpp's and unsloth's
	// variants (Q4_K_M, IQ3_XXS, Q4_0_4_4, UD-Q4_K_XL, F16, BF16 …)
	quantSuffix = regexp.MustCompile(`(?i)[-._](ud-)?(i?q[0-9][a-z0-9_]*|f16|f32|bf16|fp16|fp32)$`)
	splitSuffix = regexp.MustCompile(`-[0-9]{5}-of-[0-9]{5}$`)
	dashes      = regexp.MustCompile(`-+`)
)

// NormalizeName is the form Match compares names in: lower case, '_' and
// spaces as '-', without ".gguf", a split file's "-00001-of-00002", a
// quantization suffix or "-GGUF".
func NormalizeName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimSuffix(s, ".gguf")
	s = strings.TrimSuffix(s, "-gguf")
	s = splitSuffix.ReplaceAllString(s, "")
	s = quantSuffix.ReplaceAllString(s, "")
	s = strings.Map(func(r rune) rune {
		if r == '_' || r == ' ' {
			return '-'
		}
		return r
	}, s)
	return strings.Trim(dashes.ReplaceAllString(s, "-"), "-")
}

// fileBase is a file name without its folders; a store name keeps its
// repository's name and loses the quantization after ':'.
func fileBase(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// repoID returns OWNER/NAME from a repository id, a store name or a
// Hugging Face URL, or "".
func repoID(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		if !strings.HasSuffix(u.Host, "huggingface.co") && u.Host != "hf.co" {
			return ""
		}
		s = u.Path
	} else {
		for _, p := range []string{"hf.co/", "huggingface.co/"} {
			s = strings.TrimPrefix(s, p)
		}
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i] // a store name's quantization
	}
	parts := strings.Split(strings.Trim(s, "/"), "/")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	return parts[0] + "/" + parts[1]
}
