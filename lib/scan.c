/*
** scan.c -- the match set of a query streamed in doc order (articles.doc, FTS5's rowid), each article with its
** metadata and its score, for timelines and facets.
**
** Joining FTS5's matches to articles costs a B-tree look-up per match, and bm25() one more,
** in %_docsize, per match: at 100k articles a query matching 88k of them spends about 40 ms
** on each. Here FTS5 yields the matching rowids in ascending order and one cursor walks
** articles_meta (store.c: doc, the %_docsize blob, date, importance, source, topics, a few
** dozen bytes per article) forward beside it, under the query's filters: a few steps when
** the next match is near, a fresh seek when it is far. For a broad query that is a merge
** join, for a narrow one the same look-ups as before, in a smaller table.
**
** A relevance page with no filters (KFTSP_SCAN_LEAN) needs only each match's length,
** importance and day: it reads them from docvals blocks (docvals.c), a few hundred articles
** each, stepped through beside the matches instead of a seek in articles_meta per match (at
** 1M, 모델: 44 -> 12 ms).
**
** With filters that SQLite finds through an index of articles (source, a date range), a lean
** scan first collects the docs that pass them (pass_build); kfts_tf() then skips the
** positions of every match outside them, and the rest score from docvals (at 1M,
** `AI source:aitimes`: 65 -> 37 ms).
**
** kfts_tf() hands over each row's phrase frequencies (weighted per column, as bm25() does);
** the score is FTS5's bm25 formula on them and the %_docsize length, times the importance
** and recency factors: bit for bit the value the ranked list's SQL computes
** (tests/unit/test_search.c compares every match). For a query of one OR group the scan
** counts each phrase's rows for the IDFs itself, rather than a pass of FTS5 over each phrase.
**
** The matches of a counted lean scan are read from FTS5's segments by doclist.c when it can:
** their decoding costs about a third of FTS5's iterator, callback and position walk. When
** every phrase is so read, FTS5 runs no statement at all (direct_main).
**
** A large index is scanned in two halves by doc at once, on two threads, the second on a
** second read-only connection (kftsp_db_worker) that must read the same state of the index
** as the first (kftsp_scan_same_index); each half hands its rows to its own context, which
** the caller merges. The costs per match (FTS5's position lists, the meta cursor's seeks)
** are CPU-bound and the halves share nothing, so two cores halve them, provided SQLite's
** memory statistics are off (kfts_init): their lock, taken at every allocation, made the
** threads wait on each other.
*/
#include "kfts_int.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* Rows a cursor steps over rather than seek: a seek costs about as much as eight steps. */
#define SEEK_AFTER 8

static const double weights[] = {KFTSP_BM25_WEIGHTS};

static const char tf_type[] = "kfts_tf";

/* The docs that pass a query's filters, when SQLite finds them through an index (pass_build). */
typedef struct passset {
  uint64_t *bits; /* bit d: doc d passes */
  int64_t n;      /* docs 0 .. n-1 covered; the others do not pass */
} passset;

static int pass_has(const passset *p, int64_t doc) {
  return doc >= 0 && doc < p->n && (p->bits[doc >> 6] >> (doc & 63) & 1);
}

typedef struct tf {
  double *idf, *freq; /* per phrase; NULL until the first row */
  int n;              /* phrases */
  int counted;        /* IDFs left to the scan, which counts each phrase's rows */
  double avgdl;       /* tokens per row */
  sqlite3_int64 rows; /* in the table */
  const passset *pass; /* or NULL: rows outside it are SKIPPED, their positions not read */
  int skipped;
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

/* T for N phrases in ROWS rows of TOKENS tokens in all, V (2 N doubles, T's now) holding the
** IDFs. */
static void tf_init(tf *t, double *v, int n, int64_t rows, int64_t tokens) {
  t->idf = v;
  t->freq = v + n;
  t->n = n;
  t->rows = rows;
  t->avgdl = (double)tokens / (double)rows;
}

/* Per query, as bm25() does: the average row length and each phrase's IDF, unless COUNTED:
** a query of one OR group has each phrase's rows all among its matches, so the scan counts
** them (half_keep) instead of a pass of xQueryPhrase over each phrase's rows. */
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
  tf_init(t, v, n, rows, tokens);
  return SQLITE_OK;
}

/* Phrase P's frequency in the current row, each instance weighted by its column. Phrase by
** phrase rather than bm25()'s xInst walk (cheaper, no instance array): each phrase's
** instances come in the same order either way, so the sums are the same. */
static double phrase_freq(const Fts5ExtensionApi *api, Fts5Context *fts, int p, int *rc) {
  Fts5PhraseIter it;
  int col = -1, off = -1;
  double f = 0.0;
  *rc = api->xPhraseFirst(fts, p, &it, &col, &off);
  for (; *rc == SQLITE_OK && col >= 0; api->xPhraseNext(fts, &it, &col, &off))
    f += (size_t)col < KFTSP_ARRAY_LEN(weights) ? weights[col] : 1.0;
  return f;
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
  t->skipped = 0;
  if (rc == SQLITE_OK && t->pass && !pass_has(t->pass, api->xRowid(fts))) {
    /* Filtered out: counted only, when counting, by the phrases it has (the first position
    ** of each tells). */
    t->skipped = 1;
    for (int p = 0; t->counted && rc == SQLITE_OK && p < t->n; p++) {
      Fts5PhraseIter it;
      int col = -1, off = -1;
      if (t->n > 1) rc = api->xPhraseFirst(fts, p, &it, &col, &off);
      t->freq[p] = t->n == 1 || col >= 0 ? 1.0 : 0.0;
    }
    if (rc != SQLITE_OK) sqlite3_result_error_code(ctx, rc);
    return;
  }
  for (int p = 0; rc == SQLITE_OK && p < t->n; p++) t->freq[p] = phrase_freq(api, fts, p, &rc);
  if (rc != SQLITE_OK) sqlite3_result_error_code(ctx, rc);
}

/* Runs F(A2) on a second thread, when A2 is set, while the caller's thread runs F(A1): on
** HP (the handle's helper) when there is one, else on a thread of its own. */
static void both(kftsp_helper *hp, void *(*f)(void *), void *a1, void *a2) {
  pthread_t th;
  if (a2 && hp) {
    kftsp_helper_both(hp, f, a1, a2);
  } else if (a2 && pthread_create(&th, NULL, f, a2) == 0) {
    f(a1);
    pthread_join(th, NULL);
  } else {
    f(a1);
    if (a2) f(a2);
  }
}

/* ---- a counted scan's first phase in one call ----
** A lean scored scan of one OR group needs every row of each phrase (the counts give the
** IDFs) and, for the rows that pass, the phrase's frequency. kfts_collect(), called on the
** query's first match, reads them phrase by phrase through xQueryPhrase: no statement step
** and no function call per match. With two threads, each collects on its own connection
** the next phrase not yet taken. One phrase of one token is cut at the middle doc: the
** second thread steps over the first half's rows (xQueryPhrase cannot seek), which costs
** little when no positions are read. One phrase of several tokens, whose every row costs
** its positions even to be stepped over, is read from both ends at once until the two
** threads meet (struct meet): the first through xQueryPhrase in ascending docs, the second
** called on every row of its statement in descending docs (a step and a call per match,
** about 1.5 times the cost): "데이터 센터" 0.72x, GPT-5 0.75x of the time at 1M. For one
** token that was slower (모델 1.12x): both cores busy to the end, on one core's two threads. */
typedef struct meet {
  _Alignas(64) atomic_llong up; /* the ascending thread's doc at its last look */
  _Alignas(64) atomic_llong down; /* the descending thread's (a line each: both are written) */
} meet;
#define MEET_EVERY 64 /* rows between looks after the first 64 (a rare phrase's rows are far
                         ** apart), when no passset needs the counts exact */
#define MEETS 16 /* phrases that may be read from both ends */

typedef struct plist {
  int64_t *doc;
  float *f;
  size_t n, cap;
  size_t doc_bytes, f_bytes; /* the blocks' sizes (kftsp_pool) */
} plist;

/* Two arrays kept in step (*A of A_EACH bytes an entry, *B of B_EACH), holding N entries in
** *CAP, grown from POOL to twice as many (1024 at first) or the blocks' room; their blocks'
** sizes in *A_BYTES and *B_BYTES. */
static int grow_pair(kftsp_pool *pool, void **a, size_t *a_bytes, size_t a_each, void **b, size_t *b_bytes,
                     size_t b_each, size_t n, size_t *cap) {
  size_t want = *cap ? 2 * *cap : 1024;
  if (kftsp_pool_grow(pool, a, a_bytes, want * a_each, n * a_each) ||
      kftsp_pool_grow(pool, b, b_bytes, want * b_each, n * b_each))
    return KFTS_ENOMEM;
  *cap = *a_bytes / a_each < *b_bytes / b_each ? *a_bytes / a_each : *b_bytes / b_each;
  return KFTS_OK;
}

/* L grown (from POOL) to hold at least one more entry. */
static int plist_grow(plist *l, kftsp_pool *pool) {
  void *d = l->doc, *f = l->f;
  int rc = grow_pair(pool, &d, &l->doc_bytes, sizeof *l->doc, &f, &l->f_bytes, sizeof *l->f, l->n, &l->cap);
  l->doc = d;
  l->f = f;
  return rc;
}

