/* vswap: the log writer.  Records are appended to a write head's RAM image
 * of its open segment and written to the medium in chunks: whole write
 * units, strictly in order, never outside the segment's sequential tail.
 * The medium writer thread writes what the heads seal, with the store
 * unlocked (doc/design.md).
 *
 * Called with store->lock held.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "store_internal.h"

/* Records whose bytes count towards a segment's live estimate: the ones
 * a map entry points at.  Same-filled records mapped through the pattern
 * table are small, like tombstones, and are not counted. */
static bool
is_data_record (uint8_t kind)
{
  return kind == VSWAP_RECORD_RAW || kind == VSWAP_RECORD_ZSTD;
}

/* Give HEAD the least erased free segment (wear levelling starts here),
 * erased first if it needs it.  No collection: the caller decided that it
 * may take one. */
int
vswap_take_segment (struct vswap_store *store, struct head *head)
{
  /* Another thread gave it one while this one let go of the lock. */
  if (head->segment >= 0)
    return 0;
  if (store->free_segments == 0)
    return -ENOSPC;

  int64_t best = -1;
  for (uint64_t i = 0; i < store->segment_count; i++) {
    const struct segment *s = &store->segments[i];
    if (s->state != SEGMENT_FREE)
      continue;
    if (best < 0 || s->erase_count < store->segments[best].erase_count ||
        (s->erase_count == store->segments[best].erase_count &&
         s->generation == 0 && store->segments[best].generation != 0))
      best = (int64_t) i;
  }
  assert (best >= 0);

  struct segment *s = &store->segments[best];
  if (s->needs_erase && store->medium->geometry.can_discard) {
    /* Programmed by a crash or an earlier life: erased first, with the
     * store unlocked; meanwhile nobody else takes it. */
    vswap_segment_set_state (s, SEGMENT_ERASING);
    store->free_segments--;
    vswap_unlock (store);
    vswap_io_unlocked (store);
    const int r = vswap_medium_discard (store->medium,
                                        segment_offset (store, best),
                                        store->segment_size);
    vswap_lock (store);
    store->free_segments++;
    vswap_segment_set_state (s, SEGMENT_FREE);
    if (r < 0)
      return r;
    STAT_ADD (store, media_discard_bytes, store->segment_size);
    s->needs_erase = false;
    if (head->segment >= 0)
      return 0;                 /* another thread gave it one meanwhile */
  }
  s->needs_erase = false;
  if (s->generation != 0 && s->stale_generation == 0)
    s->stale_generation = s->generation;
  vswap_segment_set_state (s, SEGMENT_OPEN);
  s->cold = head == store->gc_head && head != store->user_head;
  vswap_segment_set_generation (s, ++store->sequence);
  store->seals++;
  s->last_sequence = s->generation;
  s->data_records = s->data_bytes = s->state_records = 0;
  s->live_records = s->readin_records = 0;
  s->write_offset = 0;
  store->free_segments--;

  head->segment = best;
  head->generation = s->generation;
  head->fill = head->sealed = head->written = head->marked = 0;
  head->chunk_open = false;
  head->chunk_records = 0;
  vswap_buffer_note (store);
  return 0;
}

/* Take a free segment for HEAD, collecting first when free segments are
 * down to the reserve. */
static int
open_segment (struct vswap_store *store, struct head *head, bool tombstone)
{
  int r;

  /* The user head leaves the reserve to GC, so that GC always has
   * somewhere to copy live records to.  GC's own copies may use it. */
  while (!vswap_gc_is_collector (store) &&
         vswap_gc_short_of (store, store->reserve)) {
    if (store->collecting) {
      /* GC runs, with the lock let go while it waits for the medium:
       * wait for its result rather than take the reserve. */
      vswap_wait (store, &store->gc_done);
      if (head->segment >= 0)
        return 0;
      continue;
    }
    r = vswap_gc_make_room (store);
    /* A full store must still take trims, or it could never empty: a
     * tombstone may borrow one reserved segment (GC needs only one). */
    if (r == -ENOSPC && tombstone && store->free_segments > 1)
      r = 0;
    if (r < 0)
      return r;
    /* GC may have opened a segment for this very head (one open segment
     * shared by user and GC). */
    if (head->segment >= 0)
      return 0;
    break;
  }
  r = vswap_take_segment (store, head);
  if (r < 0)
    return r;
  vswap_gc_nudge (store);
  /* Without the background collector, while hot and cold data are kept
   * apart, collect now that this segment took the free ones down to the
   * reserve, not when the next one is needed: with the user head open, GC
   * can put the copies of recently written pages there, with their kind
   * (see head_for_copy in gc.c).  It keeps one more segment free
   * meanwhile, which costs more than it gains when nothing is hot. */
  if (store->separate && !vswap_gc_is_collector (store) &&
      !store->gc_thread_running &&
      !store->collecting && vswap_gc_short_of (store, store->reserve)) {
    r = vswap_gc_make_room (store);
    if (r < 0 && r != -ENOSPC)
      return r;
  }
  return 0;
}

