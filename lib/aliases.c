/*
** aliases.c -- names written in two scripts (Anthropic / 앤트로픽 / 엔트로픽) as alias groups.
**
** A group is a set of spellings; a query word that is one of them also searches the
** others (query.c). Groups come from JSON: the list shipped in lib/aliases.json (compiled
** into the library), the "aliases" of a corpus manifest (stored in the index by the
** indexer), and --aliases FILE. Groups that share a spelling are merged.
**
**   { "aliases": [ ["Anthropic", "앤트로픽", "엔트로픽"], ["OpenAI", "오픈AI"], ... ] }
**   (or just the array; other top-level keys are ignored)
**
** Spellings match after NFKC case folding with runs of spaces made one.
** Also here: mining "한글(English)" / "English(한글)" pairs from text, for suggestions.
*/
#include "kfts_int.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct kftsp_aliases {
  char **word; /* as written */
  char **key;  /* normalised */
  int *group;
  size_t n, cap;
  int n_groups;
};

/* NFKC case fold of S (N bytes), spaces collapsed and trimmed; kftsp_free. */
static char *norm_key(const char *s, size_t n) {
  char *tmp = kftsp_strndup(s, n);
  if (!tmp) return NULL;
  utf8proc_uint8_t *f = utf8proc_NFKC_Casefold((const utf8proc_uint8_t *)tmp);
  kftsp_free(tmp);
  if (!f) return NULL;
  kftsp_buf b = {0};
  int space = 0;
  for (const char *p = (const char *)f; *p; p++) {
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
      space = 1;
      continue;
    }
    if (space && b.n) kftsp_buf_addc(&b, ' ');
    space = 0;
    kftsp_buf_addc(&b, *p);
  }
  free(f);
  if (b.oom) {
    kftsp_buf_reset(&b);
    return NULL;
  }
  return kftsp_buf_take(&b);
}

int kftsp_aliases_new(kftsp_aliases **out) {
  *out = kftsp_malloc(sizeof **out);
  if (!*out) return KFTS_ENOMEM;
  memset(*out, 0, sizeof **out);
  return KFTS_OK;
}

void kftsp_aliases_free(kftsp_aliases *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) {
    kftsp_free(a->word[i]);
    kftsp_free(a->key[i]);
  }
  kftsp_free(a->word);
  kftsp_free(a->key);
  kftsp_free(a->group);
  kftsp_free(a);
}

static long find_key(const kftsp_aliases *a, const char *key) {
  for (size_t i = 0; i < a->n; i++)
    if (!strcmp(a->key[i], key)) return (long)i;
  return -1;
}

/* Adds one group of N spellings, merging it with every group that shares one. */
static int add_group(kftsp_aliases *a, const char *const *words, size_t n) {
  int g = a->n_groups++;
  for (size_t i = 0; i < n; i++) { /* first, the groups it joins take its number */
    char *key = norm_key(words[i], strlen(words[i]));
    if (!key) return KFTS_ENOMEM;
    long at = find_key(a, key);
    kftsp_free(key);
    if (at < 0 || a->group[at] == g) continue;
    int old = a->group[at];
    for (size_t j = 0; j < a->n; j++)
      if (a->group[j] == old) a->group[j] = g;
  }
  for (size_t i = 0; i < n; i++) {
    char *key = norm_key(words[i], strlen(words[i]));
    if (!key) return KFTS_ENOMEM;
    if (!*key || find_key(a, key) >= 0) {
      kftsp_free(key);
      continue;
    }
    if (a->n == a->cap) {
      size_t cap = a->cap ? a->cap * 2 : 256;
      char **w = kftsp_realloc(a->word, cap * sizeof *w);
      if (w) a->word = w;
      char **k = w ? kftsp_realloc(a->key, cap * sizeof *k) : NULL;
      if (k) a->key = k;
      int *gr = k ? kftsp_realloc(a->group, cap * sizeof *gr) : NULL;
      if (!gr) {
        kftsp_free(key);
        return KFTS_ENOMEM;
      }
      a->group = gr;
      a->cap = cap;
    }
    if (!(a->word[a->n] = kftsp_strdup(words[i]))) {
      kftsp_free(key);
      return KFTS_ENOMEM;
    }
    a->key[a->n] = key;
    a->group[a->n] = g;
    a->n++;
  }
  return KFTS_OK;
}

