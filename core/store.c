/* vswap: opening, closing and the request paths of the store. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "page_codec.h"
#include "store_internal.h"
#include "superblock.h"

#define DEFAULT_IO_CONTEXTS 16
/* Bytes gathered before a chunk is written.  Every chunk ends padded to the
 * write unit, so larger chunks waste less (half a write unit per chunk);
 * swap never flushes, so what waits in RAM is bounded by this (or by a
 * segment of twice this, taken as one chunk: see vswap_store_open). */
#define SEAL_THRESHOLD (512 * 1024)
/* Numbers of the store's clock skipped at each open (see
 * vswap_store_open): more than a killed server can have handed out beyond
 * what reached the medium (the stamps of two chunks' records, a few
 * sequences). */
#define SEQUENCE_MARGIN 65536
_Static_assert (SEQUENCE_MARGIN > 2 * VSWAP_MAX_CHUNK_RECORDS + 64,
                "the margin covers two heads' unsealed chunks");

/* ---- I/O contexts: everything a request needs, allocated at open ---- */

static void *
aligned_alloc_zero (size_t size)
{
  void *p;
  if (posix_memalign (&p, VSWAP_MEDIUM_BUFFER_ALIGN,
                      round_up (size, VSWAP_MEDIUM_BUFFER_ALIGN)) != 0)
    return NULL;
  memset (p, 0, size);
  return p;
}

/* The largest record a page can have: a raw one. */
#define MAX_PAGE_RECORD (VSWAP_RECORD_HEADER_SIZE + VSWAP_PAGE_SIZE)

static size_t
read_buffer_size (const struct vswap_store *store)
{
  return round_up (MAX_PAGE_RECORD + 2 * store->read_unit, store->read_unit);
}

/* Room for RUN_PAGES records read in as many places, each read starting
 * on a buffer alignment boundary. */
static size_t
run_buffer_size (const struct vswap_store *store)
{
  return RUN_PAGES * round_up (MAX_PAGE_RECORD + 2 * store->read_unit,
                               VSWAP_MEDIUM_BUFFER_ALIGN);
}

static int
contexts_create (struct vswap_store *store, unsigned count)
{
  store->contexts = calloc (count, sizeof *store->contexts);
  if (!store->contexts)
    return -ENOMEM;
  store->context_count = count;
  for (unsigned i = 0; i < count; i++) {
    struct io_context *c = &store->contexts[i];
    c->cctx = ZSTD_createCCtx ();
    c->dctx = ZSTD_createDCtx ();
    c->page = aligned_alloc_zero (VSWAP_PAGE_SIZE);
    c->payload = aligned_alloc_zero (VSWAP_PAGE_SIZE);
    c->read_buffer = aligned_alloc_zero (read_buffer_size (store));
    c->run_buffer = aligned_alloc_zero (run_buffer_size (store));
    c->batch_payload = aligned_alloc_zero (WRITE_BATCH
                                           * (size_t) VSWAP_PAGE_SIZE);
    if (!c->cctx || !c->dctx || !c->page || !c->payload || !c->read_buffer
        || !c->run_buffer || !c->batch_payload)
      return -ENOMEM;
    /* zstd sizes its workspaces on first use: do that now, not while the
     * kernel waits for a swap write under memory pressure. */
    for (size_t j = 0; j < VSWAP_PAGE_SIZE; j++)
      c->page[j] = (uint8_t) (j * 7 / 5);
    uint8_t kind;
    const uint16_t n = vswap_page_encode (c->cctx, store->compression_level,
                                          c->page, c->payload, &kind);
    if (kind == VSWAP_RECORD_ZSTD &&
        vswap_page_decode (c->dctx, kind, c->payload, n, c->page) != 0)
      return -EIO;
    c->next_free = store->free_contexts;
    store->free_contexts = c;
  }
  return 0;
}

static void
contexts_destroy (struct vswap_store *store)
{
  for (unsigned i = 0; i < store->context_count; i++) {
    struct io_context *c = &store->contexts[i];
    ZSTD_freeCCtx (c->cctx);
    ZSTD_freeDCtx (c->dctx);
    free (c->page);
    free (c->payload);
    free (c->read_buffer);
    free (c->run_buffer);
    free (c->batch_payload);
  }
  free (store->contexts);
}

static struct io_context *
context_get (struct vswap_store *store)
{
  pthread_mutex_lock (&store->context_lock);
  while (!store->free_contexts)
    pthread_cond_wait (&store->context_available, &store->context_lock);
  struct io_context *c = store->free_contexts;
  store->free_contexts = c->next_free;
  pthread_mutex_unlock (&store->context_lock);
  return c;
}

static void
context_put (struct vswap_store *store, struct io_context *c)
{
  pthread_mutex_lock (&store->context_lock);
  c->next_free = store->free_contexts;
  store->free_contexts = c;
  pthread_cond_signal (&store->context_available);
  pthread_mutex_unlock (&store->context_lock);
}

/* ---- open and close ---- */

static void store_free (struct vswap_store *store);
static int write_page (struct vswap_store *store, struct io_context *ctx,
                       uint64_t page, const uint8_t *data, bool force);
static int read_page (struct vswap_store *store, struct io_context *ctx,
                      uint64_t page, void *out, bool client);

/* Recovery gave these pages back the copy they had before a torn write.
 * Write that copy again, durably, before anything else: the torn record
 * stays on the medium, and a later recovery, seeing durability markers
 * written after it, would take it for damage and fail the page. */
static int
reassert_torn_pages (struct vswap_store *store)
{
  if (store->torn_page_count == 0)
    return 0;
  struct io_context *ctx = context_get (store);
  int r = 0;
  for (size_t i = 0; i < store->torn_page_count && r == 0; i++) {
    const uint64_t page = store->torn_pages[i];
    r = read_page (store, ctx, page, ctx->page, false);
    if (r == 0)
      r = write_page (store, ctx, page, ctx->page, true);
    else if (r == -EIO)
      r = 0;                    /* nothing better to assert */
  }
  context_put (store, ctx);
  if (r == 0)
    r = vswap_store_flush (store);
  return r;
}