static void plist_free(plist *l, kftsp_pool *pool) {
  kftsp_pool_give(pool, l->doc, l->doc_bytes);
  kftsp_pool_give(pool, l->f, l->f_bytes);
}

typedef struct collect {
  tf *t;               /* set up by the call; its IDFs are left to SEEN */
  plist *ph;           /* per phrase, docs ascending (descending: the downward thread's one) */
  sqlite3_int64 *seen; /* per phrase: its rows, passing or not */
  int p, done;
  int finished;        /* the downward thread stops stepping */
  int down;            /* this thread reads down, its statement in descending docs */
  int second;          /* the second thread's */
  int want_down;       /* one phrase from both ends: the second thread's statement to run */
  int64_t lo, hi;      /* one phrase of one token on two threads: this thread's docs */
  int64_t edge;        /* one phrase on two threads: the last doc this thread took */
  int took;            /* ... when it took any */
  meet *meet;          /* the phrase being read from both ends, or NULL */
  meet *meets;         /* two threads: per phrase (MEETS), or NULL */
  kftsp_pool *pool;    /* the handle's, or NULL */
  unsigned tick;       /* rows since this thread last looked */
  atomic_int cur;      /* several phrases: the one this thread reads up, or -1 */
  struct collect *other; /* the other thread's, or NULL */
  int stole;           /* the phrase this thread read down from its end, or -1 */
  atomic_int *next;    /* several phrases on two threads: the next phrase not yet taken */
  struct sqlite3 *db;  /* this thread's connection */
  size_t merged;       /* direct_main on two threads, several phrases: this half's docs, merged */
  int by_half;         /* ... so (each thread read every phrase in its docs) */
  const struct direct *direct; /* phrases read from FTS5's segments, or NULL */
} collect;

static const char collect_type[] = "kfts_collect";

/* Whether this thread takes DOC, one phrase being read from both ends: each thread says
** where it is, then looks where the other is (sequentially consistent, so that at least one
** of two threads on the same doc sees the other there). Every doc is taken: a thread stops
** only at a doc the other has passed (or, going down, reached: taken unless the other had
** passed it), the other having taken every doc on its way there. Looking at every row, at
** most one doc is taken by both; every MEET_EVERY rows (a look costs a cache line passed
** between the cores) once past the first MEET_EVERY rows, up to two such stretches, which
** collect_merge drops. Docs a passset
** leaves out are counted but not listed, so with one the threads look at every row. */
int kftsp_meet_wait = 0;

static int meet_takes(collect *c, int64_t doc) {
  meet *m = c->meet;
  if (!m || (!c->t->pass && ++c->tick > MEET_EVERY && c->tick % MEET_EVERY)) return 1;
  if (kftsp_meet_wait && !c->down && c->t->n == 1) /* tests: the other thread under way first */
    for (long i = 0; i < 1000000L && atomic_load(&m->down) == INT64_MAX; i++) sched_yield();
  if (c->down) {
    atomic_store(&m->down, doc);
    return doc > atomic_load(&m->up);
  }
  atomic_store(&m->up, doc);
  return doc <= atomic_load(&m->down);
}

/* Counts row DOC of phrase P; 1 when it passes (to be listed). */
static int collect_counts(collect *c, int64_t doc) {
  c->edge = doc;
  c->took = 1;
  c->seen[c->p]++;
  return !c->t->pass || pass_has(c->t->pass, doc);
}

static int collect_keep(collect *c, int64_t doc, double f) {
  plist *l = &c->ph[c->p];
  if (l->n == l->cap && plist_grow(l, c->pool)) return SQLITE_NOMEM;
  l->doc[l->n] = doc;
  l->f[l->n++] = (float)f;
  return SQLITE_OK;
}

/* Adds the current row, DOC, to phrase P's list (when it passes) and count. */
static int collect_row(collect *c, const Fts5ExtensionApi *api, Fts5Context *fts, int64_t doc) {
  if (!collect_counts(c, doc)) return SQLITE_OK;
  int rc;
  double f = phrase_freq(api, fts, 0, &rc);
  return rc ? rc : collect_keep(c, doc, f);
}

/* doclist.c's rows, as collect_row takes FTS5's. */
static int direct_row(void *ud, int64_t doc, double f) {
  collect *c = ud;
  return collect_counts(c, doc) ? collect_keep(c, doc, f) : SQLITE_OK;
}

/* ---- phrases read from FTS5's segments (doclist.c) ----
** Per phrase of the query, its tokens as the table's tokenizer gives them in a query (as
** FTS5 tokenizes the phrase), or none: FTS5 reads that phrase (a prefix, a colocated token,
** too many tokens; a prefix of several). At 1M, 모델's 85k rows cost about 11 ns each that way
** against about 61 through xQueryPhrase. A test switch turns it off (kftsp_scan_direct = 0). */
int kftsp_scan_direct = 1;

static const char fts_table[] = "articles_fts";

typedef struct direct {
  char *tok[64][KFTSP_DOCLIST_PHRASE_MAX]; /* kftsp_free */
  int len[64][KFTSP_DOCLIST_PHRASE_MAX];
  int k[64];  /* tokens; 0: FTS5 reads the phrase */
  int prefix[64]; /* one token, any term that begins with it */
  int count;  /* the query's phrases */
  int all;    /* every phrase is read from the segments: FTS5 runs no statement */
} direct;

typedef struct toks {
  char **tok;
  int *len;
  int k; /* -1: not readable */
} toks;

static int on_token(void *ud, int tflags, const char *tok, int n, int start, int end) {
  (void)start;
  (void)end;
  toks *o = ud;
  if (o->k < 0) return SQLITE_OK;
  if ((tflags & FTS5_TOKEN_COLOCATED) || o->k == KFTSP_DOCLIST_PHRASE_MAX) {
    o->k = -1;
    return SQLITE_OK;
  }
  if (!(o->tok[o->k] = kftsp_strndup(tok, (size_t)n))) return SQLITE_NOMEM;
  o->len[o->k++] = n;
  return SQLITE_OK;
}

static void direct_free(direct *d) {
  for (int p = 0; p < d->count; p++)
    for (int i = 0; i < KFTSP_DOCLIST_PHRASE_MAX && d->tok[p][i]; i++) kftsp_free(d->tok[p][i]);
}

/* D for the phrases of FTS (phrases joined by OR) on H; D->count 0 when none can be read. */
static int direct_build(direct *d, sqlite3 *h, const char *fts) {
  int start[64], len[64], n = 0;
  memset(d, 0, sizeof *d);
  if (!kftsp_scan_direct || !kftsp_or_phrases(fts, start, len, &n)) return SQLITE_OK;
  fts5_tokenizer tok;
  Fts5Tokenizer *inst = NULL;
  if (kftsp_table_tokenizer(h, &tok, &inst) != SQLITE_OK) return SQLITE_OK; /* FTS5 reads them */
  kftsp_buf text = {0};
  int rc = SQLITE_OK;
  d->count = n;
  for (int p = 0; rc == SQLITE_OK && p < n; p++) {
    const char *q = fts + start[p];
    int l = len[p];
    int prefix = l >= 3 && q[l - 1] == '*';
    if (prefix) l--;
    if (l < 2 || q[l - 1] != '"') continue;
    text.n = 0;
    for (int i = 1; i < l - 1; i++) /* "" inside is one " */
      if (q[i] != '"' || q[++i] == '"') kftsp_buf_addc(&text, q[i]);
    if (text.oom) {
      rc = SQLITE_NOMEM;
      break;
    }
    toks o = {d->tok[p], d->len[p], 0};
    rc = tok.xTokenize(inst, &o, FTS5_TOKENIZE_QUERY | (prefix ? FTS5_TOKENIZE_PREFIX : 0), text.p ? text.p : "",
                       (int)text.n, on_token);
    d->k[p] = o.k > 0 && (!prefix || o.k == 1) ? o.k : 0; /* a prefix of one token only */
    d->prefix[p] = prefix;
  }
  d->all = 1;
  for (int p = 0; p < n; p++) d->all &= d->k[p] > 0;
  tok.xDelete(inst);
  kftsp_buf_reset(&text);
  return rc;
}

/* Where to cut a scan of D's phrases (all read from the segments) in two by doc so that each
** half has about as many rows: the middle row of the phrase with the longest doclist, by its
** rarest token. 0 when no phrase says (prefixes, short doclists). */
static int direct_middle(const direct *d, sqlite3 *h, int64_t *cut) {
  int best = 0;
  for (int p = 0; p < d->count; p++) {
    if (d->prefix[p]) return 0;
    int rarest = -1;
    int64_t at = 0;
    for (int i = 0; i < d->k[p]; i++) {
      int64_t mid;
      int pages;
      if (kftsp_doclist_middle(h, fts_table, d->tok[p][i], d->len[p][i], &mid, &pages) != SQLITE_OK) return 0;
      if (rarest < 0 || pages < rarest) rarest = pages, at = mid;
    }
    if (rarest > best) best = rarest, *cut = at;
  }
  return best > 0;
}

