package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"glassbox/server"
	"glassbox/vectors"
)

// vectorSpec is a --vectors value: a name and a file.
type vectorSpec struct{ name, path string }

// parseVectorSpec reads "FILE" or "NAME=FILE"; a value naming an existing
// file is a file even if it contains '='. The default name is the file's
// base name without a .bin, .txt, .vec or .w2v extension.
func parseVectorSpec(v string) (vectorSpec, error) {
	if v == "" {
		return vectorSpec{}, errors.New("empty --vectors value: expected a word2vec file or NAME=FILE")
	}
	if name, path, ok := strings.Cut(v, "="); ok && !strings.ContainsAny(name, `/\`) {
		if _, err := os.Stat(v); err != nil {
			if name == "" || path == "" {
				return vectorSpec{}, fmt.Errorf("--vectors %q: expected NAME=FILE with a name and a file", v)
			}
			return vectorSpec{name: name, path: path}, nil
		}
	}
	base := filepath.Base(v)
	for _, ext := range []string{".bin", ".txt", ".vec", ".w2v"} {
		if n := strings.TrimSuffix(base, ext); n != base && n != "" {
			return vectorSpec{name: n, path: v}, nil
		}
	}
	return vectorSpec{name: base, path: v}, nil
}

// loadVectorSets reads the --vectors files, telling say what each holds.
func loadVectorSets(values []string, say func(string)) ([]server.VectorSet, error) {
	var sets []server.VectorSet
	seen := map[string]string{}
	for _, val := range values {
		spec, err := parseVectorSpec(val)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[spec.name]; dup {
			return nil, fmt.Errorf("two word-vector sets are named %q (%s and %s): name them with --vectors NAME=FILE", spec.name, prev, spec.path)
		}
		seen[spec.name] = spec.path
		v, err := vectors.ReadFile(spec.path)
		if err != nil {
			return nil, fmt.Errorf("--vectors %s: %w", spec.name, err)
		}
		say(fmt.Sprintf("loaded word vectors %s from %s: %d words of dimension %d", spec.name, spec.path, v.Len(), v.Dim))
		sets = append(sets, server.VectorSet{Name: spec.name, Vectors: v})
	}
	return sets, nil
}
