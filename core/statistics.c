/* vswap: statistics as JSON, for statsfile= and inspect --json. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "store_internal.h"

/* This open's share of each lifetime counter. */
static void
this_open (const struct vswap_statistics *s,
           uint64_t counters[VSWAP_LIFETIME_COUNTERS])
{
  counters[VSWAP_LIFETIME_OPENS] = 1;
  counters[VSWAP_LIFETIME_HOST_WRITE_BYTES] = s->host_write_bytes;
  counters[VSWAP_LIFETIME_MEDIA_WRITE_BYTES] = s->media_write_bytes;
  counters[VSWAP_LIFETIME_HOST_TRIM_BYTES] = s->host_trim_bytes;
  counters[VSWAP_LIFETIME_PAGES_ZERO] = s->pages_zero;
  counters[VSWAP_LIFETIME_PAGES_SAME_FILLED] = s->pages_same_filled;
  counters[VSWAP_LIFETIME_PAGES_COMPRESSED] = s->pages_compressed;
  counters[VSWAP_LIFETIME_PAGES_RAW] = s->pages_raw;
  counters[VSWAP_LIFETIME_GC_BYTES_MOVED] = s->gc_bytes_moved;
  counters[VSWAP_LIFETIME_SEGMENTS_ERASED] = s->segments_erased;
}

void
vswap_lifetime_add (struct vswap_store *store, struct vswap_statistics *s)
{
  uint64_t now[VSWAP_LIFETIME_COUNTERS];
  this_open (s, now);
  for (int i = 0; i < VSWAP_LIFETIME_COUNTERS; i++)
    now[i] += store->lifetime[i];
  s->lifetime_opens = now[VSWAP_LIFETIME_OPENS];
  s->lifetime_host_write_bytes = now[VSWAP_LIFETIME_HOST_WRITE_BYTES];
  s->lifetime_media_write_bytes = now[VSWAP_LIFETIME_MEDIA_WRITE_BYTES];
  s->lifetime_host_trim_bytes = now[VSWAP_LIFETIME_HOST_TRIM_BYTES];
  s->lifetime_pages_zero = now[VSWAP_LIFETIME_PAGES_ZERO];
  s->lifetime_pages_same_filled = now[VSWAP_LIFETIME_PAGES_SAME_FILLED];
  s->lifetime_pages_compressed = now[VSWAP_LIFETIME_PAGES_COMPRESSED];
  s->lifetime_pages_raw = now[VSWAP_LIFETIME_PAGES_RAW];
  s->lifetime_gc_bytes_moved = now[VSWAP_LIFETIME_GC_BYTES_MOVED];
  s->lifetime_segments_erased = now[VSWAP_LIFETIME_SEGMENTS_ERASED];
}

uint16_t
vswap_lifetime_encode (struct vswap_store *store, uint8_t *payload)
{
  uint64_t now[VSWAP_LIFETIME_COUNTERS];
  /* The record itself is not counted in the media bytes it reports: it
   * is written after this snapshot. */
  this_open (&store->stats, now);
  vswap_put64 (payload, VSWAP_LIFETIME_COUNTERS);
  for (int i = 0; i < VSWAP_LIFETIME_COUNTERS; i++)
    vswap_put64 (payload + 8 + 8 * i, store->lifetime[i] + now[i]);
  uint16_t length = 8 + 8 * VSWAP_LIFETIME_COUNTERS;

  /* After the counters, where readers that know only the counters stop:
   * every segment's erase count, so that free segments, whose erased
   * chunk headers no longer say it, keep theirs across a restart.  As
   * u16 above the smallest, while the table fits in the payload. */
  if (VSWAP_ERASE_TABLE_HEADER + 2 * store->segment_count
      <= (uint64_t) (VSWAP_MAX_LIFETIME_PAYLOAD - length)) {
    uint32_t base = UINT32_MAX;
    for (uint64_t i = 0; i < store->segment_count; i++)
      if (store->segments[i].erase_count < base)
        base = store->segments[i].erase_count;
    uint8_t *table = payload + length;
    vswap_put32 (table, (uint32_t) store->segment_count);
    vswap_put32 (table + 4, base);
    for (uint64_t i = 0; i < store->segment_count; i++) {
      const uint32_t above = store->segments[i].erase_count - base;
      vswap_put16 (table + VSWAP_ERASE_TABLE_HEADER + 2 * i,
                   above > UINT16_MAX ? UINT16_MAX : (uint16_t) above);
    }
    length += VSWAP_ERASE_TABLE_HEADER + 2 * store->segment_count;
  }
  return length;
}

void
vswap_lifetime_decode (struct vswap_store *store, const uint8_t *payload,
                       uint16_t length)
{
  if (length < 8)
    return;
  uint64_t n = vswap_get64 (payload);
  if (n > (uint64_t) (length - 8) / 8)
    n = (length - 8) / 8;
  /* Counters a newer vswap appended are ignored; missing ones stay 0. */
  for (uint64_t i = 0; i < n && i < VSWAP_LIFETIME_COUNTERS; i++)
    store->lifetime[i] = vswap_get64 (payload + 8 + 8 * i);

  /* The erase table, if this record has one for this geometry.  A chunk
   * header written since says as much or more: keep the larger. */
  const uint32_t at = 8 + 8 * (uint32_t) n;
  if (n != VSWAP_LIFETIME_COUNTERS ||
      length < at + VSWAP_ERASE_TABLE_HEADER ||
      vswap_get32 (payload + at) != store->segment_count ||
      length < at + VSWAP_ERASE_TABLE_HEADER + 2 * store->segment_count)
    return;
  const uint32_t base = vswap_get32 (payload + at + 4);
  for (uint64_t i = 0; i < store->segment_count; i++) {
    const uint32_t count = base +
      vswap_get16 (payload + at + VSWAP_ERASE_TABLE_HEADER + 2 * i);
    if (count > store->segments[i].erase_count)
      store->segments[i].erase_count = count;
  }
}

