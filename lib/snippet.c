/*
** snippet.c -- kfts_snippet(), an FTS5 auxiliary function: FTS5's snippet() with highlights
** that stay exact when the tokens of two matches overlap.
**
**   kfts_snippet(articles_fts, COLUMN, OPEN, CLOSE, ELLIPSIS, TOKENS)
**
** It picks the window FTS5 3.40's snippet() picks (fts5_aux.c: the window of TOKENS tokens
** with the most distinct phrases, or one starting a sentence, near the first match) and
** marks the same matches. snippet() marks each run of matches whose token positions overlap;
** it copies the text between two runs by their byte offsets. The kfts tokenizer's tokens
** overlap in bytes (데이 and 이터 share 이; the bridge 책및 starts inside the token before it),
** so a run can start before the previous one ends: snippet() then copies a negative length,
** which FTS5 reads as "to the end of the text", and the snippet repeats the rest of the
** column. Here runs merge when their bytes overlap, and every copy is clamped.
*/
#include "kfts_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

typedef struct tokens {
  const char *text;
  int *start, *end; /* per position: byte offsets */
  int n, cap;
  int *first; /* positions that start a sentence */
  int n_first, cap_first;
} tokens;

/* Room for entry N in *V (and in *W, of the same capacity, when W is set). */
static int room(int **v, int **w, int *cap, int n) {
  if (n < *cap) return 0;
  int c = *cap ? 2 * *cap : 64;
  int *x = kftsp_realloc(*v, (size_t)c * sizeof *x);
  if (!x) return -1;
  *v = x;
  if (w) {
    x = kftsp_realloc(*w, (size_t)c * sizeof *x);
    if (!x) return -1;
    *w = x;
  }
  *cap = c;
  return 0;
}

/* Each token's offsets, and, as FTS5's sentence finder, the positions that follow a '.' or
** ':' and white space. */
static int token_cb(void *ctx, int tflags, const char *tok, int n_tok, int start, int end) {
  (void)tok;
  (void)n_tok;
  tokens *t = ctx;
  if (tflags & FTS5_TOKEN_COLOCATED) return SQLITE_OK;
  if (room(&t->start, &t->end, &t->cap, t->n)) return SQLITE_NOMEM;
  int sentence = t->n == 0;
  if (t->n > 0) {
    int i = start - 1;
    char c = 0;
    for (; i >= 0; i--) {
      c = t->text[i];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    }
    sentence = i != start - 1 && (c == '.' || c == ':');
  }
  if (sentence) {
    if (room(&t->first, NULL, &t->cap_first, t->n_first)) return SQLITE_NOMEM;
    t->first[t->n_first++] = t->n;
  }
  t->start[t->n] = start;
  t->end[t->n] = end;
  t->n++;
  return SQLITE_OK;
}

/* FTS5's fts5SnippetScore(): the score of the window of N_TOKEN tokens at POS in column COL
** (1000 per distinct phrase, 1 per repeat) and, in *ADJ, the window moved to centre its
** matches. */
static int window_score(const Fts5ExtensionApi *api, Fts5Context *fts, int size, unsigned char *seen, int col,
                        int pos, int n_token, int *score, int *adj) {
  int n_inst = 0, first = -1, last = 0, s = 0;
  int rc = api->xInstCount(fts, &n_inst);
  int64_t end = (int64_t)pos + n_token;
  for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
    int ip = 0, ic = 0, io = 0;
    rc = api->xInst(fts, i, &ip, &ic, &io);
    if (rc == SQLITE_OK && ic == col && io >= pos && io < end) {
      s += seen[ip] ? 1 : 1000;
      seen[ip] = 1;
      if (first < 0) first = io;
      last = io + api->xPhraseSize(fts, ip);
    }
  }
  *score = s;
  if (adj) {
    int64_t a = first - (n_token - (last - first)) / 2;
    if (a + n_token > size) a = size - n_token;
    if (a < 0) a = 0;
    *adj = (int)a;
  }
  return rc;
}

/* Appends TEXT[A, B) when A < B. */
static void add_range(kftsp_buf *b, const char *text, int a, int c) {
  if (a < c) kftsp_buf_add(b, text + a, (size_t)(c - a));
}