int kftsp_aliases_add_json(kftsp_aliases *a, const char *text, size_t len, const char *source,
                           kfts_error *err) {
  json_error_t je;
  json_t *root = json_loadb(text, len, 0, &je);
  if (!root) return kftsp_err(err, KFTS_EUSAGE, source, je.line, "not valid JSON: %s", je.text);
  int rc = kftsp_aliases_add_value(a, json_is_object(root) ? json_object_get(root, "aliases") : root,
                                   source, err);
  json_decref(root);
  return rc;
}

int kftsp_aliases_add_value(kftsp_aliases *a, const json_t *list, const char *source, kfts_error *err) {
  if (!json_is_array(list))
    return kftsp_err(err, KFTS_EUSAGE, source, 0,
                     "\"aliases\" must be an array of arrays of names, e.g. [[\"OpenAI\", \"오픈AI\"]]");
  size_t i;
  json_t *g;
  json_array_foreach(list, i, g) {
    if (!json_is_array(g) || json_array_size(g) < 2 || json_array_size(g) > 64)
      return kftsp_err(err, KFTS_EUSAGE, source, 0,
                       "aliases[%zu] must be an array of 2 to 64 names", i);
    const char *words[64];
    size_t j;
    json_t *w;
    json_array_foreach(g, j, w) {
      if (!json_is_string(w) || !*json_string_value(w))
        return kftsp_err(err, KFTS_EUSAGE, source, 0, "aliases[%zu][%zu] must be a non-empty string", i, j);
      words[j] = json_string_value(w);
    }
    if (add_group(a, words, json_array_size(g))) return kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  }
  return KFTS_OK;
}

int kftsp_aliases_add_file(kftsp_aliases *a, const char *path, kfts_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return kftsp_err(err, KFTS_EIO, path, 0, "cannot open the alias file");
  kftsp_buf b = {0};
  char chunk[8192];
  size_t k;
  while ((k = fread(chunk, 1, sizeof chunk, f)) > 0 && b.n < (16u << 20)) kftsp_buf_add(&b, chunk, k);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    kftsp_buf_reset(&b);
    return kftsp_err(err, KFTS_EIO, path, 0, "cannot read the alias file");
  }
  if (b.oom) return kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  int rc = kftsp_aliases_add_json(a, b.p ? b.p : "", b.n, path, err);
  kftsp_buf_reset(&b);
  return rc;
}

int kftsp_aliases_add_builtin(kftsp_aliases *a, kfts_error *err) {
  return kftsp_aliases_add_json(a, kftsp_builtin_aliases, kftsp_builtin_aliases_len, "aliases.json (built in)",
                                err);
}

size_t kftsp_aliases_find(const kftsp_aliases *a, const char *w, size_t n, const char **out, size_t max) {
  char *key = norm_key(w, n);
  if (!key) return 0;
  long at = find_key(a, key);
  size_t k = 0;
  if (at >= 0)
    for (size_t i = 0; i < a->n && k < max; i++)
      if (a->group[i] == a->group[at] && (long)i != at) out[k++] = a->word[i];
  kftsp_free(key);
  return k;
}

int kftsp_aliases_same(const kftsp_aliases *a, const char *x, const char *y) {
  char *kx = norm_key(x, strlen(x)), *ky = norm_key(y, strlen(y));
  long i = kx ? find_key(a, kx) : -1, j = ky ? find_key(a, ky) : -1;
  kftsp_free(kx);
  kftsp_free(ky);
  return i >= 0 && j >= 0 && a->group[i] == a->group[j];
}

