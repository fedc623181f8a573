/* test_format.c -- the format parsers, on the real corpus files and on small edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kfts_int.h"

static kfts_doc *parse_corpus(const char *prefix) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", KFTS_CORPUS_DIR, prefix);
  kfts_doc *d = NULL;
  kfts_error err = {0};
  int rc = kfts_parse_path(&d, path, NULL, &err);
  if (rc) fail_msg("%s: %s", path, err.message);
  return d;
}

static kfts_doc *parse_str(const char *text, const kfts_file_opts *o) {
  kfts_doc *d = NULL;
  kfts_error err = {0};
  int rc = kfts_parse(&d, "t.txt", text, strlen(text), o, &err);
  if (rc) fail_msg("parse: %s", err.message);
  return d;
}

static int has_diag(const kfts_doc *d, int line, const char *needle) {
  for (size_t i = 0; i < d->n_diags; i++)
    if ((line < 0 || d->diags[i].line == line) && strstr(d->diags[i].message, needle)) return 1;
  return 0;
}

static void format__cards_corpus(void **state) {
  (void)state;
  kfts_doc *d = parse_corpus("000_249548529e868bab.txt");
  assert_string_equal(d->format, "cards");
  assert_int_equal(d->n_articles, 10);
  assert_int_equal(d->n_diags, 0);
  static const int imp[] = {10, 9, 9, 8, 7, 7, 7, 6, 5, 5};
  int day20 = 0, day21 = 0;
  for (size_t i = 0; i < 10; i++) {
    kfts_article *a = &d->articles[i];
    assert_int_equal(a->importance, imp[i]);
    assert_string_equal(a->source, "threads");
    assert_non_null(a->url);
    assert_non_null(a->summary);
    assert_true(a->n_topics >= 2);
    if (!strcmp(a->date, "2026-01-20")) day20++;
    if (!strcmp(a->date, "2026-01-21")) day21++;
    if (i == 3) {
      assert_string_equal(a->date, "2026-01-20");
      assert_string_equal(a->date_source, "inferred");
      assert_null(a->published_at);
    } else {
      assert_string_equal(a->date_source, "url");
      assert_non_null(a->published_at);
    }
  }
  assert_int_equal(day20 - 1, 5); /* five decoded, plus card 4 inferred */
  assert_int_equal(day21, 4);
  kfts_article *a = &d->articles[0];
  assert_string_equal(a->title, "AI 데이터센터 전력 용량 30\xe2\x80\xafGW 도달 – 전 세계 전력 수요와 동등"); /* U+202F as written */
  assert_string_equal(a->published_at, "2026-01-20T21:00:06.544Z");
  assert_string_equal(a->topics[0], "AI 인프라");
  assert_string_equal(a->topics[1], "데이터센터");
  assert_string_equal(a->topics[2], "에너지 정책");
  assert_int_equal(a->line, 3);
  assert_null(strstr(a->body, "**"));
  assert_null(strstr(a->body, "cdninstagram"));
  assert_string_equal(d->articles[2].title, "Anthropic “Assistant Axis” 연구 – AI 캐릭터 변동성 원인 규명");
  kfts_doc_free(d);
}

static void format__podcast_corpus(void **state) {
  (void)state;
  kfts_doc *d = parse_corpus("001_1d972a4ae2a071b3.txt");
  assert_string_equal(d->format, "podcast");
  assert_int_equal(d->n_articles, 28);
  assert_int_equal(d->n_diags, 0);
  kfts_article *desc = &d->articles[0];
  assert_int_equal(desc->line, 1);
  assert_null(desc->time_offset);
  assert_non_null(strstr(desc->body, "Andrey Kurenkov"));
  assert_null(strstr(desc->body, "타임스탬프 + 링크"));
  for (size_t i = 0; i < 28; i++) {
    assert_string_equal(d->articles[i].date, "2025-08-08");
    assert_string_equal(d->articles[i].date_source, "text");
    assert_string_equal(d->articles[i].source, "lastweekinai");
  }
  kfts_article *gpt5 = &d->articles[3];
  assert_string_equal(gpt5->time_offset, "00:03:07");
  assert_string_equal(gpt5->title, "OpenAI의 GPT-5 출시가 가져올 패러다임 변화");
  assert_int_equal(gpt5->n_topics, 1);
  assert_string_equal(gpt5->topics[0], "도구 및 앱(Tools & Apps)");
  assert_non_null(strstr(gpt5->body, "대규모 언어 모델(LLM)"));
  assert_string_equal(d->articles[27].time_offset, "01:42:35");
  assert_string_equal(d->articles[27].topics[0], "정책 및 안전(Policy & Safety)");
  kfts_doc_free(d);
}

