/* test_query.c -- the query language: what each query compiles to (the FTS5 expression,
** the SQL filters and their values), where errors point, aliases, hostile input, and the
** alias file loader and 한글(English) miner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kfts_int.h"

static const struct {
  const char *query;
  const char *fts;    /* expected FTS5 expression, NULL = none */
  const char *where;  /* expected SQL filters */
  const char *params; /* the filter values, '|'-separated */
  const char *neg;    /* expected excluded part when there is no positive one */
} ok_cases[] = {
    {"GRPO", "\"GRPO\"", "", "", NULL},
    {"데이터센터의", "\"데이터센터\"", "", "", NULL},            /* particle dropped */
    {"데이터센터 안전", "\"데이터센터\" AND \"안전\"", "", "", NULL}, /* all words */
    {"책", "\"책\"*", "", "", NULL},                              /* one syllable: prefix */
    {"\"exact phrase\"", "\"exact phrase\"", "", "", NULL},
    {"a OR b", "(\"a\" OR \"b\")", "", "", NULL},
    {"x a OR b", "\"x\" AND (\"a\" OR \"b\")", "", "", NULL}, /* OR binds tighter */
    {"a OR b OR c", "(\"a\" OR \"b\" OR \"c\")", "", "", NULL},
    {"x -y", "\"x\" NOT (\"y\")", "", "", NULL},
    {"x NOT y", "\"x\" NOT (\"y\")", "", "", NULL},
    {"x -y -\"z w\"", "\"x\" NOT (\"y\" OR \"z w\")", "", "", NULL},
    {"(a b) OR c", "((\"a\" AND \"b\") OR \"c\")", "", "", NULL},
    {"x (a -b)", "\"x\" AND (\"a\" NOT \"b\")", "", "", NULL},
    {"gpt*", "\"gpt\"*", "", "", NULL},
    {"title:GRPO", "title : (\"GRPO\")", "", "", NULL},
    {"topic:\"AI 안전\"", "topics : (\"AI 안전\")", "", "", NULL},
    {"title:(a OR b)", "title : ((\"a\" OR \"b\"))", "", "", NULL},
    {"TITLE:x", "title : (\"x\")", "", "", NULL},
    /* Hostile or odd input: literal words. */
    {"C++", "\"C++\"", "", "", NULL},
    {"NEAR(", "\"NEAR(\"", "", "", NULL},
    {"a:b", "\"a:b\"", "", "", NULL},
    {"AND", "\"AND\"", "", "", NULL},
    {"OR x", "\"OR\" AND \"x\"", "", "", NULL},
    {"x OR", "\"x\" AND \"OR\"", "", "", NULL},
    {"a AND b", "\"a\" AND \"b\"", "", "", NULL},
    {"\"unbalanced", "\"unbalanced\"", "", "", NULL}, /* an unclosed quote runs to the end */
    {"a\"b", "\"a\" AND \"b\"", "", "", NULL},
    {"GRPO 🚀 * -", "\"GRPO\"", "", "", NULL}, /* nothing indexable: dropped */
    {"x)", "\"x)\"", "", "", NULL},             /* ')' outside a group is literal */
    {"()", NULL, "", "", NULL},                 /* see error cases: nothing to search */
    /* Filters. */
    {"source:threads", NULL, " AND (a.source = ?1 COLLATE NOCASE)", "threads", NULL},
    {"source:\"last week\" x", "\"x\"", " AND (a.source = ?1 COLLATE NOCASE)", "last week", NULL},
    {"date:2025-02", NULL, " AND (a.date BETWEEN ?1 AND ?2)", "2025-02-01|2025-02-28", NULL},
    {"date:2024-02", NULL, " AND (a.date BETWEEN ?1 AND ?2)", "2024-02-01|2024-02-29", NULL},
    {"date:2025", NULL, " AND (a.date BETWEEN ?1 AND ?2)", "2025-01-01|2025-12-31", NULL},
    {"date:2025-01-10", NULL, " AND (a.date BETWEEN ?1 AND ?2)", "2025-01-10|2025-01-10", NULL},
    {"date:2025-01-01..2025-03", NULL, " AND (a.date >= ?1 AND a.date <= ?2)", "2025-01-01|2025-03-31", NULL},
    {"date:..2025-03", NULL, " AND (a.date <= ?1)", "2025-03-31", NULL},
    {"since:2025-01", NULL, " AND (a.date >= ?1)", "2025-01-01", NULL},
    {"until:2025", NULL, " AND (a.date <= ?1)", "2025-12-31", NULL},
    {"importance:>=8", NULL, " AND (a.importance >= ?1)", "8", NULL},
    {"importance:<3", NULL, " AND (a.importance < ?1)", "3", NULL},
    {"importance:10", NULL, " AND (a.importance = ?1)", "10", NULL},
    {"importance:7..9", NULL, " AND (a.importance BETWEEN ?1 AND ?2)", "7|9", NULL},
    {"-source:threads x", "\"x\"", " AND NOT coalesce((a.source = ?1 COLLATE NOCASE), 0)", "threads", NULL},
    {"x since:2025 importance:>5", "\"x\"", " AND (a.date >= ?1) AND (a.importance > ?2)", "2025-01-01|5", NULL},
    /* Only exclusions. */
    {"-x", NULL, "", "", "\"x\""},
    {"-x -y source:s", NULL, " AND (a.source = ?1 COLLATE NOCASE)", "s", "\"x\" OR \"y\""},
};

