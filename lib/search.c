/*
** search.c -- the first cut of search: every word must match, ranked by bm25 with field
** weights. User words reach FTS5 only as quoted strings (a trailing Korean particle
** dropped, a one-syllable word as a prefix) and the expression reaches SQLite only as a
** bound parameter. The query language proper is a later issue.
*/
#include "kfts_int.h"

#include <jansson.h>
#include <sqlite3.h>
#include <string.h>

/* bm25 weights of the FTS5 columns: title, summary, body, topics. */
#define W_TITLE "4.0"
#define W_SUMMARY "2.0"
#define W_BODY "1.0"
#define W_TOPICS "2.0"
#define BM25 "bm25(articles_fts, " W_TITLE ", " W_SUMMARY ", " W_BODY ", " W_TOPICS ")"

static int count_token(void *ctx, const kfts_token *t) {
  (void)t;
  (*(int *)ctx)++;
  return 1; /* one is enough */
}

/* A word is worth searching when the tokenizer finds a token in it (emoji and punctuation
** alone are not indexed). */
static int has_tokens(const char *s, size_t n) {
  int k = 0;
  return kfts_tokens(s, n, 1, count_token, &k) == KFTS_OK && k > 0;
}

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
      if (k && has_tokens(p, k)) {
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

int kfts_search(kfts_result **out, kfts_db *db, const char *const *words, size_t n_words,
                size_t limit, kfts_error *err) {
  *out = NULL;
  sqlite3 *h = kftsp_db_handle(db);
  char *expr = kftsp_fts_words(words, n_words, " AND ");
  if (!expr) return KFTS_ENOMEM;
  if (!*expr) {
    kftsp_free(expr);
    return kftsp_err(err, KFTS_EUSAGE, "query", 0, "the query has no words to search for");
  }
  kfts_result *r = kftsp_malloc(sizeof *r);
  if (!r) {
    kftsp_free(expr);
    return KFTS_ENOMEM;
  }
  memset(r, 0, sizeof *r);
  r->fts_query = expr;
  int rc = KFTS_OK;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(h, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?1", -1,
                         &st, NULL) != SQLITE_OK) {
    rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
    goto done;
  }
  sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) r->total = (size_t)sqlite3_column_int64(st, 0);
  else rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
  sqlite3_finalize(st);
  st = NULL;
  if (rc || r->total == 0) goto done;
  if (sqlite3_prepare_v2(h,
                         "SELECT a.id, a.title, a.url, a.date, a.date_source, a.source, a.topics,"
                         " a.importance, f.path, a.line, -" BM25 " AS score"
                         " FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid"
                         " JOIN files f ON f.id = a.file_id"
                         " WHERE articles_fts MATCH ?1 ORDER BY " BM25 ", a.id LIMIT ?2",
                         -1, &st, NULL) != SQLITE_OK) {
    rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
    goto done;
  }
  sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, (int64_t)limit);
  size_t cap = limit < r->total ? limit : r->total;
  r->hits = kftsp_malloc((cap ? cap : 1) * sizeof *r->hits);
  if (!r->hits) {
    rc = KFTS_ENOMEM;
    goto done;
  }
  int src;
  while (r->n_hits < cap && (src = sqlite3_step(st)) == SQLITE_ROW) {
    kfts_hit *x = &r->hits[r->n_hits++];
    memset(x, 0, sizeof *x);
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
    x->score = sqlite3_column_double(st, 10);
    if (!x->title || !x->file) {
      rc = KFTS_ENOMEM;
      break;
    }
  }
done:
  sqlite3_finalize(st);
  if (rc) {
    kfts_result_free(r);
    return rc == KFTS_ENOMEM ? kftsp_err(err, rc, "", 0, "out of memory") : rc;
  }
  *out = r;
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
    kfts_strv_free(x->topics, x->n_topics);
  }
  kftsp_free(r->hits);
  kftsp_free(r->fts_query);
  kftsp_free(r);
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

char *kfts_result_json(const kfts_result *r, const char *query) {
  json_t *o = json_object();
  json_t *hits = json_array();
  if (!o || !hits) {
    json_decref(o);
    json_decref(hits);
    return NULL;
  }
  json_object_set_new(o, "query", json_string(query));
  json_object_set_new(o, "total", json_integer((json_int_t)r->total));
  for (size_t i = 0; i < r->n_hits; i++) {
    const kfts_hit *x = &r->hits[i];
    json_t *h = json_object();
    json_t *topics = json_array();
    for (size_t t = 0; t < x->n_topics; t++) json_array_append_new(topics, json_string(x->topics[t]));
    json_object_set_new(h, "id", json_integer(x->id));
    json_object_set_new(h, "title", json_string(x->title));
    json_object_set_new(h, "url", str_or_null(x->url));
    json_object_set_new(h, "date", str_or_null(x->date));
    json_object_set_new(h, "date_source", str_or_null(x->date_source));
    json_object_set_new(h, "source", str_or_null(x->source));
    json_object_set_new(h, "topics", topics);
    json_object_set_new(h, "importance", x->importance >= 0 ? json_integer(x->importance) : json_null());
    json_object_set_new(h, "score", json_real(x->score));
    json_object_set_new(h, "file", json_string(x->file));
    json_object_set_new(h, "line", json_integer(x->line));
    json_array_append_new(hits, h);
  }
  json_object_set_new(o, "hits", hits);
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(o);
  return s;
}
