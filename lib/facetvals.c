/*
** facetvals.c -- each article's facet values (source, year, topics) as small ids, packed in
** blocks by doc beside docvals (docvals.c), so that facets count ids per match instead of
** reading articles_meta's text and comparing strings (at 1M articles, facets:AI, 240k
** matches: about 70 ms of which three quarters were articles_meta's rows and the tallies).
**
** facet_names(id INTEGER PRIMARY KEY, kind, value, UNIQUE(kind, value)): kind 0 a source,
**   1 a year (the date's first four characters, as facets show it), 2 a topic. An id once
**   given is never changed while a block holds it; a name no article has any more stays
**   (and counts 0) until a run rewrites every block, which drops it.
** facetvals(block INTEGER PRIMARY KEY, v BLOB): the block of docvals (doc >> kftsp_dv_shift);
**   byte 0 the format (1), then for each article of the block in doc order, as varints (7
**   bits a byte, low first, 0x80: more): its doc minus the previous one's (the first's minus
**   the block's first doc, plus 1: never 0), its source id, its year id (0: none), its
**   number of topics and their ids, in the order of articles_meta.topics (an empty line is
**   not a topic).
** They are written with docvals, from the same articles_meta rows, in the same transaction,
** and current when meta 'docvals' = '2' (docvals.c). A writer of docvals alone (kfts before
** facetvals) writes '1', which readers take as docvals current and facetvals not.
*/
#include "kfts_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define FV_FORMAT 1
/* More ids than this and the counts would not be a small array: facets read articles_meta. */
#define FV_MAX_IDS (1 << 24)

static const char fv_schema[] =
    "CREATE TABLE IF NOT EXISTS facet_names(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, value TEXT NOT NULL,"
    " UNIQUE(kind, value));"
    "CREATE TABLE IF NOT EXISTS facetvals(block INTEGER PRIMARY KEY, v BLOB);";

