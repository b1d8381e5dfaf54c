/* vswap torture: one damage event per trial, aimed at every kind of
 * on-medium structure (issue 13 C, D, E).
 *
 * A base store is built through the core API on a file: pages of every
 * kind (random, compressible, same-filled, zero pages), WRITE_ZEROES and
 * TRIM ranges, overwrites until GC has moved records, flushes; then either
 * a clean close, or a crash right after a flush (vswap_store_abandon), so
 * that durability markers cover the chunks, or a crash after a flush and
 * some unflushed writes (those pages may read either version).  Each trial
 * copies the base store and applies ONE damage event:
 *   bit flip    one bit of the structure
 *   byte run    1-512 bytes of garbage from inside the structure, crossing
 *               a write-unit boundary half the time
 *   erased      the whole write unit holding (part of) the structure set
 *               to 0x00, or to 0xff
 * aimed at one structure: each superblock copy, chunk headers (the first
 * of a segment, a middle one, the last of a full segment, the last of a
 * segment still open, an empty durability marker), record headers and
 * payloads of each kind (a page's newest record, or one superseded), any
 * written unit, and whatever else the layout lists.
 * Then, on the damaged copy:
 *   1. `vswap check` runs (read-only);
 *   2. the store is opened writable through the core (as the plugin opens
 *      it), every page read, the store closed cleanly, opened again and
 *      every page read again (in a child process, so that a crash or a
 *      hang is caught and reported as such).
 * Asserted, for every trial:
 *   - no page reads wrong content: not an older version, not zeros where
 *     data was, not another page's data (counted by kind of wrong);
 *   - every page that reads EIO is named by check ("page N" on its
 *     standard output);
 *   - check exits 1 whenever a page reads EIO or lost its newest record
 *     (damaged, and the page does not read its content);
 *   - neither check nor the store crashes or hangs, and the store opens.
 * Reported, not asserted: "collateral" EIO, pages whose newest record
 * lies wholly outside the damaged bytes yet read EIO.
 *
 * Where the structures are comes from the core (vswap_store_layout on the
 * undamaged base store): every superblock, chunk header, record header
 * and payload with its offset, length, record kind, pages and order, and
 * any structure of a kind this test does not know (it becomes a class of
 * targets of its own).  A page's newest record is the last one replay
 * applies to it (the highest order, then the last in the layout).  The
 * trials see only byte ranges with a class name and, for records, pages:
 * damage is bytes at an offset, and the expectations are about pages.
 *
 * Exit status 0 when every trial passed, 1 otherwise, 77 without the
 * vswap tool.
 *
 * Environment (the defaults are the quick size; VSWAP_TORTURE=slow the
 * long one):
 *   VSWAP_SEED                 seed (default: the clock)
 *   VSWAP_TORTURE_TRIALS       trials per base store (quick 9, slow 180;
 *                              6 base stores)
 *   VSWAP_TORTURE_ONLY=I       run trial I alone (of each base store), and
 *                              describe it
 *   VSWAP_TORTURE_VERBOSE=1    one line per trial
 *   VSWAP_TORTURE_KEEP=1       keep the work directory (and the damaged
 *                              copy of each failed trial)
 *   TMPDIR                     where the work directory goes (/tmp); on
 *                              tmpfs (/dev/shm) check reads through the
 *                              page cache, and trials take half the time
 * and VSWAP (tools/vswap), set by make torture.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "medium.h"
#include "on_medium.h"
#include "store.h"
#include "torture-common.h"

/* ---- base stores ---- */

enum ending {
  ENDING_CLEAN,                 /* flush, clean close */
  ENDING_CRASH,                 /* flush, crash (markers cover all) */
  ENDING_CRASH_TAIL,            /* flush, more writes, crash */
};

static const char *const ending_names[] = {
  "clean close", "crash after a flush", "crash after unflushed writes",
};

struct base_config {
  uint32_t segment_size;
  uint64_t medium_size;
  uint64_t logical_size;
  enum ending ending;
};

static const struct base_config configs[] = {
  { 1u << 20, 16u << 20, 8u << 20, ENDING_CLEAN },
  { 1u << 20, 16u << 20, 8u << 20, ENDING_CRASH },
  { 1u << 20, 16u << 20, 8u << 20, ENDING_CRASH_TAIL },
  { 4u << 20, 48u << 20, 16u << 20, ENDING_CLEAN },
  { 4u << 20, 48u << 20, 16u << 20, ENDING_CRASH },
  { 4u << 20, 48u << 20, 16u << 20, ENDING_CRASH_TAIL },
};
#define CONFIGS (sizeof configs / sizeof configs[0])

/* ---- the layout: where the structures are ---- */

static void
quiet (void *opaque, const char *message)
{
  (void) opaque; (void) message;
}

struct record {
  uint64_t offset;              /* of its header in the medium */
  uint64_t end;                 /* after its header or payload */
  uint8_t kind;                 /* enum vswap_record_kind */
  uint32_t page, count;
  uint64_t order, index;        /* replay order: order, then place */
};

struct item {
  char class[72];               /* what a trial aims at */
  uint64_t offset;
  uint32_t length;
};

struct layout {
  uint64_t medium_size;
  uint32_t segment_size, write_unit;
  uint64_t pages;
  struct item *items;
  size_t item_count, item_size;
  struct record *records;
  size_t record_count;
  int64_t *newest;              /* per page: a record index, or -1 */
  /* Classes, in the order first seen. */
  char (*classes)[72];
  size_t class_count;
};