/* Open, as vswap_store_open; MAY_ERASE: see there. */
static struct vswap_store *
open_store (struct vswap_medium *medium,
            const struct vswap_open_options *options,
            struct vswap_error *err, int may_erase)
{
  struct vswap_superblock sb;
  int r = vswap_superblock_read (medium, &sb);
  if (r < 0) {
    vswap_error_set (err, -r, "%s: cannot read: %s", medium->description,
                     vswap_strerror (-r));
    return NULL;
  }
  if (r == 0) {
    vswap_error_set (err, EINVAL,
                     "%s is not a vswap store (no valid superblock): "
                     "create one with 'vswap format'", medium->description);
    return NULL;
  }
  /* The write unit the store was formatted with wins over the medium's
   * default, as long as the device can do it (whole logical blocks). */
  if (sb.write_unit != medium->geometry.write_unit &&
      sb.write_unit % medium->geometry.read_unit == 0 &&
      sb.write_unit > 0 && sb.segment_size % sb.write_unit == 0)
    medium->geometry.write_unit = sb.write_unit;
  if (vswap_superblock_check (medium, &sb, err) < 0)
    return NULL;

  struct vswap_store *store = calloc (1, sizeof *store);
  if (!store) {
    vswap_error_set (err, ENOMEM, "out of memory");
    return NULL;
  }
  store->medium = medium;
  store->superblock = sb;
  store->options = *options;
  store->seed = vswap_store_seed (sb.uuid);
  store->address_shift = sb.address_shift;
  store->segment_size = sb.segment_size;
  store->write_unit = sb.write_unit;
  store->read_unit = medium->geometry.read_unit;
  store->pages = sb.logical_size / VSWAP_PAGE_SIZE;
  store->segment_count = sb.segment_count;
  /* Several chunks a segment (a quarter of a small one), but a segment
   * of twice the threshold is one chunk.  Each chunk's header costs its
   * 64 bytes and each seal pads to the write unit: 126 raw records (4128
   * bytes) and a header are exactly 127 units of 4 KiB, so 512 KiB chunks
   * pad nothing (see commit in log_writer.c), but two of them leave a
   * 1 MiB segment 8 KiB, room for one record: 253 a segment.  As one
   * chunk, 254 records and the header fill it exactly: 0.4% more room for
   * data, worth about 1% of write amplification at 80% fill
   * (bench/endurance).  What waits in RAM is then at most that 1 MiB. */
  store->seal_threshold = round_up (SEAL_THRESHOLD, sb.write_unit);
  if (store->seal_threshold > sb.segment_size / 2)
    store->seal_threshold = round_down (sb.segment_size / 4, sb.write_unit);
  else if (store->seal_threshold == sb.segment_size / 2)
    store->seal_threshold = sb.segment_size;
  store->reserve = GC_RESERVE;
  store->compress = sb.compression == VSWAP_COMPRESS_ZSTD;
  store->compression_level = sb.compression_level;
  if (options->override_compression &&
      !(sb.flags & VSWAP_SUPERBLOCK_COMPRESSION_CHOSEN)) {
    store->compress = options->compression == VSWAP_COMPRESS_ZSTD;
    store->compression_level = options->compression_level;
  }
  if (store->compression_level == 0)
    store->compression_level = VSWAP_ZSTD_DEFAULT_LEVEL;

  pthread_mutex_init (&store->lock, NULL);
  pthread_rwlock_init (&store->reuse_lock, NULL);
  pthread_mutex_init (&store->context_lock, NULL);
  pthread_cond_init (&store->context_available, NULL);
  pthread_cond_init (&store->gc_done, NULL);
  pthread_cond_init (&store->gc_wake, NULL);
  for (int i = 0; i < STRIPE_LOCKS; i++)
    pthread_mutex_init (&store->stripes[i], NULL);
  /* Room for bursts while the background collector catches up, without
   * taking much from what GC works with. */
  store->gc_headroom = 2;

  store->map = calloc (store->pages, sizeof *store->map);
  store->readin = calloc ((store->pages + 63) / 64, sizeof (uint64_t));
  store->heat_low = calloc ((store->pages + 63) / 64, sizeof (uint64_t));
  store->heat_high = calloc ((store->pages + 63) / 64, sizeof (uint64_t));
  store->segments = calloc (store->segment_count, sizeof *store->segments);
  store->gc_buffer = aligned_alloc_zero (store->segment_size);
  for (int i = 0; i < 2; i++) {
    store->heads[i].segment = -1;
    if (!options->read_only) {
      store->heads[i].buffer = aligned_alloc_zero (store->segment_size);
      store->heads[i].summary.entries =
        calloc (VSWAP_MAX_CHUNK_RECORDS, sizeof (struct summary_entry));
    }
  }
  if (!store->map || !store->readin || !store->segments ||
      !store->heat_low || !store->heat_high ||
      !store->gc_buffer ||
      (!options->read_only && (!store->heads[0].buffer ||
                               !store->heads[1].buffer ||
                               !store->heads[0].summary.entries ||
                               !store->heads[1].summary.entries))) {
    vswap_error_set (err, ENOMEM, "out of memory for a store of %" PRIu64
                     " pages", store->pages);
    goto fail;
  }
  store->user_head = &store->heads[0];
  store->gc_head = sb.open_segments >= 2 ? &store->heads[1]
    : &store->heads[0];

  r = contexts_create (store, options->io_contexts ? options->io_contexts
                       : DEFAULT_IO_CONTEXTS);
  if (r < 0) {
    vswap_error_set (err, -r, "cannot set up the I/O contexts: %s",
                     vswap_strerror (-r));
    goto fail;
  }

