/*
** search.c -- runs a compiled query (query.c) against the index: counting, ranking by
** relevance and importance (and optionally recency), the relaxed fallback, snippets with
** exact highlights, and explaining an empty result.
**
** Score of a hit (higher is better):
**   score = relevance * importance_factor * recency_factor
**   relevance         = -bm25(articles_fts, title 4, summary 2, body 1, topics 2)
**   importance_factor = exp(W * (importance - 5) / 5), W = --importance-weight (0.25);
**                       1 for articles without importance
**   recency_factor    = 0.5 + 0.5 * 2^(-age / H), H = --recent half-life in days, age in days
**                       before the newest dated article of the index; 0.75 when undated;
**                       1 when --recent is not given
** So with W = 0.25 importance 9 beats importance 5 when its relevance is within a factor
** e^0.2 = 1.22, and not when the other is more relevant than that.
** Relaxed (no article has every part): the parts are ORed and hits are ordered by how many
** parts they match (kfts_coverage()), then by score.
*/
#include "kfts_int.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define BM25 "bm25(articles_fts, " KFTSP_STR(KFTSP_BM25_WEIGHTS) ")"

void kftsp_fts_quote(kftsp_buf *b, const char *s, size_t n) {
  kftsp_buf_addc(b, '"');
  for (size_t j = 0; j < n; j++) {
    if (s[j] == '"') kftsp_buf_addc(b, '"');
    kftsp_buf_addc(b, s[j]);
  }
  kftsp_buf_addc(b, '"');
}

void kftsp_fts_word(kftsp_buf *b, const char *p, size_t k) {
  size_t keep = kftsp_strip_particle(p, k);
  kftsp_fts_quote(b, p, keep);
  /* One syllable: the unigram, or any bigram it starts ("책" finds "책을", "책이"). */
  if (kftsp_is_one_syllable(p, keep)) kftsp_buf_addc(b, '*');
}

char *kftsp_fts_words(const char *const *words, size_t n_words, const char *op) {
  kftsp_buf b = {0};
  for (size_t i = 0; i < n_words; i++) {
    const char *p = words[i];
    while (*p) { /* an argument may hold several space-separated words */
      while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
      size_t k = strcspn(p, " \t\n\r");
      if (k && kftsp_has_tokens(p, k)) {
        if (b.n) kftsp_buf_adds(&b, op);
        kftsp_fts_word(&b, p, k);
      }
      p += k;
    }
  }
  if (b.oom) {
    kftsp_buf_reset(&b);
    return NULL;
  }
  return b.p ? kftsp_buf_take(&b) : kftsp_strdup("");
}

void kfts_search_opts_init(kfts_search_opts *o) {
  memset(o, 0, sizeof *o);
  o->limit = 10;
  o->sort = KFTS_SORT_RELEVANCE;
  o->importance_weight = 0.25;
  o->snippet_tokens = 24;
}

/* ---- SQL functions ---- */

double kftsp_days_of(const char *date) {
  int64_t z;
  return kftsp_parse_day(date, &z) ? (double)z : NAN;
}

double kftsp_importance_factor(int importance, double w) {
  return importance < 0 ? 1.0 : exp(w * (importance - 5) / 5.0);
}

double kftsp_recency_factor(const char *date, const char *newest, double half_life) {
  return half_life <= 0 ? 1.0 : kftsp_recency_days(kftsp_days_of(date), kftsp_days_of(newest), half_life);
}

double kftsp_recency_days(double a, double b, double half_life) {
  if (half_life <= 0) return 1.0;
  if (isnan(a) || isnan(b)) return 0.75;
  double age = b - a < 0 ? 0 : b - a;
  return 0.5 + 0.5 * pow(2.0, -age / half_life);
}

/* kfts_boost(importance, date, weight, half_life, newest): importance * recency factors. */
static void boost_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  int imp = sqlite3_value_type(argv[0]) == SQLITE_NULL ? -1 : sqlite3_value_int(argv[0]);
  const char *date = (const char *)sqlite3_value_text(argv[1]);
  double w = sqlite3_value_double(argv[2]), h = sqlite3_value_double(argv[3]);
  const char *newest = (const char *)sqlite3_value_text(argv[4]);
  sqlite3_result_double(ctx, kftsp_importance_factor(imp, w) * kftsp_recency_factor(date, newest, h));
}

/* kfts_coverage(fts, blob): how many query parts the row matches; the blob holds, per part,
** its number of phrases (int32), in the order the parts appear in the expression. */
static void coverage_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nVal,
                        sqlite3_value **apVal) {
  if (nVal != 1 || sqlite3_value_type(apVal[0]) != SQLITE_BLOB) {
    sqlite3_result_error(ctx, "kfts_coverage: expects a blob of phrase counts", -1);
    return;
  }
  const unsigned char *b = sqlite3_value_blob(apVal[0]);
  int n_parts = sqlite3_value_bytes(apVal[0]) / 4, n_phrases = api->xPhraseCount(fts), ph = 0, got = 0;
  for (int i = 0; i < n_parts && ph < n_phrases; i++) {
    int32_t k;
    memcpy(&k, b + 4 * i, 4);
    int hit = 0;
    for (int j = 0; j < k && ph < n_phrases; j++, ph++) {
      Fts5PhraseIter it;
      int col = -1, off = -1;
      if (!hit && api->xPhraseFirst(fts, ph, &it, &col, &off) == SQLITE_OK && col >= 0) hit = 1;
    }
    got += hit;
  }
  sqlite3_result_int(ctx, got);
}

int kftsp_search_register(sqlite3 *db, fts5_api *api) {
  int rc = sqlite3_create_function(db, "kfts_boost", 5, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, boost_fn,
                                   NULL, NULL);
  if (rc == SQLITE_OK && api) rc = api->xCreateFunction(api, "kfts_coverage", NULL, coverage_fn, NULL);
  if (rc == SQLITE_OK && api) rc = kftsp_scan_register(api);
  if (rc == SQLITE_OK && api) rc = kftsp_snippet_register(api);
  return rc;
}

/* ---- running ---- */

typedef struct run {
  sqlite3 *h;
  const kftsp_query *q;
  const kfts_search_opts *o;
  kfts_error *err;
  char newest[11];
  char *only; /* --collapse: JSON array of the page's ids, or NULL */
  kfts_db *db;
} run;

/* The match set of timelines and facets (kftsp_match_*), and of fetch_top(). */
struct kftsp_match {
  run r;
  kftsp_query *q; /* owned, or NULL when borrowed (fetch_top) */
  const char *fts;
  const int32_t *cover; /* relaxed: each part's number of phrases, in FTS's order */
  size_t n_cover;
};

static int db_err(run *r) {
  return kftsp_err(r->err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(r->h));
}

static void bind_params(run *r, sqlite3_stmt *st) {
  for (size_t i = 0; i < r->q->n_params; i++) {
    const kftsp_qparam *p = &r->q->params[i];
    if (p->is_int) sqlite3_bind_int64(st, (int)i + 1, p->i);
    else sqlite3_bind_text(st, (int)i + 1, p->text, -1, SQLITE_STATIC);
  }
}

/* Parameters after the filters' own. */
#define P_FTS "?60"
#define P_NOT "?61"
#define P_COVER "?62"

/* The FROM/WHERE of a search with MATCH expression FTS (or none) under the filters; FILES:
** join the files table too. */
static void from_where(kftsp_buf *b, const run *r, const char *fts, int files) {
  /* CROSS JOIN keeps FTS5 the outer loop: with an index on a filtered column the planner
  ** would otherwise run the MATCH once per article. Without FILES only metadata is read:
  ** from articles_meta, whose rows are a few dozen bytes, not articles, whose rows hold the
  ** text (filters alone keep articles, for its date and source indexes). */
  if (fts)
    kftsp_buf_printf(b, " FROM articles_fts CROSS JOIN %s a ON a.doc = articles_fts.rowid",
                     files ? "articles" : "articles_meta");
  else kftsp_buf_adds(b, " FROM articles a");
  if (files) kftsp_buf_adds(b, " JOIN files f ON f.id = a.file_id");
  if (fts) kftsp_buf_adds(b, " WHERE articles_fts MATCH " P_FTS);
  else kftsp_buf_adds(b, " WHERE 1");
  if (!fts && r->q->fts_neg)
    kftsp_buf_adds(b, " AND a.doc NOT IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH " P_NOT ")");
  kftsp_buf_adds(b, r->q->where);
}

static int prepare(run *r, const char *sql, sqlite3_stmt **st, const char *fts) {
  if (kftsp_prepare(r->h, sql, st) != SQLITE_OK) return db_err(r);
  bind_params(r, *st);
  int i = sqlite3_bind_parameter_index(*st, P_FTS);
  if (i) sqlite3_bind_text(*st, i, fts, -1, SQLITE_STATIC);
  if ((i = sqlite3_bind_parameter_index(*st, P_NOT))) sqlite3_bind_text(*st, i, r->q->fts_neg, -1, SQLITE_STATIC);
  return KFTS_OK;
}

