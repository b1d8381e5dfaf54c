/* vswap: garbage collection.  Picks a closed segment by cost-benefit,
 * copies what is still live to the GC head, and erases the victim once the
 * copies are durable.
 *
 * Durable copies need not cost a seal per victim: the copies (and the
 * user writes that made the victim's other records dead) go out with the
 * heads' normal chunks.  A collected victim waits, "releasing", until
 * every head has written past where it stood at the end of the
 * collection; one medium flush then covers them, and it is freed.  Only a
 * store down to its reserve with nothing else to collect seals the heads
 * at once (a seal pads its chunk to the write unit), and so do host
 * flushes and close; a user head that needs a segment then fills the GC
 * head's open one first (vswap_gc_borrow_head), which closes it unpadded.
 *
 * Why GC can always progress: the user head never takes the last
 * store->reserve free segments, and one victim's live records always fit
 * in what is left of the GC head plus one fresh segment, so collecting a
 * victim never needs more than one of the reserved segments before it
 * gives one back.  A releasing segment does not count as free, although
 * sealing the heads and a flush free it without needing a segment: a
 * crash before that brings its records back, and the next open, which
 * has no head open and must write what recovery found, needs a free
 * segment to collect into.
 *
 * Called with store->lock held.  A collection lets go of it while it
 * reads the victim and while the medium flushes, so that reads, and
 * writes whose head has room, carry on meanwhile; store->collecting keeps
 * a second collection from starting, and writers that need a fresh
 * segment wait for gc_done instead of taking the reserve.
 */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "segment_walk.h"
#include "store_internal.h"

/* Estimated live bytes of a segment.  The map records where a page lives
 * but not how long its record is, so live bytes are the segment's data
 * bytes scaled by the fraction of its data records still live. */
static uint64_t
live_bytes (const struct segment *s)
{
  if (s->data_records == 0)
    return 0;
  return (uint64_t) s->data_bytes * s->live_records / s->data_records;
}

/* LFS cost-benefit: free space gained times age, over the cost of reading
 * the segment and writing its live part, while hot and cold data are kept
 * apart; greedy (the most free space) when writes show no skew, where age
 * says nothing of what dies next.  Read-in copies (readtrim=hint) count
 * half dead: the kernel frees most of them soon. */
static int64_t
choose_victim (struct vswap_store *store)
{
  int64_t best = -1;
  double best_score = 0;
  /* Collecting a nearly full segment costs a whole segment of I/O for a
   * few bytes, and its copy pays chunk headers and padding again: below
   * this gain the store is full, and the write gets ENOSPC instead. */
  const uint64_t minimum_gain = store->segment_size / 16;

  for (uint64_t i = 0; i < store->segment_count; i++) {
    const struct segment *s = &store->segments[i];
    /* Damage recovery found waits until the open has recorded what it
     * means. */
    if (s->state != SEGMENT_CLOSED || s->releasing ||
        s->damage == DAMAGE_EVIDENCE)
      continue;
    uint64_t live = live_bytes (s);
    if (s->readin_records && s->live_records)
      live -= live * s->readin_records / s->live_records / 2;
    if (live + minimum_gain > store->segment_size)
      continue;
    const double u = (double) live / store->segment_size;
    const double age = (double) (store->sequence - s->last_sequence) + 1;
    const double score = store->separate ? (1 - u) * age / (1 + u) : 1 - u;
    if (best < 0 || score > best_score) {
      best = (int64_t) i;
      best_score = score;
    }
  }
  return best;
}

