/*
** query.c -- the kfts query language: parsing and compiling to FTS5 and SQL.
**
**   words         all must match (a trailing Korean particle is dropped: 센터의 = 센터)
**   "a phrase"    the words in this order (Hangul: also across a space)
**   a OR b        either; binds tighter than the implied AND (x a OR b = x AND (a OR b))
**   -word, NOT w  excluded; also -"phrase", -(group), -source:x
**   ( ... )       grouping; word*  prefix
**   title:w  topic:w                      the word in that field (w may be "..." or (...))
**   source:s  date:D  since:D  until:D    D = YYYY, YYYY-MM, YYYY-MM-DD or D1..D2
**   importance:N  (>=N, >N, <=N, <N, =N, N1..N2)
**
** Words and phrases reach FTS5 only as double-quoted strings; filters become SQL
** conditions on the articles table "a" with every value bound as a parameter. Filters
** apply to the whole query, so they may only stand at its top level. Anything else a user
** types is either a literal word (C++, a:b, NEAR(, AND at the start) or a parse error
** naming its position (1-based, in characters): an unclosed '(' or a stray ')'.
**
** Owns no SQL execution: search.c runs what this compiles.
*/
#include "kfts_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { N_TERM, N_PHRASE, N_AND, N_OR, N_NOT, N_COL, N_FILTER };

typedef struct node {
  int type;
  int pos;            /* byte offset in the query */
  const char *s;      /* N_TERM, N_PHRASE: text in the query */
  size_t n;
  int prefix;         /* N_TERM ending in '*' */
  const char *col;    /* N_COL: FTS5 column */
  char *sql;          /* N_FILTER: condition on a.*, kftsp_free */
  struct node **kids; /* kftsp_free */
  size_t n_kids, cap_kids;
} node;

typedef struct parser {
  const char *q;
  size_t len, i;
  int depth;
  node *pool;   /* every node, so that freeing is one loop */
  size_t n_pool, cap_pool;
  kftsp_query *out;
  const kftsp_aliases *aliases;
  kfts_error *err;
  int rc;
} parser;

/* Character position (1-based) of byte offset OFF. */
static int char_pos(const char *q, size_t off) {
  int pos = 1;
  for (size_t i = 0; i < off; i++) pos += ((unsigned char)q[i] & 0xC0) != 0x80;
  return pos;
}

static int perr(parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, size_t off, const char *fmt, ...) {
  if (p->rc) return p->rc;
  int pos = char_pos(p->q, off);
  p->rc = KFTS_EUSAGE;
  if (p->err) {
    memset(p->err, 0, sizeof *p->err);
    p->err->code = KFTS_EUSAGE;
    snprintf(p->err->source, sizeof p->err->source, "query");
    p->err->column = pos;
    int k = snprintf(p->err->message, sizeof p->err->message, "query position %d: ", pos);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message + k, sizeof p->err->message - (size_t)k, fmt, ap);
    va_end(ap);
  }
  return p->rc;
}

static node *new_node(parser *p, int type, size_t pos) {
  if (p->rc) return NULL;
  if (p->n_pool == p->cap_pool) { /* nodes are referenced by index until parsing ends */
    p->rc = KFTS_ENOMEM;
    return NULL;
  }
  node *x = &p->pool[p->n_pool++];
  memset(x, 0, sizeof *x);
  x->type = type;
  x->pos = (int)pos;
  return x;
}

static int add_kid(parser *p, node *parent, node *kid) {
  node **k = kftsp_grow(parent->kids, parent->n_kids, &parent->cap_kids, sizeof *k, 4);
  if (!k) return p->rc = KFTS_ENOMEM;
  parent->kids = k;
  parent->kids[parent->n_kids++] = kid;
  return KFTS_OK;
}

/* ---- lexing helpers ---- */

