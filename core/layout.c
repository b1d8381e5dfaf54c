/* vswap: where every structure of a store lies on its medium.
 *
 * For tools that draw or explain a store, and for tests that damage one
 * structure on purpose and then check that recovery notices: they need to
 * know where the superblocks, chunk headers, record headers and payloads
 * are without parsing the format themselves.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "segment_walk.h"
#include "store_internal.h"

static int
emit_superblocks (struct vswap_store *store,
                  int (*emit) (void *, const struct vswap_structure *),
                  void *opaque)
{
  const uint64_t last = store->segment_count - 1;
  for (int copy = 0; copy < 2; copy++) {
    const uint64_t segment = copy == 0 ? 0 : last;
    const struct vswap_structure s = {
      .kind = VSWAP_STRUCTURE_SUPERBLOCK,
      .offset = segment_offset (store, segment),
      .length = VSWAP_SUPERBLOCK_SIZE,
      .segment = segment,
    };
    const int r = emit (opaque, &s);
    if (r != 0)
      return r;
  }
  return 0;
}

/* Emit the chunks and records of one segment image, as recovery walks
 * it (past damage). */
static int
emit_segment (struct vswap_store *store, uint64_t segment, uint8_t *image,
              int (*emit) (void *, const struct vswap_structure *),
              void *opaque)
{
  const struct segment *seg = &store->segments[segment];
  const uint64_t base = segment_offset (store, segment);
  struct walk w;
  struct walk_chunk c;
  struct walk_record rec;
  int r;

  walk_start (&w, store, segment, seg->generation, image,
              store->segment_size, false);
  while (walk_next_chunk (&w, &c)) {
    if (c.header_ok) {
      const struct vswap_structure s = {
        .kind = VSWAP_STRUCTURE_CHUNK_HEADER,
        .offset = base + c.offset,
        .length = VSWAP_CHUNK_HEADER_SIZE,
        .segment = segment,
        .order = c.header.sequence,
      };
      if ((r = emit (opaque, &s)) != 0)
        return r;
    }
    while (walk_next_record (&w, &c, &rec)) {
      const uint64_t address = (base + rec.offset) >> store->address_shift;
      const struct vswap_record_header *h = &rec.header;
      struct vswap_structure s = {
        .kind = VSWAP_STRUCTURE_RECORD_HEADER,
        .offset = base + rec.offset,
        .length = VSWAP_RECORD_HEADER_SIZE,
        .segment = segment,
        .record_kind = h->kind,
        .page = h->logical_page,
        .count = h->count,
        .order = h->stamp,
        .mapped = h->logical_page < store->pages &&
          store->map[h->logical_page] == vswap_map_stored ((uint32_t) address),
      };
      if ((r = emit (opaque, &s)) != 0)
        return r;
      if (h->payload_length) {
        s.kind = VSWAP_STRUCTURE_PAYLOAD;
        s.offset += VSWAP_RECORD_HEADER_SIZE;
        s.length = h->payload_length;
        if ((r = emit (opaque, &s)) != 0)
          return r;
      }
    }
  }
  return 0;
}

int
vswap_store_layout (struct vswap_store *store,
                    int (*emit) (void *, const struct vswap_structure *),
                    void *opaque)
{
  uint8_t *image;
  int r = emit_superblocks (store, emit, opaque);
  if (r != 0)
    return r;
  if (posix_memalign ((void **) &image, VSWAP_MEDIUM_BUFFER_ALIGN,
                      store->segment_size))
    return -ENOMEM;

  vswap_lock (store);
  for (uint64_t i = 1; i + 1 < store->segment_count && r == 0; i++) {
    const struct segment *s = &store->segments[i];
    if (s->state == SEGMENT_FREE || s->generation == 0)
      continue;
    struct head *head = vswap_head_of_segment (store, i);
    if (head) {
      /* The open segment: what is written is on the medium, the rest
       * only in RAM. */
      memcpy (image, head->buffer, store->segment_size);
      memset (image + head->written, 0, store->segment_size - head->written);
    }
    else {
      r = vswap_medium_read (store->medium, image, store->segment_size,
                             segment_offset (store, i));
      if (r < 0)
        break;
    }
    r = emit_segment (store, i, image, emit, opaque);
  }
  vswap_unlock (store);
  free (image);
  return r;
}