/* ---- hot/cold separation ----
 *
 * With two heads, the user head takes hot data and the GC head cold data.
 * Each page has a 2-bit write counter (0 to 3) that every write raises by
 * one and every epoch (the logical pages' worth of writes) lowers by one:
 * a page is hot when its counter is 2 or more, that is when it was
 * written at least twice lately, or once lately after a busy past.  A
 * write to a cold page, and a GC copy of one, go to the GC head; a GC
 * copy of a hot page goes back to the user head.  Segments then hold data
 * of one temperature, so hot ones empty quickly and cold ones stay full,
 * and cost-benefit victim choice has real choices to make.
 *
 * Counting writes, not only their recency, is what keeps cold pages out:
 * under 80/20 a cold page is written about 0.25 times an epoch and a hot
 * one 4 times, so a single recent write (a "recent" bit) marks a fifth to
 * a third of the cold pages hot, while two writes within the counter's
 * memory mark few.  Measured under 80/20 at 80% fill: 2.27 against 2.41
 * for "written in this epoch or the one before"; a counter up to 7 gains
 * little more (2.25) for a third bit a page.
 *
 * Separation only pays when writes are skewed.  Under uniform writes the
 * split is noise and costs a little, so it is switched on per epoch only
 * when the share of writes that hit hot pages clearly exceeds the share
 * of pages that are hot (1.0 for uniform, well above for 80/20). */

/* Share of hot writes over share of hot pages above which we separate. */
#define SEPARATION_SKEW 1.3

/* Bit planes of the counters: heat_high holds each counter's 2, heat_low
 * its 1, so a hot page is one whose heat_high bit is set. */
static uint64_t
count_hot_pages (const struct vswap_store *store)
{
  uint64_t n = 0;
  for (uint64_t i = 0; i < (store->pages + 63) / 64; i++)
    n += (uint64_t) __builtin_popcountll (store->heat_high[i]);
  return n;
}

static void
end_epoch (struct vswap_store *store)
{
  const double hot_writes = (double) store->epoch_hot_writes
    / (double) store->epoch_writes;
  const double hot_pages = (double) count_hot_pages (store)
    / (double) store->pages;
  store->separate = hot_writes > SEPARATION_SKEW * hot_pages;

  /* Every counter down by one, 64 at a time: 3 -> 2, 2 -> 1, 1 -> 0. */
  for (uint64_t i = 0; i < (store->pages + 63) / 64; i++) {
    const uint64_t high = store->heat_high[i], low = store->heat_low[i];
    store->heat_high[i] = high & low;
    store->heat_low[i] = high & ~low;
  }
  store->epoch_writes = store->epoch_hot_writes = 0;
}

static bool
page_is_hot (const struct vswap_store *store, uint64_t page)
{
  return vswap_bitmap_get (store->heat_high, page);
}

/* Count a write of PAGE: its counter up by one, stopping at 3. */
static void
heat_up (struct vswap_store *store, uint64_t page)
{
  const bool high = vswap_bitmap_get (store->heat_high, page);
  const bool low = vswap_bitmap_get (store->heat_low, page);
  if (high && low)
    return;
  vswap_bitmap_set (store->heat_high, page, high || low);
  vswap_bitmap_set (store->heat_low, page, !low);
}

struct head *
vswap_head_for_write (struct vswap_store *store, uint64_t page, bool data)
{
  const bool hot = page_is_hot (store, page);

  heat_up (store, page);
  store->epoch_hot_writes += hot;
  if (++store->epoch_writes >= store->pages + 1)
    end_epoch (store);

  /* Only a data record may go to the cold head (tombstones and same-filled
   * pages are small, and say nothing of temperature).  Not with a write
   * buffer: it keeps the user head's image only, and a killed server
   * would lose what the cold head had not written out.  A page's records
   * may sit in both heads: their stamps order them. */
  if (store->separate && !hot && data && !store->write_buffer &&
      vswap_map_is_stored (store->map[page]))
    return store->gc_head;
  return store->user_head;
}

/* Where GC copies a record of PAGE that takes SIZE bytes from a segment
 * the cold head filled (FROM_COLD) or not: a hot page goes back to the
 * user head, if that has room without opening a segment (GC may only open
 * segments for its own head: see the top of this file).  A page found in
 * a cold segment stays cold even if it counts as hot: a cold page now
 * and then gets two writes close together, and copied among hot pages it
 * would pin their segments' live share up. */
