/*
** kfts_int.h -- private declarations shared by the files of libkfts.
** One section per .c file. Nothing here is exported.
*/
#ifndef KFTS_INT_H
#define KFTS_INT_H

#include "kfts.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define KFTSP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KFTSP_STR_(...) #__VA_ARGS__
#define KFTSP_STR(...) KFTSP_STR_(__VA_ARGS__)
/* bm25() weights of the FTS5 columns title, summary, body, topics: search.c's SQL and
** scan.c's own bm25 both use these. */
#define KFTSP_BM25_WEIGHTS 4.0, 2.0, 1.0, 2.0

/**************************************************************************
** util.c: allocation hook, growable buffers, errors, hashing, UTF-8.
*/

/* All lib/ allocation goes through these, so tests can fail the Nth one. */
void *kftsp_malloc(size_t n);
void *kftsp_realloc(void *p, size_t n);
void kftsp_free(void *p);
char *kftsp_strndup(const char *s, size_t n);
char *kftsp_strdup(const char *s); /* NULL in, NULL out */
char *kftsp_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A handle's pool of large blocks (64 KB and up), kept between queries so that their pages
** stay mapped; threads may take and give at once. NULL pools take from malloc, give to free. */
typedef struct kftsp_pool kftsp_pool;
kftsp_pool *kftsp_pool_new(void);
void kftsp_pool_free(kftsp_pool *pl);
/* A block of at least N bytes (*CAP: its size), or NULL. */
void *kftsp_pool_take(kftsp_pool *pl, size_t n, size_t *cap);
/* BLOCK (of CAP bytes; NULL: nothing) back to PL, kept or freed. */
void kftsp_pool_give(kftsp_pool *pl, void *block, size_t cap);
/* *P (a block of *CAP bytes, or NULL) replaced by one of NEED bytes or more when it is smaller,
** its first USED bytes copied; KFTS_ENOMEM leaves it as it was. */
int kftsp_pool_grow(kftsp_pool *pl, void **p, size_t *cap, size_t need, size_t used);

/* Statements kept between uses on kfts's own connections (util.c). kftsp_prepare is
** sqlite3_prepare_v2, from the connection's kept statements when it has the same SQL;
** kftsp_finalize gives a statement back (reset, unbound) to its connection when that one is
** attached, and finalizes it otherwise. Detach (finalizing the kept ones) before closing. */
struct sqlite3;
struct sqlite3_stmt;
void kftsp_stmt_attach(struct sqlite3 *h);
void kftsp_stmt_detach(struct sqlite3 *h);
int kftsp_prepare(struct sqlite3 *h, const char *sql, struct sqlite3_stmt **st);
void kftsp_finalize(struct sqlite3_stmt *st);

/* Test hook: make allocation number N (1-based, counted from now) and all after fail; 0 = off. */
void kftsp_alloc_fail_after(long n);

/* A growable byte string, always NUL-terminated once anything was appended.
** Sticky error: after a failed allocation every append is a no-op and oom stays set. */
typedef struct kftsp_buf {
  char *p;    /* bytes, NUL-terminated, or NULL while empty */
  size_t n;   /* used bytes, excluding the NUL */
  size_t cap; /* allocated bytes */
  int oom;    /* 1 once an allocation failed */
} kftsp_buf;

