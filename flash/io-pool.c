/* vswap: synchronous I/O from many threads, through I/O threads that own
 * io_uring rings (see io-pool.h for why, doc/io-uring.md for the kernel
 * facts).
 *
 * A caller describes its transfer (one read or write, or a batch of
 * reads) in a job on its own stack, pushes it on an I/O thread's queue,
 * wakes the thread if it sleeps, and sleeps on the job until the thread
 * has its results.  The I/O thread puts every queued part in flight on
 * its ring, waits for completions or new jobs (an eventfd it polls on
 * the same ring), and wakes each caller once all its parts are done.
 * Whatever a part leaves undone (a short transfer, EAGAIN, a ring that
 * failed) the caller finishes with pread/pwrite.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "error.h"
#include "io-pool.h"

/* io_uring and pread both move at most about 2 GiB per call. */
#define MAX_TRANSFER (1u << 30)

/* Requests one ring has in flight at most.  The completion queue is
 * twice as large, so that it never overflows: an overflowing completion
 * is the one place where the kernel allocates on the completion path
 * (io_cqring_event_overflow, GFP_ATOMIC). */
#define RING_ENTRIES 64

/* user_data of what is not a part of a job. */
#define WAKE_DATA UINT64_MAX
#define NOP_DATA (UINT64_MAX - 1)

/* A job's state, also its futex word. */
enum {
  JOB_QUEUED = 0,
  JOB_WAITED_FOR = 1,           /* the caller sleeps on the futex */
  JOB_DONE = 2,
};

struct io_job {
  struct io_job *next;
  bool is_write;
  struct vswap_medium_read *parts;  /* result: set by the thread on errors */
  size_t *done;                     /* bytes each part moved */
  unsigned count;
  unsigned submitted, completed;    /* the I/O thread's alone */
  atomic_uint state;
};

struct slot {
  struct io_job *job;
  unsigned part;
};

struct vswap_io_thread {
  /* Shared with callers. */
  _Atomic (struct io_job *) queue;  /* pushed in front (LIFO) */
  atomic_bool sleeping;             /* waits in io_uring_enter */
  atomic_bool stop;
  int wake_fd;                      /* eventfd: a job was queued */

  /* The thread's own. */
  pthread_t thread;
  int fd;
  struct io_uring ring;
  bool ring_made;
  bool wake_armed;                  /* the multishot poll is in place */
  bool broken;                      /* the ring failed: no more submissions */
  struct io_job *pending, *pending_tail;  /* FIFO, not wholly submitted */
  unsigned in_flight;
  unsigned nr_free;
  unsigned free_slots[RING_ENTRIES];
  struct slot slots[RING_ENTRIES];

  /* Start-up: the starting thread waits for the verdict. */
  pthread_mutex_t start_lock;
  pthread_cond_t start_cond;
  bool start_finished;
  int start_result;
  const char *start_step;           /* what failed */
  struct vswap_io_pool_report report;
};

static long
futex (atomic_uint *word, int op, unsigned value)
{
  return syscall (SYS_futex, word, op, value, NULL, NULL, 0);
}

/* ---- the I/O thread ---- */

/* Arm (again) the multishot poll on the eventfd. */
static void
arm_wake (struct vswap_io_thread *t)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (&t->ring);

  if (sqe == NULL)
    return;                     /* full: the next round arms it */
  io_uring_prep_poll_multishot (sqe, t->wake_fd, POLLIN);
  io_uring_sqe_set_data64 (sqe, WAKE_DATA);
  t->wake_armed = true;
}

static void
finish_job (struct io_job *job)
{
  /* After this store the job may be gone (it lives on the caller's
   * stack): only its address is used, for the wake-up. */
  if (atomic_exchange_explicit (&job->state, JOB_DONE,
                                memory_order_acq_rel) == JOB_WAITED_FOR)
    futex (&job->state, FUTEX_WAKE_PRIVATE, 1);
}

