/* vswap: page classification and compression (see page_codec.h). */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "on_medium.h"
#include "page_codec.h"

enum vswap_page_class
vswap_page_classify (const void *page, uint64_t *pattern)
{
  const uint8_t *bytes = page;
  uint64_t first, word;

  /* The client's buffer may sit at any address: load words with memcpy,
   * which compiles to plain loads where alignment allows.  Most data pages
   * differ within the first few words, so this loop usually ends at once. */
  memcpy (&first, bytes, sizeof first);
  for (size_t i = sizeof first; i < VSWAP_CODEC_PAGE; i += sizeof word) {
    memcpy (&word, bytes + i, sizeof word);
    if (word != first)
      return VSWAP_PAGE_DATA;
  }
  if (first == 0)
    return VSWAP_PAGE_ZERO;
  *pattern = first;
  return VSWAP_PAGE_SAME;
}

void
vswap_page_fill (void *page, uint64_t pattern)
{
  uint8_t *bytes = page;
  for (size_t i = 0; i < VSWAP_CODEC_PAGE; i += sizeof pattern)
    memcpy (bytes + i, &pattern, sizeof pattern);
}

bool
vswap_page_looks_random (const void *page)
{
  /* 512 bytes, one in eight across the page, one from each 8-byte word
   * at a lane that changes from word to word: random bytes show about
   * 221 of the 256 values, none more than a handful of times, and a
   * sample seldom equals the one before it.  Memory that compresses has a
   * dominant value (zeros, the high bytes of pointers: more than 80
   * samples, i.e. a value filling over 15% of the page, where entropy
   * coding alone could start to save an eighth), runs (a zeroed stretch
   * of L bytes gives about L/8 runs of equal samples, and it takes 512
   * bytes of runs to save an eighth), or few values (text), and a page
   * that repeats a random block of up to 2 KiB repeats its samples too.
   *
   * Why the lane moves: a generator that makes 64-bit words (fio's is
   * one) can leave one byte of each word poorly mixed, and fio stamps
   * every 64-byte stretch with a mostly-zero word.  A lane that only
   * cycles through 0..7 has a period of 64 bytes and samples the same
   * byte of every such stretch, so the stamp's zeros filled 16% of the
   * sample where they fill 10% of the page, and zstd then spent about
   * 9 microseconds a page to save nothing (seen: zstd a third of the
   * CPU of 4 KiB random writes).  XORing in the index of the 64-byte
   * stretch samples each byte of a 64-byte pattern equally often, and
   * keeps a period of 512 bytes, so that a page repeating a 512-byte to
   * 2 KiB block still repeats its samples.
   * The test costs about a microsecond on a slow, busy machine. */
  const uint8_t *bytes = page;
  uint16_t seen[256] = { 0 };
  unsigned distinct = 0, repeats = 0, most = 0;
  unsigned previous = 256;

  /* Count first, judge after: no branch in the loop (counts reach 512,
   * hence 16 bits). */
  for (size_t k = 0; k < VSWAP_CODEC_PAGE / 8; k++) {
    const size_t lane = (k ^ (k >> 3)) & 7;
    const unsigned b = bytes[k * 8 + lane];
    seen[b]++;
    repeats += b == previous;
    previous = b;
  }
  for (unsigned v = 0; v < 256; v++) {
    distinct += seen[v] != 0;
    most = seen[v] > most ? seen[v] : most;
  }
  /* 16 runs stand for about 128 bytes of a page: far from the 512 an
   * eighth needs, and far above the 2 that random bytes give. */
  return distinct >= 200 && most <= 80 && repeats <= 16;
}

uint16_t
vswap_page_encode (ZSTD_CCtx *cctx, int level, const void *page, void *out,
                   uint8_t *kind)
{
  if (cctx && !vswap_page_looks_random (page)) {
    /* A destination smaller than the page makes zstd give up as soon as
     * the frame would not save an eighth: no wasted full compression. */
    const size_t n = ZSTD_compressCCtx (cctx, out,
                                        VSWAP_CODEC_COMPRESSED_LIMIT,
                                        page, VSWAP_CODEC_PAGE, level);
    if (!ZSTD_isError (n)) {
      *kind = VSWAP_RECORD_ZSTD;
      return (uint16_t) n;
    }
  }
  memcpy (out, page, VSWAP_CODEC_PAGE);
  *kind = VSWAP_RECORD_RAW;
  return VSWAP_CODEC_PAGE;
}

int
vswap_page_decode (ZSTD_DCtx *dctx, uint8_t kind, const void *payload,
                   uint16_t length, void *page)
{
  switch (kind) {
  case VSWAP_RECORD_RAW:
    if (length != VSWAP_CODEC_PAGE)
      return -EIO;
    memcpy (page, payload, VSWAP_CODEC_PAGE);
    return 0;
  case VSWAP_RECORD_ZSTD: {
    const size_t n = ZSTD_decompressDCtx (dctx, page, VSWAP_CODEC_PAGE,
                                          payload, length);
    if (ZSTD_isError (n) || n != VSWAP_CODEC_PAGE)
      return -EIO;
    return 0;
  }
  default:
    return -EIO;
  }
}
