// Package store is glassbox's local model store and its Hugging Face client.
//
// Models live under a root folder ($GLASSBOX_HOME, by default ~/.glassbox):
//
//	blobs/sha256-<hex>                       content-addressed GGUF files
//	blobs/sha256-<hex>.partial               a download in progress (never used as a model)
//	manifests/<host>/<owner>/<repo>/<tag>    one small JSON manifest per model name
//	locks/                                   lock files that serialise concurrent pulls
//
// Pull resolves a reference such as hf.co/OWNER/REPO:Q4_K_M through the
// Hugging Face API, downloads the file with HTTP Range resume after an
// interruption or a crash, verifies the SHA-256 the hub publishes for LFS
// files while streaming, and moves the verified file into the store
// atomically. Multi-part GGUF files (name-00001-of-00003.gguf) are downloaded
// part by part and merged into one GGUF file. ResolveModel turns whatever a
// user passes to -m (a file path, a store name or an hf.co reference) into
// the path of a GGUF file. Data a pull rejects is deleted; Prune removes
// whatever else no manifest refers to (glassbox rm --prune).
package store

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// DefaultHost is the host part of the names of models pulled from Hugging Face.
const DefaultHost = "hf.co"

// DefaultTag is the tag of a model pulled without a quantization or file name.
const DefaultTag = "latest"

// Ref is a parsed model reference: hf.co/OWNER/REPO[:QUANT] or
// hf.co/OWNER/REPO/PATH/FILE.gguf.
type Ref struct {
	Host  string // always DefaultHost for now
	Owner string
	Repo  string
	// Quant is the quantization or tag asked for, such as "Q4_K_M" (known
	// quantization names are upper-cased), or "".
	Quant string
	// File is the path of a GGUF file inside the repository, or "".
	File string
}

// RepoID returns "OWNER/REPO", the Hugging Face repository id.
func (r Ref) RepoID() string { return r.Owner + "/" + r.Repo }

// Tag returns the tag the model is stored under: the quantization, the file
// name without its .gguf extension (and without a -00001-of-0000N suffix), or
// DefaultTag.
func (r Ref) Tag() string {
	switch {
	case r.File != "":
		base := strings.TrimSuffix(path.Base(r.File), ".gguf")
		if m := splitRE.FindStringSubmatch(path.Base(r.File)); m != nil {
			base = m[1]
		}
		return sanitizeTag(base)
	case r.Quant != "":
		return r.Quant
	}
	return DefaultTag
}

// Name returns the store name of the model, "hf.co/OWNER/REPO:TAG".
func (r Ref) Name() string { return r.Host + "/" + r.RepoID() + ":" + r.Tag() }

// String returns the reference in the form it was given, normalised.
func (r Ref) String() string {
	s := r.Host + "/" + r.RepoID()
	switch {
	case r.File != "":
		return s + "/" + r.File
	case r.Quant != "":
		return s + ":" + r.Quant
	}
	return s
}

var (
	// Hugging Face user, organisation and repository names.
	repoPartRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)
	tagRE      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// llama.cpp's split file names: PREFIX-00001-of-00003.gguf.
	splitRE = regexp.MustCompile(`^(.*)-(\d{5})-of-(\d{5})\.gguf$`)
)

// hosts accepted in references, all naming Hugging Face.
var hfHosts = []string{"hf.co/", "huggingface.co/", "https://hf.co/", "https://huggingface.co/"}

// IsHFRef reports whether s names a Hugging Face model (starts with hf.co/ or
// huggingface.co/).
func IsHFRef(s string) bool {
	for _, h := range hfHosts {
		if strings.HasPrefix(strings.ToLower(s), h) {
			return true
		}
	}
	return false
}