static int is_space_at(const char *q, size_t len, size_t i, size_t *w) {
  unsigned char c = (unsigned char)q[i];
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
    *w = 1;
    return 1;
  }
  if (c == 0xE3 && i + 2 < len && (unsigned char)q[i + 1] == 0x80 && (unsigned char)q[i + 2] == 0x80) {
    *w = 3; /* U+3000 IDEOGRAPHIC SPACE */
    return 1;
  }
  return 0;
}

static void skip_space(parser *p) {
  size_t w;
  while (p->i < p->len && is_space_at(p->q, p->len, p->i, &w)) p->i += w;
}

/* End of the bare word starting at I: whitespace, a quote, or ')' while in a group. */
static size_t word_end(parser *p, size_t i) {
  size_t w;
  while (i < p->len && !is_space_at(p->q, p->len, i, &w) && p->q[i] != '"' &&
         !(p->q[i] == ')' && p->depth > 0))
    i++;
  return i;
}

static int is_word(const parser *p, size_t a, size_t b, const char *w) {
  return b - a == strlen(w) && !memcmp(p->q + a, w, b - a);
}

/* The bare word at the cursor is an operator when something it can apply to follows. */
static int operand_follows(parser *p, size_t after) {
  size_t save = p->i;
  p->i = after;
  skip_space(p);
  int ok = p->i < p->len && !(p->q[p->i] == ')' && p->depth > 0);
  p->i = save;
  return ok;
}

/* ---- filters ---- */

static int count_tokens_cb(void *ctx, const kfts_token *t) {
  (void)t;
  (*(int *)ctx)++;
  return 1; /* one is enough */
}

int kftsp_has_tokens(const char *s, size_t n) {
  int k = 0;
  return kfts_tokens(s, n, 1, count_tokens_cb, &k) == KFTS_OK && k > 0;
}

static int add_param_text(kftsp_query *q, const char *s, size_t n) {
  if (q->n_params == KFTSP_QUERY_MAX_PARAMS) return KFTS_EUSAGE;
  kftsp_qparam *x = &q->params[q->n_params];
  if (!(x->text = kftsp_strndup(s, n))) return KFTS_ENOMEM;
  x->is_int = 0;
  q->n_params++;
  return KFTS_OK;
}

static int add_param_int(kftsp_query *q, int64_t v) {
  if (q->n_params == KFTSP_QUERY_MAX_PARAMS) return KFTS_EUSAGE;
  kftsp_qparam *x = &q->params[q->n_params++];
  x->text = NULL;
  x->is_int = 1;
  x->i = v;
  return KFTS_OK;
}

static int days_in_month(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : d[m - 1];
}

/* Parses YYYY, YYYY-MM or YYYY-MM-DD (S, N bytes) into the first and last day it covers. */
/* The number in the N digits at S, or -1 when they are not all digits. */
static int digits(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Parses YYYY, YYYY-MM or YYYY-MM-DD (S, N bytes) into the first and last day it covers. */
static int parse_day_span(const char *s, size_t n, char lo[11], char hi[11]) {
  if (n != 4 && n != 7 && n != 10) return 0;
  int y = digits(s, 4), m = n >= 7 ? digits(s + 5, 2) : 0, d = n == 10 ? digits(s + 8, 2) : 0;
  if (y < 1 || (n >= 7 && (s[4] != '-' || m < 1 || m > 12)) ||
      (n == 10 && (s[7] != '-' || d < 1 || d > days_in_month(y, m))))
    return 0;
  int last = n == 4 ? 31 : n == 7 ? days_in_month(y, m) : d;
  memcpy(lo, s, n);
  memcpy(lo + n, &"-01-01"[n - 4], 11 - n); /* the rest of YYYY-01-01, NUL included */
  memcpy(hi, s, n);
  if (n == 4) memcpy(hi + 4, "-12", 3);
  hi[7] = '-';
  hi[8] = (char)('0' + last / 10);
  hi[9] = (char)('0' + last % 10);
  hi[10] = 0;
  return 1;
}

static int parse_importance(const char *s, size_t n, int *v) {
  if (n == 0 || n > 2) return 0;
  int x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    x = x * 10 + (s[i] - '0');
  }
  if (x > 10) return 0;
  *v = x;
  return 1;
}

