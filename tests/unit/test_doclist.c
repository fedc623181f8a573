/* test_doclist.c -- doclist.c reads every term's rows and weighted frequencies exactly as
** FTS5 has them (its fts5vocab 'instance' table), across segments, deletes, updates, doclists
** and position lists that run over several pages, and any window of docs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "kfts_int.h"
#include "garble.h"

static const double weights[] = {4.0, 2.0, 1.0, 2.0};

typedef struct rows {
  int64_t doc[4096];
  double f[4096];
  int n;
  int stop_after; /* FN says SQLITE_DONE after this many rows (0: never) */
} rows;

static int add(void *ctx, int64_t doc, double f) {
  rows *r = ctx;
  if (r->n == 4096) return SQLITE_NOMEM;
  r->doc[r->n] = doc;
  r->f[r->n++] = f;
  return r->stop_after && r->n == r->stop_after ? SQLITE_DONE : SQLITE_OK;
}

static void exec(sqlite3 *h, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
}

/* A word list drawn from by a fixed generator: a few frequent words, many rare ones. */
static const char *word(unsigned *seed) {
  static const char *w[] = {"alpha", "beta", "gamma", "delta", "모델", "데이터", "센터", "안전",
                            "x", "y", "z", "quux", "a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8"};
  *seed = *seed * 1103515245u + 12345u;
  unsigned k = (*seed >> 16) % 100;
  return k < 60 ? w[k % 8] : w[8 + k % 12];
}

static void text(unsigned *seed, char *out, size_t cap, int words) {
  size_t n = 0;
  out[0] = 0;
  for (int i = 0; i < words && n + 16 < cap; i++) n += (size_t)snprintf(out + n, cap - n, "%s ", word(seed));
}

/* Table t: small pages (doclists and position lists over several of them), several segments
** (no automerge), rows deleted and rewritten in later transactions; one row whose word
** occurs 3000 times (a position list of several pages), docs spread up to 2^40. */
static sqlite3 *build(void) {
  sqlite3 *h;
  assert_int_equal(sqlite3_open(":memory:", &h), SQLITE_OK);
  exec(h, "CREATE VIRTUAL TABLE t USING fts5(a, b, c, d);"
          "INSERT INTO t(t, rank) VALUES ('pgsz', 64);"
          "INSERT INTO t(t, rank) VALUES ('automerge', 0);"
          "INSERT INTO t(t, rank) VALUES ('crisismerge', 64);");
  sqlite3_stmt *ins, *del;
  assert_int_equal(sqlite3_prepare_v2(h, "INSERT OR REPLACE INTO t(rowid, a, b, c, d) VALUES (?, ?, ?, ?, ?)", -1,
                                      &ins, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "DELETE FROM t WHERE rowid = ?", -1, &del, NULL), SQLITE_OK);
  unsigned seed = 7;
  char buf[4][400];
  for (int batch = 0; batch < 6; batch++) {
    exec(h, "BEGIN");
    for (int i = 0; i < 150; i++) {
      int64_t doc = (int64_t)(batch < 3 ? (unsigned)(batch * 150 + i) : (seed >> 8) % 450) * 997 + (i % 7 == 0 ? (int64_t)1 << 40 : 0);
      for (int c = 0; c < 4; c++) text(&seed, buf[c], sizeof buf[c], c == 2 ? 40 : 3);
      sqlite3_bind_int64(ins, 1, doc);
      for (int c = 0; c < 4; c++) sqlite3_bind_text(ins, 2 + c, buf[c], -1, SQLITE_STATIC);
      assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
      sqlite3_reset(ins);
      if (batch >= 3 && i % 5 == 0) {
        sqlite3_bind_int64(del, 1, (int64_t)((seed >> 4) % 450) * 997);
        assert_int_equal(sqlite3_step(del), SQLITE_DONE);
        sqlite3_reset(del);
      }
    }
    exec(h, "COMMIT");
  }
  kftsp_buf big = {0};
  for (int i = 0; i < 3000; i++) kftsp_buf_adds(&big, i % 3 ? "quux " : "filler ");
  sqlite3_bind_int64(ins, 1, 5);
  sqlite3_bind_text(ins, 2, "quux", -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 3, "", -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 4, big.p, -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 5, "quux quux", -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
  kftsp_buf_reset(&big);
  sqlite3_finalize(ins);
  sqlite3_finalize(del);
  exec(h, "CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, t, instance);"
          "CREATE TEMP TABLE vi AS SELECT term, doc, col, offset FROM v;" /* indexed, for joins */
          "CREATE INDEX temp.vi_at ON vi(term, doc, col, offset);");
  return h;
}

/* The rows of ST (doc, weighted count), run to its end and finalized, into OUT. */
static void rows_of(sqlite3_stmt *st, rows *out) {
  out->n = 0;
  while (sqlite3_step(st) == SQLITE_ROW)
    assert_int_equal(add(out, sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1)), SQLITE_OK);
  sqlite3_finalize(st);
}

