/* vswap: chunk summaries (doc/on-medium-format.md, "Chunk summaries"):
 * which pages each chunk's records are of, written as SUMMARY records in
 * a later chunk, so that recovery knows what a damaged chunk held. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "store_internal.h"

/* A summary starts at least this far after the end of the chunk it
 * describes, so that one run of garbage does not take a record's header
 * and its summary entry both. */
#define SUMMARY_DISTANCE 512

/* The entries of P from FIRST on that one SUMMARY record takes: at most
 * VSWAP_SUMMARY_MAX_ENTRIES encoded entries (a range takes two), with
 * stamps within 2^32 - 1 of the lowest (*BASE).  Returns the end; *ENCODED
 * is the number of encoded entries. */
static uint32_t
summary_group (const struct pending_summary *p, uint32_t first,
               uint64_t *base, uint32_t *encoded)
{
  uint64_t low = UINT64_MAX, high = 0;
  uint32_t n = 0, i;

  for (i = first; i < p->count; i++) {
    const struct summary_entry *e = &p->entries[i];
    const uint32_t take = e->count != 1 ? 2 : 1;
    const uint64_t l = e->stamp < low ? e->stamp : low;
    const uint64_t h = e->stamp > high ? e->stamp : high;
    if (n + take > VSWAP_SUMMARY_MAX_ENTRIES ||
        h - l >= VSWAP_SUMMARY_COUNT_DELTA)
      break;
    low = l;
    high = h;
    n += take;
  }
  *base = low;
  *encoded = n;
  return i;
}

/* Work out the records P takes, and their bytes, a PAD included. */
static void
summary_measure (const struct vswap_store *store, struct pending_summary *p)
{
  p->room = vswap_record_size (SUMMARY_DISTANCE, store->address_shift);
  p->records = 1;
  for (uint32_t i = 0; i < p->count; ) {
    uint64_t base;
    uint32_t encoded;
    i = summary_group (p, i, &base, &encoded);
    p->room += vswap_record_size (VSWAP_SUMMARY_HEADER
                                  + encoded * VSWAP_SUMMARY_ENTRY,
                                  store->address_shift);
    p->records++;
  }
}

uint32_t
vswap_summary_room (const struct pending_summary *p)
{
  return p && p->present ? p->room : 0;
}

uint32_t
vswap_summary_record_count (const struct pending_summary *p)
{
  return p && p->present ? p->records : 0;
}

/* Put a record at HEAD's fill point, inside its open chunk.  The caller
 * made room. */
static void
place (struct vswap_store *store, struct head *head,
       struct vswap_record_header *h, const uint8_t *payload)
{
  const uint32_t size = vswap_record_size (h->payload_length,
                                           store->address_shift);
  uint8_t *where = head->buffer + head->fill;

  assert (head->chunk_open);
  assert ((uint64_t) head->fill + size <= store->segment_size);
  if (h->stamp == 0)
    h->stamp = ++store->sequence;
  vswap_record_header_encode (h, store->seed, head->generation, where);
  if (h->payload_length)
    memcpy (where + VSWAP_RECORD_HEADER_SIZE, payload, h->payload_length);
  memset (where + VSWAP_RECORD_HEADER_SIZE + h->payload_length, 0,
          size - VSWAP_RECORD_HEADER_SIZE - h->payload_length);
  XXH3_64bits_update (head->body, where, size);
  head->fill += size;
  head->chunk_records++;
}

/* Encode the SUMMARY record of P's entries [FIRST, END) (stamps from BASE)
 * into PAYLOAD; returns its length. */
static uint16_t
summary_payload (const struct pending_summary *p, uint32_t first,
                 uint32_t end, uint64_t base, uint32_t encoded,
                 uint8_t *payload)
{
  const struct vswap_summary sh = {
    .segment = p->segment,
    .generation = p->generation,
    .offset = p->offset,
    .entries = encoded,
    .sequence = p->sequence,
    .base = base,
  };
  vswap_summary_encode_header (&sh, payload);
  uint8_t *e = payload + VSWAP_SUMMARY_HEADER;
  for (uint32_t i = first; i < end; i++) {
    const struct summary_entry *x = &p->entries[i];
    vswap_put32 (e, x->page);
    vswap_put32 (e + 4, (uint32_t) (x->stamp - base));
    e += VSWAP_SUMMARY_ENTRY;
    if (x->count != 1) {
      vswap_put32 (e, x->count);
      vswap_put32 (e + 4, VSWAP_SUMMARY_COUNT_DELTA);
      e += VSWAP_SUMMARY_ENTRY;
    }
  }
  assert (e == payload + VSWAP_SUMMARY_HEADER
          + encoded * VSWAP_SUMMARY_ENTRY);
  return (uint16_t) (e - payload);
}

