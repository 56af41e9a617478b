// Package tensor holds the element types of model weights (F32, F16, BF16 and the
// GGML block-quantized formats), their dequantization, and the products the
// forward pass needs (dot, matrix-vector, matrix-matrix), behind one API that
// dispatches on type so that callers never do.
//
// # Numerics
//
// The products follow the CPU backend of ggml (llama.cpp) closely, so that a
// model run here gives the same greedy tokens and nearly the same logits as
// llama.cpp. As in ggml, the activation vector x is first converted to the
// weight type's "vec-dot type", once per MatVec/MatMul call, and every row
// product then works on that converted vector:
//
//	weight type           vec-dot type of x   row · x
//	F32                   F32                 float32 products, float32 sum
//	F16                   F16                 x rounded to F16; float32 products and sum
//	BF16                  BF16                x rounded to BF16; float32 products and sum
//	Q4_0, Q5_0, Q8_0      Q8_0                per block: int sum of products × d_w·d_x
//	Q4_1, Q5_1            Q8_1                per block: int sum × d_w·d_x + m_w·s_x
//	Q2_K … Q6_K, Q8_K     Q8_K                per super-block: Σ sub-scale·int sum × d_w·d_x,
//	                                          minus d_x·dmin_w·Σ min·bsum for Q2_K, Q4_K, Q5_K
//
// Activations are quantized as ggml's x86 (AVX2) CPU backend does it: Q8_0
// and Q8_1 use d = amax/127 and q = round-half-even(x·(127/amax)); Q8_K uses
// ggml's reference rounding (iscale = -127/max, round half to even). The
// Quantize function, meant for writing weights, follows ggml's *_ref
// quantizers instead (Q8_0/Q8_1: q = round-half-away(x/d)).
//
// # Kernels
//
// Every kernel (dequantize a row, convert activations, dot a weight row with
// converted activations) is a package-level function variable written in
// plain Go; faster twins (assembly) can replace them at init time without
// changing any caller. MatVec and MatMul split rows over a persistent worker
// pool (see SetThreads); each output element is computed by one worker with
// the same kernel, so results do not depend on the number of threads.
//
// Matrix.Pack gives a matrix a copy of its rows in the interleaved layout of
// this CPU's one-row kernels (Q4_0 and Q8_0 with AVX-512 VNNI: groups of
// sixteen rows, one row per 32-bit lane), which token generation streams
// instead of Data, with the same results bit for bit.
//
// Data is read in GGUF's byte order (little-endian); F32 weight rows are
// viewed in place, so the package assumes a little-endian host, as GGUF
// memory-mapping does.
package tensor
