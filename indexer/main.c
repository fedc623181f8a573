/*
** kfts-index -- reads corpus files into a kfts index (see README.md).
** Parses options, calls libkfts, prints, chooses the exit code; nothing else.
** Exit: 0 all indexed, 1 some inputs rejected (the rest indexed), 2 error.
*/
#define _POSIX_C_SOURCE 200809L
#include "kfts.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "Usage: kfts-index [OPTIONS] [PATH...]\n"
    "       kfts-index --dump FILE...\n"
    "\n"
    "Index the files and folders PATH (recursively) into a kfts database.\n"
    "Unchanged files are skipped, changed ones re-read, deleted ones removed.\n"
    "Without PATH, re-index the paths indexed before.\n"
    "\n"
    "Options:\n"
    "  --db FILE          the database ($KFTS_DB, config \"db\", else ./kfts.db)\n"
    "  --manifest FILE    per-file defaults (default: kfts.json in each root)\n"
    "  --full             re-read every file, and optimise the index\n"
    "  --optimize         merge the index into one segment (faster queries)\n"
    "  --follow-symlinks  follow symbolic links inside the indexed folders\n"
    "  --json             print the summary as one JSON object\n"
    "  --dump             print the articles of FILE... as JSON Lines; no database\n"
    "  --suggest-aliases  then print 한글(English) pairs not yet aliases (JSON)\n"
    "  -q, --quiet        print nothing but errors\n"
    "  -v, --verbose      also name each file indexed, unchanged or removed\n"
    "  -h, --help         this help\n"
    "  --version          versions of kfts and the libraries in use\n"
    "\n"
    "Progress (files, articles, MB/s, ETA) shows on stderr when it is a terminal.\n"
    "Exit: 0 all indexed, 1 some inputs rejected (the rest indexed), 2 error.\n";

static kfts_config *config; /* the user's defaults (main); freed at exit */
static void free_config(void) { kfts_config_free(config); }

typedef struct ctx {
  int quiet;
  int verbose;
  int tty;
  int progress_shown;
  struct timespec start;
} ctx;

static void on_report(void *p, const char *path, int line, const char *message) {
  ctx *c = p;
  if (c->progress_shown) {
    fputs("\r\033[K", stderr);
    c->progress_shown = 0;
  }
  if (line > 0) fprintf(stderr, "kfts-index: %s:%d: %s\n", path, line, message);
  else fprintf(stderr, "kfts-index: %s: %s\n", path, message);
}

static void on_progress(void *p, size_t files, size_t total, size_t bytes, size_t articles) {
  ctx *c = p;
  if (!c->tty || c->quiet || (files % 16 && files != total)) return;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double s = (double)(now.tv_sec - c->start.tv_sec) + (double)(now.tv_nsec - c->start.tv_nsec) / 1e9;
  if (s < 1.0) return;
  double eta = files ? s * (double)(total - files) / (double)files : 0;
  fprintf(stderr, "\r\033[K%zu/%zu files, %zu articles, %.1f MB/s, ETA %.0f s", files, total, articles,
          (double)bytes / 1e6 / s, eta);
  c->progress_shown = 1;
}

static void on_event(void *p, const char *path, const char *what, size_t n) {
  ctx *c = p;
  if (!c->verbose) return;
  if (c->progress_shown) {
    fputs("\r\033[K", stderr);
    c->progress_shown = 0;
  }
  if (!strcmp(what, "indexed")) fprintf(stderr, "kfts-index: %s: indexed, %zu article%s\n", path, n, n == 1 ? "" : "s");
  else fprintf(stderr, "kfts-index: %s: %s\n", path, what);
}

static int finish(int status) {
  if (fclose(stdout) != 0) {
    perror("kfts-index: writing output");
    return 2;
  }
  return status;
}

static int dump(int argc, char **argv, const char *manifest) {
  int status = 0;
  for (int i = 0; i < argc; i++) {
    kfts_doc *doc = NULL;
    kfts_error err = {0};
    int rc = kfts_parse_path(&doc, argv[i], manifest, &err);
    if (rc == KFTS_EUSAGE && err.source[0] && strcmp(err.source, argv[i])) {
      fprintf(stderr, "kfts-index: %s: %s\n", err.source, err.message);
      return 2;
    }
    if (rc) {
      if (err.line) fprintf(stderr, "kfts-index: %s:%d: %s\n", argv[i], err.line, err.message);
      else fprintf(stderr, "kfts-index: %s: %s\n", argv[i], err.message);
      if (rc == KFTS_ENOMEM) return 2;
      status = 1;
      continue;
    }
    for (size_t d = 0; d < doc->n_diags; d++) {
      on_report(&(ctx){0}, argv[i], doc->diags[d].line, doc->diags[d].message);
      status = 1;
    }
    for (size_t a = 0; a < doc->n_articles; a++) {
      char *s = kfts_article_json(doc, &doc->articles[a]);
      if (!s) {
        kfts_doc_free(doc);
        fputs("kfts-index: out of memory\n", stderr);
        return 2;
      }
      puts(s);
      kfts_free(s);
    }
    kfts_doc_free(doc);
  }
  return status;
}