  store->segments[0].state = SEGMENT_SUPERBLOCK;
  store->segments[store->segment_count - 1].state = SEGMENT_SUPERBLOCK;
  /* Locked before recovery: a second server must not get this far. */
  if (!options->read_only && options->buffer &&
      vswap_buffer_open (store, options->buffer, err) < 0)
    goto fail;
  if (vswap_recover (store, err) < 0)
    goto fail;
  const uint64_t medium_sequence = store->sequence;
  if (!options->read_only) {
    /* A killed server may have counted a few sequences past the newest
     * chunk it wrote (segments opened, a chunk torn); skipping past them
     * keeps every chunk written from now on newer than anything its
     * write buffer claims, so that the buffer is seen as stale. */
    store->sequence += SEQUENCE_MARGIN;
    vswap_resume_heads (store);
    /* What recovery found goes on the medium before anything could mark
     * the chunks it concerns durable. */
    r = vswap_recovery_record (store);
    if (r == 0)
      r = reassert_torn_pages (store);
    /* The cut tore the write that programmed the last free segment, so
     * the victims whose copies it held are live again and nothing is
     * free to record the recovery in.  That segment holds nothing but
     * the torn write, which was not flushed (it was under way): erased,
     * every page it held keeps its copy from before that write, which
     * is what a cut may leave.  The next open finds no torn write.  (Two
     * heads may each have had one: twice at most.) */
    if (r == -ENOSPC && may_erase > 0 && store->torn_segment >= 0 &&
        medium->geometry.can_discard) {
      const uint64_t segment = (uint64_t) store->torn_segment;
      const uint64_t offset = segment_offset (store, segment);
      const uint64_t length = store->segment_size;
      char message[256];
      snprintf (message, sizeof message, "segment %" PRIu64 " holds only "
                "a write torn by a crash, and no segment is free to record "
                "its recovery: it is erased, and its pages keep their "
                "copies from before that write", segment);
      if (options->report)
        options->report (options->report_opaque, message);
      store_free (store);
      r = vswap_medium_discard (medium, offset, length);
      if (r < 0) {
        vswap_error_set (err, -r, "%s: cannot erase segment %" PRIu64
                         " to recover from a torn write: %s",
                         medium->description, segment, vswap_strerror (-r));
        return NULL;
      }
      return open_store (medium, options, err, may_erase - 1);
    }
    if (r == -ENOSPC) {
      /* Seen only on a store filled to its last segment by random
       * pages, cut off in the write that programmed that segment. */
      vswap_error_set (err, ENOSPC, "%s: a power cut tore a write, and no "
                       "free segment is left to record its recovery; "
                       "'vswap check' shows the pages, 'vswap format "
                       "--force' starts the store afresh (its pages are "
                       "lost)", medium->description);
      goto fail;
    }
    if (r < 0) {
      vswap_error_set (err, -r, "%s: cannot record the recovery of torn "
                       "writes: %s", medium->description,
                       vswap_strerror (-r));
      goto fail;
    }
    vswap_recovery_settled (store);
    if (vswap_buffer_replay (store, medium_sequence, err) < 0)
      goto fail;
    vswap_buffer_attach (store);
  }
  free (store->torn_pages);
  store->torn_pages = NULL;
  store->torn_page_count = 0;
  free (store->damaged_pages);
  store->damaged_pages = NULL;
  store->damaged_page_count = 0;
  free (store->unsummarised);
  store->unsummarised = NULL;
  store->unsummarised_count = 0;
  return store;

 fail:
  /* Not close: a store that did not open must not write to its medium. */
  store_free (store);
  return NULL;
}

struct vswap_store *
vswap_store_open (struct vswap_medium *medium,
                  const struct vswap_open_options *options,
                  struct vswap_error *err)
{
  /* A segment holding only a torn write may be erased, twice. */
  return open_store (medium, options, err, 2);
}

int
vswap_store_start_background (struct vswap_store *store)
{
  return vswap_gc_start_thread (store);
}

int
vswap_store_flush (struct vswap_store *store)
{
  int r = 0;

  STAT_ADD (store, flush_requests, 1);
  if (store->options.read_only)
    return 0;
  pthread_mutex_lock (&store->lock);
  r = vswap_store_seal_all (store);
  const uint64_t seals = store->seals;
  pthread_mutex_unlock (&store->lock);
  /* Every chunk sealed above has been written (writes complete under the
   * lock), so one flush of the medium covers them all. */
  if (r == 0)
    r = vswap_medium_flush (store->medium);
  if (r == 0) {
    pthread_mutex_lock (&store->lock);
    /* A marker says that every chunk of a lower sequence, in any segment,
     * is complete.  A chunk sealed while the medium flushed (by GC, or
     * for another connection) is not flushed yet: then no marker, or a
     * power cut that tears that chunk would have its damage taken for
     * rot.  The next flush marks it.  (A segment opened meanwhile takes
     * a sequence too, and costs this flush its marker: harmless.) */
    if (store->seals == seals)
      r = vswap_store_mark_durable (store);
    /* What GC collected is superseded durably now: free it. */
    if (r == 0)
      r = vswap_gc_release (store, false);
    pthread_mutex_unlock (&store->lock);
  }
  return r;
}

/* Record the lifetime counters, so that inspect can tell what a store has
 * cost its medium over all its opens. */
static int
write_lifetime (struct vswap_store *store)
{
  uint8_t payload[VSWAP_MAX_LIFETIME_PAYLOAD];
  struct vswap_record_header h = {
    .kind = VSWAP_RECORD_LIFETIME,
    .payload_length = vswap_lifetime_encode (store, payload),
  };
  uint32_t address;
  h.payload_checksum = vswap_payload_checksum (payload, h.payload_length,
                                               store->seed, 0);
  const int r = vswap_head_append (store, store->user_head, &h, payload,
                                   &address);
  if (r == 0)
    store->lifetime_address = address;
  return r == -ENOSPC ? 0 : r;
}

static void
store_free (struct vswap_store *store)
{
  vswap_gc_stop_thread (store);
  if (store->contexts)
    contexts_destroy (store);
  free (store->map);
  free (store->readin);
  free (store->heat_low);
  free (store->heat_high);
  free (store->segments);
  free (store->gc_buffer);
  free (store->torn_pages);
  free (store->damaged_pages);
  free (store->unsummarised);
  for (int i = 0; i < 2; i++) {
    if (!vswap_buffer_owns (store, store->heads[i].buffer))
      free (store->heads[i].buffer);
    free (store->heads[i].summary.entries);
  }
  /* Not clean: what the file holds is left for the next open. */
  vswap_buffer_release (store, false);
  pthread_mutex_destroy (&store->lock);
  pthread_rwlock_destroy (&store->reuse_lock);
  pthread_mutex_destroy (&store->context_lock);
  pthread_cond_destroy (&store->context_available);
  pthread_cond_destroy (&store->gc_done);
  pthread_cond_destroy (&store->gc_wake);
  for (int i = 0; i < STRIPE_LOCKS; i++)
    pthread_mutex_destroy (&store->stripes[i]);
  free (store);
}

void
vswap_store_abandon (struct vswap_store *store)
{
  if (store)
    store_free (store);
}

int
vswap_store_close (struct vswap_store *store)
{
  int r = 0;

  if (!store)
    return 0;
  vswap_gc_stop_thread (store);
  if (store->map && !store->options.read_only && !store->failed) {
    pthread_mutex_lock (&store->lock);
    r = write_lifetime (store);
    /* Mark the open segments closed on the medium: their last chunk is
     * then known to be complete, not a torn tail. */
    if (r == 0)
      r = vswap_store_close_heads (store);
    pthread_mutex_unlock (&store->lock);
    if (r == 0)
      r = vswap_medium_flush (store->medium);
    /* Leave no collected segment unerased behind, as if GC had freed
     * each at once. */
    if (r == 0) {
      pthread_mutex_lock (&store->lock);
      r = vswap_gc_release (store, true);
      pthread_mutex_unlock (&store->lock);
    }
    if (r == 0)
      vswap_buffer_release (store, true);
  }
  store_free (store);
  return r;
}

