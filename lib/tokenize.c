/*
** tokenize.c -- the "kfts" FTS5 tokenizer for Korean and English, on utf8proc.
**
** Owns: normalisation (NFKC + case folding, Hangul jamo composition, the dash family),
** splitting into tokens, and the FTS5 v1 tokenizer object. Leaves registration on a
** connection to store.c (kfts_register) and ext.c (the loadable extension), and query
** compilation (particles, one-syllable prefixes) to the query layer.
**
** Tokens, with P the running position:
**   Latin, digits and other scripts: words split at spaces, punctuation and letter/digit
**     boundaries ("GPT-5", "gpt5" and "GPT 5" are all "gpt" "5"), case-folded, accents of
**     the Combining Diacritical Marks block removed.
**   Hangul: a run of n syllables gives its overlapping bigrams at P..P+n-2; on the document
**     side the run's last syllable is also a unigram, colocated with the last bigram (or at
**     P when n == 1), so a one-syllable query can match with a prefix query. Two runs
**     separated only by spaces are bridged by the bigram of the last and first syllables at
**     its own position, so "데이터 센터" and "데이터센터" index the same bigram chain.
**   Han and kana: bigrams likewise, no bridging.
**   Everything else (symbols, emoji, punctuation): not indexed.
** Offsets are byte ranges into the original text, whatever normalisation did.
*/
#include "kfts_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum cls { C_SEP = 0, C_SPACE, C_WORD, C_DIGIT, C_HANGUL, C_CJK };

/* Units normalised at a time (16 bytes each): a long text is tokenized window by window. */
#define WINDOW 16384

typedef struct unit {
  int32_t cp; /* normalised code point */
  int start;  /* byte offset of the original character(s) */
  int end;    /* one past */
  int cls;    /* enum cls */
} unit;

struct kftsp_tokenizer {
  int bridge;    /* bridge Hangul runs across spaces (default 1) */
  size_t window; /* WINDOW; smaller in tests, to cut texts often */
  unit *u;       /* normalised units of the current text, reused */
  size_t u_cap;
  char *tok;     /* token text buffer, reused */
  size_t tok_cap;
};

/* Hangul syllables and jamo. */
#define S_BASE 0xAC00
#define L_BASE 0x1100
#define V_BASE 0x1161
#define T_BASE 0x11A7
#define L_COUNT 19
#define V_COUNT 21
#define T_COUNT 28
#define N_COUNT (V_COUNT * T_COUNT)
#define S_COUNT (L_COUNT * N_COUNT)

static int is_hangul(int32_t c) {
  return (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0x1100 && c <= 0x11FF) ||
         (c >= 0x3130 && c <= 0x318F) || (c >= 0xA960 && c <= 0xA97F) ||
         (c >= 0xD7B0 && c <= 0xD7FF);
}

static int is_cjk(int32_t c) {
  return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
         (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F) || c == 0x3005;
}

static int is_dash(int32_t c) {
  return (c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0xFE63 || c == 0xFF0D || c == '-';
}

static int classify(int32_t c) {
  if (c < 0x80) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return C_WORD;
    if (c >= '0' && c <= '9') return C_DIGIT;
    if (c == ' ' || c == '\t') return C_SPACE;
    return C_SEP;
  }
  if (is_hangul(c)) return C_HANGUL;
  if (is_cjk(c)) return C_CJK;
  switch (utf8proc_category(c)) {
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO:
  case UTF8PROC_CATEGORY_MN:
  case UTF8PROC_CATEGORY_MC:
  case UTF8PROC_CATEGORY_ME:
  case UTF8PROC_CATEGORY_NL:
  case UTF8PROC_CATEGORY_NO: return C_WORD;
  case UTF8PROC_CATEGORY_ND: return C_DIGIT;
  case UTF8PROC_CATEGORY_ZS: return C_SPACE;
  default: return C_SEP;
  }
}

static int push_cls(kftsp_tokenizer *t, size_t *n, int32_t cp, int start, int end, int cls) {
  if (*n == t->u_cap) {
    size_t cap = t->u_cap ? t->u_cap * 2 : 256;
    unit *u = kftsp_realloc(t->u, cap * sizeof *u);
    if (!u) return SQLITE_NOMEM;
    t->u = u;
    t->u_cap = cap;
  }
  unit *x = &t->u[(*n)++];
  x->cp = cp;
  x->start = start;
  x->end = end;
  x->cls = cls;
  return SQLITE_OK;
}

