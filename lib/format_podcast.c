/*
** format_podcast.c -- podcast episode notes: the episode's description, then one article
** per "(hh:mm:ss) title" line with the paragraph under it. Bold heading lines name the
** section, which becomes the item's topic. The date is read from the text
** ("2025년 8월 8일"); the show from an e-mail address it gives, else the manifest.
*/
#include "kfts_int.h"

#include <string.h>

int kftsp_looks_podcast(const kftsp_line *l, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k < 2; i++) {
    char t[9];
    const char *r;
    size_t rn;
    if (kftsp_timestamp_line(l[i].s, l[i].n, t, &r, &rn)) k++;
  }
  return k >= 2;
}

/* Finds "2025년 8월 8일" in S; 1 and OUT on success. */
static int korean_date(const char *s, size_t n, char out[11]) {
  for (size_t i = 0; i + 4 < n; i++) {
    if (s[i] < '0' || s[i] > '9' || (i && s[i - 1] >= '0' && s[i - 1] <= '9')) continue;
    const char *p = s + i, *end = s + n;
    int v[3], k;
    static const char *const units[] = {"년", "월", "일"};
    for (k = 0; k < 3; k++) {
      int x = 0, digits = 0;
      while (p < end && *p >= '0' && *p <= '9' && digits < 4) x = x * 10 + (*p++ - '0'), digits++;
      if (!digits) break;
      while (p < end && *p == ' ') p++;
      if (!kftsp_has_prefix(p, (size_t)(end - p), units[k])) break;
      p += strlen(units[k]);
      while (p < end && *p == ' ') p++;
      v[k] = x;
    }
    if (k == 3 && kftsp_valid_ymd(v[0], v[1], v[2]) && v[0] >= 1900) {
      kftsp_format_ymd(out, v[0], v[1], v[2]);
      return 1;
    }
  }
  return 0;
}

/* The show's name from the first e-mail address in S: "contact@lastweekinai.com" ->
** "lastweekinai". */
static char *show_from_email(const char *s, size_t n) {
  for (size_t i = 1; i + 1 < n; i++) {
    if (s[i] != '@') continue;
    char c0 = s[i - 1];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= '0' && c0 <= '9') || c0 == '.' || c0 == '_')) continue;
    size_t j = i + 1;
    while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                     (s[j] >= '0' && s[j] <= '9') || s[j] == '.' || s[j] == '-'))
      j++;
    while (j > i + 1 && s[j - 1] == '.') j--;
    if (!memchr(s + i + 1, '.', j - i - 1)) continue;
    char *url = kftsp_printf("mailto://%.*s", (int)(j - i - 1), s + i + 1);
    char *src = url ? kftsp_source_from_url(url) : NULL;
    kftsp_free(url);
    return src;
  }
  return NULL;
}

void kftsp_parse_podcast(kftsp_ctx *c) {
  const kftsp_line *l = c->lines;
  size_t n = c->n_lines;
  char date[11] = "";
  for (size_t i = 0; i < n && !date[0]; i++) korean_date(l[i].s, l[i].n, date);

  kfts_article *desc = NULL, *a = NULL;
  kftsp_para body = {0};
  char *topic = NULL;
  size_t first_item = n;
  char t[9];
  const char *r, *h;
  size_t rn, hn;
  for (size_t i = 0; i < n; i++)
    if (kftsp_timestamp_line(l[i].s, l[i].n, t, &r, &rn) || kftsp_bold_line(l[i].s, l[i].n, &h, &hn)) {
      first_item = i;
      break;
    }
  /* The description; a last short line ending in ':' ("타임스탬프 + 링크:") only
  ** introduces the list. */
  size_t desc_end = first_item;
  while (desc_end > 0 && kftsp_is_blank(l[desc_end - 1].s, l[desc_end - 1].n)) desc_end--;
  if (desc_end > 0) {
    const char *s = l[desc_end - 1].s;
    size_t sn = l[desc_end - 1].n;
    kftsp_trim(&s, &sn);
    if (sn && sn < 60 && s[sn - 1] == ':') desc_end--;
  }
  for (size_t i = 0; i < desc_end && !c->rc; i++) {
    if (!desc && !kftsp_is_blank(l[i].s, l[i].n)) {
      desc = kftsp_article_new(c, (int)i + 1);
      if (desc) kftsp_set(c, &desc->title, kftsp_title_from_text(l[i].s, l[i].n, 120));
    }
    kftsp_para_line(&body, l[i].s, l[i].n);
  }
  char *show = body.buf.p ? show_from_email(body.buf.p, body.buf.n) : NULL;
  if (desc) desc->body = kftsp_ctx_str(c, kftsp_para_take(&body));
  kftsp_buf_reset(&body.buf);

  for (size_t i = first_item; i <= n && !c->rc; i++) {
    int ts = i < n && kftsp_timestamp_line(l[i].s, l[i].n, t, &r, &rn);
    int head = i < n && !ts && kftsp_bold_line(l[i].s, l[i].n, &h, &hn);
    if (i == n || ts || head) {
      if (a) a->body = kftsp_ctx_str(c, kftsp_para_take(&body));
      kftsp_buf_reset(&body.buf);
      a = NULL;
      if (i == n) break;
    }
    if (head) {
      kftsp_buf tb = {0};
      kftsp_md_inline(&tb, h, hn);
      kftsp_set(c, &topic, kftsp_buf_take(&tb));
      continue;
    }
    if (ts) {
      a = kftsp_article_new(c, (int)i + 1);
      if (!a) break;
      kftsp_buf tb = {0};
      kftsp_md_inline(&tb, r, rn);
      a->title = kftsp_ctx_str(c, kftsp_buf_take(&tb));
      a->time_offset = kftsp_ctx_str(c, kftsp_strdup(t));
      if (topic) kftsp_article_topic(c, a, topic, strlen(topic));
      continue;
    }
    if (a) kftsp_para_line(&body, l[i].s, l[i].n);
    else if (!kftsp_is_blank(l[i].s, l[i].n))
      kftsp_diag(c, (int)i + 1, "text under a section heading but before any (hh:mm:ss) item; "
                                "not indexed");
  }
  kftsp_buf_reset(&body.buf);
  for (size_t i = 0; i < c->doc->n_articles && !c->rc; i++) {
    kfts_article *x = &c->doc->articles[i];
    if (date[0]) {
      x->date = kftsp_ctx_str(c, kftsp_strdup(date));
      x->date_source = kftsp_ctx_str(c, kftsp_strdup("text"));
    }
    if (show) x->source = kftsp_ctx_str(c, kftsp_strdup(show));
  }
  kftsp_free(show);
  kftsp_free(topic);
}
