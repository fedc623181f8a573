/*
** mapvfs.c -- "kfts-map", a VFS over the default one whose read-only database files are
** memory-mapped whole, past the 2 GB that SQLite maps itself.
**
** Debian's SQLite is built with SQLITE_MAX_MMAP_SIZE 0x7fff0000, so a reader's
** `PRAGMA mmap_size` stops at 2 GB. A 1M-article index is 2.6 GB, and what a run writes last
** lies past that mark: nine tenths of the docvals blocks and a fifth of the FTS5 index there.
** Each of those pages was read into the page cache with pread, one copy per page, and a
** fresh process paid it on its first queries (15 ms of `model`'s first run, at 1M).
**
** The pager asks the file for a page's memory (xFetch) whenever mmap_size > 0, whatever its
** offset; it is the unix VFS that declines past its limit. This shim answers those calls
** itself for the main database file of a read-only connection: one PROT_READ, MAP_SHARED
** mapping of the whole file (up to KFTSP_MAP_MAX), made on the first fetch. Everything else
** (reads, locks, the WAL index, every other file and every writable connection) goes to the
** default VFS unchanged. The mapping's lifetime is the unix VFS's: the pager unmaps
** (xUnfetch of NULL) whenever another connection changed the database, the next fetch maps
** the file as it is then, a page past the mapping is read as before, and a page that the
** WAL holds is read from the WAL, never from here.
**
** The mapping needs a descriptor: the file is opened again by name, and mapped only when
** the descriptor reads the same file (device and inode) as the name does after the unix
** VFS says the file has not moved (SQLITE_FCNTL_HAS_MOVED); otherwise pages are read as
** before.
*/
#define _POSIX_C_SOURCE 200809L
#include "kfts_int.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KFTSP_MAP_MAX ((sqlite3_int64)16 << 30) /* as READER_PRAGMAS asks */

typedef struct mfile {
  sqlite3_file base;
  sqlite3_file *real; /* the default VFS's file, allocated right after this struct */
  const char *name;   /* NULL: not a read-only main database; everything is passed on */
  int enabled;        /* the pager's mmap_size > 0 */
  int out;            /* pages handed out and not yet given back */
  int failed;         /* the file could not be mapped: pages are read until the next unmap */
  void *map;
  sqlite3_int64 n_map;
} mfile;

static sqlite3_vfs *base_vfs;
static sqlite3_vfs map_vfs;
static sqlite3_io_methods map_io;

#define REAL(f) (((mfile *)(f))->real)

static void unmap(mfile *m) {
  if (m->map) munmap(m->map, (size_t)m->n_map);
  m->map = NULL;
  m->n_map = 0;
  m->failed = 0;
}

