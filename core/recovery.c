/* vswap: rebuilding the map from the medium, and checking it.
 *
 * Every chunk carries a global sequence number; replaying all chunks in
 * that order rebuilds the map exactly as it was.  Segments are read one
 * at a time in the order of their generation; only segments that were
 * open together (the user and GC heads) interleave, so a merge over the
 * few segments whose ranges overlap replays everything in order while
 * holding only those few in memory.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_codec.h"
#include "store_internal.h"

static void
report (struct vswap_store *store, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static void
report (struct vswap_store *store, const char *fmt, ...)
{
  char message[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (message, sizeof message, fmt, ap);
  va_end (ap);
  if (!store->options.report)
    return;
  store->options.report (store->options.report_opaque, message);
}

/* Damaged chunk headers a segment's chain steps over: at most this many
 * per segment (rot is rare; more ends the chain as before). */
#define GAPS 8

/* One segment being replayed: its image and the chain of its chunks. */
struct replay {
  uint64_t segment;
  uint8_t *image;
  uint32_t *chunks;             /* offsets of valid chunks, in order */
  uint32_t chunk_count;
  uint32_t next;                /* index of the next chunk to replay */
  /* Programmed stretches whose chunk header does not verify, with a valid
   * chunk of the segment after them: [gap_start, gap_end), written before
   * the chunk of sequence gap_upper. */
  uint32_t gap_start[GAPS], gap_end[GAPS];
  uint64_t gap_upper[GAPS];
  uint32_t gap_count;
};

/* Is there a chunk header of this store and GENERATION at IMAGE + OFFSET,
 * newer than PREVIOUS, that fits the segment?  Fills *H. */
static bool
chunk_at (const struct vswap_store *store, uint64_t generation,
          const uint8_t *image, uint32_t offset, uint64_t previous,
          struct vswap_chunk_header *h)
{
  return vswap_chunk_header_decode (image + offset, h) &&
    memcmp (h->uuid, store->superblock.uuid, VSWAP_UUID_SIZE) == 0 &&
    h->generation == generation && h->sequence > previous &&
    h->length >= VSWAP_CHUNK_HEADER_SIZE &&
    h->length <= store->segment_size - offset;
}

/* The first chunk of GENERATION after OFFSET (write units apart), or 0. */
static uint32_t
next_chunk (const struct vswap_store *store, uint64_t generation,
            const uint8_t *image, uint32_t offset, uint64_t previous,
            struct vswap_chunk_header *h)
{
  for (uint32_t at = offset + store->write_unit;
       at + VSWAP_CHUNK_HEADER_SIZE <= store->segment_size;
       at += store->write_unit)
    if (chunk_at (store, generation, image, at, previous, h))
      return at;
  return 0;
}

/* Walk the chunk chain of a segment image: chunks of this store and this
 * generation, with increasing sequence numbers.  The first one that does
 * not fit ends the segment's content. */
static void
find_chunks (const struct vswap_store *store, uint64_t generation,
             struct replay *r)
{
  uint32_t offset = 0;
  uint64_t previous = 0;

  r->chunk_count = 0;
  r->gap_count = 0;
  while (offset + VSWAP_CHUNK_HEADER_SIZE <= store->segment_size) {
    struct vswap_chunk_header h;
    if (!chunk_at (store, generation, r->image, offset, previous, &h)) {
      /* Blank: the end of the log.  Programmed, with a valid chunk of
       * this segment further on: a header rotted (a torn write is the
       * last of its segment), and the chain goes on after it; what the
       * damaged chunk held is settled in note_gaps. */
      if (is_blank (r->image + offset, store->write_unit) ||
          r->gap_count == GAPS)
        break;
      const uint32_t next = next_chunk (store, generation, r->image, offset,
                                        previous, &h);
      if (next == 0)
        break;
      r->gap_start[r->gap_count] = offset;
      r->gap_end[r->gap_count] = next;
      r->gap_upper[r->gap_count] = h.sequence;
      r->gap_count++;
      offset = next;
    }
    r->chunks[r->chunk_count++] = offset;
    previous = h.sequence;
    offset = round_up (offset + h.length, store->write_unit);
  }
}

static uint64_t
chunk_sequence (const struct replay *r)
{
  return vswap_get64 (r->image + r->chunks[r->next] + 24);
}

