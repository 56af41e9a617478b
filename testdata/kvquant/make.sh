#!/bin/sh
# Regenerates testdata/kvquant: llama-server's greedy completions with top-10
# log-probabilities for fixture models run with a quantized key cache
# (--cache-type-k q8_0 / q4_0, flash attention off, values in F16 or F32).
# Runs outside CI: needs a llama.cpp build (LLAMA_BIN, default
# /work/peer/llama.cpp/build/bin, llama.cpp v0.5.0), the fixtures (FIXTURES,
# default /work/shared/fixtures), curl and jq. From the repository root:
#     sh testdata/kvquant/make.sh
set -eu
B=${LLAMA_BIN:-/work/peer/llama.cpp/build/bin}
F=${FIXTURES:-/work/shared/fixtures}
export LD_LIBRARY_PATH=$B
D=testdata/kvquant
T=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$T"' EXIT
SERVER=
PORT=${PORT:-18441}
# 45 tokens: the prompt spans two 32-cell groups of the padded cache
PROMPT='[1, 280, 300, 265, 317, 290, 271, 310, 259, 302, 284, 311, 412, 33, 97, 150, 201, 499, 87, 64, 320, 128, 256, 7, 19, 444, 381, 222, 111, 55, 66, 77, 88, 99, 101, 202, 303, 404, 505, 12, 23, 34, 45, 56, 67]'

# name model cache-type-k cache-type-v
while read -r name model ctk ctv; do
    "$B/llama-server" -m "$F/gguf/$model.gguf" --port $PORT -t 1 -c 256 -fa off -ctk $ctk -ctv $ctv \
        --no-warmup >"$T/server.log" 2>&1 &
    SERVER=$!
    until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do sleep 0.2; done
    curl -sf "http://127.0.0.1:$PORT/completion" -H 'Content-Type: application/json' -d "{
        \"prompt\": $PROMPT, \"n_predict\": 48, \"n_probs\": 10, \"temperature\": 0,
        \"ignore_eos\": true, \"return_tokens\": true, \"cache_prompt\": false, \"seed\": 42}" |
        jq -c '{model: "'$model'", cache_type_k: "'$ctk'", cache_type_v: "'$ctv'", prompt: '"$PROMPT"',
            n_predict: .generation_settings.n_predict, n_probs: .generation_settings.n_probs, tokens: .tokens,
            probs: [.completion_probabilities[] | {id, logprob, top: [.top_logprobs[] | {id, logprob}]}]}' \
        >"$D/$name.json"
    kill $SERVER
    wait $SERVER 2>/dev/null || true
done <<LIST
d256-F16-kq8_0 random-llama-d256-F16 q8_0 f16
d256-F16-kq4_0 random-llama-d256-F16 q4_0 f16
d256-Q8_0-kq8_0-vf32 random-llama-d256-Q8_0 q8_0 f32
d256-Q4_K_M-kq4_0-vf32 random-llama-d256-Q4_K_M q4_0 f32
d256-F16-kq4_0-vf32 random-llama-d256-F16 q4_0 f32
d256-F16-kq8_0-vf32 random-llama-d256-F16 q8_0 f32
LIST