static int m_close(sqlite3_file *f) {
  mfile *m = (mfile *)f;
  unmap(m);
  return m->real->pMethods->xClose(m->real);
}
static int m_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off) {
  return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int m_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off) {
  return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int m_truncate(sqlite3_file *f, sqlite3_int64 size) { return REAL(f)->pMethods->xTruncate(REAL(f), size); }
static int m_sync(sqlite3_file *f, int flags) { return REAL(f)->pMethods->xSync(REAL(f), flags); }
static int m_file_size(sqlite3_file *f, sqlite3_int64 *size) { return REAL(f)->pMethods->xFileSize(REAL(f), size); }
static int m_lock(sqlite3_file *f, int level) { return REAL(f)->pMethods->xLock(REAL(f), level); }
static int m_unlock(sqlite3_file *f, int level) { return REAL(f)->pMethods->xUnlock(REAL(f), level); }
static int m_check_reserved(sqlite3_file *f, int *out) {
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int m_sector_size(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int m_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int m_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp) {
  return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int m_shm_lock(sqlite3_file *f, int off, int n, int flags) {
  return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void m_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int m_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }

static int m_file_control(sqlite3_file *f, int op, void *arg) {
  mfile *m = (mfile *)f;
  if (op == SQLITE_FCNTL_MMAP_SIZE && m->name && *(sqlite3_int64 *)arg >= 0) {
    m->enabled = *(sqlite3_int64 *)arg > 0;
    if (!m->enabled && !m->out) unmap(m);
  }
  return m->real->pMethods->xFileControl(m->real, op, arg);
}

/* Maps the file as it is now; leaves M unmapped when it cannot. */
static void map_file(mfile *m) {
  unmap(m);
  m->failed = 1; /* until mapped */
  sqlite3_int64 size = 0;
  if (m->real->pMethods->xFileSize(m->real, &size) != SQLITE_OK || size <= 0) return;
  if (size > KFTSP_MAP_MAX) size = KFTSP_MAP_MAX;
  if ((sqlite3_uint64)size > (sqlite3_uint64)SIZE_MAX / 2) return; /* a 32-bit address space */
  int fd = open(m->name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat by_fd, by_name;
  int moved = 1;
  if (fstat(fd, &by_fd) == 0 && m->real->pMethods->xFileControl(m->real, SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
      !moved && stat(m->name, &by_name) == 0 && by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino &&
      by_fd.st_size >= size) {
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      m->map = p;
      m->n_map = size;
      m->failed = 0;
    }
  }
  close(fd);
}

static int m_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
  mfile *m = (mfile *)f;
  if (!m->name) return m->real->pMethods->xFetch(m->real, off, n, pp);
  *pp = NULL;
  if (!m->enabled || off < 0 || n <= 0) return SQLITE_OK;
  if (!m->map && !m->out && !m->failed) map_file(m);
  if (off + n <= m->n_map) {
    *pp = (char *)m->map + off;
    m->out++;
  }
  return SQLITE_OK;
}

static int m_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  mfile *m = (mfile *)f;
  if (!m->name) return m->real->pMethods->xUnfetch(m->real, off, p);
  if (p)
    m->out--;
  else
    unmap(m); /* the pager holds no page of it (as the unix VFS assumes) */
  return SQLITE_OK;
}

static int m_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
  (void)vfs;
  mfile *m = (mfile *)f;
  memset(m, 0, sizeof *m);
  m->real = (sqlite3_file *)(m + 1);
  int rc = base_vfs->xOpen(base_vfs, name, m->real, flags, out_flags);
  if (!m->real->pMethods) return rc; /* nothing to close */
  if (name && (flags & SQLITE_OPEN_MAIN_DB) && (flags & SQLITE_OPEN_READONLY))
    m->name = name; /* a main database's name lasts until it is closed */
  m->base.pMethods = &map_io;
  return rc;
}

/* The rest of the VFS is the default one's. */
static int v_delete(sqlite3_vfs *v, const char *name, int sync) {
  (void)v;
  return base_vfs->xDelete(base_vfs, name, sync);
}
static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out) {
  (void)v;
  return base_vfs->xAccess(base_vfs, name, flags, out);
}
static int v_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out) {
  (void)v;
  return base_vfs->xFullPathname(base_vfs, name, n, out);
}
static void *v_dl_open(sqlite3_vfs *v, const char *name) {
  (void)v;
  return base_vfs->xDlOpen(base_vfs, name);
}
static void v_dl_error(sqlite3_vfs *v, int n, char *msg) {
  (void)v;
  base_vfs->xDlError(base_vfs, n, msg);
}
static void (*v_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void) {
  (void)v;
  return base_vfs->xDlSym(base_vfs, h, sym);
}
static void v_dl_close(sqlite3_vfs *v, void *h) {
  (void)v;
  base_vfs->xDlClose(base_vfs, h);
}
static int v_randomness(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return base_vfs->xRandomness(base_vfs, n, out);
}
static int v_sleep(sqlite3_vfs *v, int us) {
  (void)v;
  return base_vfs->xSleep(base_vfs, us);
}
static int v_current_time(sqlite3_vfs *v, double *out) {
  (void)v;
  return base_vfs->xCurrentTime(base_vfs, out);
}
static int v_last_error(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}
static int v_current_time64(sqlite3_vfs *v, sqlite3_int64 *out) {
  (void)v;
  return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static int registered;

static void register_once(void) {
  base_vfs = sqlite3_vfs_find(NULL);
  /* Only over the unix VFS, whose files have every method of version 3. */
  if (!base_vfs || strcmp(base_vfs->zName, "unix") != 0 || base_vfs->iVersion < 2) return;
  map_io = (sqlite3_io_methods){3,          m_close,        m_read,        m_write,        m_truncate,
                                m_sync,     m_file_size,    m_lock,        m_unlock,       m_check_reserved,
                                m_file_control, m_sector_size, m_device,   m_shm_map,      m_shm_lock,
                                m_shm_barrier, m_shm_unmap, m_fetch,       m_unfetch};
  map_vfs = (sqlite3_vfs){2,
                          (int)(sizeof(mfile) + (size_t)base_vfs->szOsFile),
                          base_vfs->mxPathname,
                          NULL,
                          "kfts-map",
                          NULL,
                          m_open,
                          v_delete,
                          v_access,
                          v_full_pathname,
                          v_dl_open,
                          v_dl_error,
                          v_dl_sym,
                          v_dl_close,
                          v_randomness,
                          v_sleep,
                          v_current_time,
                          v_last_error,
                          v_current_time64,
                          NULL,
                          NULL,
                          NULL};
  registered = sqlite3_vfs_register(&map_vfs, 0) == SQLITE_OK;
}

const char *kftsp_map_vfs(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_once);
  return registered ? "kfts-map" : NULL;
}

long long kftsp_map_bytes(sqlite3 *h) {
  sqlite3_file *f = NULL;
  if (sqlite3_file_control(h, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f || f->pMethods != &map_io ||
      !((mfile *)f)->name)
    return -1;
  return ((mfile *)f)->n_map;
}
