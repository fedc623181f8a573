/*
** kfts-query -- searches a kfts index (see README.md and --help).
** Parses options, calls libkfts, prints, chooses the exit code; nothing else.
** Exit: 0 hits found, 1 no article matches (relaxed suggestions may still print), 2 error.
*/
#define _POSIX_C_SOURCE 200809L
#include "kfts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <utf8proc.h>

static const char usage_text[] =
    "Usage: kfts-query [OPTIONS] QUERY...\n"
    "Search the index; the QUERY arguments are joined with spaces. Best first.\n"
    "\n"
    "Query language (kfts-query(1) has it all):\n"
    "  w1 w2          every word (particles dropped: 센터의 = 센터)\n"
    "  \"a phrase\"     in this order (quote it for the shell: '\"a b\"')\n"
    "  a OR b         either; -w or NOT w excludes; ( ) groups; w* is a prefix\n"
    "  title:w topic:w    in the title / the topics\n"
    "  source:NAME  date:2025-01  date:D1..D2  since:D  until:D  importance:>=8\n"
    "  Filters alone list the matches newest first. 앤트로픽 = Anthropic: aliases.\n"
    "\n"
    "Options:\n"
    "  --db FILE          the database ($KFTS_DB, config \"db\", else ./kfts.db)\n"
    "  -n, --limit N      at most N hits (10)     --offset N   skip N hits\n"
    "  --sort KEY         relevance (default), date or importance\n"
    "  --importance-weight W   lift by importance (0.25; 0: none)\n"
    "  --recent DAYS      favour recent articles: half-life in days\n"
    "  --json             {query, total, relaxed, hits: [...]}\n"
    "  --jsonl            one JSON object per hit, one per line\n"
    "  --tsv              tab-separated, a header line first\n"
    "  --fields a,b,c     hit fields: rank id title url date date_source source\n"
    "                     topics importance score snippet highlights file line\n"
    "                     similar\n"
    "  --count            only the number of matching articles\n"
    "  --timeline[=BY]    matches per day, week, month or year, every period\n"
    "  --by-source        with --timeline: counts per source\n"
    "  --svg FILE         with --timeline: also an SVG bar chart\n"
    "  --facets           counts of the matches per source, topic and year\n"
    "  --collapse         one hit per story (near-duplicates), \"+N similar\"\n"
    "  --similar ID       the articles most like article ID\n"
    "  --explain          the scoring of each hit and the FTS5 expression\n"
    "  --strict           no relaxed fallback when no article has every word\n"
    "  --aliases FILE     more aliases: {\"aliases\": [[\"OpenAI\", \"오픈AI\"]]}\n"
    "  --no-aliases       search words only as written\n"
    "  --color WHEN       auto (a terminal, NO_COLOR unset), always, never\n"
    "  --tokens           how the words are tokenized (--query-side: as a query)\n"
    "  -h, --help         this help     --version   kfts and library versions\n"
    "\n"
    "Defaults: $XDG_CONFIG_HOME/kfts/config.json (db, limit, color,\n"
    "importance_weight, aliases); options override it.\n"
    "Exit: 0 hits found, 1 no article matches (relaxed hits may print), 2 error.\n";

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

static int parse_count(const char *opt, const char *s, long long min, long long max, size_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) {
    fprintf(stderr, "kfts-query: %s '%s': expected a whole number from %lld to %lld\n", opt, s, min, max);
    return 0;
  }
  *out = (size_t)v;
  return 1;
}

static int parse_real(const char *opt, const char *s, double min, double max, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= min && v <= max)) {
    fprintf(stderr, "kfts-query: %s '%s': expected a number from %g to %g\n", opt, s, min, max);
    return 0;
  }
  *out = v;
  return 1;
}

/* ---- human output ---- */

typedef struct out {
  int width;   /* columns to wrap at */
  int color;   /* highlight with ANSI bold/colour */
  int explain;
} out;

/* Display columns of the UTF-8 character at S (LEN bytes left); its byte length in *K. */
static int char_width(const char *s, size_t len, int *k) {
  utf8proc_int32_t c;
  utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &c);
  if (n <= 0) {
    *k = 1;
    return 1;
  }
  *k = (int)n;
  int w = utf8proc_charwidth(c);
  return w < 0 ? 0 : w;
}

