/* vswap: synchronous positional I/O on one file descriptor from many
 * threads, through a small pool of io_uring rings, or pread/pwrite where
 * io_uring is unavailable.
 *
 * Everything is set up at init: the I/O path takes a mutex and allocates
 * nothing (the server may be what the kernel swaps to when memory runs
 * out).
 */
#ifndef VSWAP_FLASH_IO_POOL_H
#define VSWAP_FLASH_IO_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

#include "medium.h"

/* One per request the store serves at once (its 16 I/O contexts): with
 * fewer, random reads queue behind the rings (a profile measured 4 rings
 * capping QD16 reads at a quarter of the medium:
 * bench/results/2026-11-25-profile.md).  A thread
 * finding every ring busy waits for one. */
#define VSWAP_IO_POOL_RINGS 16

/* Reads one batch puts in flight at once (longer batches go in parts). */
#define VSWAP_IO_POOL_BATCH 32

struct vswap_io_ring {
  pthread_mutex_t lock;
  struct io_uring uring;
  bool usable;                  /* false: pread/pwrite, now and forever */
};

struct vswap_io_pool {
  int fd;
  unsigned nr_rings;            /* 0: pread/pwrite only */
  unsigned next;                /* where the next caller starts looking */
  struct vswap_io_ring rings[VSWAP_IO_POOL_RINGS];
};

/* Set POOL up for FD.  Never fails: if io_uring cannot be used (seccomp,
 * sysctl kernel.io_uring_disabled, old kernel) it warns once per process
 * on stderr and uses pread/pwrite.  USE_IO_URING false, or the
 * environment variable VSWAP_NO_IO_URING=1, asks for pread/pwrite without
 * a warning. */
void vswap_io_pool_init (struct vswap_io_pool *pool, int fd,
                         bool use_io_uring);

/* Read or write exactly LENGTH bytes at OFFSET, looping over short
 * transfers.  Returns 0, or a negative errno (-EIO if the file ends
 * first). */
int vswap_io_pool_read (struct vswap_io_pool *pool, void *buffer,
                        size_t length, uint64_t offset);
int vswap_io_pool_write (struct vswap_io_pool *pool, const void *buffer,
                         size_t length, uint64_t offset);

/* Do the reads of READS[0..COUNT) whose result is 0 and length not 0,
 * all in flight together where io_uring allows, and set their results
 * (0 when all LENGTH bytes came, else a negative errno). */
void vswap_io_pool_read_batch (struct vswap_io_pool *pool,
                               struct vswap_medium_read *reads,
                               unsigned count);

/* "io_uring" or "pread/pwrite", for descriptions. */
const char *vswap_io_pool_engine (const struct vswap_io_pool *pool);

/* Free the rings.  Does not close the file descriptor. */
void vswap_io_pool_close (struct vswap_io_pool *pool);

#endif /* VSWAP_FLASH_IO_POOL_H */
