/* vswap: rebuilding the map from the medium.
 *
 * Every record carries a stamp, so the map is rebuilt by visiting the
 * segments in any order: a record wins its page when its stamp is newer
 * than the one that set the page's state so far (the stamps live in a
 * table that exists only while recovery runs: 8 bytes a logical page).
 *
 * Damage costs what it touches (segment_walk.c steps over it), and never
 * becomes data: a record that is known to have existed but does not
 * verify is a claim, "page P had a record of stamp S".  Claims come from
 * record headers whose payload does not verify, and from the summaries
 * of chunks (which list the pages of records whose own headers may be the
 * damaged part).  At the end, a claim whose page holds nothing as new is a
 * lost newest record: rot if a durability marker covers its chunk (the
 * page reads as an error), a write torn by the crash if not (the page
 * keeps its previous copy, and the open writes that copy again).
 * doc/on-medium-format.md, "Recovery", says the same in prose.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment_walk.h"
#include "store_internal.h"

void
vswap_report (struct vswap_store *store, const char *fmt, ...)
{
  char message[512];
  va_list ap;

  if (!store->options.report)
    return;
  va_start (ap, fmt);
  vsnprintf (message, sizeof message, fmt, ap);
  va_end (ap);
  store->options.report (store->options.report_opaque, message);
}

#define report vswap_report

/* A record known to have existed that did not verify. */
struct claim {
  uint32_t page, count;
  uint64_t stamp;
  /* The chunk that held it: its sequence if known, else a sequence it is
   * below (UINT64_MAX: nothing known). */
  uint64_t sequence;
  bool sequence_exact;
  uint64_t segment, generation;
  uint32_t offset;              /* of the record, or of its chunk */
  /* A record whose header verified (its payload did not): where it is;
   * else 0. */
  uint32_t address;
};

/* A chunk holding bytes no verified record explains. */
struct doubtful {
  uint64_t segment, generation;
  uint32_t offset;
  uint64_t sequence;            /* exact, or a bound as in struct claim */
  bool sequence_exact;
};

/* A chunk some summary describes. */
struct described {
  uint64_t segment, generation;
  uint32_t offset;
};

struct recovery {
  struct vswap_store *store;
  uint64_t *best;               /* per page: stamp of what set its state */
  uint64_t lifetime_stamp;
  uint64_t newest_marker;       /* sequence of the newest CLEAN chunk */
  /* The newest segment whose only chunk is a write cut short (-1: none),
   * and that chunk's sequence. */
  int64_t torn_segment;
  uint64_t torn_sequence;
  struct claim *claims;
  size_t claim_count, claim_size;
  struct doubtful *doubtful;
  size_t doubtful_count, doubtful_size;
  struct described *described;
  size_t described_count, described_size;
  /* Per segment, to find the chunks whose summary never reached the
   * medium: the last chunk that holds page records (-1: none), and the
   * furthest chunk a summary describes (-1: none). */
  int64_t *last_page_chunk;
  int64_t *summarised_up_to;
  /* Per segment: programmed, but no chunk header could be found; a
   * summary elsewhere may give its generation (0: none). */
  bool *unresolved;
  uint64_t *summary_generation;
  uint8_t *image;
};

static int
grow (void **array, size_t *size, size_t count, size_t element)
{
  if (count < *size)
    return 0;
  const size_t bigger = *size ? 2 * *size : 64;
  void *p = realloc (*array, bigger * element);
  if (!p)
    return -ENOMEM;
  *array = p;
  *size = bigger;
  return 0;
}

static int
add_claim (struct recovery *rc, const struct claim *c)
{
  if (grow ((void **) &rc->claims, &rc->claim_size, rc->claim_count,
            sizeof *rc->claims) < 0)
    return -ENOMEM;
  rc->claims[rc->claim_count++] = *c;
  return 0;
}

/* Does every page of [PAGE, PAGE + COUNT) hold something at least as new
 * as STAMP? */
static bool
satisfied (const struct recovery *rc, uint32_t page, uint32_t count,
           uint64_t stamp)
{
  const struct vswap_store *store = rc->store;
  for (uint64_t p = page; p < (uint64_t) page + count && p < store->pages;
       p++)
    if (rc->best[p] < stamp)
      return false;
  return true;
}

