/*
** docvals.c -- what ranking needs of each article (its length, importance and day), packed
** in blocks by doc (articles.doc, FTS5's rowid), so that a scored scan reads a block per few hundred matches instead of
** seeking articles_meta once per match (at 1M articles, a seek per match was three quarters
** of a broad query's time).
**
** Table docvals(block INTEGER PRIMARY KEY, v BLOB): block = doc >> kftsp_dv_shift (256
** articles, fewer where articles were removed). A block's blob is a pure function of the
** articles_meta rows whose docs fall in it:
**   byte 0      format (2; 1 before 2026-12-01, still read)
**   bytes 1..4  n, little-endian
**   n x 1       docs, ascending, as offsets from the block's first doc (block << shift);
**               format 1: n x 8, the docs themselves (little-endian, two's complement)
**   n x 4       lengths: the sum of %_docsize's columns (0xffffffff: the blob is malformed)
**   n x 4       days since 1970-01-01 of the date (INT32_MIN: none or not a date)
**   n x 1       importance (-1: none)
** meta('docvals') = '2' says every block is current, and every facetvals block with it
** (facetvals.c, written from the same rows); '1', written by kfts before facetvals, says the
** same of docvals alone. The indexer deletes that row at a run's first change to
** articles_meta and, at the run's end, rewrites the blocks it touched (all of them when the
** row was not '2' at the start: a new index, an upgraded one, or a run that did not finish)
** and puts the row back, in the run's last transaction. Readers use the blocks only when the
** row is there, and articles_meta's rows otherwise (scan.c, timeline.c).
*/
#include "kfts_int.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DV_FORMAT 2
#define DV_HEAD 5
#define DV_ENTRY 10   /* format 2: 1 + 4 + 4 + 1 bytes an article */
#define DV_ENTRY_1 17 /* format 1: 8 + 4 + 4 + 1 */

int kftsp_dv_shift = 8;

int64_t kftsp_dv_base(int64_t k) { return (int64_t)((uint64_t)k << kftsp_dv_shift); }

int64_t kftsp_dv_block(int64_t doc) {
  return doc >= 0 ? doc >> kftsp_dv_shift : -((-(doc + 1)) >> kftsp_dv_shift) - 1;
}

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The row length %_docsize holds: one varint per column, summed; UINT32_MAX when malformed. */
uint32_t kftsp_dv_length(const unsigned char *p, int n) {
  uint64_t sum = 0;
  for (int i = 0, col = 0; col < 4; col++) {
    uint32_t v = 0;
    int k = 0;
    for (;;) {
      if (i >= n || k == 5) return UINT32_MAX;
      unsigned char c = p[i++];
      v = (v << 7) | (c & 0x7f);
      k++;
      if (!(c & 0x80)) break;
    }
    if ((int32_t)v < 0) return UINT32_MAX;
    sum += v;
    if (col == 3 && i != n) return UINT32_MAX;
  }
  return sum < UINT32_MAX ? (uint32_t)sum : UINT32_MAX;
}

/* ---- writing ---- */

typedef struct block {
  kftsp_buf docs, len, day, imp;
  uint32_t n;
} block;


/* Adds the row ST is on, an article of block K. */
static void block_add(block *b, sqlite3_stmt *st, int64_t k) {
  unsigned char x[8];
  kftsp_buf_addc(&b->docs, (char)(unsigned char)(sqlite3_column_int64(st, 0) - kftsp_dv_base(k)));
  put_u32(x, kftsp_dv_length(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1)));
  kftsp_buf_add(&b->len, (const char *)x, 4);
  int64_t z;
  int32_t d = kftsp_parse_day((const char *)sqlite3_column_text(st, 2), &z) && z > INT32_MIN && z <= INT32_MAX
                  ? (int32_t)z
                  : INT32_MIN;
  put_u32(x, (uint32_t)d);
  kftsp_buf_add(&b->day, (const char *)x, 4);
  int imp = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 3);
  kftsp_buf_addc(&b->imp, (char)(signed char)(imp < -1 ? -1 : imp > 127 ? 127 : imp));
  b->n++;
}

static void block_reset(block *b) {
  kftsp_buf_reset(&b->docs);
  kftsp_buf_reset(&b->len);
  kftsp_buf_reset(&b->day);
  kftsp_buf_reset(&b->imp);
  b->n = 0;
}