/* Whether phrase P of C's query is read from the segments. */
static int direct_has(const collect *c, int p) {
  return c->direct && c->direct->count == c->t->n && p < c->t->n && c->direct->k[p] > 0;
}

static int collect_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *ud);

/* Phrase P of C's query, in C's docs, read from the segments into C's lists. */
static int direct_read(collect *c, int p) {
  const direct *d = c->direct;
  return kftsp_doclist_read(c->db, fts_table, (const char *const *)d->tok[p], d->len[p], d->k[p], d->prefix[p], c->lo,
                            c->hi, weights, (int)KFTSP_ARRAY_LEN(weights), direct_row, c);
}

/* Phrase P (c->p) read into C: from FTS5's segments when doclist.c reads it, else (or when
** the segments are in a form doclist.c does not read) through xQueryPhrase. */
static int read_phrase(collect *c, const Fts5ExtensionApi *api, Fts5Context *fts) {
  const direct *d = c->direct;
  int p = c->p;
  if (direct_has(c, p) && !c->meet && api->xPhraseSize(fts, p) == d->k[p]) {
    plist *l = &c->ph[p];
    size_t n0 = l->n;
    sqlite3_int64 seen0 = c->seen[p];
    int64_t edge0 = c->edge;
    int took0 = c->took;
    int rc = direct_read(c, p);
    if (rc == SQLITE_OK || rc == SQLITE_NOMEM) return rc;
    l->n = n0; /* FTS5 reads it again, and says what is wrong if anything is */
    c->seen[p] = seen0;
    c->edge = edge0;
    c->took = took0;
  }
  return api->xQueryPhrase(fts, p, c, collect_cb);
}

static int collect_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *ud) {
  collect *c = ud;
  int64_t doc = api->xRowid(fts);
  if (!c->meet) {
    if (doc < c->lo) return SQLITE_OK;
    if (doc > c->hi) return SQLITE_DONE;
  } else if (!meet_takes(c, doc)) {
    return SQLITE_DONE;
  }
  return collect_row(c, api, fts, doc);
}

/* kfts_collect(articles_fts, pointer): fills the scan's collect, once. */
static void collect_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nVal,
                       sqlite3_value **apVal) {
  collect *c = nVal == 1 ? sqlite3_value_pointer(apVal[0], collect_type) : NULL;
  if (!c) {
    sqlite3_result_error(ctx, "kfts_collect: for kfts's own use", -1);
    return;
  }
  if (c->done) { /* the downward thread's next row */
    if (!c->meet || !c->down || c->finished) return;
    int64_t doc = api->xRowid(fts);
    int rc = SQLITE_OK;
    if (!meet_takes(c, doc))
      c->finished = 1;
    else if ((rc = collect_row(c, api, fts, doc)) != SQLITE_OK)
      sqlite3_result_error_code(ctx, rc);
    return;
  }
  c->done = 1;
  int rc = tf_setup(api, fts, c->t), n = c->t->n > 0 ? c->t->n : 1;
  if (rc == SQLITE_OK && (!(c->ph = kftsp_malloc((size_t)n * sizeof *c->ph)) ||
                          !(c->seen = kftsp_malloc((size_t)n * sizeof *c->seen))))
    rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) {
    memset(c->ph, 0, (size_t)n * sizeof *c->ph);
    memset(c->seen, 0, (size_t)n * sizeof *c->seen);
  }
  int by_phrase = c->t->n > 1;
  /* one phrase of several tokens from both ends, unless it is read from the segments (each
  ** thread its half of the docs) */
  c->meet = rc == SQLITE_OK && c->meets && !by_phrase && api->xPhraseSize(fts, 0) > 1 && !direct_has(c, 0)
                ? &c->meets[0]
                : NULL;
  c->finished = 1;
  if (by_phrase) c->lo = INT64_MIN, c->hi = INT64_MAX;
  if (c->meet && c->second) { /* the phrase read down by the statement collect_main runs next */
    c->want_down = 1;
  } else if (by_phrase && c->next) { /* each thread takes the next phrase when done with one */
    int ends = c->meets && !c->t->pass; /* the other thread may read it from its end */
    while (rc == SQLITE_OK && (c->p = atomic_fetch_add(c->next, 1)) < c->t->n) {
      /* a phrase read from the segments is not read from its end by the other thread */
      int seg = direct_has(c, c->p);
      c->meet = ends && !seg && c->p < MEETS ? &c->meets[c->p] : NULL;
      c->tick = 0;
      atomic_store(&c->cur, c->meet ? c->p : -1);
      rc = read_phrase(c, api, fts);
      if (c->meet) atomic_store(&c->meet->up, INT64_MAX); /* all of it taken, up or down */
    }
    atomic_store(&c->cur, -1);
    c->meet = NULL;
  } else {
    for (c->p = 0; rc == SQLITE_OK && c->p < c->t->n; c->p++) rc = read_phrase(c, api, fts);
    if (c->meet) atomic_store(&c->meet->up, INT64_MAX);
  }
  if (rc != SQLITE_OK) sqlite3_result_error_code(ctx, rc);
}

static void collect_free(collect *c) {
  for (int p = 0; c->ph && p < c->t->n; p++) plist_free(&c->ph[p], c->pool);
  kftsp_free(c->ph);
  kftsp_free(c->seen);
}

int kftsp_scan_register(fts5_api *api) {
  int rc = api->xCreateFunction(api, "kfts_tf", NULL, tf_fn, NULL);
  return rc == SQLITE_OK ? api->xCreateFunction(api, "kfts_collect", NULL, collect_fn, NULL) : rc;
}

/* FTS5's bm25 (fts5_aux.c) on the row's frequencies and its length D, negated back. */
static double bm25(const tf *t, double D) {
  const double k1 = 1.2, b = 0.75;
  double score = 0.0;
  for (int i = 0; i < t->n; i++)
    score += t->idf[i] * ((t->freq[i] * (k1 + 1.0)) / (t->freq[i] + k1 * (1 - b + b * D / t->avgdl)));
  return score;
}

typedef kftsp_cursor cursor;

static int cursor_seek(cursor *c, int64_t target) {
  sqlite3_reset(c->st);
  sqlite3_bind_int64(c->st, sqlite3_bind_parameter_index(c->st, "?70"), target);
  return sqlite3_step(c->st);
}

int kftsp_cursor_to(cursor *c, int64_t target) {
  if (c->state == 2) return 0;
  if (c->state == 1 && c->doc >= target) return c->doc == target;
  int steps = 0;
  if (c->state == 1) /* a first step teaches the gap */
    steps = c->gap <= 0 ? 1 : (double)(target - c->doc) / c->gap <= SEEK_AFTER ? 2 * SEEK_AFTER : 0;
  for (;;) {
    int64_t from = c->doc;
    int stepped = steps-- > 0, s = stepped ? sqlite3_step(c->st) : cursor_seek(c, target);
    if (s == SQLITE_DONE) {
      c->state = 2;
      return 0;
    }
    if (s != SQLITE_ROW) return -1;
    c->state = 1;
    c->doc = sqlite3_column_int64(c->st, 0);
    if (stepped) {
      double d = (double)(c->doc - from);
      c->gap = c->gap <= 0 ? d : 0.875 * c->gap + 0.125 * d;
    }
    if (c->doc >= target) return c->doc == target;
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
  int rc = kftsp_match_prepare(m, "SELECT doc, date, importance, source, topics FROM (%s)", 0, &st), s = SQLITE_DONE;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    kftsp_mrow row = {sqlite3_column_int64(st, 0), NULL, -1, NULL, NULL, 0.0, 0.0, 0, INT32_MIN, 0};
    row_from(&row, st, 1, flags & KFTSP_SCAN_TOPICS);
    rc = fn(ctx, &row);
  }
  if (!rc && s != SQLITE_DONE) rc = kftsp_match_fail(m, NULL);
  kftsp_finalize(st);
  return rc;
}

/* Which of T's phrases the row has (kftsp_mrow.phrases). */
static uint64_t phrase_bits(const tf *t) {
  uint64_t bits = 0;
  for (int p = 0; p < t->n && t->n <= 64; p++)
    if (t->freq[p] > 0.0) bits |= (uint64_t)1 << p;
  return bits;
}

/* One match: its metadata from the META cursor (0 when the filters leave it out), its score
** from T's frequencies, handed to FN. */
static int emit_row(kftsp_match *m, cursor *meta, int64_t doc, const tf *t, int flags, kftsp_mrow_fn fn,
                    void *ctx) {
  int k = kftsp_cursor_to(meta, doc);
  if (k < 0) return kftsp_match_fail(m, NULL);
  if (!k) return KFTS_OK; /* the filters leave it out */
  kftsp_mrow row = {doc, NULL, -1, NULL, NULL, 0.0, 0.0, 0, INT32_MIN, 0};
  row_from(&row, meta->st, 1, flags & KFTSP_SCAN_TOPICS);
  if (flags & KFTSP_SCAN_SCORE) {
    uint32_t D = kftsp_dv_length(sqlite3_column_blob(meta->st, 5), sqlite3_column_bytes(meta->st, 5));
    if (D == UINT32_MAX) return kftsp_match_fail(m, "articles_meta lacks or garbles a length: run kfts-index --full");
    row.relevance = bm25(t, (double)D);
    row.score = row.relevance * kftsp_match_boost(m, row.importance, row.date);
    row.coverage = kftsp_match_coverage(m, t->freq, t->n);
    row.phrases = phrase_bits(t);
  }
  return fn(ctx, &row);
}