/* Room for N more bytes, exactly (when the final size is known). */
void kftsp_buf_reserve(kftsp_buf *b, size_t n);
void kftsp_buf_add(kftsp_buf *b, const char *s, size_t n);
void kftsp_buf_adds(kftsp_buf *b, const char *s);
void kftsp_buf_addc(kftsp_buf *b, char c);
void kftsp_buf_printf(kftsp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the string to the caller (kftsp_free), leaving B empty; "" when nothing was added. */
char *kftsp_buf_take(kftsp_buf *b);
void kftsp_buf_reset(kftsp_buf *b);

/* Fills ERR (when not NULL) and returns CODE. */
int kftsp_err(kfts_error *err, int code, const char *source, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* 64-bit FNV-1a, continued from H (start with KFTSP_FNV_INIT). */
#define KFTSP_FNV_INIT 0xcbf29ce484222325ULL
uint64_t kftsp_fnv1a(uint64_t h, const void *p, size_t n);

/* A set of 64-bit keys (open addressing; key 0 counts as 1). Zero-initialise; free with
** kftsp_u64set_free. add: 1 when KEY is new, 0 when already there, -1 out of memory. */
typedef struct kftsp_u64set {
  uint64_t *slot;
  size_t n, cap;
} kftsp_u64set;
int kftsp_u64set_add(kftsp_u64set *s, uint64_t key);
int kftsp_u64set_has(const kftsp_u64set *s, uint64_t key);
void kftsp_u64set_free(kftsp_u64set *s);

/* Room for one more element in the array V of N elements of SIZE bytes, capacity *CAP,
** doubling from FIRST: V when there is room, else V moved to a larger block (*CAP updated);
** NULL when out of memory, V then untouched and still the caller's. */
void *kftsp_grow(void *v, size_t n, size_t *cap, size_t size, size_t first);

/* An anonymous temporary file in $TMPDIR (else /tmp), removed when closed; NULL on failure
** (errno set). */
FILE *kftsp_tmpfile(void);
/* A second thread may be used: KFTS_THREADS >= 2, or unset and two or more cores. */
int kftsp_threads_allowed(void);
const char *kftsp_tmpdir(void); /* $TMPDIR, else /tmp */

/* qsort, also for N = 0 with a NULL BASE. */
void kftsp_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* Offset of the first byte that is not valid UTF-8 (or is NUL), or LEN when all valid. */
size_t kftsp_utf8_check(const char *s, size_t len);

/**************************************************************************
** text.c: lines and Markdown clean-up.
*/

typedef struct kftsp_line {
  const char *s; /* start, not NUL-terminated */
  size_t n;      /* bytes, without the line end */
} kftsp_line;

/* Splits TEXT on \n, \r\n and lone \r. *OUT is kftsp_free'd by the caller. */
int kftsp_lines_split(kftsp_line **out, size_t *n_out, const char *text, size_t len);

/* Trims ASCII and Unicode spaces (NBSP, ideographic space) on both sides. */
void kftsp_trim(const char **s, size_t *n);
int kftsp_is_blank(const char *s, size_t n);
int kftsp_has_prefix(const char *s, size_t n, const char *prefix);

/* Appends S with inline Markdown removed: images dropped, [text](url) -> text,
** ** and __ and `code` marks removed, leading #s and > quote marks removed. */
void kftsp_md_inline(kftsp_buf *b, const char *s, size_t n);

/* A line that carries nothing to search: an image, a bare URL, a photo caption. */
int kftsp_is_boilerplate_line(const char *s, size_t n);

/* If the whole (trimmed) line is **bold**, sets *IN and *IN_N to the inside and returns 1. */
int kftsp_bold_line(const char *s, size_t n, const char **in, size_t *in_n);

/* Collects cleaned lines joined by "\n"; blank and boilerplate lines dropped. */
typedef struct kftsp_para {
  kftsp_buf buf; /* the text so far */
} kftsp_para;
void kftsp_para_line(kftsp_para *p, const char *s, size_t n);
char *kftsp_para_take(kftsp_para *p);

/* Host of URL without "www." and "m.", e.g. "threads.net"; *label_out = "threads". */
int kftsp_url_host(const char *url, size_t n, const char **host, size_t *host_n);
char *kftsp_source_from_url(const char *url);

/* A short title from running text: first sentence or first MAX_CHARS characters. */
char *kftsp_title_from_text(const char *s, size_t n, size_t max_chars);

/**************************************************************************
** timeconv.c: calendar arithmetic and timezones.
*/

int64_t kftsp_days_from_civil(int y, int m, int d);
void kftsp_civil_from_days(int64_t z, int *y, int *m, int *d);
/* A stored date, exactly "YYYY-MM-DD", as days since 1970-01-01 into *Z; 0 if S is not one. */
int kftsp_parse_day(const char *s, int64_t *z);
int kftsp_valid_ymd(int y, int m, int d);
/* "YYYY-MM-DD" into OUT[11]. */
void kftsp_format_ymd(char out[11], int y, int m, int d);

typedef struct kftsp_tz kftsp_tz;
/* Loads an IANA zone (from /usr/share/zoneinfo or $TZDIR) or a fixed offset "+09:00",
** "UTC". Returns KFTS_OK or KFTS_EUSAGE with a message. */
int kftsp_tz_load(kftsp_tz **out, const char *name, kfts_error *err);
void kftsp_tz_free(kftsp_tz *tz);
/* Seconds east of UTC in effect at Unix time T. */
long kftsp_tz_offset(const kftsp_tz *tz, int64_t t);
/* "YYYY-MM-DD" of the instant MS (ms since epoch) in TZ, into OUT[11]. */
void kftsp_tz_date(char out[11], const kftsp_tz *tz, int64_t ms);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" into OUT[25]. */
void kftsp_utc_iso(char out[25], int64_t ms);
int64_t kftsp_now_ms(void);

/**************************************************************************
** format.c: detection, dispatch and the document builder used by format_*.c.
*/

typedef struct kftsp_ctx {
  kfts_doc *doc;
  const kftsp_line *lines;
  size_t n_lines;
  const kfts_file_opts *opts;
  const kftsp_tz *tz;
  int64_t now_ms;
  int rc; /* sticky: first failure, KFTS_OK while all is well */
} kftsp_ctx;

/* Appends an empty article (importance -1) starting at LINE; NULL on OOM (ctx->rc set). */
/* Bodies longer than this are indexed as parts (format.c: split_large); fuzz builds lower it. */
#ifndef KFTSP_MAX_PART
#define KFTSP_MAX_PART ((size_t)1 << 20)
#endif
kfts_article *kftsp_article_new(kftsp_ctx *c, int line);
/* Frees an article's fields and zeroes it. */
void kftsp_article_clear(kfts_article *a);
/* Adds a topic (trimmed, deduplicated) to A. */
void kftsp_article_topic(kftsp_ctx *c, kfts_article *a, const char *s, size_t n);
/* Records a warning at LINE. */
void kftsp_diag(kftsp_ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Checks allocation results: sets ctx->rc on NULL. Returns P. */
char *kftsp_ctx_str(kftsp_ctx *c, char *p);
/* Sets a string field from a paragraph collector or buffer, checking OOM. */
void kftsp_set(kftsp_ctx *c, char **field, char *value);

/* Parsers, each fills ctx->doc from ctx->lines. */
void kftsp_parse_cards(kftsp_ctx *c);
void kftsp_parse_crawl(kftsp_ctx *c);
void kftsp_parse_podcast(kftsp_ctx *c);
void kftsp_parse_newsletter(kftsp_ctx *c);
void kftsp_parse_text(kftsp_ctx *c, size_t from_line);

/* Detectors: 1 when the lines look like that format. */
int kftsp_looks_cards(const kftsp_line *l, size_t n);
int kftsp_looks_crawl(const kftsp_line *l, size_t n);
int kftsp_looks_podcast(const kftsp_line *l, size_t n);
int kftsp_looks_newsletter(const kftsp_line *l, size_t n);

/* "(hh:mm:ss) rest": returns 1 and the time and rest. */
int kftsp_timestamp_line(const char *s, size_t n, char time_out[9], const char **rest,
                         size_t *rest_n);
/* Parses "250110", "20250110", "2025-01-10", "2025.01.10" into OUT[11]; 1 on success. */
int kftsp_parse_date(const char *s, size_t n, char out[11]);

/**************************************************************************
** manifest.c: per-file defaults from kfts.json.
*/

typedef struct kftsp_manifest kftsp_manifest;
/* Loads PATH. Returns KFTS_OK, KFTS_EIO (missing), KFTS_EUSAGE (bad JSON or keys). */
int kftsp_manifest_load(kftsp_manifest **out, const char *path, kfts_error *err);
void kftsp_manifest_free(kftsp_manifest *m);
/* The manifest's "aliases" as JSON text, or NULL. */
const char *kftsp_manifest_aliases(const kftsp_manifest *m);
/* Fills OPTS for the file at ABS_PATH (borrowed strings, valid while M lives) and returns a
** fingerprint of the settings that applied, so a change re-indexes the file. */
uint64_t kftsp_manifest_apply(const kftsp_manifest *m, const char *abs_path, kfts_file_opts *opts);

/**************************************************************************
** tokenize.c: the kfts FTS5 tokenizer.
*/
#include <sqlite3.h>

typedef struct kftsp_tokenizer kftsp_tokenizer;
/* ARGS are FTS5 tokenizer arguments (key value ...). On SQLITE_ERROR *ERRMSG (kftsp_free)
** says why. */
int kftsp_tokenizer_new(kftsp_tokenizer **out, const char **args, int n_args, char **errmsg);
void kftsp_tokenizer_free(kftsp_tokenizer *t);
/* Tokenizes TEXT (LEN bytes, or NUL-terminated when LEN < 0) with FTS5 FLAGS, calling
** XTOKEN as FTS5 would; stops at and returns the first non-OK code XTOKEN returns. */
int kftsp_tokenize(kftsp_tokenizer *t, void *ctx, int flags, const char *text, int len,
                   int (*xToken)(void *, int, const char *, int, int, int));
/* Registers "kfts" with FTS5. Returns an SQLite code. */
int kftsp_register_tokenizer(fts5_api *api);

/**************************************************************************
** korean.c: query-side help for Korean words.
*/
/* Length of WORD without a trailing particle ("데이터센터의" -> "데이터센터"); N when none
** is dropped (fewer than two syllables would remain, or no particle). */
size_t kftsp_strip_particle(const char *word, size_t n);
/* 1 when WORD is an interrogative (무엇, 누구, 언제, 어디, 몇, ...) or starts with one. */
int kftsp_is_question_word(const char *word, size_t n);
/* 1 when WORD is exactly one Hangul syllable. */
int kftsp_is_one_syllable(const char *word, size_t n);

/**************************************************************************
** search.c
*/
/* Registers kfts_boost() and kfts_coverage() (API may be NULL: only the former). */
int kftsp_search_register(struct sqlite3 *db, fts5_api *api);
/* The articles a query matches (no relaxing), for timeline.c. */
typedef struct kftsp_match kftsp_match;
int kftsp_match_open(kftsp_match **out, kfts_db *db, const kfts_search_opts *o, kfts_error *err);
/* Prepares OUTER, in which "%s" stands for a subquery of the matches with columns id, date,
** source, topics, importance, score (higher is better; 0 unless WITH_SCORE). Errors fill the
** ERR given to open. */
int kftsp_match_prepare(kftsp_match *m, const char *outer, int with_score, struct sqlite3_stmt **st);
void kftsp_match_close(kftsp_match *m);
/* For scan.c: the FTS5 expression (NULL: filters only) and the filter SQL (" AND ..." on
** articles a) of the match set; SQL prepared with every parameter of the query bound (the
** filters' ?1.., the expression ?60, the excluded parts ?61); a row's importance * recency
** factor, as kfts_boost() computes it; MSG (NULL: the connection's last error) as KFTS_EDB. */
const char *kftsp_match_fts(const kftsp_match *m);
const char *kftsp_match_where(const kftsp_match *m);
int kftsp_match_sql(kftsp_match *m, const char *sql, struct sqlite3_stmt **st);
double kftsp_match_boost(const kftsp_match *m, int importance, const char *date);
/* kftsp_match_boost's inputs: the importance weight, the half-life, the newest day (NAN). */
void kftsp_match_boost_params(const kftsp_match *m, double *weight, double *half_life, double *newest);
/* A relaxed query's parts that a row with phrase frequencies FREQ[0..N) matches, as
** kfts_coverage() counts them; 0 for other queries. */
/* FTS with its prefix terms replaced by the tokens of the rows DOCS (search.c, snippets);
** NULL when one cannot be. kftsp_free. */
char *kftsp_prefix_rewrite(struct sqlite3 *h, const char *fts, const int64_t *docs, size_t n);
int kftsp_match_coverage(const kftsp_match *m, const double *freq, int n);
int kftsp_match_fail(kftsp_match *m, const char *msg);
/* 1 when a row matches exactly when it holds one of the expression's phrases: one part made
** of words and phrases joined by OR, nothing excluded. Then the rows the expression yields
** are all that count for each phrase's IDF. */
int kftsp_match_or_only(const kftsp_match *m);
/* The phrases of FTS when it is phrases joined by OR alone, in parentheses or not, in FTS5's
** order: *N of them, phrase i the LEN[i] bytes at START[i] ("...", and * after a prefix).
** 0 when FTS is anything else, or has more than 64. */
int kftsp_or_phrases(const char *fts, int start[64], int len[64], int *n);
struct sqlite3 *kftsp_match_handle(const kftsp_match *m);
/* The index's second read-only connection (kftsp_db_worker), or NULL. */
struct sqlite3 *kftsp_match_worker(kftsp_match *m);
/* The handle's helper thread (kftsp_db_helper), or NULL. */
struct kftsp_helper *kftsp_match_helper(kftsp_match *m);
typedef struct kftsp_dv_cache kftsp_dv_cache; /* docvals.c */
/* The docvals cache of M's kfts_db, or NULL (none, or no kfts_db). */
kftsp_dv_cache *kftsp_match_dvcache(kftsp_match *m);
/* The pool of large blocks of M's kfts_db (made on first use), or NULL. */
kftsp_pool *kftsp_match_pool(kftsp_match *m);
/* The same match set on connection H, errors to ERR (scan.c's second half); NULL on OOM.
** kftsp_match_close. */
kftsp_match *kftsp_match_fork(const kftsp_match *m, struct sqlite3 *h, kfts_error *err);
kfts_error *kftsp_match_error(kftsp_match *m);

/**************************************************************************
** doclist.c: a term's rows read from FTS5's segments directly (its %_data records).
*/
#define KFTSP_DOCLIST_UNKNOWN (-1) /* an index this reader does not know: ask FTS5 */
/* Called per row: an SQLite code, nonzero to stop (SQLITE_DONE: stop, no error). */
typedef int (*kftsp_doclist_fn)(void *ctx, int64_t doc, double freq);
#define KFTSP_DOCLIST_PHRASE_MAX 16 /* tokens of a phrase */
/* FN(CTX, doc, freq) for each row that has the phrase of K tokens TOKENS (LENS bytes each, as
** the tokenizer gave them; PREFIX: one token, any term that begins with it) in the main index
** of FTS5 table TABLE on H, docs LO..HI ascending, in H's current read transaction; FREQ: its
** instances (each token at the offset after the one before, in one column; a prefix's terms'
** offsets, each once), each weighted by WEIGHTS[column] (1.0 past N_WEIGHTS). SQLITE_OK,
** KFTSP_DOCLIST_UNKNOWN (before any call of FN), FN's code, or an SQLite error
** (SQLITE_CORRUPT when the records do not parse). */
int kftsp_doclist_read(struct sqlite3 *h, const char *table, const char *const *tokens, const int *lens, int k,
                       int prefix, int64_t lo, int64_t hi, const double *weights, int n_weights, kftsp_doclist_fn fn, void *ctx);
/* FTS5's averages record of TABLE: *ROWS, and *TOKENS in all its columns (xRowCount and
** xColumnTotalSize(-1)). An SQLite code, or KFTSP_DOCLIST_UNKNOWN. */
int kftsp_doclist_totals(struct sqlite3 *h, const char *table, int64_t *rows, int64_t *tokens);
extern int kftsp_doclist_unknown; /* tests: every read says KFTSP_DOCLIST_UNKNOWN */
/* The rowid at about the middle of TOKEN's rows (the first one on the middle page of its
** longest doclist) in *MID, and that doclist's pages in *PAGES (0: under 4, no *MID). An
** SQLite code, or KFTSP_DOCLIST_UNKNOWN. */
int kftsp_doclist_middle(struct sqlite3 *h, const char *table, const char *token, int n, int64_t *mid, int *pages);

/**************************************************************************
** packtext.c: articles.body compressed (zstd) when that pays; kfts_text() unpacks.
*/
typedef struct kftsp_packer kftsp_packer;
kftsp_packer *kftsp_packer_new(void);
void kftsp_packer_free(kftsp_packer *p);
/* *OUT: N bytes of TEXT packed (valid until the next call), or NULL: store the text as is. */
int kftsp_pack(kftsp_packer *p, const char *text, size_t n, const void **out, size_t *out_n);
/* The text of a packed frame (kftsp_free), NUL-terminated; NULL when garbled or no memory. */
char *kftsp_unpack(const void *frame, size_t n, size_t *len_out);
/* kfts_text(X) on DB. An SQLite code. */
int kftsp_packtext_register(struct sqlite3 *db);

/**************************************************************************
** docvals.c: each article's length, importance and day in blocks by doc, for scoring
** without a look-up per match.
*/
extern int kftsp_dv_shift;    /* block = doc >> 8: 256 articles (tests: fewer, for more blocks; never more: a doc is a
                              ** one-byte offset in its block) */
#define KFTSP_DV_BLOCKS 65536 /* the blocks a run marks one by one: docs below 2^24 */
int64_t kftsp_dv_block(int64_t doc);
int64_t kftsp_dv_base(int64_t k); /* block K's first doc */
/* The blocks an indexing run changed (ALL: every one, or a doc outside 0 .. 2^24). */
typedef struct kftsp_dv_dirty {
  unsigned char bits[KFTSP_DV_BLOCKS / 8];
  int all;
} kftsp_dv_dirty;
void kftsp_dv_touch(kftsp_dv_dirty *d, int64_t doc);
/* Rewrites D's blocks from articles_meta and marks them all current (meta 'docvals'), in
** the caller's transaction. */
int kftsp_dv_rebuild(struct sqlite3 *h, const kftsp_dv_dirty *d, kfts_error *err);
/* Which blocks are current in H's view of the index: 0 none, or one of these. */
int kftsp_dv_current(struct sqlite3 *h);
#define KFTSP_DV_ALONE 1        /* meta 'docvals' = '1': docvals current (kfts before facetvals) */
#define KFTSP_DV_WITH_FACETS 2  /* '2': docvals and facetvals current */
/* One block, read in place: its blob is not copied, so it lasts as long as the caller's row
** (the sqlite3_column_blob it came from); POS: where the caller's search left off. */
typedef struct kftsp_dv_block_t {
  const unsigned char *doc, *len, *day, *imp; /* n entries each, little-endian */
  int64_t base; /* the block's first doc: doc[i] is an offset from it, one byte */
  uint32_t n, pos;
  int wide; /* format 1: doc[i] is the doc, 8 bytes */
} kftsp_dv_block_t;
/* Block BLOCK's blob V of N bytes into B: 0, or -1 when it is malformed. */
int kftsp_dv_decode(kftsp_dv_block_t *b, const unsigned char *v, int n, int64_t block);
/* BYTES (4 or 8) little-endian bytes at P; one load on a little-endian machine (the byte loop
** was half of a cold query's docvals decoding). */
static inline uint64_t kftsp_le(const unsigned char *p, int bytes) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (bytes == 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  if (bytes == 4) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
  }
#endif
  uint64_t x = 0;
  for (int j = bytes - 1; j >= 0; j--) x = x << 8 | p[j];
  return x;
}
static inline int64_t kftsp_dv_doc(const kftsp_dv_block_t *b, uint32_t i) { return b->wide ? (int64_t)kftsp_le(b->doc + 8 * (size_t)i, 8) : b->base + b->doc[i]; }
static inline uint32_t kftsp_dv_len(const kftsp_dv_block_t *b, uint32_t i) { return (uint32_t)kftsp_le(b->len + 4 * (size_t)i, 4); } /* UINT32_MAX: malformed */
static inline int32_t kftsp_dv_day(const kftsp_dv_block_t *b, uint32_t i) { return (int32_t)(uint32_t)kftsp_le(b->day + 4 * (size_t)i, 4); } /* INT32_MIN: none */
static inline int kftsp_dv_imp(const kftsp_dv_block_t *b, uint32_t i) { return (signed char)b->imp[i]; } /* -1: none */
/* The summed length of a %_docsize blob; UINT32_MAX when malformed. */
uint32_t kftsp_dv_length(const unsigned char *sz, int n);
/* A block spread out by doc: entry doc & ((1 << kftsp_dv_shift) - 1) for each DOC of the
** block, one entry per doc, so that a match finds its entry by index in one cache line. */
typedef struct kftsp_dv_slot_t {
  uint32_t len; /* UINT32_MAX: malformed */
  int32_t day;  /* INT32_MIN: none */
  int32_t imp;  /* -1: none; KFTSP_DV_ABSENT: no article has the doc */
} kftsp_dv_slot_t;
#define KFTSP_DV_ABSENT (-2)
kftsp_dv_slot_t *kftsp_dv_slots_new(void); /* kftsp_free */
/* S := block B, which must be block K; -1 when B holds a doc outside K or out of order. */
int kftsp_dv_slots_fill(kftsp_dv_slot_t *s, const kftsp_dv_block_t *b, int64_t k);
/* A handle's blocks as slots, kept between queries while the index stays the same (12 bytes
** per doc). Threads may get, claim and finish blocks at once; begin runs alone, before them. */
kftsp_dv_cache *kftsp_dv_cache_new(void);
void kftsp_dv_cache_free(kftsp_dv_cache *c);
/* In H's read transaction: forgets every block when the index changed since the last call,
** and makes room for all of them. -1 when it cannot tell or has no memory: do not use C. */
int kftsp_dv_cache_begin(kftsp_dv_cache *c, struct sqlite3 *h);
/* Block K's slots when a thread filled them, else NULL. */
const kftsp_dv_slot_t *kftsp_dv_cache_get(kftsp_dv_cache *c, int64_t k);
/* Block K's slots for the caller to fill, then kftsp_dv_cache_done (FILLED 0: it could not);
** NULL when K is out of range, read for the first time, or another thread's. */
kftsp_dv_slot_t *kftsp_dv_cache_claim(kftsp_dv_cache *c, int64_t k);
void kftsp_dv_cache_done(kftsp_dv_cache *c, int64_t k, int filled);

/**************************************************************************
** facetvals.c: each article's source, year and topics as ids, in docvals' blocks, for facets
** without reading articles_meta per match. Current when meta 'docvals' = '2'.
*/
typedef struct kftsp_fv_writer kftsp_fv_writer;
/* A writer of H's blocks (ALL: every block is about to be written, the old ones go now),
** the names known so far loaded. KFTS_OK, KFTS_EDB or KFTS_ENOMEM. */
int kftsp_fv_writer_new(kftsp_fv_writer **out, struct sqlite3 *h, int all);
/* Adds an article of block K (in doc order) to the block being built. */
int kftsp_fv_add(kftsp_fv_writer *w, int64_t k, int64_t doc, const char *date, const char *source,
                 const char *topics);
/* Writes the block being built as block K (none when it is empty), REPLACE: deleting the old
** one first; then starts the next. */
int kftsp_fv_write(kftsp_fv_writer *w, int64_t k, int replace);
/* After every block was written: drops the names no article of them has. */
int kftsp_fv_prune(kftsp_fv_writer *w);
void kftsp_fv_writer_free(kftsp_fv_writer *w);
/* How many of DOCS (ascending, each with a docvals entry) have each name id:
** *COUNTS (kftsp_free) has *N_IDS entries, by id; NONE[0] counts docs without a source,
** NONE[1] without a year; SOURCES (or NULL): each doc's source id (0: none).
** KFTSP_FV_UNKNOWN when the ids are too many for an array. */
#define KFTSP_FV_UNKNOWN 1 /* not a KFTS_* code */
int kftsp_fv_count(struct sqlite3 *h, const int64_t *docs, size_t n_docs, size_t **counts, size_t *n_ids,
                   size_t none[2], int64_t *sources, kfts_error *err);
/* The names of the N_IDS ids that COUNTS counts: *NAMES[id] (each and the array kftsp_free;
** NULL where the count is 0) and *KINDS[id] (0 source, 1 year, 2 topic; kftsp_free). */
int kftsp_fv_names(struct sqlite3 *h, const size_t *counts, size_t n_ids, char ***names, int **kinds,
                   kfts_error *err);

/**************************************************************************
** scan.c: the match set streamed in id order, each row's metadata and score without a
** look-up per row.
*/
typedef struct kftsp_mrow {
  int64_t doc;
  const char *date;   /* "YYYY-MM-DD" or NULL */
  int importance;     /* -1: none */
  const char *source; /* or NULL */
  const char *topics; /* '\n'-separated, or NULL; only with KFTSP_SCAN_TOPICS */
  double score;       /* the ranked list's score; only with KFTSP_SCAN_SCORE, else 0 */
  double relevance;   /* its bm25 part */
  int coverage;       /* relaxed queries: the parts it matches (kfts_coverage()), else 0 */
  int32_t day;        /* when date is NULL: its day (days since 1970-01-01) from docvals, or
                      ** INT32_MIN: none */
  uint64_t phrases;   /* scored: bit p set when FTS5 phrase p is in the row (0: unknown, or a
                      ** query of more than 64 phrases) */
} kftsp_mrow;
#define KFTSP_SCAN_SCORE 1
#define KFTSP_SCAN_TOPICS 2
/* The caller reads only doc, importance, score, relevance, coverage and the date or day of a
** row (source and topics may be NULL): scores come from docvals blocks when there are no
** filters or an index finds the docs that pass them. */
#define KFTSP_SCAN_LEAN 4
/* Returns KFTS_OK to go on, anything else to stop the scan with that code. */
typedef int (*kftsp_mrow_fn)(void *ctx, const kftsp_mrow *row);
/* A statement walked forward by its first column ("... WHERE key >= ?70 ... ORDER BY key"),
** zero-initialised but for ST (scan.c). */
typedef struct kftsp_cursor {
  struct sqlite3_stmt *st;
  int64_t doc; /* the row's key */
  int state;   /* 0: not yet placed, 1: on a row, 2: past the last row */
  double gap;  /* keys per step, as seen so far (0: not yet seen) */
} kftsp_cursor;
/* Moves C to its first row with key >= TARGET (targets never decrease): steps forward when
** the rows seen so far say TARGET is a few steps away, seeks otherwise. Returns 1 when the
** row reached is TARGET, 0 when not, -1 on a database error. */
int kftsp_cursor_to(kftsp_cursor *c, int64_t target);

int kftsp_match_scan(kftsp_match *m, int flags, kftsp_mrow_fn fn, void *ctx);
/* The same, split in two halves by id run at once on two threads when CTX2 is given, the
** index is large and the machine has two cores (KFTS_THREADS=1 in the environment: never):
** FN gets the lower ids with CTX, the upper ones with CTX2, each half in id order, the two
** at the same time. The caller merges CTX2 into CTX afterwards (CTX2 untouched: no split). */
int kftsp_match_scan2(kftsp_match *m, int flags, kftsp_mrow_fn fn, void *ctx, void *ctx2);
extern uint64_t kftsp_bulk_bytes;  /* a first build of this many bytes of files ends optimized */
extern int kftsp_merge_share;         /* a run's closing merges write at most 1/share of the database */
extern int64_t kftsp_merge_min_bytes; /* and only on a database of this size or more */
extern int kftsp_split_min_rows;  /* articles an index needs for a split scan (20,000) */
extern int kftsp_facets_by_ids;    /* facets from facetvals when current (1); tests: 0, from articles_meta */
extern int kftsp_merge_by_rank;   /* 1: phrase lists merged by rank where docs are dense (tests: 0) */
extern int kftsp_meet_wait;       /* tests: a phrase read up waits until the reader down has begun */
extern int kftsp_scan_direct; /* phrases read from FTS5's segments (doclist.c); tests: 0 */
extern int kftsp_collapse_by_sql; /* 1: --collapse walks every match in SQL (tests compare) */
extern int kftsp_relaxed_by_sql;  /* 1: the relaxed page from SQL's ORDER BY (tests compare) */
extern int kftsp_snippet_all_phrases; /* 1: each snippet's MATCH names every phrase (tests compare) */
extern size_t kftsp_snippet_fewer;    /* snippets whose MATCH named only the hit's phrases */
/* The article count both connections see (each in a read transaction), or -1 when they
** see different states of the index. */
int64_t kftsp_scan_same_index(struct sqlite3 *h, struct sqlite3 *w);
/* Registers kfts_tf(), the scan's per-row phrase frequencies. */
int kftsp_scan_register(fts5_api *api);
/* snippet.c: kfts_snippet(), FTS5's snippet() with exact highlights when tokens overlap. */
int kftsp_snippet_register(fts5_api *api);
double kftsp_importance_factor(int importance, double w);
double kftsp_recency_factor(const char *date, const char *newest, double half_life);
/* The same from days since 1970 (NAN: none). */
double kftsp_recency_days(double day, double newest, double half_life);
/* Days since 1970 of a YYYY-MM-DD date, NAN when it is not one. */
double kftsp_days_of(const char *date);
/* Appends S as an FTS5 string: in double quotes, each '"' doubled. User text reaches MATCH
** only this way. */
void kftsp_fts_quote(kftsp_buf *b, const char *s, size_t n);
/* Appends WORD as a quoted FTS5 string (particle dropped, '*' after one syllable). */
void kftsp_fts_word(kftsp_buf *b, const char *word, size_t n);
/* The FTS5 expression of the space-separated words in WORDS joined by OP (" AND ", " OR ");
** "" when none has a token; NULL on OOM. kftsp_free. */
char *kftsp_fts_words(const char *const *words, size_t n_words, const char *op);

/**************************************************************************
** aliases.c: alias groups (Anthropic / 앤트로픽) and mining 한글(English) pairs.
*/
typedef struct kftsp_aliases kftsp_aliases;
struct json_t;
extern const char kftsp_builtin_aliases[]; /* lib/aliases.json, compiled in */
extern const size_t kftsp_builtin_aliases_len;
int kftsp_aliases_new(kftsp_aliases **out);
void kftsp_aliases_free(kftsp_aliases *a);
int kftsp_aliases_add_builtin(kftsp_aliases *a, kfts_error *err);
/* TEXT: {"aliases": [[...], ...]} or the bare array; SOURCE names it in errors. */
int kftsp_aliases_add_json(kftsp_aliases *a, const char *text, size_t len, const char *source,
                           kfts_error *err);
int kftsp_aliases_add_value(kftsp_aliases *a, const struct json_t *list, const char *source,
                            kfts_error *err);
int kftsp_aliases_add_file(kftsp_aliases *a, const char *path, kfts_error *err);
/* The other spellings of W (N bytes): up to MAX into OUT (borrowed); 0 when W has none. */
size_t kftsp_aliases_find(const kftsp_aliases *a, const char *w, size_t n, const char **out, size_t max);
/* 1 when X and Y are spellings of one name. */
int kftsp_aliases_same(const kftsp_aliases *a, const char *x, const char *y);
/* Calls CB for every "한글(English)" / "English(한글)" in S with the Korean and the English
** side; a non-zero return from CB stops and is returned. */
typedef int (*kftsp_pair_fn)(void *ctx, const char *ko, size_t ko_n, const char *en, size_t en_n);
int kftsp_mine_pairs(const char *s, size_t len, kftsp_pair_fn cb, void *ctx);

/**************************************************************************
** query.c: the query language, compiled to an FTS5 expression and SQL filters.
*/
typedef struct kftsp_qparam {
  char *text; /* or NULL for an integer */
  int64_t i;
  int is_int;
} kftsp_qparam;

typedef struct kftsp_qconj {
  char *fts;   /* FTS5 expression of one top-level positive part (a word, "phrase", group) */
  char *text;  /* as typed, for messages */
  int phrases; /* FTS5 phrases in fts, in order: for kfts_coverage() */
  int simple;  /* a word or phrase */
  int or_only; /* words and phrases joined by OR only: no column, no AND inside */
} kftsp_qconj;

#define KFTSP_QUERY_MAX_PARAMS 64

typedef struct kftsp_query {
  char *fts;     /* all positive parts ANDed, NOT the excluded ones; NULL when no positive part */
  char *fts_neg; /* the excluded parts ORed, or NULL */
  char *where;   /* " AND (cond)..." on articles a, parameters ?1..; "" when no filter */
  kftsp_qconj *conj;
  size_t n_conj, cap_conj;
  kftsp_qparam params[KFTSP_QUERY_MAX_PARAMS];
  size_t n_params;
  size_t n_filters;
} kftsp_query;

/* 1 when the tokenizer finds a token in S (emoji and punctuation alone have none). */
int kftsp_has_tokens(const char *s, size_t n);
/* Compiles the query TEXT (LEN bytes). Errors: KFTS_EUSAGE with the position in ERR->column
** and the message; KFTS_ENOMEM. ALIASES may be NULL. */
int kftsp_query_compile(kftsp_query **out, const char *text, size_t len, const kftsp_aliases *aliases,
                        kfts_error *err);
void kftsp_query_free(kftsp_query *q);

/**************************************************************************
** cluster.c: near-duplicate signatures and story clusters.
*/
#define KFTSP_SIG_K 64                 /* MinHash minima per article */
#define KFTSP_SIG_MIN_TOKENS 24        /* fewer distinct tokens: never clustered */
#define KFTSP_CLUSTER_THRESHOLD 0.6    /* estimated containment to join a cluster */
#define KFTSP_CLUSTER_MIN_JACCARD 0.3  /* and at least this estimated Jaccard */

/* The low 12 bits of each minimum (b-bit MinHash, Li and König 2010): two different minima
** agree in them once in 4,096 slots, so the share of equal slots P estimates
** J + (1 - J) / 4096, and kftsp_sig_jaccard estimates J as (P - 1/4096) / (1 - 1/4096).
** Stored packed, two minima in 3 bytes (KFTSP_SIG_BYTES); indexes written before kept the
** low 16 bits (128 bytes), read as their low 12 (kftsp_sig_load). */
#define KFTSP_SIG_BITS 12
#define KFTSP_SIG_BYTES (KFTSP_SIG_K * KFTSP_SIG_BITS / 8)
typedef struct kftsp_sig {
  uint16_t min[KFTSP_SIG_K]; /* below 1 << KFTSP_SIG_BITS */
  uint32_t n;                /* distinct tokens */
} kftsp_sig;

/* The signature of the text in PARTS (NULLs skipped). KFTS_OK or KFTS_ENOMEM. */
int kftsp_signature(const char *const *parts, size_t n_parts, kftsp_sig *out);
/* The stored form of MIN (KFTSP_SIG_K minima), KFTSP_SIG_BYTES bytes into OUT. */
void kftsp_sig_pack(const uint16_t *min, unsigned char *out);
/* Fills MIN (KFTSP_SIG_K minima) from a stored sig blob of N bytes; 0 when N is no
** signature's length. */
int kftsp_sig_load(const void *blob, int n, uint16_t *min);
double kftsp_sig_jaccard(const kftsp_sig *a, const kftsp_sig *b);
/* Estimated containment |A∩B| / min(|A|, |B|). */
double kftsp_sig_similarity(const kftsp_sig *a, const kftsp_sig *b);
/* 1 when A and B belong in one cluster. */
int kftsp_sig_related(const kftsp_sig *a, const kftsp_sig *b);
/* Rewrites the clusters table and cluster_pairs from the signatures table (inside the
** caller's transaction). */
extern size_t kftsp_cluster_chunk_keys; /* band keys sorted in memory at once (2^20) */
extern size_t kftsp_cluster_cache_rows; /* rows kept in memory (2^17) */
int kftsp_recluster(struct sqlite3 *h, kfts_error *err);
extern int kftsp_recluster_wholes; /* kftsp_recluster's runs (tests) */
/* What a run removed, for kftsp_recluster_since: the docs and their signatures' buckets. */
typedef struct kftsp_cluster_gone_t {
  kftsp_u64set docs, buckets;
} kftsp_cluster_gone_t;
/* Notes removed article DOC and its signature (N tokens, SIG of BYTES bytes, as stored);
** 0, or -1 out of memory. */
int kftsp_cluster_gone(kftsp_cluster_gone_t *g, int64_t doc, uint32_t n, const void *sig, int bytes);
void kftsp_cluster_gone_free(kftsp_cluster_gone_t *g);
/* The same after a run that removed the articles of GONE and added those from doc FIRST on,
** cluster_pairs exact when it began (kftsp_cluster_exact): pairs are looked for in those
** articles' buckets alone. FIRST < 0: kftsp_recluster. */
int kftsp_recluster_since(struct sqlite3 *h, int64_t first, const kftsp_cluster_gone_t *gone, kfts_error *err);
/* Creates cluster_pairs (an SQLite result code). */
int kftsp_cluster_schema(struct sqlite3 *h);
/* 1 when cluster_pairs holds every related pair (meta 'clusters' = '1'). */
int kftsp_cluster_exact(struct sqlite3 *h);
/* The docs of the LIMIT articles most similar to article ID (articles.id; similarity >= 0.1),
** best first; kftsp_free both. */
int kftsp_similar(kfts_db *db, int64_t id, size_t limit, int64_t **docs_out, double **sims_out, size_t *n_out,
                  kfts_error *err);

/**************************************************************************
** timeline.c
*/
/* {"source": [{"value","count"}...], "topic": [...], "year": [...]} as a jansson value. */
struct json_t *kftsp_facets_json(const kfts_facets *f);

/**************************************************************************
** rank.c: planned natural-language retrieval (candidates, then BM25F scoring).
*/
#define KFTSP_RANK_MAX_COLS 8

typedef struct kftsp_ranker_cfg {
  const char *fts;          /* FTS5 table (ours; quoted with %w) */
  const char *text_sql;     /* SELECT col0, col1, ... for rowid ?1, the FTS columns in order */
  const char *id_range_sql; /* SELECT min(rowid), max(rowid) */
  int n_cols;
  double weights[KFTSP_RANK_MAX_COLS]; /* BM25F column weights */
  size_t candidates;        /* rows scored per query */
  double bag_weight;        /* weight of single tokens beside whole words */
  double max_df_fraction;   /* words whose rarest token is commoner are not used for candidates */
  int phrase_df;            /* 1: sample each word's phrase df for its idf; 0: rarest token's */
  int drop_question_words;  /* 1: leave out interrogatives (무엇, 누구, 언제, ...) */
  double pair_weight;       /* weight of adjacent word pairs as phrases; 0 = off */
} kftsp_ranker_cfg;

typedef struct kftsp_rank_hit {
  int64_t id;   /* rowid */
  double score; /* higher is better */
} kftsp_rank_hit;

typedef struct kftsp_ranker kftsp_ranker;
int kftsp_ranker_open(kftsp_ranker **out, sqlite3 *db, const kftsp_ranker_cfg *cfg, kfts_error *err);
void kftsp_ranker_close(kftsp_ranker *r);
/* Best LIMIT rows for the space-separated words in WORDS. *HITS_OUT (kftsp_free) gets
** *N_OUT hits; *PLAN_OUT (optional, kftsp_free) the candidate MATCH expression that ran.
** Returns an SQLite code. */
int kftsp_ranker_search(kftsp_ranker *r, const char *const *words, size_t n_words, size_t limit,
                        kftsp_rank_hit **hits_out, size_t *n_out, char **plan_out);

/**************************************************************************
** helper.c
*/
/* A second thread kept by a handle for its split scans: after a job it spins a while (2 ms)
** before it sleeps, so that the next job finds it awake. */
typedef struct kftsp_helper kftsp_helper;
/* A started helper, or NULL (no memory, no thread). */
kftsp_helper *kftsp_helper_new(void);
/* Stops HP's thread and frees it; NULL is a no-op. */
void kftsp_helper_free(kftsp_helper *hp);
/* F(A1) on the calling thread while HP's thread runs F(A2); returns when both are done. */
void kftsp_helper_both(kftsp_helper *hp, void *(*f)(void *), void *a1, void *a2);
/* 1 while HP spins (a job posted now starts at once), 0 once it sleeps. */
int kftsp_helper_awake(kftsp_helper *hp);
extern atomic_long kftsp_helper_spin_ns; /* an idle helper spins this long, then sleeps */

/**************************************************************************
** mapvfs.c
*/
/* The name of the VFS whose read-only database files are mapped whole (past SQLite's 2 GB),
** registered on first use; NULL (the default VFS) when it cannot be. */
const char *kftsp_map_vfs(void);
/* Bytes of H's main database file mapped by that VFS now; -1: H does not use it (tests). */
long long kftsp_map_bytes(struct sqlite3 *h);

/**************************************************************************
** store.c
*/
struct sqlite3;
/* FTS5's API object of DB, or NULL when FTS5 is missing. */
fts5_api *kftsp_fts5_api(struct sqlite3 *db);
/* The index's tokenizer as FTS5 runs it (KFTSP_TOKENIZE: 'porter' around 'kfts') into *TOK
** and *INST (free with TOK->xDelete(*INST)). An SQLite code. */
int kftsp_table_tokenizer(struct sqlite3 *db, fts5_tokenizer *tok, Fts5Tokenizer **inst);
/* The open connection (borrowed). */
struct sqlite3 *kftsp_db_handle(kfts_db *db);
/* A second read-only connection to DB's file, for the second half of a scan (scan.c), opened
** on first use and closed with DB; NULL when it cannot be opened (or DB is not a file). */
struct sqlite3 *kftsp_db_worker(kfts_db *db);
/* The handle's docvals cache (docvals.c), or NULL when it could not be made. */
kftsp_dv_cache *kftsp_db_dvcache(kfts_db *db);
/* The handle's pool of large blocks (util.c), made on first use; NULL when it could not be. */
kftsp_pool *kftsp_db_pool(kfts_db *db);
/* The handle's helper thread (helper.c), started on first use; NULL when it cannot start. */
kftsp_helper *kftsp_db_helper(kfts_db *db);
/* DB's second connection and helper thread when a split scan has started both (it does not
** start them) and the helper is still awake: 1, else 0. */
int kftsp_db_pair(kfts_db *db, struct sqlite3 **worker, kftsp_helper **hp);
/* Adds the built-in alias groups and those the indexer stored from manifests. */
int kftsp_db_aliases(kfts_db *db, kftsp_aliases *a, kfts_error *err);
/* The state of the index H reads: PRAGMA data_version (other connections' commits, as of H's
** read transaction) and the rows H itself changed. 0, or -1 when SQLite cannot tell. */
int kftsp_db_state(struct sqlite3 *h, int64_t st[2]);
/* The built-in alias groups and the index's, kept by DB while the index stays the same
** (parsing them took half a millisecond per query); *OUT is DB's. */
int kftsp_db_aliases_all(kfts_db *db, const kftsp_aliases **out, kfts_error *err);

#endif /* KFTS_INT_H */