/* Apply a verified page record of SEGMENT found at ADDRESS. */
static void
apply_page_record (struct recovery *rc, struct segment *s,
                   const struct vswap_record_header *h, uint32_t address,
                   uint32_t size)
{
  struct vswap_store *store = rc->store;
  const uint64_t page = h->logical_page;

  if (vswap_record_kind_is_range (h->kind)) {
    s->state_records++;
    const vswap_map_entry state = h->kind == VSWAP_RECORD_ZERO
      ? VSWAP_MAP_ZERO : h->kind == VSWAP_RECORD_LOST ? VSWAP_MAP_DAMAGED
      : VSWAP_MAP_UNMAPPED;
    for (uint64_t p = page; p < page + h->count && p < store->pages; p++)
      if (h->stamp > rc->best[p]) {
        vswap_map_release (store, p);
        vswap_map_set (store, p, state);
        rc->best[p] = h->stamp;
      }
    return;
  }
  if (h->kind == VSWAP_RECORD_SAME)
    s->state_records++;
  /* Counted whether or not it wins: GC's live-byte estimate is the
   * segment's data bytes times the share of its data records still
   * live. */
  const bool data = h->kind != VSWAP_RECORD_SAME;
  if (data) {
    s->data_records++;
    s->data_bytes += size;
  }
  if (h->stamp < rc->best[page])
    return;
  if (h->stamp == rc->best[page]) {
    /* The same version twice: a GC copy and its original, whose segment
     * a crash stopped GC from erasing.  The copy (in the newer segment)
     * wins, so that the original's segment holds nothing live and GC
     * frees it without a copy (the store may have no room for one). */
    const vswap_map_entry e = store->map[page];
    if (!vswap_map_is_stored (e) ||
        store->segments[vswap_segment_of_address (store, vswap_map_address (e),
                                                  NULL)].generation
        >= s->generation)
      return;
  }
  vswap_map_release (store, page);
  rc->best[page] = h->stamp;
  if (!data) {
    const int32_t index = vswap_pattern_acquire (&store->patterns,
                                                 h->pattern);
    if (index >= 0) {
      vswap_map_set (store, page, vswap_map_same ((uint32_t) index));
      return;
    }
    s->data_records++;
    s->data_bytes += size;
  }
  vswap_map_point (store, page, address);
}

/* A summary of a chunk: each of its entries is a claim, unless the page
 * already holds something as new. */
static int
apply_summary (struct recovery *rc, const uint8_t *payload, uint16_t length)
{
  struct vswap_store *store = rc->store;
  struct vswap_summary h;

  if (!vswap_summary_decode_header (payload, length, &h) ||
      h.segment == 0 || h.segment + 1 >= store->segment_count)
    return 0;
  const struct segment *described = &store->segments[h.segment];
  if (described->state == SEGMENT_FREE) {
    /* Its first unit does not say whose it is (blank, or no chunk header
     * verifies): it may have been erased since the summary was written,
     * or its first unit damaged.  The newest life a summary names is
     * looked at in resolve_segments; the claims wait for it. */
    if (h.generation > rc->summary_generation[h.segment])
      rc->summary_generation[h.segment] = h.generation;
  }
  else if (described->generation != h.generation)
    return 0;                   /* erased and reused since: claims nothing */
  if ((int64_t) h.offset > rc->summarised_up_to[h.segment])
    rc->summarised_up_to[h.segment] = h.offset;
  /* Long summaries take several records: note the chunk once. */
  const struct described *last = rc->described_count ?
    &rc->described[rc->described_count - 1] : NULL;
  if (!last || last->segment != h.segment || last->offset != h.offset ||
      last->generation != h.generation) {
    if (grow ((void **) &rc->described, &rc->described_size,
              rc->described_count, sizeof *rc->described) < 0)
      return -ENOMEM;
    rc->described[rc->described_count++] = (struct described) {
      .segment = h.segment, .generation = h.generation, .offset = h.offset,
    };
  }

  const uint8_t *e = payload + VSWAP_SUMMARY_HEADER;
  for (uint32_t i = 0; i < h.entries; i++) {
    const uint32_t page = vswap_get32 (e + i * VSWAP_SUMMARY_ENTRY);
    const uint32_t delta = vswap_get32 (e + i * VSWAP_SUMMARY_ENTRY + 4);
    uint32_t count = 1;
    if (delta == VSWAP_SUMMARY_COUNT_DELTA)
      continue;                 /* a count, read with its page */
    if (i + 1 < h.entries &&
        vswap_get32 (e + (i + 1) * VSWAP_SUMMARY_ENTRY + 4)
        == VSWAP_SUMMARY_COUNT_DELTA)
      count = vswap_get32 (e + (i + 1) * VSWAP_SUMMARY_ENTRY);
    if (page >= store->pages || count == 0)
      continue;
    if (count > store->pages - page)
      count = (uint32_t) (store->pages - page);
    const uint64_t stamp = h.base + delta;
    if (satisfied (rc, page, count, stamp))
      continue;
    const struct claim c = {
      .page = page, .count = count, .stamp = stamp,
      .sequence = h.sequence, .sequence_exact = true,
      .segment = h.segment, .generation = h.generation, .offset = h.offset,
    };
    if (add_claim (rc, &c) < 0)
      return -ENOMEM;
  }
  return 0;
}