/* Apply one record found at ADDRESS. */
static void
apply_record (struct vswap_store *store, struct segment *s,
              const struct vswap_record_header *h, uint32_t address,
              uint32_t size)
{
  const uint64_t page = h->logical_page;

  if (h->kind == VSWAP_RECORD_ZERO || h->kind == VSWAP_RECORD_TRIM ||
      h->kind == VSWAP_RECORD_SAME)
    s->state_records++;
  switch (h->kind) {
  case VSWAP_RECORD_LIFETIME:
    return;                     /* replay_chunk decodes it */
  case VSWAP_RECORD_ZERO:
  case VSWAP_RECORD_TRIM:
    for (uint64_t p = page; p < page + h->count && p < store->pages; p++) {
      vswap_map_release (store, p);
      store->map[p] = h->kind == VSWAP_RECORD_ZERO ? VSWAP_MAP_ZERO
        : VSWAP_MAP_UNMAPPED;
    }
    return;
  default:
    vswap_map_release (store, page);
    if (h->kind == VSWAP_RECORD_SAME) {
      const int32_t index = vswap_pattern_acquire (&store->patterns,
                                                   h->pattern);
      if (index >= 0) {
        store->map[page] = vswap_map_same ((uint32_t) index);
        return;
      }
    }
    s->data_records++;
    s->data_bytes += size;
    vswap_map_point (store, page, address);
  }
}

/* Damaged records in the last chunk of a segment.  Torn (written after
 * the last flush, then cut by a crash: the previous copy stays) or rotted
 * (flushed, then damaged: the page must read EIO) can only be told at the
 * end, from the newest durability marker (a CLEAN chunk).  They are
 * applied as rot, and undone at the end if they turn out torn. */
#define SUSPECTS 4096

struct suspect {
  uint32_t page;
  uint32_t address;             /* of the damaged record */
  vswap_map_entry previous;     /* what the page held before it */
  uint64_t pattern;             /* if that was same-filled */
  uint64_t sequence;            /* of its chunk */
  uint64_t segment;
  uint32_t offset;
  bool alone;                   /* its chunk is its segment's only one,
                                   and a tear cut it short */
};

struct verdicts {
  uint64_t newest_marker;       /* sequence of the newest CLEAN chunk */
  struct suspect suspects[SUSPECTS];
  size_t count;
  /* Per page, allocated at the first damaged chunk header: the page has a
   * record behind such a header, written before the chunk of this
   * sequence, in an order no longer known.  Unless a record at least that
   * new replaces it, the page reads as an error: its older version might
   * be the one the map holds. */
  uint64_t *doubt;
};

/* Decode the record header at AT of a chunk of GENERATION and LENGTH
 * bytes: false if it does not verify or its record would overrun the
 * chunk.  Sets *REC and *SIZE. */
static bool
record_header_ok (const struct vswap_store *store, uint64_t generation,
                  const uint8_t *chunk, uint32_t length, uint32_t at,
                  struct vswap_record_header *rec, uint32_t *size)
{
  if (at + VSWAP_RECORD_HEADER_SIZE > length ||
      !vswap_record_header_decode (chunk + at, store->seed, generation, rec))
    return false;
  *size = vswap_record_size (rec->payload_length, store->address_shift);
  return at + *size <= round_up (length, 16);
}

/* Does the payload of the record REC at AT verify?  Tombstones carry no
 * payload, and no payload checksum; a LIFETIME record's is seeded with
 * page 0. */
static bool
record_payload_ok (const struct vswap_store *store, const uint8_t *chunk,
                   uint32_t at, const struct vswap_record_header *rec)
{
  return rec->kind == VSWAP_RECORD_ZERO || rec->kind == VSWAP_RECORD_TRIM ||
    vswap_payload_checksum (chunk + at + VSWAP_RECORD_HEADER_SIZE,
                            rec->payload_length, store->seed,
                            rec->kind == VSWAP_RECORD_LIFETIME ? 0
                            : rec->logical_page) == rec->payload_checksum;
}

static void
replay_chunk (struct vswap_store *store, struct replay *r,
              struct verdicts *v)
{
  const uint32_t offset = r->chunks[r->next];
  const uint8_t *chunk = r->image + offset;
  struct segment *s = &store->segments[r->segment];
  struct vswap_chunk_header h;
  const uint64_t base = segment_offset (store, r->segment);

