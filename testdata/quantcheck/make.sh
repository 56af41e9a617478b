#!/bin/sh
# Regenerates testdata/quantcheck: the quantized models and llama-server's
# greedy completions with top-10 log-probabilities for them. Runs outside CI:
# needs a llama.cpp build (LLAMA_BIN, default /work/peer/llama.cpp/build/bin,
# llama.cpp v0.5.0), curl and jq. From the repository root:
#     sh testdata/quantcheck/make.sh
set -eu
B=${LLAMA_BIN:-/work/peer/llama.cpp/build/bin}
export LD_LIBRARY_PATH=$B
D=testdata/quantcheck
T=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$T"' EXIT
SERVER=
PORT=${PORT:-18439}
PROMPT='[1, 280, 300, 265, 317, 290, 271, 310, 259, 302, 284, 311]'

go run ./$D/gen "$T/f32.gguf"

# Every matrix, the token embeddings and the output included, in the type
# under test (--pure). MXFP4 has no llama-quantize file type of its own for a
# dense model: the base type is overridden tensor by tensor.
for t in IQ4_NL IQ4_XS IQ3_S IQ3_XXS IQ2_XXS IQ2_XS MXFP4; do
    case $t in
    MXFP4) "$B/llama-quantize" --pure --output-tensor-type mxfp4 --token-embedding-type mxfp4 \
        --tensor-type attn=mxfp4 --tensor-type ffn=mxfp4 "$T/f32.gguf" "$D/$t.gguf" Q8_0 1 >"$T/q.log" 2>&1 ;;
    *) "$B/llama-quantize" --imatrix "$T/f32.imatrix.gguf" --pure --output-tensor-type $t --token-embedding-type $t \
        "$T/f32.gguf" "$D/$t.gguf" $t 1 >"$T/q.log" 2>&1 ;;
    esac
done

for t in IQ4_NL IQ4_XS IQ3_S IQ3_XXS IQ2_XXS IQ2_XS MXFP4; do
    "$B/llama-server" -m "$D/$t.gguf" --port $PORT -t 1 -c 256 -fa off --no-warmup >"$T/server.log" 2>&1 &
    SERVER=$!
    until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do sleep 0.2; done
    curl -sf "http://127.0.0.1:$PORT/completion" -H 'Content-Type: application/json' -d "{
        \"prompt\": $PROMPT, \"n_predict\": 24, \"n_probs\": 10, \"temperature\": 0,
        \"ignore_eos\": true, \"return_tokens\": true, \"cache_prompt\": false, \"seed\": 42}" |
        jq -c '{model: "'$t'", prompt: '"$PROMPT"', n_predict: .generation_settings.n_predict,
            n_probs: .generation_settings.n_probs, tokens: .tokens,
            probs: [.completion_probabilities[] | {id, logprob, top: [.top_logprobs[] | {id, logprob}]}]}' \
        >"$D/$t.json"
    kill $SERVER
    wait $SERVER 2>/dev/null || true
done