/* Rows matching FTS (may be NULL: filters only) under the filters, into *N. */
static int count_rows(run *r, const char *fts, size_t *n) {
  kftsp_buf b = {0};
  if (fts && !*r->q->where) /* nothing but the words: FTS5 alone, no row of articles read */
    kftsp_buf_adds(&b, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH " P_FTS);
  else
    kftsp_buf_adds(&b, "SELECT count(*)"), from_where(&b, r, fts, 0);
  if (b.oom) return KFTS_ENOMEM;
  sqlite3_stmt *st = NULL;
  int rc = prepare(r, b.p, &st, fts);
  kftsp_buf_reset(&b);
  if (rc) return rc;
  if (sqlite3_step(st) == SQLITE_ROW) *n = (size_t)sqlite3_column_int64(st, 0);
  else rc = db_err(r);
  kftsp_finalize(st);
  return rc;
}

static char **split_topics(const char *s, size_t *n_out) {
  *n_out = 0;
  if (!s || !*s) return NULL;
  size_t n = 1;
  for (const char *p = s; *p; p++) n += *p == '\n';
  char **v = kftsp_malloc(n * sizeof *v);
  if (!v) return NULL;
  size_t k = 0;
  const char *p = s;
  for (;;) {
    size_t len = strcspn(p, "\n");
    if (!(v[k] = kftsp_strndup(p, len))) {
      kfts_strv_free(v, k);
      return NULL;
    }
    k++;
    if (!p[len]) break;
    p += len + 1;
  }
  *n_out = k;
  return v;
}

static char *col_dup(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? kftsp_strdup((const char *)t) : NULL;
}

/* Snippet markers: control characters the indexer never stores (text.c drops them). */
#define MARK_OPEN "\x02"
#define MARK_CLOSE "\x03"

/* Turns a marked snippet into plain text plus [start, end) character offsets. */
static int unmark(kfts_hit *x, const char *s) {
  kftsp_buf b = {0};
  size_t cap = 0, chars = 0;
  int open_at = -1;
  for (const char *p = s; *p; p++) {
    if (*p == MARK_OPEN[0]) {
      open_at = (int)chars;
      continue;
    }
    if (*p == MARK_CLOSE[0]) {
      if (open_at < 0) continue;
      if (x->n_highlights == cap) {
        cap = cap ? cap * 2 : 8;
        int *h = kftsp_realloc(x->highlights, cap * 2 * sizeof *h);
        if (!h) {
          kftsp_buf_reset(&b);
          return KFTS_ENOMEM;
        }
        x->highlights = h;
      }
      x->highlights[2 * x->n_highlights] = open_at;
      x->highlights[2 * x->n_highlights + 1] = (int)chars;
      x->n_highlights++;
      open_at = -1;
      continue;
    }
    kftsp_buf_addc(&b, *p);
    chars += ((unsigned char)*p & 0xC0) != 0x80;
  }
  if (b.oom) return KFTS_ENOMEM;
  x->snippet = kftsp_buf_take(&b);
  return x->snippet ? KFTS_OK : KFTS_ENOMEM;
}

/* The snippet of hit X from ST's columns FIRST.. (summary, body, title snippets): from the
** summary when it holds a match, else the body, else the title. */
static int snippet_from(kfts_hit *x, sqlite3_stmt *st, int first) {
  const char *pick = NULL;
  for (int c = first; c < first + 3 && !pick; c++) {
    const char *s = (const char *)sqlite3_column_text(st, c);
    if (s && strchr(s, MARK_OPEN[0])) pick = s;
  }
  if (!pick) pick = (const char *)sqlite3_column_text(st, sqlite3_column_bytes(st, first) ? first : first + 1);
  return unmark(x, pick ? pick : "");
}

/* The snippets of the N hits without a MATCH (filters only, --similar): the start of the
** summary or body; one statement for all. */
static int plain_snippets(run *r, kfts_hit *hits, size_t n) {
  int rc = KFTS_OK;
  sqlite3_stmt *st = NULL;
  if (kftsp_prepare(r->h,
                         "SELECT CASE WHEN length(t) > ?2 THEN substr(t, 1, ?2) || '…' ELSE t END"
                         " FROM (SELECT replace(coalesce(nullif(summary, ''), kfts_text(body)), char(10), ' ') AS t"
                         " FROM articles WHERE doc = ?1)", &st) != SQLITE_OK)
    return db_err(r);
  sqlite3_bind_int(st, 2, r->o->snippet_tokens * 3);
  for (size_t i = 0; !rc && i < n; i++) {
    sqlite3_bind_int64(st, 1, hits[i].doc);
    if (sqlite3_step(st) == SQLITE_ROW) {
      const char *s = (const char *)sqlite3_column_text(st, 0);
      rc = unmark(&hits[i], s ? s : "");
    }
    sqlite3_reset(st);
  }
  kftsp_finalize(st);
  return rc;
}

/* Whether the FTS5 expression has a prefix term: a '*' outside its quoted strings. */
static int has_prefix(const char *fts) {
  int quoted = 0;
  for (const char *p = fts; *p; p++) {
    if (*p == '"') quoted = !quoted; /* a doubled quote inside a string toggles twice */
    else if (*p == '*' && !quoted) return 1;
  }
  return 0;
}

/* ---- prefix terms, for the snippets ---- */

/* The indexed tokens that start with a prefix, gathered from the page's texts. */
typedef struct pfx {
  const char *p; /* the prefix token (normalised) */
  int n;
  kftsp_buf alts; /* "t1" OR "t2" ... */
  kftsp_u64set seen;
} pfx;

static int pfx_token(void *ctx, const kfts_token *t) {
  pfx *x = ctx;
  if (t->len < x->n || memcmp(t->text, x->p, (size_t)x->n)) return 0;
  int added = kftsp_u64set_add(&x->seen, kftsp_fnv1a(KFTSP_FNV_INIT, t->text, (size_t)t->len) | 1);
  if (added < 0) return 1;
  if (added) {
    if (x->alts.n) kftsp_buf_adds(&x->alts, " OR ");
    kftsp_fts_quote(&x->alts, t->text, (size_t)t->len);
  }
  return 0;
}

/* A prefix word's token: the first one, and how many there are (one makes a prefix). */
typedef struct one {
  kftsp_buf b;
  int n;
} one;

static int one_token(void *ctx, const kfts_token *t) {
  one *o = ctx;
  if (o->n++) return 1; /* a second token: not one prefix */
  kftsp_buf_add(&o->b, t->text, (size_t)t->len);
  return 0;
}

/* FTS with each prefix term "X"* (X without Latin letters, so that FTS5's porter leaves its
** tokens as they are) replaced by the OR of the indexed tokens starting with X that the N
** rows DOCS hold (by "X" alone when they hold none): on those rows it matches, and marks,
** exactly what "X"* does, without the merge of every doclist of the prefix that each MATCH
** of "X"* starts with (at 1M articles, 19 ms for 책*). NULL when a prefix term cannot be
** replaced (the caller keeps FTS). */
char *kftsp_prefix_rewrite(sqlite3 *h, const char *fts, const int64_t *docs, size_t n) {
  sqlite3_stmt *st = NULL;
  if (kftsp_prepare(h, "SELECT title, summary, kfts_text(body), topics FROM articles WHERE doc = ?1", &st) != SQLITE_OK)
    return NULL;
  kftsp_buf out = {0};
  one tok = {{0}, 0};
  int ok = 1;
  const char *q = fts;
  while (ok && *q) {
    if (*q != '"') {
      kftsp_buf_addc(&out, *q++);
      continue;
    }
    const char *start = q++;
    kftsp_buf word = {0};
    for (; *q; q++) {
      if (*q == '"' && q[1] == '"') kftsp_buf_addc(&word, *q++);
      else if (*q == '"') break;
      else kftsp_buf_addc(&word, *q);
    }
    if (*q != '"') ok = 0; /* unterminated: not ours */
    else q++;
    if (ok && *q != '*') {
      kftsp_buf_add(&out, start, (size_t)(q - start));
      kftsp_buf_reset(&word);
      continue;
    }
    int latin = 0;
    for (size_t i = 0; i < word.n; i++) latin |= (word.p[i] >= 'a' && word.p[i] <= 'z') || (word.p[i] >= 'A' && word.p[i] <= 'Z');
    kftsp_buf_reset(&tok.b);
    tok.n = 0;
    if (ok && (latin || !word.n || kfts_tokens(word.p, word.n, 1, one_token, &tok) != KFTS_OK || tok.n != 1 ||
               tok.b.oom))
      ok = 0;
    pfx x = {tok.b.p, (int)tok.b.n, {0}, {0}};
    for (size_t i = 0; ok && i < n; i++) {
      sqlite3_bind_int64(st, 1, docs[i]);
      if (sqlite3_step(st) == SQLITE_ROW)
        for (int c = 0; c < 4 && ok; c++) {
          const char *t = (const char *)sqlite3_column_text(st, c);
          if (t && kfts_tokens(t, (size_t)sqlite3_column_bytes(st, c), 0, pfx_token, &x) != KFTS_OK) ok = 0;
        }
      sqlite3_reset(st);
    }
    if (ok && x.alts.oom) ok = 0;
    if (ok && x.alts.n) {
      kftsp_buf_addc(&out, '(');
      kftsp_buf_add(&out, x.alts.p, x.alts.n);
      kftsp_buf_addc(&out, ')');
    } else if (ok) { /* on none of the rows: the token X alone, which is on none of them either */
      kftsp_fts_quote(&out, tok.b.p, tok.b.n);
    }
    q++; /* the '*' */
    kftsp_buf_reset(&x.alts);
    kftsp_u64set_free(&x.seen);
    kftsp_buf_reset(&word);
  }
  kftsp_finalize(st);
  kftsp_buf_reset(&tok.b);
  if (!ok || out.oom) {
    kftsp_buf_reset(&out);
    return NULL;
  }
  kftsp_buf_addc(&out, 0);
  return out.oom ? NULL : kftsp_buf_take(&out);
}

int kftsp_snippet_all_phrases = 0;
size_t kftsp_snippet_fewer = 0;

int kftsp_or_phrases(const char *fts, int start[64], int len[64], int *n) {
  const char *s = fts;
  *n = 0;
  for (int want_phrase = 1;;) {
    while (*s == ' ' || *s == '(' || *s == ')') s++;
    if (!*s) return *n > 0 && !want_phrase;
    if (!want_phrase) {
      if (strncmp(s, "OR", 2) || (s[2] != ' ' && s[2] != '(' && s[2] != '"')) return 0;
      s += 2;
      want_phrase = 1;
      continue;
    }
    if (*s != '"' || *n == 64) return 0;
    const char *p = s + 1;
    for (; *p && !(*p == '"' && p[1] != '"'); p += *p == '"' ? 2 : 1) {
    }
    if (!*p) return 0;
    p += 1 + (p[1] == '*');
    start[*n] = (int)(s - fts);
    len[(*n)++] = (int)(p - s);
    s = p;
    want_phrase = 0;
  }
}

/* Into B: the phrases of FTS (kftsp_or_phrases) whose bits are set in BITS, joined by OR. */
static void phrases_expr(kftsp_buf *b, const char *fts, const int *start, const int *len, int n, uint64_t bits) {
  b->n = 0;
  for (int p = 0; p < n; p++)
    if (bits >> p & 1) {
      if (b->n) kftsp_buf_adds(b, " OR ");
      kftsp_buf_add(b, fts + start[p], (size_t)len[p]);
    }
}

/* The snippets of the N hits for FTS: per hit (MATCH and rowid = ?), or with BATCH one pass
** over the matches between the page's smallest and largest docs that keeps the page's rows.
** PHRASES (or NULL): per hit, the phrases of FTS it has (kftsp_mrow.phrases): when FTS is
** phrases joined by OR, a hit's MATCH names only those. The others would mark nothing, and
** each costs FTS5 a look-up of each of its terms in each segment (Anthropic's four spellings
** at 1M: 0.67 ms for the page's snippets, 0.29 with the hits' own); *FEWER (read only with
** PHRASES) counts such hits. *BAD: 1 when FTS did not run (a syntax error), before any
** snippet was made. */
static int snippets_for(run *r, kfts_hit *hits, size_t n, const char *fts, const uint64_t *phrases, int batch,
                        int *bad, size_t *fewer) {
  int rc = KFTS_OK;
  *bad = 0;
  kftsp_buf b = {0};
  kftsp_buf_printf(&b, "SELECT rowid, kfts_snippet(articles_fts, 1, '" MARK_OPEN "', '" MARK_CLOSE "', '…', %d),"
                       " kfts_snippet(articles_fts, 2, '" MARK_OPEN "', '" MARK_CLOSE "', '…', %d),"
                       " kfts_snippet(articles_fts, 0, '" MARK_OPEN "', '" MARK_CLOSE "', '…', %d)"
                       " FROM articles_fts WHERE articles_fts MATCH ?1 AND ",
                   r->o->snippet_tokens, r->o->snippet_tokens, r->o->snippet_tokens);
  if (!batch) {
    kftsp_buf_adds(&b, "rowid = ?2");
  } else {
    kftsp_buf_adds(&b, "rowid BETWEEN ?2 AND ?3 AND +rowid IN (SELECT value FROM json_each(?4))");
  }
  sqlite3_stmt *st = NULL;
  if (b.oom) rc = KFTS_ENOMEM;
  else if (kftsp_prepare(r->h, b.p, &st) != SQLITE_OK) rc = db_err(r);
  kftsp_buf_reset(&b);
  if (!rc) sqlite3_bind_text(st, 1, fts, -1, SQLITE_STATIC);
  int start[64], len[64], n_ph = 0;
  if (phrases && (kftsp_snippet_all_phrases || !kftsp_or_phrases(fts, start, len, &n_ph))) phrases = NULL;
  for (size_t i = 0; !rc && !batch && i < n; i++) {
    if (phrases) {
      const char *expr = fts;
      if (phrases[i] && (n_ph == 64 || phrases[i] >> n_ph == 0)) {
        phrases_expr(&b, fts, start, len, n_ph, phrases[i]);
        expr = b.p;
        *fewer += phrases[i] + 1 != (n_ph == 64 ? 0 : (uint64_t)1 << n_ph);
      }
      if (b.oom) rc = KFTS_ENOMEM;
      else sqlite3_bind_text(st, 1, expr, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, 2, hits[i].doc);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) rc = snippet_from(&hits[i], st, 1);
    else if (s == SQLITE_ERROR && i == 0) *bad = 1;
    sqlite3_reset(st);
    if (*bad) break;
  }
  if (!rc && batch) {
    int64_t lo = hits[0].doc, hi = hits[0].doc;
    kftsp_buf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
      if (hits[i].doc < lo) lo = hits[i].doc;
      if (hits[i].doc > hi) hi = hits[i].doc;
      kftsp_buf_printf(&b, "%s%lld", i ? "," : "", (long long)hits[i].doc);
    }
    kftsp_buf_addc(&b, ']');
    if (b.oom) rc = KFTS_ENOMEM;
    if (!rc) {
      sqlite3_bind_int64(st, 2, lo);
      sqlite3_bind_int64(st, 3, hi);
      sqlite3_bind_text(st, 4, b.p, -1, SQLITE_STATIC);
    }
    int s = SQLITE_DONE;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
      int64_t doc = sqlite3_column_int64(st, 0);
      for (size_t i = 0; !rc && i < n; i++)
        if (hits[i].doc == doc && !hits[i].snippet) rc = snippet_from(&hits[i], st, 1);
    }
    if (!rc && s != SQLITE_DONE) rc = db_err(r);
  }
  kftsp_buf_reset(&b);
  kftsp_finalize(st);
  return rc;
}

