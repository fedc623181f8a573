/*
** cluster.c -- story clusters: articles that tell the same story (a card, a crawl and a
** podcast item; a re-posted, re-spaced or cut copy) found by near-duplicate signatures.
**
** Signature: MinHash, KFTSP_SIG_K minima over the distinct tokens of title + summary + body
** as the kfts tokenizer makes them (document side, colocated tokens left out). Hangul
** bigrams bridge spaces, so re-spacing changes almost nothing.
** Similarity of two articles: the estimated containment |A∩B| / min(|A|, |B|), from the
** MinHash Jaccard estimate J and the token counts: |A∩B| = J(|A|+|B|)/(1+J). Containment,
** not Jaccard, so that a truncated copy still counts as the same story. Articles with fewer
** than KFTSP_SIG_MIN_TOKENS tokens (a title alone) are never clustered.
** Clusters: candidate pairs from LSH (KFTSP_SIG_K / ROWS bands of ROWS minima each), related
** when similarity >= KFTSP_CLUSTER_THRESHOLD and J >= KFTSP_CLUSTER_MIN_JACCARD; grouped by
** leader clustering (kftsp_recluster), so every member is related to its cluster's leader.
** Thresholds measured in bench/clusters.py (bench/RESULTS.md).
** Stored in signatures(doc, n, sig) and clusters(doc, cluster), by articles.doc: cluster is
** the leader's doc (the group's smallest); articles alone have no row.
*/
#include "kfts_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROWS 3
#define BANDS (KFTSP_SIG_K / ROWS)
#define MAX_GROUP 64 /* members of one LSH bucket paired with each other */

static uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* The distinct tokens of an article, by hash. */
typedef struct sigctx {
  kftsp_u64set set;
  int oom;
} sigctx;

static int on_token(void *p, const kfts_token *t) {
  sigctx *c = p;
  if (t->colocated) return 0;
  if (kftsp_u64set_add(&c->set, mix64(kftsp_fnv1a(KFTSP_FNV_INIT, t->text, (size_t)t->len)) | 1) < 0) {
    c->oom = 1;
    return 1;
  }
  return 0;
}

#define SIG_MASK ((1u << KFTSP_SIG_BITS) - 1) /* the bits of a minimum kept */

/* K hash functions from one well-mixed 64-bit value: h_k = top 32 bits of (h * odd_k + c_k),
** one multiply-add each (the token hashes are already mixed). */
static uint64_t mul[KFTSP_SIG_K], add[KFTSP_SIG_K];
static pthread_once_t sig_once = PTHREAD_ONCE_INIT;

static void sig_init(void) {
  for (int k = 0; k < KFTSP_SIG_K; k++) {
    mul[k] = mix64(0x9E3779B97F4A7C15ULL * (uint64_t)(k + 1)) | 1;
    add[k] = mix64(0xD1B54A32D192ED03ULL * (uint64_t)(k + 7));
  }
}

int kftsp_signature(const char *const *parts, size_t n_parts, kftsp_sig *out) {
  sigctx c = {0};
  for (size_t i = 0; i < n_parts && !c.oom; i++)
    if (parts[i] && kfts_tokens(parts[i], strlen(parts[i]), 0, on_token, &c) != KFTS_OK) c.oom = 1;
  if (c.oom) {
    kftsp_u64set_free(&c.set);
    return KFTS_ENOMEM;
  }
  uint32_t min[KFTSP_SIG_K];
  for (int k = 0; k < KFTSP_SIG_K; k++) min[k] = UINT32_MAX;
  out->n = (uint32_t)c.set.n;
  pthread_once(&sig_once, sig_init); /* the indexer computes signatures on a second thread */
  for (size_t i = 0; i < c.set.cap; i++) {
    uint64_t h = c.set.slot[i];
    if (!h) continue;
    for (int k = 0; k < KFTSP_SIG_K; k++) {
      uint32_t v = (uint32_t)((h * mul[k] + add[k]) >> 32);
      if (v < min[k]) min[k] = v;
    }
  }
  for (int k = 0; k < KFTSP_SIG_K; k++) out->min[k] = (uint16_t)(min[k] & SIG_MASK);
  kftsp_u64set_free(&c.set);
  return KFTS_OK;
}

void kftsp_sig_pack(const uint16_t *min, unsigned char *out) {
  for (int k = 0; k < KFTSP_SIG_K; k += 2, out += 3) { /* 12 + 12 bits, low byte first */
    unsigned a = min[k] & SIG_MASK, b = min[k + 1] & SIG_MASK;
    out[0] = (unsigned char)a;
    out[1] = (unsigned char)(a >> 8 | (b & 0xF) << 4);
    out[2] = (unsigned char)(b >> 4);
  }
}

int kftsp_sig_load(const void *blob, int n, uint16_t *min) {
  const unsigned char *p = blob;
  if (!p) return 0;
  if (n == KFTSP_SIG_BYTES) {
    for (int k = 0; k < KFTSP_SIG_K; k += 2, p += 3) {
      min[k] = (uint16_t)(p[0] | (p[1] & 0xF) << 8);
      min[k + 1] = (uint16_t)(p[1] >> 4 | p[2] << 4);
    }
    return 1;
  }
  if (n != KFTSP_SIG_K * 2) return 0;
  for (int k = 0; k < KFTSP_SIG_K; k++) { /* 16-bit minima in the writer's byte order */
    uint16_t v;
    memcpy(&v, p + 2 * k, 2);
    min[k] = (uint16_t)(v & SIG_MASK);
  }
  return 1;
}

double kftsp_sig_jaccard(const kftsp_sig *a, const kftsp_sig *b) {
  int same = 0;
  for (int k = 0; k < KFTSP_SIG_K; k++) same += a->min[k] == b->min[k];
  const double chance = 1.0 / (1 << KFTSP_SIG_BITS); /* two different minima's bits agree */
  double j = ((double)same / KFTSP_SIG_K - chance) / (1 - chance);
  return j < 0 ? 0 : j;
}