static void format__crawl_corpus(void **state) {
  (void)state;
  kfts_doc *d = parse_corpus("002_3a5d261447ef4f8e.txt");
  assert_string_equal(d->format, "crawl");
  assert_int_equal(d->n_articles, 10);
  for (size_t i = 0; i < 10; i++) {
    assert_string_equal(d->articles[i].date, "2025-01-10");
    assert_string_equal(d->articles[i].date_source, "front matter");
    assert_string_equal(d->articles[i].source, "aitimes");
    assert_non_null(d->articles[i].url);
    assert_null(strstr(d->articles[i].body, "URL:"));
    assert_null(strstr(d->articles[i].body, "셔터스톡"));
    assert_null(strstr(d->articles[i].body, "![")); /* image links gone */
  }
  assert_string_equal(d->articles[0].title, "알트먼 \"200달러 프로 요금제 사용자 너무 많아...회사가 오히려 손해\"");
  assert_string_equal(d->articles[0].url, "https://www.aitimes.com/news/articleView.html?idxno=166899");
  assert_int_equal(d->articles[0].line, 7);
  kfts_doc_free(d);
  d = parse_corpus("004_0a40307ca3747989.txt");
  assert_int_equal(d->n_articles, 6);
  assert_string_equal(d->articles[5].date, "2025-01-13");
  kfts_doc_free(d);
}

static void format__newsletter_corpus(void **state) {
  (void)state;
  kfts_doc *d = parse_corpus("003_f122e9514bddfdc9.txt");
  assert_string_equal(d->format, "newsletter");
  assert_int_equal(d->n_articles, 36);
  assert_int_equal(d->articles[0].line, 1);
  assert_string_equal(d->articles[1].title, "기술 발전의 조직적 활용");
  assert_string_equal(d->articles[3].title, "DLM 성능 향상의 주요 요인"); /* trailing ':' dropped */
  assert_string_equal(d->articles[35].title, "마무리하며");
  for (size_t i = 0; i < 36; i++) {
    assert_null(d->articles[i].date);
    assert_null(d->articles[i].source);
    assert_true(strlen(d->articles[i].body) > 0);
  }
  kfts_doc_free(d);
}

static void format__manifest_defaults_fill_gaps(void **state) {
  (void)state;
  const char *topics[] = {"newsletter"};
  kfts_file_opts o = {.source = "thebatch", .date = "2025-11-05", .topics = topics, .n_topics = 1};
  kfts_doc *d = parse_str("**One**\nbody one\n\n**Two**\nbody two\n\n**Three**\nthree\n", &o);
  assert_string_equal(d->format, "newsletter");
  assert_int_equal(d->n_articles, 3);
  assert_string_equal(d->articles[0].source, "thebatch");
  assert_string_equal(d->articles[0].date, "2025-11-05");
  assert_string_equal(d->articles[0].date_source, "manifest");
  assert_string_equal(d->articles[2].topics[0], "newsletter");
  kfts_doc_free(d);
  /* The text's own date wins over the manifest's. */
  d = parse_str("---\ndate: 250110\nsource: aitimes\n---\n\n## [1] A\n\nURL: https://x.kr/1\n\ntext\n", &o);
  assert_string_equal(d->articles[0].date, "2025-01-10");
  assert_string_equal(d->articles[0].source, "aitimes");
  kfts_doc_free(d);
  /* A forced format. */
  kfts_file_opts f = {.format = "text"};
  d = parse_str("**One**\nbody one\n\n**Two**\nbody two\n\n**Three**\nthree\n", &f);
  assert_string_equal(d->format, "text");
  assert_int_equal(d->n_articles, 1);
  kfts_doc_free(d);
}

