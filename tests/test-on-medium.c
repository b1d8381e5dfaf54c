/* vswap: unit test of the on-medium encodings (core/on_medium.h). */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "on_medium.h"

START_TEST (test_little_endian)
{
  uint8_t b[8];
  vswap_put64 (b, UINT64_C (0x0102030405060708));
  ck_assert_int_eq (b[0], 0x08);
  ck_assert_int_eq (b[7], 0x01);
  ck_assert_uint_eq (vswap_get64 (b), UINT64_C (0x0102030405060708));
  vswap_put16 (b, 0xbeef);
  ck_assert_int_eq (b[0], 0xef);
  ck_assert_uint_eq (vswap_get16 (b), 0xbeef);
}
END_TEST

static struct vswap_superblock
sample_superblock (void)
{
  struct vswap_superblock sb = {
    .format_version = 1, .generation = 7, .logical_size = 1 << 30,
    .medium_size = UINT64_C (2) << 30, .segment_size = 4 << 20,
    .write_unit = 4096, .open_segments = 2, .address_shift = 4,
    .segment_count = 512, .compression = 1, .compression_level = -3,
    .flags = 1, .created = 1700000000,
    .endurance = UINT64_C (40) * 1000 * 1000 * 1000 * 1000,
  };
  memset (sb.uuid, 0xab, 16);
  return sb;
}

START_TEST (test_superblock_round_trip)
{
  uint8_t buffer[VSWAP_SUPERBLOCK_SIZE];
  const struct vswap_superblock in = sample_superblock ();
  struct vswap_superblock out;

  vswap_superblock_encode (&in, buffer);
  ck_assert (vswap_superblock_decode (buffer, &out));
  ck_assert_uint_eq (out.generation, 7);
  ck_assert_uint_eq (out.segment_size, 4 << 20);
  ck_assert_int_eq (out.compression_level, -3);
  ck_assert_mem_eq (out.uuid, in.uuid, 16);
  ck_assert_uint_eq (out.created, 1700000000);
  /* The endurance (40 TBW) is the u64 at byte 104. */
  ck_assert_uint_eq (out.endurance, in.endurance);
  ck_assert_uint_eq (vswap_get64 (buffer + 104), in.endurance);

  /* Any flipped bit in the used bytes is caught. */
  for (size_t bit = 0; bit < 128 * 8; bit += 7) {
    buffer[bit / 8] ^= 1 << (bit % 8);
    ck_assert_msg (!vswap_superblock_decode (buffer, &out), "bit %zu", bit);
    buffer[bit / 8] ^= 1 << (bit % 8);
  }
}
END_TEST

START_TEST (test_chunk_header_round_trip)
{
  uint8_t buffer[VSWAP_CHUNK_HEADER_SIZE];
  struct vswap_chunk_header in = {
    .sequence = 1234567, .generation = 1234500, .length = 65536,
    .record_count = 15, .erase_count = 99, .flags = VSWAP_CHUNK_LAST,
    .body_checksum = 0xdeadbeef,
  }, out;
  memset (in.uuid, 0x11, 16);

  vswap_chunk_header_encode (&in, buffer);
  ck_assert (vswap_chunk_header_decode (buffer, &out));
  ck_assert_uint_eq (out.sequence, 1234567);
  ck_assert_uint_eq (out.generation, 1234500);
  ck_assert_uint_eq (out.record_count, 15);
  ck_assert_uint_eq (out.flags, VSWAP_CHUNK_LAST);
  buffer[30] ^= 4;
  ck_assert (!vswap_chunk_header_decode (buffer, &out));
  memset (buffer, 0, sizeof buffer);            /* erased flash */
  ck_assert (!vswap_chunk_header_decode (buffer, &out));
}
END_TEST

START_TEST (test_record_header_is_tied_to_its_generation)
{
  uint8_t buffer[VSWAP_RECORD_HEADER_SIZE];
  const struct vswap_record_header in = {
    .logical_page = 42, .count = 1, .payload_length = 1000,
    .kind = VSWAP_RECORD_ZSTD, .payload_checksum = 77,
  };
  struct vswap_record_header out;

  vswap_record_header_encode (&in, 5, 100, buffer);
  ck_assert (vswap_record_header_decode (buffer, 5, 100, &out));
  ck_assert_uint_eq (out.logical_page, 42);
  ck_assert_uint_eq (out.payload_length, 1000);
  /* The same bytes from an older life of the segment, or another store,
   * do not verify. */
  ck_assert (!vswap_record_header_decode (buffer, 5, 99, &out));
  ck_assert (!vswap_record_header_decode (buffer, 6, 100, &out));

  /* GC restamps a copy for its new segment and marks it relocated. */
  vswap_record_header_restamp (buffer, 5, 200);
  ck_assert (vswap_record_header_decode (buffer, 5, 200, &out));
  ck_assert (out.flags & VSWAP_RECORD_RELOCATED);
  ck_assert_uint_eq (out.logical_page, 42);
}
END_TEST

START_TEST (test_payload_checksum_names_the_page)
{
  uint8_t page[4096];
  memset (page, 0x5a, sizeof page);
  const uint32_t a = vswap_payload_checksum (page, sizeof page, 1, 10);
  ck_assert_uint_ne (a, vswap_payload_checksum (page, sizeof page, 1, 11));
  page[4000] ^= 1;
  ck_assert_uint_ne (a, vswap_payload_checksum (page, sizeof page, 1, 10));
}
END_TEST

START_TEST (test_record_size)
{
  ck_assert_uint_eq (vswap_record_size (0, 4), 32);
  ck_assert_uint_eq (vswap_record_size (1, 4), 48);
  ck_assert_uint_eq (vswap_record_size (4096, 4), 4128);
  ck_assert_uint_eq (vswap_record_size (4096, 6), 4160);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("on-medium");
  TCase *tc = tcase_create ("encodings");
  tcase_add_test (tc, test_little_endian);
  tcase_add_test (tc, test_superblock_round_trip);
  tcase_add_test (tc, test_chunk_header_round_trip);
  tcase_add_test (tc, test_record_header_is_tied_to_its_generation);
  tcase_add_test (tc, test_payload_checksum_names_the_page);
  tcase_add_test (tc, test_record_size);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
