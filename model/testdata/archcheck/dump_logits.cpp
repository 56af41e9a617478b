// dump_logits: evaluates a fixed prompt with llama.cpp and prints every logit as
// JSON, for glassbox's model/arch_test.go (a dev tool, not built by CI).
//
// The model is loaded with llama.cpp's default model and context parameters
// (flash attention off) on 1 thread, twice: with the default F16 KV cache and
// with an F32 one. Each time the prompt is decoded in one batch with the logits
// of every position, then n_steps greedy picks are fed back one token at a time.
//
// usage: dump_logits MODEL.gguf SHA256 N_STEPS ID...
// output (stdout): {"gguf_sha256", "n_prompt",
//                   "kv_f16": {"tokens", "picks", "logits"}, "kv_f32": {...}}
//
// With DUMP_LOGITS_LORA=FILE[:SCALE] in the environment, the LoRA adapter
// FILE is loaded (llama_adapter_lora_init) and set on both contexts with
// SCALE (default 1), as llama-cli --lora / --lora-scaled do; this needs the
// llama_set_adapters_lora API (llama.cpp 0.5.0).
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static void quiet_log(enum ggml_log_level level, const char * text, void * /*user*/) {
    if (level >= GGML_LOG_LEVEL_WARN) {
        fputs(text, stderr);
    }
}

// disable_flash_attn turns flash attention off in both the older API (a bool
// flash_attn) and the newer one (an enum flash_attn_type, 0 = disabled).
template <typename P>
static auto disable_flash_attn(P & p, int) -> decltype(p.flash_attn_type, void()) {
    p.flash_attn_type = decltype(p.flash_attn_type)(0);
}
template <typename P>
static void disable_flash_attn(P & p, long) {
    p.flash_attn = false;
}

static int argmax(const float * x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (x[i] > x[best]) {
            best = i;
        }
    }
    return best;
}

static void print_ids(const std::vector<llama_token> & ids) {
    printf("[");
    for (size_t i = 0; i < ids.size(); i++) {
        printf(i ? ",%d" : "%d", ids[i]);
    }
    printf("]");
}

static llama_adapter_lora * g_lora = nullptr;
static float g_lora_scale = 1.0f;

struct run_result {
    std::vector<llama_token> tokens; // prompt, then the greedy picks fed back
    std::vector<llama_token> picks;  // argmax after the prompt and after each step
    std::vector<std::vector<float>> rows; // logits after each token
};

// run evaluates prompt then n_steps greedy steps with a KV cache of type kv.
static bool run(llama_model * model, ggml_type kv, const std::vector<llama_token> & prompt, int n_steps, run_result & out) {
    llama_context_params cparams = llama_context_default_params();
    cparams.n_threads = 1;
    cparams.n_threads_batch = 1;
    disable_flash_attn(cparams, 0);
    cparams.type_k = kv;
    cparams.type_v = kv;
    llama_context * ctx = llama_init_from_model(model, cparams);
    if (!ctx) {
        fprintf(stderr, "cannot create a context\n");
        return false;
    }
    if (g_lora && llama_set_adapters_lora(ctx, &g_lora, 1, &g_lora_scale) != 0) {
        fprintf(stderr, "cannot set the LoRA adapter\n");
        return false;
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    out.tokens = prompt;
    llama_batch batch = llama_batch_init((int32_t) prompt.size(), 0, 1);
    for (size_t i = 0; i < prompt.size(); i++) {
        batch.token[i] = prompt[i];
        batch.pos[i] = (llama_pos) i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = (int32_t) prompt.size();
    bool ok = llama_decode(ctx, batch) == 0;
    if (ok) {
        for (size_t i = 0; i < prompt.size(); i++) {
            const float * l = llama_get_logits_ith(ctx, (int32_t) i);
            out.rows.emplace_back(l, l + n_vocab);
        }
        out.picks.push_back(argmax(out.rows.back().data(), n_vocab));
    }
    for (int s = 0; ok && s < n_steps; s++) {
        const llama_token id = out.picks.back();
        batch.token[0] = id;
        batch.pos[0] = (llama_pos) out.tokens.size();
        batch.n_seq_id[0] = 1;
        batch.seq_id[0][0] = 0;
        batch.logits[0] = 1;
        batch.n_tokens = 1;
        ok = llama_decode(ctx, batch) == 0;
        if (ok) {
            out.tokens.push_back(id);
            const float * l = llama_get_logits_ith(ctx, 0);
            out.rows.emplace_back(l, l + n_vocab);
            out.picks.push_back(argmax(l, n_vocab));
        }
    }
    if (!ok) {
        fprintf(stderr, "decoding failed\n");
    }
    llama_batch_free(batch);
    llama_free(ctx);
    return ok;
}

static void print_run(const char * name, const run_result & r) {
    printf("\"%s\":{\"tokens\":", name);
    print_ids(r.tokens);
    printf(",\"picks\":");
    print_ids(r.picks);
    printf(",\"logits\":[\n");
    for (size_t i = 0; i < r.rows.size(); i++) {
        printf("[");
        for (size_t j = 0; j < r.rows[i].size(); j++) {
            printf(j ? ",%.6g" : "%.6g", r.rows[i][j]);
        }
        printf(i + 1 < r.rows.size() ? "],\n" : "]\n");
    }
    printf("]}");
}

int main(int argc, char ** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.gguf SHA256 N_STEPS ID...\n", argv[0]);
        return 2;
    }
    const char * path = argv[1];
    const std::string sha = argv[2];
    const int n_steps = atoi(argv[3]);
    std::vector<llama_token> prompt;
    for (int i = 4; i < argc; i++) {
        prompt.push_back(atoi(argv[i]));
    }

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(path, llama_model_default_params());
    if (!model) {
        fprintf(stderr, "cannot load %s\n", path);
        return 1;
    }
    if (const char * lora = getenv("DUMP_LOGITS_LORA")) {
        std::string spec = lora;
        const size_t colon = spec.rfind(':');
        if (colon != std::string::npos) {
            g_lora_scale = strtof(spec.c_str() + colon + 1, nullptr);
            spec.resize(colon);
        }
        g_lora = llama_adapter_lora_init(model, spec.c_str());
        if (!g_lora) {
            fprintf(stderr, "cannot load the LoRA adapter %s\n", spec.c_str());
            return 1;
        }
    }
    run_result f16, f32;
    if (!run(model, GGML_TYPE_F16, prompt, n_steps, f16) || !run(model, GGML_TYPE_F32, prompt, n_steps, f32)) {
        return 1;
    }
    printf("{\"gguf_sha256\":\"%s\",\"n_prompt\":%zu,\n", sha.c_str(), prompt.size());
    print_run("kv_f16", f16);
    printf(",\n");
    print_run("kv_f32", f32);
    printf("}\n");

    llama_model_free(model);
    llama_backend_free();
    return 0;
}
