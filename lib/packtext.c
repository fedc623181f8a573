/*
** packtext.c -- articles.body stored compressed: a zstd frame (a BLOB) when that saves at
** least an eighth of a text of PACK_MIN bytes or more, the text itself (TEXT) otherwise.
**
** Owns the packing (store.c calls it once per article) and the SQL function kfts_text(X),
** which gives the text back: X's text when X is TEXT or NULL, the unpacked frame when X is a
** BLOB. FTS5 reads its content through the view articles_text, which applies it to body
** (snippets, highlights, 'rebuild', 'integrity-check'); kfts_register() and the loadable
** extension register it on every connection. At 100k generated articles the bodies take
** 67 MB as text and about 45 MB packed.
*/
#include "kfts_int.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define PACK_MIN 128 /* shorter texts stay as they are */
#define PACK_LEVEL 1 /* zstd's fastest: 100k bodies in about 0.2 s */

struct kftsp_packer {
  ZSTD_CCtx *cx;
  void *out;
  size_t cap;
};

kftsp_packer *kftsp_packer_new(void) {
  kftsp_packer *p = kftsp_malloc(sizeof *p);
  if (!p) return NULL;
  memset(p, 0, sizeof *p);
  if (!(p->cx = ZSTD_createCCtx())) {
    kftsp_free(p);
    return NULL;
  }
  return p;
}

void kftsp_packer_free(kftsp_packer *p) {
  if (!p) return;
  ZSTD_freeCCtx(p->cx);
  kftsp_free(p->out);
  kftsp_free(p);
}

int kftsp_pack(kftsp_packer *p, const char *text, size_t n, const void **out, size_t *out_n) {
  *out = NULL;
  *out_n = 0;
  if (n < PACK_MIN) return KFTS_OK;
  size_t bound = ZSTD_compressBound(n);
  if (bound > p->cap) {
    void *x = kftsp_realloc(p->out, bound);
    if (!x) return KFTS_ENOMEM;
    p->out = x;
    p->cap = bound;
  }
  size_t k = ZSTD_compressCCtx(p->cx, p->out, p->cap, text, n, PACK_LEVEL);
  if (ZSTD_isError(k) || k > n - n / 8) return KFTS_OK; /* not worth it: stored as text */
  *out = p->out;
  *out_n = k;
  return KFTS_OK;
}

char *kftsp_unpack(const void *frame, size_t n, size_t *len_out) {
  unsigned long long size = ZSTD_getFrameContentSize(frame, n);
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size >= (1ULL << 31)) return NULL;
  char *text = kftsp_malloc((size_t)size + 1);
  if (!text) return NULL;
  size_t k = ZSTD_decompress(text, (size_t)size, frame, n);
  if (ZSTD_isError(k) || k != size) {
    kftsp_free(text);
    return NULL;
  }
  text[k] = 0;
  if (len_out) *len_out = k;
  return text;
}

static void text_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  sqlite3_value *v = argv[0];
  if (sqlite3_value_type(v) != SQLITE_BLOB) {
    sqlite3_result_value(ctx, v);
    return;
  }
  size_t len = 0;
  char *text = kftsp_unpack(sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v), &len);
  if (!text) {
    sqlite3_result_error(ctx, "kfts_text: not a packed text (articles.body garbled?)", -1);
    return;
  }
  sqlite3_result_text(ctx, text, (int)len, kftsp_free);
}

int kftsp_packtext_register(sqlite3 *db) {
  return sqlite3_create_function(db, "kfts_text", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                 text_fn, NULL, NULL);
}