/* ---- mining 한글(English) and English(한글) ---- */

/* Decodes the code point ending just before byte I (I > 0); returns its start. */
static size_t prev_cp(const char *s, size_t i, int32_t *cp) {
  size_t j = i - 1;
  while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
  utf8proc_int32_t c = -1;
  utf8proc_iterate((const utf8proc_uint8_t *)s + j, (utf8proc_ssize_t)(i - j), &c);
  *cp = c;
  return j;
}

static int is_syllable(int32_t c) { return c >= 0xAC00 && c <= 0xD7A3; }
static int is_latin(int32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Counts the words of [A, B) if every character is of the kind (Hangul when HANGUL, else
** Latin letters/digits with - . & ' inside words), else 0. */
static int words_of_kind(const char *s, size_t a, size_t b, int hangul) {
  int words = 0, in_word = 0, has_letter = 0;
  size_t i = a;
  while (i < b) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(b - i), &c);
    if (k <= 0) return 0;
    if (c == ' ') {
      in_word = 0;
    } else if (hangul ? is_syllable(c) : (is_latin(c) || (in_word && strchr("-.&'", (int)c)))) {
      if (!in_word) words++;
      in_word = 1;
      has_letter |= hangul || (c >= 'A' && c <= 'z');
    } else {
      return 0;
    }
    i += (size_t)k;
  }
  return has_letter ? words : 0;
}

int kftsp_mine_pairs(const char *s, size_t len, kftsp_pair_fn cb, void *ctx) {
  for (size_t i = 1; i < len; i++) {
    if (s[i] != '(') continue;
    size_t close = i + 1;
    while (close < len && close - i < 80 && s[close] != ')' && s[close] != '(' && s[close] != '\n') close++;
    if (close >= len || s[close] != ')') continue;
    size_t ia = i + 1, ib = close;
    while (ia < ib && s[ia] == ' ') ia++;
    while (ib > ia && s[ib - 1] == ' ') ib--;
    if (ia == ib) continue;
    int inner_hangul = words_of_kind(s, ia, ib, 1);
    int inner_latin = inner_hangul ? 0 : words_of_kind(s, ia, ib, 0);
    if (!inner_hangul && !inner_latin) continue;
    if (inner_latin && ib - ia < 2) continue;
    /* The words before '(' (one space allowed), as many as inside, all of the other kind. */
    int want = inner_hangul ? inner_hangul : inner_latin, outer_hangul = !inner_hangul;
    size_t end = i;
    if (end > 0 && s[end - 1] == ' ') end--;
    size_t start = end;
    int got = 0;
    while (start > 0 && got < want) {
      size_t w_end = start, w_start = start;
      while (w_start > 0) {
        int32_t c;
        size_t j = prev_cp(s, w_start, &c);
        if (outer_hangul ? !is_syllable(c) : !(is_latin(c) || c == '-' || c == '.')) break;
        w_start = j;
      }
      if (w_start == w_end) break;
      got++;
      start = w_start;
      if (got < want && start > 0 && s[start - 1] == ' ') start--;
      else break;
    }
    while (start < end && s[start] == ' ') start++;
    if (got != want || start >= end) continue;
    if (start > 0) { /* the word must start there: no letters glued before it */
      int32_t c;
      prev_cp(s, start, &c);
      if (is_syllable(c) || is_latin(c)) continue;
    }
    int rc = inner_hangul ? cb(ctx, s + ia, ib - ia, s + start, end - start)
                          : cb(ctx, s + start, end - start, s + ia, ib - ia);
    if (rc) return rc;
  }
  return 0;
}

/* ---- suggestions from the index ---- */

typedef struct pair {
  char *ko, *en; /* as first written */
  char *key;     /* normalised "ko\tEN", for counting */
  size_t count;
  char *where;   /* file:line of the first */
} pair;

