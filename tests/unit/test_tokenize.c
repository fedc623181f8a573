/* test_tokenize.c -- the kfts tokenizer: full token streams (text, byte offsets, colocation)
** for documents and queries, offsets on huge and broken input, an xToken failing midway,
** arguments. The table's expected streams are written as "text@start-end", '+' marking a
** token colocated with the one before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kfts_int.h"

static const struct {
  int query;            /* 1: FTS5_TOKENIZE_QUERY, else DOCUMENT */
  const char *input;
  const char *expected; /* tokens as "text@start-end", space-separated */
} cases[] = {
    {0, "", ""}, /* empty */
    {0, "   \x09  ", ""}, /* spaces only */
    {0, "hello", "hello@0-5"}, /* ascii word */
    {0, "Hello WORLD", "hello@0-5 world@6-11"}, /* case folded */
    {0, "  hello,world!  ", "hello@2-7 world@8-13"}, /* punctuation separates */
    {0, "2025", "2025@0-4"}, /* digits */
    {0, "H100", "h@0-1 100@1-4"}, /* letter/digit split */
    {0, "h100", "h@0-1 100@1-4"}, /* lower case the same */
    {0, "GPT-5", "gpt@0-3 5@4-5"}, /* hyphenated name */
    {0, "gpt5", "gpt@0-3 5@3-4"}, /* same parts without hyphen */
    {0, "GPT 5", "gpt@0-3 5@4-5"}, /* same parts with a space */
    {0, "GPT\xe2\x80\x90" "5", "gpt@0-3 5@6-7"}, /* U+2010 hyphen */
    {0, "GPT\xe2\x80\x91" "5", "gpt@0-3 5@6-7"}, /* U+2011 non-breaking hyphen */
    {0, "GPT\xe2\x80\x92" "5", "gpt@0-3 5@6-7"}, /* U+2012 figure dash */
    {0, "GPT\xe2\x80\x93" "5", "gpt@0-3 5@6-7"}, /* U+2013 en dash */
    {0, "GPT\xe2\x80\x94" "5", "gpt@0-3 5@6-7"}, /* U+2014 em dash */
    {0, "GPT\xe2\x80\x95" "5", "gpt@0-3 5@6-7"}, /* U+2015 horizontal bar */
    {0, "GPT\xe2\x88\x92" "5", "gpt@0-3 5@6-7"}, /* U+2212 minus */
    {0, "GPT\xef\xb9\xa3" "5", "gpt@0-3 5@6-7"}, /* U+FE63 small hyphen-minus */
    {0, "GPT\xef\xbc\x8d" "5", "gpt@0-3 5@6-7"}, /* U+FF0D full-width hyphen */
    {0, "HA\xe2\x80\x91" "DW", "ha@0-2 dw@5-7"}, /* HA-DW as written in the corpus */
    {0, "HA-DW", "ha@0-2 dw@3-5"}, /* HA-DW as typed */
    {0, "Qwen2.5-7B", "qwen@0-4 2@4-5 5@6-7 7@8-9 b@9-10"}, /* versioned name */
    {0, "qwen2.5", "qwen@0-4 2@4-5 5@6-7"}, /* its prefix */
    {0, "GPT-4o", "gpt@0-3 4@4-5 o@5-6"}, /* digit then letter */
    {0, "o1-프리뷰", "o@0-1 1@1-2 프리@3-9 리뷰@6-12 +뷰@9-12"}, /* o1-프리뷰 */
    {0, "o1 프리뷰", "o@0-1 1@1-2 프리@3-9 리뷰@6-12 +뷰@9-12"}, /* o1 프리뷰 */
    {0, "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3", "abc@0-9"}, /* full-width Latin */
    {0, "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93", "123@0-9"}, /* full-width digits */
    {0, "caf\xc3\xa9", "cafe@0-5"}, /* NFC accent removed */
    {0, "cafe\xcc\x81", "cafe@0-4"}, /* NFD accent removed */
    {0, "stra\xc3\x9f" "e STRASSE", "strasse@0-7 strasse@8-15"}, /* sharp s folds to ss */
    {0, "\xef\xac\x81le", "file@0-5"}, /* ligature fi */
    {0, "\xe2\x91\xa0 x\xc2\xb2", "1@0-3 x@4-5 2@5-7"}, /* circled and superscript digits */
    {0, "\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1", "\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1@0-10"}, /* Greek folded, accent removed */
    {0, "\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0@0-12"}, /* Cyrillic folded */
    {0, "don't", "don@0-3 t@4-5"}, /* apostrophe separates */
    {0, "https://www.threads.net/@a/post/DTvy4c", "https@0-5 www@8-11 threads@12-19 net@20-23 a@25-26 post@27-31 dtvy@32-36 4@36-37 c@37-38"}, /* URL pieces */
    {0, "a@b.com", "a@0-1 b@2-3 com@4-7"}, /* e-mail pieces */
    {0, "1,000.5%", "1@0-1 000@2-5 5@6-7"}, /* number punctuation */
    {0, "한", "한@0-3"}, /* one syllable */
    {0, "한글", "한글@0-6 +글@3-6"}, /* two syllables: bigram + final unigram */
    {0, "데이터", "데이@0-6 이터@3-9 +터@6-9"}, /* three syllables */
    {0, "데이터센터의", "데이@0-6 이터@3-9 터센@6-12 센터@9-15 터의@12-18 +의@15-18"}, /* particle glued: 데이터센터의 */
    {0, "데이터 센터", "데이@0-6 이터@3-9 +터@6-9 터센@6-13 센터@10-16 +터@13-16"}, /* bridged: 데이터 센터 */
    {0, "데이터  센터", "데이@0-6 이터@3-9 +터@6-9 터센@6-14 센터@11-17 +터@14-17"}, /* bridged across two spaces */
    {0, "데이터\x09센터", "데이@0-6 이터@3-9 +터@6-9 터센@6-13 센터@10-16 +터@13-16"}, /* bridged across a tab */
    {0, "데이터\xc2\xa0센터", "데이@0-6 이터@3-9 +터@6-9 터센@6-14 센터@11-17 +터@14-17"}, /* bridged across NBSP */
    {0, "데이터\xe2\x80\xaf센터", "데이@0-6 이터@3-9 +터@6-9 터센@6-15 센터@12-18 +터@15-18"}, /* bridged across narrow NBSP */
    {0, "데이터\xe3\x80\x80센터", "데이@0-6 이터@3-9 +터@6-9 터센@6-15 센터@12-18 +터@15-18"}, /* bridged across ideographic space */
    {0, "데이터\xe2\x80\x8b센터", "데이@0-6 이터@3-9 +터@6-9 터센@6-15 센터@12-18 +터@15-18"}, /* bridged across zero-width space */
    {0, "데이터\x0a센터", "데이@0-6 이터@3-9 +터@6-9 센터@10-16 +터@13-16"}, /* newline: no bridge */
    {0, "데이터, 센터", "데이@0-6 이터@3-9 +터@6-9 센터@11-17 +터@14-17"}, /* comma: no bridge */
    {0, "데이터 AI 센터", "데이@0-6 이터@3-9 +터@6-9 ai@10-12 센터@13-19 +터@16-19"}, /* Latin between: no bridge */
    {0, "책 읽기", "책@0-3 책읽@0-7 읽기@4-10 +기@7-10"}, /* one-syllable run bridged */
    {0, "오픈AI가", "오픈@0-6 +픈@3-6 ai@6-8 가@8-11"}, /* 오픈AI가 */
    {0, "오픈AI", "오픈@0-6 +픈@3-6 ai@6-8"}, /* 오픈AI */
    {0, "AI가 만든", "ai@0-2 가@2-5 가만@2-9 만든@6-12 +든@9-12"}, /* Latin then particle then Hangul */
    {0, "3개의 GPU", "3@0-1 개의@1-7 +의@4-7 gpu@8-11"}, /* digit glued to Hangul */
    {0, "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab\xe1\x84\x80\xe1\x85\xb3\xe1\x86\xaf", "한글@0-18 +글@9-18"}, /* NFD 한글 (LVT LVT) */
    {0, "\xe1\x84\x80\xe1\x85\xa1", "가@0-6"}, /* NFD 가 (LV) */
    {0, "한\xe1\x84\x80\xe1\x85\xb3\xe1\x86\xaf", "한글@0-12 +글@3-12"}, /* NFC then NFD */
    {0, "가\xe1\x86\xa8", "각@0-6"}, /* LV syllable + trailing jamo composes to 각 */
    {0, "\xe3\x85\x8b\xe3\x85\x8b\xe3\x85\x8b", "\xe1\x84\x8f\xe1\x84\x8f@0-6 \xe1\x84\x8f\xe1\x84\x8f@3-9 +\xe1\x84\x8f@6-9"}, /* compatibility jamo */
    {0, "\xe6\x9d\xb1\xe4\xba\xac", "\xe6\x9d\xb1\xe4\xba\xac@0-6 +\xe4\xba\xac@3-6"}, /* Han bigram */
    {0, "\xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc", "\xe6\x9d\xb1\xe4\xba\xac@0-6 \xe4\xba\xac\xe3\x82\xbf@3-9 \xe3\x82\xbf\xe3\x83\xaf@6-12 \xe3\x83\xaf\xe3\x83\xbc@9-15 +\xe3\x83\xbc@12-15"}, /* Han + katakana run */
    {0, "\xe6\x9d\xb1 \xe4\xba\xac", "\xe6\x9d\xb1@0-3 \xe4\xba\xac@4-7"}, /* Han across a space: no bridge */
    {0, "\xef\xbe\x8a\xef\xbe\x9d\xef\xbd\xb6\xef\xbd\xb8", "\xe3\x83\x8f\xe3\x83\xb3@0-6 \xe3\x83\xb3\xe3\x82\xab@3-9 \xe3\x82\xab\xe3\x82\xaf@6-12 +\xe3\x82\xaf@9-12"}, /* half-width katakana normalised */
    {0, "\xe5\xa4\xa7\xe9\x9f\x93\xe6\xb0\x91\xe5\x9c\x8b 대한민국", "\xe5\xa4\xa7\xe9\x9f\x93@0-6 \xe9\x9f\x93\xe6\xb0\x91@3-9 \xe6\xb0\x91\xe5\x9c\x8b@6-12 +\xe5\x9c\x8b@9-12 대한@13-19 한민@16-22 민국@19-25 +국@22-25"}, /* Han then Hangul */
    {0, "\xf0\x9f\x98\x80 \xf0\x9f\xa4\x96", ""}, /* emoji not indexed */
    {0, "\xe2\x86\x92 \xc2\xa9 \xe2\x98\x85 \xe2\x82\xa9", ""}, /* symbols not indexed */
    {0, "\xe2\x80\x9c표현\xe2\x80\x9d", "표현@3-9 +현@6-9"}, /* quoted Hangul */
    {0, "(주)카카오", "주@1-4 카카@5-11 카오@8-14 +오@11-14"}, /* parenthesised */
    {0, "infor\xc2\xadmation", "information@0-13"}, /* soft hyphen ignored */
    {0, "a\xe2\x80\x8d" "b", "ab@0-5"}, /* zero-width joiner ignored */
    {0, "\xef\xbb\xbfstart", "start@3-8"}, /* BOM ignored */
    {0, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@0-200"}, /* long token cut to 128 bytes, offsets whole */
    {1, "데이터센터", "데이@0-6 이터@3-9 터센@6-12 센터@9-15"}, /* query: bigrams only */
    {1, "데이터 센터", "데이@0-6 이터@3-9 터센@6-13 센터@10-16"}, /* query: bridged phrase */
    {1, "책", "책@0-3"}, /* query: one syllable is a unigram */
    {1, "한글", "한글@0-6"}, /* query: no final unigram */
    {1, "GPT-5", "gpt@0-3 5@4-5"}, /* query: same parts as documents */
    {1, "오픈AI", "오픈@0-6 ai@6-8"}, /* query: mixed */
    {1, "\xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc", "\xe6\x9d\xb1\xe4\xba\xac@0-6 \xe4\xba\xac\xe3\x82\xbf@3-9 \xe3\x82\xbf\xe3\x83\xaf@6-12 \xe3\x83\xaf\xe3\x83\xbc@9-15"}, /* query: CJK bigrams only */
};

typedef struct stream {
  kftsp_buf b;
  int count;
  int fail_at;  /* 1-based token to fail on, 0 = never */
  int last_end; /* for order checks */
  int last_start;
} stream;

static int collect(void *ctx, int tflags, const char *tok, int n, int start, int end) {
  stream *s = ctx;
  s->count++;
  if (s->fail_at && s->count == s->fail_at) return SQLITE_ABORT;
  if (s->fail_at && s->count > s->fail_at) fail_msg("xToken called after it failed");
  if (s->b.n) kftsp_buf_addc(&s->b, ' ');
  kftsp_buf_printf(&s->b, "%s%.*s@%d-%d", (tflags & FTS5_TOKEN_COLOCATED) ? "+" : "", n, tok, start, end);
  return SQLITE_OK;
}

static void tokenize__table(void **state) {
  (void)state;
  assert_true(KFTSP_ARRAY_LEN(cases) >= 80);
  kftsp_tokenizer *t = NULL;
  assert_int_equal(kftsp_tokenizer_new(&t, NULL, 0, NULL), SQLITE_OK);
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(cases); i++) {
    stream s = {0};
    int flags = cases[i].query ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT;
    assert_int_equal(kftsp_tokenize(t, &s, flags, cases[i].input, (int)strlen(cases[i].input), collect), SQLITE_OK);
    const char *got = s.b.p ? s.b.p : "";
    if (strcmp(got, cases[i].expected) != 0)
      fail_msg("case %zu (%s):\n  want %s\n  got  %s", i, cases[i].input, cases[i].expected, got);
    kftsp_buf_reset(&s.b);
  }
  kftsp_tokenizer_free(t);
}