/* Replay the segment in rc->image (LENGTH bytes read). */
static int
replay_segment (struct recovery *rc, uint64_t segment)
{
  struct vswap_store *store = rc->store;
  struct segment *s = &store->segments[segment];
  const uint64_t base = segment_offset (store, segment);
  unsigned chunks = 0;
  bool first_cut_short = false;
  uint64_t first_sequence = 0;
  struct walk w;
  struct walk_chunk c;
  struct walk_record rec;
  int r;

  walk_start (&w, store, segment, s->generation, rc->image,
              store->segment_size, true);
  while (walk_next_chunk (&w, &c)) {
    bool page_records = false;
    chunks++;
    while (walk_next_record (&w, &c, &rec)) {
      const struct vswap_record_header *h = &rec.header;
      const uint32_t address =
        (uint32_t) ((base + rec.offset) >> store->address_shift);
      if (h->stamp > store->sequence)
        store->sequence = h->stamp;
      if (vswap_record_kind_is_page (h->kind)) {
        page_records = true;
        if ((uint64_t) h->logical_page + h->count > store->pages) {
          report (store, "segment %" PRIu64 " offset %" PRIu32 ": a record "
                  "of page %" PRIu32 " is beyond the logical size; ignored",
                  segment, rec.offset, h->logical_page);
          continue;
        }
        if (!rec.payload_ok) {
          const struct claim claim = {
            .page = h->logical_page, .count = h->count, .stamp = h->stamp,
            .sequence = c.header_ok ? c.header.sequence : c.next_sequence,
            .sequence_exact = c.header_ok,
            .segment = segment, .generation = s->generation,
            .offset = rec.offset, .address = address,
          };
          if ((r = add_claim (rc, &claim)) < 0)
            return r;
          if (h->kind != VSWAP_RECORD_SAME) {
            s->data_records++;
            s->data_bytes += rec.size;
          }
          continue;
        }
        apply_page_record (rc, s, h, address, rec.size);
      }
      else if (!rec.payload_ok)
        continue;               /* a damaged summary or counters: lost */
      else if (h->kind == VSWAP_RECORD_SUMMARY) {
        s->state_records++;
        if ((r = apply_summary (rc, w.image + rec.offset
                                + VSWAP_RECORD_HEADER_SIZE,
                                h->payload_length)) < 0)
          return r;
      }
      else if (h->kind == VSWAP_RECORD_LIFETIME &&
               h->stamp > rc->lifetime_stamp) {
        rc->lifetime_stamp = h->stamp;
        vswap_lifetime_decode (store, w.image + rec.offset
                               + VSWAP_RECORD_HEADER_SIZE,
                               h->payload_length);
        store->lifetime_address = address;
      }
    }
    if (c.header_ok) {
      if (c.header.sequence > store->sequence)
        store->sequence = c.header.sequence;
      if ((c.header.flags & VSWAP_CHUNK_CLEAN) &&
          c.header.sequence > rc->newest_marker)
        rc->newest_marker = c.header.sequence;
      s->last_sequence = c.header.sequence;
    }
    if (c.highest_stamp > store->sequence)
      store->sequence = c.highest_stamp;
    if (page_records || c.unknowns)
      rc->last_page_chunk[segment] = c.offset;
    if (chunks == 1 && c.offset == 0 && c.header_ok) {
      /* A tear lands a prefix of the write: the chunk's last unit is
       * then still blank (rot leaves it programmed). */
      first_cut_short = !c.body_ok &&
        is_blank (w.image + round_down (c.header.length - 1,
                                        store->write_unit),
                  store->write_unit);
      first_sequence = c.header.sequence;
    }
    if (c.unknowns || !c.body_ok)
      STAT_ADD (store, chunks_damaged, 1);
    if ((c.unknowns || (c.records_found > 0 && !c.body_ok)) &&
        s->damage == DAMAGE_NONE)
      s->damage = DAMAGE_KNOWN;
    if (c.unknowns) {
      if (grow ((void **) &rc->doubtful, &rc->doubtful_size,
                rc->doubtful_count, sizeof *rc->doubtful) < 0)
        return -ENOMEM;
      rc->doubtful[rc->doubtful_count++] = (struct doubtful) {
        .segment = segment, .generation = s->generation,
        .offset = c.offset,
        .sequence = c.header_ok ? c.header.sequence : c.next_sequence,
        .sequence_exact = c.header_ok,
      };
      if (!c.header_ok)
        report (store, "segment %" PRIu64 " offset %" PRIu32 ": a damaged "
                "or torn chunk; its records are found by their own headers "
                "from there to offset %" PRIu32, segment, c.offset, c.end);
    }
    s->write_offset = c.end;
    s->clean_tail = c.header_ok && c.body_ok &&
      (c.header.flags & VSWAP_CHUNK_CLEAN);
  }
  /* A segment whose only chunk is a write cut short (its last unit still
   * blank): if no marker covers it, the write was under way at the crash,
   * and erasing it loses nothing that was promised (vswap_store_open). */
  if (chunks == 1 && first_cut_short && first_sequence > rc->torn_sequence) {
    rc->torn_segment = (int64_t) segment;
    rc->torn_sequence = first_sequence;
  }
  return 0;
}