static const char card_tpl[] =
    "## 제목:\n**Card one**\n\n**요약**: summary one\n\n**관련분야**: A·B\n\n**중요도**: %s\n\n"
    "**전체링크** :  https://www.threads.net/@x/post/DTvy4cbil2v\n\n---\n\n"
    "## 제목:\n**Card two**\n\n**요약**: summary two\n\n**중요도**: 3점\n\n"
    "**전체링크** : https://www.threads.net/@x/post/DTc5ny\n";

static void format__cards_line_endings_and_bom(void **state) {
  (void)state;
  char lf[1024], crlf[2048], cr[1024];
  snprintf(lf, sizeof lf, card_tpl, "9점");
  size_t k = 0, j = 0;
  memcpy(crlf, "\xEF\xBB\xBF", 3), k = 3;
  for (size_t i = 0; lf[i]; i++) {
    if (lf[i] == '\n') crlf[k++] = '\r';
    crlf[k++] = lf[i];
    cr[j++] = lf[i] == '\n' ? '\r' : lf[i];
  }
  crlf[k] = 0;
  cr[j] = 0;
  const char *variants[] = {lf, crlf, cr};
  for (size_t v = 0; v < 3; v++) {
    kfts_doc *d = parse_str(variants[v], NULL);
    assert_string_equal(d->format, "cards");
    assert_int_equal(d->n_articles, 2);
    assert_string_equal(d->articles[0].title, "Card one");
    assert_int_equal(d->articles[0].line, 1);
    assert_int_equal(d->articles[1].line, 14);
    assert_int_equal(d->articles[0].importance, 9);
    assert_int_equal(d->articles[1].importance, 3);
    assert_string_equal(d->articles[0].date, "2026-01-21");
    /* The second link is truncated: the file's date, inferred. */
    assert_string_equal(d->articles[1].date, "2026-01-21");
    assert_string_equal(d->articles[1].date_source, "inferred");
    assert_null(strchr(d->articles[0].summary, '\r'));
    kfts_doc_free(d);
  }
}

static void format__cards_bad_importance(void **state) {
  (void)state;
  static const char *bad[] = {"열점", "99점", "-1점", "9.5점", "11"};
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(bad); i++) {
    char text[1024];
    snprintf(text, sizeof text, card_tpl, bad[i]);
    kfts_doc *d = parse_str(text, NULL);
    assert_int_equal(d->n_articles, 2);
    assert_int_equal(d->articles[0].importance, -1);
    assert_true(has_diag(d, 8, "중요도"));
    assert_int_equal(d->articles[1].importance, 3);
    kfts_doc_free(d);
  }
  static const char *good[] = {"0점", "10점", "7 점", "8/10", "**6점**"};
  static const int want[] = {0, 10, 7, 8, 6};
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(good); i++) {
    char text[1024];
    snprintf(text, sizeof text, card_tpl, good[i]);
    kfts_doc *d = parse_str(text, NULL);
    assert_int_equal(d->articles[0].importance, want[i]);
    assert_int_equal(d->n_diags, 0);
    kfts_doc_free(d);
  }
}