/* Every token's offsets lie on UTF-8 boundaries, inside the text, in order. */
static int check_offsets(void *ctx, int tflags, const char *tok, int n, int start, int end) {
  stream *s = ctx;
  const unsigned char *text = (const unsigned char *)s->b.p;
  (void)tflags, (void)tok;
  assert_true(n > 0 && n <= 128 + 4);
  assert_true(start >= 0 && start < end && (size_t)end <= s->b.n);
  assert_true((text[start] & 0xC0) != 0x80);
  assert_true(end == (int)s->b.n || (text[end] & 0xC0) != 0x80);
  assert_true(start >= s->last_start);
  s->last_start = start;
  s->count++;
  return SQLITE_OK;
}

static void tokenize__huge_and_broken_input(void **state) {
  (void)state;
  kftsp_tokenizer *t = NULL;
  assert_int_equal(kftsp_tokenizer_new(&t, NULL, 0, NULL), SQLITE_OK);
  stream s = {0};
  /* 1 MB of mixed text with invalid bytes and a truncated sequence sprinkled in. */
  static const char *const pieces[] = {"데이터센터의 ", "GPT-5 ", "\xff", "東京タワー ", "\xed\x9f",
                                       "café ", "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab ", "🙂 ", "x²\n"};
  while (s.b.n < (1u << 20))
    for (size_t i = 0; i < KFTSP_ARRAY_LEN(pieces); i++) kftsp_buf_adds(&s.b, pieces[i]);
  kftsp_buf_adds(&s.b, "\xe3\x81"); /* cut in the middle of a character */
  assert_false(s.b.oom);
  assert_int_equal(kftsp_tokenize(t, &s, FTS5_TOKENIZE_DOCUMENT, s.b.p, (int)s.b.n, check_offsets), SQLITE_OK);
  assert_true(s.count > 100000);
  kftsp_buf_reset(&s.b);
  kftsp_tokenizer_free(t);
}

