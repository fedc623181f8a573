/*
** text.c -- line splitting and the Markdown clean-up every format parser shares:
** trimming, inline markup removal, boilerplate lines, paragraphs, URL hosts, titles.
** The format-specific rules live in format_*.c.
*/
#include "kfts_int.h"

#include <ctype.h>
#include <string.h>

int kftsp_lines_split(kftsp_line **out, size_t *n_out, const char *text, size_t len) {
  size_t cap = 64, n = 0;
  kftsp_line *v = kftsp_malloc(cap * sizeof *v);
  if (!v) return KFTS_ENOMEM;
  size_t i = 0, start = 0;
  while (i <= len) {
    int end = (i == len) || text[i] == '\n' || text[i] == '\r';
    if (!end) {
      i++;
      continue;
    }
    if (i == len && start == len && n > 0) break; /* no empty line after a final newline */
    if (n == cap) {
      cap *= 2;
      kftsp_line *nv = kftsp_realloc(v, cap * sizeof *nv);
      if (!nv) {
        kftsp_free(v);
        return KFTS_ENOMEM;
      }
      v = nv;
    }
    v[n].s = text + start;
    v[n].n = i - start;
    n++;
    if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') i++;
    i++;
    start = i;
  }
  *out = v;
  *n_out = n;
  return KFTS_OK;
}

