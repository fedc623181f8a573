#!/bin/sh
# scale.sh BIN_DIR SRC_DIR -- hostile sizes for kfts-index (issue 7):
#   a 100 MB file holding one article and a 10 MB single line index in bounded memory (peak
#   RSS under a fixed budget; skipped in sanitizer builds, whose RSS is the sanitizer's);
#   a folder of 100,000 small files indexes, and re-indexes as unchanged;
#   an unreadable file is named, skipped, and costs nothing else; a database the user may
#   not write is a clear error that changes nothing (both run as an unprivileged user when
#   we are root, who can read and write anything).
set -u
bin=$1
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 2
export LC_ALL=C.UTF-8 TZ=UTC XDG_CONFIG_HOME="$tmp/.config"
fail=0
no() { echo "FAIL: $*"; fail=1; }

# Runs kfts-index with ARGS; prints "STATUS PEAK_RSS_MB".
run_rss() {
  python3 - "$bin/kfts-index" "$@" <<'EOF'
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
EOF
}

# -- bounded memory --------------------------------------------------------------------
mkdir big line
python3 - <<'EOF'
import random
r = random.Random(1)
words = "데이터센터 인공지능 모델 학습 추론 반도체 전력 투자 발표 오픈AI 엔비디아 GPU 클라우드".split()
with open("big/one.md", "w") as f:
    f.write("# 아주 긴 문서\n\n")
    while f.tell() < 100 * 1024 * 1024:
        f.write(" ".join(r.choice(words) for _ in range(60)) + "\n\n")
    f.write("마지막문단표지\n")
with open("line/one.txt", "w") as f:
    f.write("# 긴 줄\n\n" + "가나다라마바사 " * 480000 + "끝표지\n")
EOF
set -- $(run_rss --db big.db big)
[ "$1" = 0 ] || no "100 MB file: exit $1"
big_rss=$2
set -- $(run_rss --db line.db line)
[ "$1" = 0 ] || no "10 MB line: exit $1"
line_rss=$2
# The whole file is held while it is parsed (about twice its size at the peak); one article
# of 100 MB is indexed as 1 MB parts and tokenized window by window.
if [ "${KFTS_SANITIZED:-0}" = 1 ]; then
  echo "memory: skipped in a sanitizer build (peak RSS 100 MB file $big_rss MB, 10 MB line $line_rss MB)"
else
  [ "$big_rss" -le 300 ] || no "100 MB file: peak RSS $big_rss MB > 300 MB"
  [ "$line_rss" -le 96 ] || no "10 MB line: peak RSS $line_rss MB > 96 MB"
  echo "memory: peak RSS 100 MB file $big_rss MB (<= 300), 10 MB line $line_rss MB (<= 96)"
fi
n=$("$bin/kfts-query" --db big.db --count 마지막문단표지)
[ "$n" = 1 ] || no "100 MB file: the last paragraph found $n times"
parts=$(sqlite3 big.db "SELECT count(*) FROM articles WHERE title LIKE '아주 긴 문서 (%/%)'" 2>/dev/null || echo "?")
[ "$parts" -ge 100 ] 2>/dev/null || no "100 MB file: $parts parts"
n=$("$bin/kfts-query" --db line.db --count 끝표지)
[ "$n" = 1 ] || no "10 MB line: the last word found $n times"
parts=$(sqlite3 line.db "SELECT count(*) FROM articles" 2>/dev/null || echo "?")
n=$("$bin/kfts-query" --db line.db --count '"사 가나"')
[ "$n" = "$parts" ] || no "10 MB line: words across a space found in $n of $parts parts"

# -- 100,000 small files ----------------------------------------------------------------
python3 - <<'EOF'
import os
os.makedirs("many")
for i in range(100000):
    with open("many/f%06d.md" % i, "w") as f:
        f.write("# 문서 %d\n\n작은 파일 본문 %d 데이터센터\n" % (i, i))
EOF
t0=$(date +%s)
"$bin/kfts-index" -q --db many.db many || no "100k files: exit $?"
t1=$(date +%s)
n=$("$bin/kfts-query" --db many.db --count 데이터센터)
[ "$n" = 100000 ] || no "100k files: $n articles match"
out=$("$bin/kfts-index" --json --db many.db many)
echo "$out" | grep -q '"files_unchanged": 100000' || no "100k files: second run $out"
echo "100k files: indexed in $((t1 - t0)) s; the second run finds them unchanged"

# -- an unreadable file -----------------------------------------------------------------
mkdir -p perm/d
printf '# 읽힘\n\n읽히는 파일\n' > perm/d/ok.md
printf '# 못 읽음\n\n비밀\n' > perm/d/secret.md
chmod 000 perm/d/secret.md
as=""
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$tmp"; chmod 777 perm
  as="setpriv --reuid=65534 --regid=65534 --clear-groups"
  if ! $as true 2>/dev/null; then as=""; echo "unreadable file: skipped (root, and setpriv cannot drop privileges)"; fi
fi
if [ "$(id -u)" != 0 ] || [ -n "$as" ]; then
  err=$(cd perm && $as "$bin/kfts-index" d 2>&1 >/dev/null)
  st=$?
  [ "$st" = 1 ] || no "unreadable file: exit $st"
  echo "$err" | grep -q "^kfts-index: d/secret.md: cannot read: Permission denied; file skipped$" ||
    no "unreadable file: message '$err'"
  n=$(cd perm && $as "$bin/kfts-query" --count 읽히는)
  [ "$n" = 1 ] || no "unreadable file: the readable one found $n times"
  echo "unreadable file: $err"
  # A database the user may not write: a clear error, exit 2, the index as it was.
  if [ -n "$as" ]; then
    (cd perm && "$bin/kfts-index" -q d 2>/dev/null) # root indexes the secret too
    printf '# 새 파일\n\n새 본문\n' > perm/d/new.md
    chmod 755 perm
    before=$(sqlite3 perm/kfts.db "SELECT count(*) FROM articles")
    err=$(cd perm && $as "$bin/kfts-index" d 2>&1 >/dev/null)
    st=$?
    [ "$st" = 2 ] || no "read-only database: exit $st"
    echo "$err" | grep -q "^kfts-index: kfts.db: cannot write: the database or its folder is read-only; nothing was changed$" ||
      no "read-only database: message '$err'"
    after=$(sqlite3 perm/kfts.db "PRAGMA integrity_check; SELECT count(*) FROM articles" | tr '\n' ' ')
    [ "$after" = "ok $before " ] || no "read-only database: after the run '$after', before $before"
    echo "read-only database: $err"
  fi
fi
exit $fail
