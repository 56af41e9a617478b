package server

// The model routes of the Ollama API: /api/tags, /api/show, /api/ps,
// /api/pull, /api/delete, /api/version, and the embedding routes
// /api/embed and /api/embeddings.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"glassbox"
	"glassbox/gguf"
	"glassbox/store"
)

// ollamaDetails is the "details" object of a model.
type ollamaDetails struct {
	ParentModel       string   `json:"parent_model"`
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
}

// ollamaModel is an element of /api/tags and /api/ps.
type ollamaModel struct {
	Name          string        `json:"name"`
	Model         string        `json:"model"`
	ModifiedAt    string        `json:"modified_at,omitempty"`
	Size          int64         `json:"size"`
	Digest        string        `json:"digest"`
	Details       ollamaDetails `json:"details"`
	ExpiresAt     string        `json:"expires_at,omitempty"`
	SizeVRAM      *int64        `json:"size_vram,omitempty"`
	ContextLength int           `json:"context_length,omitempty"`
}

// fileFacts are what the Ollama routes tell of a model file, read from its
// GGUF metadata once per file version.
type fileFacts struct {
	size     int64
	modified time.Time
	digest   string
	details  ollamaDetails
	info     *store.Info // nil for a file that is not GGUF (llama2.c)
}

var (
	factsMu    sync.Mutex
	factsCache = map[string]*fileFacts{} // by path, size and modification time
)

// blobRE matches the file name of a store blob, which is its SHA-256.
var blobRE = regexp.MustCompile(`^sha256-([0-9a-f]{64})$`)

// factsOf reads the facts of a model file. The digest of a store blob is
// its SHA-256; for another file it is the SHA-256 of its path, size and
// modification time (it names the file version without reading gigabytes).
func factsOf(path string, cfg *glassbox.Config) (*fileFacts, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano())
	factsMu.Lock()
	f, ok := factsCache[key]
	factsMu.Unlock()
	if ok {
		return f, nil
	}
	f = &fileFacts{size: st.Size(), modified: st.ModTime()}
	if m := blobRE.FindStringSubmatch(filepath.Base(path)); m != nil {
		f.digest = m[1]
	} else {
		sum := sha256.Sum256([]byte(key))
		f.digest = hex.EncodeToString(sum[:])
	}
	f.details = ollamaDetails{Format: "gguf"}
	if info, err := store.Inspect(path); err == nil {
		f.info = info
		f.details.Family, f.details.Families = info.Architecture, []string{info.Architecture}
		f.details.ParameterSize = store.FormatCount(info.Parameters)
		f.details.QuantizationLevel = info.Quant
	} else if cfg != nil {
		f.details.Format = "llama2.c"
		f.details.Family, f.details.Families = cfg.Arch, []string{cfg.Arch}
		f.details.ParameterSize = store.FormatCount(uint64(cfg.Params()))
		f.details.QuantizationLevel = "F32"
	} else {
		return nil, err
	}
	factsMu.Lock()
	factsCache[key] = f
	factsMu.Unlock()
	return f, nil
}

// servedModel describes a served model for /api/tags and /api/ps.
func (e *entry) ollamaModel() (ollamaModel, *fileFacts) {
	cfg := e.model.Config()
	m := ollamaModel{Name: ollamaName(e.name), Model: ollamaName(e.name)}
	f, err := factsOf(e.model.Path(), &cfg)
	if err != nil { // a model opened from memory: what its configuration says
		m.Details = ollamaDetails{Format: "gguf", Family: cfg.Arch, Families: []string{cfg.Arch},
			ParameterSize: store.FormatCount(uint64(cfg.Params())), QuantizationLevel: cfg.FileType}
		m.ModifiedAt = time.Unix(e.created, 0).UTC().Format(time.RFC3339Nano)
		return m, nil
	}
	m.ModifiedAt, m.Size, m.Digest, m.Details = f.modified.UTC().Format(time.RFC3339Nano), f.size, f.digest, f.details
	return m, f
}

