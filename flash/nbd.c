/* vswap: a medium on a remote NBD export, through libnbd.
 *
 * The store lives on whatever the URI names: "nbd://HOST[:PORT]/EXPORT",
 * "nbds://…" (TLS), "nbd+unix:///EXPORT?socket=PATH" and the other
 * schemes libnbd knows.
 *
 * One connection (the writer) carries every write, trim and flush, so
 * that a flush covers every write the store made.  A libnbd handle holds
 * its lock for the whole of a synchronous request, so one connection
 * would also serialise every read; when the server advertises multi-conn
 * (and flush), a few more connections serve reads in parallel.
 *
 * Multi-conn promises less than it seems: a write replied to on one
 * connection need only be visible on another once a FLUSH has been
 * replied to.  The store reads back segments it wrote moments ago and
 * swap never sends FLUSH, so the writer remembers which ranges it wrote
 * since its last flush and reads of those go to the writer too.
 *
 * Everything is set up at open: the I/O path takes mutexes and allocates
 * nothing itself (libnbd keeps a small request record per command).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libnbd.h>

#include "backend.h"
#include "medium.h"

/* Connections for reads when the server allows several.  The store
 * serves 16 requests at once by default, but a server rarely gains from
 * more than a handful of connections. */
#define NBD_READERS 4

/* Ranges written since the last flush that the writer remembers.  Each
 * open segment grows one range, so this is many open segments' worth;
 * when it is full the writer flushes, which is cheap next to a lost
 * parallel read path. */
#define NBD_DIRTY_RANGES 64

/* The NBD spec's default maximum request when the server names none; a
 * server may refuse anything larger. */
#define NBD_DEFAULT_MAX_REQUEST (32u << 20)

/* NBD_CMD_TRIM carries a 32-bit length: discard in pieces of this many
 * bytes (rounded down to the write unit). */
#define NBD_MAX_TRIM (1u << 30)

/* What the write unit may grow to when the server prefers large blocks:
 * the store pads every chunk to a write unit, and format refuses more. */
#define NBD_MAX_WRITE_UNIT (1u << 20)

struct nbd_connection {
  pthread_mutex_t lock;         /* held for each request */
  struct nbd_handle *nbd;
};

struct dirty_range {
  uint64_t start, end;
};

struct nbd_medium {
  struct vswap_medium medium;   /* first: the backend casts */
  char uri[1024];               /* for messages */
  bool read_only;
  bool can_flush;
  uint32_t max_request;         /* bytes per read or write request */
  uint32_t max_trim;            /* bytes per trim request */

  struct nbd_connection writer;
  unsigned nr_readers;          /* 0: the writer serves reads too */
  unsigned next_reader;         /* where the next reader starts looking */
  struct nbd_connection readers[NBD_READERS];

  /* Written but not yet flushed; only kept when there are readers.
   * Changed with both writer.lock and dirty_lock held, read with
   * dirty_lock alone. */
  pthread_mutex_t dirty_lock;
  unsigned nr_dirty;
  bool all_dirty;               /* lost track: every read is dirty */
  struct dirty_range dirty[NBD_DIRTY_RANGES];

  bool error_reported;          /* the first I/O error goes to stderr */
  int lock_fd;                  /* this host's lock file (-1: none) */
};

static struct nbd_medium *
to_nbd (struct vswap_medium *medium)
{
  return (struct nbd_medium *) medium;
}

/* libnbd's message without the "nbd_pread: " it starts with. */
static const char *
nbd_error_text (void)
{
  const char *text = nbd_get_error ();
  const char *colon;

  if (text == NULL)
    return "unknown error";
  colon = strstr (text, ": ");
  if (strncmp (text, "nbd_", 4) == 0 && colon)
    return colon + 2;
  return text;
}

/* The errno of the request that just failed in this thread. */
static int
nbd_errno (void)
{
  int e = nbd_get_errno ();

  return e > 0 ? e : EIO;
}

/* The store counts I/O errors but cannot say why they happen; the
 * operator of a server whose remote medium went away should not have to
 * guess.  Once per medium is enough to tell. */
static int
io_error (struct nbd_medium *m, const char *what, uint64_t offset,
          uint64_t length)
{
  int e = nbd_errno ();

  if (!__atomic_exchange_n (&m->error_reported, true, __ATOMIC_RELAXED))
    fprintf (stderr,
             "vswap: %s: %s of %" PRIu64 " bytes at %" PRIu64 " failed: "
             "%s: is the NBD server still running and reachable? (further "
             "errors are counted, not shown)\n",
             m->uri, what, length, offset, nbd_error_text ());
  return -e;
}