/* Compiles FIELD:VALUE (a filter) into a condition on a.*; VALUE is not yet unquoted. */
static node *parse_filter(parser *p, const char *field, size_t pos, const char *v, size_t vn) {
  kftsp_query *q = p->out;
  kftsp_buf b = {0};
  int rc = KFTS_OK;
  char lo[11], hi[11], lo2[11], hi2[11];
  if (!strcmp(field, "source")) {
    if (!vn) goto bad;
    kftsp_buf_printf(&b, "a.source = ?%zu COLLATE NOCASE", q->n_params + 1);
    rc = add_param_text(q, v, vn);
  } else if (!strcmp(field, "date") || !strcmp(field, "since") || !strcmp(field, "until")) {
    const char *dots = NULL;
    for (size_t i = 0; i + 1 < vn; i++)
      if (v[i] == '.' && v[i + 1] == '.') {
        dots = v + i;
        break;
      }
    if (dots && !strcmp(field, "date")) {
      size_t an = (size_t)(dots - v), bn = vn - an - 2;
      if ((an && !parse_day_span(v, an, lo, hi)) || (bn && !parse_day_span(dots + 2, bn, lo2, hi2)) ||
          (!an && !bn))
        goto bad;
      if (an && bn && strcmp(lo, hi2) > 0) {
        kftsp_buf_reset(&b);
        perr(p, pos, "the date range '%.*s' ends before it starts", (int)vn, v);
        return NULL;
      }
      if (an) kftsp_buf_printf(&b, "a.date >= ?%zu", q->n_params + 1), rc = add_param_text(q, lo, 10);
      if (an && bn) kftsp_buf_adds(&b, " AND ");
      if (bn && !rc) kftsp_buf_printf(&b, "a.date <= ?%zu", q->n_params + 1), rc = add_param_text(q, hi2, 10);
    } else {
      if (!parse_day_span(v, vn, lo, hi)) goto bad;
      if (!strcmp(field, "date")) {
        kftsp_buf_printf(&b, "a.date BETWEEN ?%zu AND ?%zu", q->n_params + 1, q->n_params + 2);
        rc = add_param_text(q, lo, 10);
        if (!rc) rc = add_param_text(q, hi, 10);
      } else if (!strcmp(field, "since")) {
        kftsp_buf_printf(&b, "a.date >= ?%zu", q->n_params + 1);
        rc = add_param_text(q, lo, 10);
      } else {
        kftsp_buf_printf(&b, "a.date <= ?%zu", q->n_params + 1);
        rc = add_param_text(q, hi, 10);
      }
    }
  } else { /* importance */
    int a, c;
    const char *dots = NULL;
    for (size_t i = 0; i + 1 < vn && !dots; i++)
      if (v[i] == '.' && v[i + 1] == '.') dots = v + i;
    if (dots) {
      size_t an = (size_t)(dots - v);
      if (!parse_importance(v, an, &a) || !parse_importance(dots + 2, vn - an - 2, &c) || a > c) goto bad;
      kftsp_buf_printf(&b, "a.importance BETWEEN ?%zu AND ?%zu", q->n_params + 1, q->n_params + 2);
      rc = add_param_int(q, a);
      if (!rc) rc = add_param_int(q, c);
    } else {
      const char *op = "=";
      size_t k = 0;
      if (vn >= 2 && (v[0] == '>' || v[0] == '<') && v[1] == '=') op = v[0] == '>' ? ">=" : "<=", k = 2;
      else if (vn >= 1 && (v[0] == '>' || v[0] == '<' || v[0] == '=')) op = v[0] == '>' ? ">" : v[0] == '<' ? "<" : "=", k = 1;
      if (!parse_importance(v + k, vn - k, &a)) goto bad;
      kftsp_buf_printf(&b, "a.importance %s ?%zu", op, q->n_params + 1);
      rc = add_param_int(q, a);
    }
  }
  if (rc == KFTS_EUSAGE) {
    kftsp_buf_reset(&b);
    perr(p, pos, "too many filters");
    return NULL;
  }
  if (rc || b.oom) {
    kftsp_buf_reset(&b);
    p->rc = KFTS_ENOMEM;
    return NULL;
  }
  node *x = new_node(p, N_FILTER, pos);
  if (!x) {
    kftsp_buf_reset(&b);
    return NULL;
  }
  x->sql = kftsp_buf_take(&b);
  x->s = v;
  x->n = vn;
  return x;
bad:
  kftsp_buf_reset(&b);
  if (!strcmp(field, "source")) perr(p, pos, "source: expected a source name, e.g. source:threads");
  else if (!strcmp(field, "importance"))
    perr(p, pos, "importance: expected 0..10, >=N, >N, <=N, <N, =N or N1..N2, e.g. importance:>=8");
  else
    perr(p, pos, "%s: expected a date YYYY, YYYY-MM or YYYY-MM-DD%s, e.g. %s:2025-01", field,
         strcmp(field, "date") ? "" : " or a range D1..D2", field);
  return NULL;
}