/* Long texts go window by window; the tokens are the same wherever the windows end. */
static void tokenize__windows_change_nothing(void **state) {
  (void)state;
  static const char *const texts[] = {
      "데이터센터의 데이터 센터  가나다라마바사아자차카타파하 東京タワー東京タワー AI GPT 5 x 한국어,영어 문장。끝 가 나 다",
      "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초코토포호",
      "  가   나 다\n라 AB 마 1 바",
  };
  kftsp_tokenizer *whole = NULL;
  const char *big[] = {"window", "1048576"};
  assert_int_equal(kftsp_tokenizer_new(&whole, big, 2, NULL), SQLITE_OK);
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(texts); i++) {
    stream want = {0};
    assert_int_equal(kftsp_tokenize(whole, &want, FTS5_TOKENIZE_DOCUMENT, texts[i], -1, collect), SQLITE_OK);
    for (int w = 2; w <= 17; w++) {
      char ws[8];
      snprintf(ws, sizeof ws, "%d", w);
      const char *args[] = {"window", ws};
      kftsp_tokenizer *t = NULL;
      assert_int_equal(kftsp_tokenizer_new(&t, args, 2, NULL), SQLITE_OK);
      stream got = {0};
      assert_int_equal(kftsp_tokenize(t, &got, FTS5_TOKENIZE_DOCUMENT, texts[i], -1, collect), SQLITE_OK);
      if (strcmp(got.b.p, want.b.p)) fail_msg("window %d:\n%s\nwhole:\n%s", w, got.b.p, want.b.p);
      kftsp_buf_reset(&got.b);
      kftsp_tokenizer_free(t);
    }
    kftsp_buf_reset(&want.b);
  }
  /* A Latin word longer than two windows is indexed up to the cut. */
  const char *args[] = {"window", "4"};
  kftsp_tokenizer *t = NULL;
  assert_int_equal(kftsp_tokenizer_new(&t, args, 2, NULL), SQLITE_OK);
  stream got = {0};
  assert_int_equal(kftsp_tokenize(t, &got, FTS5_TOKENIZE_DOCUMENT, "ab supercalifragilistic cd", -1, collect), SQLITE_OK);
  assert_string_equal(got.b.p, "ab@0-2 super@3-8 cd@24-26");
  kftsp_buf_reset(&got.b);
  kftsp_tokenizer_free(t);
  kftsp_tokenizer_free(whole);
}

