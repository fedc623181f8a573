/*
** doclist.c -- a phrase's rows read from FTS5's segments directly (its %_data and %_idx
** records), as FTS5's own iterators would give them:
**  - a token: its doclist in each segment, merged by rowid (the newest segment's entry for a
**    rowid stands; an entry with no positions is a delete);
**  - a phrase of several tokens: the rows that have them all (leapfrogging to the largest
**    rowid), with an instance wherever each token is at the offset after the one before, in
**    one column;
**  - a prefix: every term that begins with the token, each segment's doclists merged by a
**    heap, a position two terms share counted once (as FTS5 merges a prefix's lists);
** each row with its instances weighted by column. Also: the row and token counts of FTS5's
** averages record, and the rowid at about the middle of a token's rows.
**
** Collecting a one-token phrase's matches through xQueryPhrase costs FTS5's multi-segment
** iterator step, a callback and an xPhraseFirst/xPhraseNext walk per match: about 61 ns at
** 1M articles. Decoding the same doclist here costs about 11 (scan.c uses it).
**
** The format, as fts5_index.c describes it (SQLite 3.40 writes the legacy structure record):
**  - the structure record (id 10): a 4-byte cookie, then varints: levels, segments, write
**    counter; per level the segments in an ongoing merge, the segments, and per segment
**    (oldest first) its id, first and last leaf page;
**  - the averages record (id 1): varints: rows, then each column's tokens;
**  - leaf pages (id segid << 37 | page): a u16 offset of the first rowid when one begins on
**    the page before any term (else 0), a u16 size of the leaf before its footer, which
**    holds the offsets of the page's terms (varints, each from the one before). Terms are
**    prefix-compressed (the first on a page whole), each followed by its doclist: the first
**    rowid, then deltas, each followed by a position list whose size varint is twice its
**    bytes plus a delete flag. Doclists and position lists run over into the next pages
**    (a position list's bytes go on at offset 4; the next rowid is where the page's header
**    says); a page with no term holds nothing but the doclist it continues;
**  - %_idx(segid, term, pgno): the leaf on which a term may be, pgno >> 1 (a key for each
**    page that has a term).
** Position lists: column 0's offsets, then 0x01, a column number and that column's offsets;
** each offset a varint (delta + 2). Terms in the main index begin with the byte '0'.
**
** Anything else (a V2 structure record, written for contentless_delete tables by later
** SQLites; more segments than SEGS_MAX) is KFTSP_DOCLIST_UNKNOWN before any row is handed
** over, and the caller asks FTS5. Bytes that do not parse are SQLITE_CORRUPT: every offset
** and length read from a page is checked against it before use.
*/
#include "kfts_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define PAD 16       /* zero bytes after every page and position list: a varint read stops there */
#define SEGS_MAX 64

typedef struct leaf {
  unsigned char *p;
  size_t cap;
  int nn, szleaf; /* the record's size; the leaf's, before its footer */
} leaf;

typedef struct segit {
  int segid, pg, last; /* the current page, the segment's last */
  leaf l, peek;        /* the current page; the next one, read ahead while skipping */
  int peeked;          /* the page whose next one PEEK holds, or 0 */
  int off;             /* the current entry's position list begins here */
  int eod;             /* the doclist ends at this offset of the page (a term begins), or nn + 1 */
  int crossed;         /* the current position list ran over into L from an earlier page */
  int64_t rowid;
  int npos, del;
  const unsigned char *pl; /* the current position list (NPOS bytes): in L, or in SPILL */
  unsigned char *spill;
  size_t spill_cap;
  int eof;
} segit;

typedef struct reader {
  sqlite3 *h;
  sqlite3_stmt *data; /* SELECT block FROM %_data WHERE id = ?1 */
  sqlite3_stmt *idx;  /* the leaf a term may be on */
} reader;

/* SQLite's varint at P (the buffers' padding ends one); its length. */
static int varint(const unsigned char *p, uint64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < 8; i++) {
    x = (x << 7) | (p[i] & 0x7f);
    if (!(p[i] & 0x80)) {
      *v = x;
      return i + 1;
    }
  }
  *v = (x << 8) | p[8];
  return 9;
}

/* A varint that is an offset or a length within a page, capped at 2^29: a sum of three stays an
** int, and too large to pass the checks against the page's size. */
static int small(const unsigned char *p, int *v) {
  uint64_t x;
  int n = varint(p, &x);
  *v = x > (1u << 29) ? 1 << 29 : (int)x;
  return n;
}

static int u16(const unsigned char *p) {
  return p[0] << 8 | p[1];
}

static int room(unsigned char **p, size_t *cap, size_t n) {
  if (n + PAD <= *cap) return SQLITE_OK;
  size_t c = *cap ? *cap : 4096;
  while (c < n + PAD) c *= 2;
  unsigned char *q = kftsp_realloc(*p, c);
  if (!q) return SQLITE_NOMEM;
  *p = q;
  *cap = c;
  return SQLITE_OK;
}

/* Record ID of %_data into L, padded. SQLITE_CORRUPT when it is missing or too short. */
static int load(reader *r, int64_t id, leaf *l, int is_leaf) {
  sqlite3_bind_int64(r->data, 1, id);
  int s = sqlite3_step(r->data), rc = SQLITE_CORRUPT;
  if (s == SQLITE_ROW) {
    const void *b = sqlite3_column_blob(r->data, 0);
    int n = sqlite3_column_bytes(r->data, 0);
    if ((rc = room(&l->p, &l->cap, (size_t)n)) == SQLITE_OK) {
      if (n) memcpy(l->p, b, (size_t)n);
      memset(l->p + n, 0, PAD);
      l->nn = n;
      l->szleaf = n >= 4 ? u16(l->p + 2) : 0;
      rc = !is_leaf || (n >= 4 && l->szleaf >= 4 && l->szleaf <= n) ? SQLITE_OK : SQLITE_CORRUPT;
    }
  } else if (s != SQLITE_DONE) {
    rc = sqlite3_errcode(r->h);
  }
  sqlite3_reset(r->data);
  return rc;
}