/* Prints TEXT wrapped to O->width by display width, each line indented by INDENT spaces,
** the character ranges in HL (N_HL pairs) highlighted when O->color. Breaks at spaces
** when it can, else anywhere (Hangul lines may break between syllables). */
static void print_wrapped(const out *o, const char *text, const int *hl, size_t n_hl, int indent) {
  int avail = o->width - indent;
  if (avail < 20) avail = 20;
  size_t len = strlen(text), i = 0;
  int ch = 0; /* character index of i */
  while (i < len) {
    while (i < len && text[i] == ' ') i++, ch++;
    if (i >= len) break;
    /* Find the end of this line: the last space before the width, else the width. */
    size_t j = i, last_space = 0;
    int cols = 0, cj = ch, c_space = 0;
    while (j < len && text[j] != '\n') {
      int k, w = char_width(text + j, len - j, &k);
      if (cols + w > avail) break;
      if (text[j] == ' ') last_space = j, c_space = cj;
      cols += w;
      j += (size_t)k;
      cj++;
    }
    if (j < len && text[j] != '\n' && last_space > i) j = last_space, cj = c_space;
    printf("%*s", indent, "");
    int c = ch;
    for (size_t p = i; p < j;) {
      int on = 0;
      for (size_t h = 0; h < n_hl; h++) on |= c >= hl[2 * h] && c < hl[2 * h + 1];
      int k;
      char_width(text + p, len - p, &k);
      if (o->color && on) printf("\033[1;31m%.*s\033[0m", k, text + p);
      else fwrite(text + p, 1, (size_t)k, stdout);
      p += (size_t)k;
      c++;
    }
    putchar('\n');
    i = j;
    ch = cj;
    if (i < len && text[i] == '\n') i++, ch++;
  }
}

/* Prints S clipped to COLS display columns ("…" when cut). */
static void print_clipped(const char *s, int cols) {
  size_t len = strlen(s), i = 0;
  int used = 0;
  while (i < len) {
    int k, w = char_width(s + i, len - i, &k);
    if (used + w > cols - 1 && i + (size_t)k < len) {
      fputs("…", stdout);
      return;
    }
    if (used + w > cols) break;
    fwrite(s + i, 1, (size_t)k, stdout);
    used += w;
    i += (size_t)k;
  }
}

static void print_human(const out *o, kfts_result *r, const char *query, size_t offset) {
  if (r->relaxed)
    printf("No article has all of: %s\nShowing the articles that match most of it (relaxed):\n\n", query);
  if (o->explain) {
    printf("FTS5: %s\n", r->fts_query ? r->fts_query : "(none: filters only)");
    if (r->sql_filter && *r->sql_filter) printf("filters:%s\n", r->sql_filter);
    putchar('\n');
  }
  for (size_t i = 0; i < r->n_hits; i++) {
    kfts_hit *h = &r->hits[i];
    char imp[16] = "";
    if (h->importance >= 0) snprintf(imp, sizeof imp, "  ★%d", h->importance);
    printf("%2zu. %s  %s%s  %s%s%s\n", offset + i + 1, h->date ? h->date : "----------",
           h->source ? h->source : "-", imp, o->color ? "\033[1m" : "", h->title, o->color ? "\033[0m" : "");
    if (r->relaxed) printf("    [matches %d of %zu]\n", h->matched, r->n_parts);
    if (h->n_similar) {
      printf("    +%zu similar:\n", h->n_similar);
      for (size_t k = 0; k < h->n_similar && k < 3; k++) {
        printf("      %s  %s  ", h->similar[k].date ? h->similar[k].date : "----------",
               h->similar[k].source ? h->similar[k].source : "-");
        print_clipped(h->similar[k].title, o->width - 36 > 20 ? o->width - 36 : 20);
        putchar('\n');
      }
      if (h->n_similar > 3) printf("      … and %zu more (--json lists them all)\n", h->n_similar - 3);
    }
    if (h->url) printf("    %s\n", h->url);
    else printf("    %s:%d\n", h->file, h->line);
    if (h->snippet && *h->snippet) {
      for (char *p = h->snippet; *p; p++) /* one paragraph: same characters, same offsets */
        if (*p == '\n' || *p == '\t' || *p == '\r') *p = ' ';
      print_wrapped(o, h->snippet, h->highlights, h->n_highlights, 4);
    }
    if (r->similar_to) printf("    similarity %.2f\n", h->score);
    if (o->explain)
      printf("    score %.4f = relevance %.4f × importance %.3f × recency %.3f\n", h->score, h->relevance,
             h->importance_factor, h->recency_factor);
  }
  if (r->total > offset + r->n_hits)
    printf("(%zu–%zu of %zu shown; --limit N / --offset N for more)\n", r->n_hits ? offset + 1 : offset,
           offset + r->n_hits, r->total);
}