/* Take the jobs queued meanwhile, oldest first, behind the pending ones. */
static void
take_queue (struct vswap_io_thread *t)
{
  struct io_job *list = atomic_exchange (&t->queue, NULL), *fifo = NULL;

  while (list) {
    struct io_job *next = list->next;
    list->next = fifo;
    fifo = list;
    list = next;
  }
  while (fifo) {
    struct io_job *next = fifo->next;
    fifo->next = NULL;
    if (fifo->count == 0)
      finish_job (fifo);
    else {
      if (t->pending_tail)
        t->pending_tail->next = fifo;
      else
        t->pending = fifo;
      t->pending_tail = fifo;
    }
    fifo = next;
  }
}

/* Put pending parts in flight while slots and queue entries last. */
static void
fill_ring (struct vswap_io_thread *t)
{
  while (t->pending && t->nr_free > 0) {
    struct io_job *job = t->pending;
    struct io_uring_sqe *sqe = io_uring_get_sqe (&t->ring);
    if (sqe == NULL)
      break;
    const unsigned part = job->submitted++;
    struct vswap_medium_read *p = &job->parts[part];
    if (job->is_write)
      io_uring_prep_write (sqe, t->fd, p->buffer, p->length, p->offset);
    else
      io_uring_prep_read (sqe, t->fd, p->buffer, p->length, p->offset);
    const unsigned index = t->free_slots[--t->nr_free];
    t->slots[index] = (struct slot) { .job = job, .part = part };
    io_uring_sqe_set_data64 (sqe, index);
    t->in_flight++;
    if (job->submitted == job->count) {
      t->pending = job->next;
      if (t->pending == NULL)
        t->pending_tail = NULL;
      job->next = NULL;
    }
  }
}

/* A part ended with RESULT (bytes, or a negative errno). */
static void
complete_part (struct vswap_io_thread *t, unsigned index, int result)
{
  struct slot *slot = &t->slots[index];
  struct io_job *job = slot->job;
  struct vswap_medium_read *p = &job->parts[slot->part];

  if (result > 0)
    job->done[slot->part] = (size_t) result;
  else if (result == 0)
    p->result = -EIO;           /* the file ended under us */
  else if (result != -EINTR && result != -EAGAIN)
    p->result = result;
  /* EINTR, EAGAIN: nothing moved; the caller does it with pread. */
  t->free_slots[t->nr_free++] = index;
  t->in_flight--;
  if (++job->completed == job->count)
    finish_job (job);
}

static void
reap (struct vswap_io_thread *t)
{
  struct io_uring_cqe *cqe;
  unsigned head, seen = 0;

  io_uring_for_each_cqe (&t->ring, head, cqe) {
    const uint64_t data = io_uring_cqe_get_data64 (cqe);
    seen++;
    if (data == WAKE_DATA) {
      /* One CQE per wake-up; without MORE the poll ended (an error, or
       * the kernel dropped it) and must be armed again. */
      if (!(cqe->flags & IORING_CQE_F_MORE))
        t->wake_armed = false;
    }
    else if (data < RING_ENTRIES)
      complete_part (t, (unsigned) data, cqe->res);
  }
  io_uring_cq_advance (&t->ring, seen);
}

/* The ring failed for good: the jobs not yet submitted go back to their
 * callers untouched, who do them with pread/pwrite.  Parts in flight
 * still complete (the thread keeps reaping them). */
static void
give_back_pending (struct vswap_io_thread *t)
{
  take_queue (t);
  while (t->pending) {
    struct io_job *job = t->pending;
    t->pending = job->next;
    job->next = NULL;
    /* Parts never submitted count as completed with nothing done. */
    job->completed += job->count - job->submitted;
    job->submitted = job->count;
    if (job->completed == job->count)
      finish_job (job);
  }
  t->pending_tail = NULL;
}