/* Write the summary P as records into HEAD's open chunk (which has room:
 * see reserve), and forget it. */
void
vswap_place_summary (struct vswap_store *store, struct head *head,
               struct pending_summary *p)
{
  if (!p->present)
    return;
  /* Too close behind the chunk it describes: push it further.  (With
   * address units of 512 bytes or more the chunk header already does.) */
  if (p->segment == (uint64_t) head->segment &&
      head->fill < p->end + SUMMARY_DISTANCE) {
    static const uint8_t zeros[SUMMARY_DISTANCE];
    const uint32_t unit = UINT32_C (1) << store->address_shift;
    uint32_t size = (uint32_t) round_up (p->end + SUMMARY_DISTANCE
                                         - head->fill, unit);
    if (size < VSWAP_RECORD_HEADER_SIZE)
      size = (uint32_t) round_up (VSWAP_RECORD_HEADER_SIZE, unit);
    assert (size - VSWAP_RECORD_HEADER_SIZE <= sizeof zeros);
    struct vswap_record_header pad = {
      .kind = VSWAP_RECORD_PAD,
      .payload_length = (uint16_t) (size - VSWAP_RECORD_HEADER_SIZE),
    };
    pad.payload_checksum = vswap_payload_checksum (zeros, pad.payload_length,
                                                   store->seed, 0);
    place (store, head, &pad, zeros);
  }
  uint8_t payload[VSWAP_PAGE_SIZE];
  const bool elsewhere = p->segment != (uint64_t) head->segment;
  for (uint32_t i = 0; i < p->count; ) {
    uint64_t base;
    uint32_t encoded;
    const uint32_t end = summary_group (p, i, &base, &encoded);
    struct vswap_record_header h = {
      .kind = VSWAP_RECORD_SUMMARY,
      .payload_length = summary_payload (p, i, end, base, encoded, payload),
    };
    h.payload_checksum = vswap_payload_checksum (payload, h.payload_length,
                                                 store->seed, 0);
    place (store, head, &h, payload);
    /* GC must move a summary of a chunk elsewhere while that chunk
     * lives. */
    if (elsewhere)
      store->segments[head->segment].state_records++;
    i = end;
  }
  p->present = false;
}

/* Make the entries HEAD gathered while its chunk [START, END) grew (see
 * commit in log_writer.c) its pending summary; the pending summary's old
 * array, placed by now, gathers the next chunk's. */
void
vswap_summarise (struct vswap_store *store, struct head *head,
                 uint32_t start, uint32_t end, uint64_t sequence)
{
  struct pending_summary *p = &head->summary;
  struct summary_entry *const spare = p->entries;

  assert (!p->present);
  p->entries = head->entries;
  p->count = head->entry_count;
  head->entries = spare;
  head->entry_count = 0;
  p->present = p->count > 0;    /* no page records: nothing to lose */
  p->segment = (uint64_t) head->segment;
  p->generation = head->generation;
  p->offset = start;
  p->end = end;
  p->sequence = sequence;
  if (p->present)
    summary_measure (store, p);
}

int
vswap_append_summary (struct vswap_store *store, struct head *head,
                      const struct pending_summary *summary)
{
  uint8_t payload[VSWAP_PAGE_SIZE];
  int r = 0;
  /* Even with no entries: a summary says the chunk is accounted for. */
  for (uint32_t i = 0; r == 0 && (i < summary->count || i == 0); ) {
    uint64_t base;
    uint32_t encoded;
    const uint32_t end = summary_group (summary, i, &base, &encoded);
    struct vswap_record_header h = {
      .kind = VSWAP_RECORD_SUMMARY,
      .payload_length = summary_payload (summary, i, end, base, encoded,
                                         payload),
    };
    h.payload_checksum = vswap_payload_checksum (payload, h.payload_length,
                                                 store->seed, 0);
    uint32_t address;
    r = vswap_head_append (store, head, &h, payload, &address);
    if (end == 0)
      break;
    i = end;
  }
  return r;
}