/* ---- TSV ---- */

static void tsv_str(const char *s) {
  for (; s && *s; s++) putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

static void tsv_field(const kfts_hit *h, size_t rank, const char *f) {
  if (!strcmp(f, "rank")) printf("%zu", rank);
  else if (!strcmp(f, "id")) printf("%lld", (long long)h->id);
  else if (!strcmp(f, "title")) tsv_str(h->title);
  else if (!strcmp(f, "url")) tsv_str(h->url);
  else if (!strcmp(f, "date")) tsv_str(h->date);
  else if (!strcmp(f, "date_source")) tsv_str(h->date_source);
  else if (!strcmp(f, "source")) tsv_str(h->source);
  else if (!strcmp(f, "topics"))
    for (size_t t = 0; t < h->n_topics; t++) printf("%s", t ? ";" : ""), tsv_str(h->topics[t]);
  else if (!strcmp(f, "importance")) {
    if (h->importance >= 0) printf("%d", h->importance);
  } else if (!strcmp(f, "score")) printf("%.6f", h->score);
  else if (!strcmp(f, "snippet")) tsv_str(h->snippet);
  else if (!strcmp(f, "highlights"))
    for (size_t k = 0; k < h->n_highlights; k++)
      printf("%s%d-%d", k ? "," : "", h->highlights[2 * k], h->highlights[2 * k + 1]);
  else if (!strcmp(f, "file")) tsv_str(h->file);
  else if (!strcmp(f, "line")) printf("%d", h->line);
}

/* argv split into options and query words (main), and the config; freed at exit. */
static char **opts_v, **words;
static kfts_config *config;
static void free_args(void) {
  free(opts_v);
  free(words);
}
static void free_config(void) { kfts_config_free(config); }

static void print_timeline(const out *o, const kfts_timeline *t, const char *query) {
  if (!t->n_buckets) {
    printf("%s: %zu articles, none dated\n", query, t->total);
    return;
  }
  const kfts_bucket *pk = &t->buckets[t->peak];
  printf("%s: %zu articles by %s, %s to %s, %zu undated; peak %s (%zu)\n", query, t->total,
         kfts_timeline_by_name(t->by), t->first_seen, t->buckets[t->n_buckets - 1].last[0] ? t->buckets[t->n_buckets - 1].last : "",
         t->undated, pk->period, pk->count);
  int label = (int)strlen(t->buckets[0].period), bar_max = o->width / 3;
  if (bar_max > 40) bar_max = 40;
  if (bar_max < 10) bar_max = 10;
  for (size_t k = 0; k < t->n_buckets; k++) {
    const kfts_bucket *b = &t->buckets[k];
    int n = pk->count ? (int)((double)b->count * bar_max / (double)pk->count + 0.5) : 0;
    if (b->count && !n) n = 1;
    printf("%-*s  ", label, b->period);
    for (int i = 0; i < bar_max; i++) fputs(i < n ? "█" : " ", stdout);
    printf(" %4zu", b->count);
    int rest = o->width - label - 2 - bar_max - 5 - 2;
    if (b->n_sources) {
      char src[256] = "";
      for (size_t i = 0; i < b->n_sources; i++) {
        size_t at = strlen(src);
        snprintf(src + at, sizeof src - at, "%s%s %zu", i ? ", " : "", *b->sources[i].value ? b->sources[i].value : "-",
                 b->sources[i].count);
      }
      printf("  (%s)", src);
      rest -= (int)strlen(src) + 4;
    }
    if (b->count && rest > 8) {
      fputs("  ", stdout);
      print_clipped(b->top_title, rest);
    }
    putchar('\n');
  }
}

static void print_counts(const char *name, const kfts_count *c, size_t n) {
  printf("%-9s%s", name, n ? "" : "-");
  for (size_t i = 0; i < n; i++) printf("%s%s %zu", i ? " · " : "", c[i].value ? c[i].value : "(none)", c[i].count);
  putchar('\n');
}

static const char *const default_tsv[] = {"rank", "date", "source", "importance", "title", "url", "file", "line"};

int main(int argc, char **argv) {
  kfts_init();
  enum {
    OPT_DB = 256, OPT_JSON, OPT_JSONL, OPT_TSV, OPT_FIELDS, OPT_COUNT, OPT_OFFSET, OPT_SORT, OPT_IW, OPT_RECENT,
    OPT_EXPLAIN, OPT_STRICT, OPT_ALIASES, OPT_NO_ALIASES, OPT_VERSION, OPT_TOKENS, OPT_QUERY_SIDE,
    OPT_TIMELINE, OPT_BY_SOURCE, OPT_SVG, OPT_FACETS, OPT_COLLAPSE, OPT_SIMILAR, OPT_COLOR
  };
  static const struct option longopts[] = {
      {"db", required_argument, NULL, OPT_DB},
      {"limit", required_argument, NULL, 'n'},
      {"offset", required_argument, NULL, OPT_OFFSET},
      {"sort", required_argument, NULL, OPT_SORT},
      {"importance-weight", required_argument, NULL, OPT_IW},
      {"recent", required_argument, NULL, OPT_RECENT},
      {"json", no_argument, NULL, OPT_JSON},
      {"jsonl", no_argument, NULL, OPT_JSONL},
      {"tsv", no_argument, NULL, OPT_TSV},
      {"fields", required_argument, NULL, OPT_FIELDS},
      {"count", no_argument, NULL, OPT_COUNT},
      {"explain", no_argument, NULL, OPT_EXPLAIN},
      {"strict", no_argument, NULL, OPT_STRICT},
      {"aliases", required_argument, NULL, OPT_ALIASES},
      {"no-aliases", no_argument, NULL, OPT_NO_ALIASES},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {"tokens", no_argument, NULL, OPT_TOKENS},
      {"query-side", no_argument, NULL, OPT_QUERY_SIDE},
      {"timeline", optional_argument, NULL, OPT_TIMELINE},
      {"by-source", no_argument, NULL, OPT_BY_SOURCE},
      {"svg", required_argument, NULL, OPT_SVG},
      {"facets", no_argument, NULL, OPT_FACETS},
      {"collapse", no_argument, NULL, OPT_COLLAPSE},
      {"similar", required_argument, NULL, OPT_SIMILAR},
      {"color", required_argument, NULL, OPT_COLOR},
      {NULL, 0, NULL, 0},
  };
  /* Query words may start with '-' (exclusions): split argv into options, handed to
  ** getopt, and words, kept in order. Options: --long[=v], -h, -n N / -nN; "--" ends them. */
  opts_v = calloc((size_t)argc + 1, sizeof *opts_v);
  words = calloc((size_t)argc + 1, sizeof *words);
  atexit(free_args);
  int n_opts = 1, n_words = 0;
  if (!opts_v || !words) {
    fputs("kfts-query: out of memory\n", stderr);
    return 2;
  }
  opts_v[0] = argv[0];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      while (++i < argc) words[n_words++] = argv[i];
      break;
    }
    if (!strncmp(a, "--", 2)) {
      opts_v[n_opts++] = argv[i];
      const struct option *o = longopts;
      size_t len = strcspn(a + 2, "=");
      while (o->name && !(strlen(o->name) == len && !strncmp(o->name, a + 2, len))) o++;
      if (o->name && o->has_arg == required_argument && !a[2 + len] && i + 1 < argc) opts_v[n_opts++] = argv[++i];
    } else if (!strcmp(a, "-h")) {
      opts_v[n_opts++] = argv[i];
    } else if (!strncmp(a, "-n", 2) && (a[2] == 0 || strspn(a + 2, "0123456789") == strlen(a + 2))) {
      opts_v[n_opts++] = argv[i];
      if (!a[2] && i + 1 < argc) opts_v[n_opts++] = argv[++i];
    } else {
      words[n_words++] = argv[i];
    }
  }
  argc = n_opts;
  argv = opts_v;
  /* Defaults: the config file, then the environment, then the options. */
  static kfts_config cfg; /* static: freed by an atexit handler */
  kfts_error cerr = {0};
  if (kfts_config_load(&cfg, NULL, &cerr)) {
    fprintf(stderr, "kfts-query: %s%s%.0d: %s\n", cerr.source, cerr.line ? ":" : "", cerr.line, cerr.message);
    kfts_config_free(&cfg);
    return 2;
  }
  config = &cfg;
  atexit(free_config);
  const char *db_path = getenv("KFTS_DB");
  if (!db_path || !*db_path) db_path = cfg.db ? cfg.db : "kfts.db";
  int color = cfg.color >= 0 ? cfg.color : 2; /* 0 never, 1 always, 2 auto */
  kfts_search_opts so;
  kfts_search_opts_init(&so);
  if (cfg.limit) so.limit = cfg.limit;
  if (cfg.importance_weight == cfg.importance_weight) so.importance_weight = cfg.importance_weight; /* not NaN */
  so.alias_files = (const char *const *)cfg.aliases;
  so.n_alias_files = cfg.n_aliases;
  enum { F_HUMAN, F_JSON, F_JSONL, F_TSV } format = F_HUMAN;
  int tokens = 0, query_side = 0, explain = 0, timeline = 0, by = -1, by_source = 0, facets = 0, ch;
  const char *svg = NULL;
  long long similar_id = 0;
  char *fields_arg = NULL;
  while ((ch = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
    switch (ch) {
    case OPT_DB: db_path = optarg; break;
    case 'n':
      if (!parse_count("--limit", optarg, 1, 1000000, &so.limit)) return 2;
      break;
    case OPT_OFFSET:
      if (!parse_count("--offset", optarg, 0, 1000000000, &so.offset)) return 2;
      break;
    case OPT_SORT:
      if (!strcmp(optarg, "relevance")) so.sort = KFTS_SORT_RELEVANCE;
      else if (!strcmp(optarg, "date")) so.sort = KFTS_SORT_DATE;
      else if (!strcmp(optarg, "importance")) so.sort = KFTS_SORT_IMPORTANCE;
      else {
        fprintf(stderr, "kfts-query: --sort '%s': expected relevance, date or importance\n", optarg);
        return 2;
      }
      break;
    case OPT_IW:
      if (!parse_real("--importance-weight", optarg, 0, 10, &so.importance_weight)) return 2;
      break;
    case OPT_RECENT:
      if (!parse_real("--recent", optarg, 0.001, 1e6, &so.recent_half_life)) return 2;
      break;
    case OPT_JSON: format = F_JSON; break;
    case OPT_JSONL: format = F_JSONL; break;
    case OPT_TSV: format = F_TSV; break;
    case OPT_FIELDS: fields_arg = optarg; break;
    case OPT_COUNT: so.count_only = 1; break;
    case OPT_EXPLAIN: explain = 1; break;
    case OPT_STRICT: so.strict = 1; break;
    case OPT_ALIASES: so.aliases_file = optarg; break;
    case OPT_NO_ALIASES: so.no_aliases = 1; break;
    case OPT_TIMELINE:
      timeline = 1;
      if (optarg && (by = kfts_timeline_by(optarg)) < 0) {
        fprintf(stderr, "kfts-query: --timeline=%s: expected day, week, month or year\n", optarg);
        return 2;
      }
      break;
    case OPT_BY_SOURCE: by_source = 1; break;
    case OPT_SVG: svg = optarg; break;
    case OPT_FACETS: facets = 1; break;
    case OPT_COLLAPSE: so.collapse = 1; break;
    case OPT_COLOR:
      if (!strcmp(optarg, "never")) color = 0;
      else if (!strcmp(optarg, "always")) color = 1;
      else if (!strcmp(optarg, "auto")) color = 2;
      else {
        fprintf(stderr, "kfts-query: --color '%s': expected auto, always or never\n", optarg);
        return 2;
      }
      break;
    case OPT_SIMILAR: {
      char *end;
      errno = 0;
      similar_id = strtoll(optarg, &end, 10);
      if (errno || end == optarg || *end || similar_id < 1) {
        fprintf(stderr, "kfts-query: --similar '%s': expected an article id (from --json)\n", optarg);
        return 2;
      }
      break;
    }
    case OPT_TOKENS: tokens = 1; break;
    case OPT_QUERY_SIDE: query_side = 1; break;
    case 'h': fputs(usage_text, stdout); return finish(0);
    case OPT_VERSION: printf("kfts-query: %s\n", kfts_version_string()); return finish(0);
    default: fputs("Try 'kfts-query --help'.\n", stderr); return 2;
    }
  }
  while (optind < argc) words[n_words++] = argv[optind++]; /* none expected: words were split out above */
  if (n_words == 0 && similar_id) words[n_words++] = (char *)"";
  if (n_words == 0) {
    fputs("kfts-query: no query given; try 'kfts-query --help'\n", stderr);
    return 2;
  }
  if (tokens) {
    for (int i = 0; i < n_words; i++)
      if (kfts_tokens(words[i], strlen(words[i]), query_side, print_token, NULL)) {
        fputs("kfts-query: out of memory\n", stderr);
        return 2;
      }
    return finish(0);
  }
  /* --fields: names checked, split in place. */
  const char *fields[32];
  size_t n_fields = 0;
  if (fields_arg) {
    if (format == F_HUMAN) {
      fputs("kfts-query: --fields needs --json, --jsonl or --tsv\n", stderr);
      return 2;
    }
    for (char *f = strtok(fields_arg, ","); f; f = strtok(NULL, ",")) {
      if (!kfts_hit_field_known(f)) {
        fprintf(stderr, "kfts-query: --fields: unknown field '%s' (see --help)\n", f);
        return 2;
      }
      if (n_fields == 32) {
        fputs("kfts-query: --fields: at most 32 fields\n", stderr);
        return 2;
      }
      fields[n_fields++] = f;
    }
    if (!n_fields) {
      fputs("kfts-query: --fields: no field named\n", stderr);
      return 2;
    }
  }
  /* The query: the arguments joined by spaces. */
  size_t qlen = 1;
  for (int i = 0; i < n_words; i++) qlen += strlen(words[i]) + 1;
  char *q = calloc(1, qlen);
  if (!q) {
    fputs("kfts-query: out of memory\n", stderr);
    return 2;
  }
  for (int i = 0; i < n_words; i++) {
    if (i) strcat(q, " ");
    strcat(q, words[i]);
  }

  so.query = q;
  if (format == F_HUMAN && !so.count_only) so.snippet_tokens = 24;
  else if (fields_arg) {
    so.snippet_tokens = 0;
    for (size_t i = 0; i < n_fields; i++)
      if (!strcmp(fields[i], "snippet") || !strcmp(fields[i], "highlights")) so.snippet_tokens = 24;
  } else if (format == F_TSV) so.snippet_tokens = 0;

  kfts_error err = {0};
  kfts_db *db = NULL;
  if (kfts_db_open(&db, NULL, db_path, KFTS_OPEN_READONLY, &err)) {
    fprintf(stderr, "kfts-query: %s: %s\n", db_path, err.message);
    free(q);
    return 2;
  }
  if ((by_source || svg) && !timeline) {
    fprintf(stderr, "kfts-query: %s needs --timeline\n", by_source ? "--by-source" : "--svg");
    kfts_db_close(db);
    free(q);
    return 2;
  }
  if (timeline) {
    kfts_timeline *t = NULL;
    int trc = kfts_timeline_get(&t, db, &so, by, by_source, &err);
    kfts_db_close(db);
    if (trc) {
      fprintf(stderr, "kfts-query: %s\n", err.message);
      free(q);
      return 2;
    }
    int tstatus = t->total ? 0 : 1;
    if (svg) {
      char *img = kfts_timeline_svg(t, q);
      FILE *f = img ? fopen(svg, "w") : NULL;
      if (!f || fputs(img, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "kfts-query: %s: cannot write the SVG\n", svg);
        tstatus = 2;
      }
      kfts_free(img);
    }
    if (format == F_JSON) {
      char *js = kfts_timeline_json(t, q);
      if (js) puts(js);
      kfts_free(js);
    } else {
      out o = {80, 0, 0};
      const char *cols = getenv("COLUMNS");
      struct winsize ws;
      if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) o.width = ws.ws_col;
      else if (cols && atoi(cols) > 0) o.width = atoi(cols);
      print_timeline(&o, t, q);
    }
    if (!t->total) fprintf(stderr, "kfts-query: no article matches: %s\n", q);
    kfts_timeline_free(t);
    free(q);
    return finish(tstatus);
  }
  kfts_facets *fc = NULL;
  kfts_result *r = NULL;
  int rc;
  if (similar_id) {
    rc = kfts_similar(&r, db, (int64_t)similar_id, so.limit, &err);
    if (!*q) {
      free(q);
      q = strdup(r ? r->sql_filter : "similar");
    }
  } else {
    rc = facets ? kfts_facets_get(&fc, db, &so, &err) : KFTS_OK;
    if (!rc) rc = kfts_search(&r, db, &so, &err);
  }
  kfts_db_close(db);
  if (rc) {
    kfts_facets_free(fc);
    if (rc == KFTS_EIO || (err.source[0] && strcmp(err.source, "query") && strcmp(err.source, "database")))
      fprintf(stderr, "kfts-query: %s%s%.0d: %s\n", err.source, err.line ? ":" : "", err.line, err.message);
    else
      fprintf(stderr, "kfts-query: %s\n", err.message);
    free(q);
    return 2;
  }
  const char *const *fl = n_fields ? fields : NULL;
  int status = r->total && !r->relaxed ? 0 : 1;
  if (so.count_only) {
    printf("%zu\n", r->total);
  } else if (format == F_JSON) {
    char *s = kfts_result_json(r, q, fl, n_fields, so.offset + 1, fc);
    if (s) puts(s);
    else status = 2, fputs("kfts-query: out of memory\n", stderr);
    kfts_free(s);
  } else if (format == F_JSONL) {
    for (size_t i = 0; i < r->n_hits; i++) {
      char *s = kfts_hit_json(&r->hits[i], so.offset + i + 1, fl, n_fields, r->relaxed ? 1 : -1, 0);
      if (!s) {
        fputs("kfts-query: out of memory\n", stderr);
        status = 2;
        break;
      }
      puts(s);
      kfts_free(s);
    }
  } else if (format == F_TSV) {
    if (!fl) fl = default_tsv, n_fields = sizeof default_tsv / sizeof *default_tsv;
    for (size_t k = 0; k < n_fields; k++) printf("%s%s", k ? "\t" : "", fl[k]);
    putchar('\n');
    for (size_t i = 0; i < r->n_hits; i++) {
      for (size_t k = 0; k < n_fields; k++) {
        if (k) putchar('\t');
        tsv_field(&r->hits[i], so.offset + i + 1, fl[k]);
      }
      putchar('\n');
    }
  } else {
    out o = {80, 0, explain};
    const char *cols = getenv("COLUMNS");
    struct winsize ws;
    if (isatty(STDOUT_FILENO)) {
      if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) o.width = ws.ws_col;
    } else if (cols && atoi(cols) > 0) {
      o.width = atoi(cols);
    }
    /* auto: a terminal and NO_COLOR unset (no-color.org: set at all means no colour) */
    o.color = color == 1 || (color == 2 && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
    print_human(&o, r, q, so.offset);
    if (fc) {
      putchar('\n');
      print_counts("sources:", fc->source, fc->n_source);
      print_counts("topics:", fc->topic, fc->n_topic);
      print_counts("years:", fc->year, fc->n_year);
    }
  }
  if (!r->total && format != F_JSON && !so.count_only) {
    size_t k = strlen(q), cut = k > 80 ? 80 : k; /* a long query is not echoed whole */
    while (cut < k && ((unsigned char)q[cut] & 0xC0) == 0x80) cut--;
    fprintf(stderr, "kfts-query: no article matches: %.*s%s%s%s%s\n", (int)cut, q, cut < k ? "…" : "",
            r->note ? " (" : "", r->note ? r->note : "", r->note ? ")" : "");
  }
  free(q);
  kfts_result_free(r);
  kfts_facets_free(fc);
  return finish(status);
}
