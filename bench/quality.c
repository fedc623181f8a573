/*
** quality.c -- search quality of the kfts tokenizer against FTS5 unicode61 and trigram, in
** one run on one machine. Reads a passage corpus (JSON Lines: id, title, text), questions
** (qid TAB question) and relevance judgments (qid TAB docid TAB 1); indexes the passages
** three times; runs every question as a natural query (its words, ranked by bm25, not every
** word need match); prints MRR@10, nDCG@10, Recall@10, Recall@100, query latency p50/p95,
** index build time and size. Run through bench/quality.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kfts_int.h"

typedef struct passage {
  char *id, *title, *text;
  size_t idx; /* position in the corpus (rowid - 1) */
} passage;

typedef struct question {
  char *qid, *text;
  long rel; /* index of the relevant passage, -1 if unjudged */
} question;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "quality: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(2);
}

static int cmp_pid(const void *a, const void *b) {
  return strcmp(((const passage *)a)->id, ((const passage *)b)->id);
}

static passage *load_corpus(const char *path, size_t *n_out) {
  FILE *f = fopen(path, "r");
  if (!f) die("cannot read %s", path);
  size_t n = 0, cap = 1024;
  passage *v = malloc(cap * sizeof *v);
  char *line = NULL;
  size_t lcap = 0;
  while (getline(&line, &lcap, f) > 0) {
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    if (!o) die("bad JSON line in %s", path);
    if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
    v[n].id = strdup(json_string_value(json_object_get(o, "id")));
    const char *t = json_string_value(json_object_get(o, "title"));
    v[n].title = strdup(t ? t : "");
    v[n].text = strdup(json_string_value(json_object_get(o, "text")));
    v[n].idx = n;
    n++;
    json_decref(o);
  }
  free(line);
  fclose(f);
  *n_out = n;
  return v;
}

static question *load_questions(const char *qpath, const char *rpath, passage *ps, size_t n_ps,
                                size_t *n_out) {
  /* Sorted copy of ids for lookups. */
  passage *sorted = malloc(n_ps * sizeof *sorted);
  memcpy(sorted, ps, n_ps * sizeof *sorted);
  qsort(sorted, n_ps, sizeof *sorted, cmp_pid);
  FILE *f = fopen(qpath, "r");
  if (!f) die("cannot read %s", qpath);
  size_t n = 0, cap = 1024;
  question *v = malloc(cap * sizeof *v);
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  while ((len = getline(&line, &lcap, f)) > 0) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = 0;
    if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
    v[n].qid = strdup(line);
    v[n].text = strdup(tab + 1);
    v[n].rel = -1;
    n++;
  }
  fclose(f);
  f = fopen(rpath, "r");
  if (!f) die("cannot read %s", rpath);
  while ((len = getline(&line, &lcap, f)) > 0) {
    char qid[128], did[128];
    if (sscanf(line, "%127s %127s", qid, did) != 2) continue;
    passage key = {did, NULL, NULL, 0};
    passage *hit = bsearch(&key, sorted, n_ps, sizeof *sorted, cmp_pid);
    if (!hit) continue;
    for (size_t i = 0; i < n; i++)
      if (!strcmp(v[i].qid, qid)) v[i].rel = (long)hit->idx;
  }
  fclose(f);
  free(line);
  free(sorted);
  *n_out = n;
  return v;
}

/* Question words: split on spaces, trimmed of ASCII punctuation. */
static size_t split_words(const char *q, char words[][256], size_t max) {
  size_t n = 0;
  const char *p = q;
  while (*p && n < max) {
    while (*p == ' ') p++;
    size_t k = strcspn(p, " ");
    const char *s = p;
    size_t m = k;
    while (m && strchr("?!.,\"'()[]:;~", s[m - 1])) m--;
    while (m && strchr("\"'([", *s)) s++, m--;
    if (m && m < 255) {
      memcpy(words[n], s, m);
      words[n][m] = 0;
      n++;
    }
    p += k;
  }
  return n;
}

/* kfts: the planned natural query (rank.c); kfts-or: the plain OR of each word's bigram
** phrase, ranked by FTS5's bm25 (the design before planning, kept for comparison). */
enum engine { E_KFTS, E_KFTS_OR, E_UNICODE61, E_TRIGRAM, E_COUNT };
static const char *const engine_names[] = {"kfts", "kfts-or", "unicode61", "trigram"};
static const char *const engine_tok[] = {"porter kfts", "porter kfts", "unicode61", "trigram"};
static kftsp_ranker_cfg rank_cfg = {
    .fts = "p",
    .text_sql = "SELECT title, text FROM p WHERE rowid = ?1",
    .id_range_sql = "SELECT min(rowid), max(rowid) FROM p",
    .n_cols = 2,
    .weights = {2.0, 1.0}, /* title, text */
    .candidates = 150,
    .bag_weight = 1.0,
    .max_df_fraction = 0.1,
    .phrase_df = 1,
    .drop_question_words = 1,
    .pair_weight = 1,
};

