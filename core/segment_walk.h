/* vswap: walking the chunks and records of one segment image, past damage.
 *
 * Recovery, check, GC and the layout all read a segment the same way: the
 * chain of chunk headers of the segment's generation, and in each chunk
 * the records one after another.  Damage must cost only what it touches,
 * and must never look like the end of the log:
 *
 * - a record header that does not verify is stepped over: the walk looks
 *   for the next record header that does (every header is checksummed
 *   with the segment's generation, so a stray match is a 2^-32 event), and
 *   the chunk is flagged as holding records it could not read;
 * - a chunk header that does not verify, or a blank write unit, is damage
 *   when a chunk header or record of this generation follows it in the
 *   segment: the walk reports a "gap" chunk whose records are found by
 *   their headers alone, and goes on at the next chunk header;
 * - only blank bytes to the end of the segment end the log.
 *
 * A span that does not verify is read from the medium again (a flipped
 * bit on the way is not damage on it): see walk_reread.
 */
#ifndef VSWAP_SEGMENT_WALK_H
#define VSWAP_SEGMENT_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "on_medium.h"

struct vswap_store;

struct walk {
  struct vswap_store *store;
  uint64_t segment;
  uint64_t generation;
  uint8_t *image;               /* the segment, as read */
  uint32_t length;              /* bytes of the image that are valid */
  bool reread;                  /* read spans that fail again */
  uint32_t offset;              /* where the next chunk starts */
  uint64_t previous_sequence;
  unsigned rereads;             /* spans read again (statistics) */
};

struct walk_chunk {
  uint32_t offset;              /* where the chunk starts in the segment */
  uint32_t end;                 /* where the next chunk may start */
  bool header_ok;
  struct vswap_chunk_header header;     /* if header_ok */
  bool body_ok;                 /* every byte of its records verifies */
  bool tail;                    /* a gap with nothing of this generation
                                   after it: the log's torn end */
  /* Sequence of the next chunk of the segment whose header verifies
   * (UINT64_MAX: none): a gap's own sequence is below it. */
  uint64_t next_sequence;
  /* Filled in as its records are walked. */
  uint32_t records_found;       /* headers that verify */
  bool unknowns;                /* bytes no verified record explains:
                                   records whose headers are damaged */
  uint32_t last_end;            /* end of the last record found */
  uint64_t highest_stamp;       /* of the records found */
  /* Private: where the next record is looked for, and where records
   * stop. */
  uint32_t at;
  uint32_t records_end;
};

struct walk_record {
  uint32_t offset;              /* in the segment */
  uint32_t size;                /* header, payload and padding */
  struct vswap_record_header header;
  bool payload_ok;
};

/* Start walking IMAGE, LENGTH bytes of SEGMENT (of GENERATION).  REREAD:
 * spans that do not verify are read from the medium again (and patched
 * into IMAGE when the new copy verifies). */
void walk_start (struct walk *w, struct vswap_store *store, uint64_t segment,
                 uint64_t generation, uint8_t *image, uint32_t length,
                 bool reread);

/* The next chunk, or false at the end of the log. */
bool walk_next_chunk (struct walk *w, struct walk_chunk *c);

/* The next record of chunk C whose header verifies, or false when C has
 * no more.  Call until it returns false before walk_next_chunk: the
 * chunk's unknowns are settled then. */
bool walk_next_record (struct walk *w, struct walk_chunk *c,
                       struct walk_record *r);

/* Is there a chunk header of this store in IMAGE (LENGTH bytes) at a write
 * unit boundary after its first unit?  Fills *H with the first one. */
bool walk_find_later_chunk (const struct vswap_store *store,
                            const uint8_t *image, uint32_t length,
                            struct vswap_chunk_header *h);

#endif /* VSWAP_SEGMENT_WALK_H */
