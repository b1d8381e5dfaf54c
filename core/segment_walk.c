/* vswap: walking the chunks and records of one segment image, past damage.
 * See segment_walk.h for the rules.
 */
#include <config.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "segment_walk.h"
#include "store_internal.h"

/* Times a span that does not verify is read again. */
#define REREADS 3

void
walk_start (struct walk *w, struct vswap_store *store, uint64_t segment,
            uint64_t generation, uint8_t *image, uint32_t length, bool reread)
{
  *w = (struct walk) {
    .store = store,
    .segment = segment,
    .generation = generation,
    .image = image,
    .length = length,
    .reread = reread,
  };
}

/* Read [START, START + LENGTH) of the image from the medium again, and
 * copy it in if it differs.  True when something changed (worth decoding
 * again). */
static bool
reread (struct walk *w, uint32_t start, uint32_t length)
{
  struct vswap_store *store = w->store;
  if (!w->reread || w->rereads >= 64 * REREADS)
    return false;
  const uint32_t unit = store->read_unit;
  const uint32_t from = (uint32_t) round_down (start, unit);
  uint32_t to = (uint32_t) round_up ((uint64_t) start + length, unit);
  if (to > w->length)
    to = w->length;
  if (to <= from)
    return false;
  uint8_t *copy;
  if (posix_memalign ((void **) &copy, VSWAP_MEDIUM_BUFFER_ALIGN,
                      round_up (to - from, VSWAP_MEDIUM_BUFFER_ALIGN)))
    return false;
  w->rereads++;
  STAT_ADD (store, read_retries, 1);
  bool changed = false;
  if (vswap_medium_read (store->medium, copy, to - from,
                         segment_offset (store, w->segment) + from) == 0) {
    STAT_ADD (store, media_read_bytes, to - from);
    changed = memcmp (copy, w->image + from, to - from) != 0;
    if (changed)
      memcpy (w->image + from, copy, to - from);
  }
  free (copy);
  return changed;
}

/* A chunk header of this store and generation at OFFSET, newer than the
 * last one, that fits the segment. */
static bool
chunk_header_at (const struct walk *w, uint32_t offset,
                 struct vswap_chunk_header *h)
{
  const struct vswap_store *store = w->store;
  return (uint64_t) offset + VSWAP_CHUNK_HEADER_SIZE <= w->length &&
    vswap_chunk_header_decode (w->image + offset, h) &&
    memcmp (h->uuid, store->superblock.uuid, VSWAP_UUID_SIZE) == 0 &&
    h->generation == w->generation &&
    h->sequence > w->previous_sequence &&
    h->length >= vswap_chunk_records_start (store->address_shift) &&
    h->length <= store->segment_size - offset &&
    h->record_count <= VSWAP_MAX_CHUNK_RECORDS;
}

bool
walk_find_later_chunk (const struct vswap_store *store, const uint8_t *image,
                       uint32_t length, struct vswap_chunk_header *h)
{
  for (uint32_t at = store->write_unit;
       (uint64_t) at + VSWAP_CHUNK_HEADER_SIZE <= length;
       at += store->write_unit)
    if (vswap_chunk_header_decode (image + at, h) &&
        memcmp (h->uuid, store->superblock.uuid, VSWAP_UUID_SIZE) == 0 &&
        h->length >= VSWAP_CHUNK_HEADER_SIZE &&
        h->length <= store->segment_size - at)
      return true;
  return false;
}

/* Does a record header of this generation verify at AT, with its record
 * inside [AT, LIMIT)?  Fills *R and *SIZE. */
static bool
record_header_at (const struct walk *w, uint32_t at, uint32_t limit,
                  struct vswap_record_header *r, uint32_t *size)
{
  const struct vswap_store *store = w->store;
  if ((uint64_t) at + VSWAP_RECORD_HEADER_SIZE > limit ||
      !vswap_record_header_decode (w->image + at, store->seed, w->generation,
                                   r))
    return false;
  *size = vswap_record_size (r->payload_length, store->address_shift);
  return (uint64_t) at + *size <= limit;
}