static void
serve (struct vswap_io_thread *t)
{
  for (;;) {
    take_queue (t);
    if (t->broken)
      give_back_pending (t);
    else {
      if (!t->wake_armed)
        arm_wake (t);
      fill_ring (t);
    }
    if (atomic_load (&t->stop) && t->in_flight == 0 && t->pending == NULL
        && atomic_load (&t->queue) == NULL)
      return;

    /* Sleep only if no job came meanwhile; a caller that finds
     * "sleeping" set writes the eventfd (both sides sequentially
     * consistent, so one of the two sees the other).  With every slot
     * taken only a completion helps: wait for one, whatever is queued. */
    unsigned wait = 0;
    if (t->broken) {
      if (t->in_flight > 0) {
        const struct timespec pause = { 0, 1000000 };
        nanosleep (&pause, NULL);
      }
    }
    else if (t->nr_free == 0)
      wait = 1;
    else if (t->pending == NULL) {
      atomic_store (&t->sleeping, true);
      if (atomic_load (&t->queue) == NULL && !atomic_load (&t->stop))
        wait = 1;
      else
        atomic_store (&t->sleeping, false);
    }

    /* One system call submits, runs the completions' task work
     * (DEFER_TASKRUN: only here, in this thread) and waits. */
    const int r = wait ? io_uring_submit_and_wait (&t->ring, 1)
      : io_uring_submit_and_get_events (&t->ring);
    atomic_store (&t->sleeping, false);
    if (r < 0 && r != -EINTR && r != -ETIME && r != -EBUSY) {
      if (r == -EAGAIN || r == -ENOMEM) {
        /* The kernel could not allocate a request (its cache is filled
         * at start-up, so this should not be seen): let what is in
         * flight complete, then try again. */
        if (t->in_flight == 0) {
          const struct timespec pause = { 0, 1000000 };
          nanosleep (&pause, NULL);
        }
      }
      else if (!t->broken) {
        fprintf (stderr, "vswap: io_uring failed (%s): the medium is read "
                 "and written with pread/pwrite from now on\n",
                 vswap_strerror (-r));
        t->broken = true;
      }
    }
    reap (t);
  }
}

/* Everything the kernel would otherwise allocate on the first use, done
 * now.  Returns 0 or a negative errno, with t->start_step set. */