/* Write what HEAD has sealed and not written, now, under the lock (no
 * medium writer). */
static int
write_sealed (struct vswap_store *store, struct head *head)
{
  const uint32_t from = head->written, to = head->sealed;
  if (to == from)
    return 0;
  vswap_io_unlocked (store);
  const int r = vswap_medium_write (store->medium, head->buffer + from,
                                    to - from,
                                    segment_offset (store, head->segment)
                                    + from);
  if (r < 0) {
    store->failed = r;
    STAT_ADD (store, io_errors, 1);
    return r;
  }
  STAT_ADD (store, media_write_bytes, to - from);
  STAT_ADD (store, media_writes, 1);
  if (from == 0)      /* the segment's old content is now unreachable */
    store->segments[head->segment].stale_generation = 0;
  head->written = to;
  vswap_buffer_note (store);
  return 0;
}

int
vswap_head_seal (struct vswap_store *store, struct head *head,
                 uint32_t flags)
{
  if (head->segment < 0 || !head->chunk_open)
    return 0;
  if (store->failed)
    return store->failed;

  /* The last chunk's summary goes out with this one (reserve kept room
   * for it). */
  vswap_place_summary (store, head, &head->summary);

  struct segment *s = &store->segments[head->segment];
  uint8_t *chunk = head->buffer + head->chunk_start;
  const uint32_t length = head->fill - head->chunk_start;
  struct vswap_chunk_header h = {
    .sequence = ++store->sequence,
    .generation = head->generation,
    .length = length,
    .record_count = head->chunk_records,
    .erase_count = s->erase_count,
    .flags = flags,
    /* vswap_checksum of the records, gathered as they were placed. */
    .body_checksum = (uint32_t) XXH3_64bits_digest (head->body),
  };
  memcpy (h.uuid, store->superblock.uuid, VSWAP_UUID_SIZE);
  vswap_chunk_header_encode (&h, chunk);
  store->seals++;

  assert (head->sealed == head->chunk_start);
  const uint32_t end = round_up (head->fill, store->write_unit);
  assert (end <= store->segment_size);
  memset (head->buffer + head->fill, 0, end - head->fill);
  STAT_ADD (store, media_padding_bytes, end - head->fill);
  vswap_summarise (store, head, head->chunk_start, end, h.sequence);
  head->fill = head->sealed = end;
  s->write_offset = end;
  head->chunk_open = false;
  head->chunk_records = 0;
  s->last_sequence = h.sequence;
  /* The write buffer must claim this sequence before the medium has it:
   * a newer chunk there says the buffer is stale. */
  vswap_buffer_note (store);

  if (store->writer_running) {
    pthread_cond_signal (&store->writer_wake);
    return 0;
  }
  return write_sealed (store, head);
}

/* ---- the medium writer ---- */

int
vswap_head_wait_written (struct vswap_store *store, struct head *head,
                         int64_t segment, uint32_t until)
{
  /* A head that left SEGMENT wrote all of it first (close_segment). */
  while (!store->failed && head->segment == segment &&
         head->written < until) {
    if (!store->writer_running && !head->writing) {
      /* No writer (any more): write it here. */
      const int r = write_sealed (store, head);
      if (r < 0)
        return r;
      continue;
    }
    vswap_wait (store, &store->written_moved);
  }
  return store->failed;
}

int
vswap_wait_written_all (struct vswap_store *store)
{
  for (int i = 0; i < 2; i++) {
    struct head *head = &store->heads[i];
    if (head->segment >= 0) {
      const int r = vswap_head_wait_written (store, head, head->segment,
                                             head->sealed);
      if (r < 0)
        return r;
    }
  }
  return store->failed;
}

/* Touch the stack the writer needs while memory is plentiful: under
 * mlockall (MCL_ONFAULT) the pages then stay (see gc.c). */
static void __attribute__ ((noinline))
touch_stack (void)
{
  volatile uint8_t pad[64 * 1024];
  for (size_t i = 0; i < sizeof pad; i += 1024)
    pad[i] = 0;
}

/* The writer: whatever a head has sealed and not written goes to the
 * medium, in one write per head (several chunks if they gathered), with
 * the store unlocked.  A head's writes are never two at a time, so its
 * chunks reach the medium in order (a zoned medium's write pointer
 * needs that). */
