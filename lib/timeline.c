/*
** timeline.c -- "when did this come up, how often, and where": the matches of a query
** counted per day, ISO week, month or year (every period between the first and the last
** hit, empty ones too), with each period's best hit; facets (counts per source, topic and
** year); the timeline as JSON and as a self-contained SVG bar chart.
**
** Article dates are already days in the corpus timezone (format.c), so periods are too.
** Runs the query through search.c's match set (kftsp_match_*): the same matching and the
** same score as the ranked list, never relaxed.
*/
#include "kfts_int.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUCKETS 100000

static void day_str(int64_t z, char out[11]) {
  int y, m, d;
  kftsp_civil_from_days(z, &y, &m, &d);
  unsigned uy = (unsigned)y % 10000u, um = (unsigned)m % 100u, ud = (unsigned)d % 100u;
  snprintf(out, 11, "%04u-%02u-%02u", uy, um, ud);
}

/* Monday of the ISO week holding day Z (1970-01-01 was a Thursday). */
static int64_t monday_of(int64_t z) {
  int64_t wd = ((z + 3) % 7 + 7) % 7; /* Monday 0 */
  return z - wd;
}

/* Index of the period holding day Z, counted from the one holding day Z0. */
static int64_t period_index(int by, int64_t z0, int64_t z) {
  int y0, m0, d0, y, m, d;
  switch (by) {
  case KFTS_BY_DAY: return z - z0;
  case KFTS_BY_WEEK: return (monday_of(z) - monday_of(z0)) / 7;
  case KFTS_BY_MONTH:
    kftsp_civil_from_days(z0, &y0, &m0, &d0);
    kftsp_civil_from_days(z, &y, &m, &d);
    return (int64_t)(y * 12 + m) - (int64_t)(y0 * 12 + m0);
  default:
    kftsp_civil_from_days(z0, &y0, &m0, &d0);
    kftsp_civil_from_days(z, &y, &m, &d);
    return y - y0;
  }
}

/* Fills bucket K's name and day range: the K-th period from the one holding Z0. */
static void period_of(int by, int64_t z0, int64_t k, kfts_bucket *b) {
  int y, m, d;
  int64_t start, end;
  kftsp_civil_from_days(z0, &y, &m, &d);
  switch (by) {
  case KFTS_BY_DAY:
    start = end = z0 + k;
    day_str(start, b->period);
    break;
  case KFTS_BY_WEEK: {
    start = monday_of(z0) + 7 * k;
    end = start + 6;
    int ty, tm, td; /* the ISO year is the Thursday's */
    kftsp_civil_from_days(start + 3, &ty, &tm, &td);
    int64_t week = (start + 3 - kftsp_days_from_civil(ty, 1, 1)) / 7 + 1;
    snprintf(b->period, sizeof b->period, "%04d-W%02d", ty % 10000, (int)week % 100);
    break;
  }
  case KFTS_BY_MONTH: {
    int64_t mm = (int64_t)y * 12 + (m - 1) + k;
    int py = (int)(mm / 12), pm = (int)(mm % 12) + 1;
    start = kftsp_days_from_civil(py, pm, 1);
    end = (pm == 12 ? kftsp_days_from_civil(py + 1, 1, 1) : kftsp_days_from_civil(py, pm + 1, 1)) - 1;
    snprintf(b->period, sizeof b->period, "%04d-%02d", py % 10000, pm % 100);
    break;
  }
  default:
    start = kftsp_days_from_civil(y + (int)k, 1, 1);
    end = kftsp_days_from_civil(y + (int)k + 1, 1, 1) - 1;
    snprintf(b->period, sizeof b->period, "%04d", (y + (int)k) % 10000);
  }
  day_str(start, b->start);
  day_str(end, b->end);
}

static const char *const by_names[] = {"day", "week", "month", "year"};

int kfts_timeline_by(const char *name) {
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, by_names[i])) return i;
  return -1;
}

static int cmp_source(const void *a, const void *b) { /* most first, then by name */
  const kfts_count *x = a, *y = b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strcmp(x->value, y->value);
}

