/*
** kfts.h -- the public API of libkfts, the core both kfts programs are thin over.
**
** libkfts owns: reading corpus files, recognising their format, splitting them into
** articles with metadata, the SQLite schema, incremental indexing and searching.
** It never prints and never exits; errors come back as codes plus an optional
** caller-owned kfts_error.
*/
#ifndef KFTS_H
#define KFTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KFTS_API __attribute__((visibility("default")))
#else
#define KFTS_API
#endif

#define KFTS_VERSION "0.1.0"

/* Return codes. */
#define KFTS_OK 0
#define KFTS_ERROR (-1)     /* generic failure; see kfts_error.message */
#define KFTS_ENOMEM (-2)    /* allocation failed */
#define KFTS_EIO (-3)       /* a file could not be read or written */
#define KFTS_EINPUT (-4)    /* the input is not something we can index */
#define KFTS_EDB (-5)       /* SQLite failed */
#define KFTS_ESCHEMA (-6)   /* the database has a schema this build cannot use */
#define KFTS_EUSAGE (-7)    /* a bad argument or option value */

/* Detail for a failed call. Caller-owned; pass NULL when not wanted. */
typedef struct kfts_error {
  int code;          /* the KFTS_E* code returned */
  char source[512];  /* file (or "query", "manifest") the error is about, or "" */
  int line;          /* 1-based line in source, or 0 */
  int column;        /* 1-based column or query position, or 0 */
  char message[512]; /* human-readable, no trailing newline */
} kfts_error;

/* Frees memory returned by any kfts_* function that says so. Accepts NULL. */
KFTS_API void kfts_free(void *p);

/* Library, SQLite, utf8proc and jansson versions, "kfts 0.1.0 (sqlite 3.40.1, ...)". */
KFTS_API const char *kfts_version_string(void);

/* ------------------------------------------------------------------------ */
/* Articles: what a file is split into.                                      */

typedef struct kfts_article {
  char *title;        /* never NULL */
  char *summary;      /* or NULL */
  char *body;         /* text without markup; never NULL */
  char *url;          /* or NULL */
  char *date;         /* "YYYY-MM-DD" in the corpus timezone, or NULL */
  char *date_source;  /* "front matter", "text", "url", "manifest", "inferred", "crawled", or NULL */
  char *published_at; /* exact UTC instant "YYYY-MM-DDTHH:MM:SS.mmmZ" when known, or NULL */
  char *source;       /* e.g. "threads", "aitimes", or NULL */
  char *time_offset;  /* podcast item start "hh:mm:ss", or NULL */
  char **topics;      /* n_topics strings */
  size_t n_topics;
  int importance;     /* 0..10, or -1 when unknown */
  int line;           /* 1-based line where the article starts */
} kfts_article;

/* One diagnostic about a file: a problem that cost only part of it. */
typedef struct kfts_diag {
  int line;      /* 1-based, or 0 for the whole file */
  char *message; /* what was wrong and what was done */
} kfts_diag;

/* A parsed file. */
typedef struct kfts_doc {
  char *path;          /* as given */
  const char *format;  /* "cards", "crawl", "podcast", "newsletter", "text" (static) */
  kfts_article *articles;
  size_t n_articles;
  kfts_diag *diags;    /* warnings: the file still indexed */
  size_t n_diags;
} kfts_doc;

/* Per-file settings, normally from the manifest. All fields optional (NULL). */
typedef struct kfts_file_opts {
  const char *source;   /* default source */
  const char *date;     /* default date, "YYYY-MM-DD" */
  const char *format;   /* force a format (one of the names above) */
  const char *const *topics; /* extra topics, n_topics of them */
  size_t n_topics;
  const char *timezone; /* IANA name or "+09:00"; NULL = Asia/Seoul */
} kfts_file_opts;

/*
** Parses TEXT (LEN bytes, the content of the file at PATH) into *OUT.
** Returns KFTS_OK, or KFTS_EINPUT when the text is not indexable at all (not UTF-8,
** NUL bytes), with the first bad line in ERR, or KFTS_ENOMEM. The caller frees *OUT
** with kfts_doc_free().
*/
KFTS_API int kfts_parse(kfts_doc **out, const char *path, const char *text, size_t len,
                        const kfts_file_opts *opts, kfts_error *err);

/*
** Reads and parses the file at PATH with the defaults of MANIFEST (a kfts.json path), or,
** when MANIFEST is NULL, of the kfts.json beside the file if there is one. Returns as
** kfts_parse(), plus KFTS_EIO when the file cannot be read and KFTS_EUSAGE for a bad
** manifest. Free *OUT with kfts_doc_free().
*/
KFTS_API int kfts_parse_path(kfts_doc **out, const char *path, const char *manifest,
                             kfts_error *err);

