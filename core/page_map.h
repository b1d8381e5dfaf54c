/* vswap: the indirection table.  One 32-bit entry per logical 4 KiB page,
 * plus one read-in bit: 4.125 bytes of RAM per page.
 *
 *   0x00000000            unmapped (never written, or trimmed)
 *   0x00000001            dropped: freed when read (readtrim=on); reads EIO
 *   0x00000002            zero
 *   0x00000003            damaged: its newest record was lost; reads EIO
 *   01 + 30-bit index     same-filled: the 8-byte pattern is in the
 *                         pattern table at that index
 *   1  + 31-bit address   stored: the record starts at address << shift
 *
 * The same-filled pattern lives in a small shared table rather than in the
 * entry itself, which would double the entry: real swap sees a handful of
 * distinct patterns (0xff.., small integers).  When the table is full the
 * page is simply mapped to its SAME record on the medium.
 *
 * Header-only, tested by tests/test-page-map.c.  Not thread-safe: the
 * store holds its lock.
 */
#ifndef VSWAP_PAGE_MAP_H
#define VSWAP_PAGE_MAP_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include <xxhash.h>

#include "bitmap.h"

typedef uint32_t vswap_map_entry;

#define VSWAP_MAP_UNMAPPED ((vswap_map_entry) 0)
#define VSWAP_MAP_DROPPED ((vswap_map_entry) 1)
#define VSWAP_MAP_ZERO ((vswap_map_entry) 2)
#define VSWAP_MAP_DAMAGED ((vswap_map_entry) 3)
#define VSWAP_MAP_SAME_BIT UINT32_C (0x40000000)
#define VSWAP_MAP_STORED_BIT UINT32_C (0x80000000)
#define VSWAP_MAP_MAX_ADDRESS UINT32_C (0x7fffffff)
#define VSWAP_MAP_MAX_PATTERN_INDEX UINT32_C (0x3fffffff)

static inline bool
vswap_map_is_stored (vswap_map_entry e)
{
  return (e & VSWAP_MAP_STORED_BIT) != 0;
}

static inline bool
vswap_map_is_same (vswap_map_entry e)
{
  return (e & (VSWAP_MAP_STORED_BIT | VSWAP_MAP_SAME_BIT)) == VSWAP_MAP_SAME_BIT;
}

static inline vswap_map_entry
vswap_map_stored (uint32_t address)
{
  assert (address <= VSWAP_MAP_MAX_ADDRESS);
  return VSWAP_MAP_STORED_BIT | address;
}

static inline uint32_t
vswap_map_address (vswap_map_entry e)
{
  assert (vswap_map_is_stored (e));
  return e & VSWAP_MAP_MAX_ADDRESS;
}

static inline vswap_map_entry
vswap_map_same (uint32_t pattern_index)
{
  assert (pattern_index <= VSWAP_MAP_MAX_PATTERN_INDEX);
  return VSWAP_MAP_SAME_BIT | pattern_index;
}

static inline uint32_t
vswap_map_pattern_index (vswap_map_entry e)
{
  assert (vswap_map_is_same (e));
  return e & VSWAP_MAP_MAX_PATTERN_INDEX;
}

/* ---- the same-fill pattern table ---- */

#define VSWAP_PATTERN_SLOTS 1024        /* a power of two */
#define VSWAP_PATTERN_PROBES 16

struct vswap_pattern_table {
  uint64_t pattern[VSWAP_PATTERN_SLOTS];
  uint32_t references[VSWAP_PATTERN_SLOTS];     /* 0: slot free */
};

/* Find or add PATTERN and take a reference.  Returns the index, or -1 when
 * the table is full around that pattern's home slot. */
static inline int32_t
vswap_pattern_acquire (struct vswap_pattern_table *t, uint64_t pattern)
{
  const uint32_t home = (uint32_t) XXH3_64bits (&pattern, sizeof pattern);
  int32_t free_slot = -1;
  for (uint32_t i = 0; i < VSWAP_PATTERN_PROBES; i++) {
    const uint32_t slot = (home + i) & (VSWAP_PATTERN_SLOTS - 1);
    if (t->references[slot] > 0 && t->pattern[slot] == pattern) {
      t->references[slot]++;
      return (int32_t) slot;
    }
    if (t->references[slot] == 0 && free_slot < 0)
      free_slot = (int32_t) slot;
  }
  if (free_slot >= 0) {
    t->pattern[free_slot] = pattern;
    t->references[free_slot] = 1;
  }
  return free_slot;
}

static inline void
vswap_pattern_release (struct vswap_pattern_table *t, uint32_t index)
{
  assert (index < VSWAP_PATTERN_SLOTS);
  assert (t->references[index] > 0);
  t->references[index]--;
}

static inline uint64_t
vswap_pattern_get (const struct vswap_pattern_table *t, uint32_t index)
{
  assert (index < VSWAP_PATTERN_SLOTS && t->references[index] > 0);
  return t->pattern[index];
}

#endif /* VSWAP_PAGE_MAP_H */
