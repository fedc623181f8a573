/*
** query.c (bench) -- in-process latency of kfts queries: kfts-bench-query DB RUNS QUERY...
** Each QUERY runs RUNS times (round robin, so drift hits all alike) as kfts-query runs it:
** the top 10 with snippets; "timeline:Q", "sources:Q" (a timeline by source) and "facets:Q"
** run those instead. Prints one line per run: query TAB milliseconds.
*/
#define _POSIX_C_SOURCE 200809L
#include "kfts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  kfts_init();
  if (argc < 4) {
    fputs("usage: kfts-bench-query DB RUNS QUERY...\n", stderr);
    return 2;
  }
  int runs = atoi(argv[2]);
  kfts_db *db = NULL;
  kfts_error err = {0};
  if (kfts_db_open(&db, NULL, argv[1], KFTS_OPEN_READONLY, &err)) {
    fprintf(stderr, "kfts-bench-query: %s: %s\n", argv[1], err.message);
    return 2;
  }
  for (int r = 0; r < runs; r++)
    for (int i = 3; i < argc; i++) {
      kfts_search_opts o;
      kfts_search_opts_init(&o);
      int kind = !strncmp(argv[i], "timeline:", 9)  ? 1
                 : !strncmp(argv[i], "facets:", 7)  ? 2
                 : !strncmp(argv[i], "sources:", 8) ? 3
                                                    : 0;
      o.query = kind == 1 ? argv[i] + 9 : kind == 2 ? argv[i] + 7 : kind == 3 ? argv[i] + 8 : argv[i];
      double t0 = now_ms();
      int rc;
      if (kind == 1 || kind == 3) {
        kfts_timeline *t = NULL;
        rc = kfts_timeline_get(&t, db, &o, -1, kind == 3, &err);
        kfts_timeline_free(t);
      } else if (kind == 2) {
        kfts_facets *f = NULL;
        rc = kfts_facets_get(&f, db, &o, &err);
        kfts_facets_free(f);
      } else {
        kfts_result *res = NULL;
        rc = kfts_search(&res, db, &o, &err);
        kfts_result_free(res);
      }
      double t1 = now_ms();
      if (rc) {
        fprintf(stderr, "kfts-bench-query: %s: %s\n", argv[i], err.message);
        return 2;
      }
      printf("%s\t%.3f\n", argv[i], t1 - t0);
    }
  kfts_db_close(db);
  return 0;
}