static int add_source(kfts_bucket *b, const char *src) {
  const char *s = src ? src : "";
  for (size_t i = 0; i < b->n_sources; i++)
    if (!strcmp(b->sources[i].value, s)) {
      b->sources[i].count++;
      return KFTS_OK;
    }
  kfts_count *c = kftsp_realloc(b->sources, (b->n_sources + 1) * sizeof *c);
  if (!c) return KFTS_ENOMEM;
  b->sources = c;
  if (!(c[b->n_sources].value = kftsp_strdup(s))) return KFTS_ENOMEM;
  c[b->n_sources++].count = 1;
  return KFTS_OK;
}

typedef struct hit {
  int64_t doc, day;
  char *source;
  double score;
} hit;

/* Whether X goes before the bucket's best so far: higher score, then earlier day, then
** smaller doc (the same order whatever order the hits come in). */
static int better(const hit *x, double score, int64_t day, int64_t doc) {
  if (x->score != score) return x->score > score;
  if (x->day != day) return x->day < day;
  return x->doc < doc;
}

/* The ids and titles of the buckets' best hits (top_id holds their docs until then), read
** once per bucket. */
static int load_titles(kfts_timeline *t, sqlite3 *h, kfts_error *err) {
  sqlite3_stmt *st;
  if (kftsp_prepare(h, "SELECT id, title FROM articles WHERE doc = ?1", &st) != SQLITE_OK)
    return kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
  int rc = KFTS_OK;
  for (size_t k = 0; k < t->n_buckets && !rc; k++) {
    kfts_bucket *b = &t->buckets[k];
    if (!b->count) continue;
    sqlite3_bind_int64(st, 1, b->top_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
      b->top_id = sqlite3_column_int64(st, 0);
      b->top_title = kftsp_strdup((const char *)sqlite3_column_text(st, 1));
      if (!b->top_title) rc = KFTS_ENOMEM;
    }
    sqlite3_reset(st);
  }
  kftsp_finalize(st);
  return rc;
}

typedef struct collect {
  hit *h;
  size_t n, cap, undated;
  int by_source;
} collect;

static int collect_row(void *ctx, const kftsp_mrow *row) {
  collect *c = ctx;
  int64_t z = row->day;
  if (row->date ? !kftsp_parse_day(row->date, &z) : row->day == INT32_MIN) {
    c->undated++;
    return KFTS_OK;
  }
  hit *grown = kftsp_grow(c->h, c->n, &c->cap, sizeof *grown, 256);
  if (!grown) return KFTS_ENOMEM;
  c->h = grown;
  hit *x = &c->h[c->n++];
  x->doc = row->doc;
  x->day = z;
  x->score = row->score;
  x->source = NULL;
  if (c->by_source && row->source && !(x->source = kftsp_strdup(row->source))) return KFTS_ENOMEM;
  return KFTS_OK;
}

static int cmp_hit_doc(const void *a, const void *b) {
  int64_t x = ((const hit *)a)->doc, y = ((const hit *)b)->doc;
  return (x > y) - (x < y);
}

/* Each of the N hits' source (H[i].source, not owned: NAMES[id] holds it) from facetvals,
** the names of the ids read once. KFTSP_FV_UNKNOWN when facetvals cannot serve. */
static int sources_by_id(sqlite3 *dbh, hit *h, size_t n, char ***names_out, size_t *n_names, kfts_error *err) {
  for (size_t i = 1; i < n; i++) /* filters alone come in the filters' order */
    if (h[i].doc < h[i - 1].doc) {
      kftsp_sort(h, n, sizeof *h, cmp_hit_doc);
      break;
    }
  int64_t *docs = kftsp_malloc((n ? n : 1) * sizeof *docs), *ids = kftsp_malloc((n ? n : 1) * sizeof *ids);
  size_t *counts = NULL, n_ids = 0, none[2];
  int rc = docs && ids ? KFTS_OK : kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  for (size_t i = 0; !rc && i < n; i++) docs[i] = h[i].doc;
  if (!rc) rc = kftsp_fv_count(dbh, docs, n, &counts, &n_ids, none, ids, err);
  char **names = NULL;
  int *kinds = NULL;
  if (!rc) rc = kftsp_fv_names(dbh, counts, n_ids, &names, &kinds, err);
  for (size_t i = 0; !rc && i < n; i++) h[i].source = names[ids[i]];
  kftsp_free(docs);
  kftsp_free(ids);
  kftsp_free(counts);
  kftsp_free(kinds);
  *names_out = names;
  *n_names = names ? n_ids : 0;
  return rc;
}