static int64_t leaf_id(int segid, int pg) {
  return ((int64_t)segid << 37) + pg;
}

/* Whether L's footer lists any term; the first one's offset in *OFF. */
static int has_terms(const leaf *l, int *off) {
  if (l->nn <= l->szleaf) return 0;
  small(l->p + l->szleaf, off);
  return 1;
}

/* The page after S's current one, or S at its end. */
static int next_page(reader *r, segit *s) {
  if (s->pg >= s->last) {
    s->eof = 1;
    return SQLITE_OK;
  }
  int rc;
  if (s->peeked == s->pg) { /* read ahead already */
    leaf t = s->l;
    s->l = s->peek;
    s->peek = t;
    rc = SQLITE_OK;
  } else {
    rc = load(r, leaf_id(s->segid, s->pg + 1), &s->l, 1);
  }
  s->peeked = 0;
  s->pg++;
  int t;
  s->eod = rc == SQLITE_OK && has_terms(&s->l, &t) ? t : s->l.nn + 1;
  return rc;
}

/* The entry whose size varint is at S->off: its position list, gathered when it runs over. */
static int load_entry(reader *r, segit *s) {
  uint64_t sz;
  if (s->off >= s->l.szleaf) return SQLITE_CORRUPT;
  s->off += varint(s->l.p + s->off, &sz);
  /* a list over more bytes than the segment's pages after this one hold is not one */
  if (sz >> 1 > (uint64_t)(s->last - s->pg + 1) * 65536) return SQLITE_CORRUPT;
  s->npos = (int)(sz >> 1);
  s->del = (int)(sz & 1);
  s->crossed = 0;
  if ((int64_t)s->off + s->npos <= s->l.szleaf) {
    s->pl = s->l.p + s->off;
    return SQLITE_OK;
  }
  if (s->off > s->l.szleaf) return SQLITE_CORRUPT;
  int have = s->l.szleaf - s->off, rc = room(&s->spill, &s->spill_cap, (size_t)s->npos);
  if (rc) return rc;
  memcpy(s->spill, s->l.p + s->off, (size_t)have);
  while (rc == SQLITE_OK && have < s->npos) {
    if ((rc = next_page(r, s)) == SQLITE_OK && s->eof) rc = SQLITE_CORRUPT;
    if (rc) break;
    int take = s->npos - have < s->l.szleaf - 4 ? s->npos - have : s->l.szleaf - 4;
    if (take <= 0) return SQLITE_CORRUPT;
    memcpy(s->spill + have, s->l.p + 4, (size_t)take);
    have += take;
  }
  memset(s->spill + s->npos, 0, PAD);
  s->pl = s->spill;
  s->crossed = 1;
  return rc;
}

/* S at the doclist's next entry, or at its end. */
static int advance(reader *r, segit *s) {
  int rc = SQLITE_OK;
  if (!s->crossed) {
    int end = s->off + s->npos;
    if (end < s->l.szleaf) {
      if (end >= s->eod) {
        s->eof = 1;
        return SQLITE_OK;
      }
      uint64_t d;
      s->off = end + varint(s->l.p + end, &d);
      if (d == 0) return SQLITE_CORRUPT;
      s->rowid += (int64_t)d;
      return load_entry(r, s);
    }
    rc = next_page(r, s);
  }
  /* The next rowid is the first one a page's header gives, unless a term comes first. */
  for (int t; rc == SQLITE_OK && !s->eof; rc = next_page(r, s)) {
    int at = u16(s->l.p);
    if (at && at < s->l.szleaf) {
      uint64_t v;
      s->off = at + varint(s->l.p + at, &v);
      s->rowid = (int64_t)v;
      return load_entry(r, s);
    }
    if (has_terms(&s->l, &t)) {
      s->eof = 1;
      break;
    }
  }
  return rc;
}

/* S at its next entry when that one and its position list are on S's page (1), as advance()
** would read them; else 0 and S as it was (advance() reads on, or says what is wrong). The
** loop of every read: one-byte varints (most deltas and sizes) read inline. */
static inline int step(segit *s) {
  int end = s->off + s->npos, lim = s->eod < s->l.szleaf ? s->eod : s->l.szleaf;
  if (s->crossed || end >= lim) return 0;
  const unsigned char *a = s->l.p;
  uint64_t d, sz;
  int i = end;
  if (a[i] < 0x80) d = a[i++];
  else i += varint(a + i, &d);
  if (!d || i >= s->l.szleaf) return 0;
  if (a[i] < 0x80) sz = a[i++];
  else i += varint(a + i, &sz);
  if (sz > (uint64_t)INT32_MAX || i + (int)(sz >> 1) > s->l.szleaf) return 0;
  s->rowid += (int64_t)d;
  s->off = i;
  s->npos = (int)(sz >> 1);
  s->del = (int)(sz & 1);
  s->pl = a + i;
  return 1;
}

