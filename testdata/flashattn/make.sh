#!/bin/sh
# Regenerates testdata/flashattn: llama-server's greedy completions with
# top-10 log-probabilities for fixture models run with flash attention on
# (-fa on) and F16, Q8_0 or Q4_0 keys and values. Each kernel of llama.cpp's
# CPU flash attention is covered: one chunk (a prompt under 64 tokens, and
# every step with a quantized cache), tiled (the 100-token prompt over an F16
# cache) and split (decoding past 256 cells of an F16 cache, 2 threads).
# Runs outside CI: needs a llama.cpp build (LLAMA_BIN, default
# /work/peer/llama.cpp/build/bin, llama.cpp v0.5.0), the fixtures (FIXTURES,
# default /work/shared/fixtures), curl and jq. From the repository root:
#     sh testdata/flashattn/make.sh
set -eu
B=${LLAMA_BIN:-/work/peer/llama.cpp/build/bin}
F=${FIXTURES:-/work/shared/fixtures}
export LD_LIBRARY_PATH=$B
D=testdata/flashattn
T=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$T"' EXIT
SERVER=
PORT=${PORT:-18451}
# prompt N: N token ids, (37 i + 11) mod 500 after BOS
prompt() {
    awk -v n="$1" 'BEGIN { printf "[1"; for (i = 1; i < n; i++) printf ", %d", (i*37 + 11) % 500; printf "]" }'
}

# name model cache-type-k cache-type-v prompt-tokens generated context threads
while read -r name model ctk ctv np ng ctx th; do
    P=$(prompt "$np")
    "$B/llama-server" -m "$F/gguf/$model.gguf" --port $PORT -t "$th" -c "$ctx" -fa on -ctk "$ctk" -ctv "$ctv" \
        --no-warmup >"$T/server.log" 2>&1 &
    SERVER=$!
    until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do sleep 0.2; done
    curl -sf "http://127.0.0.1:$PORT/completion" -H 'Content-Type: application/json' -d "{
        \"prompt\": $P, \"n_predict\": $ng, \"n_probs\": 10, \"temperature\": 0,
        \"ignore_eos\": true, \"return_tokens\": true, \"cache_prompt\": false, \"seed\": 42}" |
        jq -c '{model: "'"$model"'", cache_type_k: "'"$ctk"'", cache_type_v: "'"$ctv"'", context: '"$ctx"', threads: '"$th"',
            prompt: '"$P"', n_predict: .generation_settings.n_predict, n_probs: .generation_settings.n_probs, tokens: .tokens,
            probs: [.completion_probabilities[] | {id, logprob, top: [.top_logprobs[] | {id, logprob}]}]}' \
        >"$D/$name.json"
    kill $SERVER
    wait $SERVER 2>/dev/null || true
done <<LIST
d256-F16-f16 random-llama-d256-F16 f16 f16 45 48 256 1
d256-F16-f16-tiled random-llama-d256-F16 f16 f16 100 32 256 1
d256-F16-f16-split random-llama-d256-F16 f16 f16 300 24 640 2
d256-F16-kq8_0 random-llama-d256-F16 q8_0 f16 45 48 256 1
d256-F16-vq8_0 random-llama-d256-F16 f16 q8_0 45 48 256 1
d256-F16-q8_0 random-llama-d256-F16 q8_0 q8_0 45 48 256 1
d256-F16-q4_0 random-llama-d256-F16 q4_0 q4_0 45 48 256 1
d256-Q8_0-q8_0 random-llama-d256-Q8_0 q8_0 q8_0 100 32 256 1
d256-Q4_K_M-q4_0 random-llama-d256-Q4_K_M q4_0 q4_0 45 48 256 1
LIST
