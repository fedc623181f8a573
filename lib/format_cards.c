/*
** format_cards.c -- the card digest: cards separated by "---", each with labelled fields
** (제목, 요약, 쉬운설명, 관련분야, 중요도, 전체링크). Dates come from the Threads/Instagram
** shortcode in each card's link; a card whose link does not decode gets the date most
** cards of the file have, marked "inferred".
*/
#include "kfts_int.h"

#include <string.h>

enum field { F_NONE = -1, F_TITLE, F_SUMMARY, F_EASY, F_TOPICS, F_IMPORTANCE, F_LINK, F_COUNT };

static const struct {
  const char *label;
  enum field f;
} labels[] = {
    {"제목", F_TITLE},      {"요약", F_SUMMARY},     {"쉬운설명", F_EASY},
    {"쉬운 설명", F_EASY},  {"관련분야", F_TOPICS},  {"관련 분야", F_TOPICS},
    {"분야", F_TOPICS},     {"태그", F_TOPICS},      {"중요도", F_IMPORTANCE},
    {"전체링크", F_LINK},   {"전체 링크", F_LINK},   {"링크", F_LINK},
    {"원문", F_LINK},
};

/*
** Recognises "## 제목:", "**요약**: text", "**전체링크** :  url", "중요도: 9점".
** Returns the field and sets the value that follows the colon (may be empty).
*/
static enum field field_line(const char *s, size_t n, const char **val, size_t *val_n) {
  kftsp_trim(&s, &n);
  while (n && *s == '#') s++, n--;
  kftsp_trim(&s, &n);
  int bold = kftsp_has_prefix(s, n, "**");
  if (bold) s += 2, n -= 2;
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(labels); i++) {
    size_t k = strlen(labels[i].label);
    if (!kftsp_has_prefix(s, n, labels[i].label)) continue;
    const char *p = s + k;
    size_t m = n - k;
    if (bold && kftsp_has_prefix(p, m, "**")) p += 2, m -= 2;
    kftsp_trim(&p, &m);
    if (!m || (*p != ':' && !kftsp_has_prefix(p, m, "："))) continue;
    size_t colon = *p == ':' ? 1 : strlen("：");
    p += colon, m -= colon;
    if (!bold && kftsp_has_prefix(p, m, "**") && m == 2) m = 0; /* "**제목:**" */
    kftsp_trim(&p, &m);
    *val = p;
    *val_n = m;
    return labels[i].f;
  }
  return F_NONE;
}

static int is_separator(const char *s, size_t n) {
  kftsp_trim(&s, &n);
  if (n < 3) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] != '-') return 0;
  return 1;
}

int kftsp_looks_cards(const kftsp_line *l, size_t n) {
  size_t titles = 0, others = 0;
  for (size_t i = 0; i < n; i++) {
    const char *v;
    size_t vn;
    enum field f = field_line(l[i].s, l[i].n, &v, &vn);
    if (f == F_TITLE) titles++;
    else if (f == F_IMPORTANCE || f == F_LINK) others++;
  }
  return titles >= 1 && others >= 1;
}

/* "9점", "9 점", "9/10", "9" -> 9; -1 when not a whole number from 0 to 10. */
static int parse_importance(const char *s, size_t n) {
  kftsp_buf b = {0};
  kftsp_md_inline(&b, s, n);
  const char *p = b.p ? b.p : "";
  int v = 0, digits = 0;
  while (*p >= '0' && *p <= '9' && digits < 3) v = v * 10 + (*p++ - '0'), digits++;
  while (*p == ' ') p++;
  int ok = digits > 0 && (!*p || !strcmp(p, "점") || !strcmp(p, "/10") || !strcmp(p, "/ 10"));
  kftsp_buf_reset(&b);
  return ok && v <= 10 ? v : -1;
}