static void *
writer_main (void *arg)
{
  struct vswap_store *store = arg;

  touch_stack ();
  vswap_lock (store);
  while (!store->writer_stop) {
    struct head *head = NULL;
    for (int i = 0; i < 2 && !head; i++) {
      struct head *h = &store->heads[i];
      if (h->segment >= 0 && h->sealed > h->written && !store->failed)
        head = h;
    }
    if (!head) {
      vswap_wait (store, &store->writer_wake);
      continue;
    }
    const int64_t segment = head->segment;
    const uint32_t from = head->written, to = head->sealed;
    const uint8_t *buffer = head->buffer;
    head->writing = true;
    vswap_unlock (store);
    vswap_io_unlocked (store);
    const int r = vswap_medium_write (store->medium, buffer + from, to - from,
                                      segment_offset (store, segment) + from);
    vswap_lock (store);
    head->writing = false;
    /* The head cannot have left the segment meanwhile: leaving waits for
     * these writes (vswap_close_segment). */
    assert (head->segment == segment);
    if (r < 0) {
      store->failed = r;
      STAT_ADD (store, io_errors, 1);
    }
    else {
      STAT_ADD (store, media_write_bytes, to - from);
      STAT_ADD (store, media_writes, 1);
      if (from == 0)
        store->segments[segment].stale_generation = 0;
      head->written = to;
      vswap_buffer_note (store);
    }
    pthread_cond_broadcast (&store->written_moved);
  }
  vswap_unlock (store);
  return NULL;
}

int
vswap_writer_start (struct vswap_store *store)
{
  if (store->writer_running || store->options.read_only)
    return 0;
  store->writer_stop = false;
  const int r = pthread_create (&store->writer, NULL, writer_main, store);
  if (r != 0)
    return -r;
  vswap_lock (store);
  store->writer_running = true;
  /* Anything sealed before it started. */
  pthread_cond_signal (&store->writer_wake);
  vswap_unlock (store);
  return 0;
}

void
vswap_writer_stop (struct vswap_store *store)
{
  if (!store->writer_running)
    return;
  vswap_lock (store);
  store->writer_stop = true;
  pthread_cond_signal (&store->writer_wake);
  vswap_unlock (store);
  pthread_join (store->writer, NULL);
  vswap_lock (store);
  store->writer_running = false;
  /* Whoever waits for a write that will not come now. */
  pthread_cond_broadcast (&store->written_moved);
  vswap_unlock (store);
}

/* Close HEAD's segment: its last chunk says so, reads go to the medium. */
int
vswap_close_segment (struct vswap_store *store, struct head *head)
{
  /* Another thread is closing it: wait for that. */
  if (head->closing) {
    while (head->closing)
      vswap_wait (store, &store->written_moved);
    return store->failed;
  }
  int r = vswap_head_seal (store, head, VSWAP_CHUNK_LAST);
  if (r < 0)
    return r;
  /* Reads of a closed segment go to the medium, and the image is taken
   * for the next segment: its chunks must be there first.  Meanwhile
   * (the lock is let go) nothing more may be appended (reserve). */
  const int64_t segment = head->segment;
  head->closing = true;
  r = vswap_head_wait_written (store, head, segment, head->sealed);
  head->closing = false;
  pthread_cond_broadcast (&store->written_moved);
  if (r < 0)
    return r;
  assert (head->segment == segment);
  vswap_segment_set_state (&store->segments[head->segment],
                           SEGMENT_CLOSED);
  head->segment = -1;
  vswap_buffer_note (store);
  /* Nothing more goes into this segment until it is erased: a zoned
   * device stops counting it as open (or active) only when told, with
   * the store unlocked.  If that fails the data is safe all the same;
   * the zone is reset when GC frees it. */
  vswap_unlock (store);
  vswap_io_unlocked (store);
  (void) vswap_medium_finish (store->medium, segment_offset (store, segment),
                              store->segment_size);
  vswap_lock (store);
  return 0;
}

/* Start a chunk at the head's fill point: room for its header, which is
 * filled in when the chunk is sealed. */
void
vswap_open_chunk (struct vswap_store *store, struct head *head)
{
  const uint32_t start = vswap_chunk_records_start (store->address_shift);
  head->chunk_start = head->fill;
  memset (head->buffer + head->fill, 0, start);
  /* The records start at the address unit: what lies between them and
   * the 64-byte header is in the body too. */
  XXH3_64bits_reset_withSeed (head->body, store->seed);
  XXH3_64bits_update (head->body, head->buffer + head->fill
                      + VSWAP_CHUNK_HEADER_SIZE,
                      start - VSWAP_CHUNK_HEADER_SIZE);
  head->entry_count = 0;
  head->fill += start;
  head->chunk_open = true;
  head->chunk_records = 0;
}