/* A lean scored scan with no filters reads each match's length, importance and day from
** its docvals block (docvals.c) rather than from articles_meta: one block per few hundred
** articles, stepped through in doc order like the meta cursor, and spread out by doc
** (kftsp_dv_slot_t) so that each match finds its entry by index. The handle's cache keeps
** the spread blocks between queries while the index stays the same (at 1M, reading and
** copying every block's blob was half of `model`'s time); without it, or for a block
** outside its range, one block in SCRATCH serves. */
typedef struct dvscan {
  cursor c; /* over docvals: column 0 the block, 1 its blob */
  kftsp_dv_cache *cache; /* or NULL */
  kftsp_dv_slot_t *scratch;
  const kftsp_dv_slot_t *s; /* block k's entries, or NULL: it has none */
  uint64_t mask;            /* (1 << kftsp_dv_shift) - 1 */
  int64_t k;
  int started;
  double weight, half_life, newest;
  double imp_factor[129]; /* kftsp_importance_factor(i - 1, weight), i - 1 in -1 .. 127 */
} dvscan;

/* D->s := block K's slots, from the cache or read (into the cache when this thread may fill
** them, else into SCRATCH). */
static int dv_block(kftsp_match *m, dvscan *d, int64_t k) {
  d->k = k;
  d->s = d->cache ? kftsp_dv_cache_get(d->cache, k) : NULL;
  if (d->s) return KFTS_OK;
  int got = kftsp_cursor_to(&d->c, k);
  if (got < 0) return kftsp_match_fail(m, NULL);
  if (!got) return KFTS_OK;
  kftsp_dv_slot_t *s = d->cache ? kftsp_dv_cache_claim(d->cache, k) : NULL, *claimed = s;
  if (!s && !d->scratch && !(d->scratch = kftsp_dv_slots_new()))
    return kftsp_err(kftsp_match_error(m), KFTS_ENOMEM, "", 0, "out of memory");
  if (!s) s = d->scratch;
  kftsp_dv_block_t b;
  int bad = kftsp_dv_decode(&b, sqlite3_column_blob(d->c.st, 1), sqlite3_column_bytes(d->c.st, 1), k) ||
            kftsp_dv_slots_fill(s, &b, k);
  if (claimed) kftsp_dv_cache_done(d->cache, k, !bad);
  if (bad) return kftsp_match_fail(m, "a docvals block is garbled: run kfts-index --full");
  d->s = s;
  return KFTS_OK;
}

/* A match scored from its docvals entry; 0 when it has none (not in articles_meta). */
static int emit_dv(kftsp_match *m, dvscan *d, int64_t doc, const tf *t, kftsp_mrow_fn fn, void *ctx) {
  int64_t k = kftsp_dv_block(doc);
  if (!d->started || k != d->k) {
    d->started = 1;
    int rc = dv_block(m, d, k);
    if (rc) return rc;
  }
  if (!d->s) return KFTS_OK;
  const kftsp_dv_slot_t *e = &d->s[(uint64_t)doc & d->mask];
  uint32_t len = e->len;
  int32_t day = e->day;
  int imp = e->imp;
  if (imp == KFTSP_DV_ABSENT) return KFTS_OK;
  if (len == UINT32_MAX) return kftsp_match_fail(m, "articles_meta lacks or garbles a length: run kfts-index --full");
  kftsp_mrow row = {doc, NULL, imp, NULL, NULL, 0.0, 0.0, 0, day, 0};
  row.relevance = bm25(t, (double)len);
  double boost = (imp >= -1 && imp <= 127 ? d->imp_factor[imp + 1] : kftsp_importance_factor(imp, d->weight)) *
                 (d->half_life <= 0 ? 1.0
                                    : kftsp_recency_days(day == INT32_MIN ? NAN : (double)day, d->newest, d->half_life));
  row.score = row.relevance * boost; /* as kftsp_match_boost(), in its order */
  row.coverage = kftsp_match_coverage(m, t->freq, t->n);
  row.phrases = phrase_bits(t);
  return fn(ctx, &row);
}

/* One half of a scan: the matches with rowids LO..HI, on M's connection, handed to FN(CTX).
** A scored scan of a one-OR-group query (tf.counted) runs in two phases: the matches' docs
** and phrase frequencies first (each frequency a sum of small column weights, exact in a
** float), each phrase's rows counted on the way (SEEN); then, once the IDFs are known, the
** rows in doc order. That holds 8 + 4 bytes per phrase per match. Other scans run phase 1
** alone, each row handed over as it comes. */
typedef struct half {
  kftsp_match *m;
  int64_t lo, hi;
  int flags;
  kftsp_mrow_fn fn;
  void *ctx;
  tf t;
  cursor meta;
  dvscan *dv; /* NULL: scores from the meta cursor */
  kftsp_dv_cache *cache; /* the handle's docvals cache, begun for this scan, or NULL */
  sqlite3_stmt *hits;
  int64_t *docs; /* phase 1's, owned */
  float *freq;
  size_t docs_bytes, freq_bytes; /* their blocks' sizes (kftsp_pool) */
  kftsp_pool *pool; /* the handle's, or NULL */
  sqlite3_int64 *seen;
  size_t n, cap;
  struct span {   /* phase 2's input, in doc order: DOCS, or kfts_collect()'s lists */
    const int64_t *doc;
    const float *freq;
    size_t n;
  } span[4]; /* collect_merge's two, spans_balance's up to four */
  int n_span;
  int rc;
} half;

/* Whether H can score from docvals: a lean scored scan, no filters (or filters its passset
** applies), every block current. */
static int dv_prepare(half *h) {
  if (!(h->flags & KFTSP_SCAN_SCORE) || !(h->flags & KFTSP_SCAN_LEAN) || (*kftsp_match_where(h->m) && !h->t.pass) ||
      !kftsp_dv_current(kftsp_match_handle(h->m)))
    return KFTS_OK;
  if (!(h->dv = kftsp_malloc(sizeof *h->dv))) return KFTS_ENOMEM;
  memset(h->dv, 0, sizeof *h->dv);
  /* No upper bound: spans_balance may give either half any doc. */
  int rc = kftsp_match_sql(h->m, "SELECT block, v FROM docvals WHERE block >= ?70 ORDER BY block", &h->dv->c.st);
  if (rc) return rc;
  h->dv->cache = h->cache;
  h->dv->mask = ((uint64_t)1 << kftsp_dv_shift) - 1;
  kftsp_match_boost_params(h->m, &h->dv->weight, &h->dv->half_life, &h->dv->newest);
  for (int i = 0; i < 129; i++) h->dv->imp_factor[i] = kftsp_importance_factor(i - 1, h->dv->weight);
  return KFTS_OK;
}

static int half_prepare(half *h) {
  int score = h->flags & KFTSP_SCAN_SCORE, topics = h->flags & KFTSP_SCAN_TOPICS;
  int rc = dv_prepare(h);
  if (!rc && !h->dv) { /* the meta cursor, unless docvals serve */
    kftsp_buf b = {0};
    kftsp_buf_printf(&b,
                     "SELECT a.doc, a.date, a.importance, a.source, %s, %s FROM articles_meta a"
                     " WHERE a.doc >= ?70 AND a.doc <= ?73%s ORDER BY a.doc",
                     topics ? "a.topics" : "NULL", score ? "a.sz" : "NULL", kftsp_match_where(h->m));
    rc = b.oom ? KFTS_ENOMEM : kftsp_match_sql(h->m, b.p, &h->meta.st);
    kftsp_buf_reset(&b);
  }
  if (!rc)
    rc = kftsp_match_sql(h->m,
                         score ? "SELECT rowid, kfts_tf(articles_fts, ?71) FROM articles_fts"
                                 " WHERE articles_fts MATCH ?60 AND rowid BETWEEN ?72 AND ?73 ORDER BY rowid"
                               : "SELECT rowid FROM articles_fts"
                                 " WHERE articles_fts MATCH ?60 AND rowid BETWEEN ?72 AND ?73 ORDER BY rowid",
                         &h->hits);
  if (rc) return rc;
  if (score) sqlite3_bind_pointer(h->hits, sqlite3_bind_parameter_index(h->hits, "?71"), &h->t, tf_type, NULL);
  sqlite3_bind_int64(h->hits, sqlite3_bind_parameter_index(h->hits, "?72"), h->lo);
  sqlite3_bind_int64(h->hits, sqlite3_bind_parameter_index(h->hits, "?73"), h->hi);
  if (h->meta.st) sqlite3_bind_int64(h->meta.st, sqlite3_bind_parameter_index(h->meta.st, "?73"), h->hi);
  return KFTS_OK;
}

/* Counts the current row's phrases (a counted scan's SEEN). */
static int half_count(half *h) {
  if (!h->seen) {
    if (!(h->seen = kftsp_malloc((size_t)(h->t.n > 0 ? h->t.n : 1) * sizeof *h->seen))) return KFTS_ENOMEM;
    memset(h->seen, 0, (size_t)(h->t.n > 0 ? h->t.n : 1) * sizeof *h->seen);
  }
  for (int p = 0; p < h->t.n; p++) h->seen[p] += h->t.freq[p] > 0.0;
  return KFTS_OK;
}

