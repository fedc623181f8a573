/* test_store.c -- the index: schema versions, incremental runs, stable ids, removals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "kfts_int.h"
#include "garble.h"

typedef struct fixture {
  char dir[256];    /* temp folder */
  char corpus[300]; /* dir/corpus */
  char db[300];     /* dir/kfts.db */
} fixture;

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Appends TEXT to the corpus's first card digest, the file the tests edit. */
static void append_card(const fixture *fx, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/000_249548529e868bab.txt", fx->corpus);
  FILE *f = fopen(p, "ab");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/kfts_test_store_XXXXXX");
  if (!mkdtemp(fx->dir)) return -1;
  snprintf(fx->corpus, sizeof fx->corpus, "%s/corpus", fx->dir);
  snprintf(fx->db, sizeof fx->db, "%s/kfts.db", fx->dir);
  mkdir(fx->corpus, 0755);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cp '%s'/*.txt '%s'/", KFTS_CORPUS_DIR, fx->corpus);
  if (system(cmd) != 0) return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
  int rc = system(cmd);
  free(fx);
  return rc == 0 ? 0 : -1;
}

static int n_reports;
static void count_report(void *ctx, const char *path, int line, const char *msg) {
  (void)ctx, (void)path, (void)line, (void)msg;
  n_reports++;
}

static kfts_index_stats run_index(fixture *fx, int full) {
  kfts_db *db = NULL;
  kfts_error err = {0};
  int rc = kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_CREATE, &err);
  if (rc) fail_msg("open: %s", err.message);
  const char *paths[] = {fx->corpus};
  kfts_index_opts o = {.full = full, .report = count_report};
  kfts_index_stats st;
  rc = kfts_index_paths(db, paths, 1, &o, &st, &err);
  if (rc) fail_msg("index: %s", err.message);
  kfts_db_close(db);
  return st;
}

static sqlite3 *raw(fixture *fx) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open(fx->db, &h), SQLITE_OK);
  assert_int_equal(kfts_register(h, NULL), KFTS_OK);
  return h;
}

static int64_t scalar(sqlite3 *h, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(h));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Sum of all article ids, a cheap fingerprint of the id set. */
static int64_t id_sum(fixture *fx, const char *where) {
  sqlite3 *h = raw(fx);
  char sql[300];
  snprintf(sql, sizeof sql, "SELECT coalesce(sum(a.id %% 1000003), 0) FROM articles a %s", where);
  int64_t v = scalar(h, sql);
  sqlite3_close(h);
  return v;
}

/* articles_meta holds exactly one row per article, equal to it and to its %_docsize row. */
static void assert_meta_consistent(sqlite3 *h) {
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles_meta"), scalar(h, "SELECT count(*) FROM articles"));
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles_meta m JOIN articles a USING (doc)"
                             " JOIN articles_fts_docsize d ON d.id = a.doc WHERE m.sz = d.sz AND m.date IS a.date"
                             " AND m.importance IS a.importance AND m.source IS a.source AND m.topics = a.topics"),
                   scalar(h, "SELECT count(*) FROM articles"));
}

/* docvals are current and hold exactly articles_meta's rows: each in its block, in doc order,
** with its summed length, day and importance. */
static void assert_docvals_consistent(sqlite3 *h) {
  assert_int_equal(scalar(h, "SELECT count(*) FROM meta WHERE key = 'docvals' AND value = '2'"), 1);
  sqlite3_stmt *bl, *me;
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT block, v FROM docvals ORDER BY block", -1, &bl, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(h, "SELECT doc, sz, date, importance FROM articles_meta ORDER BY doc", -1, &me, NULL),
      SQLITE_OK);
  kftsp_dv_block_t b;
  memset(&b, 0, sizeof b);
  int64_t rows = 0, blocks = 0;
  while (sqlite3_step(bl) == SQLITE_ROW) {
    blocks++;
    int64_t k = sqlite3_column_int64(bl, 0);
    assert_int_equal(kftsp_dv_decode(&b, sqlite3_column_blob(bl, 1), sqlite3_column_bytes(bl, 1), k), 0);
    assert_false(b.wide); /* format 2 */
    assert_true(b.n > 0);
    for (uint32_t i = 0; i < b.n; i++, rows++) {
      assert_int_equal(sqlite3_step(me), SQLITE_ROW);
      int64_t doc = sqlite3_column_int64(me, 0), z = 0;
      assert_int_equal(kftsp_dv_doc(&b, i), doc);
      assert_int_equal(kftsp_dv_block(doc), k);
      assert_int_equal(kftsp_dv_len(&b, i), kftsp_dv_length(sqlite3_column_blob(me, 1), sqlite3_column_bytes(me, 1)));
      assert_true(kftsp_dv_len(&b, i) > 0 && kftsp_dv_len(&b, i) != UINT32_MAX);
      const char *date = (const char *)sqlite3_column_text(me, 2);
      assert_int_equal(kftsp_dv_day(&b, i), kftsp_parse_day(date, &z) ? (int32_t)z : INT32_MIN);
      assert_int_equal(kftsp_dv_imp(&b, i), sqlite3_column_type(me, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(me, 3));
    }
  }
  assert_int_equal(sqlite3_step(me), SQLITE_DONE);
  assert_int_equal(rows, scalar(h, "SELECT count(*) FROM articles_meta"));
  assert_true(rows == 0 || blocks > 0);
  sqlite3_finalize(bl);
  sqlite3_finalize(me);
}

/* How many lines of TOPICS are V. */
static size_t topic_lines(const char *topics, const char *v) {
  size_t n = 0, len = strlen(v);
  for (const char *t = topics; t && *t;) {
    size_t k = strcspn(t, "\n");
    n += k && k == len && !memcmp(t, v, k);
    t += k + (t[k] == '\n');
  }
  return n;
}

/* facetvals are current, in docvals' blocks, and each article's ids name exactly its
** articles_meta source, year (the date's first four characters) and topics. */
static void assert_facetvals_consistent(sqlite3 *h) {
  assert_int_equal(scalar(h, "SELECT count(*) FROM facetvals f LEFT JOIN docvals d USING (block) WHERE d.v IS NULL"), 0);
  assert_int_equal(scalar(h, "SELECT count(*) FROM docvals d LEFT JOIN facetvals f USING (block) WHERE f.v IS NULL"), 0);
  assert_int_equal(scalar(h, "SELECT count(*) FROM facet_names WHERE kind NOT IN (0, 1, 2)"), 0);
  sqlite3_stmt *me;
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT doc, date, source, topics FROM articles_meta ORDER BY doc", -1, &me, NULL),
                   SQLITE_OK);
  while (sqlite3_step(me) == SQLITE_ROW) {
    int64_t doc = sqlite3_column_int64(me, 0);
    const char *date = (const char *)sqlite3_column_text(me, 1), *src = (const char *)sqlite3_column_text(me, 2),
               *topics = (const char *)sqlite3_column_text(me, 3);
    size_t *counts = NULL, n_ids = 0, none[2];
    kfts_error err;
    int64_t src_id = -1;
    assert_int_equal(kftsp_fv_count(h, &doc, 1, &counts, &n_ids, none, &src_id, &err), KFTS_OK);
    assert_true(src ? src_id > 0 && counts[src_id] == 1 : src_id == 0);
    assert_int_equal(none[0], src == NULL);
    assert_int_equal(none[1], !date || strlen(date) < 4);
    size_t named = 0, meta = (src != NULL) + (date && strlen(date) >= 4), want = meta;
    for (const char *t = topics; t && *t;) {
      size_t k = strcspn(t, "\n");
      want += k > 0;
      t += k + (t[k] == '\n');
    }
    char **names = NULL;
    int *kinds = NULL;
    assert_int_equal(kftsp_fv_names(h, counts, n_ids, &names, &kinds, &err), KFTS_OK);
    for (size_t id = 1; id < n_ids; id++) {
      assert_true(!counts[id] == !names[id]);
      if (!counts[id]) continue;
      int kind = kinds[id];
      const char *v = names[id];
      if (kind == 0) {
        assert_non_null(src);
        assert_string_equal(v, src);
        assert_int_equal(counts[id], 1);
      } else if (kind == 1) {
        assert_non_null(date);
        assert_int_equal(strlen(v), 4);
        assert_memory_equal(v, date, 4);
        assert_int_equal(counts[id], 1);
      } else {
        assert_int_equal(kind, 2);
        assert_int_equal(counts[id], topic_lines(topics, v));
      }
      named += counts[id];
      kftsp_free(names[id]);
    }
    assert_int_equal(named, want);
    kftsp_free(names);
    kftsp_free(kinds);
    kftsp_free(counts);
  }
  sqlite3_finalize(me);
}

