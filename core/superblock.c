/* vswap: the superblock: finding the newest copy on a medium, checking it
 * against the medium, and formatting a new store. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "page_map.h"
#include "store_internal.h"
#include "superblock.h"

/* A zeroed buffer the medium can read into or write from. */
static void *
alloc_unit (size_t size)
{
  void *p;
  if (posix_memalign (&p, VSWAP_MEDIUM_BUFFER_ALIGN,
                      round_up (size, VSWAP_MEDIUM_BUFFER_ALIGN)) != 0)
    return NULL;
  memset (p, 0, size);
  return p;
}

static int
read_superblock_at (struct vswap_medium *medium, uint64_t offset,
                    struct vswap_superblock *sb)
{
  const uint32_t unit = medium->geometry.read_unit > 4096 ?
    medium->geometry.read_unit : 4096;
  if (offset + unit > medium->geometry.capacity)
    return 0;
  uint8_t *buffer = alloc_unit (unit);
  if (!buffer)
    return -ENOMEM;
  int r = vswap_medium_read (medium, buffer, unit, offset);
  if (r == 0)
    r = vswap_superblock_decode (buffer, sb) ? 1 : 0;
  free (buffer);
  return r;
}

/* Find the newest valid superblock copy.  The second copy sits in the last
 * segment; if the first is unreadable its segment size is unknown, so try
 * every size format accepts. */
int
vswap_superblock_read (struct vswap_medium *medium,
                       struct vswap_superblock *sb)
{
  struct vswap_superblock a, b;
  int ra = read_superblock_at (medium, 0, &a);
  if (ra < 0)
    return ra;
  int rb = 0;
  for (uint64_t size = VSWAP_MIN_SEGMENT_SIZE;
       size <= VSWAP_MAX_SEGMENT_SIZE && rb == 0; size *= 2) {
    if (ra == 1 && size != a.segment_size)
      continue;
    const uint64_t last = medium->geometry.capacity / size;
    if (last < 2)
      break;
    rb = read_superblock_at (medium, (last - 1) * size, &b);
    if (rb < 0)
      return rb;
    if (rb == 1 && b.segment_size != size)
      rb = 0;
  }
  if (ra == 1 && (rb == 0 || a.generation >= b.generation))
    *sb = a;
  else if (rb == 1)
    *sb = b;
  else
    return 0;
  return 1;
}

int
vswap_store_probe (struct vswap_medium *medium, struct vswap_error *err)
{
  struct vswap_superblock sb;
  const int r = vswap_superblock_read (medium, &sb);
  if (r < 0)
    return vswap_error_set (err, -r, "%s: cannot read: %s",
                            medium->description, vswap_strerror (-r));
  return r;
}

static bool
is_power_of_two (uint64_t n)
{
  return n && (n & (n - 1)) == 0;
}

static int
fill_uuid (uint8_t uuid[VSWAP_UUID_SIZE])
{
  FILE *f = fopen ("/dev/urandom", "r");
  if (!f)
    return -errno;
  const size_t n = fread (uuid, 1, VSWAP_UUID_SIZE, f);
  fclose (f);
  if (n != VSWAP_UUID_SIZE)
    return -EIO;
  uuid[6] = (uuid[6] & 0x0f) | 0x40;    /* RFC 4122 version 4 */
  uuid[8] = (uuid[8] & 0x3f) | 0x80;
  return 0;
}