static void params_str(const kftsp_query *q, char *out, size_t cap) {
  out[0] = 0;
  for (size_t i = 0; i < q->n_params; i++) {
    size_t k = strlen(out);
    if (q->params[i].is_int) snprintf(out + k, cap - k, "%s%lld", i ? "|" : "", (long long)q->params[i].i);
    else snprintf(out + k, cap - k, "%s%s", i ? "|" : "", q->params[i].text);
  }
}

static void query__compiles(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof ok_cases / sizeof *ok_cases; i++) {
    kftsp_query *q = NULL;
    kfts_error err = {0};
    const char *t = ok_cases[i].query;
    int rc = kftsp_query_compile(&q, t, strlen(t), NULL, &err);
    if (!strcmp(t, "()")) { /* nothing searchable */
      assert_int_equal(rc, KFTS_EUSAGE);
      continue;
    }
    if (rc) fail_msg("case %zu '%s': %s", i, t, err.message);
    if (ok_cases[i].fts == NULL) {
      if (q->fts) fail_msg("case %zu '%s': fts %s, expected none", i, t, q->fts);
    } else if (!q->fts || strcmp(q->fts, ok_cases[i].fts)) {
      fail_msg("case %zu '%s': fts [%s], expected [%s]", i, t, q->fts ? q->fts : "(null)", ok_cases[i].fts);
    }
    if (strcmp(q->where, ok_cases[i].where)) fail_msg("case %zu '%s': where [%s]", i, t, q->where);
    char p[256];
    params_str(q, p, sizeof p);
    if (strcmp(p, ok_cases[i].params)) fail_msg("case %zu '%s': params [%s]", i, t, p);
    const char *neg = q->fts ? NULL : q->fts_neg;
    if ((neg == NULL) != (ok_cases[i].neg == NULL) || (neg && strcmp(neg, ok_cases[i].neg)))
      fail_msg("case %zu '%s': neg [%s]", i, t, neg ? neg : "(null)");
    kftsp_query_free(q);
  }
}

static const struct {
  const char *query;
  int column;         /* expected position (characters, 1-based); 0 = none */
  const char *substr; /* in the message */
} bad_cases[] = {
    {"(GRPO", 1, "never closed"},
    {"x (a b", 3, "never closed"},
    {"(a OR source:x)", 7, "filters apply to the whole query"},
    {"x title:source:y", 9, "filter cannot be inside"},
    {"date:2025-13", 1, "expected a date"},
    {"x date:2025-02-30", 3, "expected a date"},
    {"date:2025-02..2025-01", 1, "ends before it starts"},
    {"since:yesterday", 1, "expected a date"},
    {"importance:11", 1, "importance"},
    {"importance:7..x", 1, "importance"},
    {"importance:9..7", 1, "importance"},
    {"source:", 1, "source"},
    {"title:", 1, "needs a word"},
    {"데이터 (-y)", 5, "not excluded"},
    {"a OR -b", 6, "cannot be an alternative of OR"},
    {"*", 0, "nothing to search for"},
    {"🚀", 0, "nothing to search for"},
    {"", 0, "nothing to search for"},
    {"\xff\xfe", 0, "not valid UTF-8"},
};

