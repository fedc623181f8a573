/* fuzz_tokenize.c -- libFuzzer: the kfts tokenizer on any bytes, document and query side. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kfts_int.h"

static int check(void *ctx, const kfts_token *t) {
  size_t len = *(size_t *)ctx;
  if (t->len < 0 || t->start < 0 || t->end < t->start || (size_t)t->end > len) __builtin_trap();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kfts_tokens((const char *)data, size, 0, check, &size);
  kfts_tokens((const char *)data, size, 1, check, &size);
  return 0;
}
