/*
** rank.c -- natural-language retrieval over a kfts FTS5 table: "find what these words are
** about", where not every word need match (questions, pasted text).
**
** A plain OR of every query word reads every posting list and runs bm25 over every row
** that shares any word; with Korean bigrams, common ones ("에서", "했는") touch most rows.
** So the query is planned:
**   1. Analyse: each word (a trailing particle dropped) becomes its chain of query tokens
**      (the table's own tokenizer, 'porter kfts', in query mode).
**   2. Document frequencies: each distinct token is counted with a capped rowid-ordered
**      scan (at most DF_SAMPLE rows); past the cap, df is extrapolated from the rowid span
**      the sample covered. kfts article ids are uniform hashes, so the span is a fair
**      sample. (fts5vocab would walk the whole doclist.) A one-syllable word is counted
**      and sought as its exact unigram, never as an FTS5 prefix query (see quote_surface).
**   3. Candidates: a word can only occur where its rarest token occurs, so the candidate
**      query is the OR of each informative word's rarest token (df at most a tenth of the
**      rows; the rarest word when none is), without positions, best K by FTS5's bm25.
**   4. Scoring, on the K candidates only: their text is re-tokenized and scored with BM25F
**      (per-column weights and length normalisation, FTS5's column averages) over three
**      kinds of terms: each word as a phrase (consecutive tokens; idf from the phrase's
**      sampled df); each distinct token on its own ("bag of bigrams", weight bag_weight),
**      which credits partial matches of compounds and inflected words; and each pair of
**      adjacent query words as written, particles kept, as one phrase (weight pair_weight),
**      which rewards text where the words stand together -- between Hangul words the bridge
**      bigram across the space makes this exact. Interrogatives are left out.
** Owns no schema; store.c and the benchmark name the table and how to read its text.
*/
#include "kfts_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 64   /* distinct query tokens (bits of a position mask) */
#define MAX_WORDS 48
#define MAX_CHAIN 24    /* tokens of one word */
#define DF_SAMPLE 128
#define BM25_K1 1.2
#define BM25_B 0.75

typedef struct qtok {
  char *surface;   /* the query text that tokenizes to this token (for MATCH), kftsp_free */
  char *text;      /* token bytes after 'porter kfts', kftsp_free */
  int len;
  int prefix;      /* one-syllable word: matches any token starting with it */
  int in_bag;      /* a token of a query word (not only of a word pair): scored on its own */
  double df;
  double idf;
} qtok;

typedef struct qword {
  int tok[MAX_CHAIN];
  int n;
  double idf;    /* of the phrase, from its own sampled df */
  int rep;       /* its rarest token */
  char *surface; /* the word as searched (particle dropped), kftsp_free */
  int pair;      /* 1: two adjacent query words as written, a proximity term */
} qword;

struct kftsp_ranker {
  sqlite3 *db;
  kftsp_ranker_cfg cfg;
  fts5_tokenizer tok;      /* porter wrapped around kfts, as the table tokenizes */
  Fts5Tokenizer *tok_inst;
  kftsp_tokenizer *raw;    /* kfts alone: enough when no query token has ASCII letters,
                           ** since porter rewrites only those */
  int need_stem;           /* this query has a token with ASCII letters */
  double n_rows;
  double avg[KFTSP_RANK_MAX_COLS];
  int64_t min_id, max_id;
  sqlite3_stmt *df_stmt, *cand_stmt, *text_stmt;
  /* Per query. */
  qtok t[MAX_TOKENS];
  int n_t;
  qword w[MAX_WORDS];
  int n_w;
  int slot[128];  /* open-addressing index of exact tokens: token index + 1, 0 = empty */
  int prefix_tok[MAX_TOKENS]; /* indexes of the prefix tokens */
  int n_prefix;
  uint64_t *mask; /* per position of the column being scanned */
  size_t mask_cap, mask_n;
};

/* SQLite's varint, as FTS5 stores its averages record. */
static int get_varint(const unsigned char *p, int n, uint64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < 9 && i < n; i++) {
    if (i == 8) {
      x = (x << 8) | p[i];
      *v = x;
      return 9;
    }
    x = (x << 7) | (p[i] & 0x7F);
    if (!(p[i] & 0x80)) {
      *v = x;
      return i + 1;
    }
  }
  return 0;
}

