/*
** format.c -- kfts_parse(): checks the bytes, splits lines, recognises the format,
** runs its parser (format_*.c), then applies what every format shares: manifest
** defaults, fallback titles, dropping empty articles. Also the document builder and the
** JSON form of an article used by `kfts-index --dump`.
*/
#include "kfts_int.h"

#include <jansson.h>
#include <string.h>

kfts_article *kftsp_article_new(kftsp_ctx *c, int line) {
  if (c->rc) return NULL;
  kfts_doc *d = c->doc;
  kfts_article *v = kftsp_realloc(d->articles, (d->n_articles + 1) * sizeof *v);
  if (!v) {
    c->rc = KFTS_ENOMEM;
    return NULL;
  }
  d->articles = v;
  kfts_article *a = &v[d->n_articles++];
  memset(a, 0, sizeof *a);
  a->importance = -1;
  a->line = line;
  return a;
}

char *kftsp_ctx_str(kftsp_ctx *c, char *p) {
  if (!p && !c->rc) c->rc = KFTS_ENOMEM;
  return p;
}

void kftsp_set(kftsp_ctx *c, char **field, char *value) {
  kftsp_free(*field);
  *field = kftsp_ctx_str(c, value);
}

void kftsp_article_topic(kftsp_ctx *c, kfts_article *a, const char *s, size_t n) {
  kftsp_buf b = {0};
  kftsp_md_inline(&b, s, n);
  char *t = kftsp_ctx_str(c, kftsp_buf_take(&b));
  if (!t) return;
  const char *ts = t;
  size_t tn = strlen(t);
  kftsp_trim(&ts, &tn);
  int dup = tn == 0;
  for (size_t i = 0; !dup && i < a->n_topics; i++)
    dup = strlen(a->topics[i]) == tn && memcmp(a->topics[i], ts, tn) == 0;
  if (dup) {
    kftsp_free(t);
    return;
  }
  memmove(t, ts, tn);
  t[tn] = 0;
  char **v = kftsp_realloc(a->topics, (a->n_topics + 1) * sizeof *v);
  if (!v) {
    kftsp_free(t);
    c->rc = KFTS_ENOMEM;
    return;
  }
  a->topics = v;
  v[a->n_topics++] = t;
}

void kftsp_diag(kftsp_ctx *c, int line, const char *fmt, ...) {
  if (c->rc) return;
  kfts_doc *d = c->doc;
  kfts_diag *v = kftsp_realloc(d->diags, (d->n_diags + 1) * sizeof *v);
  if (!v) {
    c->rc = KFTS_ENOMEM;
    return;
  }
  d->diags = v;
  va_list ap;
  va_start(ap, fmt);
  char tmp[600];
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  v[d->n_diags].line = line;
  v[d->n_diags].message = kftsp_ctx_str(c, kftsp_strdup(tmp));
  if (v[d->n_diags].message) d->n_diags++;
}

int kftsp_parse_date(const char *s, size_t n, char out[11]) {
  kftsp_trim(&s, &n);
  int dg[8], k = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch >= '0' && ch <= '9') {
      if (k == 8) return 0;
      dg[k++] = ch - '0';
    } else if (ch != '-' && ch != '.' && ch != '/') {
      return 0;
    }
  }
  int y, m, d;
  if (k == 6) { /* YYMMDD: 2000-2099 */
    y = 2000 + dg[0] * 10 + dg[1];
    m = dg[2] * 10 + dg[3];
    d = dg[4] * 10 + dg[5];
  } else if (k == 8) {
    y = dg[0] * 1000 + dg[1] * 100 + dg[2] * 10 + dg[3];
    m = dg[4] * 10 + dg[5];
    d = dg[6] * 10 + dg[7];
  } else {
    return 0;
  }
  if (!kftsp_valid_ymd(y, m, d)) return 0;
  kftsp_format_ymd(out, y, m, d);
  return 1;
}