/* Make room for SIZE record bytes in *HEADP (opening a chunk if needed)
 * and return where they go.  A user data record (DATA: RAW or ZSTD) may
 * go to the GC head instead (see vswap_gc_borrow_head): *HEADP says where
 * it went.  Every record carries its stamp, so a page's records may sit
 * in any heads. */
static int
reserve (struct vswap_store *store, struct head **headp, uint32_t size,
         bool tombstone, bool data, uint8_t **where, uint32_t *address)
{
  struct head *const own = *headp;
  struct head *head = own;
  int r;

  if (store->failed)
    return store->failed;
  for (;;) {
    if (head->closing) {
      /* Another thread closes this head's segment: its next one comes
       * after that. */
      vswap_wait (store, &store->written_moved);
      if (store->failed)
        return store->failed;
      continue;
    }
    if (head->segment >= 0) {
      /* A chunk holds at most VSWAP_MAX_CHUNK_RECORDS records, its
       * predecessor's summary included. */
      if (head->chunk_open &&
          head->chunk_records + 2 + vswap_summary_record_count (&head->summary)
          > VSWAP_MAX_CHUNK_RECORDS) {
        r = vswap_head_seal (store, head, 0);
        if (r < 0)
          return r;
      }
      /* The pending summary must still fit when the chunk is sealed. */
      const uint32_t need = size + (head->chunk_open ? 0
                                    : vswap_chunk_records_start
                                    (store->address_shift))
        + vswap_summary_room (&head->summary);
      if ((uint64_t) head->fill + need <= store->segment_size)
        break;
      r = vswap_close_segment (store, head);
      if (r < 0)
        return r;
      /* Closing let go of the lock: another thread may have given the
       * head a segment since.  A borrowed head goes back to its owner. */
      head = *headp = own;
      continue;
    }
    head = *headp = own;
    if (head == store->user_head && data) {
      struct head *const borrowed = vswap_gc_borrow_head (store, size);
      if (borrowed) {
        head = *headp = borrowed;
        continue;
      }
    }
    r = open_segment (store, head, tombstone);
    if (r < 0)
      return r;
  }
  if (!head->chunk_open)
    vswap_open_chunk (store, head);
  *where = head->buffer + head->fill;
  *address = (uint32_t) ((segment_offset (store, head->segment) + head->fill)
                         >> store->address_shift);
  return 0;
}

/* A threshold seal waits for padding under this fraction of a unit. */
#define SEAL_PADDING_FRACTION 16

/* Account for a record just placed, and write the chunk out once enough
 * has gathered. */
static int
commit (struct vswap_store *store, struct head *head, uint32_t size,
        bool data)
{
  struct segment *s = &store->segments[head->segment];
  const uint8_t *record = head->buffer + head->fill;

  /* What its chunk's seal needs: its checksum, and its summary entry. */
  XXH3_64bits_update (head->body, record, size);
  if (vswap_record_kind_is_page (record[6])) {
    assert (head->entry_count < VSWAP_MAX_CHUNK_RECORDS);
    const uint64_t extent = vswap_get64 (record + 16);
    head->entries[head->entry_count++] = (struct summary_entry) {
      .page = vswap_get32 (record),
      .count = vswap_record_kind_is_range (record[6]) ? (uint32_t) extent : 1,
      .stamp = vswap_get64 (record + 8),
    };
  }
  head->fill += size;
  head->chunk_records++;
  if (data) {
    s->data_records++;
    s->data_bytes += size;
  }
  /* The record is in place: from here a killed server's successor
   * replays it. */
  vswap_buffer_note (store);
  /* A seal pads the chunk to the write unit.  Records a little larger
   * than the unit cross a unit-aligned threshold just past a unit's
   * start, padding nearly a whole unit each time: in the threshold's last
   * eighth, seal early where a record ends near a unit's end.  Not when
   * the chunk is the whole segment: its end is the segment's, and an
   * early seal would only leave room for fewer records after it. */
  const uint32_t unsealed = head->fill - head->sealed;
  const uint32_t padding = (uint32_t) (round_up (head->fill, store->write_unit)
                                       - head->fill);
  if (unsealed >= store->seal_threshold ||
      (store->seal_threshold < store->segment_size &&
       unsealed >= store->seal_threshold - store->seal_threshold / 8 &&
       padding <= store->write_unit / SEAL_PADDING_FRACTION))
    return vswap_head_seal (store, head, 0);
  return 0;
}