static int timeline_get(kfts_timeline **out, kfts_db *db, const kfts_search_opts *o, int by, int by_source,
                        int by_ids, kfts_error *err) {
  *out = NULL;
  kftsp_match *m = NULL;
  int rc = kftsp_match_open(&m, db, o, err);
  if (rc) return rc;
  /* Sources by id (facetvals), when they are current: then, as without sources, each match's
  ** day and score can come from docvals (scan.c). */
  sqlite3 *dbh = kftsp_db_handle(db);
  by_ids = by_source && by_ids && kftsp_dv_current(dbh) == KFTSP_DV_WITH_FACETS;
  char **names = NULL;
  size_t n_names = 0;
  collect c = {NULL, 0, 0, 0, by_source && !by_ids}, c2 = {NULL, 0, 0, 0, by_source && !by_ids};
  rc = kftsp_match_scan2(m, KFTSP_SCAN_SCORE | (by_source && !by_ids ? 0 : KFTSP_SCAN_LEAN), collect_row, &c, &c2);
  kftsp_match_close(m);
  if (c2.n || c2.undated) { /* the upper half's hits after the lower's: still in doc order */
    hit *x = c.cap - c.n >= c2.n ? c.h : kftsp_realloc(c.h, (c.n + c2.n) * sizeof *x);
    if (x) {
      memcpy(x + c.n, c2.h, c2.n * sizeof *x);
      c.h = x;
      c.n += c2.n;
      c.undated += c2.undated;
    } else {
      for (size_t i = 0; i < c2.n; i++) kftsp_free(c2.h[i].source);
      if (!rc) rc = KFTS_ENOMEM;
    }
  }
  kftsp_free(c2.h);
  hit *h = c.h;
  size_t n = c.n, undated = c.undated;
  if (!rc && by_ids) rc = sources_by_id(dbh, h, n, &names, &n_names, err);
  kfts_timeline *t = rc ? NULL : kftsp_malloc(sizeof *t);
  if (!rc && !t) rc = KFTS_ENOMEM;
  if (t) {
    memset(t, 0, sizeof *t);
    t->undated = undated;
    t->total = n + undated;
  }
  if (!rc && n) {
    int64_t first = h[0].day, last = h[0].day;
    for (size_t i = 1; i < n; i++) {
      if (h[i].day < first) first = h[i].day;
      if (h[i].day > last) last = h[i].day;
    }
    if (by < 0) { /* from the span */
      int64_t span = last - first;
      by = span <= 45 ? KFTS_BY_DAY : span <= 26 * 7 ? KFTS_BY_WEEK : span <= 5 * 366 ? KFTS_BY_MONTH : KFTS_BY_YEAR;
    }
    int64_t nb = period_index(by, first, last) + 1;
    int64_t *days = NULL; /* per bucket: first, last and best hit's day */
    if (nb > MAX_BUCKETS)
      rc = kftsp_err(err, KFTS_EUSAGE, "query", 0,
                     "the hits span %lld %ss; choose a coarser --timeline (week, month or year)", (long long)nb,
                     by_names[by]);
    if (!rc && (!(t->buckets = kftsp_malloc((size_t)nb * sizeof *t->buckets)) ||
                !(days = kftsp_malloc((size_t)nb * 3 * sizeof *days))))
      rc = KFTS_ENOMEM;
    if (!rc) {
      memset(t->buckets, 0, (size_t)nb * sizeof *t->buckets);
      t->n_buckets = (size_t)nb;
      for (int64_t k = 0; k < nb; k++) period_of(by, first, k, &t->buckets[k]);
      day_str(first, t->first_seen);
      for (size_t i = 0; i < n && !rc; i++) {
        int64_t k = period_index(by, first, h[i].day);
        kfts_bucket *b = &t->buckets[k];
        int64_t *d = days + 3 * k;
        if (!b->count || h[i].day < d[0]) d[0] = h[i].day;
        if (!b->count || h[i].day > d[1]) d[1] = h[i].day;
        if (!b->count || better(&h[i], b->top_score, d[2], b->top_id)) {
          b->top_id = h[i].doc;
          b->top_score = h[i].score;
          d[2] = h[i].day;
        }
        b->count++;
        if (by_source) rc = add_source(b, h[i].source);
      }
      for (size_t k = 0; k < t->n_buckets; k++) {
        kfts_bucket *b = &t->buckets[k];
        if (!b->count) continue;
        day_str(days[3 * k], b->first);
        day_str(days[3 * k + 1], b->last);
        day_str(days[3 * k + 2], b->top_date);
        kftsp_sort(b->sources, b->n_sources, sizeof *b->sources, cmp_source); /* whatever the hits' order */
        if (b->count > t->buckets[t->peak].count) t->peak = k;
      }
      if (!rc) rc = load_titles(t, kftsp_db_handle(db), err);
    }
    kftsp_free(days);
  }
  if (t) t->by = by < 0 ? KFTS_BY_MONTH : by;
  for (size_t i = 0; i < n && !by_ids; i++) kftsp_free(h[i].source);
  kftsp_free(h);
  for (size_t i = 0; i < n_names; i++) kftsp_free(names[i]);
  kftsp_free(names);
  if (rc) {
    kfts_timeline_free(t);
    return rc == KFTS_ENOMEM ? kftsp_err(err, rc, "", 0, "out of memory") : rc;
  }
  *out = t;
  return KFTS_OK;
}

