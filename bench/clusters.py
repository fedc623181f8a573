#!/usr/bin/env python3
"""bench/clusters.py [BUILD_DIR] -- precision and recall of story clusters.

Takes the articles of corpus/ (kfts-index --dump) with enough text, makes generated
duplicates of each (re-spaced, re-worded, truncated), indexes originals and copies as one
article per file, and scores:
  - pairwise decisions at several similarity thresholds (from the stored signatures, the
    same estimate as lib/cluster.c), so the threshold is chosen on evidence;
  - the clusters kfts-index actually wrote (with the compiled threshold, transitive).
A pair is "same story" when both files come from one original. Also lists the clusters
found in corpus/ itself. Deterministic (seeded)."""
import glob, itertools, json, os, random, re, sqlite3, struct, subprocess, sys, tempfile

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(here, "build")
K, MIN_TOKENS = 64, 24  # lib/kfts_int.h
rng = random.Random(20261123)

def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout

arts = [json.loads(l) for l in run(os.path.join(build, "kfts-index"), "--dump",
                                   *sorted(glob.glob(os.path.join(here, "corpus", "*")))).splitlines()]
arts = [a for a in arts if len((a["summary"] or "") + a["body"]) >= 100]
words_pool = [w for a in arts for w in a["body"].split()]
LONG = 300  # copies are made of articles with at least this many characters

def respace(t):  # drop or add spaces between and inside Hangul words
    out = []
    for w in t.split(" "):
        out.append(w)
        out.append("" if rng.random() < 0.3 else " ")
    s = "".join(out)
    return re.sub(r"([가-힣]{3})([가-힣]{2})", lambda m: m.group(1) + (" " if rng.random() < 0.2 else "") + m.group(2), s)

def reword(t):  # drop 10 % of the words, replace 10 % with words from elsewhere
    out = []
    for w in t.split(" "):
        r = rng.random()
        if r < 0.1: continue
        out.append(rng.choice(words_pool) if r < 0.2 else w)
    return " ".join(out)

def truncate(t):  # the first 60 %
    return t[: int(len(t) * 0.6)]

variants = {"respaced": respace, "reworded": reword, "truncated": truncate}

tmp = tempfile.mkdtemp()
docs = os.path.join(tmp, "docs")
os.makedirs(docs)
with open(os.path.join(docs, "kfts.json"), "w") as f:
    json.dump({"format": "text"}, f)
story = {}
for i, a in enumerate(arts):
    text = ((a["summary"] or "") + "\n\n" + a["body"]).strip()
    kinds = [("orig", lambda t: t)] + (list(variants.items()) if len(text) >= LONG else [])
    for name, fn in kinds:
        path = "%03d_%s.txt" % (i, name)
        body = fn(text)
        title = a["title"] if name != "reworded" else reword(a["title"])
        with open(os.path.join(docs, path), "w") as f:
            f.write("# %s\n\n%s\n" % (title, body))
        story["docs/" + path] = i
db = os.path.join(tmp, "kfts.db")
run(os.path.join(build, "kfts-index"), "--db", db, "-q", docs)

con = sqlite3.connect(db)
rows = con.execute("SELECT f.path, s.n, s.sig, c.cluster FROM signatures s JOIN articles a ON a.doc = s.doc"
                   " JOIN files f ON f.id = a.file_id LEFT JOIN clusters c ON c.doc = a.doc").fetchall()
BITS = 12  # lib/kfts_int.h: each minimum's low 12 bits, two in 3 bytes (indexes written before kept 16)

def minima(blob):
    if len(blob) == 2 * K:
        return [v & 0xFFF for v in struct.unpack("<%dH" % K, blob)]
    out = []
    for i in range(0, len(blob), 3):
        out += [blob[i] | (blob[i + 1] & 0xF) << 8, blob[i + 1] >> 4 | blob[i + 2] << 4]
    return out

sig = {p: (n, minima(blob), c) for p, n, blob, c in rows}
CHANCE = 2.0 ** -BITS  # two different minima's low bits agree

def similarity(x, y):
    (na, a, _), (nb, b, _) = x, y
    j = max(0.0, (sum(1 for u, v in zip(a, b) if u == v) / K - CHANCE) / (1 - CHANCE))
    inter = j * (na + nb) / (1 + j)
    return j, min(1.0, inter / min(na, nb)) if min(na, nb) else 0.0

paths = sorted(sig)
pairs = []
for p, q in itertools.combinations(paths, 2):
    j, c = similarity(sig[p], sig[q])
    small = min(sig[p][0], sig[q][0]) < MIN_TOKENS
    pairs.append((story[p] == story[q], j, c, small, p, q))
true_pairs = sum(1 for t, *_ in pairs if t)
n_long = sum(1 for p in paths if p.endswith("_respaced.txt"))
print(f"{len(arts)} originals ({n_long} of >= {LONG} characters also as {', '.join(variants)} copies) = "
      f"{len(paths)} articles; {len(pairs)} pairs, {true_pairs} of them the same story")
print()
print("Pairwise decisions (estimated containment >= T and Jaccard >= J, both >= 24 tokens):")
print()
print("| T | J | precision | recall | false pairs |")
print("|---|---|---|---|---|")
for J in (0.15, 0.3):
    for T in (0.4, 0.5, 0.6, 0.7, 0.8):
        pred = [(t) for t, j, c, small, *_ in pairs if c >= T and j >= J and not small]
        tp = sum(pred)
        prec = tp / len(pred) if pred else 1.0
        print(f"| {T} | {J} | {prec:.3f} | {tp / true_pairs:.3f} | {len(pred) - tp} |")
print()
for name in variants:
    got = [c for t, j, c, small, p, q in pairs if t and ("orig" in p or "orig" in q) and (name in p or name in q)]
    print(f"original vs {name}: containment median {sorted(got)[len(got) // 2]:.2f}, min {min(got):.2f}")
diff = sorted(((c, j) for t, j, c, small, *_ in pairs if not t and not small), reverse=True)
print(f"different stories: containment max {diff[0][0]:.2f} (Jaccard {diff[0][1]:.2f}), "
      f"99th percentile {diff[len(diff) // 100][0]:.2f}; Jaccard max {max(j for c, j in diff):.2f}")

# The clusters kfts-index wrote.
clus = {p: (v[2] if v[2] is not None else ("alone", p)) for p, v in sig.items()}
tp = fp = fn = 0
for p, q in itertools.combinations(paths, 2):
    same_c, same_s = clus[p] == clus[q], story[p] == story[q]
    tp += same_c and same_s
    fp += same_c and not same_s
    fn += same_s and not same_c
print()
print(f"Clusters written by kfts-index (thresholds in lib/kfts_int.h, LSH, leader clustering): pair precision "
      f"{tp / (tp + fp) if tp + fp else 1:.3f}, recall {tp / (tp + fn):.3f} ({fp} false pairs)")

# corpus/ itself
cdb = os.path.join(tmp, "corpus.db")
run(os.path.join(build, "kfts-index"), "--db", cdb, "-q", os.path.join(here, "corpus"))
con = sqlite3.connect(cdb)
groups = {}
for cl, title, src in con.execute("SELECT c.cluster, a.title, a.source FROM clusters c JOIN articles a"
                                  " ON a.doc = c.doc ORDER BY c.cluster, a.date"):
    groups.setdefault(cl, []).append(f"{src}: {title}")
print()
print(f"corpus/: {len(groups)} clusters")
for g in groups.values():
    print("  - " + " | ".join(g))
