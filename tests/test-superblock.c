/* vswap: a superblock with a valid checksum but fields no vswap writes is
 * refused with one line, before anything divides by, shifts by or sizes a
 * buffer with a field, and nothing is written (core/superblock.c).
 *
 * The superblocks are forged with on_medium.h's encoder, so that their
 * checksums hold: every field broken in turn, then every pair of broken
 * fields.  Each is judged twice: by vswap_superblock_validate alone, and
 * written over both copies of a real store on a RAM medium, which is then
 * opened read-only and read-write as the tools and the plugin do.  Before
 * the validation existed, a write unit of 0 killed the open with SIGFPE
 * and one of 1 GiB hit an assertion in the log writer at the first flush;
 * format accepted write units of 512 to 2K that the first flush then
 * aborted on.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <zstd.h>

#include "helpers.h"
#include "medium.h"
#include "on_medium.h"
#include "store.h"
#include "superblock.h"

#define KiB (UINT64_C (1) << 10)
#define MiB (UINT64_C (1) << 20)
#define GiB (UINT64_C (1) << 30)
#define MEDIUM_SIZE (16 * MiB)
#define SEGMENT (256 * KiB)
#define SEGMENTS (MEDIUM_SIZE / SEGMENT)
/* All but the two superblock segments. */
#define DATA_AREA ((SEGMENTS - 2) * SEGMENT)

enum field {
  FIELD_VERSION, FIELD_FLAGS, FIELD_COMPRESSION, FIELD_LEVEL,
  FIELD_SEGMENT_SIZE, FIELD_WRITE_UNIT, FIELD_OPEN_SEGMENTS,
  FIELD_ADDRESS_SHIFT, FIELD_SEGMENT_COUNT, FIELD_MEDIUM_BYTES,
  FIELD_LOGICAL_SIZE,
};

/* One field set to one value, and a word the refusal must name. */
struct breakage {
  enum field field;
  uint64_t value;
  const char *names;
};

/* The reference store (see reference ()) has 64 segments of 256 KiB, a
 * 4 KiB write unit and address shift 4, 15.5 MiB of data area. */