/* The MATCH expression of a question for an engine; "" when it has nothing to search. */
static char *build_query(enum engine e, const char *q) {
  char words[64][256];
  size_t n = split_words(q, words, 64);
  kftsp_buf b = {0};
  for (size_t i = 0; i < n; i++) {
    const char *w = words[i];
    size_t len = strlen(w);
    if (e == E_KFTS || e == E_KFTS_OR) {
      const char *one[] = {w};
      char *x = kftsp_fts_words(one, 1, " OR ");
      if (x && *x) {
        if (b.n) kftsp_buf_adds(&b, " OR ");
        kftsp_buf_adds(&b, x);
      }
      kftsp_free(x);
    } else if (e == E_UNICODE61) {
      if (b.n) kftsp_buf_adds(&b, " OR ");
      kftsp_fts_quote(&b, w, len);
    } else {
      /* Every run of three characters of the word. */
      size_t offs[256], nc = 0;
      for (size_t j = 0; j < len && nc < 255; j++)
        if (((unsigned char)w[j] & 0xC0) != 0x80) offs[nc++] = j;
      offs[nc] = len;
      for (size_t j = 0; j + 3 <= nc; j++) {
        if (b.n) kftsp_buf_adds(&b, " OR ");
        kftsp_fts_quote(&b, w + offs[j], offs[j + 3] - offs[j]);
      }
    }
  }
  return b.p ? kftsp_buf_take(&b) : strdup("");
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct result {
  double mrr10, ndcg10, recall10, recall100, p50_ms, p95_ms, index_s, size_mb;
} result;

static result run_engine(enum engine e, passage *ps, size_t n_ps, question *qs, size_t n_qs,
                         const char *dir) {
  result r = {0};
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", dir, engine_names[e]);
  unlink(path);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) die("cannot open %s", path);
  if (kfts_register(db, NULL) != KFTS_OK) die("%s", "cannot register kfts");
  char sql[256];
  snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE p USING fts5(title, text, tokenize='%s')",
           engine_tok[e]);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) die("%s", sqlite3_errmsg(db));
  double t0 = now_s();
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  sqlite3_stmt *ins;
  sqlite3_prepare_v2(db, "INSERT INTO p(rowid, title, text) VALUES (?1, ?2, ?3)", -1, &ins, NULL);
  for (size_t i = 0; i < n_ps; i++) {
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
    sqlite3_bind_text(ins, 2, ps[i].title, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, ps[i].text, -1, SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) die("insert: %s", sqlite3_errmsg(db));
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  sqlite3_exec(db, "INSERT INTO p(p) VALUES ('optimize'); PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  r.index_s = now_s() - t0;
  struct stat sb;
  r.size_mb = stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;

  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(db, "SELECT rowid FROM p WHERE p MATCH ?1 ORDER BY bm25(p) LIMIT 100", -1, &q,
                         NULL) != SQLITE_OK)
    die("%s", sqlite3_errmsg(db));
  kftsp_ranker *ranker = NULL;
  kfts_error kerr;
  if (e == E_KFTS && kftsp_ranker_open(&ranker, db, &rank_cfg, &kerr)) die("ranker: %s", kerr.message);
  double *lat = malloc(n_qs * sizeof *lat);
  size_t judged = 0, timed = 0;
  for (size_t i = 0; i < n_qs; i++) {
    if (qs[i].rel < 0) continue;
    judged++;
    double s0 = now_s();
    long rank = 0, k = 0;
    if (ranker) {
      char words[64][256];
      size_t nw = split_words(qs[i].text, words, 64);
      const char *wp[64];
      for (size_t j = 0; j < nw; j++) wp[j] = words[j];
      kftsp_rank_hit *hits = NULL;
      size_t nh = 0;
      int rc = kftsp_ranker_search(ranker, wp, nw, 100, &hits, &nh, NULL);
      if (rc != SQLITE_OK) fprintf(stderr, "quality: kfts: %s: %s\n", qs[i].text, sqlite3_errmsg(db));
      for (size_t j = 0; j < nh && !rank; j++)
        if (hits[j].id == qs[i].rel + 1) rank = (long)j + 1;
      kftsp_free(hits);
      lat[timed++] = (now_s() - s0) * 1000.0;
      goto scored;
    }
    char *expr = build_query(e, qs[i].text);
    if (*expr) {
      sqlite3_bind_text(q, 1, expr, -1, SQLITE_STATIC);
      int rc;
      while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        k++;
        if (!rank && sqlite3_column_int64(q, 0) == qs[i].rel + 1) rank = k;
      }
      if (rc != SQLITE_DONE) fprintf(stderr, "quality: %s: %s: %s\n", engine_names[e], expr, sqlite3_errmsg(db));
      sqlite3_reset(q);
    }
    lat[timed++] = (now_s() - s0) * 1000.0;
    free(expr);
  scored:
    if (rank && rank <= 10) {
      r.mrr10 += 1.0 / (double)rank;
      r.ndcg10 += 1.0 / log2((double)rank + 1.0);
      r.recall10 += 1;
    }
    if (rank) r.recall100 += 1;
  }
  sqlite3_finalize(q);
  kftsp_ranker_close(ranker);
  sqlite3_close(db);
  unlink(path);
  if (judged) {
    r.mrr10 /= (double)judged;
    r.ndcg10 /= (double)judged;
    r.recall10 /= (double)judged;
    r.recall100 /= (double)judged;
  }
  qsort(lat, timed, sizeof *lat, cmp_double);
  if (timed) {
    r.p50_ms = lat[timed / 2];
    r.p95_ms = lat[(size_t)((double)timed * 0.95)];
  }
  free(lat);
  return r;
}