static int push(kftsp_tokenizer *t, size_t *n, int32_t cp, int start, int end) {
  return push_cls(t, n, cp, start, end, classify(cp));
}

/* Decodes one code point at S (N bytes left); returns its length, or -1 for an invalid
** sequence (the caller skips one byte). */
static int decode(const unsigned char *s, int n, int32_t *cp) {
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  /* Three-byte sequences (all of Hangul and CJK) without a library call; RFC 3629 limits:
  ** no overlongs (E0 needs A0..BF), no surrogates (ED needs 80..9F). */
  if ((s[0] & 0xF0) == 0xE0 && n >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
      (s[0] != 0xE0 || s[1] >= 0xA0) && (s[0] != 0xED || s[1] < 0xA0)) {
    *cp = ((int32_t)(s[0] & 0x0F) << 12) | ((int32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return 3;
  }
  utf8proc_int32_t c;
  utf8proc_ssize_t k = utf8proc_iterate(s, n, &c);
  if (k <= 0 || c < 0) return -1;
  *cp = c;
  return (int)k;
}

/* Text -> normalised units. */
/* Normalises TEXT from byte *POS into units, appended after the *N_OUT already there, until
** t->window units are out and the last one is a space or separator (or, failing such a
** place, twice as many): one window of a long text. Advances *POS past what it read. */
static int normalise(kftsp_tokenizer *t, const char *text, int len, int *pos, size_t *n_out) {
  const unsigned char *s = (const unsigned char *)text;
  size_t n = *n_out;
  int i = *pos, rc = SQLITE_OK;
  while (i < len && rc == SQLITE_OK) {
    if (n >= t->window && (n >= 2 * t->window || t->u[n - 1].cls <= C_SPACE)) break;
    int32_t c;
    int k = decode(s + i, len - i, &c);
    if (k < 0) { /* invalid UTF-8: a separator */
      i++;
      continue;
    }
    int start = i;
    i += k;
    if (c < 0x80) {
      if (c >= 'A' && c <= 'Z') c += 32;
      rc = push(t, &n, c, start, i);
      continue;
    }
    /* Precomposed syllables, nearly all Korean text, unless conjoining jamo (U+11xx,
    ** UTF-8 E1 84..87) follow: as they are. */
    if (c >= S_BASE && c < S_BASE + S_COUNT && (i >= len || s[i] != 0xE1)) {
      rc = push_cls(t, &n, c, start, i, C_HANGUL);
      continue;
    }
    /* Hangul composition (Unicode 3.12): L V [T] and LV T, as NFD input writes them. */
    if (c >= L_BASE && c < L_BASE + L_COUNT && i < len) {
      int32_t v;
      int kv = decode(s + i, len - i, &v);
      if (kv > 0 && v >= V_BASE && v < V_BASE + V_COUNT) {
        c = S_BASE + ((c - L_BASE) * V_COUNT + (v - V_BASE)) * T_COUNT;
        i += kv;
      }
    }
    if (c >= S_BASE && c < S_BASE + S_COUNT && (c - S_BASE) % T_COUNT == 0 && i < len) {
      int32_t tt;
      int kt = decode(s + i, len - i, &tt);
      if (kt > 0 && tt > T_BASE && tt < T_BASE + T_COUNT) {
        c += tt - T_BASE;
        i += kt;
      }
    }
    if ((c >= S_BASE && c < S_BASE + S_COUNT) || is_cjk(c)) {
      rc = push(t, &n, c, start, i);
      continue;
    }
    if (is_dash(c)) {
      rc = push(t, &n, '-', start, i);
      continue;
    }
    /* Invisible format characters: a zero-width space separates like a space; soft
    ** hyphens, joiners and BOMs are ignored, so the text around them stays one word. */
    if (c == 0x200B) {
      rc = push(t, &n, ' ', start, i);
      continue;
    }
    if (c == 0x00AD || c == 0x200C || c == 0x200D || c == 0x2060 || c == 0xFEFF) continue;
    /* NFKC + case fold of one character: its compatibility decomposition, folded. */
    utf8proc_int32_t d[32];
    utf8proc_ssize_t nd = utf8proc_decompose_char(c, d, 32, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD, NULL);
    if (nd < 0 || nd > 32) {
      rc = push(t, &n, c, start, i);
      continue;
    }
    for (utf8proc_ssize_t j = 0; j < nd && rc == SQLITE_OK; j++) {
      if (d[j] >= 0x300 && d[j] <= 0x36F) continue; /* accents: e + U+0301 == e */
      int32_t x = is_dash(d[j]) ? '-' : d[j];
      rc = push(t, &n, x, start, i);
    }
  }
  *n_out = n;
  *pos = i;
  return rc;
}

static int tok_reserve(kftsp_tokenizer *t, size_t need) {
  if (need <= t->tok_cap) return SQLITE_OK;
  size_t cap = t->tok_cap ? t->tok_cap : 64;
  while (cap < need) cap *= 2;
  char *p = kftsp_realloc(t->tok, cap);
  if (!p) return SQLITE_NOMEM;
  t->tok = p;
  t->tok_cap = cap;
  return SQLITE_OK;
}

/* Longest token text kept (bytes); longer words are cut, their offsets still whole. */
#define MAX_TOKEN 128

typedef int (*xtoken_fn)(void *, int, const char *, int, int, int);

/* Appends code point C as UTF-8 to the token buffer at *N; 0 when it would pass MAX_TOKEN. */
static int put_cp(kftsp_tokenizer *t, int *n, int32_t cp) {
  uint32_t c = (uint32_t)cp;
  int k = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  if (*n + k > MAX_TOKEN) return 0;
  char *o = t->tok + *n;
  switch (k) {
  case 1: o[0] = (char)c; break;
  case 2:
    o[0] = (char)(0xC0 | (c >> 6));
    o[1] = (char)(0x80 | (c & 0x3F));
    break;
  case 3:
    o[0] = (char)(0xE0 | (c >> 12));
    o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[2] = (char)(0x80 | (c & 0x3F));
    break;
  default:
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
  }
  *n += k;
  return 1;
}

/* Emits the units [a, b) as one token. */
static int emit(kftsp_tokenizer *t, void *ctx, xtoken_fn xToken, int tflags, size_t a, size_t b) {
  int rc = tok_reserve(t, MAX_TOKEN + 8);
  if (rc) return rc;
  int n = 0;
  for (size_t i = a; i < b && put_cp(t, &n, t->u[i].cp); i++) {
  }
  return xToken(ctx, tflags, t->tok, n, t->u[a].start, t->u[b - 1].end);
}

/* Emits units I and J (I before J, not necessarily adjacent) as one bigram. */
static int emit_pair(kftsp_tokenizer *t, void *ctx, xtoken_fn xToken, size_t i, size_t j) {
  int rc = tok_reserve(t, MAX_TOKEN + 8);
  if (rc) return rc;
  int32_t a = t->u[i].cp, b = t->u[j].cp;
  if (a >= 0x800 && a < 0x10000 && b >= 0x800 && b < 0x10000) { /* Hangul, most CJK */
    unsigned char *o = (unsigned char *)t->tok;
    o[0] = (unsigned char)(0xE0 | (a >> 12));
    o[1] = (unsigned char)(0x80 | ((a >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (a & 0x3F));
    o[3] = (unsigned char)(0xE0 | (b >> 12));
    o[4] = (unsigned char)(0x80 | ((b >> 6) & 0x3F));
    o[5] = (unsigned char)(0x80 | (b & 0x3F));
    return xToken(ctx, 0, t->tok, 6, t->u[i].start, t->u[j].end);
  }
  int n = 0;
  put_cp(t, &n, t->u[i].cp);
  put_cp(t, &n, t->u[j].cp);
  return xToken(ctx, 0, t->tok, n, t->u[i].start, t->u[j].end);
}

/* Hangul/CJK run [a, b): bigrams, the final unigram (documents), and a bridge from the
** previous run when BRIDGE_FROM is a unit index (else -1). CONTINUED: the run began in the
** previous window, whose last unit is A here. */
static int emit_run(kftsp_tokenizer *t, void *ctx, xtoken_fn xToken, int query, size_t a, size_t b,
                    long bridge_from, int continued) {
  int rc = bridge_from >= 0 ? emit_pair(t, ctx, xToken, (size_t)bridge_from, a) : SQLITE_OK;
  size_t n = b - a + (continued != 0);
  for (size_t i = a; i + 1 < b && rc == SQLITE_OK; i++) rc = emit_pair(t, ctx, xToken, i, i + 1);
  if (rc) return rc;
  if (n == 1) return emit(t, ctx, xToken, 0, a, b);
  if (!query) return emit(t, ctx, xToken, FTS5_TOKEN_COLOCATED, b - 1, b);
  return SQLITE_OK;
}

int kftsp_tokenize(kftsp_tokenizer *t, void *ctx, int flags, const char *text, int len,
                   int (*xToken)(void *, int, const char *, int, int, int)) {
  if (len < 0) len = text ? (int)strlen(text) : 0;
  int query = (flags & FTS5_TOKENIZE_QUERY) != 0, rc = SQLITE_OK, pos = 0;
  /* A long text goes window by window (normalise()), so memory stays bounded. Across a
  ** window's end a unit is carried: the last syllable of a Hangul run that only spaces have
  ** followed (for the bridge), or the last unit of a run cut in the middle (2 * WINDOW units
  ** without a space or separator; a Latin word cut there is indexed up to the cut). */
  unit carried = {0, 0, 0, 0};
  enum { NONE, BRIDGE, CONTINUE, SKIP } carry = NONE;
  while (rc == SQLITE_OK && pos < len) {
    size_t n = 0, i = 0;
    /* Unit index of the previous Hangul run's last syllable while nothing but spaces has
    ** followed it; -1 otherwise. */
    long last_syllable = -1;
    if (carry == BRIDGE || carry == CONTINUE) {
      rc = push_cls(t, &n, carried.cp, carried.start, carried.end, carried.cls);
      if (carry == BRIDGE) last_syllable = 0, i = 1;
    }
    int skip = carry == SKIP, continued = carry == CONTINUE;
    if (rc == SQLITE_OK) rc = normalise(t, text, len, &pos, &n);
    carry = NONE;
    /* Cut inside a run: its last unit starts the next window. */
    int cut = pos < len && n > 0 && t->u[n - 1].cls > C_SPACE;
    while (rc == SQLITE_OK && i < n) {
      int cls = t->u[i].cls;
      if (cls == C_SEP || cls == C_SPACE) {
        if (cls == C_SEP) last_syllable = -1;
        skip = 0;
        i++;
        continue;
      }
      size_t j = i + 1;
      while (j < n && t->u[j].cls == cls) j++;
      if (skip) { /* the rest of a word cut at the previous window's end */
        skip = 0;
        if (cut && j == n) carry = SKIP;
      } else if (cls == C_HANGUL || cls == C_CJK) {
        long from = cls == C_HANGUL && t->bridge ? last_syllable : -1;
        if (cut && j == n) { /* its bigrams; the rest, from its last unit, next window */
          rc = from >= 0 ? emit_pair(t, ctx, xToken, (size_t)from, i) : SQLITE_OK;
          for (size_t k = i; k + 1 < j && rc == SQLITE_OK; k++) rc = emit_pair(t, ctx, xToken, k, k + 1);
          carried = t->u[j - 1];
          carry = CONTINUE;
        } else {
          rc = emit_run(t, ctx, xToken, query, i, j, from, continued && i == 0);
        }
        last_syllable = cls == C_HANGUL ? (long)j - 1 : -1;
      } else {
        rc = emit(t, ctx, xToken, 0, i, j);
        last_syllable = -1;
        if (cut && j == n) carry = SKIP;
      }
      i = j;
    }
    if (carry == NONE && last_syllable >= 0 && pos < len) {
      carried = t->u[last_syllable];
      carry = BRIDGE;
    }
  }
  return rc;
}

int kftsp_tokenizer_new(kftsp_tokenizer **out, const char **args, int n_args, char **errmsg) {
  *out = NULL;
  kftsp_tokenizer *t = kftsp_malloc(sizeof *t);
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof *t);
  t->bridge = 1;
  t->window = WINDOW;
  for (int i = 0; i < n_args; i += 2) {
    const char *key = args[i], *val = i + 1 < n_args ? args[i + 1] : NULL;
    char *end = NULL;
    long w = val && !strcmp(key, "window") ? strtol(val, &end, 10) : 0;
    if (!strcmp(key, "bridge") && val && (!strcmp(val, "0") || !strcmp(val, "1"))) {
      t->bridge = val[0] == '1';
    } else if (end && !*end && w >= 2 && w <= 1 << 20) {
      t->window = (size_t)w;
    } else {
      if (errmsg)
        *errmsg = kftsp_printf("kfts tokenizer: unknown option '%s' (known: bridge 0|1, window 2..1048576)", key);
      kftsp_tokenizer_free(t);
      return SQLITE_ERROR;
    }
  }
  *out = t;
  return SQLITE_OK;
}

void kftsp_tokenizer_free(kftsp_tokenizer *t) {
  if (!t) return;
  kftsp_free(t->u);
  kftsp_free(t->tok);
  kftsp_free(t);
}

/* FTS5 v1 callbacks. */

static int fts_create(void *ctx, const char **azArg, int nArg, Fts5Tokenizer **ppOut) {
  (void)ctx;
  kftsp_tokenizer *t = NULL;
  char *msg = NULL;
  int rc = kftsp_tokenizer_new(&t, azArg, nArg, &msg);
  kftsp_free(msg); /* FTS5's v1 API has no way to pass it on */
  *ppOut = (Fts5Tokenizer *)t;
  return rc;
}

static void fts_delete(Fts5Tokenizer *p) { kftsp_tokenizer_free((kftsp_tokenizer *)p); }

static int fts_tokenize(Fts5Tokenizer *p, void *pCtx, int flags, const char *pText, int nText,
                        int (*xToken)(void *, int, const char *, int, int, int)) {
  return kftsp_tokenize((kftsp_tokenizer *)p, pCtx, flags, pText, nText, xToken);
}

/*
** kfts_rank(fts, params): a cheap relevance score for choosing candidates, for ORDER BY
** (lower is better, like bm25()): the sum over phrases of idf times saturated, column-weighted
** term frequency (BM25 without length normalisation). PARAMS is a blob of doubles: one
** weight per column, then one idf per phrase of the MATCH expression. FTS5's bm25() counts
** each phrase's documents by reading its whole doclist on every query, and reads every
** row's column sizes; rank.c already knows the counts and normalises when it rescores.
*/
static void rank_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nVal,
                    sqlite3_value **apVal) {
  int n_col = api->xColumnCount(fts), n_phrase = api->xPhraseCount(fts);
  const double *par = nVal == 1 ? sqlite3_value_blob(apVal[0]) : NULL;
  int n_par = nVal == 1 ? sqlite3_value_bytes(apVal[0]) / (int)sizeof(double) : 0;
  if (!par || n_par < n_col + n_phrase || n_col > 16) {
    sqlite3_result_error(ctx, "kfts_rank: expects a blob of column weights and phrase idfs", -1);
    return;
  }
  double score = 0;
  for (int i = 0; i < n_phrase; i++) {
    Fts5PhraseIter it;
    int col = -1, off = 0;
    double tf = 0;
    if (api->xPhraseFirst(fts, i, &it, &col, &off) != SQLITE_OK) continue;
    for (; col >= 0; api->xPhraseNext(fts, &it, &col, &off))
      if (col < n_col) tf += par[col];
    score += par[n_col + i] * tf * 2.2 / (tf + 1.2); /* BM25 k1 = 1.2 */
  }
  sqlite3_result_double(ctx, -score);
}

int kftsp_register_tokenizer(fts5_api *api) {
  static fts5_tokenizer tok = {fts_create, fts_delete, fts_tokenize};
  if (!api || api->iVersion < 2) return SQLITE_ERROR;
  int rc = api->xCreateTokenizer(api, "kfts", NULL, &tok, NULL);
  if (rc == SQLITE_OK) rc = api->xCreateFunction(api, "kfts_rank", NULL, rank_fn, NULL);
  return rc;
}

typedef struct dump_ctx {
  int (*cb)(void *, const kfts_token *);
  void *ctx;
} dump_ctx;

static int dump_token(void *p, int tflags, const char *tok, int n, int start, int end) {
  dump_ctx *d = p;
  kfts_token k = {tok, n, start, end, (tflags & FTS5_TOKEN_COLOCATED) != 0};
  return d->cb(d->ctx, &k) ? SQLITE_DONE : SQLITE_OK;
}

int kfts_tokens(const char *text, size_t len, int query, int (*cb)(void *, const kfts_token *),
                void *ctx) {
  if (len > 0x7FFFFFFF) return KFTS_EUSAGE;
  kftsp_tokenizer *t = NULL;
  if (kftsp_tokenizer_new(&t, NULL, 0, NULL) != SQLITE_OK) return KFTS_ENOMEM;
  dump_ctx d = {cb, ctx};
  int rc = kftsp_tokenize(t, &d, query ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT, text,
                          (int)len, dump_token);
  kftsp_tokenizer_free(t);
  return rc == SQLITE_NOMEM ? KFTS_ENOMEM : KFTS_OK;
}