/* S at its first entry at or after LO, reading ahead a page at a time while the next page's
** first rowid is still at or before LO (its entries in between are not decoded). */
static int skip_to(reader *r, segit *s, int64_t lo) {
  int rc = SQLITE_OK;
  while (rc == SQLITE_OK && !s->eof && s->rowid < lo) {
    if (s->peeked != s->pg && s->eod > s->l.nn && s->pg < s->last) {
      if ((rc = load(r, leaf_id(s->segid, s->pg + 1), &s->peek, 1))) break;
      s->peeked = s->pg;
      int at = u16(s->peek.p);
      uint64_t v;
      if (at && at < s->peek.szleaf && (varint(s->peek.p + at, &v), (int64_t)v <= lo)) {
        if ((rc = next_page(r, s))) break;
        s->off = at + varint(s->l.p + at, &v);
        s->rowid = (int64_t)v;
        rc = load_entry(r, s);
        continue;
      }
    }
    while (s->rowid < lo && step(s)) {
    }
    if (s->rowid < lo) rc = advance(r, s);
  }
  return rc;
}

/* The page of segment SEGID (from FIRST) on which TERM (N bytes) may be, from %_idx. */
static int idx_page(reader *r, int segid, int first, const unsigned char *term, int n, int *pg) {
  *pg = first;
  sqlite3_bind_int(r->idx, 1, segid);
  sqlite3_bind_blob(r->idx, 2, term, n, SQLITE_STATIC);
  int st = sqlite3_step(r->idx);
  if (st == SQLITE_ROW && (int)(sqlite3_column_int64(r->idx, 0) >> 1) > first)
    *pg = (int)(sqlite3_column_int64(r->idx, 0) >> 1);
  int rc = st == SQLITE_ROW || st == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(r->h);
  sqlite3_reset(r->idx);
  return rc;
}

/* S (its page in S->l) at the doclist that begins at OFF, its term's doclist ending at EOD
** of the page (the next term), or nn + 1. */
static int open_at(reader *r, segit *s, int off, int eod) {
  if (off > s->l.nn) return SQLITE_CORRUPT;
  s->eod = eod;
  s->eof = 0;
  /* The first rowid, on the next page when the term ends this one. */
  int rc;
  while (off >= s->l.szleaf) {
    if ((rc = next_page(r, s))) return rc;
    if (s->eof) return SQLITE_CORRUPT;
    off = 4;
  }
  uint64_t v;
  s->off = off + varint(s->l.p + off, &v);
  s->rowid = (int64_t)v;
  return load_entry(r, s);
}

/* S at TERM's (N bytes, with its index byte) first entry in segment SEGID (pages FIRST..LAST),
** or at its end when the segment does not have it. As fts5LeafSeek: %_idx names the page. */
static int seek(reader *r, segit *s, int segid, int first, int last, const unsigned char *term, int n) {
  s->segid = segid;
  s->last = last;
  s->eof = 1;
  s->peeked = 0;
  if (first <= 0) return SQLITE_OK; /* a merge's input, all of it merged already */
  int pg, rc = idx_page(r, segid, first, term, n, &pg);
  if (rc || pg > last) return rc;
  s->pg = pg;
  if ((rc = load(r, leaf_id(segid, pg), &s->l, 1))) return rc;
  const unsigned char *a = s->l.p;
  int nn = s->l.nn, toff, match = 0, keep = 0;
  if (!has_terms(&s->l, &toff)) return SQLITE_OK;
  int pgidx = s->l.szleaf + varint(a + s->l.szleaf, &(uint64_t){0});
  int off = toff, v;
  for (;;) {
    if (off >= nn) return SQLITE_CORRUPT;
    int fresh;
    off += small(a + off, &fresh);
    if (keep < match) return SQLITE_OK; /* past TERM */
    if (keep == match) {
      int i = 0, cmp = fresh < n - match ? fresh : n - match;
      if (off + cmp > nn) return SQLITE_CORRUPT;
      while (i < cmp && a[off + i] == term[match + i]) i++;
      match += i;
      if (match == n) {
        if (i != fresh) return SQLITE_OK; /* a longer term */
        off += fresh;
        break;
      }
      if (i < fresh && a[off + i] > term[match]) return SQLITE_OK;
    }
    if (pgidx >= nn) return SQLITE_OK; /* not on the page: not in the segment */
    pgidx += small(a + pgidx, &v);
    toff += v;
    off = toff;
    if (off >= nn) return SQLITE_CORRUPT;
    off += small(a + off, &keep);
  }
  int eod = nn + 1;
  if (pgidx < nn) {
    pgidx += small(a + pgidx, &v);
    eod = toff + v;
  }
  return open_at(r, s, off, eod);
}

/* Column-weighted number of offsets in the position list P (N bytes, padded): per column,
** its varints counted by their last bytes (those under 0x80) and times the column's weight
** (exact for small integral weights such as kfts's; FTS5's aux functions add one weight per
** instance). A column's list begins at 0x01 where a varint begins (an offset is at least 2). */
static double pl_freq(const unsigned char *p, int n, const double *w, int nw) {
  double f = 0.0;
  int col = 0, count = 0, at_start = 1;
  for (int i = 0; i < n; i++) {
    unsigned b = p[i];
    if (b == 0x01 && at_start) {
      f += count * (col < nw ? w[col] : 1.0);
      uint64_t c;
      i += varint(p + i + 1, &c);
      col = c < (uint64_t)INT32_MAX ? (int)c : INT32_MAX;
      count = 0;
      continue;
    }
    at_start = b < 0x80;
    count += at_start;
  }
  return f + count * (col < nw ? w[col] : 1.0);
}

/* W's entries below LIMIT handed to FN, W's next entry read in place while it is on the
** same page. */
static int run(reader *r, segit *w, int64_t limit, const double *weights, int n_weights, kftsp_doclist_fn fn,
               void *ctx) {
  int rc = SQLITE_OK;
  while (rc == SQLITE_OK && !w->eof && w->rowid < limit) {
    if (w->npos > 0 && (rc = fn(ctx, w->rowid, pl_freq(w->pl, w->npos, weights, n_weights)))) break;
    if (step(w)) continue;
    rc = advance(r, w);
  }
  return rc;
}

