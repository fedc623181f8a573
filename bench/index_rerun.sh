#!/bin/sh
# bench/index_rerun.sh [BUILD_DIR] [RUNS] -- whole-process wall time of kfts-index on corpus/:
# a fresh build versus a re-run on the unchanged corpus, medians of RUNS runs each, measured
# in the same run so the ratio holds on a noisy machine.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build}
runs=${2:-9}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/corpus" "$tmp/corpus"
cd "$tmp"
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >fresh.txt
: >rerun.txt
i=0
while [ $i -lt "$runs" ]; do
  rm -f kfts.db kfts.db-wal kfts.db-shm
  t0=$(now); "$bin/kfts-index" -q corpus; t1=$(now)
  echo $(((t1 - t0) / 1000)) >>fresh.txt
  t0=$(now); "$bin/kfts-index" -q corpus; t1=$(now)
  echo $(((t1 - t0) / 1000)) >>rerun.txt
  i=$((i + 1))
done
f=$(median <fresh.txt)
r=$(median <rerun.txt)
bytes=$(cat corpus/* | wc -c)
echo "corpus: $(ls corpus | wc -l) files, $bytes bytes; $runs runs, medians of whole kfts-index processes"
echo "fresh build:      $((f / 1000)).$(printf %03d $((f % 1000))) ms"
echo "unchanged re-run: $((r / 1000)).$(printf %03d $((r % 1000))) ms"
awk -v f="$f" -v r="$r" 'BEGIN { printf "re-run / fresh:   %.2f\n", r / f }'