  vswap_chunk_header_decode (chunk, &h);
  const bool body_ok =
    vswap_checksum (chunk + VSWAP_CHUNK_HEADER_SIZE,
                    h.length - VSWAP_CHUNK_HEADER_SIZE, store->seed)
    == h.body_checksum;
  /* Writes go out one chunk at a time, in sequence order, so a crash can
   * tear only the last chunk of a segment, and only if no durability
   * marker follows it (decided at the end, see struct verdicts).  Damage
   * anywhere else is rot of flushed data: the page reads as an error,
   * never as an older version. */
  const bool suspect = !body_ok && r->next + 1 == r->chunk_count &&
    !(h.flags & VSWAP_CHUNK_CLEAN);
  /* The flag is in the verified header: the marker counts even if a bit
   * of its body (a lifetime record) was damaged. */
  if ((h.flags & VSWAP_CHUNK_CLEAN) && h.sequence > v->newest_marker)
    v->newest_marker = h.sequence;

  s->write_offset = round_up (offset + h.length, store->write_unit);
  s->clean_tail = (h.flags & VSWAP_CHUNK_CLEAN) && body_ok;

  if (h.sequence > store->sequence)
    store->sequence = h.sequence;
  s->last_sequence = h.sequence;

  uint32_t at = vswap_chunk_records_start (store->address_shift);
  for (uint32_t i = 0; i < h.record_count; i++) {
    struct vswap_record_header rec;
    uint32_t size;
    if (!record_header_ok (store, h.generation, chunk, h.length, at, &rec,
                           &size)) {
      report (store, "segment %" PRIu64 " offset %" PRIu32 ": %s record "
              "header; the rest of this chunk (%" PRIu32 " records) is "
              "skipped", r->segment, offset + at,
              suspect ? "torn or damaged" : "damaged", h.record_count - i);
      break;
    }
    if ((uint64_t) rec.logical_page + rec.count > store->pages) {
      report (store, "segment %" PRIu64 " offset %" PRIu32 ": record for "
              "page %" PRIu32 " is beyond the logical size; ignored",
              r->segment, offset + at, rec.logical_page);
      at += size;
      continue;
    }
    if (!body_ok && !record_payload_ok (store, chunk, at, &rec)) {
      const uint32_t address =
        (uint32_t) ((base + offset + at) >> store->address_shift);
      if (suspect && v->count < SUSPECTS &&
          (rec.kind == VSWAP_RECORD_RAW || rec.kind == VSWAP_RECORD_ZSTD)) {
        const vswap_map_entry e = store->map[rec.logical_page];
        struct suspect *x = &v->suspects[v->count++];
        x->page = rec.logical_page;
        x->address = address;
        x->previous = e;
        x->pattern = vswap_map_is_same (e) ?
          vswap_pattern_get (&store->patterns, vswap_map_pattern_index (e))
          : 0;
        x->sequence = h.sequence;
        x->segment = r->segment;
        x->offset = offset + at;
        /* A tear lands a prefix of the write: the chunk's last unit is
         * then still blank (rot leaves it programmed). */
        x->alone = offset == 0 && r->chunk_count == 1 &&
          is_blank (chunk + round_down (h.length - 1, store->write_unit),
                    store->write_unit);
      }
      else
        report (store, "page %" PRIu32 ": checksum mismatch (segment %"
                PRIu64 " offset %" PRIu32 "); reading it returns an I/O "
                "error", rec.logical_page, r->segment, offset + at);
    }
    if (rec.kind == VSWAP_RECORD_LIFETIME &&
        record_payload_ok (store, chunk, at, &rec)) {
      vswap_lifetime_decode (store, chunk + at + VSWAP_RECORD_HEADER_SIZE,
                             rec.payload_length);
      store->lifetime_address =
        (uint32_t) ((base + offset + at) >> store->address_shift);
    }
    apply_record (store, s, &rec,
                  (uint32_t) ((base + offset + at) >> store->address_shift),
                  size);
    if (v->doubt && rec.kind != VSWAP_RECORD_LIFETIME)
      for (uint64_t p = rec.logical_page;
           p < (uint64_t) rec.logical_page + rec.count && p < store->pages;
           p++)
        if (v->doubt[p] && h.sequence >= v->doubt[p])
          v->doubt[p] = 0;      /* replaced by a record known newer */
    at += size;
  }
}