static int load_stats(kftsp_ranker *r, kfts_error *err) {
  char *sql = sqlite3_mprintf("SELECT block FROM \"%w_data\" WHERE id = 1", r->cfg.fts);
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(r->db));
  r->n_rows = 0;
  for (int c = 0; c < r->cfg.n_cols; c++) r->avg[c] = 1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *p = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0), off = 0, k;
    uint64_t v;
    if (p && (k = get_varint(p, n, &v)) > 0) {
      off += k;
      r->n_rows = (double)v;
      for (int c = 0; c < r->cfg.n_cols && (k = get_varint(p + off, n - off, &v)) > 0; c++) {
        off += k;
        r->avg[c] = r->n_rows > 0 && v > 0 ? (double)v / r->n_rows : 1;
      }
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(r->db, r->cfg.id_range_sql, -1, &st, NULL) != SQLITE_OK)
    return kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(r->db));
  if (sqlite3_step(st) == SQLITE_ROW) {
    r->min_id = sqlite3_column_int64(st, 0);
    r->max_id = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return KFTS_OK;
}

int kftsp_ranker_open(kftsp_ranker **out, sqlite3 *db, const kftsp_ranker_cfg *cfg, kfts_error *err) {
  *out = NULL;
  if (cfg->n_cols < 1 || cfg->n_cols > KFTSP_RANK_MAX_COLS)
    return kftsp_err(err, KFTS_EUSAGE, "ranker", 0, "bad column count");
  kftsp_ranker *r = kftsp_malloc(sizeof *r);
  if (!r) return KFTS_ENOMEM;
  memset(r, 0, sizeof *r);
  r->db = db;
  r->cfg = *cfg;
  int rc = KFTS_OK;
  /* The table's tokenizer, from FTS5 itself: 'porter' wrapped around 'kfts'. */
  if (kftsp_table_tokenizer(db, &r->tok, &r->tok_inst) != SQLITE_OK)
    rc = kftsp_err(err, KFTS_EDB, "database", 0, "cannot create the 'porter kfts' tokenizer");
  if (rc == KFTS_OK && kftsp_tokenizer_new(&r->raw, NULL, 0, NULL) != SQLITE_OK) rc = KFTS_ENOMEM;
  if (rc == KFTS_OK) rc = load_stats(r, err);
  char *sql = NULL;
  if (rc == KFTS_OK) {
    sql = sqlite3_mprintf("SELECT rowid FROM \"%w\" WHERE \"%w\" MATCH ?1 ORDER BY rowid LIMIT %d",
                          cfg->fts, cfg->fts, DF_SAMPLE);
    if (!sql || sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &r->df_stmt, NULL) != SQLITE_OK)
      rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(db));
    sqlite3_free(sql);
  }
  if (rc == KFTS_OK) {
    kftsp_buf b = {0};
    kftsp_buf_printf(&b, "SELECT rowid FROM \"%s\" WHERE \"%s\" MATCH ?1 ORDER BY kfts_rank(\"%s\", ?3)"
                     " LIMIT ?2", cfg->fts, cfg->fts, cfg->fts);
    if (b.oom || sqlite3_prepare_v3(db, b.p, -1, SQLITE_PREPARE_PERSISTENT, &r->cand_stmt, NULL) != SQLITE_OK)
      rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(db));
    kftsp_buf_reset(&b);
  }
  if (rc == KFTS_OK &&
      sqlite3_prepare_v3(db, cfg->text_sql, -1, SQLITE_PREPARE_PERSISTENT, &r->text_stmt, NULL) != SQLITE_OK)
    rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(db));
  if (rc) {
    kftsp_ranker_close(r);
    return rc;
  }
  *out = r;
  return KFTS_OK;
}

static void clear_query(kftsp_ranker *r) {
  for (int i = 0; i < r->n_t; i++) {
    kftsp_free(r->t[i].surface);
    kftsp_free(r->t[i].text);
  }
  for (int i = 0; i < r->n_w; i++) kftsp_free(r->w[i].surface);
  r->n_t = r->n_w = 0;
}

void kftsp_ranker_close(kftsp_ranker *r) {
  if (!r) return;
  clear_query(r);
  if (r->tok_inst) r->tok.xDelete(r->tok_inst);
  kftsp_tokenizer_free(r->raw);
  sqlite3_finalize(r->df_stmt);
  sqlite3_finalize(r->cand_stmt);
  sqlite3_finalize(r->text_stmt);
  kftsp_free(r->mask);
  kftsp_free(r);
}