static bool
payload_ok (const struct walk *w, uint32_t at,
            const struct vswap_record_header *r)
{
  if (vswap_record_kind_is_range (r->kind))
    return true;                /* tombstones carry no payload */
  return vswap_payload_checksum (w->image + at + VSWAP_RECORD_HEADER_SIZE,
                                 r->payload_length, w->store->seed,
                                 r->logical_page) == r->payload_checksum;
}

/* The first chunk header of this generation after OFFSET, at a write unit
 * boundary, or 0. */
static uint32_t
next_chunk_header (const struct walk *w, uint32_t offset,
                   struct vswap_chunk_header *h)
{
  const uint32_t unit = w->store->write_unit;
  for (uint32_t at = (uint32_t) round_up ((uint64_t) offset + 1, unit);
       (uint64_t) at + VSWAP_CHUNK_HEADER_SIZE <= w->length; at += unit)
    if (chunk_header_at (w, at, h))
      return at;
  return 0;
}

/* Is there a record header of this generation anywhere in [FROM, TO)? */
static bool
any_record_between (const struct walk *w, uint32_t from, uint32_t to)
{
  const uint32_t step = UINT32_C (1) << w->store->address_shift;
  struct vswap_record_header r;
  uint32_t size;
  for (uint32_t at = (uint32_t) round_up (from, step); at < to; at += step)
    if (record_header_at (w, at, to, &r, &size))
      return true;
  return false;
}

bool
walk_next_chunk (struct walk *w, struct walk_chunk *c)
{
  struct vswap_store *store = w->store;
  const uint32_t offset = w->offset;
  struct vswap_chunk_header h;

  if ((uint64_t) offset + VSWAP_CHUNK_HEADER_SIZE > w->length)
    return false;
  *c = (struct walk_chunk) {
    .offset = offset,
    .next_sequence = UINT64_MAX,
    .at = offset + vswap_chunk_records_start (store->address_shift),
  };
  bool ok = chunk_header_at (w, offset, &h);
  if (!ok && is_blank (w->image + offset, w->length - offset))
    return false;               /* the end of the log */
  for (int i = 0; !ok && i < REREADS &&
         reread (w, offset, VSWAP_CHUNK_HEADER_SIZE); i++)
    ok = chunk_header_at (w, offset, &h);

  if (ok) {
    c->header_ok = true;
    c->header = h;
    c->records_end = offset + h.length;
    c->end = (uint32_t) round_up (c->records_end, store->write_unit);
    c->body_ok = vswap_checksum (w->image + offset + VSWAP_CHUNK_HEADER_SIZE,
                                 h.length - VSWAP_CHUNK_HEADER_SIZE,
                                 store->seed) == h.body_checksum;
    w->previous_sequence = h.sequence;
    w->offset = c->end;
    /* The sequence of the chunk after it, for a gap inside this one's
     * records to be placed by. */
    struct vswap_chunk_header next;
    const uint32_t saved = w->offset;
    if (c->end + VSWAP_CHUNK_HEADER_SIZE <= w->length &&
        chunk_header_at (w, c->end, &next))
      c->next_sequence = next.sequence;
    w->offset = saved;
    return true;
  }

  /* Programmed bytes where a chunk header should be: a header that
   * rotted, a unit that reads blank or was never programmed (a volatile
   * write cache kept a later one), or a write torn by a crash.  What
   * follows tells: a chunk header of this generation further on, or
   * records, and the gap is damage that the walk steps over; nothing, and
   * it is the torn end of the log. */
  const uint32_t next = next_chunk_header (w, offset, &h);
  c->header_ok = false;
  c->body_ok = false;
  if (next) {
    c->end = next;
    c->next_sequence = h.sequence;
  }
  else {
    c->end = w->length;
    c->tail = true;
  }
  c->records_end = c->end;
  if (c->tail && !any_record_between (w, offset, c->end))
    return false;               /* nothing of ours: the end of the log */
  w->offset = c->end;
  return true;
}

/* Find the next record header that verifies from AT on, below LIMIT, at
 * address-unit steps.  Returns its offset, or LIMIT. */
