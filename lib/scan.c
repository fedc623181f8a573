/*
** scan.c -- the match set of a query streamed in article-id order, each article with its
** metadata and its score, for timelines and facets.
**
** Joining FTS5's matches to articles costs a B-tree look-up per match, and bm25() one more,
** in %_docsize, per match: at 100k articles a query matching 88k of them spends about 40 ms
** on each. Here FTS5 yields the matching rowids in ascending order and one cursor walks
** articles_meta (store.c: id, the %_docsize blob, date, importance, source, topics, a few
** dozen bytes per article) forward beside it, under the query's filters: a few steps when
** the next match is near, a fresh seek when it is far. For a broad query that is a merge
** join, for a narrow one the same look-ups as before, in a smaller table.
**
** kfts_tf() hands over each row's phrase frequencies (weighted per column, as bm25() does);
** the score is FTS5's bm25 formula on them and the %_docsize length, times the importance
** and recency factors: bit for bit the value the ranked list's SQL computes
** (tests/unit/test_search.c compares every match).
*/
#include "kfts_int.h"

#include <math.h>
#include <sqlite3.h>
#include <string.h>

/* Rows a cursor steps over rather than seek: a seek costs about as much as eight steps. */
#define SEEK_AFTER 8

static const double weights[] = {KFTSP_BM25_WEIGHTS};

static const char tf_type[] = "kfts_tf";

typedef struct tf {
  double *idf, *freq; /* per phrase; NULL until the first row */
  int n;              /* phrases */
  int counted;        /* IDFs left to the scan, which counts each phrase's rows */
  double avgdl;       /* tokens per row */
  sqlite3_int64 rows; /* in the table */
} tf;

static int count_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *ud) {
  (void)api;
  (void)fts;
  (*(sqlite3_int64 *)ud)++;
  return SQLITE_OK;
}

/* bm25()'s IDF of a phrase found in HITS of ROWS rows. */
static double idf_of(sqlite3_int64 rows, sqlite3_int64 hits) {
  double idf = log((rows - hits + 0.5) / (hits + 0.5));
  return idf <= 0.0 ? 1e-6 : idf;
}

/* Per query, as bm25() does: the average row length and each phrase's IDF, unless COUNTED:
** a query of one OR group has each phrase's rows all among its matches, so the scan counts
** them (scan_counted) instead of a pass of xQueryPhrase over each phrase's rows. */
static int tf_setup(const Fts5ExtensionApi *api, Fts5Context *fts, tf *t) {
  int n = api->xPhraseCount(fts);
  double *v = kftsp_malloc(2 * (size_t)(n > 0 ? n : 1) * sizeof *v);
  if (!v) return SQLITE_NOMEM;
  sqlite3_int64 rows = 0, tokens = 0;
  int rc = api->xRowCount(fts, &rows);
  if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &tokens);
  for (int i = 0; rc == SQLITE_OK && i < n; i++) {
    sqlite3_int64 hits = 0;
    if (!t->counted) rc = api->xQueryPhrase(fts, i, &hits, count_cb);
    v[i] = idf_of(rows, hits);
  }
  if (rc != SQLITE_OK || rows <= 0) {
    kftsp_free(v);
    return rc == SQLITE_OK ? SQLITE_CORRUPT : rc;
  }
  t->idf = v;
  t->freq = v + n;
  t->n = n;
  t->rows = rows;
  t->avgdl = (double)tokens / (double)rows;
  return SQLITE_OK;
}

/* kfts_tf(articles_fts, pointer): fills the scan's tf with the current row's frequencies. */
static void tf_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nVal,
                  sqlite3_value **apVal) {
  tf *t = nVal == 1 ? sqlite3_value_pointer(apVal[0], tf_type) : NULL;
  if (!t) {
    sqlite3_result_error(ctx, "kfts_tf: for kfts's own use", -1);
    return;
  }
  int rc = t->idf ? SQLITE_OK : tf_setup(api, fts, t);
  /* Phrase by phrase rather than bm25()'s xInst walk (cheaper, no instance array): each
  ** phrase's instances come in the same order either way, so the sums are the same. */
  for (int p = 0; rc == SQLITE_OK && p < t->n; p++) {
    Fts5PhraseIter it;
    int col = -1, off = -1;
    double f = 0.0;
    rc = api->xPhraseFirst(fts, p, &it, &col, &off);
    for (; rc == SQLITE_OK && col >= 0; api->xPhraseNext(fts, &it, &col, &off))
      f += (size_t)col < KFTSP_ARRAY_LEN(weights) ? weights[col] : 1.0;
    t->freq[p] = f;
  }
  if (rc != SQLITE_OK) sqlite3_result_error_code(ctx, rc);
}

int kftsp_scan_register(fts5_api *api) { return api->xCreateFunction(api, "kfts_tf", NULL, tf_fn, NULL); }