static struct head *
head_for_copy (struct vswap_store *store, uint64_t page, uint32_t size,
               bool from_cold)
{
  const struct head *user = store->user_head;

  if (!store->separate || user == store->gc_head || user->segment < 0 ||
      user->closing ||
      from_cold || !page_is_hot (store, page))
    return store->gc_head;
  const uint32_t need = size + (user->chunk_open ? 0 :
                                vswap_chunk_records_start
                                (store->address_shift));
  if ((uint64_t) user->fill + need > store->segment_size)
    return store->gc_head;
  return store->user_head;
}

/* The oldest content on the medium outside VICTIM.  A tombstone is still
 * needed while some other segment holds content older than it, which it
 * may be overriding. */
static uint64_t
oldest_other_content (const struct vswap_store *store, uint64_t victim)
{
  uint64_t oldest = UINT64_MAX;
  for (uint64_t i = 0; i < store->segment_count; i++) {
    const struct segment *s = &store->segments[i];
    if (i == victim || s->state == SEGMENT_SUPERBLOCK)
      continue;
    if (s->generation != 0 && s->generation < oldest)
      oldest = s->generation;
    if (s->stale_generation != 0 && s->stale_generation < oldest)
      oldest = s->stale_generation;
  }
  return oldest;
}

/* The map state a range tombstone of KIND sets. */
static vswap_map_entry
tombstone_state (uint8_t kind)
{
  return kind == VSWAP_RECORD_ZERO ? VSWAP_MAP_ZERO
    : kind == VSWAP_RECORD_LOST ? VSWAP_MAP_DAMAGED : VSWAP_MAP_UNMAPPED;
}

/* Copy the part of a ZERO, TRIM or LOST range whose pages are still in
 * the state it set, with its stamp (the copy is the same event).  Pages
 * written since need no copy: their newer record wins anyway. */
static int
relocate_tombstone (struct vswap_store *store,
                    const struct vswap_record_header *r)
{
  const vswap_map_entry state = tombstone_state (r->kind);
  uint64_t page = r->logical_page;
  const uint64_t end = page + r->count;

  if (end > store->pages)
    return 0;
  while (page < end) {
    while (page < end && store->map[page] != state)
      page++;
    const uint64_t start = page;
    while (page < end && store->map[page] == state)
      page++;
    if (page > start) {
      struct vswap_record_header copy = {
        .logical_page = (uint32_t) start,
        .count = (uint32_t) (page - start),
        .kind = r->kind,
        .flags = VSWAP_RECORD_RELOCATED,
        .stamp = r->stamp,
      };
      uint32_t address;
      const int ret = vswap_head_append (store, store->gc_head, &copy, NULL,
                                         &address);
      if (ret < 0)
        return ret;
      STAT_ADD (store, gc_records_moved, 1);
      STAT_ADD (store, gc_bytes_moved, VSWAP_RECORD_HEADER_SIZE);
    }
  }
  return 0;
}

/* PAGE's newest record does not verify any more (it rotted on the
 * medium): the page reads as an error from now on, and a LOST record says
 * so durably, so that the copy GC would otherwise make (or an older
 * version elsewhere) is never taken for its content. */
static int
lose_page (struct vswap_store *store, uint64_t page)
{
  struct vswap_record_header lost = {
    .logical_page = (uint32_t) page,
    .count = 1,
    .kind = VSWAP_RECORD_LOST,
  };
  uint32_t address;
  const int r = vswap_head_append (store, store->gc_head, &lost, NULL,
                                   &address);
  if (r < 0)
    return r;
  vswap_map_release (store, page);
  vswap_map_set (store, page, VSWAP_MAP_DAMAGED);
  STAT_ADD (store, pages_lost, 1);
  return 0;
}