/* Half of a page's snippets, on the helper thread. */
typedef struct snip_job {
  run r;
  kfts_error err;
  kfts_hit *hits;
  size_t n, fewer;
  const char *fts;
  const uint64_t *phrases;
  int bad, rc;
} snip_job;

static void *snip_main(void *p) {
  snip_job *j = p;
  j->rc = snippets_for(&j->r, j->hits, j->n, j->fts, j->phrases, 0, &j->bad, &j->fewer);
  return NULL;
}

/* snippets_for(), one hit at a time, in two halves at once when a split scan has given the
** handle its second connection and thread (a large index) and the thread is awake (waking
** it takes about 0.5 ms): at 1M a page of ten took 0.3-1 ms on one thread, each hit's MATCH
** starting anew. */
static int snippets_page(run *r, kfts_hit *hits, size_t n, const char *fts, const uint64_t *phrases, int *bad) {
  sqlite3 *w = NULL;
  kftsp_helper *hp = NULL;
  size_t fewer = 0;
  if (n < 4 || !r->db || !kftsp_db_pair(r->db, &w, &hp)) {
    int rc = snippets_for(r, hits, n, fts, phrases, 0, bad, &fewer);
    kftsp_snippet_fewer += fewer;
    return rc;
  }
  size_t k = n / 2;
  snip_job a = {*r, {0}, hits, k, 0, fts, phrases, 0, 0};
  snip_job b = {*r, {0}, hits + k, n - k, 0, fts, phrases ? phrases + k : NULL, 0, 0};
  b.r.h = w;
  b.r.err = &b.err;
  kftsp_helper_both(hp, snip_main, &a, &b);
  kftsp_snippet_fewer += a.fewer + b.fewer;
  *bad = a.bad || b.bad;
  if (a.rc) return a.rc;
  if (b.rc && r->err) *r->err = b.err;
  return b.rc;
}