static const struct breakage breakages[] = {
  { FIELD_VERSION, 0, "version" },
  /* A store of format 1 (before stamps): the way out is named. */
  { FIELD_VERSION, 1, "vswap format --force" },
  { FIELD_VERSION, VSWAP_FORMAT_VERSION + 1, "version" },
  { FIELD_VERSION, UINT32_MAX, "version" },
  { FIELD_FLAGS, 2, "flags" },
  { FIELD_FLAGS, UINT32_C (0x80000001), "flags" },
  { FIELD_COMPRESSION, 2, "compression" },
  { FIELD_COMPRESSION, UINT32_MAX, "compression" },
  { FIELD_LEVEL, 23, "zstd level" },
  { FIELD_LEVEL, (uint32_t) INT32_MIN, "zstd level" },
  { FIELD_LEVEL, INT32_MAX, "zstd level" },
  { FIELD_SEGMENT_SIZE, 0, "segment size" },
  { FIELD_SEGMENT_SIZE, 1, "segment size" },
  { FIELD_SEGMENT_SIZE, 4 * KiB, "segment size" },
  { FIELD_SEGMENT_SIZE, 32 * KiB, "segment size" },
  { FIELD_SEGMENT_SIZE, 96 * KiB, "segment size" },
  { FIELD_SEGMENT_SIZE, 2 * GiB, "segment size" },
  { FIELD_SEGMENT_SIZE, UINT32_MAX, "segment size" },
  { FIELD_WRITE_UNIT, 0, "write unit" },
  { FIELD_WRITE_UNIT, 1, "write unit" },
  { FIELD_WRITE_UNIT, 512, "write unit" },
  { FIELD_WRITE_UNIT, 1 * KiB, "write unit" },
  { FIELD_WRITE_UNIT, 2 * KiB, "write unit" },
  { FIELD_WRITE_UNIT, 3000, "write unit" },
  { FIELD_WRITE_UNIT, 12 * KiB, "write unit" },
  { FIELD_WRITE_UNIT, 128 * KiB, "write unit" },        /* half a segment */
  { FIELD_WRITE_UNIT, 256 * KiB, "write unit" },        /* all of it */
  { FIELD_WRITE_UNIT, 2 * MiB, "write unit" },
  { FIELD_WRITE_UNIT, 1 * GiB, "write unit" },
  { FIELD_WRITE_UNIT, 2 * GiB, "write unit" },
  { FIELD_WRITE_UNIT, UINT32_MAX, "write unit" },
  { FIELD_OPEN_SEGMENTS, 0, "open segments" },
  { FIELD_OPEN_SEGMENTS, 3, "open segments" },
  { FIELD_OPEN_SEGMENTS, UINT32_MAX, "open segments" },
  { FIELD_ADDRESS_SHIFT, 0, "address shift" },
  { FIELD_ADDRESS_SHIFT, 3, "address shift" },
  /* Beyond the write unit. */
  { FIELD_ADDRESS_SHIFT, 13, "address shift" },
  { FIELD_ADDRESS_SHIFT, 20, "address shift" },
  { FIELD_ADDRESS_SHIFT, 32, "address shift" },
  { FIELD_ADDRESS_SHIFT, 64, "address shift" },
  { FIELD_ADDRESS_SHIFT, UINT32_MAX, "address shift" },
  { FIELD_SEGMENT_COUNT, 0, "segment count" },
  { FIELD_SEGMENT_COUNT, 1, "segment count" },
  { FIELD_SEGMENT_COUNT, 7, "segment count" },
  { FIELD_SEGMENT_COUNT, SEGMENTS + 1, "medium size" },
  { FIELD_SEGMENT_COUNT, SEGMENTS - 1, "medium size" },
  /* Wraps: times the segment size, it is the medium size again. */
  { FIELD_SEGMENT_COUNT, SEGMENTS + (UINT64_MAX / SEGMENT + 1),
    "medium size" },
  { FIELD_SEGMENT_COUNT, UINT64_MAX, "medium size" },
  { FIELD_MEDIUM_BYTES, 0, "medium size" },
  { FIELD_MEDIUM_BYTES, MEDIUM_SIZE + SEGMENT, "medium size" },
  { FIELD_MEDIUM_BYTES, UINT64_MAX, "medium size" },
  { FIELD_LOGICAL_SIZE, 0, "logical size" },
  { FIELD_LOGICAL_SIZE, 4095, "logical size" },
  { FIELD_LOGICAL_SIZE, 4097, "logical size" },
  { FIELD_LOGICAL_SIZE, (UINT64_C (1) << 44) + 4096, "logical size" },
  /* More than 64 times the data area. */
  { FIELD_LOGICAL_SIZE, 64 * DATA_AREA + 4096, "logical size" },
  { FIELD_LOGICAL_SIZE, UINT64_MAX - 4095, "logical size" },
};
#define BREAKAGES (sizeof breakages / sizeof breakages[0])

static void
set_field (struct vswap_superblock *sb, enum field field, uint64_t value)
{
  switch (field) {
  case FIELD_VERSION: sb->format_version = (uint32_t) value; break;
  case FIELD_FLAGS: sb->flags = (uint32_t) value; break;
  case FIELD_COMPRESSION: sb->compression = (uint32_t) value; break;
  case FIELD_LEVEL: sb->compression_level = (int32_t) (uint32_t) value; break;
  case FIELD_SEGMENT_SIZE: sb->segment_size = (uint32_t) value; break;
  case FIELD_WRITE_UNIT: sb->write_unit = (uint32_t) value; break;
  case FIELD_OPEN_SEGMENTS: sb->open_segments = (uint32_t) value; break;
  case FIELD_ADDRESS_SHIFT: sb->address_shift = (uint32_t) value; break;
  case FIELD_SEGMENT_COUNT: sb->segment_count = value; break;
  case FIELD_MEDIUM_BYTES: sb->medium_size = value; break;
  case FIELD_LOGICAL_SIZE: sb->logical_size = value; break;
  }
}

