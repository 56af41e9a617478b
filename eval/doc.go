// Package eval measures the quality of a model on the user's own machine and
// keeps the results, so that models can be compared from measurements.
//
//   - Perplexity over a text file with llama.cpp's llama-perplexity method
//     (non-overlapping chunks of the context, the second half of each chunk
//     scored, BOS at the start of every chunk), so that the numbers are
//     comparable with the ones people publish; with a base model, the KL
//     divergence and top-1 agreement of a model against it on the same text
//     (what a quantization costs).
//   - Multiple-choice scoring by log-likelihood (the HellaSwag, ARC and MMLU
//     method) over a JSONL file: acc and acc_norm as lm-evaluation-harness
//     computes them.
//   - Run records: each run is a Record (model file hash, settings, machine,
//     glassbox version, date and results) saved as JSON under the store's
//     evals/ folder by Save and read back by List, so runs accumulate.
//
// Logits come through the SDK (the root package glassbox); eval imports none
// of the engine's layers.
package eval