/* The varint at *P, when one begins before END: *P past it; 0 when none does. */
static int get(const unsigned char **p, const unsigned char *end, uint64_t *v) {
  if (*p >= end) return 0;
  *p += varint(*p, v);
  return *p <= end;
}

/* The segments of the structure record in the order FTS5 ranks them (newest first): level
** 0 first, each level's last segment first; SEG[i] = {id, first page, last page}. */
static int structure(reader *r, int seg[][3], int *n_seg) {
  leaf l = {0};
  int rc = load(r, 10, &l, 0), n = 0;
  const unsigned char *p = l.p, *end = l.p + l.nn;
  uint64_t levels = 0, segs = 0, v;
  if (rc == SQLITE_OK && (l.nn < 4 || !memcmp(p + 4, "\xff\x00\x00\x01", 4))) rc = KFTSP_DOCLIST_UNKNOWN;
  if (rc == SQLITE_OK) {
    p += 4; /* the cookie; then levels, segments, the write counter */
    if (!get(&p, end, &levels) || !get(&p, end, &segs) || !get(&p, end, &v)) rc = SQLITE_CORRUPT;
    else if (segs > SEGS_MAX || levels > 64) rc = KFTSP_DOCLIST_UNKNOWN;
  }
  for (uint64_t lv = 0; rc == SQLITE_OK && lv < levels; lv++) {
    uint64_t in_merge, k;
    if (!get(&p, end, &in_merge) || !get(&p, end, &k) || k > segs - (uint64_t)n) {
      rc = SQLITE_CORRUPT;
      break;
    }
    for (uint64_t i = 0; rc == SQLITE_OK && i < k; i++) { /* oldest first: stored newest first */
      uint64_t id = 0, first = 0, last = 0;
      if (!get(&p, end, &id) || !get(&p, end, &first) || !get(&p, end, &last)) rc = SQLITE_CORRUPT;
      int at = n + (int)(k - 1 - i);
      seg[at][0] = (int)(id & 0xffff);
      seg[at][1] = (int)(first & 0x7fffffff);
      seg[at][2] = (int)(last & 0x7fffffff);
    }
    n += (int)k;
  }
  kftsp_free(l.p);
  *n_seg = rc == SQLITE_OK ? n : 0;
  return rc;
}

static int reader_open(reader *r, sqlite3 *h, const char *table) {
  r->h = h;
  r->data = r->idx = NULL;
  char *a = kftsp_printf("SELECT block FROM \"%s_data\" WHERE id = ?1", table);
  char *b = kftsp_printf("SELECT pgno FROM \"%s_idx\" WHERE segid = ?1 AND term <= ?2 ORDER BY term DESC LIMIT 1",
                         table);
  int rc = !a || !b ? SQLITE_NOMEM : kftsp_prepare(h, a, &r->data);
  if (rc == SQLITE_OK) rc = kftsp_prepare(h, b, &r->idx);
  kftsp_free(a);
  kftsp_free(b);
  return rc;
}

static void reader_close(reader *r) {
  kftsp_finalize(r->data);
  kftsp_finalize(r->idx);
}

/* One token's rows: its entry in each segment (newest first); the current row is the newest
** entry of the smallest rowid, rows whose newest entry is a delete stepped over. */
typedef struct tcur {
  segit *its;
  int n;
  int win; /* the segment whose entry is the current row, or -1: no more rows */
  int64_t rowid;
  int64_t limit; /* the other segments' smallest rowid: the winner's alone below it */
} tcur;

static int settle(reader *r, tcur *t) {
  for (;;) {
    int win = -1, rc = SQLITE_OK;
    for (int i = 0; i < t->n; i++)
      if (!t->its[i].eof && (win < 0 || t->its[i].rowid < t->its[win].rowid)) win = i;
    if ((t->win = win) < 0) return SQLITE_OK;
    t->rowid = t->its[win].rowid;
    t->limit = INT64_MAX;
    for (int i = 0; i < t->n; i++)
      if (i != win && !t->its[i].eof && t->its[i].rowid < t->limit) t->limit = t->its[i].rowid;
    if (t->its[win].npos > 0) return SQLITE_OK;
    for (int i = win; rc == SQLITE_OK && i < t->n; i++) /* a delete */
      if (!t->its[i].eof && t->its[i].rowid == t->rowid) rc = advance(r, &t->its[i]);
    if (rc) return rc;
  }
}

/* T at its first row at or after TARGET (at least the next one when NEXT). */
static int tcur_to(reader *r, tcur *t, int64_t target, int next) {
  if (t->win >= 0 && t->rowid < t->limit) { /* stepping the winner alone, on its page */
    segit *w = &t->its[t->win];
    if (!next || step(w)) {
      next = 0;
      while (w->rowid < target && w->rowid < t->limit && step(w)) {
      }
      if (w->rowid >= target && w->rowid < t->limit && w->npos > 0) {
        t->rowid = w->rowid;
        return SQLITE_OK;
      }
    }
  }
  int rc = SQLITE_OK;
  for (int i = 0; rc == SQLITE_OK && i < t->n; i++) {
    segit *s = &t->its[i];
    if (s->eof) continue;
    if (next && s->rowid == t->rowid) rc = advance(r, s);
    if (rc == SQLITE_OK && !s->eof && s->rowid < target) rc = skip_to(r, s, target);
  }
  return rc ? rc : settle(r, t);
}