/* Frees a document from kfts_parse(). Accepts NULL. */
KFTS_API void kfts_doc_free(kfts_doc *doc);

/* Serialises an article as one JSON object (no newline). Free with kfts_free(). */
KFTS_API char *kfts_article_json(const kfts_doc *doc, const kfts_article *a);

/*
** Decodes an Instagram/Threads post shortcode (e.g. "DTvy4cbil2v") to the post's
** creation time, milliseconds since the Unix epoch, in *MS_OUT. Returns KFTS_OK,
** or KFTS_EINPUT when the code is not a plausible 11-character shortcode of a post
** made between 2016-01-01 and NOW_MS plus a day.
*/
KFTS_API int kfts_shortcode_time(int64_t *ms_out, const char *code, size_t code_len,
                                 int64_t now_ms);

/* ------------------------------------------------------------------------ */
/* The tokenizer.                                                            */

struct sqlite3;

/*
** For a program that owns its process's SQLite: call first, before any other SQLite or kfts
** call. Turns off SQLite's memory statistics, whose global lock, taken at every allocation,
** makes the two threads of a large query's scan wait on each other. Optional; KFTS_OK, or
** KFTS_EUSAGE when SQLite was already in use (then nothing changes).
*/
KFTS_API int kfts_init(void);

/*
** Registers the "kfts" FTS5 tokenizer on DB, so that tables declared with
** tokenize='kfts' (or 'porter kfts') can be read and written. Returns KFTS_OK or
** KFTS_EDB (FTS5 missing or too old).
*/
KFTS_API int kfts_register(struct sqlite3 *db, kfts_error *err);

/* One token, as kfts_tokens() reports it. */
typedef struct kfts_token {
  const char *text; /* normalised token text, not NUL-terminated; borrowed for the call */
  int len;          /* bytes */
  int start, end;   /* byte range in the input */
  int colocated;    /* 1: same position as the token before */
} kfts_token;

/*
** Tokenizes TEXT as the index does (QUERY = 0) or as a MATCH query does (QUERY = 1), calling
** CB for each token; CB returns 0 to go on. Returns KFTS_OK or KFTS_ENOMEM.
*/
KFTS_API int kfts_tokens(const char *text, size_t len, int query,
                         int (*cb)(void *ctx, const kfts_token *tok), void *ctx);

/* ------------------------------------------------------------------------ */
/* The index.                                                                */

typedef struct kfts_db kfts_db;

#define KFTS_OPEN_READONLY 0x1 /* queries: never writes */
#define KFTS_OPEN_CREATE 0x2   /* create the database when missing */

/*
** Opens (and with KFTS_OPEN_CREATE creates or migrates) the index at PATH.
** Returns KFTS_OK; KFTS_ESCHEMA when the file was written by a newer kfts (or, read-only,
** needs a rebuild); KFTS_EDB otherwise. Close with kfts_db_close().
** *REBUILT_OUT (may be NULL) is set to 1 when an older schema was dropped and recreated.
*/
KFTS_API int kfts_db_open(kfts_db **out, int *rebuilt_out, const char *path, int flags,
                          kfts_error *err);
KFTS_API void kfts_db_close(kfts_db *db);

/* Called for every per-file event of an index run. LINE 0 = whole file. */
typedef void (*kfts_report_fn)(void *ctx, const char *path, int line, const char *message);

typedef struct kfts_index_opts {
  const char *manifest; /* explicit manifest file, or NULL to use ROOT/kfts.json */
  int full;             /* 1: re-index every file even when unchanged */
  int follow_symlinks;  /* 1: follow symlinks inside roots */
  kfts_report_fn report;
  void *report_ctx;
  /* After each file: files done of FILES_TOTAL, bytes read, articles written so far. */
  void (*progress)(void *ctx, size_t files_done, size_t files_total, size_t bytes_done,
                   size_t articles); /* or NULL */
  /* Each file's fate, for --verbose: WHAT is "indexed" (N_ARTICLES), "unchanged" or
  ** "removed". Or NULL. */
  void (*event)(void *ctx, const char *path, const char *what, size_t n_articles);
  int optimize; /* 1: merge the FTS index into one segment at the end, changed or not */
} kfts_index_opts;

typedef struct kfts_index_stats {
  size_t files_seen, files_indexed, files_unchanged, files_removed, files_failed;
  size_t articles;   /* articles written in this run */
  size_t warnings;   /* diagnostics reported */
  double seconds;
} kfts_index_stats;