int
vswap_head_append (struct vswap_store *store, struct head *head,
                   struct vswap_record_header *header,
                   const void *payload, uint32_t *address)
{
  const uint32_t size = vswap_record_size (header->payload_length,
                                           store->address_shift);
  /* Tombstones, summaries and the lifetime record are small and must get
   * through on a full store (see open_segment). */
  const bool tombstone = vswap_record_kind_is_range (header->kind) ||
    header->kind == VSWAP_RECORD_LIFETIME ||
    header->kind == VSWAP_RECORD_SUMMARY;
  uint8_t *where;
  int r = reserve (store, &head, size, tombstone,
                   is_data_record (header->kind), &where, address);
  if (r < 0)
    return r;
  if (header->stamp == 0)
    header->stamp = ++store->sequence;
  vswap_record_header_encode (header, store->seed, head->generation, where);
  if (vswap_record_kind_is_range (header->kind) ||
      header->kind == VSWAP_RECORD_SAME)
    store->segments[head->segment].state_records++;
  if (header->payload_length)
    memcpy (where + VSWAP_RECORD_HEADER_SIZE, payload,
            header->payload_length);
  memset (where + VSWAP_RECORD_HEADER_SIZE + header->payload_length, 0,
          size - VSWAP_RECORD_HEADER_SIZE - header->payload_length);
  return commit (store, head, size, is_data_record (header->kind));
}

int
vswap_head_append_encoded (struct vswap_store *store, struct head *head,
                           const uint8_t *record, uint32_t size, bool data,
                           uint32_t *address)
{
  uint8_t *where;
  int r = reserve (store, &head, size, false, data, &where, address);
  if (r < 0)
    return r;
  memcpy (where, record, size);
  vswap_record_header_restamp (where, store->seed, head->generation);
  if (where[6] == VSWAP_RECORD_SUMMARY)
    store->segments[head->segment].state_records++;
  return commit (store, head, size, data);
}


/* Take up a segment the last open left half written and closed cleanly:
 * appending to it wastes nothing and opens no new erase block. */
static void
resume_head (struct vswap_store *store, struct head *head)
{
 again:;
  int64_t best = -1;
  for (uint64_t i = 0; i < store->segment_count; i++) {
    const struct segment *s = &store->segments[i];
    if (s->state != SEGMENT_CLOSED || !s->clean_tail ||
        s->write_offset + 2 * VSWAP_CHUNK_HEADER_SIZE
        + VSWAP_RECORD_HEADER_SIZE + 4096 > store->segment_size)
      continue;
    if (best < 0 || s->last_sequence > store->segments[best].last_sequence)
      best = (int64_t) i;
  }
  if (best < 0)
    return;
  struct segment *s = &store->segments[best];
  /* Reads of an open segment are served from its RAM image: load it,
   * and all that follows, which must never have been programmed: a write
   * torn before its chunk header landed leaves no chunk but programmed
   * bytes, and a volatile write cache may have lost a chunk but kept a
   * later one (flash programs a block's pages in order only). */
  const uint32_t n = store->segment_size;
  if (vswap_medium_read (store->medium, head->buffer, n,
                         segment_offset (store, best)) < 0)
    return;
  STAT_ADD (store, media_read_bytes, n);
  if (!is_blank (head->buffer + s->write_offset, n - s->write_offset)) {
    s->clean_tail = false;
    goto again;
  }
  vswap_segment_set_state (s, SEGMENT_OPEN);
  s->clean_tail = false;
  head->segment = best;
  head->generation = s->generation;
  head->fill = head->sealed = head->written = head->marked =
    s->write_offset;
  head->chunk_open = false;
  head->chunk_records = 0;
}

void
vswap_resume_heads (struct vswap_store *store)
{
  resume_head (store, store->user_head);
  if (store->gc_head != store->user_head)
    resume_head (store, store->gc_head);
  /* A segment left half written by a crash, or by a clean close whose
   * head was not taken up again, would stay open on a zoned device and
   * eat into its open-zone budget until GC frees it. */
  for (uint64_t i = 0; i < store->segment_count; i++)
    if (store->segments[i].state == SEGMENT_CLOSED)
      (void) vswap_medium_finish (store->medium, segment_offset (store, i),
                                  store->segment_size);
}

int
vswap_store_seal_all (struct vswap_store *store)
{
  for (int i = 0; i < 2; i++) {
    if (i == 1 && store->gc_head == store->user_head)
      break;
    const int r = vswap_head_seal (store, &store->heads[i], 0);
    if (r < 0)
      return r;
  }
  return 0;
}