/* FTS5's bm25 (fts5_aux.c) on the row's frequencies and its length D, negated back. */
static double bm25(const tf *t, double D) {
  const double k1 = 1.2, b = 0.75;
  double score = 0.0;
  for (int i = 0; i < t->n; i++)
    score += t->idf[i] * ((t->freq[i] * (k1 + 1.0)) / (t->freq[i] + k1 * (1 - b + b * D / t->avgdl)));
  return score;
}

/* The row length %_docsize holds: one varint per column, summed. -1 when malformed. */
static double doc_length(const unsigned char *p, int n) {
  int64_t sum = 0;
  for (int i = 0, col = 0; col < 4; col++) {
    uint32_t v = 0;
    int k = 0;
    for (;;) {
      if (i >= n || k == 5) return -1;
      unsigned char c = p[i++];
      v = (v << 7) | (c & 0x7f);
      k++;
      if (!(c & 0x80)) break;
    }
    sum += (int32_t)v;
    if (col == 3 && i != n) return -1;
  }
  return (double)sum;
}

typedef struct cursor {
  sqlite3_stmt *st; /* "... WHERE id >= ?70 ... ORDER BY id": column 0 is the id */
  int64_t id;
  int state;  /* 0: not yet placed, 1: on a row, 2: past the last row */
  double gap; /* ids per step, as seen so far (0: not yet seen) */
} cursor;

static int cursor_seek(cursor *c, int64_t target) {
  sqlite3_reset(c->st);
  sqlite3_bind_int64(c->st, sqlite3_bind_parameter_index(c->st, "?70"), target);
  return sqlite3_step(c->st);
}

/* Moves C to its first row with id >= TARGET (targets never decrease): steps forward when
** the rows seen so far say TARGET is a few steps away, seeks otherwise. Returns 1 when the
** row reached is TARGET, 0 when not, -1 on a database error. */
static int cursor_to(cursor *c, int64_t target) {
  if (c->state == 2) return 0;
  if (c->state == 1 && c->id >= target) return c->id == target;
  int steps = 0;
  if (c->state == 1) /* a first step teaches the gap */
    steps = c->gap <= 0 ? 1 : (double)(target - c->id) / c->gap <= SEEK_AFTER ? 2 * SEEK_AFTER : 0;
  for (;;) {
    int64_t from = c->id;
    int stepped = steps-- > 0, s = stepped ? sqlite3_step(c->st) : cursor_seek(c, target);
    if (s == SQLITE_DONE) {
      c->state = 2;
      return 0;
    }
    if (s != SQLITE_ROW) return -1;
    c->state = 1;
    c->id = sqlite3_column_int64(c->st, 0);
    if (stepped) {
      double d = (double)(c->id - from);
      c->gap = c->gap <= 0 ? d : 0.875 * c->gap + 0.125 * d;
    }
    if (c->id >= target) return c->id == target;
  }
}

/* Columns FIRST.. are date, importance, source, topics. */
static void row_from(kftsp_mrow *row, sqlite3_stmt *st, int first, int topics) {
  row->date = (const char *)sqlite3_column_text(st, first);
  row->importance = sqlite3_column_type(st, first + 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, first + 1);
  row->source = (const char *)sqlite3_column_text(st, first + 2);
  row->topics = topics ? (const char *)sqlite3_column_text(st, first + 3) : NULL;
}

/* No words, only filters: one pass over the articles that pass them. */
static int scan_filtered(kftsp_match *m, int flags, kftsp_mrow_fn fn, void *ctx) {
  sqlite3_stmt *st = NULL;
  int rc = kftsp_match_prepare(m, "SELECT id, date, importance, source, topics FROM (%s)", 0, &st), s = SQLITE_DONE;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    kftsp_mrow row = {sqlite3_column_int64(st, 0), NULL, -1, NULL, NULL, 0.0, 0.0};
    row_from(&row, st, 1, flags & KFTSP_SCAN_TOPICS);
    rc = fn(ctx, &row);
  }
  if (!rc && s != SQLITE_DONE) rc = kftsp_match_fail(m, NULL);
  sqlite3_finalize(st);
  return rc;
}

/* One match: its metadata from the META cursor (0 when the filters leave it out), its score
** from T's frequencies, handed to FN. */
static int emit_row(kftsp_match *m, cursor *meta, int64_t id, const tf *t, int flags, kftsp_mrow_fn fn,
                    void *ctx) {
  int k = cursor_to(meta, id);
  if (k < 0) return kftsp_match_fail(m, NULL);
  if (!k) return KFTS_OK; /* the filters leave it out */
  kftsp_mrow row = {id, NULL, -1, NULL, NULL, 0.0, 0.0};
  row_from(&row, meta->st, 1, flags & KFTSP_SCAN_TOPICS);
  if (flags & KFTSP_SCAN_SCORE) {
    double D = doc_length(sqlite3_column_blob(meta->st, 5), sqlite3_column_bytes(meta->st, 5));
    if (D < 0) return kftsp_match_fail(m, "articles_meta lacks or garbles a length: run kfts-index --full");
    row.relevance = bm25(t, D);
    row.score = row.relevance * kftsp_match_boost(m, row.importance, row.date);
  }
  return fn(ctx, &row);
}