/* Writes block K from B (none when empty) and empties B. */
static int block_write(sqlite3_stmt *ins, int64_t k, block *b) {
  int rc = KFTS_OK;
  if (b->docs.oom || b->len.oom || b->day.oom || b->imp.oom) rc = KFTS_ENOMEM;
  if (!rc && b->n) {
    size_t n = DV_HEAD + (size_t)b->n * DV_ENTRY;
    unsigned char *v = kftsp_malloc(n);
    if (!v) {
      rc = KFTS_ENOMEM;
    } else {
      v[0] = DV_FORMAT;
      put_u32(v + 1, b->n);
      unsigned char *p = v + DV_HEAD;
      memcpy(p, b->docs.p, b->docs.n);
      memcpy(p += b->docs.n, b->len.p, b->len.n);
      memcpy(p += b->len.n, b->day.p, b->day.n);
      memcpy(p + b->day.n, b->imp.p, b->imp.n);
      sqlite3_bind_int64(ins, 1, k);
      sqlite3_bind_blob(ins, 2, v, (int)n, kftsp_free);
      if (sqlite3_step(ins) != SQLITE_DONE) rc = KFTS_EDB;
      sqlite3_reset(ins);
    }
  }
  block_reset(b);
  return rc;
}

/* The docs of block K, 0 <= K < KFTSP_DV_BLOCKS (dirty blocks; others are rewritten with all). */
static int64_t block_hi(int64_t k) { return kftsp_dv_base(k + 1) - 1; }

/* Adds the row SEL is on (block K) to the blocks being built: docvals' and facetvals'. */
static int row_add(block *b, kftsp_fv_writer *fw, sqlite3_stmt *sel, int64_t k) {
  block_add(b, sel, k);
  return kftsp_fv_add(fw, k, sqlite3_column_int64(sel, 0), (const char *)sqlite3_column_text(sel, 2),
                      (const char *)sqlite3_column_text(sel, 4), (const char *)sqlite3_column_text(sel, 5));
}

int kftsp_dv_rebuild(sqlite3 *h, const kftsp_dv_dirty *d, kfts_error *err) {
  sqlite3_stmt *sel = NULL, *ins = NULL, *del = NULL;
  kftsp_fv_writer *fw = NULL;
  int rc = KFTS_OK;
  if (sqlite3_prepare_v2(h, "SELECT doc, sz, date, importance, source, topics FROM articles_meta WHERE doc BETWEEN ?1 AND ?2"
                         " ORDER BY doc",
                         -1, &sel, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h, "INSERT INTO docvals(block, v) VALUES (?1, ?2)", -1, &ins, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h, d->all ? "DELETE FROM docvals" : "DELETE FROM docvals WHERE block = ?1", -1, &del,
                         NULL) != SQLITE_OK)
    rc = KFTS_EDB;
  if (!rc) rc = kftsp_fv_writer_new(&fw, h, d->all);
  block b;
  memset(&b, 0, sizeof b);
  if (!rc && d->all) { /* every block: one pass over articles_meta */
    if (sqlite3_step(del) != SQLITE_DONE) rc = KFTS_EDB;
    sqlite3_bind_int64(sel, 1, INT64_MIN);
    sqlite3_bind_int64(sel, 2, INT64_MAX);
    int64_t cur = 0;
    int s = SQLITE_DONE;
    while (!rc && (s = sqlite3_step(sel)) == SQLITE_ROW) {
      int64_t k = kftsp_dv_block(sqlite3_column_int64(sel, 0));
      if (b.n && k != cur && !(rc = block_write(ins, cur, &b))) rc = kftsp_fv_write(fw, cur, 0);
      cur = k;
      if (!rc) rc = row_add(&b, fw, sel, k);
    }
    if (!rc && s != SQLITE_DONE) rc = KFTS_EDB;
    if (!rc) rc = block_write(ins, cur, &b);
    if (!rc) rc = kftsp_fv_write(fw, cur, 0);
    if (!rc) rc = kftsp_fv_prune(fw); /* every block written: the names none of them holds go */
  }
  for (int64_t k = 0; !rc && !d->all && k < KFTSP_DV_BLOCKS; k++) {
    if (!(d->bits[k / 8] & (1u << (k % 8)))) continue;
    sqlite3_bind_int64(del, 1, k);
    if (sqlite3_step(del) != SQLITE_DONE) rc = KFTS_EDB;
    sqlite3_reset(del);
    sqlite3_bind_int64(sel, 1, kftsp_dv_base(k));
    sqlite3_bind_int64(sel, 2, block_hi(k));
    int s = SQLITE_DONE;
    while (!rc && (s = sqlite3_step(sel)) == SQLITE_ROW) rc = row_add(&b, fw, sel, k);
    if (!rc && s != SQLITE_DONE) rc = KFTS_EDB;
    sqlite3_reset(sel);
    if (!rc) rc = block_write(ins, k, &b);
    if (!rc) rc = kftsp_fv_write(fw, k, 1);
  }
  block_reset(&b);
  kftsp_fv_writer_free(fw);
  if (!rc && sqlite3_exec(h, "INSERT OR REPLACE INTO meta(key, value) VALUES ('docvals', '2')", NULL, NULL, NULL) !=
                 SQLITE_OK)
    rc = KFTS_EDB;
  sqlite3_finalize(sel);
  sqlite3_finalize(ins);
  sqlite3_finalize(del);
  if (rc == KFTS_EDB) return kftsp_err(err, rc, "database", 0, "writing docvals: %s", sqlite3_errmsg(h));
  if (rc == KFTS_ENOMEM) return kftsp_err(err, rc, "", 0, "out of memory");
  return rc;
}

