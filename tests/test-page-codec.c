/* vswap: unit test of page classification and compression
 * (core/page_codec.c). */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "helpers.h"
#include "on_medium.h"
#include "page_codec.h"

static uint8_t page[4096 + 1], out[4096], back[4096];

START_TEST (test_classify)
{
  uint64_t pattern = 0;
  memset (page, 0, sizeof page);
  ck_assert_int_eq (vswap_page_classify (page, &pattern), VSWAP_PAGE_ZERO);
  memset (page, 0xff, sizeof page);
  ck_assert_int_eq (vswap_page_classify (page, &pattern), VSWAP_PAGE_SAME);
  ck_assert_uint_eq (pattern, UINT64_MAX);
  /* An 8-byte pattern that is not one byte repeated. */
  vswap_page_fill (page, 0x1122334455667788);
  ck_assert_int_eq (vswap_page_classify (page, &pattern), VSWAP_PAGE_SAME);
  ck_assert_uint_eq (pattern, 0x1122334455667788);
  page[4095] ^= 1;                      /* the very last byte differs */
  ck_assert_int_eq (vswap_page_classify (page, &pattern), VSWAP_PAGE_DATA);
  /* A client buffer at an odd address works as well. */
  memset (page, 0, sizeof page);
  ck_assert_int_eq (vswap_page_classify (page + 1, &pattern), VSWAP_PAGE_ZERO);
}
END_TEST

START_TEST (test_compressible_round_trip)
{
  ZSTD_CCtx *c = ZSTD_createCCtx ();
  ZSTD_DCtx *d = ZSTD_createDCtx ();
  uint8_t kind;
  memset (page, 0, sizeof page);
  for (int i = 0; i < 4096; i += 64)
    page[i] = (uint8_t) i;
  const uint16_t n = vswap_page_encode (c, 1, page, out, &kind);
  ck_assert_int_eq (kind, VSWAP_RECORD_ZSTD);
  ck_assert_uint_lt (n, 4096 / 4);
  ck_assert_int_eq (vswap_page_decode (d, kind, out, n, back), 0);
  ck_assert_mem_eq (back, page, 4096);
  /* A damaged frame is an error, never a wrong page. */
  out[n / 2] ^= 0x40;
  out[n - 1] ^= 0x40;
  if (vswap_page_decode (d, kind, out, n, back) == 0)
    ck_assert_mem_ne (back, page, 4096);        /* caught by the checksum */
  ck_assert_int_ne (vswap_page_decode (d, kind, out, n - 3, back), 0);
  ZSTD_freeCCtx (c);
  ZSTD_freeDCtx (d);
}
END_TEST

static void
fill_random (uint8_t *p, size_t n, uint64_t seed)
{
  struct test_random random = { seed };

  test_random_fill (&random, p, n);
}

START_TEST (test_random_is_stored_raw)
{
  ZSTD_CCtx *c = ZSTD_createCCtx ();
  ZSTD_DCtx *d = ZSTD_createDCtx ();
  uint8_t kind;
  fill_random (page, 4096, 88172645463325252ULL);
  const uint16_t n = vswap_page_encode (c, 1, page, out, &kind);
  ck_assert_int_eq (kind, VSWAP_RECORD_RAW);
  ck_assert_uint_eq (n, 4096);
  ck_assert_int_eq (vswap_page_decode (d, kind, out, n, back), 0);
  ck_assert_mem_eq (back, page, 4096);
  /* Without a compression context everything is raw. */
  memset (page, 0, 4000);
  ck_assert_uint_eq (vswap_page_encode (NULL, 1, page, out, &kind), 4096);
  ck_assert_int_eq (kind, VSWAP_RECORD_RAW);
  ck_assert_int_ne (vswap_page_decode (d, VSWAP_RECORD_RAW, out, 100, back), 0);
  ZSTD_freeCCtx (c);
  ZSTD_freeDCtx (d);
}
END_TEST

