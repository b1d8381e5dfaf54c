/* vswap: damage is never data (DESIGN.md, invariant 9).
 *
 * A store is written (random, compressible, same-filled and zero pages,
 * overwrites, trims), flushed and closed, or flushed and dropped as a
 * crash would; then ONE structure on the medium is damaged: a bit flipped,
 * a run of garbage bytes, or a whole write unit erased (reading as zeros,
 * or as ones), in a superblock, a chunk header, a record header, a
 * payload, a summary, the unit where a chunk starts.  After that:
 *
 * - a page whose newest record was touched reads as EIO, before and after
 *   a writable open, and after a restart;
 * - every other page reads as last written: never an older copy, never
 *   zeros, and damage costs only the records it touches, not the rest of
 *   the chunk;
 * - vswap_store_check names exactly those pages as failing, and walks
 *   past the damage.
 *
 * Issue 13 found on format version 1: one flipped bit in a record header
 * dropped the rest of its chunk (109 pages read as zeros); a flipped bit
 * in a full segment's last chunk header, or the unit where the second
 * chunk starts reading as zeros, was taken for the end of the log (71 and
 * 897 pages read as zeros), and check exited 0.
 *
 * VSWAP_DAMAGE_TRIALS sets the random trials (default 120).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "medium.h"
#include "on_medium.h"
#include "store.h"

#define PAGE 4096
#define UNIT 4096
#define MAX_STRUCTURES 200000

/* What each page must read as: its content's seed and kind. */
enum kind { UNMAPPED, DATA, COMPRESSIBLE, SAME, ZERO };

struct expected {
  uint8_t kind;
  uint32_t version;
};

struct trial {
  struct vswap_medium *medium;
  /* The bytes the last damage changed: [changed_start, changed_end). */
  uint64_t changed_start, changed_end;
  uint8_t *before, *after;      /* of [changed_start, changed_end) */
  uint64_t pages;
  struct expected *expect;
  struct vswap_structure *structures;
  size_t structure_count;
  uint64_t rng;
  uint8_t page[PAGE], back[PAGE];
};

