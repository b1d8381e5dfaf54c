/* vswap: checking a store: every structure on the medium, every page.
 *
 * Recovery has already decided what each page holds (and which pages lost
 * their newest record: they read as errors).  Check walks every segment
 * past any damage, as recovery does, and says what it finds; then it
 * reads every page that points at a record.  A page that would fail is a
 * problem; damage that cost no page (a chunk header whose records were
 * all found by their own headers, a damaged copy that a newer record
 * superseded, the torn end of a write a crash cut short) is a note.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_codec.h"
#include "segment_walk.h"
#include "store_internal.h"

struct checker {
  struct vswap_store *store;
  void (*report) (void *opaque, bool problem, const char *message);
  void *opaque;
  struct vswap_check_result *result;
};

static void
say (struct checker *k, bool problem, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

static void
say (struct checker *k, bool problem, const char *fmt, ...)
{
  char message[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (message, sizeof message, fmt, ap);
  va_end (ap);
  if (problem)
    k->result->pages_failing++;
  else
    k->result->damage_notes++;
  if (k->report)
    k->report (k->opaque, problem, message);
}

/* Was a chunk of SEQUENCE (exact, or a bound it is below) flushed before
 * the newest durability marker? */
static bool
flushed (const struct vswap_store *store, uint64_t sequence, bool exact)
{
  return exact ? sequence < store->newest_marker
    : sequence <= store->newest_marker;
}

static void
check_segment (struct checker *k, uint64_t segment, uint8_t *image)
{
  struct vswap_store *store = k->store;
  const struct segment *s = &store->segments[segment];
  const uint64_t base = segment_offset (store, segment);
  struct walk w;
  struct walk_chunk c;
  struct walk_record rec;

  walk_start (&w, store, segment, s->generation, image, store->segment_size,
              true);
  while (walk_next_chunk (&w, &c)) {
    const bool was_flushed = flushed (store, c.header_ok ? c.header.sequence
                                      : c.next_sequence, c.header_ok);
    const char *what = was_flushed ? "damage" : "the torn end of a write "
      "a crash cut short";
    while (walk_next_record (&w, &c, &rec)) {
      const struct vswap_record_header *h = &rec.header;
      k->result->records_checked++;
      if (rec.payload_ok)
        continue;
      const uint32_t address = (uint32_t) ((base + rec.offset)
                                           >> store->address_shift);
      const vswap_map_entry e = h->logical_page < store->pages ?
        store->map[h->logical_page] : VSWAP_MAP_UNMAPPED;
      /* Its page is a problem of its own (below) if this was its newest
       * record. */
      if (e != vswap_map_stored (address) && e != VSWAP_MAP_DAMAGED)
        say (k, false, "segment %" PRIu64 " offset %" PRIu32 ": a record of "
             "page %" PRIu32 " does not verify (%s); a newer record or "
             "its previous copy stands", segment, rec.offset,
             h->logical_page, what);
    }
    if (!c.header_ok)
      say (k, false, "segment %" PRIu64 " offset %" PRIu32 ": no chunk "
           "header verifies (%s); %" PRIu32 " records up to offset %"
           PRIu32 " were found by their own headers", segment, c.offset,
           what, c.records_found, c.end);
    else if (c.unknowns)
      say (k, false, "segment %" PRIu64 " offset %" PRIu32 ": %" PRIu32
           " of the chunk's %" PRIu32 " records do not verify (%s); the "
           "pages they held are settled by the chunk's summary",
           segment, c.offset, c.header.record_count - c.records_found,
           c.header.record_count, what);
  }
}

int
vswap_store_check (struct vswap_store *store,
                   void (*report) (void *opaque, bool problem,
                                   const char *message),
                   void *opaque, struct vswap_check_result *result)
{
  struct checker k = {
    .store = store, .report = report, .opaque = opaque, .result = result,
  };
  uint8_t *image = NULL;
  ZSTD_DCtx *dctx = ZSTD_createDCtx ();
  uint8_t page[VSWAP_PAGE_SIZE];

  memset (result, 0, sizeof *result);
  if (!dctx || posix_memalign ((void **) &image, VSWAP_MEDIUM_BUFFER_ALIGN,
                               store->segment_size)) {
    ZSTD_freeDCtx (dctx);
    return -ENOMEM;
  }

  vswap_lock (store);
  for (uint64_t seg = 1; seg + 1 < store->segment_count; seg++) {
    const struct segment *s = &store->segments[seg];
    if (s->state == SEGMENT_FREE || s->generation == 0)
      continue;
    const int r = vswap_medium_read (store->medium, image,
                                     store->segment_size,
                                     segment_offset (store, seg));
    if (r < 0) {
      say (&k, true, "segment %" PRIu64 ": cannot read: %s", seg,
           vswap_strerror (-r));
      continue;
    }
    check_segment (&k, seg, image);
  }

  /* Every page: those whose newest record was lost, and those whose
   * record does not read back. */
  struct io_context ctx = { .dctx = dctx, .read_buffer = image };
  for (uint64_t p = 0; p < store->pages; p++) {
    const vswap_map_entry e = store->map[p];
    if (e == VSWAP_MAP_DAMAGED) {
      say (&k, true, "page %" PRIu64 " (byte offset %" PRIu64 "): its "
           "newest record was lost to damage; reading it returns an I/O "
           "error until it is written again", p, p * VSWAP_PAGE_SIZE);
      continue;
    }
    if (!vswap_map_is_stored (e))
      continue;
    /* vswap_read_record releases the lock. */
    const int r = vswap_read_record (store, &ctx, p, vswap_map_address (e),
                                     page);
    if (r < 0)
      say (&k, true, "page %" PRIu64 " (byte offset %" PRIu64 "): its "
           "record does not read back (%s); reading it returns an I/O "
           "error", p, p * VSWAP_PAGE_SIZE, vswap_strerror (-r));
    vswap_lock (store);
  }
  vswap_unlock (store);

  free (image);
  ZSTD_freeDCtx (dctx);
  return 0;
}
