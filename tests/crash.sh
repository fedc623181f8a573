#!/bin/sh
# crash.sh BUILD_DIR SOURCE_DIR [KILLS] -- kfts-index killed with SIGKILL at random moments.
# A generated archive (bench/gen, 3000 articles) is indexed once cleanly as the reference;
# kills come at a random moment within 90 % of the time that clean run took.
# Then KILLS (default 20) times: a fresh or an incremental run (a tenth of the files
# changed) is killed after a random delay; the database must then open and pass SQLite's
# and FTS5's integrity checks, and the next run must end in exactly the reference state
# (the same article ids, titles and cluster rows).
set -eu
build=$1
src=$2
kills=${3:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export LC_ALL=C.UTF-8 XDG_CONFIG_HOME="$tmp/.config"
python3 "$src/bench/gen" docs --articles 3000 --seed 5 >/dev/null
state() { # the content that must survive: ids, titles, dates, clusters
  sqlite3 "$1" "SELECT id, title, date FROM articles ORDER BY id; SELECT a.id, l.id FROM clusters c JOIN articles a ON a.doc = c.doc JOIN articles l ON l.doc = c.cluster ORDER BY a.id;" | md5sum
}
check() {
  ok=$(sqlite3 "$1" "PRAGMA integrity_check")
  [ "$ok" = ok ] || { echo "crash: PRAGMA integrity_check after kill $2: $ok"; exit 1; }
  # Killed before the schema's transaction committed: an empty database (no table at all),
  # which kfts-query calls empty and the next run fills. Nothing for FTS5 to check.
  if [ "$(sqlite3 "$1" "SELECT count(*) FROM sqlite_schema")" = 0 ]; then
    empty=$((empty + 1))
    return 0
  fi
  LD_PRELOAD=${KFTS_TEST_PRELOAD:-} sqlite3 "$1" ".load $build/kfts" \
    "INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)" ||
    { echo "crash: FTS5 integrity-check failed after kill $2"; exit 1; }
}
t0=$(date +%s%N)
"$build/kfts-index" -q --db ref.db docs
span=$(( ($(date +%s%N) - t0) / 1000000 * 9 / 10 )) # kill within 90 % of a clean run (ms)
[ "$span" -ge 50 ] || span=50
ref=$(state ref.db)
cp -r docs docs.orig
i=0
hit=0
empty=0
seed=$$
while [ $i -lt "$kills" ]; do
  i=$((i + 1))
  rm -rf docs && cp -r docs.orig docs
  if [ $((i % 2)) = 0 ] && [ -f t.db ]; then
    # incremental: the last complete state, then a tenth of the files edited, killed midway
    n=0
    for f in $(find docs -name '*.txt' | sort); do
      n=$((n + 1)); [ $((n % 10)) = 0 ] && printf '\n덧붙임 %d\n' "$i" >> "$f"
    done
  else
    rm -f t.db t.db-wal t.db-shm
  fi
  "$build/kfts-index" -q --db t.db docs 2>/dev/null &
  pid=$!
  seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
  ms=$((seed % span))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then hit=$((hit + 1)); fi
  wait "$pid" 2>/dev/null || true
  [ -f t.db ] && check t.db "$i"
  # back to the original files, and a complete run: the reference state
  rm -rf docs && cp -r docs.orig docs
  "$build/kfts-index" -q --db t.db docs
  check t.db "$i (after the next run)"
  got=$(state t.db)
  [ "$got" = "$ref" ] || { echo "crash: after kill $i and a full run the index differs from a clean build"; exit 1; }
done
echo "crash: $hit of $kills kills interrupted a run ($empty before the schema was written); every database intact, every next run equal to a clean build"
# Too few interruptions and this test proved nothing.
[ "$hit" -ge $((kills / 4)) ] || { echo "crash: only $hit kills landed while kfts-index ran"; exit 1; }