int kftsp_timestamp_line(const char *s, size_t n, char time_out[9], const char **rest,
                         size_t *rest_n) {
  kftsp_trim(&s, &n);
  if (n < 6 || s[0] != '(') return 0;
  const char *close = memchr(s, ')', n < 12 ? n : 12);
  if (!close) return 0;
  int parts[3], np = 0, val = 0, digits = 0;
  for (const char *p = s + 1; p <= close; p++) {
    if (*p >= '0' && *p <= '9' && digits < 2) {
      val = val * 10 + (*p - '0');
      digits++;
    } else if ((*p == ':' || p == close) && digits > 0 && np < 3) {
      parts[np++] = val;
      val = digits = 0;
    } else {
      return 0;
    }
  }
  if (np < 2) return 0;
  int h = np == 3 ? parts[0] : 0, m = parts[np - 2], sec = parts[np - 1];
  if (m > 59 || sec > 59) return 0;
  char tmp[40];
  snprintf(tmp, sizeof tmp, "%02d:%02d:%02d", h, m, sec);
  memcpy(time_out, tmp, 8);
  time_out[8] = 0;
  const char *r = close + 1;
  size_t rn = n - (size_t)(r - s);
  kftsp_trim(&r, &rn);
  *rest = r;
  *rest_n = rn;
  return 1;
}

void kftsp_article_clear(kfts_article *a) {
  kftsp_free(a->title);
  kftsp_free(a->summary);
  kftsp_free(a->body);
  kftsp_free(a->url);
  kftsp_free(a->date);
  kftsp_free(a->date_source);
  kftsp_free(a->published_at);
  kftsp_free(a->source);
  kftsp_free(a->time_offset);
  for (size_t t = 0; t < a->n_topics; t++) kftsp_free(a->topics[t]);
  kftsp_free(a->topics);
  memset(a, 0, sizeof *a);
}

/* Removes C0 control characters but tab and newline, in place: they mean nothing in text,
** and search.c uses two of them to mark snippet highlights. */
static void drop_controls(char *s) {
  if (!s) return;
  char *o = s;
  for (; *s; s++)
    if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n') *o++ = *s;
  *o = 0;
}