static void snippet_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nVal,
                       sqlite3_value **apVal) {
  if (nVal != 5) {
    sqlite3_result_error(ctx, "wrong number of arguments to function kfts_snippet()", -1);
    return;
  }
  int col = sqlite3_value_int(apVal[0]), n_token = sqlite3_value_int(apVal[4]);
  const char *open = (const char *)sqlite3_value_text(apVal[1]), *close = (const char *)sqlite3_value_text(apVal[2]),
             *ellipsis = (const char *)sqlite3_value_text(apVal[3]);
  if (!open) open = "";
  if (!close) close = "";
  if (!ellipsis) ellipsis = "";
  if (n_token < 1) n_token = 1;
  if (col < 0 || col >= api->xColumnCount(fts)) {
    sqlite3_result_error(ctx, "kfts_snippet: no such column", -1);
    return;
  }
  tokens t;
  memset(&t, 0, sizeof t);
  kftsp_buf out = {0};
  int n_text = 0, size = 0, n_inst = 0, n_phrase = api->xPhraseCount(fts);
  unsigned char *seen = kftsp_malloc((size_t)(n_phrase > 0 ? n_phrase : 1));
  int rc = seen ? api->xColumnText(fts, col, &t.text, &n_text) : SQLITE_NOMEM;
  if (rc == SQLITE_OK && !t.text) { /* NULL, as snippet() gives */
    kftsp_free(seen);
    return;
  }
  if (rc == SQLITE_OK) rc = api->xTokenize(fts, t.text, n_text, &t, token_cb);
  if (rc == SQLITE_OK) rc = api->xColumnSize(fts, col, &size);
  if (rc == SQLITE_OK) rc = api->xInstCount(fts, &n_inst);

  /* The window, as snippet() picks it. */
  int best = 0, best_start = 0;
  for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
    int ip, ic, io, score, adj;
    rc = api->xInst(fts, i, &ip, &ic, &io);
    if (rc != SQLITE_OK || ic != col) continue;
    if (io > size) {
      rc = SQLITE_CORRUPT_VTAB;
      break;
    }
    memset(seen, 0, (size_t)(n_phrase > 0 ? n_phrase : 1));
    rc = window_score(api, fts, size, seen, col, io, n_token, &score, &adj);
    if (rc == SQLITE_OK && score > best) best = score, best_start = adj;
    if (rc == SQLITE_OK && t.n_first && size > n_token) {
      int j = 0;
      while (j < t.n_first - 1 && t.first[j + 1] <= io) j++;
      if (t.first[j] < io) {
        memset(seen, 0, (size_t)(n_phrase > 0 ? n_phrase : 1));
        rc = window_score(api, fts, size, seen, col, t.first[j], n_token, &score, NULL);
        score += t.first[j] == 0 ? 120 : 100;
        if (rc == SQLITE_OK && score > best) best = score, best_start = t.first[j];
      }
    }
  }

  /* The window's bytes: from its first token (the text's start for the first window) to its
  ** last token's end, or the text's end when it reaches the last token. */
  int range_end = best_start + n_token - 1, whole_end = range_end >= size - 1;
  int from = best_start > 0 && best_start < t.n ? t.start[best_start] : 0;
  int to = whole_end || range_end >= t.n ? n_text : t.end[range_end];
  if (to < from) to = from;
  if (rc == SQLITE_OK && best_start > 0) kftsp_buf_adds(&out, ellipsis);

  /* The matches that start in the window, runs merged where their positions or their bytes
  ** overlap, clamped to the window. */
  int at = from, run_a = -1, run_b = -1, run_end_pos = -1;
  for (int i = 0; rc == SQLITE_OK && i <= n_inst; i++) {
    int a = -1, b = -1, end_pos = -1;
    if (i < n_inst) {
      int ip, ic, io;
      rc = api->xInst(fts, i, &ip, &ic, &io);
      if (rc != SQLITE_OK || ic != col || io < best_start || io > range_end || io >= t.n) continue;
      end_pos = io + api->xPhraseSize(fts, ip) - 1;
      if (end_pos >= t.n) end_pos = t.n - 1;
      if (end_pos < io) continue;
      a = t.start[io];
      b = t.end[end_pos < range_end ? end_pos : range_end];
      if (a < from) a = from;
      if (b > to) b = to;
      if (run_a >= 0 && (io <= run_end_pos || a < run_b)) { /* joins the run */
        if (b > run_b) run_b = b;
        if (end_pos > run_end_pos) run_end_pos = end_pos;
        continue;
      }
    }
    if (run_a >= 0 && run_a < run_b) { /* the run before: text up to it, then it marked */
      add_range(&out, t.text, at, run_a);
      kftsp_buf_adds(&out, open);
      add_range(&out, t.text, run_a > at ? run_a : at, run_b);
      kftsp_buf_adds(&out, close);
      if (run_b > at) at = run_b;
    }
    run_a = a, run_b = b, run_end_pos = end_pos;
  }
  if (rc == SQLITE_OK) {
    add_range(&out, t.text, at, to);
    if (!whole_end) kftsp_buf_adds(&out, ellipsis);
  }
  if (rc == SQLITE_OK && out.oom) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) sqlite3_result_text(ctx, out.p ? out.p : "", (int)out.n, SQLITE_TRANSIENT);
  else sqlite3_result_error_code(ctx, rc);
  kftsp_buf_reset(&out);
  kftsp_free(t.start);
  kftsp_free(t.end);
  kftsp_free(t.first);
  kftsp_free(seen);
}

int kftsp_snippet_register(fts5_api *api) { return api->xCreateFunction(api, "kfts_snippet", NULL, snippet_fn, NULL); }