int
vswap_store_format (struct vswap_medium *medium,
                    const struct vswap_format_options *options,
                    void (*progress) (void *, uint64_t, uint64_t),
                    void *progress_opaque, struct vswap_error *err)
{
  const struct vswap_geometry *g = &medium->geometry;
  struct vswap_superblock sb = { .format_version = VSWAP_FORMAT_VERSION };
  int r;

  uint64_t segment_size = options->segment_size;
  if (segment_size == 0)
    segment_size = g->erase_block >= VSWAP_MIN_SEGMENT_SIZE ? g->erase_block
      : 4 * 1024 * 1024;
  if (!is_power_of_two (segment_size) ||
      segment_size < VSWAP_MIN_SEGMENT_SIZE ||
      segment_size > VSWAP_MAX_SEGMENT_SIZE)
    return vswap_error_set (err, EINVAL,
                            "segment size %" PRIu64 " is not a power of two "
                            "from 64K to 1G: give --erase-block e.g. 4M",
                            segment_size);
  if (segment_size % g->write_unit || segment_size % g->read_unit)
    return vswap_error_set (err, EINVAL,
                            "segment size %" PRIu64 " is not a multiple of "
                            "the write unit %" PRIu32 ": give a larger "
                            "--erase-block", segment_size, g->write_unit);
  /* The plugin could not serve these (see VSWAP_MIN_WRITE_UNIT). */
  if (g->write_unit < VSWAP_MIN_WRITE_UNIT ||
      g->write_unit > VSWAP_MAX_WRITE_UNIT)
    return vswap_error_set (err, EINVAL,
                            "write unit %" PRIu32 " is not from 4K to 1M: "
                            "vswap writes whole 4 KiB-aligned buffers; give "
                            "--write-unit 4K or more", g->write_unit);
  if (g->write_unit > segment_size / VSWAP_MIN_CHUNKS_PER_SEGMENT)
    return vswap_error_set (err, EINVAL,
                            "write unit %" PRIu32 " is more than a quarter "
                            "of the segment size %" PRIu64 ": give an "
                            "--erase-block of at least %" PRIu64,
                            g->write_unit, segment_size,
                            (uint64_t) g->write_unit
                            * VSWAP_MIN_CHUNKS_PER_SEGMENT);
  if (g->sequential_only && segment_size != g->erase_block)
    return vswap_error_set (err, EINVAL,
                            "%s is zoned with %" PRIu32 "-byte zones: the "
                            "segment size must be the zone size (drop "
                            "--erase-block)", medium->description,
                            g->erase_block);

  uint32_t open_segments = options->open_segments ? options->open_segments
    : 2;
  if (open_segments > 2)
    return vswap_error_set (err, EINVAL,
                            "--open-segments %" PRIu32 ": vswap writes at "
                            "most 2 segments at once (user data, GC): give "
                            "1 or 2", open_segments);
  if (g->max_open_segments && open_segments > g->max_open_segments)
    open_segments = g->max_open_segments;

  const uint64_t segment_count = g->capacity / segment_size;
  const uint64_t needed = 2 + open_segments + GC_RESERVE + MIN_DATA_SEGMENTS;
  if (segment_count < needed)
    return vswap_error_set (err, ENOSPC,
                            "%s holds %" PRIu64 " segments of %" PRIu64
                            " bytes but a store needs at least %" PRIu64
                            ": use a larger medium or a smaller "
                            "--erase-block", medium->description,
                            segment_count, segment_size, needed);

  uint32_t shift = VSWAP_MIN_ADDRESS_SHIFT;
  while (((segment_count * segment_size) >> shift) > VSWAP_MAP_MAX_ADDRESS)
    shift++;
  if ((UINT64_C (1) << shift) > g->write_unit)
    return vswap_error_set (err, EINVAL,
                            "%s: %" PRIu64 " bytes need record addresses in "
                            "units of %" PRIu64 " bytes, more than the write "
                            "unit %" PRIu32 ": give --write-unit %" PRIu64
                            "K, or use part of the medium",
                            medium->description, segment_count * segment_size,
                            UINT64_C (1) << shift, g->write_unit,
                            (UINT64_C (1) << shift) / 1024);

  const uint64_t data_segments = segment_count - 2;
  uint64_t logical_size = options->logical_size;
  if (logical_size == 0)
    logical_size = round_down ((data_segments - GC_RESERVE - open_segments)
                               * segment_size / 10 * 9, VSWAP_PAGE_SIZE);
  if (logical_size % VSWAP_PAGE_SIZE || logical_size == 0)
    return vswap_error_set (err, EINVAL,
                            "logical size %" PRIu64 " is not a positive "
                            "multiple of 4096: round it to whole pages",
                            logical_size);
  if (logical_size / VSWAP_PAGE_SIZE > UINT32_MAX)
    return vswap_error_set (err, EINVAL,
                            "logical size %" PRIu64 " is over the 16 TiB "
                            "a store can export: give a smaller "
                            "--logical-size", logical_size);
  if (logical_size
      > data_segments * segment_size * VSWAP_MAX_LOGICAL_PER_DATA_BYTE)
    return vswap_error_set (err, EINVAL,
                            "logical size %" PRIu64 " is more than %d times "
                            "the data area of %" PRIu64 " bytes, more than "
                            "even compressed pages could fill: give a smaller "
                            "--logical-size", logical_size,
                            VSWAP_MAX_LOGICAL_PER_DATA_BYTE,
                            data_segments * segment_size);

  if (options->compression != VSWAP_COMPRESS_NONE &&
      options->compression != VSWAP_COMPRESS_ZSTD)
    return vswap_error_set (err, EINVAL, "unknown compression %d",
                            (int) options->compression);
  if (options->compression == VSWAP_COMPRESS_ZSTD &&
      options->compression_level != 0 &&
      (options->compression_level < ZSTD_minCLevel () ||
       options->compression_level > ZSTD_maxCLevel ()))
    return vswap_error_set (err, EINVAL,
                            "zstd level %d is outside %d..%d: pick a level "
                            "in that range (1 is fast)",
                            options->compression_level, ZSTD_minCLevel (),
                            ZSTD_maxCLevel ());

  r = fill_uuid (sb.uuid);
  if (r < 0)
    return vswap_error_set (err, -r, "cannot read /dev/urandom: %s",
                            vswap_strerror (-r));
  sb.generation = 1;
  sb.logical_size = logical_size;
  sb.medium_size = segment_count * segment_size;
  sb.segment_size = (uint32_t) segment_size;
  sb.write_unit = g->write_unit;
  sb.open_segments = open_segments;
  sb.address_shift = shift;
  sb.segment_count = segment_count;
  sb.compression = options->compression;
  sb.compression_level = options->compression_level;
  sb.flags = options->compression_chosen ?
    VSWAP_SUPERBLOCK_COMPRESSION_CHOSEN : 0;
  sb.created = (uint64_t) time (NULL);
  sb.endurance = options->endurance;
  /* Whatever the checks above missed, the plugin must be able to serve
   * what format writes: the same judgement as at open, before anything
   * is written. */
  r = vswap_superblock_validate (&sb, g, medium->description, err);
  if (r < 0)
    return r;

  /* Erase everything first and write the superblocks last: a format that
   * is interrupted leaves no store that looks valid but is not. */
  if (g->can_discard) {
    for (uint64_t i = 0; i < segment_count; i++) {
      r = vswap_medium_discard (medium, i * segment_size, segment_size);
      if (r < 0)
        return vswap_error_set (err, -r, "%s: discard failed at segment "
                                "%" PRIu64 ": %s", medium->description, i,
                                vswap_strerror (-r));
      if (progress && (i % 64 == 63 || i + 1 == segment_count))
        progress (progress_opaque, i + 1, segment_count);
    }
  }
  else {
    /* Without discard, old chunks stay readable; they carry another
     * store's UUID, so recovery ignores them.  Still, wipe the first
     * header of every segment so that inspect sees a clean store. */
    uint8_t *zero = alloc_unit (g->write_unit);
    if (!zero)
      return vswap_error_set (err, ENOMEM, "out of memory");
    for (uint64_t i = 0; i < segment_count && !g->sequential_only; i++) {
      r = vswap_medium_write (medium, zero, g->write_unit, i * segment_size);
      if (r < 0) {
        free (zero);
        return vswap_error_set (err, -r, "%s: write failed: %s",
                                medium->description, vswap_strerror (-r));
      }
      if (progress && (i % 64 == 63 || i + 1 == segment_count))
        progress (progress_opaque, i + 1, segment_count);
    }
    free (zero);
  }

  const uint32_t sb_size = g->write_unit > 4096 ? g->write_unit : 4096;
  uint8_t *buffer = alloc_unit (sb_size);
  if (!buffer)
    return vswap_error_set (err, ENOMEM, "out of memory");
  vswap_superblock_encode (&sb, buffer);
  /* The superblock segments are written once: each is finished at once,
   * so that not even format has two segments open on a medium whose
   * budget is one (a zoned device with one open zone). */
  r = vswap_medium_write (medium, buffer, sb_size, 0);
  if (r == 0)
    r = vswap_medium_finish (medium, 0, segment_size);
  if (r == 0)
    r = vswap_medium_write (medium, buffer, sb_size,
                            (segment_count - 1) * segment_size);
  if (r == 0)
    r = vswap_medium_finish (medium, (segment_count - 1) * segment_size,
                             segment_size);
  free (buffer);
  if (r == 0)
    r = vswap_medium_flush (medium);
  if (r < 0)
    return vswap_error_set (err, -r, "%s: writing the superblock failed: %s",
                            medium->description, vswap_strerror (-r));
  return 0;
}