static int half_keep(half *h) {
  int rc = half_count(h);
  if (rc) return rc;
  if (h->n == h->cap) {
    void *d = h->docs, *f = h->freq;
    rc = grow_pair(h->pool, &d, &h->docs_bytes, sizeof *h->docs, &f, &h->freq_bytes,
                   (size_t)(h->t.n > 0 ? h->t.n : 1) * sizeof *h->freq, h->n, &h->cap);
    h->docs = d;
    h->freq = f;
    if (rc) return rc;
  }
  h->docs[h->n] = sqlite3_column_int64(h->hits, 0);
  for (int p = 0; p < h->t.n; p++) h->freq[h->n * (size_t)h->t.n + p] = (float)h->t.freq[p];
  h->n++;
  return KFTS_OK;
}

static int half_emit(half *h, int64_t doc) {
  return h->dv ? emit_dv(h->m, h->dv, doc, &h->t, h->fn, h->ctx)
               : emit_row(h->m, &h->meta, doc, &h->t, h->flags, h->fn, h->ctx);
}

static void half_phase1(half *h) {
  int rc = KFTS_OK, s = SQLITE_DONE;
  while (!rc && (s = sqlite3_step(h->hits)) == SQLITE_ROW)
    rc = h->t.skipped   ? (h->t.counted ? half_count(h) : KFTS_OK)
         : h->t.counted ? half_keep(h)
                        : half_emit(h, sqlite3_column_int64(h->hits, 0));
  if (!rc && s != SQLITE_DONE) rc = kftsp_match_fail(h->m, NULL);
  if (rc == KFTS_ENOMEM) rc = kftsp_err(kftsp_match_error(h->m), rc, "", 0, "out of memory");
  h->rc = rc;
}

/* Asks the CPU for DOC's cached docvals entry ahead of its use: phase 2 knows its docs in
** advance, and at 1M one match in ten or so shares a cache line with the one before. */
static void dv_prefetch(const dvscan *d, int64_t doc) {
#if defined(__GNUC__) || defined(__clang__)
  const kftsp_dv_slot_t *s = d && d->cache ? kftsp_dv_cache_get(d->cache, kftsp_dv_block(doc)) : NULL;
  if (s) __builtin_prefetch(&s[(uint64_t)doc & d->mask]);
#else
  (void)d;
  (void)doc;
#endif
}

#define DV_AHEAD 16 /* matches */

/* Phase 2 of a counted scan, with IDF (per phrase) and ROWS known. */
static void half_phase2(half *h, const double *idf) {
  int rc = KFTS_OK;
  for (int p = 0; h->t.idf && p < h->t.n; p++) h->t.idf[p] = idf[p];
  for (int k = 0; k < h->n_span; k++) {
    const struct span *s = &h->span[k];
    for (size_t i = 0; !rc && i < s->n; i++) {
      if (i + DV_AHEAD < s->n) dv_prefetch(h->dv, s->doc[i + DV_AHEAD]);
      for (int p = 0; p < h->t.n; p++) h->t.freq[p] = s->freq[i * (size_t)h->t.n + p];
      rc = half_emit(h, s->doc[i]);
    }
  }
  h->rc = rc;
}

/* Adds N docs and their frequencies to H's phase 2 (after its others). */
static void half_span(half *h, const int64_t *doc, const float *freq, size_t n) {
  if (n) h->span[h->n_span++] = (struct span){doc, freq, n};
}

/* The first of N ascending DOCS at or after AT. */
static size_t lower_bound(const int64_t *docs, size_t n, int64_t at) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (docs[mid] < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Joins a phrase's lists read from both ends: DOWN (descending docs, by CD) reversed in
** place, and SEEN, the phrase's rows counted by both threads, less those counted twice.
** Returns how many of DOWN's first docs UP (ascending, by CU) has too: those to leave out. */
static size_t ends_join(const plist *up, plist *down, const collect *cu, const collect *cd, sqlite3_int64 *seen) {
  for (size_t i = 0, j = down->n; i < j / 2; i++) { /* into ascending docs */
    int64_t d = down->doc[i];
    float f = down->f[i];
    down->doc[i] = down->doc[j - 1 - i], down->f[i] = down->f[j - 1 - i];
    down->doc[j - 1 - i] = d, down->f[j - 1 - i] = f;
  }
  size_t skip = 0;
  if (cu->t->pass) { /* looked at every row: one doc at most taken by both */
    if (cu->took && cd->took && cu->edge == cd->edge) {
      (*seen)--;
      skip = down->n && up->n && down->doc[0] == up->doc[up->n - 1];
    }
  } else { /* every row is listed */
    while (skip < down->n && up->n && down->doc[skip] <= up->doc[up->n - 1]) skip++;
    *seen -= (sqlite3_int64)skip;
  }
  return skip;
}

/* The N phrase lists PH (TOTAL entries) merged into *DOCS (ascending, each once; *K of them)
** and *FREQ (K x N, 0 where a phrase lacks the doc) by rank: a bitmap of the docs, each
** word's count of the docs before it, then each entry put straight at its doc's rank. Two
** passes over the entries and one over the words, with no comparison of phrase heads per doc
** (at 1M, that merge took 0.8 ms of Anthropic's four spellings). -1 when the docs are
** spread too thin for the bitmap (more than 64 words per entry). */
int kftsp_merge_by_rank = 1;

/* The bits set in X, inline: without -mpopcnt (not every x86-64 has it) __builtin_popcountll
** is a call into libgcc, once per match here (1.4 % of Anthropic's time at 1M). */
static inline uint32_t popcount64(uint64_t x) {
  x -= (x >> 1) & 0x5555555555555555ULL;
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return (uint32_t)((x * 0x0101010101010101ULL) >> 56);
}

static int merge_by_rank(const plist *const *ph, int n, size_t total, half *out, size_t *k) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int p = 0; p < n; p++)
    if (ph[p]->n) {
      if (ph[p]->doc[0] < lo) lo = ph[p]->doc[0];
      if (ph[p]->doc[ph[p]->n - 1] > hi) hi = ph[p]->doc[ph[p]->n - 1];
    }
  *k = 0;
  if (!total || !kftsp_merge_by_rank) return -1;
  uint64_t span = (uint64_t)hi - (uint64_t)lo;
  if (span / 64 > 64 * (uint64_t)total + 4096) return -1;
  size_t words = (size_t)(span / 64) + 1;
  size_t bits_bytes = 0, before_bytes = 0;
  uint64_t *bits = kftsp_pool_take(out->pool, words * sizeof *bits, &bits_bytes);
  uint32_t *before = kftsp_pool_take(out->pool, words * sizeof *before, &before_bytes);
  if (!bits || !before) {
    kftsp_pool_give(out->pool, bits, bits_bytes);
    kftsp_pool_give(out->pool, before, before_bytes);
    return KFTS_ENOMEM;
  }
  memset(bits, 0, words * sizeof *bits);
  for (int p = 0; p < n; p++)
    for (size_t i = 0; i < ph[p]->n; i++) {
      uint64_t off = (uint64_t)ph[p]->doc[i] - (uint64_t)lo;
      bits[off >> 6] |= (uint64_t)1 << (off & 63);
    }
  uint32_t sum = 0;
  for (size_t w = 0; w < words; w++) {
    before[w] = sum;
    sum += popcount64(bits[w]);
  }
  int64_t *docs = out->docs = kftsp_pool_take(out->pool, (sum ? sum : 1) * sizeof *docs, &out->docs_bytes);
  float *freq = out->freq = kftsp_pool_take(out->pool, (sum ? sum : 1) * (size_t)n * sizeof *freq, &out->freq_bytes);
  if (docs && freq) {
    memset(freq, 0, (size_t)sum * (size_t)n * sizeof *freq);
    for (int p = 0; p < n; p++)
      for (size_t i = 0; i < ph[p]->n; i++) {
        uint64_t off = (uint64_t)ph[p]->doc[i] - (uint64_t)lo, below = ((uint64_t)1 << (off & 63)) - 1;
        size_t at = before[off >> 6] + (size_t)popcount64(bits[off >> 6] & below);
        docs[at] = ph[p]->doc[i];
        freq[at * (size_t)n + p] = ph[p]->f[i];
      }
    *k = sum;
  }
  kftsp_pool_give(out->pool, bits, bits_bytes);
  kftsp_pool_give(out->pool, before, before_bytes);
  return docs && freq ? KFTS_OK : KFTS_ENOMEM;
}