static void query__errors_name_the_position(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
    kftsp_query *q = NULL;
    kfts_error err = {0};
    const char *t = bad_cases[i].query;
    int rc = kftsp_query_compile(&q, t, strlen(t), NULL, &err);
    if (rc != KFTS_EUSAGE) fail_msg("case %zu '%s': rc %d, expected a usage error", i, t, rc);
    if (err.column != bad_cases[i].column)
      fail_msg("case %zu '%s': column %d, expected %d (%s)", i, t, err.column, bad_cases[i].column, err.message);
    if (!strstr(err.message, bad_cases[i].substr)) fail_msg("case %zu '%s': message '%s'", i, t, err.message);
    assert_null(q);
  }
}

static void query__aliases_expand_words(void **state) {
  (void)state;
  kftsp_aliases *a = NULL;
  kfts_error err = {0};
  assert_int_equal(kftsp_aliases_new(&a), KFTS_OK);
  const char *js = "{\"aliases\": [[\"OpenAI\", \"오픈AI\"], [\"Anthropic\", \"앤트로픽\"], [\"앤트로픽\", \"엔트로픽\"],"
                   " [\"데이터센터\", \"데이터 센터\", \"data center\", \"Data  Center\"]]}";
  assert_int_equal(kftsp_aliases_add_json(a, js, strlen(js), "test", &err), KFTS_OK);
  static const struct {
    const char *q, *fts;
  } c[] = {
      {"오픈AI가", "(\"오픈AI\" OR \"OpenAI\")"},       /* particle dropped, then looked up */
      {"openai", "(\"openai\" OR \"오픈AI\")"},          /* case folded */
      {"엔트로픽", "(\"엔트로픽\" OR \"Anthropic\" OR \"앤트로픽\")"}, /* groups sharing a name merge */
      {"\"오픈AI\"", "\"오픈AI\""},                      /* phrases are exact */
      {"오픈*", "\"오픈\"*"},                             /* so are prefixes */
      {"title:Anthropic", "title : ((\"Anthropic\" OR \"앤트로픽\" OR \"엔트로픽\"))"},
      /* aliases that read as the same tokens as one before them are left out */
      {"데이터센터의", "(\"데이터센터\" OR \"data center\")"},
      {"데이터 센터", "\"데이터\" AND \"센터\""}, /* two words: no alias of either */
  };
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    kftsp_query *q = NULL;
    assert_int_equal(kftsp_query_compile(&q, c[i].q, strlen(c[i].q), a, &err), KFTS_OK);
    if (strcmp(q->fts, c[i].fts)) fail_msg("'%s': [%s], expected [%s]", c[i].q, q->fts, c[i].fts);
    kftsp_query_free(q);
  }
  /* The phrase count of a part is what kfts_coverage() relies on. */
  kftsp_query *q = NULL;
  assert_int_equal(kftsp_query_compile(&q, "엔트로픽 GRPO", strlen("엔트로픽 GRPO"), a, &err), KFTS_OK);
  assert_int_equal(q->n_conj, 2);
  assert_int_equal(q->conj[0].phrases, 3);
  assert_int_equal(q->conj[1].phrases, 1);
  kftsp_query_free(q);
  assert_int_equal(kftsp_query_compile(&q, "데이터센터", strlen("데이터센터"), a, &err), KFTS_OK);
  assert_int_equal(q->conj[0].phrases, 2);
  kftsp_query_free(q);
  assert_true(kftsp_aliases_same(a, "ANTHROPIC", "엔트로픽"));
  assert_false(kftsp_aliases_same(a, "OpenAI", "엔트로픽"));
  kftsp_aliases_free(a);
}

static void query__alias_files_are_checked(void **state) {
  (void)state;
  kftsp_aliases *a = NULL;
  kfts_error err = {0};
  assert_int_equal(kftsp_aliases_new(&a), KFTS_OK);
  assert_int_equal(kftsp_aliases_add_builtin(a, &err), KFTS_OK);
  const char *out[64];
  size_t n = kftsp_aliases_find(a, "앤트로픽", strlen("앤트로픽"), out, 64);
  int has = 0;
  for (size_t i = 0; i < n; i++) has |= !strcmp(out[i], "Anthropic");
  assert_true(has);
  static const char *const bad[] = {"{", "[[\"a\"]]", "[[\"a\", 1]]", "{\"aliases\": 3}", "[[\"a\", \"\"]]"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(kftsp_aliases_add_json(a, bad[i], strlen(bad[i]), "x.json", &err), KFTS_EUSAGE);
    assert_string_equal(err.source, "x.json");
  }
  assert_int_equal(kftsp_aliases_add_file(a, "/nonexistent/aliases.json", &err), KFTS_EIO);
  kftsp_aliases_free(a);
}

