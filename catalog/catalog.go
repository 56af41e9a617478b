// Package catalog is glassbox's catalog of public open models: for each
// model its parameters, context length, architecture, license, openness
// class, the Hugging Face repositories that publish it as GGUF, and the tasks
// its publisher says it suits, every fact with the URL of its source (the
// model card, its config.json, a paper or a license). A fact without a source
// is left out rather than guessed. The catalog is catalog.json, embedded in
// the binary; `glassbox catalog` lists and filters it and `glassbox choose`
// ranks its models for a job on this machine.
package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed catalog.json
var catalogJSON []byte

// Version is the version of the catalog file's schema.
const Version = 1

// Openness classes, after the Model Openness Framework: OpenWeights is a
// model whose weights are published under a license allowing their use, and
// OpenSource one whose training data, training code and recipe (a paper or
// report) are published as well, so that it can be studied and rebuilt.
const (
	OpenWeights = "open-weights"
	OpenSource  = "open-source"
)

// Tasks a model can be listed as suiting: Code (writing code), Chat
// (following instructions in a conversation: an instruction-tuned model) and
// French (its publisher names French among the languages it supports).
const (
	TaskCode   = "code"
	TaskChat   = "chat"
	TaskFrench = "fr"
)

// Tasks lists the known tasks.
var Tasks = []string{TaskCode, TaskChat, TaskFrench}

// Fact is one fact about a model and the URL of the page stating it.
type Fact[T any] struct {
	Value  T      `json:"value"`
	Source string `json:"source"`
}

// GGUFRepo is a Hugging Face repository publishing a model as GGUF files.
type GGUFRepo struct {
	// Repo is the repository id, OWNER/NAME.
	Repo string `json:"repo"`
	// Source is the repository's page.
	Source string `json:"source"`
}

// Model is one catalog entry. A nil fact is unknown: no source stating it
// was recorded.
type Model struct {
	// ID names the entry: lower-case letters, digits, '.', '-'.
	ID string `json:"id"`
	// Name is the model's name as its publisher writes it.
	Name string `json:"name"`
	// Repo is the publisher's Hugging Face repository, OWNER/NAME.
	Repo string `json:"repo"`
	// Architecture is the model_type of its config.json (llama, qwen2 …).
	Architecture *Fact[string] `json:"architecture,omitempty"`
	// Params is the number of parameters, as rounded by the source.
	Params *Fact[int64] `json:"params,omitempty"`
	// ContextLength is the context, in tokens, the model supports natively.
	ContextLength *Fact[int] `json:"context_length,omitempty"`
	// Layers, Heads, KVHeads, HeadDim and Vocab are the transformer's
	// hyper-parameters (HeadDim is config.json's head_dim, or hidden_size /
	// num_attention_heads where it has none).
	Layers  *Fact[int] `json:"layers,omitempty"`
	Heads   *Fact[int] `json:"heads,omitempty"`
	KVHeads *Fact[int] `json:"kv_heads,omitempty"`
	HeadDim *Fact[int] `json:"head_dim,omitempty"`
	Vocab   *Fact[int] `json:"vocab,omitempty"`
	// License is the license's id (see Licenses).
	License *Fact[string] `json:"license,omitempty"`
	// Openness is OpenWeights or OpenSource.
	Openness *Fact[string] `json:"openness,omitempty"`
	// GGUF lists repositories publishing the model as GGUF, preferred first.
	GGUF []GGUFRepo `json:"gguf,omitempty"`
	// Tasks are the tasks the source says the model suits.
	Tasks []Fact[string] `json:"tasks,omitempty"`
}

// Catalog is the list of models.
type Catalog struct {
	Version int     `json:"version"`
	Models  []Model `json:"models"`
}

// License describes a license models are published under.
type License struct {
	// ID is the identifier, as Hugging Face's license tag writes it (SPDX's
	// lower-cased where SPDX has one).
	ID string `json:"id"`
	// Name is the license's full name.
	Name string `json:"name"`
	// Permissive is true for a license that lets anyone use, modify and
	// redistribute the model for any purpose with attribution only (no use
	// policy, no user cap, no field-of-use restriction).
	Permissive bool `json:"permissive"`
	// URL is the license text.
	URL string `json:"url"`
}

