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
** Stored in signatures(article_id, n, sig) and clusters(article_id, cluster): cluster is
** the leader's article id (the group's smallest); articles alone have no row.
*/
#include "kfts_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

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

int kftsp_signature(const char *const *parts, size_t n_parts, kftsp_sig *out) {
  sigctx c = {0};
  for (size_t i = 0; i < n_parts && !c.oom; i++)
    if (parts[i] && kfts_tokens(parts[i], strlen(parts[i]), 0, on_token, &c) != KFTS_OK) c.oom = 1;
  if (c.oom) {
    kftsp_u64set_free(&c.set);
    return KFTS_ENOMEM;
  }
  for (int k = 0; k < KFTSP_SIG_K; k++) out->min[k] = UINT32_MAX;
  out->n = (uint32_t)c.set.n;
  /* K hash functions from one well-mixed 64-bit value: h_k = top 32 bits of (h * odd_k + c_k),
  ** one multiply-add each (the token hashes are already mixed). */
  static uint64_t mul[KFTSP_SIG_K], add[KFTSP_SIG_K];
  if (!mul[0])
    for (int k = 0; k < KFTSP_SIG_K; k++) {
      mul[k] = mix64(0x9E3779B97F4A7C15ULL * (uint64_t)(k + 1)) | 1;
      add[k] = mix64(0xD1B54A32D192ED03ULL * (uint64_t)(k + 7));
    }
  for (size_t i = 0; i < c.set.cap; i++) {
    uint64_t h = c.set.slot[i];
    if (!h) continue;
    for (int k = 0; k < KFTSP_SIG_K; k++) {
      uint32_t v = (uint32_t)((h * mul[k] + add[k]) >> 32);
      if (v < out->min[k]) out->min[k] = v;
    }
  }
  kftsp_u64set_free(&c.set);
  return KFTS_OK;
}

double kftsp_sig_jaccard(const kftsp_sig *a, const kftsp_sig *b) {
  int same = 0;
  for (int k = 0; k < KFTSP_SIG_K; k++) same += a->min[k] == b->min[k];
  return (double)same / KFTSP_SIG_K;
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

/* What re-clustering keeps of each article: its id, token count and each minimum's low 16
** bits (140 bytes, not the 264 of a signature). Two different minima agree in their low bits
** once in 65,536 slots, a Jaccard estimate off by 1/64 for about one pair in a thousand. */
typedef struct row {
  int64_t id;
  uint32_t n;
  uint16_t min[KFTSP_SIG_K];
} row;

static void sig_of(const row *r, kftsp_sig *s) {
  s->n = r->n;
  for (int k = 0; k < KFTSP_SIG_K; k++) s->min[k] = r->min[k];
}

/* A band key: the band's 32-bit hash above the row number, so one sort of plain integers
** groups a bucket's rows, ascending. (Two buckets whose hashes collide in 32 bits are paired
** too: harmless, every pair is checked with kftsp_sig_related before it counts.) */
#define KEY_ROW(k) ((uint32_t)(k))
#define KEY_BUCKET(k) ((k) >> 32)

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

static int load_rows(sqlite3 *h, row **out, size_t *n_out, kfts_error *err) {
  sqlite3_stmt *st;
  *out = NULL;
  *n_out = 0;
  if (sqlite3_prepare_v2(h, "SELECT article_id, n, sig FROM signatures ORDER BY article_id", -1, &st, NULL) != SQLITE_OK)
    return db_fail(err, h, "reading signatures");
  row *v = NULL;
  size_t n = 0, cap = 0;
  int rc = KFTS_OK;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (sqlite3_column_bytes(st, 2) != (int)(KFTSP_SIG_K * sizeof(uint32_t))) continue; /* not ours: ignored */
    if (n == cap) {
      cap = cap ? cap * 2 : 1024;
      row *x = kftsp_realloc(v, cap * sizeof *x);
      if (!x) {
        rc = KFTS_ENOMEM;
        break;
      }
      v = x;
    }
    uint32_t min[KFTSP_SIG_K];
    memcpy(min, sqlite3_column_blob(st, 2), sizeof min);
    v[n].id = sqlite3_column_int64(st, 0);
    v[n].n = (uint32_t)sqlite3_column_int64(st, 1);
    for (int k = 0; k < KFTSP_SIG_K; k++) v[n].min[k] = (uint16_t)min[k];
    n++;
  }
  sqlite3_finalize(st);
  if (rc) {
    kftsp_free(v);
    return kftsp_err(err, rc, "", 0, "out of memory");
  }
  *out = v;
  *n_out = n;
  return KFTS_OK;
}

