#!/usr/bin/env bash
# One server under load: start it, wait until /health answers 200, run batchload one at a
# time (2 requests), 4 at once and 16 at once (on its 4 slots), print the load average and
# batchload's lines, stop the server. With 16 streams on 4 slots, a stream waits for at most
# three waves of four before its own: its first token comes within 4 × T4 (T4: the wall time
# of 4 streams of as many tokens at once, also measured).
#
#   internal/cmd/batchload/serverload.sh glassbox|llama SERVER_BINARY MODEL.gguf [BATCHLOAD] [N] [N16]
#
# glassbox: SERVER_BINARY serve -m m=MODEL --parallel 4 -t 2 --ctx 1024
# llama:    SERVER_BINARY -m MODEL -np 4 -t 2 -c 4096 (llama-server: 1024 tokens per slot)
# N tokens per stream one at a time and 4 at once (default 128), N16 with 16 streams (default
# 32). BATCHLOAD is a built batchload (default: go run ./internal/cmd/batchload); build it and
# the servers beforehand when measuring, so that no compiler runs during the measurement.
# GLASSBOX_FLAGS adds flags to glassbox serve, LLAMA_FLAGS to llama-server.
set -euo pipefail
KIND=$1 BIN=$2 MODEL=$3
BL=${4:-}
N=${5:-128}
N16=${6:-32}
PORT=${PORT:-18090}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
if [ -z "$BL" ]; then
	BL="go run $ROOT/internal/cmd/batchload"
fi
URL=http://127.0.0.1:$PORT
LOG=$(mktemp)
case $KIND in
glassbox) "$BIN" serve -m m="$MODEL" --parallel 4 -t 2 --ctx 1024 --addr 127.0.0.1:"$PORT" ${GLASSBOX_FLAGS:-} >"$LOG" 2>&1 & ;;
llama) "$BIN" -m "$MODEL" -np 4 -t 2 -c 4096 --host 127.0.0.1 --port "$PORT" ${LLAMA_FLAGS:-} >"$LOG" 2>&1 & ;;
*) echo "serverload.sh: unknown server kind $KIND (glassbox or llama)" >&2; exit 2 ;;
esac
PID=$!
# on a failure, the end of the server's log says why
trap 'rc=$?; kill $PID 2>/dev/null; wait $PID 2>/dev/null; [ $rc = 0 ] || tail -n 20 "$LOG" >&2; rm -f "$LOG" "${TF:-}"' EXIT
for _ in $(seq 1 600); do
	if curl -fs "$URL/health" >/dev/null 2>&1; then break; fi
	if ! kill -0 $PID 2>/dev/null; then cat "$LOG" >&2; echo "serverload.sh: the server exited" >&2; exit 1; fi
	sleep 0.1
done
curl -fs "$URL/health" >/dev/null || { cat "$LOG" >&2; echo "serverload.sh: not ready after 60 s" >&2; exit 1; }
echo "== $KIND ($(basename "$BIN")) load $(cut -d' ' -f1-3 /proc/loadavg)"
# busy: the CPU time of the whole machine over each run, in percent of one core (200 = both
# cores busy); server and client: the server's and batchload's shares of it. What remains is
# other work, which the measurement should not have.
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
mine() { awk '{print $14+$15}' /proc/$PID/stat; }
TF=$(mktemp)
measure() {
	local b0 s0 t0 out
	b0=$(busy) s0=$(mine) t0=$(date +%s.%N)
	out=$(/usr/bin/time -f '%U %S' -o "$TF" $BL -url "$URL" "$@")
	echo "$out; busy $(awk -v b="$(( $(busy) - b0 ))" -v s="$(( $(mine) - s0 ))" -v c="$(awk '{print $1 + $2}' "$TF")" \
		-v t0="$t0" -v t1="$(date +%s.%N)" -v hz="$(getconf CLK_TCK)" \
		'BEGIN {w = (t1 - t0) * hz; printf "%.0f%%, server %.0f%%, client %.0f%%", 100 * b / w, 100 * s / w, 100 * c * hz / w}')"
}
# One short warm-up request so that the first measured one does not page the weights in.
$BL -url "$URL" -c 1 -requests 1 -n 8 >/dev/null
echo -n "1 at a time:  "; measure -c 1 -requests 2 -n "$N"
echo -n "4 at once:    "; measure -c 4 -n "$N"
echo -n "4 at once:    "; measure -c 4 -n "$N16"
echo -n "16 at once:   "; measure -c 16 -n "$N16"