/* ---- ranges written since the last flush ---- */

static bool
range_dirty (struct nbd_medium *m, uint64_t offset, uint64_t length)
{
  uint64_t end = offset + length;
  bool dirty;
  unsigned i;

  pthread_mutex_lock (&m->dirty_lock);
  dirty = m->all_dirty;
  for (i = 0; i < m->nr_dirty && !dirty; i++)
    dirty = offset < m->dirty[i].end && m->dirty[i].start < end;
  pthread_mutex_unlock (&m->dirty_lock);
  return dirty;
}

static void
forget_dirty (struct nbd_medium *m)
{
  pthread_mutex_lock (&m->dirty_lock);
  m->nr_dirty = 0;
  m->all_dirty = false;
  pthread_mutex_unlock (&m->dirty_lock);
}

/* Widen a range this one touches or overlaps; writes inside a segment
 * are sequential, so almost every write extends the range before it. */
static bool
merge_dirty (struct nbd_medium *m, uint64_t offset, uint64_t end)
{
  unsigned i;

  for (i = 0; i < m->nr_dirty; i++) {
    struct dirty_range *d = &m->dirty[i];

    if (offset <= d->end && d->start <= end) {
      if (offset < d->start)
        d->start = offset;
      if (end > d->end)
        d->end = end;
      return true;
    }
  }
  if (m->nr_dirty == NBD_DIRTY_RANGES)
    return false;
  m->dirty[m->nr_dirty++] = (struct dirty_range) { offset, end };
  return true;
}

/* Before a write: remember its range.  Called with writer.lock held, so
 * the flush that makes room covers every write remembered so far.  If
 * that flush fails, every read goes to the writer until one succeeds:
 * slower, never stale. */
static void
mark_dirty (struct nbd_medium *m, uint64_t offset, uint64_t length)
{
  bool full;

  if (m->nr_readers == 0)
    return;
  pthread_mutex_lock (&m->dirty_lock);
  full = !m->all_dirty && !merge_dirty (m, offset, offset + length);
  pthread_mutex_unlock (&m->dirty_lock);
  if (!full)
    return;

  if (nbd_flush (m->writer.nbd, 0) == 0) {
    forget_dirty (m);
    pthread_mutex_lock (&m->dirty_lock);
    merge_dirty (m, offset, offset + length);
    pthread_mutex_unlock (&m->dirty_lock);
  }
  else {
    pthread_mutex_lock (&m->dirty_lock);
    m->all_dirty = true;
    pthread_mutex_unlock (&m->dirty_lock);
  }
}

/* ---- the operations ---- */

/* An idle reader if there is one, so that threads do not queue behind
 * one another while other connections sit free. */
static struct nbd_connection *
get_reader (struct nbd_medium *m)
{
  unsigned start = __atomic_fetch_add (&m->next_reader, 1,
                                       __ATOMIC_RELAXED);
  struct nbd_connection *c;
  unsigned i;

  for (i = 0; i < m->nr_readers; i++) {
    c = &m->readers[(start + i) % m->nr_readers];
    if (pthread_mutex_trylock (&c->lock) == 0)
      return c;
  }
  c = &m->readers[start % m->nr_readers];
  pthread_mutex_lock (&c->lock);
  return c;
}

static int
nbd_medium_read (struct vswap_medium *medium, void *buffer, size_t length,
                 uint64_t offset)
{
  struct nbd_medium *m = to_nbd (medium);
  struct nbd_connection *c;
  unsigned char *p = buffer;
  size_t done, n;
  int r = 0;

  if (m->nr_readers == 0 || range_dirty (m, offset, length)) {
    c = &m->writer;
    pthread_mutex_lock (&c->lock);
  }
  else
    c = get_reader (m);

  for (done = 0; done < length && r == 0; done += n) {
    n = length - done < m->max_request ? length - done : m->max_request;
    if (nbd_pread (c->nbd, p + done, n, offset + done, 0) == -1)
      r = io_error (m, "read", offset + done, n);
  }
  pthread_mutex_unlock (&c->lock);
  return r;
}