/* ---- parsing ---- */

static node *parse_and(parser *p, size_t open_pos);

/* A quoted phrase at the cursor (on the '"'); an unclosed quote runs to the end. */
static node *parse_phrase(parser *p) {
  size_t start = p->i++;
  size_t a = p->i;
  while (p->i < p->len && p->q[p->i] != '"') p->i++;
  size_t b = p->i;
  if (p->i < p->len) p->i++;
  node *x = new_node(p, N_PHRASE, start);
  if (x) x->s = p->q + a, x->n = b - a;
  return x;
}

static const char *const fields[] = {"title", "topic", "source", "date", "since", "until", "importance"};

/* One operand: a group, a phrase, field:value, or a word. */
static node *parse_primary(parser *p) {
  skip_space(p);
  size_t start = p->i;
  if (p->i >= p->len) return NULL;
  char c = p->q[p->i];
  if (c == '(') {
    p->i++;
    p->depth++;
    node *g = parse_and(p, start);
    p->depth--;
    if (p->rc) return NULL;
    skip_space(p);
    if (p->i >= p->len || p->q[p->i] != ')') {
      perr(p, start, "'(' is never closed");
      return NULL;
    }
    p->i++;
    return g; /* may be NULL: an empty group */
  }
  if (c == '"') return parse_phrase(p);
  size_t end = word_end(p, p->i);
  /* field:value */
  const char *colon = memchr(p->q + start, ':', end - start);
  if (colon) {
    size_t fn = (size_t)(colon - (p->q + start));
    for (size_t f = 0; f < KFTSP_ARRAY_LEN(fields); f++) {
      if (fn != strlen(fields[f]) || strncasecmp(p->q + start, fields[f], fn)) continue;
      size_t vpos = start + fn + 1;
      if (f <= 1) { /* title:, topic: take a word, a phrase or a group */
        p->i = vpos;
        if (vpos >= p->len || word_end(p, vpos) == vpos) {
          if (vpos < p->len && p->q[vpos] == '"') {
            node *kid = parse_phrase(p);
            node *x = new_node(p, N_COL, start);
            if (!x || !kid) return NULL;
            x->col = f == 0 ? "title" : "topics";
            add_kid(p, x, kid);
            return x;
          }
          perr(p, start, "'%s:' needs a word, a \"phrase\" or a (group) after it", fields[f]);
          return NULL;
        }
        node *kid = parse_primary(p);
        if (p->rc) return NULL;
        if (kid && kid->type == N_FILTER) {
          perr(p, vpos, "a filter cannot be inside '%s:'", fields[f]);
          return NULL;
        }
        node *x = new_node(p, N_COL, start);
        if (!x) return NULL;
        x->col = f == 0 ? "title" : "topics";
        if (kid) add_kid(p, x, kid);
        return x;
      }
      const char *v = p->q + vpos;
      size_t vn = end - vpos;
      if (vn == 0 && vpos < p->len && p->q[vpos] == '"') { /* source:"Last Week in AI" */
        p->i = vpos;
        node *ph = parse_phrase(p);
        if (!ph) return NULL;
        v = ph->s;
        vn = ph->n;
        p->n_pool--; /* the phrase node was only a way to read the quotes */
      } else {
        p->i = end;
      }
      return parse_filter(p, fields[f], start, v, vn);
    }
  }
  p->i = end;
  node *x = new_node(p, N_TERM, start);
  if (!x) return NULL;
  x->s = p->q + start;
  x->n = end - start;
  if (x->n > 1 && x->s[x->n - 1] == '*') {
    x->prefix = 1;
    x->n--;
    while (x->n > 1 && x->s[x->n - 1] == '*') x->n--;
  }
  return x;
}