/* The snippets of the N hits. With a MATCH, one statement for all (snippets_for). A prefix
** term "X"* makes FTS5 merge every doclist of the prefix each time such a MATCH starts (19 ms
** for 책 at 1M articles), so it is replaced by the tokens the hits hold (kftsp_prefix_rewrite);
** when that cannot be done, one pass over the page's range merges it once. */
static int make_snippets(run *r, kfts_hit *hits, size_t n, const char *fts, const uint64_t *phrases) {
  if (r->o->snippet_tokens <= 0 || !n) return KFTS_OK;
  if (!fts) return plain_snippets(r, hits, n);
  int bad = 0, rc;
  if (!has_prefix(fts)) return snippets_page(r, hits, n, fts, phrases, &bad);
  int64_t *docs = kftsp_malloc(n * sizeof *docs);
  if (!docs) return KFTS_ENOMEM;
  for (size_t i = 0; i < n; i++) docs[i] = hits[i].doc;
  char *plain = kftsp_prefix_rewrite(r->h, fts, docs, n);
  kftsp_free(docs);
  rc = plain ? snippets_page(r, hits, n, plain, NULL, &bad) : KFTS_OK;
  if (!rc && (!plain || bad)) rc = snippets_for(r, hits, n, fts, NULL, n > 1, &bad, NULL);
  kftsp_free(plain);
  return rc;
}

int kftsp_collapse_by_sql = 0;
int kftsp_relaxed_by_sql = 0;

/* The page of hits for FTS (NULL: filters only); COVER: the phrase-count blob when relaxed. */
/* ORDER BY of a page: coverage first when relaxed, then the sort key, then the doc. */
static void order_by(kftsp_buf *b, const run *r, const char *fts, int cover) {
  kftsp_buf_printf(b, " ORDER BY %s", cover ? "kfts_coverage(articles_fts, " P_COVER ") DESC, " : "");
  const char *score = fts ? "(-" BM25 " * kfts_boost(a.importance, a.date, ?63, ?64, ?65))" : "0";
  switch (r->o->sort) {
  case KFTS_SORT_DATE: kftsp_buf_printf(b, "a.date IS NULL, a.date DESC, %s DESC", score); break;
  case KFTS_SORT_IMPORTANCE:
    kftsp_buf_printf(b, "a.importance IS NULL, a.importance DESC, %s DESC, a.date DESC", score);
    break;
  default:
    if (fts) kftsp_buf_printf(b, "%s DESC", score);
    else kftsp_buf_adds(b, "a.date IS NULL, a.date DESC"); /* filters alone: newest first */
  }
  kftsp_buf_adds(b, ", a.doc");
}

static void bind_rank(run *r, sqlite3_stmt *st, const int32_t *cover, size_t n_cover) {
  int i;
  if ((i = sqlite3_bind_parameter_index(st, P_COVER)))
    sqlite3_bind_blob(st, i, cover, (int)(n_cover * sizeof *cover), SQLITE_STATIC);
  if ((i = sqlite3_bind_parameter_index(st, "?63"))) sqlite3_bind_double(st, i, r->o->importance_weight);
  if ((i = sqlite3_bind_parameter_index(st, "?64"))) sqlite3_bind_double(st, i, r->o->recent_half_life);
  if ((i = sqlite3_bind_parameter_index(st, "?65"))) sqlite3_bind_text(st, i, r->newest, -1, SQLITE_STATIC);
}

/* --collapse: walks all matches best first, keeping one per story cluster; the docs of the
** page's keepers go to r->only (a JSON array) and the number of clusters to *N_CLUSTERS. */
static int collapse_page(run *r, const char *fts, const int32_t *cover, size_t n_cover, size_t *n_clusters) {
  kftsp_buf b = {0};
  kftsp_buf_adds(&b, "SELECT a.doc, coalesce((SELECT cluster FROM clusters WHERE doc = a.doc), a.doc)");
  from_where(&b, r, fts, 0);
  order_by(&b, r, fts, cover != NULL);
  if (b.oom) return KFTS_ENOMEM;
  sqlite3_stmt *st = NULL;
  int rc = prepare(r, b.p, &st, fts);
  kftsp_buf_reset(&b);
  if (rc) return rc;
  bind_rank(r, st, cover, n_cover);
  kftsp_u64set seen = {0}; /* clusters that already have their hit */
  kftsp_buf ids = {0};
  kftsp_buf_addc(&ids, '[');
  int src;
  while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t doc = sqlite3_column_int64(st, 0), cl = sqlite3_column_int64(st, 1);
    int added = kftsp_u64set_add(&seen, (uint64_t)cl);
    if (added < 0) {
      rc = KFTS_ENOMEM;
      break;
    }
    if (!added) continue; /* its cluster already has a better hit */
    size_t k = seen.n - 1;   /* clusters before this one */
    if (k >= r->o->offset && k < r->o->offset + r->o->limit)
      kftsp_buf_printf(&ids, "%s%lld", ids.n > 1 ? "," : "", (long long)doc);
  }
  if (!rc && src != SQLITE_DONE) rc = db_err(r);
  kftsp_finalize(st);
  size_t n = seen.n;
  kftsp_u64set_free(&seen);
  kftsp_buf_addc(&ids, ']');
  if (ids.oom) rc = KFTS_ENOMEM;
  if (rc) {
    kftsp_buf_reset(&ids);
    return rc;
  }
  r->only = kftsp_buf_take(&ids);
  *n_clusters = n;
  return KFTS_OK;
}

/* The other members of hit X's story cluster. */
static int load_members(run *r, kfts_hit *x) {
  sqlite3_stmt *st;
  if (kftsp_prepare(r->h,
                         "SELECT a.id, a.title, a.date, a.source FROM clusters c JOIN articles a ON a.doc = c.doc"
                         " WHERE c.cluster = (SELECT cluster FROM clusters WHERE doc = ?1) AND a.doc != ?1"
                         " ORDER BY a.date IS NULL, a.date, a.doc", &st) != SQLITE_OK)
    return db_err(r);
  sqlite3_bind_int64(st, 1, x->doc);
  int rc = KFTS_OK;
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    kfts_member *m = kftsp_realloc(x->similar, (x->n_similar + 1) * sizeof *m);
    if (!m) {
      rc = KFTS_ENOMEM;
      break;
    }
    x->similar = m;
    m += x->n_similar++;
    m->id = sqlite3_column_int64(st, 0);
    m->title = col_dup(st, 1);
    m->date = col_dup(st, 2);
    m->source = col_dup(st, 3);
    if (!m->title) rc = KFTS_ENOMEM;
  }
  kftsp_finalize(st);
  return rc;
}

/* Fills X from columns 0..10 of ST: id, title, url, date, date_source, source, topics,
** importance, path, line, doc; the factors from X's importance and date. */
static int hit_from(run *r, kfts_hit *x, sqlite3_stmt *st) {
  const kfts_search_opts *o = r->o;
  x->id = sqlite3_column_int64(st, 0);
  x->title = col_dup(st, 1);
  x->url = col_dup(st, 2);
  x->date = col_dup(st, 3);
  x->date_source = col_dup(st, 4);
  x->source = col_dup(st, 5);
  x->topics = split_topics((const char *)sqlite3_column_text(st, 6), &x->n_topics);
  x->importance = sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 7);
  x->file = col_dup(st, 8);
  x->line = sqlite3_column_int(st, 9);
  x->doc = sqlite3_column_int64(st, 10);
  x->collapsed = o->collapse;
  x->importance_factor = kftsp_importance_factor(x->importance, o->importance_weight);
  x->recency_factor = kftsp_recency_factor(x->date, r->newest, o->recent_half_life);
  return x->title && x->file ? KFTS_OK : KFTS_ENOMEM;
}

#define HIT_COLUMNS                                                                                     \
  "a.id, a.title, a.url, a.date, a.date_source, a.source, a.topics, a.importance, f.path, a.line, a.doc"

/* ---- the page by relevance: the best OFFSET + LIMIT of the scan ---- */

typedef struct topk {
  kftsp_mrow *v; /* a heap: v[0] ranks last */
  size_t n, k, cap;
  size_t seen; /* every match the scan passed: the result's total */
} topk;