/* The shortcut must not cost compression on pages zstd can shrink. */
START_TEST (test_looks_random)
{
  ZSTD_CCtx *c = ZSTD_createCCtx ();
  uint8_t kind;

  fill_random (page, 4096, 88172645463325252ULL);
  ck_assert (vswap_page_looks_random (page));

  /* Half random, half zeros: compresses about 2:1. */
  memset (page + 2048, 0, 2048);
  ck_assert (!vswap_page_looks_random (page));
  vswap_page_encode (c, 1, page, out, &kind);
  ck_assert_int_eq (kind, VSWAP_RECORD_ZSTD);

  /* A random 2 KiB block twice: zstd finds the repeat. */
  memcpy (page + 2048, page, 2048);
  ck_assert (!vswap_page_looks_random (page));
  vswap_page_encode (c, 1, page, out, &kind);
  ck_assert_int_eq (kind, VSWAP_RECORD_ZSTD);

  /* Text. */
  for (int i = 0; i < 4096; i++)
    page[i] = (uint8_t) "the quick brown fox jumps over a lazy dog, "[i % 43];
  ck_assert (!vswap_page_looks_random (page));

  /* 64-bit pointers into one heap: random low bytes, shared high ones. */
  for (int i = 0; i < 4096; i += 8) {
    const uint64_t pointer = 0x00007f3a00000000ULL
      | ((uint64_t) (i * 2654435761u) & 0xfffffff8);
    memcpy (page + i, &pointer, 8);
  }
  ck_assert (!vswap_page_looks_random (page));

  /* Random but for a zeroed kilobyte: zstd saves a quarter. */
  fill_random (page, 4096, 88172645463325252ULL);
  memset (page + 1024, 0, 1024);
  ck_assert (!vswap_page_looks_random (page));
  vswap_page_encode (c, 1, page, out, &kind);
  ck_assert_int_eq (kind, VSWAP_RECORD_ZSTD);

  /* Random words whose low byte takes a few values only (fio's buffer
   * generator does that): zstd cannot save the eighth it must, so the
   * shortcut rightly skips it. */
  fill_random (page, 4096, 88172645463325252ULL);
  for (int i = 0; i < 4096; i += 8)
    page[i] = (uint8_t) (60 * (i / 8 % 4));
  ck_assert (vswap_page_looks_random (page));
  ck_assert (ZSTD_isError (ZSTD_compressCCtx (c, out,
                                              VSWAP_CODEC_COMPRESSED_LIMIT,
                                              page, 4096, 1)));
  /* The same with the low byte constant over the page. */
  for (int i = 0; i < 4096; i += 8)
    page[i] = 60;
  ck_assert (vswap_page_looks_random (page));
  ck_assert (ZSTD_isError (ZSTD_compressCCtx (c, out,
                                              VSWAP_CODEC_COMPRESSED_LIMIT,
                                              page, 4096, 1)));

  /* fio's default 4 KiB write buffer: random, but every 64 bytes a word
   * whose bytes 0 and 4..7 are zero, and at the end of every 512 two
   * words of a small offset and a time stamp.  10% of its bytes are zero,
   * too few for zstd; a sampler whose lane repeats every 64 bytes saw 16%
   * and sent every such page through zstd for nothing. */
  fill_random (page, 4096, 88172645463325252ULL);
  for (int i = 0; i < 4096; i += 64) {
    page[i] = 0;
    memset (page + i + 4, 0, 4);
  }
  for (int i = 0; i < 4096; i += 512) {
    memset (page + i + 50, 0, 6);
    memset (page + i + 60, 0, 4);
  }
  ck_assert (vswap_page_looks_random (page));
  ck_assert (ZSTD_isError (ZSTD_compressCCtx (c, out,
                                              VSWAP_CODEC_COMPRESSED_LIMIT,
                                              page, 4096, 1)));

  /* Random but for a zeroed 128 bytes in every 512, at the very offsets
   * fio's stamps use: zstd saves a fifth with matches, and the moving lane
   * must still see the runs. */
  fill_random (page, 4096, 88172645463325252ULL);
  for (int i = 0; i < 4096; i += 512)
    memset (page + i, 0, 128);
  ck_assert (!vswap_page_looks_random (page));
  vswap_page_encode (c, 1, page, out, &kind);
  ck_assert_int_eq (kind, VSWAP_RECORD_ZSTD);
  ZSTD_freeCCtx (c);
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("page-codec", test_classify,
                                     test_compressible_round_trip,
                                     test_random_is_stored_raw,
                                     test_looks_random, NULL));
}