/* A damaged record no durability marker came after was torn by the crash:
 * give its page back the copy it had, unless a later record replaced it. */
static void
decide_suspects (struct vswap_store *store, const struct verdicts *v)
{
  if (v->count)
    store->torn_pages = calloc (v->count, sizeof *store->torn_pages);
  store->torn_segment = -1;
  for (size_t i = v->count; i-- > 0; ) {
    const struct suspect *x = &v->suspects[i];
    const bool torn = x->sequence > v->newest_marker;
    report (store, "page %" PRIu32 ": %s (segment %" PRIu64 " offset %"
            PRIu32 ")%s", x->page,
            torn ? "torn write after a crash" : "checksum mismatch",
            x->segment, x->offset,
            torn ? "; the previous copy is kept" :
            "; reading it returns an I/O error");
    if (!torn || store->map[x->page] != vswap_map_stored (x->address))
      continue;
    vswap_map_release (store, x->page);
    if (store->torn_pages)
      store->torn_pages[store->torn_page_count++] = x->page;
    /* One segment holding nothing but the torn write: see
     * vswap_store_open for what it is good for. */
    if (store->torn_page_count == 1 && x->alone)
      store->torn_segment = (int64_t) x->segment;
    else if (!x->alone || store->torn_segment != (int64_t) x->segment)
      store->torn_segment = -2;
    if (vswap_map_is_stored (x->previous))
      vswap_map_point (store, x->page, vswap_map_address (x->previous));
    else if (vswap_map_is_same (x->previous)) {
      const int32_t index = vswap_pattern_acquire (&store->patterns,
                                                   x->pattern);
      /* The slot was just released, so there is room again. */
      store->map[x->page] = index >= 0 ? vswap_map_same ((uint32_t) index)
        : VSWAP_MAP_UNMAPPED;
    }
    else
      store->map[x->page] = x->previous;
  }
}

static int
compare_generation (const void *a, const void *b, void *segments)
{
  const struct segment *s = segments;
  const uint64_t ga = s[*(const uint64_t *) a].generation;
  const uint64_t gb = s[*(const uint64_t *) b].generation;
  return ga < gb ? -1 : ga > gb;
}

static bool
chunk_body_ok (const struct vswap_store *store, const uint8_t *chunk,
               const struct vswap_chunk_header *h)
{
  return h->length >= VSWAP_CHUNK_HEADER_SIZE &&
    vswap_checksum (chunk + VSWAP_CHUNK_HEADER_SIZE,
                    h->length - VSWAP_CHUNK_HEADER_SIZE, store->seed)
    == h->body_checksum;
}

/* Does the record at AT of a chunk of GENERATION verify, header and
 * payload?  Sets *SIZE. */
static bool
record_ok (const struct vswap_store *store, uint64_t generation,
           const uint8_t *chunk, uint32_t length, uint32_t at,
           uint32_t *size)
{
  struct vswap_record_header rec;
  return record_header_ok (store, generation, chunk, length, at, &rec, size)
    && record_payload_ok (store, chunk, at, &rec);
}

/* Replace the records of CHUNK that do not verify with those of COPY (the
 * same chunk read again) that do. */
static void
patch_records (const struct vswap_store *store,
               const struct vswap_chunk_header *h, uint8_t *chunk,
               const uint8_t *copy)
{
  uint32_t at = vswap_chunk_records_start (store->address_shift);
  for (uint32_t i = 0; i < h->record_count; i++) {
    uint32_t size;
    if (!record_ok (store, h->generation, chunk, h->length, at, &size)) {
      if (!record_ok (store, h->generation, copy, h->length, at, &size))
        return;                 /* where the next one starts is unknown */
      memcpy (chunk + at, copy + at, size);
    }
    at += size;
  }
}

/* Does the image look damaged: a chunk whose body does not verify, or a
 * chain that ends where something was programmed? */
static bool
looks_damaged (const struct vswap_store *store, const struct replay *r)
{
  uint32_t end = 0;
  for (uint32_t i = 0; i < r->chunk_count; i++) {
    struct vswap_chunk_header h;
    const uint8_t *chunk = r->image + r->chunks[i];
    if (!vswap_chunk_header_decode (chunk, &h) || r->gap_count)
      return true;
    if (vswap_checksum (chunk + VSWAP_CHUNK_HEADER_SIZE,
                        h.length - VSWAP_CHUNK_HEADER_SIZE, store->seed)
        != h.body_checksum)
      return true;
    end = round_up (r->chunks[i] + h.length, store->write_unit);
  }
  return end < store->segment_size &&
    !is_blank (r->image + end, store->write_unit);
}

