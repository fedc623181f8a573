/* test_search.c -- Korean and English search on the indexed corpus, and highlights that
** mark exactly the query's characters in the original text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "kfts_int.h"

static char dir[] = "/tmp/kfts_test_search_XXXXXX";
static char db_path[300];
static kfts_db *db;

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "mkdir '%s/corpus' && cp '%s'/*.txt '%s/corpus/'", dir, KFTS_CORPUS_DIR, dir);
  if (system(cmd) != 0) return -1;
  snprintf(db_path, sizeof db_path, "%s/kfts.db", dir);
  kfts_error err;
  if (kfts_db_open(&db, NULL, db_path, KFTS_OPEN_CREATE, &err)) return -1;
  char corpus[300];
  snprintf(corpus, sizeof corpus, "%s/corpus", dir);
  const char *paths[] = {corpus};
  kfts_index_opts o = {0};
  kfts_index_stats st;
  if (kfts_index_paths(db, paths, 1, &o, &st, &err) || st.articles != 90) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  kfts_db_close(db);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static kfts_result *search1(const char *q) {
  kfts_result *r = NULL;
  kfts_error err;
  kfts_search_opts o;
  kfts_search_opts_init(&o);
  o.query = q;
  o.limit = 100;
  o.no_aliases = 1; /* the tokenizer's own matching */
  if (kfts_search(&r, db, &o, &err)) fail_msg("%s: %s", q, err.message);
  return r;
}

static int has_title(const kfts_result *r, const char *needle) {
  for (size_t i = 0; i < r->n_hits; i++)
    if (strstr(r->hits[i].title, needle)) return 1;
  return 0;
}

static void search__datacenter_any_particle_and_spacing(void **state) {
  (void)state;
  kfts_result *r = search1("데이터센터");
  /* "데이터센터의" (card), "데이터센터가" (card body), "데이터센터에서" (crawl), and the
  ** podcast item that writes "데이터 센터". */
  assert_int_equal(r->total, 4);
  assert_true(has_title(r, "AI 데이터센터 전력 용량"));
  assert_true(has_title(r, "Liquid"));
  assert_true(has_title(r, "그록 3"));
  assert_true(has_title(r, "대규모 데이터 센터(data center)"));
  kfts_result_free(r);
  /* Typed with a space or a particle, the same four. */
  r = search1("데이터 센터");
  assert_int_equal(r->total, 4);
  kfts_result_free(r);
  r = search1("데이터센터의");
  assert_int_equal(r->total, 4);
  kfts_result_free(r);
}

static void search__names_as_people_type_them(void **state) {
  (void)state;
  static const struct {
    const char *q, *title;
  } c[] = {
      {"HA-DW", "GRPO 학습 편향과 HA"}, {"ha-dw", "GRPO 학습 편향과 HA"}, {"GRPO", "GRPO 학습 편향"},
      {"gpt5", "OpenAI의 GPT-5 출시"}, {"GPT-5", "OpenAI의 GPT-5 출시"}, {"h20", "Nvidia H20 GPU"},
      {"Falcon-H1", "Falcon-H1"},       {"falcon h1", "Falcon-H1"},
  };
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(c); i++) {
    kfts_result *r = search1(c[i].q);
    if (!has_title(r, c[i].title)) fail_msg("%s did not find \"%s\"", c[i].q, c[i].title);
    kfts_result_free(r);
  }
}

static void search__two_syllable_words_and_particles(void **state) {
  (void)state;
  kfts_result *r = search1("안전");
  assert_true(r->total >= 10); /* 안전, 안전성, 안전한, 안전을 ... */
  assert_true(has_title(r, "Activation Probes"));
  kfts_result_free(r);
  /* 오픈AI finds the crawls that write 오픈AI가 / 오픈AI는. */
  r = search1("오픈AI");
  assert_true(r->total >= 5);
  assert_true(has_title(r, "오픈AI, 로봇 개발 공식화"));
  kfts_result_free(r);
  r = search1("오픈AI가");
  assert_true(r->total >= 5);
  kfts_result_free(r);
  /* One syllable: a prefix query over unigrams and bigrams. */
  r = search1("칩");
  assert_true(r->total >= 1);
  kfts_result_free(r);
  /* English inflections: "models" finds "model". */
  r = search1("models");
  assert_true(has_title(r, "Falcon-H1"));
  kfts_result_free(r);
}

/* Highlights: each marked span must be one of WANT, character for character. */
static void check_highlights(const char *match, const char *const *want, size_t n_want, int min_spans) {
  sqlite3 *h = kftsp_db_handle(db);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(h,
                                      "SELECT highlight(articles_fts, 0, '[', ']') || ' ' ||"
                                      " coalesce(highlight(articles_fts, 1, '[', ']'), '') || ' ' ||"
                                      " highlight(articles_fts, 2, '[', ']')"
                                      " FROM articles_fts WHERE articles_fts MATCH ?1",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
  int spans = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    for (const char *p = strchr(t, '['); p; p = strchr(p + 1, '[')) {
      const char *e = strchr(p, ']');
      assert_non_null(e);
      size_t len = (size_t)(e - p - 1);
      int ok = 0;
      for (size_t i = 0; i < n_want; i++) ok |= strlen(want[i]) == len && !memcmp(p + 1, want[i], len);
      if (!ok) fail_msg("%s: marked \"%.*s\"", match, (int)len, p + 1);
      spans++;
    }
  }
  sqlite3_finalize(st);
  assert_true(spans >= min_spans);
}

