/* vswap: statistics as JSON, for statsfile= and inspect --json. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "store.h"

int
vswap_statistics_json (const struct vswap_statistics *s, char *buffer,
                       size_t size)
{
  /* Ratios a reader wants at a glance; 0 when nothing was written yet. */
  const double amplification = s->host_write_bytes ?
    (double) s->media_write_bytes / s->host_write_bytes : 0;
  const double compression = s->compressed_input_bytes ?
    (double) s->compressed_output_bytes / s->compressed_input_bytes : 0;

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
    FIELD (checksum_failures)
    FIELD (readin_pages) FIELD (readin_rereads) FIELD (readin_dropped)
    FIELD (readin_eio)
    FIELD (enospc_errors) FIELD (io_errors)
    FIELD (logical_pages)
    FIELD (mapped_unmapped) FIELD (mapped_zero) FIELD (mapped_same_filled)
    FIELD (mapped_stored) FIELD (mapped_dropped)
    FIELD (stored_live_bytes)
    FIELD (segments_total) FIELD (segments_free) FIELD (segments_open)
    FIELD (metadata_bytes)
    "\"metadata_bytes_per_page\":%.3f,"
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
    s->checksum_failures,
    s->readin_pages, s->readin_rereads, s->readin_dropped,
    s->readin_eio,
    s->enospc_errors, s->io_errors,
    s->logical_pages,
    s->mapped_unmapped, s->mapped_zero, s->mapped_same_filled,
    s->mapped_stored, s->mapped_dropped,
    s->stored_live_bytes,
    s->segments_total, s->segments_free, s->segments_open,
    s->metadata_bytes,
    s->metadata_bytes_per_page, amplification, compression);
#undef FIELD
  if (n < 0)
    return -EINVAL;
  if ((size_t) n >= size)
    return -ERANGE;
  return n;
}