uint64_t
vswap_store_size (const struct vswap_store *store)
{
  return store->pages * VSWAP_PAGE_SIZE;
}

/* ---- reading ---- */

/* Verify the record at RECORD for PAGE and decode it into OUT. */
static int
decode_record (struct vswap_store *store, struct io_context *ctx,
               uint64_t page, uint32_t offset, uint64_t generation,
               const uint8_t *record, void *out)
{
  struct vswap_record_header h;
  if (!vswap_record_header_decode (record, store->seed, generation, &h) ||
      !(page >= h.logical_page && page - h.logical_page < h.count) ||
      (h.kind != VSWAP_RECORD_RAW && h.kind != VSWAP_RECORD_ZSTD &&
       h.kind != VSWAP_RECORD_SAME) ||
      offset + VSWAP_RECORD_HEADER_SIZE + h.payload_length
      > store->segment_size ||
      vswap_payload_checksum (record + VSWAP_RECORD_HEADER_SIZE,
                              h.payload_length, store->seed,
                              h.logical_page) != h.payload_checksum)
    return -EIO;
  if (h.kind == VSWAP_RECORD_SAME) {
    vswap_page_fill (out, h.pattern);
    return 0;
  }
  return vswap_page_decode (ctx->dctx, h.kind,
                            record + VSWAP_RECORD_HEADER_SIZE,
                            h.payload_length, out);
}

/* Read the record at ADDRESS, in a closed segment of GENERATION, for PAGE
 * into OUT.  Called with store->reuse_lock held shared, so that the
 * segment is not erased meanwhile. */
static int
read_closed_record (struct vswap_store *store, struct io_context *ctx,
                    uint64_t page, uint32_t address, uint64_t generation,
                    void *out)
{
  uint32_t offset;
  const int segment = vswap_segment_of_address (store, address, &offset);
  const uint64_t byte = segment_offset (store, segment) + offset;
  const uint64_t start = round_down (byte, store->read_unit);
  uint64_t end = round_up (byte + MAX_PAGE_RECORD, store->read_unit);
  const uint64_t segment_end = segment_offset (store, segment + 1);
  int r = -EIO;

  if (end > segment_end)
    end = segment_end;
  /* A record that does not verify is read once more: a flipped bit on
   * the way from the medium is not damage on it. */
  for (int attempt = 0; attempt < 2; attempt++) {
    r = vswap_medium_read (store->medium, ctx->read_buffer, end - start,
                           start);
    if (r < 0) {
      STAT_ADD (store, io_errors, 1);
      return r;
    }
    STAT_ADD (store, media_read_bytes, end - start);
    r = decode_record (store, ctx, page, offset, generation,
                       ctx->read_buffer + (byte - start), out);
    if (r == 0)
      return 0;
    STAT_ADD (store, read_retries, 1);
  }
  STAT_ADD (store, checksum_failures, 1);
  return r;
}

int
vswap_read_record (struct vswap_store *store, struct io_context *ctx,
                   uint64_t page, uint32_t address, void *out)
{
  uint32_t offset;
  const int segment = vswap_segment_of_address (store, address, &offset);
  const struct head *head = vswap_head_of_segment (store, segment);
  int r;

  if (head) {
    /* The open segment is served from its RAM image. */
    const uint64_t generation = head->generation;
    uint32_t n = head->fill - offset;
    if (n > VSWAP_RECORD_HEADER_SIZE + VSWAP_PAGE_SIZE)
      n = VSWAP_RECORD_HEADER_SIZE + VSWAP_PAGE_SIZE;
    memcpy (ctx->read_buffer, head->buffer + offset, n);
    pthread_mutex_unlock (&store->lock);
    r = decode_record (store, ctx, page, offset, generation,
                       ctx->read_buffer, out);
  }
  else {
    const uint64_t generation = store->segments[segment].generation;
    pthread_rwlock_rdlock (&store->reuse_lock);
    pthread_mutex_unlock (&store->lock);
    r = read_closed_record (store, ctx, page, address, generation, out);
    pthread_rwlock_unlock (&store->reuse_lock);
    return r;
  }
  if (r < 0)
    STAT_ADD (store, checksum_failures, 1);
  return r;
}

/* Apply the read-in policy to PAGE, read from entry E, unless it changed
 * meanwhile.  Called with store->lock held. */
static void
mark_read_in (struct vswap_store *store, uint64_t page, vswap_map_entry e)
{
  if (store->options.readtrim == VSWAP_READTRIM_OFF ||
      store->options.read_only || !vswap_map_is_stored (e) ||
      store->map[page] != e)
    return;
  if (store->options.readtrim == VSWAP_READTRIM_ON) {
    vswap_map_release (store, page);
    store->map[page] = VSWAP_MAP_DROPPED;
    STAT_ADD (store, readin_dropped, 1);
  }
  else if (vswap_bitmap_get (store->readin, page))
    STAT_ADD (store, readin_rereads, 1);
  else {
    vswap_bitmap_set (store->readin, page, true);
    store->segments[vswap_segment_of_address (store, vswap_map_address (e),
                                              NULL)].readin_records++;
    STAT_ADD (store, readin_pages, 1);
  }
}

static void
note_read_in (struct vswap_store *store, uint64_t page, vswap_map_entry e)
{
  if (store->options.readtrim == VSWAP_READTRIM_OFF ||
      store->options.read_only || !vswap_map_is_stored (e))
    return;
  pthread_mutex_lock (&store->lock);
  mark_read_in (store, page, e);
  pthread_mutex_unlock (&store->lock);
}

static int
read_page (struct vswap_store *store, struct io_context *ctx, uint64_t page,
           void *out, bool client)
{
  int r = 0;

  pthread_mutex_lock (&store->lock);
  const vswap_map_entry e = store->map[page];
  if (vswap_map_is_stored (e))
    r = vswap_read_record (store, ctx, page, vswap_map_address (e), out);
  else {
    if (vswap_map_is_same (e))
      vswap_page_fill (out, vswap_pattern_get (&store->patterns,
                                               vswap_map_pattern_index (e)));
    else if (e == VSWAP_MAP_DROPPED) {
      r = -EIO;
      if (client)
        STAT_ADD (store, readin_eio, 1);
    }
    else if (e == VSWAP_MAP_DAMAGED) {
      r = -EIO;                 /* its newest record was lost */
      if (client)
        STAT_ADD (store, checksum_failures, 1);
    }
    else
      memset (out, 0, VSWAP_PAGE_SIZE);
    pthread_mutex_unlock (&store->lock);
  }
  if (r == 0 && client)
    note_read_in (store, page, e);
  return r;
}

