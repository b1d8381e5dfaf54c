/* vswap: the bytes on the medium.  doc/on-medium-format.md says the same
 * in prose; keep the two in step.
 *
 * Everything is little-endian.  The medium is cut into segments of
 * segment_size bytes (an erase block or zone).  The first and the last
 * segment each hold one copy of the superblock; the others hold data.  A
 * data segment is written front to back in chunks; a chunk is a 64-byte
 * header followed by records and zero padding up to the write unit.  A
 * record is a 32-byte header followed by its payload, padded to the
 * address unit (16 bytes or more).
 *
 * These helpers are header-only so that the encoding has its own unit
 * test (tests/test-on-medium.c) apart from the store.
 */
#ifndef VSWAP_ON_MEDIUM_H
#define VSWAP_ON_MEDIUM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "uuid.h"

#define VSWAP_FORMAT_VERSION 2
#define VSWAP_SUPERBLOCK_MAGIC "VSWAPSB1"
#define VSWAP_CHUNK_MAGIC "VSWAPCK2"
#define VSWAP_SUPERBLOCK_SIZE 128       /* bytes used at the segment start */
#define VSWAP_CHUNK_HEADER_SIZE 64
#define VSWAP_RECORD_HEADER_SIZE 32
#define VSWAP_MIN_ADDRESS_SHIFT 4       /* records aligned to 16 bytes */
#define VSWAP_MAX_CHUNK_RECORDS 4096    /* a chunk is sealed at this many */

/* Record kinds.  Data records are read back; ZERO, TRIM and LOST are
 * durable tombstones for a range of pages; SUMMARY says which pages
 * another chunk holds. */
enum vswap_record_kind {
  VSWAP_RECORD_RAW = 1,         /* payload is the 4 KiB page */
  VSWAP_RECORD_ZSTD = 2,        /* payload is a zstd frame of the page */
  VSWAP_RECORD_SAME = 3,        /* every 8-byte word is pattern; no payload */
  VSWAP_RECORD_ZERO = 4,        /* COUNT pages read as zero */
  VSWAP_RECORD_TRIM = 5,        /* COUNT pages unmapped */
  VSWAP_RECORD_LIFETIME = 6,    /* the store's lifetime counters */
  VSWAP_RECORD_SUMMARY = 7,     /* the page records of another chunk */
  VSWAP_RECORD_PAD = 8,         /* zeros, to place the next record */
  VSWAP_RECORD_LOST = 9,        /* COUNT pages read as I/O errors */
};

/* Does a record of KIND set the state of pages (and so belong in its
 * chunk's summary)? */
static inline bool
vswap_record_kind_is_page (uint8_t kind)
{
  return (kind >= VSWAP_RECORD_RAW && kind <= VSWAP_RECORD_TRIM) ||
    kind == VSWAP_RECORD_LOST;
}

/* Does a record of KIND cover a range of COUNT pages? */
static inline bool
vswap_record_kind_is_range (uint8_t kind)
{
  return kind == VSWAP_RECORD_ZERO || kind == VSWAP_RECORD_TRIM ||
    kind == VSWAP_RECORD_LOST;
}

/* The LIFETIME record's payload: a count, then that many little-endian
 * u64 counters in this order (new counters are only ever appended). */
enum vswap_lifetime_counter {
  VSWAP_LIFETIME_OPENS,
  VSWAP_LIFETIME_HOST_WRITE_BYTES,
  VSWAP_LIFETIME_MEDIA_WRITE_BYTES,
  VSWAP_LIFETIME_HOST_TRIM_BYTES,
  VSWAP_LIFETIME_PAGES_ZERO,
  VSWAP_LIFETIME_PAGES_SAME_FILLED,
  VSWAP_LIFETIME_PAGES_COMPRESSED,
  VSWAP_LIFETIME_PAGES_RAW,
  VSWAP_LIFETIME_GC_BYTES_MOVED,
  VSWAP_LIFETIME_SEGMENTS_ERASED,
  VSWAP_LIFETIME_COUNTERS
};

/* After the counters a LIFETIME payload may hold the erase table: u32
 * segment count (all segments), u32 base, then a u16 per segment: its
 * erase count minus base (saturated).  Readers that know fewer counters
 * stop before it. */
#define VSWAP_ERASE_TABLE_HEADER 8
#define VSWAP_MAX_LIFETIME_PAYLOAD 4096

/* Record flags. */
#define VSWAP_RECORD_RELOCATED 1        /* copied by GC */

/* Chunk flags. */
#define VSWAP_CHUNK_LAST 1      /* the segment was closed after this chunk */
#define VSWAP_CHUNK_CLEAN 2     /* a durability marker: every chunk of a
                                   lower sequence is complete and flushed;
                                   the last chunk of a clean close, after
                                   which the next open may append */

