#!/bin/sh
# bench/timeline_speed.sh [ARTICLES] [RUNS] -- in-process time of timelines and facets on a
# generated archive (bench/gen_corpus.py, default 100000 articles), against counting the same
# query's matches in the same run. Builds build-bench/ (Release) first.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
runs=${2:-11}
b="$here/build-bench"
cmake -S "$here" -B "$b" -DCMAKE_BUILD_TYPE=Release -DKFTS_BUILD_TESTS=OFF >/dev/null
cmake --build "$b" -j2 --target kfts-index kfts-bench-timeline >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
KFTS_BUILD="$b" python3 "$here/bench/gen_corpus.py" "$tmp/gen" "$n"
t0=$(date +%s%N)
"$b/kfts-index" --db "$tmp/gen.db" -q "$tmp/gen"
t1=$(date +%s%N)
echo "indexed in $(((t1 - t0) / 1000000)) ms; $(du -m "$tmp/gen.db" | cut -f1) MB"
"$b/bench/kfts-bench-timeline" "$tmp/gen.db" "$runs"
