/* fuzz_parse.c -- libFuzzer: format detection and every parser (kfts_parse) on any bytes,
** then each article as JSON. */
#include <stddef.h>
#include <stdint.h>

#include "kfts_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kfts_doc *doc = NULL;
  kfts_error err;
  static const char *const formats[] = {NULL, "cards", "crawl", "podcast", "newsletter", "text"};
  kfts_file_opts o = {0};
  o.format = size ? formats[data[0] % 6] : NULL; /* also each parser forced */
  if (kfts_parse(&doc, "fuzz.txt", (const char *)data, size, &o, &err) == KFTS_OK) {
    for (size_t i = 0; i < doc->n_articles; i++) kfts_free(kfts_article_json(doc, &doc->articles[i]));
  }
  kfts_doc_free(doc);
  return 0;
}
