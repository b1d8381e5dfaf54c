/* Fuzz target: the chunk header decoder of core/on_medium.h.
 *
 * Input: byte 0 chooses the mode, then the header's bytes (padded with
 * zeros).  Raw mode decodes the bytes as they are (what recovery does
 * with every unit it reads); forged mode first rebuilds the header from
 * the input's fields with the encoder, so that the checksum holds and the
 * decoder's own checks are reached.  Whatever decodes must encode back to
 * a header that decodes to the same fields.
 */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "on_medium.h"

static void
check_round_trip (const struct vswap_chunk_header *h)
{
  uint8_t encoded[VSWAP_CHUNK_HEADER_SIZE];
  struct vswap_chunk_header again;

  memset (&again, 0, sizeof again);
  vswap_chunk_header_encode (h, encoded);
  FUZZ_ASSERT (vswap_chunk_header_decode (encoded, &again));
  FUZZ_ASSERT (memcmp (h, &again, sizeof again) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t bytes[VSWAP_CHUNK_HEADER_SIZE] = { 0 };
  struct vswap_chunk_header h;

  if (size < 1)
    return 0;
  memcpy (bytes, data + 1, size - 1 < sizeof bytes ? size - 1 : sizeof bytes);
  memset (&h, 0, sizeof h);
  if (data[0] & 1) {
    /* Every field from the input, through the encoder. */
    struct vswap_chunk_header in;
    memset (&in, 0, sizeof in);
    memcpy (in.uuid, bytes + 8, 16);
    in.sequence = vswap_get64 (bytes + 24);
    in.generation = vswap_get64 (bytes + 32);
    in.length = vswap_get32 (bytes + 40);
    in.record_count = vswap_get32 (bytes + 44);
    in.erase_count = vswap_get32 (bytes + 48);
    in.flags = vswap_get32 (bytes + 52);
    in.body_checksum = vswap_get32 (bytes + 56);
    vswap_chunk_header_encode (&in, bytes);
    FUZZ_ASSERT (vswap_chunk_header_decode (bytes, &h));
    check_round_trip (&h);
    return 0;
  }
  if (vswap_chunk_header_decode (bytes, &h))
    check_round_trip (&h);
  return 0;
}
