/* fuzz_query.c -- libFuzzer: the query language parser and compiler (with the shipped
** aliases) on any bytes; the FTS5 expression it makes must only quote user text. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kfts_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kftsp_aliases *al;
  if (!al) {
    kfts_error err;
    if (kftsp_aliases_new(&al) || kftsp_aliases_add_builtin(al, &err)) __builtin_trap();
  }
  kftsp_query *q = NULL;
  kfts_error err;
  if (kftsp_query_compile(&q, (const char *)data, size, al, &err) == KFTS_OK) {
    /* Outside double quotes only operators, parentheses, '*', ':' and column names appear. */
    int in = 0;
    for (const char *p = q->fts ? q->fts : ""; *p; p++) {
      if (*p == '"') in = !in;
      else if (!in && !strchr("()*: ANDORNOTtitleopcs", *p)) __builtin_trap(); /* title, topics */
    }
  }
  kftsp_query_free(q);
  return 0;
}