void kftsp_dv_touch(kftsp_dv_dirty *d, int64_t doc) {
  int64_t k = kftsp_dv_block(doc);
  if (k < 0 || k >= KFTSP_DV_BLOCKS) d->all = 1;
  else d->bits[k / 8] |= (unsigned char)(1u << (k % 8));
}

/* ---- reading ---- */

int kftsp_dv_current(sqlite3 *h) {
  sqlite3_stmt *st;
  if (kftsp_prepare(h, "SELECT value FROM meta WHERE key = 'docvals'", &st) != SQLITE_OK) return 0;
  const char *v = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
  int cur = v && !strcmp(v, "2") ? KFTSP_DV_WITH_FACETS : v && !strcmp(v, "1") ? KFTSP_DV_ALONE : 0;
  kftsp_finalize(st);
  return cur;
}

int kftsp_dv_decode(kftsp_dv_block_t *b, const unsigned char *v, int n, int64_t blk) {
  if (n < DV_HEAD || (v[0] != DV_FORMAT && v[0] != 1)) return -1;
  uint32_t k = (uint32_t)kftsp_le(v + 1, 4);
  b->wide = v[0] == 1;
  if ((size_t)n != DV_HEAD + (size_t)k * (b->wide ? DV_ENTRY_1 : DV_ENTRY)) return -1;
  b->base = kftsp_dv_base(blk);
  b->doc = v + DV_HEAD;
  b->len = b->doc + (b->wide ? 8 : 1) * (size_t)k;
  b->day = b->len + 4 * (size_t)k;
  b->imp = b->day + 4 * (size_t)k;
  b->n = k;
  b->pos = 0;
  return 0;
}


/* ---- slots: a block spread out by doc, and the handle's cache of them ---- */

kftsp_dv_slot_t *kftsp_dv_slots_new(void) { return kftsp_malloc(((size_t)1 << kftsp_dv_shift) * sizeof(kftsp_dv_slot_t)); }

int kftsp_dv_slots_fill(kftsp_dv_slot_t *s, const kftsp_dv_block_t *b, int64_t k) {
  size_t n = (size_t)1 << kftsp_dv_shift;
  const kftsp_dv_block_t c = *b; /* a copy the stores to S cannot alias: kept in registers */
  /* A full block writes every slot (its docs ascend within the block, checked below). At 1M
  ** articles nearly every block is full, and this pass was a fifth of a cold query's
  ** spreading. */
  if (c.n != n)
    for (size_t j = 0; j < n; j++) s[j].imp = KFTSP_DV_ABSENT;
  int64_t prev = 0;
  for (uint32_t i = 0; i < c.n; i++) {
    int64_t doc = kftsp_dv_doc(&c, i);
    if (kftsp_dv_block(doc) != k || (i && doc <= prev)) return -1;
    prev = doc;
    kftsp_dv_slot_t *e = &s[(uint64_t)doc & (n - 1)];
    int imp = kftsp_dv_imp(&c, i);
    e->len = kftsp_dv_len(&c, i);
    e->day = kftsp_dv_day(&c, i);
    e->imp = imp == KFTSP_DV_ABSENT ? -1 : imp;
  }
  return 0;
}