/* doclist.c's rows of the phrase TERMS (K of them; PREFIX) in LO..HI are WANT's. */
static void read_as(sqlite3 *h, const char *const *terms, int k, int prefix, int64_t lo, int64_t hi, const rows *want) {
  static rows got;
  int lens[8];
  for (int i = 0; i < k; i++) lens[i] = (int)strlen(terms[i]);
  got.n = 0;
  got.stop_after = 0;
  exec(h, "BEGIN");
  int rc = kftsp_doclist_read(h, "t", terms, lens, k, prefix, lo, hi, weights, 4, add, &got);
  exec(h, "COMMIT");
  const char *second = k > 1 ? terms[1] : "";
  if (rc != SQLITE_OK) fail_msg("%s %s%s: rc %d", terms[0], second, prefix ? "*" : "", rc);
  if (got.n != want->n)
    fail_msg("%s %s%s (%d) [%lld, %lld]: %d rows, FTS5 %d", terms[0], second, prefix ? "*" : "", k, (long long)lo,
             (long long)hi, got.n, want->n);
  for (int i = 0; i < got.n; i++)
    if (got.doc[i] != want->doc[i] || got.f[i] != want->f[i])
      fail_msg("%s %s%s row %d: doc %lld f %g, FTS5 doc %lld f %g", terms[0], second, prefix ? "*" : "", i,
               (long long)got.doc[i], got.f[i], (long long)want->doc[i], want->f[i]);
}

/* The weight of a row of the vocab tables, by its column. */
#define WEIGHT "sum(CASE col WHEN 'a' THEN 4.0 WHEN 'b' THEN 2.0 WHEN 'c' THEN 1.0 ELSE 2.0 END)"

/* The rows (doc, weighted count) of SQL with ?1 TEXT and docs ?2 LO .. ?3 HI, into OUT. */
static void vocab_rows(sqlite3 *h, const char *sql, const char *text, int64_t lo, int64_t hi, rows *out) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, lo);
  sqlite3_bind_int64(st, 3, hi);
  rows_of(st, out);
}

/* FTS5's rows of TERM in LO..HI with weighted counts, from the vocab table. */
static void expected(sqlite3 *h, const char *term, int64_t lo, int64_t hi, rows *out) {
  vocab_rows(h, "SELECT doc, " WEIGHT " FROM v WHERE term = ?1 AND doc BETWEEN ?2 AND ?3 GROUP BY doc ORDER BY doc",
             term, lo, hi, out);
}

static void same(sqlite3 *h, const char *term, int64_t lo, int64_t hi) {
  static rows want;
  expected(h, term, lo, hi, &want);
  read_as(h, &term, 1, 0, lo, hi, &want);
}