/* The shortcode of a Threads/Instagram post URL ("/post/CODE", "/p/CODE", "/reel/CODE"). */
static int post_shortcode(const char *url, const char **code, size_t *code_n) {
  const char *h;
  size_t hn;
  if (!kftsp_url_host(url, strlen(url), &h, &hn)) return 0;
  if (!memmem(h, hn, "threads.", 8) && !memmem(h, hn, "instagram.", 10)) return 0;
  static const char *const marks[] = {"/post/", "/p/", "/reel/", "/t/"};
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(marks); i++) {
    const char *m = strstr(h + hn, marks[i]);
    if (!m) continue;
    const char *c = m + strlen(marks[i]);
    size_t k = strcspn(c, "/?#");
    *code = c;
    *code_n = k;
    return 1;
  }
  return 0;
}

typedef struct card {
  kftsp_para f[F_COUNT]; /* field texts */
  kftsp_para extra;      /* lines under no label */
  int title_line, first_line, importance_line;
  int has_field;
} card;

static void card_reset(card *cd) {
  for (int i = 0; i < F_COUNT; i++) kftsp_buf_reset(&cd->f[i].buf);
  kftsp_buf_reset(&cd->extra.buf);
  memset(cd, 0, sizeof *cd);
}

static char *one_line(char *s) {
  if (s)
    for (char *p = s; *p; p++)
      if (*p == '\n') *p = ' ';
  return s;
}

static void card_emit(kftsp_ctx *c, card *cd, int *dated_from_url) {
  if (!cd->has_field && cd->extra.buf.n == 0) return;
  kfts_article *a = kftsp_article_new(c, cd->title_line ? cd->title_line : cd->first_line);
  if (!a) return;
  kfts_doc *d = c->doc;
  a->title = kftsp_ctx_str(c, one_line(kftsp_para_take(&cd->f[F_TITLE])));
  if (cd->f[F_SUMMARY].buf.n) a->summary = kftsp_ctx_str(c, kftsp_para_take(&cd->f[F_SUMMARY]));
  /* Body: the plain-language explanation, then anything under no label. */
  kftsp_para body = {0};
  if (cd->f[F_EASY].buf.n) kftsp_buf_add(&body.buf, cd->f[F_EASY].buf.p, cd->f[F_EASY].buf.n);
  if (cd->extra.buf.n) {
    if (body.buf.n) kftsp_buf_addc(&body.buf, '\n');
    kftsp_buf_add(&body.buf, cd->extra.buf.p, cd->extra.buf.n);
  }
  a->body = kftsp_ctx_str(c, kftsp_para_take(&body));
  if (cd->has_field && !cd->title_line)
    kftsp_diag(c, a->line, "card has no 제목 (title); title taken from its text");

  /* Topics: "AI 인프라·데이터센터·에너지 정책". */
  const char *t = cd->f[F_TOPICS].buf.p;
  if (t) {
    const char *p = t;
    for (;;) {
      const char *sep = NULL;
      size_t sep_n = 0;
      static const char *const seps[] = {"·", "・", ",", "/", "\n", "|"};
      for (size_t i = 0; i < KFTSP_ARRAY_LEN(seps); i++) {
        const char *q = strstr(p, seps[i]);
        if (q && (!sep || q < sep)) sep = q, sep_n = strlen(seps[i]);
      }
      size_t len = sep ? (size_t)(sep - p) : strlen(p);
      kftsp_article_topic(c, a, p, len);
      if (!sep) break;
      p = sep + sep_n;
    }
  }

  const char *imp = cd->f[F_IMPORTANCE].buf.p;
  if (imp) {
    a->importance = parse_importance(imp, cd->f[F_IMPORTANCE].buf.n);
    if (a->importance < 0)
      kftsp_diag(c, cd->importance_line,
                 "중요도 '%s' is not a score from 0 to 10; importance left empty", imp);
  }

  const char *link = cd->f[F_LINK].buf.p;
  if (link) {
    const char *u = strstr(link, "http");
    if (u) a->url = kftsp_ctx_str(c, kftsp_strndup(u, strcspn(u, " \t\n")));
  }
  if (a->url) {
    a->source = kftsp_source_from_url(a->url);
    const char *code;
    size_t code_n;
    int64_t ms;
    if (post_shortcode(a->url, &code, &code_n) &&
        kfts_shortcode_time(&ms, code, code_n, c->now_ms) == KFTS_OK) {
      char day[11], iso[25];
      kftsp_tz_date(day, c->tz, ms);
      kftsp_utc_iso(iso, ms);
      a->date = kftsp_ctx_str(c, kftsp_strdup(day));
      a->published_at = kftsp_ctx_str(c, kftsp_strdup(iso));
      a->date_source = kftsp_ctx_str(c, kftsp_strdup("url"));
      dated_from_url[d->n_articles - 1] = 1;
    }
  }

  /* The same card twice in one file is indexed once. */
  for (size_t i = 0; i + 1 < d->n_articles && !c->rc; i++) {
    kfts_article *o = &d->articles[i];
    if (!strcmp(o->title, a->title ? a->title : "") &&
        ((!o->url && !a->url) || (o->url && a->url && !strcmp(o->url, a->url)))) {
      kftsp_diag(c, a->line, "duplicate of the card at line %d; indexed once", o->line);
      dated_from_url[d->n_articles - 1] = 0;
      d->n_articles--;
      kftsp_article_clear(a);
      break;
    }
  }
}