// Licenses are the licenses catalog entries may name.
var Licenses = []License{
	{"apache-2.0", "Apache License 2.0", true, "https://www.apache.org/licenses/LICENSE-2.0"},
	{"mit", "MIT License", true, "https://opensource.org/license/mit"},
	{"llama3.1", "Llama 3.1 Community License Agreement", false, "https://www.llama.com/llama3_1/license/"},
	{"llama3.2", "Llama 3.2 Community License Agreement", false, "https://www.llama.com/llama3_2/license/"},
	{"gemma", "Gemma Terms of Use", false, "https://ai.google.dev/gemma/terms"},
	{"qwen-research", "Qwen Research License Agreement", false, "https://huggingface.co/Qwen/Qwen2.5-3B-Instruct/blob/main/LICENSE"},
}

// LookupLicense returns the license with the given id (case-insensitive;
// SPDX's "Apache-2.0" and "MIT" are found too).
func LookupLicense(id string) (License, bool) {
	for _, l := range Licenses {
		if strings.EqualFold(l.ID, strings.TrimSpace(id)) {
			return l, true
		}
	}
	return License{}, false
}

// Load returns the catalog embedded in glassbox.
func Load() (*Catalog, error) { return Parse(catalogJSON) }

// Parse decodes a catalog file and validates it (see Validate). Unknown
// fields are errors, so that a misspelt fact is not silently dropped.
func Parse(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("catalog: not a catalog file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("catalog: not a catalog file: data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var (
	idPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	repoPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	archPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// checkSource reports what is wrong with a fact's source URL ("" if nothing).
func checkSource(s string) string {
	if s == "" {
		return "has no source (a fact without a source must be left out)"
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.ContainsAny(s, " \t\n") {
		return fmt.Sprintf("source %q is not an https URL", s)
	}
	return ""
}

// Validate checks every entry: an id, a name and a repository well formed
// and unique; every fact present with an https source and a plausible value;
// licenses from Licenses, openness classes and tasks from the known lists,
// GGUF repositories well formed and not repeated. It returns every problem
// found, joined.
func (c *Catalog) Validate() error {
	var errs []error
	bad := func(m *Model, format string, args ...any) {
		errs = append(errs, fmt.Errorf("catalog: %s: %s", m.ID, fmt.Sprintf(format, args...)))
	}
	if c.Version != Version {
		errs = append(errs, fmt.Errorf("catalog: version %d, want %d", c.Version, Version))
	}
	if len(c.Models) == 0 {
		errs = append(errs, errors.New("catalog: no models"))
	}
	ids, repos, ggufs := map[string]bool{}, map[string]string{}, map[string]string{}
	for i := range c.Models {
		m := &c.Models[i]
		if !idPattern.MatchString(m.ID) {
			errs = append(errs, fmt.Errorf("catalog: model %d: id %q: want lower-case letters, digits, '.' and '-'", i, m.ID))
		}
		if ids[m.ID] {
			bad(m, "id listed twice")
		}
		ids[m.ID] = true
		if strings.TrimSpace(m.Name) == "" {
			bad(m, "no name")
		}
		if !repoPattern.MatchString(m.Repo) {
			bad(m, "repo %q: want OWNER/NAME", m.Repo)
		} else if other, ok := repos[strings.ToLower(m.Repo)]; ok {
			bad(m, "repo %s is also %s's", m.Repo, other)
		}
		repos[strings.ToLower(m.Repo)] = m.ID
		str := func(name string, f *Fact[string], ok func(string) string) {
			if f == nil {
				return
			}
			if p := checkSource(f.Source); p != "" {
				bad(m, "%s %s", name, p)
			}
			if p := ok(f.Value); p != "" {
				bad(m, "%s %q: %s", name, f.Value, p)
			}
		}
		num := func(name string, f *Fact[int], lo, hi int) {
			if f == nil {
				return
			}
			if p := checkSource(f.Source); p != "" {
				bad(m, "%s %s", name, p)
			}
			if f.Value < lo || f.Value > hi {
				bad(m, "%s %d is outside [%d, %d]", name, f.Value, lo, hi)
			}
		}
		str("architecture", m.Architecture, func(v string) string {
			if !archPattern.MatchString(v) {
				return "want config.json's model_type (lower-case letters, digits, '_')"
			}
			return ""
		})
		if m.Params != nil {
			if p := checkSource(m.Params.Source); p != "" {
				bad(m, "params %s", p)
			}
			if m.Params.Value < 1e6 || m.Params.Value > 1e13 {
				bad(m, "params %d is outside [1e6, 1e13]", m.Params.Value)
			}
		}
		num("context_length", m.ContextLength, 128, 1<<24)
		num("layers", m.Layers, 1, 1024)
		num("heads", m.Heads, 1, 1024)
		num("kv_heads", m.KVHeads, 1, 1024)
		num("head_dim", m.HeadDim, 1, 4096)
		num("vocab", m.Vocab, 2, 1<<24)
		if m.Heads != nil && m.KVHeads != nil && (m.KVHeads.Value > m.Heads.Value || m.Heads.Value%m.KVHeads.Value != 0) {
			bad(m, "kv_heads %d does not divide heads %d", m.KVHeads.Value, m.Heads.Value)
		}
		str("license", m.License, func(v string) string {
			if l, ok := LookupLicense(v); !ok || l.ID != v {
				return "not a license of catalog.Licenses (add it there with its text's URL and whether it is permissive)"
			}
			return ""
		})
		str("openness", m.Openness, func(v string) string {
			if v != OpenWeights && v != OpenSource {
				return fmt.Sprintf("want %s or %s", OpenWeights, OpenSource)
			}
			return ""
		})
		seenGGUF := map[string]bool{}
		for _, g := range m.GGUF {
			if !repoPattern.MatchString(g.Repo) {
				bad(m, "gguf repo %q: want OWNER/NAME", g.Repo)
			}
			if p := checkSource(g.Source); p != "" {
				bad(m, "gguf repo %s %s", g.Repo, p)
			}
			k := strings.ToLower(g.Repo)
			if seenGGUF[k] {
				bad(m, "gguf repo %s listed twice", g.Repo)
			} else if other, ok := ggufs[k]; ok {
				bad(m, "gguf repo %s is also listed for %s", g.Repo, other)
			}
			seenGGUF[k], ggufs[k] = true, m.ID
		}
		seenTask := map[string]bool{}
		for i := range m.Tasks {
			t := &m.Tasks[i]
			str("task", t, func(v string) string {
				if !knownTask(v) {
					return "want one of " + strings.Join(Tasks, ", ")
				}
				if seenTask[v] {
					return "listed twice"
				}
				seenTask[v] = true
				return ""
			})
		}
	}
	return errors.Join(errs...)
}

func knownTask(t string) bool {
	for _, k := range Tasks {
		if k == t {
			return true
		}
	}
	return false
}

// Suits reports whether the catalog lists task among the model's tasks.
func (m *Model) Suits(task string) bool {
	for _, t := range m.Tasks {
		if t.Value == task {
			return true
		}
	}
	return false
}

// TaskNames returns the model's tasks.
func (m *Model) TaskNames() []string {
	out := make([]string, len(m.Tasks))
	for i, t := range m.Tasks {
		out[i] = t.Value
	}
	return out
}

// LicenseInfo returns the model's license, ok false when unknown.
func (m *Model) LicenseInfo() (License, bool) {
	if m.License == nil {
		return License{}, false
	}
	return LookupLicense(m.License.Value)
}

// Permissive reports whether the model's license is known and permissive.
func (m *Model) Permissive() bool {
	l, ok := m.LicenseInfo()
	return ok && l.Permissive
}

// IsOpenSource reports whether the model is known to be open source (data,
// code and recipe published), not only open weights.
func (m *Model) IsOpenSource() bool { return m.Openness != nil && m.Openness.Value == OpenSource }

// ByGGUFRepo returns the model a GGUF repository (OWNER/NAME,
// case-insensitive) publishes, or nil.
func (c *Catalog) ByGGUFRepo(repo string) *Model {
	for i := range c.Models {
		for _, g := range c.Models[i].GGUF {
			if strings.EqualFold(g.Repo, repo) {
				return &c.Models[i]
			}
		}
		if strings.EqualFold(c.Models[i].Repo, repo) {
			return &c.Models[i]
		}
	}
	return nil
}

// ByID returns the model with the given id, or nil.
func (c *Catalog) ByID(id string) *Model {
	for i := range c.Models {
		if c.Models[i].ID == id {
			return &c.Models[i]
		}
	}
	return nil
}

// Filter selects catalog models. Its zero value keeps every model.
type Filter struct {
	// Task keeps the models listed as suiting it ("" keeps all).
	Task string
	// Permissive keeps the models whose license is known and permissive.
	Permissive bool
	// License keeps the models under this license id ("" keeps all).
	License string
	// OpenSource keeps the models known to be open source.
	OpenSource bool
	// MaxParams keeps the models whose parameter count is known and at most
	// this (0 keeps all).
	MaxParams int64
}

// Check returns the filter's error for an unknown task, so that a typo does
// not silently select nothing.
func (f Filter) Check() error {
	if f.Task != "" && !knownTask(f.Task) {
		return fmt.Errorf("unknown task %q: want one of %s", f.Task, strings.Join(Tasks, ", "))
	}
	if f.License != "" {
		if _, ok := LookupLicense(f.License); !ok {
			ids := make([]string, len(Licenses))
			for i, l := range Licenses {
				ids[i] = l.ID
			}
			return fmt.Errorf("unknown license %q: want permissive or one of %s", f.License, strings.Join(ids, ", "))
		}
	}
	if f.MaxParams < 0 {
		return fmt.Errorf("the maximum number of parameters must be positive, got %d", f.MaxParams)
	}
	return nil
}

// Match reports whether m passes the filter.
func (f Filter) Match(m *Model) bool {
	switch {
	case f.Task != "" && !m.Suits(f.Task):
		return false
	case f.Permissive && !m.Permissive():
		return false
	case f.License != "" && (m.License == nil || !strings.EqualFold(m.License.Value, f.License)):
		return false
	case f.OpenSource && !m.IsOpenSource():
		return false
	case f.MaxParams > 0 && (m.Params == nil || m.Params.Value > f.MaxParams):
		return false
	}
	return true
}

// Select returns the models passing f, in catalog order.
func (c *Catalog) Select(f Filter) ([]Model, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	var out []Model
	for i := range c.Models {
		if f.Match(&c.Models[i]) {
			out = append(out, c.Models[i])
		}
	}
	return out, nil
}

// Sources returns every distinct source URL of m's facts, sorted.
func (m *Model) Sources() []string {
	set := map[string]bool{}
	add := func(s string) {
		if s != "" {
			set[s] = true
		}
	}
	for _, f := range []*Fact[string]{m.Architecture, m.License, m.Openness} {
		if f != nil {
			add(f.Source)
		}
	}
	if m.Params != nil {
		add(m.Params.Source)
	}
	for _, f := range []*Fact[int]{m.ContextLength, m.Layers, m.Heads, m.KVHeads, m.HeadDim, m.Vocab} {
		if f != nil {
			add(f.Source)
		}
	}
	for _, g := range m.GGUF {
		add(g.Source)
	}
	for _, t := range m.Tasks {
		add(t.Source)
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ParseCount parses a number of parameters or bytes written with an
// optional K, M, G/B or T suffix (powers of 1000): "3B", "1.5B", "500M",
// "7000000". It is what --max-params takes.
func ParseCount(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'm', 'M':
			mult, t = 1e6, t[:n-1]
		case 'b', 'B', 'g', 'G':
			mult, t = 1e9, t[:n-1]
		case 't', 'T':
			mult, t = 1e12, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || v*mult > 1e15 || v != v {
		return 0, fmt.Errorf("%q is not a count such as 3B, 1.5B or 500M", s)
	}
	return int64(v*mult + 0.5), nil
}

// FormatCount writes a parameter count as "1.23B", "360M".
func FormatCount(n int64) string {
	f := float64(n)
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	switch {
	case n >= 1e12:
		return trim(fmt.Sprintf("%.2f", f/1e12)) + "T"
	case n >= 1e9:
		return trim(fmt.Sprintf("%.2f", f/1e9)) + "B"
	case n >= 1e6:
		return trim(fmt.Sprintf("%.2f", f/1e6)) + "M"
	case n >= 1e3:
		return trim(fmt.Sprintf("%.2f", f/1e3)) + "K"
	}
	return strconv.FormatInt(n, 10)
}