/* As merge_by_rank, for any docs: per doc, the least of the phrases' heads (AT: each list's
** position, from 0). */
static int merge_by_heads(const plist *const *ph, size_t *at, int n, size_t total, half *out, size_t *k_out) {
  int64_t *docs = out->docs = kftsp_pool_take(out->pool, (total ? total : 1) * sizeof *docs, &out->docs_bytes);
  float *freq = out->freq =
      kftsp_pool_take(out->pool, (total ? total : 1) * (size_t)n * sizeof *freq, &out->freq_bytes);
  size_t k = 0;
  for (; docs && freq;) {
    int64_t d = INT64_MAX;
    int any = 0;
    for (int p = 0; p < n; p++)
      if (at[p] < ph[p]->n && (!any || ph[p]->doc[at[p]] < d)) d = ph[p]->doc[at[p]], any = 1;
    if (!any) break;
    docs[k] = d;
    for (int p = 0; p < n; p++) {
      int here = at[p] < ph[p]->n && ph[p]->doc[at[p]] == d;
      freq[k * (size_t)n + p] = here ? ph[p]->f[at[p]++] : 0.0f;
    }
    k++;
  }
  *k_out = k;
  return docs && freq ? KFTS_OK : KFTS_ENOMEM;
}

/* Phase 1 of a counted lean scan by kfts_collect(), on each half's connection (C[i] on
** half i's), handed to phase 2: one phrase's lists as they are, cut at the second half's
** first doc; several phrases' lists (each whole in one part) merged into docs ascending,
** each with every phrase's frequency, and cut there. The halves' own statements stay unused. */
static int collect_merge(collect *c, half *hs, int n_halves) {
  int n = c[0].t->n;
  int64_t mid = n_halves > 1 ? hs[1].lo : INT64_MAX;
  for (int i = 1; i < n_halves; i++)
    for (int p = 0; p < n; p++) c[0].seen[p] += c[i].seen[p];
  hs[0].seen = c[0].seen;
  c[0].seen = NULL;
  if (n == 1 && n_halves > 1 && c[0].meet) { /* read from both ends */
    plist *up = &c[0].ph[0], *down = &c[1].ph[0];
    size_t skip = ends_join(up, down, &c[0], &c[1], &hs[0].seen[0]);
    half_span(&hs[0], up->doc, up->f, up->n);
    half_span(&hs[1], down->doc + skip, down->f + skip, down->n - skip);
    return KFTS_OK;
  }
  if (n == 1) {
    for (int i = 0; i < n_halves; i++) {
      const plist *l = &c[i].ph[0];
      size_t k = lower_bound(l->doc, l->n, mid);
      half_span(&hs[0], l->doc, l->f, k);
      if (n_halves > 1) half_span(&hs[1], l->doc + k, l->f + k, l->n - k);
    }
    return KFTS_OK;
  }
  const plist **ph = kftsp_malloc((size_t)n * sizeof *ph);
  size_t *at = kftsp_malloc((size_t)n * sizeof *at), total = 0, k = 0;
  if (!ph || !at) {
    kftsp_free(ph);
    kftsp_free(at);
    return KFTS_ENOMEM;
  }
  int rc = KFTS_OK;
  for (int p = 0; p < n; p++) {
    int down = n_halves > 1 && c[1].stole == p ? 1 : n_halves > 1 && c[0].stole == p ? 0 : -1;
    if (down >= 0) { /* read from both ends: the down part after the up part, in its list */
      plist *u = &c[1 - down].ph[p], *d = &c[down].ph[p];
      size_t skip = ends_join(u, d, &c[1 - down], &c[down], &hs[0].seen[p]);
      while (!rc && u->n + d->n - skip > u->cap) rc = plist_grow(u, c[0].pool);
      if (!rc && d->n > skip) {
        memcpy(u->doc + u->n, d->doc + skip, (d->n - skip) * sizeof *u->doc);
        memcpy(u->f + u->n, d->f + skip, (d->n - skip) * sizeof *u->f);
        u->n += d->n - skip;
      }
      ph[p] = u;
    } else {
      ph[p] = &c[0].ph[p]; /* the part that collected it: the other's list is empty */
      for (int i = 1; i < n_halves; i++)
        if (c[i].ph[p].n) ph[p] = &c[i].ph[p];
    }
    at[p] = 0;
    total += ph[p]->n;
  }
  if (rc) {
    kftsp_free(ph);
    kftsp_free(at);
    return rc;
  }
  rc = merge_by_rank(ph, n, total, &hs[0], &k);
  if (rc < 0) rc = merge_by_heads(ph, at, n, total, &hs[0], &k);
  int64_t *docs = hs[0].docs;
  float *freq = hs[0].freq;
  kftsp_free(ph);
  kftsp_free(at);
  if (rc) return rc;
  size_t cut = lower_bound(docs, k, mid);
  half_span(&hs[0], docs, freq, cut);
  if (n_halves > 1) half_span(&hs[1], docs + cut, freq + cut * (size_t)n, k - cut);
  return KFTS_OK;
}

/* Phase 2 cut by matches rather than by docs, the matches crowding where the docs do not
** (at 1M, 65k of 모델's 85k lie below the middle doc): the two halves' spans, in doc order,
** cut where half of the matches lie before. Phase 2 reads docvals alone, on either connection
** (the same snapshot), so either half may score any doc. */
static void spans_balance(half *hs, int n_phrases) {
  struct span all[4]; /* collect_merge gives each half one or two */
  int n = 0;
  size_t total = 0, before = 0;
  for (int i = 0; i < 2; i++) {
    for (int k = 0; k < hs[i].n_span; k++) total += (all[n++] = hs[i].span[k]).n;
    hs[i].n_span = 0;
  }
  for (int k = 0; k < n; k++) {
    size_t take = before >= total / 2 ? 0 : total / 2 - before < all[k].n ? total / 2 - before : all[k].n;
    half_span(&hs[0], all[k].doc, all[k].freq, take);
    half_span(&hs[1], all[k].doc + take, all[k].freq + take * (size_t)n_phrases, all[k].n - take);
    before += take;
  }
}

typedef struct collect_arg {
  half *h;
  collect *c;
  int rc;
  int fallback; /* direct_main met segments it does not read: FTS5 collects instead */
} collect_arg;

/* Phrase P read down from its end (PHRASE, LEN bytes: that phrase alone; NULL: the query,
** of that one phrase) by kfts_collect() on each row of a statement in descending docs, until
** the thread reading it up is met. */
static int read_down(collect_arg *a, int p, const char *phrase, int len) {
  collect *c = a->c;
  sqlite3_stmt *st = NULL;
  int rc = kftsp_match_sql(a->h->m,
                           "SELECT kfts_collect(articles_fts, ?71) FROM articles_fts WHERE articles_fts MATCH ?60 "
                           "ORDER BY rowid DESC",
                           &st);
  if (!rc) {
    if (phrase) sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, "?60"), phrase, len, SQLITE_TRANSIENT);
    sqlite3_bind_pointer(st, sqlite3_bind_parameter_index(st, "?71"), c, collect_type, NULL);
    c->meet = &c->meets[p];
    c->down = 1;
    c->p = p;
    c->tick = 0;
    c->finished = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW && !c->finished) {
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE) rc = kftsp_match_fail(a->h->m, NULL);
  }
  kftsp_finalize(st);
  return rc;
}

/* Once no phrase is left to take: the phrase the other thread is reading up, read down from
** its end by a statement of that phrase alone until the two meet. */
static int steal(collect_arg *a) {
  collect *c = a->c, *o = c->other;
  int p = o ? atomic_load(&o->cur) : -1, start[64], len[64], n = 0;
  const char *fts = kftsp_match_fts(a->h->m);
  if (p < 0 || !c->ph || !kftsp_or_phrases(fts, start, len, &n) || n != c->t->n || p >= n) return KFTS_OK;
  c->stole = p;
  int rc = read_down(a, p, fts + start[p], len[p]);
  c->meet = NULL;
  return rc;
}

/* Phase 1 on this thread's connection: kfts_collect() on the first match; then the one
** phrase read down (want_down), or with several phrases, steal(). */
static void *collect_main(void *p) {
  collect_arg *a = p;
  sqlite3_stmt *st = NULL;
  a->rc = kftsp_match_sql(
      a->h->m, "SELECT kfts_collect(articles_fts, ?71) FROM articles_fts WHERE articles_fts MATCH ?60 LIMIT 1", &st);
  if (!a->rc) {
    sqlite3_bind_pointer(st, sqlite3_bind_parameter_index(st, "?71"), a->c, collect_type, NULL);
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE) a->rc = kftsp_match_fail(a->h->m, NULL);
  }
  kftsp_finalize(st);
  if (!a->rc && a->c->want_down) a->rc = read_down(a, 0, NULL, 0);
  if (!a->rc && a->c->done && a->c->t->n > 1 && a->c->meets && !a->c->t->pass) a->rc = steal(a);
  return NULL;
}