/* A ranks below B: fewer parts matched (relaxed), lower score, then larger doc (as ORDER BY
** kfts_coverage() DESC, score DESC, a.doc). */
static int ranks_below(const kftsp_mrow *a, const kftsp_mrow *b) {
  if (a->coverage != b->coverage) return a->coverage < b->coverage;
  if (a->score != b->score) return a->score < b->score;
  return a->doc > b->doc;
}

static int cmp_rank(const void *a, const void *b) {
  return ranks_below(a, b) ? 1 : ranks_below(b, a) ? -1 : 0;
}

static int keep_best(void *ctx, const kftsp_mrow *row) {
  topk *t = ctx;
  kftsp_mrow x = {row->doc,   NULL,          row->importance, NULL, NULL, row->score, row->relevance,
                  row->coverage, INT32_MIN, row->phrases};
  size_t i;
  t->seen++;
  if (t->n < t->k && t->n == t->cap) { /* grows with the matches, up to K */
    size_t cap = t->cap ? 2 * t->cap : 64;
    if (cap > t->k) cap = t->k;
    kftsp_mrow *v = kftsp_realloc(t->v, cap * sizeof *v);
    if (!v) return KFTS_ENOMEM;
    t->v = v;
    t->cap = cap;
  }
  if (t->n < t->k) { /* sift up */
    for (i = t->n++; i && ranks_below(&x, &t->v[(i - 1) / 2]); i = (i - 1) / 2) t->v[i] = t->v[(i - 1) / 2];
  } else if (t->k && ranks_below(&t->v[0], &x)) { /* replaces the last; sift down */
    for (i = 0;;) {
      size_t c = 2 * i + 1;
      if (c >= t->n) break;
      if (c + 1 < t->n && ranks_below(&t->v[c + 1], &t->v[c])) c++;
      if (!ranks_below(&t->v[c], &x)) break;
      t->v[i] = t->v[c];
      i = c;
    }
  } else {
    return KFTS_OK;
  }
  t->v[i] = x;
  return KFTS_OK;
}

/*
** --collapse by the scan, when every part must match and hits go by relevance: each match is
** its own story unless the clusters table (read once, in article order, and walked beside
** the scan's ids) names its cluster; a heap keeps the best stories alone, and each cluster
** its best match, which then joins the heap. Into *T: the best OFFSET + LIMIT stories' best
** matches, and in T->seen the number of stories: what collapse_page() finds by walking every
** match in ORDER BY order (test_search.c compares the two).
*/
typedef struct clustered {
  int64_t article; /* ascending */
  size_t k;        /* its cluster, numbered from 0 */
} clustered;

typedef struct collapse_ctx {
  topk alone;           /* the matches in no cluster */
  const clustered *cl;  /* the clusters table */
  size_t n_cl, i;       /* i: the walk's place in it */
  kftsp_mrow *best;     /* each cluster's best match so far; doc 0: none yet */
} collapse_ctx;

static int keep_collapsed(void *ctx, const kftsp_mrow *row) {
  collapse_ctx *c = ctx;
  while (c->i < c->n_cl && c->cl[c->i].article < row->doc) c->i++;
  if (c->i == c->n_cl || c->cl[c->i].article != row->doc) return keep_best(&c->alone, row);
  kftsp_mrow *b = &c->best[c->cl[c->i].k];
  if (!b->doc || ranks_below(b, row)) {
    *b = *row;
    b->date = b->source = b->topics = NULL; /* the scan's: gone after this call */
  }
  return KFTS_OK;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The clusters table in article order, each row with its cluster's number; *N_K clusters. */
static int load_clusters(run *r, clustered **out, size_t *n_out, size_t *n_k) {
  *out = NULL;
  *n_out = *n_k = 0;
  sqlite3_stmt *st;
  if (kftsp_prepare(r->h, "SELECT doc, cluster FROM clusters ORDER BY doc", &st) != SQLITE_OK)
    return db_err(r);
  clustered *v = NULL;
  int64_t *leader = NULL, *ks = NULL;
  size_t n = 0, cap = 0, cap_l = 0;
  int rc = KFTS_OK, src;
  while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
    clustered *x = kftsp_grow(v, n, &cap, sizeof *x, 1024);
    int64_t *y = x ? kftsp_grow(leader, n, &cap_l, sizeof *y, 1024) : NULL;
    if (x) v = x;
    if (y) leader = y;
    if (!x || !y) {
      rc = KFTS_ENOMEM;
      break;
    }
    v[n].article = sqlite3_column_int64(st, 0);
    leader[n++] = sqlite3_column_int64(st, 1);
  }
  if (!rc && src != SQLITE_DONE) rc = db_err(r);
  kftsp_finalize(st);
  size_t m = 0;
  if (!rc && n && !(ks = kftsp_malloc(n * sizeof *ks))) rc = KFTS_ENOMEM;
  if (!rc && n) { /* the distinct leaders, sorted: a cluster's number is its leader's place */
    memcpy(ks, leader, n * sizeof *ks);
    kftsp_sort(ks, n, sizeof *ks, cmp_i64);
    for (size_t i = 0; i < n; i++)
      if (!m || ks[i] != ks[m - 1]) ks[m++] = ks[i];
    for (size_t i = 0; i < n; i++)
      v[i].k = (size_t)((int64_t *)bsearch(&leader[i], ks, m, sizeof *ks, cmp_i64) - ks);
  }
  kftsp_free(leader);
  kftsp_free(ks);
  if (rc) {
    kftsp_free(v);
    return rc;
  }
  *out = v;
  *n_out = n;
  *n_k = m;
  return KFTS_OK;
}

static int collapse_scan(run *r, kftsp_match *m, topk *t) {
  const kfts_search_opts *o = r->o;
  size_t k = o->offset + o->limit;
  collapse_ctx c[2];
  memset(c, 0, sizeof c);
  size_t n_k = 0, n_cl = 0;
  clustered *cl = NULL;
  int rc = load_clusters(r, &cl, &n_cl, &n_k);
  for (int h = 0; h < 2 && !rc; h++) {
    c[h].alone.k = k < o->offset ? SIZE_MAX : k;
    c[h].cl = cl;
    c[h].n_cl = n_cl;
    if (n_k && !(c[h].best = kftsp_malloc(n_k * sizeof *c[h].best))) rc = KFTS_ENOMEM;
    else if (n_k) memset(c[h].best, 0, n_k * sizeof *c[h].best);
  }
  if (!rc) rc = kftsp_match_scan2(m, KFTSP_SCAN_SCORE | KFTSP_SCAN_LEAN, keep_collapsed, &c[0], &c[1]);
  *t = c[0].alone;
  c[0].alone.v = NULL;
  size_t n = t->seen + c[1].alone.seen, clusters = 0;
  for (size_t i = 0; !rc && i < c[1].alone.n; i++) rc = keep_best(t, &c[1].alone.v[i]); /* the upper half's */
  for (size_t i = 0; !rc && i < n_k; i++) { /* each cluster's best of both halves */
    const kftsp_mrow *a = &c[0].best[i], *b = &c[1].best[i];
    if (!a->doc || (b->doc && ranks_below(a, b))) a = b;
    if (a->doc) {
      clusters++;
      rc = keep_best(t, a);
    }
  }
  t->seen = n + clusters;
  for (int h = 0; h < 2; h++) {
    kftsp_free(c[h].alone.v);
    kftsp_free(c[h].best);
  }
  kftsp_free(cl);
  return rc;
}

