/*
** kfts-query -- searches a kfts index (see README.md).
** Parses options, calls libkfts, prints, chooses the exit code; nothing else.
** Exit: 0 hits found, 1 no hit, 2 error.
*/
#define _POSIX_C_SOURCE 200809L
#include "kfts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "Usage: kfts-query [OPTIONS] WORD...\n"
    "\n"
    "Find the articles that contain every WORD, best first.\n"
    "\n"
    "Options:\n"
    "  --db FILE      the database (default: $KFTS_DB, else ./kfts.db)\n"
    "  -n, --limit N  show at most N hits (default 10)\n"
    "  --json         print {\"query\",\"total\",\"hits\":[...]} (see README.md)\n"
    "  --tokens       print how the words are tokenized (document side; with --query-side,\n"
    "                 as a query), one token a line: text, byte range, '+' when colocated\n"
    "  -h, --help     this help\n"
    "  --version      versions of kfts and the libraries in use\n"
    "\n"
    "Exit status: 0 hits found, 1 no hit, 2 error.\n";

static int finish(int status) {
  if (fclose(stdout) != 0) {
    perror("kfts-query: writing output");
    return 2;
  }
  return status;
}

static int print_token(void *ctx, const kfts_token *t) {
  (void)ctx;
  printf("%s%.*s\t%d\t%d\n", t->colocated ? "+" : "", t->len, t->text, t->start, t->end);
  return 0;
}

int main(int argc, char **argv) {
  enum { OPT_DB = 256, OPT_JSON, OPT_VERSION, OPT_TOKENS, OPT_QUERY_SIDE };
  static const struct option longopts[] = {
      {"db", required_argument, NULL, OPT_DB},   {"limit", required_argument, NULL, 'n'},
      {"json", no_argument, NULL, OPT_JSON},     {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION}, {"tokens", no_argument, NULL, OPT_TOKENS},
      {"query-side", no_argument, NULL, OPT_QUERY_SIDE}, {NULL, 0, NULL, 0},
  };
  const char *db_path = getenv("KFTS_DB");
  if (!db_path || !*db_path) db_path = "kfts.db";
  size_t limit = 10;
  int json = 0, tokens = 0, query_side = 0, ch;
  while ((ch = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
    switch (ch) {
    case OPT_DB: db_path = optarg; break;
    case 'n': {
      char *end;
      errno = 0;
      long long v = strtoll(optarg, &end, 10);
      if (errno || *end || v < 1 || v > 1000000) {
        fprintf(stderr, "kfts-query: --limit '%s': expected a whole number from 1 to 1000000\n", optarg);
        return 2;
      }
      limit = (size_t)v;
      break;
    }
    case OPT_JSON: json = 1; break;
    case OPT_TOKENS: tokens = 1; break;
    case OPT_QUERY_SIDE: query_side = 1; break;
    case 'h': fputs(usage_text, stdout); return finish(0);
    case OPT_VERSION: printf("kfts-query: %s\n", kfts_version_string()); return finish(0);
    default: fputs("Try 'kfts-query --help'.\n", stderr); return 2;
    }
  }
  if (optind == argc) {
    fputs("kfts-query: no query given; try 'kfts-query --help'\n", stderr);
    return 2;
  }
  if (tokens) {
    for (int i = optind; i < argc; i++)
      if (kfts_tokens(argv[i], strlen(argv[i]), query_side, print_token, NULL)) {
        fputs("kfts-query: out of memory\n", stderr);
        return 2;
      }
    return finish(0);
  }
  kfts_error err = {0};
  kfts_db *db = NULL;
  if (kfts_db_open(&db, NULL, db_path, KFTS_OPEN_READONLY, &err)) {
    fprintf(stderr, "kfts-query: %s: %s\n", db_path, err.message);
    return 2;
  }
  kfts_result *r = NULL;
  int rc = kfts_search(&r, db, (const char *const *)(argv + optind), (size_t)(argc - optind), limit, &err);
  kfts_db_close(db);
  if (rc) {
    fprintf(stderr, "kfts-query: %s\n", err.message);
    return 2;
  }
  /* The query as typed, for the JSON "query" field. */
  size_t qlen = 1;
  for (int i = optind; i < argc; i++) qlen += strlen(argv[i]) + 1;
  char *q = calloc(1, qlen);
  if (!q) {
    kfts_result_free(r);
    fputs("kfts-query: out of memory\n", stderr);
    return 2;
  }
  for (int i = optind; i < argc; i++) {
    if (i > optind) strcat(q, " ");
    strcat(q, argv[i]);
  }
  if (json) {
    char *s = kfts_result_json(r, q);
    if (s) puts(s);
    kfts_free(s);
  } else {
    for (size_t i = 0; i < r->n_hits; i++) {
      const kfts_hit *h = &r->hits[i];
      char imp[16] = "-";
      if (h->importance >= 0) snprintf(imp, sizeof imp, "%d", h->importance);
      printf("%2zu. %-10s  %-10s  %2s  %s\n", i + 1, h->date ? h->date : "-",
             h->source ? h->source : "-", imp, h->title);
      printf("    %s\n", h->url ? h->url : h->file);
    }
    if (r->total > r->n_hits) printf("(%zu of %zu matches shown; --limit N for more)\n", r->n_hits, r->total);
  }
  int status = r->n_hits ? 0 : 1;
  if (!r->n_hits && !json) fprintf(stderr, "kfts-query: no article contains all of: %s\n", q);
  free(q);
  kfts_result_free(r);
  return finish(status);
}