typedef struct got {
  char buf[1024];
} got;

static int on_pair(void *ctx, const char *ko, size_t kn, const char *en, size_t en_n) {
  got *g = ctx;
  size_t k = strlen(g->buf);
  snprintf(g->buf + k, sizeof g->buf - k, "[%.*s|%.*s]", (int)kn, ko, (int)en_n, en);
  return 0;
}

static void query__mines_korean_english_pairs(void **state) {
  (void)state;
  static const struct {
    const char *text, *pairs;
  } c[] = {
      {"대규모 데이터 센터(data center) 구축", "[데이터 센터|data center]"},
      {"AI 정렬(alignment) 연구", "[정렬|alignment]"},
      {"Anthropic(앤트로픽)은", "[앤트로픽|Anthropic]"},
      {"감사 에이전트(auditing agents)", "[감사 에이전트|auditing agents]"},
      {"정렬 (alignment)", "[정렬|alignment]"},       /* a space before '(' */
      {"GPU(41 %)", ""},                              /* not a name */
      {"모델(GPT-5와)", ""},                           /* mixed inside */
      {"(alignment)", ""},                            /* nothing before */
      {"x(y", ""},                                    /* unclosed */
      {"오정렬(misalignment)을 테스트", "[오정렬|misalignment]"},
  };
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    got g = {""};
    kftsp_mine_pairs(c[i].text, strlen(c[i].text), on_pair, &g);
    if (strcmp(g.buf, c[i].pairs)) fail_msg("'%s': %s, expected %s", c[i].text, g.buf, c[i].pairs);
  }
}

static void query__huge_input(void **state) {
  (void)state;
  /* 10 KB of words and operators compiles (every word ANDed), as does junk. */
  size_t n = 10240;
  char *t = malloc(n + 1);
  assert_non_null(t);
  for (size_t i = 0; i < n; i++) t[i] = "ab OR c -d (e) \"f"[i % 17];
  t[n] = 0;
  kftsp_query *q = NULL;
  kfts_error err = {0};
  int rc = kftsp_query_compile(&q, t, n, NULL, &err);
  if (rc != KFTS_OK && rc != KFTS_EUSAGE) fail_msg("rc %d", rc);
  kftsp_query_free(q);
  for (size_t i = 0; i < n; i++) t[i] = (char)(1 + (i * 7919) % 127); /* NUL-free ASCII junk */
  rc = kftsp_query_compile(&q, t, n, NULL, &err);
  assert_true(rc == KFTS_OK || rc == KFTS_EUSAGE);
  if (rc == KFTS_EUSAGE) assert_true(strlen(err.message) > 0);
  kftsp_query_free(q);
  free(t);
}

static void query__out_of_memory(void **state) {
  (void)state;
  const char *t = "x a OR b -c title:(d e) source:s date:2025-01..2025-02 importance:>=3";
  for (long k = 1; k < 200; k++) {
    kftsp_query *q = NULL;
    kfts_error err = {0};
    kftsp_alloc_fail_after(k);
    int rc = kftsp_query_compile(&q, t, strlen(t), NULL, &err);
    kftsp_alloc_fail_after(0);
    if (rc == KFTS_OK) {
      kftsp_query_free(q);
      return; /* every allocation before this one was failed once and handled */
    }
    assert_int_equal(rc, KFTS_ENOMEM);
  }
  fail_msg("did not succeed within 200 allocations");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(query__compiles),
      cmocka_unit_test(query__errors_name_the_position),
      cmocka_unit_test(query__aliases_expand_words),
      cmocka_unit_test(query__alias_files_are_checked),
      cmocka_unit_test(query__mines_korean_english_pairs),
      cmocka_unit_test(query__huge_input),
      cmocka_unit_test(query__out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