/* Length of a Unicode space at S (NBSP, ideographic space, zero-width no-break), or 0. */
static size_t uspace_len(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (n >= 2 && u[0] == 0xC2 && u[1] == 0xA0) return 2;
  if (n >= 3 && u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3;
  if (n >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) return 3;
  return 0;
}

static size_t uspace_len_back(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (n >= 2 && u[n - 2] == 0xC2 && u[n - 1] == 0xA0) return 2;
  if (n >= 3 && u[n - 3] == 0xE3 && u[n - 2] == 0x80 && u[n - 1] == 0x80) return 3;
  return 0;
}

void kftsp_trim(const char **s, size_t *n) {
  const char *p = *s;
  size_t len = *n, k;
  for (;;) {
    if (len && (*p == ' ' || *p == '\t' || *p == '\f' || *p == '\v')) p++, len--;
    else if ((k = uspace_len(p, len)) != 0) p += k, len -= k;
    else break;
  }
  for (;;) {
    if (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    else if ((k = uspace_len_back(p, len)) != 0) len -= k;
    else break;
  }
  *s = p;
  *n = len;
}

int kftsp_is_blank(const char *s, size_t n) {
  kftsp_trim(&s, &n);
  return n == 0;
}

int kftsp_has_prefix(const char *s, size_t n, const char *prefix) {
  size_t k = strlen(prefix);
  return n >= k && memcmp(s, prefix, k) == 0;
}

/* Index of the ')' closing a Markdown link target that opens at S[I] == '(', or N. */
static size_t close_paren(const char *s, size_t n, size_t i) {
  int depth = 0;
  for (; i < n; i++) {
    if (s[i] == '(') depth++;
    else if (s[i] == ')' && --depth == 0) return i;
    else if (s[i] == ' ' && depth == 1) return n; /* link targets carry no spaces */
  }
  return n;
}

void kftsp_md_inline(kftsp_buf *b, const char *s, size_t n) {
  kftsp_trim(&s, &n);
  /* Block markers at the start: headings, quotes, list bullets. */
  while (n && (*s == '#' || *s == '>')) {
    s++, n--;
    kftsp_trim(&s, &n);
  }
  if (n >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && s[1] == ' ') {
    s += 2, n -= 2;
    kftsp_trim(&s, &n);
  }
  size_t start = b->n;
  for (size_t i = 0; i < n;) {
    char c = s[i];
    if (c == '!' && i + 1 < n && s[i + 1] == '[') {
      /* Image: drop alt text and target. */
      const char *rb = memchr(s + i, ']', n - i);
      if (rb && (size_t)(rb - s) + 1 < n && rb[1] == '(') {
        size_t cp = close_paren(s, n, (size_t)(rb - s) + 1);
        if (cp < n) {
          i = cp + 1;
          continue;
        }
      }
    }
    if (c == '[') {
      /* [text](url) keeps text. */
      const char *rb = memchr(s + i, ']', n - i);
      if (rb && (size_t)(rb - s) + 1 < n && rb[1] == '(') {
        size_t cp = close_paren(s, n, (size_t)(rb - s) + 1);
        if (cp < n) {
          kftsp_md_inline(b, s + i + 1, (size_t)(rb - s) - i - 1);
          i = cp + 1;
          continue;
        }
      }
    }
    if ((c == '*' || c == '_') && i + 1 < n && s[i + 1] == c) {
      i += 2; /* bold marks */
      continue;
    }
    if (c == '`') {
      i++;
      continue;
    }
    kftsp_buf_addc(b, c);
    i++;
  }
  /* Trim what was produced (removed marks can leave spaces at the ends). */
  if (b->oom || !b->p) return;
  size_t j = start;
  while (j < b->n && (b->p[j] == ' ' || b->p[j] == '\t')) j++;
  if (j > start) {
    memmove(b->p + start, b->p + j, b->n - j);
    b->n -= j - start;
  }
  while (b->n > start && (b->p[b->n - 1] == ' ' || b->p[b->n - 1] == '\t')) b->n--;
  b->p[b->n] = 0;
}

int kftsp_is_boilerplate_line(const char *s, size_t n) {
  kftsp_trim(&s, &n);
  if (n == 0) return 0;
  if (kftsp_has_prefix(s, n, "![") && s[n - 1] == ')') return 1;
  if (kftsp_has_prefix(s, n, "http://") || kftsp_has_prefix(s, n, "https://"))
    return memchr(s, ' ', n) == NULL;
  /* Photo credits: *(사진=셔터스톡)* or (사진=...) alone on a line. */
  if (n >= 4 && s[0] == '*' && s[1] == '(' && s[n - 1] == '*' && s[n - 2] == ')') return 1;
  if (kftsp_has_prefix(s, n, "(사진") && s[n - 1] == ')') return 1;
  return 0;
}

int kftsp_bold_line(const char *s, size_t n, const char **in, size_t *in_n) {
  kftsp_trim(&s, &n);
  if (n < 5 || !kftsp_has_prefix(s, n, "**") || s[n - 1] != '*' || s[n - 2] != '*') return 0;
  const char *p = s + 2;
  size_t k = n - 4;
  /* "**a** and **b**" is not a heading: no bold marks inside. */
  for (size_t i = 0; i + 1 < k; i++)
    if (p[i] == '*' && p[i + 1] == '*') return 0;
  kftsp_trim(&p, &k);
  if (!k) return 0;
  *in = p;
  *in_n = k;
  return 1;
}

void kftsp_para_line(kftsp_para *p, const char *s, size_t n) {
  if (kftsp_is_blank(s, n) || kftsp_is_boilerplate_line(s, n)) return;
  size_t before = p->buf.n;
  if (before) kftsp_buf_addc(&p->buf, '\n');
  size_t mark = p->buf.n;
  kftsp_md_inline(&p->buf, s, n);
  if (!p->buf.oom && p->buf.n == mark) { /* nothing left after clean-up */
    p->buf.n = before;
    if (p->buf.p) p->buf.p[before] = 0;
  }
}

char *kftsp_para_take(kftsp_para *p) { return kftsp_buf_take(&p->buf); }

int kftsp_url_host(const char *url, size_t n, const char **host, size_t *host_n) {
  const char *p = memchr(url, ':', n);
  if (!p || (size_t)(p - url) + 3 > n || p[1] != '/' || p[2] != '/') return 0;
  const char *h = p + 3;
  const char *end = url + n;
  const char *e = h;
  while (e < end && *e != '/' && *e != '?' && *e != '#' && *e != ':') e++;
  /* user@host */
  const char *at = memchr(h, '@', (size_t)(e - h));
  if (at) h = at + 1;
  if (e - h > 4 && strncmp(h, "www.", 4) == 0) h += 4;
  else if (e - h > 2 && strncmp(h, "m.", 2) == 0) h += 2;
  if (e == h) return 0;
  *host = h;
  *host_n = (size_t)(e - h);
  return 1;
}

char *kftsp_source_from_url(const char *url) {
  const char *h;
  size_t hn;
  if (!url || !kftsp_url_host(url, strlen(url), &h, &hn)) return NULL;
  /* The registrable label: "www.threads.net" -> "threads", "news.bbc.co.uk" -> "bbc". */
  const char *labels[8];
  size_t lens[8], nl = 0;
  const char *p = h, *end = h + hn;
  while (p < end && nl < 8) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    const char *e = dot ? dot : end;
    labels[nl] = p;
    lens[nl] = (size_t)(e - p);
    nl++;
    p = dot ? dot + 1 : end;
  }
  size_t pick = nl >= 2 ? nl - 2 : 0;
  /* Second-level public suffixes like co.kr, or.kr, co.uk, com.au. */
  if (nl >= 3 && lens[nl - 1] == 2 && lens[nl - 2] <= 3) pick = nl - 3;
  char *r = kftsp_strndup(labels[pick], lens[pick]);
  if (r)
    for (char *q = r; *q; q++) *q = (char)tolower((unsigned char)*q);
  return r;
}

char *kftsp_title_from_text(const char *s, size_t n, size_t max_chars) {
  kftsp_trim(&s, &n);
  size_t i = 0, chars = 0, cut = n;
  int truncated = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n') {
      cut = i;
      break;
    }
    if ((c == '.' || c == '?' || c == '!') && (i + 1 == n || s[i + 1] == ' ') && chars >= 8) {
      cut = i + 1;
      break;
    }
    if (chars == max_chars) {
      cut = i;
      truncated = 1;
      break;
    }
    size_t step = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    i += step;
    chars++;
  }
  if (cut > n) cut = n;
  kftsp_buf b = {0};
  kftsp_buf_add(&b, s, cut);
  if (truncated) kftsp_buf_adds(&b, "…");
  return kftsp_buf_take(&b);
}
