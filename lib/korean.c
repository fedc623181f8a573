/*
** korean.c -- query-side help for Korean words: trailing particles, one-syllable words.
**
** A query word is matched as the phrase of its syllable bigrams, so dropping a trailing
** particle only ever widens what it matches: "데이터센터의" -> "데이터센터" also finds
** "데이터센터는". A particle is dropped only when at least two syllables remain, so short
** nouns that end like one ("회의", "나이") stay whole. Documents are never stripped.
*/
#include "kfts_int.h"

#include <string.h>

/* Common trailing particles (조사), longest first within each length. */
static const char *const particles[] = {
    "에서는", "에게서", "으로는", "으로써", "으로서", "이라는", "에서도", "까지는", "부터는",
    "에서", "에게", "한테", "으로", "까지", "부터", "처럼", "보다", "이나", "이란", "이라",
    "에는", "에도", "로는", "와는", "과는", "은", "는", "이", "가", "을", "를", "의", "에",
    "로", "와", "과", "도", "만", "께",
};

static int is_syllable_at(const char *s, size_t n, size_t i) {
  if (i + 3 > n) return 0;
  const unsigned char *u = (const unsigned char *)s + i;
  /* U+AC00..U+D7A3 is EA B0 80 .. ED 9E A3 in UTF-8. */
  unsigned cp = ((unsigned)(u[0] & 0x0F) << 12) | ((unsigned)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
  return (u[0] & 0xF0) == 0xE0 && cp >= 0xAC00 && cp <= 0xD7A3;
}

/* Number of Hangul syllables ending exactly at byte END of S. */
static size_t syllables_before(const char *s, size_t end) {
  size_t k = 0;
  while (end >= 3 && is_syllable_at(s, end, end - 3)) end -= 3, k++;
  return k;
}

size_t kftsp_strip_particle(const char *word, size_t n) {
  size_t run = syllables_before(word, n);
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(particles); i++) {
    size_t pl = strlen(particles[i]);
    if (pl >= n || memcmp(word + n - pl, particles[i], pl) != 0) continue;
    size_t rest = n - pl;
    unsigned char before = (unsigned char)word[rest - 1];
    int alnum = (before >= 'a' && before <= 'z') || (before >= 'A' && before <= 'Z') ||
                (before >= '0' && before <= '9');
    int latin_stem = run == pl / 3 && alnum; /* "오픈AI가", "GPT-5는" */
    if (!latin_stem && run < pl / 3 + 2) continue; /* keep at least two syllables of a noun */
    return rest;
  }
  return n;
}

int kftsp_is_one_syllable(const char *word, size_t n) {
  return n == 3 && is_syllable_at(word, n, 0);
}

/* Interrogatives and the forms they take in questions. In a natural-language query they
** say what is asked, not what the answer's text contains; they are rare in documents, so
** BM25 would weigh them heavily. */
static const char *const question_stems[] = {
    "무엇", "누구", "누가", "언제", "어디", "어느", "어떻게", "어떤", "어떠한", "무슨", "얼마", "몇", "왜",
};

int kftsp_is_question_word(const char *word, size_t n) {
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(question_stems); i++) {
    size_t k = strlen(question_stems[i]);
    if (n >= k && memcmp(word, question_stems[i], k) == 0) return 1;
  }
  return 0;
}