static int
prepare (struct vswap_io_thread *t)
{
  struct io_uring_params params;
  int r;

  /* The ring, and with it this thread's task context and io_wq
   * (io_uring_create → io_uring_install_fd → __io_uring_add_tctx_node).
   * SINGLE_ISSUER|DEFER_TASKRUN (Linux 6.1): completions are run here,
   * when the thread asks, not by interrupting it. */
  memset (&params, 0, sizeof params);
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER
    | IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = 2 * RING_ENTRIES;
  r = io_uring_queue_init_params (RING_ENTRIES, &t->ring, &params);
  if (r == -EINVAL) {
    memset (&params, 0, sizeof params);
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = 2 * RING_ENTRIES;
    r = io_uring_queue_init_params (RING_ENTRIES, &t->ring, &params);
  }
  else if (r == 0)
    t->report.single_issuer = true;
  if (r < 0) {
    t->start_step = "io_uring_queue_init";
    return r;
  }
  t->ring_made = true;
  t->report.ring_entries = RING_ENTRIES;

  /* IORING_OP_READ and IORING_OP_WRITE: Linux 5.6. */
  struct io_uring_probe *probe = io_uring_get_probe_ring (&t->ring);
  const bool ops = probe && io_uring_opcode_supported (probe, IORING_OP_READ)
    && io_uring_opcode_supported (probe, IORING_OP_WRITE)
    && io_uring_opcode_supported (probe, IORING_OP_POLL_ADD);
  if (probe)
    io_uring_free_probe (probe);
  if (!ops) {
    t->start_step = "IORING_OP_READ/WRITE";
    return -ENOSYS;
  }

  /* A registered ring: no descriptor lookup per system call (it only
   * saves time, so a refusal is no error).  Registered files would save
   * a reference taken and dropped per request, but the registration
   * holds the medium's open file, and with it its lock (one user per
   * store, flash/lock.c), until the ring's teardown, which the kernel
   * finishes in a work queue after the process has gone
   * (io_ring_exit_work): a server started straight after a killed one
   * was refused as a second user. */
  (void) io_uring_register_ring_fd (&t->ring);

  /* At most one io-wq worker (bound and unbound) for this thread's
   * requests: a request that would block waits for it rather than
   * making the kernel clone a new worker thread (create_io_worker),
   * which is what io-wq does while it has fewer than
   * min (entries, 4 × CPUs) bound workers.  Linux 5.15. */
  unsigned limits[2] = { 1, 1 };
  t->report.worker_capped =
    io_uring_register_iowq_max_workers (&t->ring, limits) == 0;

  /* Fill the ring's cache of requests (__io_alloc_req_refill allocates
   * when it is empty): as many no-ops at once as may ever be in flight. */
  for (unsigned i = 0; i < RING_ENTRIES; i++) {
    struct io_uring_sqe *sqe = io_uring_get_sqe (&t->ring);
    if (sqe == NULL)
      break;
    io_uring_prep_nop (sqe);
    io_uring_sqe_set_data64 (sqe, NOP_DATA);
  }
  r = io_uring_submit_and_wait (&t->ring, RING_ENTRIES);
  if (r >= 0)
    r = 0;
  io_uring_cq_advance (&t->ring, io_uring_cq_ready (&t->ring));
  if (r < 0) {
    t->start_step = "no-op requests";
    return r;
  }

  /* The io-wq worker, now: a no-op forced to io-wq makes the kernel
   * create it (a clone of this thread, so PR_SET_IO_FLUSHER too).  As
   * the last worker it never retires (io_wqe_worker). */
  struct io_uring_sqe *sqe = io_uring_get_sqe (&t->ring);
  io_uring_prep_nop (sqe);
  sqe->flags |= IOSQE_ASYNC;
  io_uring_sqe_set_data64 (sqe, NOP_DATA);
  r = io_uring_submit_and_wait (&t->ring, 1);
  struct io_uring_cqe *cqe;
  if (r >= 0)
    r = io_uring_wait_cqe (&t->ring, &cqe);
  if (r == 0) {
    r = cqe->res;
    io_uring_cqe_seen (&t->ring, cqe);
  }
  if (r < 0) {
    t->start_step = "the io-wq worker";
    return r;
  }
  t->report.worker_started = true;

  for (unsigned i = 0; i < RING_ENTRIES; i++)
    t->free_slots[i] = RING_ENTRIES - 1 - i;
  t->nr_free = RING_ENTRIES;
  arm_wake (t);
  return 0;
}

static void *
io_thread_main (void *arg)
{
  struct vswap_io_thread *t = arg;
  const int r = prepare (t);

  pthread_mutex_lock (&t->start_lock);
  t->start_result = r;
  t->start_finished = true;
  pthread_cond_signal (&t->start_cond);
  pthread_mutex_unlock (&t->start_lock);
  if (r == 0)
    serve (t);
  if (t->ring_made)
    io_uring_queue_exit (&t->ring);
  return NULL;
}

/* ---- starting and stopping ---- */

static void
free_thread (struct vswap_io_thread *t)
{
  if (t->wake_fd >= 0)
    close (t->wake_fd);
  pthread_mutex_destroy (&t->start_lock);
  pthread_cond_destroy (&t->start_cond);
  free (t);
}

static void
stop_thread (struct vswap_io_thread *t)
{
  const uint64_t one = 1;

  atomic_store (&t->stop, true);
  while (write (t->wake_fd, &one, sizeof one) == -1 && errno == EINTR)
    ;
  pthread_join (t->thread, NULL);
  free_thread (t);
}

/* A thread of 256 KiB of stack: it needs a few KiB, and the plugin
 * faults in (and locks) the top 256 KiB of every stack. */
#define THREAD_STACK (256 * 1024)