/* The clusters and the related pairs, by doc, as text (kftsp_free). */
static char *clusters_digest(sqlite3 *h) {
  static const char sql[] =
      "SELECT ifnull((SELECT group_concat(x, ',') FROM (SELECT doc || ':' || cluster AS x FROM clusters ORDER BY doc)),"
      " '') || ' / ' || ifnull((SELECT group_concat(x, ',') FROM (SELECT a || '~' || b AS x FROM cluster_pairs"
      " ORDER BY a, b)), '')";
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s", sqlite3_errmsg(h));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  char *v = kftsp_strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

/* The clusters and pairs an index holds are those of re-clustering it whole (in a transaction
** rolled back): after an incremental run that added the new articles' pairs alone too. When
** meta 'clusters' says the pairs are exact, the whole re-clustering must say so too. */
static void assert_clusters_whole(sqlite3 *h) {
  int exact = kftsp_cluster_exact(h), wholes = kftsp_recluster_wholes;
  char *now = clusters_digest(h);
  kfts_error err = {0};
  assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  if (kftsp_recluster(h, &err)) fail_msg("recluster: %s", err.message);
  char *whole = clusters_digest(h);
  if (exact) assert_int_equal(kftsp_cluster_exact(h), 1);
  assert_int_equal(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  kftsp_recluster_wholes = wholes; /* the indexer's alone are counted */
  assert_string_equal(now, whole);
  kftsp_free(now);
  kftsp_free(whole);
}

/* Every table agrees with articles: articles_meta (above), docvals, no row of topics,
** signatures, clusters or %_docsize without its article, clusters as a whole re-clustering
** has them, and FTS5's own check against the content. */
static void assert_consistent(sqlite3 *h) {
  assert_meta_consistent(h);
  assert_docvals_consistent(h);
  assert_facetvals_consistent(h);
  assert_clusters_whole(h);
  static const char *const orphans[] = {
      "SELECT count(*) FROM topics WHERE doc NOT IN (SELECT doc FROM articles)",
      "SELECT count(*) FROM signatures WHERE doc NOT IN (SELECT doc FROM articles)",
      "SELECT count(*) FROM clusters WHERE doc NOT IN (SELECT doc FROM articles)",
      "SELECT count(*) FROM clusters WHERE cluster NOT IN (SELECT doc FROM articles)",
      "SELECT count(*) FROM cluster_pairs WHERE a NOT IN (SELECT doc FROM signatures)"
      " OR b NOT IN (SELECT doc FROM signatures) OR a <= b",
      "SELECT count(*) FROM articles_fts_docsize WHERE id NOT IN (SELECT doc FROM articles)"};
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(orphans); i++) assert_int_equal(scalar(h, orphans[i]), 0);
  assert_int_equal(sqlite3_exec(h, "INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
}

static void store__first_run_indexes_everything(void **state) {
  fixture *fx = *state;
  kfts_index_stats st = run_index(fx, 0);
  assert_int_equal(st.files_seen, 5);
  assert_int_equal(st.files_indexed, 5);
  assert_int_equal(st.files_failed, 0);
  assert_int_equal(st.articles, 10 + 28 + 10 + 36 + 6);
  sqlite3 *h = raw(fx);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles"), 90);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '데이터센터'"), 4);
  assert_int_equal(scalar(h, "SELECT count(*) FROM topics WHERE topic = '데이터센터'"), 1);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles WHERE importance IS NOT NULL"), 10);
  assert_int_equal(scalar(h, "PRAGMA user_version"), 9);
  assert_int_equal(scalar(h, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"), 0);
  assert_int_equal(scalar(h, "SELECT count(*) FROM signatures"), 90); /* one per article */
  /* FTS5's rowids are docs 1..90, in the files' order, apart from the stable ids. */
  assert_int_equal(scalar(h, "SELECT min(doc) * 1000 + max(doc) FROM articles"), 1090);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles WHERE id > 1000000"), 90);
  assert_int_equal(scalar(h, "SELECT count(*) FROM files WHERE path LIKE 'corpus/%'"), 5);
  assert_consistent(h);
  sqlite3_close(h);
}

static void store__unchanged_touched_edited_deleted(void **state) {
  fixture *fx = *state;
  run_index(fx, 0);
  int64_t ids_before = id_sum(fx, "");
  int64_t crawl_ids = id_sum(fx, "JOIN files f ON f.id = a.file_id WHERE f.path LIKE '%002_%'");

  kfts_index_stats st = run_index(fx, 0);
  assert_int_equal(st.files_unchanged, 5);
  assert_int_equal(st.files_indexed, 0);
  assert_int_equal(id_sum(fx, ""), ids_before);

  /* Touched: new mtime, same bytes. Read, hashed, not re-indexed. */
  char p[512];
  snprintf(p, sizeof p, "%s/002_3a5d261447ef4f8e.txt", fx->corpus);
  struct timespec ts[2] = {{.tv_sec = 1700000000}, {.tv_sec = 1700000000}};
  assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
  st = run_index(fx, 0);
  assert_int_equal(st.files_unchanged, 5);
  assert_int_equal(st.files_indexed, 0);

  /* Edited: one card file gains a card at the end; the other cards keep their ids. */
  snprintf(p, sizeof p, "%s/000_249548529e868bab.txt", fx->corpus);
  int64_t card_ids = id_sum(fx, "WHERE importance IS NOT NULL");
  append_card(fx, "\n---\n## 제목:\n**새 카드**\n\n**요약**: 증분시험 카드\n\n**중요도**: 4점\n");
  st = run_index(fx, 0);
  assert_int_equal(st.files_indexed, 1);
  assert_int_equal(st.files_unchanged, 4);
  assert_int_equal(st.articles, 11);
  sqlite3 *h = raw(fx);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles"), 91);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '증분시험'"), 1);
  assert_consistent(h);
  sqlite3_close(h);
  assert_int_equal(id_sum(fx, "WHERE importance IS NOT NULL AND importance <> 4"), card_ids);

  /* Deleted: its articles, topics and FTS rows go. */
  assert_int_equal(unlink(p), 0);
  st = run_index(fx, 0);
  assert_int_equal(st.files_removed, 1);
  h = raw(fx);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles"), 80);
  assert_int_equal(scalar(h, "SELECT count(*) FROM files"), 4);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '데이터센터'"), 2);
  assert_consistent(h);
  sqlite3_close(h);
  assert_int_equal(id_sum(fx, "JOIN files f ON f.id = a.file_id WHERE f.path LIKE '%002_%'"), crawl_ids);
}

/* An article's stored text and metadata, but not its place (ord, line), as one value. */
#define ARTICLE_TEXT                                                                                   \
  "(a.title || '|' || ifnull(a.summary, '-') || '|' || hex(a.body) || '|' || a.topics || '|' ||"      \
  " ifnull(a.url, '-') || '|' || ifnull(a.date, '-') || '|' || ifnull(a.date_source, '-') || '|' ||" \
  " ifnull(a.published_at, '-') || '|' || ifnull(a.source, '-') || '|' || ifnull(a.importance, '-') ||" \
  " '|' || ifnull(a.time_offset, '-'))"

/* SQL's one text value (the caller frees it). */
static char *text_of(sqlite3 *h, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(h));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  const char *t = (const char *)sqlite3_column_text(st, 0);
  char *v = strdup(t ? t : "");
  sqlite3_finalize(st);
  return v;
}

/* Every article as kfts_search sees it, by id (not by doc), and the ids some words match. */
static char *index_digest(sqlite3 *h) {
  char *a = text_of(h, "SELECT group_concat(x, char(10)) FROM (SELECT a.id || '|' || f.path || '|' || a.ord || '|' ||"
                       " a.line || '|' || a.title || '|' || ifnull(a.summary, '-') || '|' || hex(a.body) || '|' ||"
                       " a.topics || '|' || ifnull(a.url, '-') || '|' || ifnull(a.date, '-') || '|' ||"
                       " ifnull(a.date_source, '-') || '|' || ifnull(a.published_at, '-') || '|' ||"
                       " ifnull(a.source, '-') || '|' || ifnull(a.importance, '-') || '|' ||"
                       " ifnull(a.time_offset, '-') || '|' || m.topics || '|' || hex(m.sz) AS x"
                       " FROM articles a JOIN files f ON f.id = a.file_id JOIN articles_meta m USING (doc)"
                       " ORDER BY a.id)");
  static const char *const words[] = {"데이터센터", "수정된요약", "AI", "GPU", "중복제목", "전력"};
  kftsp_buf b = {0};
  kftsp_buf_adds(&b, a);
  free(a);
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(words); i++) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT '%s:' || ifnull(group_concat(id), '') FROM (SELECT a.id FROM articles_fts JOIN articles a"
             " ON a.doc = articles_fts.rowid WHERE articles_fts MATCH '\"%s\"' ORDER BY a.id)",
             words[i], words[i]);
    char *m = text_of(h, sql);
    kftsp_buf_addc(&b, '\n');
    kftsp_buf_adds(&b, m);
    free(m);
  }
  return kftsp_buf_take(&b);
}