double kftsp_sig_similarity(const kftsp_sig *a, const kftsp_sig *b) {
  if (!a->n || !b->n) return 0;
  double j = kftsp_sig_jaccard(a, b);
  double inter = j * (double)(a->n + b->n) / (1 + j);
  double c = inter / (double)(a->n < b->n ? a->n : b->n);
  return c > 1 ? 1 : c;
}

int kftsp_sig_related(const kftsp_sig *a, const kftsp_sig *b) {
  if (a->n < KFTSP_SIG_MIN_TOKENS || b->n < KFTSP_SIG_MIN_TOKENS) return 0;
  return kftsp_sig_jaccard(a, b) >= KFTSP_CLUSTER_MIN_JACCARD && kftsp_sig_similarity(a, b) >= KFTSP_CLUSTER_THRESHOLD;
}

/* ---- clustering the whole index ---- */

/* What re-clustering keeps of each article: its doc, token count and signature. */
typedef struct row {
  int64_t id;
  uint32_t n;
  uint16_t min[KFTSP_SIG_K];
} row;

static void sig_of(const row *r, kftsp_sig *s) {
  s->n = r->n;
  for (int k = 0; k < KFTSP_SIG_K; k++) s->min[k] = r->min[k];
}

/* A band key: the band number (5 bits) and 27 bits of the band's hash above the row number,
** so one sort of plain integers groups each bucket's rows, in row order. (Two buckets whose
** hashes agree in 27 bits are paired too: harmless, every pair is checked with
** kftsp_sig_related before it counts.) */
#define KEY_ROW(k) ((uint32_t)(k))
#define KEY_BUCKET(k) ((k) >> 32)

/* The bucket of MIN's band B: the band number and 27 bits of its hash (KEY_BUCKET of its keys). */
static uint32_t bucket_of(const uint16_t *min, int b) {
  uint64_t hk = kftsp_fnv1a((uint64_t)b * 0x100000001b3ULL ^ KFTSP_FNV_INIT, &min[b * ROWS], ROWS * sizeof min[0]);
  return (uint32_t)b << 27 | (uint32_t)((hk ^ (hk >> 32)) & 0x7FFFFFF);
}

/* LSD radix sort of N 64-bit keys, 16 bits a pass, using TMP (N keys) and COUNT (65536). */
static void radix_sort(uint64_t *v, uint64_t *tmp, size_t n, size_t *count) {
  for (int shift = 0; shift < 64; shift += 16) {
    memset(count, 0, ((size_t)1 << 16) * sizeof *count);
    for (size_t i = 0; i < n; i++) count[(v[i] >> shift) & 0xFFFF]++;
    size_t sum = 0;
    for (size_t d = 0; d < (1 << 16); d++) {
      size_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) tmp[count[(v[i] >> shift) & 0xFFFF]++] = v[i];
    uint64_t *t = v;
    v = tmp;
    tmp = t;
  } /* four passes: the result is back in the caller's V */
}

static int db_fail(kfts_error *err, sqlite3 *h, const char *what) {
  return kftsp_err(err, KFTS_EDB, "database", 0, "%s: %s", what, sqlite3_errmsg(h));
}

/* The signature of article ID, read back (ST: SELECT n, sig ... WHERE doc = ?1). */
static int read_sig(sqlite3_stmt *st, int64_t id, kftsp_sig *s) {
  sqlite3_bind_int64(st, 1, id);
  int ok = sqlite3_step(st) == SQLITE_ROW &&
           kftsp_sig_load(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), s->min);
  if (ok) s->n = (uint32_t)sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return ok;
}

/*
** Re-clustering in memory that does not grow with the index: the rows go to a temporary file
** (read back as buckets need them, the first 2^17 kept in memory), the band keys are
** sorted a chunk (2^20) at a time and spilled as sorted runs to a second temporary file, and the
** runs are merged as they are read. What stays in memory: one chunk and its sort buffer
** (16 MB), a read buffer per run carved from the chunk, the first rows (18 MB), one bucket's
** rows, and the related pairs (as many as there are near-duplicates, not articles).
*/
#define MIN_RUN_BUF 256
size_t kftsp_cluster_chunk_keys = (size_t)1 << 20; /* a variable so that tests can spill small indexes */

typedef struct sorter {
  uint64_t *keys, *tmp; /* CHUNK_KEYS each, or fewer when every key fits */
  size_t cap, n;
  size_t *count;
  FILE *runs;         /* sorted runs, one after another; NULL while none was spilled */
  uint64_t *run_len;  /* keys in each */
  size_t n_runs, cap_runs;
  /* merging */
  struct reader {
    uint64_t *buf;
    size_t i, n, len; /* next key in buf, keys in buf, buf's capacity */
    uint64_t off, end; /* the run's keys in the file, in keys */
  } *rd;
  size_t *heap, n_heap; /* readers, smallest current key first */
  size_t next;          /* no run: next key of the sorted chunk */
} sorter;

static int sorter_spill(sorter *s) {
  radix_sort(s->keys, s->tmp, s->n, s->count);
  if (!s->runs && !(s->runs = tmpfile())) return KFTS_EIO;
  uint64_t *x = kftsp_grow(s->run_len, s->n_runs, &s->cap_runs, sizeof *x, 16);
  if (!x) return KFTS_ENOMEM;
  s->run_len = x;
  s->run_len[s->n_runs++] = s->n;
  if (fwrite(s->keys, sizeof *s->keys, s->n, s->runs) != s->n) return KFTS_EIO;
  s->n = 0;
  return KFTS_OK;
}

static int sorter_add(sorter *s, uint64_t k) {
  int rc = s->n == s->cap ? sorter_spill(s) : KFTS_OK;
  if (!rc) s->keys[s->n++] = k;
  return rc;
}