/* Where to end a part of at most MAX bytes of S (N > MAX): after the last newline, else the
** last space, else at a character boundary. */
static size_t part_end(const char *s, size_t max) {
  for (size_t k = max; k > max / 2; k--)
    if (s[k - 1] == '\n') return k;
  for (size_t k = max; k > max / 2; k--)
    if (s[k - 1] == ' ') return k;
  size_t k = max;
  while (k > 1 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
  return k;
}

static char *dup_or_null(kftsp_ctx *c, const char *s) { return s ? kftsp_ctx_str(c, kftsp_strdup(s)) : NULL; }

/* An article whose body passes KFTSP_MAX_PART bytes becomes parts "title (k/N)" of at most
** that much, each with the article's metadata and the line it starts near: the index holds
** and tokenizes one part at a time, so memory stays bounded whatever one article's size. */
static void split_large(kftsp_ctx *c) {
  kfts_doc *d = c->doc;
  size_t extra = 0;
  for (size_t i = 0; i < d->n_articles; i++) {
    size_t n = strlen(d->articles[i].body);
    if (n > KFTSP_MAX_PART) extra += n / (KFTSP_MAX_PART / 2); /* parts hold at least half */
  }
  if (!extra) return;
  kfts_article *v = kftsp_malloc((d->n_articles + extra) * sizeof *v);
  if (!v) {
    c->rc = KFTS_ENOMEM;
    return;
  }
  size_t out = 0;
  for (size_t i = 0; i < d->n_articles; i++) {
    kfts_article *a = &d->articles[i];
    const char *body = a->body;
    size_t len = strlen(body);
    if (len <= KFTSP_MAX_PART || c->rc) {
      v[out++] = *a;
      memset(a, 0, sizeof *a);
      continue;
    }
    size_t ends[4096], n_parts = 0; /* part ends; KFTSP_MAX_PART * 2048 > the 512 MB file cap */
    for (size_t at = 0; at < len;) {
      int last = len - at <= KFTSP_MAX_PART || n_parts + 1 == KFTSP_ARRAY_LEN(ends);
      at = last ? len : at + part_end(body + at, KFTSP_MAX_PART);
      ends[n_parts++] = at;
    }
    /* Lines first; then the parts from the last, each cut off the body, which shrinks, so
    ** the text is held about once. */
    int lines[4096];
    lines[0] = a->line;
    for (size_t k = 1, j = 0; k < n_parts; k++)
      for (lines[k] = lines[k - 1]; j < ends[k - 1]; j++) lines[k] += body[j] == '\n';
    memset(v + out, 0, n_parts * sizeof *v); /* what an error leaves unmade stays empty */
    for (size_t k = n_parts; k-- > 0 && !c->rc;) {
      size_t from = k ? ends[k - 1] : 0;
      kfts_article *p = &v[out + k];
      p->title = kftsp_ctx_str(c, kftsp_printf("%s (%zu/%zu)", a->title, k + 1, n_parts));
      if (k) {
        p->body = kftsp_ctx_str(c, kftsp_strndup(a->body + from, ends[k] - from));
        a->body[from] = 0;
        char *shrunk = kftsp_realloc(a->body, from + 1);
        if (shrunk) a->body = shrunk;
      } else {
        p->body = a->body;
        a->body = NULL;
      }
      p->summary = k ? NULL : dup_or_null(c, a->summary);
      p->url = dup_or_null(c, a->url);
      p->date = dup_or_null(c, a->date);
      p->date_source = dup_or_null(c, a->date_source);
      p->published_at = dup_or_null(c, a->published_at);
      p->source = dup_or_null(c, a->source);
      p->time_offset = dup_or_null(c, a->time_offset);
      for (size_t t = 0; t < a->n_topics; t++) kftsp_article_topic(c, p, a->topics[t], strlen(a->topics[t]));
      p->importance = a->importance;
      p->line = lines[k];
    }
    out += n_parts;
    kftsp_article_clear(a);
  }
  kftsp_free(d->articles);
  d->articles = v;
  d->n_articles = out;
}

/* Manifest defaults fill what the text did not say; fallback titles; drop empty articles. */
static void finish(kftsp_ctx *c) {
  const kfts_file_opts *o = c->opts;
  kfts_doc *d = c->doc;
  size_t keep = 0;
  for (size_t i = 0; i < d->n_articles && !c->rc; i++) {
    kfts_article *a = &d->articles[i];
    if (!a->body) a->body = kftsp_ctx_str(c, kftsp_strdup(""));
    if (!a->title) a->title = kftsp_ctx_str(c, kftsp_strdup(""));
    if (c->rc) break;
    drop_controls(a->title);
    drop_controls(a->summary);
    drop_controls(a->body);
    if (!a->title[0]) {
      const char *from = a->summary && a->summary[0] ? a->summary : a->body;
      kftsp_set(c, &a->title, kftsp_title_from_text(from, strlen(from), 80));
    }
    if (!a->title || (!a->title[0] && !a->body[0] && !a->summary)) {
      /* Nothing searchable: drop it. */
      kftsp_article_clear(a);
      continue;
    }
    if (o) {
      if (!a->source && o->source) a->source = kftsp_ctx_str(c, kftsp_strdup(o->source));
      if (!a->date && o->date) {
        a->date = kftsp_ctx_str(c, kftsp_strdup(o->date));
        a->date_source = kftsp_ctx_str(c, kftsp_strdup("manifest"));
      }
      for (size_t t = 0; t < o->n_topics; t++)
        kftsp_article_topic(c, a, o->topics[t], strlen(o->topics[t]));
    }
    if (keep != i) { /* move down, leaving the old slot empty for kfts_doc_free */
      d->articles[keep] = *a;
      memset(a, 0, sizeof *a);
    }
    keep++;
  }
  if (!c->rc) d->n_articles = keep;
  if (!c->rc) split_large(c);
}

static const char *detect(const kftsp_line *l, size_t n) {
  if (kftsp_looks_crawl(l, n)) return "crawl";
  if (kftsp_looks_cards(l, n)) return "cards";
  if (kftsp_looks_podcast(l, n)) return "podcast";
  if (kftsp_looks_newsletter(l, n)) return "newsletter";
  return "text";
}

static const char *const format_names[] = {"cards", "crawl", "podcast", "newsletter", "text"};

int kfts_parse(kfts_doc **out, const char *path, const char *text, size_t len,
               const kfts_file_opts *opts, kfts_error *err) {
  *out = NULL;
  /* A UTF-8 byte order mark is not content. */
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, len -= 3;
  /* Text in another encoding, or not text at all, said plainly. */
  static const struct {
    const char *magic;
    size_t n;
    const char *what;
  } kinds[] = {
      {"\xFF\xFE", 2, "UTF-16 text (little-endian byte-order mark); convert it: iconv -f UTF-16 -t UTF-8"},
      {"\xFE\xFF", 2, "UTF-16 text (big-endian byte-order mark); convert it: iconv -f UTF-16 -t UTF-8"},
      {"\x89PNG", 4, "a PNG image, not text"},
      {"\x1F\x8B", 2, "gzip data, not text; decompress it first"},
      {"PK\x03\x04", 4, "a zip archive, not text"},
      {"%PDF", 4, "a PDF document, not text"},
      {"\xFF\xD8\xFF", 3, "a JPEG image, not text"},
  };
  for (size_t k = 0; k < KFTSP_ARRAY_LEN(kinds); k++)
    if (len >= kinds[k].n && !memcmp(text, kinds[k].magic, kinds[k].n))
      return kftsp_err(err, KFTS_EINPUT, path, 1, "%s; file skipped", kinds[k].what);
  size_t bad = kftsp_utf8_check(text, len);
  if (bad < len) {
    int line = 1, col = 1;
    for (size_t i = 0; i < bad; i++) {
      if (text[i] == '\n') line++, col = 1;
      else if ((text[i] & 0xC0) != 0x80) col++;
    }
    int rc = kftsp_err(err, KFTS_EINPUT, path, line, "%s at byte %zu; file skipped",
                       text[bad] == 0 ? "NUL byte (binary file?)" : "not valid UTF-8",
                       bad);
    if (err) err->column = col;
    return rc;
  }
  kftsp_tz *tz = NULL;
  int rc = kftsp_tz_load(&tz, opts ? opts->timezone : NULL, err);
  if (rc) return rc;
  kfts_doc *d = kftsp_malloc(sizeof *d);
  kftsp_line *lines = NULL;
  size_t n_lines = 0;
  if (!d) {
    kftsp_tz_free(tz);
    return KFTS_ENOMEM;
  }
  memset(d, 0, sizeof *d);
  d->path = kftsp_strdup(path ? path : "");
  rc = d->path ? kftsp_lines_split(&lines, &n_lines, text, len) : KFTS_ENOMEM;
  if (rc == KFTS_OK) {
    kftsp_ctx c = {d, lines, n_lines, opts, tz, kftsp_now_ms(), KFTS_OK};
    d->format = NULL;
    if (opts && opts->format)
      for (size_t i = 0; i < KFTSP_ARRAY_LEN(format_names); i++)
        if (!strcmp(opts->format, format_names[i])) d->format = format_names[i];
    if (!d->format) d->format = detect(lines, n_lines);
    if (!strcmp(d->format, "cards")) kftsp_parse_cards(&c);
    else if (!strcmp(d->format, "crawl")) kftsp_parse_crawl(&c);
    else if (!strcmp(d->format, "podcast")) kftsp_parse_podcast(&c);
    else if (!strcmp(d->format, "newsletter")) kftsp_parse_newsletter(&c);
    else kftsp_parse_text(&c, 0);
    finish(&c);
    if (!c.rc && d->n_articles == 0) kftsp_diag(&c, 0, "no text to index (empty file)");
    rc = c.rc;
  }
  kftsp_free(lines);
  kftsp_tz_free(tz);
  if (rc) {
    kfts_doc_free(d);
    return kftsp_err(err, rc, path, 0, "out of memory");
  }
  *out = d;
  return KFTS_OK;
}

void kfts_doc_free(kfts_doc *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n_articles; i++) {
    kftsp_article_clear(&d->articles[i]);
  }
  kftsp_free(d->articles);
  for (size_t i = 0; i < d->n_diags; i++) kftsp_free(d->diags[i].message);
  kftsp_free(d->diags);
  kftsp_free(d->path);
  kftsp_free(d);
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

char *kfts_article_json(const kfts_doc *doc, const kfts_article *a) {
  json_t *o = json_object();
  json_t *topics = json_array();
  if (!o || !topics) {
    json_decref(o);
    json_decref(topics);
    return NULL;
  }
  for (size_t i = 0; i < a->n_topics; i++) json_array_append_new(topics, json_string(a->topics[i]));
  json_object_set_new(o, "file", json_string(doc->path));
  json_object_set_new(o, "line", json_integer(a->line));
  json_object_set_new(o, "format", json_string(doc->format));
  json_object_set_new(o, "title", json_string(a->title));
  json_object_set_new(o, "url", str_or_null(a->url));
  json_object_set_new(o, "date", str_or_null(a->date));
  json_object_set_new(o, "date_source", str_or_null(a->date_source));
  json_object_set_new(o, "published_at", str_or_null(a->published_at));
  json_object_set_new(o, "source", str_or_null(a->source));
  json_object_set_new(o, "topics", topics);
  json_object_set_new(o, "importance", a->importance >= 0 ? json_integer(a->importance) : json_null());
  json_object_set_new(o, "time_offset", str_or_null(a->time_offset));
  json_object_set_new(o, "summary", str_or_null(a->summary));
  json_object_set_new(o, "body", json_string(a->body));
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  return s;
}
