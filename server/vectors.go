package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"glassbox"
	"glassbox/vectors"
)

// VectorSet is a set of word vectors served under a name (glassbox serve
// --vectors NAME=FILE), next to the token embedding tables of the models.
type VectorSet struct {
	Name    string
	Vectors *vectors.Vectors
}

// vectorSource is what a vectors request queries: a word-vector set, or a
// served model's token embedding table (loaded on first use, then kept).
type vectorSource struct {
	name  string
	kind  string // "vectors" or "model"
	model *entry // for kind "model"

	once sync.Once
	v    *vectors.Vectors
	err  error
}

// maxVectorNeighbors bounds the "n" of the vectors endpoints.
const maxVectorNeighbors = 100

// table returns the vectors, reading a model's token embeddings once.
func (src *vectorSource) table() (*vectors.Vectors, error) {
	src.once.Do(func() {
		if src.v == nil {
			src.v, src.err = src.model.model.TokenEmbeddings()
		}
	})
	if errors.Is(src.err, glassbox.ErrClosed) {
		return nil, shuttingDown()
	}
	return src.v, src.err
}

// initVectors prepares the sources: the word-vector sets, then every model.
func (s *Server) initVectors() error {
	s.vectorSets = map[string]*vectorSource{}
	for _, vs := range s.cfg.Vectors {
		if vs.Name == "" || vs.Vectors == nil {
			return errors.New("server: every vector set needs a name and its vectors")
		}
		if _, dup := s.vectorSets[vs.Name]; dup {
			return fmt.Errorf("server: two vector sets are named %q: name them with --vectors NAME=FILE", vs.Name)
		}
		s.vectorSets[vs.Name] = &vectorSource{name: vs.Name, kind: "vectors", v: vs.Vectors}
		s.vectorOrder = append(s.vectorOrder, vs.Name)
	}
	return nil
}

// VectorsSelect names what a vectors request queries: a word-vector set
// ("vectors") or the token embedding table of a model ("model"); with
// neither, the first vector set, or the default model when there is none.
type VectorsSelect struct {
	Vectors string `json:"vectors"`
	Model   string `json:"model"`
}

// source resolves the selection.
func (s *Server) source(ctx context.Context, sel VectorsSelect) (*vectorSource, *vectors.Vectors, error) {
	var src *vectorSource
	switch {
	case sel.Vectors != "" && sel.Model != "":
		return nil, nil, badRequest("vectors", "give either 'vectors' (a word-vector set) or 'model' (its token embeddings), not both")
	case sel.Vectors != "":
		src = s.vectorSets[sel.Vectors]
		if src == nil {
			msg := "this server has none (glassbox serve --vectors NAME=FILE)"
			if len(s.vectorOrder) > 0 {
				msg = "this server has " + strings.Join(s.vectorOrder, ", ")
			}
			return nil, nil, &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "vectors", Code: "vectors_not_found",
				Message: fmt.Sprintf("the word-vector set %q does not exist: %s", sel.Vectors, msg)}
		}
	case sel.Model == "" && len(s.vectorOrder) > 0:
		src = s.vectorSets[s.vectorOrder[0]]
	default:
		e, err := s.lookup(ctx, sel.Model)
		if err != nil {
			return nil, nil, err
		}
		src = e.vectors
	}
	v, err := src.table()
	return src, v, err
}

// word finds a word of the request's field in the vectors: itself, or for a
// model's table the token that stands for it (vectors.TokenWord).
func (src *vectorSource) word(v *vectors.Vectors, field, w string) (string, error) {
	if w == "" {
		return "", badRequest(field, "'%s' is required: a word", field)
	}
	if src.kind != "model" && v.Index(w) >= 0 {
		return w, nil
	}
	if src.kind == "model" {
		if t := vectors.TokenWord(v, w); t != "" {
			return t, nil
		}
		return "", &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: field, Code: "word_not_found",
			Message: fmt.Sprintf("invalid value for '%s': %q is not a token of model %s (nor with a word-start marker, ▁ or Ġ)", field, w, src.name)}
	}
	return "", &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: field, Code: "word_not_found",
		Message: fmt.Sprintf("invalid value for '%s': %q is not in the vocabulary of %s", field, w, src.name)}
}

// checkN validates "n" (default def) and "restrict".
func checkN(n *int, def int, restrict *int) (int, int, error) {
	k := def
	if n != nil {
		if *n < 1 || *n > maxVectorNeighbors {
			return 0, 0, badRequest("n", "invalid value for 'n': expected an integer between 1 and %d, got %d", maxVectorNeighbors, *n)
		}
		k = *n
	}
	r := 0
	if restrict != nil {
		if *restrict < 0 {
			return 0, 0, badRequest("restrict", "invalid value for 'restrict': expected 0 (the whole vocabulary) or a positive number of words, got %d", *restrict)
		}
		r = *restrict
	}
	return k, r, nil
}