/* The scored scan of a one-OR-group query (tf.counted): the matches' ids and phrase
** frequencies first (each frequency a sum of small column weights, exact in a float), each
** phrase's rows counted on the way; then the IDFs, then the rows in id order as usual.
** Holds 8 + 4 bytes per phrase per match. */
static int scan_counted(kftsp_match *m, sqlite3_stmt *hits, cursor *meta, tf *t, int flags, kftsp_mrow_fn fn,
                        void *ctx) {
  int64_t *ids = NULL;
  float *freq = NULL;
  sqlite3_int64 *seen = NULL;
  size_t n = 0, cap = 0;
  int rc = KFTS_OK, s = SQLITE_DONE;
  while ((s = sqlite3_step(hits)) == SQLITE_ROW) {
    if (!seen && !(seen = kftsp_malloc((size_t)(t->n > 0 ? t->n : 1) * sizeof *seen))) {
      rc = KFTS_ENOMEM;
      break;
    }
    if (n == cap) {
      size_t c = cap ? 2 * cap : 1024;
      int64_t *x = kftsp_realloc(ids, c * sizeof *x);
      if (x) ids = x;
      float *f = x ? kftsp_realloc(freq, c * (size_t)t->n * sizeof *f + 1) : NULL;
      if (!f) {
        rc = KFTS_ENOMEM;
        break;
      }
      freq = f;
      cap = c;
    }
    if (n == 0) memset(seen, 0, (size_t)t->n * sizeof *seen);
    ids[n] = sqlite3_column_int64(hits, 0);
    for (int p = 0; p < t->n; p++) {
      freq[n * (size_t)t->n + p] = (float)t->freq[p];
      seen[p] += t->freq[p] > 0.0;
    }
    n++;
  }
  if (!rc && s != SQLITE_DONE) rc = kftsp_match_fail(m, NULL);
  for (int p = 0; !rc && n && p < t->n; p++) t->idf[p] = idf_of(t->rows, seen[p]);
  for (size_t i = 0; !rc && i < n; i++) {
    for (int p = 0; p < t->n; p++) t->freq[p] = freq[i * (size_t)t->n + p];
    rc = emit_row(m, meta, ids[i], t, flags, fn, ctx);
  }
  kftsp_free(ids);
  kftsp_free(freq);
  kftsp_free(seen);
  return rc;
}

int kftsp_match_scan(kftsp_match *m, int flags, kftsp_mrow_fn fn, void *ctx) {
  if (!kftsp_match_fts(m)) return scan_filtered(m, flags, fn, ctx);
  int score = flags & KFTSP_SCAN_SCORE, topics = flags & KFTSP_SCAN_TOPICS;
  tf t = {0};
  t.counted = score && kftsp_match_or_only(m);
  cursor meta = {0};
  sqlite3_stmt *hits = NULL;
  kftsp_buf b = {0};
  kftsp_buf_printf(&b,
                   "SELECT a.id, a.date, a.importance, a.source, %s, %s FROM articles_meta a"
                   " WHERE a.id >= ?70%s ORDER BY a.id",
                   topics ? "a.topics" : "NULL", score ? "a.sz" : "NULL", kftsp_match_where(m));
  int rc = b.oom ? KFTS_ENOMEM : kftsp_match_sql(m, b.p, &meta.st);
  kftsp_buf_reset(&b);
  if (!rc)
    rc = kftsp_match_sql(m,
                         score ? "SELECT rowid, kfts_tf(articles_fts, ?71) FROM articles_fts"
                                 " WHERE articles_fts MATCH ?60 ORDER BY rowid"
                               : "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?60 ORDER BY rowid",
                         &hits);
  if (!rc && score) sqlite3_bind_pointer(hits, sqlite3_bind_parameter_index(hits, "?71"), &t, tf_type, NULL);
  if (!rc && t.counted) {
    /* Both passes in one read transaction: one snapshot, and no lock taken again at each
    ** seek of the meta cursor once FTS5's statement is done. */
    sqlite3 *h = kftsp_match_handle(m);
    int own = sqlite3_get_autocommit(h);
    if (own && sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) rc = kftsp_match_fail(m, NULL);
    if (!rc) rc = scan_counted(m, hits, &meta, &t, flags, fn, ctx);
    if (own) {
      sqlite3_reset(hits);
      sqlite3_reset(meta.st);
      if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK && !rc) rc = kftsp_match_fail(m, NULL);
    }
  } else if (!rc) {
    int s = SQLITE_DONE;
    while (!rc && (s = sqlite3_step(hits)) == SQLITE_ROW)
      rc = emit_row(m, &meta, sqlite3_column_int64(hits, 0), &t, flags, fn, ctx);
    if (!rc && s != SQLITE_DONE) rc = kftsp_match_fail(m, NULL);
  }
  sqlite3_finalize(hits);
  sqlite3_finalize(meta.st);
  kftsp_free(t.idf);
  return rc;
}