/* The records of the chunks whose headers rotted cannot be placed in the
 * log's order any more: their pages become doubtful (struct verdicts).
 * Their own headers still verify, and say which pages they are. */
static int
note_gaps (struct vswap_store *store, const struct replay *r,
           struct verdicts *v)
{
  const uint64_t generation = store->segments[r->segment].generation;

  if (r->gap_count && !v->doubt) {
    v->doubt = calloc (store->pages, sizeof *v->doubt);
    if (!v->doubt)
      return -ENOMEM;
  }
  for (uint32_t g = 0; g < r->gap_count; g++) {
    uint32_t at = r->gap_start[g]
      + vswap_chunk_records_start (store->address_shift);
    uint64_t pages = 0;
    while (at + VSWAP_RECORD_HEADER_SIZE <= r->gap_end[g]) {
      struct vswap_record_header rec;
      if (!vswap_record_header_decode (r->image + at, store->seed,
                                       generation, &rec))
        break;
      if (rec.kind != VSWAP_RECORD_LIFETIME)
        for (uint64_t p = rec.logical_page;
             p < (uint64_t) rec.logical_page + rec.count && p < store->pages;
             p++) {
          if (v->doubt[p] < r->gap_upper[g])
            v->doubt[p] = r->gap_upper[g];
          pages++;
        }
      at += vswap_record_size (rec.payload_length, store->address_shift);
    }
    report (store, "segment %" PRIu64 " offset %" PRIu32 ": damaged chunk "
            "header; the chain goes on at offset %" PRIu32 ", and the %"
            PRIu64 " pages the damaged chunk holds read as errors unless "
            "written later", r->segment, r->gap_start[g], r->gap_end[g],
            pages);
  }
  return 0;
}

static int
load_segment (struct vswap_store *store, uint64_t segment, struct replay *r,
              struct verdicts *v)
{
  r->segment = segment;
  r->next = 0;
  /* What does not verify is read once more: a bit flipped on the way
   * from the medium must not end a segment's chain early and bring back
   * older versions of the pages after it. */
  for (int attempt = 0; attempt < 2; attempt++) {
    const int ret = vswap_medium_read (store->medium, r->image,
                                       store->segment_size,
                                       segment_offset (store, segment));
    if (ret < 0)
      return ret;
    STAT_ADD (store, media_read_bytes, store->segment_size);
    find_chunks (store, store->segments[segment].generation, r);
    if (!looks_damaged (store, r))
      break;
    STAT_ADD (store, read_retries, 1);
  }
  /* A chunk that still does not verify is read on its own a few times
   * more, and each record that verifies in a new copy replaces one that
   * does not: one flipped bit in a record header hides every record after
   * it in the chunk, and their pages would keep older versions. */
  uint8_t *copy = NULL;
  for (uint32_t i = 0; i < r->chunk_count; i++) {
    uint8_t *chunk = r->image + r->chunks[i];
    struct vswap_chunk_header h;
    vswap_chunk_header_decode (chunk, &h);
    const uint32_t length = round_up (h.length, store->read_unit);
    for (int attempt = 0; attempt < 4 && !chunk_body_ok (store, chunk, &h);
         attempt++) {
      if (!copy && posix_memalign ((void **) &copy, VSWAP_MEDIUM_BUFFER_ALIGN,
                                   store->segment_size))
        return -ENOMEM;
      const int ret = vswap_medium_read (store->medium, copy, length,
                                         segment_offset (store, segment)
                                         + r->chunks[i]);
      if (ret < 0) {
        free (copy);
        return ret;
      }
      STAT_ADD (store, media_read_bytes, length);
      STAT_ADD (store, read_retries, 1);
      patch_records (store, &h, chunk, copy);
    }
  }
  free (copy);
  return note_gaps (store, r, v);
}

/* Is there a chunk of this store in SEGMENT after its first write unit?
 * Fills *H with the first one.  1 yes, 0 no, or -errno. */
static int
find_later_chunk (struct vswap_store *store, uint64_t segment,
                  struct vswap_chunk_header *h)
{
  uint8_t *image;
  int r;