static int reader_fill(sorter *s, struct reader *r) {
  size_t want = r->end - r->off < r->len ? (size_t)(r->end - r->off) : r->len;
  r->i = 0;
  r->n = 0;
  if (!want) return KFTS_OK;
  ssize_t got = pread(fileno(s->runs), r->buf, want * sizeof *r->buf, (off_t)(r->off * sizeof *r->buf));
  if (got != (ssize_t)(want * sizeof *r->buf)) return KFTS_EIO;
  r->n = want;
  r->off += want;
  return KFTS_OK;
}

static uint64_t head_of(const sorter *s, size_t k) { return s->rd[k].buf[s->rd[k].i]; }

static void sift_down(sorter *s, size_t i) {
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->n_heap) return;
    if (c + 1 < s->n_heap && head_of(s, s->heap[c + 1]) < head_of(s, s->heap[c])) c++;
    if (head_of(s, s->heap[i]) <= head_of(s, s->heap[c])) return;
    size_t t = s->heap[i];
    s->heap[i] = s->heap[c];
    s->heap[c] = t;
    i = c;
  }
}

/* After the last key: sorts the chunk in memory when nothing was spilled, else spills it and
** sets up the merge of the runs. */
static int sorter_finish(sorter *s) {
  if (!s->runs) {
    radix_sort(s->keys, s->tmp, s->n, s->count);
    return KFTS_OK;
  }
  int rc = s->n ? sorter_spill(s) : KFTS_OK;
  if (!rc && fflush(s->runs) != 0) rc = KFTS_EIO;
  if (!rc && (!(s->rd = kftsp_malloc(s->n_runs * sizeof *s->rd)) || !(s->heap = kftsp_malloc(s->n_runs * sizeof *s->heap))))
    rc = KFTS_ENOMEM;
  size_t per = s->n_runs ? 2 * s->cap / s->n_runs : 0; /* keys and tmp: one buffer */
  if (per < MIN_RUN_BUF) per = MIN_RUN_BUF;
  uint64_t *big = NULL;
  if (!rc && per * s->n_runs > 2 * s->cap) { /* very many runs: buffers of their own */
    kftsp_free(s->keys);
    s->tmp = NULL;
    if (!(s->keys = big = kftsp_malloc(per * s->n_runs * sizeof *big))) rc = KFTS_ENOMEM;
  }
  uint64_t off = 0;
  for (size_t k = 0; !rc && k < s->n_runs; k++) {
    struct reader *r = &s->rd[k];
    r->buf = s->keys + k * per;
    r->len = per;
    r->off = off;
    r->end = off += s->run_len[k];
    rc = reader_fill(s, r);
    if (!rc && r->n) s->heap[s->n_heap++] = k;
  }
  for (size_t i = s->n_heap / 2; !rc && i-- > 0;) sift_down(s, i);
  return rc;
}

/* The next key in order: 1, 0 at the end, -1 when the runs cannot be read. */
static int sorter_next(sorter *s, uint64_t *key) {
  if (!s->runs) {
    if (s->next == s->n) return 0;
    *key = s->keys[s->next++];
    return 1;
  }
  if (!s->n_heap) return 0;
  struct reader *r = &s->rd[s->heap[0]];
  *key = r->buf[r->i++];
  if (r->i == r->n && reader_fill(s, r)) return -1;
  if (!r->n) s->heap[0] = s->heap[--s->n_heap];
  sift_down(s, 0);
  return 1;
}

static void sorter_free(sorter *s) {
  if (s->runs) fclose(s->runs);
  kftsp_free(s->keys); /* tmp is its second half */
  kftsp_free(s->count);
  kftsp_free(s->run_len);
  kftsp_free(s->rd);
  kftsp_free(s->heap);
}

/* A related pair of articles by doc, A the later. */
typedef struct dpair {
  int64_t a, b;
} dpair;

static int cmp_dpair(const void *x, const void *y) {
  const dpair *p = x, *q = y;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  return p->b < q->b ? -1 : p->b > q->b;
}

typedef struct pairs {
  dpair *v;
  size_t n, cap;
} pairs;

/*
** The rows file, its first kftsp_cluster_cache_rows rows (18 MB) read into memory in one pass:
** an index of that many articles or fewer is re-clustered without a system call per row
** (100k articles: 290k reads, 0.25 s). The rest are read with pread as buckets need them;
** with random access, keeping those would not raise the hit rate (cached / rows), and
** memory that is only read can be shared by the two pairing threads.
*/
size_t kftsp_cluster_cache_rows = (size_t)1 << 17;

typedef struct rows {
  int fd;
  row *first; /* rows 0 .. n_first - 1 */
  size_t n_first;
} rows;

static int rows_open(rows *rs, int fd, size_t n) {
  rs->fd = fd;
  rs->n_first = n < kftsp_cluster_cache_rows ? n : kftsp_cluster_cache_rows;
  if (!rs->n_first) return KFTS_OK;
  if (!(rs->first = kftsp_malloc(rs->n_first * sizeof *rs->first))) return KFTS_ENOMEM;
  size_t want = rs->n_first * sizeof *rs->first, got = 0;
  while (got < want) {
    ssize_t k = pread(fd, (char *)rs->first + got, want - got, (off_t)got);
    if (k <= 0) return KFTS_EIO;
    got += (size_t)k;
  }
  return KFTS_OK;
}

static void rows_close(rows *rs) { kftsp_free(rs->first); }

/* Row I. */
static int read_row(const rows *rs, uint32_t i, row *r) {
  if (i < rs->n_first) {
    *r = rs->first[i];
    return KFTS_OK;
  }
  return pread(rs->fd, r, sizeof *r, (off_t)i * (off_t)sizeof *r) == (ssize_t)sizeof *r ? KFTS_OK : KFTS_EIO;
}