int
vswap_statistics_json (const struct vswap_statistics *s, char *buffer,
                       size_t size)
{
  /* Ratios a reader wants at a glance; 0 when nothing was written yet. */
  const double amplification = s->host_write_bytes ?
    (double) s->media_write_bytes / s->host_write_bytes : 0;
  const double compression = s->compressed_input_bytes ?
    (double) s->compressed_output_bytes / s->compressed_input_bytes : 0;
  const double lifetime_amplification = s->lifetime_host_write_bytes ?
    (double) s->lifetime_media_write_bytes / s->lifetime_host_write_bytes : 0;

#define FIELD(name) "\"" #name "\":%" PRIu64 ","
  const int n = snprintf (buffer, size, "{"
    FIELD (host_read_bytes) FIELD (host_write_bytes)
    FIELD (host_read_pages) FIELD (host_write_pages)
    FIELD (host_trim_bytes) FIELD (host_zero_bytes)
    FIELD (trim_requests) FIELD (zero_requests) FIELD (flush_requests)
    FIELD (pages_zero) FIELD (pages_same_filled) FIELD (pages_compressed)
    FIELD (pages_raw)
    FIELD (compressed_input_bytes) FIELD (compressed_output_bytes)
    FIELD (media_write_bytes) FIELD (media_read_bytes)
    FIELD (media_discard_bytes) FIELD (media_writes) FIELD (media_padding_bytes)
    FIELD (gc_runs) FIELD (gc_bytes_moved) FIELD (gc_records_moved)
    FIELD (segments_erased)
    FIELD (checksum_failures) FIELD (read_retries)
    FIELD (pages_lost) FIELD (segments_retired) FIELD (chunks_damaged)
    FIELD (readin_pages) FIELD (readin_rereads) FIELD (readin_dropped)
    FIELD (readin_eio) FIELD (readin_hints_skipped)
    FIELD (enospc_errors) FIELD (io_errors)
    FIELD (lock_hold_max_ns) FIELD (lock_holds_slow)
    FIELD (logical_pages)
    FIELD (mapped_unmapped) FIELD (mapped_zero) FIELD (mapped_same_filled)
    FIELD (mapped_stored) FIELD (mapped_dropped) FIELD (mapped_damaged)
    FIELD (stored_live_bytes)
    FIELD (segments_total) FIELD (segments_free) FIELD (segments_open)
    FIELD (metadata_bytes)
    FIELD (endurance_bytes) FIELD (medium_bytes) FIELD (erase_count_max)
    FIELD (lifetime_opens)
    FIELD (lifetime_host_write_bytes) FIELD (lifetime_media_write_bytes)
    FIELD (lifetime_host_trim_bytes)
    FIELD (lifetime_pages_zero) FIELD (lifetime_pages_same_filled)
    FIELD (lifetime_pages_compressed) FIELD (lifetime_pages_raw)
    FIELD (lifetime_gc_bytes_moved) FIELD (lifetime_segments_erased)
    "\"lifetime_media_per_host_bytes\":%.4f,"
    "\"metadata_bytes_per_page\":%.3f,"
    "\"erase_count_mean\":%.3f,"
    "\"media_per_host_bytes\":%.4f,"
    "\"compression_ratio\":%.4f}",
    s->host_read_bytes, s->host_write_bytes,
    s->host_read_pages, s->host_write_pages,
    s->host_trim_bytes, s->host_zero_bytes,
    s->trim_requests, s->zero_requests, s->flush_requests,
    s->pages_zero, s->pages_same_filled, s->pages_compressed,
    s->pages_raw,
    s->compressed_input_bytes, s->compressed_output_bytes,
    s->media_write_bytes, s->media_read_bytes,
    s->media_discard_bytes, s->media_writes, s->media_padding_bytes,
    s->gc_runs, s->gc_bytes_moved, s->gc_records_moved,
    s->segments_erased,
    s->checksum_failures, s->read_retries,
    s->pages_lost, s->segments_retired, s->chunks_damaged,
    s->readin_pages, s->readin_rereads, s->readin_dropped,
    s->readin_eio, s->readin_hints_skipped,
    s->enospc_errors, s->io_errors,
    s->lock_hold_max_ns, s->lock_holds_slow,
    s->logical_pages,
    s->mapped_unmapped, s->mapped_zero, s->mapped_same_filled,
    s->mapped_stored, s->mapped_dropped, s->mapped_damaged,
    s->stored_live_bytes,
    s->segments_total, s->segments_free, s->segments_open,
    s->metadata_bytes,
    s->endurance_bytes, s->medium_bytes, s->erase_count_max,
    s->lifetime_opens,
    s->lifetime_host_write_bytes, s->lifetime_media_write_bytes,
    s->lifetime_host_trim_bytes,
    s->lifetime_pages_zero, s->lifetime_pages_same_filled,
    s->lifetime_pages_compressed, s->lifetime_pages_raw,
    s->lifetime_gc_bytes_moved, s->lifetime_segments_erased,
    lifetime_amplification,
    s->metadata_bytes_per_page, s->erase_count_mean, amplification,
    compression);
#undef FIELD
  if (n < 0)
    return -EINVAL;
  if ((size_t) n >= size)
    return -ERANGE;
  return n;
}