typedef struct mine {
  pair *p;
  size_t n, cap;
  const char *where;
  int oom;
} mine;

static int on_pair(void *ctx, const char *ko, size_t ko_n, const char *en, size_t en_n) {
  mine *m = ctx;
  char *a = norm_key(ko, ko_n), *b = norm_key(en, en_n);
  char *key = a && b ? kftsp_printf("%s\t%s", a, b) : NULL;
  kftsp_free(a);
  kftsp_free(b);
  if (!key) return m->oom = 1;
  for (size_t i = 0; i < m->n; i++)
    if (!strcmp(m->p[i].key, key)) {
      m->p[i].count++;
      kftsp_free(key);
      return 0;
    }
  pair *p = kftsp_grow(m->p, m->n, &m->cap, sizeof *p, 64);
  if (!p) {
    kftsp_free(key);
    return m->oom = 1;
  }
  m->p = p;
  pair *x = &m->p[m->n++];
  x->key = key;
  x->ko = kftsp_strndup(ko, ko_n);
  x->en = kftsp_strndup(en, en_n);
  x->where = kftsp_strdup(m->where);
  x->count = 1;
  if (!x->ko || !x->en || !x->where) return m->oom = 1;
  return 0;
}

static int cmp_pair(const void *a, const void *b) {
  const pair *x = a, *y = b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strcmp(x->key, y->key);
}

int kfts_suggest_aliases(kfts_db *db, char **json_out, kfts_error *err) {
  *json_out = NULL;
  sqlite3 *h = kftsp_db_handle(db);
  const kftsp_aliases *known = NULL;
  int rc = kftsp_db_aliases_all(db, &known, err);
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(h,
                                "SELECT a.title, a.summary, kfts_text(a.body), f.path, a.line FROM articles a"
                                " JOIN files f ON f.id = a.file_id ORDER BY f.path, a.line",
                                -1, &st, NULL) != SQLITE_OK)
    rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
  mine m = {0};
  while (!rc && !m.oom && sqlite3_step(st) == SQLITE_ROW) {
    char where[600];
    snprintf(where, sizeof where, "%s:%d", (const char *)sqlite3_column_text(st, 3), sqlite3_column_int(st, 4));
    m.where = where;
    for (int c = 0; c < 3 && !m.oom; c++) {
      const char *t = (const char *)sqlite3_column_text(st, c);
      if (t) kftsp_mine_pairs(t, strlen(t), on_pair, &m);
    }
  }
  sqlite3_finalize(st);
  if (m.oom) rc = KFTS_ENOMEM;
  json_t *o = json_object(), *al = json_array(), *ev = json_array();
  if (!rc && (!o || !al || !ev)) rc = KFTS_ENOMEM;
  if (!rc) {
    kftsp_sort(m.p, m.n, sizeof *m.p, cmp_pair);
    for (size_t i = 0; i < m.n; i++) {
      if (kftsp_aliases_same(known, m.p[i].ko, m.p[i].en)) continue; /* already an alias */
      json_array_append_new(al, json_pack("[ss]", m.p[i].ko, m.p[i].en));
      json_array_append_new(ev, json_pack("{s:[ss],s:I,s:s}", "pair", m.p[i].ko, m.p[i].en, "count",
                                          (json_int_t)m.p[i].count, "first", m.p[i].where));
    }
    json_object_set(o, "aliases", al);
    json_object_set(o, "evidence", ev);
    *json_out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!*json_out) rc = KFTS_ENOMEM;
  }
  json_decref(al);
  json_decref(ev);
  json_decref(o);
  for (size_t i = 0; i < m.n; i++) {
    kftsp_free(m.p[i].ko);
    kftsp_free(m.p[i].en);
    kftsp_free(m.p[i].key);
    kftsp_free(m.p[i].where);
  }
  kftsp_free(m.p);
  return rc == KFTS_ENOMEM ? kftsp_err(err, rc, "", 0, "out of memory") : rc;
}