static int
relocate_data (struct vswap_store *store, const uint8_t *record,
               const struct vswap_record_header *r, uint32_t old_address,
               bool from_cold)
{
  const uint64_t page = r->logical_page;
  const vswap_map_entry e = store->map[page];
  const bool stored_here = vswap_map_is_stored (e) &&
    vswap_map_address (e) == old_address;
  /* A same-filled page mapped through the pattern table does not say which
   * record it came from: copy it whenever the pattern still matches (a
   * duplicate of a newer identical record is harmless). */
  const bool same_here = r->kind == VSWAP_RECORD_SAME &&
    vswap_map_is_same (e) &&
    vswap_pattern_get (&store->patterns, vswap_map_pattern_index (e))
    == r->pattern;

  if (!stored_here && !same_here)
    return 0;

  const uint32_t size = vswap_record_size (r->payload_length,
                                           store->address_shift);
  uint32_t address;
  const int ret = vswap_head_append_encoded (store,
                                             head_for_copy (store, page, size,
                                                            from_cold),
                                             record, size,
                                             r->kind != VSWAP_RECORD_SAME,
                                             &address);
  if (ret < 0)
    return ret;
  STAT_ADD (store, gc_records_moved, 1);
  STAT_ADD (store, gc_bytes_moved, size);

  if (r->kind == VSWAP_RECORD_SAME)
    store->segments[vswap_segment_of_address (store, address, NULL)]
      .state_records++;
  if (stored_here) {
    if (r->kind == VSWAP_RECORD_SAME)
      vswap_segment_count_data (store, address, size);
    const bool readin = vswap_bitmap_get (store->readin, page);
    struct segment *from =
      &store->segments[vswap_segment_of_address (store, old_address, NULL)];
    struct segment *to =
      &store->segments[vswap_segment_of_address (store, address, NULL)];
    from->live_records--;
    to->live_records++;
    if (readin) {
      from->readin_records--;
      to->readin_records++;
    }
    vswap_map_set (store, page, vswap_map_stored (address));
  }
  return 0;
}

void
vswap_segment_free (struct vswap_store *store, uint64_t index)
{
  struct segment *s = &store->segments[index];
  const struct vswap_geometry *g = &store->medium->geometry;

  /* The discard waits for the medium with the store unlocked.  Nothing
   * takes or collects an erasing segment, and a reader that found a
   * record here before finds its checksum failing, and looks again. */
  vswap_segment_set_state (s, SEGMENT_ERASING);
  if (g->can_discard && !store->options.read_only) {
    vswap_unlock (store);
    vswap_io_unlocked (store);
    const int r = vswap_medium_discard (store->medium,
                                        segment_offset (store, index),
                                        store->segment_size);
    vswap_lock (store);
    if (r == 0) {
      STAT_ADD (store, media_discard_bytes, store->segment_size);
      if (g->discard_zeroes)
        vswap_segment_set_generation (s, 0);
    }
    else
      s->needs_erase = true;    /* erased again (or refused) before reuse */
  }
  if (s->generation != 0 && s->stale_generation == 0)
    s->stale_generation = s->generation;
  vswap_segment_set_generation (s, 0);
  s->erase_count++;
  s->damage = DAMAGE_NONE;
  s->data_records = s->data_bytes = s->state_records = 0;
  s->live_records = s->readin_records = 0;
  s->write_offset = 0;
  vswap_segment_set_state (s, SEGMENT_FREE);
  store->free_segments++;
  STAT_ADD (store, segments_erased, 1);
}

/* Decide what becomes of the record REC of VICTIM (in store->gc_buffer)
 * and copy it if it is still needed.  *BAD_LIVE: a live record that does
 * not verify (decided after the victim's last read). */
