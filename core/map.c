/* vswap: the map and the segment table: where a page's record is, and
 * how many live records each segment holds. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "store_internal.h"

__thread bool vswap_lock_held __attribute__ ((tls_model ("initial-exec")));

int
vswap_segment_of_address (const struct vswap_store *store, uint32_t address,
                          uint32_t *offset)
{
  const uint64_t byte = (uint64_t) address << store->address_shift;
  if (offset)
    *offset = byte % store->segment_size;
  return (int) (byte / store->segment_size);
}

struct head *
vswap_head_of_segment (struct vswap_store *store, uint64_t segment)
{
  for (int i = 0; i < 2; i++)
    if (store->heads[i].segment == (int64_t) segment)
      return &store->heads[i];
  return NULL;
}

void
vswap_map_release (struct vswap_store *store, uint64_t page)
{
  const vswap_map_entry e = store->map[page];
  const bool readin = vswap_bitmap_get (store->readin, page);

  if (vswap_map_is_stored (e)) {
    struct segment *s =
      &store->segments[vswap_segment_of_address (store, vswap_map_address (e),
                                                 NULL)];
    assert (s->live_records > 0);
    s->live_records--;
    if (readin) {
      assert (s->readin_records > 0);
      s->readin_records--;
    }
  }
  else if (vswap_map_is_same (e))
    vswap_pattern_release (&store->patterns, vswap_map_pattern_index (e));
  if (readin)
    vswap_bitmap_set (store->readin, page, false);
  vswap_map_set (store, page, VSWAP_MAP_UNMAPPED);
}

void
vswap_map_point (struct vswap_store *store, uint64_t page, uint32_t address)
{
  assert (store->map[page] == VSWAP_MAP_UNMAPPED);
  vswap_map_set (store, page, vswap_map_stored (address));
  store->segments[vswap_segment_of_address (store, address, NULL)]
    .live_records++;
}

void
vswap_segment_count_data (struct vswap_store *store, uint32_t address,
                          uint32_t size)
{
  struct segment *s =
    &store->segments[vswap_segment_of_address (store, address, NULL)];
  s->data_records++;
  s->data_bytes += size;
}