// ollamaTags answers GET /api/tags: the loaded models, then the others the
// server can load (its -m models and the store's), then any other model of
// the store.
func (s *Server) ollamaTags(w http.ResponseWriter, r *http.Request) error {
	out := []ollamaModel{}
	listed := map[string]bool{}
	for _, e := range s.readyModels() {
		m, _ := e.ollamaModel()
		out = append(out, m)
		listed[filepath.Clean(e.model.Path())] = true
	}
	for _, c := range s.catalogNotLoaded() {
		m := ollamaModel{Name: ollamaName(c.Name), Model: ollamaName(c.Name), Details: ollamaDetails{Format: "gguf", Families: []string{}}}
		if c.Path != "" {
			listed[filepath.Clean(c.Path)] = true
			if f, err := factsOf(c.Path, nil); err == nil {
				m.ModifiedAt, m.Size, m.Digest, m.Details = f.modified.UTC().Format(time.RFC3339Nano), f.size, f.digest, f.details
			}
		}
		out = append(out, m)
	}
	if s.cfg.Store != nil {
		ms, err := s.cfg.Store.List()
		if err != nil {
			return err
		}
		for _, man := range ms {
			if listed[filepath.Clean(s.cfg.Store.BlobPath(man.SHA256))] {
				continue
			}
			m := ollamaModel{Name: man.Name, Model: man.Name, ModifiedAt: man.Pulled.UTC().Format(time.RFC3339Nano), Size: man.Size, Digest: man.SHA256,
				Details: ollamaDetails{Format: "gguf", Families: []string{}}}
			if f, err := factsOf(s.cfg.Store.BlobPath(man.SHA256), nil); err == nil {
				m.Details = f.details
			}
			out = append(out, m)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
	return nil
}

// ollamaPS answers GET /api/ps: the models loaded, with when each will be
// unloaded if no request uses it (a model that stays loaded for the life of
// the server has the farthest time Ollama reports, as for keep_alive -1),
// and their size in memory: the file's weights and the KV cache pages their
// slots hold now (glassbox_kv_cache_bytes), which grow as sequences do and
// shrink when a slot's cache is evicted or erased.
func (s *Server) ollamaPS(w http.ResponseWriter, r *http.Request) error {
	out := []ollamaModel{}
	never := time.Now().Add(math.MaxInt64).UTC().Format(time.RFC3339Nano)
	for _, e := range s.readyModels() {
		m, _ := e.ollamaModel()
		m.ModifiedAt = ""
		m.ExpiresAt = never
		if t, ok := s.expiry(e); ok {
			m.ExpiresAt = t.UTC().Format(time.RFC3339Nano)
		}
		var zero int64
		m.SizeVRAM = &zero
		m.ContextLength = e.model.ContextSize()
		m.Size += e.kvHeld()
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
	return nil
}

// ollamaVersionHandler answers GET /api/version.
func (s *Server) ollamaVersionHandler(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"version": ollamaVersion})
	return nil
}

// OllamaModelRequest is the body of /api/show, /api/pull and /api/delete:
// the model as "model" (or "name", as older clients send it).
type OllamaModelRequest struct {
	Model    string `json:"model"`
	Name     string `json:"name"`
	Verbose  bool   `json:"verbose"`
	Stream   *bool  `json:"stream"`
	Insecure bool   `json:"insecure"`
}

func (r *OllamaModelRequest) model() (string, error) {
	name := r.Model
	if name == "" {
		name = r.Name
	}
	if strings.TrimSpace(name) == "" {
		return "", badRequest("model", "model is required")
	}
	return name, nil
}

// ollamaShowResponse is the answer of /api/show.
type ollamaShowResponse struct {
	License      string         `json:"license,omitempty"`
	Modelfile    string         `json:"modelfile"`
	Parameters   string         `json:"parameters"`
	Template     string         `json:"template"`
	Details      ollamaDetails  `json:"details"`
	ModelInfo    map[string]any `json:"model_info"`
	Capabilities []string       `json:"capabilities"`
	ModifiedAt   string         `json:"modified_at"`
}

// ggufModelInfo reads a GGUF file's metadata as Ollama's model_info: every key,
// arrays left out (null) unless verbose, plus general.parameter_count.
func ggufModelInfo(path string, verbose bool, params uint64) (map[string]any, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]any{"general.parameter_count": params}
	for _, kv := range f.KV {
		if a, ok := kv.Value.(gguf.Array); ok {
			if verbose {
				out[kv.Key] = a.Values
			} else {
				out[kv.Key] = nil
			}
			continue
		}
		out[kv.Key] = kv.Value
	}
	return out, nil
}

// ollamaParameters lists the settings Ollama's routes start from, in a
// Modelfile's PARAMETER syntax.
func ollamaParameters(ctx int) string {
	d := ollamaDefaults
	return fmt.Sprintf("num_ctx %d\ntemperature %g\ntop_k %d\ntop_p %g\nmin_p %g\nrepeat_penalty %g\nrepeat_last_n %d",
		ctx, d.temperature, d.topK, d.topP, d.minP, d.repeatPenalty, d.repeatLastN)
}