static int
load_and_replay (struct recovery *rc, uint64_t segment)
{
  struct vswap_store *store = rc->store;
  const int r = vswap_medium_read (store->medium, rc->image,
                                   store->segment_size,
                                   segment_offset (store, segment));
  if (r < 0)
    return r;
  STAT_ADD (store, media_read_bytes, store->segment_size);
  return replay_segment (rc, segment);
}

static int
compare_generation (const void *a, const void *b, void *segments)
{
  const struct segment *s = segments;
  const uint64_t ga = s[*(const uint64_t *) a].generation;
  const uint64_t gb = s[*(const uint64_t *) b].generation;
  return ga < gb ? -1 : ga > gb;
}

/* Step 1: which segments hold content of this store, and of which age. */
static int
find_segments (struct recovery *rc, uint64_t *order, uint64_t *ordered,
               struct vswap_error *err)
{
  struct vswap_store *store = rc->store;
  /* The first two write units: a segment whose first unit was erased by
   * damage (or never programmed, a volatile write cache having kept later
   * ones) still shows in the second one, unless all it held was one
   * chunk of one unit, which no marker can then have covered (the head's
   * marker after it would be in that second unit). */
  uint32_t unit = store->write_unit > store->read_unit ? store->write_unit
    : store->read_unit;
  if (unit < VSWAP_CHUNK_HEADER_SIZE)
    unit = VSWAP_CHUNK_HEADER_SIZE;
  const uint32_t header_read = 2 * unit <= store->segment_size ? 2 * unit
    : unit;
  uint8_t *header = rc->image;  /* the first units of the image buffer */
  int r;

