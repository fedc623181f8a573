#!/usr/bin/env python3
"""bench/gen_corpus.py OUT_DIR [ARTICLES] -- a synthetic archive for speed measurements.

Writes ARTICLES (default 100000) articles as newsletter-format files of 100 sections each
("**Title**" headings), with a kfts.json giving each file a date (spread over 2023-01-01 ..
2026-06-30) and one of eight sources. Section text is made of sentences drawn from the
articles of corpus/ (kfts-index --dump) with half of their words swapped for random words of
the corpus, so vocabulary and lengths are the user's own but no two articles are copies.
Seeded: the same arguments give the same files."""
import glob, json, os, random, re, subprocess, sys, datetime

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
build = os.environ.get("KFTS_BUILD", os.path.join(here, "build"))
rng = random.Random(7)
dump = subprocess.run([os.path.join(build, "kfts-index"), "--dump", *sorted(glob.glob(os.path.join(here, "corpus", "*")))],
                      check=True, capture_output=True, text=True).stdout
sentences, titles = [], []
for line in dump.splitlines():
    a = json.loads(line)
    titles.append(a["title"])
    for s in re.split(r"(?<=[.!?다])\s+", ((a["summary"] or "") + " " + a["body"]).replace("\n", " ")):
        if 10 <= len(s) <= 300 and not s.startswith("**"):
            sentences.append(s)
pool = [w for s in sentences for w in s.split()]
os.makedirs(out, exist_ok=True)
sources = ["threads", "aitimes", "lastweekinai", "thebatch", "zdnet", "etnews", "hankyung", "newsletter"]
start, days = datetime.date(2023, 1, 1), (datetime.date(2026, 6, 30) - datetime.date(2023, 1, 1)).days
files = {}
per = 100
for f in range((n + per - 1) // per):
    name = "g%05d.txt" % f
    with open(os.path.join(out, name), "w") as fh:
        for k in range(min(per, n - f * per)):
            words = rng.choice(titles).split()
            rng.shuffle(words)
            fh.write("**%s %d**\n\n" % (" ".join(words[:8]), f * per + k))
            text = []
            for _ in range(rng.randint(2, 8)):
                text.extend(w if rng.random() < 0.5 else rng.choice(pool) for w in rng.choice(sentences).split())
            fh.write(" ".join(text) + "\n\n")
    files[name] = {"date": (start + datetime.timedelta(days=rng.randrange(days))).isoformat(),
                   "source": rng.choice(sources)}
with open(os.path.join(out, "kfts.json"), "w") as fh:
    json.dump({"format": "newsletter", "files": files}, fh, ensure_ascii=False)
print(f"{n} articles in {len(files)} files under {out}")
