/* vswap: how long will the medium last?  From the endurance declared at
 * format (bytes the medium is rated to write), what the store has written
 * to it over its life, the erase counts of its segments, and a write
 * rate, the share of the medium's rated life used so far and the time
 * left at that rate.  Arithmetic only: the tools feed it what a running
 * server's statistics file or the store itself says.
 */
#ifndef VSWAP_LIFE_H
#define VSWAP_LIFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vswap_life {
  bool known;                   /* an endurance was declared */
  /* Fractions of the rated endurance used (1 = all of it).  By bytes:
   * lifetime media bytes ÷ endurance.  By erases: the most erased data
   * segment's count ÷ the rated program/erase cycles (endurance ÷ medium
   * bytes): a card whose controller spreads wear no better than vswap
   * does wears there first.  worn is the larger of the two. */
  double worn, worn_by_bytes, worn_by_erases;
  uint64_t remaining_bytes;     /* endurance × (1 − worn), at least 0 */
  /* At the given rate; negative when nothing is being written (no end in
   * sight), 0 when the rated endurance is used up. */
  double seconds_left;
};

/* Fill LIFE.  ENDURANCE_BYTES 0 means unknown (LIFE->known false, the rest
 * zero).  BYTES_PER_SECOND is the medium write rate to project with. */
void vswap_project_life (uint64_t endurance_bytes, uint64_t medium_bytes,
                         uint64_t lifetime_media_write_bytes,
                         uint64_t erase_count_max, double bytes_per_second,
                         struct vswap_life *life);

/* Parse an endurance: "40TBW" (also GBW, PBW; decimal units, as cards are
 * rated; the W may be left out), "3000x" or "3000cycles" (program/erase
 * cycles × MEDIUM_BYTES), or a plain number of bytes.  Returns 0 and sets
 * *BYTES, or -EINVAL. */
int vswap_parse_endurance (const char *text, uint64_t medium_bytes,
                           uint64_t *bytes);

/* "3.2 years", "41 days", "5 hours": a duration for people, in BUFFER. */
const char *vswap_duration_text (double seconds, char *buffer, size_t size);

#endif /* VSWAP_LIFE_H */
