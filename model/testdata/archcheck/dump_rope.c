// dump_rope: prints the cosines and sines ggml's CPU rope uses, for
// glassbox's model/rope_test.go (a dev tool, not built by CI).
//
// For each parameter set it rotates the pairs (1, 0) of one head at
// positions 0..n_pos-1 with ggml_rope_ext (normal layout), which leaves
// (cos·mscale, sin·mscale) in place. The attn_factor passed to ggml is the
// one llama.cpp's context set-up derives (llama-context.cpp, compiled
// without fused operations): with ext_factor != 0,
// get_mscale(f) · 1/(1 + 0.1·logf(f)) for f the model's (global) factor,
// then times rope.scaling.attn_factor.
//
// usage: dump_rope N_DIMS N_POS N_CTX_ORIG BASE GLOBAL_FACTOR LAYER_FACTOR EXT_FACTOR ATTN_FACTOR STEP
// (a factor of 0 means none; the positions are 0, STEP, 2·STEP, ...)
// output: one line per position: the 32-bit patterns of cos0 sin0 cos1 sin1 ...
#include "ggml.h"
#include "ggml-cpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float get_mscale(float scale, float mscale) {
    return scale <= 1.0f ? 1.0f : (0.1f * mscale * logf(scale) + 1.0f);
}

int main(int argc, char ** argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: %s N_DIMS N_POS N_CTX_ORIG BASE GLOBAL_FACTOR LAYER_FACTOR EXT_FACTOR ATTN_FACTOR STEP\n", argv[0]);
        return 2;
    }
    const int n_dims = atoi(argv[1]), n_pos = atoi(argv[2]), n_ctx_orig = atoi(argv[3]);
    const float base = strtof(argv[4], NULL), gfactor = strtof(argv[5], NULL), lfactor = strtof(argv[6], NULL);
    const float ext = strtof(argv[7], NULL), meta_attn = strtof(argv[8], NULL);
    const int step = atoi(argv[9]);

    const float gscale = gfactor == 0.0f ? 1.0f : 1.0f / gfactor;
    const float lscale = lfactor == 0.0f ? 1.0f : 1.0f / lfactor;
    float attn = 1.0f;
    if (ext != 0) {
        const float f = 1.0f / gscale;
        attn = get_mscale(f, 1.0f);
        attn *= 1.0f / (1.0f + 0.1f * logf(f));
    }
    attn *= meta_attn;

    struct ggml_init_params ip = { 64 * 1024 * 1024, NULL, false };
    struct ggml_context * ctx = ggml_init(ip);
    struct ggml_tensor * x = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, n_dims, 1, n_pos);
    struct ggml_tensor * pos = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_pos);
    float * xd = (float *) x->data;
    for (int p = 0; p < n_pos; p++) {
        ((int32_t *) pos->data)[p] = p * step;
        for (int i = 0; i < n_dims; i += 2) {
            xd[p * n_dims + i] = 1.0f;
            xd[p * n_dims + i + 1] = 0.0f;
        }
    }
    struct ggml_tensor * y = ggml_rope_ext(ctx, x, pos, NULL, n_dims, 0, n_ctx_orig, base, lscale, ext, attn, 32.0f, 1.0f);
    struct ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, y);
    ggml_graph_compute_with_ctx(ctx, gf, 1);
    const float * yd = (const float *) y->data;
    for (int p = 0; p < n_pos; p++) {
        for (int i = 0; i < n_dims; i++) {
            uint32_t b;
            memcpy(&b, &yd[p * n_dims + i], 4);
            printf(i ? " %08x" : "%08x", b);
        }
        printf("\n");
    }
    ggml_free(ctx);
    return 0;
}
