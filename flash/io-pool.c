/* vswap: a pool of io_uring rings for synchronous I/O from many threads.
 *
 * Each ring carries one request at a time under its mutex: the point is
 * not queue depth (nbdkit's threads give us that) but a cheap syscall path
 * that leaves O_DIRECT I/O asynchronous inside the kernel.  The exception
 * is a batch of reads (one client request whose records lie in several
 * places): those go in flight together, one system call for all.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "io-pool.h"

/* io_uring and pread both move at most about 2 GiB per call. */
#define MAX_TRANSFER (1u << 30)

/* A ring holds one request, or one batch of reads. */
#define RING_ENTRIES VSWAP_IO_POOL_BATCH

static bool warned;

static void
warn_no_uring (int errnum)
{
  if (__atomic_exchange_n (&warned, true, __ATOMIC_RELAXED))
    return;
  fprintf (stderr,
           "vswap: warning: io_uring unavailable (%s): using pread/pwrite; "
           "allow io_uring (sysctl kernel.io_uring_disabled=0, seccomp "
           "policy) for faster I/O\n",
           vswap_strerror (errnum));
}

/* The kernel must know IORING_OP_READ and IORING_OP_WRITE (5.6+). */
static int
probe_ops (struct io_uring *uring)
{
  struct io_uring_probe *probe;
  bool ok;

  probe = io_uring_get_probe_ring (uring);
  if (probe == NULL)
    return -ENOSYS;
  ok = io_uring_opcode_supported (probe, IORING_OP_READ)
       && io_uring_opcode_supported (probe, IORING_OP_WRITE);
  io_uring_free_probe (probe);
  return ok ? 0 : -ENOSYS;
}

void
vswap_io_pool_init (struct vswap_io_pool *pool, int fd, bool use_io_uring)
{
  const char *off = getenv ("VSWAP_NO_IO_URING");
  unsigned i;
  int r = 0;

  memset (pool, 0, sizeof *pool);
  pool->fd = fd;
  if (!use_io_uring || (off && *off && strcmp (off, "0") != 0))
    return;

  for (i = 0; i < VSWAP_IO_POOL_RINGS; i++) {
    struct vswap_io_ring *ring = &pool->rings[i];

    r = io_uring_queue_init (RING_ENTRIES, &ring->uring, 0);
    if (r == 0 && i == 0) {
      r = probe_ops (&ring->uring);
      if (r < 0)
        io_uring_queue_exit (&ring->uring);
    }
    if (r < 0)
      break;
    pthread_mutex_init (&ring->lock, NULL);
    ring->usable = true;
  }
  /* A pool smaller than asked for is still a pool. */
  pool->nr_rings = i;
  if (i == 0)
    warn_no_uring (-r);
}

const char *
vswap_io_pool_engine (const struct vswap_io_pool *pool)
{
  return pool->nr_rings ? "io_uring" : "pread/pwrite";
}

void
vswap_io_pool_close (struct vswap_io_pool *pool)
{
  unsigned i;

  for (i = 0; i < pool->nr_rings; i++) {
    io_uring_queue_exit (&pool->rings[i].uring);
    pthread_mutex_destroy (&pool->rings[i].lock);
  }
  pool->nr_rings = 0;
}

/* Prefer an idle ring, so that threads do not queue behind one another
 * while others sit free. */
static struct vswap_io_ring *
get_ring (struct vswap_io_pool *pool)
{
  unsigned start = __atomic_fetch_add (&pool->next, 1, __ATOMIC_RELAXED);
  struct vswap_io_ring *ring;
  unsigned i;

  for (i = 0; i < pool->nr_rings; i++) {
    ring = &pool->rings[(start + i) % pool->nr_rings];
    if (pthread_mutex_trylock (&ring->lock) == 0)
      return ring;
  }
  ring = &pool->rings[start % pool->nr_rings];
  pthread_mutex_lock (&ring->lock);
  return ring;
}

/* One transfer through RING.  Returns false if the ring itself failed
 * before the request reached the kernel; the ring is then retired and
 * the caller repeats the transfer with pread/pwrite.  Otherwise *RESULT
 * is what the request returned (bytes, or a negative errno). */
static bool
ring_transfer (struct vswap_io_ring *ring, int fd, bool is_write,
               void *buffer, unsigned length, uint64_t offset,
               int *result)
{
  struct io_uring_sqe *sqe;
  struct io_uring_cqe *cqe;
  int r;

  sqe = io_uring_get_sqe (&ring->uring);
  if (sqe == NULL) {
    ring->usable = false;
    return false;
  }
  if (is_write)
    io_uring_prep_write (sqe, fd, buffer, length, offset);
  else
    io_uring_prep_read (sqe, fd, buffer, length, offset);

  /* One system call submits and waits.  On EINTR the request stays in
   * the submission queue and the next call submits it.  Any other
   * failure leaves it there unsubmitted; the ring is never entered
   * again, so it never runs. */
  do
    r = io_uring_submit_and_wait (&ring->uring, 1);
  while (r == -EINTR);
  if (r < 1) {
    ring->usable = false;
    return false;
  }

  /* Normally the completion is there already; a signal may have cut
   * the wait short. */
  do
    r = io_uring_wait_cqe (&ring->uring, &cqe);
  while (r == -EINTR);
  if (r < 0) {
    /* The request is in flight and we lost track of it: the buffer may
     * still be written, but there is nothing better to do than fail. */
    ring->usable = false;
    *result = -EIO;
    return true;
  }
  *result = cqe->res;
  io_uring_cqe_seen (&ring->uring, cqe);
  return true;
}