static int
relocate_record (struct vswap_store *store, uint64_t victim,
                 const struct walk_record *rec, uint64_t oldest_other,
                 bool *bad_live)
{
  const struct vswap_record_header *h = &rec->header;
  const uint8_t *buffer = store->gc_buffer;
  const uint64_t base = segment_offset (store, victim);
  const uint32_t address = (uint32_t) ((base + rec->offset)
                                       >> store->address_shift);
  uint32_t moved;
  int r = 0;

  switch (h->kind) {
  case VSWAP_RECORD_LIFETIME:
    if (address == store->lifetime_address && rec->payload_ok) {
      r = vswap_head_append_encoded (store, store->gc_head,
                                     buffer + rec->offset, rec->size, false,
                                     &moved);
      if (r == 0)
        store->lifetime_address = moved;
    }
    break;
  case VSWAP_RECORD_ZERO:
  case VSWAP_RECORD_TRIM:
  case VSWAP_RECORD_LOST:
    if (oldest_other < h->stamp)
      r = relocate_tombstone (store, h);
    break;
  case VSWAP_RECORD_SUMMARY: {
    /* A summary of a chunk elsewhere lives as long as that chunk. */
    struct vswap_summary sum;
    if (rec->payload_ok &&
        vswap_summary_decode_header (buffer + rec->offset
                                     + VSWAP_RECORD_HEADER_SIZE,
                                     h->payload_length, &sum) &&
        sum.segment != victim && sum.segment < store->segment_count &&
        (store->segments[sum.segment].generation == sum.generation ||
         store->segments[sum.segment].stale_generation == sum.generation))
      r = vswap_head_append_encoded (store, store->gc_head,
                                     buffer + rec->offset, rec->size, false,
                                     &moved);
    break;
  }
  case VSWAP_RECORD_RAW:
  case VSWAP_RECORD_ZSTD:
  case VSWAP_RECORD_SAME:
    if (h->logical_page >= store->pages)
      break;
    if (!rec->payload_ok) {
      const vswap_map_entry e = store->map[h->logical_page];
      if (vswap_map_is_stored (e) && vswap_map_address (e) == address)
        *bad_live = true;
      break;
    }
    r = relocate_data (store, buffer + rec->offset, h, address,
                       store->segments[victim].cold);
    break;
  default:
    break;                      /* PAD */
  }
  return r;
}