/* An edited file keeps the articles that did not change, at their docs: a card's metadata
** changed, another's summary, a card inserted near the top (the rest move), one removed, one
** appended with a title already there. The index then holds what a full rebuild of the same
** files holds, article by article (place, text, metadata, lengths) and match by match. */
static void store__edited_file_keeps_unchanged_articles(void **state) {
  fixture *fx = *state;
  run_index(fx, 0);
  char p[512];
  snprintf(p, sizeof p, "%s/000_249548529e868bab.txt", fx->corpus);
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  static char text[1 << 20], out[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  /* cards are separated by "\n---"; cut into parts */
  char *part[64];
  int np = 0;
  for (char *c = text; c && np < 64;) {
    part[np++] = c;
    char *sep = strstr(c, "\n---");
    if (sep) {
      *sep = 0;
      c = sep + 4;
    } else {
      c = NULL;
    }
  }
  assert_true(np >= 8);
  sqlite3 *h = raw(fx);
  assert_int_equal(sqlite3_exec(h,
                                "CREATE TABLE olddocs AS SELECT a.doc, a.id, " ARTICLE_TEXT " AS c FROM articles a"
                                " JOIN files f ON f.id = a.file_id WHERE f.path LIKE '%000_2495%'",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  int64_t n_old = scalar(h, "SELECT count(*) FROM olddocs");
  sqlite3_close(h);
  size_t k = 0;
  for (int i = 0; i < np; i++) {
    if (i == 5) continue; /* removed */
    if (i) k += (size_t)snprintf(out + k, sizeof out - k, "\n---");
    if (i == 1) /* inserted before the second card */
      k += (size_t)snprintf(out + k, sizeof out - k,
                            "\n\n## 제목:\n**끼워 넣은 카드**\n\n**요약**: 새 카드\n\n**중요도**: 3점\n\n---");
    const char *imp = strstr(part[i], "**중요도**: ");
    const char *sum = strstr(part[i], "**요약**: ");
    if (i == 2 && imp) { /* its importance */
      k += (size_t)snprintf(out + k, sizeof out - k, "%.*s**중요도**: 1점%s", (int)(imp - part[i]), part[i],
                            strchr(imp, '\n') ? strchr(imp, '\n') : "");
    } else if (i == 4 && sum) { /* its summary */
      k += (size_t)snprintf(out + k, sizeof out - k, "%.*s**요약**: 수정된요약 %s", (int)(sum - part[i]), part[i],
                            sum + strlen("**요약**: "));
    } else {
      k += (size_t)snprintf(out + k, sizeof out - k, "%s", part[i]);
    }
  }
  const char *t0 = strstr(part[0], "**") ? strstr(part[0], "**") + 2 : "x";
  k += (size_t)snprintf(out + k, sizeof out - k, "\n---\n## 제목:\n**%.*s**\n\n**요약**: 중복제목 카드\n",
                        (int)strcspn(t0, "*"), t0);
  write_file(p, out);
  kfts_index_stats st = run_index(fx, 0);
  assert_int_equal(st.files_indexed, 1);
  h = raw(fx);
  assert_consistent(h);
  /* kept at their docs: the old cards that are as they were (below: the full rebuild says
  ** which; a card whose date is inferred from its neighbours may have changed too) */
  int64_t kept = scalar(h, "SELECT count(*) FROM olddocs o JOIN articles a USING (doc)");
  assert_true(kept >= n_old - 5 && kept < n_old - 1);
  assert_int_equal(scalar(h, "SELECT count(*) FROM olddocs o JOIN articles a USING (doc) WHERE a.id = o.id AND "
                             ARTICLE_TEXT " = o.c"),
                   kept);
  char *edited = index_digest(h);
  sqlite3_close(h);
  run_index(fx, 1); /* every file read again, every article written anew */
  h = raw(fx);
  assert_consistent(h);
  assert_int_equal(scalar(h, "SELECT count(*) FROM olddocs o JOIN articles a USING (doc)"), 0);
  assert_int_equal(scalar(h, "SELECT count(*) FROM olddocs o JOIN articles a ON a.id = o.id AND " ARTICLE_TEXT " = o.c"),
                   kept); /* exactly the articles that did not change were kept */
  char *fresh = index_digest(h);
  sqlite3_close(h);
  assert_true(strstr(fresh, "수정된요약:") && strlen(strstr(fresh, "수정된요약:")) > strlen("수정된요약:") + 1);
  assert_string_equal(edited, fresh);
  free(edited);
  free(fresh);
}

/* The two connections of a split scan (scan.c) must read one state of the index: a write
** committed between their read transactions is seen, whether it adds or only removes. */
static void store__split_scan_sees_one_state(void **state) {
  fixture *fx = *state;
  run_index(fx, 0);
  sqlite3 *a = raw(fx), *b = raw(fx);
  assert_int_equal(sqlite3_exec(a, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(b, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(kftsp_scan_same_index(a, b), 90);
  assert_int_equal(sqlite3_exec(b, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  char p[512];
  snprintf(p, sizeof p, "%s/000_249548529e868bab.txt", fx->corpus);
  append_card(fx, "\n---\n## 제목:\n**새 카드**\n\n**요약**: 분할시험 카드\n\n**중요도**: 4점\n");
  run_index(fx, 0); /* committed while A reads */
  assert_int_equal(sqlite3_exec(b, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(kftsp_scan_same_index(a, b), -1);
  assert_int_equal(sqlite3_exec(a, "COMMIT; BEGIN", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(kftsp_scan_same_index(a, b), 91);
  assert_int_equal(sqlite3_exec(b, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  unlink(p); /* removals only */
  run_index(fx, 0);
  assert_int_equal(sqlite3_exec(b, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(kftsp_scan_same_index(a, b), -1);
  assert_int_equal(sqlite3_exec(a, "COMMIT; BEGIN", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(kftsp_scan_same_index(a, b), 90 - 10);
  sqlite3_exec(a, "COMMIT", NULL, NULL, NULL);
  sqlite3_exec(b, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(a);
  sqlite3_close(b);
}

/* The clusters are the same whether the band keys are sorted in memory or spilled to sorted
** runs on disk and merged, and whether the rows are all in memory or only the first few
** (the rest read back from their file) (cluster.c). */
/* The corpus with two copies of the crawl file (its 28 articles each a cluster of three),
** indexed; a connection to it. *N (when N is set): the clusters' rows. */
static sqlite3 *index_with_copies(fixture *fx, int64_t *n) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && cp 002_*.txt copy1.txt && cp 002_*.txt copy2.txt", fx->corpus);
  assert_int_equal(system(cmd), 0);
  run_index(fx, 0);
  sqlite3 *h = raw(fx);
  int64_t rows = scalar(h, "SELECT count(*) FROM clusters");
  if (rows < 24) fail_msg("the copies should make clusters; %lld rows", (long long)rows);
  if (n) *n = rows;
  return h;
}

static void store__clusters_same_when_spilled(void **state) {
  int64_t n;
  sqlite3 *h = index_with_copies(*state, &n);
  const char *sig = "SELECT count(*), coalesce(sum((doc % 1000003) * (cluster % 997)), 0) FROM clusters";
  char want[64], got[64];
  sqlite3_stmt *st;
  for (int k = 0; k < 5; k++) {
    static const size_t chunk[] = {(size_t)1 << 20, 256, 300, (size_t)1 << 20, 256};
    static const size_t cache[] = {(size_t)1 << 17, (size_t)1 << 17, 7, 1, 0};
    kftsp_cluster_chunk_keys = chunk[k];
    kftsp_cluster_cache_rows = cache[k];
    kfts_error err = {0};
    assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    if (kftsp_recluster(h, &err)) fail_msg("recluster: %s", err.message);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sig, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(k ? got : want, 64, "%lld/%lld", (long long)sqlite3_column_int64(st, 0),
             (long long)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    if (k) assert_string_equal(got, want);
  }
  kftsp_cluster_chunk_keys = (size_t)1 << 20;
  kftsp_cluster_cache_rows = (size_t)1 << 17;
  assert_int_equal(scalar(h, "SELECT count(*) FROM clusters"), n);
  sqlite3_close(h);
}

/* An incremental run looks for pairs in the buckets of its new and removed articles alone
** (cluster_pairs kept exact), and its clusters are those of re-clustering the whole index
** (assert_consistent): copies added, one removed, one edited; then 66 copies of one article,
** whose buckets pair their first 64 rows (by doc) alone, and the first ten of those removed,
** which lets the last two in. */
static void store__clusters_incremental(void **state) {
  fixture *fx = *state;
  int64_t n0;
  sqlite3 *h = index_with_copies(fx, &n0);
  assert_int_equal(kftsp_cluster_exact(h), 1);
  assert_consistent(h);
  sqlite3_close(h);
  int whole = kftsp_recluster_wholes;
  char cmd[1024], p[512];
  static const char *const steps[] = {"cp copy1.txt copy3.txt", "rm copy1.txt",
                                      "printf '\n새로 덧붙인 문장과 다른 낱말들입니다.\n' >> copy2.txt",
                                      "", "rm same0*.md", "rm same*.md"};
  static const int64_t same[] = {-1, -1, -1, 64, 56, 0}; /* '같은 기사' articles in a cluster */
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(steps); i++) {
    if (*steps[i]) {
      snprintf(cmd, sizeof cmd, "cd '%s' && %s", fx->corpus, steps[i]);
      assert_int_equal(system(cmd), 0);
    } else { /* 66 files of one article each, the same one */
      for (int k = 0; k < 66; k++) {
        snprintf(p, sizeof p, "%s/same%02d.md", fx->corpus, k);
        write_file(p, "# 같은 기사\n\n데이터센터 전력 수요가 늘면서 원자력과 재생에너지 계약이 이어지고, 냉각 기술과"
                      " 반도체 공급망, 클라우드 투자, 지역 송전망 증설, 규제 당국의 승인 절차, 전기요금 인상 논의가"
                      " 함께 커지고 있다는 분석이 나왔다. 업계는 내년 설비 투자 계획을 다시 짜고 있다.\n");
      }
    }
    kfts_index_stats st = run_index(fx, 0);
    assert_true(st.files_indexed + st.files_removed >= 1);
    assert_int_equal(kftsp_recluster_wholes, whole); /* those buckets alone */
    h = raw(fx);
    assert_int_equal(kftsp_cluster_exact(h), 1);
    if (i == 0) assert_true(scalar(h, "SELECT count(*) FROM clusters") > n0); /* the copy joined */
    if (same[i] >= 0)
      assert_int_equal(scalar(h, "SELECT count(*) FROM clusters c JOIN articles a USING (doc) WHERE a.title = '같은 기사'"),
                       same[i]);
    assert_consistent(h);
    sqlite3_close(h);
  }
  /* A run that did not finish leaves the pairs to the next one to redo whole. */
  h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "DELETE FROM meta WHERE key = 'clusters'", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  snprintf(cmd, sizeof cmd, "cd '%s' && cp copy2.txt copy4.txt", fx->corpus);
  assert_int_equal(system(cmd), 0);
  run_index(fx, 0);
  assert_int_equal(kftsp_recluster_wholes, whole + 1);
  h = raw(fx);
  assert_int_equal(kftsp_cluster_exact(h), 1);
  assert_consistent(h);
  sqlite3_close(h);
}

/* The Jaccard estimate from 12-bit minima takes out the slots that agree by chance (1 in
** 4,096): equal signatures give 1, signatures with no slot alike 0, and one with 4 of 64
** slots alike (1/16) (1/16 - 1/4096) / (1 - 1/4096) = 255/4095. The stored form gives the
** minima back. */
static void store__signature_estimates(void **state) {
  (void)state;
  kftsp_sig a = {.n = 100}, b = {.n = 100};
  for (int k = 0; k < KFTSP_SIG_K; k++) a.min[k] = (uint16_t)(k * 61), b.min[k] = (uint16_t)(k * 61 + 7);
  assert_true(kftsp_sig_jaccard(&a, &a) == 1.0);
  assert_true(kftsp_sig_jaccard(&a, &b) == 0.0);
  for (int k = 0; k < 4; k++) b.min[k * 16] = a.min[k * 16];
  double j = kftsp_sig_jaccard(&a, &b);
  if (j < 255.0 / 4095 - 1e-12 || j > 255.0 / 4095 + 1e-12) fail_msg("4 of 64 slots alike: J %.6f, want 255/4095", j);
  /* Texts that share no token: their minima's low bits are spread evenly (about 3,900
  ** distinct values in 12,800 draws from 4,096), and the estimates stay near 0. */
  static unsigned char seen[1 << KFTSP_SIG_BITS];
  memset(seen, 0, sizeof seen);
  double sum = 0;
  char t1[64], t2[64];
  for (int i = 0; i < 200; i++) {
    char w1[400] = "", w2[400] = "";
    for (int w = 0; w < 30; w++) {
      int v = i * 30 + w; /* letters only: digits would be tokens of their own, shared */
      snprintf(t1, sizeof t1, "alpha%c%c%c ", 'a' + v % 26, 'a' + v / 26 % 26, 'a' + v / 676 % 26);
      snprintf(t2, sizeof t2, "beta%c%c%c ", 'a' + v % 26, 'a' + v / 26 % 26, 'a' + v / 676 % 26);
      strcat(w1, t1);
      strcat(w2, t2);
    }
    const char *p1[] = {w1}, *p2[] = {w2};
    assert_int_equal(kftsp_signature(p1, 1, &a), KFTS_OK);
    assert_int_equal(kftsp_signature(p2, 1, &b), KFTS_OK);
    sum += kftsp_sig_jaccard(&a, &b);
    unsigned char packed[KFTSP_SIG_BYTES];
    uint16_t back[KFTSP_SIG_K];
    kftsp_sig_pack(a.min, packed);
    assert_true(kftsp_sig_load(packed, KFTSP_SIG_BYTES, back));
    assert_memory_equal(back, a.min, sizeof back);
    for (int k = 0; k < KFTSP_SIG_K; k++) {
      assert_true(a.min[k] < 1 << KFTSP_SIG_BITS);
      seen[a.min[k]] = 1;
    }
  }
  int distinct = 0;
  for (int v = 0; v < 1 << KFTSP_SIG_BITS; v++) distinct += seen[v];
  if (distinct < 3500) fail_msg("unrelated texts: %d distinct minima of 12800, want about 3900", distinct);
  if (sum / 200 > 0.001) fail_msg("unrelated texts: mean J %.4f", sum / 200);
  assert_false(kftsp_sig_load(NULL, 0, a.min));
  assert_false(kftsp_sig_load("short", 5, a.min));
}

/* An index written before signatures kept 12 bits kept 16 (128 bytes, the writer's byte
** order): re-clustering and --similar read their low 12 bits, with the same results as the
** signatures written now. */
static void store__signatures_of_older_indexes(void **state) {
  fixture *fx = *state;
  sqlite3 *h = index_with_copies(fx, NULL);
  const char *fp = "SELECT count(*) || '/' || coalesce(sum((doc % 1000003) * (cluster % 997)), 0) FROM clusters";
  int64_t id = scalar(h, "SELECT a.id FROM articles a JOIN clusters c ON c.doc = a.doc LIMIT 1");
  char want[2][4096], got[2][4096];
  for (int pass = 0; pass < 2; pass++) {
    char(*out)[4096] = pass ? got : want;
    kfts_error err = {0};
    assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    if (kftsp_recluster(h, &err)) fail_msg("recluster: %s", err.message);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, fp, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out[0], sizeof out[0], "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    kfts_db *db = NULL;
    assert_int_equal(kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_READONLY, &err), KFTS_OK);
    int64_t *docs = NULL;
    double *sims = NULL;
    size_t n = 0;
    if (kftsp_similar(db, id, 20, &docs, &sims, &n, &err)) fail_msg("similar: %s", err.message);
    if (n < 2) fail_msg("article %lld: %zu similar articles, want its two copies", (long long)id, n);
    out[1][0] = 0;
    for (size_t i = 0; i < n; i++)
      snprintf(out[1] + strlen(out[1]), sizeof out[1] - strlen(out[1]), "%lld:%.6f ", (long long)docs[i], sims[i]);
    kftsp_free(docs);
    kftsp_free(sims);
    kfts_db_close(db);
    if (pass) break;
    /* Widen every signature as the older writer stored it: 16 bits a minimum, the high 8 bits
    ** whatever the full minimum had (here a pattern). */
    sqlite3_stmt *rd, *wr;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT doc, sig FROM signatures", -1, &rd, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "UPDATE signatures SET sig = ?2 WHERE doc = ?1", -1, &wr, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(rd) == SQLITE_ROW) {
      uint16_t m[KFTSP_SIG_K], wide[KFTSP_SIG_K];
      assert_int_equal(sqlite3_column_bytes(rd, 1), KFTSP_SIG_BYTES);
      assert_true(kftsp_sig_load(sqlite3_column_blob(rd, 1), KFTSP_SIG_BYTES, m));
      for (int k = 0; k < KFTSP_SIG_K; k++) wide[k] = (uint16_t)((k * 37 + rows) % 16 << 12 | m[k]);
      sqlite3_bind_int64(wr, 1, sqlite3_column_int64(rd, 0));
      sqlite3_bind_blob(wr, 2, wide, (int)sizeof wide, SQLITE_TRANSIENT);
      assert_int_equal(sqlite3_step(wr), SQLITE_DONE);
      sqlite3_reset(wr);
      rows++;
    }
    sqlite3_finalize(rd);
    sqlite3_finalize(wr);
    assert_int_equal(sqlite3_exec(h, "COMMIT; DELETE FROM clusters", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(scalar(h, "SELECT count(*) FROM signatures WHERE length(sig) = 128"), rows);
  }
  assert_string_equal(got[0], want[0]);
  assert_string_equal(got[1], want[1]);
  sqlite3_close(h);
}

/* Each article's stored signature is the one its own text gives, whether the indexer
** computes the batch's signatures on a second thread or on its only one. */
static void store__signatures_of_their_articles(void **state) {
  fixture *fx = *state;
  for (int threads = 2; threads >= 1; threads--) {
    setenv("KFTS_THREADS", threads == 2 ? "2" : "1", 1);
    char p[400];
    for (int k = 0; k < 3; k++) {
      snprintf(p, sizeof p, "%s%s", fx->db, (const char *[]){"", "-wal", "-shm"}[k]);
      unlink(p);
    }
    run_index(fx, 0);
    sqlite3 *h = raw(fx);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT a.id, a.title, a.summary, kfts_text(a.body), s.n, s.sig FROM articles a"
                                        " LEFT JOIN signatures s ON s.doc = a.doc",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *parts[] = {(const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
                             (const char *)sqlite3_column_text(st, 3)};
      kftsp_sig want;
      assert_int_equal(kftsp_signature(parts, 3, &want), KFTS_OK);
      if (sqlite3_column_type(st, 5) == SQLITE_NULL) fail_msg("article %lld has no signature", (long long)sqlite3_column_int64(st, 0));
      assert_int_equal(sqlite3_column_int64(st, 4), want.n);
      unsigned char packed[KFTSP_SIG_BYTES];
      kftsp_sig_pack(want.min, packed);
      assert_int_equal(sqlite3_column_bytes(st, 5), KFTSP_SIG_BYTES);
      if (memcmp(sqlite3_column_blob(st, 5), packed, sizeof packed))
        fail_msg("article %lld: another article's signature (threads %d)", (long long)sqlite3_column_int64(st, 0), threads);
      n++;
    }
    sqlite3_finalize(st);
    assert_int_equal(n, 90);
    sqlite3_close(h);
  }
  unsetenv("KFTS_THREADS");
}

static void store__full_rebuild_keeps_ids(void **state) {
  fixture *fx = *state;
  run_index(fx, 0);
  int64_t before = id_sum(fx, "");
  kfts_index_stats st = run_index(fx, 1);
  assert_int_equal(st.files_indexed, 5);
  assert_int_equal(id_sum(fx, ""), before);
  /* A fresh database gives the same ids. */
  unlink(fx->db);
  run_index(fx, 0);
  assert_int_equal(id_sum(fx, ""), before);
}

static void store__bad_files_cost_only_themselves(void **state) {
  fixture *fx = *state;
  char p[512];
  snprintf(p, sizeof p, "%s/bad.txt", fx->corpus);
  write_file(p, "good line\n\xff\xfe bad bytes\n");
  n_reports = 0;
  kfts_index_stats st = run_index(fx, 0);
  assert_int_equal(st.files_failed, 1);
  assert_int_equal(st.files_indexed, 5);
  assert_int_equal(n_reports, 1);
  /* A manifest gives defaults; a changed manifest re-indexes what it covers. */
  snprintf(p, sizeof p, "%s/kfts.json", fx->corpus);
  write_file(p, "{\"files\": {\"003_*.txt\": {\"source\": \"letter\", \"date\": \"2025-11-05\"}}}");
  st = run_index(fx, 0);
  assert_int_equal(st.files_indexed, 1);
  sqlite3 *h = raw(fx);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles WHERE source = 'letter' AND date = '2025-11-05'"
                             " AND date_source = 'manifest'"),
                   36);
  sqlite3_close(h);
  /* A broken manifest stops the run with a clear error. */
  write_file(p, "{\"files\": {\"003_*.txt\": {\"sauce\": 1}}}");
  kfts_db *db = NULL;
  kfts_error err = {0};
  assert_int_equal(kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_CREATE, &err), KFTS_OK);
  const char *paths[] = {fx->corpus};
  kfts_index_opts o = {0};
  kfts_index_stats st2;
  assert_int_equal(kfts_index_paths(db, paths, 1, &o, &st2, &err), KFTS_EUSAGE);
  assert_non_null(strstr(err.message, "sauce"));
  kfts_db_close(db);
}

static void store__schema_versions(void **state) {
  fixture *fx = *state;
  run_index(fx, 0);
  sqlite3 *h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  kfts_db *db = NULL;
  kfts_error err = {0};
  assert_int_equal(kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_CREATE, &err), KFTS_ESCHEMA);
  assert_non_null(strstr(err.message, "newer"));
  /* An older version is rebuilt by the indexer, refused by readers. */
  h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 0", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  /* user_version 0 with tables: not ours, refused. */
  assert_int_equal(kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_CREATE, &err), KFTS_ESCHEMA);
  /* Versions up to 7 keyed FTS5 by the stable ids: readers ask for kfts-index, the indexer
  ** rebuilds the index from the files and keeps the folders indexed before. */
  h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
  int64_t articles = scalar(h, "SELECT count(*) FROM articles"), files = scalar(h, "SELECT count(*) FROM files");
  sqlite3_close(h);
  int rebuilt = -1;
  assert_int_equal(kfts_db_open(&db, &rebuilt, fx->db, KFTS_OPEN_READONLY, &err), KFTS_ESCHEMA);
  assert_non_null(strstr(err.message, "run kfts-index to update it"));
  assert_int_equal(kfts_db_open(&db, &rebuilt, fx->db, KFTS_OPEN_CREATE, &err), KFTS_OK);
  assert_int_equal(rebuilt, 1);
  char **roots = NULL;
  size_t n_roots = 0;
  assert_int_equal(kfts_db_roots(db, &roots, &n_roots, &err), KFTS_OK);
  assert_int_equal(n_roots, 1);
  assert_non_null(strstr(roots[0], "corpus"));
  kfts_strv_free(roots, n_roots);
  kfts_db_close(db);
  h = raw(fx);
  assert_int_equal(scalar(h, "PRAGMA user_version"), 9);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles"), 0);
  sqlite3_close(h);
  kfts_index_stats st = run_index(fx, 0);
  assert_int_equal(st.files_indexed, (size_t)files);
  h = raw(fx);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles"), articles);
  assert_consistent(h);
  sqlite3_close(h);
  /* Version 8 lacked cluster_pairs alone: readers take it as it is, the indexer adds the
  ** table in place (nothing rebuilt) and its next run with a change fills it. */
  h = raw(fx);
  assert_int_equal(kftsp_cluster_exact(h), 1);
  assert_int_equal(sqlite3_exec(h, "DROP TABLE cluster_pairs; PRAGMA user_version = 8", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  assert_int_equal(kfts_db_open(&db, &rebuilt, fx->db, KFTS_OPEN_READONLY, &err), KFTS_OK);
  kfts_db_close(db);
  assert_int_equal(kfts_db_open(&db, &rebuilt, fx->db, KFTS_OPEN_CREATE, &err), KFTS_OK);
  assert_int_equal(rebuilt, 0);
  kfts_db_close(db);
  h = raw(fx);
  assert_int_equal(scalar(h, "PRAGMA user_version"), 9);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles"), articles);
  assert_int_equal(scalar(h, "SELECT count(*) FROM cluster_pairs"), 0);
  assert_int_equal(kftsp_cluster_exact(h), 0);
  sqlite3_close(h);
  append_card(fx, "\n---\n## 제목:\n**판 9 카드**\n\n**요약**: 새 표의 첫 채움\n");
  run_index(fx, 0);
  h = raw(fx);
  assert_int_equal(kftsp_cluster_exact(h), 1);
  assert_consistent(h);
  sqlite3_close(h);
  /* Missing database, read-only: a clear error, no file created. */
  unlink(fx->db);
  assert_int_equal(kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_READONLY, &err), KFTS_EDB);
  assert_non_null(strstr(err.message, "kfts-index"));
  assert_int_equal(access(fx->db, F_OK), -1);
}

/* Long bodies are stored packed, short ones as text; kfts_text() and FTS5 (through the view
** articles_text) read both as the parser's text, and a garbled frame is an error, not text. */
static void store__bodies_packed(void **state) {
  fixture *fx = *state;
  run_index(fx, 0);
  sqlite3 *h = raw(fx);
  int64_t n = scalar(h, "SELECT count(*) FROM articles");
  int64_t packed = scalar(h, "SELECT count(*) FROM articles WHERE typeof(body) = 'blob'");
  if (packed < n / 2 || packed == n) fail_msg("%lld of %lld bodies packed", (long long)packed, (long long)n);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles_text WHERE typeof(body) != 'text'"), 0);
  assert_consistent(h); /* FTS5's integrity check re-tokenizes the unpacked text */
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT kfts_text(body), doc FROM articles WHERE typeof(body) = 'blob'", -1,
                                      &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    assert_non_null(t);
    assert_true(strlen(t) >= 128);
  }
  sqlite3_finalize(st);
  const char *big = "데이터센터의 전력 소비가 늘어난다. 데이터센터의 전력 소비가 늘어난다. 데이터센터의 전력 소비가 "
                    "늘어난다. 데이터센터의 전력 소비가 늘어난다. 데이터센터의 전력 소비가 늘어난다.";
  kftsp_packer *pk = kftsp_packer_new();
  const void *frame = NULL;
  size_t k = 0, len = 0;
  assert_int_equal(kftsp_pack(pk, big, strlen(big), &frame, &k), KFTS_OK);
  assert_non_null(frame);
  assert_true(k < strlen(big) / 2);
  char *back = kftsp_unpack(frame, k, &len);
  assert_string_equal(back, big);
  assert_int_equal(len, strlen(big));
  kftsp_free(back);
  assert_null(kftsp_unpack(frame, k - 1, &len)); /* cut short */
  assert_int_equal(kftsp_pack(pk, "짧은 본문", strlen("짧은 본문"), &frame, &k), KFTS_OK);
  assert_null(frame);
  kftsp_packer_free(pk);
  assert_int_equal(sqlite3_exec(h, "UPDATE articles SET body = x'28b52ffd00' WHERE doc = 1", NULL, NULL, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT kfts_text(body) FROM articles WHERE doc = 1", -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ERROR);
  assert_non_null(strstr(sqlite3_errmsg(h), "garbled"));
  sqlite3_finalize(st);
  sqlite3_close(h);
}

static void store__search_first_cut(void **state) {
  fixture *fx = *state;
  run_index(fx, 0);
  kfts_db *db = NULL;
  kfts_error err = {0};
  assert_int_equal(kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_READONLY, &err), KFTS_OK);
  kfts_result *r = NULL;
  kfts_search_opts o;
  kfts_search_opts_init(&o);
  o.query = "GPT-5";
  assert_int_equal(kfts_search(&r, db, &o, &err), KFTS_OK);
  assert_true(r->n_hits >= 1);
  assert_string_equal(r->hits[0].title, "OpenAI의 GPT-5 출시가 가져올 패러다임 변화");
  assert_string_equal(r->hits[0].file, "corpus/001_1d972a4ae2a071b3.txt");
  assert_int_equal(r->hits[0].line, 12);
  char *js = kfts_result_json(r, "GPT-5", NULL, 0, 1, NULL);
  assert_non_null(strstr(js, "\"date_source\": \"text\""));
  kfts_free(js);
  kfts_result_free(r);
  /* Quotes and FTS5 syntax in words are searched literally, never parsed. */
  o.query = "\"unbalanced AND NEAR( *";
  o.strict = 1;
  assert_int_equal(kfts_search(&r, db, &o, &err), KFTS_OK);
  assert_int_equal(r->n_hits, 0);
  kfts_result_free(r);
  o.query = "* -";
  assert_int_equal(kfts_search(&r, db, &o, &err), KFTS_EUSAGE);
  kfts_db_close(db);
}

/* FTS5's segments in the fixture's index. */
static int64_t segments(fixture *fx) {
  sqlite3 *h = raw(fx);
  int64_t n = scalar(h, "SELECT count(DISTINCT segid) FROM articles_fts_idx");
  sqlite3_close(h);
  return n;
}

/* The fixture's corpus replaced by N small files, n0000.txt ..., each a short article. */
static void small_files(fixture *fx, int n) {
  char cmd[700], p[400], text[300];
  snprintf(cmd, sizeof cmd, "rm -f '%s'/*.txt", fx->corpus);
  assert_int_equal(system(cmd), 0);
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/n%04d.txt", fx->corpus, i);
    snprintf(text, sizeof text, "# 소식 %d\n\n데이터센터 %d호 소식과 모델 %d 이야기, 단어%d와 낱말%d.\n", i, i % 7, i % 11, i,
             i * 7);
    write_file(p, text);
  }
}

/* Whether FTS5 has merge work pending: a 'merge' step changes rows (fts5 docs: "if the
** delta is less than two, there was no work to do"); it is rolled back. */
static int merge_pending(fixture *fx) {
  sqlite3 *h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_int64 before = sqlite3_total_changes64(h);
  assert_int_equal(sqlite3_exec(h, "INSERT INTO articles_fts(articles_fts, rank) VALUES ('merge', 1)", NULL, NULL, NULL),
                   SQLITE_OK);
  int pending = sqlite3_total_changes64(h) - before >= 2;
  sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(h);
  return pending;
}

/* A run ends with FTS5's pending merges done (a query would read every segment they leave),
** within its budget (here all of it): 1300 small files, six transactions, automerge 4
** midway through merging the first four. */
static void store__runs_leave_no_merge_pending(void **state) {
  fixture *fx = *state;
  char p[400];
  small_files(fx, 1300);
  uint64_t saved = kftsp_bulk_bytes;
  kftsp_bulk_bytes = UINT64_MAX; /* no optimize */
  kftsp_merge_share = 1; /* a small index: closing merges, as much as the database's size */
  kftsp_merge_min_bytes = 0;
  assert_int_equal(run_index(fx, 0).articles, 1300);
  assert_false(merge_pending(fx));
  for (int i = 0; i < 1300; i += 50) {
    snprintf(p, sizeof p, "%s/n%04d.txt", fx->corpus, i);
    write_file(p, "# 바뀐 소식\n\n새 낱말과 바뀐 소식.\n");
  }
  assert_int_equal(run_index(fx, 0).files_indexed, 26);
  assert_false(merge_pending(fx));
  kftsp_bulk_bytes = saved;
  kftsp_merge_share = 32;
  kftsp_merge_min_bytes = (int64_t)64 << 20;
  sqlite3 *h = raw(fx);
  assert_consistent(h);
  sqlite3_close(h);
}

/* A first build of kftsp_bulk_bytes or more ends optimized (one segment), a smaller one and
** later runs leave FTS5's merging to automerge 4: 600 small files, three batches. */
static void store__large_first_build_optimized(void **state) {
  fixture *fx = *state;
  char p[400];
  small_files(fx, 600);
  uint64_t saved = kftsp_bulk_bytes;
  kftsp_bulk_bytes = UINT64_MAX;
  assert_int_equal(run_index(fx, 0).articles, 600);
  int64_t small = segments(fx);
  assert_true(small > 1);
  char side[320];
  unlink(fx->db);
  snprintf(side, sizeof side, "%s-wal", fx->db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", fx->db);
  unlink(side);
  kftsp_bulk_bytes = 0;
  assert_int_equal(run_index(fx, 0).articles, 600);
  kftsp_bulk_bytes = saved;
  assert_int_equal(segments(fx), 1);
  sqlite3 *h = raw(fx);
  assert_int_equal(scalar(h, "SELECT v FROM articles_fts_config WHERE k = 'automerge'"), 8);
  assert_consistent(h);
  sqlite3_close(h);
  snprintf(p, sizeof p, "%s/n0005.txt", fx->corpus);
  write_file(p, "# 소식 5\n\n바뀐 소식.\n");
  assert_int_equal(run_index(fx, 0).files_indexed, 1); /* not a first build: no optimize */
  assert_true(segments(fx) > 1);
  h = raw(fx);
  assert_int_equal(scalar(h, "SELECT v FROM articles_fts_config WHERE k = 'automerge'"), 4);
  assert_consistent(h);
  sqlite3_close(h);
  /* --optimize: one segment, nothing re-read. */
  kfts_db *db = NULL;
  kfts_error err = {0};
  if (kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_CREATE, &err)) fail_msg("open: %s", err.message);
  const char *paths[] = {fx->corpus};
  kfts_index_opts o = {.optimize = 1};
  kfts_index_stats st;
  if (kfts_index_paths(db, paths, 1, &o, &st, &err)) fail_msg("index: %s", err.message);
  kfts_db_close(db);
  assert_int_equal(st.files_indexed, 0);
  assert_int_equal(segments(fx), 1);
  write_file(p, "# 소식 5\n\n또 바뀐 소식.\n");
  assert_int_equal(run_index(fx, 0).files_indexed, 1);
  assert_true(segments(fx) > 1);
  assert_int_equal(run_index(fx, 1).files_indexed, 600); /* --full optimizes whatever the size */
  assert_int_equal(segments(fx), 1);
}

/* What a reader answers to Q into OUT ("" and a message in MSG when it fails): with FACETS
** its facets as JSON, else its page as ids and scores. */
static void answer_of(fixture *fx, const char *q, int facets, char *out, size_t n, char *msg, size_t n_msg) {
  kfts_db *db = NULL;
  kfts_error err = {0};
  if (kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_READONLY, &err)) fail_msg("open: %s", err.message);
  kfts_search_opts o;
  kfts_search_opts_init(&o);
  o.query = q;
  o.limit = 30;
  o.snippet_tokens = 0;
  kfts_result *res = NULL;
  kfts_facets *f = NULL;
  out[0] = msg[0] = 0;
  if (facets ? kfts_facets_get(&f, db, &o, &err) : kfts_search(&res, db, &o, &err))
    snprintf(msg, n_msg, "%s", err.message);
  size_t k = 0;
  for (size_t i = 0; res && i < res->n_hits && k + 64 < n; i++)
    k += (size_t)snprintf(out + k, n - k, "%lld %.17g\n", (long long)res->hits[i].id, res->hits[i].score);
  json_t *j = f ? kftsp_facets_json(f) : NULL;
  char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (js) snprintf(out, n, "%s", js);
  free(js);
  json_decref(j);
  kfts_facets_free(f);
  kfts_result_free(res);
  kfts_db_close(db);
}

static void page_of(fixture *fx, const char *q, char *out, size_t n, char *msg, size_t n_msg) {
  answer_of(fx, q, 0, out, n, msg, n_msg);
}

static void facets_of(fixture *fx, const char *q, char *out, size_t n, char *msg, size_t n_msg) {
  answer_of(fx, q, 1, out, n, msg, n_msg);
}

/* A reader's database file is mapped whole by kfts-map, past the map size SQLite grants
** (here one page, set after opening: SQLite's own map would hold no more), and reads the
** same: every page checked through the map, the same matches as a connection that reads
** with pread. When the index grows under the open handle, the next query maps the larger
** file and sees the new articles. */
static long long db_bytes(fixture *fx) {
  struct stat st;
  assert_int_equal(stat(fx->db, &st), 0);
  return (long long)st.st_size;
}

static void assert_reads_as_raw(fixture *fx, sqlite3 *mapped) {
  sqlite3 *h = raw(fx);
  const char *count = "SELECT count(*), coalesce(sum(rowid % 1000003), 0) FROM articles_fts WHERE articles_fts MATCH '모델'";
  assert_true(scalar(h, count) > 0);
  assert_int_equal(scalar(mapped, count), scalar(h, count));
  assert_int_equal(scalar(mapped, "SELECT count(*) FROM articles"), scalar(h, "SELECT count(*) FROM articles"));
  sqlite3_close(h);
}

static void store__readers_map_the_whole_file(void **state) {
  fixture *fx = *state;
  small_files(fx, 400);
  run_index(fx, 0);
  kfts_db *db = NULL;
  kfts_error err = {0};
  if (kfts_db_open(&db, NULL, fx->db, KFTS_OPEN_READONLY, &err)) fail_msg("open: %s", err.message);
  sqlite3 *h = kftsp_db_handle(db);
  assert_int_equal(sqlite3_exec(h, "PRAGMA mmap_size=16384", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA quick_check", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  assert_true(db_bytes(fx) > 16 * 16384);
  assert_int_equal(kftsp_map_bytes(h), db_bytes(fx));
  assert_reads_as_raw(fx, h);

  long long before = db_bytes(fx);
  char p[400];
  for (int i = 0; i < 800; i++) {
    snprintf(p, sizeof p, "%s/m%04d.txt", fx->corpus, i);
    char text[200];
    snprintf(text, sizeof text, "# 새 소식 %d\n\n새 모델 %d과 낱말%d 이야기가 이어진다.\n", i, i, i * 3);
    write_file(p, text);
  }
  run_index(fx, 0);
  sqlite3 *w = raw(fx);
  assert_int_equal(sqlite3_exec(w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(w);
  assert_true(db_bytes(fx) > before);
  assert_reads_as_raw(fx, h);
  assert_int_equal(kftsp_map_bytes(h), db_bytes(fx));
  kfts_db_close(db);
}

/* docvals are used when current, never when not (a run that stopped midway, a garbled
** block), and the next run rewrites them: the pages stay the same throughout. */
static void store__docvals_only_when_current(void **state) {
  fixture *fx = *state;
  run_index(fx, 0);
  char want[8192], got[8192], msg[512], fwant[8192], fgot[8192];
  page_of(fx, "AI", want, sizeof want, msg, sizeof msg);
  assert_string_equal(msg, "");
  assert_true(strlen(want) > 200);
  /* A run that stopped midway, before any block was written: readers use articles_meta, the
  ** next run writes every block. */
  sqlite3 *h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "DELETE FROM docvals; DELETE FROM meta WHERE key = 'docvals'", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(h);
  page_of(fx, "AI", got, sizeof got, msg, sizeof msg);
  assert_string_equal(msg, "");
  assert_string_equal(got, want);
  assert_int_equal(run_index(fx, 0).files_indexed, 0);
  h = raw(fx);
  assert_consistent(h);
  assert_true(scalar(h, "SELECT count(*) FROM articles_meta WHERE topics != ''") > 20); /* facetvals hold topics */
  /* Blocks of format 1 (each doc in 8 bytes, as kfts wrote them before 2026-12-01) read the same. */
  sqlite3_stmt *bl, *up;
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT block, v FROM docvals", -1, &bl, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "UPDATE docvals SET v = ?2 WHERE block = ?1", -1, &up, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  int wide = 0;
  while (sqlite3_step(bl) == SQLITE_ROW) {
    kftsp_dv_block_t b;
    const unsigned char *v = sqlite3_column_blob(bl, 1);
    int nv = sqlite3_column_bytes(bl, 1);
    assert_int_equal(kftsp_dv_decode(&b, v, nv, sqlite3_column_int64(bl, 0)), 0);
    unsigned char *w = malloc((size_t)nv + 7 * b.n);
    memcpy(w, v, 5);
    w[0] = 1;
    for (uint32_t i = 0; i < b.n; i++)
      for (int j = 0; j < 8; j++) w[5 + 8 * i + (uint32_t)j] = (unsigned char)((uint64_t)kftsp_dv_doc(&b, i) >> (8 * j));
    memcpy(w + 5 + 8 * (size_t)b.n, b.len, (size_t)nv - 5 - b.n);
    sqlite3_bind_int64(up, 1, sqlite3_column_int64(bl, 0));
    sqlite3_bind_blob(up, 2, w, nv + 7 * (int)b.n, free);
    assert_int_equal(sqlite3_step(up), SQLITE_DONE);
    sqlite3_reset(up);
    wide++;
  }
  assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_finalize(bl);
  sqlite3_finalize(up);
  assert_true(wide > 0);
  sqlite3_close(h);
  page_of(fx, "AI", got, sizeof got, msg, sizeof msg);
  assert_string_equal(msg, "");
  assert_string_equal(got, want);
  /* facetvals the same way: current only with docvals, '2' (a writer of docvals alone, kfts
  ** before them, writes '1'), a garbled block an error that names them */
  h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "UPDATE meta SET value = '1' WHERE key = 'docvals'", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  facets_of(fx, "AI", fwant, sizeof fwant, msg, sizeof msg); /* from articles_meta */
  assert_string_equal(msg, "");
  assert_non_null(strstr(fwant, "\"topic\":[{\"value\""));
  h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "UPDATE meta SET value = '2' WHERE key = 'docvals'; UPDATE facetvals SET v = x'01ff'",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(h);
  facets_of(fx, "AI", fgot, sizeof fgot, msg, sizeof msg);
  assert_non_null(strstr(msg, "facetvals"));
  h = raw(fx);
  assert_int_equal(sqlite3_exec(h,
                                "UPDATE meta SET value = '1' WHERE key = 'docvals';"
                                " INSERT INTO facet_names(kind, value) VALUES (2, '어느 글에도 없는 주제')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(h);
  assert_int_equal(run_index(fx, 0).files_indexed, 0); /* '1': every block rewritten */
  h = raw(fx);
  assert_consistent(h);
  assert_int_equal(scalar(h, "SELECT count(*) FROM facet_names WHERE value = '어느 글에도 없는 주제'"), 0); /* dropped */
  assert_true(scalar(h, "SELECT count(*) FROM facet_names WHERE kind = 2") > 5);
  sqlite3_close(h);
  facets_of(fx, "AI", fgot, sizeof fgot, msg, sizeof msg); /* from facetvals */
  assert_string_equal(msg, "");
  assert_string_equal(fgot, fwant);
  h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "UPDATE docvals SET v = x'01'", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  page_of(fx, "AI", got, sizeof got, msg, sizeof msg); /* read, and found garbled */
  assert_non_null(strstr(msg, "docvals"));
  h = raw(fx);
  assert_int_equal(sqlite3_exec(h, "DELETE FROM meta WHERE key = 'docvals'", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  page_of(fx, "AI", got, sizeof got, msg, sizeof msg); /* not current: articles_meta instead */
  assert_string_equal(msg, "");
  assert_string_equal(got, want);
  assert_int_equal(run_index(fx, 0).files_indexed, 0); /* nothing changed, all rewritten */
  h = raw(fx);
  assert_consistent(h);
  /* One file edited, a card appended: its other cards keep their docs, and only the block
  ** of the new card is rewritten, the others stay as they were (blocks of 4 articles here,
  ** so that there are many). */
  kftsp_dv_shift = 2;
  assert_int_equal(sqlite3_exec(h, "DELETE FROM meta WHERE key = 'docvals'", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  assert_int_equal(run_index(fx, 0).files_indexed, 0);
  h = raw(fx);
  assert_consistent(h);
  assert_int_equal(sqlite3_exec(h,
                                "CREATE TABLE before AS SELECT block, v FROM docvals;"
                                " CREATE TABLE olddocs AS SELECT a.doc FROM articles a JOIN files f ON f.id = a.file_id"
                                " WHERE f.path LIKE '%000_2495%'",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  assert_true(scalar(h, "SELECT count(*) FROM olddocs") > 5);
  sqlite3_close(h);
  append_card(fx, "\n---\n## 제목:\n**AI 새 카드**\n\n**요약**: AI AI 증분시험 카드\n\n**중요도**: 9점\n");
  assert_int_equal(run_index(fx, 0).files_indexed, 1);
  h = raw(fx);
  assert_consistent(h);
  assert_int_equal(scalar(h, "SELECT count(*) FROM olddocs WHERE doc NOT IN (SELECT doc FROM articles)"), 0);
  assert_int_equal(scalar(h, "SELECT count(*) FROM articles a JOIN files f ON f.id = a.file_id"
                             " WHERE f.path LIKE '%000_2495%' AND a.doc NOT IN (SELECT doc FROM olddocs)"),
                   1);
  assert_int_equal(sqlite3_exec(h,
                                "CREATE TABLE touched AS SELECT DISTINCT a.doc >> 2 AS block FROM articles a"
                                " JOIN files f ON f.id = a.file_id WHERE f.path LIKE '%000_2495%'"
                                " AND a.doc NOT IN (SELECT doc FROM olddocs)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  int64_t kept = scalar(h, "SELECT count(*) FROM before WHERE block NOT IN (SELECT block FROM touched)");
  int64_t same = scalar(h, "SELECT count(*) FROM docvals d JOIN before b USING (block) WHERE d.v = b.v");
  assert_true(kept > 10);
  assert_int_equal(same, kept);
  sqlite3_close(h);
  page_of(fx, "AI", got, sizeof got, msg, sizeof msg);
  assert_string_equal(msg, "");
  assert_string_not_equal(got, want); /* the new card ranks */
  kftsp_dv_shift = 8;
}

/* facetvals blocks with bytes changed at random: counting every article's ids ends with
** KFTS_OK or an error that names facetvals, and never reads outside a block (the sanitizer
** and valgrind runs of this test say so). */
static void store__garbled_facetvals_are_survived(void **state) {
  fixture *fx = *state;
  kftsp_dv_shift = 3; /* blocks of 8 articles: many blocks */
  run_index(fx, 0);
  sqlite3 *h = raw(fx);
  assert_consistent(h);
  int64_t blocks = scalar(h, "SELECT count(*) FROM facetvals"), n = scalar(h, "SELECT count(*) FROM articles_meta");
  assert_true(blocks > 10);
  int64_t *docs = malloc((size_t)n * sizeof *docs);
  sqlite3_stmt *st, *pick, *set;
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT doc FROM articles_meta ORDER BY doc", -1, &st, NULL), SQLITE_OK);
  for (int64_t i = 0; i < n && sqlite3_step(st) == SQLITE_ROW; i++) docs[i] = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT block, length(v) FROM facetvals ORDER BY block LIMIT 1 OFFSET ?1", -1,
                                      &pick, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "UPDATE facetvals SET v = substr(v, 1, ?2 - 1) || ?3 || substr(v, ?2 + 1)"
                                         " WHERE block = ?1",
                                      -1, &set, NULL),
                   SQLITE_OK);
  unsigned seed = 7;
  int garbled = 0;
  for (int round = 0; round < 300; round++) {
    assert_int_equal(sqlite3_exec(h, "SAVEPOINT g", NULL, NULL, NULL), SQLITE_OK);
    for (int k = 0; k < 1 + round % 3; k++)
      assert_true(garble_byte(pick, (int64_t)((garble_next(&seed) >> 8) % (unsigned)blocks), set, &seed) >= 0);
    size_t *counts = NULL, n_ids = 0, none[2];
    kfts_error err = {0};
    int64_t from = round % 2 ? n / 3 : 0; /* all, or the last two thirds */
    int rc = kftsp_fv_count(h, docs + from, (size_t)(n - from), &counts, &n_ids, none, NULL, &err);
    if (rc != KFTS_OK && !(rc == KFTS_EDB && strstr(err.message, "facetvals")))
      fail_msg("round %d: rc %d: %s", round, rc, err.message);
    garbled += rc != KFTS_OK;
    kftsp_free(counts);
    assert_int_equal(sqlite3_exec(h, "ROLLBACK TO g; RELEASE g", NULL, NULL, NULL), SQLITE_OK);
  }
  assert_true(garbled > 100); /* most of the damage was seen */
  sqlite3_finalize(pick);
  sqlite3_finalize(set);
  free(docs);
  sqlite3_close(h);
  kftsp_dv_shift = 8;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(store__first_run_indexes_everything, setup, teardown),
      cmocka_unit_test_setup_teardown(store__garbled_facetvals_are_survived, setup, teardown),
      cmocka_unit_test_setup_teardown(store__unchanged_touched_edited_deleted, setup, teardown),
      cmocka_unit_test_setup_teardown(store__edited_file_keeps_unchanged_articles, setup, teardown),
      cmocka_unit_test_setup_teardown(store__split_scan_sees_one_state, setup, teardown),
      cmocka_unit_test_setup_teardown(store__clusters_same_when_spilled, setup, teardown),
      cmocka_unit_test_setup_teardown(store__clusters_incremental, setup, teardown),
      cmocka_unit_test_setup_teardown(store__signatures_of_their_articles, setup, teardown),
      cmocka_unit_test(store__signature_estimates),
      cmocka_unit_test_setup_teardown(store__signatures_of_older_indexes, setup, teardown),
      cmocka_unit_test_setup_teardown(store__full_rebuild_keeps_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(store__bad_files_cost_only_themselves, setup, teardown),
      cmocka_unit_test_setup_teardown(store__schema_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(store__docvals_only_when_current, setup, teardown),
      cmocka_unit_test_setup_teardown(store__large_first_build_optimized, setup, teardown),
      cmocka_unit_test_setup_teardown(store__runs_leave_no_merge_pending, setup, teardown),
      cmocka_unit_test_setup_teardown(store__readers_map_the_whole_file, setup, teardown),
      cmocka_unit_test_setup_teardown(store__bodies_packed, setup, teardown),
      cmocka_unit_test_setup_teardown(store__search_first_cut, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