/* ---- validation ---- */

/* What no vswap writes: a superblock with a valid checksum and this is
 * damaged (software, not the medium: the checksum held) or forged. */
#define DAMAGED "the superblock is damaged or not from this vswap: " \
  "'vswap format --force' makes a new store (its pages are lost)"

#define KNOWN_SUPERBLOCK_FLAGS VSWAP_SUPERBLOCK_COMPRESSION_CHOSEN

static unsigned
log2_of (uint64_t power_of_two)
{
  return (unsigned) __builtin_ctzll (power_of_two);
}

/* The checks on the superblock alone.  Each may use only what the checks
 * before it proved. */
static int
validate_alone (const struct vswap_superblock *sb, const char *name,
                struct vswap_error *err)
{
  /* Version 1 stores came before every record had its stamp
   * (doc/on-medium-format.md): there is no upgrade in place, and none is
   * needed for swap, whose contents do not outlive the swap session. */
  if (sb->format_version < VSWAP_FORMAT_VERSION)
    return vswap_error_set (err, EINVAL,
                            "%s: store format version %" PRIu32 " is older "
                            "than the version %d this vswap reads: after "
                            "swapoff, make it anew with 'vswap format "
                            "--force' (or use the vswap that wrote it)",
                            name, sb->format_version, VSWAP_FORMAT_VERSION);
  if (sb->format_version != VSWAP_FORMAT_VERSION)
    return vswap_error_set (err, EINVAL,
                            "%s: store format version %" PRIu32 " is newer "
                            "than the version %d this vswap reads: use the "
                            "vswap that wrote it", name, sb->format_version,
                            VSWAP_FORMAT_VERSION);
  if (sb->flags & ~(uint32_t) KNOWN_SUPERBLOCK_FLAGS)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock has flags 0x%" PRIx32 " that "
                            "this vswap does not know: use a matching vswap",
                            name, sb->flags);
  if (sb->compression != VSWAP_COMPRESS_NONE &&
      sb->compression != VSWAP_COMPRESS_ZSTD)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's compression %" PRIu32
                            " is not one this vswap knows (0 none, 1 zstd): "
                            "use a matching vswap", name, sb->compression);
  if (sb->compression_level != 0 &&
      (sb->compression_level < ZSTD_minCLevel () ||
       sb->compression_level > ZSTD_maxCLevel ()))
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's zstd level %" PRId32
                            " is outside %d..%d: " DAMAGED, name,
                            sb->compression_level, ZSTD_minCLevel (),
                            ZSTD_maxCLevel ());

  if (!is_power_of_two (sb->segment_size) ||
      sb->segment_size < VSWAP_MIN_SEGMENT_SIZE ||
      sb->segment_size > VSWAP_MAX_SEGMENT_SIZE)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's segment size %" PRIu32
                            " is not a power of two from 64K to 1G: "
                            DAMAGED, name, sb->segment_size);
  if (!is_power_of_two (sb->write_unit) ||
      sb->write_unit < VSWAP_MIN_WRITE_UNIT ||
      sb->write_unit > VSWAP_MAX_WRITE_UNIT)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's write unit %" PRIu32
                            " is not a power of two from 4K to 1M: "
                            DAMAGED, name, sb->write_unit);
  if (sb->write_unit > sb->segment_size / VSWAP_MIN_CHUNKS_PER_SEGMENT)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's write unit %" PRIu32
                            " is more than a quarter of its segment size %"
                            PRIu32 ": " DAMAGED, name, sb->write_unit,
                            sb->segment_size);
  if (sb->open_segments < 1 || sb->open_segments > 2)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's open segments %" PRIu32
                            " is not 1 or 2: " DAMAGED, name,
                            sb->open_segments);
  /* Chunks start at write units, and a chunk's first record at the next
   * address unit: an address unit larger than the write unit would give
   * records addresses that do not point at them. */
  if (sb->address_shift < VSWAP_MIN_ADDRESS_SHIFT ||
      sb->address_shift > log2_of (sb->write_unit))
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's address shift %" PRIu32
                            " is not from %d to %u (its write unit's): "
                            DAMAGED, name, sb->address_shift,
                            VSWAP_MIN_ADDRESS_SHIFT,
                            log2_of (sb->write_unit));

  const uint64_t needed = 2 + sb->open_segments + GC_RESERVE
    + MIN_DATA_SEGMENTS;
  if (sb->segment_count < needed)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's segment count %" PRIu64
                            " is less than the %" PRIu64 " a store needs: "
                            DAMAGED, name, sb->segment_count, needed);
  if (sb->segment_count > UINT64_MAX / sb->segment_size ||
      sb->segment_count * sb->segment_size != sb->medium_size)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's medium size %" PRIu64
                            " is not its %" PRIu64 " segments of %" PRIu32
                            " bytes: " DAMAGED, name, sb->medium_size,
                            sb->segment_count, sb->segment_size);
  if ((sb->medium_size >> sb->address_shift) > VSWAP_MAP_MAX_ADDRESS)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's medium size %" PRIu64
                            " is too large for record addresses in units of "
                            "%u bytes: " DAMAGED, name, sb->medium_size,
                            1u << sb->address_shift);

  /* From here the medium size is below 2^51 (2^31 addresses of at most
   * 1 MiB): products of it by small factors do not overflow. */
  const uint64_t data_area = (sb->segment_count - 2) * sb->segment_size;
  if (sb->logical_size == 0 || sb->logical_size % VSWAP_PAGE_SIZE ||
      sb->logical_size / VSWAP_PAGE_SIZE > UINT32_MAX)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's logical size %" PRIu64
                            " is not a positive multiple of 4096 up to "
                            "16 TiB: " DAMAGED, name, sb->logical_size);
  if (sb->logical_size > data_area * VSWAP_MAX_LOGICAL_PER_DATA_BYTE)
    return vswap_error_set (err, EINVAL,
                            "%s: the superblock's logical size %" PRIu64
                            " is more than %d times its data area of %"
                            PRIu64 " bytes: " DAMAGED, name,
                            sb->logical_size,
                            VSWAP_MAX_LOGICAL_PER_DATA_BYTE, data_area);
  return 0;
}