int main(int argc, char **argv) {
  kfts_init();
  enum { OPT_DB = 256, OPT_MANIFEST, OPT_FULL, OPT_JSON, OPT_DUMP, OPT_FOLLOW, OPT_VERSION, OPT_SUGGEST, OPT_OPTIMIZE };
  static const struct option longopts[] = {
      {"db", required_argument, NULL, OPT_DB},
      {"manifest", required_argument, NULL, OPT_MANIFEST},
      {"full", no_argument, NULL, OPT_FULL},
      {"optimize", no_argument, NULL, OPT_OPTIMIZE},
      {"json", no_argument, NULL, OPT_JSON},
      {"dump", no_argument, NULL, OPT_DUMP},
      {"suggest-aliases", no_argument, NULL, OPT_SUGGEST},
      {"follow-symlinks", no_argument, NULL, OPT_FOLLOW},
      {"quiet", no_argument, NULL, 'q'},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {NULL, 0, NULL, 0},
  };
  static kfts_config cfg; /* static: freed by an atexit handler */
  kfts_error cerr = {0};
  if (kfts_config_load(&cfg, NULL, &cerr)) {
    fprintf(stderr, "kfts-index: %s%s%.0d: %s\n", cerr.source, cerr.line ? ":" : "", cerr.line, cerr.message);
    kfts_config_free(&cfg);
    return 2;
  }
  config = &cfg;
  atexit(free_config);
  const char *db_path = getenv("KFTS_DB");
  if (!db_path || !*db_path) db_path = cfg.db ? cfg.db : "kfts.db";
  const char *manifest = NULL;
  int json = 0, do_dump = 0, suggest = 0;
  kfts_index_opts opts = {0};
  ctx c = {0};
  int ch;
  while ((ch = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
    switch (ch) {
    case OPT_DB: db_path = optarg; break;
    case OPT_MANIFEST: manifest = optarg; break;
    case OPT_FULL: opts.full = 1; break;
    case OPT_OPTIMIZE: opts.optimize = 1; break;
    case OPT_JSON: json = 1; break;
    case OPT_DUMP: do_dump = 1; break;
    case OPT_SUGGEST: suggest = 1; break;
    case OPT_FOLLOW: opts.follow_symlinks = 1; break;
    case 'q': c.quiet = 1; break;
    case 'v': c.verbose = 1; break;
    case 'h': fputs(usage_text, stdout); return finish(0);
    case OPT_VERSION: printf("kfts-index: %s\n", kfts_version_string()); return finish(0);
    default: fputs("Try 'kfts-index --help'.\n", stderr); return 2;
    }
  }
  if (do_dump) {
    if (optind == argc) {
      fputs("kfts-index: --dump needs at least one FILE\n", stderr);
      return 2;
    }
    return finish(dump(argc - optind, argv + optind, manifest));
  }

  kfts_error err = {0};
  kfts_db *db = NULL;
  int rebuilt = 0;
  int rc = kfts_db_open(&db, &rebuilt, db_path, KFTS_OPEN_CREATE, &err);
  if (rc) {
    fprintf(stderr, "kfts-index: %s: %s\n", db_path, err.message);
    return 2;
  }
  if (rebuilt && !c.quiet)
    fprintf(stderr, "kfts-index: %s: index made by an older kfts; rebuilding it from the files\n",
            db_path);
  char **roots = NULL;
  size_t n_roots = 0;
  const char *const *paths = (const char *const *)(argv + optind);
  size_t n_paths = (size_t)(argc - optind);
  if (n_paths == 0) {
    rc = kfts_db_roots(db, &roots, &n_roots, &err);
    if (rc == KFTS_OK && n_roots == 0) {
      fputs("kfts-index: nothing to index: give files or folders (e.g. kfts-index corpus)\n", stderr);
      kfts_db_close(db);
      return 2;
    }
    paths = (const char *const *)roots;
    n_paths = n_roots;
  }
  c.tty = isatty(2);
  clock_gettime(CLOCK_MONOTONIC, &c.start);
  opts.manifest = manifest;
  opts.report = on_report;
  opts.report_ctx = &c;
  opts.progress = on_progress;
  opts.event = on_event;
  kfts_index_stats st = {0};
  if (rc == KFTS_OK) rc = kfts_index_paths(db, paths, n_paths, &opts, &st, &err);
  if (c.progress_shown) fputs("\r\033[K", stderr);
  kfts_strv_free(roots, n_roots);
  char *suggestions = NULL;
  if (rc == KFTS_OK && suggest) rc = kfts_suggest_aliases(db, &suggestions, &err);
  kfts_db_close(db);
  if (suggestions) {
    puts(suggestions);
    kfts_free(suggestions);
    return finish(st.files_failed || st.warnings ? 1 : 0);
  }
  if (rc) {
    if (err.source[0] && strcmp(err.source, "database"))
      fprintf(stderr, "kfts-index: %s%s%.0d: %s\n", err.source, err.line ? ":" : "", err.line, err.message);
    else fprintf(stderr, "kfts-index: %s: %s\n", db_path, err.message);
    return 2;
  }
  if (json) {
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "files_seen", (json_int_t)st.files_seen,
                          "files_indexed", (json_int_t)st.files_indexed, "files_unchanged",
                          (json_int_t)st.files_unchanged, "files_removed", (json_int_t)st.files_removed,
                          "files_failed", (json_int_t)st.files_failed, "articles", (json_int_t)st.articles,
                          "warnings", (json_int_t)st.warnings, "seconds", st.seconds);
    char *s = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
    if (s) puts(s);
    free(s);
    json_decref(o);
  } else if (!c.quiet) {
    printf("%zu files seen: %zu indexed, %zu unchanged, %zu removed, %zu failed; "
           "%zu articles written in %.2f s\n",
           st.files_seen, st.files_indexed, st.files_unchanged, st.files_removed, st.files_failed,
           st.articles, st.seconds);
  }
  return finish(st.files_failed || st.warnings ? 1 : 0);
}
