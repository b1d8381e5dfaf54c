/* vswap: durability markers: a CLEAN chunk written after a medium flush
 * says that every chunk of a lower sequence is complete, and a clean close
 * ends each head with one. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "store_internal.h"

/* Can HEAD take a marker chunk holding the summaries P and Q? */
static bool
marker_fits (const struct vswap_store *store, const struct head *head,
             const struct pending_summary *p, const struct pending_summary *q)
{
  return head->segment >= 0 && !head->chunk_open && !head->closing &&
    (uint64_t) head->fill + vswap_chunk_records_start (store->address_shift)
    + vswap_summary_room (p) + vswap_summary_room (q)
    <= store->segment_size;
}

/* Write a marker chunk (flagged FLAGS) into HEAD, carrying its own pending
 * summary and ADOPTED's (if not NULL). */
static int
write_marker (struct vswap_store *store, struct head *head,
              struct head *adopted, uint32_t flags)
{
  vswap_open_chunk (store, head);
  if (adopted)
    vswap_place_summary (store, head, &adopted->summary);
  /* vswap_head_seal places the head's own. */
  const int r = vswap_head_seal (store, head, flags);
  if (r == 0)
    head->marked = head->sealed;
  return r;
}

/* Write a marker (FLAGS: CLEAN) into every head that needs one.  A marker
 * says that every chunk below it is complete, and the summaries of those
 * chunks must then be on the medium: a head that cannot carry its own
 * summary (no segment, no room, a chunk open) has it carried by the
 * other's marker; if neither can, the head takes a fresh segment for it
 * (its next write would need one anyway) when one is free beyond GC's
 * reserve, or at a clean close (CLOSING) any free one; else no marker is
 * written at all.  Never a collection: it would append copies that
 * nothing here writes out.  CLOSING also puts a marker in each head that
 * has a segment, even with nothing new: the next open appends after it. */
static int
mark_heads (struct vswap_store *store, uint32_t flags, bool closing)
{
  struct head *heads[2] = { store->user_head, store->gc_head };
  const int count = store->gc_head == store->user_head ? 1 : 2;

  for (int attempt = 0; attempt < 3; attempt++) {
    bool own[2] = { false, false };
    struct head *orphan[2] = { NULL, NULL };
    struct head *stranded = NULL;

    for (int i = 0; i < count; i++) {
      struct head *h = heads[i];
      const bool wanted = h->segment >= 0 && !h->chunk_open && !h->closing &&
        (closing || h->summary.present ||
         (h->sealed != 0 && h->sealed != h->marked));
      own[i] = wanted && marker_fits (store, h, &h->summary, NULL);
      if (h->summary.present && !own[i])
        orphan[i] = h;
    }
    for (int i = 0; i < count && !stranded; i++) {
      if (!orphan[i])
        continue;
      const int j = 1 - i;
      if (j < count && !orphan[j] &&
          marker_fits (store, heads[j], &heads[j]->summary,
                       &orphan[i]->summary))
        own[j] = true;          /* j carries i's summary */
      else
        stranded = orphan[i];
    }
    if (!stranded) {
      for (int i = 0; i < count; i++) {
        if (!own[i])
          continue;
        const int j = 1 - i;
        const int r = write_marker (store, heads[i],
                                    j < count ? orphan[j] : NULL, flags);
        if (r < 0)
          return r;
      }
      return 0;
    }
    /* A head with a chunk open will carry its summary itself, and the
     * marker must wait for it. */
    if (stranded->chunk_open || stranded->closing)
      return 0;
    if (store->free_segments == 0 ||
        (!closing && vswap_gc_short_of (store, store->reserve)))
      return 0;
    int r = 0;
    if (stranded->segment >= 0)
      r = vswap_close_segment (store, stranded);
    if (r == 0)
      r = vswap_take_segment (store, stranded);
    if (r < 0)
      return r;
  }
  return 0;
}

int
vswap_store_mark_durable (struct vswap_store *store)
{
  return mark_heads (store, VSWAP_CHUNK_CLEAN, false);
}

int
vswap_store_close_heads (struct vswap_store *store)
{
  int r = vswap_store_seal_all (store);
  if (r == 0)
    r = mark_heads (store, VSWAP_CHUNK_CLEAN, true);
  if (r == 0)
    r = vswap_wait_written_all (store);
  for (int i = 0; i < 2 && r == 0; i++) {
    struct head *head = &store->heads[i];
    if (head->segment < 0)
      continue;
    assert (!head->chunk_open);
    vswap_segment_set_state (&store->segments[head->segment],
                           SEGMENT_CLOSED);
    head->segment = -1;
  }
  vswap_buffer_note (store);
  return r;
}

