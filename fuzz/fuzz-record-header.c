/* Fuzz target: the record header decoder of core/on_medium.h.
 *
 * Input: byte 0 chooses the mode, bytes 1..16 the store seed and the
 * segment generation the checksum is seeded with, then the header's bytes
 * (padded with zeros).  Raw mode decodes the bytes as they are; forged
 * mode rebuilds the header from the input's fields with the encoder first,
 * so that the checksum holds and the decoder's range checks are reached.
 * A header that decodes must have a kind and a payload length the readers
 * can use, a record size that does not overflow, and must round-trip.
 */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "on_medium.h"

static void
check_decoded (const struct vswap_record_header *r, uint64_t seed,
               uint64_t generation)
{
  uint8_t encoded[VSWAP_RECORD_HEADER_SIZE];
  struct vswap_record_header again;

  FUZZ_ASSERT (r->kind >= VSWAP_RECORD_RAW
               && r->kind <= VSWAP_RECORD_LOST);
  FUZZ_ASSERT (r->payload_length <= 4096);
  /* What recovery and GC rely on without further checks. */
  if (vswap_record_kind_is_range (r->kind))
    FUZZ_ASSERT (r->count >= 1 && r->payload_length == 0 &&
                 (uint64_t) r->logical_page + r->count
                 <= (UINT64_C (1) << 32));
  else if (vswap_record_kind_is_page (r->kind))
    FUZZ_ASSERT (r->count == 1);
  else
    FUZZ_ASSERT (r->count == 0);
  if (r->kind == VSWAP_RECORD_RAW)
    FUZZ_ASSERT (r->payload_length == 4096);
  for (uint32_t shift = VSWAP_MIN_ADDRESS_SHIFT; shift <= 20; shift++) {
    const uint32_t bytes = vswap_record_size (r->payload_length, shift);
    FUZZ_ASSERT (bytes >= VSWAP_RECORD_HEADER_SIZE + r->payload_length);
    FUZZ_ASSERT (bytes % (UINT32_C (1) << shift) == 0);
  }
  memset (&again, 0, sizeof again);
  vswap_record_header_encode (r, seed, generation, encoded);
  FUZZ_ASSERT (vswap_record_header_decode (encoded, seed, generation,
                                           &again));
  FUZZ_ASSERT (memcmp (r, &again, sizeof again) == 0);
  /* Another generation (an earlier life of the segment) never verifies
   * the same bytes. */
  FUZZ_ASSERT (!vswap_record_header_decode (encoded, seed, generation + 1,
                                            &again)
               || vswap_checksum (encoded, 28, seed ^ generation)
                  == vswap_checksum (encoded, 28, seed ^ (generation + 1)));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t bytes[VSWAP_RECORD_HEADER_SIZE] = { 0 };
  struct vswap_record_header r;

  if (size < 17)
    return 0;
  const uint64_t seed = vswap_get64 (data + 1);
  const uint64_t generation = vswap_get64 (data + 9);
  memcpy (bytes, data + 17,
          size - 17 < sizeof bytes ? size - 17 : sizeof bytes);
  memset (&r, 0, sizeof r);
  if (data[0] & 1) {
    struct vswap_record_header in;
    memset (&in, 0, sizeof in);
    in.logical_page = vswap_get32 (bytes);
    in.payload_length = vswap_get16 (bytes + 4);
    in.kind = bytes[6];
    in.flags = bytes[7];
    in.stamp = vswap_get64 (bytes + 8);
    in.pattern = vswap_get64 (bytes + 16);
    in.count = (uint32_t) in.pattern;
    in.payload_checksum = vswap_get32 (bytes + 24);
    vswap_record_header_encode (&in, seed, generation, bytes);
  }
  if (vswap_record_header_decode (bytes, seed, generation, &r))
    check_decoded (&r, seed, generation);
  return 0;
}