/* The related pairs among the rows R[0..N) of one bucket (ascending docs) into P, by doc;
** only those with a row from doc FIRST on. */
static int pair_rows(const row *const *r, size_t n, int64_t first, pairs *p) {
  for (size_t x = 0; x < n; x++) {
    kftsp_sig sx, sy;
    sig_of(r[x], &sx);
    for (size_t y = x + 1; y < n; y++) {
      if (r[y]->id < first) continue; /* (y the later one) */
      sig_of(r[y], &sy);
      if (!kftsp_sig_related(&sx, &sy)) continue;
      dpair *t = kftsp_grow(p->v, p->n, &p->cap, sizeof *t, 4096);
      if (!t) return KFTS_ENOMEM;
      (p->v = t)[p->n++] = (dpair){r[y]->id, r[x]->id};
    }
  }
  return KFTS_OK;
}

/* The related pairs among one bucket's rows G[0..N) (ascending), read from RS. */
static int pair_bucket(const rows *rs, const uint32_t *g, size_t n, pairs *p) {
  row r[MAX_GROUP];
  const row *at[MAX_GROUP];
  for (size_t x = 0; x < n; x++) {
    if (read_row(rs, g[x], &r[x])) return KFTS_EIO;
    at[x] = &r[x];
  }
  return pair_rows(at, n, INT64_MIN, p);
}

/* The next clustered signature of ST (SELECT doc, n, sig ... ORDER BY doc) into R, skipping
** those of fewer than KFTSP_SIG_MIN_TOKENS tokens (never clustered) and blobs that are not
** signatures: 1, 0 at the end, -1 on an error. */
static int next_sig(sqlite3_stmt *st, row *r) {
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    r->n = (uint32_t)sqlite3_column_int64(st, 1);
    if (r->n < KFTSP_SIG_MIN_TOKENS) continue;
    if (!kftsp_sig_load(sqlite3_column_blob(st, 2), sqlite3_column_bytes(st, 2), r->min)) continue;
    r->id = sqlite3_column_int64(st, 0);
    return 1;
  }
  return step == SQLITE_DONE ? 0 : -1;
}

/* Streams the eligible signatures, in id order, into the rows file F and their band keys
** into S[0] (bands below BANDS / 2) and S[1] (the rest). *N: rows written. */
static int write_rows(sqlite3 *h, FILE *f, sorter *s, size_t *n_out, kfts_error *err) {
  sqlite3_stmt *st;
  *n_out = 0;
  if (sqlite3_prepare_v2(h, "SELECT doc, n, sig FROM signatures ORDER BY doc", -1, &st, NULL) != SQLITE_OK)
    return db_fail(err, h, "reading signatures");
  int rc = KFTS_OK, more = 0;
  size_t n = 0;
  row r;
  memset(&r, 0, sizeof r); /* its padding too: the rows go to a file */
  while (!rc && (more = next_sig(st, &r)) > 0) {
    if (n == UINT32_MAX) break; /* rows are 32-bit numbers: the rest stay alone */
    if (fwrite(&r, sizeof r, 1, f) != 1) rc = KFTS_EIO;
    for (int b = 0; !rc && b < BANDS; b++) rc = sorter_add(&s[b >= BANDS / 2], (uint64_t)bucket_of(r.min, b) << 32 | n);
    n++;
  }
  if (!rc && more < 0) rc = db_fail(err, h, "reading signatures");
  sqlite3_finalize(st);
  *n_out = n;
  return rc;
}

/* One half of the bands: its buckets (rows with the same band key, the first MAX_GROUP of
** each) paired, into P. Two run at once, one per sorter, reading the same rows. */
typedef struct pairer {
  sorter *s;
  const rows *rs;
  pairs p;
  int rc, err_no;
} pairer;

static void *pair_main(void *arg) {
  pairer *w = arg;
  uint32_t g[MAX_GROUP];
  size_t gn = 0;
  uint64_t bucket = 0, key;
  int more, rc = KFTS_OK;
  errno = 0;
  while (!rc && (more = sorter_next(w->s, &key)) != 0) {
    if (more < 0) {
      rc = KFTS_EIO;
      break;
    }
    if (gn && KEY_BUCKET(key) != bucket) {
      if (gn > 1) rc = pair_bucket(w->rs, g, gn, &w->p);
      gn = 0;
    }
    bucket = KEY_BUCKET(key);
    if (gn < MAX_GROUP) g[gn++] = KEY_ROW(key);
  }
  if (!rc && gn > 1) rc = pair_bucket(w->rs, g, gn, &w->p);
  w->rc = rc;
  w->err_no = errno;
  return NULL;
}

/* ---- clusters from related pairs ---- */

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return a < b ? -1 : a > b;
}

/* Schema of the related pairs (store.c creates it with the rest, or in an index of version 8). */
static const char pairs_schema[] =
    "CREATE TABLE IF NOT EXISTS cluster_pairs(a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY(a, b))"
    " WITHOUT ROWID;";

int kftsp_cluster_schema(sqlite3 *h) { return sqlite3_exec(h, pairs_schema, NULL, NULL, NULL); }

