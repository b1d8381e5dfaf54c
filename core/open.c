/* vswap: opening and closing a store: the superblock, recovery, what a
 * writable open records after a crash, the write buffer, and a clean
 * close. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_codec.h"
#include "store_internal.h"
#include "superblock.h"

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

/* ---- open and close ---- */

static void store_free (struct vswap_store *store);

/* Recovery gave these pages back the copy they had before a torn write.
 * Write that copy again, durably, before anything else: the torn record
 * stays on the medium, and a later recovery, seeing durability markers
 * written after it, would take it for damage and fail the page. */
static int
reassert_torn_pages (struct vswap_store *store)
{
  if (store->torn_page_count == 0)
    return 0;
  struct io_context *ctx = vswap_context_get (store);
  int r = 0;
  for (size_t i = 0; i < store->torn_page_count && r == 0; i++) {
    const uint64_t page = store->torn_pages[i];
    r = vswap_read_page (store, ctx, page, ctx->page, false);
    if (r == 0)
      r = vswap_write_page (store, ctx, page, ctx->page, true);
    else if (r == -EIO)
      r = 0;                    /* nothing better to assert */
  }
  vswap_context_put (store, ctx);
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
  pthread_mutex_init (&store->context_lock, NULL);
  pthread_cond_init (&store->context_available, NULL);
  pthread_cond_init (&store->gc_done, NULL);
  pthread_cond_init (&store->gc_wake, NULL);
  pthread_cond_init (&store->writer_wake, NULL);
  pthread_cond_init (&store->written_moved, NULL);
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
  store->gc_buffer = vswap_aligned_alloc_zero (store->segment_size);
  for (int i = 0; i < 2; i++) {
    store->heads[i].segment = -1;
    if (!options->read_only) {
      store->heads[i].buffer = vswap_aligned_alloc_zero (store->segment_size);
      store->heads[i].summary.entries =
        calloc (VSWAP_MAX_CHUNK_RECORDS, sizeof (struct summary_entry));
      store->heads[i].entries =
        calloc (VSWAP_MAX_CHUNK_RECORDS, sizeof (struct summary_entry));
      store->heads[i].body = XXH3_createState ();
    }
  }
  if (!store->map || !store->readin || !store->segments ||
      !store->heat_low || !store->heat_high ||
      !store->gc_buffer ||
      (!options->read_only && (!store->heads[0].buffer ||
                               !store->heads[1].buffer ||
                               !store->heads[0].summary.entries ||
                               !store->heads[1].summary.entries ||
                               !store->heads[0].entries ||
                               !store->heads[1].entries ||
                               !store->heads[0].body ||
                               !store->heads[1].body))) {
    vswap_error_set (err, ENOMEM, "out of memory for a store of %" PRIu64
                     " pages", store->pages);
    goto fail;
  }
  store->user_head = &store->heads[0];
  store->gc_head = sb.open_segments >= 2 ? &store->heads[1]
    : &store->heads[0];

  r = vswap_contexts_create (store, options->io_contexts);
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
  const int r = vswap_writer_start (store);
  if (r < 0)
    return r;
  return vswap_gc_start_thread (store);
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
  /* A write under way finishes; what is sealed and not written is lost,
   * as after a crash (a clean close waited for it). */
  vswap_writer_stop (store);
  if (store->contexts)
    vswap_contexts_destroy (store);
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
    free (store->heads[i].entries);
    XXH3_freeState (store->heads[i].body);
  }
  /* Not clean: what the file holds is left for the next open. */
  vswap_buffer_release (store, false);
  pthread_mutex_destroy (&store->lock);
  pthread_mutex_destroy (&store->context_lock);
  pthread_cond_destroy (&store->context_available);
  pthread_cond_destroy (&store->gc_done);
  pthread_cond_destroy (&store->gc_wake);
  pthread_cond_destroy (&store->writer_wake);
  pthread_cond_destroy (&store->written_moved);
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
    vswap_lock (store);
    r = write_lifetime (store);
    /* Mark the open segments closed on the medium: their last chunk is
     * then known to be complete, not a torn tail. */
    if (r == 0)
      r = vswap_store_close_heads (store);
    vswap_unlock (store);
    if (r == 0)
      r = vswap_medium_flush (store->medium);
    /* Leave no collected segment unerased behind, as if GC had freed
     * each at once. */
    if (r == 0) {
      vswap_lock (store);
      r = vswap_gc_release (store, true);
      vswap_unlock (store);
    }
    if (r == 0)
      vswap_buffer_release (store, true);
  }
  store_free (store);
  return r;
}
