// Package models embeds glassbox's default model: a ~1M-parameter Llama
// trained by glassbox itself on the Go standard library sources (see
// MODEL_CARD.md and recipe.json beside this file), so that glassbox runs
// with nothing to download.
package models

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultName is the file name of the embedded model.
const DefaultName = "glassbox-go-1m.f32.gguf"

// DefaultSHA256 is the SHA-256 of the embedded model file.
const DefaultSHA256 = "826a2b7e4702f1af46138068842759693335ef37734050f47f15bf29e8934d69"

// Default holds the bytes of the embedded GGUF model (F32 weights).
//
//go:embed glassbox-go-1m.f32.gguf
var Default []byte

// Path returns the path of a file holding the default model, writing it
// once to the user cache directory ($XDG_CACHE_HOME/glassbox/<sha256>.gguf
// on Linux) so that it can be memory-mapped like any model file. An existing
// file is reused when its size matches; it is written to a temporary file and
// renamed, so concurrent callers never see a partial file.
func Path() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("models: no cache directory for the default model: %w", err)
	}
	return PathIn(filepath.Join(dir, "glassbox"))
}

// PathIn is Path with an explicit directory.
func PathIn(dir string) (string, error) {
	p := filepath.Join(dir, DefaultSHA256+".gguf")
	if st, err := os.Stat(p); err == nil && st.Size() == int64(len(Default)) {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("models: writing the default model: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".default-*.gguf")
	if err != nil {
		return "", fmt.Errorf("models: writing the default model: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(Default); err != nil {
		tmp.Close()
		return "", fmt.Errorf("models: writing the default model: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("models: writing the default model: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", fmt.Errorf("models: writing the default model: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("models: writing the default model: %w", err)
	}
	return p, nil
}

// Verify checks the embedded bytes against DefaultSHA256.
func Verify() error {
	sum := sha256.Sum256(Default)
	if got := hex.EncodeToString(sum[:]); got != DefaultSHA256 {
		return fmt.Errorf("models: embedded model has SHA-256 %s, expected %s", got, DefaultSHA256)
	}
	return nil
}