/* Read COUNT whole pages from PAGE on into OUT, for a client.  One trip
 * under the lock finds every page; records in closed segments are then
 * read with the store unlocked, and those a sequential write left one
 * after another in one medium read.  Under readtrim=hint the pages are
 * marked read-in on that trip (a hint: should the read then fail, the
 * mark only makes GC value the page a little less). */
static int
read_pages (struct vswap_store *store, struct io_context *ctx,
            uint64_t page, uint32_t count, uint8_t *out)
{
  const bool readtrim_on = store->options.readtrim == VSWAP_READTRIM_ON &&
    !store->options.read_only;
  const uint32_t max_record = vswap_record_size (VSWAP_PAGE_SIZE,
                                                 store->address_shift);
  bool read_ok[RUN_PAGES];
  uint32_t from_medium = 0;
  int r = 0;

  assert (count >= 1 && count <= RUN_PAGES);
  pthread_mutex_lock (&store->lock);
  for (uint32_t i = 0; i < count; i++) {
    const vswap_map_entry e = store->map[page + i];
    ctx->run_generation[i] = 0;
    read_ok[i] = false;
    if (!vswap_map_is_stored (e))
      continue;
    const uint32_t address = vswap_map_address (e);
    const int segment = vswap_segment_of_address (store, address, NULL);
    if (vswap_head_of_segment (store, segment))
      continue;                 /* in RAM: read_page below */
    ctx->run_address[i] = address;
    ctx->run_generation[i] = store->segments[segment].generation;
    assert (ctx->run_generation[i] != 0);
    if (!readtrim_on)
      mark_read_in (store, page + i, e);
    from_medium++;
  }
  if (from_medium)
    pthread_rwlock_rdlock (&store->reuse_lock);
  pthread_mutex_unlock (&store->lock);

  /* Group the records into runs (records one after another in one
   * segment), give each its place in run_buffer, and read all the runs
   * at once: after random overwrites a sequential read finds its pages
   * in many places, and reading them one after another made every
   * request wait for each in turn. */
  const size_t space = run_buffer_size (store);
  uint32_t i = 0;
  while (i < count && from_medium) {
    struct vswap_medium_read reads[RUN_PAGES];
    uint32_t first[RUN_PAGES], stop[RUN_PAGES];
    unsigned runs = 0;
    size_t used = 0;

    while (i < count && runs < RUN_PAGES) {
      const uint64_t generation = ctx->run_generation[i];
      if (generation == 0) {
        i++;
        continue;
      }
      uint32_t offset;
      const int segment = vswap_segment_of_address (store,
                                                    ctx->run_address[i],
                                                    &offset);
      const uint64_t base = segment_offset (store, segment);
      const uint64_t start = round_down (base + offset, store->read_unit);
      const uint64_t limit = base + store->segment_size;
      uint64_t last = base + offset;
      uint64_t end = round_up (last + MAX_PAGE_RECORD, store->read_unit);
      if (end > limit)
        end = limit;
      if (used + (end - start) > space)
        break;                  /* no room: read what we have first */
      uint32_t j = i + 1;
      for (; j < count && ctx->run_generation[j] == generation; j++) {
        const uint64_t byte = ((uint64_t) ctx->run_address[j]
                               << store->address_shift);
        uint64_t next_end = round_up (byte + MAX_PAGE_RECORD,
                                      store->read_unit);
        if (next_end > limit)
          next_end = limit;
        if (byte <= last || byte - last > max_record ||
            used + (next_end - start) > space)
          break;
        last = byte;
        end = next_end;
      }
      reads[runs] = (struct vswap_medium_read) {
        .buffer = ctx->run_buffer + used,
        .length = end - start,
        .offset = start,
      };
      first[runs] = i;
      stop[runs] = j;
      runs++;
      used = round_up (used + (end - start), VSWAP_MEDIUM_BUFFER_ALIGN);
      i = j;
    }
    assert (runs > 0 || i == count);
    (void) vswap_medium_read_batch (store->medium, reads, runs);

    for (unsigned n = 0; n < runs; n++) {
      const uint64_t generation = ctx->run_generation[first[n]];
      const uint64_t base = round_down (reads[n].offset, store->segment_size);
      if (reads[n].result == 0)
        STAT_ADD (store, media_read_bytes, reads[n].length);
      /* If a run fails, each page is tried alone: a bad sector should
       * fail one page, not its neighbours. */
      for (uint32_t k = first[n]; k < stop[n]; k++) {
        const uint64_t byte = ((uint64_t) ctx->run_address[k]
                               << store->address_shift);
        uint8_t *page_out = out + (size_t) k * VSWAP_PAGE_SIZE;
        int rk = -EIO;
        if (reads[n].result == 0) {
          rk = decode_record (store, ctx, page + k, (uint32_t) (byte - base),
                              generation,
                              (const uint8_t *) reads[n].buffer
                              + (byte - reads[n].offset), page_out);
          if (rk < 0)
            STAT_ADD (store, read_retries, 1);
        }
        if (rk < 0)
          rk = read_closed_record (store, ctx, page + k, ctx->run_address[k],
                                   generation, page_out);
        read_ok[k] = rk == 0;
        if (rk < 0 && r == 0)
          r = rk;
      }
    }
  }
  if (from_medium)
    pthread_rwlock_unlock (&store->reuse_lock);

  for (i = 0; i < count; i++) {
    int ri = 0;
    if (ctx->run_generation[i] == 0)
      ri = read_page (store, ctx, page + i,
                      out + (size_t) i * VSWAP_PAGE_SIZE, true);
    else if (readtrim_on && read_ok[i])
      /* Not under reuse_lock: GC takes it exclusively with the store
       * locked. */
      note_read_in (store, page + i, vswap_map_stored (ctx->run_address[i]));
    if (ri < 0 && r == 0)
      r = ri;
  }
  return r;
}

/* A request is served piece by piece: a run of up to MAXIMUM whole pages,
 * or the part of one page that it covers. */
struct piece {
  uint64_t page;                /* the first page */
  uint32_t skip;                /* bytes into it (partial only) */
  uint32_t bytes;               /* the piece's length */
  uint32_t whole_pages;         /* 0: a partial page */
};