static uint8_t *
aligned_buffer (size_t size)
{
  void *p = NULL;
  ck_assert_int_eq (posix_memalign (&p, VSWAP_MEDIUM_BUFFER_ALIGN, size), 0);
  memset (p, 0, size);
  return p;
}

static struct vswap_medium *
new_medium (uint32_t write_unit)
{
  struct vswap_error err = { "" };
  const struct vswap_medium_options mo = {
    .erase_block = SEGMENT, .write_unit = write_unit,
  };
  char spec[64];
  snprintf (spec, sizeof spec, "memory:%" PRIu64, MEDIUM_SIZE);
  struct vswap_medium *m = vswap_medium_open (spec, &mo, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  return m;
}

/* A freshly formatted store on MEDIUM, and its superblock. */
static struct vswap_superblock
format (struct vswap_medium *medium)
{
  struct vswap_error err = { "" };
  const struct vswap_format_options fo = {
    .compression = VSWAP_COMPRESS_ZSTD, .compression_level = 3,
  };
  ck_assert_msg (vswap_store_format (medium, &fo, NULL, NULL, &err) == 0,
                 "%s", err.message);
  uint8_t *buffer = aligned_buffer (4096);
  struct vswap_superblock sb;
  ck_assert_int_eq (vswap_medium_read (medium, buffer, 4096, 0), 0);
  ck_assert (vswap_superblock_decode (buffer, &sb));
  free (buffer);
  return sb;
}

/* The superblock format writes on the reference medium. */
static struct vswap_superblock
reference (void)
{
  struct vswap_medium *m = new_medium (0);
  const struct vswap_superblock sb = format (m);
  vswap_medium_close (m);
  ck_assert_uint_eq (sb.segment_count, SEGMENTS);
  ck_assert_uint_eq (sb.write_unit, 4096);
  ck_assert_uint_eq (sb.address_shift, 4);
  return sb;
}

/* Write SB over both copies, as a bug or a forger might: checksum and
 * all. */
static void
forge (struct vswap_medium *medium, const struct vswap_superblock *sb)
{
  uint8_t *buffer = aligned_buffer (4096);
  vswap_superblock_encode (sb, buffer);
  ck_assert_int_eq (vswap_medium_write (medium, buffer, 4096, 0), 0);
  ck_assert_int_eq (vswap_medium_write (medium, buffer, 4096,
                                        MEDIUM_SIZE - SEGMENT), 0);
  free (buffer);
}

/* What a store that should not have opened does with a write and a
 * flush: where the old code crashed. */
static void
exercise (struct vswap_store *store)
{
  uint8_t *page = aligned_buffer (4096);
  for (size_t i = 0; i < 4096; i++)
    page[i] = (uint8_t) (i * 13 / 7);
  (void) vswap_store_write (store, page, 4096, 0, false);
  (void) vswap_store_flush (store);
  (void) vswap_store_read (store, page, 4096, 0);
  free (page);
}

/* SB over a real store: every open is refused, naming NAMES (NULL: any
 * refusal), and nothing reaches the medium. */
static void
assert_refused_on_medium (const struct vswap_superblock *sb,
                          const char *names, const char *what)
{
  struct vswap_medium *medium = new_medium (0);
  format (medium);
  forge (medium, sb);
  const uint64_t writes = medium->writes, discards = medium->discards;

  ck_assert_int_eq (vswap_store_probe (medium, NULL), 1);
  for (int read_only = 1; read_only >= 0; read_only--) {
    struct vswap_error err = { "" };
    const struct vswap_open_options o = { .read_only = read_only };
    struct vswap_store *store = vswap_store_open (medium, &o, &err);
    if (store) {
      exercise (store);
      vswap_store_close (store);
    }
    ck_assert_msg (store == NULL, "%s: opened (%s)", what,
                   read_only ? "read-only" : "read-write");
    ck_assert_msg (strchr (err.message, '\n') == NULL && err.message[0],
                   "%s: not one line: \"%s\"", what, err.message);
    ck_assert_msg (names == NULL || strstr (err.message, names),
                   "%s: \"%s\" does not name %s", what, err.message, names);
    ck_assert_msg (strstr (err.message, "memory:"), "%s: \"%s\" does not "
                   "name the medium", what, err.message);
  }
  ck_assert_uint_eq (medium->writes, writes);
  ck_assert_uint_eq (medium->discards, discards);
  vswap_medium_close (medium);
}

START_TEST (test_reference_is_valid)
{
  struct vswap_error err = { "" };
  const struct vswap_superblock sb = reference ();
  ck_assert_msg (vswap_superblock_validate (&sb, NULL, "x", &err) == 0,
                 "%s", err.message);
  struct vswap_medium *m = new_medium (0);
  ck_assert_msg (vswap_superblock_validate (&sb, &m->geometry, "x", &err)
                 == 0, "%s", err.message);
  vswap_medium_close (m);
}
END_TEST

/* Each breakage alone, by the validator: refused, naming the field. */
START_TEST (test_each_field_alone)
{
  const struct vswap_superblock good = reference ();
  for (size_t i = 0; i < BREAKAGES; i++) {
    struct vswap_superblock sb = good;
    struct vswap_error err = { "" };
    set_field (&sb, breakages[i].field, breakages[i].value);
    ck_assert_msg (vswap_superblock_validate (&sb, NULL, "forged", &err)
                   == -EINVAL, "breakage %zu (%s = %" PRIu64 ") passed",
                   i, breakages[i].names, breakages[i].value);
    ck_assert_msg (strstr (err.message, breakages[i].names),
                   "breakage %zu: \"%s\" does not name %s", i, err.message,
                   breakages[i].names);
    ck_assert_ptr_nonnull (strstr (err.message, "forged"));
  }
}
END_TEST

/* Each breakage alone, written over a store: every open refuses, and
 * writes nothing. */
START_TEST (test_each_field_on_medium)
{
  const struct vswap_superblock good = reference ();
  struct vswap_superblock sb = good;
  char what[96];
  set_field (&sb, breakages[_i].field, breakages[_i].value);
  snprintf (what, sizeof what, "breakage %d (%s = %" PRIu64 ")", _i,
            breakages[_i].names, breakages[_i].value);
  assert_refused_on_medium (&sb, breakages[_i].names, what);
}
END_TEST

/* Every pair of breakages of two different fields: refused by the
 * validator (with the medium: a segment count and a medium size may agree
 * with each other, not with the medium); a sample of them over a store as
 * well. */
START_TEST (test_pairs)
{
  const struct vswap_superblock good = reference ();
  struct vswap_medium *m = new_medium (0);
  unsigned pairs = 0;
  for (size_t i = 0; i < BREAKAGES; i++)
    for (size_t j = i + 1; j < BREAKAGES; j++) {
      if (breakages[i].field == breakages[j].field)
        continue;
      struct vswap_superblock sb = good;
      struct vswap_error err = { "" };
      char what[96];
      set_field (&sb, breakages[i].field, breakages[i].value);
      set_field (&sb, breakages[j].field, breakages[j].value);
      snprintf (what, sizeof what, "breakages %zu and %zu", i, j);
      ck_assert_msg (vswap_superblock_validate (&sb, &m->geometry, "forged",
                                                &err) == -EINVAL,
                     "%s passed", what);
      if (++pairs % 23 == 0)
        assert_refused_on_medium (&sb, NULL, what);
    }
  ck_assert_uint_gt (pairs, 1000);
  vswap_medium_close (m);
}
END_TEST

/* Fields that are each fine but not together, and values at the edges
 * that must pass: the validator is not stricter than format. */
START_TEST (test_combinations)
{
  const struct vswap_superblock good = reference ();
  struct vswap_error err = { "" };
  struct vswap_superblock sb;

  /* An address unit of 8 KiB is fine with a write unit of 8 KiB, not of
   * 4 KiB: chunks start at write units. */
  sb = good;
  sb.address_shift = 13;
  sb.write_unit = 8 * KiB;
  ck_assert_msg (vswap_superblock_validate (&sb, NULL, "x", &err) == 0,
                 "%s", err.message);
  sb.write_unit = 4 * KiB;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err),
                    -EINVAL);

  /* A quarter of the segment is the largest write unit. */
  sb = good;
  sb.write_unit = SEGMENT / 4;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);
  sb.segment_size = SEGMENT / 2;
  sb.segment_count = 2 * SEGMENTS;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err),
                    -EINVAL);
  ck_assert_ptr_nonnull (strstr (err.message, "quarter"));

  /* The logical size may be 64 times the data area, no more; with more
   * segments, more. */
  sb = good;
  sb.logical_size = 64 * DATA_AREA;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);
  sb.logical_size += 4096;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err),
                    -EINVAL);
  sb.segment_count++;
  sb.medium_size += SEGMENT;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);

  /* The smallest store: two superblock segments, the heads, the GC
   * reserve and four data segments; one head needs one fewer. */
  sb = good;
  sb.segment_count = 2 + 2 + GC_RESERVE + MIN_DATA_SEGMENTS;
  sb.medium_size = sb.segment_count * SEGMENT;
  sb.logical_size = 4096;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);
  sb.segment_count--;
  sb.medium_size -= SEGMENT;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err),
                    -EINVAL);
  sb.open_segments = 1;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);

  /* zstd's whole range of levels, and none at all. */
  sb = good;
  sb.compression_level = ZSTD_minCLevel ();
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);
  sb.compression_level = ZSTD_maxCLevel ();
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);
  sb.compression = VSWAP_COMPRESS_NONE;
  sb.compression_level = 0;
  sb.flags = VSWAP_SUPERBLOCK_COMPRESSION_CHOSEN;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);

  /* The largest segments and write units. */
  sb = good;
  sb.segment_size = 1 * GiB;
  sb.write_unit = 1 * MiB;
  sb.segment_count = 16;
  sb.medium_size = 16 * GiB;
  ck_assert_int_eq (vswap_superblock_validate (&sb, NULL, "x", &err), 0);
}
END_TEST