/* ---- 1. query analysis ---- */

typedef struct qctx {
  kftsp_ranker *r;
  qword *w;
  const char *word;
  int prefix;
  int in_bag;
  int full;  /* a token found no room: the word cannot be matched exactly, so it is dropped */
  int rc;
} qctx;

static int find_tok(kftsp_ranker *r, const char *text, int len, int prefix) {
  for (int i = 0; i < r->n_t; i++)
    if (r->t[i].len == len && r->t[i].prefix == prefix && !memcmp(r->t[i].text, text, (size_t)len)) return i;
  return -1;
}

static int on_query_token(void *p, int tflags, const char *tok, int n, int start, int end) {
  qctx *q = p;
  kftsp_ranker *r = q->r;
  if (tflags & FTS5_TOKEN_COLOCATED) return SQLITE_OK;
  if (q->w->n == MAX_CHAIN) return SQLITE_OK; /* a very long word: matched by its start */
  int i = find_tok(r, tok, n, q->prefix);
  if (i < 0) {
    if (r->n_t == MAX_TOKENS) { /* the rest of a very long query is ignored */
      q->full = 1;
      return SQLITE_OK;
    }
    i = r->n_t;
    qtok *t = &r->t[i];
    memset(t, 0, sizeof *t);
    t->text = kftsp_strndup(tok, (size_t)n);
    t->surface = kftsp_strndup(q->word + start, (size_t)(end - start));
    if (!t->text || !t->surface) {
      kftsp_free(t->text);
      kftsp_free(t->surface);
      q->rc = SQLITE_NOMEM;
      return SQLITE_NOMEM;
    }
    t->len = n;
    t->prefix = q->prefix;
    r->n_t++;
  }
  r->t[i].in_bag |= q->in_bag;
  q->w->tok[q->w->n++] = i;
  return SQLITE_OK;
}

/* Adds a query word (or word pair) WORD of N bytes; it takes ownership of WORD. */
static int add_word(kftsp_ranker *r, char *word, size_t n, int pair) {
  qword *w = &r->w[r->n_w];
  memset(w, 0, sizeof *w);
  w->pair = pair;
  qctx q = {r, w, word, !pair && kftsp_is_one_syllable(word, n), !pair, 0, SQLITE_OK};
  int rc = r->tok.xTokenize(r->tok_inst, &q, FTS5_TOKENIZE_QUERY, word, (int)n, on_query_token);
  if (q.rc || rc != SQLITE_OK || q.full || w->n < 1 + pair) {
    kftsp_free(word);
    return q.rc ? q.rc : rc;
  }
  w->surface = word;
  r->n_w++;
  return SQLITE_OK;
}

static int analyse(kftsp_ranker *r, const char *const *words, size_t n_words) {
  clear_query(r);
  /* Adjacent words as written (particles kept), for the proximity terms. */
  const char *prev = NULL;
  size_t prev_n = 0;
  char *pairs[MAX_WORDS];
  size_t pair_n[MAX_WORDS];
  int n_pairs = 0, rc = SQLITE_OK;
  for (size_t i = 0; i < n_words && rc == SQLITE_OK; i++) {
    const char *p = words[i];
    while (*p && r->n_w < MAX_WORDS && rc == SQLITE_OK) {
      while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
      size_t k = strcspn(p, " \t\n\r");
      if (!k) break;
      if (r->cfg.drop_question_words && kftsp_is_question_word(p, k)) {
        p += k;
        prev = NULL;
        continue;
      }
      if (prev && r->cfg.pair_weight > 0 && n_pairs < MAX_WORDS) {
        pairs[n_pairs] = kftsp_printf("%.*s %.*s", (int)prev_n, prev, (int)k, p);
        if (!pairs[n_pairs]) rc = SQLITE_NOMEM;
        else pair_n[n_pairs] = strlen(pairs[n_pairs]), n_pairs++;
      }
      prev = p;
      prev_n = k;
      size_t keep = kftsp_strip_particle(p, k);
      char *word = kftsp_strndup(p, keep);
      if (!word) rc = SQLITE_NOMEM;
      if (rc == SQLITE_OK) rc = add_word(r, word, keep, 0);
      p += k;
    }
  }
  for (int i = 0; i < n_pairs; i++) {
    if (rc == SQLITE_OK && r->n_w < MAX_WORDS) rc = add_word(r, pairs[i], pair_n[i], 1);
    else kftsp_free(pairs[i]);
  }
  return rc;
}