  if (posix_memalign ((void **) &image, VSWAP_MEDIUM_BUFFER_ALIGN,
                      store->segment_size))
    return -ENOMEM;
  r = vswap_medium_read (store->medium, image, store->segment_size,
                         segment_offset (store, segment));
  if (r == 0) {
    STAT_ADD (store, media_read_bytes, store->segment_size);
    for (uint32_t at = store->write_unit;
         at + VSWAP_CHUNK_HEADER_SIZE <= store->segment_size;
         at += store->write_unit)
      if (vswap_chunk_header_decode (image + at, h) &&
          chunk_at (store, h->generation, image, at, 0, h)) {
        r = 1;
        break;
      }
  }
  free (image);
  return r;
}

int
vswap_recover (struct vswap_store *store, struct vswap_error *err)
{
  const uint32_t header_read = store->read_unit > VSWAP_CHUNK_HEADER_SIZE ?
    store->read_unit : VSWAP_CHUNK_HEADER_SIZE;
  uint8_t *header = NULL;
  uint64_t *order = NULL;
  struct replay *active = NULL;
  size_t active_count = 0, active_size = 0;
  uint64_t ordered = 0;
  int r = 0;
  struct verdicts *verdicts = calloc (1, sizeof *verdicts);

  /* 1. Which segments hold content of this store, and of which age. */
  if (posix_memalign ((void **) &header, VSWAP_MEDIUM_BUFFER_ALIGN,
                      round_up (header_read, VSWAP_MEDIUM_BUFFER_ALIGN)))
    return vswap_error_set (err, ENOMEM, "out of memory");
  order = calloc (store->segment_count, sizeof *order);
  if (!order || !verdicts) {
    r = vswap_error_set (err, ENOMEM, "out of memory");
    goto out;
  }
  for (uint64_t i = 1; i + 1 < store->segment_count; i++) {
    struct segment *s = &store->segments[i];
    struct vswap_chunk_header h;
    bool ours = false;
    /* A header that does not verify over programmed bytes is read once
     * more: a bit flipped in transit must not make a segment look free. */
    for (int attempt = 0; attempt < 2 && !ours; attempt++) {
      r = vswap_medium_read (store->medium, header, header_read,
                             segment_offset (store, i));
      if (r < 0) {
        vswap_error_set (err, -r, "%s: reading segment %" PRIu64 ": %s",
                         store->medium->description, i, vswap_strerror (-r));
        goto out;
      }
      ours = vswap_chunk_header_decode (header, &h) &&
        memcmp (h.uuid, store->superblock.uuid, VSWAP_UUID_SIZE) == 0;
      if (ours || is_blank (header, header_read))
        break;
    }
    /* Programmed, but no header: a first chunk torn by a crash, or one
     * whose header rotted.  A chunk of this store further on tells rot,
     * and the segment is replayed from there (find_chunks). */
    if (!ours && !is_blank (header, header_read)) {
      r = find_later_chunk (store, i, &h);
      if (r < 0) {
        vswap_error_set (err, -r, "%s: reading segment %" PRIu64 ": %s",
                         store->medium->description, i, vswap_strerror (-r));
        goto out;
      }
      ours = r > 0;
      r = 0;
    }
    if (ours) {
      s->state = SEGMENT_CLOSED;
      s->generation = h.generation;
      s->erase_count = h.erase_count;
      if (h.generation > store->sequence)
        store->sequence = h.generation;
      order[ordered++] = i;
    }
    else {
      /* Not ours, or a first chunk torn by a crash: programmed all the
       * same, so it is erased before it is written again. */
      s->needs_erase = !is_blank (header, header_read);
      s->state = SEGMENT_FREE;
      store->free_segments++;
    }
  }
  qsort_r (order, ordered, sizeof *order, compare_generation,
           store->segments);

  /* 2. Replay chunks in sequence order, merging the segments whose
   * sequence ranges overlap. */
  uint64_t pending = 0;
  for (;;) {
    /* Load the next segment while it may hold the next chunk. */
    while (pending < ordered) {
      uint64_t lowest = UINT64_MAX;
      for (size_t i = 0; i < active_count; i++)
        if (chunk_sequence (&active[i]) < lowest)
          lowest = chunk_sequence (&active[i]);
      if (store->segments[order[pending]].generation > lowest)
        break;
      if (active_count == active_size) {
        struct replay *bigger = realloc (active, (active_size + 2)
                                         * sizeof *active);
        if (!bigger) {
          r = vswap_error_set (err, ENOMEM, "out of memory");
          goto out;
        }
        active = bigger;
        for (size_t i = active_size; i < active_size + 2; i++) {
          active[i].image = NULL;
          active[i].chunks = calloc (store->segment_size / store->write_unit
                                     + 1, sizeof (uint32_t));
          if (!active[i].chunks ||
              posix_memalign ((void **) &active[i].image,
                              VSWAP_MEDIUM_BUFFER_ALIGN,
                              store->segment_size)) {
            active_size = i + 1;
            r = vswap_error_set (err, ENOMEM, "out of memory");
            goto out;
          }
        }
        active_size += 2;
      }
      struct replay *slot = &active[active_count];
      r = load_segment (store, order[pending++], slot, verdicts);
      if (r < 0) {
        vswap_error_set (err, -r, "%s: reading segment %" PRIu64 ": %s",
                         store->medium->description, slot->segment,
                         vswap_strerror (-r));
        goto out;
      }
      if (slot->chunk_count > 0)
        active_count++;
    }
    if (active_count == 0)
      break;

    size_t first = 0;
    for (size_t i = 1; i < active_count; i++)
      if (chunk_sequence (&active[i]) < chunk_sequence (&active[first]))
        first = i;
    replay_chunk (store, &active[first], verdicts);
    if (++active[first].next == active[first].chunk_count) {
      /* Done with this segment: keep its buffers for the next one. */
      struct replay done = active[first];
      active[first] = active[--active_count];
      active[active_count] = done;
    }
  }

  decide_suspects (store, verdicts);

  /* Doubtful pages nothing newer replaced: an error beats an old page. */
  for (uint64_t p = 0; verdicts->doubt && p < store->pages; p++)
    if (verdicts->doubt[p]) {
      vswap_map_release (store, p);
      store->map[p] = VSWAP_MAP_DROPPED;
    }

  /* After a crash (the newest chunk is not a durability marker), a
   * volatile write cache may have lost a segment's first chunk and kept
   * later ones: its header reads blank, yet pages further in are
   * programmed.  Erase such segments before writing them again, since
   * flash programs a block's pages in order only.  Reading every free
   * segment whole to tell would make each open read the medium. */
  if (store->sequence > verdicts->newest_marker)
    for (uint64_t i = 1; i + 1 < store->segment_count; i++)
      if (store->segments[i].state == SEGMENT_FREE)
        store->segments[i].needs_erase = true;

 out:
  if (verdicts)
    free (verdicts->doubt);
  free (verdicts);
  for (size_t i = 0; i < active_size; i++) {
    free (active[i].image);
    free (active[i].chunks);
  }
  free (active);
  free (order);
  free (header);
  return r;
}