/* A valid superblock on the wrong medium. */
START_TEST (test_against_medium)
{
  const struct vswap_superblock good = reference ();
  struct vswap_medium *m = new_medium (0);
  const struct vswap_geometry base = m->geometry;
  struct vswap_geometry g;
  struct vswap_error err = { "" };

  g = base;
  g.capacity = MEDIUM_SIZE - SEGMENT;
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err),
                    -EINVAL);
  ck_assert_ptr_nonnull (strstr (err.message, "whole medium"));

  g = base;
  g.write_unit = 8 * KiB;       /* the store's 4 KiB writes would not do */
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err),
                    -EINVAL);
  ck_assert_ptr_nonnull (strstr (err.message, "write unit"));

  g = base;
  g.read_unit = 512 * KiB;      /* larger than a segment */
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err),
                    -EINVAL);

  g = base;
  g.write_unit = 0;             /* no division by it */
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err),
                    -EINVAL);
  g = base;
  g.read_unit = 0;
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err),
                    -EINVAL);

  g = base;
  g.sequential_only = true;
  g.erase_block = 2 * SEGMENT;
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err),
                    -EINVAL);
  ck_assert_ptr_nonnull (strstr (err.message, "zoned"));
  g.erase_block = SEGMENT;
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err), 0);

  g = base;
  g.max_open_segments = 1;
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err),
                    -EINVAL);
  ck_assert_ptr_nonnull (strstr (err.message, "open"));
  g.max_open_segments = 2;
  ck_assert_int_eq (vswap_superblock_validate (&good, &g, "m", &err), 0);
  vswap_medium_close (m);
}
END_TEST