static void tokenize__xtoken_failure_stops(void **state) {
  (void)state;
  kftsp_tokenizer *t = NULL;
  assert_int_equal(kftsp_tokenizer_new(&t, NULL, 0, NULL), SQLITE_OK);
  const char *text = "데이터 센터 GPT-5 東京タワー 책";
  for (int k = 1; k <= 12; k++) {
    stream s = {0};
    s.fail_at = k;
    assert_int_equal(kftsp_tokenize(t, &s, FTS5_TOKENIZE_DOCUMENT, text, -1, collect), SQLITE_ABORT);
    assert_int_equal(s.count, k);
    kftsp_buf_reset(&s.b);
  }
  kftsp_tokenizer_free(t);
}

static void tokenize__arguments(void **state) {
  (void)state;
  kftsp_tokenizer *t = NULL;
  char *msg = NULL;
  const char *bad[] = {"colour", "blue"};
  assert_int_equal(kftsp_tokenizer_new(&t, bad, 2, &msg), SQLITE_ERROR);
  assert_null(t);
  assert_non_null(strstr(msg, "colour"));
  kftsp_free(msg);
  const char *nobridge[] = {"bridge", "0"};
  assert_int_equal(kftsp_tokenizer_new(&t, nobridge, 2, NULL), SQLITE_OK);
  stream s = {0};
  assert_int_equal(kftsp_tokenize(t, &s, FTS5_TOKENIZE_DOCUMENT, "데이터 센터", -1, collect), SQLITE_OK);
  assert_string_equal(s.b.p, "데이@0-6 이터@3-9 +터@6-9 센터@10-16 +터@13-16");
  kftsp_buf_reset(&s.b);
  kftsp_tokenizer_free(t);
}