static inline void
vswap_put16 (uint8_t *p, uint16_t v)
{
  p[0] = v; p[1] = v >> 8;
}

static inline void
vswap_put32 (uint8_t *p, uint32_t v)
{
  vswap_put16 (p, v); vswap_put16 (p + 2, v >> 16);
}

static inline void
vswap_put64 (uint8_t *p, uint64_t v)
{
  vswap_put32 (p, v); vswap_put32 (p + 4, v >> 32);
}

static inline uint16_t
vswap_get16 (const uint8_t *p)
{
  return p[0] | (uint16_t) p[1] << 8;
}

static inline uint32_t
vswap_get32 (const uint8_t *p)
{
  return vswap_get16 (p) | (uint32_t) vswap_get16 (p + 2) << 16;
}

static inline uint64_t
vswap_get64 (const uint8_t *p)
{
  return vswap_get32 (p) | (uint64_t) vswap_get32 (p + 4) << 32;
}

/* A 32-bit checksum: the low half of XXH3-64.  XXH3 (Debian libxxhash)
 * runs at memory speed, so checksumming every page costs little; the seed
 * ties a checksum to its store, page or segment generation, so that a
 * well-formed record from elsewhere (another store, an older life of this
 * segment, another page) does not pass. */
static inline uint32_t
vswap_checksum (const void *data, size_t length, uint64_t seed)
{
  return (uint32_t) XXH3_64bits_withSeed (data, length, seed);
}

/* ---- superblock ---- */

struct vswap_superblock {
  uint32_t format_version;
  uint8_t uuid[VSWAP_UUID_SIZE];
  uint64_t generation;          /* higher wins between the two copies */
  uint64_t logical_size;        /* bytes exported */
  uint64_t medium_size;         /* bytes of medium the store uses */
  uint32_t segment_size;
  uint32_t write_unit;
  uint32_t open_segments;
  uint32_t address_shift;       /* record addresses are offset >> shift */
  uint64_t segment_count;       /* all segments, superblock ones included */
  uint32_t compression;         /* enum vswap_compression */
  int32_t compression_level;
  uint32_t flags;
  uint64_t created;
  uint64_t endurance;           /* bytes the medium is rated to write; 0 = unknown */
};

#define VSWAP_SUPERBLOCK_COMPRESSION_CHOSEN 1

static inline void
vswap_superblock_encode (const struct vswap_superblock *sb,
                         uint8_t out[VSWAP_SUPERBLOCK_SIZE])
{
  memset (out, 0, VSWAP_SUPERBLOCK_SIZE);
  memcpy (out, VSWAP_SUPERBLOCK_MAGIC, 8);
  vswap_put32 (out + 8, sb->format_version);
  vswap_put32 (out + 12, VSWAP_SUPERBLOCK_SIZE);
  memcpy (out + 16, sb->uuid, VSWAP_UUID_SIZE);
  vswap_put64 (out + 32, sb->generation);
  vswap_put64 (out + 40, sb->logical_size);
  vswap_put64 (out + 48, sb->medium_size);
  vswap_put32 (out + 56, sb->segment_size);
  vswap_put32 (out + 60, sb->write_unit);
  vswap_put32 (out + 64, sb->open_segments);
  vswap_put32 (out + 68, sb->address_shift);
  vswap_put64 (out + 72, sb->segment_count);
  vswap_put32 (out + 80, sb->compression);
  vswap_put32 (out + 84, (uint32_t) sb->compression_level);
  vswap_put32 (out + 88, sb->flags);
  vswap_put64 (out + 96, sb->created);
  vswap_put64 (out + 104, sb->endurance);
  vswap_put64 (out + 120, XXH3_64bits (out, 120));
}

/* Returns true when BUFFER holds a superblock with a valid checksum. */
static inline bool
vswap_superblock_decode (const uint8_t *in, struct vswap_superblock *sb)
{
  if (memcmp (in, VSWAP_SUPERBLOCK_MAGIC, 8) != 0)
    return false;
  if (vswap_get64 (in + 120) != XXH3_64bits (in, 120))
    return false;
  sb->format_version = vswap_get32 (in + 8);
  memcpy (sb->uuid, in + 16, VSWAP_UUID_SIZE);
  sb->generation = vswap_get64 (in + 32);
  sb->logical_size = vswap_get64 (in + 40);
  sb->medium_size = vswap_get64 (in + 48);
  sb->segment_size = vswap_get32 (in + 56);
  sb->write_unit = vswap_get32 (in + 60);
  sb->open_segments = vswap_get32 (in + 64);
  sb->address_shift = vswap_get32 (in + 68);
  sb->segment_count = vswap_get64 (in + 72);
  sb->compression = vswap_get32 (in + 80);
  sb->compression_level = (int32_t) vswap_get32 (in + 84);
  sb->flags = vswap_get32 (in + 88);
  sb->created = vswap_get64 (in + 96);
  sb->endurance = vswap_get64 (in + 104);
  return true;
}