/* [-|NOT] primary */
static node *parse_unary(parser *p) {
  skip_space(p);
  size_t start = p->i;
  if (p->i >= p->len) return NULL;
  size_t end = word_end(p, p->i);
  int neg = 0;
  size_t w;
  if (p->q[p->i] == '-' && p->i + 1 < p->len && !is_space_at(p->q, p->len, p->i + 1, &w) &&
      p->q[p->i + 1] != ')') {
    neg = 1;
    p->i++;
  } else if (is_word(p, p->i, end, "NOT") && operand_follows(p, end)) {
    neg = 1;
    p->i = end;
  }
  node *x = parse_primary(p);
  if (!neg || !x) return x;
  node *n = new_node(p, N_NOT, start);
  if (n) add_kid(p, n, x);
  return n;
}

/* unary (OR unary)* */
static node *parse_or(parser *p) {
  node *first = parse_unary(p);
  if (p->rc) return NULL;
  node *orn = NULL;
  for (;;) {
    skip_space(p);
    size_t at = p->i;
    size_t end = word_end(p, at);
    if (!is_word(p, at, end, "OR") || !operand_follows(p, end) || !first) break;
    p->i = end;
    node *next = parse_unary(p);
    if (p->rc) return NULL;
    if (!orn) {
      if (!(orn = new_node(p, N_OR, at))) return NULL;
      add_kid(p, orn, first);
    }
    if (next) add_kid(p, orn, next);
  }
  return orn ? orn : first;
}

/* or_expr+ until ')' or the end; OPEN_POS is the '(' for a group, or (size_t)-1. */
static node *parse_and(parser *p, size_t open_pos) {
  node *and = new_node(p, N_AND, open_pos == (size_t)-1 ? 0 : open_pos);
  if (!and) return NULL;
  for (;;) {
    skip_space(p);
    if (p->i >= p->len) break;
    if (p->q[p->i] == ')') {
      if (p->depth > 0) break;
      perr(p, p->i, "')' without a '(' before it");
      return NULL;
    }
    size_t at = p->i, end = word_end(p, at);
    /* AND between two operands is the implied AND, said out loud. */
    if (is_word(p, at, end, "AND") && and->n_kids && operand_follows(p, end)) {
      p->i = end;
      continue;
    }
    node *x = parse_or(p);
    if (p->rc) return NULL;
    if (x) add_kid(p, and, x);
    if (p->i == at) p->i++; /* never stall */
  }
  return and;
}

/* ---- compiling ---- */

typedef struct cbuf {
  kftsp_buf b;
  int phrases; /* quoted strings written */
} cbuf;

static void quote(cbuf *c, const char *s, size_t n, int prefix) {
  kftsp_fts_quote(&c->b, s, n);
  if (prefix) kftsp_buf_addc(&c->b, '*');
  c->phrases++;
}

/* 1 when the node compiles to something (it holds an indexable word). */
static int live(const node *x) {
  if (!x) return 0;
  switch (x->type) {
  case N_TERM:
  case N_PHRASE: return kftsp_has_tokens(x->s, x->n);
  case N_FILTER: return 1;
  case N_NOT:
  case N_COL: return x->n_kids && live(x->kids[0]);
  default:
    for (size_t i = 0; i < x->n_kids; i++)
      if (live(x->kids[i])) return 1;
    return 0;
  }
}