/* A store whose superblock says a larger write unit than the medium's
 * default opens with it, and works. */
START_TEST (test_larger_write_unit_serves)
{
  struct vswap_medium *medium = new_medium (0);
  struct vswap_superblock sb = format (medium);
  struct vswap_error err = { "" };
  sb.write_unit = 16 * KiB;
  forge (medium, &sb);
  const struct vswap_open_options o = { 0 };
  struct vswap_store *store = vswap_store_open (medium, &o, &err);
  ck_assert_msg (store != NULL, "%s", err.message);
  uint8_t *page = aligned_buffer (4096), *back = aligned_buffer (4096);
  memset (page, 0x5a, 4096);
  page[7] = 1;
  ck_assert_int_eq (vswap_store_write (store, page, 4096, 8192, false), 0);
  ck_assert_int_eq (vswap_store_flush (store), 0);
  ck_assert_int_eq (vswap_store_close (store), 0);
  store = vswap_store_open (medium, &o, &err);
  ck_assert_msg (store != NULL, "%s", err.message);
  ck_assert_int_eq (vswap_store_read (store, back, 4096, 8192), 0);
  ck_assert_mem_eq (page, back, 4096);
  ck_assert_int_eq (vswap_store_close (store), 0);
  free (page);
  free (back);
  vswap_medium_close (medium);
}
END_TEST