  for (uint64_t i = 1; i + 1 < store->segment_count; i++) {
    struct segment *s = &store->segments[i];
    struct vswap_chunk_header h;
    bool ours = false;
    /* A header that does not verify over programmed bytes is read once
     * more: a bit flipped in transit must not make a segment look free. */
    for (int attempt = 0; attempt < 2 && !ours; attempt++) {
      r = vswap_medium_read (store->medium, header, header_read,
                             segment_offset (store, i));
      if (r < 0)
        return vswap_error_set (err, -r, "%s: reading segment %" PRIu64
                                ": %s", store->medium->description, i,
                                vswap_strerror (-r));
      ours = vswap_chunk_header_decode (header, &h) &&
        memcmp (h.uuid, store->superblock.uuid, VSWAP_UUID_SIZE) == 0;
      if (ours || is_blank (header, header_read))
        break;
    }
    const bool blank = !ours && is_blank (header, header_read);
    /* Programmed, but no header: a first chunk torn by a crash, or one
     * whose first unit rotted or was erased.  A chunk of this store
     * further on gives the generation; else a summary elsewhere may. */
    if (!ours && !blank) {
      r = vswap_medium_read (store->medium, rc->image, store->segment_size,
                             segment_offset (store, i));
      if (r < 0)
        return vswap_error_set (err, -r, "%s: reading segment %" PRIu64
                                ": %s", store->medium->description, i,
                                vswap_strerror (-r));
      STAT_ADD (store, media_read_bytes, store->segment_size);
      ours = walk_find_later_chunk (store, rc->image, store->segment_size,
                                    &h);
      if (!ours)
        rc->unresolved[i] = true;
    }
    if (ours) {
      s->state = SEGMENT_CLOSED;
      s->generation = h.generation;
      s->erase_count = h.erase_count;
      if (h.generation > store->sequence)
        store->sequence = h.generation;
      order[(*ordered)++] = i;
    }
    else {
      /* Not ours, or nothing of ours found yet: programmed all the same,
       * so it is erased before it is written again. */
      s->needs_erase = !blank;
      s->state = SEGMENT_FREE;
      store->free_segments++;
    }
  }
  qsort_r (order, *ordered, sizeof *order, compare_generation,
           store->segments);
  return 0;
}

/* Does IMAGE, SEGMENT as read, hold a record of GENERATION?  A summary
 * may be of an earlier life of the segment, erased since: what a new
 * life's torn first write left there is not that life's content. */
static bool
holds_generation (struct vswap_store *store, uint64_t segment,
                  uint64_t generation, uint8_t *image)
{
  struct walk w;
  struct walk_chunk c;
  struct walk_record r;
  walk_start (&w, store, segment, generation, image, store->segment_size,
              false);
  while (walk_next_chunk (&w, &c))
    if (walk_next_record (&w, &c, &r))
      return true;
  return false;
}

/* A segment step 1 found free (its first unit blank, or no chunk header
 * verifying) that a summary elsewhere describes: if records of the
 * generation the newest such summary gives are in it, its first unit was
 * damaged, and it is replayed with that generation.  (Else it was erased
 * since, perhaps programmed again in part by a write a crash cut short:
 * the summary's claims lapse.) */
static int
resolve_segments (struct recovery *rc)
{
  struct vswap_store *store = rc->store;
  for (uint64_t i = 1; i + 1 < store->segment_count; i++) {
    if (rc->summary_generation[i] == 0 ||
        store->segments[i].state != SEGMENT_FREE)
      continue;
    struct segment *s = &store->segments[i];
    int r = vswap_medium_read (store->medium, rc->image, store->segment_size,
                               segment_offset (store, i));
    if (r < 0)
      return r;
    STAT_ADD (store, media_read_bytes, store->segment_size);
    if (is_blank (rc->image, store->segment_size) ||
        !holds_generation (store, i, rc->summary_generation[i], rc->image))
      continue;
    rc->unresolved[i] = false;
    s->state = SEGMENT_CLOSED;
    s->needs_erase = false;
    s->generation = rc->summary_generation[i];
    store->free_segments--;
    report (store, "segment %" PRIu64 ": its first unit holds no chunk "
            "header; its records are found by their own headers "
            "(generation %" PRIu64 " from a summary)", i, s->generation);
    r = replay_segment (rc, i);
    if (r < 0)
      return r;
  }
  return 0;
}

/* Is a chunk of SEQUENCE (exact, or a bound it is below) covered by a
 * durability marker? */
static bool
covered (const struct recovery *rc, uint64_t sequence, bool exact)
{
  return exact ? sequence < rc->newest_marker
    : sequence <= rc->newest_marker;
}

