#!/bin/sh
# concurrency.sh BUILD_DIR SOURCE_DIR -- queries while kfts-index writes, and two indexers.
# Readers must never see "database is locked" or a broken index (WAL, busy timeout); a second
# indexer on the same database says it waits, waits, and the result equals a clean build.
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export LC_ALL=C.UTF-8 XDG_CONFIG_HOME="$tmp/.config"
python3 "$src/bench/gen" docs --articles 3000 --seed 9 >/dev/null
"$build/kfts-index" -q --db ref.db docs
ref=$(sqlite3 ref.db "SELECT id, title FROM articles ORDER BY id" | md5sum)
"$build/kfts-index" -q --db t.db docs/cards          # an index exists before the big run
"$build/kfts-index" -q --db t.db docs 2>first.err &
first=$!
sleep 0.2
"$build/kfts-index" --db t.db docs >second.out 2>second.err &
second=$!
n=0
while kill -0 "$first" 2>/dev/null && [ $n -lt 200 ]; do
  n=$((n + 1))
  s=0
  "$build/kfts-query" --db t.db --count 모델 >q.out 2>q.err || s=$?
  if [ "$s" -gt 2 ] || grep -qiE 'locked|malformed|corrupt|busy' q.err; then
    echo "concurrency: query $n during indexing: status $s: $(cat q.err)"
    exit 1
  fi
  [ "$s" -le 1 ] || { echo "concurrency: query $n: $(cat q.err)"; exit 1; }
done
wait "$first"
wait "$second"
echo "concurrency: $n queries while indexing, none failed"
got=$(sqlite3 t.db "SELECT id, title FROM articles ORDER BY id" | md5sum)
[ "$got" = "$ref" ] || { echo "concurrency: the index after two indexers differs from a clean build"; exit 1; }
[ "$(sqlite3 t.db 'PRAGMA integrity_check')" = ok ]
# Whether the second indexer above found the first still writing depends on the machine's
# load (a busy machine can finish the first before the second starts); here another holds
# the lock (flock(1), as kfts-index takes it) until the indexer has said that it waits.
flock t.db sh -c 'touch held; while [ ! -e go ]; do sleep 0.05; done' &
holder=$!
i=0
until [ -e held ]; do i=$((i + 1)); [ $i -lt 600 ] || { echo "concurrency: flock(1) did not start"; exit 1; }; sleep 0.05; done
"$build/kfts-index" --db t.db docs >third.out 2>third.err &
third=$!
i=0
until grep -q "another kfts-index is writing this index; waiting for it" third.err; do
  i=$((i + 1))
  [ $i -lt 600 ] || { echo "concurrency: the indexer did not say it waits: $(cat third.err)"; touch go; exit 1; }
  sleep 0.05
done
kill -0 "$third" 2>/dev/null || { echo "concurrency: the indexer did not wait for the lock"; exit 1; }
touch go
wait "$holder"
wait "$third" || { echo "concurrency: the waiting indexer failed: $(cat third.err)"; exit 1; }
[ "$(sqlite3 t.db "SELECT id, title FROM articles ORDER BY id" | md5sum)" = "$ref" ] || exit 1
echo "concurrency: the second indexer waited; the result equals a clean build"