// capabilities are Ollama's capability names of a model: completion always,
// tools with a chat template (tool calls follow the template's syntax, or a
// generic JSON one), thinking when the template has a reasoning block,
// insert with fill-in-the-middle tokens, embedding (/api/embed pools the
// model's last hidden states).
func capabilities(chatTemplate string, fim bool) []string {
	c := []string{"completion"}
	if chatTemplate != "" {
		c = append(c, "tools")
		if strings.Contains(chatTemplate, "</think>") {
			c = append(c, "thinking")
		}
	}
	if fim {
		c = append(c, "insert")
	}
	return append(c, "embedding")
}

// ollamaShow answers POST /api/show for a served model or a model of the store.
func (s *Server) ollamaShow(w http.ResponseWriter, r *http.Request) error {
	var req OllamaModelRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	name, err := req.model()
	if err != nil {
		return err
	}
	var path, tmpl string
	var fim bool
	ctxLen := 0
	var facts *fileFacts
	e := s.peek(name) // /api/show does not load a model
	if e == nil {
		if canon, err := s.resolve(name); err == nil {
			for _, c := range s.catalog() {
				if c.Name == canon {
					path = c.Path
				}
			}
		}
		if path == "" && s.cfg.Store != nil {
			if man, err := s.cfg.Store.Lookup(name); err == nil {
				if path, err = s.cfg.Store.Path(man); err != nil {
					return err
				}
			}
		}
	}
	switch {
	case e != nil:
		path, tmpl, ctxLen = e.model.Path(), e.model.ChatTemplate(), e.model.ContextSize()
		_, _, _, fim = e.model.Tokenizer().FIM()
		_, facts = e.ollamaModel()
	case path != "":
		var err error
		if facts, err = factsOf(path, nil); err != nil {
			return err
		}
		if facts.info == nil {
			return badRequest("model", "model '%s' is not loaded and its file %s is not GGUF: load it with a request to show it", name, filepath.Base(path))
		}
		tmpl = facts.info.ChatTemplate
		ctxLen = int(facts.info.ContextLength)
		if gf, err := gguf.Open(path); err == nil {
			_, a := gf.Uint("tokenizer.ggml.fim_pre_token_id")
			_, b := gf.Uint("tokenizer.ggml.fim_suf_token_id")
			_, c := gf.Uint("tokenizer.ggml.fim_mid_token_id")
			fim = a && b && c
			gf.Close()
		}
	default:
		return ollamaNotFound(name, "")
	}
	out := ollamaShowResponse{Template: tmpl, Capabilities: capabilities(tmpl, fim), Parameters: ollamaParameters(ctxLen), ModelInfo: map[string]any{}}
	if facts != nil {
		out.Details, out.ModifiedAt = facts.details, facts.modified.UTC().Format(time.RFC3339Nano)
		if facts.info != nil {
			out.License = facts.info.License
			if mi, err := ggufModelInfo(path, req.Verbose, facts.info.Parameters); err == nil {
				out.ModelInfo = mi
			}
		}
	} else if e != nil {
		cfg := e.model.Config()
		out.Details = ollamaDetails{Format: "gguf", Family: cfg.Arch, Families: []string{cfg.Arch}, ParameterSize: store.FormatCount(uint64(cfg.Params())), QuantizationLevel: cfg.FileType}
	}
	if e != nil && len(out.ModelInfo) == 0 { // not a GGUF file: the configuration
		cfg := e.model.Config()
		a := cfg.Arch
		out.ModelInfo = map[string]any{"general.architecture": a, "general.parameter_count": cfg.Params(), a + ".context_length": cfg.ContextLength,
			a + ".embedding_length": cfg.Dim, a + ".block_count": cfg.Layers, a + ".attention.head_count": cfg.Heads, a + ".attention.head_count_kv": cfg.KVHeads}
	}
	var mf strings.Builder
	fmt.Fprintf(&mf, "# Modelfile generated by glassbox (the settings the Ollama routes start from)\nFROM %s\n", path)
	if tmpl != "" {
		fmt.Fprintf(&mf, "TEMPLATE \"\"\"%s\"\"\"\n", tmpl)
	}
	for _, line := range strings.Split(out.Parameters, "\n") {
		fmt.Fprintf(&mf, "PARAMETER %s\n", line)
	}
	out.Modelfile = mf.String()
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ollamaProgress is a line of /api/pull's stream.
type ollamaProgress struct {
	Status    string `json:"status"`
	Digest    string `json:"digest,omitempty"`
	Total     int64  `json:"total,omitempty"`
	Completed int64  `json:"completed,omitempty"`
}

// pullInterval is the least time between two progress lines of one file.
const pullInterval = 100 * time.Millisecond

// ollamaPull answers POST /api/pull: it pulls a GGUF model from Hugging Face
// into the store (hf.co/OWNER/REPO[:QUANT], as Ollama pulls from Hugging
// Face), streaming Ollama's progress lines; the digest of a file's lines is
// its path in the repository. The model is then listed by /api/tags.
func (s *Server) ollamaPull(w http.ResponseWriter, r *http.Request) error {
	var req OllamaModelRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	name, err := req.model()
	if err != nil {
		return err
	}
	if s.cfg.Store == nil {
		return &APIError{Status: http.StatusNotImplemented, Type: "invalid_request_error", Message: "this server has no model store to pull into"}
	}
	if !store.IsHFRef(name) && !strings.Contains(name, "/") {
		return badRequest("model", "pull model '%s': glassbox pulls GGUF models from Hugging Face: name one as hf.co/OWNER/REPO[:QUANT], such as hf.co/Qwen/Qwen3-0.6B-GGUF:Q8_0", name)
	}
	ref := name
	if !strings.HasPrefix(strings.ToLower(ref), "hf.co/") && !strings.HasPrefix(strings.ToLower(ref), "huggingface.co/") {
		ref = "hf.co/" + ref
	}
	if _, err := store.ParseRef(ref, true); err != nil {
		return badRequest("model", "pull model '%s': %v", name, err)
	}
	var st *ndjson
	if req.Stream == nil || *req.Stream {
		st = newNDJSON(w)
	}
	send := func(p ollamaProgress) {
		if st != nil {
			st.send(p)
		}
	}
	send(ollamaProgress{Status: "pulling manifest"})
	var last time.Time
	opts := store.PullOptions{Hub: s.cfg.Hub, Progress: func(ev store.ProgressEvent) {
		switch ev.Kind {
		case store.ProgressStart, store.ProgressFinish:
			send(ollamaProgress{Status: "pulling " + ev.File, Digest: ev.File, Total: max(ev.Total, 0), Completed: ev.Done})
			last = time.Now()
		case store.ProgressUpdate:
			if time.Since(last) >= pullInterval {
				send(ollamaProgress{Status: "pulling " + ev.File, Digest: ev.File, Total: max(ev.Total, 0), Completed: ev.Done})
				last = time.Now()
			}
		case store.ProgressNote:
			send(ollamaProgress{Status: ev.Message})
		}
	}}
	man, err := s.cfg.Store.Pull(r.Context(), ref, opts)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrModelNotFound) || errors.Is(err, store.ErrNotFound) {
			status = http.StatusNotFound
		}
		ae := &APIError{Status: status, Type: "server_error", Message: "pull model '" + name + "': " + err.Error()}
		return st.failed(r.Context(), ae)
	}
	done := ollamaProgress{Status: "success"}
	if st != nil {
		send(ollamaProgress{Status: "pulled " + man.Name, Digest: "sha256:" + man.SHA256, Total: man.Size, Completed: man.Size})
		send(done)
		return nil
	}
	writeJSON(w, http.StatusOK, done)
	return nil
}

