/* vswap: unit test of page classification and compression
 * (core/page_codec.c). */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

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

START_TEST (test_random_is_stored_raw)
{
  ZSTD_CCtx *c = ZSTD_createCCtx ();
  ZSTD_DCtx *d = ZSTD_createDCtx ();
  uint8_t kind;
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 4096; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    page[i] = (uint8_t) x;
  }
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

int
main (void)
{
  Suite *s = suite_create ("page-codec");
  TCase *tc = tcase_create ("codec");
  tcase_add_test (tc, test_classify);
  tcase_add_test (tc, test_compressible_round_trip);
  tcase_add_test (tc, test_random_is_stored_raw);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
