#!/usr/bin/env bash
# Regenerates the llama.cpp references in testdata/ that conformance_test.go
# compares glassbox with: for every GGUF file of ../shared/fixtures/gguf and for
# an F16 and an F32 KV cache, llama-server's greedy tokens and its top-10
# log-probabilities at every generated position, for several prompts.
#
# usage: internal/conformance/gen.sh LLAMA_SERVER [FIXTURES]
#   LLAMA_SERVER  llama-server built from source (CPU only, -DLLAMA_CURL=OFF);
#                 the references here come from llama.cpp c392e50 (b4747+1, the
#                 commit the fixtures' own references were made with).
#   FIXTURES      the fixtures folder (default: ../shared/fixtures from the
#                 repository root).
#
# Needs curl, jq and gzip. The server runs on 127.0.0.1 with one thread, a
# context of 512 and its default batch (one ubatch of up to 512 prompt
# tokens); OUT overrides the output folder. Each request is greedy
# (temperature 0, top_k 1), without prompt cache, with n_probs 10
# (probabilities of the full softmax of the raw logits).
# The prompt is sent as token ids (from /tokenize, BOS added), so the
# references do not depend on the tokenizer. Log-probabilities are rounded to
# 1e-4.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
server=${1:?usage: gen.sh LLAMA_SERVER [FIXTURES]}
fixtures=${2:-$here/../../../shared/fixtures}
out=${OUT:-$here/testdata}
port=${PORT:-18093}
commit=${LLAMA_COMMIT:-c392e5094deaf2d1a7c18683214f007fad3fe42b}

# MODELS (space-separated names) restricts the run; SERVER_ARGS adds
# llama-server flags (for example -fa off for a llama.cpp where flash
# attention is on by default).
default_models=(
	stories260K-f32 stories260K-Q4_K_M
	stories260K-h192-f32 stories260K-h192-F16 stories260K-h192-Q8_0 stories260K-h192-Q4_0 stories260K-h192-Q4_K_M
	random-llama-d256-F16 random-llama-d256-Q8_0 random-llama-d256-Q4_0 random-llama-d256-Q4_K_M
	random-llama-d256-Q5_K_M random-llama-d256-Q6_K random-llama-d256-Q2_K
	llama-2-tiny-random
)
read -r -a models <<<"${MODELS:-${default_models[*]}}"
read -r -a server_args <<<"${SERVER_ARGS:-}"

# name, generated tokens, text
prompts=(
	"en|100|Once upon a time, there was a little dog named Max. Max liked to run in the garden with his friend"
	"fr|40|Il était une fois une petite fille qui habitait près de la mer. Chaque matin, elle"
	"code|40|func sum(xs []int) int {
	total := 0
	for _, x := range xs {"
	"long|40|The old lighthouse stood at the end of the rocky path, and every evening the keeper climbed its hundred steps to light the lamp. He was a quiet man who liked the sound of the waves and the cry of the gulls. One winter night a storm came from the north. The wind pulled at the windows, the rain hit the glass, and far out on the water a small boat was trying to find its way home. The keeper saw its light go up and down between the waves. He knew the rocks under the water better than anyone, so he took his lantern, put on his heavy coat and walked down to the shore. There he waved the lantern slowly from side to side, the old signal that every fisherman in the village knew. The boat turned, found the safe channel and came into the harbor just before midnight. In the morning the children of the village came to the lighthouse with bread and apples, and"
)

pid=
stop() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	pid=
}
trap stop EXIT

for m in "${models[@]}"; do
	file=$fixtures/gguf/$m.gguf
	[ -f "$file" ] || { echo "missing $file" >&2; exit 1; }
	for kv in f16 f32; do
		"$server" -m "$file" -c 512 -t 1 -ctk $kv -ctv $kv --host 127.0.0.1 --port "$port" -np 1 "${server_args[@]}" >"$out/.server.log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
			sleep 0.1
		done
		cases=()
		for p in "${prompts[@]}"; do
			name=${p%%|*}; rest=${p#*|}; n=${rest%%|*}; text=${rest#*|}
			ids=$(jq -n --arg t "$text" '{content: $t, add_special: true}' |
				curl -sf "http://127.0.0.1:$port/tokenize" -H 'Content-Type: application/json' -d @- | jq -c '.tokens')
			# keep prompt + generation within the context
			plen=$(jq 'length' <<<"$ids")
			n=$((n < 512 - plen - 1 ? n : 512 - plen - 1))
			if ! resp=$(jq -n --argjson ids "$ids" --argjson n "$n" \
				'{prompt: $ids, n_predict: $n, n_probs: 10, temperature: 0, top_k: 1, cache_prompt: false, seed: 42, return_tokens: true}' |
				curl -sf "http://127.0.0.1:$port/completion" -H 'Content-Type: application/json' -d @-); then
				echo "$m $kv $name: the server refused the request, case left out:" >&2
				tail -n 3 "$out/.server.log" >&2
				continue
			fi
			cases+=("$(jq -c --arg name "$name" --argjson ids "$ids" '
				def r: . * 10000 | round / 10000;
				{name: $name, prompt: $ids, tokens: .tokens,
				 probs: [.completion_probabilities[] | {id, logprob: (.logprob | r),
				   top: [.top_logprobs[] | [.id, (.logprob | r)]]}]}' <<<"$resp")")
		done
		stop
		printf '%s\n' "${cases[@]}" | jq -cs --arg model "$m.gguf" --arg kv "$kv" --arg commit "$commit" \
			'{model: $model, kv_cache: $kv, llama_cpp: $commit, context: 512, cases: .}' |
			gzip -9n >"$out/$m.$kv.json.gz"
		echo "$m $kv: $(stat -c %s "$out/$m.$kv.json.gz") bytes"
	done
done
rm -f "$out/.server.log"