/* Copy the live records of VICTIM elsewhere, then erase it. */
static int
collect (struct vswap_store *store, uint64_t victim)
{
  struct segment *s = &store->segments[victim];
  const uint64_t base = segment_offset (store, victim);
  uint8_t *buffer = store->gc_buffer;
  int r;

  assert (s->state == SEGMENT_CLOSED);
  assert (vswap_gc_is_collector (store));
  STAT_ADD (store, gc_runs, 1);
  store->collections++;

  /* Only the written part is read, and nothing at all from a segment
   * with nothing live and no record that sets a page's state: after a
   * sequential overwrite, most victims are like that. */
  const bool holds_lifetime = store->lifetime_address != 0 &&
    vswap_segment_of_address (store, store->lifetime_address, NULL)
    == (int) victim;
  uint32_t length = s->write_offset ? s->write_offset : store->segment_size;
  if (s->live_records == 0 && s->state_records == 0 && !holds_lifetime)
    length = 0;
  const uint64_t oldest_other = oldest_other_content (store, victim);
  bool unknowns = false;
  /* A victim whose walk finds damage is read again (a bit flipped on the
   * way is not damage on the medium): its live records are copied as the
   * walks find them, and a record copied once is not live here any more. */
  for (int attempt = 0; attempt < 3; attempt++) {
    /* Nothing else frees or reopens a segment while we collect, so the
     * victim stays as it is; its records can only die meanwhile, and
     * which are still live is decided below, under the lock. */
    vswap_unlock (store);
    vswap_io_unlocked (store);
    r = vswap_medium_read (store->medium, buffer, length, base);
    vswap_lock (store);
    if (r < 0) {
      STAT_ADD (store, io_errors, 1);
      return r;
    }
    STAT_ADD (store, media_read_bytes, length);
    if (store->failed)
      return store->failed;
    if (attempt > 0)
      STAT_ADD (store, read_retries, 1);

    bool bad_live = false;
    unknowns = false;
    struct walk w;
    struct walk_chunk c;
    struct walk_record rec;
    /* The walk needs no lock: the image is the collector's own, and the
     * victim stays as it is.  Each record's fate is decided, and its copy
     * made, under the lock, one record at a time, so that requests are
     * not held up behind a segment's worth of copies. */
    vswap_unlock (store);
    walk_start (&w, store, victim, s->generation, buffer, length, false);
    while (r == 0 && walk_next_chunk (&w, &c)) {
      while (r == 0 && walk_next_record (&w, &c, &rec)) {
        vswap_lock (store);
        r = store->failed;
        if (r == 0)
          r = relocate_record (store, victim, &rec, oldest_other, &bad_live);
        vswap_unlock (store);
      }
      unknowns |= c.unknowns;
    }
    vswap_lock (store);
    if (r < 0)
      return r;
    if (!unknowns && !bad_live)
      break;
  }
  /* Damage recovery saw is accounted for: what the damaged records were
   * is in summaries and LOST records elsewhere, or did not matter. */
  if (s->damage == DAMAGE_KNOWN)
    unknowns = false;
  /* A live record that does not verify on any read has rotted: its page
   * is lost, and says so durably before the victim may go. */
  for (uint64_t page = 0; s->live_records != 0 && !unknowns &&
         page < store->pages; page++) {
    const vswap_map_entry e = store->map[page];
    if (vswap_map_is_stored (e) &&
        vswap_segment_of_address (store, vswap_map_address (e), NULL)
        == (int) victim) {
      r = lose_page (store, page);
      if (r < 0)
        return r;
    }
  }
  if (unknowns || s->live_records != 0) {
    /* Records whose headers do not verify: which pages they held, and
     * whether a tombstone among them is still needed, is unknown here.
     * The segment keeps them for recovery to judge (with the chunks'
     * summaries), and is never collected again: a segment that rots is
     * retired, as a flash controller retires a bad block. */
    vswap_segment_set_state (s, SEGMENT_PINNED);
    STAT_ADD (store, segments_retired, 1);
    return 0;
  }
  /* Before the victim goes, everything that supersedes its records must
   * be durable: the copies, and the newer writes that made the rest dead
   * (else a crash could bring back an even older version).  They all lie
   * before the heads' fill points now. */
  for (int i = 0; i < 2; i++) {
    const struct head *head = &store->heads[i];
    const bool pending = head->segment >= 0 && head->fill > head->written &&
      !(i == 1 && store->gc_head == store->user_head);
    s->release_segment[i] = pending ? head->segment : -1;
    s->release_fill[i] = pending ? head->fill : 0;
  }
  s->releasing = true;
  store->releasing++;
  return 0;
}

/* Has every head written past where it stood when S was collected?  A
 * head that has left that segment closed it, which sealed it. */
static bool
copies_written (const struct vswap_store *store, const struct segment *s)
{
  for (int i = 0; i < 2; i++)
    if (s->release_segment[i] >= 0 &&
        store->heads[i].segment == s->release_segment[i] &&
        store->heads[i].written < s->release_fill[i])
      return false;
  return true;
}

/* Free the releasing segments whose copies are written, after a medium
 * flush that makes them durable.  SEAL: seal the heads first, so that
 * all are.  Collector only: nothing else frees segments meanwhile. */
