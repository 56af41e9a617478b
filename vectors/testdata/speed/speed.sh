#!/usr/bin/env bash
# Training speed of glassbox against gensim 4.2 (Debian python3-gensim) on the corpus of
# docs/vectors.md, the tools run alternately so that both see the same load.
#
#   vectors/testdata/speed/speed.sh [ROUNDS] [GLASSBOX] [ARCHS] [THREADS]
#
# defaults: 3 rounds, the glassbox on PATH, "cbow sg", "1 2". For each round, arch and thread
# count: gensim, glassbox (reproducible schedule), glassbox --hogwild. tokens/s = corpus tokens
# × 5 epochs / training seconds (vocabulary building excluded for both).
set -euo pipefail
R=${1:-3}
GB=${2:-glassbox}
ARCHS=${3:-"cbow sg"}
THREADS=${4:-"1 2"}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
T=$ROOT/../shared/fixtures/text
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$ROOT" && go run ./vectors/testdata/speed/tokens "$T/war-and-peace.txt" "$T/tinyshakespeare.txt") >"$TMP/tokens.txt" 2>"$TMP/ntokens"
N=$(cat "$TMP/ntokens")
rate() { sed -E 's/.* in ([0-9.]+)(m?s),.*/\1 \2/' | awk -v n="$N" '{s=$1; if ($2=="ms") s/=1000; printf "%.0f", n*5/s}'; }
for r in $(seq 1 "$R"); do for a in $ARCHS; do for t in $THREADS; do
	sg=1 flag=""
	if [ "$a" = cbow ]; then sg=0 flag=--cbow; fi
	l=$(cut -d' ' -f1 /proc/loadavg)
	g=$(/usr/bin/python3 "$HERE/gensim_train.py" "$TMP/tokens.txt" $sg "$t" 1 5 - 2>/dev/null | awk '{print $5}')
	d=$("$GB" vectors train $flag --lower -t "$t" --seed 1 -q -o "$TMP/gb.txt" "$T/war-and-peace.txt" "$T/tinyshakespeare.txt" | rate)
	h=$("$GB" vectors train $flag --hogwild --lower -t "$t" --seed 1 -q -o "$TMP/gb.txt" "$T/war-and-peace.txt" "$T/tinyshakespeare.txt" | rate)
	echo "round $r $a threads $t load $l gensim $g glassbox $d ($(echo "scale=2; $d/$g" | bc)) hogwild $h ($(echo "scale=2; $h/$g" | bc))"
done; done; done