static void format__cards_missing_fields(void **state) {
  (void)state;
  /* No 중요도, no title, no link; then a duplicate of the first card. */
  kfts_doc *d = parse_str("## 제목:\n**Only title**\n\n**요약**: s\n\n**전체링크**: https://threads.net/@a/post/DTvy4cbil2v\n"
                          "---\n**요약**: a card without a title. It has text.\n\n**중요도**: 5점\n"
                          "---\n## 제목:\n**Only title**\n\n**요약**: s\n\n**전체링크**: https://threads.net/@a/post/DTvy4cbil2v\n"
                          "---\n   \n",
                          NULL);
  assert_int_equal(d->n_articles, 2);
  assert_int_equal(d->articles[0].importance, -1);
  assert_string_equal(d->articles[1].title, "a card without a title.");
  assert_true(has_diag(d, 8, "no 제목"));
  assert_true(has_diag(d, 12, "duplicate of the card at line 1"));
  /* The untitled card has no link: it still gets the file's date. */
  assert_string_equal(d->articles[1].date_source, "inferred");
  kfts_doc_free(d);
}

static void format__crawl_bad_front_matter(void **state) {
  (void)state;
  kfts_doc *d = parse_str("---\ndate: 251399\nsource: aitimes\ncrawled_at: 2025-01-13T09:59:29\n---\n"
                          "intro text\n\n## [1] First\nURL: https://www.aitimes.com/1\nbody\n",
                          NULL);
  assert_string_equal(d->format, "crawl");
  assert_true(has_diag(d, 2, "251399"));
  assert_int_equal(d->n_articles, 2); /* the intro is searchable too */
  assert_int_equal(d->articles[0].line, 6);
  assert_string_equal(d->articles[1].date, "2025-01-13");
  assert_string_equal(d->articles[1].date_source, "crawled");
  kfts_doc_free(d);
  d = parse_str("---\ndate: 250110\nsource: x\n\n## [1] First\nbody\n", NULL);
  assert_true(has_diag(d, 1, "never closes"));
  assert_string_equal(d->format, "crawl");
  assert_int_equal(d->n_articles, 1);
  assert_non_null(strstr(d->articles[0].body, "body"));
  kfts_doc_free(d);
}

static void format__plain_text_and_markdown(void **state) {
  (void)state;
  kfts_doc *d = parse_str("\n\n# A heading with [a link](https://e.com)\n\nSome **bold** text.\n", NULL);
  assert_string_equal(d->format, "text");
  assert_int_equal(d->n_articles, 1);
  assert_string_equal(d->articles[0].title, "A heading with a link");
  assert_string_equal(d->articles[0].body, "Some bold text.");
  assert_int_equal(d->articles[0].line, 3);
  kfts_doc_free(d);
  d = parse_str("첫 줄이 제목입니다\n둘째 줄\n", NULL);
  assert_string_equal(d->articles[0].title, "첫 줄이 제목입니다");
  kfts_doc_free(d);
}

/* An article over KFTSP_MAX_PART bytes becomes parts "title (k/N)" of at most that much,
** cut after a newline, each with the article's metadata; together they are the body. */
static void format__huge_article_in_parts(void **state) {
  (void)state;
  kftsp_buf b = {0};
  kftsp_buf_adds(&b, "---\ndate: 250110\nsource: aitimes\n---\n\n## [1] 큰 기사\n\n");
  size_t head = b.n;
  for (int i = 0; b.n - head < 3 * KFTSP_MAX_PART + KFTSP_MAX_PART / 2; i++)
    kftsp_buf_printf(&b, "문단 %d 데이터센터 전력 인공지능 모델이 학습한다.\n\n", i);
  kftsp_buf_adds(&b, "## [2] 작은 기사\n\n본문\n");
  assert_false(b.oom);
  kfts_doc *d = parse_str(b.p, NULL);
  assert_int_equal(d->n_articles, 5);
  kftsp_buf all = {0};
  for (size_t i = 0; i < 4; i++) {
    const kfts_article *a = &d->articles[i];
    char want[64];
    snprintf(want, sizeof want, "큰 기사 (%zu/4)", i + 1);
    assert_string_equal(a->title, want);
    assert_true(strlen(a->body) <= KFTSP_MAX_PART);
    assert_true(strlen(a->body) >= KFTSP_MAX_PART / 2 || i == 3);
    assert_string_equal(a->date, "2025-01-10");
    assert_string_equal(a->source, "aitimes");
    assert_true(i == 0 || a->line > d->articles[i - 1].line);
    kftsp_buf_adds(&all, a->body);
  }
  assert_string_equal(d->articles[4].title, "작은 기사");
  /* The parts, end to end, are what one article's body would have been. */
  assert_int_equal(strncmp(all.p, "문단 0 데이터센터", strlen("문단 0 데이터센터")), 0);
  assert_non_null(strstr(all.p + all.n - 200, "학습한다."));
  for (size_t i = 0; i + 1 < 4; i++) assert_true(d->articles[i].body[strlen(d->articles[i].body) - 1] == '\n');
  kftsp_buf_reset(&all);
  kfts_doc_free(d);
  kftsp_buf_reset(&b);
}