static void
register_class (struct layout *l, const char *class)
{
  for (size_t i = 0; i < l->class_count; i++)
    if (strcmp (l->classes[i], class) == 0)
      return;
  l->classes = realloc (l->classes, (l->class_count + 1)
                        * sizeof *l->classes);
  if (l->classes == NULL)
    torture_die ("out of memory");
  snprintf (l->classes[l->class_count++], sizeof l->classes[0], "%s", class);
}

static void
add_item (struct layout *l, const char *class, uint64_t offset,
          uint32_t length)
{
  if (l->item_count == l->item_size) {
    l->item_size = l->item_size ? 2 * l->item_size : 1024;
    l->items = realloc (l->items, l->item_size * sizeof *l->items);
    if (l->items == NULL)
      torture_die ("out of memory");
  }
  struct item *it = &l->items[l->item_count++];
  snprintf (it->class, sizeof it->class, "%s", class);
  it->offset = offset;
  it->length = length;
  register_class (l, class);
}

static const char *
record_kind_name (uint8_t kind)
{
  static const char *const names[] = {
    "?", "RAW", "ZSTD", "SAME", "ZERO", "TRIM", "LIFETIME", "SUMMARY",
    "PAD", "LOST",
  };
  return kind < sizeof names / sizeof names[0] ? names[kind] : "new kind";
}

static uint64_t
round_up_to (uint64_t n, uint64_t unit)
{
  return (n + unit - 1) / unit * unit;
}

