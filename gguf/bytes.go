package gguf

// Bytes returns the whole file as parsed or mapped (read-only; valid until Close).
func (f *File) Bytes() []byte { return f.data }