static int
sync_transfer (int fd, bool is_write, void *buffer, size_t length,
               uint64_t offset)
{
  ssize_t n;

  if (is_write)
    n = pwrite (fd, buffer, length, offset);
  else
    n = pread (fd, buffer, length, offset);
  return n == -1 ? -errno : (int) n;
}

static int
transfer (struct vswap_io_pool *pool, bool is_write, void *buffer,
          size_t length, uint64_t offset)
{
  struct vswap_io_ring *ring = NULL;
  unsigned char *p = buffer;
  int r = 0;

  if (pool->nr_rings)
    ring = get_ring (pool);

  while (length > 0) {
    size_t chunk = length < MAX_TRANSFER ? length : MAX_TRANSFER;
    int n;

    if (ring == NULL || !ring->usable
        || !ring_transfer (ring, pool->fd, is_write, p, chunk, offset, &n))
      n = sync_transfer (pool->fd, is_write, p, chunk, offset);
    if (n == -EINTR || n == -EAGAIN)
      continue;
    if (n < 0) {
      r = n;
      break;
    }
    if (n == 0) {
      /* The file ended: someone truncated it under us. */
      r = -EIO;
      break;
    }
    p += n;
    length -= n;
    offset += n;
  }

  if (ring)
    pthread_mutex_unlock (&ring->lock);
  return r;
}

int
vswap_io_pool_read (struct vswap_io_pool *pool, void *buffer,
                    size_t length, uint64_t offset)
{
  return transfer (pool, false, buffer, length, offset);
}

int
vswap_io_pool_write (struct vswap_io_pool *pool, const void *buffer,
                     size_t length, uint64_t offset)
{
  /* The buffer is only read from for a write. */
  return transfer (pool, true, (void *) buffer, length, offset);
}

/* Submit the pending reads of READS[0..COUNT) (at most RING_ENTRIES) on
 * RING and wait for all of them.  A read that completes short or with
 * EINTR/EAGAIN keeps result 0 and is finished by the caller.  Returns
 * false if the ring failed; reads never submitted keep result 0. */
static bool
ring_read_batch (struct vswap_io_ring *ring, int fd,
                 struct vswap_medium_read *reads, unsigned count,
                 size_t *done)
{
  unsigned queued = 0;

  for (unsigned i = 0; i < count; i++) {
    done[i] = 0;
    if (reads[i].result != 0 || reads[i].length == 0)
      continue;
    struct io_uring_sqe *sqe = io_uring_get_sqe (&ring->uring);
    if (sqe == NULL)
      break;
    io_uring_prep_read (sqe, fd, reads[i].buffer, reads[i].length,
                        reads[i].offset);
    io_uring_sqe_set_data64 (sqe, i);
    queued++;
  }
  if (queued == 0)
    return true;

  int r;
  do
    r = io_uring_submit_and_wait (&ring->uring, queued);
  while (r == -EINTR);
  /* Whatever was submitted must complete before its buffer is reused;
   * what was not stays in the queue of a ring never entered again. */
  const unsigned submitted = r > 0 ? (unsigned) r : 0;
  if (submitted < queued)
    ring->usable = false;

  for (unsigned seen = 0; seen < submitted; seen++) {
    struct io_uring_cqe *cqe;
    do
      r = io_uring_wait_cqe (&ring->uring, &cqe);
    while (r == -EINTR);
    if (r < 0) {
      /* Reads still in flight that we lost track of: fail them all. */
      ring->usable = false;
      for (unsigned i = 0; i < count; i++)
        if (reads[i].result == 0 && reads[i].length > 0 &&
            done[i] < reads[i].length)
          reads[i].result = -EIO;
      return true;
    }
    const unsigned i = (unsigned) io_uring_cqe_get_data64 (cqe);
    const int n = cqe->res;
    io_uring_cqe_seen (&ring->uring, cqe);
    if (i >= count)
      continue;
    if (n > 0)
      done[i] = (size_t) n;
    else if (n == 0)
      reads[i].result = -EIO;   /* the file ended under us */
    else if (n != -EINTR && n != -EAGAIN)
      reads[i].result = n;
  }
  return ring->usable;
}

void
vswap_io_pool_read_batch (struct vswap_io_pool *pool,
                          struct vswap_medium_read *reads, unsigned count)
{
  size_t done[VSWAP_IO_POOL_BATCH];

  for (unsigned first = 0; first < count; first += VSWAP_IO_POOL_BATCH) {
    const unsigned n = count - first < VSWAP_IO_POOL_BATCH
      ? count - first : VSWAP_IO_POOL_BATCH;
    struct vswap_medium_read *part = reads + first;
    for (unsigned i = 0; i < n; i++)
      done[i] = 0;
    if (pool->nr_rings) {
      struct vswap_io_ring *ring = get_ring (pool);
      if (ring->usable)
        (void) ring_read_batch (ring, pool->fd, part, n, done);
      pthread_mutex_unlock (&ring->lock);
    }
    /* The rest, one at a time: no ring, short reads, interrupted ones. */
    for (unsigned i = 0; i < n; i++) {
      struct vswap_medium_read *read = &part[i];
      if (read->result == 0 && done[i] < read->length)
        read->result = transfer (pool, false,
                                 (uint8_t *) read->buffer + done[i],
                                 read->length - done[i],
                                 read->offset + done[i]);
    }
  }
}