static void tokenize__out_of_memory(void **state) {
  (void)state;
  int saw_ok = 0;
  for (long n = 1; n < 50 && !saw_ok; n++) {
    kftsp_tokenizer *t = NULL;
    stream s = {0};
    kftsp_alloc_fail_after(n);
    int rc = kftsp_tokenizer_new(&t, NULL, 0, NULL);
    if (rc == SQLITE_OK) rc = kftsp_tokenize(t, &s, FTS5_TOKENIZE_DOCUMENT, "데이터 센터 GPT-5", -1, collect);
    kftsp_alloc_fail_after(0);
    assert_true(rc == SQLITE_OK || rc == SQLITE_NOMEM);
    saw_ok = rc == SQLITE_OK;
    kftsp_buf_reset(&s.b);
    kftsp_tokenizer_free(t);
  }
  assert_true(saw_ok);
}

static void tokenize__particles_on_query_words(void **state) {
  (void)state;
  static const struct {
    const char *word, *kept;
  } w[] = {
      {"데이터센터의", "데이터센터"}, {"데이터센터에서", "데이터센터"}, {"모델이", "모델"},
      {"오픈AI가", "오픈AI"}, {"GPT-5는", "GPT-5"}, {"H100을", "H100"}, {"AI", "AI"}, {"C-가", "C-가"},
      {"회의", "회의"},           {"나이", "나이"}, {"안전", "안전"}, {"정부는", "정부"},
      {"GPT", "GPT"},             {"책을", "책을"}, {"나라에서는", "나라"},
  };
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(w); i++) {
    size_t n = kftsp_strip_particle(w[i].word, strlen(w[i].word));
    assert_int_equal(n, strlen(w[i].kept));
    assert_memory_equal(w[i].word, w[i].kept, n);
  }
  const char *q[] = {"데이터센터의 책", "\"C++\"", "🙂"};
  char *e = kftsp_fts_words(q, 3, " AND ");
  assert_string_equal(e, "\"데이터센터\" AND \"책\"* AND \"\"\"C++\"\"\"");
  kftsp_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tokenize__table),
      cmocka_unit_test(tokenize__huge_and_broken_input),
      cmocka_unit_test(tokenize__windows_change_nothing),
      cmocka_unit_test(tokenize__xtoken_failure_stops),
      cmocka_unit_test(tokenize__arguments),
      cmocka_unit_test(tokenize__out_of_memory),
      cmocka_unit_test(tokenize__particles_on_query_words),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