/* The blocks in one array, allocated when the cache grows (before the threads start), so that
** filling a block allocates nothing: at 1M articles, a malloc per block (and the heap growth
** of the second thread's arena) made a cold query 15 ms slower. A block is kept the second
** time a scan reads it, not the first: a process that runs one query (kfts-query) never
** pays for spreading out blocks it will not read again. */
enum { EMPTY, SEEN, FILLING, READY };

struct kftsp_dv_cache {
  unsigned char *mem;     /* n blocks' slots, each slots_size bytes */
  _Atomic int *state;     /* per block: EMPTY, SEEN (read once), FILLING (claimed) or READY */
  size_t n, slots_size;   /* blocks 0 .. n-1 */
  int shift;              /* kftsp_dv_shift when filled */
  int64_t db_state[2];    /* kftsp_db_state of the index the slots hold */
};

kftsp_dv_cache *kftsp_dv_cache_new(void) {
  kftsp_dv_cache *c = kftsp_malloc(sizeof *c);
  if (c) memset(c, 0, sizeof *c);
  return c;
}

static void cache_drop(kftsp_dv_cache *c) {
  kftsp_free(c->mem);
  kftsp_free((void *)c->state);
  c->mem = NULL;
  c->state = NULL;
  c->n = 0;
}

void kftsp_dv_cache_free(kftsp_dv_cache *c) {
  if (!c) return;
  cache_drop(c);
  kftsp_free(c);
}

/* The largest block, or -1. */
static int64_t top_block(sqlite3 *h) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (kftsp_prepare(h, "SELECT max(block) FROM docvals", &st) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
    v = sqlite3_column_int64(st, 0);
  kftsp_finalize(st);
  return v;
}

int kftsp_dv_cache_begin(kftsp_dv_cache *c, sqlite3 *h) {
  int64_t st[2];
  if (kftsp_db_state(h, st)) return -1;
  if (st[0] != c->db_state[0] || st[1] != c->db_state[1] || c->shift != kftsp_dv_shift) {
    cache_drop(c);
    c->db_state[0] = st[0];
    c->db_state[1] = st[1];
    c->shift = kftsp_dv_shift;
    c->slots_size = ((size_t)1 << kftsp_dv_shift) * sizeof(kftsp_dv_slot_t);
  }
  int64_t top = top_block(h);
  if (top >= (int64_t)c->n && top < KFTSP_DV_BLOCKS) { /* grows, keeping the blocks read */
    size_t n = (size_t)top + 1 + (size_t)top / 8;
    if (n > KFTSP_DV_BLOCKS) n = KFTSP_DV_BLOCKS;
    unsigned char *mem = kftsp_malloc(n * c->slots_size);
    _Atomic int *state = kftsp_malloc(n * sizeof *state);
    if (!mem || !state) {
      kftsp_free(mem);
      kftsp_free((void *)state);
      return -1;
    }
    for (size_t k = 0; k < n; k++) {
      int was = k < c->n ? atomic_load_explicit(&c->state[k], memory_order_relaxed) : EMPTY;
      atomic_init(&state[k], was == READY || was == SEEN ? was : EMPTY);
      if (was == READY) memcpy(mem + k * c->slots_size, c->mem + k * c->slots_size, c->slots_size);
    }
    cache_drop(c);
    c->mem = mem;
    c->state = state;
    c->n = n;
  }
  return 0;
}

const kftsp_dv_slot_t *kftsp_dv_cache_get(kftsp_dv_cache *c, int64_t k) {
  return k >= 0 && (uint64_t)k < c->n && atomic_load_explicit(&c->state[k], memory_order_acquire) == READY
             ? (const kftsp_dv_slot_t *)(c->mem + (size_t)k * c->slots_size)
             : NULL;
}

kftsp_dv_slot_t *kftsp_dv_cache_claim(kftsp_dv_cache *c, int64_t k) {
  if (k < 0 || (uint64_t)k >= c->n) return NULL;
  int was = EMPTY;
  if (atomic_compare_exchange_strong_explicit(&c->state[k], &was, SEEN, memory_order_relaxed, memory_order_relaxed))
    return NULL; /* the first read */
  if (was != SEEN || !atomic_compare_exchange_strong_explicit(&c->state[k], &was, FILLING, memory_order_acquire,
                                                               memory_order_relaxed))
    return NULL;
  return (kftsp_dv_slot_t *)(c->mem + (size_t)k * c->slots_size);
}

void kftsp_dv_cache_done(kftsp_dv_cache *c, int64_t k, int filled) {
  atomic_store_explicit(&c->state[k], filled ? READY : SEEN, memory_order_release);
}