static int
compare_replay (const void *a, const void *b, void *records)
{
  const struct record *x = &((const struct record *) records)
    [*(const int64_t *) a];
  const struct record *y = &((const struct record *) records)
    [*(const int64_t *) b];
  if (x->order != y->order)
    return x->order < y->order ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Every structure vswap_store_layout reports, in its order. */
struct structures {
  struct vswap_structure *all;
  size_t count, size;
};

static int
collect_structure (void *opaque, const struct vswap_structure *structure)
{
  struct structures *s = opaque;
  if (s->count == s->size) {
    s->size = s->size ? 2 * s->size : 4096;
    s->all = realloc (s->all, s->size * sizeof *s->all);
    if (s->all == NULL)
      return -ENOMEM;
  }
  s->all[s->count++] = *structure;
  return 0;
}

/* Where the structures of the store in PATH are, from the core's own
 * account (vswap_store_layout), sorted into classes of targets: each
 * superblock copy; chunk headers by their place (the first of a segment,
 * an empty durability marker, the last of a full or of an unfinished
 * segment, the others); record headers and payloads by record kind, and
 * whether the record is its page's newest; any written unit; and any
 * structure of a kind this test does not know yet, as its own class.
 * A page's newest record is the last that replay applies to it: the
 * highest order, then the last in the layout's order. */
static void
layout_read (const char *path, struct layout *l)
{
  const struct vswap_medium_options mo = { .read_only = true,
                                           .buffered = true };
  const struct vswap_open_options oo = {
    .read_only = true, .readtrim = VSWAP_READTRIM_OFF, .report = quiet,
    .io_contexts = 1,
  };
  struct structures s = { NULL, 0, 0 };
  struct vswap_store_info info;
  struct vswap_error err;
  char class[72];

  memset (l, 0, sizeof *l);
  vswap_error_clear (&err);
  struct vswap_medium *m = vswap_medium_open (path, &mo, &err);
  struct vswap_store *store = m ? vswap_store_open (m, &oo, &err) : NULL;
  if (store == NULL)
    torture_die ("the base store does not open: %s", err.message);
  vswap_store_get_info (store, &info);
  const int listed = vswap_store_layout (store, collect_structure, &s);
  if (listed != 0)
    torture_die ("vswap_store_layout: %s",
                 strerror (listed < 0 ? -listed : EIO));
  l->medium_size = m->geometry.capacity;
  vswap_store_close (store);
  vswap_medium_close (m);
  l->segment_size = info.segment_size;
  l->write_unit = info.write_unit;
  l->pages = info.logical_size / TORTURE_PAGE;

  /* Records first: their classes need to know which are newest. */
  int64_t *record_of = torture_calloc (s.count, sizeof *record_of);
  l->records = torture_calloc (s.count, sizeof *l->records);
  for (size_t i = 0; i < s.count; i++) {
    const struct vswap_structure *x = &s.all[i];
    record_of[i] = -1;
    if (x->kind == VSWAP_STRUCTURE_RECORD_HEADER) {
      struct record *r = &l->records[l->record_count];
      r->offset = x->offset;
      r->end = x->offset + x->length;
      r->kind = x->record_kind;
      r->page = x->page;
      r->count = x->count;
      r->order = x->order;
      r->index = i;
      record_of[i] = (int64_t) l->record_count++;
    }
    else if (x->kind == VSWAP_STRUCTURE_PAYLOAD && i > 0 &&
             record_of[i - 1] >= 0) {
      record_of[i] = record_of[i - 1];
      l->records[record_of[i]].end = x->offset + x->length;
    }
  }
  int64_t *replay = torture_calloc (l->record_count, sizeof *replay);
  for (size_t i = 0; i < l->record_count; i++)
    replay[i] = (int64_t) i;
  qsort_r (replay, l->record_count, sizeof *replay, compare_replay,
           l->records);
  l->newest = torture_calloc (l->pages, sizeof *l->newest);
  for (uint64_t p = 0; p < l->pages; p++)
    l->newest[p] = -1;
  for (size_t i = 0; i < l->record_count; i++) {
    const struct record *r = &l->records[replay[i]];
    if (!vswap_record_kind_is_page (r->kind))
      continue;               /* lifetime counters, summaries, padding */
    const uint64_t count = vswap_record_kind_is_range (r->kind) ? r->count
      : 1;
    for (uint64_t p = r->page; p < (uint64_t) r->page + count &&
           p < l->pages; p++)
      l->newest[p] = replay[i];
  }
  free (replay);

  for (size_t i = 0; i < s.count; i++) {
    const struct vswap_structure *x = &s.all[i];
    switch (x->kind) {
    case VSWAP_STRUCTURE_SUPERBLOCK:
      add_item (l, x->segment == 0 ? "superblock copy A"
                : "superblock copy B", x->offset, x->length);
      break;
    case VSWAP_STRUCTURE_CHUNK_HEADER: {
      /* What follows it up to the next chunk of its segment. */
      uint64_t end = x->offset + x->length, records = 0;
      size_t j;
      for (j = i + 1; j < s.count && s.all[j].segment == x->segment &&
             s.all[j].kind != VSWAP_STRUCTURE_CHUNK_HEADER; j++) {
        records += s.all[j].kind == VSWAP_STRUCTURE_RECORD_HEADER;
        if (s.all[j].offset + s.all[j].length > end)
          end = s.all[j].offset + s.all[j].length;
      }
      const bool first = x->offset % l->segment_size == 0;
      const bool last = j == s.count || s.all[j].segment != x->segment;
      /* A segment is closed as full when the next record would not fit:
       * less than a chunk header, a record header, a page and a unit's
       * padding left. */
      const bool full = l->segment_size - end % l->segment_size <
        64 + 32 + TORTURE_PAGE + l->write_unit;
      const char *role = first ? (last && full ? "the only one of a full "
                                  "segment" : "first of its segment")
        : records == 0 ? "an empty durability marker"
        : last ? (full ? "last of a full segment"
                  : "last of an unfinished segment")
        : "middle";
      snprintf (class, sizeof class, "chunk header (%s)", role);
      add_item (l, class, x->offset, x->length);
      for (uint64_t u = x->offset; u < round_up_to (end, l->write_unit);
           u += l->write_unit)
        add_item (l, "a written unit", u, l->write_unit);
      break;
    }
    case VSWAP_STRUCTURE_RECORD_HEADER:
    case VSWAP_STRUCTURE_PAYLOAD: {
      const int64_t index = record_of[i];
      const struct record *r = &l->records[index];
      const bool page_record = vswap_record_kind_is_page (r->kind);
      const bool newest = page_record && r->page < l->pages &&
        l->newest[r->page] == index;
      snprintf (class, sizeof class, "%s (%s%s)",
                x->kind == VSWAP_STRUCTURE_PAYLOAD ? "payload"
                : "record header", record_kind_name (r->kind),
                !page_record ? ""
                : newest ? ", newest of its page" : ", superseded");
      add_item (l, class, x->offset, x->length);
      break;
    }
    default:
      /* A structure this test does not know yet (a summary, say): a
       * class of its own, so that trials aim at it too. */
      snprintf (class, sizeof class, "structure of kind %d", (int) x->kind);
      add_item (l, class, x->offset, x->length);
      break;
    }
  }
  free (record_of);
  free (s.all);
}

/* Did the damage [START, END) touch record R? */
static bool
record_hit (const struct record *r, uint64_t start, uint64_t end)
{
  return start < r->end && end > r->offset;
}

/* ---- building a base store ---- */

static struct torture_model model;
static struct vswap_medium *medium;

static void
core_die (const char *what, int r)
{
  torture_die ("%s: %s", what, strerror (-r));
}

static enum torture_kind
base_kind (struct test_random *r)
{
  const unsigned x = test_random_below (r, 100);
  return x < 40 ? TORTURE_RANDOM : x < 70 ? TORTURE_TEXT
    : x < 82 ? TORTURE_SAME : x < 88 ? TORTURE_SAME_COMMON : TORTURE_ZERO;
}

static void
base_write (struct vswap_store *store, struct test_random *r, uint64_t page,
            unsigned count, bool pending)
{
  static uint8_t data[16 * TORTURE_PAGE];

  for (unsigned i = 0; i < count; i++) {
    const enum torture_kind k = base_kind (r);
    const uint64_t v = torture_model_set (&model, page + i, k, pending);
    torture_page_fill (data + i * TORTURE_PAGE, page + i, v, k);
  }
  const int ret = vswap_store_write (store, data,
                                     (uint64_t) count * TORTURE_PAGE,
                                     page * TORTURE_PAGE, false);
  if (ret < 0)
    core_die ("write", ret);
}

/* Build the base store of CONFIG in PATH and fill the model. */
static void
build_base (const struct base_config *c, const char *path,
            struct test_random *r)
{
  struct vswap_medium_options mo = {
    .create = true, .create_size = c->medium_size,
    .erase_block = c->segment_size,
  };
  struct vswap_format_options fo = {
    .logical_size = c->logical_size, .segment_size = c->segment_size,
    .compression = VSWAP_COMPRESS_ZSTD, .compression_chosen = true,
  };
  const struct vswap_open_options oo = {
    .readtrim = VSWAP_READTRIM_OFF, .report = quiet,
  };
  struct vswap_error err;
  int ret;

  remove (path);
  vswap_error_clear (&err);
  medium = vswap_medium_open (path, &mo, &err);
  if (medium == NULL)
    torture_die ("%s", err.message);
  ret = vswap_store_format (medium, &fo, NULL, NULL, &err);
  if (ret < 0)
    torture_die ("format: %s", err.message);
  struct vswap_store *store = vswap_store_open (medium, &oo, &err);
  if (store == NULL)
    torture_die ("open: %s", err.message);

  const uint64_t pages = vswap_store_size (store) / TORTURE_PAGE;
  free (model.version);
  free (model.kind);
  free (model.pending_version);
  free (model.pending_kind);
  torture_model_init (&model, pages);

  /* Fill most of it, then overwrite, zero and trim, with flushes, until
   * GC has moved records around. */
  for (uint64_t p = 0; p + 16 <= pages * 7 / 8; p += 16)
    base_write (store, r, p, 16, false);
  const uint64_t operations = c->medium_size / TORTURE_PAGE;
  for (uint64_t i = 0; i < operations; i++) {
    const unsigned x = test_random_below (r, 100);
    const unsigned n = 1 + test_random_below (r, x < 80 ? 8 : 16);
    const uint64_t p = test_random_below (r, pages - n);
    if (x < 80)
      base_write (store, r, p, n, false);
    else {
      for (unsigned j = 0; j < n; j++)
        torture_model_set (&model, p + j, TORTURE_ZERO, false);
      ret = x < 90 ? vswap_store_zero (store, (uint64_t) n * TORTURE_PAGE,
                                       p * TORTURE_PAGE, false)
        : vswap_store_trim (store, (uint64_t) n * TORTURE_PAGE,
                            p * TORTURE_PAGE, false);
      if (ret < 0)
        core_die (x < 90 ? "zero" : "trim", ret);
    }
    if (test_random_below (r, 200) == 0 && (ret = vswap_store_flush (store)) < 0)
      core_die ("flush", ret);
  }
  if ((ret = vswap_store_flush (store)) < 0)
    core_die ("flush", ret);

  switch (c->ending) {
  case ENDING_CLEAN:
    if ((ret = vswap_store_close (store)) < 0)
      core_die ("close", ret);
    break;
  case ENDING_CRASH_TAIL:
    /* Each page written once at most after the flush: the model knows
     * one version in flight per page, and a crash may keep any of them. */
    for (unsigned i = 0; i < 40; i++) {
      const uint64_t p = test_random_below (r, pages - 4);
      if (!model.pending_version[p] && !model.pending_version[p + 1] &&
          !model.pending_version[p + 2] && !model.pending_version[p + 3])
        base_write (store, r, p, 4, true);
    }
    /* fall through */
  case ENDING_CRASH:
    vswap_store_abandon (store);
    break;
  }
  vswap_medium_close (medium);
  medium = NULL;
}

/* ---- one trial ---- */

enum damage {
  DAMAGE_FLIP,
  DAMAGE_RUN,
  DAMAGE_ERASE_00,
  DAMAGE_ERASE_FF,
  DAMAGES
};

static const char *const damage_names[DAMAGES] = {
  "bit flip", "byte run", "unit erased to 00", "unit erased to ff",
};

/* What the child saw of one page. */
enum seen {
  SEEN_OK = TORTURE_OK,
  /* TORTURE_ZEROS .. TORTURE_GARBAGE: wrong */
  SEEN_EIO = 100,
  SEEN_ERROR = 101,             /* another error */
};

struct child_result {
  int open_failed;              /* 0, or which open (1, 2) */
  char message[512];
  uint8_t seen[];               /* per open, per page: enum seen */
};

/* Apply damage D to IMAGE (a copy of the base) at ITEM.  Sets the
 * changed bytes' range and a description.  False if nothing changed. */
static bool
damage_image (uint8_t *image, const uint8_t *base, const struct layout *l,
              const struct item *it, enum damage d, struct test_random *r,
              uint64_t *start, uint64_t *end, char *what, size_t size)
{
  const uint64_t wu = l->write_unit;
  uint64_t at = it->offset + test_random_below (r, it->length);

  switch (d) {
  case DAMAGE_FLIP: {
    const unsigned bit = test_random_below (r, 8);
    image[at] ^= 1u << bit;
    snprintf (what, size, "bit %u of byte %" PRIu64, bit, at);
    break;
  }
  case DAMAGE_RUN: {
    const uint64_t length = 1 + test_random_below (r, 512);
    if (test_random_below (r, 2)) {
      /* Across the next unit boundary. */
      const uint64_t boundary = (at / wu + 1) * wu;
      const uint64_t back = test_random_below (r, length);
      at = boundary > back ? boundary - back : 0;
      if (at < it->offset && length > 1)
        at = it->offset;
    }
    const uint64_t medium_end = l->medium_size;
    const uint64_t n = at + length > medium_end ? medium_end - at : length;
    for (uint64_t i = 0; i < n; i++)
      image[at + i] = (uint8_t) test_random_next (r);
    image[at] = base[at] ^ (uint8_t) (1 + test_random_below (r, 255));
    snprintf (what, size, "%" PRIu64 " bytes of garbage at byte %" PRIu64,
              n, at);
    break;
  }
  case DAMAGE_ERASE_00:
  case DAMAGE_ERASE_FF: {
    const uint64_t unit = at / wu * wu;
    memset (image + unit, d == DAMAGE_ERASE_00 ? 0 : 0xff, wu);
    snprintf (what, size, "the unit at byte %" PRIu64 " set to %s", unit,
              d == DAMAGE_ERASE_00 ? "00" : "ff");
    break;
  }
  default:
    abort ();
  }

  /* The bytes that changed. */
  const uint64_t lo = at > wu ? at - wu : 0;
  const uint64_t hi = at + 2 * wu;
  *start = UINT64_MAX;
  *end = 0;
  for (uint64_t i = lo; i < hi && i < l->medium_size; i++)
    if (image[i] != base[i]) {
      if (*start == UINT64_MAX)
        *start = i;
      *end = i + 1;
    }
  if (*start == UINT64_MAX)
    return false;
  snprintf (what + strlen (what), size - strlen (what), " (segment %" PRIu64
            " offset %" PRIu64 ")", *start / l->segment_size,
            *start % l->segment_size);
  return true;
}

/* Make the file at PATH hold IMAGE, writing only the 4 KiB blocks that
 * differ: a trial's file differs from the last one's in a few places (the
 * damage, and what the last trial's opens wrote). */
static void
write_file (const char *path, const uint8_t *image, uint64_t size)
{
  static uint8_t *old;
  static uint64_t old_size;
  const int fd = open (path, O_RDWR | O_CREAT, 0644);
  struct stat st;

  if (fd < 0 || fstat (fd, &st) < 0)
    torture_die ("%s: %m", path);
  if (old_size < size) {
    free (old);
    old = torture_malloc (size);
    old_size = size;
  }
  bool whole = (uint64_t) st.st_size != size;
  if (!whole)
    for (uint64_t done = 0; done < size;) {
      const ssize_t n = pread (fd, old + done, size - done, done);
      if (n <= 0) {
        whole = true;
        break;
      }
      done += n;
    }
  if (whole && ftruncate (fd, 0) < 0)
    torture_die ("truncate %s: %m", path);
  for (uint64_t block = 0; block < size; block += 4096) {
    const uint64_t n = size - block < 4096 ? size - block : 4096;
    if (!whole && memcmp (old + block, image + block, n) == 0)
      continue;
    if (pwrite (fd, image + block, n, block) != (ssize_t) n)
      torture_die ("write %s: %m", path);
  }
  if (close (fd) < 0)
    torture_die ("close %s: %m", path);
}

static uint8_t *
read_file (const char *path, uint64_t *size)
{
  struct stat st;
  const int fd = open (path, O_RDONLY);
  if (fd < 0 || fstat (fd, &st) < 0)
    torture_die ("%s: %m", path);
  uint8_t *image = torture_malloc (st.st_size);
  for (uint64_t done = 0; done < (uint64_t) st.st_size;) {
    const ssize_t n = read (fd, image + done, st.st_size - done);
    if (n <= 0)
      torture_die ("read %s: %m", path);
    done += n;
  }
  close (fd);
  *size = st.st_size;
  return image;
}

/* In a child: open PATH writable, read every page, close, open again,
 * read every page again.  Results in RESULT (shared memory). */
static void __attribute__ ((noreturn))
child_reads (const char *path, struct child_result *result, uint64_t pages)
{
  enum { RUN = 32 };
  static uint8_t run[RUN * TORTURE_PAGE] __attribute__ ((aligned (4096)));
  /* Buffered: the two opens read the whole medium, and the page cache
   * spares the disk (recovery sees the same bytes either way). */
  const struct vswap_medium_options mo = { .buffered = true };
  const struct vswap_open_options oo = {
    .readtrim = VSWAP_READTRIM_OFF, .report = quiet,
  };

  for (int pass = 0; pass < 2; pass++) {
    struct vswap_error err;
    vswap_error_clear (&err);
    struct vswap_medium *m = vswap_medium_open (path, &mo, &err);
    struct vswap_store *store = m ? vswap_store_open (m, &oo, &err) : NULL;
    if (store == NULL) {
      result->open_failed = pass + 1;
      snprintf (result->message, sizeof result->message, "%s", err.message);
      _exit (0);
    }
    /* Runs of pages at once; a run that fails is read page by page. */
    for (uint64_t first = 0; first < pages; first += RUN) {
      const uint64_t n = pages - first < RUN ? pages - first : RUN;
      const bool run_ok = vswap_store_read (store, run, n * TORTURE_PAGE,
                                            first * TORTURE_PAGE) == 0;
      for (uint64_t p = first; p < first + n; p++) {
        uint8_t *page = run + (p - first) * TORTURE_PAGE;
        const int r = run_ok ? 0 : vswap_store_read (store, page,
                                                     TORTURE_PAGE,
                                                     p * TORTURE_PAGE);
        uint8_t *seen = &result->seen[pass * pages + p];
        if (r == -EIO)
          *seen = SEEN_EIO;
        else if (r < 0)
          *seen = SEEN_ERROR;
        else
          *seen = torture_model_settle (&model, p, page);
      }
    }
    const int r = vswap_store_close (store);
    vswap_medium_close (m);
    if (r < 0 && pass == 0) {
      result->open_failed = 3;
      snprintf (result->message, sizeof result->message,
                "the clean close failed: %s", strerror (-r));
      _exit (0);
    }
  }
  _exit (0);
}

/* Parse check's standard output: the pages it names ("page N", "pages
 * N-M", "pages N..M", "pages N to M"). */
static void
parse_named (const char *path, uint8_t *named, uint64_t pages)
{
  char line[1024];
  FILE *fp = fopen (path, "r");

  memset (named, 0, pages);
  if (fp == NULL)
    return;
  while (fgets (line, sizeof line, fp)) {
    for (char *p = line; (p = strstr (p, "page")) != NULL;) {
      p += 4;
      const bool plural = *p == 's';
      if (plural)
        p++;
      while (*p == ' ')
        p++;
      if (*p < '0' || *p > '9')
        continue;
      char *end;
      uint64_t first = strtoull (p, &end, 10), last = first;
      if (plural) {
        if (end[0] == '-' || (end[0] == '.' && end[1] == '.'))
          last = strtoull (end + (end[0] == '-' ? 1 : 2), &end, 10);
        else if (strncmp (end, " to ", 4) == 0)
          last = strtoull (end + 4, &end, 10);
      }
      for (uint64_t q = first; q <= last && q < pages; q++)
        named[q] = 1;
      p = end;
    }
  }
  fclose (fp);
}

/* What a trial found. */
struct outcome {
  uint64_t wrong[TORTURE_VERDICTS];     /* first open */
  uint64_t wrong_after_restart;         /* second open, not in the first */
  uint64_t eio, collateral, hit, lost, unnamed, other_errors;
  int check_status;
  bool check_timed_out, child_died, open_failed;
  bool check_should_fail;
  double check_seconds, store_seconds;
  char problem[600];
};

static bool
outcome_failed (const struct outcome *o)
{
  uint64_t wrong = o->wrong_after_restart;
  for (int v = TORTURE_OK + 1; v < TORTURE_VERDICTS; v++)
    wrong += o->wrong[v];
  return wrong || o->unnamed || o->other_errors || o->check_timed_out ||
    o->child_died || o->open_failed || o->check_status < 0 ||
    o->check_status == 2 || (o->check_should_fail && o->check_status != 1);
}

static const char *tool;
static uint8_t *baseline_bad;   /* pages wrong without damage: not counted */
static struct child_result *result;     /* shared with the child */
static size_t result_size;

static void
run_trial (const char *trial_path, const struct layout *l, uint64_t start,
           uint64_t end, struct outcome *o)
{
  const uint64_t pages = model.pages;
  static uint8_t *named;
  static uint64_t named_size;
  bool timed_out;

  memset (o, 0, sizeof *o);
  if (named_size < pages) {
    free (named);
    named = torture_malloc (pages);
    named_size = pages;
  }
  if (result == NULL || result_size < sizeof *result + 2 * pages) {
    if (result)
      munmap (result, result_size);
    result_size = sizeof *result + 2 * pages;
    result = mmap (NULL, result_size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (result == MAP_FAILED)
      torture_die ("mmap: %m");
  }

  /* 1. check, read-only, on the damaged bytes as they are. */
  const char *check[] = { tool, "check", trial_path, NULL };
  static const char *check_out, *check_err;
  if (check_out == NULL) {
    check_out = torture_path ("check.out");
    check_err = torture_path ("check.err");
  }
  double t0 = torture_now ();
  o->check_status = torture_run (check, check_out, check_err, 120,
                                 &timed_out);
  o->check_seconds = torture_now () - t0;
  t0 = torture_now ();
  o->check_timed_out = timed_out;
  parse_named (check_out, named, pages);

  /* 2. The store, writable, twice. */
  memset (result, 0, result_size);
  fflush (stdout);
  const pid_t pid = fork ();
  if (pid < 0)
    torture_die ("fork: %m");
  if (pid == 0) {
    alarm (300);
    child_reads (trial_path, result, pages);
  }
  int status;
  if (waitpid (pid, &status, 0) != pid)
    torture_die ("waitpid: %m");
  o->store_seconds = torture_now () - t0;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
    o->child_died = true;
    snprintf (o->problem, sizeof o->problem, "the store %s",
              WIFSIGNALED (status) && WTERMSIG (status) == SIGALRM
              ? "hung (5 minutes)" : WIFSIGNALED (status)
              ? strsignal (WTERMSIG (status)) : "exited non-zero");
    return;
  }
  if (result->open_failed) {
    o->open_failed = true;
    snprintf (o->problem, sizeof o->problem, "%s: %s",
              result->open_failed == 3 ? "close" :
              result->open_failed == 1 ? "the open refused the store"
              : "the second open refused the store", result->message);
    return;
  }

  for (uint64_t p = 0; p < pages; p++) {
    const int64_t newest = l->newest[p];
    const bool hit = newest >= 0 &&
      record_hit (&l->records[newest], start, end);
    /* Lost: its newest record was damaged, and the page does not read
     * it (a hit in bytes no checksum covers, or a record whose twin
     * survives, loses nothing). */
    const bool lost = hit && result->seen[p] != SEEN_OK;
    o->hit += hit;
    o->lost += lost;
    if (lost)
      o->check_should_fail = true;
    if (baseline_bad[p])
      continue;
    if (!named[p] && (result->seen[p] == SEEN_EIO ||
                      result->seen[pages + p] == SEEN_EIO))
      o->unnamed++;
    for (int pass = 0; pass < 2; pass++) {
      const uint8_t seen = result->seen[pass * pages + p];
      if (seen == SEEN_EIO) {
        o->check_should_fail = true;
        if (pass == 0) {
          o->eio++;
          o->collateral += !lost;
        }
      }
      else if (seen == SEEN_ERROR)
        o->other_errors++;
      else if (seen != SEEN_OK) {
        if (pass == 0)
          o->wrong[seen]++;
        else if (result->seen[p] == SEEN_OK ||
                 result->seen[p] == SEEN_EIO)
          o->wrong_after_restart++;
      }
    }
  }
}

/* ---- the runner ---- */

struct cell {                   /* per class and damage */
  uint64_t trials, failed, wrong, unnamed, check_zero, eio, collateral,
    crashed;
};

int
main (void)
{
  torture_program = "torture-damage";
  const bool slow = torture_slow ();
  const uint64_t trials = torture_env_number ("VSWAP_TORTURE_TRIALS",
                                              slow ? 180 : 9);
  const int64_t only = getenv ("VSWAP_TORTURE_ONLY")
    ? (int64_t) torture_env_number ("VSWAP_TORTURE_ONLY", 0) : -1;
  const bool verbose = torture_env_number ("VSWAP_TORTURE_VERBOSE", 0)
    || only >= 0;
  tool = torture_tool ();
  const uint64_t seed = torture_seed ();
  const double start_time = torture_now ();
  uint64_t total_trials = 0, failed_trials = 0, total_wrong = 0;
  uint64_t total_unnamed = 0, total_check_zero = 0, total_crashed = 0;
  uint64_t total_collateral = 0, total_eio = 0, reported = 0;
  /* Per class name and damage. */
  char (*class_names)[72] = NULL;
  struct cell (*cells)[DAMAGES] = NULL;
  size_t class_total = 0;

  torture_workdir ("damage");
  const char *base_path = torture_path ("base");
  const char *trial_path = torture_path ("trial");

  for (size_t c = 0; c < CONFIGS; c++) {
    const struct base_config *cfg = &configs[c];
    struct test_random rng = torture_random (seed * 31 + c);
    struct layout layout;
    uint64_t size;
    char config_name[96];
    struct outcome o;

    snprintf (config_name, sizeof config_name, "%u MiB segments, %s",
              cfg->segment_size >> 20, ending_names[cfg->ending]);
    const double build_start = torture_now ();
    build_base (cfg, base_path, &rng);
    const double build_time = torture_now () - build_start;
    uint8_t *base = read_file (base_path, &size);
    uint8_t *image = torture_malloc (size);
    layout_read (base_path, &layout);
    if (layout.pages != model.pages)
      torture_die ("the layout's logical size differs from the store's");

    /* The base store, undamaged: what it gets wrong is not the damage's
     * doing (and is a failure of its own). */
    free (baseline_bad);
    baseline_bad = torture_calloc (model.pages, 1);
    write_file (trial_path, base, size);
    run_trial (trial_path, &layout, 0, 0, &o);
    uint64_t base_wrong = o.wrong_after_restart + o.eio + o.other_errors;
    for (int v = TORTURE_OK + 1; v < TORTURE_VERDICTS; v++)
      base_wrong += o.wrong[v];
    uint64_t disagree = 0;
    for (uint64_t p = 0; p < model.pages; p++) {
      const int64_t n = layout.newest[p];
      const bool zero_on_medium = n < 0 ||
        layout.records[n].kind == VSWAP_RECORD_ZERO ||
        layout.records[n].kind == VSWAP_RECORD_TRIM;
      const bool differ = model.pending_version[p] == 0 &&
        zero_on_medium != (model.kind[p] == TORTURE_ZERO);
      if (differ && verbose)
        torture_say ("page %" PRIu64 ": %s in the model; the layout's "
                     "newest record: %s at byte %" PRIu64 ", order %"
                     PRIu64, p, torture_kind_names[model.kind[p]],
                     n < 0 ? "none" : record_kind_name (layout.records[n].kind),
                     n < 0 ? 0 : layout.records[n].offset,
                     n < 0 ? 0 : layout.records[n].order);
      disagree += differ;
    }
    torture_say ("base store %zu (%s, built in %.1f s): %zu structures in "
                 "%zu classes, %zu records; undamaged: check exit %d, %"
                 PRIu64 " pages wrong or failing%s%s; layout and model "
                 "disagree on %" PRIu64 " pages", c + 1, config_name,
                 build_time, layout.item_count, layout.class_count,
                 layout.record_count, o.check_status, base_wrong,
                 o.problem[0] ? ": " : "", o.problem, disagree);
    if (outcome_failed (&o) || o.check_status != 0) {
      failed_trials++;
      torture_say ("FAIL: the undamaged base store %zu does not read back "
                   "right", c + 1);
    }
    /* Exclude pages the base store itself gets wrong. */
    if (!o.child_died && !o.open_failed)
      for (uint64_t p = 0; p < model.pages; p++)
        baseline_bad[p] = result->seen[p] != SEEN_OK ||
          result->seen[model.pages + p] != SEEN_OK;

    for (uint64_t t = 0; t < trials; t++) {
      if (only >= 0 && t != (uint64_t) only)
        continue;
      /* Round robin over classes and damages, so that a few trials cover
       * many; the instance and the bytes are random. */
      const size_t class = (t + c * 5) % layout.class_count;
      const enum damage d = (enum damage) ((t / layout.class_count + c + t)
                                           % DAMAGES);
      size_t candidates = 0, pick;
      for (size_t i = 0; i < layout.item_count; i++)
        candidates += strcmp (layout.items[i].class,
                              layout.classes[class]) == 0;
      if (candidates == 0)
        continue;
      pick = test_random_below (&rng, candidates);
      const struct item *it = NULL;
      for (size_t i = 0; i < layout.item_count; i++)
        if (strcmp (layout.items[i].class, layout.classes[class]) == 0 &&
            pick-- == 0) {
          it = &layout.items[i];
          break;
        }

      uint64_t dstart, dend;
      char what[256];
      memcpy (image, base, size);
      if (!damage_image (image, base, &layout, it, d, &rng, &dstart, &dend,
                         what, sizeof what))
        continue;               /* the unit was already like that */
      write_file (trial_path, image, size);
      run_trial (trial_path, &layout, dstart, dend, &o);

      /* Tally. */
      size_t k;
      for (k = 0; k < class_total; k++)
        if (strcmp (class_names[k], it->class) == 0)
          break;
      if (k == class_total) {
        class_names = realloc (class_names, (k + 1) * sizeof *class_names);
        cells = realloc (cells, (k + 1) * sizeof *cells);
        if (!class_names || !cells)
          torture_die ("out of memory");
        snprintf (class_names[k], sizeof class_names[0], "%s", it->class);
        memset (cells[k], 0, sizeof cells[k]);
        class_total++;
      }
      struct cell *cell = &cells[k][d];
      uint64_t wrong = o.wrong_after_restart;
      for (int v = TORTURE_OK + 1; v < TORTURE_VERDICTS; v++)
        wrong += o.wrong[v];
      const bool failed = outcome_failed (&o);
      cell->trials++;
      cell->failed += failed;
      cell->wrong += wrong;
      cell->unnamed += o.unnamed;
      cell->check_zero += o.check_should_fail && o.check_status == 0;
      cell->eio += o.eio;
      cell->collateral += o.collateral;
      cell->crashed += o.child_died || o.check_timed_out ||
        o.check_status < 0;
      total_trials++;
      failed_trials += failed;
      total_wrong += wrong;
      total_unnamed += o.unnamed;
      total_check_zero += o.check_should_fail && o.check_status == 0;
      total_crashed += o.child_died || o.check_timed_out ||
        o.check_status < 0;
      total_eio += o.eio;
      total_collateral += o.collateral;

      if (failed || verbose) {
        char wrong_text[256] = "";
        size_t used = 0;
        for (int v = TORTURE_OK + 1; v < TORTURE_VERDICTS; v++)
          if (o.wrong[v])
            used += snprintf (wrong_text + used, sizeof wrong_text - used,
                              "%s%" PRIu64 " %s", used ? ", " : "",
                              o.wrong[v], torture_verdict_names[v]);
        if (failed && ++reported > 60 && !verbose)
          continue;
        torture_say ("%s base %zu (%s) trial %" PRIu64 ": %s, %s in %s: "
                     "%s%s%" PRIu64 " wrong after a restart, %" PRIu64
                     " EIO (%" PRIu64 " collateral), %" PRIu64 " newest "
                     "records hit (%" PRIu64 " lost), %" PRIu64 " EIO pages "
                     "not named by "
                     "check; check exit %d%s%s%s [%.2f s + %.2f s]",
                     failed ? "FAIL" : "ok", c + 1, config_name, t,
                     damage_names[d], what, it->class,
                     wrong_text, used ? " read wrong; " : "",
                     o.wrong_after_restart, o.eio, o.collateral,
                     o.hit, o.lost, o.unnamed, o.check_status,
                     o.check_timed_out ? " (timed out)" : "",
                     o.problem[0] ? "; " : "", o.problem, o.check_seconds,
                     o.store_seconds);
        if (failed && getenv ("VSWAP_TORTURE_KEEP")) {
          char name[64];
          snprintf (name, sizeof name, "failed-%zu-%" PRIu64, c + 1, t);
          rename (trial_path, torture_path (name));
        }
      }
    }
    free (base);
    free (image);
    free (layout.items);
    free (layout.records);
    free (layout.newest);
    free (layout.classes);
  }

  /* The table: one line per class and damage. */
  printf ("wrong: pages read wrong (in either open); unnamed: pages read "
          "EIO that check did not name;\nchk=0: trials where check exited "
          "0 while pages read EIO or lost their newest record;\ncollateral: "
          "EIO pages whose newest record the damage missed; crashed: check "
          "or the store\ncrashed or hung.\n");
  printf ("%-52s %-18s %6s %6s %6s %7s %6s %6s %10s %7s\n", "structure",
          "damage", "trials", "failed", "wrong", "unnamed", "chk=0", "EIO",
          "collateral", "crashed");
  for (size_t k = 0; k < class_total; k++)
    for (int d = 0; d < DAMAGES; d++) {
      const struct cell *x = &cells[k][d];
      if (x->trials == 0)
        continue;
      printf ("%-52s %-18s %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %7"
              PRIu64 " %6" PRIu64 " %6" PRIu64 " %10" PRIu64 " %7" PRIu64
              "\n", class_names[k], damage_names[d], x->trials, x->failed,
              x->wrong, x->unnamed, x->check_zero, x->eio, x->collateral,
              x->crashed);
    }
  torture_say ("seed %" PRIu64 ": %" PRIu64 " trials, %" PRIu64 " failed; "
               "%" PRIu64 " pages read wrong, %" PRIu64 " EIO pages not "
               "named by check, %" PRIu64 " trials where check exited 0 "
               "with pages lost, %" PRIu64 " crashes or hangs; %" PRIu64
               " EIO of which %" PRIu64 " collateral; %.0f s", seed,
               total_trials, failed_trials, total_wrong, total_unnamed,
               total_check_zero, total_crashed, total_eio, total_collateral,
               torture_now () - start_time);
  free (class_names);
  free (cells);
  if (failed_trials) {
    printf ("%s: FAIL\n", torture_program);
    return 1;
  }
  printf ("%s: PASS\n", torture_program);
  return 0;
}