// ollamaDelete answers DELETE /api/delete: it removes a model from the
// store. A served model cannot be deleted while the server runs.
func (s *Server) ollamaDelete(w http.ResponseWriter, r *http.Request) error {
	var req OllamaModelRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	name, err := req.model()
	if err != nil {
		return err
	}
	if e := s.peek(name); e != nil {
		if s.cfg.Load == nil {
			return badRequest("model", "model '%s' is served by this server (from %s): stop the server (or serve it no more) before deleting it", name, e.model.Path())
		}
		if !s.unload(e, "delete") {
			return badRequest("model", "model '%s' is in use by a request on this server (from %s): delete it once no request uses it", name, e.model.Path())
		}
	}
	if s.cfg.Store == nil {
		return ollamaNotFound(name, "")
	}
	if _, err := s.cfg.Store.Remove(name); err != nil {
		if errors.Is(err, store.ErrModelNotFound) {
			return ollamaNotFound(name, "")
		}
		if _, lerr := s.cfg.Store.Lookup(name); lerr != nil {
			return ollamaNotFound(name, "")
		}
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// StringList is a string or an array of strings (the "input" of /api/embed).
type StringList []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (l *StringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one == "" {
			*l = StringList{}
		} else {
			*l = StringList{one}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return &fieldError{"input", "expected a string or an array of strings"}
	}
	*l = many
	return nil
}

// OllamaEmbedRequest is the body of POST /api/embed (input) and of the
// legacy POST /api/embeddings (prompt).
type OllamaEmbedRequest struct {
	Model      string          `json:"model"`
	Input      StringList      `json:"input"`
	Prompt     *string         `json:"prompt"`
	Truncate   *bool           `json:"truncate"`
	Dimensions int             `json:"dimensions"`
	Options    OllamaOptions   `json:"options"`
	KeepAlive  json.RawMessage `json:"keep_alive"`
}

// embedInputs embeds texts on a slot; each vector is L2-normalised when
// norm is set (and cut to dims first when dims > 0). Inputs longer than the
// context are cut to it when truncate is set, an error otherwise.
func (s *Server) embedInputs(r *http.Request, e *entry, texts []string, truncate, norm bool, dims int) ([][]float32, int, error) {
	ctxLen := e.model.ContextSize()
	inputs := make([][]int, len(texts))
	total := 0
	for i, t := range texts {
		ids := e.model.Encode(t, glassbox.GenerateOptions{})
		if len(ids) > ctxLen {
			if !truncate {
				return nil, 0, badRequest("input", "input %d has %d tokens, more than the context length of model %s (%d): shorten it or set truncate to true", i, len(ids), e.name, ctxLen)
			}
			ids = ids[:ctxLen]
		}
		if len(ids) == 0 {
			return nil, 0, badRequest("input", "input %d has no tokens", i)
		}
		inputs[i] = ids
		total += len(ids)
	}
	out := make([][]float32, len(inputs))
	if len(inputs) == 0 {
		return out, 0, nil
	}
	sl, err := s.acquire(r.Context(), e, nil)
	if err != nil {
		return nil, 0, err
	}
	defer e.pool.release(sl)
	for i, ids := range inputs {
		if err := r.Context().Err(); err != nil {
			return nil, 0, err
		}
		v, err := e.model.EmbedIDs(ids)
		if err != nil {
			return nil, 0, err
		}
		if dims > 0 {
			v = v[:dims]
		}
		if norm {
			normalize(v)
		}
		out[i] = v
	}
	noteTokens(r.Context(), e.name, total, 0)
	return out, total, nil
}

// ollamaEmbed answers POST /api/embed: {"model", "embeddings", durations,
// "prompt_eval_count"}, each embedding normalised to unit length.
func (s *Server) ollamaEmbed(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req OllamaEmbedRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	if err != nil {
		return err
	}
	if keepAlive != nil {
		setKeepAlive(r.Context(), *keepAlive)
	}
	e, err := s.ollamaLookup(r.Context(), req.Model)
	if err != nil {
		return err
	}
	if req.Input == nil && req.Prompt != nil { // some clients send the legacy field
		req.Input = StringList{*req.Prompt}
	}
	if len(req.Input) > 2048 {
		return badRequest("input", "at most 2048 inputs per request, got %d", len(req.Input))
	}
	width := e.model.Config().Dim
	if req.Dimensions < 0 || req.Dimensions > width {
		return badRequest("dimensions", "invalid value for 'dimensions': expected 1 to %d (the width of model %s), got %d", width, e.name, req.Dimensions)
	}
	truncate := req.Truncate == nil || *req.Truncate
	vecs, n, err := s.embedInputs(r, e, req.Input, truncate, true, req.Dimensions)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": req.Model, "embeddings": vecs,
		"total_duration": time.Since(start).Nanoseconds(), "load_duration": 0, "prompt_eval_count": n})
	return nil
}

// ollamaEmbeddings answers the legacy POST /api/embeddings: {"embedding"},
// not normalised, as Ollama answers it.
func (s *Server) ollamaEmbeddings(w http.ResponseWriter, r *http.Request) error {
	var req OllamaEmbedRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	keepAlive, err := parseKeepAlive(req.KeepAlive)
	if err != nil {
		return err
	}
	if keepAlive != nil {
		setKeepAlive(r.Context(), *keepAlive)
	}
	e, err := s.ollamaLookup(r.Context(), req.Model)
	if err != nil {
		return err
	}
	if req.Prompt == nil || *req.Prompt == "" {
		writeJSON(w, http.StatusOK, map[string]any{"embedding": []float32{}})
		return nil
	}
	vecs, _, err := s.embedInputs(r, e, []string{*req.Prompt}, false, false, 0)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"embedding": vecs[0]})
	return nil
}