/* ---- 2. document frequencies ---- */

/* Slot of a token: a multiplicative hash of its first and last four bytes and its length
** (a Hangul bigram is 6 bytes); cheap, as every token of every candidate is looked up. */
static unsigned slot_of(const char *s, int n) {
  uint32_t a = 0, b = 0;
  if (n >= 4) {
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
  } else {
    for (int i = 0; i < n; i++) a = a << 8 | (unsigned char)s[i];
  }
  uint64_t x = ((uint64_t)a << 32 | b) ^ (uint64_t)n;
  return (unsigned)((x * 0x9E3779B97F4A7C15ULL) >> 57);
}

static void build_slots(kftsp_ranker *r) {
  memset(r->slot, 0, sizeof r->slot);
  r->n_prefix = 0;
  r->need_stem = 0;
  for (int i = 0; i < r->n_t; i++) {
    for (int j = 0; j < r->t[i].len; j++) {
      char ch = r->t[i].text[j];
      r->need_stem |= (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
    }
    if (r->t[i].prefix) {
      r->prefix_tok[r->n_prefix++] = i;
      continue;
    }
    unsigned h = slot_of(r->t[i].text, r->t[i].len);
    while (r->slot[h]) h = (h + 1) & 127u; /* at most 64 of 128 slots used */
    r->slot[h] = i + 1;
  }
}

/* A one-syllable word is sought in FTS5 as its exact unigram, never as a prefix query: without
** a prefix index FTS5 merges the doclist of every term starting with the syllable ("이*"
** is most of the index) before the first row comes back. The unigram stands for the
** syllable standing alone or ending a word; the prefix itself is matched when scoring. */
static void quote_surface(kftsp_buf *b, const qtok *t) {
  kftsp_fts_quote(b, t->surface, strlen(t->surface));
}

/* Rows matching EXPR: exact up to DF_SAMPLE, then extrapolated from the rowid span the
** first DF_SAMPLE rows covered. */
static int sample_df(kftsp_ranker *r, const char *expr, size_t len, double *df_out) {
  sqlite3_bind_text(r->df_stmt, 1, expr, (int)len, SQLITE_STATIC);
  int k = 0, rc;
  int64_t last = 0;
  while ((rc = sqlite3_step(r->df_stmt)) == SQLITE_ROW) {
    last = sqlite3_column_int64(r->df_stmt, 0);
    k++;
  }
  sqlite3_reset(r->df_stmt);
  if (rc != SQLITE_DONE) return rc;
  double df = k;
  if (k == DF_SAMPLE && last > r->min_id) {
    double span = (double)(r->max_id - r->min_id) + 1, seen = (double)(last - r->min_id) + 1;
    df = (double)k * span / seen;
  }
  *df_out = df > r->n_rows ? r->n_rows : df;
  return SQLITE_OK;
}

/* BM25's idf, kept above zero as FTS5 keeps it, so very common terms count a little. */
static double idf_of(const kftsp_ranker *r, double df) {
  double idf = log(1.0 + (r->n_rows - df + 0.5) / (df + 0.5));
  return idf < 1e-6 ? 1e-6 : idf;
}

static int count_df(kftsp_ranker *r, qtok *t) {
  kftsp_buf b = {0};
  quote_surface(&b, t);
  if (b.oom) return SQLITE_NOMEM;
  int rc = sample_df(r, b.p, b.n, &t->df);
  kftsp_buf_reset(&b);
  t->idf = idf_of(r, t->df);
  return rc;
}

static int count_phrase_df(kftsp_ranker *r, qword *w) {
  kftsp_buf b = {0};
  kftsp_fts_quote(&b, w->surface, strlen(w->surface));
  if (b.oom) return SQLITE_NOMEM;
  double df = 0;
  int rc = sample_df(r, b.p, b.n, &df);
  kftsp_buf_reset(&b);
  w->idf = idf_of(r, df);
  return rc;
}

/* ---- 4. scoring ---- */

static int on_doc_token(void *p, int tflags, const char *tok, int n, int start, int end) {
  kftsp_ranker *r = p;
  (void)start, (void)end;
  if (!(tflags & FTS5_TOKEN_COLOCATED) || r->mask_n == 0) {
    uint64_t *m = kftsp_grow(r->mask, r->mask_n, &r->mask_cap, sizeof *m, 1024);
    if (!m) return SQLITE_NOMEM;
    r->mask = m;
    r->mask[r->mask_n++] = 0;
  }
  uint64_t *m = &r->mask[r->mask_n - 1];
  for (unsigned h = slot_of(tok, n); r->slot[h]; h = (h + 1) & 127u) {
    const qtok *t = &r->t[r->slot[h] - 1];
    if (t->len == n && !memcmp(tok, t->text, (size_t)n)) {
      *m |= 1ULL << (r->slot[h] - 1);
      break;
    }
  }
  for (int k = 0; k < r->n_prefix; k++) {
    const qtok *t = &r->t[r->prefix_tok[k]];
    if (n >= t->len && !memcmp(tok, t->text, (size_t)t->len)) *m |= 1ULL << r->prefix_tok[k];
  }
  return SQLITE_OK;
}

static double bm25_part(double tfw) { return tfw * (BM25_K1 + 1) / (tfw + BM25_K1); }

/* Scores one candidate; *SCORE_OUT. */
static int score_row(kftsp_ranker *r, int64_t rowid, double *score_out) {
  double tf_word[MAX_WORDS] = {0}, tf_tok[MAX_TOKENS] = {0};
  sqlite3_bind_int64(r->text_stmt, 1, rowid);
  int rc = sqlite3_step(r->text_stmt);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(r->text_stmt);
    *score_out = 0;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  rc = SQLITE_OK;
  for (int c = 0; c < r->cfg.n_cols && rc == SQLITE_OK; c++) {
    const char *text = (const char *)sqlite3_column_text(r->text_stmt, c);
    int len = sqlite3_column_bytes(r->text_stmt, c);
    r->mask_n = 0;
    if (text && len)
      rc = r->need_stem ? r->tok.xTokenize(r->tok_inst, r, FTS5_TOKENIZE_DOCUMENT, text, len, on_doc_token)
                        : kftsp_tokenize(r->raw, r, FTS5_TOKENIZE_DOCUMENT, text, len, on_doc_token);
    if (rc != SQLITE_OK) break;
    size_t np = r->mask_n;
    double norm = r->cfg.weights[c] / (1 - BM25_B + BM25_B * (double)np / r->avg[c]);
    int cnt_tok[MAX_TOKENS] = {0}, cnt_word[MAX_WORDS] = {0};
    /* One pass over the positions; only those holding a query token cost anything. */
    for (size_t p = 0; p < np; p++) {
      uint64_t m = r->mask[p];
      if (!m) continue;
      for (uint64_t x = m; x; x &= x - 1) cnt_tok[__builtin_ctzll(x)]++;
      for (int wi = 0; wi < r->n_w; wi++) {
        const qword *w = &r->w[wi];
        if (w->n < 2 || !(m & (1ULL << w->tok[0])) || p + (size_t)w->n > np) continue;
        int j = 1;
        while (j < w->n && (r->mask[p + (size_t)j] & (1ULL << w->tok[j]))) j++;
        cnt_word[wi] += j == w->n;
      }
    }
    for (int i = 0; i < r->n_t; i++) tf_tok[i] += cnt_tok[i] * norm;
    for (int wi = 0; wi < r->n_w; wi++) tf_word[wi] += cnt_word[wi] * norm;
  }
  sqlite3_reset(r->text_stmt);
  double s = 0;
  for (int wi = 0; wi < r->n_w; wi++) {
    const qword *w = &r->w[wi];
    double tfw = w->n == 1 ? tf_tok[w->tok[0]] : tf_word[wi];
    s += (w->pair ? r->cfg.pair_weight : 1.0) * w->idf * bm25_part(tfw);
  }
  for (int i = 0; i < r->n_t; i++)
    if (r->t[i].in_bag) s += r->cfg.bag_weight * r->t[i].idf * bm25_part(tf_tok[i]);
  *score_out = s;
  return rc;
}

typedef struct cand {
  int64_t id;
  double score;
  int order; /* FTS5's rank, for ties */
} cand;

static int cmp_cand(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return x->order - y->order;
}

int kftsp_ranker_search(kftsp_ranker *r, const char *const *words, size_t n_words, size_t limit,
                        kftsp_rank_hit **hits_out, size_t *n_out, char **plan_out) {
  *hits_out = NULL;
  *n_out = 0;
  if (plan_out) *plan_out = NULL;
  int rc = analyse(r, words, n_words);
  for (int i = 0; i < r->n_t && rc == SQLITE_OK; i++)
    if (r->t[i].in_bag) rc = count_df(r, &r->t[i]);
  if (rc != SQLITE_OK) return rc;
  if (r->n_w == 0) return SQLITE_OK;

  /* 3. Candidates from each informative word's rarest token. */
  int best = 0;
  for (int wi = 0; wi < r->n_w; wi++) {
    qword *w = &r->w[wi];
    if (w->pair) {
      if ((rc = count_phrase_df(r, w)) != SQLITE_OK) return rc;
      continue;
    }
    w->rep = w->tok[0];
    w->idf = r->t[w->tok[0]].idf;
    for (int j = 1; j < w->n; j++)
      if (r->t[w->tok[j]].df < r->t[w->rep].df) w->rep = w->tok[j], w->idf = r->t[w->tok[j]].idf;
    if (r->t[w->rep].df < r->t[r->w[best].rep].df) best = wi;
    if (w->n > 1 && r->cfg.phrase_df && (rc = count_phrase_df(r, w)) != SQLITE_OK) return rc;
  }
  kftsp_buf expr = {0};
  double par[KFTSP_RANK_MAX_COLS + MAX_TOKENS]; /* kfts_rank(): column weights, phrase idfs */
  int n_par = r->cfg.n_cols;
  for (int ci = 0; ci < r->cfg.n_cols; ci++) par[ci] = r->cfg.weights[ci];
  uint64_t used = 0;
  for (int wi = 0; wi < r->n_w; wi++) {
    int rep = r->w[wi].rep;
    if (r->w[wi].pair || ((used >> rep) & 1)) continue;
    if (r->t[rep].df > r->n_rows * r->cfg.max_df_fraction && wi != best) continue;
    if (r->t[rep].df == 0) continue;
    used |= 1ULL << rep;
    if (expr.n) kftsp_buf_adds(&expr, " OR ");
    quote_surface(&expr, &r->t[rep]);
    par[n_par++] = r->t[rep].idf;
  }
  if (expr.oom) return SQLITE_NOMEM;
  if (!expr.n) {
    kftsp_buf_reset(&expr);
    return SQLITE_OK; /* no word occurs anywhere */
  }
  size_t k_cand = r->cfg.candidates > limit ? r->cfg.candidates : limit;
  cand *c = kftsp_malloc(k_cand * sizeof *c);
  if (!c) {
    kftsp_buf_reset(&expr);
    return SQLITE_NOMEM;
  }
  size_t nc = 0;
  sqlite3_bind_text(r->cand_stmt, 1, expr.p, (int)expr.n, SQLITE_STATIC);
  sqlite3_bind_int64(r->cand_stmt, 2, (int64_t)k_cand);
  sqlite3_bind_blob(r->cand_stmt, 3, par, n_par * (int)sizeof(double), SQLITE_STATIC);
  while (nc < k_cand && (rc = sqlite3_step(r->cand_stmt)) == SQLITE_ROW) {
    c[nc].id = sqlite3_column_int64(r->cand_stmt, 0);
    c[nc].order = (int)nc;
    nc++;
  }
  sqlite3_reset(r->cand_stmt);
  rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
  if (plan_out && rc == SQLITE_OK) *plan_out = kftsp_strdup(expr.p);
  kftsp_buf_reset(&expr);

  /* 4. Score the candidates. */
  build_slots(r);
  for (size_t i = 0; i < nc && rc == SQLITE_OK; i++) rc = score_row(r, c[i].id, &c[i].score);
  if (rc == SQLITE_OK) {
    kftsp_sort(c, nc, sizeof *c, cmp_cand);
    size_t n = nc < limit ? nc : limit;
    kftsp_rank_hit *h = kftsp_malloc((n ? n : 1) * sizeof *h);
    if (!h) rc = SQLITE_NOMEM;
    for (size_t i = 0; h && i < n; i++) {
      h[i].id = c[i].id;
      h[i].score = c[i].score;
    }
    if (h) {
      *hits_out = h;
      *n_out = n;
    }
  }
  kftsp_free(c);
  return rc;
}