static int
add_torn_page (struct vswap_store *store, uint32_t page, size_t *size)
{
  for (size_t i = 0; i < store->torn_page_count; i++)
    if (store->torn_pages[i] == page)
      return 0;
  if (grow ((void **) &store->torn_pages, size, store->torn_page_count,
            sizeof *store->torn_pages) < 0)
    return -ENOMEM;
  store->torn_pages[store->torn_page_count++] = page;
  return 0;
}

static int
add_damaged_page (struct vswap_store *store, uint64_t page, size_t *size)
{
  if (grow ((void **) &store->damaged_pages, size,
            store->damaged_page_count, sizeof *store->damaged_pages) < 0)
    return -ENOMEM;
  store->damaged_pages[store->damaged_page_count++] = (uint32_t) page;
  return 0;
}

/* Make PAGE read as an error: its newest record is lost. */
static int
mark_damaged (struct recovery *rc, uint64_t page, uint64_t stamp,
              size_t *size)
{
  struct vswap_store *store = rc->store;
  if (store->map[page] == VSWAP_MAP_DAMAGED && rc->best[page] >= stamp)
    return 0;
  vswap_map_release (store, page);
  vswap_map_set (store, page, VSWAP_MAP_DAMAGED);
  rc->best[page] = stamp;
  return add_damaged_page (store, page, size);
}

/* Step 3: settle the claims and the chunks no summary describes. */
static int
settle (struct recovery *rc)
{
  struct vswap_store *store = rc->store;
  size_t torn_size = 0, damaged_size = 0;
  int r;

  store->torn_segment = rc->torn_segment >= 0 &&
    rc->torn_sequence > rc->newest_marker ? rc->torn_segment : -1;
  for (size_t i = 0; i < rc->claim_count; i++) {
    const struct claim *c = &rc->claims[i];
    if (c->segment == 0 || c->segment + 1 >= store->segment_count ||
        store->segments[c->segment].generation != c->generation)
      continue;                 /* reused since */
    if (satisfied (rc, c->page, c->count, c->stamp))
      continue;
    const bool rot = covered (rc, c->sequence, c->sequence_exact);
    for (uint64_t p = c->page; p < (uint64_t) c->page + c->count &&
           p < store->pages; p++) {
      if (rc->best[p] >= c->stamp)
        continue;
      if (rot && c->address && c->count == 1) {
        /* Its record is there, and it is what the page holds: a read
         * verifies it again (a bit flipped on the way heals), and fails
         * while it does not. */
        report (store, "page %" PRIu64 ": its newest record (segment %"
                PRIu64 " offset %" PRIu32 ") does not verify; reading it "
                "returns an I/O error", p, c->segment, c->offset);
        vswap_map_release (store, p);
        vswap_map_point (store, p, c->address);
        rc->best[p] = c->stamp;
        r = 0;
      }
      else if (rot) {
        report (store, "page %" PRIu64 ": its newest record (segment %"
                PRIu64 " offset %" PRIu32 ") is damaged; reading it "
                "returns an I/O error", p, c->segment, c->offset);
        r = mark_damaged (rc, p, c->stamp, &damaged_size);
        store->segments[c->segment].damage = DAMAGE_EVIDENCE;
      }
      else {
        report (store, "page %" PRIu64 ": torn write after a crash "
                "(segment %" PRIu64 " offset %" PRIu32 "); the previous "
                "copy is kept", p, c->segment, c->offset);
        r = add_torn_page (store, (uint32_t) p, &torn_size);
      }
      if (r < 0)
        return r;
    }
  }

  /* Damage no summary explains, in a chunk a marker covers.  Every chunk
   * that holds page records has its summary on the medium before a marker
   * can cover it (a marker carries the last ones), so such a chunk held
   * none: what the damage took was summaries, counters or padding.  (It
   * would take a second fault, the summary damaged too, to hide a page
   * record here.) */
  for (size_t i = 0; i < rc->doubtful_count; i++) {
    const struct doubtful *d = &rc->doubtful[i];
    if (store->segments[d->segment].generation != d->generation ||
        !covered (rc, d->sequence, d->sequence_exact))
      continue;
    bool described = false;
    for (size_t j = 0; j < rc->described_count && !described; j++)
      described = rc->described[j].segment == d->segment &&
        rc->described[j].generation == d->generation &&
        rc->described[j].offset == d->offset;
    if (!described)
      report (store, "segment %" PRIu64 " offset %" PRIu32 ": damaged "
              "records in a chunk that no summary describes: it held no "
              "page records", d->segment, d->offset);
  }
  return 0;
}