static int
start_thread (struct vswap_io_pool *pool, struct vswap_io_thread **out,
              const char **step)
{
  struct vswap_io_thread *t = calloc (1, sizeof *t);
  pthread_attr_t attr;
  int r;

  *step = "calloc";
  if (t == NULL)
    return -ENOMEM;
  t->fd = pool->fd;
  pthread_mutex_init (&t->start_lock, NULL);
  pthread_cond_init (&t->start_cond, NULL);
  t->wake_fd = eventfd (0, EFD_CLOEXEC);
  if (t->wake_fd == -1) {
    r = -errno;
    *step = "eventfd";
    free_thread (t);
    return r;
  }

  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, THREAD_STACK);
  r = -pthread_create (&t->thread, &attr, io_thread_main, t);
  pthread_attr_destroy (&attr);
  if (r < 0) {
    *step = "pthread_create";
    free_thread (t);
    return r;
  }

  pthread_mutex_lock (&t->start_lock);
  while (!t->start_finished)
    pthread_cond_wait (&t->start_cond, &t->start_lock);
  pthread_mutex_unlock (&t->start_lock);
  r = t->start_result;
  if (r < 0) {
    *step = t->start_step;
    pthread_join (t->thread, NULL);
    free_thread (t);
    return r;
  }
  *out = t;
  return 0;
}

void
vswap_io_pool_init (struct vswap_io_pool *pool, int fd, bool use_io_uring)
{
  const char *off = getenv ("VSWAP_NO_IO_URING");

  memset (pool, 0, sizeof *pool);
  pool->fd = fd;
  pool->use_io_uring = use_io_uring && !(off && *off && strcmp (off, "0"));
}

int
vswap_io_pool_start (struct vswap_io_pool *pool, unsigned threads,
                     struct vswap_io_pool_report *report,
                     struct vswap_error *err)
{
  memset (report, 0, sizeof *report);
  if (!pool->use_io_uring || pool->nr_threads > 0)
    return 0;
  if (threads < 1 || threads > VSWAP_IO_POOL_MAX_THREADS)
    return vswap_error_set (err, EINVAL, "%u I/O threads: give 1 to %d",
                            threads, VSWAP_IO_POOL_MAX_THREADS);

  for (unsigned i = 0; i < threads; i++) {
    const char *step = "";
    const int r = start_thread (pool, &pool->threads[i], &step);
    if (r < 0) {
      for (unsigned j = 0; j < i; j++) {
        stop_thread (pool->threads[j]);
        pool->threads[j] = NULL;
      }
      return vswap_error_set (err, -r, "io_uring unavailable (%s: %s): "
                              "using pread/pwrite; allow io_uring (sysctl "
                              "kernel.io_uring_disabled=0, seccomp policy) "
                              "or set io-uring=no",
                              step, vswap_strerror (-r));
    }
  }
  *report = pool->threads[0]->report;
  report->threads = threads;
  /* Callers see the threads only now, all of them ready. */
  __atomic_store_n (&pool->nr_threads, threads, __ATOMIC_RELEASE);
  return 0;
}

const char *
vswap_io_pool_engine (const struct vswap_io_pool *pool)
{
  return pool->nr_threads ? "io_uring" : "pread/pwrite";
}

void
vswap_io_pool_close (struct vswap_io_pool *pool)
{
  const unsigned n = pool->nr_threads;

  pool->nr_threads = 0;
  for (unsigned i = 0; i < n; i++) {
    stop_thread (pool->threads[i]);
    pool->threads[i] = NULL;
  }
}

/* ---- callers ---- */

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

/* Move all LENGTH bytes with pread/pwrite.  Returns 0 or a negative
 * errno. */
static int
sync_all (int fd, bool is_write, void *buffer, size_t length,
          uint64_t offset)
{
  unsigned char *p = buffer;

  while (length > 0) {
    const size_t chunk = length < MAX_TRANSFER ? length : MAX_TRANSFER;
    const int n = sync_transfer (fd, is_write, p, chunk, offset);
    if (n == -EINTR || n == -EAGAIN)
      continue;
    if (n < 0)
      return n;
    if (n == 0)
      return -EIO;              /* the file ended: truncated under us */
    p += n;
    length -= n;
    offset += n;
  }
  return 0;
}

