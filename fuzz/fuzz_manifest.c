/* fuzz_manifest.c -- libFuzzer: the kfts.json reader (and the alias lists in it) on any
** bytes, written to a temporary file as kfts-index would find it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "kfts_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/kfts-fuzz-%d.json", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  kftsp_manifest *m = NULL;
  kfts_error err;
  if (kftsp_manifest_load(&m, path, &err) == KFTS_OK) {
    kfts_file_opts o = {0};
    kftsp_manifest_apply(m, "/tmp/x/003_a.txt", &o);
  }
  kftsp_manifest_free(m);
  unlink(path);
  kftsp_aliases *a = NULL;
  if (kftsp_aliases_new(&a) == KFTS_OK) kftsp_aliases_add_json(a, (const char *)data, size, "fuzz", &err);
  kftsp_aliases_free(a);
  return 0;
}
