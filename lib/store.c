/*
** store.c -- the SQLite index: schema and its version, opening, and incremental indexing
** of files and folders (walk, change detection, per-file replacement, removals).
** Parsing is format.c's; searching is search.c's.
**
** Schema (user_version KFTSP_SCHEMA_VERSION; 1 used unicode61, 2 the kfts tokenizer, 3 adds
** story clusters and puts the metadata columns before the text, 4 adds articles_meta, 5 fills
** it and articles_fts from write_doc() instead of an insert trigger, 6 removes an article's
** rows from remove_articles() instead of a delete trigger, 7 adds docvals, 8 keys the
** article rows by doc instead of the stable id, 9 adds cluster_pairs (which every writer
** must keep, so kfts before 9 may not write it); an index of 8 gains the table in place,
** an older one is rebuilt from its files, its roots kept):
**   meta(key, value)              created_with, tokenizer, aliases:ROOT
**   roots(path)                   folders and files indexed before (absolute)
**   files(id, path, size, mtime_ns, hash, config, format, n_articles, indexed_at)
**   articles(doc, id, file_id, ord, line, date, source, importance, date_source,
**            published_at, time_offset, url, topics, title, summary, body)
**                                 doc: the row number, FTS5's rowid, counted on from the
**                                 largest (last_doc); id: the stable id users see (article_id)
**   articles_meta(doc, sz, date, importance, source, topics)   compact copy of the metadata
**                                 and %_docsize's lengths (scan.c)
**   topics(topic, doc)            one row per topic, for filters and counts
**   articles_text                 view: articles with body unpacked (packtext.c)
**   articles_fts                  FTS5, external content = articles_text; rows written by
**                                 write_doc() and removed by remove_articles(), both
**                                 through the batch's queue (flush_pending)
**   signatures(doc, n, sig), clusters(doc, cluster), cluster_pairs(a, b)   cluster.c; the
**                                 pairs exact when meta 'clusters' = '1'
**   docvals(block, v)             lengths, importance and days by block of docs, for scoring
**                                 (docvals.c); current when meta 'docvals' = '1' or '2'
**   facet_names, facetvals(block, v)  source, year and topic ids by block, for facets
**                                 (facetvals.c); current when meta 'docvals' = '2'
*/
#include "kfts_int.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#define KFTSP_SCHEMA_VERSION 9

/* articles_meta: each article's metadata and its length (%_docsize's blob) in a few dozen
** bytes, in doc order. scan.c walks it beside FTS5's matches instead of looking each match up
** in articles, whose rows hold the text, and in %_docsize (100k articles: 6 ms for the walk,
** 45 for the look-ups). write_doc() fills it; remove_articles() empties it. */
#define META_TABLE                                                                              \
  "CREATE TABLE articles_meta(doc INTEGER PRIMARY KEY, sz BLOB, date TEXT, importance INTEGER," \
  " source TEXT, topics TEXT);"
/* No triggers: write_doc() and remove_articles() write each table with a statement of its
** own, because a statement that writes two tables opens a statement savepoint, and SQLite
** 3.40's FTS5 flushes its pending terms to a new segment at every one (with an insert
** trigger, a segment per article: 60 % of a build; with the delete trigger schema 5 had, a
** segment per changed file: a third of an incremental run). */
/* FTS5 keeps up to 16 MB of terms in memory before it writes a segment (default 1 MB): fewer,
** larger segments to merge; a 10k-article build 2.29 -> 1.76 s. */
/* A reader's connection (and the scan's second one): mapped pages, as many as SQLite allows
** (2 GB in Debian's build; a page past the map is read with a copy), and a 64 MB cache. */
#define READER_PRAGMAS "PRAGMA mmap_size=17179869184; PRAGMA cache_size=-65536;"
#define DOCVALS_TABLE "CREATE TABLE IF NOT EXISTS docvals(block INTEGER PRIMARY KEY, v BLOB);"
#define FTS_CONFIG "INSERT INTO articles_fts(articles_fts, rank) VALUES ('hashsize', 16777216);"
/* Bump when a parser change should re-index unchanged files. */
#define KFTSP_PARSER_VERSION "2" /* 2: C0 controls dropped from text */
/* The FTS5 tokenizer: the one place it is chosen. */
#define KFTSP_TOKENIZE "porter kfts"
/* Files per transaction (and a byte budget), so a crash loses at most one batch. */
#define BATCH_FILES 256
#define BATCH_BYTES (32u << 20)
#define MAX_FILE_BYTES ((size_t)512 << 20)

struct kfts_db {
  sqlite3 *h;
  char *dir; /* absolute folder of the database file; file paths inside it are stored relative */
  char *abs; /* absolute path of the database file */
  int readonly;
  sqlite3 *worker; /* kftsp_db_worker's, or NULL */
  int worker_failed;
  kftsp_dv_cache *dvc; /* kftsp_db_dvcache's, or NULL */
  kftsp_pool *pool;     /* kftsp_db_pool's, or NULL */
  kftsp_helper *helper; /* kftsp_db_helper's, or NULL */
  int helper_failed;
  kftsp_aliases *aliases; /* kftsp_db_aliases_all's, read at ALIASES_STATE */
  int64_t aliases_state[2];
};

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;" DOCVALS_TABLE
    "CREATE TABLE IF NOT EXISTS roots(path TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE files("
    " id INTEGER PRIMARY KEY,"
    " path TEXT NOT NULL UNIQUE,"
    " size INTEGER NOT NULL,"
    " mtime_ns INTEGER NOT NULL,"
    " hash TEXT NOT NULL,"
    " config TEXT NOT NULL,"
    " format TEXT NOT NULL,"
    " n_articles INTEGER NOT NULL,"
    " indexed_at TEXT NOT NULL);"
    /* Metadata first, text last: filters, timelines and facets read a row's first bytes
    ** and never the overflow pages of a long body. */
    "CREATE TABLE articles("
    " doc INTEGER PRIMARY KEY,"
    " id INTEGER NOT NULL UNIQUE,"
    " file_id INTEGER NOT NULL REFERENCES files(id),"
    " ord INTEGER NOT NULL,"
    " line INTEGER NOT NULL,"
    " date TEXT,"
    " source TEXT,"
    " importance INTEGER CHECK (importance BETWEEN 0 AND 10),"
    " date_source TEXT,"
    " published_at TEXT,"
    " time_offset TEXT,"
    " url TEXT,"
    " topics TEXT NOT NULL,"
    " title TEXT NOT NULL,"
    " summary TEXT,"
    " body TEXT NOT NULL);"
    /* FTS5's content: the text with body unpacked (packtext.c). */
    "CREATE VIEW articles_text AS SELECT doc, title, summary, kfts_text(body) AS body, topics FROM articles;"
    "CREATE INDEX articles_file ON articles(file_id, ord);"
    "CREATE INDEX articles_date ON articles(date);"
    "CREATE INDEX articles_source ON articles(source COLLATE NOCASE);"
    "CREATE TABLE topics("
    " topic TEXT NOT NULL,"
    " doc INTEGER NOT NULL REFERENCES articles(doc),"
    " PRIMARY KEY(topic, doc)) WITHOUT ROWID;"
    "CREATE INDEX topics_doc ON topics(doc);"
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, summary, body, topics,"
    " content='articles_text', content_rowid='doc', tokenize='" KFTSP_TOKENIZE "');"
    META_TABLE
    "CREATE TABLE signatures(doc INTEGER PRIMARY KEY, n INTEGER NOT NULL, sig BLOB NOT NULL);"
    "CREATE TABLE clusters(doc INTEGER PRIMARY KEY, cluster INTEGER NOT NULL);"
    "CREATE INDEX clusters_cluster ON clusters(cluster);"
    FTS_CONFIG;

/* What the user can do about the connection's last error, if anything. */
static const char *db_hint(sqlite3 *h) {
  int code = h ? sqlite3_errcode(h) & 0xff : 0; /* the primary code */
  return code == SQLITE_FULL || code == SQLITE_IOERR
             ? " (disk full, or a file size limit?); the index keeps its last complete state"
         : code == SQLITE_READONLY ? " (no write permission?)"
                                   : "";
}

static int db_err(kfts_error *err, sqlite3 *h, const char *what) {
  return kftsp_err(err, KFTS_EDB, "database", 0, "%s: %s%s", what, h ? sqlite3_errmsg(h) : "?", db_hint(h));
}

static int exec(sqlite3 *h, const char *sql, kfts_error *err) {
  char *msg = NULL;
  if (sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK) return KFTS_OK;
  int rc = kftsp_err(err, KFTS_EDB, "database", 0, "%s%s", msg ? msg : sqlite3_errmsg(h), db_hint(h));
  sqlite3_free(msg);
  return rc;
}

static int user_version(sqlite3 *h, int *v) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return 0;
  int ok = sqlite3_step(st) == SQLITE_ROW;
  if (ok) *v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return ok;
}

