/* vswap: the read path: from the map to the record, on the medium or in
 * a head's RAM image, verified and decoded. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_codec.h"
#include "store_internal.h"

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
 * into OUT, with the store unlocked.  GC may move the record and erase
 * the segment meanwhile: then it does not verify (its checksums are bound
 * to the page and the segment's generation), and the caller looks at the
 * map again.  -EIO: it does not verify, read twice. */
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
  vswap_io_unlocked (store);
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
  return r;
}

/* Does PAGE still map to the record at ADDRESS?  (Without the lock.) */
static bool
still_there (const struct vswap_store *store, uint64_t page, uint32_t address)
{
  return vswap_map_get (store, page) == vswap_map_stored (address);
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
    vswap_unlock (store);
    r = decode_record (store, ctx, page, offset, generation,
                       ctx->read_buffer, out);
  }
  else {
    const uint64_t generation = store->segments[segment].generation;
    vswap_unlock (store);
    r = read_closed_record (store, ctx, page, address, generation, out);
    if (r == -EIO && !still_there (store, page, address))
      return -EAGAIN;           /* moved meanwhile: look again */
  }
  if (r == -EIO)
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
    vswap_map_set (store, page, VSWAP_MAP_DROPPED);
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
  vswap_lock (store);
  mark_read_in (store, page, e);
  vswap_unlock (store);
}

/* A record GC moved while it was read is looked up again; so many moves
 * in a row mean something is wrong. */
#define MOVES 16

int
vswap_read_page (struct vswap_store *store, struct io_context *ctx,
                 uint64_t page, void *out, bool client)
{
  int r = 0;
  vswap_map_entry e;

  vswap_lock (store);
  e = store->map[page];
  if (vswap_map_is_stored (e)) {
    for (int moves = 0; ; moves++) {
      r = vswap_read_record (store, ctx, page, vswap_map_address (e), out);
      if (r != -EAGAIN || moves == MOVES)
        break;
      vswap_lock (store);
      e = store->map[page];
      if (!vswap_map_is_stored (e)) {
        vswap_unlock (store);
        return vswap_read_page (store, ctx, page, out, client);
      }
    }
    if (r == -EAGAIN)
      r = -EIO;
  }
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
    vswap_unlock (store);
  }
  if (r == 0 && client)
    note_read_in (store, page, e);
  return r;
}

/* Where PAGE's record is, found without the lock: true with *ADDRESS and
 * *GENERATION when it is in a closed segment (a head's open segment is
 * read under the lock, from RAM).  The generation read between two looks
 * at the map that agree is the one the record was written with: GC moves
 * a record before it frees its segment, and a new generation comes only
 * after that. */
static bool
locate_on_medium (const struct vswap_store *store, uint64_t page,
                  uint32_t *address, uint64_t *generation)
{
  const vswap_map_entry e = vswap_map_get (store, page);
  if (!vswap_map_is_stored (e))
    return false;
  *address = vswap_map_address (e);
  const struct segment *s =
    &store->segments[vswap_segment_of_address (store, *address, NULL)];
  const uint8_t state = __atomic_load_n (&s->state, __ATOMIC_ACQUIRE);
  if (state != SEGMENT_CLOSED && state != SEGMENT_PINNED)
    return false;
  *generation = __atomic_load_n (&s->generation, __ATOMIC_ACQUIRE);
  return *generation != 0 && vswap_map_get (store, page) == e;
}

/* The read-in hint (readtrim=hint) for PAGE, read from ADDRESS: only
 * when the lock is free at once, for a hint is not worth a wait. */
static void
hint_read_in (struct vswap_store *store, uint64_t page, uint32_t address)
{
  if (store->options.readtrim != VSWAP_READTRIM_HINT ||
      store->options.read_only)
    return;
  if (!vswap_trylock (store)) {
    STAT_ADD (store, readin_hints_skipped, 1);
    return;
  }
  mark_read_in (store, page, vswap_map_stored (address));
  vswap_unlock (store);
}

/* Read COUNT whole pages from PAGE on into OUT, for a client.  The
 * records in closed segments are found without the lock, and read with
 * all their reads in flight together, those a sequential write left one
 * after another in one medium read; the rest (records in a head's RAM,
 * same-filled pages and the like, and records GC moved meanwhile) go
 * through vswap_read_page, under the lock. */
static int
read_pages (struct vswap_store *store, struct io_context *ctx,
            uint64_t page, uint32_t count, uint8_t *out)
{
  const uint32_t max_record = vswap_record_size (VSWAP_PAGE_SIZE,
                                                 store->address_shift);
  bool read_ok[RUN_PAGES];
  uint32_t from_medium = 0;
  int r = 0;

  assert (count >= 1 && count <= RUN_PAGES);
  for (uint32_t i = 0; i < count; i++) {
    read_ok[i] = false;
    if (locate_on_medium (store, page + i, &ctx->run_address[i],
                          &ctx->run_generation[i]))
      from_medium++;
    else
      ctx->run_generation[i] = 0;
  }

  /* Group the records into runs (records one after another in one
   * segment), give each its place in run_buffer, and read all the runs
   * at once: after random overwrites a sequential read finds its pages
   * in many places, and reading them one after another made every
   * request wait for each in turn. */
  const size_t space = vswap_run_buffer_size (store);
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
    vswap_io_unlocked (store);
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
        if (rk < 0 && still_there (store, page + k, ctx->run_address[k]))
          rk = read_closed_record (store, ctx, page + k, ctx->run_address[k],
                                   generation, page_out);
        if (rk < 0 && !still_there (store, page + k, ctx->run_address[k])) {
          ctx->run_generation[k] = 0;   /* moved: look again below */
          continue;
        }
        if (rk == -EIO)
          STAT_ADD (store, checksum_failures, 1);
        read_ok[k] = rk == 0;
        if (rk < 0 && r == 0)
          r = rk;
      }
    }
  }

  for (i = 0; i < count; i++) {
    int ri = 0;
    if (ctx->run_generation[i] == 0)
      ri = vswap_read_page (store, ctx, page + i,
                            out + (size_t) i * VSWAP_PAGE_SIZE, true);
    else if (read_ok[i]) {
      if (store->options.readtrim == VSWAP_READTRIM_ON)
        note_read_in (store, page + i,
                      vswap_map_stored (ctx->run_address[i]));
      else
        hint_read_in (store, page + i, ctx->run_address[i]);
    }
    if (ri < 0 && r == 0)
      r = ri;
  }
  return r;
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
  struct io_context *ctx = vswap_context_get (store);
  while (length > 0 && r == 0) {
    const struct piece p = vswap_next_piece (offset, length, RUN_PAGES);
    const uint64_t page = p.page;
    const uint32_t skip = p.skip, n = p.bytes;
    if (p.whole_pages) {
      STAT_ADD (store, host_read_pages, p.whole_pages);
      r = read_pages (store, ctx, page, p.whole_pages, out);
    }
    else {
      STAT_ADD (store, host_read_pages, 1);
      r = vswap_read_page (store, ctx, page, ctx->page, true);
      memcpy (out, ctx->page + skip, n);
    }
    out += n;
    offset += n;
    length -= n;
  }
  vswap_context_put (store, ctx);
  return r;
}