/*
** Indexes the files and directories in PATHS (recursively) into DB. Files that cannot be
** read or parsed are reported through opts->report and counted in files_failed; the rest
** still index. Returns KFTS_OK (check stats->files_failed), or KFTS_EDB / KFTS_EUSAGE
** (bad manifest) when the run could not proceed.
*/
KFTS_API int kfts_index_paths(kfts_db *db, const char *const *paths, size_t n_paths,
                              const kfts_index_opts *opts, kfts_index_stats *stats,
                              kfts_error *err);

/* The roots indexed before, for `kfts-index` without arguments. Free with kfts_strv_free. */
KFTS_API int kfts_db_roots(kfts_db *db, char ***roots_out, size_t *n_out, kfts_error *err);
KFTS_API void kfts_strv_free(char **v, size_t n);

/* ------------------------------------------------------------------------ */
/* Search: the query language of README.md.                                  */

#define KFTS_SORT_RELEVANCE 0
#define KFTS_SORT_DATE 1
#define KFTS_SORT_IMPORTANCE 2

typedef struct kfts_search_opts {
  const char *query;        /* the query, in the query language */
  size_t limit, offset;     /* the page of hits (limit 10) */
  int sort;                 /* KFTS_SORT_* */
  double importance_weight; /* W of the importance factor (0.25); 0 = pure relevance */
  double recent_half_life;  /* days; 0 = no recency factor */
  int no_aliases;           /* 1: no alias expansion */
  const char *aliases_file; /* more aliases (JSON), or NULL */
  const char *const *alias_files; /* and these (the config file's), n_alias_files of them */
  size_t n_alias_files;
  int strict;               /* 1: no relaxed fallback */
  int count_only;           /* 1: only total */
  int snippet_tokens;       /* snippet length in tokens (24); 0 = no snippets */
  int collapse;             /* 1: one hit per story cluster, the others in its "similar" */
} kfts_search_opts;

/* An article named beside a hit (another member of its story cluster). */
typedef struct kfts_member {
  int64_t id;
  char *title, *date, *source; /* date, source may be NULL */
} kfts_member;

/* Sets the defaults. */
KFTS_API void kfts_search_opts_init(kfts_search_opts *o);

typedef struct kfts_hit {
  int64_t id;  /* stable (see README) */
  int64_t doc; /* its row in this index: articles.doc, FTS5's rowid; new when its file changes */
  char *title, *url, *date, *date_source, *source, *file;
  char **topics;
  size_t n_topics;
  int importance; /* -1 = none */
  int line;
  double score;             /* relevance * importance_factor * recency_factor; higher is better */
  double relevance;         /* -bm25 with field weights */
  double importance_factor; /* exp(W * (importance - 5) / 5), 1 without importance */
  double recency_factor;    /* 1 without --recent */
  int matched;              /* query parts this hit matches (fewer than all when relaxed) */
  char *snippet;            /* plain text, or NULL */
  int *highlights;          /* n_highlights pairs [start, end): character offsets in snippet */
  size_t n_highlights;
  kfts_member *similar;     /* with collapse: the other members of its story cluster */
  size_t n_similar;
  int collapsed;            /* 1: the search collapsed clusters */
} kfts_hit;

typedef struct kfts_result {
  char *fts_query;  /* the FTS5 expression that ran (relaxed: the OR of the parts), or NULL */
  char *sql_filter; /* the SQL conditions of the filters, values written in; "" when none */
  size_t total;     /* matching articles (with collapse: clusters), before limit/offset */
  int collapsed;    /* 1: one hit per story cluster */
  int64_t similar_to; /* kfts_similar(): the article the hits are like (score = similarity) */
  int relaxed;      /* 1: no article has every part; hits match some */
  size_t n_parts;   /* the query's top-level parts */
  char *note;       /* when nothing matched: why, if known; else NULL */
  kfts_hit *hits;
  size_t n_hits;
} kfts_result;

/*
** Runs the search O->query. Returns KFTS_OK (check total and n_hits), KFTS_EUSAGE for a
** bad query (ERR names the position), KFTS_EIO for an unreadable alias file, KFTS_EDB.
** Free with kfts_result_free().
*/
KFTS_API int kfts_search(kfts_result **out, kfts_db *db, const kfts_search_opts *o, kfts_error *err);
KFTS_API void kfts_result_free(kfts_result *r);

/* 1 when NAME is a hit field of the JSON output (rank, id, title, ...). */
KFTS_API int kfts_hit_field_known(const char *name);

struct kfts_facets;
/* The result as the JSON object documented in README; FIELDS (NULL = all) choose the hit
** fields; hits are ranked from FIRST_RANK; FACETS (or NULL) add "facets". kfts_free(). */
KFTS_API char *kfts_result_json(const kfts_result *r, const char *query, const char *const *fields,
                                size_t n_fields, size_t first_rank, const struct kfts_facets *facets);