// ParseRef parses hf.co/OWNER/REPO, hf.co/OWNER/REPO:QUANT or
// hf.co/OWNER/REPO/PATH/FILE.gguf. huggingface.co is accepted for hf.co. When
// requireHost is false the host may be left out (OWNER/REPO:QUANT), as in a
// store name.
func ParseRef(s string, requireHost bool) (Ref, error) {
	const form = "expected hf.co/OWNER/REPO, hf.co/OWNER/REPO:QUANT or hf.co/OWNER/REPO/FILE.gguf"
	orig := s
	hosted := false
	for _, h := range hfHosts {
		if strings.HasPrefix(strings.ToLower(s), h) {
			s = s[len(h):]
			hosted = true
			break
		}
	}
	if !hosted && requireHost {
		return Ref{}, fmt.Errorf("model reference %q: %s", orig, form)
	}
	r := Ref{Host: DefaultHost}
	// A tag after the repository: OWNER/REPO:TAG.
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		r.Quant = s[i+1:]
		s = s[:i]
		if r.Quant == "" {
			return Ref{}, fmt.Errorf("model reference %q: empty tag after ':': %s", orig, form)
		}
		if !tagRE.MatchString(r.Quant) {
			return Ref{}, fmt.Errorf("model reference %q: tag %q is not valid: %s", orig, r.Quant, tagProblem(r.Quant))
		}
		r.Quant = normalizeTag(r.Quant)
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 {
		return Ref{}, fmt.Errorf("model reference %q: no repository: %s", orig, form)
	}
	r.Owner, r.Repo = parts[0], parts[1]
	for _, p := range parts[:2] {
		if !repoPartRE.MatchString(p) || strings.Contains(p, "..") {
			return Ref{}, fmt.Errorf("model reference %q: %q is not a valid Hugging Face user or repository name", orig, p)
		}
	}
	if len(parts) > 2 {
		if r.Quant != "" {
			return Ref{}, fmt.Errorf("model reference %q: give either a :QUANT tag or a /FILE.gguf path, not both", orig)
		}
		file := strings.Join(parts[2:], "/")
		for _, p := range parts[2:] {
			if p == "" || p == "." || p == ".." {
				return Ref{}, fmt.Errorf("model reference %q: file path %q has an empty, '.' or '..' element", orig, file)
			}
		}
		if !strings.HasSuffix(strings.ToLower(file), ".gguf") {
			return Ref{}, fmt.Errorf("model reference %q: file %q is not a .gguf file", orig, file)
		}
		r.File = file
	}
	return r, nil
}

// sanitizeTag turns a file name into a valid tag.
func sanitizeTag(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 120 {
		b = b[:120]
	}
	if len(b) == 0 || b[0] == '.' || b[0] == '-' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

// normalizeTag upper-cases a known quantization name (q4_k_m → Q4_K_M) so that
// both spellings name one model; other tags are kept as given.
func normalizeTag(tag string) string {
	for _, q := range knownQuants {
		if strings.EqualFold(q, tag) {
			return q
		}
	}
	return tag
}

// tagProblem says why tag does not match tagRE.
func tagProblem(tag string) string {
	const rule = "a tag starts with a letter, a digit or '_', then holds only letters, digits, '_', '.' and '-', at most 128 characters in all"
	switch c := tag[0]; {
	case len(tag) > 128:
		return fmt.Sprintf("it has %d characters; %s", len(tag), rule)
	case c == '.' || c == '-':
		return fmt.Sprintf("it starts with %q; %s", c, rule)
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Sprintf("it holds %q; %s", c, rule)
		}
	}
	return rule
}

// notInStore is the error of a lookup of a bare word (no OWNER/REPO): it
// wraps ErrModelNotFound, explains the form of store names and suggests the
// store's models whose repository has that name.
func (s *Store) notInStore(name string) error {
	var near []string
	base, _, _ := strings.Cut(strings.ToLower(name), ":")
	if ms, err := s.List(); err == nil && len(base) >= 2 {
		for _, m := range ms {
			if strings.Contains(strings.ToLower(m.Name), base) {
				near = append(near, m.Name)
			}
		}
	}
	msg := fmt.Sprintf("model %q is not in the store (its names look like hf.co/OWNER/REPO:TAG: glassbox list shows them, glassbox pull hf.co/OWNER/REPO[:QUANT] downloads one)", name)
	if len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, " or ") + "?"
	}
	return &notFoundError{msg: msg}
}

// notFoundError is a lookup failure that matches ErrModelNotFound.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == ErrModelNotFound }
