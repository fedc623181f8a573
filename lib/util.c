/*
** util.c -- allocation hook, growable buffers, error filling, hashing and UTF-8 checks.
** Everything else in lib/ builds on these; nothing here knows about articles or SQLite.
*/
#include "kfts_int.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

static long alloc_fail_countdown; /* 0 = off; else allocations left before failing */
static int alloc_failing;

void kftsp_alloc_fail_after(long n) {
  alloc_fail_countdown = n;
  alloc_failing = 0;
}

static int alloc_should_fail(void) {
  if (alloc_failing) return 1;
  if (alloc_fail_countdown > 0 && --alloc_fail_countdown == 0) {
    alloc_failing = 1;
    return 1;
  }
  return 0;
}

void *kftsp_malloc(size_t n) {
  if (alloc_should_fail()) return NULL;
  return malloc(n ? n : 1);
}

void *kftsp_realloc(void *p, size_t n) {
  if (alloc_should_fail()) return NULL;
  return realloc(p, n ? n : 1);
}

void kftsp_free(void *p) { free(p); }

void *kftsp_grow(void *v, size_t n, size_t *cap, size_t size, size_t first) {
  if (n < *cap) return v;
  size_t c = *cap ? *cap * 2 : first;
  if (c > SIZE_MAX / size) return NULL;
  void *x = kftsp_realloc(v, c * size);
  if (x) *cap = c;
  return x;
}

int kftsp_threads_allowed(void) {
  const char *e = getenv("KFTS_THREADS");
  if (e && *e) return atoi(e) >= 2;
  return sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

const char *kftsp_tmpdir(void) {
  const char *dir = getenv("TMPDIR");
  return dir && *dir ? dir : "/tmp";
}

FILE *kftsp_tmpfile(void) {
  const char *dir = kftsp_tmpdir();
  char path[4096];
  if (snprintf(path, sizeof path, "%s/kfts-XXXXXX", dir) >= (int)sizeof path) return NULL;
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  unlink(path); /* gone with the last close, also after a crash */
  FILE *f = fdopen(fd, "w+b");
  if (!f) close(fd);
  return f;
}

void kfts_free(void *p) { free(p); }

char *kftsp_strndup(const char *s, size_t n) {
  char *r = kftsp_malloc(n + 1);
  if (r) {
    memcpy(r, s, n);
    r[n] = 0;
  }
  return r;
}

char *kftsp_strdup(const char *s) { return s ? kftsp_strndup(s, strlen(s)) : NULL; }

char *kftsp_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *r = kftsp_malloc((size_t)n + 1);
  if (!r) return NULL;
  va_start(ap, fmt);
  vsnprintf(r, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return r;
}

static int buf_reserve(kftsp_buf *b, size_t extra) {
  if (b->oom) return 0;
  if (b->n + extra + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->n + extra + 1) cap *= 2;
  char *p = kftsp_realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return 0;
  }
  b->p = p;
  b->cap = cap;
  return 1;
}

void kftsp_buf_reserve(kftsp_buf *b, size_t n) {
  if (b->oom || b->n + n + 1 <= b->cap) return;
  char *p = kftsp_realloc(b->p, b->n + n + 1);
  if (!p) {
    b->oom = 1;
    return;
  }
  b->p = p;
  b->cap = b->n + n + 1;
}

void kftsp_buf_add(kftsp_buf *b, const char *s, size_t n) {
  if (!buf_reserve(b, n)) return;
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

void kftsp_buf_adds(kftsp_buf *b, const char *s) { kftsp_buf_add(b, s, strlen(s)); }

void kftsp_buf_addc(kftsp_buf *b, char c) { kftsp_buf_add(b, &c, 1); }

void kftsp_buf_printf(kftsp_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !buf_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

char *kftsp_buf_take(kftsp_buf *b) {
  if (b->oom) {
    kftsp_buf_reset(b);
    return NULL;
  }
  char *p = b->p ? b->p : kftsp_strndup("", 0);
  b->p = NULL;
  b->n = b->cap = 0;
  return p;
}

void kftsp_buf_reset(kftsp_buf *b) {
  kftsp_free(b->p);
  memset(b, 0, sizeof *b);
}

int kftsp_err(kfts_error *err, int code, const char *source, int line, const char *fmt, ...) {
  if (!err) return code;
  err->code = code;
  err->line = line;
  err->column = 0;
  snprintf(err->source, sizeof err->source, "%s", source ? source : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return code;
}

uint64_t kftsp_fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

size_t kftsp_utf8_check(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c == 0) return i;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) need = 1, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) need = 2, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) need = 3, min = 0x10000;
    else return i;
    unsigned cp = c & (0x3F >> need);
    for (size_t k = 1; k <= need; k++) {
      if (i + k >= len || (s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid (RFC 3629). */
    if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += need + 1;
  }
  return len;
}

const char *kfts_version_string(void) {
  static char v[160];
  if (!v[0])
    snprintf(v, sizeof v, "kfts %s (sqlite %s, utf8proc %s, jansson %s)", KFTS_VERSION,
             sqlite3_libversion(), utf8proc_version(), jansson_version_str());
  return v;
}

void kfts_strv_free(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) kftsp_free(v[i]);
  kftsp_free(v);
}