/* One hit as one JSON line (INDENT 0) or indented object; RELAXED >= 0 adds "relaxed". */
KFTS_API char *kfts_hit_json(const kfts_hit *x, size_t rank, const char *const *fields, size_t n_fields,
                             int relaxed, int indent);

/* ------------------------------------------------------------------------ */
/* Timelines and facets of a query's matches.                                */

#define KFTS_BY_DAY 0
#define KFTS_BY_WEEK 1 /* ISO weeks, "2025-W03" */
#define KFTS_BY_MONTH 2
#define KFTS_BY_YEAR 3

typedef struct kfts_count {
  char *value; /* NULL: none (an article without source or date) */
  size_t count;
} kfts_count;

typedef struct kfts_bucket {
  char period[16];        /* "2025-01-10", "2025-W02", "2025-01", "2025" */
  char start[11], end[11]; /* its first and last day */
  size_t count;
  int64_t top_id;          /* its best hit (same score as the ranked list), when count > 0 */
  char *top_title;
  char top_date[11];
  double top_score;
  char first[11], last[11]; /* dates of its first and last hit */
  kfts_count *sources;      /* per source ("" for none), with by_source */
  size_t n_sources;
} kfts_bucket;

typedef struct kfts_timeline {
  int by;              /* KFTS_BY_* */
  kfts_bucket *buckets; /* every period from the first hit's to the last's */
  size_t n_buckets;
  size_t peak;          /* index of the fullest bucket (the first of equals) */
  size_t undated;       /* matching articles without a date */
  size_t total;         /* matching articles */
  char first_seen[11];
} kfts_timeline;

/* "day", "week", "month", "year" -> KFTS_BY_*, else -1; and back. */
KFTS_API int kfts_timeline_by(const char *name);
KFTS_API const char *kfts_timeline_by_name(int by);

/*
** Counts the articles O->query matches (never relaxed) per period; BY is KFTS_BY_* or -1 to
** choose from the span (up to 45 days: day; 26 weeks: week; 5 years: month; else year).
** BY_SOURCE: per-source counts in each bucket. Free with kfts_timeline_free().
*/
KFTS_API int kfts_timeline_get(kfts_timeline **out, kfts_db *db, const kfts_search_opts *o, int by, int by_source,
                           kfts_error *err);
KFTS_API void kfts_timeline_free(kfts_timeline *t);
/* {"query","by","buckets":[...],"undated","first_seen","peak"} (README); kfts_free(). */
KFTS_API char *kfts_timeline_json(const kfts_timeline *t, const char *query);
/* A self-contained SVG bar chart of T; kfts_free(). */
KFTS_API char *kfts_timeline_svg(const kfts_timeline *t, const char *query);

typedef struct kfts_facets {
  kfts_count *source, *topic, *year; /* counts, largest first (years in order); topics top 20 */
  size_t n_source, n_topic, n_year;
} kfts_facets;

/* Counts of the articles O->query matches per source, topic and year. */
KFTS_API int kfts_facets_get(kfts_facets **out, kfts_db *db, const kfts_search_opts *o, kfts_error *err);
KFTS_API void kfts_facets_free(kfts_facets *f);

/* The LIMIT articles whose text is most like article ID's (story clusters), most similar
** first; each hit's score is the similarity (0..1). KFTS_EUSAGE when ID is unknown. */
KFTS_API int kfts_similar(kfts_result **out, kfts_db *db, int64_t id, size_t limit, kfts_error *err);

/* Alias suggestions mined from the indexed text ("데이터 센터(data center)"), as JSON
** {"aliases": [[ko, en], ...], "evidence": [...]}, pairs already aliases left out.
** Free with kfts_free(). */
KFTS_API int kfts_suggest_aliases(kfts_db *db, char **json_out, kfts_error *err);

/* ------------------------------------------------------------------------ */
/* The user's defaults.                                                      */

typedef struct kfts_config {
  char *path;               /* the file read (or looked for) */
  char *db;                 /* or NULL */
  size_t limit;             /* 0 = not set */
  int color;                /* -1 not set, 0 never, 1 always, 2 auto */
  double importance_weight; /* NaN = not set */
  char **aliases;           /* alias files */
  size_t n_aliases;
} kfts_config;

/* $XDG_CONFIG_HOME/kfts/config.json, else ~/.config/kfts/config.json; NULL without HOME.
** Free with kfts_free(). */
KFTS_API char *kfts_config_path(void);
/* Reads PATH (NULL: kfts_config_path()) into *C; a missing file leaves everything unset.
** KFTS_EUSAGE names the file and key of a bad one. Free with kfts_config_free(). */
KFTS_API int kfts_config_load(kfts_config *c, const char *path, kfts_error *err);
KFTS_API void kfts_config_free(kfts_config *c);

#ifdef __cplusplus
}
#endif
#endif /* KFTS_H */
