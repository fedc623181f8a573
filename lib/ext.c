/*
** ext.c -- the loadable SQLite extension: `.load kfts` (or load_extension) registers the
** kfts FTS5 tokenizer on that connection, so any SQLite client can open a kfts index and
** run MATCH with the same tokenizer. SQLite calls here go through the extension API table.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include "kfts_int.h"

KFTS_API int sqlite3_kfts_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

int sqlite3_kfts_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  fts5_api *api = NULL;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    rc = sqlite3_finalize(st);
  }
  if (rc == SQLITE_OK) rc = kftsp_register_tokenizer(api);
  if (rc == SQLITE_OK) rc = kftsp_search_register(db, api);
  if (rc == SQLITE_OK) rc = kftsp_packtext_register(db);
  if (rc != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("kfts: cannot register the tokenizer (is FTS5 compiled in?)");
  return rc;
}