static int
nbd_medium_write (struct vswap_medium *medium, const void *buffer,
                  size_t length, uint64_t offset)
{
  struct nbd_medium *m = to_nbd (medium);
  const unsigned char *p = buffer;
  size_t done, n;
  int r = 0;

  if (m->read_only)
    return -EROFS;
  pthread_mutex_lock (&m->writer.lock);
  mark_dirty (m, offset, length);
  for (done = 0; done < length && r == 0; done += n) {
    n = length - done < m->max_request ? length - done : m->max_request;
    if (nbd_pwrite (m->writer.nbd, p + done, n, offset + done, 0) == -1)
      r = io_error (m, "write", offset + done, n);
  }
  pthread_mutex_unlock (&m->writer.lock);
  return r;
}

/* Trim, not NBD_CMD_WRITE_ZEROES, even where the server can zero: the
 * store needs the old content gone or harmless, not zeros (so the
 * geometry says discard_zeroes = false), and trim is what frees the
 * space on the server.  A server that emulates zeroing would instead
 * write a whole segment of zeros each time the store frees one, as much
 * traffic as the data itself.  Trim is advisory: a server that ignores
 * it costs space, not correctness.
 *
 * Not remembered as dirty: a read of a trimmed range may see the old
 * content or zeros, and the store relies on neither. */
static int
nbd_medium_discard (struct vswap_medium *medium, uint64_t offset,
                    uint64_t length)
{
  struct nbd_medium *m = to_nbd (medium);
  uint64_t done, n;
  int r = 0;

  if (m->read_only)
    return -EROFS;
  pthread_mutex_lock (&m->writer.lock);
  for (done = 0; done < length && r == 0; done += n) {
    n = length - done < m->max_trim ? length - done : m->max_trim;
    if (nbd_trim (m->writer.nbd, n, offset + done, 0) == -1)
      r = io_error (m, "trim", offset + done, n);
  }
  pthread_mutex_unlock (&m->writer.lock);
  return r;
}

/* Every write went through the writer, and the writer's lock orders
 * them before this flush: it covers all of them, and (multi-conn) makes
 * them visible on the readers. */
static int
nbd_medium_flush (struct vswap_medium *medium)
{
  struct nbd_medium *m = to_nbd (medium);
  int r = 0;

  /* A server without flush writes through (or promises nothing we could
   * ask for); readers exist only with flush. */
  if (!m->can_flush || m->read_only)
    return 0;
  pthread_mutex_lock (&m->writer.lock);
  if (nbd_flush (m->writer.nbd, 0) == -1)
    r = io_error (m, "flush", 0, 0);
  else if (m->nr_readers > 0)
    forget_dirty (m);
  pthread_mutex_unlock (&m->writer.lock);
  return r;
}

static void
close_connection (struct nbd_connection *c)
{
  if (c->nbd == NULL)
    return;
  /* Waits for nothing (every request is synchronous and done) and tells
   * the server we are going, so that it does not log a dropped client. */
  nbd_shutdown (c->nbd, 0);
  nbd_close (c->nbd);
  c->nbd = NULL;
  pthread_mutex_destroy (&c->lock);
}

static void
nbd_medium_close (struct vswap_medium *medium)
{
  struct nbd_medium *m = to_nbd (medium);
  unsigned i;

  for (i = 0; i < m->nr_readers; i++)
    close_connection (&m->readers[i]);
  close_connection (&m->writer);
  if (m->lock_fd >= 0)
    close (m->lock_fd);
  pthread_mutex_destroy (&m->dirty_lock);
  free (m);
}

static const struct vswap_medium_operations nbd_operations = {
  .name = "nbd",
  .read = nbd_medium_read,
  .write = nbd_medium_write,
  .discard = nbd_medium_discard,
  .flush = nbd_medium_flush,
  .close = nbd_medium_close,
};

/* ---- opening ---- */

/* One line for a failed connection: the URI, what libnbd said, and what
 * to do about it. */
static void
connect_error (struct vswap_error *err, const char *uri, int errnum,
               const char *text)
{
  const char *problem = text;
  const char *fix;

  switch (errnum) {
  case ENOENT:
  case ECONNREFUSED:
    /* "connect: No such file or directory" says less than the errno. */
    problem = vswap_strerror (errnum);
    fix = strstr (text, "export")
      ? "check the export name in the URI"
      : "is the NBD server running?";
    break;
  case EACCES:
  case EPERM:
    problem = vswap_strerror (errnum);
    fix = "check the socket's permissions, or run as a user who may "
      "connect to it";
    break;
  case EHOSTUNREACH:
  case ENETUNREACH:
  case ETIMEDOUT:
    problem = vswap_strerror (errnum);
    fix = "check the host name and the network";
    break;
  case EINVAL:
    fix = "write nbd://HOST[:PORT]/EXPORT, nbds://HOST/EXPORT (TLS) or "
      "nbd+unix:///EXPORT?socket=PATH";
    break;
  case ENOTSUP:
    fix = strstr (text, "refused TLS")
      ? "the server does not offer TLS: use nbd:// or nbd+unix://, or "
        "turn TLS on in the server"
      : "use a libnbd built with URI and TLS support";
    break;
  default:
    fix = strncmp (uri, "nbds", 4) == 0
      ? "check that the server speaks TLS and the URI's tls-* parameters"
      : "check the URI and the server";
    break;
  }
  vswap_error_set (err, errnum, "%s: cannot connect: %s: %s",
                   uri, problem, fix);
}