/* The store-wide checksum seed, derived from the UUID. */
static inline uint64_t
vswap_store_seed (const uint8_t uuid[VSWAP_UUID_SIZE])
{
  return XXH3_64bits (uuid, VSWAP_UUID_SIZE);
}

/* ---- chunk header ---- */

struct vswap_chunk_header {
  uint8_t uuid[VSWAP_UUID_SIZE];
  uint64_t sequence;            /* global, increasing: the replay order */
  uint64_t generation;          /* sequence of the segment's first chunk */
  uint32_t length;              /* header + records, before padding */
  uint32_t record_count;
  uint32_t erase_count;         /* of this segment when it was opened */
  uint32_t flags;
  uint32_t body_checksum;       /* of the records (bytes 64..length) */
};

static inline void
vswap_chunk_header_encode (const struct vswap_chunk_header *h,
                           uint8_t out[VSWAP_CHUNK_HEADER_SIZE])
{
  memcpy (out, VSWAP_CHUNK_MAGIC, 8);
  memcpy (out + 8, h->uuid, VSWAP_UUID_SIZE);
  vswap_put64 (out + 24, h->sequence);
  vswap_put64 (out + 32, h->generation);
  vswap_put32 (out + 40, h->length);
  vswap_put32 (out + 44, h->record_count);
  vswap_put32 (out + 48, h->erase_count);
  vswap_put32 (out + 52, h->flags);
  vswap_put32 (out + 56, h->body_checksum);
  vswap_put32 (out + 60, vswap_checksum (out, 60, 0));
}

/* True when IN is a well-formed chunk header (magic and checksum); the
 * caller still checks the UUID, generation and length. */
static inline bool
vswap_chunk_header_decode (const uint8_t *in, struct vswap_chunk_header *h)
{
  if (memcmp (in, VSWAP_CHUNK_MAGIC, 8) != 0)
    return false;
  if (vswap_get32 (in + 60) != vswap_checksum (in, 60, 0))
    return false;
  memcpy (h->uuid, in + 8, VSWAP_UUID_SIZE);
  h->sequence = vswap_get64 (in + 24);
  h->generation = vswap_get64 (in + 32);
  h->length = vswap_get32 (in + 40);
  h->record_count = vswap_get32 (in + 44);
  h->erase_count = vswap_get32 (in + 48);
  h->flags = vswap_get32 (in + 52);
  h->body_checksum = vswap_get32 (in + 56);
  return true;
}

/* ---- record header ---- */

struct vswap_record_header {
  uint32_t logical_page;
  uint32_t count;               /* pages covered: ZERO, TRIM, LOST; 1 for
                                   RAW, ZSTD, SAME; 0 for the others */
  uint16_t payload_length;
  uint8_t kind;
  uint8_t flags;
  uint64_t stamp;               /* when the record was appended: the
                                   newest record of a page wins */
  uint32_t payload_checksum;    /* seeded with store seed ^ logical page */
  uint64_t pattern;             /* SAME: the 8-byte word */
};

/* The header checksum is seeded with the segment generation: a record
 * left over from an earlier life of the segment never verifies. */
static inline void
vswap_record_header_encode (const struct vswap_record_header *r,
                            uint64_t store_seed, uint64_t generation,
                            uint8_t out[VSWAP_RECORD_HEADER_SIZE])
{
  vswap_put32 (out, r->logical_page);
  vswap_put16 (out + 4, r->payload_length);
  out[6] = r->kind;
  out[7] = r->flags;
  vswap_put64 (out + 8, r->stamp);
  vswap_put64 (out + 16, r->kind == VSWAP_RECORD_SAME ? r->pattern
               : vswap_record_kind_is_range (r->kind) ? r->count : 0);
  vswap_put32 (out + 24, r->payload_checksum);
  vswap_put32 (out + 28, vswap_checksum (out, 28, store_seed ^ generation));
}

/* Restamp the header checksum for a new generation (GC relocation).  The
 * stamp stays: a copy is the same version of its page. */
static inline void
vswap_record_header_restamp (uint8_t *header, uint64_t store_seed,
                             uint64_t generation)
{
  header[7] |= VSWAP_RECORD_RELOCATED;
  vswap_put32 (header + 28,
               vswap_checksum (header, 28, store_seed ^ generation));
}

/* True when IN is a record header of this store and GENERATION whose
 * fields agree with its kind; fills *R. */