void kftsp_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  if (n > 1) qsort(base, n, size, cmp); /* qsort(NULL, 0, ...) is undefined */
}

/* The slot of KEY (non-zero) in SLOT (CAP, a power of two, not full): where it is, or the empty
** one where it goes. */
static size_t u64set_slot(const uint64_t *slot, size_t cap, uint64_t key) {
  size_t j = key & (cap - 1);
  while (slot[j] && slot[j] != key) j = (j + 1) & (cap - 1);
  return j;
}

int kftsp_u64set_has(const kftsp_u64set *s, uint64_t key) {
  if (!key) key = 1;
  return s->cap && s->slot[u64set_slot(s->slot, s->cap, key)] == key;
}

int kftsp_u64set_add(kftsp_u64set *s, uint64_t key) {
  if (!key) key = 1; /* 0 marks an empty slot */
  if (2 * (s->n + 1) > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    uint64_t *t = kftsp_malloc(cap * sizeof *t);
    if (!t) return -1;
    memset(t, 0, cap * sizeof *t);
    for (size_t i = 0; i < s->cap; i++)
      if (s->slot[i]) t[u64set_slot(t, cap, s->slot[i])] = s->slot[i];
    kftsp_free(s->slot);
    s->slot = t;
    s->cap = cap;
  }
  size_t j = u64set_slot(s->slot, s->cap, key);
  if (s->slot[j] == key) return 0;
  s->slot[j] = key;
  s->n++;
  return 1;
}

void kftsp_u64set_free(kftsp_u64set *s) {
  kftsp_free(s->slot);
  memset(s, 0, sizeof *s);
}

/* ---- a handle's pool of large blocks ----
** A query's large arrays (a phrase's matches, the merged lists: a megabyte for Anthropic at
** 1M) came fresh from malloc each time, and malloc gives trimmed memory back to the system:
** each query faulted its pages in again (250 page faults, half a millisecond, for Anthropic's
** four spellings). A handle keeps up to POOL_SLOTS such blocks between queries instead. */
#define POOL_SLOTS 16
#define POOL_MIN ((size_t)64 << 10)   /* smaller blocks come and go through malloc */
#define POOL_KEEP ((size_t)256 << 20) /* bytes a pool keeps at most */

struct kftsp_pool {
  pthread_mutex_t mu;
  void *p[POOL_SLOTS];
  size_t cap[POOL_SLOTS];
  size_t kept;
};

kftsp_pool *kftsp_pool_new(void) {
  kftsp_pool *pl = kftsp_malloc(sizeof *pl);
  if (!pl) return NULL;
  memset(pl, 0, sizeof *pl);
  if (pthread_mutex_init(&pl->mu, NULL)) {
    kftsp_free(pl);
    return NULL;
  }
  return pl;
}

void kftsp_pool_free(kftsp_pool *pl) {
  if (!pl) return;
  for (int i = 0; i < POOL_SLOTS; i++) free(pl->p[i]);
  pthread_mutex_destroy(&pl->mu);
  kftsp_free(pl);
}

void *kftsp_pool_take(kftsp_pool *pl, size_t n, size_t *cap) {
  if (pl && n >= POOL_MIN) {
    pthread_mutex_lock(&pl->mu);
    int best = -1;
    for (int i = 0; i < POOL_SLOTS; i++)
      if (pl->p[i] && pl->cap[i] >= n && (best < 0 || pl->cap[i] < pl->cap[best])) best = i;
    void *x = NULL;
    if (best >= 0) {
      x = pl->p[best];
      *cap = pl->cap[best];
      pl->kept -= pl->cap[best];
      pl->p[best] = NULL;
    }
    pthread_mutex_unlock(&pl->mu);
    if (x) return x;
  }
  void *x = kftsp_malloc(n);
  *cap = x ? n : 0;
  return x;
}

void kftsp_pool_give(kftsp_pool *pl, void *block, size_t cap) {
  if (!block) return;
  if (pl && cap >= POOL_MIN) {
    pthread_mutex_lock(&pl->mu);
    int at = -1;
    for (int i = 0; i < POOL_SLOTS && at < 0; i++) /* an empty slot */
      if (!pl->p[i]) at = i;
    if (at < 0) { /* else the smallest block, when smaller than this one */
      at = 0;
      for (int i = 1; i < POOL_SLOTS; i++)
        if (pl->cap[i] < pl->cap[at]) at = i;
      if (pl->cap[at] >= cap) at = -1;
    }
    void *out = block;
    if (at >= 0) {
      size_t kept = pl->kept - (pl->p[at] ? pl->cap[at] : 0) + cap;
      if (kept <= POOL_KEEP) {
        out = pl->p[at]; /* the smaller one goes, or nothing */
        pl->p[at] = block;
        pl->cap[at] = cap;
        pl->kept = kept;
      }
    }
    pthread_mutex_unlock(&pl->mu);
    kftsp_free(out);
    return;
  }
  kftsp_free(block);
}