/* Chunks whose summary never reached the medium (the newest of each head
 * at a crash): a writable open writes one (vswap_store_open). */
static int
find_unsummarised (struct recovery *rc)
{
  struct vswap_store *store = rc->store;
  size_t size = 0;
  for (uint64_t i = 1; i + 1 < store->segment_count; i++) {
    if (store->segments[i].state != SEGMENT_CLOSED ||
        rc->last_page_chunk[i] < 0 ||
        rc->summarised_up_to[i] >= rc->last_page_chunk[i])
      continue;
    if (grow ((void **) &store->unsummarised, &size,
              store->unsummarised_count, sizeof *store->unsummarised) < 0)
      return -ENOMEM;
    store->unsummarised[store->unsummarised_count++] =
      (struct chunk_place) {
        .segment = i,
        .offset = (uint32_t) rc->last_page_chunk[i],
      };
  }
  return 0;
}

/* ---- what a writable open records after recovery ---- */

static int
compare_page (const void *a, const void *b)
{
  const uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
  return x < y ? -1 : x > y;
}

/* LOST records for the pages recovery found damaged, a range at a time:
 * the evidence (the damaged chunk and its summary) may be erased by GC,
 * and the pages must read as errors all the same. */
static int
record_damaged_pages (struct vswap_store *store)
{
  uint32_t *pages = store->damaged_pages;
  const size_t n = store->damaged_page_count;
  int r = 0;

  qsort (pages, n, sizeof *pages, compare_page);
  for (size_t i = 0; i < n && r == 0; ) {
    size_t j = i + 1;
    while (j < n && pages[j] <= pages[j - 1] + 1)
      j++;
    struct vswap_record_header lost = {
      .logical_page = pages[i],
      .count = pages[j - 1] - pages[i] + 1,
      .kind = VSWAP_RECORD_LOST,
    };
    uint32_t address;
    r = vswap_head_append (store, store->user_head, &lost, NULL, &address);
    STAT_ADD (store, pages_lost, lost.count);
    i = j;
  }
  return r;
}

/* A summary for the chunk at PLACE, from its records that verify. */
static int
summarise_chunk (struct vswap_store *store, const struct chunk_place *place,
                 uint8_t *image, struct summary_entry *entries)
{
  struct segment *s = &store->segments[place->segment];
  struct walk w;
  struct walk_chunk c;
  struct walk_record rec;
  int r = vswap_medium_read (store->medium, image, store->segment_size,
                             segment_offset (store, place->segment));
  if (r < 0)
    return r;
  STAT_ADD (store, media_read_bytes, store->segment_size);

  walk_start (&w, store, place->segment, s->generation, image,
              store->segment_size, true);
  while (walk_next_chunk (&w, &c)) {
    const bool this_one = c.offset == place->offset;
    uint32_t n = 0;
    while (walk_next_record (&w, &c, &rec)) {
      const struct vswap_record_header *h = &rec.header;
      if (this_one && rec.payload_ok &&
          vswap_record_kind_is_page (h->kind) &&
          n < VSWAP_MAX_CHUNK_RECORDS)
        entries[n++] = (struct summary_entry) {
          .page = h->logical_page, .count = h->count, .stamp = h->stamp,
        };
    }
    if (!this_one)
      continue;
    const struct pending_summary summary = {
      .present = true,
      .segment = place->segment,
      .generation = s->generation,
      .sequence = c.header_ok ? c.header.sequence : c.highest_stamp + 1,
      .offset = place->offset,
      .end = c.end,
      .count = n,
      .entries = entries,
    };
    report (store, "segment %" PRIu64 " offset %" PRIu32 ": the crash "
            "left this chunk without a summary; one is written now (%"
            PRIu32 " records)", place->segment, place->offset, n);
    return vswap_append_summary (store, store->user_head, &summary);
  }
  return 0;
}