static void format__empty_and_invalid_input(void **state) {
  (void)state;
  kfts_doc *d = parse_str("", NULL);
  assert_int_equal(d->n_articles, 0);
  assert_true(has_diag(d, 0, "empty"));
  kfts_doc_free(d);
  d = parse_str(" \n\t\n", NULL);
  assert_int_equal(d->n_articles, 0);
  kfts_doc_free(d);

  kfts_error err = {0};
  d = NULL;
  const char latin1[] = "first line\nsecond \xe9t\xe9 line\n";
  assert_int_equal(kfts_parse(&d, "l1.txt", latin1, sizeof latin1 - 1, NULL, &err), KFTS_EINPUT);
  assert_null(d);
  assert_int_equal(err.line, 2);
  assert_non_null(strstr(err.message, "UTF-8"));
  const char nul[] = "abc\0def";
  assert_int_equal(kfts_parse(&d, "n.txt", nul, sizeof nul - 1, NULL, &err), KFTS_EINPUT);
  assert_non_null(strstr(err.message, "NUL"));
  /* Overlong and surrogate encodings are not UTF-8. */
  assert_int_equal(kfts_parse(&d, "o.txt", "\xC0\xAF", 2, NULL, &err), KFTS_EINPUT);
  assert_int_equal(kfts_parse(&d, "s.txt", "\xED\xA0\x80", 3, NULL, &err), KFTS_EINPUT);
  assert_int_equal(kfts_parse(&d, "t.txt", "\xE2\x82", 2, NULL, &err), KFTS_EINPUT);
}

static void format__out_of_memory_is_clean(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/000_249548529e868bab.txt", KFTS_CORPUS_DIR);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char text[1 << 16];
  size_t len = fread(text, 1, sizeof text, f);
  fclose(f);
  /* Fail each allocation in turn: every run ends in KFTS_OK or KFTS_ENOMEM, never a crash
  ** or leak (valgrind and ASan check the latter). */
  int saw_ok = 0;
  for (long n = 1; n < 5000 && !saw_ok; n++) {
    kfts_doc *d = NULL;
    kftsp_alloc_fail_after(n);
    int rc = kfts_parse(&d, "c.txt", text, len, NULL, NULL);
    kftsp_alloc_fail_after(0);
    assert_true(rc == KFTS_OK || rc == KFTS_ENOMEM);
    if (rc == KFTS_OK) {
      saw_ok = 1;
      assert_int_equal(d->n_articles, 10);
    } else {
      assert_null(d);
    }
    kfts_doc_free(d);
  }
  assert_true(saw_ok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(format__cards_corpus),
      cmocka_unit_test(format__podcast_corpus),
      cmocka_unit_test(format__crawl_corpus),
      cmocka_unit_test(format__newsletter_corpus),
      cmocka_unit_test(format__manifest_defaults_fill_gaps),
      cmocka_unit_test(format__cards_line_endings_and_bom),
      cmocka_unit_test(format__cards_bad_importance),
      cmocka_unit_test(format__cards_missing_fields),
      cmocka_unit_test(format__crawl_bad_front_matter),
      cmocka_unit_test(format__plain_text_and_markdown),
      cmocka_unit_test(format__huge_article_in_parts),
      cmocka_unit_test(format__empty_and_invalid_input),
      cmocka_unit_test(format__out_of_memory_is_clean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
