// Package conformance holds no code: its tests compare glassbox's greedy
// generations with llama.cpp's on every GGUF fixture, for several prompts
// (English, French, code, a long one) and for F16 and F32 KV caches. The
// references in testdata/ are llama-server's token ids and top-10
// log-probabilities at every generated position, written by gen.sh from a
// llama-server built from source; the fixture models themselves come from
// ../shared/fixtures and the tests skip when it is absent.
package conformance