static int
release_victims (struct vswap_store *store, bool seal)
{
  int r;

  assert (vswap_gc_is_collector (store));
  if (store->releasing == 0)
    return 0;
  if (seal) {
    r = vswap_store_seal_all (store);
    if (r == 0)
      r = vswap_wait_written_all (store);
    if (r < 0)
      return r;
  }
  /* Those whose copies are found written now are on the medium (written
   * counts completed writes); the flush makes them durable.  Segments
   * whose copies are written while it runs wait for the next one. */
  uint64_t ready = 0;
  for (uint64_t i = 0; i < store->segment_count; i++) {
    struct segment *s = &store->segments[i];
    if (s->releasing && copies_written (store, s)) {
      s->release_segment[0] = s->release_segment[1] = -1;
      s->release_fill[0] = UINT32_MAX;      /* marks it ready */
      ready++;
    }
  }
  if (ready == 0)
    return 0;
  vswap_unlock (store);
  vswap_io_unlocked (store);
  r = vswap_medium_flush (store->medium);
  vswap_lock (store);
  if (r < 0) {
    store->failed = r;
    STAT_ADD (store, io_errors, 1);
    return r;
  }
  for (uint64_t i = 0; i < store->segment_count; i++) {
    struct segment *s = &store->segments[i];
    if (s->releasing && s->release_fill[0] == UINT32_MAX) {
      s->releasing = false;
      store->releasing--;
      vswap_segment_free (store, i);
    }
  }
  return 0;
}

bool
vswap_gc_short_of (const struct vswap_store *store, uint64_t target)
{
  /* A releasing segment is not as good as free: a seal and a flush free
   * it, but a crash first brings its records back to life, and the next
   * open must find free segments to collect into (it has no head open,
   * and must write what recovery found before anything else). */
  return store->free_segments <= target;
}

/* The user head has just filled its segment, no segment is free, and the
 * collected victims wait for copies in the GC head's unsealed chunk.
 * Opening a segment for the user head would seal that chunk at once (see
 * make_room), which pads it, and a 1 MiB segment of raw records then
 * holds 253 of them, not 254.  Instead, the user's records go on into
 * the GC head: when it fills, it closes unpadded, the victims are freed
 * by a flush, and the user head opens a segment as usual.  Safe for
 * GC: it borrows no segment, and the GC head's remaining space is what
 * the victims' copies already paid for; once it fills, the victims'
 * copies are written, so a flush frees at least one segment.  Not with
 * a write buffer (it keeps the user head's image only), nor while a
 * collection runs (it is filling the GC head itself). */
struct head *
vswap_gc_borrow_head (struct vswap_store *store, uint32_t size)
{
  struct head *const gc = store->gc_head;

  if (gc == store->user_head || gc->segment < 0 || gc->closing ||
      store->free_segments > store->reserve || store->releasing == 0 ||
      store->collecting || store->write_buffer ||
      vswap_gc_is_collector (store))
    return NULL;
  const uint32_t need = size + (gc->chunk_open ? 0 :
                                vswap_chunk_records_start
                                (store->address_shift));
  if ((uint64_t) gc->fill + need > store->segment_size)
    return NULL;
  /* Only when every collected victim waits for the GC head's copies:
   * else a flush alone frees one.  Until the GC head writes or GC
   * collects again, that stays so (a victim freed meanwhile frees a
   * segment), so the scan is done once, not for every record. */
  if (store->borrow_collections == store->collections &&
      store->borrow_segment == gc->segment &&
      store->borrow_written == gc->sealed)
    return gc;
  for (uint64_t i = 0; i < store->segment_count; i++) {
    const struct segment *s = &store->segments[i];
    if (s->releasing && copies_written (store, s))
      return NULL;
  }
  store->borrow_segment = gc->segment;
  store->borrow_written = gc->sealed;
  store->borrow_collections = store->collections;
  return gc;
}

bool
vswap_gc_is_collector (const struct vswap_store *store)
{
  return store->collecting && pthread_equal (store->collector,
                                             pthread_self ());
}