static int emit(parser *p, cbuf *c, const node *x);

/* Words and phrases joined by OR alone (kftsp_qconj.or_only). */
static int or_only(const node *x) {
  if (x->type == N_TERM || x->type == N_PHRASE) return 1;
  if (x->type != N_OR) return 0;
  for (size_t i = 0; i < x->n_kids; i++)
    if (live(x->kids[i]) && !or_only(x->kids[i])) return 0;
  return 1;
}

static int key_token(void *ctx, const kfts_token *t) {
  kftsp_buf *key = ctx;
  kftsp_buf_addc(key, t->colocated ? '|' : ' ');
  kftsp_buf_add(key, t->text, (size_t)t->len);
  return 0;
}

/* Into KEY (after what it holds): the tokens of S (N bytes) as a MATCH reads them, and '*'
** for a PREFIX. Two spellings with the same key are one phrase to FTS5: "데이터 센터" and
** 데이터센터 both read 데이 이터 터센 센터 (bigrams bridge the space). */
static int phrase_key(kftsp_buf *key, const char *s, size_t n, int prefix) {
  int rc = kfts_tokens(s, n, 1, key_token, key);
  kftsp_buf_addc(key, prefix ? '*' : '\n');
  return rc ? rc : key->oom ? KFTS_ENOMEM : KFTS_OK;
}

/* 1 when the key of the spelling just added to KEYS (from FROM on) is one of those before it. */
static int key_seen(const kftsp_buf *keys, size_t from) {
  const char *k = keys->p + from;
  size_t n = keys->n - from;
  for (size_t at = 0; at < from;) {
    const char *end = memchr(keys->p + at, 0, from - at); /* keys end with a NUL */
    size_t len = (size_t)(end - (keys->p + at));
    if (len == n && !memcmp(keys->p + at, k, n)) return 1;
    at += len + 1;
  }
  return 0;
}

static int emit_term(parser *p, cbuf *c, const node *x) {
  if (x->prefix) {
    quote(c, x->s, x->n, 1);
    return KFTS_OK;
  }
  size_t keep = kftsp_strip_particle(x->s, x->n);
  int one = kftsp_is_one_syllable(x->s, keep);
  const char *al[64];
  size_t n_al = p->aliases ? kftsp_aliases_find(p->aliases, x->s, x->n, al, 64) : 0;
  if (!n_al && keep != x->n && p->aliases) n_al = kftsp_aliases_find(p->aliases, x->s, keep, al, 64);
  /* The word as typed (particle dropped) and each alias that is not the same phrase as one
  ** before it (FTS5 would read the same doclists twice). */
  kftsp_buf keys = {0};
  int rc = phrase_key(&keys, x->s, keep, one);
  kftsp_buf_addc(&keys, 0);
  const char *use[64];
  size_t n_use = 0;
  for (size_t i = 0; !rc && i < n_al; i++) {
    size_t from = keys.n;
    rc = phrase_key(&keys, al[i], strlen(al[i]), 0);
    if (!rc && !key_seen(&keys, from)) use[n_use++] = al[i];
    kftsp_buf_addc(&keys, 0);
  }
  if (!rc && keys.oom) rc = KFTS_ENOMEM;
  kftsp_buf_reset(&keys);
  if (rc) return p->rc = rc;
  if (n_use) kftsp_buf_addc(&c->b, '(');
  quote(c, x->s, keep, one);
  for (size_t i = 0; i < n_use; i++) {
    kftsp_buf_adds(&c->b, " OR ");
    quote(c, use[i], strlen(use[i]), 0);
  }
  if (n_use) kftsp_buf_addc(&c->b, ')');
  return KFTS_OK;
}