static struct piece
next_piece (uint64_t offset, uint64_t length, uint32_t maximum)
{
  struct piece p = {
    .page = offset / VSWAP_PAGE_SIZE,
    .skip = offset % VSWAP_PAGE_SIZE,
  };

  assert (length > 0 && maximum > 0);
  p.bytes = VSWAP_PAGE_SIZE - p.skip;
  if (p.bytes > length)
    p.bytes = (uint32_t) length;
  if (p.bytes == VSWAP_PAGE_SIZE) {
    const uint64_t pages = length / VSWAP_PAGE_SIZE;
    p.whole_pages = pages < maximum ? (uint32_t) pages : maximum;
    p.bytes = p.whole_pages * VSWAP_PAGE_SIZE;
  }
  return p;
}

int
vswap_store_read (struct vswap_store *store, void *buffer, uint64_t length,
                  uint64_t offset)
{
  uint8_t *out = buffer;
  int r = 0;

  if (offset > vswap_store_size (store) ||
      length > vswap_store_size (store) - offset)
    return -ERANGE;
  STAT_ADD (store, host_read_bytes, length);
  struct io_context *ctx = context_get (store);
  while (length > 0 && r == 0) {
    const struct piece p = next_piece (offset, length, RUN_PAGES);
    const uint64_t page = p.page;
    const uint32_t skip = p.skip, n = p.bytes;
    if (p.whole_pages) {
      STAT_ADD (store, host_read_pages, p.whole_pages);
      r = read_pages (store, ctx, page, p.whole_pages, out);
    }
    else {
      STAT_ADD (store, host_read_pages, 1);
      r = read_page (store, ctx, page, ctx->page, true);
      memcpy (out, ctx->page + skip, n);
    }
    out += n;
    offset += n;
    length -= n;
  }
  context_put (store, ctx);
  return r;
}

/* ---- writing ---- */

/* Classify and encode one whole page into PREPARED (outside the lock). */
static void
prepare_page (struct vswap_store *store, struct io_context *ctx,
              uint64_t page, const uint8_t *data, uint8_t *payload,
              struct prepared_page *prepared)
{
  struct vswap_record_header *h = &prepared->header;

  prepared->pattern = 0;
  prepared->class = vswap_page_classify (data, &prepared->pattern);
  prepared->payload = payload;
  *h = (struct vswap_record_header) {
    .logical_page = (uint32_t) page,
    .count = 1,
  };
  if (prepared->class == VSWAP_PAGE_DATA) {
    uint8_t kind;
    h->payload_length = vswap_page_encode (store->compress ? ctx->cctx : NULL,
                                           store->compression_level, data,
                                           payload, &kind);
    h->kind = kind;
    h->payload_checksum = vswap_payload_checksum (payload, h->payload_length,
                                                  store->seed,
                                                  h->logical_page);
  }
  else if (prepared->class == VSWAP_PAGE_SAME) {
    h->kind = VSWAP_RECORD_SAME;
    h->pattern = prepared->pattern;
    h->payload_checksum = vswap_payload_checksum (NULL, 0, store->seed,
                                                  h->logical_page);
  }
  else
    h->kind = VSWAP_RECORD_ZERO;
}

/* Append a prepared page and point the map at it.  Called with
 * store->lock held. */
static int
store_prepared (struct vswap_store *store, struct prepared_page *p,
                bool force)
{
  struct vswap_record_header *h = &p->header;
  const uint64_t page = h->logical_page;
  const vswap_map_entry e = store->map[page];
  uint32_t address;

  if (p->class == VSWAP_PAGE_ZERO && !force &&
      (e == VSWAP_MAP_ZERO || e == VSWAP_MAP_UNMAPPED)) {
    /* Already reads as zeros: nothing to record. */
    STAT_ADD (store, pages_zero, 1);
    return 0;
  }
  if (p->class == VSWAP_PAGE_SAME && !force && vswap_map_is_same (e) &&
      vswap_pattern_get (&store->patterns, vswap_map_pattern_index (e))
      == p->pattern) {
    STAT_ADD (store, pages_same_filled, 1);
    return 0;
  }

  const int r = vswap_head_append (store,
                                   vswap_head_for_write (store, page,
                                                         p->class
                                                         == VSWAP_PAGE_DATA),
                                   h, p->payload, &address);
  if (r < 0) {
    if (r == -ENOSPC)
      STAT_ADD (store, enospc_errors, 1);
    return r;
  }
  vswap_map_release (store, page);
  switch (p->class) {
  case VSWAP_PAGE_ZERO:
    store->map[page] = VSWAP_MAP_ZERO;
    STAT_ADD (store, pages_zero, 1);
    break;
  case VSWAP_PAGE_SAME: {
    const int32_t index = vswap_pattern_acquire (&store->patterns,
                                                 p->pattern);
    STAT_ADD (store, pages_same_filled, 1);
    if (index >= 0) {
      store->map[page] = vswap_map_same ((uint32_t) index);
      break;
    }
    /* The pattern table is full: map the page to its record instead. */
    vswap_segment_count_data (store, address,
                              vswap_record_size (0, store->address_shift));
    vswap_map_point (store, page, address);
    break;
  }
  case VSWAP_PAGE_DATA:
    if (h->kind == VSWAP_RECORD_ZSTD) {
      STAT_ADD (store, pages_compressed, 1);
      STAT_ADD (store, compressed_input_bytes, VSWAP_PAGE_SIZE);
      STAT_ADD (store, compressed_output_bytes, h->payload_length);
    }
    else
      STAT_ADD (store, pages_raw, 1);
    vswap_map_point (store, page, address);
    break;
  }
  return 0;
}

/* Store one whole page.  The page is classified and compressed outside the
 * lock; only the append and the map update happen under it. */
static int
write_page (struct vswap_store *store, struct io_context *ctx, uint64_t page,
            const uint8_t *data, bool force)
{
  struct prepared_page prepared;

  prepare_page (store, ctx, page, data, ctx->payload, &prepared);
  pthread_mutex_lock (&store->lock);
  const int r = store_prepared (store, &prepared, force);
  pthread_mutex_unlock (&store->lock);
  return r;
}

/* Store COUNT (up to WRITE_BATCH) whole pages from PAGE on: all encoded
 * first, then appended in one trip under the lock.  With several clients
 * writing large requests, taking the lock once per page made the threads
 * queue on it (a third of their context switches in 1 MiB writes). */
