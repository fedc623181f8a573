#!/bin/sh
# bench/query_process.sh [BUILD_DIR] [RUNS] -- whole-process wall time of kfts-query on an
# index of corpus/, start to exit, for queries of each kind; medians (and the slowest) of
# RUNS runs each. Baseline in the same run: `kfts-query --version` (process start and
# library loading, no database), so the ratio holds on a noisy machine.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build}
runs=${2:-51}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$here/corpus" "$tmp/corpus"
cd "$tmp"
"$bin/kfts-index" -q corpus
exec python3 - "$bin/kfts-query" "$runs" <<'PY'
import statistics, subprocess, sys, time
exe, runs = sys.argv[1], int(sys.argv[2])
cases = [
    ("baseline: --version", ["--version"]),
    ("word (데이터센터, aliases)", ["데이터센터"]),
    ("word, --no-aliases", ["--no-aliases", "데이터센터"]),
    ("two words", ["AI", "안전"]),
    ("phrase + OR", ['"데이터 센터" OR GRPO']),
    ("filters alone", ["source:threads", "importance:>=8"]),
    ("words + filters", ["AI", "date:2025-01"]),
    ("relaxed fallback", ["데이터센터", "화성탐사", "GPU"]),
    ("--json", ["--json", "앤트로픽"]),
    ("--explain --recent", ["--explain", "--recent", "30", "AI"]),
]
res = {}
for i in range(runs):  # interleaved, so drift hits every case alike
    for name, args in cases:
        t0 = time.perf_counter()
        subprocess.run([exe, "--db", "kfts.db", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        res.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
base = statistics.median(res[cases[0][0]])
print(f"kfts-query processes on corpus/, {runs} runs each (interleaved); ms")
print(f"| query | median | max | median / baseline |")
print(f"|---|---|---|---|")
for name, _ in cases:
    v = res[name]
    print(f"| {name} | {statistics.median(v):.2f} | {max(v):.2f} | {statistics.median(v) / base:.2f} |")
PY