/* ---- check ---- */

int64_t
vswap_store_check (struct vswap_store *store,
                   void (*problem) (void *, const char *), void *opaque,
                   uint64_t *records_checked)
{
  uint8_t *image = NULL;
  int64_t problems = 0;
  uint64_t checked = 0;
  char message[512];
  ZSTD_DCtx *dctx = ZSTD_createDCtx ();
  uint8_t page[VSWAP_PAGE_SIZE];
  /* Pages already named, so that one flipped bit is one problem. */
  uint64_t *named = calloc ((store->pages + 63) / 64, sizeof *named);

  if (!dctx || !named || posix_memalign ((void **) &image, VSWAP_MEDIUM_BUFFER_ALIGN,
                               store->segment_size)) {
    ZSTD_freeDCtx (dctx);
    free (named);
    return -ENOMEM;
  }

#define PROBLEM(...)                                            \
  do {                                                          \
    snprintf (message, sizeof message, __VA_ARGS__);            \
    if (problem)                                                \
      problem (opaque, message);                                \
    problems++;                                                 \
  } while (0)

  pthread_mutex_lock (&store->lock);
  for (uint64_t seg = 1; seg + 1 < store->segment_count; seg++) {
    const struct segment *s = &store->segments[seg];
    if (s->state == SEGMENT_FREE || s->state == SEGMENT_OPEN)
      continue;
    const uint64_t base = segment_offset (store, seg);
    const int r = vswap_medium_read (store->medium, image,
                                     store->segment_size, base);
    if (r < 0) {
      PROBLEM ("segment %" PRIu64 ": cannot read: %s", seg, vswap_strerror (-r));
      continue;
    }
    uint32_t offset = 0;
    uint64_t previous = 0;
    while (offset + VSWAP_CHUNK_HEADER_SIZE <= store->segment_size) {
      struct vswap_chunk_header h;
      if (!vswap_chunk_header_decode (image + offset, &h) ||
          memcmp (h.uuid, store->superblock.uuid, VSWAP_UUID_SIZE) != 0 ||
          h.generation != s->generation || h.sequence <= previous ||
          h.length < VSWAP_CHUNK_HEADER_SIZE ||
          h.length > store->segment_size - offset)
        break;
      previous = h.sequence;
      uint32_t at = vswap_chunk_records_start (store->address_shift);
      for (uint32_t i = 0; i < h.record_count; i++) {
        const uint8_t *rec = image + offset + at;
        struct vswap_record_header rh;
        checked++;
        if (at + VSWAP_RECORD_HEADER_SIZE > h.length ||
            !vswap_record_header_decode (rec, store->seed, h.generation,
                                         &rh)) {
          PROBLEM ("segment %" PRIu64 " offset %" PRIu32 ": damaged record "
                   "header; %" PRIu32 " records of this chunk unreadable",
                   seg, offset + at, h.record_count - i);
          break;
        }
        const uint32_t size = vswap_record_size (rh.payload_length,
                                                 store->address_shift);
        const uint32_t address = (uint32_t) ((base + offset + at)
                                             >> store->address_shift);
        const bool live = rh.logical_page < store->pages &&
          store->map[rh.logical_page] == vswap_map_stored (address);
        if (rh.kind == VSWAP_RECORD_RAW || rh.kind == VSWAP_RECORD_ZSTD ||
            rh.kind == VSWAP_RECORD_SAME || rh.kind == VSWAP_RECORD_LIFETIME) {
          if (vswap_payload_checksum (rec + VSWAP_RECORD_HEADER_SIZE,
                                      rh.payload_length, store->seed,
                                      rh.logical_page)
              != rh.payload_checksum) {
            if (rh.logical_page < store->pages)
              vswap_bitmap_set (named, rh.logical_page, true);
            PROBLEM ("page %" PRIu32 " (byte offset %" PRIu64 "): checksum "
                     "mismatch in segment %" PRIu64 " offset %" PRIu32
                     " (%s copy)", rh.logical_page,
                     (uint64_t) rh.logical_page * VSWAP_PAGE_SIZE, seg,
                     offset + at, live ? "live" : "dead");
          }
          else if ((rh.kind == VSWAP_RECORD_RAW ||
                    rh.kind == VSWAP_RECORD_ZSTD) &&
                   vswap_page_decode (dctx, rh.kind,
                                      rec + VSWAP_RECORD_HEADER_SIZE,
                                      rh.payload_length, page) < 0)
            PROBLEM ("page %" PRIu32 " (byte offset %" PRIu64 "): does not "
                     "decompress (segment %" PRIu64 " offset %" PRIu32 ")",
                     rh.logical_page,
                     (uint64_t) rh.logical_page * VSWAP_PAGE_SIZE, seg,
                     offset + at);
        }
        at += size;
      }
      offset = round_up (offset + h.length, store->write_unit);
    }
  }

  /* Every stored page must point at a record that reads back. */
  struct io_context ctx = { .dctx = dctx, .read_buffer = image };
  for (uint64_t p = 0; p < store->pages; p++) {
    const vswap_map_entry e = store->map[p];
    if (!vswap_map_is_stored (e))
      continue;
    /* vswap_read_record releases the lock. */
    const int r = vswap_read_record (store, &ctx, p, vswap_map_address (e),
                                     page);
    if (r < 0 && !vswap_bitmap_get (named, p))
      PROBLEM ("page %" PRIu64 " (byte offset %" PRIu64 "): does not read "
               "back: %s", p, p * VSWAP_PAGE_SIZE, vswap_strerror (-r));
    pthread_mutex_lock (&store->lock);
  }
  pthread_mutex_unlock (&store->lock);
#undef PROBLEM

  free (image);
  free (named);
  ZSTD_freeDCtx (dctx);
  if (records_checked)
    *records_checked = checked;
  return problems;
}