static int
write_pages (struct vswap_store *store, struct io_context *ctx,
             uint64_t page, uint32_t count, const uint8_t *data)
{
  int r = 0;

  assert (count >= 1 && count <= WRITE_BATCH);
  for (uint32_t i = 0; i < count; i++)
    prepare_page (store, ctx, page + i, data + (size_t) i * VSWAP_PAGE_SIZE,
                  ctx->batch_payload + (size_t) i * VSWAP_PAGE_SIZE,
                  &ctx->batch[i]);
  pthread_mutex_lock (&store->lock);
  for (uint32_t i = 0; i < count && r == 0; i++)
    r = store_prepared (store, &ctx->batch[i], false);
  pthread_mutex_unlock (&store->lock);
  return r;
}

static pthread_mutex_t *
stripe (struct vswap_store *store, uint64_t page)
{
  return &store->stripes[page % STRIPE_LOCKS];
}

/* Write part of a page: read, merge, write back.  Two clients writing
 * different sectors of one page at once (mkswap through a 512-byte block
 * size does) must not lose each other's bytes, hence the stripe lock. */
static int
write_partial (struct vswap_store *store, struct io_context *ctx,
               uint64_t page, uint32_t skip, uint32_t n, const void *data)
{
  pthread_mutex_lock (stripe (store, page));
  /* If the rest of the page cannot be read (damaged, dropped, a medium
   * error), the write fails too: making up the other bytes would be
   * returning wrong data later.  A whole-page write still heals it. */
  int r = read_page (store, ctx, page, ctx->page, false);
  if (r == 0) {
    if (data)
      memcpy (ctx->page + skip, data, n);
    else
      memset (ctx->page + skip, 0, n);
    r = write_page (store, ctx, page, ctx->page, false);
  }
  pthread_mutex_unlock (stripe (store, page));
  return r;
}

static int
check_writable (struct vswap_store *store, uint64_t length, uint64_t offset)
{
  if (store->options.read_only)
    return -EROFS;
  if (offset > vswap_store_size (store) ||
      length > vswap_store_size (store) - offset)
    return -ERANGE;
  return store->failed;
}

int
vswap_store_write (struct vswap_store *store, const void *buffer,
                   uint64_t length, uint64_t offset, bool fua)
{
  const uint8_t *in = buffer;
  int r = check_writable (store, length, offset);
  if (r < 0)
    return r;

  STAT_ADD (store, host_write_bytes, length);
  struct io_context *ctx = context_get (store);
  while (length > 0 && r == 0) {
    const struct piece p = next_piece (offset, length, WRITE_BATCH);
    const uint64_t page = p.page;
    const uint32_t skip = p.skip, n = p.bytes;
    if (p.whole_pages) {
      STAT_ADD (store, host_write_pages, p.whole_pages);
      r = write_pages (store, ctx, page, p.whole_pages, in);
    }
    else {
      STAT_ADD (store, host_write_pages, 1);
      r = write_partial (store, ctx, page, skip, n, in);
    }
    in += n;
    offset += n;
    length -= n;
  }
  context_put (store, ctx);
  if (r == 0 && fua)
    r = vswap_store_flush (store);
  return r;
}

/* Drop or zero whole pages [FIRST, END) with one durable range record.
 * STATE is VSWAP_MAP_UNMAPPED (trim) or VSWAP_MAP_ZERO. */
static int
unmap_range (struct vswap_store *store, uint64_t first, uint64_t end,
             vswap_map_entry state)
{
  int r = 0;

  pthread_mutex_lock (&store->lock);
  for (uint64_t start = first; start < end && r == 0; ) {
    /* Pages that already read as zeros need no record: trimming a fresh
     * device (swapon --discard) costs nothing. */
    while (start < end && (store->map[start] == state ||
                           store->map[start] == VSWAP_MAP_UNMAPPED))
      start++;
    if (start == end)
      break;
    uint64_t stop = start;
    while (stop < end && stop - start < UINT32_MAX &&
           !(store->map[stop] == state ||
             store->map[stop] == VSWAP_MAP_UNMAPPED))
      stop++;
    struct vswap_record_header h = {
      .logical_page = (uint32_t) start,
      .count = (uint32_t) (stop - start),
      .kind = state == VSWAP_MAP_ZERO ? VSWAP_RECORD_ZERO : VSWAP_RECORD_TRIM,
    };
    uint32_t address;
    r = vswap_head_append (store, store->user_head, &h, NULL, &address);
    if (r == -ENOSPC)
      STAT_ADD (store, enospc_errors, 1);
    for (uint64_t p = start; p < stop && r == 0; p++) {
      vswap_map_release (store, p);
      store->map[p] = state;
    }
    start = stop;
  }
  pthread_mutex_unlock (&store->lock);
  return r;
}

int
vswap_store_lose_pages (struct vswap_store *store, uint64_t first,
                        uint64_t count)
{
  if (first > store->pages || count > store->pages - first || count == 0 ||
      count > UINT32_MAX)
    return -ERANGE;
  struct vswap_record_header h = {
    .logical_page = (uint32_t) first,
    .count = (uint32_t) count,
    .kind = VSWAP_RECORD_LOST,
  };
  uint32_t address;
  pthread_mutex_lock (&store->lock);
  const int r = vswap_head_append (store, store->user_head, &h, NULL,
                                   &address);
  for (uint64_t p = first; p < first + count && r == 0; p++) {
    vswap_map_release (store, p);
    store->map[p] = VSWAP_MAP_DAMAGED;
  }
  pthread_mutex_unlock (&store->lock);
  return r;
}

static int
clear_range (struct vswap_store *store, uint64_t length, uint64_t offset,
             bool fua, vswap_map_entry state)
{
  int r = check_writable (store, length, offset);
  if (r < 0 || length == 0)
    return r;

  const uint64_t end = offset + length;
  uint64_t first = (offset + VSWAP_PAGE_SIZE - 1) / VSWAP_PAGE_SIZE;
  uint64_t last = end / VSWAP_PAGE_SIZE;       /* exclusive */
  struct io_context *ctx = NULL;

  /* Partial pages at either end are zeroed in place. */
  if (first > last) {
    ctx = context_get (store);
    r = write_partial (store, ctx, offset / VSWAP_PAGE_SIZE,
                       offset % VSWAP_PAGE_SIZE, length, NULL);
    context_put (store, ctx);
    goto done;
  }
  if (offset % VSWAP_PAGE_SIZE || end % VSWAP_PAGE_SIZE)
    ctx = context_get (store);
  if (offset % VSWAP_PAGE_SIZE)
    r = write_partial (store, ctx, offset / VSWAP_PAGE_SIZE,
                       offset % VSWAP_PAGE_SIZE,
                       first * VSWAP_PAGE_SIZE - offset, NULL);
  if (r == 0 && end % VSWAP_PAGE_SIZE)
    r = write_partial (store, ctx, last, 0, end % VSWAP_PAGE_SIZE, NULL);
  if (ctx)
    context_put (store, ctx);
  if (r == 0 && last > first)
    r = unmap_range (store, first, last, state);
 done:
  if (r == 0 && fua)
    r = vswap_store_flush (store);
  return r;
}