/*
** Leader clustering of the related pairs V (N, distinct, sorted by (a, b)), in doc order: an article joins the cluster of the first earlier leader it
** is related to, else leads its own. Every member is related to its leader, so clusters cannot
** chain (A~B~C with A, C unrelated). The clusters table then gets each member and each leader
** with members, as (doc, leader's doc): only the rows that differ are written (an incremental
** run changes a few hundred of 150k at 1M articles).
*/
static int clusters_write(sqlite3 *h, const dpair *v, size_t n, kfts_error *err) {
  int64_t *u = kftsp_malloc((2 * n + 1) * sizeof *u), *lead = kftsp_malloc((2 * n + 1) * sizeof *lead);
  dpair *want = kftsp_malloc((2 * n + 1) * sizeof *want), *have = NULL;
  size_t n_u = 0, n_want = 0, n_have = 0, cap_have = 0;
  int rc = u && lead && want ? KFTS_OK : KFTS_ENOMEM;
  if (!rc) {
    for (size_t k = 0; k < n; k++) u[n_u++] = v[k].a, u[n_u++] = v[k].b;
    kftsp_sort(u, n_u, sizeof *u, cmp_i64);
    size_t w = 0;
    for (size_t i = 0; i < n_u; i++)
      if (!w || u[i] != u[w - 1]) u[w++] = u[i];
    n_u = w;
    for (size_t i = 0; i < n_u; i++) lead[i] = u[i];
    for (size_t k = 0; k < n; k++) {
      int64_t a = v[k].a, b = v[k].b;
      int64_t *ia = bsearch(&a, u, n_u, sizeof *u, cmp_i64), *ib = bsearch(&b, u, n_u, sizeof *u, cmp_i64);
      if (lead[ia - u] != a || lead[ib - u] != b) continue; /* a already joined; b follows another leader */
      lead[ia - u] = b; /* related: checked when the pair was found */
    }
    for (size_t i = 0; i < n_u; i++) /* (doc, cluster), as .a and .b */
      if (lead[i] != u[i]) want[n_want++] = (dpair){u[i], lead[i]}, want[n_want++] = (dpair){lead[i], lead[i]};
    kftsp_sort(want, n_want, sizeof *want, cmp_dpair);
    w = 0;
    for (size_t i = 0; i < n_want; i++)
      if (!w || want[i].a != want[w - 1].a) want[w++] = want[i];
    n_want = w;
  }
  sqlite3_stmt *sel = NULL, *put = NULL, *del = NULL;
  if (!rc && (sqlite3_prepare_v2(h, "SELECT doc, cluster FROM clusters ORDER BY doc", -1, &sel, NULL) != SQLITE_OK ||
              sqlite3_prepare_v2(h, "INSERT OR REPLACE INTO clusters(doc, cluster) VALUES (?1, ?2)", -1, &put,
                                 NULL) != SQLITE_OK ||
              sqlite3_prepare_v2(h, "DELETE FROM clusters WHERE doc = ?1", -1, &del, NULL) != SQLITE_OK))
    rc = KFTS_EDB;
  int st = SQLITE_DONE;
  while (!rc && (st = sqlite3_step(sel)) == SQLITE_ROW) { /* read whole before any row is written */
    dpair *t = kftsp_grow(have, n_have, &cap_have, sizeof *t, 4096);
    if (!t) rc = KFTS_ENOMEM;
    else (have = t)[n_have++] = (dpair){sqlite3_column_int64(sel, 0), sqlite3_column_int64(sel, 1)};
  }
  if (!rc && st != SQLITE_DONE) rc = KFTS_EDB;
  for (size_t i = 0, j = 0; !rc && (i < n_want || j < n_have);) {
    /* by doc: < 0 a new row, > 0 one gone, 0 both (written when the leader differs) */
    int c = j == n_have ? -1 : i == n_want ? 1 : (want[i].a > have[j].a) - (want[i].a < have[j].a);
    sqlite3_stmt *w = c > 0 ? del : c < 0 || want[i].b != have[j].b ? put : NULL;
    if (w) {
      sqlite3_bind_int64(w, 1, c > 0 ? have[j].a : want[i].a);
      if (w == put) sqlite3_bind_int64(put, 2, want[i].b);
      if (sqlite3_step(w) != SQLITE_DONE) rc = KFTS_EDB;
      sqlite3_reset(w);
    }
    i += c <= 0;
    j += c >= 0;
  }
  if (rc == KFTS_EDB) kftsp_err(err, rc, "database", 0, "writing clusters: %s", sqlite3_errmsg(h));
  else if (rc == KFTS_ENOMEM) kftsp_err(err, rc, "", 0, "out of memory");
  sqlite3_finalize(sel);
  sqlite3_finalize(put);
  sqlite3_finalize(del);
  kftsp_free(u);
  kftsp_free(lead);
  kftsp_free(want);
  kftsp_free(have);
  return rc;
}

/* meta 'clusters' = '1' says cluster_pairs holds every related pair of articles among the
** first MAX_GROUP rows (by doc) of an LSH bucket, as kftsp_recluster finds them (store.c
** removes it at a run's first change). */
static int mark_exact(sqlite3 *h, kfts_error *err) {
  if (sqlite3_exec(h, "INSERT OR REPLACE INTO meta(key, value) VALUES ('clusters', '1')", NULL, NULL, NULL) ==
      SQLITE_OK)
    return KFTS_OK;
  return db_fail(err, h, "writing clusters");
}

