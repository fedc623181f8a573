/*
** format_crawl.c -- crawled news: YAML-like front matter (date, source, crawled_at) and
** articles headed "## [N] title" with a "URL:" line. Front matter that never closes is
** reported and the file is read as plain text.
*/
#include "kfts_int.h"

#include <string.h>

static int is_fence(const kftsp_line *l) {
  const char *s = l->s;
  size_t n = l->n;
  kftsp_trim(&s, &n);
  return n == 3 && memcmp(s, "---", 3) == 0;
}

/* "key: value" with an ASCII key; returns 1 and the parts. */
static int key_value(const kftsp_line *l, const char **k, size_t *kn, const char **v, size_t *vn) {
  const char *s = l->s;
  size_t n = l->n;
  kftsp_trim(&s, &n);
  size_t i = 0;
  while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
    i++;
  if (i == 0 || i >= n || s[i] != ':') return 0;
  *k = s;
  *kn = i;
  *v = s + i + 1;
  *vn = n - i - 1;
  kftsp_trim(v, vn);
  /* Strip YAML quotes. */
  if (*vn >= 2 && ((*v)[0] == '"' || (*v)[0] == '\'') && (*v)[*vn - 1] == (*v)[0]) (*v)++, *vn -= 2;
  return 1;
}

static int key_is(const char *k, size_t kn, const char *name) {
  return strlen(name) == kn && strncmp(k, name, kn) == 0;
}

/* Index of the closing fence of front matter opening at line 0, 0 when none opens,
** or N when it never closes. */
static size_t front_matter_end(const kftsp_line *l, size_t n) {
  if (n == 0 || !is_fence(&l[0])) return 0;
  size_t i = 1;
  for (; i < n; i++) {
    if (is_fence(&l[i])) return i;
    const char *k, *v;
    size_t kn, vn;
    if (!kftsp_is_blank(l[i].s, l[i].n) && !key_value(&l[i], &k, &kn, &v, &vn)) return n;
  }
  return n;
}

static int crawl_heading(const kftsp_line *l, const char **t, size_t *tn) {
  const char *s = l->s;
  size_t n = l->n;
  if (!kftsp_has_prefix(s, n, "## ")) return 0;
  s += 3, n -= 3;
  kftsp_trim(&s, &n);
  if (n && s[0] == '[') { /* "[12] title" */
    size_t i = 1;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i > 1 && i < n && s[i] == ']') s += i + 1, n -= i + 1;
    kftsp_trim(&s, &n);
  }
  *t = s;
  *tn = n;
  return 1;
}

int kftsp_looks_crawl(const kftsp_line *l, size_t n) {
  size_t fm = front_matter_end(l, n);
  if (fm > 0 && fm < n) {
    for (size_t i = 1; i < fm; i++) {
      const char *k, *v;
      size_t kn, vn;
      if (key_value(&l[i], &k, &kn, &v, &vn) &&
          (key_is(k, kn, "date") || key_is(k, kn, "source") || key_is(k, kn, "crawled_at")))
        return 1;
    }
  }
  if (fm == n && n > 0) return 1; /* unclosed front matter: let the crawl parser report it */
  size_t numbered = 0;
  for (size_t i = 0; i < n; i++)
    if (kftsp_has_prefix(l[i].s, l[i].n, "## [")) numbered++;
  return numbered >= 2;
}

void kftsp_parse_crawl(kftsp_ctx *c) {
  const kftsp_line *l = c->lines;
  size_t n = c->n_lines;
  size_t fm = front_matter_end(l, n);
  if (fm == n) {
    kftsp_diag(c, 1, "front matter opened here never closes with '---'; file read as plain text");
    kftsp_parse_text(c, 0);
    return;
  }
  char date[11] = "", crawled[11] = "";
  const char *date_source = NULL;
  char *source = NULL;
  for (size_t i = 1; i < fm && !c->rc; i++) {
    const char *k, *v;
    size_t kn, vn;
    if (!key_value(&l[i], &k, &kn, &v, &vn)) continue;
    if (key_is(k, kn, "date")) {
      if (!kftsp_parse_date(v, vn, date))
        kftsp_diag(c, (int)i + 1, "date '%.*s' is not a valid date (YYMMDD or YYYY-MM-DD); ignored",
                   (int)vn, v);
    } else if (key_is(k, kn, "source") && vn) {
      kftsp_set(c, &source, kftsp_strndup(v, vn));
    } else if (key_is(k, kn, "crawled_at") && vn >= 10) {
      kftsp_parse_date(v, 10, crawled);
    }
  }
  if (date[0]) date_source = "front matter";
  else if (crawled[0]) memcpy(date, crawled, 11), date_source = "crawled";

  kfts_article *a = NULL;
  kftsp_para body = {0};
  int have_url = 0;
  int pre_line = 0;
  for (size_t i = fm ? fm + 1 : 0; i <= n && !c->rc; i++) {
    const char *t;
    size_t tn;
    int head = i < n && crawl_heading(&l[i], &t, &tn);
    if (i == n || head) {
      if (a) a->body = kftsp_ctx_str(c, kftsp_para_take(&body));
      else if (body.buf.n) { /* text before the first heading */
        a = kftsp_article_new(c, pre_line);
        if (a) a->body = kftsp_ctx_str(c, kftsp_para_take(&body));
      }
      kftsp_buf_reset(&body.buf);
      if (i == n) break;
      a = kftsp_article_new(c, (int)i + 1);
      if (!a) break;
      kftsp_buf tb = {0};
      kftsp_md_inline(&tb, t, tn);
      a->title = kftsp_ctx_str(c, kftsp_buf_take(&tb));
      have_url = 0;
      continue;
    }
    if (is_fence(&l[i])) continue;
    const char *s = l[i].s;
    size_t sn = l[i].n;
    kftsp_trim(&s, &sn);
    if (a && !have_url && kftsp_has_prefix(s, sn, "URL:")) {
      const char *u = s + 4;
      size_t un = sn - 4;
      kftsp_trim(&u, &un);
      if (un) a->url = kftsp_ctx_str(c, kftsp_strndup(u, un));
      have_url = 1;
      continue;
    }
    if (!a && !pre_line && !kftsp_is_blank(s, sn)) pre_line = (int)i + 1;
    kftsp_para_line(&body, s, sn);
  }
  kftsp_buf_reset(&body.buf);
  for (size_t i = 0; i < c->doc->n_articles && !c->rc; i++) {
    kfts_article *x = &c->doc->articles[i];
    if (source) x->source = kftsp_ctx_str(c, kftsp_strdup(source));
    else if (x->url) x->source = kftsp_source_from_url(x->url);
    if (date_source) {
      x->date = kftsp_ctx_str(c, kftsp_strdup(date));
      x->date_source = kftsp_ctx_str(c, kftsp_strdup(date_source));
    }
  }
  kftsp_free(source);
}