/* An AND node: positives joined with AND, then NOT each negative. */
static int emit_and(parser *p, cbuf *c, const node *x) {
  size_t n_pos = 0;
  for (size_t i = 0; i < x->n_kids; i++)
    if (live(x->kids[i]) && x->kids[i]->type != N_NOT) n_pos++;
  if (!n_pos) {
    for (size_t i = 0; i < x->n_kids; i++)
      if (live(x->kids[i])) return perr(p, (size_t)x->pos, "a group needs a word that is not excluded");
    return KFTS_OK;
  }
  if (n_pos > 1 || x->n_kids > 1) kftsp_buf_addc(&c->b, '(');
  size_t k = 0;
  for (size_t i = 0; i < x->n_kids; i++) {
    const node *y = x->kids[i];
    if (!live(y) || y->type == N_NOT) continue;
    if (k++) kftsp_buf_adds(&c->b, " AND ");
    if (emit(p, c, y)) return p->rc;
  }
  for (size_t i = 0; i < x->n_kids; i++) {
    const node *y = x->kids[i];
    if (!live(y) || y->type != N_NOT) continue;
    kftsp_buf_adds(&c->b, " NOT ");
    if (emit(p, c, y->kids[0])) return p->rc;
  }
  if (n_pos > 1 || x->n_kids > 1) kftsp_buf_addc(&c->b, ')');
  return KFTS_OK;
}

static int emit(parser *p, cbuf *c, const node *x) {
  switch (x->type) {
  case N_TERM: return emit_term(p, c, x);
  case N_PHRASE: quote(c, x->s, x->n, 0); return KFTS_OK;
  case N_FILTER:
    return perr(p, (size_t)x->pos, "filters apply to the whole query: '%.*s' cannot be inside '(...)', OR or NOT",
                (int)x->n, x->s);
  case N_NOT: return perr(p, (size_t)x->pos, "an excluded word cannot be an alternative of OR");
  case N_COL:
    kftsp_buf_printf(&c->b, "%s : (", x->col);
    if (emit(p, c, x->kids[0])) return p->rc;
    kftsp_buf_addc(&c->b, ')');
    return KFTS_OK;
  case N_OR: {
    size_t k = 0;
    kftsp_buf_addc(&c->b, '(');
    for (size_t i = 0; i < x->n_kids; i++) {
      if (!live(x->kids[i])) continue;
      if (k++) kftsp_buf_adds(&c->b, " OR ");
      if (emit(p, c, x->kids[i])) return p->rc;
    }
    kftsp_buf_addc(&c->b, ')');
    return KFTS_OK;
  }
  default: return emit_and(p, c, x);
  }
}

/* The query text of node X, for messages. */
static char *node_text(const parser *p, const node *x) {
  if (x->type == N_TERM || x->type == N_PHRASE) return kftsp_strndup(x->s, x->n);
  return kftsp_printf("(at position %d)", char_pos(p->q, (size_t)x->pos));
}