int kfts_timeline_get(kfts_timeline **out, kfts_db *db, const kfts_search_opts *o, int by, int by_source,
                      kfts_error *err) {
  /* One read transaction: the matches and their sources from the same state of the index. */
  sqlite3 *h = kftsp_db_handle(db);
  int own = sqlite3_get_autocommit(h) && sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
  int rc = timeline_get(out, db, o, by, by_source, kftsp_facets_by_ids, err);
  if (rc == KFTSP_FV_UNKNOWN) rc = timeline_get(out, db, o, by, by_source, 0, err);
  if (own) sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
  return rc;
}

void kfts_timeline_free(kfts_timeline *t) {
  if (!t) return;
  for (size_t k = 0; k < t->n_buckets; k++) {
    kfts_bucket *b = &t->buckets[k];
    kftsp_free(b->top_title);
    for (size_t i = 0; i < b->n_sources; i++) kftsp_free(b->sources[i].value);
    kftsp_free(b->sources);
  }
  kftsp_free(t->buckets);
  kftsp_free(t);
}

const char *kfts_timeline_by_name(int by) { return by >= 0 && by < 4 ? by_names[by] : "month"; }

char *kfts_timeline_json(const kfts_timeline *t, const char *query) {
  json_t *o = json_object(), *bs = json_array();
  if (!o || !bs) {
    json_decref(o);
    json_decref(bs);
    return NULL;
  }
  json_object_set_new(o, "query", json_string(query));
  json_object_set_new(o, "by", json_string(by_names[t->by]));
  for (size_t k = 0; k < t->n_buckets; k++) {
    const kfts_bucket *b = &t->buckets[k];
    json_t *x = json_pack("{s:s,s:s,s:s,s:I}", "period", b->period, "start", b->start, "end", b->end, "count",
                          (json_int_t)b->count);
    if (!x) continue;
    json_object_set_new(x, "top",
                        b->count ? json_pack("{s:I,s:s,s:s,s:f}", "id", (json_int_t)b->top_id, "title",
                                             b->top_title, "date", b->top_date, "score", b->top_score)
                                 : json_null());
    json_object_set_new(x, "first", b->count ? json_string(b->first) : json_null());
    json_object_set_new(x, "last", b->count ? json_string(b->last) : json_null());
    if (b->sources || b->n_sources) {
      json_t *s = json_object();
      for (size_t i = 0; i < b->n_sources; i++)
        json_object_set_new(s, b->sources[i].value, json_integer((json_int_t)b->sources[i].count));
      json_object_set_new(x, "sources", s);
    }
    json_array_append_new(bs, x);
  }
  json_object_set_new(o, "buckets", bs);
  json_object_set_new(o, "undated", json_integer((json_int_t)t->undated));
  json_object_set_new(o, "first_seen", t->n_buckets ? json_string(t->first_seen) : json_null());
  json_object_set_new(o, "peak", t->n_buckets ? json_pack("{s:s,s:I}", "period", t->buckets[t->peak].period,
                                                          "count", (json_int_t)t->buckets[t->peak].count)
                                              : json_null());
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
  json_decref(o);
  return s;
}

/* ---- SVG ---- */