/* The page when hits are ordered by score and every part must match: scan.c scores each match
** without reading its row of articles, a heap keeps the best OFFSET + LIMIT (--collapse: of
** the stories), and only the page's rows are read; the matches (stories) it passed are the
** total (no separate count). Same order and scores as fetch()'s ORDER BY (test_search.c). */
static int fetch_top(run *r, kfts_result *res, const char *fts, const int32_t *cover, size_t n_cover) {
  const kfts_search_opts *o = r->o;
  size_t k = o->offset + o->limit;
  topk t = {NULL, 0, k < o->offset ? SIZE_MAX : k, 0, 0};
  kftsp_match m;
  memset(&m, 0, sizeof m);
  m.r = *r;
  m.fts = fts;
  m.cover = cover;
  m.n_cover = n_cover;
  int rc;
  if (o->collapse) {
    rc = collapse_scan(r, &m, &t);
  } else {
    topk t2 = t;
    rc = kftsp_match_scan2(&m, KFTSP_SCAN_SCORE | KFTSP_SCAN_LEAN, keep_best, &t, &t2);
    size_t seen = t.seen + t2.seen;
    for (size_t i = 0; !rc && i < t2.n; i++) rc = keep_best(&t, &t2.v[i]); /* the upper half's best */
    kftsp_free(t2.v);
    t.seen = seen;
  }
  res->total = t.seen;
  sqlite3_stmt *st = NULL;
  size_t first = o->offset < t.n ? o->offset : t.n;
  if (!rc) {
    kftsp_sort(t.v, t.n, sizeof *t.v, cmp_rank);
    res->hits = t.n > first ? kftsp_malloc((t.n - first) * sizeof *res->hits) : NULL;
    if (t.n > first && !res->hits) rc = KFTS_ENOMEM;
  }
  if (!rc && t.n > first &&
      kftsp_prepare(r->h, "SELECT " HIT_COLUMNS " FROM articles a JOIN files f ON f.id = a.file_id WHERE a.doc = ?1", &st) != SQLITE_OK)
    rc = db_err(r);
  for (size_t i = first; !rc && i < t.n; i++) {
    sqlite3_bind_int64(st, 1, t.v[i].doc);
    if (sqlite3_step(st) == SQLITE_ROW) {
      kfts_hit *x = &res->hits[res->n_hits++];
      memset(x, 0, sizeof *x);
      rc = hit_from(r, x, st);
      x->relevance = t.v[i].relevance;
      x->matched = cover ? t.v[i].coverage : (int)res->n_parts;
      x->score = x->relevance * x->importance_factor * x->recency_factor;
    } else {
      rc = db_err(r);
    }
    sqlite3_reset(st);
  }
  kftsp_finalize(st);
  uint64_t *phrases = !rc && res->n_hits ? kftsp_malloc(res->n_hits * sizeof *phrases) : NULL;
  for (size_t i = 0; phrases && i < res->n_hits; i++) phrases[i] = t.v[first + i].phrases;
  kftsp_free(t.v);
  if (!rc) rc = make_snippets(r, res->hits, res->n_hits, fts, phrases); /* NULL phrases: all */
  kftsp_free(phrases);
  for (size_t i = 0; !rc && o->collapse && i < res->n_hits; i++) rc = load_members(r, &res->hits[i]);
  return rc;
}

/* The page of hits for FTS (NULL: filters only); COVER: the phrase-count blob when relaxed. */
static int fetch(run *r, kfts_result *res, const char *fts, const int32_t *cover, size_t n_cover) {
  const kfts_search_opts *o = r->o;
  if (o->collapse) {
    int crc = collapse_page(r, fts, cover, n_cover, &res->total);
    if (crc) return crc;
  }
  kftsp_buf b = {0};
  kftsp_buf_printf(&b, "SELECT " HIT_COLUMNS ", %s, %s",
                   fts ? "-" BM25 : "0.0", cover ? "kfts_coverage(articles_fts, " P_COVER ")" : "0");
  from_where(&b, r, fts, 1);
  if (r->only) kftsp_buf_adds(&b, " AND a.doc IN (SELECT value FROM json_each(?68))");
  order_by(&b, r, fts, cover != NULL);
  kftsp_buf_adds(&b, " LIMIT ?66 OFFSET ?67");
  if (b.oom) return KFTS_ENOMEM;
  sqlite3_stmt *st = NULL;
  int rc = prepare(r, b.p, &st, fts);
  kftsp_buf_reset(&b);
  if (rc) return rc;
  bind_rank(r, st, cover, n_cover);
  sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?66"), (int64_t)o->limit);
  sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?67"), r->only ? 0 : (int64_t)o->offset);
  if (r->only) sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, "?68"), r->only, -1, SQLITE_STATIC);
  size_t cap = 0;
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    if (res->n_hits == cap) {
      cap = cap ? cap * 2 : 16;
      kfts_hit *h = kftsp_realloc(res->hits, cap * sizeof *h);
      if (!h) {
        rc = KFTS_ENOMEM;
        break;
      }
      res->hits = h;
    }
    kfts_hit *x = &res->hits[res->n_hits++];
    memset(x, 0, sizeof *x);
    if ((rc = hit_from(r, x, st))) break;
    x->relevance = sqlite3_column_double(st, 11);
    x->matched = cover ? sqlite3_column_int(st, 12) : (int)res->n_parts;
    x->score = x->relevance * x->importance_factor * x->recency_factor;
  }
  if (!rc && src != SQLITE_DONE) rc = db_err(r);
  kftsp_finalize(st);
  if (!rc) rc = make_snippets(r, res->hits, res->n_hits, fts, NULL);
  for (size_t k = 0; !rc && o->collapse && k < res->n_hits; k++) rc = load_members(r, &res->hits[k]);
  kftsp_free(r->only);
  r->only = NULL;
  return rc;
}

/* Why nothing matched, when a reason can be named. */
static int explain_empty(run *r, kfts_result *res) {
  const kftsp_query *q = r->q;
  kftsp_buf b = {0};
  kftsp_query nofilter = *q; /* the same parts without filters */
  nofilter.where = (char *)"";
  nofilter.n_params = 0;
  run r2 = *r;
  r2.q = &nofilter;
  int rc = KFTS_OK, absent = 0;
  for (size_t i = 0; i < q->n_conj && !rc; i++) {
    size_t n = 0;
    if ((rc = count_rows(&r2, q->conj[i].fts, &n))) break;
    if (n == 0) {
      const char *t = q->conj[i].text;
      size_t k = strlen(t), cut = k > 60 ? 60 : k;
      while (cut < k && ((unsigned char)t[cut] & 0xC0) == 0x80) cut--; /* a whole character */
      kftsp_buf_printf(&b, "%s'%.*s%s' occurs in no article", absent++ ? "; " : "", (int)cut, t,
                       cut < k ? "…" : "");
      if (absent == 5) break;
    }
  }
  if (!rc && !absent && q->n_filters) {
    size_t n = 0;
    if (q->fts || q->fts_neg) rc = count_rows(&r2, q->fts, &n);
    else rc = count_rows(&r2, NULL, &n);
    if (!rc) {
      if (q->fts && n)
        kftsp_buf_printf(&b, "%zu article%s match%s the words, but the filters exclude %s", n, n == 1 ? "" : "s",
                         n == 1 ? "es" : "", n == 1 ? "it" : "them all");
      else if (!q->fts)
        kftsp_buf_adds(&b, "no article passes the filters");
    }
  }
  if (!rc && !b.n && q->fts && q->fts_neg) {
    kftsp_query pos = nofilter;
    pos.fts_neg = NULL;
    r2.q = &pos;
    size_t n = 0;
    kftsp_buf all = {0};
    for (size_t i = 0; i < q->n_conj; i++) kftsp_buf_printf(&all, "%s%s", i ? " AND " : "", q->conj[i].fts);
    if (all.oom) rc = KFTS_ENOMEM;
    else rc = count_rows(&r2, all.p, &n);
    kftsp_buf_reset(&all);
    if (!rc && n)
      kftsp_buf_printf(&b, "%zu article%s match%s the words, but the excluded words remove %s", n,
                       n == 1 ? "" : "s", n == 1 ? "es" : "", n == 1 ? "it" : "them all");
  }
  if (!rc && !b.n && q->n_conj > 1 && r->o->strict) kftsp_buf_adds(&b, "no article has all the words");
  if (b.oom) rc = KFTS_ENOMEM;
  if (!rc && b.n) res->note = kftsp_buf_take(&b);
  kftsp_buf_reset(&b);
  return rc;
}

static int newest_date(run *r) {
  sqlite3_stmt *st;
  r->newest[0] = 0;
  if (r->o->recent_half_life <= 0) return KFTS_OK;
  if (kftsp_prepare(r->h, "SELECT max(date) FROM articles", &st) != SQLITE_OK) return db_err(r);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(r->newest, sizeof r->newest, "%s", (const char *)sqlite3_column_text(st, 0));
  kftsp_finalize(st);
  return KFTS_OK;
}

/* The SQL filters with their values written in, for --explain. */
static char *describe_filters(const kftsp_query *q) {
  kftsp_buf b = {0};
  const char *w = q->where;
  while (*w) {
    if (*w == '?') {
      int k = 0;
      const char *p = w + 1;
      while (*p >= '0' && *p <= '9') k = k * 10 + (*p++ - '0');
      if (k >= 1 && (size_t)k <= q->n_params) {
        const kftsp_qparam *x = &q->params[k - 1];
        if (x->is_int) kftsp_buf_printf(&b, "%lld", (long long)x->i);
        else {
          char *lit = sqlite3_mprintf("%Q", x->text);
          kftsp_buf_adds(&b, lit ? lit : "?");
          sqlite3_free(lit);
        }
        w = p;
        continue;
      }
    }
    kftsp_buf_addc(&b, *w++);
  }
  if (b.oom) {
    kftsp_buf_reset(&b);
    return NULL;
  }
  return kftsp_buf_take(&b);
}

