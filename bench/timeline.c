/*
** timeline.c (bench) -- in-process time of timelines and facets on an existing index, against
** counting the same query's matches (kfts_search with count_only) in the same run.
** Usage: kfts-bench-timeline DB [RUNS] [QUERY...]; prints a Markdown table of medians.
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

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return v[n / 2];
}

int main(int argc, char **argv) {
  kfts_init();
  if (argc < 2) {
    fputs("usage: kfts-bench-timeline DB [RUNS] [QUERY...]\n", stderr);
    return 2;
  }
  int runs = argc > 2 ? atoi(argv[2]) : 11;
  if (runs < 1 || runs > 1000) runs = 11;
  static const char *const defaults[] = {"AI", "데이터센터", "source:threads", "GRPO OR 강화학습", "모델 date:2025"};
  const char *const *qs = argc > 3 ? (const char *const *)(argv + 3) : defaults;
  int n_q = argc > 3 ? argc - 3 : (int)(sizeof defaults / sizeof *defaults);
  kfts_db *db = NULL;
  kfts_error err = {0};
  if (kfts_db_open(&db, NULL, argv[1], KFTS_OPEN_READONLY, &err)) {
    fprintf(stderr, "kfts-bench-timeline: %s: %s\n", argv[1], err.message);
    return 2;
  }
  printf("| query | matches | count ms | timeline ms | facets ms | timeline / count | facets / count |\n");
  printf("|---|---|---|---|---|---|---|\n");
  double *t = malloc(sizeof *t * (size_t)runs * 3);
  for (int qi = 0; qi < n_q; qi++) {
    kfts_search_opts o;
    kfts_search_opts_init(&o);
    o.query = qs[qi];
    size_t total = 0;
    for (int r = 0; r < runs; r++) { /* interleaved, so drift hits all three alike */
      double t0 = now_ms();
      kfts_search_opts c = o;
      c.count_only = 1;
      kfts_result *res = NULL;
      if (kfts_search(&res, db, &c, &err)) goto fail;
      total = res->total;
      kfts_result_free(res);
      double t1 = now_ms();
      kfts_timeline *tl = NULL;
      if (kfts_timeline_get(&tl, db, &o, -1, 0, &err)) goto fail;
      kfts_timeline_free(tl);
      double t2 = now_ms();
      kfts_facets *f = NULL;
      if (kfts_facets_get(&f, db, &o, &err)) goto fail;
      kfts_facets_free(f);
      double t3 = now_ms();
      t[r] = t1 - t0;
      t[runs + r] = t2 - t1;
      t[2 * runs + r] = t3 - t2;
    }
    double c = median(t, runs), tl = median(t + runs, runs), fc = median(t + 2 * runs, runs);
    printf("| %s | %zu | %.1f | %.1f | %.1f | %.2f | %.2f |\n", qs[qi], total, c, tl, fc, tl / c, fc / c);
  }
  free(t);
  kfts_db_close(db);
  return 0;
fail:
  fprintf(stderr, "kfts-bench-timeline: %s\n", err.message);
  return 2;
}
