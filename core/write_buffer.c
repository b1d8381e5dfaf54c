/* vswap: the write-back buffer, which outlives the server process.
 *
 * A write is acknowledged once its record is in the user head's RAM image
 * of its open segment; the image goes to the medium in chunks of 512 KiB,
 * or at a flush, which swap never sends.  So that a server killed in
 * between (SIGKILL, OOM killer, a crash) loses nothing it acknowledged,
 * that image lives in a MAP_SHARED mapping of a file on tmpfs instead of
 * in private memory: the kernel keeps the file when the process dies, and
 * the next server on the same store replays what the image holds beyond
 * the last chunk written.  A reboot empties tmpfs, which leaves the store
 * as it is without a buffer (what was only in RAM is gone).
 *
 * The file is a header page and one segment image.  The header says which
 * segment and generation the image is of, how much of it is on the medium
 * ("written") and how much is appended ("fill"); fill is stored only after
 * the record bytes are in place, so what lies below it is complete (and
 * each record is verified by its checksums anyway).  The header also says
 * the newest chunk sequence its owner may have put on the medium: a newer
 * chunk there means another server has written since, and the buffer is
 * stale.
 *
 * Only the user head is kept here.  GC's copies need not be: GC makes them
 * durable before it frees a victim (gc.c, collect), so until then the
 * victim still holds the originals.  With one open segment, GC shares the
 * user head, and its copies are replayed with the rest, which is harmless
 * (a copy is the page's current content when it was made).
 *
 * The file is locked with flock, so that a second server on the same store
 * refuses to start instead of replaying into the first one's buffer.
 *
 * Called with store->lock held, except where said.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "page_codec.h"
#include "store_internal.h"

#define BUFFER_MAGIC "VSWAPWB1"
#define HEADER_SIZE 4096        /* keeps the image page-aligned */

/* The file's first page.  Native byte order: a tmpfs file never leaves
 * the machine that wrote it. */
struct buffer_header {
  char magic[8];
  uint8_t uuid[VSWAP_UUID_SIZE];
  uint32_t segment_size;
  uint32_t address_shift;
  /* No chunk its owner wrote carries a newer sequence. */
  uint64_t sequence;
  /* The image: of which segment and generation (segment -1: none). */
  int64_t segment;
  uint64_t generation;
  uint32_t written;             /* bytes of the image on the medium */
  uint32_t fill;                /* bytes appended: complete records */
};

struct vswap_write_buffer {
  char *path;
  int fd;
  uint8_t *map;                 /* header page and image */
  size_t map_size;
  struct buffer_header *header;
  bool attached;                /* the user head's image is the mapping */
  /* What the last server left unwritten, read at open. */
  uint8_t *pending;
  uint32_t pending_length;
  uint64_t pending_generation;
  uint64_t pending_sequence;
  int64_t pending_segment;
};