static uint64_t
next (uint64_t *x)
{
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void
content (uint64_t page, struct expected e, uint8_t *out)
{
  uint64_t x = (page << 20 ^ e.version) * 0x9e3779b97f4a7c15 + 1;
  switch (e.kind) {
  case UNMAPPED:
  case ZERO:
    memset (out, 0, PAGE);
    break;
  case SAME: {
    const uint64_t pattern = next (&x) | 1;
    for (int i = 0; i < PAGE; i += 8)
      memcpy (out + i, &pattern, 8);
    break;
  }
  case COMPRESSIBLE:
    memset (out, 0, PAGE);
    for (int i = 0; i < 256; i += 8) {
      const uint64_t v = next (&x);
      memcpy (out + i, &v, 8);
    }
    break;
  default:
    for (int i = 0; i < PAGE; i += 8) {
      const uint64_t v = next (&x);
      memcpy (out + i, &v, 8);
    }
  }
}

static struct vswap_store *
open_store (struct trial *t, bool read_only)
{
  struct vswap_error err = { "" };
  const struct vswap_open_options o = { .read_only = read_only };
  struct vswap_store *s = vswap_store_open (t->medium, &o, &err);
  ck_assert_msg (s != NULL, "open: %s", err.message);
  return s;
}

static void
put (struct trial *t, struct vswap_store *s, uint64_t page, uint8_t kind)
{
  static uint32_t version;
  const struct expected e = { kind, ++version };
  content (page, e, t->page);
  ck_assert_int_eq (vswap_store_write (s, t->page, PAGE, page * PAGE, false),
                    0);
  t->expect[page] = e;
}

/* Write the store: SEGMENT-byte segments, compressed or not; end with a
 * clean close or (CRASH) a flush and a crash. */
static void
build (struct trial *t, uint32_t segment, bool compress, bool crash,
       uint64_t seed)
{
  struct vswap_error err = { "" };
  const struct vswap_medium_options mo = { .erase_block = segment };
  *t = (struct trial) { 0 };
  t->medium = vswap_medium_open ("memory:67108864", &mo, &err);
  ck_assert_msg (t->medium != NULL, "%s", err.message);
  const struct vswap_format_options fo = {
    .logical_size = 8 << 20,
    .compression = compress ? VSWAP_COMPRESS_ZSTD : VSWAP_COMPRESS_NONE,
    .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (t->medium, &fo, NULL, NULL, &err) == 0,
                 "%s", err.message);
  t->pages = (8 << 20) / PAGE;
  t->expect = calloc (t->pages, sizeof *t->expect);
  t->structures = calloc (MAX_STRUCTURES, sizeof *t->structures);
  ck_assert (t->expect && t->structures);
  t->rng = seed | 1;

  struct vswap_store *s = open_store (t, false);
  /* 1,100 pages one after another, as in the issue, then a mix. */
  for (uint64_t p = 0; p < 1100; p++)
    put (t, s, p, DATA);
  for (int i = 0; i < 1500; i++) {
    const uint64_t p = next (&t->rng) % 1400;
    const unsigned k = next (&t->rng) % 10;
    if (k == 0) {
      const uint64_t n = 1 + next (&t->rng) % 16;
      if (p + n <= t->pages) {
        ck_assert_int_eq (vswap_store_trim (s, n * PAGE, p * PAGE, false), 0);
        for (uint64_t q = p; q < p + n; q++)
          t->expect[q] = (struct expected) { UNMAPPED, 0 };
      }
    }
    else
      put (t, s, p, k < 5 ? DATA : k < 7 ? COMPRESSIBLE : k < 9 ? SAME
           : ZERO);
    if (i % 500 == 499)
      ck_assert_int_eq (vswap_store_flush (s), 0);
  }
  if (crash) {
    ck_assert_int_eq (vswap_store_flush (s), 0);
    vswap_store_abandon (s);
  }
  else
    ck_assert_int_eq (vswap_store_close (s), 0);
}

static int
note_structure (void *opaque, const struct vswap_structure *st)
{
  struct trial *t = opaque;
  ck_assert_uint_lt (t->structure_count, MAX_STRUCTURES);
  t->structures[t->structure_count++] = *st;
  return 0;
}

static void
find_structures (struct trial *t)
{
  struct vswap_store *s = open_store (t, true);
  t->structure_count = 0;
  ck_assert_int_eq (vswap_store_layout (s, note_structure, t), 0);
  vswap_store_abandon (s);
}

/* Damage [OFFSET, OFFSET + LENGTH): XOR with MASK bytes (bit flips,
 * garbage), or set to FILL (erase) when MASK is NULL. */
static void
damage (struct trial *t, uint64_t offset, uint32_t length,
        const uint8_t *mask, int fill)
{
  const uint64_t from = offset / UNIT * UNIT;
  const uint64_t to = (offset + length + UNIT - 1) / UNIT * UNIT;
  uint8_t *buffer = aligned_alloc (4096, to - from);
  ck_assert_int_eq (vswap_medium_read (t->medium, buffer, to - from, from),
                    0);
  free (t->before);
  free (t->after);
  t->before = malloc (length);
  t->after = malloc (length);
  ck_assert (t->before && t->after);
  t->changed_start = offset;
  t->changed_end = offset + length;
  for (uint32_t i = 0; i < length; i++) {
    uint8_t *b = buffer + (offset - from) + i;
    t->before[i] = *b;
    *b = mask ? *b ^ mask[i] : (uint8_t) fill;
    t->after[i] = *b;
  }
  ck_assert_int_eq (vswap_medium_write (t->medium, buffer, to - from, from),
                    0);
  free (buffer);
}

/* Did the last damage change any byte of [START, END)? */
static bool
changed (const struct trial *t, uint64_t start, uint64_t end)
{
  for (uint64_t x = start > t->changed_start ? start : t->changed_start;
       x < end && x < t->changed_end; x++)
    if (t->before[x - t->changed_start] != t->after[x - t->changed_start])
      return true;
  return false;
}

/* The newest record (by stamp) of each page, among the records that
 * verified before the damage: its header and payload span. */
struct span { uint64_t start, end, order; };

static void
newest_spans (const struct trial *t, struct span *spans)
{
  memset (spans, 0, t->pages * sizeof *spans);
  for (size_t i = 0; i < t->structure_count; i++) {
    const struct vswap_structure *st = &t->structures[i];
    if (st->kind != VSWAP_STRUCTURE_RECORD_HEADER ||
        !vswap_record_kind_is_page (st->record_kind))
      continue;
    uint64_t end = st->offset + VSWAP_RECORD_HEADER_SIZE;
    if (i + 1 < t->structure_count &&
        t->structures[i + 1].kind == VSWAP_STRUCTURE_PAYLOAD &&
        t->structures[i + 1].offset == end)
      end += t->structures[i + 1].length;
    for (uint64_t p = st->page; p < (uint64_t) st->page + st->count &&
           p < t->pages; p++)
      if (st->order > spans[p].order)
        spans[p] = (struct span) { st->offset, end, st->order };
  }
}

struct named {
  uint8_t *pages;
  uint64_t pages_count;
  uint64_t failing;
};

static void
name_page (void *opaque, bool failing, const char *message)
{
  struct named *n = opaque;
  const char *p = strstr (message, "page ");
  if (!failing || !p)
    return;
  const uint64_t page = strtoull (p + 5, NULL, 10);
  ck_assert_uint_lt (page, n->pages_count);
  n->pages[page] = 1;
  n->failing++;
}

/* Read every page: the damaged ones (DAMAGED[p]) must fail, the others
 * read as expected.  Returns the number that failed. */
static uint64_t
verify_pages (struct trial *t, struct vswap_store *s, const uint8_t *damaged,
              const char *when)
{
  uint64_t failed = 0;
  for (uint64_t p = 0; p < t->pages; p++) {
    const int r = vswap_store_read (s, t->back, PAGE, p * PAGE);
    if (damaged[p]) {
      ck_assert_msg (r == -EIO, "%s: page %" PRIu64 ", whose newest record "
                     "was damaged, reads (%d) instead of failing", when, p,
                     r);
      failed++;
      continue;
    }
    content (p, t->expect[p], t->page);
    ck_assert_msg (r == 0, "%s: page %" PRIu64 " fails (%s) but its newest "
                   "record was not damaged", when, p, strerror (-r));
    ck_assert_msg (memcmp (t->back, t->page, PAGE) == 0, "%s: page %" PRIu64
                   " reads wrong data (expected kind %d version %" PRIu32
                   ")", when, p, t->expect[p].kind, t->expect[p].version);
  }
  return failed;
}

/* After damaging [START, END): check, open, read, restart, read. */
static void
judge (struct trial *t, uint64_t start, uint64_t end, const char *what)
{
  struct span *spans = calloc (t->pages, sizeof *spans);
  uint8_t *damaged = calloc (t->pages, 1);
  uint8_t *named = calloc (t->pages, 1);
  ck_assert (spans && damaged && named);
  newest_spans (t, spans);
  uint64_t expect_failing = 0;
  (void) start;
  (void) end;
  /* Damage that leaves a byte as it was (zeros over zeros) is none. */
  for (uint64_t p = 0; p < t->pages; p++)
    if (spans[p].order && changed (t, spans[p].start, spans[p].end)) {
      damaged[p] = 1;
      expect_failing++;
    }

  /* check, read-only, first: it must see the damage recovery sees. */
  struct vswap_store *s = open_store (t, true);
  struct named n = { .pages = named, .pages_count = t->pages };
  struct vswap_check_result result;
  ck_assert_int_eq (vswap_store_check (s, name_page, &n, &result), 0);
  ck_assert_msg (result.pages_failing == expect_failing,
                 "%s: check finds %" PRIu64 " failing pages, expected %"
                 PRIu64, what, result.pages_failing, expect_failing);
  for (uint64_t p = 0; p < t->pages; p++)
    ck_assert_msg (named[p] == damaged[p], "%s: check %s page %" PRIu64,
                   what, named[p] ? "names the sound" : "does not name",
                   p);
  verify_pages (t, s, damaged, what);
  vswap_store_abandon (s);

  /* A writable open records what it found; a restart keeps it. */
  s = open_store (t, false);
  verify_pages (t, s, damaged, what);
  ck_assert_int_eq (vswap_store_close (s), 0);
  s = open_store (t, false);
  verify_pages (t, s, damaged, what);
  ck_assert_int_eq (vswap_store_close (s), 0);
  s = open_store (t, true);
  ck_assert_int_eq (vswap_store_check (s, NULL, NULL, &result), 0);
  ck_assert_msg (result.pages_failing == expect_failing,
                 "%s: after a restart check finds %" PRIu64 " failing "
                 "pages, expected %" PRIu64, what, result.pages_failing,
                 expect_failing);
  vswap_store_abandon (s);
  free (spans);
  free (damaged);
  free (named);
}

static void
finish (struct trial *t)
{
  free (t->before);
  free (t->after);
  t->before = t->after = NULL;
  vswap_medium_close (t->medium);
  free (t->expect);
  free (t->structures);
}

/* The Nth structure of KIND (record headers: of a page record), counting
 * from the end if N is negative. */
static const struct vswap_structure *
nth (const struct trial *t, enum vswap_structure_kind kind, long n)
{
  long seen = 0;
  for (size_t k = 0; k < t->structure_count; k++) {
    const size_t i = n >= 0 ? k : t->structure_count - 1 - k;
    const struct vswap_structure *st = &t->structures[i];
    if (st->kind != kind || (kind == VSWAP_STRUCTURE_RECORD_HEADER &&
                             !vswap_record_kind_is_page (st->record_kind)))
      continue;
    if (seen++ == (n >= 0 ? n : -n - 1))
      return st;
  }
  ck_abort_msg ("no such structure");
  return NULL;
}

static void
flip (struct trial *t, uint64_t offset)
{
  const uint8_t mask = 0x10;
  damage (t, offset, 1, &mask, 0);
}

/* C: one flipped bit in a record header in the middle of a chunk: that
 * page fails, the rest of the chunk reads. */
START_TEST (test_record_header_bit)
{
  struct trial t;
  build (&t, 4 << 20, false, false, 1);
  find_structures (&t);
  const struct vswap_structure *r = nth (&t, VSWAP_STRUCTURE_RECORD_HEADER,
                                         60);
  flip (&t, r->offset + 3);
  judge (&t, r->offset + 3, r->offset + 4, "record header bit");
  finish (&t);
}
END_TEST

/* D: a flipped bit in the last chunk header of a full segment. */
START_TEST (test_last_chunk_header_bit)
{
  struct trial t;
  build (&t, 1 << 20, false, false, 2);
  find_structures (&t);
  /* The chunk header just before the first one of the next segment. */
  const struct vswap_structure *target = NULL;
  for (size_t i = 0; i + 1 < t.structure_count; i++)
    if (t.structures[i].kind == VSWAP_STRUCTURE_CHUNK_HEADER)
      for (size_t j = i + 1; j < t.structure_count; j++)
        if (t.structures[j].kind == VSWAP_STRUCTURE_CHUNK_HEADER) {
          if (t.structures[j].segment != t.structures[i].segment &&
              !target)
            target = &t.structures[i];
          break;
        }
  ck_assert (target != NULL);
  flip (&t, target->offset + 41);       /* the length */
  judge (&t, target->offset + 41, target->offset + 42, "last chunk header");
  finish (&t);
}
END_TEST

/* D: the unit where a segment's second chunk starts reads as zeros. */
START_TEST (test_second_chunk_unit_erased)
{
  struct trial t;
  build (&t, 4 << 20, false, false, 3);
  find_structures (&t);
  const struct vswap_structure *first = nth (&t, VSWAP_STRUCTURE_CHUNK_HEADER,
                                             0);
  const struct vswap_structure *second = NULL;
  for (size_t i = 0; i < t.structure_count && !second; i++)
    if (t.structures[i].kind == VSWAP_STRUCTURE_CHUNK_HEADER &&
        t.structures[i].segment == first->segment &&
        t.structures[i].offset != first->offset)
      second = &t.structures[i];
  ck_assert (second != NULL);
  damage (&t, second->offset, UNIT, NULL, 0);
  judge (&t, second->offset, second->offset + UNIT, "second chunk's unit");
  finish (&t);
}
END_TEST

/* E: a flipped bit in a middle chunk header: its records are found by
 * their own headers, no page fails. */
START_TEST (test_middle_chunk_header_bit)
{
  struct trial t;
  build (&t, 4 << 20, true, false, 4);
  find_structures (&t);
  const struct vswap_structure *c = nth (&t, VSWAP_STRUCTURE_CHUNK_HEADER, 1);
  flip (&t, c->offset + 30);
  judge (&t, c->offset + 30, c->offset + 31, "middle chunk header");
  finish (&t);
}
END_TEST

/* A trim's record erased: its pages must not get their older data back. */
START_TEST (test_tombstone_unit_erased)
{
  struct trial t;
  build (&t, 1 << 20, false, true, 5);
  find_structures (&t);
  const struct vswap_structure *trim = NULL;
  for (size_t i = 0; i < t.structure_count; i++)
    if (t.structures[i].kind == VSWAP_STRUCTURE_RECORD_HEADER &&
        t.structures[i].record_kind == VSWAP_RECORD_TRIM)
      trim = &t.structures[i];
  ck_assert (trim != NULL);
  const uint64_t unit = trim->offset / UNIT * UNIT;
  damage (&t, unit, UNIT, NULL, 0xff);
  judge (&t, unit, unit + UNIT, "tombstone's unit");
  finish (&t);
}
END_TEST

/* Random trials: every kind of damage at every kind of structure, after a
 * clean close and after a crash. */
START_TEST (test_random_damage)
{
  const char *env = getenv ("VSWAP_DAMAGE_TRIALS");
  const unsigned trials = env ? (unsigned) strtoul (env, NULL, 0) : 120;
  static const enum vswap_structure_kind kinds[] = {
    VSWAP_STRUCTURE_SUPERBLOCK, VSWAP_STRUCTURE_CHUNK_HEADER,
    VSWAP_STRUCTURE_RECORD_HEADER, VSWAP_STRUCTURE_PAYLOAD,
  };
  for (unsigned n = 0; n < trials; n++) {
    struct trial t;
    uint64_t rng = 0x9e3779b97f4a7c15 * (n + 1);
    const uint32_t segment = (next (&rng) % 3) == 0 ? 4 << 20 : 1 << 20;
    build (&t, segment, next (&rng) % 2, next (&rng) % 2, n + 100);
    find_structures (&t);
    const enum vswap_structure_kind kind = kinds[n % 4];
    size_t candidates = 0;
    for (size_t i = 0; i < t.structure_count; i++)
      candidates += t.structures[i].kind == kind;
    size_t pick = next (&rng) % candidates;
    const struct vswap_structure *st = NULL;
    for (size_t i = 0; i < t.structure_count && !st; i++)
      if (t.structures[i].kind == kind && pick-- == 0)
        st = &t.structures[i];
    const uint64_t at = st->offset + next (&rng) % st->length;
    char what[128];
    uint64_t start, end;
    switch ((n / 4) % 4) {
    case 0:                     /* a bit */
      flip (&t, at);
      start = at, end = at + 1;
      snprintf (what, sizeof what, "trial %u: bit at %" PRIu64 " (kind %d)",
                n, at, kind);
      break;
    case 1: {                   /* a run of garbage, up to 512 bytes */
      uint8_t mask[512];
      const uint32_t length = 1 + next (&rng) % sizeof mask;
      for (uint32_t i = 0; i < length; i++)
        mask[i] = (uint8_t) (next (&rng) | 1);
      damage (&t, at, length, mask, 0);
      start = at, end = at + length;
      snprintf (what, sizeof what, "trial %u: %" PRIu32 " bytes at %"
                PRIu64 " (kind %d)", n, length, at, kind);
      break;
    }
    default: {                  /* the unit erased */
      const int fill = (n / 4) % 4 == 2 ? 0 : 0xff;
      start = at / UNIT * UNIT, end = start + UNIT;
      damage (&t, start, UNIT, NULL, fill);
      snprintf (what, sizeof what, "trial %u: unit at %" PRIu64 " reads "
                "as 0x%02x (kind %d)", n, start, fill, kind);
    }
    }
    judge (&t, start, end, what);
    finish (&t);
  }
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("damage");
  TCase *tc = tcase_create ("damage");
  tcase_set_timeout (tc, 1800);
  tcase_add_test (tc, test_record_header_bit);
  tcase_add_test (tc, test_last_chunk_header_bit);
  tcase_add_test (tc, test_second_chunk_unit_erased);
  tcase_add_test (tc, test_middle_chunk_header_bit);
  tcase_add_test (tc, test_tombstone_unit_erased);
  tcase_add_test (tc, test_random_damage);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