/* The aliases in force: DB's (built-in and the index's), or with --aliases files a set of
** the caller's (*OWN). */
static int load_aliases(kfts_db *db, const kfts_search_opts *o, const kftsp_aliases **out, kftsp_aliases **own,
                        kfts_error *err) {
  *out = NULL;
  *own = NULL;
  if (o->no_aliases) return KFTS_OK;
  if (!o->n_alias_files && !o->aliases_file) return kftsp_db_aliases_all(db, out, err);
  kftsp_aliases *a;
  if (kftsp_aliases_new(&a)) return KFTS_ENOMEM;
  int rc = kftsp_db_aliases(db, a, err);
  for (size_t i = 0; !rc && i < o->n_alias_files; i++) rc = kftsp_aliases_add_file(a, o->alias_files[i], err);
  if (!rc && o->aliases_file) rc = kftsp_aliases_add_file(a, o->aliases_file, err);
  if (rc) {
    kftsp_aliases_free(a);
    return rc;
  }
  *out = *own = a;
  return KFTS_OK;
}

/* O->query compiled with the aliases in force. */
static int compile(kfts_db *db, const kfts_search_opts *o, kftsp_query **q, kfts_error *err) {
  const char *text = o->query ? o->query : "";
  const kftsp_aliases *al = NULL;
  kftsp_aliases *own = NULL;
  int rc = load_aliases(db, o, &al, &own, err);
  if (!rc) rc = kftsp_query_compile(q, text, strlen(text), al, err);
  kftsp_aliases_free(own);
  return rc;
}

int kfts_search(kfts_result **out, kfts_db *db, const kfts_search_opts *o, kfts_error *err) {
  *out = NULL;
  kftsp_query *q = NULL;
  int rc = compile(db, o, &q, err);
  if (rc) return rc;
  kfts_result *res = kftsp_malloc(sizeof *res);
  if (!res) {
    kftsp_query_free(q);
    return kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  }
  memset(res, 0, sizeof *res);
  run r = {kftsp_db_handle(db), q, o, err, "", NULL, db};
  res->n_parts = q->n_conj;
  res->collapsed = o->collapse;
  res->fts_query = q->fts ? kftsp_strdup(q->fts) : NULL;
  res->sql_filter = describe_filters(q);
  if ((q->fts && !res->fts_query) || !res->sql_filter) rc = KFTS_ENOMEM;
  if (!rc) rc = newest_date(&r);
  /* By relevance, the page's scan counts the matches too (--collapse: the stories); otherwise
  ** a count first. */
  int top = q->fts && !o->count_only && o->sort == KFTS_SORT_RELEVANCE && !(o->collapse && kftsp_collapse_by_sql);
  if (!rc && top) rc = fetch_top(&r, res, q->fts, NULL, 0);
  if (!rc && !top) rc = count_rows(&r, q->fts, &res->total);
  if (!rc && !top && res->total && !o->count_only) rc = fetch(&r, res, q->fts, NULL, 0);
  /* Relaxed: no article has every part; rank those with most of them. */
  if (!rc && !res->total && !o->strict && !o->count_only && q->n_conj > 1) {
    kftsp_buf any = {0};
    int32_t *cover = kftsp_malloc(q->n_conj * sizeof *cover);
    for (size_t i = 0; i < q->n_conj && cover; i++) {
      if (i) kftsp_buf_adds(&any, " OR ");
      kftsp_buf_adds(&any, q->conj[i].fts);
      cover[i] = q->conj[i].phrases;
    }
    if (q->fts_neg) kftsp_buf_printf(&any, " NOT (%s)", q->fts_neg);
    if (!cover || any.oom) rc = KFTS_ENOMEM;
    size_t n = 0;
    /* By relevance: the scan, each match's parts counted from its phrase frequencies. */
    int relaxed_top = o->sort == KFTS_SORT_RELEVANCE && !o->collapse && !kftsp_relaxed_by_sql;
    if (!rc && relaxed_top) { /* nothing matched every part: no hits yet */
      rc = fetch_top(&r, res, any.p, cover, q->n_conj);
      n = res->total;
    }
    if (!rc && !relaxed_top) rc = count_rows(&r, any.p, &n);
    if (!rc && n) {
      res->relaxed = 1;
      res->total = n;
      kftsp_free(res->fts_query);
      res->fts_query = kftsp_strdup(any.p);
      if (!res->fts_query) rc = KFTS_ENOMEM;
      if (!rc && !relaxed_top) rc = fetch(&r, res, any.p, cover, q->n_conj);
    }
    kftsp_free(cover);
    kftsp_buf_reset(&any);
  }
  if (!rc && !res->total) rc = explain_empty(&r, res);
  kftsp_query_free(q);
  if (rc) {
    kfts_result_free(res);
    return rc == KFTS_ENOMEM ? kftsp_err(err, rc, "", 0, "out of memory") : rc;
  }
  *out = res;
  return KFTS_OK;
}

/* ---- articles like one ---- */

int kfts_similar(kfts_result **out, kfts_db *db, int64_t id, size_t limit, kfts_error *err) {
  *out = NULL;
  int64_t *ids = NULL;
  double *sims = NULL;
  size_t n = 0;
  int rc = kftsp_similar(db, id, limit, &ids, &sims, &n, err);
  if (rc) return rc;
  kfts_search_opts o;
  kfts_search_opts_init(&o);
  kftsp_query none = {0};
  none.where = (char *)"";
  run r = {kftsp_db_handle(db), &none, &o, err, "", NULL, db};
  kfts_result *res = kftsp_malloc(sizeof *res);
  kfts_hit *hits = kftsp_malloc((n ? n : 1) * sizeof *hits);
  char *desc = kftsp_printf("similar to article %lld", (long long)id);
  if (!res || !hits || !desc) rc = KFTS_ENOMEM;
  sqlite3_stmt *st = NULL;
  if (!rc && kftsp_prepare(r.h, "SELECT " HIT_COLUMNS " FROM articles a JOIN files f ON f.id = a.file_id"
                                      " WHERE a.doc = ?1", &st) != SQLITE_OK)
    rc = db_err(&r);
  if (res) {
    memset(res, 0, sizeof *res);
    res->hits = hits;
    res->sql_filter = desc;
    res->similar_to = id;
    hits = NULL;
    desc = NULL;
  }
  for (size_t i = 0; !rc && i < n; i++) {
    sqlite3_bind_int64(st, 1, ids[i]);
    if (sqlite3_step(st) == SQLITE_ROW) {
      kfts_hit *x = &res->hits[res->n_hits++];
      memset(x, 0, sizeof *x);
      rc = hit_from(&r, x, st);
      x->score = x->relevance = sims[i];
      x->importance_factor = x->recency_factor = 1;
    }
    sqlite3_reset(st);
  }
  kftsp_finalize(st);
  if (!rc && res) rc = plain_snippets(&r, res->hits, res->n_hits);
  if (res) res->total = res->n_hits;
  kftsp_free(hits);
  kftsp_free(desc);
  kftsp_free(ids);
  kftsp_free(sims);
  if (rc) {
    kfts_result_free(res);
    return rc == KFTS_ENOMEM ? kftsp_err(err, rc, "", 0, "out of memory") : rc;
  }
  *out = res;
  return KFTS_OK;
}

/* ---- the match set, for timelines and facets ---- */


int kftsp_match_open(kftsp_match **out, kfts_db *db, const kfts_search_opts *o, kfts_error *err) {
  *out = NULL;
  kftsp_query *q = NULL;
  int rc = compile(db, o, &q, err);
  if (rc) return rc;
  kftsp_match *m = kftsp_malloc(sizeof *m);
  if (!m) {
    kftsp_query_free(q);
    return kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  }
  memset(m, 0, sizeof *m);
  m->q = q;
  m->fts = q->fts;
  m->r.h = kftsp_db_handle(db);
  m->r.db = db;
  m->r.q = q;
  m->r.o = o;
  m->r.err = err;
  if ((rc = newest_date(&m->r))) {
    kftsp_match_close(m);
    return rc;
  }
  *out = m;
  return KFTS_OK;
}

const char *kftsp_match_fts(const kftsp_match *m) { return m->fts; }

const char *kftsp_match_where(const kftsp_match *m) { return m->r.q->where; }

sqlite3 *kftsp_match_handle(const kftsp_match *m) { return m->r.h; }

sqlite3 *kftsp_match_worker(kftsp_match *m) { return m->r.db ? kftsp_db_worker(m->r.db) : NULL; }

kftsp_helper *kftsp_match_helper(kftsp_match *m) { return m->r.db ? kftsp_db_helper(m->r.db) : NULL; }

kftsp_dv_cache *kftsp_match_dvcache(kftsp_match *m) { return m->r.db ? kftsp_db_dvcache(m->r.db) : NULL; }

kftsp_pool *kftsp_match_pool(kftsp_match *m) { return m->r.db ? kftsp_db_pool(m->r.db) : NULL; }