static int tcur_open(reader *r, tcur *t, const int seg[][3], int n_seg, const char *token, int n, int64_t lo) {
  unsigned char term[4097];
  term[0] = '0'; /* the main index's (prefix indexes use '1', '2', ...) */
  memcpy(term + 1, token, (size_t)n);
  t->n = n_seg;
  t->win = -1;
  if (n_seg && !(t->its = kftsp_malloc((size_t)n_seg * sizeof *t->its))) return SQLITE_NOMEM;
  if (t->its) memset(t->its, 0, (size_t)n_seg * sizeof *t->its);
  int rc = SQLITE_OK;
  for (int i = 0; rc == SQLITE_OK && i < n_seg; i++) {
    rc = seek(r, &t->its[i], seg[i][0], seg[i][1], seg[i][2], term, n + 1);
    if (rc == SQLITE_OK && lo > INT64_MIN) rc = skip_to(r, &t->its[i], lo);
  }
  return rc ? rc : settle(r, t);
}

static void tcur_close(tcur *t) {
  for (int i = 0; t->its && i < t->n; i++) {
    kftsp_free(t->its[i].l.p);
    kftsp_free(t->its[i].peek.p);
    kftsp_free(t->its[i].spill);
  }
  kftsp_free(t->its);
}

/* One token: each segment's entries that no other segment has read off in a run. */
static int one_token(reader *r, tcur *t, int64_t hi, const double *weights, int n_weights, kftsp_doclist_fn fn,
                     void *ctx) {
  int rc = SQLITE_OK;
  segit *its = t->its;
  while (rc == SQLITE_OK) {
    int win = -1;
    for (int i = 0; i < t->n; i++) /* the newest segment's entry for the smallest rowid */
      if (!its[i].eof && (win < 0 || its[i].rowid < its[win].rowid)) win = i;
    if (win < 0 || its[win].rowid > hi) break;
    segit *w = &its[win];
    int64_t row = w->rowid, limit = hi < INT64_MAX ? hi + 1 : INT64_MAX;
    for (int i = 0; i < t->n; i++)
      if (i != win && !its[i].eof && its[i].rowid < limit) limit = its[i].rowid;
    if (row == limit) { /* older segments have this rowid too: the newest stands */
      if (w->npos > 0 && (rc = fn(ctx, row, pl_freq(w->pl, w->npos, weights, n_weights)))) break;
      for (int i = win; rc == SQLITE_OK && i < t->n; i++)
        if (!its[i].eof && its[i].rowid == row) rc = advance(r, &its[i]);
      continue;
    }
    rc = run(r, w, limit, weights, n_weights, fn, ctx); /* rows no other segment has */
  }
  return rc;
}

/* The position list P (N bytes, padded) as column << 32 | offset values into *OUT (*CAP
** of room), *COUNT of them, ascending. */
static int positions(const unsigned char *p, int n, uint64_t **out, size_t *cap, size_t *count) {
  uint64_t col = 0, off = 0, v;
  size_t k = 0;
  if ((size_t)n > *cap) { /* an offset takes a byte at least */
    size_t c = (size_t)n * 2 > 64 ? (size_t)n * 2 : 64;
    uint64_t *q = kftsp_realloc(*out, c * sizeof *q);
    if (!q) return SQLITE_NOMEM;
    *out = q;
    *cap = c;
  }
  uint64_t *o = *out;
  for (int i = 0; i < n;) {
    if (p[i] == 0x01) {
      i += 1 + varint(p + i + 1, &col);
      off = 0;
      if (col > 0xffff) return SQLITE_CORRUPT;
      continue;
    }
    if (p[i] < 0x80) v = p[i++];
    else i += varint(p + i, &v);
    if (v < 2 || (off += v - 2) > 0x7fffffff) return SQLITE_CORRUPT;
    o[k++] = col << 32 | off;
  }
  *count = k;
  return SQLITE_OK;
}

/* A phrase of K tokens: the rows that have them all, leapfrogging to the largest current
** rowid; in those, its instances (token i at the first one's offset + i, in one column). */
static int phrase(reader *r, tcur *t, int k, int64_t hi, const double *weights, int n_weights,
                  kftsp_doclist_fn fn, void *ctx) {
  uint64_t *pos[KFTSP_DOCLIST_PHRASE_MAX] = {NULL};
  size_t cap[KFTSP_DOCLIST_PHRASE_MAX] = {0}, cnt[KFTSP_DOCLIST_PHRASE_MAX] = {0};
  int rc = SQLITE_OK;
  while (rc == SQLITE_OK) {
    int64_t target = INT64_MIN;
    int all = 1;
    for (int i = 0; i < k; i++) {
      if (t[i].win < 0) all = -1;
      else if (t[i].rowid > target) target = t[i].rowid;
    }
    if (all < 0 || target > hi) break;
    for (int i = 0; i < k; i++) all &= t[i].rowid == target;
    if (!all) {
      for (int i = 0; rc == SQLITE_OK && i < k; i++)
        if (t[i].rowid < target) rc = tcur_to(r, &t[i], target, 0);
      continue;
    }
    for (int i = 0; rc == SQLITE_OK && i < k; i++) {
      const segit *s = &t[i].its[t[i].win];
      rc = positions(s->pl, s->npos, &pos[i], &cap[i], &cnt[i]);
    }
    double f = 0.0;
    size_t at[KFTSP_DOCLIST_PHRASE_MAX];
    for (int i = 0; i < k; i++) at[i] = 0;
    for (size_t j = 0; rc == SQLITE_OK && j < cnt[0]; j++) {
      int ok = 1;
      for (int i = 1; ok && i < k; i++) {
        uint64_t want = pos[0][j] + (uint64_t)i;
        while (at[i] < cnt[i] && pos[i][at[i]] < want) at[i]++;
        ok = at[i] < cnt[i] && pos[i][at[i]] == want;
      }
      if (ok) {
        uint64_t col = pos[0][j] >> 32;
        f += col < (uint64_t)n_weights ? weights[col] : 1.0;
      }
    }
    if (rc == SQLITE_OK && f > 0.0) rc = fn(ctx, target, f);
    for (int i = 0; rc == SQLITE_OK && i < k; i++) rc = tcur_to(r, &t[i], target + 1, 1);
  }
  for (int i = 0; i < k; i++) kftsp_free(pos[i]);
  return rc;
}