void
vswap_recovery_settled (struct vswap_store *store)
{
  vswap_lock (store);
  for (uint64_t i = 0; i < store->segment_count; i++)
    if (store->segments[i].damage == DAMAGE_EVIDENCE)
      store->segments[i].damage = DAMAGE_KNOWN;
  vswap_unlock (store);
}

int
vswap_recovery_record (struct vswap_store *store)
{
  uint8_t *image = NULL;
  struct summary_entry *entries = NULL;
  int r = 0;

  if (store->unsummarised_count &&
      (posix_memalign ((void **) &image, VSWAP_MEDIUM_BUFFER_ALIGN,
                       store->segment_size) ||
       !(entries = malloc (VSWAP_MAX_CHUNK_RECORDS * sizeof *entries))))
    r = -ENOMEM;
  vswap_lock (store);
  /* LOST records first: they are the evidence of damage that GC may erase
   * as soon as something made room for these records. */
  if (r == 0 && store->damaged_page_count)
    r = record_damaged_pages (store);
  for (size_t i = 0; i < store->unsummarised_count && r == 0; i++)
    r = summarise_chunk (store, &store->unsummarised[i], image, entries);
  vswap_unlock (store);
  free (image);
  free (entries);
  return r;
}

int
vswap_recover (struct vswap_store *store, struct vswap_error *err)
{
  struct recovery rc = { .store = store, .torn_segment = -1 };
  uint64_t *order = NULL;
  uint64_t ordered = 0;
  int r = 0;

  rc.best = calloc (store->pages, sizeof *rc.best);
  rc.last_page_chunk = malloc (store->segment_count
                               * sizeof *rc.last_page_chunk);
  rc.summarised_up_to = malloc (store->segment_count
                                * sizeof *rc.summarised_up_to);
  rc.unresolved = calloc (store->segment_count, sizeof *rc.unresolved);
  rc.summary_generation = calloc (store->segment_count,
                                  sizeof *rc.summary_generation);
  order = calloc (store->segment_count, sizeof *order);
  if (!rc.best || !rc.last_page_chunk || !rc.summarised_up_to ||
      !rc.unresolved || !rc.summary_generation || !order ||
      posix_memalign ((void **) &rc.image, VSWAP_MEDIUM_BUFFER_ALIGN,
                      store->segment_size)) {
    r = vswap_error_set (err, ENOMEM, "out of memory for recovering a "
                         "store of %" PRIu64 " pages", store->pages);
    goto out;
  }
  for (uint64_t i = 0; i < store->segment_count; i++)
    rc.last_page_chunk[i] = rc.summarised_up_to[i] = -1;

  if ((r = find_segments (&rc, order, &ordered, err)) < 0)
    goto out;
  for (uint64_t i = 0; i < ordered; i++) {
    r = load_and_replay (&rc, order[i]);
    if (r < 0) {
      vswap_error_set (err, -r, "%s: reading segment %" PRIu64 ": %s",
                       store->medium->description, order[i],
                       vswap_strerror (-r));
      goto out;
    }
  }
  if ((r = resolve_segments (&rc)) < 0 || (r = settle (&rc)) < 0 ||
      (r = find_unsummarised (&rc)) < 0) {
    vswap_error_set (err, -r, "%s: recovery: %s",
                     store->medium->description, vswap_strerror (-r));
    goto out;
  }
  store->newest_marker = rc.newest_marker;

  /* After a crash (the newest chunk is not a durability marker), a
   * volatile write cache may have lost a segment's first chunk and kept
   * later ones: its header reads blank, yet pages further in are
   * programmed.  Erase such segments before writing them again, since
   * flash programs a block's pages in order only.  Reading every free
   * segment whole to tell would make each open read the medium. */
  if (store->sequence > rc.newest_marker)
    for (uint64_t i = 1; i + 1 < store->segment_count; i++)
      if (store->segments[i].state == SEGMENT_FREE)
        store->segments[i].needs_erase = true;

 out:
  free (rc.best);
  free (rc.claims);
  free (rc.doubtful);
  free (rc.described);
  free (rc.last_page_chunk);
  free (rc.summarised_up_to);
  free (rc.unresolved);
  free (rc.summary_generation);
  free (rc.image);
  free (order);
  return r;
}