int
vswap_store_trim (struct vswap_store *store, uint64_t length,
                  uint64_t offset, bool fua)
{
  STAT_ADD (store, trim_requests, 1);
  STAT_ADD (store, host_trim_bytes, length);
  return clear_range (store, length, offset, fua, VSWAP_MAP_UNMAPPED);
}

int
vswap_store_zero (struct vswap_store *store, uint64_t length,
                  uint64_t offset, bool fua)
{
  STAT_ADD (store, zero_requests, 1);
  STAT_ADD (store, host_zero_bytes, length);
  return clear_range (store, length, offset, fua, VSWAP_MAP_ZERO);
}

/* ---- extents ---- */

static enum vswap_extent_kind
extent_kind (vswap_map_entry e)
{
  if (e == VSWAP_MAP_UNMAPPED)
    return VSWAP_EXTENT_HOLE;
  if (e == VSWAP_MAP_ZERO)
    return VSWAP_EXTENT_ZERO;
  return VSWAP_EXTENT_DATA;
}

int
vswap_store_extents (struct vswap_store *store, uint64_t length,
                     uint64_t offset,
                     int (*emit) (void *, uint64_t, uint64_t,
                                  enum vswap_extent_kind),
                     void *opaque)
{
  if (offset > vswap_store_size (store) ||
      length > vswap_store_size (store) - offset)
    return -ERANGE;
  const uint64_t end = offset + length;
  while (offset < end) {
    /* Collect a run under the lock, emit it outside. */
    pthread_mutex_lock (&store->lock);
    uint64_t page = offset / VSWAP_PAGE_SIZE;
    const enum vswap_extent_kind kind = extent_kind (store->map[page]);
    uint64_t stop = (page + 1) * VSWAP_PAGE_SIZE;
    while (stop < end &&
           extent_kind (store->map[stop / VSWAP_PAGE_SIZE]) == kind)
      stop += VSWAP_PAGE_SIZE;
    pthread_mutex_unlock (&store->lock);
    if (stop > end)
      stop = end;
    const int r = emit (opaque, offset, stop - offset, kind);
    if (r < 0)
      return r;
    offset = stop;
  }
  return 0;
}

/* ---- what the store is ---- */

void
vswap_store_get_info (const struct vswap_store *store,
                      struct vswap_store_info *info)
{
  const struct vswap_superblock *sb = &store->superblock;
  memcpy (info->uuid, sb->uuid, VSWAP_UUID_SIZE);
  info->format_version = sb->format_version;
  info->generation = sb->generation;
  info->logical_size = sb->logical_size;
  info->segment_size = sb->segment_size;
  info->write_unit = sb->write_unit;
  info->open_segments = sb->open_segments;
  info->address_unit = UINT32_C (1) << sb->address_shift;
  info->segment_count = sb->segment_count - 2;
  info->compression = store->compress ? VSWAP_COMPRESS_ZSTD
    : VSWAP_COMPRESS_NONE;
  info->compression_level = store->compression_level;
  info->compression_chosen = sb->flags & VSWAP_SUPERBLOCK_COMPRESSION_CHOSEN;
  info->created = sb->created;
  info->endurance = sb->endurance;
  info->medium_size = sb->medium_size;
}

int
vswap_store_segment_info (struct vswap_store *store, uint64_t index,
                          struct vswap_segment_info *info)
{
  /* Index counts data segments only: the superblock ones are not data. */
  if (index >= store->segment_count - 2)
    return -ERANGE;
  pthread_mutex_lock (&store->lock);
  const struct segment *s = &store->segments[index + 1];
  info->free = s->state == SEGMENT_FREE;
  info->open = s->state == SEGMENT_OPEN;
  info->releasing = s->releasing;
  info->live_bytes = s->data_records ?
    (uint32_t) ((uint64_t) s->data_bytes * s->live_records / s->data_records)
    : 0;
  info->erase_count = s->erase_count;
  info->sequence = s->last_sequence;
  info->reserve = store->reserve;
  pthread_mutex_unlock (&store->lock);
  return 0;
}

void
vswap_store_statistics (struct vswap_store *store,
                        struct vswap_statistics *st)
{
  pthread_mutex_lock (&store->lock);
  *st = store->stats;
  st->logical_pages = store->pages;
  for (uint64_t p = 0; p < store->pages; p++) {
    const vswap_map_entry e = store->map[p];
    if (vswap_map_is_stored (e))
      st->mapped_stored++;
    else if (vswap_map_is_same (e))
      st->mapped_same_filled++;
    else if (e == VSWAP_MAP_ZERO)
      st->mapped_zero++;
    else if (e == VSWAP_MAP_DROPPED)
      st->mapped_dropped++;
    else if (e == VSWAP_MAP_DAMAGED)
      st->mapped_damaged++;
    else
      st->mapped_unmapped++;
  }
  for (uint64_t i = 0; i < store->segment_count; i++) {
    const struct segment *s = &store->segments[i];
    if (s->state == SEGMENT_FREE)
      st->segments_free++;
    else if (s->state == SEGMENT_OPEN)
      st->segments_open++;
    if (s->data_records)
      st->stored_live_bytes +=
        (uint64_t) s->data_bytes * s->live_records / s->data_records;
    if (i > 0 && i + 1 < store->segment_count) {
      st->erase_count_mean += s->erase_count;
      if (s->erase_count > st->erase_count_max)
        st->erase_count_max = s->erase_count;
    }
  }
  st->erase_count_mean /= store->segment_count - 2;
  st->endurance_bytes = store->superblock.endurance;
  st->medium_bytes = store->superblock.medium_size;
  st->segments_total = store->segment_count - 2;
  st->metadata_bytes = store->pages * sizeof *store->map
    + 3 * ((store->pages + 63) / 64 * sizeof (uint64_t))
    + store->segment_count * sizeof *store->segments
    + sizeof store->patterns;
  st->metadata_bytes_per_page = (double) st->metadata_bytes / store->pages;
  vswap_lifetime_add (store, st);
  pthread_mutex_unlock (&store->lock);
}