static void every_term_every_window(void **state) {
  (void)state;
  sqlite3 *h = build();
  sqlite3_stmt *st;
  int segs = 0;
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(DISTINCT segid) FROM t_idx", -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) segs = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  assert_true(segs >= 4); /* what the merge across segments is tested on */
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT DISTINCT term FROM v", -1, &st, NULL), SQLITE_OK);
  int terms = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    char term[64];
    snprintf(term, sizeof term, "%s", (const char *)sqlite3_column_text(st, 0));
    same(h, term, INT64_MIN, INT64_MAX);
    same(h, term, 997 * 100, 997 * 300);     /* a window: seeks past pages */
    same(h, term, 997 * 300 + 1, INT64_MAX); /* ... and to the end, past 2^40 */
    same(h, term, 6, 6);                     /* nothing */
    terms++;
  }
  sqlite3_finalize(st);
  assert_true(terms >= 20);
  same(h, "nosuchterm", INT64_MIN, INT64_MAX);
  same(h, "zzzz", INT64_MIN, INT64_MAX); /* after every term */
  same(h, "0", INT64_MIN, INT64_MAX);    /* before every term */
  sqlite3_close(h);
}

/* FTS5's rows of the phrase of K TERMS in LO..HI, each instance weighted by its column: the
** vocab table joined with itself on the next offset. */
static void expected_phrase(sqlite3 *h, const char *const *terms, int k, int64_t lo, int64_t hi, rows *out) {
  kftsp_buf sql = {0};
  kftsp_buf_adds(&sql, "SELECT v0.doc, sum(CASE v0.col WHEN 'a' THEN 4.0 WHEN 'b' THEN 2.0 WHEN 'c' THEN 1.0 "
                       "ELSE 2.0 END) FROM vi v0"); /* WEIGHT, of v0's column */
  for (int i = 1; i < k; i++)
    kftsp_buf_printf(&sql, " JOIN vi v%d ON v%d.doc = v0.doc AND v%d.col = v0.col AND v%d.offset = v0.offset + %d"
                           " AND v%d.term = ?%d", i, i, i, i, i, i, i + 3);
  kftsp_buf_adds(&sql, " WHERE v0.term = ?3 AND +v0.doc BETWEEN ?1 AND ?2 GROUP BY v0.doc ORDER BY v0.doc");
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(h, sql.p, -1, &st, NULL), SQLITE_OK);
  kftsp_buf_reset(&sql);
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  for (int i = 0; i < k; i++) sqlite3_bind_text(st, 3 + i, terms[i], -1, SQLITE_STATIC);
  rows_of(st, out);
}

static void same_phrase(sqlite3 *h, const char *const *terms, int k, int64_t lo, int64_t hi) {
  static rows want;
  expected_phrase(h, terms, k, lo, hi, &want);
  read_as(h, terms, k, 0, lo, hi, &want);
}

/* Phrases of two and three words (a word twice, words that never meet, a missing word):
** the rows that have the words at consecutive offsets of one column, instances weighted. */
static void phrases_as_fts5_has_them(void **state) {
  (void)state;
  sqlite3 *h = build();
  static const char *const w[] = {"alpha", "beta", "gamma", "delta", "모델", "데이터", "센터", "quux", "filler"};
  int n = (int)KFTSP_ARRAY_LEN(w), found = 0;
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) {
      const char *two[] = {w[a], w[b]}, *three[] = {w[a], w[b], w[(a + b) % n]};
      same_phrase(h, two, 2, INT64_MIN, INT64_MAX);
      same_phrase(h, two, 2, 997 * 100, 997 * 300);
      same_phrase(h, three, 3, INT64_MIN, INT64_MAX);
      static rows r;
      expected_phrase(h, two, 2, INT64_MIN, INT64_MAX, &r);
      found += r.n > 0;
    }
  assert_true(found > n * n / 2); /* most pairs do meet */
  const char *none[] = {"alpha", "nosuchterm"}, *quux[] = {"quux", "quux"}, *qf[] = {"quux", "filler", "quux"};
  same_phrase(h, none, 2, INT64_MIN, INT64_MAX);
  same_phrase(h, quux, 2, INT64_MIN, INT64_MAX); /* in row 5: over several pages */
  same_phrase(h, qf, 3, INT64_MIN, INT64_MAX);
  sqlite3_close(h);
}