static void search__highlights_are_exact(void **state) {
  (void)state;
  const char *dc[] = {"데이터센터", "데이터 센터"};
  check_highlights("\"데이터센터\"", dc, 2, 5);
  check_highlights("\"데이터 센터\"", dc, 2, 5);
  const char *hadw[] = {"HA\xe2\x80\x91" "DW"}; /* written with U+2011 in the corpus */
  check_highlights("\"HA-DW\"", hadw, 1, 2);
  const char *gpt[] = {"GPT-5", "GPT\xe2\x80\x91" "5"};
  check_highlights("\"gpt5\"", gpt, 2, 2);
  const char *openai[] = {"오픈AI"};
  check_highlights("\"오픈AI\"", openai, 1, 10);
  const char *model[] = {"models", "model", "Model", "Models", "modeling"};
  check_highlights("models", model, 5, 3);
}

static kftsp_ranker *open_ranker(void) {
  kftsp_ranker_cfg cfg = {
      .fts = "articles_fts",
      .text_sql = "SELECT title, summary, body, topics FROM articles WHERE id = ?1",
      .id_range_sql = "SELECT min(id), max(id) FROM articles",
      .n_cols = 4,
      .weights = {4, 2, 1, 2},
      .candidates = 50,
      .bag_weight = 1,
      .max_df_fraction = 0.1,
      .phrase_df = 1,
      .drop_question_words = 1,
      .pair_weight = 1,
  };
  kftsp_ranker *r = NULL;
  kfts_error err;
  if (kftsp_ranker_open(&r, kftsp_db_handle(db), &cfg, &err)) fail_msg("ranker: %s", err.message);
  return r;
}

static const char *title_of(int64_t id) {
  static char buf[400];
  sqlite3_stmt *st;
  sqlite3_prepare_v2(kftsp_db_handle(db), "SELECT title FROM articles WHERE id = ?1", -1, &st, NULL);
  sqlite3_bind_int64(st, 1, id);
  buf[0] = 0;
  if (sqlite3_step(st) == SQLITE_ROW) snprintf(buf, sizeof buf, "%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

static void search__natural_questions(void **state) {
  (void)state;
  kftsp_ranker *r = open_ranker();
  static const struct {
    const char *q, *top;
  } c[] = {
      {"AI 데이터센터의 전력 소비량은 얼마인가?", "AI 데이터센터 전력 용량"},
      /* (With "축을" instead of "축" the top hit is "연구 시간 단축을 ...": a one-syllable
      ** noun keeps its particle, and "축을" is inside "단축을". A known limit.) */
      {"Assistant Axis 보조자 축 연구는 무엇인가", "Anthropic “Assistant Axis” 연구"},
      {"알트먼이 200달러 요금제 때문에 손해를 본다고 말한 이유는?", "알트먼 \"200달러 프로 요금제"},
      {"머스크는 AI 훈련 데이터가 언제 고갈됐다고 했나", "머스크 \"AI 훈련 데이터"},
  };
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(c); i++) {
    kftsp_rank_hit *h = NULL;
    size_t n = 0;
    char *plan = NULL;
    const char *w[] = {c[i].q};
    assert_int_equal(kftsp_ranker_search(r, w, 1, 10, &h, &n, &plan), SQLITE_OK);
    assert_true(n >= 1);
    if (!strstr(title_of(h[0].id), c[i].top)) fail_msg("%s: top hit \"%s\"", c[i].q, title_of(h[0].id));
    for (size_t k = 1; k < n; k++) assert_true(h[k - 1].score >= h[k].score);
    /* Interrogatives are not searched. */
    assert_null(strstr(plan, "무엇"));
    assert_null(strstr(plan, "얼마"));
    assert_null(strstr(plan, "언제"));
    kftsp_free(h);
    kftsp_free(plan);
  }
  /* Nothing searchable, or nothing found: no hits, no error. */
  const char *none[] = {"🙂 ??? 무엇인가", "존재하지않는낱말 zzzqqq"};
  for (size_t i = 0; i < 2; i++) {
    kftsp_rank_hit *h = NULL;
    size_t n = 1;
    assert_int_equal(kftsp_ranker_search(r, none + i, 1, 10, &h, &n, NULL), SQLITE_OK);
    assert_int_equal(n, 0);
    kftsp_free(h);
  }
  kftsp_ranker_close(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(search__datacenter_any_particle_and_spacing),
      cmocka_unit_test(search__names_as_people_type_them),
      cmocka_unit_test(search__two_syllable_words_and_particles),
      cmocka_unit_test(search__highlights_are_exact),
      cmocka_unit_test(search__natural_questions),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
