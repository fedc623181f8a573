#!/bin/sh
# bench/ab.sh OLD_BUILD NEW_BUILD DB [RUNS] [ROUNDS] -- two builds' in-process latency on the
# query mix of bench/perf, on the same index, in alternating rounds (so drift hits both
# alike): per query the median of each and their ratio, then the mix's percentiles. Each build
# dir needs bench/kfts-bench-query (cmake -DCMAKE_BUILD_TYPE=Release; a git worktree of the old
# commit builds the old one).
set -eu
[ $# -ge 3 ] || { echo "usage: bench/ab.sh OLD_BUILD NEW_BUILD DB [RUNS] [ROUNDS]" >&2; exit 2; }
old=$1 new=$2 db=$3 runs=${4:-3} rounds=${5:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
set -- "책" "칩" "모델" "안전" "데이터센터" "강화학습" "model" "Anthropic" "GPT-5" '"데이터 센터"' "AI source:aitimes" \
  "timeline:AI" "facets:AI" "timeline:데이터센터" "facets:데이터센터"
for r in $(seq "$rounds"); do
  "$old/bench/kfts-bench-query" "$db" "$runs" "$@" >>"$tmp/old"
  "$new/bench/kfts-bench-query" "$db" "$runs" "$@" >>"$tmp/new"
done
python3 - "$tmp/old" "$tmp/new" <<'PY'
import statistics as st, sys
def load(f):
    d = {}
    for l in open(f, encoding="utf-8"):
        q, ms = l.rstrip("\n").rsplit("\t", 1)
        d.setdefault(q, []).append(float(ms))
    return d
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
o, n = load(sys.argv[1]), load(sys.argv[2])
print("| query | old ms | new ms | new / old |\n|---|---|---|---|")
for q in o:
    print(f"| {q} | {st.median(o[q]):.1f} | {st.median(n[q]):.1f} | {st.median(n[q]) / st.median(o[q]):.2f} |")
for name, d in (("old", o), ("new", n)):
    w = [v for q, vs in d.items() if ":" not in q or q.startswith("AI source") for v in vs]
    t = [v for q, vs in d.items() if q.startswith(("timeline:", "facets:")) for v in vs]
    print(f"{name}: words p50 {pct(w, 50):.1f} p95 {pct(w, 95):.1f} p99 {pct(w, 99):.1f} ms; "
          f"timelines and facets p50 {pct(t, 50):.1f} max {max(t):.1f} ms")
PY