/* A prefix: the rows of every term that begins with it, each (doc, column, offset) once. */
static void same_prefix(sqlite3 *h, const char *pre, int64_t lo, int64_t hi) {
  static rows want;
  vocab_rows(h,
             "SELECT doc, " WEIGHT " FROM (SELECT DISTINCT doc, col, offset FROM vi WHERE substr(term, 1, length(?1)) = ?1"
             " AND doc BETWEEN ?2 AND ?3) GROUP BY doc ORDER BY doc",
             pre, lo, hi, &want);
  read_as(h, &pre, 1, 1, lo, hi, &want);
}

/* Prefixes of one term, of several (in several segments, some with updated rows), of every
** term, of none; a window of docs. (Two terms at one offset, counted once: test_search's
** 칩, whose terms 칩칩 and 칩 share offsets, against FTS5's own bm25.) */
static void prefixes_as_fts5_has_them(void **state) {
  (void)state;
  sqlite3 *h = build();
  static const char *const pre[] = {"a", "b", "g", "d", "alp", "alpha", "모", "데이", "q", "f", "x", "zz", "0"};
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(pre); i++) {
    same_prefix(h, pre[i], INT64_MIN, INT64_MAX);
    same_prefix(h, pre[i], 997 * 100, 997 * 300);
  }
  sqlite3_close(h);
}

/* Records with bytes changed at random (leaves, the structure, the averages): every read
** ends with SQLITE_OK, SQLITE_CORRUPT or KFTSP_DOCLIST_UNKNOWN, never reads outside its
** buffers (the sanitizer and valgrind runs of this test say so). */
static void garbled_records_are_survived(void **state) {
  (void)state;
  sqlite3 *h = build();
  sqlite3_stmt *pick, *set;
  int records = 0;
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM t_data", -1, &pick, NULL), SQLITE_OK);
  if (sqlite3_step(pick) == SQLITE_ROW) records = sqlite3_column_int(pick, 0);
  sqlite3_finalize(pick);
  assert_true(records > 10);
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT id, length(block) FROM t_data ORDER BY id LIMIT 1 OFFSET ?", -1, &pick,
                                      NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "UPDATE t_data SET block = substr(block, 1, ?2 - 1) || ?3 || substr(block, ?2 + 1)"
                                         " WHERE id = ?1",
                                      -1, &set, NULL),
                   SQLITE_OK);
  static rows got;
  static const char *const one[] = {"alpha", "quux", "모델", "z"}, *two[] = {"alpha", "beta"};
  unsigned seed = 99;
  int corrupt = 0;
  for (int round = 0; round < 300; round++) {
    exec(h, "SAVEPOINT g");
    for (int k = 0; k < 1 + round % 4; k++) { /* offset 1: the averages, 2: the structure */
      unsigned r = garble_next(&seed);
      assert_true(garble_byte(pick, round % 5 == 0 ? 1 : (int64_t)((r >> 8) % (unsigned)records), set, &seed) >= 0);
    }
    for (size_t i = 0; i < KFTSP_ARRAY_LEN(one) + 3; i++) {
      got.n = 0;
      got.stop_after = 0;
      int rc, k = i == KFTSP_ARRAY_LEN(one) ? 2 : 1, prefix = i == KFTSP_ARRAY_LEN(one) + 1;
      const char *const *terms = i < KFTSP_ARRAY_LEN(one) ? &one[i] : two;
      int lens[2] = {(int)strlen(terms[0]), k > 1 ? (int)strlen(terms[1]) : 0};
      if (i == KFTSP_ARRAY_LEN(one) + 2) {
        int64_t n_rows, n_tokens, mid;
        int pages;
        rc = kftsp_doclist_totals(h, "t", &n_rows, &n_tokens);
        int rc2 = kftsp_doclist_middle(h, "t", "alpha", 5, &mid, &pages);
        if (rc == SQLITE_OK) rc = rc2;
      } else {
        rc = kftsp_doclist_read(h, "t", terms, lens, k, prefix, i % 2 ? 997 * 50 : INT64_MIN, INT64_MAX, weights, 4,
                                add, &got);
      }
      if (rc != SQLITE_OK && rc != SQLITE_CORRUPT && rc != KFTSP_DOCLIST_UNKNOWN) fail_msg("round %d: rc %d", round, rc);
      corrupt += rc == SQLITE_CORRUPT;
    }
    exec(h, "ROLLBACK TO g; RELEASE g");
  }
  assert_true(corrupt > 0); /* some of the damage was seen */
  sqlite3_finalize(pick);
  sqlite3_finalize(set);
  sqlite3_close(h);
}