static void
report (struct vswap_store *store, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static void
report (struct vswap_store *store, const char *fmt, ...)
{
  char message[512];
  va_list ap;

  if (!store->options.report)
    return;
  va_start (ap, fmt);
  vsnprintf (message, sizeof message, fmt, ap);
  va_end (ap);
  store->options.report (store->options.report_opaque, message);
}

/* The path: as given, or vswap-UUID.buffer inside it if it ends in '/'. */
static char *
buffer_path (const struct vswap_store *store, const char *given)
{
  const size_t n = strlen (given);
  char uuid[VSWAP_UUID_TEXT_SIZE];
  char *path;

  if (n == 0 || given[n - 1] != '/')
    return strdup (given);
  vswap_uuid_format (store->superblock.uuid, uuid);
  if (asprintf (&path, "%svswap-%s.buffer", given, uuid) == -1)
    return NULL;
  return path;
}

static void
buffer_free (struct vswap_write_buffer *b)
{
  if (b->map)
    munmap (b->map, b->map_size);
  if (b->fd >= 0)
    close (b->fd);              /* releases the lock */
  free (b->pending);
  free (b->path);
  free (b);
}

/* Take what the last server left in the file, if anything: only the
 * bytes of the open chunk beyond "written" are not on the medium. */
static int
read_pending (struct vswap_store *store, struct vswap_write_buffer *b,
              struct vswap_error *err)
{
  struct buffer_header h;
  struct stat st;

  if (fstat (b->fd, &st) == -1)
    return vswap_error_set (err, errno, "write buffer %s: %s", b->path,
                            vswap_strerror (errno));
  if (st.st_size == 0)
    return 0;                   /* new */
  if (st.st_size < (off_t) sizeof h ||
      pread (b->fd, &h, sizeof h, 0) != (ssize_t) sizeof h ||
      memcmp (h.magic, BUFFER_MAGIC, 8) != 0)
    return vswap_error_set (err, EINVAL, "write buffer %s is not a vswap "
                            "write buffer: remove it, or give another "
                            "buffer=", b->path);

  const uint32_t start = vswap_chunk_records_start (store->address_shift);
  const bool foreign = memcmp (h.uuid, store->superblock.uuid,
                              VSWAP_UUID_SIZE) != 0;
  /* fill below written + start: the header was caught between two
   * stores of a segment change, when nothing is pending. */
  const bool something = h.segment >= 0 && h.fill > h.written + start;
  if (foreign && something) {
    char uuid[VSWAP_UUID_TEXT_SIZE];
    vswap_uuid_format (h.uuid, uuid);
    return vswap_error_set (err, EBUSY, "write buffer %s holds unwritten "
                            "pages of another store (%s): give each store "
                            "its own buffer=, or remove the file if that "
                            "store is gone", b->path, uuid);
  }
  if (foreign || !something)
    return 0;

  if (h.segment_size != store->segment_size ||
      h.address_shift != store->address_shift ||
      h.segment >= (int64_t) store->segment_count ||
      h.fill > h.segment_size || h.written % store->write_unit ||
      st.st_size < (off_t) (HEADER_SIZE + h.fill)) {
    report (store, "write buffer %s: its header does not fit this store "
            "(segment %" PRId64 ", fill %" PRIu32 "); ignored", b->path,
            h.segment, h.fill);
    return 0;
  }
  /* From the first byte not on the medium: chunks sealed but not yet
   * written (each with its header), then the open chunk. */
  b->pending_length = h.fill - h.written;
  b->pending = malloc (b->pending_length ? b->pending_length : 1);
  if (!b->pending)
    return vswap_error_set (err, ENOMEM, "out of memory");
  if (pread (b->fd, b->pending, b->pending_length,
             HEADER_SIZE + h.written) != (ssize_t) b->pending_length)
    return vswap_error_set (err, EIO, "write buffer %s: cannot read it",
                            b->path);
  b->pending_generation = h.generation;
  b->pending_sequence = h.sequence;
  b->pending_segment = h.segment;
  return 0;
}

/* Nothing pending: a header for this store with no image. */
static void
clear_header (const struct vswap_store *store, struct buffer_header *h)
{
  __atomic_store_n (&h->segment, -1, __ATOMIC_RELEASE);
  __atomic_store_n (&h->fill, 0, __ATOMIC_RELEASE);
  __atomic_store_n (&h->written, 0, __ATOMIC_RELEASE);
  memcpy (h->magic, BUFFER_MAGIC, 8);
  memcpy (h->uuid, store->superblock.uuid, VSWAP_UUID_SIZE);
  h->segment_size = store->segment_size;
  h->address_shift = store->address_shift;
}

int
vswap_buffer_open (struct vswap_store *store, const char *given,
                   struct vswap_error *err)
{
  struct vswap_write_buffer *b = calloc (1, sizeof *b);
  int r;

  if (!b)
    return vswap_error_set (err, ENOMEM, "out of memory");
  b->fd = -1;
  b->path = buffer_path (store, given);
  if (!b->path) {
    free (b);
    return vswap_error_set (err, ENOMEM, "out of memory");
  }
  b->fd = open (b->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (b->fd == -1) {
    r = vswap_error_set (err, errno, "write buffer %s: %s: give buffer= a "
                         "file on tmpfs, or buffer=none", b->path,
                         vswap_strerror (errno));
    goto fail;
  }
  if (flock (b->fd, LOCK_EX | LOCK_NB) == -1) {
    r = vswap_error_set (err, errno == EWOULDBLOCK ? EBUSY : errno,
                         "write buffer %s is locked: another vswap server "
                         "is using this store (stop it first)", b->path);
    goto fail;
  }
  r = read_pending (store, b, err);
  if (r < 0)
    goto fail;

  /* Allocated now: a full tmpfs must fail here, with a message, not
   * with SIGBUS at the first write into the mapping. */
  b->map_size = HEADER_SIZE + store->segment_size;
  if (ftruncate (b->fd, (off_t) b->map_size) == -1 ||
      (errno = posix_fallocate (b->fd, 0, (off_t) b->map_size)) != 0) {
    r = vswap_error_set (err, errno, "write buffer %s: cannot make it "
                         "%zu bytes: %s: give buffer= a tmpfs with room, "
                         "or buffer=none", b->path, b->map_size,
                         vswap_strerror (errno));
    goto fail;
  }
  b->map = mmap (NULL, b->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                 b->fd, 0);
  if (b->map == MAP_FAILED) {
    b->map = NULL;
    r = vswap_error_set (err, errno, "write buffer %s: mmap: %s", b->path,
                         vswap_strerror (errno));
    goto fail;
  }
  /* tmpfs pages can be swapped out, perhaps onto this very device.  The
   * plugin's mlockall after its fork covers the mapping too (locks do not
   * survive fork); this covers library users that never fork. */
  (void) mlock (b->map, b->map_size);
  b->header = (struct buffer_header *) b->map;
  /* Until the pending records are replayed, the header keeps describing
   * them; only its sequence follows this store (vswap_buffer_note), so
   * that a replay cut short by another kill is not taken for stale. */
  if (!b->pending)
    clear_header (store, b->header);
  store->write_buffer = b;
  return 0;

 fail:
  buffer_free (b);
  return r;
}

/* Apply the record at RECORD (AVAILABLE bytes there) as a new request.
 * Returns its size, 0 if it does not verify (a record the kill cut
 * short was never acknowledged: the list ends there), or -errno. */
static int
replay_record (struct vswap_store *store, struct vswap_write_buffer *b,
               ZSTD_DCtx *dctx, uint8_t *page, const uint8_t *record,
               uint32_t available, uint64_t *pages)
{
  struct vswap_record_header h;
  int r = 0;

  if (available < VSWAP_RECORD_HEADER_SIZE ||
      !vswap_record_header_decode (record, store->seed,
                                   b->pending_generation, &h))
    return 0;
  const uint32_t size = vswap_record_size (h.payload_length,
                                           store->address_shift);
  const uint8_t *payload = record + VSWAP_RECORD_HEADER_SIZE;
  if (size > available)
    return 0;
  if ((h.kind == VSWAP_RECORD_RAW || h.kind == VSWAP_RECORD_ZSTD ||
       h.kind == VSWAP_RECORD_SAME) &&
      vswap_payload_checksum (payload, h.payload_length, store->seed,
                              h.logical_page) != h.payload_checksum)
    return 0;
  if (vswap_record_kind_is_page (h.kind) &&
      (uint64_t) h.logical_page + h.count > store->pages)
    return 0;
  const uint64_t offset = (uint64_t) h.logical_page * VSWAP_PAGE_SIZE;
  switch (h.kind) {
  case VSWAP_RECORD_RAW:
  case VSWAP_RECORD_ZSTD:
    if (vswap_page_decode (dctx, h.kind, payload, h.payload_length,
                           page) < 0)
      return -EIO;
    r = vswap_store_write (store, page, VSWAP_PAGE_SIZE, offset, false);
    break;
  case VSWAP_RECORD_SAME:
    vswap_page_fill (page, h.pattern);
    r = vswap_store_write (store, page, VSWAP_PAGE_SIZE, offset, false);
    break;
  case VSWAP_RECORD_ZERO:
    r = vswap_store_zero (store, (uint64_t) h.count * VSWAP_PAGE_SIZE,
                          offset, false);
    break;
  case VSWAP_RECORD_TRIM:
    r = vswap_store_trim (store, (uint64_t) h.count * VSWAP_PAGE_SIZE,
                          offset, false);
    break;
  case VSWAP_RECORD_LOST:
    r = vswap_store_lose_pages (store, h.logical_page, h.count);
    break;
  default:
    break;      /* counters (the next close writes them), summaries, pads */
  }
  if (r < 0)
    return r;
  if (vswap_record_kind_is_page (h.kind))
    *pages += h.count;
  return (int) size;
}

/* Apply what the last server had not written, in order, as new requests:
 * chunks it had sealed (each from its header), then its open chunk. */
static int
replay_records (struct vswap_store *store, struct vswap_write_buffer *b,
                uint64_t *pages)
{
  ZSTD_DCtx *dctx = ZSTD_createDCtx ();
  uint8_t *page = malloc (VSWAP_PAGE_SIZE);
  const uint32_t start = vswap_chunk_records_start (store->address_shift);
  uint32_t at = 0;
  int r = 0;

  if (!dctx || !page) {
    ZSTD_freeDCtx (dctx);
    free (page);
    return -ENOMEM;
  }
  while (r >= 0 && at + start <= b->pending_length) {
    struct vswap_chunk_header c;
    const bool sealed =
      vswap_chunk_header_decode (b->pending + at, &c) &&
      memcmp (c.uuid, store->superblock.uuid, VSWAP_UUID_SIZE) == 0 &&
      c.generation == b->pending_generation &&
      c.length >= start && c.length <= b->pending_length - at;
    const uint32_t end = sealed ? at + c.length : b->pending_length;
    uint32_t p = at + start;
    while (p < end && (r = replay_record (store, b, dctx, page,
                                          b->pending + p, end - p,
                                          pages)) > 0)
      p += (uint32_t) r;
    if (!sealed || r < 0)
      break;
    r = 0;
    at = (uint32_t) round_up (end, store->write_unit);
  }
  ZSTD_freeDCtx (dctx);
  free (page);
  return r < 0 ? r : 0;
}

int
vswap_buffer_replay (struct vswap_store *store, uint64_t medium_sequence,
                     struct vswap_error *err)
{
  struct vswap_write_buffer *b = store->write_buffer;
  if (!b || !b->pending)
    return 0;
  /* A chunk newer than the buffer's owner could write: another server
   * has written since (one without this buffer), and the buffer's pages
   * are older than what the medium holds. */
  if (medium_sequence > b->pending_sequence) {
    clear_header (store, b->header);
    report (store, "write buffer %s is older than the store (chunk %"
            PRIu64 " on the medium, buffer up to %" PRIu64 "); ignored",
            b->path, medium_sequence, b->pending_sequence);
    return 0;
  }
  uint64_t pages = 0;
  int r = replay_records (store, b, &pages);
  if (r == 0)
    r = vswap_store_flush (store);
  if (r < 0)
    return vswap_error_set (err, -r, "write buffer %s: replaying the "
                            "pages the last server left unwritten failed: "
                            "%s", b->path, vswap_strerror (-r));
  report (store, "write buffer %s: the last server stopped without "
          "writing %" PRIu64 " pages out (segment %" PRId64 "); they are "
          "written now", b->path, pages, b->pending_segment);
  return 0;
}

void
vswap_buffer_note (struct vswap_store *store)
{
  struct vswap_write_buffer *b = store->write_buffer;
  if (!b || !b->header)
    return;
  struct buffer_header *h = b->header;
  __atomic_store_n (&h->sequence, store->sequence, __ATOMIC_RELEASE);
  if (!b->attached)
    return;
  const struct head *head = store->user_head;
  /* Fill first: between the stores, a smaller fill with the old segment
   * (or a larger one with the old "written") names no record that is not
   * complete, because a segment changes only when fill == written. */
  __atomic_store_n (&h->fill, head->fill, __ATOMIC_RELEASE);
  __atomic_store_n (&h->written, head->written, __ATOMIC_RELEASE);
  __atomic_store_n (&h->generation, head->generation, __ATOMIC_RELEASE);
  __atomic_store_n (&h->segment, head->segment, __ATOMIC_RELEASE);
}

void
vswap_buffer_attach (struct vswap_store *store)
{
  struct vswap_write_buffer *b = store->write_buffer;
  if (!b)
    return;
  /* Everything the file held is durable now (replayed and flushed, or
   * ignored): say "nothing pending" before the image is overwritten. */
  clear_header (store, b->header);
  free (b->pending);
  b->pending = NULL;

  vswap_lock (store);
  struct head *head = store->user_head;
  uint8_t *image = b->map + HEADER_SIZE;
  if (head->segment >= 0)
    memcpy (image, head->buffer, head->fill);
  free (head->buffer);
  head->buffer = image;
  b->attached = true;
  vswap_buffer_note (store);
  vswap_unlock (store);
}

bool
vswap_buffer_owns (const struct vswap_store *store, const uint8_t *buffer)
{
  const struct vswap_write_buffer *b = store->write_buffer;
  return b && b->attached && buffer == b->map + HEADER_SIZE;
}

void
vswap_buffer_release (struct vswap_store *store, bool clean)
{
  struct vswap_write_buffer *b = store->write_buffer;
  if (!b)
    return;
  /* After a clean close everything is on the medium: the file has
   * nothing to say.  Unlinked while still locked, so that no other
   * server can take it in between. */
  if (clean)
    unlink (b->path);
  if (b->attached) {
    /* The image goes with the mapping. */
    assert (store->user_head->buffer == b->map + HEADER_SIZE);
    store->user_head->buffer = NULL;
  }
  store->write_buffer = NULL;
  buffer_free (b);
}