static int table_count(sqlite3 *h) {
  sqlite3_stmt *st;
  int n = -1;
  if (sqlite3_prepare_v2(h, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

static int create_schema(sqlite3 *h, kfts_error *err) {
  char sql[256];
  int rc = exec(h, "BEGIN IMMEDIATE", err);
  if (rc == KFTS_OK) rc = exec(h, schema_sql, err);
  if (rc == KFTS_OK && kftsp_cluster_schema(h) != SQLITE_OK) rc = db_err(err, h, "creating cluster_pairs");
  snprintf(sql, sizeof sql,
           "INSERT INTO meta VALUES ('created_with', '%s'), ('tokenizer', '%s');"
           "PRAGMA user_version = %d;",
           KFTS_VERSION, KFTSP_TOKENIZE, KFTSP_SCHEMA_VERSION);
  if (rc == KFTS_OK) rc = exec(h, sql, err);
  if (rc == KFTS_OK) rc = exec(h, "COMMIT", err);
  else sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* Drops every table of an older schema but roots (the data is re-derived from the files). */
static int drop_all(sqlite3 *h, kfts_error *err) {
  int rc = exec(h, "BEGIN IMMEDIATE", err);
  while (rc == KFTS_OK) {
    sqlite3_stmt *st;
    char *name = NULL, *type = NULL;
    if (sqlite3_prepare_v2(h,
                           "SELECT name, type FROM sqlite_schema WHERE type IN ('table','view')"
                           " AND name NOT LIKE 'sqlite_%' AND name != 'roots' ORDER BY (sql LIKE 'CREATE VIRTUAL%') DESC"
                           " LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
      return db_err(err, h, "reading old schema");
    if (sqlite3_step(st) == SQLITE_ROW) {
      name = kftsp_strdup((const char *)sqlite3_column_text(st, 0));
      type = kftsp_strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    if (!name) {
      kftsp_free(type);
      break;
    }
    /* Names come from sqlite_schema, quoted with %w. */
    char *sql = sqlite3_mprintf("DROP %s IF EXISTS \"%w\"", type && !strcmp(type, "view") ? "VIEW" : "TABLE", name);
    rc = sql ? exec(h, sql, err) : KFTS_ENOMEM;
    sqlite3_free(sql);
    kftsp_free(name);
    kftsp_free(type);
  }
  if (rc == KFTS_OK) rc = exec(h, "PRAGMA user_version = 0; COMMIT", err);
  else sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

fts5_api *kftsp_fts5_api(sqlite3 *db) {
  fts5_api *api = NULL;
  sqlite3_stmt *st = NULL;
  if (kftsp_prepare(db, "SELECT fts5(?1)", &st) == SQLITE_OK) { /* kept: scan.c asks at each query */
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
  }
  kftsp_finalize(st);
  return api;
}

int kftsp_table_tokenizer(sqlite3 *db, fts5_tokenizer *tok, Fts5Tokenizer **inst) {
  fts5_api *api = kftsp_fts5_api(db);
  void *tctx = NULL;
  const char *inner[] = {"kfts"}; /* KFTSP_TOKENIZE's wrapped one */
  *inst = NULL;
  if (!api) return SQLITE_ERROR;
  int rc = api->xFindTokenizer(api, "porter", &tctx, tok);
  return rc == SQLITE_OK ? tok->xCreate(tctx, inner, 1, inst) : rc;
}

int kftsp_db_aliases(kfts_db *db, kftsp_aliases *a, kfts_error *err) {
  int rc = kftsp_aliases_add_builtin(a, err);
  if (rc) return rc;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db->h, "SELECT key, value FROM meta WHERE key >= 'aliases:' AND key < 'aliases;'", -1,
                         &st, NULL) != SQLITE_OK)
    return kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(db->h));
  while (rc == KFTS_OK && sqlite3_step(st) == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(st, 1);
    char where[600];
    snprintf(where, sizeof where, "kfts.json of %s", (const char *)sqlite3_column_text(st, 0) + 8);
    if (v) rc = kftsp_aliases_add_json(a, v, strlen(v), where, err);
  }
  sqlite3_finalize(st);
  return rc;
}

int kftsp_db_state(sqlite3 *h, int64_t st[2]) {
  sqlite3_stmt *q;
  int ok = kftsp_prepare(h, "PRAGMA data_version", &q) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW;
  st[0] = ok ? sqlite3_column_int64(q, 0) : -1;
  st[1] = sqlite3_total_changes64(h);
  kftsp_finalize(q);
  return ok ? 0 : -1;
}

int kftsp_db_aliases_all(kfts_db *db, const kftsp_aliases **out, kfts_error *err) {
  int64_t st[2];
  *out = NULL;
  if (db->aliases && !kftsp_db_state(db->h, st) && st[0] == db->aliases_state[0] && st[1] == db->aliases_state[1]) {
    *out = db->aliases;
    return KFTS_OK;
  }
  kftsp_aliases_free(db->aliases);
  db->aliases = NULL;
  kftsp_aliases *a;
  if (kftsp_aliases_new(&a)) return kftsp_err(err, KFTS_ENOMEM, "", 0, "out of memory");
  int rc = kftsp_db_state(db->h, db->aliases_state) ? kftsp_err(err, KFTS_EDB, "database", 0, "%s", sqlite3_errmsg(db->h)) : KFTS_OK;
  if (!rc) rc = kftsp_db_aliases(db, a, err);
  if (rc) {
    kftsp_aliases_free(a);
    return rc;
  }
  *out = db->aliases = a;
  return KFTS_OK;
}

int kfts_init(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK ? KFTS_OK : KFTS_EUSAGE; }

int kfts_register(sqlite3 *db, kfts_error *err) {
  fts5_api *api = kftsp_fts5_api(db);
  int rc = kftsp_register_tokenizer(api);
  if (rc == SQLITE_OK) rc = kftsp_search_register(db, api);
  if (rc == SQLITE_OK) rc = kftsp_packtext_register(db);
  if (rc != SQLITE_OK)
    return kftsp_err(err, KFTS_EDB, "database", 0, "cannot register the kfts tokenizer: FTS5 %s",
                     api ? "is too old" : "is not compiled into this SQLite");
  return KFTS_OK;
}

/* An index of version 8 brought to 9 in place: cluster_pairs added (the next run that changes
** articles fills it, re-clustering whole). */
static int upgrade_from_8(sqlite3 *h, kfts_error *err) {
  int rc = exec(h, "BEGIN IMMEDIATE", err);
  if (rc == KFTS_OK && kftsp_cluster_schema(h) != SQLITE_OK) rc = db_err(err, h, "creating cluster_pairs");
  if (rc == KFTS_OK) rc = exec(h, "DELETE FROM meta WHERE key = 'clusters'; PRAGMA user_version = 9; COMMIT", err);
  if (rc != KFTS_OK) sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int kfts_db_open(kfts_db **out, int *rebuilt_out, const char *path, int flags, kfts_error *err) {
  *out = NULL;
  if (rebuilt_out) *rebuilt_out = 0;
  int ro = (flags & KFTS_OPEN_READONLY) != 0;
  struct stat stbuf;
  if (stat(path, &stbuf) != 0) {
    if (ro || !(flags & KFTS_OPEN_CREATE))
      return kftsp_err(err, KFTS_EDB, path, 0, "no index here (%s); run kfts-index first",
                       strerror(errno));
  }
  kfts_db *db = kftsp_malloc(sizeof *db);
  if (!db) return KFTS_ENOMEM;
  memset(db, 0, sizeof *db);
  db->readonly = ro;
  int oflags = ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = KFTS_OK;
  if (sqlite3_open_v2(path, &db->h, oflags | SQLITE_OPEN_NOMUTEX, ro ? kftsp_map_vfs() : NULL) != SQLITE_OK) {
    rc = kftsp_err(err, KFTS_EDB, path, 0, "cannot open database: %s",
                   db->h ? sqlite3_errmsg(db->h) : "out of memory");
    goto done;
  }
  sqlite3_busy_timeout(db->h, 10000);
  sqlite3_extended_result_codes(db->h, 1);
  if ((rc = kfts_register(db->h, err)) != KFTS_OK) goto done;
  int v = 0;
  if (!user_version(db->h, &v)) {
    if ((sqlite3_errcode(db->h) & 0xff) == SQLITE_READONLY)
      /* A WAL database needs its -shm file, made next to it, even to be read. */
      rc = kftsp_err(err, KFTS_EDB, path, 0,
                     ro ? "cannot read: SQLite needs to write %s-shm beside it (the folder is not writable?)"
                        : "cannot write: the database or its folder is read-only%.0s; nothing was changed",
                     path);
    else
      rc = kftsp_err(err, KFTS_EDB, path, 0, "not a kfts database: %s", sqlite3_errmsg(db->h));
    goto done;
  }
  if (v > KFTSP_SCHEMA_VERSION) {
    rc = kftsp_err(err, KFTS_ESCHEMA, path, 0,
                   "index has schema version %d, newer than this kfts understands (%d); "
                   "use a newer kfts or rebuild it with kfts-index --db NEW",
                   v, KFTSP_SCHEMA_VERSION);
    goto done;
  }
  int tables = table_count(db->h);
  if (tables < 0) {
    rc = kftsp_err(err, KFTS_EDB, path, 0, "not a kfts database: %s", sqlite3_errmsg(db->h));
    goto done;
  }
  if (v == 0 && tables > 0) {
    rc = kftsp_err(err, KFTS_ESCHEMA, path, 0,
                   "this SQLite database was not made by kfts; refusing to touch it");
    goto done;
  }
  if (v == 8) { /* 9 but for cluster_pairs: readers need nothing of it */
    if (!ro && (rc = upgrade_from_8(db->h, err)) != KFTS_OK) goto done;
  } else if (v < KFTSP_SCHEMA_VERSION) {
    if (ro) {
      rc = kftsp_err(err, KFTS_ESCHEMA, path, 0,
                     v ? "index has an older schema (%d); run kfts-index to update it"
                       : "empty database%.0d; run kfts-index first",
                     v);
      goto done;
    }
    /* 16 KB pages for a new file (an existing one keeps its own): fewer part-filled pages
    ** and overflow chains for the articles' text; 100k articles 305 -> 293 MB, queries the
    ** same. */
    rc = exec(db->h, "PRAGMA page_size=16384; PRAGMA journal_mode=WAL", err);
    /* Older schemas (7 and before keyed FTS5 by the stable ids) are rebuilt from the files;
    ** the folders indexed before are kept, so a plain kfts-index run finds them again. */
    if (rc == KFTS_OK && v != 0) {
      rc = drop_all(db->h, err);
      if (rebuilt_out) *rebuilt_out = 1;
    }
    if (rc == KFTS_OK) rc = create_schema(db->h, err);
    if (rc) goto done;
  }
  if (!ro) rc = exec(db->h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
  /* Readers map the file (no read() copies) and keep more pages: timelines and facets of a
  ** broad query touch every matching row. The indexer does not: its memory stays bounded. */
  if (rc == KFTS_OK && ro) rc = exec(db->h, READER_PRAGMAS, err);
  /* A reader keeps its statements between queries (kftsp_prepare). */
  if (rc == KFTS_OK && ro) kftsp_stmt_attach(db->h);
  /* The indexer: a fixed 64 MB page cache (FTS5 merges re-read segment pages; 2 MB, the
  ** default, cost about 15 % of a 10k-article build). */
  if (rc == KFTS_OK && !ro) rc = exec(db->h, "PRAGMA cache_size=-65536;", err);
  if (rc) goto done;
  char abs[4096];
  if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
  db->abs = kftsp_strdup(abs);
  char *slash = strrchr(abs, '/');
  if (slash) *slash = 0;
  db->dir = kftsp_strdup(abs);
  if (!db->abs || !db->dir) rc = KFTS_ENOMEM;
done:
  if (rc) {
    kfts_db_close(db);
    return rc;
  }
  *out = db;
  return KFTS_OK;
}

void kfts_db_close(kfts_db *db) {
  if (!db) return;
  kftsp_helper_free(db->helper);
  kftsp_stmt_detach(db->worker);
  kftsp_stmt_detach(db->h);
  sqlite3_close(db->worker);
  sqlite3_close(db->h);
  kftsp_dv_cache_free(db->dvc);
  kftsp_pool_free(db->pool);
  kftsp_aliases_free(db->aliases);
  kftsp_free(db->dir);
  kftsp_free(db->abs);
  kftsp_free(db);
}

sqlite3 *kftsp_db_handle(kfts_db *db) { return db->h; }

sqlite3 *kftsp_db_worker(kfts_db *db) {
  if (db->worker || db->worker_failed || !db->abs) return db->worker;
  sqlite3 *h = NULL;
  kfts_error err = {0};
  if (sqlite3_open_v2(db->abs, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, kftsp_map_vfs()) != SQLITE_OK ||
      kfts_register(h, &err) != KFTS_OK) {
    sqlite3_close(h);
    db->worker_failed = 1;
    return NULL;
  }
  sqlite3_busy_timeout(h, 10000);
  sqlite3_extended_result_codes(h, 1);
  sqlite3_exec(h, READER_PRAGMAS, NULL, NULL, NULL);
  kftsp_stmt_attach(h);
  return db->worker = h;
}

kftsp_dv_cache *kftsp_db_dvcache(kfts_db *db) { return db->dvc ? db->dvc : (db->dvc = kftsp_dv_cache_new()); }

kftsp_pool *kftsp_db_pool(kfts_db *db) { return db->pool ? db->pool : (db->pool = kftsp_pool_new()); }

int kftsp_db_pair(kfts_db *db, sqlite3 **worker, kftsp_helper **hp) {
  *worker = db->worker;
  *hp = db->helper;
  return db->worker && db->helper && kftsp_helper_awake(db->helper);
}

kftsp_helper *kftsp_db_helper(kfts_db *db) {
  if (!db->helper && !db->helper_failed) db->helper_failed = !(db->helper = kftsp_helper_new());
  return db->helper;
}

int kfts_db_roots(kfts_db *db, char ***roots_out, size_t *n_out, kfts_error *err) {
  *roots_out = NULL;
  *n_out = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db->h, "SELECT path FROM roots ORDER BY path", -1, &st, NULL) != SQLITE_OK)
    return db_err(err, db->h, "reading roots");
  char **v = NULL;
  size_t n = 0;
  int rc = KFTS_OK;
  while (sqlite3_step(st) == SQLITE_ROW) {
    char **nv = kftsp_realloc(v, (n + 1) * sizeof *nv);
    if (!nv || !(nv[n] = kftsp_strdup((const char *)sqlite3_column_text(st, 0)))) {
      if (nv) v = nv;
      rc = KFTS_ENOMEM;
      break;
    }
    v = nv;
    n++;
  }
  sqlite3_finalize(st);
  if (rc) {
    kfts_strv_free(v, n);
    return rc;
  }
  *roots_out = v;
  *n_out = n;
  return KFTS_OK;
}

/* ------------------------------------------------------------------------ */
/* Indexing. */

typedef struct file_ent {
  char *abs; /* absolute path */
} file_ent;

typedef struct run {
  kfts_db *db;
  const kfts_index_opts *opts;
  kfts_index_stats *st;
  kfts_error *err;
  file_ent *files;
  size_t n_files, cap_files;
  sqlite3_stmt *q_file, *ins_file, *upd_file, *upd_mtime, *del_articles, *upd_place, *del_file, *ins_article,
      *ins_topic, *exists_id, *del_sig, *ins_sig, *ins_fts, *q_docsize, *ins_meta, *q_old, *del_meta,
      *del_topics, *del_cluster, *q_sig, *del_fts;
  size_t batch_files, batch_bytes;
  int changed; /* an article was written or deleted: clusters are recomputed */
  kftsp_u64set seen; /* folders walked, by device and inode (visit_dir) */
  size_t done_files, done_bytes; /* for progress */
  int in_txn;
  /* The batch's articles waiting for their FTS and articles_meta rows (flush_pending), and
  ** the parsed files that own their text. */
  struct pending {
    int64_t doc;
    const kfts_article *a;
    char *topics;
  } *pend;
  size_t n_pend, cap_pend;
  /* The batch's removed articles waiting for their FTS 'delete' (which needs the text it
  ** indexed), written before the batch's inserts. */
  struct removal {
    int64_t doc;
    char *text[4]; /* title, summary, body, topics */
  } *dels;
  size_t n_dels, cap_dels, dels_bytes;
  kfts_doc **docs;
  size_t n_docs, cap_docs;
  /* docvals (docvals.c): the blocks this run changed; whether they were all current when it
  ** began; whether it has marked them not current yet (dv_mark). */
  kftsp_dv_dirty dv;
  int dv_was_valid, dv_marked;
  int cl_was_exact;    /* cluster_pairs held every pair when the run began (cluster.c) */
  int64_t first_doc;   /* the run's first new doc: kftsp_recluster_since looks for its pairs */
  kftsp_cluster_gone_t cl_gone; /* and in the buckets of the removed articles' signatures */
  uint64_t walk_bytes; /* of the files found */
  int optimize;        /* --full, or a large first build: 'optimize' at the end (set_automerge) */
  int64_t last_doc;    /* the largest articles.doc so far: new articles count on from it */
  kftsp_packer *pack;  /* bodies compressed (packtext.c) */
} run;

static void report(run *r, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(run *r, const char *path, int line, const char *fmt, ...) {
  if (!r->opts || !r->opts->report) return;
  char msg[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  r->opts->report(r->opts->report_ctx, path, line, msg);
}

static void event(run *r, const char *path, const char *what, size_t n) {
  if (r->opts && r->opts->event) r->opts->event(r->opts->report_ctx, path, what, n);
}

static int add_file(run *r, const char *abs, off_t size) {
  r->walk_bytes += size > 0 ? (uint64_t)size : 0;
  file_ent *v = kftsp_grow(r->files, r->n_files, &r->cap_files, sizeof *v, 64);
  if (!v) return KFTS_ENOMEM;
  r->files = v;
  char *p = kftsp_strdup(abs);
  if (!p) return KFTS_ENOMEM;
  r->files[r->n_files].abs = p;
  r->n_files++;
  return KFTS_OK;
}

/* Files the walk leaves alone: hidden ones, manifests, the database and its companions. */
static int skip_name(run *r, const char *abs, const char *name) {
  if (name[0] == '.') return 1;
  if (!strcmp(name, "kfts.json")) return 1;
  size_t dl = strlen(r->db->abs);
  if (!strncmp(abs, r->db->abs, dl) &&
      (!abs[dl] || !strcmp(abs + dl, "-wal") || !strcmp(abs + dl, "-shm") ||
       !strcmp(abs + dl, "-journal")))
    return 1;
  return 0;
}

/* Marks folder SB visited; 0 when it was already (a symlink loop, or a second way in). */
static int visit_dir(run *r, const struct stat *sb) {
  /* out of memory (-1): walk on; the depth limit still ends loops */
  return kftsp_u64set_add(&r->seen, ((uint64_t)sb->st_dev << 40) ^ (uint64_t)sb->st_ino) != 0;
}

static int walk(run *r, const char *dir, int depth) {
  struct stat dsb;
  if (stat(dir, &dsb) == 0 && !visit_dir(r, &dsb)) {
    report(r, dir, 0, "folder already indexed by another path (a symbolic link loop?); not descended");
    return KFTS_OK;
  }
  if (depth > 64) {
    report(r, dir, 0, "folders nested too deep; not descended");
    r->st->files_failed++;
    return KFTS_OK;
  }
  DIR *d = opendir(dir);
  if (!d) {
    report(r, dir, 0, "cannot read folder: %s", strerror(errno));
    r->st->files_failed++;
    return KFTS_OK;
  }
  int rc = KFTS_OK;
  struct dirent *e;
  while (rc == KFTS_OK && (e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *p = kftsp_printf("%s/%s", dir, e->d_name);
    if (!p) {
      rc = KFTS_ENOMEM;
      break;
    }
    struct stat sb;
    if (skip_name(r, p, e->d_name)) {
      /* skipped */
    } else if (lstat(p, &sb) != 0) {
      report(r, p, 0, "cannot stat: %s", strerror(errno));
      r->st->files_failed++;
    } else if (S_ISLNK(sb.st_mode)) {
      /* Symlinks are not followed unless asked, and then only to what stays a file or
      ** folder; a folder reached twice (a loop) is walked once. */
      if (r->opts && r->opts->follow_symlinks && stat(p, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) rc = walk(r, p, depth + 1);
        else if (S_ISREG(sb.st_mode)) rc = add_file(r, p, sb.st_size);
      }
    } else if (S_ISDIR(sb.st_mode)) {
      rc = walk(r, p, depth + 1);
    } else if (S_ISREG(sb.st_mode)) {
      rc = add_file(r, p, sb.st_size);
    }
    kftsp_free(p);
  }
  closedir(d);
  return rc;
}

static int cmp_files(const void *a, const void *b) {
  return strcmp(((const file_ent *)a)->abs, ((const file_ent *)b)->abs);
}

/* The stored form of a path: relative to the database's folder when inside it. */
static const char *file_key(run *r, const char *abs) {
  size_t dl = strlen(r->db->dir);
  if (!strncmp(abs, r->db->dir, dl) && abs[dl] == '/') return abs + dl + 1;
  return abs;
}

static int prepare(run *r) {
  static const struct {
    size_t off;
    const char *sql;
  } stmts[] = {
      {offsetof(run, q_file), "SELECT id, size, mtime_ns, hash, config FROM files WHERE path = ?1"},
      /* Two statements, not an upsert: see the note on triggers about statement savepoints. */
      {offsetof(run, ins_file),
       "INSERT INTO files(path, size, mtime_ns, hash, config, format, n_articles, indexed_at)"
       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%Y-%m-%dT%H:%M:%SZ','now')) RETURNING id"},
      {offsetof(run, upd_file),
       "UPDATE files SET size = ?2, mtime_ns = ?3, hash = ?4, config = ?5, format = ?6, n_articles = ?7,"
       " indexed_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?1"},
      {offsetof(run, upd_mtime), "UPDATE files SET mtime_ns = ?2, size = ?3 WHERE id = ?1"},
      {offsetof(run, del_articles), "DELETE FROM articles WHERE doc = ?1"},
      {offsetof(run, upd_place), "UPDATE articles SET ord = ?2, line = ?3 WHERE doc = ?1"},
      {offsetof(run, del_file), "DELETE FROM files WHERE id = ?1"},
      {offsetof(run, ins_article),
       "INSERT INTO articles(id, file_id, ord, line, title, summary, body, topics, url, date,"
       " date_source, published_at, source, importance, time_offset, doc)"
       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"},
      {offsetof(run, ins_topic), "INSERT OR IGNORE INTO topics(topic, doc) VALUES (?1, ?2)"},
      {offsetof(run, exists_id), "SELECT 1 FROM articles WHERE id = ?1"},
      {offsetof(run, del_sig), "DELETE FROM signatures WHERE doc = ?1"},
      {offsetof(run, ins_sig), "INSERT INTO signatures(doc, n, sig) VALUES (?1, ?2, ?3)"},
      {offsetof(run, ins_fts),
       "INSERT INTO articles_fts(rowid, title, summary, body, topics) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {offsetof(run, q_docsize), "SELECT sz FROM articles_fts_docsize WHERE id = ?1"},
      {offsetof(run, ins_meta),
       "INSERT INTO articles_meta(doc, sz, date, importance, source, topics) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      {offsetof(run, q_old),
       "SELECT doc, title, summary, kfts_text(body), topics, id, ord, line, url, date, date_source, published_at,"
       " source, importance, time_offset FROM articles WHERE file_id = ?1"},
      {offsetof(run, del_meta), "DELETE FROM articles_meta WHERE doc = ?1"},
      {offsetof(run, del_topics), "DELETE FROM topics WHERE doc = ?1"},
      {offsetof(run, del_cluster), "DELETE FROM clusters WHERE doc = ?1"},
      {offsetof(run, q_sig), "SELECT n, sig FROM signatures WHERE doc = ?1"},
      {offsetof(run, del_fts),
       "INSERT INTO articles_fts(articles_fts, rowid, title, summary, body, topics)"
       " VALUES ('delete', ?1, ?2, ?3, ?4, ?5)"},
  };
  for (size_t i = 0; i < KFTSP_ARRAY_LEN(stmts); i++) {
    sqlite3_stmt **slot = (sqlite3_stmt **)((char *)r + stmts[i].off);
    if (sqlite3_prepare_v3(r->db->h, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) !=
        SQLITE_OK)
      return db_err(r->err, r->db->h, "preparing statements");
  }
  return (r->pack = kftsp_packer_new()) ? KFTS_OK : KFTS_ENOMEM;
}

static void finalize_all(run *r) {
  sqlite3_finalize(r->q_file);
  sqlite3_finalize(r->ins_file);
  sqlite3_finalize(r->upd_file);
  sqlite3_finalize(r->upd_mtime);
  sqlite3_finalize(r->del_articles);
  sqlite3_finalize(r->upd_place);
  sqlite3_finalize(r->del_file);
  sqlite3_finalize(r->ins_article);
  sqlite3_finalize(r->ins_topic);
  sqlite3_finalize(r->exists_id);
  sqlite3_finalize(r->del_sig);
  sqlite3_finalize(r->ins_sig);
  sqlite3_finalize(r->ins_fts);
  sqlite3_finalize(r->q_docsize);
  sqlite3_finalize(r->ins_meta);
  sqlite3_finalize(r->q_old);
  sqlite3_finalize(r->del_meta);
  sqlite3_finalize(r->del_topics);
  sqlite3_finalize(r->del_cluster);
  sqlite3_finalize(r->q_sig);
  sqlite3_finalize(r->del_fts);
  kftsp_packer_free(r->pack);
  r->pack = NULL;
}

static int step_done(run *r, sqlite3_stmt *st, const char *what);
static void bind_text(sqlite3_stmt *st, int i, const char *s);

static void drop_removals(run *r) {
  for (size_t i = 0; i < r->n_dels; i++)
    for (int k = 0; k < 4; k++) kftsp_free(r->dels[i].text[k]);
  r->n_dels = r->dels_bytes = 0;
}

static void drop_pending(run *r) {
  drop_removals(r);
  for (size_t i = 0; i < r->n_pend; i++) kftsp_free(r->pend[i].topics);
  r->n_pend = 0;
  for (size_t i = 0; i < r->n_docs; i++) kfts_doc_free(r->docs[i]);
  r->n_docs = 0;
}

static int cmp_pending(const void *a, const void *b) {
  int64_t x = ((const struct pending *)a)->doc, y = ((const struct pending *)b)->doc;
  return x < y ? -1 : x > y;
}

static int cmp_removal(const void *a, const void *b) {
  int64_t x = ((const struct removal *)a)->doc, y = ((const struct removal *)b)->doc;
  return x < y ? -1 : x > y;
}

/* The queued FTS deletions, in ascending rowid order. */
static int flush_removals(run *r) {
  kftsp_sort(r->dels, r->n_dels, sizeof *r->dels, cmp_removal);
  int rc = KFTS_OK;
  for (size_t i = 0; i < r->n_dels && rc == KFTS_OK; i++) {
    sqlite3_bind_int64(r->del_fts, 1, r->dels[i].doc);
    for (int k = 0; k < 4; k++) bind_text(r->del_fts, k + 2, r->dels[i].text[k]);
    rc = step_done(r, r->del_fts, "removing an article from the index");
    sqlite3_clear_bindings(r->del_fts);
  }
  drop_removals(r);
  return rc;
}

/* The batch's signatures: CPU work on the parsed text alone (no SQLite), done on a second
** thread while the first writes the FTS rows. */
typedef struct sig_job {
  const struct pending *pend;
  size_t n;
  kftsp_sig *sig;
  int rc;
} sig_job;

static void *sig_main(void *p) {
  sig_job *j = p;
  for (size_t i = 0; i < j->n && j->rc == KFTS_OK; i++) {
    const kfts_article *a = j->pend[i].a;
    const char *parts[] = {a->title, a->summary, a->body};
    j->rc = kftsp_signature(parts, 3, &j->sig[i]);
  }
  return NULL;
}

static int write_signatures(run *r, const sig_job *j) {
  int rc = KFTS_OK;
  for (size_t i = 0; i < j->n && rc == KFTS_OK; i++) {
    sqlite3_bind_int64(r->del_sig, 1, j->pend[i].doc);
    rc = step_done(r, r->del_sig, "writing a signature");
    if (rc) break;
    sqlite3_bind_int64(r->ins_sig, 1, j->pend[i].doc);
    sqlite3_bind_int64(r->ins_sig, 2, j->sig[i].n);
    unsigned char packed[KFTSP_SIG_BYTES];
    kftsp_sig_pack(j->sig[i].min, packed);
    sqlite3_bind_blob(r->ins_sig, 3, packed, (int)sizeof packed, SQLITE_TRANSIENT);
    rc = step_done(r, r->ins_sig, "writing a signature");
  }
  return rc;
}

/* Before the run's first change to articles_meta, in the same transaction: docvals are no
** longer all current until the run's end rewrites the blocks it changed, and cluster_pairs
** no longer holds every pair until it re-clusters (a run that does not finish leaves both to
** the next one to redo whole). */
static int dv_mark(run *r) {
  if (r->dv_marked) return KFTS_OK;
  int rc = exec(r->db->h, "DELETE FROM meta WHERE key IN ('docvals', 'clusters')", r->err);
  if (rc == KFTS_OK) r->dv_marked = 1;
  return rc;
}

/* Writes the batch's FTS deletions, then its FTS rows, each in ascending rowid order, then
** each new row's articles_meta row with the length FTS5 stored, then its signature (computed
** meanwhile on a second thread when one is allowed: 100k-article builds 20.3 -> 17.9 s and
** 23.2 -> 21.4 s).
** FTS5 (3.40) writes its pending terms out as a new segment whenever a rowid comes lower
** than the one before (or the same rowid is inserted after a delete): in the hashed ids' own
** order that was nearly every article, and merging those segments was half of a build. */
static int flush_pending(run *r) {
  int rc = flush_removals(r);
  if (rc) {
    drop_pending(r);
    return rc;
  }
  if (r->n_pend) rc = dv_mark(r);
  if (rc) {
    drop_pending(r);
    return rc;
  }
  kftsp_sort(r->pend, r->n_pend, sizeof *r->pend, cmp_pending);
  sig_job job = {r->pend, r->n_pend, NULL, KFTS_OK};
  if (job.n && !(job.sig = kftsp_malloc(job.n * sizeof *job.sig))) {
    drop_pending(r);
    return KFTS_ENOMEM;
  }
  pthread_t th;
  int threaded = job.n > 1 && kftsp_threads_allowed() && pthread_create(&th, NULL, sig_main, &job) == 0;
  for (size_t i = 0; i < r->n_pend && rc == KFTS_OK; i++) {
    const struct pending *p = &r->pend[i];
    sqlite3_stmt *st = r->ins_fts;
    sqlite3_bind_int64(st, 1, p->doc);
    bind_text(st, 2, p->a->title);
    bind_text(st, 3, p->a->summary);
    bind_text(st, 4, p->a->body);
    bind_text(st, 5, p->topics);
    rc = step_done(r, st, "indexing an article");
    sqlite3_clear_bindings(st);
    if (rc) break;
    sqlite3_bind_int64(r->q_docsize, 1, p->doc);
    if (sqlite3_step(r->q_docsize) != SQLITE_ROW) rc = db_err(r->err, r->db->h, "reading an article's length");
    st = r->ins_meta;
    sqlite3_bind_int64(st, 1, p->doc);
    if (rc == KFTS_OK)
      sqlite3_bind_blob(st, 2, sqlite3_column_blob(r->q_docsize, 0), sqlite3_column_bytes(r->q_docsize, 0),
                        SQLITE_TRANSIENT);
    bind_text(st, 3, p->a->date);
    if (p->a->importance >= 0) sqlite3_bind_int(st, 4, p->a->importance);
    else sqlite3_bind_null(st, 4);
    bind_text(st, 5, p->a->source);
    bind_text(st, 6, p->topics);
    if (rc == KFTS_OK) rc = step_done(r, st, "writing an article's metadata");
    kftsp_dv_touch(&r->dv, p->doc);
    sqlite3_clear_bindings(st);
    sqlite3_reset(r->q_docsize);
  }
  if (threaded) pthread_join(th, NULL); /* before the texts it reads are freed */
  else if (rc == KFTS_OK) sig_main(&job);
  if (rc == KFTS_OK) rc = job.rc;
  if (rc == KFTS_OK) rc = write_signatures(r, &job);
  kftsp_free(job.sig);
  drop_pending(r);
  return rc;
}

static int begin(run *r) {
  if (r->in_txn) return KFTS_OK;
  int rc = exec(r->db->h, "BEGIN IMMEDIATE", r->err);
  if (rc == KFTS_OK) r->in_txn = 1;
  return rc;
}

static int commit(run *r) {
  if (!r->in_txn) return KFTS_OK;
  int rc = flush_pending(r);
  if (rc) return rc;
  r->in_txn = 0;
  r->batch_files = r->batch_bytes = 0;
  return exec(r->db->h, "COMMIT", r->err);
}

static int step_done(run *r, sqlite3_stmt *st, const char *what) {
  int src = sqlite3_step(st);
  sqlite3_reset(st);
  if (src == SQLITE_DONE || src == SQLITE_ROW) return KFTS_OK;
  return db_err(r->err, r->db->h, what);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

/*
** Article ids: 53 bits (exact in JSON numbers): 20 bits of a hash of the stored path above
** 33 bits of a hash of the path, the title and how many articles before it in the file share
** that title. They survive re-runs, edits elsewhere in the file and rebuilds; a collision
** (two articles of a file, or of two files whose hashes share 20 bits, agreeing in 33 bits:
** about one in 10^3 indexes of 1M articles) moves to the next free id. The id is a column
** with a unique index; every table and FTS5 are keyed by doc (last_doc), which is dense and
** grows as articles are written, so rows are appended and FTS5's rowid deltas stay small.
*/
static int64_t article_id(const char *key, const char *title, int occurrence) {
  uint64_t f = kftsp_fnv1a(KFTSP_FNV_INIT, key, strlen(key) + 1);
  uint64_t h = kftsp_fnv1a(f, title, strlen(title) + 1);
  h = kftsp_fnv1a(h, &occurrence, sizeof occurrence);
  f ^= f >> 29; /* FNV's low bits mix poorly; fold the high ones in */
  h ^= h >> 29;
  int64_t id = (int64_t)((f & ((1ULL << 20) - 1)) << 33 | (h & ((1ULL << 33) - 1)));
  return id ? id : 1;
}

/* The id each article of DOC takes when it is free (how many articles before it share its
** title go into it): V[i] for article i, then from V + n the pairs (id, i) sorted by id; NULL
** when out of memory. */
static int cmp_id_pair(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int64_t *doc_article_ids(const char *key, const kfts_doc *doc) {
  size_t n = doc->n_articles;
  int64_t *v = kftsp_malloc((n ? n : 1) * 3 * sizeof *v);
  for (size_t i = 0; v && i < n; i++) {
    int occ = 0;
    for (size_t j = 0; j < i; j++) occ += !strcmp(doc->articles[j].title, doc->articles[i].title);
    v[i] = v[n + 2 * i] = article_id(key, doc->articles[i].title, occ);
    v[n + 2 * i + 1] = (int64_t)i;
  }
  if (v) kftsp_sort(v + n, n, 2 * sizeof *v, cmp_id_pair);
  return v;
}

/* A's topics '\n'-joined into B (empty: ""). */
static void join_topics(const kfts_article *a, kftsp_buf *b) {
  for (size_t t = 0; t < a->n_topics; t++) {
    if (t) kftsp_buf_addc(b, '\n');
    kftsp_buf_adds(b, a->topics[t]);
  }
}

/* Writes the articles of DOC (IDS: doc_article_ids'), but those KEEP (or NULL) marks as kept. */
static int write_doc(run *r, int64_t file_id, const kfts_doc *doc, const int64_t *ids, const unsigned char *keep) {
  int rc = KFTS_OK;
  for (size_t i = 0; i < doc->n_articles && rc == KFTS_OK; i++) {
    if (keep && keep[i]) continue;
    const kfts_article *a = &doc->articles[i];
    int64_t id = ids[i];
    for (int probe = 0; probe < 64; probe++) {
      sqlite3_bind_int64(r->exists_id, 1, id);
      int taken = sqlite3_step(r->exists_id) == SQLITE_ROW;
      sqlite3_reset(r->exists_id);
      if (!taken) break;
      id = id % ((1LL << 53) - 1) + 1;
    }
    kftsp_buf topics = {0};
    join_topics(a, &topics);
    if (topics.oom) return KFTS_ENOMEM;
    int64_t docno = ++r->last_doc;
    sqlite3_stmt *st = r->ins_article;
    sqlite3_bind_int64(st, 16, docno);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, file_id);
    sqlite3_bind_int64(st, 3, (int64_t)i);
    sqlite3_bind_int(st, 4, a->line);
    bind_text(st, 5, a->title);
    bind_text(st, 6, a->summary);
    const void *packed = NULL;
    size_t n_packed = 0;
    if (a->body && (rc = kftsp_pack(r->pack, a->body, strlen(a->body), &packed, &n_packed)) != KFTS_OK) {
      kftsp_buf_reset(&topics);
      sqlite3_clear_bindings(st);
      break;
    }
    if (packed) sqlite3_bind_blob(st, 7, packed, (int)n_packed, SQLITE_STATIC);
    else bind_text(st, 7, a->body);
    bind_text(st, 8, topics.p ? topics.p : "");
    bind_text(st, 9, a->url);
    bind_text(st, 10, a->date);
    bind_text(st, 11, a->date_source);
    bind_text(st, 12, a->published_at);
    bind_text(st, 13, a->source);
    if (a->importance >= 0) sqlite3_bind_int(st, 14, a->importance);
    else sqlite3_bind_null(st, 14);
    bind_text(st, 15, a->time_offset);
    rc = step_done(r, st, "writing an article");
    sqlite3_clear_bindings(st);
    if (rc == KFTS_OK) { /* its FTS and articles_meta rows: at the batch's end, in id order */
      struct pending *v = kftsp_grow(r->pend, r->n_pend, &r->cap_pend, sizeof *v, 1024);
      if (!v) rc = KFTS_ENOMEM;
      else r->pend = v;
      char *tp = topics.p ? kftsp_buf_take(&topics) : kftsp_strdup("");
      if (!rc && !tp) rc = KFTS_ENOMEM;
      if (!rc) r->pend[r->n_pend++] = (struct pending){docno, a, tp};
      else kftsp_free(tp);
    }
    kftsp_buf_reset(&topics);
    for (size_t t = 0; t < a->n_topics && rc == KFTS_OK; t++) {
      bind_text(r->ins_topic, 1, a->topics[t]);
      sqlite3_bind_int64(r->ins_topic, 2, docno);
      rc = step_done(r, r->ins_topic, "writing a topic");
    }
    /* Its near-duplicate signature (story clusters, cluster.c): at the batch's end too. */
    r->changed = 1;
  }
  return rc;
}

static char *read_file(const char *path, size_t *len_out, int *errno_out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    *errno_out = errno;
    return NULL;
  }
  kftsp_buf b = {0};
  struct stat sb; /* the whole file in one allocation, not a doubling buffer's twice */
  if (fstat(fileno(f), &sb) == 0 && sb.st_size > 0 && (size_t)sb.st_size < MAX_FILE_BYTES)
    kftsp_buf_reserve(&b, (size_t)sb.st_size + 1);
  char chunk[65536];
  size_t k;
  while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.n + k > MAX_FILE_BYTES) {
      *errno_out = EFBIG;
      fclose(f);
      kftsp_buf_reset(&b);
      return NULL;
    }
    kftsp_buf_add(&b, chunk, k);
  }
  int bad = ferror(f);
  *errno_out = bad ? errno : b.oom ? ENOMEM : 0;
  fclose(f);
  if (bad || b.oom) {
    kftsp_buf_reset(&b);
    return NULL;
  }
  *len_out = b.n;
  return kftsp_buf_take(&b);
}

static int same_text(const char *x, const char *y) { return x && y ? !strcmp(x, y) : x == y; }

/* Whether the article in Q's row (q_old's columns) is article A, whose topics joined are
** TOPICS, in every column but its place (ord, line). */
static int same_article(sqlite3_stmt *q, const kfts_article *a, const char *topics) {
  const char *const mine[] = {a->title, a->summary, a->body, topics, a->url, a->date, a->date_source,
                              a->published_at, a->source, NULL, a->time_offset};
  for (int k = 0; k < 11; k++)
    if (k != 9 && !same_text((const char *)sqlite3_column_text(q, k < 4 ? k + 1 : k + 4), mine[k])) return 0;
  int imp = sqlite3_column_type(q, 13) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 13);
  return imp == (a->importance >= 0 ? a->importance : -1);
}

/* With DOC (the file's articles as parsed now, IDS theirs: doc_article_ids'), the old article
** in Q's row that some article I of DOC not yet kept is, same id and every column, sets
** KEEP[I] and, when its place changed, *MOVE = I; 1 when kept, 0 when not, or a KFTS_E*. */
static int keep_article(sqlite3_stmt *q, const kfts_doc *doc, const int64_t *ids, unsigned char *keep,
                        int64_t *move) {
  int64_t id = sqlite3_column_int64(q, 5);
  const int64_t *hit = bsearch(&id, ids + doc->n_articles, doc->n_articles, 2 * sizeof *ids, cmp_id_pair);
  if (!hit) return 0;
  size_t i = (size_t)hit[1];
  const kfts_article *a = &doc->articles[i];
  if (keep[i]) return 0;
  kftsp_buf topics = {0};
  join_topics(a, &topics);
  if (topics.oom) return KFTS_ENOMEM;
  int same = same_article(q, a, topics.p ? topics.p : "");
  kftsp_buf_reset(&topics);
  if (!same) return 0;
  keep[i] = 1;
  if (sqlite3_column_int64(q, 6) != (int64_t)i || sqlite3_column_int(q, 7) != a->line) *move = (int64_t)i;
  return 1;
}

/* Removed article DOC and its signature's buckets, for kftsp_recluster_since. */
static int cluster_gone(run *r, int64_t doc) {
  sqlite3_bind_int64(r->q_sig, 1, doc);
  int rc = KFTS_OK, st = sqlite3_step(r->q_sig);
  if (st == SQLITE_ROW &&
      kftsp_cluster_gone(&r->cl_gone, doc, (uint32_t)sqlite3_column_int64(r->q_sig, 0), sqlite3_column_blob(r->q_sig, 1),
                         sqlite3_column_bytes(r->q_sig, 1)))
    rc = KFTS_ENOMEM;
  else if (st != SQLITE_ROW && st != SQLITE_DONE)
    rc = db_err(r->err, r->db->h, "reading a signature");
  sqlite3_reset(r->q_sig);
  return rc;
}

/*
** Removes the articles of file FILE_ID: its rows in articles_meta, topics, signatures,
** clusters and articles now (noting for re-clustering each one's doc and its signature's
** buckets first), one table per statement (see the note on triggers), and its FTS
** rows at the batch's end (flush_pending), with a copy of the text they indexed. Copies
** beyond BATCH_BYTES are flushed at once, so removing a whole folder stays in bounded memory.
** With DOC (the file as parsed now; IDS and KEEP as keep_article's), it removes only the
** articles DOC does not have as they were, and moves the kept ones to their place.
*/
static int remove_articles(run *r, int64_t file_id, const kfts_doc *doc, const int64_t *ids, unsigned char *keep) {
  size_t first = r->n_dels;
  int rc = KFTS_OK, step;
  sqlite3_bind_int64(r->q_old, 1, file_id);
  int64_t *moves = NULL; /* kept articles whose place changed: doc, then its index in DOC */
  size_t n_moves = 0, cap_moves = 0;
  while (rc == KFTS_OK && (step = sqlite3_step(r->q_old)) == SQLITE_ROW) {
    if (doc) {
      int64_t to = -1;
      int k = keep_article(r->q_old, doc, ids, keep, &to);
      if (k < 0) rc = k;
      if (k > 0 && to >= 0) { /* moved once the scan is done: an update would move it in the scan's index */
        int64_t *v = kftsp_grow(moves, n_moves, &cap_moves, 2 * sizeof *v, 16);
        if (!v) rc = KFTS_ENOMEM;
        else {
          moves = v;
          moves[2 * n_moves] = sqlite3_column_int64(r->q_old, 0);
          moves[2 * n_moves++ + 1] = to;
        }
      }
      if (k) continue;
    }
    r->changed = 1;
    struct removal *v = kftsp_grow(r->dels, r->n_dels, &r->cap_dels, sizeof *v, 256);
    if (!v) {
      rc = KFTS_ENOMEM;
      break;
    }
    r->dels = v;
    struct removal *d = &r->dels[r->n_dels];
    memset(d, 0, sizeof *d);
    d->doc = sqlite3_column_int64(r->q_old, 0);
    r->n_dels++;
    for (int k = 0; k < 4 && rc == KFTS_OK; k++) {
      const char *t = (const char *)sqlite3_column_text(r->q_old, k + 1);
      if (t && !(d->text[k] = kftsp_strdup(t))) rc = KFTS_ENOMEM;
      r->dels_bytes += t ? strlen(t) : 0;
    }
  }
  if (rc == KFTS_OK && step != SQLITE_DONE) rc = db_err(r->err, r->db->h, "reading old articles");
  sqlite3_reset(r->q_old);
  for (size_t i = 0; i < n_moves && rc == KFTS_OK; i++) {
    sqlite3_bind_int64(r->upd_place, 1, moves[2 * i]);
    sqlite3_bind_int64(r->upd_place, 2, moves[2 * i + 1]);
    sqlite3_bind_int(r->upd_place, 3, doc->articles[moves[2 * i + 1]].line);
    rc = step_done(r, r->upd_place, "moving an article");
  }
  kftsp_free(moves);
  sqlite3_stmt *by_id[] = {r->del_meta, r->del_topics, r->del_sig, r->del_cluster, r->del_articles};
  if (rc == KFTS_OK && r->n_dels > first) rc = dv_mark(r);
  for (size_t i = first; i < r->n_dels && rc == KFTS_OK; i++) {
    kftsp_dv_touch(&r->dv, r->dels[i].doc);
    if (r->cl_was_exact) rc = cluster_gone(r, r->dels[i].doc);
    for (size_t k = 0; k < KFTSP_ARRAY_LEN(by_id) && rc == KFTS_OK; k++) {
      sqlite3_bind_int64(by_id[k], 1, r->dels[i].doc);
      rc = step_done(r, by_id[k], "removing old articles");
    }
  }
  if (rc == KFTS_OK && r->dels_bytes > BATCH_BYTES) rc = flush_removals(r);
  return rc;
}

static int remove_file_row(run *r, int64_t file_id) {
  int rc = remove_articles(r, file_id, NULL, NULL, NULL);
  if (rc == KFTS_OK) {
    sqlite3_bind_int64(r->del_file, 1, file_id);
    rc = step_done(r, r->del_file, "removing a file");
  }
  return rc;
}

/* Indexes one file inside the open transaction. Returns a KFTS_E* only for failures that
** stop the run (database, memory); bad input is reported and counted. */
static int index_file(run *r, const char *abs, const kftsp_manifest *mf) {
  kfts_index_stats *st = r->st;
  const char *key = file_key(r, abs);
  st->files_seen++;
  struct stat sb;
  if (stat(abs, &sb) != 0) {
    report(r, key, 0, "cannot stat: %s", strerror(errno));
    st->files_failed++;
    return KFTS_OK;
  }
  kfts_file_opts fo;
  uint64_t cfg_h = kftsp_manifest_apply(mf, abs, &fo);
  cfg_h = kftsp_fnv1a(cfg_h, KFTSP_PARSER_VERSION, sizeof KFTSP_PARSER_VERSION);
  char cfg[17];
  snprintf(cfg, sizeof cfg, "%016llx", (unsigned long long)cfg_h);
  int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;

  int64_t file_id = 0;
  int known = 0, same_stat = 0;
  char old_hash[17] = "";
  int same_cfg = 0;
  sqlite3_bind_text(r->q_file, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(r->q_file) == SQLITE_ROW) {
    known = 1;
    file_id = sqlite3_column_int64(r->q_file, 0);
    same_stat = sqlite3_column_int64(r->q_file, 1) == (int64_t)sb.st_size &&
                sqlite3_column_int64(r->q_file, 2) == mtime_ns;
    snprintf(old_hash, sizeof old_hash, "%s", (const char *)sqlite3_column_text(r->q_file, 3));
    same_cfg = !strcmp((const char *)sqlite3_column_text(r->q_file, 4), cfg);
  }
  sqlite3_reset(r->q_file);
  int full = r->opts && r->opts->full;
  if (known && same_stat && same_cfg && !full) {
    st->files_unchanged++;
    event(r, key, "unchanged", 0);
    return KFTS_OK;
  }
  size_t len = 0;
  int e = 0;
  char *text = read_file(abs, &len, &e);
  if (!text) {
    if (e == ENOMEM) return KFTS_ENOMEM;
    report(r, key, 0, "cannot read: %s; file skipped", e == EFBIG ? "larger than 512 MB" : strerror(e));
    st->files_failed++;
    return KFTS_OK;
  }
  char hash[17];
  snprintf(hash, sizeof hash, "%016llx", (unsigned long long)kftsp_fnv1a(KFTSP_FNV_INIT, text, len));
  int rc = KFTS_OK;
  if (known && same_cfg && !full && !strcmp(hash, old_hash)) {
    /* Touched, not changed. */
    sqlite3_bind_int64(r->upd_mtime, 1, file_id);
    sqlite3_bind_int64(r->upd_mtime, 2, mtime_ns);
    sqlite3_bind_int64(r->upd_mtime, 3, (int64_t)len);
    rc = step_done(r, r->upd_mtime, "updating a file");
    st->files_unchanged++;
    event(r, key, "unchanged", 0);
    kftsp_free(text);
    return rc;
  }
  kfts_doc *doc = NULL;
  kfts_error perr = {0};
  rc = kfts_parse(&doc, key, text, len, &fo, &perr);
  kftsp_free(text);
  if (rc == KFTS_EINPUT || rc == KFTS_EUSAGE) {
    report(r, key, perr.line, "%s", perr.message);
    st->files_failed++;
    return KFTS_OK;
  }
  if (rc) return kftsp_err(r->err, rc, key, 0, "%s", perr.message);
  for (size_t i = 0; i < doc->n_diags; i++) report(r, key, doc->diags[i].line, "%s", doc->diags[i].message);
  st->warnings += doc->n_diags;

  /* Replace the file's articles inside the batch's transaction. No SAVEPOINT per file: FTS5
  ** flushes its pending terms into a new segment at every savepoint (and merges them
  ** later), which cost 60 % of a build; a failure here stops the run and rolls the whole
  ** batch back, which the next run redoes. */
  /* An edited file keeps the articles that are as they were, at their docs (only their place
  ** may change): an appended card re-indexes that card, not the file. */
  unsigned char *keep = NULL;
  int64_t *ids = doc_article_ids(key, doc);
  int edited = known && same_cfg && !full;
  if (!ids || (edited && !(keep = kftsp_malloc(doc->n_articles ? doc->n_articles : 1)))) rc = KFTS_ENOMEM;
  if (keep) memset(keep, 0, doc->n_articles ? doc->n_articles : 1);
  if (rc == KFTS_OK && known) rc = remove_articles(r, file_id, edited ? doc : NULL, ids, keep);
  if (rc == KFTS_OK) {
    sqlite3_stmt *s = known ? r->upd_file : r->ins_file;
    if (known) sqlite3_bind_int64(s, 1, file_id);
    else sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)len);
    sqlite3_bind_int64(s, 3, mtime_ns);
    sqlite3_bind_text(s, 4, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, cfg, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, doc->format, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, (int64_t)doc->n_articles);
    int src = sqlite3_step(s);
    if (!known && src == SQLITE_ROW) file_id = sqlite3_column_int64(s, 0);
    else if (!(known && src == SQLITE_DONE)) rc = db_err(r->err, r->db->h, "writing a file");
    sqlite3_reset(s);
  }
  if (rc == KFTS_OK) rc = write_doc(r, file_id, doc, ids, keep);
  kftsp_free(keep);
  kftsp_free(ids);
  if (rc == KFTS_OK) {
    st->files_indexed++;
    st->articles += doc->n_articles;
    event(r, key, "indexed", doc->n_articles);
  }
  r->batch_files++;
  r->batch_bytes += len;
  r->done_bytes += len;
  if (rc == KFTS_OK) { /* it owns the text pending rows point to */
    kfts_doc **v = kftsp_grow(r->docs, r->n_docs, &r->cap_docs, sizeof *v, 64);
    if (!v) rc = KFTS_ENOMEM;
    else r->docs = v;
  }
  if (rc == KFTS_OK) r->docs[r->n_docs++] = doc;
  else kfts_doc_free(doc);
  return rc;
}

int kfts_parse_path(kfts_doc **out, const char *path, const char *manifest, kfts_error *err) {
  *out = NULL;
  char abs[4096];
  struct stat sb;
  if (!realpath(path, abs) || stat(abs, &sb) != 0)
    return kftsp_err(err, KFTS_EIO, path, 0, "cannot open: %s", strerror(errno));
  if (!S_ISREG(sb.st_mode)) return kftsp_err(err, KFTS_EIO, path, 0, "not a regular file");
  kftsp_manifest *mf = NULL;
  int rc = KFTS_OK;
  if (manifest) {
    rc = kftsp_manifest_load(&mf, manifest, err);
  } else {
    char *dir = kftsp_strdup(abs);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) *slash = 0;
    char *mpath = dir ? kftsp_printf("%s/kfts.json", dir) : NULL;
    struct stat ms;
    if (!mpath) rc = KFTS_ENOMEM;
    else if (stat(mpath, &ms) == 0) rc = kftsp_manifest_load(&mf, mpath, err);
    kftsp_free(mpath);
    kftsp_free(dir);
  }
  if (rc) return rc;
  size_t len = 0;
  int e = 0;
  char *text = read_file(abs, &len, &e);
  if (!text) {
    kftsp_manifest_free(mf);
    return kftsp_err(err, e == ENOMEM ? KFTS_ENOMEM : KFTS_EIO, path, 0, "cannot read: %s",
                     e == EFBIG ? "larger than 512 MB" : strerror(e));
  }
  kfts_file_opts fo;
  kftsp_manifest_apply(mf, abs, &fo);
  rc = kfts_parse(out, path, text, len, &fo, err);
  kftsp_free(text);
  kftsp_manifest_free(mf);
  return rc;
}

/* Removes rows of files under ROOT (absolute folder) that this run did not see. */
static int remove_missing(run *r, const char *root) {
  sqlite3_stmt *q;
  if (sqlite3_prepare_v2(r->db->h, "SELECT id, path FROM files", -1, &q, NULL) != SQLITE_OK)
    return db_err(r->err, r->db->h, "listing files");
  size_t rl = strlen(root);
  int64_t *gone = NULL;
  size_t n_gone = 0;
  int rc = KFTS_OK;
  while (rc == KFTS_OK && sqlite3_step(q) == SQLITE_ROW) {
    const char *p = (const char *)sqlite3_column_text(q, 1);
    char *abs = p[0] == '/' ? kftsp_strdup(p) : kftsp_printf("%s/%s", r->db->dir, p);
    if (!abs) {
      rc = KFTS_ENOMEM;
      break;
    }
    int under = !strncmp(abs, root, rl) && abs[rl] == '/';
    int seen = 0;
    if (under) {
      file_ent k = {abs};
      seen = bsearch(&k, r->files, r->n_files, sizeof *r->files, cmp_files) != NULL;
    }
    kftsp_free(abs);
    if (under && !seen) {
      int64_t *v = kftsp_realloc(gone, (n_gone + 1) * sizeof *v);
      if (!v) rc = KFTS_ENOMEM;
      else (gone = v)[n_gone++] = sqlite3_column_int64(q, 0);
      if (v) event(r, p, "removed", 0);
    }
  }
  sqlite3_finalize(q);
  for (size_t i = 0; i < n_gone && rc == KFTS_OK; i++) {
    rc = remove_file_row(r, gone[i]);
    if (rc == KFTS_OK) r->st->files_removed++;
  }
  kftsp_free(gone);
  return rc;
}

static int index_paths_locked(kfts_db *db, const char *const *paths, size_t n_paths,
                              const kfts_index_opts *opts, kfts_index_stats *stats, kfts_error *err);

/*
** One writer at a time: an flock() on the database file (SQLite's own locks are fcntl()
** locks and unaffected). A second indexer says so and waits; without this it would
** interleave its batches with the first one's. Returns the descriptor to close, or -1.
*/
static int writer_lock(kfts_db *db, const kfts_index_opts *opts) {
  int fd = open(db->abs, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (opts && opts->report)
      opts->report(opts->report_ctx, db->abs, 0, "another kfts-index is writing this index; waiting for it");
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  return fd;
}

int kfts_index_paths(kfts_db *db, const char *const *paths, size_t n_paths,
                     const kfts_index_opts *opts, kfts_index_stats *stats, kfts_error *err) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  memset(stats, 0, sizeof *stats);
  if (db->readonly) return kftsp_err(err, KFTS_EUSAGE, "database", 0, "opened read-only");
  int lock_fd = writer_lock(db, opts);
  int rc = index_paths_locked(db, paths, n_paths, opts, stats, err);
  if (lock_fd >= 0) close(lock_fd);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  stats->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  return rc;
}

/*
** FTS5 merges its segments as it writes: with automerge 4 (its default) a first build of 10k
** articles ends with 6 segments, of 1M with 13-15, and a query looks each of its terms up in
** every segment (a snippet's look-up of one row: 0.9 ms at 15 segments, at 1M). A first
** build of at least kftsp_bulk_bytes of files merges less as it goes (automerge 8) and ends
** with 'optimize', one segment, for the same time: at 1M 258.7 s against 263.5 s with
** automerge 4 and no optimize (automerge 16: 289.5 s). Smaller ones would pay for it (10k:
** 1.19-1.35 -> 1.45-1.68 s; 100k: about 3 %), and keep automerge 4. --full always optimizes.
** Other runs keep automerge 4: each batch's segment is merged soon.
*/
uint64_t kftsp_bulk_bytes = 256u << 20;
#define BULK_AUTOMERGE 8
#define RUN_AUTOMERGE 4

/* Sets r->optimize, and FTS5's automerge for the run when it differs. */
static int set_automerge(run *r) {
  sqlite3 *h = r->db->h;
  sqlite3_stmt *st;
  int any = 1, cur = -1;
  if (sqlite3_prepare_v2(h, "SELECT EXISTS (SELECT 1 FROM articles)", -1, &st, NULL) != SQLITE_OK)
    return db_err(r->err, h, "reading articles");
  if (sqlite3_step(st) == SQLITE_ROW) any = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  int large = !any && r->walk_bytes >= kftsp_bulk_bytes;
  r->optimize = large || (r->opts && r->opts->full);
  if (sqlite3_prepare_v2(h, "SELECT v FROM articles_fts_config WHERE k = 'automerge'", -1, &st, NULL) != SQLITE_OK)
    return db_err(r->err, h, "reading FTS5's settings");
  if (sqlite3_step(st) == SQLITE_ROW) cur = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  int want = large ? BULK_AUTOMERGE : RUN_AUTOMERGE;
  if (cur == want || (cur < 0 && want == RUN_AUTOMERGE)) return KFTS_OK;
  char sql[100];
  snprintf(sql, sizeof sql, "INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', %d)", want);
  return exec(h, sql, r->err);
}

/*
** An incremental run leaves FTS5 in the middle of a merge: automerge merges a little per
** transaction, and the run's last segments wait for the next run's writes. At 1M, after 1 %
** of the files changed, a query then read 6 segments where 2 serve (each term looked up in
** each, each doclist merged across them): Anthropic 6.8 ms against 5.9. 'merge' with a
** positive N writes about N pages of the pending merges (or of a level with 4 segments);
** the run repeats it until nothing is left, writing at most 1/kftsp_merge_share of the database:
** at 1M the pending merge took 0.3 s, while at 10k an unbounded one rewrote most of the
** index (the incremental run went from 4.5 % to 22.5 % of the full build's time), and even
** 1/32 took it to 5.7 %. Under kftsp_merge_min_bytes (64 MB, some 25k articles), where a
** query's extra segments cost hundredths of a millisecond, a run leaves merging to
** automerge as before.
*/
#define MERGE_PAGES 1000 /* FTS5 pages (about 4 KB) per 'merge' */
int kftsp_merge_share = 32;
int64_t kftsp_merge_min_bytes = (int64_t)64 << 20;

static int finish_merges(sqlite3 *h, kfts_error *err) {
  sqlite3_stmt *st;
  sqlite3_int64 bytes = 0;
  if (sqlite3_prepare_v2(h, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size", -1, &st, NULL) !=
      SQLITE_OK)
    return db_err(err, h, "reading the database's size");
  if (sqlite3_step(st) == SQLITE_ROW) bytes = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (bytes < kftsp_merge_min_bytes) return KFTS_OK;
  for (sqlite3_int64 left = bytes / kftsp_merge_share / 4096; left > 0; left -= MERGE_PAGES) {
    char sql[120];
    snprintf(sql, sizeof sql, "INSERT INTO articles_fts(articles_fts, rank) VALUES ('merge', %lld)",
             (long long)(left < MERGE_PAGES ? left : MERGE_PAGES));
    sqlite3_int64 before = sqlite3_total_changes64(h);
    int rc = exec(h, sql, err);
    if (rc) return rc;
    if (sqlite3_total_changes64(h) - before < 2) break; /* FTS5's sign of no work left */
  }
  return KFTS_OK;
}

/* New articles are numbered on from the largest doc: always ascending, so FTS5 appends to its
** doclists, and dense, so its rowid deltas take a byte or two (with the 53-bit ids as rowids,
** five or six: the FTS5 index of 100k articles was 266 MB against 146). */
static int last_doc(run *r) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(r->db->h, "SELECT coalesce(max(doc), 0) FROM articles", -1, &st, NULL) != SQLITE_OK)
    return db_err(r->err, r->db->h, "reading the last article");
  int rc = sqlite3_step(st) == SQLITE_ROW ? KFTS_OK : db_err(r->err, r->db->h, "reading the last article");
  r->last_doc = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc;
}

static int index_paths_locked(kfts_db *db, const char *const *paths, size_t n_paths,
                              const kfts_index_opts *opts, kfts_index_stats *stats, kfts_error *err) {
  run r = {0};
  r.db = db;
  r.opts = opts;
  r.st = stats;
  r.err = err;
  char **roots = kftsp_malloc((n_paths + 1) * sizeof *roots);
  kftsp_manifest **mfs = kftsp_malloc((n_paths + 1) * sizeof *mfs);
  kftsp_manifest *explicit_mf = NULL;
  int rc = roots && mfs ? KFTS_OK : KFTS_ENOMEM;
  if (rc == KFTS_OK) {
    memset(roots, 0, (n_paths + 1) * sizeof *roots);
    memset(mfs, 0, (n_paths + 1) * sizeof *mfs);
  }
  if (rc == KFTS_OK && opts && opts->manifest)
    rc = kftsp_manifest_load(&explicit_mf, opts->manifest, err);
  if (rc == KFTS_OK) rc = prepare(&r);
  if (rc == KFTS_OK) rc = last_doc(&r);
  r.first_doc = r.last_doc + 1;
  r.dv_was_valid = kftsp_dv_current(db->h) == KFTSP_DV_WITH_FACETS;
  r.cl_was_exact = kftsp_cluster_exact(db->h);

  /* Resolve roots and find their files. Each root keeps its own manifest. */
  size_t *first_of = kftsp_malloc((n_paths + 1) * sizeof *first_of);
  if (!first_of && rc == KFTS_OK) rc = KFTS_ENOMEM;
  for (size_t i = 0; i < n_paths && rc == KFTS_OK; i++) {
    first_of[i] = r.n_files;
    char abs[4096];
    struct stat sb;
    if (!realpath(paths[i], abs) || stat(abs, &sb) != 0) {
      report(&r, paths[i], 0, "cannot open: %s", strerror(errno));
      stats->files_failed++;
      continue;
    }
    if (!(roots[i] = kftsp_strdup(abs))) {
      rc = KFTS_ENOMEM;
      break;
    }
    char *mdir = kftsp_strdup(abs);
    if (!mdir) {
      rc = KFTS_ENOMEM;
      break;
    }
    if (!S_ISDIR(sb.st_mode)) {
      char *slash = strrchr(mdir, '/');
      if (slash) *slash = 0;
    }
    if (!explicit_mf) {
      char *mpath = kftsp_printf("%s/kfts.json", mdir);
      struct stat ms;
      if (!mpath) rc = KFTS_ENOMEM;
      else if (stat(mpath, &ms) == 0) rc = kftsp_manifest_load(&mfs[i], mpath, err);
      kftsp_free(mpath);
    }
    kftsp_free(mdir);
    if (rc) break;
    if (S_ISDIR(sb.st_mode)) rc = walk(&r, abs, 0);
    else if (S_ISREG(sb.st_mode)) rc = add_file(&r, abs, sb.st_size);
    else {
      report(&r, paths[i], 0, "not a regular file or folder; skipped");
      stats->files_failed++;
    }
  }
  if (first_of) first_of[n_paths] = r.n_files;
  if (rc == KFTS_OK) rc = set_automerge(&r);

  /* Index root by root (each with its manifest), files in path order. */
  for (size_t i = 0; i < n_paths && rc == KFTS_OK; i++) {
    size_t a = first_of[i], b = first_of[i + 1];
    kftsp_sort(r.files + a, b - a, sizeof *r.files, cmp_files);
    const kftsp_manifest *mf = explicit_mf ? explicit_mf : mfs[i];
    for (size_t k = a; k < b && rc == KFTS_OK; k++) {
      if (k > a && !strcmp(r.files[k].abs, r.files[k - 1].abs)) continue;
      rc = begin(&r);
      if (rc == KFTS_OK) rc = index_file(&r, r.files[k].abs, mf);
      if (rc == KFTS_OK && (r.batch_files >= BATCH_FILES || r.batch_bytes >= BATCH_BYTES))
        rc = commit(&r);
      if (opts && opts->progress)
        opts->progress(opts->report_ctx, ++r.done_files, r.n_files, r.done_bytes, stats->articles);
    }
  }
  if (rc == KFTS_OK) rc = flush_pending(&r);
  /* Removals and roots, after all files are seen. */
  if (rc == KFTS_OK) kftsp_sort(r.files, r.n_files, sizeof *r.files, cmp_files);
  if (rc == KFTS_OK) rc = begin(&r);
  for (size_t i = 0; i < n_paths && rc == KFTS_OK; i++) {
    struct stat sb;
    if (!roots[i] || stat(roots[i], &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode)) rc = remove_missing(&r, roots[i]);
    if (rc == KFTS_OK) {
      sqlite3_stmt *s;
      if (sqlite3_prepare_v2(db->h, "INSERT OR IGNORE INTO roots(path) VALUES (?1)", -1, &s, NULL) !=
          SQLITE_OK)
        rc = db_err(err, db->h, "recording roots");
      else {
        sqlite3_bind_text(s, 1, roots[i], -1, SQLITE_STATIC);
        rc = step_done(&r, s, "recording roots");
        sqlite3_finalize(s);
      }
    }
    /* The root's manifest aliases, for kfts-query (meta 'aliases:ROOT'). */
    const char *al = kftsp_manifest_aliases(explicit_mf ? explicit_mf : mfs[i]);
    if (rc == KFTS_OK) {
      sqlite3_stmt *s;
      if (sqlite3_prepare_v2(db->h,
                             al ? "INSERT OR REPLACE INTO meta(key, value) VALUES ('aliases:' || ?1, ?2)"
                                : "DELETE FROM meta WHERE key = 'aliases:' || ?1",
                             -1, &s, NULL) != SQLITE_OK)
        rc = db_err(err, db->h, "recording aliases");
      else {
        sqlite3_bind_text(s, 1, roots[i], -1, SQLITE_STATIC);
        if (al) sqlite3_bind_text(s, 2, al, -1, SQLITE_STATIC);
        rc = step_done(&r, s, "recording aliases");
        sqlite3_finalize(s);
      }
    }
  }
  /* docvals: the blocks the run changed, or all of them when they were not all current. */
  if (rc == KFTS_OK && !r.dv_was_valid) r.dv.all = 1;
  if (rc == KFTS_OK && (r.dv_marked || !r.dv_was_valid)) rc = kftsp_dv_rebuild(db->h, &r.dv, err);
  /* Story clusters, when any article came or went: the new articles' pairs alone when the
  ** others' were all kept. */
  if (rc == KFTS_OK && r.changed) rc = kftsp_recluster_since(db->h, r.cl_was_exact ? r.first_doc : -1, &r.cl_gone, err);
  if (rc == KFTS_OK) rc = commit(&r);
  if (rc == KFTS_OK && ((r.optimize && r.changed) || (opts && opts->optimize)))
    rc = exec(db->h, "INSERT INTO articles_fts(articles_fts) VALUES ('optimize')", err);
  else if (rc == KFTS_OK && r.changed)
    rc = finish_merges(db->h, err);
  if (rc != KFTS_OK && r.in_txn) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
  if (rc == KFTS_ENOMEM) kftsp_err(err, rc, "", 0, "out of memory");

  drop_pending(&r);
  kftsp_free(r.pend);
  kftsp_free(r.dels);
  kftsp_free(r.docs);
  finalize_all(&r);
  kftsp_u64set_free(&r.seen);
  kftsp_cluster_gone_free(&r.cl_gone);
  for (size_t i = 0; i < r.n_files; i++) kftsp_free(r.files[i].abs);
  kftsp_free(r.files);
  for (size_t i = 0; roots && i < n_paths; i++) kftsp_free(roots[i]);
  for (size_t i = 0; mfs && i < n_paths; i++) kftsp_manifest_free(mfs[i]);
  kftsp_free(roots);
  kftsp_free(mfs);
  kftsp_free(first_of);
  kftsp_manifest_free(explicit_mf);
  return rc;
}
