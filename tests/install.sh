#!/bin/sh
# install.sh BUILD_DIR SOURCE_DIR -- `cmake --install` into a temporary prefix, then use
# everything from there: both programs, pkg-config and the header and library (a program
# built against them), the SQLite extension, the man pages and the completions.
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
p="$tmp/prefix"
cmake --install "$build" --prefix "$p" >/dev/null
export LC_ALL=C.UTF-8
libdir=$(ls -d "$p"/lib*/ | head -1)
libdir=${libdir%/}
test -x "$p/bin/kfts-index" && test -x "$p/bin/kfts-query"
cp -r "$src/corpus" "$tmp/corpus"
cd "$tmp"
env -u LD_LIBRARY_PATH "$p/bin/kfts-index" -q corpus
"$p/bin/kfts-query" --tsv --fields title -n 1 '"HA-DW"' | tail -1 | grep -q GRPO
"$p/bin/kfts-query" --version | grep -q sqlite
# pkg-config and a program against the installed header and library
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs kfts)
cat > t.c <<'C'
#include <kfts.h>
#include <stdio.h>
int main(void) { puts(kfts_version_string()); return 0; }
C
cc -std=c11 ${KFTS_TEST_CFLAGS:-} t.c $flags -Wl,-rpath,"$libdir" -o t
./t | grep -q '^kfts'
# the loadable extension, from the sqlite3 shell
test -f "$libdir/kfts/kfts.so"
LD_PRELOAD=${KFTS_TEST_PRELOAD:-} sqlite3 kfts.db ".load $libdir/kfts/kfts" \
  "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '\"데이터센터\"'" | grep -q '^[1-9]'
# man pages (well-formed roff with every option of --help) and completions
for prog in kfts-index kfts-query; do
  page="$p/share/man/man1/$prog.1"
  head -1 "$page" | grep -q '^\.TH'
  for opt in $("$p/bin/$prog" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q -- "$(echo "$opt" | sed 's/-/\\\\-/g')" "$page" || { echo "$page: $opt not documented"; exit 1; }
  done
  test -f "$p/share/bash-completion/completions/$prog"
  test -f "$p/share/zsh/site-functions/_$prog"
done
bash -c ". '$p/share/bash-completion/completions/kfts-query'; complete -p kfts-query" | grep -q _kfts_query
echo "install: ok"