static void xml_text(kftsp_buf *b, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': kftsp_buf_adds(b, "&lt;"); break;
    case '>': kftsp_buf_adds(b, "&gt;"); break;
    case '&': kftsp_buf_adds(b, "&amp;"); break;
    case '"': kftsp_buf_adds(b, "&quot;"); break;
    default: kftsp_buf_addc(b, *s);
    }
  }
}

char *kfts_timeline_svg(const kfts_timeline *t, const char *query) {
  kftsp_buf b = {0};
  size_t n = t->n_buckets;
  int bar = n > 200 ? 4 : n > 60 ? 8 : 24, gap = bar / 4 + 1;
  int left = 60, top = 50, plot_h = 240, bottom = 90;
  int w = left + (int)n * (bar + gap) + 40, h = top + plot_h + bottom;
  if (w < 480) w = 480;
  size_t max = n ? t->buckets[t->peak].count : 0;
  kftsp_buf_printf(&b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                   " font-family=\"'Noto Sans CJK KR', 'Malgun Gothic', 'Apple SD Gothic Neo', sans-serif\""
                   " font-size=\"12\">\n",
                   w, h, w, h);
  kftsp_buf_printf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, h);
  kftsp_buf_adds(&b, "<text x=\"10\" y=\"24\" font-size=\"16\">");
  xml_text(&b, query);
  kftsp_buf_printf(&b, " — %zu articles by %s</text>\n", t->total, by_names[t->by]);
  if (t->undated) kftsp_buf_printf(&b, "<text x=\"10\" y=\"40\" fill=\"#666\">(%zu undated)</text>\n", t->undated);
  /* axes and the peak's gridline */
  kftsp_buf_printf(&b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left,
                   top + plot_h, w - 20, top + plot_h);
  kftsp_buf_printf(&b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, top,
                   left, top + plot_h);
  kftsp_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%zu</text>\n", left - 6, top + 4, max);
  kftsp_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", left - 6, top + plot_h + 4);
  size_t label_every = n > 60 ? n / 30 + 1 : n > 24 ? 2 : 1;
  for (size_t k = 0; k < n; k++) {
    const kfts_bucket *x = &t->buckets[k];
    int bh = max ? (int)((double)x->count * plot_h / (double)max + 0.5) : 0;
    int bx = left + gap + (int)k * (bar + gap);
    kftsp_buf_printf(&b, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3b6fb6\">",
                     bx, top + plot_h - bh, bar, bh);
    kftsp_buf_printf(&b, "<title>%s: %zu", x->period, x->count);
    if (x->count) {
      kftsp_buf_adds(&b, " — ");
      xml_text(&b, x->top_title);
    }
    kftsp_buf_adds(&b, "</title></rect>\n");
    if (k % label_every == 0)
      kftsp_buf_printf(&b,
                       "<text class=\"label\" x=\"%d\" y=\"%d\" transform=\"rotate(60 %d %d)\">%s</text>\n",
                       bx + bar / 2, top + plot_h + 12, bx + bar / 2, top + plot_h + 12, x->period);
  }
  kftsp_buf_adds(&b, "</svg>\n");
  if (b.oom) {
    kftsp_buf_reset(&b);
    return NULL;
  }
  return kftsp_buf_take(&b);
}

/* ---- facets ---- */

static void free_counts(kfts_count *c, size_t n);

typedef struct tally {
  kfts_count *c;
  size_t *len; /* each value's length */
  size_t n, cap;
} tally;

/* Adds K to VALUE's count (NULL counts as none); linear, as sources, years and the topics
** of one archive are few. */
static int tally_add_k(tally *t, const char *v, size_t len, size_t k) {
  for (size_t i = 0; i < t->n; i++)
    if (v ? t->c[i].value && t->len[i] == len && !memcmp(t->c[i].value, v, len) : !t->c[i].value) {
      t->c[i].count += k;
      return KFTS_OK;
    }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    kfts_count *c = kftsp_realloc(t->c, cap * sizeof *c);
    if (!c) return KFTS_ENOMEM;
    t->c = c;
    size_t *l = kftsp_realloc(t->len, cap * sizeof *l);
    if (!l) return KFTS_ENOMEM;
    t->len = l;
    t->cap = cap;
  }
  t->c[t->n].value = v ? kftsp_strndup(v, len) : NULL;
  t->c[t->n].count = k;
  t->len[t->n] = len;
  if (v && !t->c[t->n].value) return KFTS_ENOMEM;
  t->n++;
  return KFTS_OK;
}

