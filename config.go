package glassbox

import (
	"fmt"

	"glassbox/gguf"
	"glassbox/model"
)

// ReadConfig reads the hyper-parameters of a model file without binding its
// weights or loading a tokenizer: the metadata of a GGUF file, or the header
// of a llama2.c checkpoint (which then needs no tokenizer beside it). Tools
// that describe a file, such as `glassbox show`, use it.
func ReadConfig(path string) (Config, error) {
	isGGUF, err := hasGGUFMagic(path)
	if err != nil {
		return Config{}, err
	}
	if isGGUF {
		f, err := gguf.Open(path)
		if err != nil {
			return Config{}, err
		}
		defer f.Close()
		c, err := model.ConfigFromGGUF(f)
		if err != nil {
			return Config{}, fmt.Errorf("load %s: %w", path, err)
		}
		return *c, nil
	}
	m, err := model.LoadLlama2C(path)
	if err != nil {
		if model.IsNotLlama2C(err) {
			return Config{}, neitherFormatError(path, err)
		}
		return Config{}, err
	}
	defer m.Close()
	return m.Config, nil
}
