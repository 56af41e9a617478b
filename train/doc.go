// Package train trains Llama-architecture models from text, reproducibly:
// data files → manifest and train/held-out split → byte-level BPE tokenizer
// → packed token stream → reverse-mode autograd over the Llama ops (tape of
// backward closures, generic over float32 for training and float64 for the
// gradient checks) → AdamW with warm-up, cosine decay, clipping and gradient
// accumulation, data-parallel over the sequences of a batch with a
// fixed-order gradient reduction → checkpoints with exact resume → export to
// GGUF (F32, F16, Q8_0) and safetensors → evaluation (held-out perplexity and
// a next-line completion suite).
//
// A Recipe fixes everything the weights depend on; RunRecipe runs one.
// Training twice with the same recipe, data and build gives bit-identical
// weights, whatever the number of threads and whether or not the run was
// interrupted; see docs/training.md for what "the same build" covers.
package train
