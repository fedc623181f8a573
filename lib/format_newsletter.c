/*
** format_newsletter.c -- newsletters split by bold heading lines ("**Title**"), with the
** untitled opening as one more article; and plain text or Markdown, one article a file.
** Neither carries a date or source: those come from the manifest.
*/
#include "kfts_int.h"

#include <string.h>

int kftsp_looks_newsletter(const kftsp_line *l, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k < 3; i++) {
    const char *h;
    size_t hn;
    if (kftsp_bold_line(l[i].s, l[i].n, &h, &hn)) k++;
  }
  return k >= 3;
}

void kftsp_parse_newsletter(kftsp_ctx *c) {
  const kftsp_line *l = c->lines;
  size_t n = c->n_lines;
  kfts_article *a = NULL;
  kftsp_para body = {0};
  int opening_line = 0;
  for (size_t i = 0; i <= n && !c->rc; i++) {
    const char *h;
    size_t hn;
    int head = i < n && kftsp_bold_line(l[i].s, l[i].n, &h, &hn);
    if (i == n || head) {
      if (!a && body.buf.n) a = kftsp_article_new(c, opening_line); /* the opening */
      if (a) a->body = kftsp_ctx_str(c, kftsp_para_take(&body));
      kftsp_buf_reset(&body.buf);
      if (i == n) break;
      a = kftsp_article_new(c, (int)i + 1);
      if (!a) break;
      kftsp_buf tb = {0};
      kftsp_md_inline(&tb, h, hn);
      /* "**성능 향상:**" is a heading too; the colon is not part of the title. */
      while (tb.n && (tb.p[tb.n - 1] == ':' || tb.p[tb.n - 1] == ' ')) tb.p[--tb.n] = 0;
      a->title = kftsp_ctx_str(c, kftsp_buf_take(&tb));
      continue;
    }
    if (!opening_line && !a && !kftsp_is_blank(l[i].s, l[i].n)) opening_line = (int)i + 1;
    kftsp_para_line(&body, l[i].s, l[i].n);
  }
  kftsp_buf_reset(&body.buf);
}

void kftsp_parse_text(kftsp_ctx *c, size_t from) {
  const kftsp_line *l = c->lines;
  size_t n = c->n_lines;
  kftsp_para body = {0};
  int first = 0;
  char *title = NULL;
  for (size_t i = from; i < n && !c->rc; i++) {
    const char *s = l[i].s;
    size_t sn = l[i].n;
    if (kftsp_is_blank(s, sn) || kftsp_is_boilerplate_line(s, sn)) continue;
    if (!first) first = (int)i + 1;
    kftsp_trim(&s, &sn);
    if (!title && kftsp_has_prefix(s, sn, "#")) { /* the first Markdown heading */
      kftsp_buf tb = {0};
      kftsp_md_inline(&tb, s, sn);
      kftsp_set(c, &title, kftsp_buf_take(&tb));
      continue;
    }
    kftsp_para_line(&body, s, sn);
  }
  if (!first || c->rc) {
    kftsp_buf_reset(&body.buf);
    kftsp_free(title);
    return;
  }
  kfts_article *a = kftsp_article_new(c, first);
  if (!a) {
    kftsp_buf_reset(&body.buf);
    kftsp_free(title);
    return;
  }
  a->body = kftsp_ctx_str(c, kftsp_para_take(&body));
  if (!title && a->body) title = kftsp_title_from_text(a->body, strlen(a->body), 120);
  a->title = kftsp_ctx_str(c, title);
}