kfts_error *kftsp_match_error(kftsp_match *m) { return m->r.err; }

kftsp_match *kftsp_match_fork(const kftsp_match *m, sqlite3 *h, kfts_error *err) {
  kftsp_match *x = kftsp_malloc(sizeof *x);
  if (!x) return NULL;
  *x = *m;
  x->q = NULL; /* borrowed */
  x->r.h = h;
  x->r.err = err;
  return x;
}

int kftsp_match_or_only(const kftsp_match *m) {
  const kftsp_query *q = m->r.q;
  return m->fts && m->fts == q->fts && q->n_conj == 1 && q->conj[0].or_only && !q->fts_neg;
}

int kftsp_match_sql(kftsp_match *m, const char *sql, sqlite3_stmt **st) {
  return prepare(&m->r, sql, st, m->fts);
}

int kftsp_match_coverage(const kftsp_match *m, const double *freq, int n) {
  int got = 0, ph = 0;
  for (size_t i = 0; m->cover && i < m->n_cover && ph < n; i++) {
    int hit = 0;
    for (int32_t j = 0; j < m->cover[i] && ph < n; j++, ph++) hit |= freq[ph] > 0.0;
    got += hit;
  }
  return got;
}

double kftsp_match_boost(const kftsp_match *m, int importance, const char *date) {
  const kfts_search_opts *o = m->r.o;
  return kftsp_importance_factor(importance, o->importance_weight) *
         kftsp_recency_factor(date, m->r.newest, o->recent_half_life);
}

void kftsp_match_boost_params(const kftsp_match *m, double *weight, double *half_life, double *newest) {
  *weight = m->r.o->importance_weight;
  *half_life = m->r.o->recent_half_life;
  *newest = kftsp_days_of(m->r.newest);
}

int kftsp_match_fail(kftsp_match *m, const char *msg) {
  return msg ? kftsp_err(m->r.err, KFTS_EDB, "database", 0, "%s", msg) : db_err(&m->r);
}

void kftsp_match_close(kftsp_match *m) {
  if (!m) return;
  kftsp_query_free(m->q);
  kftsp_free(m);
}

int kftsp_match_prepare(kftsp_match *m, const char *outer, int with_score, sqlite3_stmt **st) {
  run *r = &m->r;
  const char *fts = m->fts;
  kftsp_buf b = {0};
  kftsp_buf_printf(&b, "SELECT a.doc AS doc, a.date AS date, a.source AS source, a.topics AS topics,"
                       " a.importance AS importance, %s AS score",
                   fts && with_score ? "(-" BM25 " * kfts_boost(a.importance, a.date, ?63, ?64, ?65))" : "0.0");
  from_where(&b, r, fts, 0);
  if (b.oom) return KFTS_ENOMEM;
  kftsp_buf sql = {0};
  const char *hole = strstr(outer, "%s");
  kftsp_buf_add(&sql, outer, (size_t)(hole - outer));
  kftsp_buf_adds(&sql, b.p);
  kftsp_buf_adds(&sql, hole + 2);
  kftsp_buf_reset(&b);
  if (sql.oom) return KFTS_ENOMEM;
  int rc = prepare(r, sql.p, st, fts);
  kftsp_buf_reset(&sql);
  if (rc) return rc;
  int i;
  if ((i = sqlite3_bind_parameter_index(*st, "?63"))) sqlite3_bind_double(*st, i, r->o->importance_weight);
  if ((i = sqlite3_bind_parameter_index(*st, "?64"))) sqlite3_bind_double(*st, i, r->o->recent_half_life);
  if ((i = sqlite3_bind_parameter_index(*st, "?65"))) sqlite3_bind_text(*st, i, r->newest, -1, SQLITE_STATIC);
  return KFTS_OK;
}

void kfts_result_free(kfts_result *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_hits; i++) {
    kfts_hit *x = &r->hits[i];
    kftsp_free(x->title);
    kftsp_free(x->url);
    kftsp_free(x->date);
    kftsp_free(x->date_source);
    kftsp_free(x->source);
    kftsp_free(x->file);
    kftsp_free(x->snippet);
    kftsp_free(x->highlights);
    for (size_t k = 0; k < x->n_similar; k++) {
      kftsp_free(x->similar[k].title);
      kftsp_free(x->similar[k].date);
      kftsp_free(x->similar[k].source);
    }
    kftsp_free(x->similar);
    kfts_strv_free(x->topics, x->n_topics);
  }
  kftsp_free(r->hits);
  kftsp_free(r->fts_query);
  kftsp_free(r->sql_filter);
  kftsp_free(r->note);
  kftsp_free(r);
}

/* ---- JSON ---- */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static const char *const all_fields[] = {"rank", "id", "title", "url", "date", "date_source", "source", "topics",
                                         "importance", "score", "snippet", "highlights", "file", "line", "similar"};
#define N_BASE_FIELDS 14 /* "similar" only with --collapse, or when asked for */

int kfts_hit_field_known(const char *name) {
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(all_fields); i++)
    if (!strcmp(name, all_fields[i])) return 1;
  return 0;
}

static json_t *field_value(const kfts_hit *x, size_t rank, const char *f) {
  if (!strcmp(f, "rank")) return json_integer((json_int_t)rank);
  if (!strcmp(f, "id")) return json_integer(x->id);
  if (!strcmp(f, "title")) return json_string(x->title);
  if (!strcmp(f, "url")) return str_or_null(x->url);
  if (!strcmp(f, "date")) return str_or_null(x->date);
  if (!strcmp(f, "date_source")) return str_or_null(x->date_source);
  if (!strcmp(f, "source")) return str_or_null(x->source);
  if (!strcmp(f, "topics")) {
    json_t *t = json_array();
    for (size_t i = 0; t && i < x->n_topics; i++) json_array_append_new(t, json_string(x->topics[i]));
    return t;
  }
  if (!strcmp(f, "importance")) return x->importance >= 0 ? json_integer(x->importance) : json_null();
  if (!strcmp(f, "score")) return json_real(x->score);
  if (!strcmp(f, "snippet")) return str_or_null(x->snippet);
  if (!strcmp(f, "highlights")) {
    json_t *h = json_array();
    for (size_t i = 0; h && i < x->n_highlights; i++)
      json_array_append_new(h, json_pack("[ii]", x->highlights[2 * i], x->highlights[2 * i + 1]));
    return h;
  }
  if (!strcmp(f, "similar")) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < x->n_similar; i++)
      json_array_append_new(a, json_pack("{s:I,s:s,s:o,s:o}", "id", (json_int_t)x->similar[i].id, "title",
                                         x->similar[i].title, "date", str_or_null(x->similar[i].date), "source",
                                         str_or_null(x->similar[i].source)));
    return a;
  }
  if (!strcmp(f, "file")) return json_string(x->file);
  if (!strcmp(f, "line")) return json_integer(x->line);
  return json_null();
}

char *kfts_hit_json(const kfts_hit *x, size_t rank, const char *const *fields, size_t n_fields, int relaxed,
                    int indent) {
  json_t *h = json_object();
  if (!h) return NULL;
  if (!fields) fields = all_fields, n_fields = N_BASE_FIELDS + (x->collapsed != 0);
  for (size_t i = 0; i < n_fields; i++) json_object_set_new(h, fields[i], field_value(x, rank, fields[i]));
  if (relaxed >= 0) json_object_set_new(h, "relaxed", json_boolean(relaxed));
  char *s = json_dumps(h, (indent ? JSON_INDENT(indent) : JSON_COMPACT) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
  json_decref(h);
  return s;
}

char *kfts_result_json(const kfts_result *r, const char *query, const char *const *fields, size_t n_fields,
                       size_t first_rank, const kfts_facets *facets) {
  json_t *o = json_object();
  json_t *hits = json_array();
  if (!o || !hits) {
    json_decref(o);
    json_decref(hits);
    return NULL;
  }
  if (!fields) fields = all_fields, n_fields = N_BASE_FIELDS + (r->collapsed != 0);
  json_object_set_new(o, "query", json_string(query));
  json_object_set_new(o, "total", json_integer((json_int_t)r->total));
  json_object_set_new(o, "relaxed", json_boolean(r->relaxed));
  for (size_t i = 0; i < r->n_hits; i++) {
    json_t *h = json_object();
    for (size_t k = 0; k < n_fields; k++)
      json_object_set_new(h, fields[k], field_value(&r->hits[i], first_rank + i, fields[k]));
    json_array_append_new(hits, h);
  }
  json_object_set_new(o, "hits", hits);
  if (r->note) json_object_set_new(o, "note", json_string(r->note));
  if (facets) json_object_set_new(o, "facets", kftsp_facets_json(facets));
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
  json_decref(o);
  return s;
}