static inline bool
vswap_record_header_decode (const uint8_t *in, uint64_t store_seed,
                            uint64_t generation,
                            struct vswap_record_header *r)
{
  if (vswap_get32 (in + 28) != vswap_checksum (in, 28, store_seed ^ generation))
    return false;
  r->logical_page = vswap_get32 (in);
  r->payload_length = vswap_get16 (in + 4);
  r->kind = in[6];
  r->flags = in[7];
  r->stamp = vswap_get64 (in + 8);
  const uint64_t extent = vswap_get64 (in + 16);
  r->payload_checksum = vswap_get32 (in + 24);
  r->pattern = 0;
  r->count = 1;
  if (r->payload_length > 4096)
    return false;
  switch (r->kind) {
  case VSWAP_RECORD_RAW:
    return r->payload_length == 4096 && extent == 0;
  case VSWAP_RECORD_ZSTD:
    return r->payload_length > 0 && r->payload_length < 4096 && extent == 0;
  case VSWAP_RECORD_SAME:
    r->pattern = extent;
    return r->payload_length == 0;
  case VSWAP_RECORD_ZERO:
  case VSWAP_RECORD_TRIM:
  case VSWAP_RECORD_LOST:
    r->count = (uint32_t) extent;
    return r->payload_length == 0 && extent >= 1 && extent <= UINT32_MAX &&
      (uint64_t) r->logical_page + extent <= (UINT64_C (1) << 32);
  case VSWAP_RECORD_LIFETIME:
  case VSWAP_RECORD_SUMMARY:
  case VSWAP_RECORD_PAD:
    r->count = 0;
    return extent == 0;
  default:
    return false;
  }
}

/* ---- summary records ---- */

#define VSWAP_SUMMARY_HEADER 40
#define VSWAP_SUMMARY_ENTRY 8
#define VSWAP_SUMMARY_MAX_ENTRIES \
  ((4096 - VSWAP_SUMMARY_HEADER) / VSWAP_SUMMARY_ENTRY)
/* The stamp delta of an entry that holds the page count of the entry
 * before it (a ZERO, TRIM or LOST record of more than one page). */
#define VSWAP_SUMMARY_COUNT_DELTA UINT32_MAX

/* What a SUMMARY record's payload says about the chunk it describes. */
struct vswap_summary {
  uint64_t segment;
  uint64_t generation;
  uint32_t offset;
  uint32_t entries;
  uint64_t sequence;
  uint64_t base;                /* entry stamps are base + delta */
};

static inline void
vswap_summary_encode_header (const struct vswap_summary *h, uint8_t *out)
{
  vswap_put64 (out, h->segment);
  vswap_put64 (out + 8, h->generation);
  vswap_put32 (out + 16, h->offset);
  vswap_put32 (out + 20, h->entries);
  vswap_put64 (out + 24, h->sequence);
  vswap_put64 (out + 32, h->base);
}

/* True when the LENGTH bytes at IN are a well-formed SUMMARY payload. */
static inline bool
vswap_summary_decode_header (const uint8_t *in, uint32_t length,
                             struct vswap_summary *h)
{
  if (length < VSWAP_SUMMARY_HEADER)
    return false;
  h->segment = vswap_get64 (in);
  h->generation = vswap_get64 (in + 8);
  h->offset = vswap_get32 (in + 16);
  h->entries = vswap_get32 (in + 20);
  h->sequence = vswap_get64 (in + 24);
  h->base = vswap_get64 (in + 32);
  return h->entries <= VSWAP_SUMMARY_MAX_ENTRIES &&
    length == VSWAP_SUMMARY_HEADER + h->entries * VSWAP_SUMMARY_ENTRY;
}

static inline uint32_t
vswap_payload_checksum (const void *payload, size_t length,
                        uint64_t store_seed, uint32_t logical_page)
{
  return vswap_checksum (payload, length, store_seed ^ logical_page);
}

/* Where a chunk's first record starts: after the header, at the address
 * unit (records must sit at whole units to be addressable). */
static inline uint32_t
vswap_chunk_records_start (uint32_t address_shift)
{
  const uint32_t unit = UINT32_C (1) << address_shift;
  return (VSWAP_CHUNK_HEADER_SIZE + unit - 1) & ~(unit - 1);
}

/* Bytes a record occupies, header and padding included. */
static inline uint32_t
vswap_record_size (uint32_t payload_length, uint32_t address_shift)
{
  const uint32_t unit = UINT32_C (1) << address_shift;
  return (VSWAP_RECORD_HEADER_SIZE + payload_length + unit - 1) & ~(unit - 1);
}

#endif /* VSWAP_ON_MEDIUM_H */