static int tally_add(tally *t, const char *v, size_t len) { return tally_add_k(t, v, len, 1); }

/* Adds FROM's counts to TO's. */
static int tally_merge(tally *to, const tally *from) {
  int rc = KFTS_OK;
  for (size_t i = 0; i < from->n && !rc; i++) rc = tally_add_k(to, from->c[i].value, from->len[i], from->c[i].count);
  return rc;
}

static void free_tally(tally *t);

static int cmp_count(const void *a, const void *b) { /* largest first, then by value, none last */
  const kfts_count *x = a, *y = b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  if (!x->value || !y->value) return !x->value - !y->value;
  return strcmp(x->value, y->value);
}

static int cmp_value(const void *a, const void *b) { /* years in order, none last */
  const kfts_count *x = a, *y = b;
  if (!x->value || !y->value) return !x->value - !y->value;
  return strcmp(x->value, y->value);
}

typedef struct tallies {
  tally src, top, yr;
} tallies;

static int tally_row(void *ctx, const kftsp_mrow *row) {
  tallies *t = ctx;
  const char *d = row->date, *tp = row->topics;
  int rc = tally_add(&t->src, row->source, row->source ? strlen(row->source) : 0);
  if (!rc) rc = tally_add(&t->yr, d && strlen(d) >= 4 ? d : NULL, 4);
  while (!rc && tp && *tp) {
    size_t k = strcspn(tp, "\n");
    if (k) rc = tally_add(&t->top, tp, k);
    tp += k + (tp[k] == '\n');
  }
  return rc;
}

/* Facets from articles_meta: each match's source, date and topics, tallied as strings. */
static int tally_meta(kfts_db *db, const kfts_search_opts *o, tallies *ts, kfts_error *err) {
  kftsp_match *m = NULL;
  int rc = kftsp_match_open(&m, db, o, err);
  if (rc) return rc;
  tallies ts2 = {{0}, {0}, {0}};
  rc = kftsp_match_scan2(m, KFTSP_SCAN_TOPICS, tally_row, ts, &ts2);
  kftsp_match_close(m);
  if (!rc) rc = tally_merge(&ts->src, &ts2.src);
  if (!rc) rc = tally_merge(&ts->top, &ts2.top);
  if (!rc) rc = tally_merge(&ts->yr, &ts2.yr);
  free_tally(&ts2.src);
  free_tally(&ts2.top);
  free_tally(&ts2.yr);
  return rc;
}

typedef struct doclist {
  int64_t *d;
  size_t n, cap;
} doclist;

static int cmp_doc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int doc_row(void *ctx, const kftsp_mrow *row) {
  doclist *l = ctx;
  int64_t *grown = kftsp_grow(l->d, l->n, &l->cap, sizeof *grown, 1024);
  if (!grown) return KFTS_ENOMEM;
  l->d = grown;
  l->d[l->n++] = row->doc;
  return KFTS_OK;
}

int kftsp_facets_by_ids = 1;

