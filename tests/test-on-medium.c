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

  /* GC restamps a copy for its new segment and marks it relocated; the
   * copy keeps its stamp, the version of the page it is. */
  vswap_record_header_restamp (buffer, 5, 200);
  ck_assert (vswap_record_header_decode (buffer, 5, 200, &out));
  ck_assert (out.flags & VSWAP_RECORD_RELOCATED);
  ck_assert_uint_eq (out.logical_page, 42);
  ck_assert_uint_eq (out.stamp, 0);
}
END_TEST

/* Format 2: every record carries its stamp; the count of a range and the
 * pattern of a same-filled page share a field, so each kind has its own
 * fields checked, and a header whose fields disagree with its kind does
 * not decode even with a valid checksum. */
START_TEST (test_record_header_fields_by_kind)
{
  uint8_t buffer[VSWAP_RECORD_HEADER_SIZE];
  struct vswap_record_header out;
  const struct vswap_record_header trim = {
    .logical_page = 7, .count = 100000, .kind = VSWAP_RECORD_TRIM,
    .stamp = UINT64_C (0x123456789abc),
  };
  vswap_record_header_encode (&trim, 5, 100, buffer);
  ck_assert (vswap_record_header_decode (buffer, 5, 100, &out));
  ck_assert_uint_eq (out.count, 100000);
  ck_assert_uint_eq (out.stamp, UINT64_C (0x123456789abc));
  ck_assert_uint_eq (out.pattern, 0);

  const struct vswap_record_header same = {
    .logical_page = 9, .count = 1, .kind = VSWAP_RECORD_SAME,
    .pattern = UINT64_C (0xfeedfacecafebeef), .stamp = 3,
  };
  vswap_record_header_encode (&same, 5, 100, buffer);
  ck_assert (vswap_record_header_decode (buffer, 5, 100, &out));
  ck_assert_uint_eq (out.pattern, UINT64_C (0xfeedfacecafebeef));
  ck_assert_uint_eq (out.count, 1);

  /* Forged: valid checksums over fields that do not fit the kind. */
  static const struct { uint8_t kind; uint16_t length; uint64_t extent; }
  bad[] = {
    { VSWAP_RECORD_RAW, 4095, 0 },      /* a raw page is 4096 bytes */
    { VSWAP_RECORD_RAW, 4096, 1 },
    { VSWAP_RECORD_ZSTD, 4096, 0 },     /* kept only when smaller */
    { VSWAP_RECORD_ZSTD, 0, 0 },
    { VSWAP_RECORD_SAME, 8, 1 },        /* no payload */
    { VSWAP_RECORD_ZERO, 0, 0 },        /* a range of no pages */
    { VSWAP_RECORD_TRIM, 0, UINT64_C (1) << 32 },
    { VSWAP_RECORD_LOST, 16, 1 },
    { VSWAP_RECORD_SUMMARY, 40, 1 },
    { 0, 0, 0 },
    { 10, 0, 0 },
    { VSWAP_RECORD_PAD, 4097, 0 },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset (buffer, 0, sizeof buffer);
    vswap_put32 (buffer, 1);
    vswap_put16 (buffer + 4, bad[i].length);
    buffer[6] = bad[i].kind;
    vswap_put64 (buffer + 16, bad[i].extent);
    vswap_put32 (buffer + 28, vswap_checksum (buffer, 28, 5 ^ 100));
    ck_assert_msg (!vswap_record_header_decode (buffer, 5, 100, &out),
                   "forged header %zu decodes", i);
  }
  /* A range that would run past page 2^32 - 1. */
  const struct vswap_record_header far = {
    .logical_page = UINT32_MAX, .count = 2, .kind = VSWAP_RECORD_ZERO,
  };
  vswap_record_header_encode (&far, 5, 100, buffer);
  ck_assert (!vswap_record_header_decode (buffer, 5, 100, &out));
}
END_TEST

START_TEST (test_summary_header_round_trip)
{
  uint8_t payload[VSWAP_SUMMARY_HEADER + 3 * VSWAP_SUMMARY_ENTRY];
  const struct vswap_summary in = {
    .segment = 12, .generation = 1000, .offset = 65536, .entries = 3,
    .sequence = 1234, .base = UINT64_C (1) << 40,
  };
  struct vswap_summary out;
  vswap_summary_encode_header (&in, payload);
  ck_assert (vswap_summary_decode_header (payload, sizeof payload, &out));
  ck_assert_uint_eq (out.segment, 12);
  ck_assert_uint_eq (out.generation, 1000);
  ck_assert_uint_eq (out.offset, 65536);
  ck_assert_uint_eq (out.entries, 3);
  ck_assert_uint_eq (out.sequence, 1234);
  ck_assert_uint_eq (out.base, UINT64_C (1) << 40);
  /* The length must be exactly the entries'. */
  ck_assert (!vswap_summary_decode_header (payload, sizeof payload - 8,
                                           &out));
  ck_assert (!vswap_summary_decode_header (payload, 39, &out));
  vswap_put32 (payload + 20, VSWAP_SUMMARY_MAX_ENTRIES + 1);
  ck_assert (!vswap_summary_decode_header (payload, sizeof payload, &out));
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
  tcase_add_test (tc, test_record_header_fields_by_kind);
  tcase_add_test (tc, test_summary_header_round_trip);
  tcase_add_test (tc, test_payload_checksum_names_the_page);
  tcase_add_test (tc, test_record_size);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