int kftsp_pool_grow(kftsp_pool *pl, void **p, size_t *cap, size_t need, size_t used) {
  if (need <= *cap && *p) return KFTS_OK;
  size_t want = *cap ? *cap : 8192;
  while (want < need) want *= 2;
  size_t got = 0;
  void *x = kftsp_pool_take(pl, want, &got);
  if (!x) return KFTS_ENOMEM;
  if (used) memcpy(x, *p, used);
  kftsp_pool_give(pl, *p, *cap);
  *p = x;
  *cap = got;
  return KFTS_OK;
}

/* ---- kfts's own connections' prepared statements ----
** A query at 1M prepared about 21 statements afresh, 13 µs each: FTS5's MATCH statements, the
** docvals and metadata reads, the hits and the snippets (0.27 ms of a 5 ms query). A
** connection kfts opened and attached here keeps the statements given back, reset and
** unbound, for the next kftsp_prepare of the same SQL on it: up to STMT_SLOTS, the least
** recently given back finalized first. Connections not attached (a host's, through the
** extension) prepare and finalize as ever. One registry for the process, under a mutex:
** two threads prepare at once on a split scan's two connections. */
#define STMT_CONNS 8
#define STMT_SLOTS 32

typedef struct stmt_conn {
  sqlite3 *h;
  sqlite3_stmt *st[STMT_SLOTS];
  uint64_t hash[STMT_SLOTS], given[STMT_SLOTS];
} stmt_conn;

static pthread_mutex_t stmt_mu = PTHREAD_MUTEX_INITIALIZER;
static stmt_conn *stmt_conns[STMT_CONNS];
static uint64_t stmt_clock;

static stmt_conn *stmt_find(sqlite3 *h) { /* under stmt_mu */
  for (int i = 0; h && i < STMT_CONNS; i++)
    if (stmt_conns[i] && stmt_conns[i]->h == h) return stmt_conns[i];
  return NULL;
}

void kftsp_stmt_attach(sqlite3 *h) {
  stmt_conn *c = kftsp_malloc(sizeof *c);
  if (!c) return; /* no cache: statements are prepared each time */
  memset(c, 0, sizeof *c);
  c->h = h;
  pthread_mutex_lock(&stmt_mu);
  int at = -1;
  for (int i = 0; i < STMT_CONNS && at < 0; i++)
    if (!stmt_conns[i]) at = i;
  if (at >= 0 && !stmt_find(h)) stmt_conns[at] = c, c = NULL;
  pthread_mutex_unlock(&stmt_mu);
  kftsp_free(c);
}

void kftsp_stmt_detach(sqlite3 *h) {
  stmt_conn *c = NULL;
  pthread_mutex_lock(&stmt_mu);
  for (int i = 0; h && i < STMT_CONNS; i++)
    if (stmt_conns[i] && stmt_conns[i]->h == h) c = stmt_conns[i], stmt_conns[i] = NULL;
  pthread_mutex_unlock(&stmt_mu);
  if (!c) return;
  for (int i = 0; i < STMT_SLOTS; i++) sqlite3_finalize(c->st[i]);
  kftsp_free(c);
}

/* The registry's entry for H, or NULL when H is not attached. */
static stmt_conn *stmt_of(sqlite3 *h) {
  pthread_mutex_lock(&stmt_mu);
  stmt_conn *c = stmt_find(h);
  pthread_mutex_unlock(&stmt_mu);
  return c; /* stays valid: only closing H, by the caller's thread, detaches it */
}

int kftsp_prepare(sqlite3 *h, const char *sql, sqlite3_stmt **st) {
  *st = NULL;
  stmt_conn *c = stmt_of(h);
  if (!c) return sqlite3_prepare_v2(h, sql, -1, st, NULL);
  uint64_t hash = kftsp_fnv1a(KFTSP_FNV_INIT, sql, strlen(sql));
  pthread_mutex_lock(&stmt_mu);
  for (int i = 0; i < STMT_SLOTS; i++)
    if (c->st[i] && c->hash[i] == hash && !strcmp(sqlite3_sql(c->st[i]), sql)) {
      *st = c->st[i];
      c->st[i] = NULL;
      break;
    }
  pthread_mutex_unlock(&stmt_mu);
  return *st ? SQLITE_OK : sqlite3_prepare_v3(h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

void kftsp_finalize(sqlite3_stmt *st) {
  const char *sql = st ? sqlite3_sql(st) : NULL;
  stmt_conn *c = sql ? stmt_of(sqlite3_db_handle(st)) : NULL;
  if (!c) {
    sqlite3_finalize(st);
    return;
  }
  uint64_t hash = kftsp_fnv1a(KFTSP_FNV_INIT, sql, strlen(sql));
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  pthread_mutex_lock(&stmt_mu);
  int at = 0; /* an empty slot, else the least recently given back */
  for (int i = 0; i < STMT_SLOTS && c->st[at]; i++)
    if (!c->st[i] || c->given[i] < c->given[at]) at = i;
  sqlite3_stmt *out = c->st[at];
  c->st[at] = st;
  c->hash[at] = hash;
  c->given[at] = ++stmt_clock;
  pthread_mutex_unlock(&stmt_mu);
  sqlite3_finalize(out);
}