/* The middle of a long doclist: about half its rows before it; none for a short one. */
static void middle_of_the_rows(void **state) {
  (void)state;
  sqlite3 *h = build();
  static const char *const w[] = {"alpha", "beta", "모델", "quux"};
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(w); i++) {
    int64_t mid = 0;
    int pages = 0;
    exec(h, "BEGIN");
    assert_int_equal(kftsp_doclist_middle(h, "t", w[i], (int)strlen(w[i]), &mid, &pages), SQLITE_OK);
    exec(h, "COMMIT");
    static rows all;
    expected(h, w[i], INT64_MIN, INT64_MAX, &all);
    if (!pages) fail_msg("%s: no middle in %d rows", w[i], all.n);
    int before = 0;
    while (before < all.n && all.doc[before] < mid) before++;
    if (before < all.n / 5 || before > all.n * 4 / 5) fail_msg("%s: %d of %d rows before the middle", w[i], before, all.n);
  }
  int64_t mid = 0;
  int pages = 1;
  exec(h, "BEGIN");
  assert_int_equal(kftsp_doclist_middle(h, "t", "nosuchterm", 10, &mid, &pages), SQLITE_OK);
  exec(h, "COMMIT");
  assert_int_equal(pages, 0);
  sqlite3_close(h);
}

static void stops_when_told(void **state) {
  (void)state;
  sqlite3 *h = build();
  static rows got;
  got.n = 0;
  got.stop_after = 3;
  exec(h, "BEGIN");
  assert_int_equal(kftsp_doclist_read(h, "t", &(const char *){"alpha"}, &(int){5}, 1, 0, INT64_MIN, INT64_MAX, weights, 4, add, &got), SQLITE_OK);
  assert_int_equal(got.n, 3);
  /* a V2 structure record (contentless_delete tables of later SQLites): not read */
  exec(h, "UPDATE t_data SET block = X'00000000FF000001' || substr(block, 5) WHERE id = 10");
  got.n = 0;
  got.stop_after = 0;
  assert_int_equal(kftsp_doclist_read(h, "t", &(const char *){"alpha"}, &(int){5}, 1, 0, INT64_MIN, INT64_MAX, weights, 4, add, &got),
                   KFTSP_DOCLIST_UNKNOWN);
  assert_int_equal(got.n, 0);
  exec(h, "ROLLBACK");
  /* a leaf page cut short: SQLITE_CORRUPT, not a crash */
  exec(h, "UPDATE t_data SET block = substr(block, 1, 3) WHERE id > 10");
  exec(h, "BEGIN");
  int rc = kftsp_doclist_read(h, "t", &(const char *){"alpha"}, &(int){5}, 1, 0, INT64_MIN, INT64_MAX, weights, 4, add, &got);
  exec(h, "COMMIT");
  assert_int_equal(rc, SQLITE_CORRUPT);
  sqlite3_close(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_term_every_window),
      cmocka_unit_test(phrases_as_fts5_has_them),
      cmocka_unit_test(prefixes_as_fts5_has_them),
      cmocka_unit_test(garbled_records_are_survived),
      cmocka_unit_test(middle_of_the_rows),
      cmocka_unit_test(stops_when_told),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