/* A link is kept as written: the paragraph collector would drop a bare URL line. */
static void card_field_line(card *cd, enum field f, const char *s, size_t n) {
  if (f != F_LINK) {
    kftsp_para_line(&cd->f[f], s, n);
    return;
  }
  kftsp_trim(&s, &n);
  if (!n) return;
  if (cd->f[f].buf.n) kftsp_buf_addc(&cd->f[f].buf, ' ');
  kftsp_buf_add(&cd->f[f].buf, s, n);
}

void kftsp_parse_cards(kftsp_ctx *c) {
  card cd;
  memset(&cd, 0, sizeof cd);
  int *dated = kftsp_malloc((c->n_lines + 1) * sizeof *dated); /* per article: date from url */
  if (!dated) {
    c->rc = KFTS_ENOMEM;
    return;
  }
  memset(dated, 0, (c->n_lines + 1) * sizeof *dated);
  enum field cur = F_NONE;
  for (size_t i = 0; i <= c->n_lines && !c->rc; i++) {
    int line = (int)i + 1;
    if (i == c->n_lines || is_separator(c->lines[i].s, c->lines[i].n)) {
      card_emit(c, &cd, dated);
      card_reset(&cd);
      cur = F_NONE;
      continue;
    }
    const char *s = c->lines[i].s, *v;
    size_t n = c->lines[i].n, vn;
    if (!cd.first_line && !kftsp_is_blank(s, n) && !kftsp_is_boilerplate_line(s, n))
      cd.first_line = line;
    enum field f = field_line(s, n, &v, &vn);
    if (f != F_NONE) {
      cur = f;
      cd.has_field = 1;
      if (f == F_TITLE && !cd.title_line) cd.title_line = line;
      if (f == F_IMPORTANCE) cd.importance_line = line;
      if (!cd.first_line) cd.first_line = line;
      card_field_line(&cd, f, v, vn);
      continue;
    }
    if (cur == F_NONE) kftsp_para_line(&cd.extra, s, n);
    else card_field_line(&cd, cur, s, n);
  }
  card_reset(&cd);

  /* Cards whose link gave no date take the date most cards of the file have
  ** (ties: the earliest). */
  kfts_doc *d = c->doc;
  const char *best = NULL;
  size_t best_n = 0;
  for (size_t i = 0; i < d->n_articles && !c->rc; i++) {
    if (!dated[i]) continue;
    size_t k = 0;
    for (size_t j = 0; j < d->n_articles; j++)
      if (dated[j] && !strcmp(d->articles[j].date, d->articles[i].date)) k++;
    if (k > best_n || (k == best_n && strcmp(d->articles[i].date, best) < 0))
      best = d->articles[i].date, best_n = k;
  }
  for (size_t i = 0; best && i < d->n_articles && !c->rc; i++) {
    kfts_article *a = &d->articles[i];
    if (a->date) continue;
    a->date = kftsp_ctx_str(c, kftsp_strdup(best));
    a->date_source = kftsp_ctx_str(c, kftsp_strdup("inferred"));
  }
  kftsp_free(dated);
}