static void put_varint(kftsp_buf *b, uint64_t v) {
  char x[10];
  int n = 0;
  do {
    x[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  kftsp_buf_add(b, x, (size_t)n);
}

/* The varint at *P (before END) into *V; -1 when it runs past END or past 63 bits. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 63; shift += 7) {
    if (*p >= end) return -1;
    unsigned char c = *(*p)++;
    x |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

/* ---- writing ---- */

typedef struct name {
  uint64_t hash; /* 0: an empty slot */
  int64_t id;
  int kind, used; /* USED: by an article written by this writer */
  size_t len;
  char *value;
} name;

struct kftsp_fv_writer {
  sqlite3 *h;
  sqlite3_stmt *ins_name, *ins, *del;
  name *names; /* open addressing, cap a power of two, at most half full */
  size_t n_names, cap;
  kftsp_buf blk; /* the block being built */
  int64_t prev;  /* its last doc */
  uint32_t n;    /* its articles */
};

static uint64_t name_hash(int kind, const char *v, size_t len) {
  unsigned char k = (unsigned char)kind;
  uint64_t x = kftsp_fnv1a(kftsp_fnv1a(KFTSP_FNV_INIT, &k, 1), v, len);
  return x ? x : 1;
}

static int names_put(kftsp_fv_writer *w, uint64_t hash, int kind, const char *v, size_t len, int64_t id, int used) {
  if (2 * (w->n_names + 1) > w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 256;
    name *t = kftsp_malloc(cap * sizeof *t);
    if (!t) return KFTS_ENOMEM;
    memset(t, 0, cap * sizeof *t);
    for (size_t i = 0; i < w->cap; i++) {
      if (!w->names[i].hash) continue;
      size_t j = w->names[i].hash & (cap - 1);
      while (t[j].hash) j = (j + 1) & (cap - 1);
      t[j] = w->names[i];
    }
    kftsp_free(w->names);
    w->names = t;
    w->cap = cap;
  }
  size_t j = hash & (w->cap - 1);
  while (w->names[j].hash) j = (j + 1) & (w->cap - 1);
  name *e = &w->names[j];
  if (!(e->value = kftsp_malloc(len + 1))) return KFTS_ENOMEM;
  memcpy(e->value, v, len);
  e->value[len] = '\0';
  e->hash = hash;
  e->id = id;
  e->kind = kind;
  e->used = used;
  e->len = len;
  w->n_names++;
  return KFTS_OK;
}

/* The id of (KIND, V), given now when it has none; 0 on an error (KFTS_* in *RC). */
static int64_t name_id(kftsp_fv_writer *w, int kind, const char *v, size_t len, int *rc) {
  uint64_t hash = name_hash(kind, v, len);
  for (size_t j = w->cap ? hash & (w->cap - 1) : 0; w->cap && w->names[j].hash; j = (j + 1) & (w->cap - 1)) {
    const name *e = &w->names[j];
    if (e->hash == hash && e->kind == kind && e->len == len && !memcmp(e->value, v, len)) {
      w->names[j].used = 1;
      return e->id;
    }
  }
  sqlite3_bind_int(w->ins_name, 1, kind);
  sqlite3_bind_text(w->ins_name, 2, v, (int)len, SQLITE_STATIC);
  int s = sqlite3_step(w->ins_name);
  sqlite3_reset(w->ins_name);
  if (s != SQLITE_DONE) {
    *rc = KFTS_EDB;
    return 0;
  }
  int64_t id = sqlite3_last_insert_rowid(w->h);
  if ((*rc = names_put(w, hash, kind, v, len, id, 1))) return 0;
  return id;
}

int kftsp_fv_prune(kftsp_fv_writer *w) {
  sqlite3_stmt *del;
  if (sqlite3_prepare_v2(w->h, "DELETE FROM facet_names WHERE id = ?1", -1, &del, NULL) != SQLITE_OK) return KFTS_EDB;
  int rc = KFTS_OK;
  for (size_t i = 0; i < w->cap && !rc; i++) {
    if (!w->names[i].hash || w->names[i].used) continue;
    sqlite3_bind_int64(del, 1, w->names[i].id);
    if (sqlite3_step(del) != SQLITE_DONE) rc = KFTS_EDB;
    sqlite3_reset(del);
  }
  sqlite3_finalize(del);
  return rc;
}

void kftsp_fv_writer_free(kftsp_fv_writer *w) {
  if (!w) return;
  for (size_t i = 0; i < w->cap; i++) kftsp_free(w->names[i].value);
  kftsp_free(w->names);
  sqlite3_finalize(w->ins_name);
  sqlite3_finalize(w->ins);
  sqlite3_finalize(w->del);
  kftsp_buf_reset(&w->blk);
  kftsp_free(w);
}

int kftsp_fv_writer_new(kftsp_fv_writer **out, sqlite3 *h, int all) {
  *out = NULL;
  kftsp_fv_writer *w = kftsp_malloc(sizeof *w);
  if (!w) return KFTS_ENOMEM;
  memset(w, 0, sizeof *w);
  w->h = h;
  sqlite3_stmt *sel = NULL;
  int rc = KFTS_OK, s = SQLITE_DONE;
  if (sqlite3_exec(h, fv_schema, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h, "INSERT INTO facet_names(kind, value) VALUES (?1, ?2)", -1, &w->ins_name, NULL) !=
          SQLITE_OK ||
      sqlite3_prepare_v2(h, "INSERT INTO facetvals(block, v) VALUES (?1, ?2)", -1, &w->ins, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h, all ? "DELETE FROM facetvals" : "DELETE FROM facetvals WHERE block = ?1", -1, &w->del,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h, "SELECT id, kind, value FROM facet_names", -1, &sel, NULL) != SQLITE_OK)
    rc = KFTS_EDB;
  while (!rc && (s = sqlite3_step(sel)) == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(sel, 2);
    size_t len = (size_t)sqlite3_column_bytes(sel, 2);
    int kind = sqlite3_column_int(sel, 1);
    rc = names_put(w, name_hash(kind, v ? v : "", v ? len : 0), kind, v ? v : "", v ? len : 0,
                   sqlite3_column_int64(sel, 0), 0);
  }
  if (!rc && s != SQLITE_DONE) rc = KFTS_EDB;
  sqlite3_finalize(sel);
  if (!rc && all && sqlite3_step(w->del) != SQLITE_DONE) rc = KFTS_EDB;
  if (rc) {
    kftsp_fv_writer_free(w);
    return rc;
  }
  *out = w;
  return KFTS_OK;
}

int kftsp_fv_add(kftsp_fv_writer *w, int64_t k, int64_t doc, const char *date, const char *source,
                 const char *topics) {
  int rc = KFTS_OK;
  if (!w->n) {
    kftsp_buf_addc(&w->blk, FV_FORMAT);
    w->prev = kftsp_dv_base(k) - 1;
  }
  put_varint(&w->blk, (uint64_t)doc - (uint64_t)w->prev);
  w->prev = doc;
  w->n++;
  put_varint(&w->blk, source ? (uint64_t)name_id(w, 0, source, strlen(source), &rc) : 0);
  if (!rc) put_varint(&w->blk, date && strlen(date) >= 4 ? (uint64_t)name_id(w, 1, date, 4, &rc) : 0);
  size_t n = 0;
  for (const char *t = topics; t && *t;) {
    size_t len = strcspn(t, "\n");
    n += len > 0;
    t += len + (t[len] == '\n');
  }
  if (!rc) put_varint(&w->blk, n);
  for (const char *t = topics; !rc && t && *t;) {
    size_t len = strcspn(t, "\n");
    if (len) put_varint(&w->blk, (uint64_t)name_id(w, 2, t, len, &rc));
    t += len + (t[len] == '\n');
  }
  return rc ? rc : w->blk.oom ? KFTS_ENOMEM : KFTS_OK;
}

int kftsp_fv_write(kftsp_fv_writer *w, int64_t k, int replace) {
  int rc = KFTS_OK;
  if (replace) {
    sqlite3_bind_int64(w->del, 1, k);
    if (sqlite3_step(w->del) != SQLITE_DONE) rc = KFTS_EDB;
    sqlite3_reset(w->del);
  }
  if (!rc && w->blk.oom) rc = KFTS_ENOMEM;
  if (!rc && w->n) {
    sqlite3_bind_int64(w->ins, 1, k);
    sqlite3_bind_blob(w->ins, 2, w->blk.p, (int)w->blk.n, SQLITE_STATIC);
    if (sqlite3_step(w->ins) != SQLITE_DONE) rc = KFTS_EDB;
    sqlite3_reset(w->ins);
  }
  kftsp_buf_reset(&w->blk);
  w->n = 0;
  return rc;
}

/* ---- reading ---- */

static int garbled(kfts_error *err) {
  return kftsp_err(err, KFTS_EDB, "database", 0, "a facetvals block is garbled: run kfts-index --full");
}

/* Adds one to COUNTS for each id of the entry at *P (to NONE[0] for no source, NONE[1] for
** no year); -1 when it is malformed. */
static int count_entry(const unsigned char **p, const unsigned char *end, size_t *counts, uint64_t n_ids,
                       size_t none[2], int64_t *source) {
  uint64_t src, year, n, id;
  if (get_varint(p, end, &src) || get_varint(p, end, &year) || get_varint(p, end, &n) || src >= n_ids ||
      year >= n_ids || n > (uint64_t)(end - *p))
    return -1;
  if (source) *source = (int64_t)src;
  if (src) counts[src]++;
  else none[0]++;
  if (year) counts[year]++;
  else none[1]++;
  while (n--) {
    if (get_varint(p, end, &id) || !id || id >= n_ids) return -1;
    counts[id]++;
  }
  return 0;
}

/* Steps over the entry at *P; -1 when it is malformed. */
static int skip_entry(const unsigned char **p, const unsigned char *end) {
  uint64_t v, n;
  if (get_varint(p, end, &v) || get_varint(p, end, &v) || get_varint(p, end, &n) || n > (uint64_t)(end - *p))
    return -1;
  while (n--)
    if (get_varint(p, end, &v)) return -1;
  return 0;
}

int kftsp_fv_count(sqlite3 *h, const int64_t *docs, size_t n_docs, size_t **counts_out, size_t *n_ids_out,
                   size_t none[2], int64_t *sources, kfts_error *err) {
  *counts_out = NULL;
  *n_ids_out = 0;
  none[0] = none[1] = 0;
  sqlite3_stmt *st = NULL;
  int64_t top = 0;
  if (kftsp_prepare(h, "SELECT max(id) FROM facet_names", &st) != SQLITE_OK)
    return kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
  if (sqlite3_step(st) == SQLITE_ROW) top = sqlite3_column_int64(st, 0);
  kftsp_finalize(st);
  if (top < 0 || top >= FV_MAX_IDS) return KFTSP_FV_UNKNOWN;
  uint64_t n_ids = (uint64_t)top + 1;
  size_t *counts = kftsp_malloc((size_t)n_ids * sizeof *counts);
  if (!counts) return kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  memset(counts, 0, (size_t)n_ids * sizeof *counts);
  kftsp_cursor c = {0};
  if (kftsp_prepare(h, "SELECT block, v FROM facetvals WHERE block >= ?70 ORDER BY block", &c.st) != SQLITE_OK) {
    kftsp_free(counts);
    return kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
  }
  int rc = KFTS_OK;
  int64_t k = 0, doc = 0; /* the block *P is in, and the doc of the entry before *P */
  const unsigned char *start = NULL, *p = NULL, *end = NULL;
  for (size_t i = 0; i < n_docs && !rc; i++) {
    int64_t want = docs[i], wk = kftsp_dv_block(want);
    if (!start || wk != k || want <= doc) { /* to block WK's first entry */
      int got = kftsp_cursor_to(&c, wk);
      if (got < 0) {
        rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
        break;
      }
      start = got ? sqlite3_column_blob(c.st, 1) : NULL;
      end = start ? start + sqlite3_column_bytes(c.st, 1) : NULL;
      if (!start || end - start < 1 || start[0] != FV_FORMAT) {
        rc = garbled(err); /* the scan's docs all have docvals, written with their facetvals */
        break;
      }
      k = wk;
      p = start + 1;
      doc = kftsp_dv_base(k) - 1;
    }
    for (;;) { /* to WANT's entry */
      uint64_t delta;
      if (p >= end || get_varint(&p, end, &delta) || !delta) {
        rc = garbled(err);
        break;
      }
      doc = (int64_t)((uint64_t)doc + delta);
      if (doc == want) {
        if (count_entry(&p, end, counts, n_ids, none, sources ? &sources[i] : NULL)) rc = garbled(err);
        break;
      }
      if (doc > want || skip_entry(&p, end)) {
        rc = garbled(err);
        break;
      }
    }
  }
  kftsp_finalize(c.st);
  if (rc) {
    kftsp_free(counts);
    return rc;
  }
  *counts_out = counts;
  *n_ids_out = (size_t)n_ids;
  return KFTS_OK;
}

int kftsp_fv_names(sqlite3 *h, const size_t *counts, size_t n_ids, char ***names_out, int **kinds_out,
                   kfts_error *err) {
  char **names = kftsp_malloc((n_ids ? n_ids : 1) * sizeof *names);
  int *kinds = kftsp_malloc((n_ids ? n_ids : 1) * sizeof *kinds);
  sqlite3_stmt *st = NULL;
  int rc = names && kinds ? KFTS_OK : kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  if (!rc && kftsp_prepare(h, "SELECT kind, value FROM facet_names WHERE id = ?1", &st) != SQLITE_OK)
    rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(h));
  if (names) memset(names, 0, (n_ids ? n_ids : 1) * sizeof *names);
  if (kinds) kinds[0] = -1;
  for (size_t id = 1; !rc && id < n_ids; id++) {
    kinds[id] = -1;
    if (!counts[id]) continue;
    sqlite3_bind_int64(st, 1, (int64_t)id);
    const char *v = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 1) : NULL;
    if (!v)
      rc = kftsp_err(err, KFTS_EDB, "database", 0, "facet name %zu is missing: run kfts-index --full", id);
    else if (!(names[id] = kftsp_strdup(v)))
      rc = kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
    else
      kinds[id] = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
  }
  kftsp_finalize(st);
  if (rc) {
    for (size_t id = 0; names && id < n_ids; id++) kftsp_free(names[id]);
    kftsp_free(names);
    kftsp_free(kinds);
    return rc;
  }
  *names_out = names;
  *kinds_out = kinds;
  return KFTS_OK;
}
