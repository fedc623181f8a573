/*
** garble.h -- one byte of a stored record changed at random, for tests that check a reader
** survives damage (test_doclist, test_store).
*/
#ifndef KFTS_TEST_GARBLE_H
#define KFTS_TEST_GARBLE_H

#include <sqlite3.h>
#include <stdint.h>

/* The next value of a test's LCG. */
static inline unsigned garble_next(unsigned *seed) { return *seed = *seed * 1103515245u + 12345u; }

/* PICK (?1: an offset) gives a record's key and length; SET (?1 key, ?2 position from 1, ?3 a
** one-byte blob) writes one byte of it, drawn from SEED with its position. Returns 0 when
** PICK found no record at OFFSET. */
static inline int garble_byte(sqlite3_stmt *pick, int64_t offset, sqlite3_stmt *set, unsigned *seed) {
  int found = 0;
  sqlite3_bind_int64(pick, 1, offset);
  if (sqlite3_step(pick) == SQLITE_ROW) {
    int64_t key = sqlite3_column_int64(pick, 0);
    int len = sqlite3_column_int(pick, 1);
    unsigned r = garble_next(seed);
    unsigned char b = (unsigned char)(r >> 16);
    sqlite3_bind_int64(set, 1, key);
    sqlite3_bind_int(set, 2, len ? 1 + (int)((r >> 4) % (unsigned)len) : 1);
    sqlite3_bind_blob(set, 3, &b, 1, SQLITE_STATIC);
    found = sqlite3_step(set) == SQLITE_DONE ? 1 : -1;
    sqlite3_reset(set);
  }
  sqlite3_reset(pick);
  return found;
}

#endif
