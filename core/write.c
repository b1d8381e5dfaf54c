/* vswap: the write path: pages classified and compressed outside the
 * lock, appended to a head under it; trims and write-zeroes as range
 * tombstones; flush. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_codec.h"
#include "store_internal.h"

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
    vswap_map_set (store, page, VSWAP_MAP_ZERO);
    STAT_ADD (store, pages_zero, 1);
    break;
  case VSWAP_PAGE_SAME: {
    const int32_t index = vswap_pattern_acquire (&store->patterns,
                                                 p->pattern);
    STAT_ADD (store, pages_same_filled, 1);
    if (index >= 0) {
      vswap_map_set (store, page, vswap_map_same ((uint32_t) index));
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
int
vswap_write_page (struct vswap_store *store, struct io_context *ctx,
                  uint64_t page, const uint8_t *data, bool force)
{
  struct prepared_page prepared;

  prepare_page (store, ctx, page, data, ctx->payload, &prepared);
  vswap_lock (store);
  const int r = store_prepared (store, &prepared, force);
  vswap_unlock (store);
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
  vswap_lock (store);
  for (uint32_t i = 0; i < count && r == 0; i++)
    r = store_prepared (store, &ctx->batch[i], false);
  vswap_unlock (store);
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
  int r = vswap_read_page (store, ctx, page, ctx->page, false);
  if (r == 0) {
    if (data)
      memcpy (ctx->page + skip, data, n);
    else
      memset (ctx->page + skip, 0, n);
    r = vswap_write_page (store, ctx, page, ctx->page, false);
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
  struct io_context *ctx = vswap_context_get (store);
  while (length > 0 && r == 0) {
    const struct piece p = vswap_next_piece (offset, length, WRITE_BATCH);
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
  vswap_context_put (store, ctx);
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

  vswap_lock (store);
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
      vswap_map_set (store, p, state);
    }
    start = stop;
  }
  vswap_unlock (store);
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
  vswap_lock (store);
  const int r = vswap_head_append (store, store->user_head, &h, NULL,
                                   &address);
  for (uint64_t p = first; p < first + count && r == 0; p++) {
    vswap_map_release (store, p);
    vswap_map_set (store, p, VSWAP_MAP_DAMAGED);
  }
  vswap_unlock (store);
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
    ctx = vswap_context_get (store);
    r = write_partial (store, ctx, offset / VSWAP_PAGE_SIZE,
                       offset % VSWAP_PAGE_SIZE, length, NULL);
    vswap_context_put (store, ctx);
    goto done;
  }
  if (offset % VSWAP_PAGE_SIZE || end % VSWAP_PAGE_SIZE)
    ctx = vswap_context_get (store);
  if (offset % VSWAP_PAGE_SIZE)
    r = write_partial (store, ctx, offset / VSWAP_PAGE_SIZE,
                       offset % VSWAP_PAGE_SIZE,
                       first * VSWAP_PAGE_SIZE - offset, NULL);
  if (r == 0 && end % VSWAP_PAGE_SIZE)
    r = write_partial (store, ctx, last, 0, end % VSWAP_PAGE_SIZE, NULL);
  if (ctx)
    vswap_context_put (store, ctx);
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

/* ---- flush ---- */

int
vswap_store_flush (struct vswap_store *store)
{
  int r = 0;

  STAT_ADD (store, flush_requests, 1);
  if (store->options.read_only)
    return 0;
  vswap_lock (store);
  r = vswap_store_seal_all (store);
  const uint64_t seals = store->seals;
  /* Everything sealed above must be on the medium before one flush of the
   * medium covers it (chunks sealed after this, by others, need not). */
  int64_t segment[2];
  uint32_t until[2];
  for (int i = 0; i < 2; i++) {
    segment[i] = store->heads[i].segment;
    until[i] = store->heads[i].sealed;
  }
  for (int i = 0; i < 2 && r == 0; i++)
    r = vswap_head_wait_written (store, &store->heads[i], segment[i],
                                 until[i]);
  vswap_unlock (store);
  vswap_io_unlocked (store);
  if (r == 0)
    r = vswap_medium_flush (store->medium);
  if (r == 0) {
    vswap_lock (store);
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
    vswap_unlock (store);
  }
  return r;
}
