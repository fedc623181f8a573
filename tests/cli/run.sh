#!/bin/sh
# run.sh CASE_DIR BIN_DIR CORPUS_DIR -- runs one golden CLI case.
# The case's `cmd` runs under sh in a fresh temporary folder with the built programs first
# on PATH, $KFTS_BUILD naming their folder (kfts.so is there) and $CORPUS naming the
# project's corpus/. Its stdout, stderr and exit status are
# compared with expected.out, expected.err (when present) and expected.status.
set -u
case_dir=$1
bin_dir=$2
CORPUS=$3
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 2
KFTS_BUILD=$bin_dir
export LC_ALL=C.UTF-8 TZ=UTC CORPUS KFTS_BUILD PATH="$bin_dir:$PATH"
unset KFTS_DB
export XDG_CONFIG_HOME="$tmp/.config" # no user config leaks in
sh "$case_dir/cmd" >out 2>err
echo $? >status
fail=0
if ! diff -u "$case_dir/expected.out" out; then fail=1; fi
if [ -f "$case_dir/expected.err" ] && ! diff -u "$case_dir/expected.err" err; then fail=1; fi
if ! diff -u "$case_dir/expected.status" status; then
  echo "--- stderr was:"; cat err
  fail=1
fi
exit $fail