/* Collect until more than TARGET segments are free. */
static int
make_room (struct vswap_store *store, uint64_t target)
{
  int r = 0;

  assert (!store->collecting);
  store->collecting = true;
  store->collector = pthread_self ();
  /* Each victim gains at least the minimum, so a segment's worth of
   * victims without reaching the goal means the estimates were wrong: stop
   * rather than spin. */
  uint64_t budget = store->segment_count;
  while (vswap_gc_short_of (store, target)) {
    r = release_victims (store, false);
    if (r < 0 || !vswap_gc_short_of (store, target))
      break;
    const int64_t victim = choose_victim (store);
    /* A collection may need one fresh segment (see the top): with none
     * left, or nothing to collect, what waits for its copies is needed
     * now. */
    if (store->releasing && (victim < 0 || store->free_segments == 0)) {
      r = release_victims (store, true);
      if (r < 0)
        break;
      continue;
    }
    if (victim < 0 || budget-- == 0) {
      r = -ENOSPC;
      break;
    }
    r = collect (store, (uint64_t) victim);
    if (r < 0)
      break;
  }
  store->collecting = false;
  pthread_cond_broadcast (&store->gc_done);
  return r;
}

int
vswap_gc_make_room (struct vswap_store *store)
{
  return make_room (store, store->reserve);
}

int
vswap_gc_release (struct vswap_store *store, bool seal)
{
  if (store->collecting || store->releasing == 0 || store->failed)
    return 0;
  store->collecting = true;
  store->collector = pthread_self ();
  const int r = release_victims (store, seal);
  store->collecting = false;
  pthread_cond_broadcast (&store->gc_done);
  return r;
}

void
vswap_gc_nudge (struct vswap_store *store)
{
  if (store->gc_thread_running && !store->collecting &&
      vswap_gc_short_of (store, store->reserve + store->gc_headroom))
    pthread_cond_signal (&store->gc_wake);
}

/* Touch the stack a collection needs while memory is plentiful: under
 * mlockall (MCL_ONFAULT) the pages then stay, and a collection that runs
 * when memory is exhausted never has to fault in a new one (writers wait
 * for it, and swap with them). */
static void __attribute__ ((noinline))
touch_stack (void)
{
  volatile uint8_t pad[256 * 1024];
  for (size_t i = 0; i < sizeof pad; i += 1024)
    pad[i] = 0;
}

/* The background collector: keeps gc_headroom segments free beyond the
 * reserve, so that writers rarely wait for a collection. */
static void *
gc_thread_main (void *arg)
{
  struct vswap_store *store = arg;
  bool gave_up = false;

  touch_stack ();

  vswap_lock (store);
  while (!store->gc_stop) {
    const uint64_t target = store->reserve + store->gc_headroom;
    if (!gave_up && !store->collecting && !store->failed &&
        vswap_gc_short_of (store, target)) {
      /* ENOSPC here only means nothing is worth collecting yet: wait
       * for the next writer to need a segment. */
      gave_up = make_room (store, target) < 0;
      continue;
    }
    vswap_wait (store, &store->gc_wake);
    gave_up = false;
  }
  vswap_unlock (store);
  return NULL;
}

int
vswap_gc_start_thread (struct vswap_store *store)
{
  if (store->gc_thread_running || store->options.read_only)
    return 0;
  store->gc_stop = false;
  const int r = pthread_create (&store->gc_thread, NULL, gc_thread_main,
                                store);
  if (r != 0)
    return -r;
  vswap_lock (store);
  store->gc_thread_running = true;
  vswap_gc_nudge (store);
  vswap_unlock (store);
  return 0;
}

void
vswap_gc_stop_thread (struct vswap_store *store)
{
  if (!store->gc_thread_running)
    return;
  vswap_lock (store);
  store->gc_stop = true;
  pthread_cond_signal (&store->gc_wake);
  vswap_unlock (store);
  pthread_join (store->gc_thread, NULL);
  store->gc_thread_running = false;
}
