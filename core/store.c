/* vswap: what a store is and holds: size, extents, geometry, per-segment
 * state and statistics.  Opening and closing are in open.c, the request
 * paths in read.c and write.c. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_codec.h"
#include "store_internal.h"

uint64_t
vswap_store_size (const struct vswap_store *store)
{
  return store->pages * VSWAP_PAGE_SIZE;
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
    vswap_lock (store);
    uint64_t page = offset / VSWAP_PAGE_SIZE;
    const enum vswap_extent_kind kind = extent_kind (store->map[page]);
    uint64_t stop = (page + 1) * VSWAP_PAGE_SIZE;
    while (stop < end &&
           extent_kind (store->map[stop / VSWAP_PAGE_SIZE]) == kind)
      stop += VSWAP_PAGE_SIZE;
    vswap_unlock (store);
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
  vswap_lock (store);
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
  vswap_unlock (store);
  return 0;
}

void
vswap_store_statistics (struct vswap_store *store,
                        struct vswap_statistics *st)
{
  vswap_lock (store);
  *st = store->stats;
  st->logical_pages = store->pages;
  vswap_unlock (store);
  /* The map is read without the lock (a look at a moving store, not a
   * snapshot): a statistics file is written every 2 s, and a pass over
   * millions of pages under the lock would hold up every request. */
  for (uint64_t p = 0; p < store->pages; p++) {
    const vswap_map_entry e = vswap_map_get (store, p);
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
  vswap_lock (store);
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
  vswap_unlock (store);
}
