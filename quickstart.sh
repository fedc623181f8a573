#!/bin/sh
# quickstart.sh -- the two commands of README.md's Quick start, for a fresh Debian machine.
#   sh quickstart.sh demo   install dependencies, build, index corpus/, search it
#   sh quickstart.sh test   install dependencies, build, run the whole test suite:
#                           -Werror build + ctest, an ASan+UBSan build + ctest, the
#                           unit tests under valgrind's memcheck, and a short run of each
#                           libFuzzer target (clang)
#   sh quickstart.sh deps   only install the dependencies
set -eu
cd "$(dirname "$0")"

jobs=$(nproc 2>/dev/null || echo 2)

deps() {
  pkgs="build-essential cmake pkg-config libsqlite3-dev libutf8proc-dev libjansson-dev libzstd-dev
        libcmocka-dev python3 tzdata valgrind sqlite3 jq sqlite-utils clang time"
  missing=""
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "quickstart: installing$missing" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() { # DIR [cmake options...]
  dir=$1
  shift
  cmake -S . -B "$dir" -DKFTS_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

case "${1:-demo}" in
demo)
  deps
  build build
  ./build/kfts-index corpus
  echo
  ./build/kfts-query 데이터센터
  ;;
test)
  deps
  build build
  ctest --test-dir build --output-on-failure -j"$jobs"
  build build-asan -DKFTS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
  for t in build/tests/test_*; do
    echo "valgrind: $t"
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
      --show-leak-kinds=definite,indirect "$t" >/dev/null
  done
  echo "valgrind: all unit tests clean"
  # The libFuzzer targets (clang), each for a short smoke run on its seed corpus.
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DKFTS_FUZZ=ON -DKFTS_BUILD_TESTS=OFF -DKFTS_WERROR=ON >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_tokenize fuzz_parse fuzz_query fuzz_manifest
  for t in tokenize parse query manifest; do
    work=$(mktemp -d)
    cp -r "fuzz/corpus/$t/." "$work/"
    ./build-fuzz/fuzz/fuzz_$t -max_total_time=15 -rss_limit_mb=2048 -artifact_prefix="$work/" "$work" 2>&1 | tail -1
    rm -rf "$work"
  done
  echo "fuzz: smoke runs clean"
  ;;
deps) deps ;;
*)
  echo "usage: sh quickstart.sh demo|test|deps" >&2
  exit 2
  ;;
esac