static uint32_t
resynchronise (const struct walk *w, uint32_t at, uint32_t limit)
{
  const uint32_t step = UINT32_C (1) << w->store->address_shift;
  struct vswap_record_header r;
  uint32_t size;
  for (uint32_t x = (uint32_t) round_up ((uint64_t) at + 1, step); x < limit;
       x += step)
    if (record_header_at (w, x, limit, &r, &size))
      return x;
  return limit;
}

/* Are the LENGTH bytes at P all zero (padding)? */
static bool
all_zero (const uint8_t *p, size_t length)
{
  for (size_t i = 0; i < length; i++)
    if (p[i])
      return false;
  return true;
}

/* The chunk's records are walked: are there bytes no record explains? */
static void
settle_unknowns (const struct walk *w, struct walk_chunk *c)
{
  const struct vswap_store *store = w->store;
  if (c->header_ok) {
    if (c->records_found < c->header.record_count)
      c->unknowns = true;
    return;
  }
  /* A gap: records follow its (damaged) header one after another, then
   * zeros up to the next write unit, where the next chunk starts.  Any
   * other shape hides records.  (At the torn tail the last unit may be
   * short: that is the tear.) */
  const uint32_t first = c->offset
    + vswap_chunk_records_start (store->address_shift);
  if (c->records_found == 0)
    c->last_end = first;
  const uint32_t padded = (uint32_t) round_up (c->last_end, store->write_unit);
  if (padded > c->end ||
      !all_zero (w->image + c->last_end, padded - c->last_end) ||
      (!c->tail && padded != c->end) ||
      (c->tail && !is_blank (w->image + padded, c->end - padded)))
    c->unknowns = true;
}

bool
walk_next_record (struct walk *w, struct walk_chunk *c, struct walk_record *r)
{
  const struct vswap_store *store = w->store;

  for (;;) {
    const uint32_t at = c->at;
    if ((uint64_t) at + VSWAP_RECORD_HEADER_SIZE > c->records_end ||
        (c->header_ok && c->records_found == c->header.record_count)) {
      if (c->header_ok && at < c->records_end)
        c->unknowns = true;     /* more bytes than its records */
      settle_unknowns (w, c);
      return false;
    }
    uint32_t size;
    bool ok = record_header_at (w, at, c->records_end, &r->header, &size);
    /* The first record after a damaged chunk header may begin later
     * (address units larger than the header): try the next unit. */
    for (int i = 0; !ok && i < REREADS &&
           reread (w, at, VSWAP_RECORD_HEADER_SIZE + VSWAP_PAGE_SIZE); i++)
      ok = record_header_at (w, at, c->records_end, &r->header, &size);
    if (!ok) {
      /* A damaged header: its record's length is unknown too.  Go on at
       * the next header that verifies; the chunk's summary says what the
       * skipped bytes held.  A gap's zeros at its end are padding
       * (settle_unknowns decides). */
      const uint32_t next = resynchronise (w, at, c->records_end);
      if (c->header_ok || !all_zero (w->image + at, next - at))
        c->unknowns = true;
      c->at = next;
      continue;
    }
    if (!c->header_ok && c->records_found > 0 && at != c->last_end)
      c->unknowns = true;       /* a hole between records of a gap */
    if (!c->header_ok && c->records_found == 0 &&
        at != c->offset + vswap_chunk_records_start (store->address_shift))
      c->unknowns = true;
    r->offset = at;
    r->size = size;
    r->payload_ok = c->body_ok || payload_ok (w, at, &r->header);
    for (int i = 0; !r->payload_ok && i < REREADS && reread (w, at, size);
         i++) {
      struct vswap_record_header again;
      uint32_t size_again;
      if (record_header_at (w, at, c->records_end, &again, &size_again) &&
          size_again == size && again.stamp == r->header.stamp &&
          again.logical_page == r->header.logical_page &&
          again.kind == r->header.kind) {
        r->header = again;
        r->payload_ok = payload_ok (w, at, &again);
      }
    }
    c->records_found++;
    c->last_end = at + size;
    if (r->header.stamp > c->highest_stamp)
      c->highest_stamp = r->header.stamp;
    c->at = at + size;
    return true;
  }
}