/* format refuses a geometry the plugin cannot serve, and writes nothing:
 * write units below 4 KiB (buffers are 4 KiB-aligned; a 512-byte unit
 * wrote from 512-byte offsets and the first flush aborted), above a
 * quarter of the segment, a logical size no data could fill. */
START_TEST (test_format_refuses)
{
  static const uint32_t small_units[] = { 512, 1024, 2048 };
  struct vswap_error err = { "" };

  for (size_t i = 0; i < 3; i++) {
    struct vswap_medium *m = new_medium (small_units[i]);
    const struct vswap_format_options fo = { 0 };
    ck_assert_int_eq (vswap_store_format (m, &fo, NULL, NULL, &err),
                      -EINVAL);
    ck_assert_ptr_nonnull (strstr (err.message, "write unit"));
    ck_assert_ptr_nonnull (strstr (err.message, "4K"));
    ck_assert_uint_eq (m->writes, 0);
    ck_assert_uint_eq (m->discards, 0);
    ck_assert_int_eq (vswap_store_probe (m, NULL), 0);
    vswap_medium_close (m);
  }

  struct vswap_medium *m = new_medium (128 * KiB);
  const struct vswap_format_options whole = { .segment_size = SEGMENT };
  ck_assert_int_eq (vswap_store_format (m, &whole, NULL, NULL, &err),
                    -EINVAL);
  ck_assert_ptr_nonnull (strstr (err.message, "quarter"));
  ck_assert_uint_eq (m->writes + m->discards, 0);
  vswap_medium_close (m);

  m = new_medium (0);
  const struct vswap_format_options huge = {
    .logical_size = 64 * DATA_AREA + 4096,
  };
  ck_assert_int_eq (vswap_store_format (m, &huge, NULL, NULL, &err),
                    -EINVAL);
  ck_assert_ptr_nonnull (strstr (err.message, "--logical-size"));
  ck_assert_uint_eq (m->writes + m->discards, 0);
  const struct vswap_format_options largest = {
    .logical_size = 64 * DATA_AREA,
  };
  ck_assert_msg (vswap_store_format (m, &largest, NULL, NULL, &err) == 0,
                 "%s", err.message);
  vswap_medium_close (m);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("superblock");
  TCase *tc = tcase_create ("superblock");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_reference_is_valid);
  tcase_add_test (tc, test_each_field_alone);
  tcase_add_loop_test (tc, test_each_field_on_medium, 0, BREAKAGES);
  tcase_add_test (tc, test_pairs);
  tcase_add_test (tc, test_combinations);
  tcase_add_test (tc, test_against_medium);
  tcase_add_test (tc, test_larger_write_unit_serves);
  tcase_add_test (tc, test_format_refuses);
  suite_add_tcase (s, tc);

  return test_run_suite (s);
}