/* Facets from facetvals (facetvals.c): the matches' docs from a lean scan (as a timeline's,
** read from the segments and docvals where it can), their ids counted, each id with a count
** named once. KFTSP_FV_UNKNOWN when the ids are too many: the caller reads articles_meta. */
static int tally_ids(kfts_db *db, const kfts_search_opts *o, tallies *ts, kfts_error *err) {
  kftsp_match *m = NULL;
  int rc = kftsp_match_open(&m, db, o, err);
  if (rc) return rc;
  doclist l = {NULL, 0, 0}, l2 = {NULL, 0, 0};
  rc = kftsp_match_scan2(m, KFTSP_SCAN_SCORE | KFTSP_SCAN_LEAN, doc_row, &l, &l2);
  kftsp_match_close(m);
  if (!rc && l2.n) { /* the upper half's docs after the lower's */
    int64_t *x = l.cap - l.n >= l2.n ? l.d : kftsp_realloc(l.d, (l.n + l2.n) * sizeof *x);
    if (!x) {
      rc = KFTS_ENOMEM;
    } else {
      memcpy(x + l.n, l2.d, l2.n * sizeof *x);
      l.d = x;
      l.n += l2.n;
    }
  }
  kftsp_free(l2.d);
  for (size_t i = 1; !rc && i < l.n; i++) /* filters alone come in the filters' order */
    if (l.d[i] < l.d[i - 1]) {
      kftsp_sort(l.d, l.n, sizeof *l.d, cmp_doc);
      break;
    }
  sqlite3 *h = kftsp_db_handle(db);
  size_t *counts = NULL, n_ids = 0, none[2] = {0, 0};
  if (!rc) rc = kftsp_fv_count(h, l.d, l.n, &counts, &n_ids, none, NULL, err);
  kftsp_free(l.d);
  char **names = NULL;
  int *kinds = NULL;
  if (!rc) rc = kftsp_fv_names(h, counts, n_ids, &names, &kinds, err);
  if (!rc && none[0]) rc = tally_add_k(&ts->src, NULL, 0, none[0]);
  if (!rc && none[1]) rc = tally_add_k(&ts->yr, NULL, 0, none[1]);
  for (size_t id = 1; id < n_ids && !rc; id++)
    if (names[id])
      rc = tally_add_k(kinds[id] == 0 ? &ts->src : kinds[id] == 1 ? &ts->yr : &ts->top, names[id], strlen(names[id]),
                       counts[id]);
  for (size_t id = 0; names && id < n_ids; id++) kftsp_free(names[id]);
  kftsp_free(names);
  kftsp_free(kinds);
  kftsp_free(counts);
  return rc;
}

int kfts_facets_get(kfts_facets **out, kfts_db *db, const kfts_search_opts *o, kfts_error *err) {
  *out = NULL;
  tallies ts = {{0}, {0}, {0}};
  /* One read transaction: the matches and their ids from the same state of the index. */
  sqlite3 *h = kftsp_db_handle(db);
  int own = sqlite3_get_autocommit(h) && sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
  int rc = kftsp_facets_by_ids && kftsp_dv_current(h) == KFTSP_DV_WITH_FACETS ? tally_ids(db, o, &ts, err)
                                                                          : KFTSP_FV_UNKNOWN;
  if (rc == KFTSP_FV_UNKNOWN) rc = tally_meta(db, o, &ts, err);
  if (own) sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
  tally src = ts.src, top = ts.top, yr = ts.yr;
  kfts_facets *f = rc ? NULL : kftsp_malloc(sizeof *f);
  if (!rc && !f) rc = KFTS_ENOMEM;
  if (rc) {
    free_tally(&src);
    free_tally(&top);
    free_tally(&yr);
    return rc == KFTS_ENOMEM ? kftsp_err(err, rc, "", 0, "out of memory") : rc;
  }
  kftsp_sort(src.c, src.n, sizeof *src.c, cmp_count);
  kftsp_sort(top.c, top.n, sizeof *top.c, cmp_count);
  kftsp_sort(yr.c, yr.n, sizeof *yr.c, cmp_value);
  while (top.n > 20) kftsp_free(top.c[--top.n].value);
  kftsp_free(src.len); /* out of step with the sorted counts; no longer needed */
  kftsp_free(top.len);
  kftsp_free(yr.len);
  f->source = src.c, f->n_source = src.n;
  f->topic = top.c, f->n_topic = top.n;
  f->year = yr.c, f->n_year = yr.n;
  *out = f;
  return KFTS_OK;
}

static void free_counts(kfts_count *c, size_t n) {
  for (size_t i = 0; i < n; i++) kftsp_free(c[i].value);
  kftsp_free(c);
}

static void free_tally(tally *t) {
  free_counts(t->c, t->n);
  kftsp_free(t->len);
}

void kfts_facets_free(kfts_facets *f) {
  if (!f) return;
  free_counts(f->source, f->n_source);
  free_counts(f->topic, f->n_topic);
  free_counts(f->year, f->n_year);
  kftsp_free(f);
}

static json_t *counts_json(const kfts_count *c, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, json_pack("{s:o,s:I}", "value", c[i].value ? json_string(c[i].value) : json_null(),
                                       "count", (json_int_t)c[i].count));
  return a;
}

struct json_t *kftsp_facets_json(const kfts_facets *f) {
  return json_pack("{s:o,s:o,s:o}", "source", counts_json(f->source, f->n_source), "topic",
                   counts_json(f->topic, f->n_topic), "year", counts_json(f->year, f->n_year));
}