int kftsp_cluster_exact(sqlite3 *h) {
  sqlite3_stmt *st;
  int exact = 0;
  if (sqlite3_prepare_v2(h, "SELECT value = '1' FROM meta WHERE key = 'clusters'", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    exact = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return exact;
}

/* ---- re-clustering the whole index ---- */

/* The pairs P sorted, each once (a pair shares several bands), into cluster_pairs in place of
** what it held. */
static int pairs_store(sqlite3 *h, pairs *p, kfts_error *err) {
  kftsp_sort(p->v, p->n, sizeof *p->v, cmp_dpair);
  size_t w = 0;
  for (size_t k = 0; k < p->n; k++)
    if (!w || p->v[k].a != p->v[w - 1].a || p->v[k].b != p->v[w - 1].b) p->v[w++] = p->v[k];
  p->n = w;
  sqlite3_stmt *ins = NULL;
  int rc = sqlite3_exec(h, "DELETE FROM cluster_pairs", NULL, NULL, NULL) != SQLITE_OK ||
                   sqlite3_prepare_v2(h, "INSERT INTO cluster_pairs(a, b) VALUES (?1, ?2)", -1, &ins, NULL) != SQLITE_OK
               ? db_fail(err, h, "writing clusters")
               : KFTS_OK;
  for (size_t k = 0; !rc && k < p->n; k++) {
    sqlite3_bind_int64(ins, 1, p->v[k].a);
    sqlite3_bind_int64(ins, 2, p->v[k].b);
    if (sqlite3_step(ins) != SQLITE_DONE) rc = db_fail(err, h, "writing clusters");
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  return rc;
}

/*
** Related pairs among LSH candidates, then clusters_write. The bands' keys go to two sorters
** (half the chunk each), paired on two threads when a second one is allowed: at 1M articles
** the row reads of the buckets dominate.
*/
int kftsp_recluster_wholes = 0;

int kftsp_recluster(sqlite3 *h, kfts_error *err) {
  kftsp_recluster_wholes++;
  sorter s[2];
  memset(s, 0, sizeof s);
  pairs p = {NULL, 0, 0};
  size_t n = 0;
  errno = 0;
  FILE *f = kftsp_tmpfile();
  int rc = f ? KFTS_OK : KFTS_EIO;
  for (int k = 0; k < 2 && !rc; k++) {
    s[k].cap = kftsp_cluster_chunk_keys / 2 < MIN_RUN_BUF ? MIN_RUN_BUF : kftsp_cluster_chunk_keys / 2;
    if (!(s[k].keys = kftsp_malloc(2 * s[k].cap * sizeof *s[k].keys)) ||
        !(s[k].count = kftsp_malloc(((size_t)1 << 16) * sizeof *s[k].count)))
      rc = KFTS_ENOMEM;
    if (s[k].keys) s[k].tmp = s[k].keys + s[k].cap;
  }
  if (!rc) rc = write_rows(h, f, s, &n, err);
  for (int k = 0; k < 2 && !rc; k++) rc = sorter_finish(&s[k]);
  if (!rc && fflush(f) != 0) rc = KFTS_EIO;
  rows rs = {.fd = -1};
  if (!rc) rc = rows_open(&rs, fileno(f), n);
  pairer pw[2] = {{&s[0], &rs, {NULL, 0, 0}, KFTS_OK, 0}, {&s[1], &rs, {NULL, 0, 0}, KFTS_OK, 0}};
  if (!rc) {
    pthread_t th;
    int threaded = kftsp_threads_allowed() && pthread_create(&th, NULL, pair_main, &pw[1]) == 0;
    pair_main(&pw[0]);
    if (threaded) pthread_join(th, NULL);
    else pair_main(&pw[1]);
    for (int k = 0; k < 2 && !rc; k++)
      if ((rc = pw[k].rc)) errno = pw[k].err_no;
  }
  p = pw[0].p;
  if (!rc && pw[1].p.n) { /* one list of pairs (both lists hold fewer than SIZE_MAX / 16) */
    dpair *x = kftsp_realloc(p.v, (p.n + pw[1].p.n) * sizeof *x);
    if (!x) rc = KFTS_ENOMEM;
    else {
      memcpy(x + p.n, pw[1].p.v, pw[1].p.n * sizeof *x);
      p.v = x;
      p.n += pw[1].p.n;
      p.cap = p.n;
    }
  }
  kftsp_free(pw[1].p.v);
  if (!rc) rc = pairs_store(h, &p, err);
  if (!rc) rc = clusters_write(h, p.v, p.n, err);
  if (!rc) rc = mark_exact(h, err);
  if (rc == KFTS_ENOMEM) kftsp_err(err, rc, "", 0, "out of memory");
  if (rc == KFTS_EIO)
    kftsp_err(err, rc, "clustering", 0, "cannot write a temporary file in %s: %s; set TMPDIR to a folder with room",
              kftsp_tmpdir(), errno ? strerror(errno) : "short read");
  if (f) fclose(f);
  rows_close(&rs);
  sorter_free(&s[0]);
  sorter_free(&s[1]);
  kftsp_free(p.v);
  return rc;
}

/* ---- re-clustering after a run's changes ---- */

/*
** The pairs are those among each bucket's first MAX_GROUP rows in doc order (buckets of
** common tokens' minima have thousands at 1M articles). A run's new articles come after every
** other row of their buckets: in a bucket's first rows or in none, they change no pair of
** two older articles. A removed article takes its pairs with it (dropped when the pairs are
** read back) and lets the next row of each of its buckets into the first ones, which may pair
** it with older articles. So when cluster_pairs was exact at the run's start (meta 'clusters',
** which the run's first change removes), the pairs to add are in the buckets of the new
** articles and of the removed ones (noted by kftsp_cluster_gone as store.c removes them)
** alone. One pass over the signatures in doc order finds their first rows (a hash table of
** those buckets), without kftsp_recluster's sort of every band key and read of every bucket's
** rows (at 1M articles, 3 of the 4 s an incremental run took); then the clusters from all the
** pairs. More new or removed articles than SINCE_MAX: kftsp_recluster.
*/
#define SINCE_MAX ((size_t)1 << 14) /* new articles (the buckets' map: at most 16 MB) */

int kftsp_cluster_gone(kftsp_cluster_gone_t *g, int64_t doc, uint32_t n, const void *sig, int bytes) {
  uint16_t min[KFTSP_SIG_K];
  if (n < KFTSP_SIG_MIN_TOKENS || !kftsp_sig_load(sig, bytes, min)) return 0; /* in no bucket, no pair */
  if (kftsp_u64set_add(&g->docs, (uint64_t)doc) < 0) return -1;
  for (int b = 0; b < BANDS; b++)
    if (kftsp_u64set_add(&g->buckets, (uint64_t)bucket_of(min, b) + 1) < 0) return -1;
  return 0;
}

void kftsp_cluster_gone_free(kftsp_cluster_gone_t *g) {
  kftsp_u64set_free(&g->docs);
  kftsp_u64set_free(&g->buckets);
}

typedef struct bmap { /* the buckets: open addressing, key bucket + 1 (0: empty) */
  uint64_t *key;
  uint32_t *count; /* rows seen; the high bit: a bucket a removed article left */
  size_t mask;
} bmap;

#define GONE_BIT 0x80000000u

static size_t bmap_find(const bmap *m, uint32_t bucket) {
  size_t i = (size_t)(mix64(bucket) & m->mask);
  while (m->key[i] && m->key[i] != (uint64_t)bucket + 1) i = (i + 1) & m->mask;
  return i;
}

typedef struct member {
  uint32_t slot, row; /* the bucket's slot in the map; the row in the pass's kept rows */
} member;

static int cmp_member(const void *x, const void *y) {
  const member *p = x, *q = y;
  if (p->slot != q->slot) return p->slot < q->slot ? -1 : 1;
  return p->row < q->row ? -1 : p->row > q->row;
}

/* The pairs of the new articles' (from doc FIRST) and GONE's buckets (keys bucket + 1) into
** cluster_pairs; *FULL when there are more new articles than SINCE_MAX: kftsp_recluster then. */
static int pairs_since(sqlite3 *h, int64_t first, const kftsp_u64set *gone, int *full, kfts_error *err) {
  kftsp_u64set fresh = {0}; /* the new articles' buckets, keys bucket + 1 */
  bmap m = {NULL, NULL, 0};
  row r, *kept = NULL;
  const row *at[MAX_GROUP];
  member *mem = NULL;
  pairs found = {NULL, 0, 0};
  size_t n_new = 0, n_kept = 0, cap_kept = 0, n_mem = 0, cap_mem = 0;
  sqlite3_stmt *st = NULL, *ins = NULL;
  int rc = KFTS_OK, more = 0;
  *full = 0;
  memset(&r, 0, sizeof r);
  if (sqlite3_prepare_v2(h, "SELECT doc, n, sig FROM signatures WHERE doc >= ?1 ORDER BY doc", -1, &st, NULL) !=
      SQLITE_OK)
    return db_fail(err, h, "reading signatures");
  sqlite3_bind_int64(st, 1, first);
  while (!rc && !*full && (more = next_sig(st, &r)) > 0) {
    *full = ++n_new > SINCE_MAX;
    for (int b = 0; !rc && b < BANDS; b++)
      if (kftsp_u64set_add(&fresh, (uint64_t)bucket_of(r.min, b) + 1) < 0) rc = KFTS_ENOMEM;
  }
  if (!rc && more < 0) rc = db_fail(err, h, "reading signatures");
  sqlite3_finalize(st);
  st = NULL;
  if (!rc && !*full && fresh.n + gone->n) { /* the buckets, those a removed article left marked */
    size_t size = 64;
    while (size < 2 * (fresh.n + gone->n)) size *= 2;
    m.mask = size - 1;
    if (!(m.key = kftsp_malloc(size * sizeof *m.key)) || !(m.count = kftsp_malloc(size * sizeof *m.count))) {
      rc = KFTS_ENOMEM;
    } else {
      memset(m.key, 0, size * sizeof *m.key);
      memset(m.count, 0, size * sizeof *m.count);
    }
    for (int k = 0; !rc && k < 2; k++) {
      const kftsp_u64set *set = k ? gone : &fresh;
      for (size_t i = 0; i < set->cap; i++) {
        if (!set->slot[i]) continue;
        size_t j = bmap_find(&m, (uint32_t)(set->slot[i] - 1));
        m.key[j] = set->slot[i];
        m.count[j] |= k ? GONE_BIT : 0;
      }
    }
    /* Every article's rows in those buckets, in doc order, the first MAX_GROUP of each. */
    if (!rc && sqlite3_prepare_v2(h, "SELECT doc, n, sig FROM signatures ORDER BY doc", -1, &st, NULL) != SQLITE_OK)
      rc = db_fail(err, h, "reading signatures");
    while (!rc && (more = next_sig(st, &r)) > 0) {
      int took = 0;
      for (int b = 0; !rc && b < BANDS; b++) {
        size_t i = bmap_find(&m, bucket_of(r.min, b));
        if (!m.key[i] || (m.count[i] & ~GONE_BIT) >= MAX_GROUP) continue;
        m.count[i]++;
        if (!took) {
          row *t = kftsp_grow(kept, n_kept, &cap_kept, sizeof *t, 1024);
          if (!t) {
            rc = KFTS_ENOMEM;
            break;
          }
          (kept = t)[n_kept++] = r;
          took = 1;
        }
        member *u = kftsp_grow(mem, n_mem, &cap_mem, sizeof *u, 1024);
        if (!u) rc = KFTS_ENOMEM;
        else (mem = u)[n_mem++] = (member){(uint32_t)i, (uint32_t)(n_kept - 1)};
      }
    }
    if (!rc && more < 0) rc = db_fail(err, h, "reading signatures");
    sqlite3_finalize(st);
  }
  /* Each bucket's pairs: with a new article in them; any, where a removed article was. */
  kftsp_sort(mem, n_mem, sizeof *mem, cmp_member);
  for (size_t g = 0, e; !rc && g < n_mem; g = e) {
    for (e = g; e < n_mem && mem[e].slot == mem[g].slot; e++) at[e - g] = &kept[mem[e].row];
    rc = pair_rows(at, e - g, m.count[mem[g].slot] & GONE_BIT ? INT64_MIN : first, &found);
  }
  if (!rc && found.n &&
      sqlite3_prepare_v2(h, "INSERT OR IGNORE INTO cluster_pairs(a, b) VALUES (?1, ?2)", -1, &ins, NULL) != SQLITE_OK)
    rc = db_fail(err, h, "writing clusters");
  for (size_t k = 0; !rc && k < found.n; k++) {
    sqlite3_bind_int64(ins, 1, found.v[k].a);
    sqlite3_bind_int64(ins, 2, found.v[k].b);
    if (sqlite3_step(ins) != SQLITE_DONE) rc = db_fail(err, h, "writing clusters");
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  if (rc == KFTS_ENOMEM) kftsp_err(err, rc, "", 0, "out of memory");
  kftsp_u64set_free(&fresh);
  kftsp_free(m.key);
  kftsp_free(m.count);
  kftsp_free(kept);
  kftsp_free(mem);
  kftsp_free(found.v);
  return rc;
}

int kftsp_recluster_since(sqlite3 *h, int64_t first, const kftsp_cluster_gone_t *gone, kfts_error *err) {
  if (first < 0 || gone->docs.n > SINCE_MAX) return kftsp_recluster(h, err);
  int full = 0, rc = pairs_since(h, first, &gone->buckets, &full, err);
  if (!rc && full) return kftsp_recluster(h, err);
  /* Every pair, but the removed articles': those deleted as they come (the docs of a run's
  ** new articles are past every removed one's: no new pair has one). */
  dpair *v = NULL, *drop = NULL;
  size_t n = 0, cap = 0, n_drop = 0, cap_drop = 0;
  sqlite3_stmt *st = NULL, *del = NULL;
  if (!rc && (sqlite3_prepare_v2(h, "SELECT a, b FROM cluster_pairs ORDER BY a, b", -1, &st, NULL) != SQLITE_OK ||
              sqlite3_prepare_v2(h, "DELETE FROM cluster_pairs WHERE a = ?1 AND b = ?2", -1, &del, NULL) != SQLITE_OK))
    rc = db_fail(err, h, "reading clusters");
  int step = SQLITE_DONE;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    dpair p = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)};
    int gone_pair = kftsp_u64set_has(&gone->docs, (uint64_t)p.a) || kftsp_u64set_has(&gone->docs, (uint64_t)p.b);
    dpair *t = gone_pair ? kftsp_grow(drop, n_drop, &cap_drop, sizeof *t, 256) : kftsp_grow(v, n, &cap, sizeof *t, 4096);
    if (!t) rc = kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
    else if (gone_pair) (drop = t)[n_drop++] = p;
    else (v = t)[n++] = p;
  }
  if (!rc && step != SQLITE_DONE) rc = db_fail(err, h, "reading clusters");
  sqlite3_finalize(st);
  for (size_t i = 0; !rc && i < n_drop; i++) { /* after the read: no write under its cursor */
    sqlite3_bind_int64(del, 1, drop[i].a);
    sqlite3_bind_int64(del, 2, drop[i].b);
    if (sqlite3_step(del) != SQLITE_DONE) rc = db_fail(err, h, "writing clusters");
    sqlite3_reset(del);
  }
  sqlite3_finalize(del);
  kftsp_free(drop);
  if (!rc) rc = clusters_write(h, v, n, err);
  if (!rc) rc = mark_exact(h, err);
  kftsp_free(v);
  return rc;
}

/* ---- the articles closest to one ---- */

typedef struct near {
  int64_t id;
  double sim;
} near;

static int cmp_near(const void *a, const void *b) {
  const near *x = a, *y = b;
  if (x->sim != y->sim) return x->sim < y->sim ? 1 : -1;
  return x->id < y->id ? -1 : x->id > y->id;
}

int kftsp_similar(kfts_db *db, int64_t id, size_t limit, int64_t **docs_out, double **sims_out, size_t *n_out,
                  kfts_error *err) {
  *docs_out = NULL;
  *sims_out = NULL;
  *n_out = 0;
  sqlite3 *h = kftsp_db_handle(db);
  int rc = KFTS_OK;
  /* One pass over the signatures, compared with ID's as they stream by. */
  sqlite3_stmt *doc = NULL, *one = NULL, *all = NULL;
  kftsp_sig me, o;
  if (sqlite3_prepare_v2(h, "SELECT doc FROM articles WHERE id = ?1", -1, &doc, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h, "SELECT n, sig FROM signatures WHERE doc = ?1", -1, &one, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h, "SELECT doc, n, sig FROM signatures WHERE doc != ?1", -1, &all, NULL) != SQLITE_OK) {
    sqlite3_finalize(doc);
    sqlite3_finalize(one);
    return db_fail(err, h, "reading signatures");
  }
  sqlite3_bind_int64(doc, 1, id);
  int64_t mine = sqlite3_step(doc) == SQLITE_ROW ? sqlite3_column_int64(doc, 0) : 0;
  sqlite3_finalize(doc);
  int found = mine && read_sig(one, mine, &me);
  sqlite3_finalize(one);
  if (!found) {
    sqlite3_finalize(all);
    return kftsp_err(err, KFTS_EUSAGE, "query", 0, "no article with id %lld (ids are in --json output)",
                     (long long)id);
  }
  near *c = NULL;
  size_t m = 0, cap = 0;
  sqlite3_bind_int64(all, 1, mine);
  while (!rc && sqlite3_step(all) == SQLITE_ROW) {
    o.n = (uint32_t)sqlite3_column_int64(all, 1);
    if (o.n < KFTSP_SIG_MIN_TOKENS / 2) continue;
    if (!kftsp_sig_load(sqlite3_column_blob(all, 2), sqlite3_column_bytes(all, 2), o.min)) continue;
    double sim = kftsp_sig_similarity(&me, &o);
    if (sim < 0.1) continue;
    near *x = kftsp_grow(c, m, &cap, sizeof *x, 256);
    if (!x) {
      rc = KFTS_ENOMEM;
      break;
    }
    c = x;
    c[m].id = sqlite3_column_int64(all, 0);
    c[m++].sim = sim;
  }
  sqlite3_finalize(all);
  if (rc) {
    kftsp_free(c);
    return kftsp_err(err, rc, "", 0, "out of memory");
  }
  kftsp_sort(c, m, sizeof *c, cmp_near);
  if (m > limit) m = limit;
  int64_t *ids = kftsp_malloc((m ? m : 1) * sizeof *ids);
  double *sims = kftsp_malloc((m ? m : 1) * sizeof *sims);
  if (!ids || !sims) {
    kftsp_free(ids);
    kftsp_free(sims);
    rc = kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  } else {
    for (size_t i = 0; i < m; i++) ids[i] = c[i].id, sims[i] = c[i].sim;
    *docs_out = ids;
    *sims_out = sims;
    *n_out = m;
  }
  kftsp_free(c);
  return rc;
}
