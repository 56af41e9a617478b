// Package models embeds glassbox's models: the default one, a
// ~1M-parameter Llama trained by glassbox itself on the Go standard library
// sources (see MODEL_CARD.md and recipe.json beside this file), and the
// same model aligned for Go with GRPO (grpo/MODEL_CARD.md), so that glassbox
// runs with nothing to download.
//
// Every command that takes -m accepts an embedded model's short name
// (glassbox-go-1m, glassbox-go-1m-grpo); an SDK user finds one with Lookup
// and opens its bytes with glassbox.OpenBytes.
package models

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultName is the file name of the embedded default model.
const DefaultName = "glassbox-go-1m.f32.gguf"

// DefaultSHA256 is the SHA-256 of the embedded default model file.
const DefaultSHA256 = "826a2b7e4702f1af46138068842759693335ef37734050f47f15bf29e8934d69"

// Default holds the bytes of the embedded default GGUF model (F32 weights).
//
//go:embed glassbox-go-1m.f32.gguf
var Default []byte

// GRPOName is the file name of the embedded aligned model: the default
// model after GRPO against Go parse and type-check rewards with a
// pretraining mix (grpo/MODEL_CARD.md).
const GRPOName = "glassbox-go-1m-grpo.f32.gguf"

// GRPOSHA256 is the SHA-256 of the embedded aligned model file.
const GRPOSHA256 = "215a2d22b1f4121c8b8f350b1918b45e47f82fa7bcdc1cc4131632605644eed8"

// GRPO holds the bytes of the embedded aligned GGUF model (F32 weights).
//
//go:embed grpo/glassbox-go-1m-grpo.f32.gguf
var GRPO []byte

// MaxBytes is the size budget of one embedded model file (8 MB).
const MaxBytes = 8_000_000

// Model is a model embedded in the binary.
type Model struct {
	// Name is the short name commands accept with -m, such as
	// "glassbox-go-1m-grpo".
	Name string
	// File is the model's file name ("glassbox-go-1m-grpo.f32.gguf"); a
	// model opened from Data under this name reports File without ".gguf"
	// as its name, and the server lists it under that name.
	File string
	// SHA256 is the SHA-256 of Data, checked by Verify.
	SHA256 string
	// Data holds the GGUF bytes. They must not be modified.
	Data []byte
	// Card is the path of the model card in the repository, relative to
	// this package's directory.
	Card string
	// Summary says in a line what the model is.
	Summary string
	// Default is true for the model commands use without -m.
	Default bool
}

// Embedded returns the embedded models, the default one first.
func Embedded() []Model {
	return []Model{
		{Name: "glassbox-go-1m", File: DefaultName, SHA256: DefaultSHA256, Data: Default, Card: "MODEL_CARD.md", Default: true,
			Summary: "1M-parameter Llama trained from scratch on the Go standard library"},
		{Name: "glassbox-go-1m-grpo", File: GRPOName, SHA256: GRPOSHA256, Data: GRPO, Card: "grpo/MODEL_CARD.md",
			Summary: "glassbox-go-1m aligned for Go with GRPO (parse and type-check rewards, pretraining mix)"},
	}
}

// Names returns the names that designate the model: its short name, its
// file name without ".gguf" (what the server lists) and its file name.
func (m Model) Names() []string {
	return []string{m.Name, strings.TrimSuffix(m.File, ".gguf"), m.File}
}

// Lookup finds the embedded model a name designates, by any of its Names,
// ignoring case. The empty name is the default model.
func Lookup(name string) (Model, bool) {
	for _, m := range Embedded() {
		if name == "" && m.Default {
			return m, true
		}
		for _, n := range m.Names() {
			if strings.EqualFold(name, n) {
				return m, true
			}
		}
	}
	return Model{}, false
}

// Path returns the path of a file holding the default model, writing it
// once to the user cache directory ($XDG_CACHE_HOME/glassbox/<sha256>.gguf
// on Linux) so that it can be memory-mapped like any model file. An existing
// file is reused when its size matches; it is written to a temporary file and
// renamed, so concurrent callers never see a partial file.
func Path() (string, error) {
	return Embedded()[0].Path()
}

// PathIn is Path with an explicit directory.
func PathIn(dir string) (string, error) {
	return Embedded()[0].PathIn(dir)
}

// Path returns the path of a file holding the model in the user cache
// directory, as the function Path does for the default model.
func (m Model) Path() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("models: no cache directory for the embedded model %s: %w", m.Name, err)
	}
	return m.PathIn(filepath.Join(dir, "glassbox"))
}

// PathIn is the method Path with an explicit directory: the file is
// dir/<sha256>.gguf.
func (m Model) PathIn(dir string) (string, error) {
	p := filepath.Join(dir, m.SHA256+".gguf")
	if st, err := os.Stat(p); err == nil && st.Size() == int64(len(m.Data)) {
		return p, nil
	}
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("models: writing the embedded model %s: %w", m.Name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(dir, ".embedded-*.gguf")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(m.Data); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fail(err)
	}
	return p, nil
}

// Verify checks the model's bytes against its SHA-256 and size budget.
func (m Model) Verify() error {
	sum := sha256.Sum256(m.Data)
	if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
		return fmt.Errorf("models: embedded model %s has SHA-256 %s, expected %s", m.File, got, m.SHA256)
	}
	if len(m.Data) > MaxBytes {
		return fmt.Errorf("models: embedded model %s has %d bytes, beyond the budget of %d", m.File, len(m.Data), MaxBytes)
	}
	return nil
}

// Verify checks every embedded model's bytes against its SHA-256 and size
// budget.
func Verify() error {
	for _, m := range Embedded() {
		if err := m.Verify(); err != nil {
			return err
		}
	}
	return nil
}