/* Phase 1 with no statement of FTS5's when every phrase is read from the segments
** (direct.all): the row and token counts from FTS5's averages record (as tf_setup has them
** from FTS5), then the phrases as collect_fn reads them. A prefix so read costs no merge of
** its terms' doclists in FTS5 for the statement's cursor. */
static void *direct_main(void *p) {
  collect_arg *a = p;
  collect *c = a->c;
  const direct *d = c->direct;
  int n = d->count;
  int64_t rows = 0, tokens = 0;
  int rc = kftsp_doclist_totals(c->db, fts_table, &rows, &tokens);
  if (rc == SQLITE_OK && rows > 0) {
    double *v = kftsp_malloc(2 * (size_t)n * sizeof *v);
    if (!v) {
      rc = SQLITE_NOMEM;
    } else {
      for (int i = 0; i < n; i++) v[i] = idf_of(rows, 0); /* counted: set after phase 1 */
      tf_init(c->t, v, n, rows, tokens);
      if (!(c->ph = kftsp_malloc((size_t)n * sizeof *c->ph)) || !(c->seen = kftsp_malloc((size_t)n * sizeof *c->seen)))
        rc = SQLITE_NOMEM;
    }
    if (rc == SQLITE_OK) {
      memset(c->ph, 0, (size_t)n * sizeof *c->ph);
      memset(c->seen, 0, (size_t)n * sizeof *c->seen);
      c->done = c->finished = 1;
      for (c->p = 0; rc == SQLITE_OK && c->p < n; c->p++) /* each thread its half of the docs */
        rc = direct_read(c, c->p);
    }
    if (rc == SQLITE_OK && n > 1 && c->next) { /* this half's phrases merged here, at once with the other */
      const plist **ph = kftsp_malloc((size_t)n * sizeof *ph);
      size_t *at = kftsp_malloc((size_t)n * sizeof *at), total = 0;
      if (!ph || !at) rc = SQLITE_NOMEM;
      for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        ph[i] = &c->ph[i];
        at[i] = 0;
        total += c->ph[i].n;
      }
      if (rc == SQLITE_OK) {
        int m = merge_by_rank(ph, n, total, a->h, &c->merged);
        if (m < 0) m = merge_by_heads(ph, at, n, total, a->h, &c->merged);
        rc = m ? SQLITE_NOMEM : SQLITE_OK;
        c->by_half = 1;
      }
      kftsp_free(ph);
      kftsp_free(at);
    }
  }
  a->fallback = rc == KFTSP_DOCLIST_UNKNOWN || rc == SQLITE_CORRUPT;
  a->rc = rc == SQLITE_OK || a->fallback ? KFTS_OK : rc == SQLITE_NOMEM ? KFTS_ENOMEM : kftsp_match_fail(a->h->m, NULL);
  return NULL;
}

/* Phase 1 by kfts_collect() (or direct_main) into C (the caller frees it after phase 2: the
** halves read its lists). D: the query's phrases as the segments are read for them. */
static int collect_run(half *hs, int n_halves, collect *c, const direct *d) {
  collect_arg a[2];
  atomic_int next;
  atomic_init(&next, 0);
  meet meets[MEETS];
  for (int p = 0; p < MEETS; p++) {
    atomic_init(&meets[p].up, INT64_MIN);
    atomic_init(&meets[p].down, INT64_MAX);
  }
  int all = d->count && d->all;
again:
  for (int i = 0; i < n_halves; i++) {
    c[i].db = kftsp_match_handle(hs[i].m);
    c[i].direct = d->count ? d : NULL;
    c[i].t = &hs[i].t;
    c[i].next = n_halves > 1 ? &next : NULL;
    c[i].meets = n_halves > 1 ? meets : NULL;
    c[i].pool = hs[i].pool;
    c[i].other = n_halves > 1 ? &c[1 - i] : NULL;
    c[i].stole = -1;
    atomic_init(&c[i].cur, -1);
    c[i].second = i == 1;
    c[i].lo = i ? hs[i].lo : INT64_MIN;
    c[i].hi = i || n_halves < 2 ? INT64_MAX : hs[i].hi;
    a[i].h = &hs[i];
    a[i].c = &c[i];
    a[i].rc = KFTS_OK;
    a[i].fallback = 0;
  }
  both(n_halves > 1 ? kftsp_match_helper(hs[0].m) : NULL, all ? direct_main : collect_main, &a[0],
       n_halves > 1 ? &a[1] : NULL);
  if (all && (a[0].fallback || (n_halves > 1 && a[1].fallback)) && !a[0].rc && (n_halves < 2 || !a[1].rc)) {
    for (int i = 0; i < n_halves; i++) { /* FTS5 collects; a phrase it cannot read is read as ever */
      collect_free(&c[i]);
      kftsp_free(hs[i].t.idf);
      hs[i].t.idf = hs[i].t.freq = NULL;
      memset(&c[i], 0, sizeof c[i]);
    }
    atomic_store(&next, 0);
    all = 0;
    goto again;
  }
  for (int i = 0; i < n_halves; i++) hs[i].rc = a[i].rc; /* the caller reports the worker's error */
  int rc = a[0].rc ? a[0].rc : n_halves > 1 ? a[1].rc : KFTS_OK;
  if (!rc && n_halves > 1 && (c[0].done != c[1].done || c[0].t->n != c[1].t->n))
    rc = kftsp_match_fail(hs[0].m, "the two connections read different indexes");
  if (!rc && c[0].done && c[0].by_half) {
    for (int i = 0; i < n_halves; i++) { /* direct_main merged each half's phrases */
      hs[i].seen = c[i].seen;
      c[i].seen = NULL;
      half_span(&hs[i], hs[i].docs, hs[i].freq, c[i].merged);
    }
  } else if (!rc && c[0].done) {
    rc = collect_merge(c, hs, n_halves);
  }
  if (!rc && c[0].done && n_halves > 1) spans_balance(hs, c[0].t->n);
  return rc;
}

static void half_done(half *h) {
  kftsp_finalize(h->hits);
  kftsp_finalize(h->meta.st);
  if (h->dv) {
    kftsp_finalize(h->dv->c.st);
    kftsp_free(h->dv->scratch);
    kftsp_free(h->dv);
  }
  kftsp_free(h->t.idf);
  kftsp_pool_give(h->pool, h->docs, h->docs_bytes);
  kftsp_pool_give(h->pool, h->freq, h->freq_bytes);
  kftsp_free(h->seen);
}

static void *phase1_main(void *p) {
  half_phase1(p);
  return NULL;
}

typedef struct phase2_arg {
  half *h;
  const double *idf;
} phase2_arg;

static void *phase2_main(void *p) {
  phase2_arg *a = p;
  half_phase2(a->h, a->idf);
  return NULL;
}

/* The IDFs of a counted scan from its halves' counts (bm25()'s, as tf_setup's). */
static int counted_idf(half *hs, int n_halves, double **out) {
  int n = -1;
  sqlite3_int64 rows = 0;
  for (int i = 0; i < n_halves; i++)
    if (hs[i].t.idf) n = hs[i].t.n, rows = hs[i].t.rows;
  *out = NULL;
  if (n < 0) return KFTS_OK; /* no match at all */
  double *idf = kftsp_malloc((size_t)(n > 0 ? n : 1) * sizeof *idf);
  if (!idf) return KFTS_ENOMEM;
  for (int p = 0; p < n; p++) {
    sqlite3_int64 hits = 0;
    for (int i = 0; i < n_halves; i++)
      if (hs[i].seen && hs[i].t.n == n) hits += hs[i].seen[p];
    idf[p] = idf_of(rows, hits);
  }
  *out = idf;
  return KFTS_OK;
}

/* ---- splitting a scan in two ---- */

/* Fewer articles than this: one thread (the second connection and thread cost more). A
** variable so that tests can split small indexes. */
int kftsp_split_min_rows = 20000;

/* FTS5's averages and structure records (%_data ids 1 and 10): any committed change to the
** index changes one of them, so two connections that read the same bytes see the same
** index. Appends them to B; *ROWS: the row count the averages record starts with. */
static int fts_state(sqlite3 *h, kftsp_buf *b, sqlite3_int64 *rows) {
  sqlite3_stmt *st;
  *rows = 0;
  if (kftsp_prepare(h, "SELECT id, block FROM articles_fts_data WHERE id IN (1, 10) ORDER BY id", &st) != SQLITE_OK)
    return -1;
  int s, got = 0;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *p = sqlite3_column_blob(st, 1);
    int n = sqlite3_column_bytes(st, 1);
    if (sqlite3_column_int64(st, 0) == 1) {
      uint64_t v = 0;
      for (int i = 0; i < n && i < 9; i++) { /* SQLite's varint */
        if (i == 8) {
          v = (v << 8) | p[i];
          break;
        }
        v = (v << 7) | (p[i] & 0x7f);
        if (!(p[i] & 0x80)) break;
      }
      *rows = (sqlite3_int64)v;
    }
    kftsp_buf_add(b, (const char *)p, (size_t)n);
    got++;
  }
  kftsp_finalize(st);
  return s == SQLITE_DONE && got == 2 && !b->oom ? 0 : -1;
}

/* The rows of the index both connections read, or -1 when they read different states of it
** (a write committed between their read transactions) or cannot tell. */
int64_t kftsp_scan_same_index(sqlite3 *h, sqlite3 *w) {
  kftsp_buf a = {0}, b = {0};
  sqlite3_int64 rows = 0, rows_w = 0;
  int ok = fts_state(h, &a, &rows) == 0 && fts_state(w, &b, &rows_w) == 0 && a.n == b.n && !memcmp(a.p, b.p, a.n);
  kftsp_buf_reset(&a);
  kftsp_buf_reset(&b);
  return ok ? rows : -1;
}

