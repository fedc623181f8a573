/*
** helper.c -- a handle's second thread, kept between the halves of its scans.
**
** A split scan (scan.c) runs its two halves side by side twice per query (collecting, then
** scoring). Starting a thread for each costs little, but on this kind of machine the idle
** second core takes about half a millisecond to wake, twice per query. The helper is one
** thread per handle that, after a job, spins on a counter for a while (2 ms) before it
** sleeps: within a query and between back-to-back queries it is awake when the next job
** comes. As OpenMP runtimes do (libgomp spins before it blocks, by default), it trades a
** little CPU after each query for the wake-ups.
**
** One poster at a time: a kfts_db is used by one thread at a time, and its helper only by
** that thread's scans.
*/
#define _POSIX_C_SOURCE 200809L
#include "kfts_int.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* How long an idle helper spins before it sleeps (tests keep it awake longer). */
atomic_long kftsp_helper_spin_ns = 2000000L;

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define CPU_RELAX() __builtin_ia32_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

struct kftsp_helper {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  void *(*f)(void *); /* the job, written before POSTED moves */
  void *arg;
  atomic_ulong posted, done; /* jobs posted and finished */
  atomic_int quit;           /* set under MU */
  atomic_int sleeping;       /* set under MU; read without it by kftsp_helper_awake */
};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *helper_main(void *p) {
  kftsp_helper *hp = p;
  unsigned long seen = 0;
  for (;;) {
    /* Spin a while for the next job, then sleep until it is posted. */
    long long since = now_ns();
    unsigned spins = 0;
    while (atomic_load_explicit(&hp->posted, memory_order_acquire) == seen && !atomic_load(&hp->quit)) {
      CPU_RELAX();
      if ((++spins & 255) == 0 && now_ns() - since > atomic_load(&kftsp_helper_spin_ns)) break;
    }
    if (atomic_load_explicit(&hp->posted, memory_order_acquire) == seen) {
      pthread_mutex_lock(&hp->mu);
      atomic_store(&hp->sleeping, 1);
      while (atomic_load_explicit(&hp->posted, memory_order_acquire) == seen && !atomic_load(&hp->quit))
        pthread_cond_wait(&hp->cv, &hp->mu);
      atomic_store(&hp->sleeping, 0);
      int quit = atomic_load(&hp->quit) && atomic_load_explicit(&hp->posted, memory_order_acquire) == seen;
      pthread_mutex_unlock(&hp->mu);
      if (quit) return NULL;
    }
    seen++;
    hp->f(hp->arg);
    atomic_store_explicit(&hp->done, seen, memory_order_release);
  }
}

kftsp_helper *kftsp_helper_new(void) {
  kftsp_helper *hp = kftsp_malloc(sizeof *hp);
  if (!hp) return NULL;
  memset(hp, 0, sizeof *hp);
  atomic_init(&hp->posted, 0);
  atomic_init(&hp->done, 0);
  atomic_init(&hp->quit, 0);
  atomic_init(&hp->sleeping, 0);
  if (pthread_mutex_init(&hp->mu, NULL)) {
    kftsp_free(hp);
    return NULL;
  }
  if (pthread_cond_init(&hp->cv, NULL)) {
    pthread_mutex_destroy(&hp->mu);
    kftsp_free(hp);
    return NULL;
  }
  if (pthread_create(&hp->th, NULL, helper_main, hp)) {
    pthread_cond_destroy(&hp->cv);
    pthread_mutex_destroy(&hp->mu);
    kftsp_free(hp);
    return NULL;
  }
  return hp;
}

void kftsp_helper_free(kftsp_helper *hp) {
  if (!hp) return;
  pthread_mutex_lock(&hp->mu);
  atomic_store(&hp->quit, 1);
  pthread_cond_signal(&hp->cv);
  pthread_mutex_unlock(&hp->mu);
  pthread_join(hp->th, NULL);
  pthread_cond_destroy(&hp->cv);
  pthread_mutex_destroy(&hp->mu);
  kftsp_free(hp);
}

int kftsp_helper_awake(kftsp_helper *hp) { return !atomic_load(&hp->sleeping); }

void kftsp_helper_both(kftsp_helper *hp, void *(*f)(void *), void *a1, void *a2) {
  unsigned long job = atomic_load_explicit(&hp->posted, memory_order_relaxed) + 1;
  hp->f = f;
  hp->arg = a2;
  atomic_store_explicit(&hp->posted, job, memory_order_release);
  pthread_mutex_lock(&hp->mu);
  if (atomic_load(&hp->sleeping)) pthread_cond_signal(&hp->cv);
  pthread_mutex_unlock(&hp->mu);
  f(a1);
  /* The other half is as long as this one, give or take: spin, yielding the core after a
  ** while in case the helper waits for it. */
  for (unsigned spins = 0; atomic_load_explicit(&hp->done, memory_order_acquire) != job;) {
    CPU_RELAX();
    if (++spins > 4096) sched_yield();
  }
}
