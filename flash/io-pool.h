/* vswap: synchronous positional I/O on one file descriptor from many
 * threads: pread/pwrite, or io_uring rings that belong to the pool's own
 * I/O threads.
 *
 * Why threads of our own.  The kernel allocates for io_uring in the
 * task that submits (Linux 6.1, io_uring/tctx.c and io-wq.c): its
 * io_uring_task and io_wq on its first submission to any ring
 * (io_uring_alloc_task_context, io_wq_create), a node for each ring it
 * submits to (__io_uring_add_tctx_node), and io-wq worker threads, clones
 * of the submitter, whenever a request cannot be issued without blocking
 * and no idle worker is there (io_wqe_enqueue, create_io_worker).  nbdkit
 * creates the threads that serve requests, after the plugin's last
 * start-up hook, and a thread's first request may come when memory is
 * already short.  So nbdkit's threads never touch a ring: they hand each
 * transfer to an I/O thread the pool starts itself
 * (vswap_io_pool_start, after nbdkit's fork, from a thread already marked
 * PR_SET_IO_FLUSHER), which creates its ring, its task context, its one
 * io-wq worker and its cache of requests before it serves anything, and
 * caps io-wq at that one worker.  doc/io-uring.md has the kernel facts
 * and what this does not avoid.
 *
 * Until started (the tools, the store's recovery before the fork), and
 * whenever io_uring is unavailable, every transfer is pread/pwrite in the
 * calling thread.  The I/O path allocates nothing in user space.
 */
#ifndef VSWAP_FLASH_IO_POOL_H
#define VSWAP_FLASH_IO_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "medium.h"

/* Reads one job puts in flight at most (longer batches go in parts). */
#define VSWAP_IO_POOL_BATCH 32

/* I/O threads vswap_io_pool_start may be asked for. */
#define VSWAP_IO_POOL_MAX_THREADS 8

struct vswap_io_thread;

struct vswap_io_pool {
  int fd;
  bool use_io_uring;            /* asked for, and not VSWAP_NO_IO_URING */
  unsigned nr_threads;          /* started and serving; 0: pread/pwrite */
  unsigned next;                /* the thread the next job goes to */
  struct vswap_io_thread *threads[VSWAP_IO_POOL_MAX_THREADS];
};

/* What vswap_io_pool_start made, for messages and tests. */
struct vswap_io_pool_report {
  unsigned threads;             /* I/O threads serving */
  unsigned ring_entries;        /* submission queue entries per ring */
  bool single_issuer;           /* IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN */
  bool worker_capped;           /* io-wq limited to one worker per thread */
  bool worker_started;          /* that worker exists already */
};

/* Set POOL up for FD: pread/pwrite until vswap_io_pool_start.
 * USE_IO_URING false, or the environment variable VSWAP_NO_IO_URING=1,
 * makes vswap_io_pool_start do nothing.  Allocates nothing. */
void vswap_io_pool_init (struct vswap_io_pool *pool, int fd,
                         bool use_io_uring);

/* Start THREADS I/O threads (1 to VSWAP_IO_POOL_MAX_THREADS), each with
 * its ring, and route every later transfer through them.  Call it once,
 * in the process that serves (threads do not survive fork), from a
 * thread whose flags the I/O threads should inherit (PR_SET_IO_FLUSHER),
 * before memory is short.  Returns 0 (REPORT filled), or a negative errno
 * with ERR naming the problem and the fix: the pool then goes on with
 * pread/pwrite, which always works.  Returns 0 and starts nothing if
 * io_uring was not asked for. */
int vswap_io_pool_start (struct vswap_io_pool *pool, unsigned threads,
                         struct vswap_io_pool_report *report,
                         struct vswap_error *err);

/* Read or write exactly LENGTH bytes at OFFSET, looping over short
 * transfers.  Returns 0, or a negative errno (-EIO if the file ends
 * first). */
int vswap_io_pool_read (struct vswap_io_pool *pool, void *buffer,
                        size_t length, uint64_t offset);
int vswap_io_pool_write (struct vswap_io_pool *pool, const void *buffer,
                         size_t length, uint64_t offset);

/* Do the reads of READS[0..COUNT) whose result is 0 and length not 0,
 * all in flight together when started, and set their results (0 when all
 * LENGTH bytes came, else a negative errno). */
void vswap_io_pool_read_batch (struct vswap_io_pool *pool,
                               struct vswap_medium_read *reads,
                               unsigned count);

/* "io_uring" once started, else "pread/pwrite", for descriptions. */
const char *vswap_io_pool_engine (const struct vswap_io_pool *pool);

/* Stop the I/O threads and free their rings.  Does not close the file
 * descriptor.  No transfer may be in progress. */
void vswap_io_pool_close (struct vswap_io_pool *pool);

#endif /* VSWAP_FLASH_IO_POOL_H */
