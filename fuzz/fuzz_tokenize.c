/* fuzz_tokenize.c -- libFuzzer: the kfts tokenizer on any bytes, document and query side,
** and once more with a window of 2..33 units (the first byte), so long-text windowing and
** its carried units run on short inputs. */
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kfts_int.h"

static int check(void *ctx, const kfts_token *t) {
  size_t len = *(size_t *)ctx;
  if (t->len < 0 || t->start < 0 || t->end < t->start || (size_t)t->end > len) __builtin_trap();
  return 0;
}

static int check_raw(void *ctx, int flags, const char *tok, int n, int start, int end) {
  (void)flags;
  (void)tok;
  size_t len = *(size_t *)ctx;
  if (n < 0 || n > 256 || start < 0 || end < start || (size_t)end > len) __builtin_trap();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kfts_tokens((const char *)data, size, 0, check, &size);
  kfts_tokens((const char *)data, size, 1, check, &size);
  if (size > 1 && size < (1u << 30)) {
    char w[8];
    snprintf(w, sizeof w, "%d", 2 + data[0] % 32);
    const char *args[] = {"window", w};
    kftsp_tokenizer *t = NULL;
    size_t len = size - 1;
    if (kftsp_tokenizer_new(&t, args, 2, NULL) == SQLITE_OK) {
      kftsp_tokenize(t, &len, 0, (const char *)data + 1, (int)len, check_raw);
      kftsp_tokenize(t, &len, FTS5_TOKENIZE_QUERY, (const char *)data + 1, (int)len, check_raw);
    }
    kftsp_tokenizer_free(t);
  }
  return 0;
}