/* Hand JOB to an I/O thread and sleep until it is done. */
static void
run_job (struct vswap_io_pool *pool, struct io_job *job)
{
  const unsigned n = __atomic_load_n (&pool->nr_threads, __ATOMIC_ACQUIRE);
  const unsigned which = n == 1 ? 0
    : __atomic_fetch_add (&pool->next, 1, __ATOMIC_RELAXED) % n;
  struct vswap_io_thread *t = pool->threads[which];

  atomic_init (&job->state, JOB_QUEUED);
  job->submitted = job->completed = 0;
  job->next = atomic_load (&t->queue);
  while (!atomic_compare_exchange_weak (&t->queue, &job->next, job))
    ;
  if (atomic_exchange (&t->sleeping, false)) {
    const uint64_t one = 1;
    while (write (t->wake_fd, &one, sizeof one) == -1 && errno == EINTR)
      ;
  }

  for (;;) {
    unsigned state = atomic_load_explicit (&job->state, memory_order_acquire);
    if (state == JOB_DONE)
      return;
    if (state == JOB_QUEUED &&
        !atomic_compare_exchange_weak_explicit (&job->state, &state,
                                                JOB_WAITED_FOR,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
      continue;
    futex (&job->state, FUTEX_WAIT_PRIVATE, JOB_WAITED_FOR);
  }
}

/* Do PARTS[0..COUNT) (each with result 0 and DONE[i] 0 on entry) through
 * an I/O thread if there is one, then finish with pread/pwrite whatever
 * it left undone. */
static void
transfer_parts (struct vswap_io_pool *pool, bool is_write,
                struct vswap_medium_read *parts, size_t *done, unsigned count)
{
  if (count > 0 && __atomic_load_n (&pool->nr_threads, __ATOMIC_ACQUIRE) > 0) {
    struct io_job job = {
      .is_write = is_write, .parts = parts, .done = done, .count = count,
    };
    run_job (pool, &job);
  }
  for (unsigned i = 0; i < count; i++) {
    struct vswap_medium_read *p = &parts[i];
    if (p->result == 0 && done[i] < p->length)
      p->result = sync_all (pool->fd, is_write,
                            (unsigned char *) p->buffer + done[i],
                            p->length - done[i], p->offset + done[i]);
  }
}

static int
transfer (struct vswap_io_pool *pool, bool is_write, void *buffer,
          size_t length, uint64_t offset)
{
  unsigned char *p = buffer;

  /* A ring request carries at most MAX_TRANSFER bytes. */
  while (length > 0) {
    const size_t chunk = length < MAX_TRANSFER ? length : MAX_TRANSFER;
    struct vswap_medium_read part = {
      .buffer = p, .length = chunk, .offset = offset,
    };
    size_t done = 0;
    transfer_parts (pool, is_write, &part, &done, 1);
    if (part.result < 0)
      return part.result;
    p += chunk;
    length -= chunk;
    offset += chunk;
  }
  return 0;
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

void
vswap_io_pool_read_batch (struct vswap_io_pool *pool,
                          struct vswap_medium_read *reads, unsigned count)
{
  for (unsigned first = 0; first < count; first += VSWAP_IO_POOL_BATCH) {
    const unsigned n = count - first < VSWAP_IO_POOL_BATCH
      ? count - first : VSWAP_IO_POOL_BATCH;
    struct vswap_medium_read parts[VSWAP_IO_POOL_BATCH];
    size_t done[VSWAP_IO_POOL_BATCH];
    unsigned map[VSWAP_IO_POOL_BATCH], m = 0;

    /* Only what is still to do; lengths over MAX_TRANSFER are not a
     * batch's business (the store reads runs of a few pages). */
    for (unsigned i = 0; i < n; i++) {
      struct vswap_medium_read *read = &reads[first + i];
      if (read->result != 0 || read->length == 0)
        continue;
      if (read->length > MAX_TRANSFER) {
        read->result = transfer (pool, false, read->buffer, read->length,
                                 read->offset);
        continue;
      }
      parts[m] = *read;
      done[m] = 0;
      map[m++] = first + i;
    }
    transfer_parts (pool, false, parts, done, m);
    for (unsigned i = 0; i < m; i++)
      reads[map[i]].result = parts[i].result;
  }
}