static int compile_top(parser *p, const node *top) {
  kftsp_query *q = p->out;
  kftsp_buf where = {0}, neg = {0};
  cbuf all = {{0}, 0};
  int n_neg_fts = 0;
  /* Filters (also negated ones) become SQL; the rest FTS5. */
  for (size_t i = 0; i < top->n_kids && !p->rc; i++) {
    const node *x = top->kids[i];
    int negated = x->type == N_NOT;
    const node *y = negated ? x->kids[0] : x;
    if (y->type == N_FILTER) {
      kftsp_buf_printf(&where, negated ? " AND NOT coalesce((%s), 0)" : " AND (%s)", y->sql);
      q->n_filters++;
      continue;
    }
    if (!live(y)) continue;
    if (negated) {
      cbuf c = {{0}, 0};
      emit(p, &c, y);
      if (n_neg_fts++) kftsp_buf_adds(&neg, " OR ");
      kftsp_buf_add(&neg, c.b.p ? c.b.p : "", c.b.n);
      if (c.b.oom) neg.oom = 1;
      kftsp_buf_reset(&c.b);
      continue;
    }
    kftsp_qconj *grown = kftsp_grow(q->conj, q->n_conj, &q->cap_conj, sizeof *grown, 8);
    if (!grown) {
      p->rc = KFTS_ENOMEM;
      break;
    }
    q->conj = grown;
    cbuf c = {{0}, 0};
    emit(p, &c, y);
    if (p->rc || c.b.oom) {
      kftsp_buf_reset(&c.b);
      if (!p->rc) p->rc = KFTS_ENOMEM;
      break;
    }
    kftsp_qconj *k = &q->conj[q->n_conj++];
    k->fts = kftsp_buf_take(&c.b);
    k->phrases = c.phrases;
    k->text = node_text(p, y);
    k->simple = y->type == N_TERM || y->type == N_PHRASE;
    k->or_only = or_only(y);
    if (!k->fts || !k->text) p->rc = KFTS_ENOMEM;
  }
  if (!p->rc && n_neg_fts) q->fts_neg = kftsp_buf_take(&neg);
  if (!p->rc) q->where = kftsp_buf_take(&where);
  for (size_t i = 0; i < q->n_conj && !p->rc; i++) {
    if (i) kftsp_buf_adds(&all.b, " AND ");
    kftsp_buf_adds(&all.b, q->conj[i].fts);
  }
  if (!p->rc && q->n_conj) {
    if (q->fts_neg) kftsp_buf_printf(&all.b, " NOT (%s)", q->fts_neg);
    q->fts = kftsp_buf_take(&all.b);
  }
  kftsp_buf_reset(&all.b);
  kftsp_buf_reset(&where);
  kftsp_buf_reset(&neg);
  if (!p->rc && (where.oom || neg.oom || !q->where || (q->n_conj && !q->fts) || (n_neg_fts && !q->fts_neg)))
    p->rc = KFTS_ENOMEM;
  return p->rc;
}

int kftsp_query_compile(kftsp_query **out, const char *text, size_t len, const kftsp_aliases *aliases,
                        kfts_error *err) {
  *out = NULL;
  size_t bad = kftsp_utf8_check(text, len);
  if (bad < len)
    return kftsp_err(err, KFTS_EUSAGE, "query", 0, "query byte %zu: not valid UTF-8 text", bad + 1);
  kftsp_query *q = kftsp_malloc(sizeof *q);
  if (!q) return KFTS_ENOMEM;
  memset(q, 0, sizeof *q);
  parser p = {0};
  p.q = text;
  p.len = len;
  p.out = q;
  p.aliases = aliases;
  p.err = err;
  p.cap_pool = len + 2; /* every node consumes at least one byte, plus the top group */
  p.pool = kftsp_malloc(p.cap_pool * sizeof *p.pool);
  if (!p.pool) p.rc = KFTS_ENOMEM;
  node *top = p.rc ? NULL : parse_and(&p, (size_t)-1);
  if (!p.rc && top) compile_top(&p, top);
  if (!p.rc && !q->n_conj && !q->fts_neg && !q->n_filters)
    p.rc = kftsp_err(err, KFTS_EUSAGE, "query", 0,
                     "nothing to search for: the query has no letters or digits (emoji and "
                     "punctuation are not indexed) and no filter");
  for (size_t i = 0; i < p.n_pool; i++) {
    kftsp_free(p.pool[i].kids);
    kftsp_free(p.pool[i].sql);
  }
  kftsp_free(p.pool);
  if (p.rc) {
    kftsp_query_free(q);
    return p.rc == KFTS_ENOMEM ? kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory") : p.rc;
  }
  *out = q;
  return KFTS_OK;
}

void kftsp_query_free(kftsp_query *q) {
  if (!q) return;
  for (size_t i = 0; i < q->n_conj; i++) {
    kftsp_free(q->conj[i].fts);
    kftsp_free(q->conj[i].text);
  }
  for (size_t i = 0; i < q->n_params; i++) kftsp_free(q->params[i].text);
  kftsp_free(q->conj);
  kftsp_free(q->fts);
  kftsp_free(q->fts_neg);
  kftsp_free(q->where);
  kftsp_free(q);
}