int main(int argc, char **argv) {
  kfts_init();
  const char *corpus = NULL, *queries = NULL, *qrels = NULL, *only = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--corpus") && i + 1 < argc) corpus = argv[++i];
    else if (!strcmp(argv[i], "--queries") && i + 1 < argc) queries = argv[++i];
    else if (!strcmp(argv[i], "--qrels") && i + 1 < argc) qrels = argv[++i];
    else if (!strcmp(argv[i], "--engine") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--candidates") && i + 1 < argc) rank_cfg.candidates = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--bag-weight") && i + 1 < argc) rank_cfg.bag_weight = atof(argv[++i]);
    else if (!strcmp(argv[i], "--title-weight") && i + 1 < argc) rank_cfg.weights[0] = atof(argv[++i]);
    else if (!strcmp(argv[i], "--pair-weight") && i + 1 < argc) rank_cfg.pair_weight = atof(argv[++i]);
    else if (!strcmp(argv[i], "--question-words") && i + 1 < argc) rank_cfg.drop_question_words = !atoi(argv[++i]);
    else if (!strcmp(argv[i], "--phrase-df") && i + 1 < argc) rank_cfg.phrase_df = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--max-df") && i + 1 < argc) rank_cfg.max_df_fraction = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: quality --corpus FILE --queries FILE --qrels FILE [--engine NAME] [--json]\n");
      return 2;
    }
  }
  if (!corpus || !queries || !qrels) {
    fprintf(stderr, "usage: quality --corpus FILE --queries FILE --qrels FILE [--engine NAME] [--json]\n");
    return 2;
  }
  size_t n_ps, n_qs;
  passage *ps = load_corpus(corpus, &n_ps);
  question *qs = load_questions(queries, qrels, ps, n_ps, &n_qs);
  char dir[] = "/tmp/kfts_quality_XXXXXX";
  if (!mkdtemp(dir)) die("%s", "cannot make a temporary folder");
  result res[E_COUNT];
  int ran[E_COUNT] = {0};
  for (int e = 0; e < E_COUNT; e++) {
    if (only && strcmp(only, engine_names[e])) continue;
    res[e] = run_engine((enum engine)e, ps, n_ps, qs, n_qs, dir);
    ran[e] = 1;
  }
  rmdir(dir);
  if (json) {
    json_t *o = json_object();
    for (int e = 0; e < E_COUNT; e++) {
      if (!ran[e]) continue;
      result *r = &res[e];
      json_object_set_new(o, engine_names[e],
                          json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "mrr10", r->mrr10, "ndcg10",
                                    r->ndcg10, "recall10", r->recall10, "recall100", r->recall100,
                                    "p50_ms", r->p50_ms, "p95_ms", r->p95_ms, "index_s", r->index_s,
                                    "size_mb", r->size_mb));
    }
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(5));
    puts(s);
    free(s);
    json_decref(o);
  } else {
    printf("%zu passages, %zu questions\n", n_ps, n_qs);
    printf("| tokenizer | MRR@10 | nDCG@10 | Recall@10 | Recall@100 | p50 ms | p95 ms | index s | size MB |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int e = 0; e < E_COUNT; e++) {
      if (!ran[e]) continue;
      result *r = &res[e];
      printf("| %s | %.3f | %.3f | %.3f | %.3f | %.1f | %.1f | %.1f | %.1f |\n", engine_names[e],
             r->mrr10, r->ndcg10, r->recall10, r->recall100, r->p50_ms, r->p95_ms, r->index_s,
             r->size_mb);
    }
  }
  return 0;
}