/* Connect C to URI.  Returns 0 or a negative errno with ERR filled. */
static int
connect_one (struct nbd_connection *c, const char *uri, const char *name,
             struct vswap_error *err)
{
  int e;

  c->nbd = nbd_create ();
  if (c->nbd == NULL)
    return vswap_error_set (err, nbd_errno (), "%s: cannot create a libnbd "
                            "handle: %s: is the machine out of memory?",
                            uri, nbd_error_text ());
  /* Names the connection in libnbd's debug messages (LIBNBD_DEBUG=1). */
  nbd_set_handle_name (c->nbd, name);
  if (nbd_connect_uri (c->nbd, uri) == -1) {
    e = nbd_errno ();
    connect_error (err, uri, e, nbd_error_text ());
    nbd_close (c->nbd);
    c->nbd = NULL;
    return -e;
  }
  pthread_mutex_init (&c->lock, NULL);
  return 0;
}

/* A libnbd query that failed on a live connection: rare enough for a
 * generic message. */
static int
query_error (struct vswap_error *err, const char *uri, const char *what)
{
  int e = nbd_errno ();

  return vswap_error_set (err, e, "%s: cannot get the export's %s: %s: "
                          "check the server", uri, what, nbd_error_text ());
}

/* The spec makes every block size a power of two; a server that gets it
 * wrong still gets requests it can take. */
static uint32_t
power_of_2_at_least (uint64_t n)
{
  uint32_t p = 1;

  while (p < n && p < UINT32_C (1) << 31)
    p <<= 1;
  return p;
}

/* Sizes, units and abilities of the export on the writer.  SIZE gets
 * the export's size, IO_ALIGN the alignment every request needs. */
static int
detect_geometry (struct nbd_medium *m,
                 const struct vswap_medium_options *options,
                 uint64_t *size, uint32_t *io_align,
                 struct vswap_error *err)
{
  struct vswap_geometry *g = &m->medium.geometry;
  struct nbd_handle *nbd = m->writer.nbd;
  int64_t export_size, minimum, preferred, maximum;
  int read_only, can_trim, can_flush;

  export_size = nbd_get_size (nbd);
  if (export_size == -1)
    return query_error (err, m->uri, "size");
  /* 0 means "not advertised" for each of the three. */
  minimum = nbd_get_block_size (nbd, LIBNBD_SIZE_MINIMUM);
  preferred = nbd_get_block_size (nbd, LIBNBD_SIZE_PREFERRED);
  maximum = nbd_get_block_size (nbd, LIBNBD_SIZE_MAXIMUM);
  if (minimum == -1 || preferred == -1 || maximum == -1)
    return query_error (err, m->uri, "block sizes");
  read_only = nbd_is_read_only (nbd);
  can_trim = nbd_can_trim (nbd);
  can_flush = nbd_can_flush (nbd);
  if (read_only == -1 || can_trim == -1 || can_flush == -1)
    return query_error (err, m->uri, "flags");

  if (read_only && !options->read_only)
    return vswap_error_set (err, EROFS,
                            "%s: the export is read-only: serve it "
                            "writable (no nbdkit -r, no qemu-nbd "
                            "--read-only), or open it read-only", m->uri);
  m->read_only = options->read_only;
  m->can_flush = can_flush;
  *size = export_size;