/* The checks of a valid superblock against the medium it is on. */
static int
validate_on (const struct vswap_superblock *sb,
             const struct vswap_geometry *g, const char *name,
             struct vswap_error *err)
{
  if (g->write_unit == 0 || g->read_unit == 0)
    return vswap_error_set (err, EINVAL,
                            "%s: the medium reports no write or read unit: "
                            "give --write-unit", name);
  if (sb->medium_size > g->capacity)
    return vswap_error_set (err, EINVAL,
                            "%s: the store was formatted for %" PRIu64
                            " bytes but the medium has %" PRIu64 ": give the "
                            "whole medium, or format again",
                            name, sb->medium_size, g->capacity);
  if (sb->segment_size % g->write_unit || sb->segment_size % g->read_unit ||
      sb->write_unit % g->write_unit || sb->write_unit % g->read_unit)
    return vswap_error_set (err, EINVAL,
                            "%s: the store's segment size %" PRIu32
                            " and write unit %" PRIu32 " do not fit this "
                            "medium's write unit %" PRIu32 " and read unit %"
                            PRIu32 ": serve the store from the device it was "
                            "formatted on, or format this one again",
                            name, sb->segment_size, sb->write_unit,
                            g->write_unit, g->read_unit);
  if (g->sequential_only && sb->segment_size != g->erase_block)
    return vswap_error_set (err, EINVAL,
                            "%s is zoned with %" PRIu32 "-byte zones but the "
                            "store's segments are %" PRIu32 " bytes: serve "
                            "the store from the device it was formatted on, "
                            "or format this one again", name,
                            g->erase_block, sb->segment_size);
  if (g->max_open_segments && sb->open_segments > g->max_open_segments)
    return vswap_error_set (err, EINVAL,
                            "%s: the store writes %" PRIu32 " segments at "
                            "once but this medium keeps only %" PRIu32
                            " open: format it again (format takes the "
                            "medium's budget)", name, sb->open_segments,
                            g->max_open_segments);
  return 0;
}

int
vswap_superblock_validate (const struct vswap_superblock *sb,
                           const struct vswap_geometry *geometry,
                           const char *name, struct vswap_error *err)
{
  const int r = validate_alone (sb, name, err);
  if (r < 0 || geometry == NULL)
    return r;
  return validate_on (sb, geometry, name, err);
}

int
vswap_superblock_check (const struct vswap_medium *medium,
                        const struct vswap_superblock *sb,
                        struct vswap_error *err)
{
  return vswap_superblock_validate (sb, &medium->geometry,
                                    medium->description, err);
}