/* Whether to split, and where: the midpoint of the articles' docs, when the index is large,
** the machine has two cores, and the worker connection W reads the same index as H (both
** in the read transactions the caller opened). */
static int split_point(sqlite3 *h, sqlite3 *w, int64_t *mid) {
  int ok = kftsp_scan_same_index(h, w) >= kftsp_split_min_rows;
  sqlite3_stmt *st = NULL;
  if (ok &&
      kftsp_prepare(h, "SELECT (SELECT min(doc) FROM articles_meta), (SELECT max(doc) FROM articles_meta)", &st) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
    int64_t lo = sqlite3_column_int64(st, 0), hi = sqlite3_column_int64(st, 1);
    *mid = lo / 2 + hi / 2 + 1;
    ok = *mid > lo && *mid <= hi;
  } else {
    ok = 0;
  }
  kftsp_finalize(st);
  return ok;
}

/* The docs passing M's filters into P, when SQLite finds them through an index of articles
** (source, date: EXPLAIN QUERY PLAN says SEARCH, not SCAN). Otherwise P->bits stays NULL and
** the meta cursor applies the filters, as it must for a NOT or an importance alone: a SCAN
** of articles would read every article's text. */
static int pass_build(kftsp_match *m, passset *p) {
  sqlite3_stmt *st = NULL;
  kftsp_buf b = {0};
  kftsp_buf_printf(&b, "EXPLAIN QUERY PLAN SELECT a.doc FROM articles a WHERE 1%s", kftsp_match_where(m));
  if (b.oom) return KFTS_ENOMEM;
  int rc = kftsp_match_sql(m, b.p, &st), indexed = 1, s;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    const char *detail = (const char *)sqlite3_column_text(st, 3);
    if (detail && !strncmp(detail, "SCAN", 4)) indexed = 0;
  }
  kftsp_finalize(st);
  st = NULL;
  int64_t top = 0;
  if (!rc && indexed &&
      kftsp_prepare(kftsp_match_handle(m), "SELECT coalesce(max(doc), 0) FROM articles", &st) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    top = sqlite3_column_int64(st, 0);
  kftsp_finalize(st);
  st = NULL;
  if (!rc && indexed && top > 0) {
    p->n = top + 1;
    if (!(p->bits = kftsp_malloc((size_t)((p->n + 63) / 64) * sizeof *p->bits))) rc = KFTS_ENOMEM;
    else memset(p->bits, 0, (size_t)((p->n + 63) / 64) * sizeof *p->bits);
    if (!rc) rc = kftsp_match_sql(m, b.p + strlen("EXPLAIN QUERY PLAN "), &st);
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
      int64_t d = sqlite3_column_int64(st, 0);
      if (d >= 0 && d < p->n) p->bits[d >> 6] |= (uint64_t)1 << (d & 63);
    }
    if (!rc && s != SQLITE_DONE) rc = kftsp_match_fail(m, NULL);
    kftsp_finalize(st);
  }
  kftsp_buf_reset(&b);
  return rc;
}

static int begin_read(sqlite3 *h) {
  return sqlite3_get_autocommit(h) ? (sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 1 : -1) : 0;
}

int kftsp_match_scan2(kftsp_match *m, int flags, kftsp_mrow_fn fn, void *ctx, void *ctx2) {
  if (!kftsp_match_fts(m)) return scan_filtered(m, flags, fn, ctx);
  sqlite3 *h = kftsp_match_handle(m), *w = NULL;
  kfts_error werr = {0};
  kftsp_match *m2 = NULL;
  half hs[2];
  collect cs[2];
  memset(hs, 0, sizeof hs);
  memset(cs, 0, sizeof cs);
  /* One read transaction per connection for the whole scan: one snapshot, and no lock taken
  ** again at each seek of a meta cursor once FTS5's statement is done. */
  int own = begin_read(h), own_w = 0, rc = own < 0 ? kftsp_match_fail(m, NULL) : KFTS_OK;
  /* kfts_collect() serves a lean scored scan of one OR group without prefixes (when the
  ** docvals are current); it costs a third of a statement step per match, so splitting it
  ** pays only on a ten times larger index (100k articles: the mix's median 3.5 ms split,
  ** 2.1 ms not; 1M: 8.7 split, 11.3 not). */
  direct d;
  memset(&d, 0, sizeof d);
  int collect_ok = (flags & KFTSP_SCAN_SCORE) && (flags & KFTSP_SCAN_LEAN) && kftsp_match_or_only(m);
  if (!rc && collect_ok && (rc = direct_build(&d, h, kftsp_match_fts(m))))
    rc = rc == SQLITE_NOMEM ? kftsp_err(kftsp_match_error(m), KFTS_ENOMEM, "", 0, "out of memory") : kftsp_match_fail(m, NULL);
  /* a prefix: only when every phrase is read from the segments (FTS5 would merge its doclists
  ** for the statement's cursor and again for xQueryPhrase's) */
  collect_ok = collect_ok && (!strstr(kftsp_match_fts(m), "\"*") || d.all);
  if (!rc && ctx2 && kftsp_threads_allowed()) { /* the second connection only for a large index */
    kftsp_buf b = {0};
    sqlite3_int64 rows = 0;
    if (fts_state(h, &b, &rows) == 0 && rows >= (sqlite3_int64)kftsp_split_min_rows * (collect_ok ? 10 : 1))
      w = kftsp_match_worker(m);
    kftsp_buf_reset(&b);
  }
  int64_t mid = 0;
  if (!rc && w && (own_w = begin_read(w)) >= 0 && split_point(h, w, &mid) && (m2 = kftsp_match_fork(m, w, &werr))) {
    int64_t cut;
    if (collect_ok && d.all && direct_middle(&d, h, &cut)) mid = cut; /* the rows', not the docs' middle */
    hs[0].hi = mid - 1;
    hs[1].lo = mid;
    hs[1].hi = INT64_MAX;
  } else {
    hs[0].hi = INT64_MAX;
  }
  hs[0].lo = INT64_MIN;
  int n_halves = m2 ? 2 : 1;
  passset pass = {NULL, 0};
  if (!rc && (flags & KFTSP_SCAN_SCORE) && (flags & KFTSP_SCAN_LEAN) && *kftsp_match_where(m))
    rc = pass_build(m, &pass);
  kftsp_dv_cache *cache = (flags & KFTSP_SCAN_SCORE) && (flags & KFTSP_SCAN_LEAN) ? kftsp_match_dvcache(m) : NULL;
  if (cache && kftsp_dv_cache_begin(cache, h)) cache = NULL;
  kftsp_pool *pool = kftsp_match_pool(m);
  for (int i = 0; i < n_halves; i++) {
    hs[i].cache = cache;
    hs[i].pool = pool;
    hs[i].t.pass = pass.bits ? &pass : NULL;
    hs[i].m = i ? m2 : m;
    hs[i].flags = flags;
    hs[i].fn = fn;
    hs[i].ctx = i ? ctx2 : ctx;
    hs[i].t.counted = (flags & KFTSP_SCAN_SCORE) && kftsp_match_or_only(m);
    if (!rc) rc = half_prepare(&hs[i]);
  }
  /* kfts_collect() unless a phrase is a prefix: FTS5 merges a prefix's doclists for every
  ** cursor, and collecting takes two (the statement's and xQueryPhrase's) on one thread. */
  if (!rc && collect_ok && hs[0].t.counted && hs[0].dv && (n_halves < 2 || hs[1].dv)) {
      rc = collect_run(hs, n_halves, cs, &d);
    if (rc == KFTS_ENOMEM) rc = kftsp_err(kftsp_match_error(m), rc, "", 0, "out of memory");
  } else if (!rc) {
    both(n_halves > 1 ? kftsp_match_helper(m) : NULL, phase1_main, &hs[0], n_halves > 1 ? &hs[1] : NULL);
    rc = hs[0].rc ? hs[0].rc : hs[1].rc;
    for (int i = 0; i < n_halves; i++) half_span(&hs[i], hs[i].docs, hs[i].freq, hs[i].n);
  }
  if (!rc && hs[0].t.counted) {
    double *idf = NULL;
    rc = counted_idf(hs, n_halves, &idf);
    phase2_arg a1 = {&hs[0], idf}, a2 = {&hs[1], idf};
    if (!rc && idf) {
      both(n_halves > 1 ? kftsp_match_helper(m) : NULL, phase2_main, &a1, n_halves > 1 ? &a2 : NULL);
      rc = hs[0].rc ? hs[0].rc : hs[1].rc;
    }
    kftsp_free(idf);
    if (rc == KFTS_ENOMEM) rc = kftsp_err(kftsp_match_error(m), rc, "", 0, "out of memory");
  }
  kfts_error *err = kftsp_match_error(m);
  if (rc && !hs[0].rc && n_halves > 1 && hs[1].rc && err) *err = werr; /* the worker's message */
  for (int i = 0; i < n_halves; i++) {
    half_done(&hs[i]);
    collect_free(&cs[i]);
  }
  kftsp_free(pass.bits);
  direct_free(&d);
  if (own > 0 && sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK && !rc) rc = kftsp_match_fail(m, NULL);
  if (own_w > 0) sqlite3_exec(w, "COMMIT", NULL, NULL, NULL);
  kftsp_match_close(m2);
  return rc;
}

int kftsp_match_scan(kftsp_match *m, int flags, kftsp_mrow_fn fn, void *ctx) {
  return kftsp_match_scan2(m, flags, fn, ctx, NULL);
}
