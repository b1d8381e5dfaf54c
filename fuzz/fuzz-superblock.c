/* Fuzz target: the superblock decoder and vswap_superblock_validate.
 *
 * Input: byte 0 chooses the mode, bytes 1..8 a medium geometry, the rest
 * the superblock's 128 bytes (short inputs are padded with zeros).  In
 * "forged" mode the magic and checksum are made valid before decoding,
 * so that every field reaches the validator (a random checksum almost
 * never would).  Whatever the validator accepts must have the properties
 * the store relies on when it divides, shifts and sizes buffers with the
 * fields; encode and decode must agree.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "fuzz.h"
#include "on_medium.h"
#include "page_map.h"
#include "store.h"
#include "superblock.h"

/* What the store computes from a superblock (core/store.c): the bytes of
 * records gathered before a seal, which must be a positive number of
 * write units within the segment. */
static void
check_seal_threshold (const struct vswap_superblock *sb)
{
  const uint64_t wu = sb->write_unit;
  uint64_t threshold = (512 * 1024 + wu - 1) / wu * wu;
  if (threshold > sb->segment_size / 2)
    threshold = sb->segment_size / 4 / wu * wu;
  else if (threshold == sb->segment_size / 2)
    threshold = sb->segment_size;
  FUZZ_ASSERT (threshold >= wu && threshold <= sb->segment_size);
}

static void
check_valid (const struct vswap_superblock *sb)
{
  FUZZ_ASSERT (sb->segment_size >= VSWAP_MIN_SEGMENT_SIZE);
  FUZZ_ASSERT (sb->segment_size <= VSWAP_MAX_SEGMENT_SIZE);
  FUZZ_ASSERT ((sb->segment_size & (sb->segment_size - 1)) == 0);
  FUZZ_ASSERT (sb->write_unit >= VSWAP_MIN_WRITE_UNIT);
  FUZZ_ASSERT (sb->segment_size % sb->write_unit == 0);
  FUZZ_ASSERT (sb->segment_size / sb->write_unit >= 4);
  FUZZ_ASSERT (sb->address_shift >= VSWAP_MIN_ADDRESS_SHIFT);
  FUZZ_ASSERT ((UINT64_C (1) << sb->address_shift) <= sb->write_unit);
  FUZZ_ASSERT (sb->open_segments == 1 || sb->open_segments == 2);
  FUZZ_ASSERT (sb->segment_count >= 2 + sb->open_segments + GC_RESERVE
               + MIN_DATA_SEGMENTS);
  FUZZ_ASSERT (sb->segment_count <= UINT64_MAX / sb->segment_size);
  FUZZ_ASSERT (sb->segment_count * sb->segment_size == sb->medium_size);
  FUZZ_ASSERT ((sb->medium_size >> sb->address_shift)
               <= VSWAP_MAP_MAX_ADDRESS);
  FUZZ_ASSERT (sb->logical_size > 0 && sb->logical_size % 4096 == 0);
  FUZZ_ASSERT (sb->logical_size / 4096 <= UINT32_MAX);
  FUZZ_ASSERT (sb->logical_size / VSWAP_MAX_LOGICAL_PER_DATA_BYTE
               <= (sb->segment_count - 2) * sb->segment_size);
  check_seal_threshold (sb);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t bytes[VSWAP_SUPERBLOCK_SIZE] = { 0 };
  struct vswap_superblock sb, again;
  struct vswap_error err;

  if (size < 9)
    return 0;
  /* Zeroed, padding too: the round trip compares whole structs. */
  memset (&sb, 0, sizeof sb);
  memset (&again, 0, sizeof again);
  const uint8_t mode = data[0];
  const uint8_t *g = data + 1;
  memcpy (bytes, data + 9, size - 9 < sizeof bytes ? size - 9 : sizeof bytes);
  if (mode & 1) {
    memcpy (bytes, VSWAP_SUPERBLOCK_MAGIC, 8);
    vswap_put64 (bytes + 120, XXH3_64bits (bytes, 120));
  }
  if (!vswap_superblock_decode (bytes, &sb))
    return 0;

  /* What decode read, encode writes back, and decode reads again. */
  uint8_t encoded[VSWAP_SUPERBLOCK_SIZE];
  vswap_superblock_encode (&sb, encoded);
  FUZZ_ASSERT (vswap_superblock_decode (encoded, &again));
  FUZZ_ASSERT (memcmp (&sb, &again, sizeof sb) == 0);

  const int alone = vswap_superblock_validate (&sb, NULL, "fuzz", &err);
  FUZZ_ASSERT (alone == 0 || (alone == -EINVAL && err.message[0]));
  if (alone == 0)
    check_valid (&sb);

  /* A geometry from the input: units of 512 bytes to 64 KiB (0 too, which
   * no backend reports but must not divide anything), a capacity around
   * the superblock's own. */
  struct vswap_geometry geometry = {
    .write_unit = (g[0] & 7) == 7 ? 0 : UINT32_C (512) << (g[0] & 7),
    .read_unit = (g[0] >> 3 & 7) == 7 ? 0 : UINT32_C (512) << (g[0] >> 3 & 7),
    .erase_block = UINT32_C (1) << (g[1] & 31),
    .max_open_segments = g[2] & 3,
    .sequential_only = g[3] & 1,
    .can_discard = g[3] & 2,
    .capacity = (g[4] & 1) ? sb.medium_size + vswap_get32 (g + 4)
                           : vswap_get32 (g + 4) * UINT64_C (65536),
  };
  const int on = vswap_superblock_validate (&sb, &geometry, "fuzz", &err);
  FUZZ_ASSERT (on == 0 || (on == -EINVAL && err.message[0]));
  if (on == 0) {
    FUZZ_ASSERT (alone == 0);
    FUZZ_ASSERT (sb.medium_size <= geometry.capacity);
    FUZZ_ASSERT (sb.segment_size % geometry.write_unit == 0);
    FUZZ_ASSERT (sb.segment_size % geometry.read_unit == 0);
    FUZZ_ASSERT (sb.write_unit % geometry.write_unit == 0);
    FUZZ_ASSERT (!geometry.max_open_segments
                 || sb.open_segments <= geometry.max_open_segments);
  }
  return 0;
}