// vectorSetInfo is an entry of GET /glassbox/vectors.
type vectorSetInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`            // "vectors" (a word-vector file) or "model" (its token embeddings)
	Dim  int    `json:"dim,omitempty"`   // vector length (a model's: its embedding length)
	Size int    `json:"words,omitempty"` // vocabulary size
}

// listVectors is GET /glassbox/vectors: the word-vector sets, then the models.
func (s *Server) listVectors(w http.ResponseWriter, r *http.Request) error {
	data := []vectorSetInfo{}
	for _, name := range s.vectorOrder {
		v := s.vectorSets[name].v
		data = append(data, vectorSetInfo{Name: name, Kind: "vectors", Dim: v.Dim, Size: v.Len()})
	}
	for _, e := range s.readyModels() {
		t := e.vectors
		c := t.model.model.Config()
		data = append(data, vectorSetInfo{Name: t.name, Kind: "model", Dim: c.Dim, Size: c.VocabSize})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
	return nil
}

// VectorsSimilarRequest is the body of POST /glassbox/vectors/similar.
type VectorsSimilarRequest struct {
	VectorsSelect
	Word     string `json:"word"`
	N        *int   `json:"n"`
	Restrict *int   `json:"restrict"`
}

// vectorsAnswer is the answer of the similar and analogy endpoints.
type vectorsAnswer struct {
	Source    string             `json:"source"` // the vector set or model queried
	Kind      string             `json:"kind"`
	Words     []string           `json:"words"` // the query's words as found (a model's: its tokens)
	Method    string             `json:"method,omitempty"`
	Neighbors []vectors.Neighbor `json:"neighbors"`
}

func (s *Server) vectorsSimilar(w http.ResponseWriter, r *http.Request) error {
	var req VectorsSimilarRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	n, restrict, err := checkN(req.N, 10, req.Restrict)
	if err != nil {
		return err
	}
	src, v, err := s.source(r.Context(), req.VectorsSelect)
	if err != nil {
		return err
	}
	word, err := src.word(v, "word", req.Word)
	if err != nil {
		return err
	}
	near, err := v.Similar(vectors.Query{Positive: []string{word}, N: n, Restrict: restrict})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, vectorsAnswer{Source: src.name, Kind: src.kind, Words: []string{word}, Neighbors: near})
	return nil
}

// VectorsAnalogyRequest is the body of POST /glassbox/vectors/analogy: "a is
// to b as c is to ?", ranked by 3CosAdd (the default) or 3CosMul.
type VectorsAnalogyRequest struct {
	VectorsSelect
	A        string `json:"a"`
	B        string `json:"b"`
	C        string `json:"c"`
	Method   string `json:"method"`
	N        *int   `json:"n"`
	Restrict *int   `json:"restrict"`
}

func (s *Server) vectorsAnalogy(w http.ResponseWriter, r *http.Request) error {
	var req VectorsAnalogyRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	n, restrict, err := checkN(req.N, 10, req.Restrict)
	if err != nil {
		return err
	}
	method := strings.ToLower(req.Method)
	switch method {
	case "":
		method = "3cosadd"
	case "3cosadd", "3cosmul":
	default:
		return badRequest("method", "invalid value for 'method': expected \"3cosadd\" or \"3cosmul\", got %q", req.Method)
	}
	src, v, err := s.source(r.Context(), req.VectorsSelect)
	if err != nil {
		return err
	}
	words := make([]string, 3)
	for i, f := range []struct{ field, w string }{{"a", req.A}, {"b", req.B}, {"c", req.C}} {
		if words[i], err = src.word(v, f.field, f.w); err != nil {
			return err
		}
	}
	near, err := v.Analogy(words[0], words[1], words[2], n, restrict, method == "3cosmul")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, vectorsAnswer{Source: src.name, Kind: src.kind, Words: words, Method: method, Neighbors: near})
	return nil
}

// VectorsProjectRequest is the body of POST /glassbox/vectors/project: the
// words to place on a plane, by PCA or t-SNE.
type VectorsProjectRequest struct {
	VectorsSelect
	Words      []string `json:"words"`
	Method     string   `json:"method"`     // "pca" (the default) or "tsne"
	Perplexity *float64 `json:"perplexity"` // t-SNE's (30 by default)
}

// vectorsProjection is the answer of POST /glassbox/vectors/project.
type vectorsProjection struct {
	Source string `json:"source"`
	Kind   string `json:"kind"`
	*vectors.Projection
}

func (s *Server) vectorsProject(w http.ResponseWriter, r *http.Request) error {
	var req VectorsProjectRequest
	if err := decodeJSON(r.Body, &req); err != nil {
		return err
	}
	if req.Method != "" && req.Method != "pca" && req.Method != "tsne" {
		return badRequest("method", "invalid value for 'method': expected \"pca\" or \"tsne\", got %q", req.Method)
	}
	var topts vectors.TSNEOptions
	if req.Perplexity != nil {
		if req.Method != "tsne" {
			return badRequest("perplexity", "'perplexity' is for \"method\": \"tsne\" only")
		}
		if *req.Perplexity < 1 || *req.Perplexity > 100 {
			return badRequest("perplexity", "invalid value for 'perplexity': expected a number between 1 and 100, got %g", *req.Perplexity)
		}
		topts.Perplexity = *req.Perplexity
	}
	if len(req.Words) < 2 || len(req.Words) > vectors.MaxProjectWords {
		return badRequest("words", "invalid value for 'words': expected 2 to %d words, got %d", vectors.MaxProjectWords, len(req.Words))
	}
	src, v, err := s.source(r.Context(), req.VectorsSelect)
	if err != nil {
		return err
	}
	words := make([]string, len(req.Words))
	for i, word := range req.Words {
		if words[i], err = src.word(v, fmt.Sprintf("words[%d]", i), word); err != nil {
			return err
		}
	}
	var p *vectors.Projection
	if req.Method == "tsne" {
		p, err = v.TSNE(words, topts)
	} else {
		p, err = v.PCA(words)
	}
	if err != nil {
		return badRequest("words", "invalid value for 'words': %v", err)
	}
	writeJSON(w, http.StatusOK, vectorsProjection{Source: src.name, Kind: src.kind, Projection: p})
	return nil
}