/* ---- a prefix: every term that begins with it ----
** FTS5 merges the doclists of a prefix's terms (a row's positions are the union of its
** terms', a position two terms share counted once) for each cursor it opens on the query. Here
** each term's doclist in each segment is a cursor of its own; a heap by rowid merges them. */
typedef struct pterm {
  segit s;
  char *term; /* its bytes (kftsp_free) */
  int n;
  int rank;   /* its segment's, 0 the newest */
  int id;     /* the same for the same term in every segment */
} pterm;

typedef struct plist_ {
  pterm *t;
  int n, cap;
} pterms;

/* Every term that begins with PRE (N bytes) in segment SEGID (pages FIRST..LAST, RANK among
** the segments): a cursor at its doclist's first entry, appended to L. */
static int prefix_open(reader *r, pterms *l, int rank, int segid, int first, int last, const unsigned char *pre,
                       int n) {
  if (first <= 0) return SQLITE_OK;
  int pg, rc = idx_page(r, segid, first, pre, n, &pg), done = 0;
  leaf w = {0};
  kftsp_buf term = {0};
  for (; rc == SQLITE_OK && !done && pg <= last; pg++) {
    int toff;
    if ((rc = load(r, leaf_id(segid, pg), &w, 1)) || !has_terms(&w, &toff)) continue;
    uint64_t v;
    int pgidx = w.szleaf + varint(w.p + w.szleaf, &v);
    for (int i = 0; rc == SQLITE_OK; i++) { /* the page's terms: the first whole, then prefix-compressed */
      uint64_t keep = 0, fresh;
      int off = toff;
      if (off >= w.nn) {
        rc = SQLITE_CORRUPT;
        break;
      }
      if (i) off += varint(w.p + off, &keep);
      off += varint(w.p + off, &fresh);
      if (keep > term.n || fresh == 0 || fresh > (uint64_t)(w.nn - off)) {
        rc = SQLITE_CORRUPT;
        break;
      }
      term.n = (size_t)keep;
      kftsp_buf_add(&term, (const char *)w.p + off, (size_t)fresh);
      if (term.oom) {
        rc = SQLITE_NOMEM;
        break;
      }
      off += (int)fresh;
      int eod = w.nn + 1, next = -1;
      if (pgidx < w.nn) {
        int d;
        pgidx += small(w.p + pgidx, &d);
        eod = next = toff + d;
      }
      int cmp = memcmp(term.p, pre, term.n < (size_t)n ? term.n : (size_t)n);
      if (cmp > 0) { /* past the prefix's terms */
        done = 1;
        break;
      }
      if (cmp == 0 && term.n >= (size_t)n) {
        if (l->n == l->cap) {
          int c = l->cap ? 2 * l->cap : 64;
          pterm *q = kftsp_realloc(l->t, (size_t)c * sizeof *q);
          if (!q) {
            rc = SQLITE_NOMEM;
            break;
          }
          l->t = q;
          l->cap = c;
        }
        pterm *t = &l->t[l->n++];
        memset(t, 0, sizeof *t);
        t->rank = rank;
        t->n = (int)term.n;
        t->s.segid = segid;
        t->s.last = last;
        t->s.pg = pg;
        if (!(t->term = kftsp_strndup(term.p, term.n)) || room(&t->s.l.p, &t->s.l.cap, (size_t)w.nn)) {
          rc = SQLITE_NOMEM;
          break;
        }
        memcpy(t->s.l.p, w.p, (size_t)w.nn + PAD);
        t->s.l.nn = w.nn;
        t->s.l.szleaf = w.szleaf;
        rc = open_at(r, &t->s, off, eod);
      }
      if (next < 0) break;
      toff = next;
    }
  }
  kftsp_free(w.p);
  kftsp_buf_reset(&term);
  return rc;
}

static int by_term(const void *a, const void *b) {
  const pterm *x = a, *y = b;
  int c = memcmp(x->term, y->term, (size_t)(x->n < y->n ? x->n : y->n));
  return c ? c : x->n != y->n ? (x->n < y->n ? -1 : 1) : x->rank - y->rank;
}

/* Heap of cursors by rowid, each entry its cursor's rowid beside its index (the cursors
** themselves are large and spread out): H[0] the smallest. */
typedef struct hent {
  int64_t row;
  int i;
} hent;

static void heap_down(hent *h, int n, int i) {
  hent x = h[i];
  for (;;) {
    int c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[c + 1].row < h[c].row) c++;
    if (h[c].row >= x.row) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}