  /* The spec caps the minimum at 64 KiB and makes every size a power of
   * two; 512 keeps the store's reads in sectors like any disk's. */
  *io_align = minimum > 512 ? power_of_2_at_least (minimum) : 512;
  g->read_unit = *io_align;
  /* Writes smaller than the preferred size cost the server a
   * read-modify-write; 4 KiB is the store's page. */
  g->write_unit = power_of_2_at_least (preferred > VSWAP_DEFAULT_WRITE_UNIT
                                       ? preferred
                                       : VSWAP_DEFAULT_WRITE_UNIT);
  if (g->write_unit > NBD_MAX_WRITE_UNIT)
    g->write_unit = NBD_MAX_WRITE_UNIT;
  if (g->write_unit < g->read_unit)
    g->write_unit = g->read_unit;
  /* Nothing on a remote export says where its erase blocks are; 4 MiB
   * segments make large writes, and options may say otherwise. */
  g->erase_block = VSWAP_DEFAULT_ERASE_BLOCK;
  g->can_discard = can_trim && !m->read_only;
  g->discard_zeroes = false;

  m->max_request = maximum > 0 && maximum < NBD_DEFAULT_MAX_REQUEST
    ? maximum : NBD_DEFAULT_MAX_REQUEST;
  m->max_request -= m->max_request % g->read_unit;
  if (m->max_request == 0)
    return vswap_error_set (err, EINVAL,
                            "%s: the server's largest request (%" PRId64
                            " bytes) is smaller than its smallest (%"
                            PRIu32 "): fix the server's block sizes",
                            m->uri, maximum, g->read_unit);
  return 0;
}

/* More connections for reads, if the server says that is safe.  Every
 * failure here only costs parallelism, so it is not an error. */
static void
open_readers (struct nbd_medium *m)
{
  struct vswap_error ignored;
  int multi_conn = nbd_can_multi_conn (m->writer.nbd);
  char name[32];
  unsigned i;

  /* Without flush nothing could make our writes visible on the readers;
   * read-only, there are no writes. */
  if (multi_conn != 1 || (!m->can_flush && !m->read_only))
    return;
  for (i = 0; i < NBD_READERS; i++) {
    snprintf (name, sizeof name, "vswap-reader-%u", i);
    if (connect_one (&m->readers[i], m->uri, name, &ignored) < 0)
      break;
    /* Another export behind the same URI (a load balancer, a restarted
     * server) would be a disaster: check it is the same size. */
    if (nbd_get_size (m->readers[i].nbd) != nbd_get_size (m->writer.nbd)) {
      close_connection (&m->readers[i]);
      break;
    }
  }
  m->nr_readers = i;
}

struct vswap_medium *
vswap_nbd_medium_open (const char *uri,
                       const struct vswap_medium_options *options,
                       struct vswap_error *err)
{
  struct nbd_medium *m;
  uint64_t size = 0;
  uint32_t io_align = 0;

  if (strlen (uri) >= sizeof m->uri) {
    vswap_error_set (err, ENAMETOOLONG, "%.64s…: URI too long: give one "
                     "shorter than %zu bytes", uri, sizeof m->uri);
    return NULL;
  }
  if (options->create) {
    vswap_error_set (err, EINVAL,
                     "%s: a remote NBD export cannot be created or resized "
                     "from here: drop the size and use the export as the "
                     "server made it", uri);
    return NULL;
  }

  m = calloc (1, sizeof *m);
  if (m == NULL) {
    vswap_error_set (err, ENOMEM, "%s: out of memory", uri);
    return NULL;
  }
  strcpy (m->uri, uri);
  pthread_mutex_init (&m->dirty_lock, NULL);
  m->medium.operations = &nbd_operations;
  /* One user at a time, on this host; see flash/lock.c for other hosts. */
  if (vswap_lock_name (uri, options->lock, uri, &m->lock_fd, err) < 0) {
    pthread_mutex_destroy (&m->dirty_lock);
    free (m);
    return NULL;
  }

  if (connect_one (&m->writer, uri, "vswap-writer", err) < 0) {
    if (m->lock_fd >= 0)
      close (m->lock_fd);
    pthread_mutex_destroy (&m->dirty_lock);
    free (m);
    return NULL;
  }
  if (detect_geometry (m, options, &size, &io_align, err) < 0
      || vswap_geometry_finish (&m->medium.geometry, size, io_align,
                                options, uri, err) < 0)
    goto fail;
  m->max_trim = NBD_MAX_TRIM - NBD_MAX_TRIM % m->medium.geometry.write_unit;
  open_readers (m);

  snprintf (m->medium.description, sizeof m->medium.description,
            "%s (NBD export, %u connection%s%s%s)", uri,
            1 + m->nr_readers, m->nr_readers ? "s" : "",
            m->nr_readers ? ", multi-conn" : "",
            m->read_only ? ", read-only" : "");
  return &m->medium;

 fail:
  nbd_medium_close (&m->medium);
  return NULL;
}