/* The signature of article ID, read back (ST: SELECT n, sig ... WHERE article_id = ?1). */
static int read_sig(sqlite3_stmt *st, int64_t id, kftsp_sig *s) {
  sqlite3_bind_int64(st, 1, id);
  int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) == (int)sizeof s->min;
  if (ok) {
    s->n = (uint32_t)sqlite3_column_int64(st, 0);
    memcpy(s->min, sqlite3_column_blob(st, 1), sizeof s->min);
  }
  sqlite3_reset(st);
  return ok;
}

typedef struct cand_pair {
  uint32_t a, b; /* rows, a > b */
} cand_pair;

static int cmp_pair(const void *x, const void *y) {
  const cand_pair *p = x, *q = y;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  return p->b < q->b ? -1 : p->b > q->b;
}

/*
** Related pairs among LSH candidates, then leader clustering in id order: an article joins the
** cluster of the first earlier leader it is related to, else leads its own. Every member
** is related to its leader, so clusters cannot chain (A~B~C with A, C unrelated).
** Memory: about 160 bytes an article (the rows, one band's sorted keys, leaders).
*/
int kftsp_recluster(sqlite3 *h, kfts_error *err) {
  row *v = NULL;
  size_t n = 0;
  int rc = load_rows(h, &v, &n, err);
  if (rc) return rc;
  uint32_t *leader = kftsp_malloc((n ? n : 1) * sizeof *leader);
  uint64_t *keys = kftsp_malloc((n ? n : 1) * 2 * sizeof *keys), *tmp = keys ? keys + (n ? n : 1) : NULL;
  size_t *count = kftsp_malloc(((size_t)1 << 16) * sizeof *count);
  cand_pair *pairs = NULL;
  size_t n_pairs = 0, cap_pairs = 0;
  if (!leader || !keys || !count) rc = KFTS_ENOMEM;
  for (int b = 0; !rc && b < BANDS; b++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      if (v[i].n < KFTSP_SIG_MIN_TOKENS) continue;
      uint64_t hk = kftsp_fnv1a((uint64_t)b * 0x100000001b3ULL ^ KFTSP_FNV_INIT, &v[i].min[b * ROWS],
                                ROWS * sizeof v[i].min[0]);
      keys[m++] = ((hk ^ (hk >> 32)) << 32) | (uint32_t)i;
    }
    radix_sort(keys, tmp, m, count);
    for (size_t g = 0; g < m && !rc;) {
      size_t e = g + 1;
      while (e < m && KEY_BUCKET(keys[e]) == KEY_BUCKET(keys[g])) e++;
      size_t lim = e - g > MAX_GROUP ? g + MAX_GROUP : e;
      for (size_t x = g; x < lim && !rc; x++)
        for (size_t y = x + 1; y < lim; y++) {
          /* Only related pairs are kept: memory follows the duplicates, not the buckets. */
          kftsp_sig sx, sy;
          sig_of(&v[KEY_ROW(keys[x])], &sx);
          sig_of(&v[KEY_ROW(keys[y])], &sy);
          if (!kftsp_sig_related(&sx, &sy)) continue;
          if (n_pairs == cap_pairs) {
            size_t cap = cap_pairs ? cap_pairs * 2 : 4096;
            cand_pair *t = kftsp_realloc(pairs, cap * sizeof *t);
            if (!t) {
              rc = KFTS_ENOMEM;
              break;
            }
            pairs = t;
            cap_pairs = cap;
          }
          uint32_t a = KEY_ROW(keys[x]), c = KEY_ROW(keys[y]); /* ascending within a bucket */
          pairs[n_pairs].a = a > c ? a : c;
          pairs[n_pairs].b = a > c ? c : a;
          n_pairs++;
        }
      g = e;
    }
  }
  if (!rc) {
    kftsp_sort(pairs, n_pairs, sizeof *pairs, cmp_pair);
    for (size_t i = 0; i < n; i++) leader[i] = (uint32_t)i;
    /* Rows are in id order; pairs sorted by (later row, earlier row). */
    for (size_t k = 0; k < n_pairs; k++) {
      uint32_t a = pairs[k].a, b = pairs[k].b;
      if (k && pairs[k].a == pairs[k - 1].a && pairs[k].b == pairs[k - 1].b) continue; /* seen in another band */
      if (leader[a] != a || leader[b] != b) continue; /* a already joined; b follows another leader */
      leader[a] = b; /* related: checked when the pair was found */
    }
  }
  /* Write: each member and each leader with members, as (article, leader's id). */
  sqlite3_stmt *ins = NULL;
  if (!rc) {
    char *msg = NULL;
    if (sqlite3_exec(h, "DELETE FROM clusters", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(h, "INSERT OR IGNORE INTO clusters(article_id, cluster) VALUES (?1, ?2)", -1, &ins,
                           NULL) != SQLITE_OK)
      rc = kftsp_err(err, KFTS_EDB, "database", 0, "writing clusters: %s", msg ? msg : sqlite3_errmsg(h));
    sqlite3_free(msg);
  }
  for (size_t i = 0; !rc && i < n; i++) {
    if (leader[i] == i) continue;
    int64_t ids[2] = {v[i].id, v[leader[i]].id};
    for (int k = 0; k < 2 && !rc; k++) {
      sqlite3_bind_int64(ins, 1, ids[k]);
      sqlite3_bind_int64(ins, 2, v[leader[i]].id);
      if (sqlite3_step(ins) != SQLITE_DONE)
        rc = kftsp_err(err, KFTS_EDB, "database", 0, "writing clusters: %s", sqlite3_errmsg(h));
      sqlite3_reset(ins);
    }
  }
  sqlite3_finalize(ins);
  if (rc == KFTS_ENOMEM) kftsp_err(err, rc, "", 0, "out of memory");
  kftsp_free(pairs);
  kftsp_free(keys);
  kftsp_free(count);
  kftsp_free(leader);
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

int kftsp_similar(kfts_db *db, int64_t id, size_t limit, int64_t **ids_out, double **sims_out, size_t *n_out,
                  kfts_error *err) {
  *ids_out = NULL;
  *sims_out = NULL;
  *n_out = 0;
  sqlite3 *h = kftsp_db_handle(db);
  int rc = KFTS_OK;
  /* One pass over the signatures, compared with ID's as they stream by. */
  sqlite3_stmt *one = NULL, *all = NULL;
  kftsp_sig me, o;
  if (sqlite3_prepare_v2(h, "SELECT n, sig FROM signatures WHERE article_id = ?1", -1, &one, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h, "SELECT article_id, n, sig FROM signatures WHERE article_id != ?1", -1, &all, NULL) !=
          SQLITE_OK) {
    sqlite3_finalize(one);
    return db_fail(err, h, "reading signatures");
  }
  int found = read_sig(one, id, &me);
  sqlite3_finalize(one);
  if (!found) {
    sqlite3_finalize(all);
    return kftsp_err(err, KFTS_EUSAGE, "query", 0, "no article with id %lld (ids are in --json output)",
                     (long long)id);
  }
  near *c = NULL;
  size_t m = 0, cap = 0;
  sqlite3_bind_int64(all, 1, id);
  while (!rc && sqlite3_step(all) == SQLITE_ROW) {
    if (sqlite3_column_bytes(all, 2) != (int)sizeof o.min) continue;
    o.n = (uint32_t)sqlite3_column_int64(all, 1);
    if (o.n < KFTSP_SIG_MIN_TOKENS / 2) continue;
    memcpy(o.min, sqlite3_column_blob(all, 2), sizeof o.min);
    double sim = kftsp_sig_similarity(&me, &o);
    if (sim < 0.1) continue;
    if (m == cap) {
      cap = cap ? 2 * cap : 256;
      near *x = kftsp_realloc(c, cap * sizeof *x);
      if (!x) {
        rc = KFTS_ENOMEM;
        break;
      }
      c = x;
    }
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
    *ids_out = ids;
    *sims_out = sims;
    *n_out = m;
  }
  kftsp_free(c);
  return rc;
}