static void heap_push(hent *h, int *n, int64_t row, int idx) {
  int i = (*n)++;
  while (i > 0 && h[(i - 1) / 2].row > row) {
    h[i] = h[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h[i] = (hent){row, idx};
}

static int by_pos(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Row R's frequency from the entries AT[0..M) of L (their cursors at R): per term the newest
** segment's entry; one such with positions: its list; several: their positions, each
** position once. *HAS: whether any has positions. */
static int prefix_row(pterms *l, const int *at, int m, const double *w, int nw, uint64_t **pos, size_t *cap,
                      uint64_t **one_pos, size_t *one_cap, double *f, int *has) {
  int one = -1, many = 0;
  for (int a = 0; a < m; a++) {
    const pterm *x = &l->t[at[a]];
    int newest = x->s.npos > 0;
    for (int b = 0; newest && b < m; b++) newest = !(l->t[at[b]].id == x->id && l->t[at[b]].rank < x->rank);
    if (newest) many += one >= 0, one = at[a];
  }
  *has = one >= 0;
  *f = 0.0;
  if (one < 0) return SQLITE_OK;
  if (!many) {
    *f = pl_freq(l->t[one].s.pl, l->t[one].s.npos, w, nw);
    return SQLITE_OK;
  }
  size_t total = 0;
  for (int a = 0; a < m; a++) {
    const pterm *x = &l->t[at[a]];
    int newest = x->s.npos > 0;
    for (int b = 0; newest && b < m; b++) newest = !(l->t[at[b]].id == x->id && l->t[at[b]].rank < x->rank);
    if (!newest) continue;
    size_t k = 0;
    int rc = positions(x->s.pl, x->s.npos, one_pos, one_cap, &k);
    if (!rc && total + k > *cap) {
      size_t c = (total + k) * 2;
      uint64_t *g = kftsp_realloc(*pos, c * sizeof *g);
      if (!g) rc = SQLITE_NOMEM;
      else *pos = g, *cap = c;
    }
    if (rc) return rc;
    if (k) memcpy(*pos + total, *one_pos, k * sizeof **pos);
    total += k;
  }
  qsort(*pos, total, sizeof **pos, by_pos);
  for (size_t i = 0; i < total; i++)
    if (i == 0 || (*pos)[i] != (*pos)[i - 1]) {
      uint64_t col = (*pos)[i] >> 32;
      *f += col < (uint64_t)nw ? w[col] : 1.0;
    }
  return SQLITE_OK;
}

static int prefix_merge(reader *r, pterms *l, int64_t hi, const double *w, int nw, kftsp_doclist_fn fn, void *ctx) {
  hent *h = kftsp_malloc((size_t)(l->n ? l->n : 1) * sizeof *h);
  int *at = kftsp_malloc((size_t)(l->n ? l->n : 1) * sizeof *at);
  uint64_t *pos = NULL, *one = NULL;
  size_t cap = 0, one_cap = 0;
  int hn = 0, rc = h && at ? SQLITE_OK : SQLITE_NOMEM;
  for (int i = 0; rc == SQLITE_OK && i < l->n; i++)
    if (!l->t[i].s.eof) heap_push(h, &hn, l->t[i].s.rowid, i);
  while (rc == SQLITE_OK && hn && h[0].row <= hi) {
    int64_t row = h[0].row;
    int m = 0;
    while (hn && h[0].row == row) { /* every cursor at ROW */
      at[m++] = h[0].i;
      h[0] = h[--hn];
      heap_down(h, hn, 0);
    }
    double f;
    int has;
    rc = prefix_row(l, at, m, w, nw, &pos, &cap, &one, &one_cap, &f, &has);
    if (rc == SQLITE_OK && has) rc = fn(ctx, row, f);
    if (rc == SQLITE_OK && m == 1) { /* one term alone: read on while it stays below the others */
      segit *s = &l->t[at[0]].s;
      int64_t top = hn ? h[0].row : INT64_MAX;
      while (rc == SQLITE_OK && (step(s) || ((rc = advance(r, s)) == SQLITE_OK && !s->eof)) && s->rowid < top &&
             s->rowid <= hi) {
        if (s->npos > 0) rc = fn(ctx, s->rowid, pl_freq(s->pl, s->npos, w, nw));
      }
      if (rc == SQLITE_OK && !s->eof) heap_push(h, &hn, s->rowid, at[0]);
      continue;
    }
    for (int a = 0; rc == SQLITE_OK && a < m; a++) {
      segit *s = &l->t[at[a]].s;
      if (!step(s)) rc = advance(r, s);
      if (rc == SQLITE_OK && !s->eof) heap_push(h, &hn, s->rowid, at[a]);
    }
  }
  kftsp_free(h);
  kftsp_free(at);
  kftsp_free(pos);
  kftsp_free(one);
  return rc;
}

static int prefix_read(reader *r, const int seg[][3], int n_seg, const char *token, int n, int64_t lo, int64_t hi,
                       const double *w, int nw, kftsp_doclist_fn fn, void *ctx) {
  unsigned char pre[4097];
  pre[0] = '0';
  memcpy(pre + 1, token, (size_t)n);
  pterms l = {NULL, 0, 0};
  int rc = SQLITE_OK;
  for (int i = 0; rc == SQLITE_OK && i < n_seg; i++) rc = prefix_open(r, &l, i, seg[i][0], seg[i][1], seg[i][2], pre, n + 1);
  if (rc == SQLITE_OK && l.n > 1) { /* ids: the same term in two segments, the same id */
    qsort(l.t, (size_t)l.n, sizeof *l.t, by_term);
    for (int i = 0; i < l.n; i++)
      l.t[i].id = i && l.t[i].n == l.t[i - 1].n && !memcmp(l.t[i].term, l.t[i - 1].term, (size_t)l.t[i].n)
                      ? l.t[i - 1].id
                      : i;
  }
  for (int i = 0; rc == SQLITE_OK && i < l.n; i++)
    if (lo > INT64_MIN && !l.t[i].s.eof) rc = skip_to(r, &l.t[i].s, lo);
  if (rc == SQLITE_OK) rc = prefix_merge(r, &l, hi, w, nw, fn, ctx);
  for (int i = 0; i < l.n; i++) {
    kftsp_free(l.t[i].s.l.p);
    kftsp_free(l.t[i].s.peek.p);
    kftsp_free(l.t[i].s.spill);
    kftsp_free(l.t[i].term);
  }
  kftsp_free(l.t);
  return rc;
}

int kftsp_doclist_unknown = 0;

int kftsp_doclist_read(sqlite3 *h, const char *table, const char *const *tokens, const int *lens, int k, int prefix,
                       int64_t lo, int64_t hi, const double *weights, int n_weights, kftsp_doclist_fn fn, void *ctx) {
  if (kftsp_doclist_unknown || k < 1 || k > KFTSP_DOCLIST_PHRASE_MAX || (prefix && k > 1) || strchr(table, '"')) return KFTSP_DOCLIST_UNKNOWN;
  for (int i = 0; i < k; i++)
    if (lens[i] <= 0 || lens[i] > 4096) return KFTSP_DOCLIST_UNKNOWN;
  reader r;
  tcur t[KFTSP_DOCLIST_PHRASE_MAX];
  memset(t, 0, sizeof t);
  int seg[SEGS_MAX][3], n_seg = 0;
  int rc = reader_open(&r, h, table);
  if (rc == SQLITE_OK) rc = structure(&r, seg, &n_seg);
  if (prefix) {
    if (rc == SQLITE_OK) rc = prefix_read(&r, seg, n_seg, tokens[0], lens[0], lo, hi, weights, n_weights, fn, ctx);
    reader_close(&r);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  for (int i = 0; rc == SQLITE_OK && i < k; i++) rc = tcur_open(&r, &t[i], seg, n_seg, tokens[i], lens[i], lo);
  if (rc == SQLITE_OK) rc = k == 1 ? one_token(&r, &t[0], hi, weights, n_weights, fn, ctx)
                                   : phrase(&r, t, k, hi, weights, n_weights, fn, ctx);
  for (int i = 0; i < k; i++) tcur_close(&t[i]);
  reader_close(&r);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int kftsp_doclist_totals(sqlite3 *h, const char *table, int64_t *rows, int64_t *tokens) {
  if (strchr(table, '"')) return KFTSP_DOCLIST_UNKNOWN;
  reader r;
  leaf l = {0};
  *rows = *tokens = 0;
  int rc = reader_open(&r, h, table);
  if (rc == SQLITE_OK) rc = load(&r, 1, &l, 0);
  if (rc == SQLITE_OK) { /* the row count, then each column's tokens */
    const unsigned char *p = l.p, *end = l.p + l.nn;
    uint64_t v;
    p += varint(p, &v);
    *rows = (int64_t)v;
    while (p < end) {
      p += varint(p, &v);
      *tokens += (int64_t)v;
    }
    if (p > end) rc = SQLITE_CORRUPT;
  }
  kftsp_free(l.p);
  reader_close(&r);
  return kftsp_doclist_unknown ? KFTSP_DOCLIST_UNKNOWN : rc;
}

/* The first rowid a page of segment SEGID from PG up to (not with) END begins, in *ROW: 1, or
** 0 when none does. */
static int page_rowid(reader *r, leaf *l, int segid, int pg, int end, int64_t *row, int *rc) {
  for (; *rc == SQLITE_OK && pg < end; pg++) {
    if ((*rc = load(r, leaf_id(segid, pg), l, 1))) break;
    int at = u16(l->p);
    if (at && at < l->szleaf) {
      uint64_t v;
      varint(l->p + at, &v);
      *row = (int64_t)v;
      return 1;
    }
  }
  return 0;
}

int kftsp_doclist_middle(sqlite3 *h, const char *table, const char *token, int n, int64_t *mid, int *pages) {
  if (kftsp_doclist_unknown || n <= 0 || n > 4096 || strchr(table, '"')) return KFTSP_DOCLIST_UNKNOWN;
  reader r;
  int seg[SEGS_MAX][3], n_seg = 0, best = -1, best_from = 0, best_to = 0;
  unsigned char term[4097];
  term[0] = '0';
  memcpy(term + 1, token, (size_t)n);
  *pages = 0;
  int rc = reader_open(&r, h, table);
  char *sql = kftsp_printf("SELECT pgno FROM \"%s_idx\" WHERE segid = ?1 AND term > ?2 ORDER BY term LIMIT 1", table);
  sqlite3_stmt *next = NULL;
  if (rc == SQLITE_OK) rc = sql ? kftsp_prepare(h, sql, &next) : SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = structure(&r, seg, &n_seg);
  for (int i = 0; rc == SQLITE_OK && i < n_seg; i++) {
    segit s;
    memset(&s, 0, sizeof s);
    rc = seek(&r, &s, seg[i][0], seg[i][1], seg[i][2], term, n + 1);
    if (rc == SQLITE_OK && !s.eof) { /* the term's first page; the next page with a term */
      int from = s.pg, to = seg[i][2] + 1;
      sqlite3_bind_int(next, 1, seg[i][0]);
      sqlite3_bind_blob(next, 2, term, n + 1, SQLITE_STATIC);
      int st = sqlite3_step(next);
      if (st == SQLITE_ROW) to = (int)(sqlite3_column_int64(next, 0) >> 1);
      else if (st != SQLITE_DONE) rc = sqlite3_errcode(h);
      sqlite3_reset(next);
      if (to - from > *pages) {
        *pages = to - from;
        best = i;
        best_from = from;
        best_to = to;
      }
    }
    kftsp_free(s.l.p);
    kftsp_free(s.peek.p);
    kftsp_free(s.spill);
  }
  if (rc == SQLITE_OK && best >= 0 && *pages >= 4) {
    leaf l = {0};
    if (!page_rowid(&r, &l, seg[best][0], (best_from + best_to) / 2, best_to, mid, &rc)) *pages = 0;
    kftsp_free(l.p);
  } else {
    *pages = 0;
  }
  kftsp_finalize(next);
  kftsp_free(sql);
  reader_close(&r);
  return rc;
}

