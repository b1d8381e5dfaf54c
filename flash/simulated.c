/* vswap: a simulated flash medium.  flash/simulated.h says what it models;
 * this file says how.
 *
 * The contents are kept XORed with the erased byte, so that an anonymous
 * mapping (zeros, and free until touched) is erased flash whatever the
 * erased byte is, and erasing is giving pages back to the kernel.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "bitmap.h"
#include "medium.h"
#include "simulated.h"

#define DEFAULT_AU (4u << 20)
#define DEFAULT_OPEN_AUS 2
#define MAX_OPEN_AUS 64
/* The time model of a cheap SD card, fitted to the ten flashbench
 * open-AU figures of its README (4 MiB AUs; 4 MiB to 256 KiB writes, two
 * and three AUs open; see simulated.h and tests/test-simulated.c, which
 * replays that benchmark). */
#define DEFAULT_REQUEST_SECONDS 0.01065
#define DEFAULT_PROGRAM_RATE (9.19 * 1048576)
#define DEFAULT_COPY_RATE (22.33 * 1048576)
#define DEFAULT_ERASE_SECONDS 0.067
/* Any fixed number: "no seed" must still replay the same faults. */
#define DEFAULT_SEED UINT64_C (0x5eed0f1a5b0a7d11)

/* One write since the last flush, as a volatile cache would hold it: the
 * bytes it replaced, so that a power cut can take it back. */
struct cached_write {
  uint64_t offset, length;
  uint8_t *before;              /* stored (XORed) bytes before the write */
  uint8_t *was_programmed;      /* one byte per unit */
  bool torn;                    /* the write the power cut tore */
};

/* An allocation unit the card keeps open: a fresh block filled up to
 * tail, in front of the AU's old block. */
struct open_au {
  int64_t au;                   /* -1: slot free */
  uint32_t tail;                /* next page in sequence */
  uint64_t used;                /* clock of the last write: LRU */
  uint64_t copied;              /* pages copied for this opening */
};

struct simulated_medium {
  struct vswap_medium medium;   /* first: the backend casts */
  pthread_mutex_t lock;

  uint8_t *data;                /* contents XOR erased */
  size_t length;                /* of the mapping, = capacity */
  uint8_t erased;               /* 0xff or 0 */
  uint64_t page_size;           /* the machine's, for madvise */
  uint32_t unit;                /* program unit */
  uint32_t block;               /* erase block */
  uint64_t units, blocks;
  uint64_t *programmed;         /* bitmap, one bit per unit */
  uint32_t *block_erases;
  uint32_t *block_programmed;   /* units programmed in each block */
  uint32_t *block_next;         /* unit after the highest programmed */
  uint8_t *block_rotten;        /* vswap_simulated_corrupt touched it */
  uint8_t *block_finished;      /* the writer said it is done with it */
  uint32_t open_blocks;         /* partly programmed, not finished */
  bool allow_overwrite, volatile_cache, read_only, trace;

  /* The SD card model.  Its pages are program units. */
  uint32_t au_pages;
  uint64_t aus;
  uint64_t *valid;              /* bitmap per page: the card holds data */
  uint32_t *au_erases;
  uint8_t *au_programmed;       /* the AU's data block needs an erase */
  struct open_au *open;
  uint32_t open_aus;
  uint64_t clock;
  struct vswap_simulated_timing timing;

  /* Faults. */
  struct vswap_simulated_faults faults;
  uint64_t operations, writes;  /* since the faults were armed */
  uint64_t flip_gap;            /* bits read before the next flip */
  uint64_t rng;
  bool power_off;
  struct cached_write *cache;
  size_t cache_count, cache_size;

  struct vswap_simulated_counters counters;
};

static const struct vswap_medium_operations simulated_operations;

static struct simulated_medium *
to_simulated (struct vswap_medium *medium)
{
  if (medium == NULL || medium->operations != &simulated_operations)
    return NULL;
  return (struct simulated_medium *) medium;
}

/* ---- small helpers ---- */

static void trace (const struct simulated_medium *s, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* With trace on, every request that changes the medium and every fault,
 * one line each on stderr: what a test needs to replay a failure. */
static void
trace (const struct simulated_medium *s, const char *fmt, ...)
{
  va_list ap;

  if (!s->trace)
    return;
  va_start (ap, fmt);
  fputs ("sim: ", stderr);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

/* splitmix64: one 64-bit state, so the seed alone replays a run. */
static uint64_t
next_random (struct simulated_medium *s)
{
  uint64_t z = (s->rng += UINT64_C (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static uint64_t
random_below (struct simulated_medium *s, uint64_t n)
{
  return n ? next_random (s) % n : 0;
}

/* Bits read cleanly before the next flip: a geometric draw, so that a
 * rate of 1e-9 costs nothing per read rather than a draw per bit. */
static uint64_t
draw_flip_gap (struct simulated_medium *s)
{
  const double rate = s->faults.bitflip_rate;
  if (rate <= 0)
    return UINT64_MAX;
  if (rate >= 1)
    return 0;
  /* u in (0, 1]: log (u) is finite. */
  const double u = 1.0 - (double) (next_random (s) >> 11) * 0x1p-53;
  const double gap = floor (log (u) / log1p (-rate));
  return gap >= 0x1p63 ? UINT64_MAX : (uint64_t) gap;
}

/* Copy between the host's bytes and the stored (XORed) ones; either way
 * is the same operation. */
static void
copy_xor (uint8_t *to, const uint8_t *from, size_t length, uint8_t x)
{
  const uint64_t wide = x * UINT64_C (0x0101010101010101);
  size_t i = 0;

  if (x == 0) {
    memcpy (to, from, length);
    return;
  }
  /* A word at a time: the byte loop is what the tests spend their time
   * in otherwise. */
  for (; i + 8 <= length; i += 8) {
    uint64_t w;
    memcpy (&w, from + i, 8);
    w ^= wide;
    memcpy (to + i, &w, 8);
  }
  for (; i < length; i++)
    to[i] = from[i] ^ x;
}

/* Make [OFFSET, +LENGTH) of the contents erased.  Whole machine pages go
 * back to the kernel (a simulated card of gigabytes must not cost that
 * much RAM once formatted); MADV_DONTNEED refuses locked pages, and then
 * clearing by hand gives the same contents. */
static void
clear_contents (struct simulated_medium *s, uint64_t offset, uint64_t length)
{
  const uint64_t page = s->page_size;
  const uint64_t start = (offset + page - 1) / page * page;
  const uint64_t end = (offset + length) / page * page;

  if (start >= end || end - start < 1024 * 1024 ||
      madvise (s->data + start, end - start, MADV_DONTNEED) == -1) {
    memset (s->data + offset, 0, length);
    return;
  }
  memset (s->data + offset, 0, start - offset);
  memset (s->data + end, 0, offset + length - end);
}

/* ---- the NAND model ---- */

/* A block is open while it is partly programmed and the writer has not
 * finished it: what a zoned device or a card counts against its limit
 * of open erase blocks. */
static bool
block_is_open (const struct simulated_medium *s, uint64_t block)
{
  return s->block_programmed[block] > 0
    && s->block_programmed[block] < s->block / s->unit
    && !s->block_finished[block];
}

/* Call after anything that may have opened or closed BLOCK. */
static void
count_open (struct simulated_medium *s, uint64_t block, bool was_open)
{
  const bool is_open = block_is_open (s, block);

  if (is_open && !was_open) {
    s->open_blocks++;
    if (s->open_blocks > s->counters.max_open_blocks)
      s->counters.max_open_blocks = s->open_blocks;
  }
  else if (!is_open && was_open)
    s->open_blocks--;
}

/* Recount a block's programmed units after a cache write-back took some
 * back: which ones is not worth tracking on the fast path. */
static void
recount_block (struct simulated_medium *s, uint64_t block)
{
  const bool was_open = block_is_open (s, block);

  const uint64_t per_block = s->block / s->unit;
  uint32_t count = 0, next = 0;

  for (uint64_t i = 0; i < per_block; i++)
    if (vswap_bitmap_get (s->programmed, block * per_block + i)) {
      count++;
      next = (uint32_t) i + 1;
    }
  s->block_programmed[block] = count;
  s->block_next[block] = next;
  count_open (s, block, was_open);
}

static void
program_unit (struct simulated_medium *s, uint64_t unit)
{
  const uint64_t per_block = s->block / s->unit;
  const uint64_t block = unit / per_block;
  const uint32_t index = (uint32_t) (unit % per_block);

  const bool was_open = block_is_open (s, block);

  if (vswap_bitmap_get (s->programmed, unit))
    return;                     /* an allowed overwrite: counted already */
  vswap_bitmap_set (s->programmed, unit, true);
  s->block_programmed[block]++;
  count_open (s, block, was_open);
  if (index < s->block_next[block])
    s->counters.out_of_order_programs++;
  else
    s->block_next[block] = index + 1;
}

static void
erase_block (struct simulated_medium *s, uint64_t block)
{
  const uint64_t per_block = s->block / s->unit;
  const bool was_open = block_is_open (s, block);

  /* Never-programmed blocks are erased already: formatting a fresh
   * medium touches no memory. */
  if (s->block_programmed[block] || s->block_rotten[block]) {
    clear_contents (s, block * s->block, s->block);
    for (uint64_t i = 0; i < per_block; i++)
      vswap_bitmap_set (s->programmed, block * per_block + i, false);
  }
  s->block_programmed[block] = 0;
  s->block_next[block] = 0;
  s->block_rotten[block] = 0;
  s->block_finished[block] = 0;
  count_open (s, block, was_open);
  s->block_erases[block]++;
  s->counters.block_erases++;
}

/* ---- the SD card model ---- */

/* The time model: the card is busy SECONDS more, for PART. */
static void
card_busy (struct simulated_medium *s, double *part, double seconds)
{
  if (!s->timing.on)
    return;
  *part += seconds;
  s->counters.card_seconds += seconds;
}

static void
card_erases (struct simulated_medium *s, uint64_t count)
{
  card_busy (s, &s->counters.card_erase_seconds,
             (double) count * s->timing.erase_seconds);
}

static uint32_t
pages_of_au (const struct simulated_medium *s, uint64_t au)
{
  const uint64_t first = au * s->au_pages;
  return (uint32_t) (s->units - first < s->au_pages ? s->units - first
                     : s->au_pages);
}

static uint64_t
count_valid (const struct simulated_medium *s, uint64_t au, uint32_t from,
             uint32_t to)
{
  uint64_t n = 0;

  for (uint64_t p = au * s->au_pages + from; p < au * s->au_pages + to; p++)
    n += vswap_bitmap_get (s->valid, p);
  return n;
}

static void
ftl_copy (struct simulated_medium *s, struct open_au *o, uint64_t pages)
{
  o->copied += pages;
  s->counters.ftl_copied_pages += pages;
  s->counters.ftl_page_programs += pages;
  card_busy (s, &s->counters.card_copy_seconds, (double) (pages * s->unit)
             / s->timing.copy_bytes_per_second);
}

/* Finish an open AU: copy what the host did not rewrite after the tail
 * into the new block, erase the old one, and the new one is the AU. */
static void
ftl_close (struct simulated_medium *s, struct open_au *o)
{
  const uint64_t au = (uint64_t) o->au;

  ftl_copy (s, o, count_valid (s, au, o->tail, pages_of_au (s, au)));
  if (o->copied)
    s->counters.ftl_au_rewrites++;
  if (s->au_programmed[au]) {
    s->au_erases[au]++;
    s->counters.ftl_erases++;
    card_erases (s, 1);
  }
  s->au_programmed[au] = 1;
  o->au = -1;
}

static struct open_au *
ftl_open (struct simulated_medium *s, uint64_t au)
{
  struct open_au *slot = NULL;

  for (uint32_t i = 0; i < s->open_aus && !slot; i++)
    if (s->open[i].au < 0)
      slot = &s->open[i];
  if (!slot) {
    slot = &s->open[0];
    for (uint32_t i = 1; i < s->open_aus; i++)
      if (s->open[i].used < slot->used)
        slot = &s->open[i];
    ftl_close (s, slot);
  }
  slot->au = (int64_t) au;
  slot->tail = 0;
  slot->copied = 0;
  s->counters.ftl_au_opens++;
  return slot;
}

static struct open_au *
ftl_find (struct simulated_medium *s, uint64_t au)
{
  for (uint32_t i = 0; i < s->open_aus; i++)
    if (s->open[i].au == (int64_t) au)
      return &s->open[i];
  return NULL;
}

/* The host wrote COUNT pages from page FIRST. */
static void
ftl_write (struct simulated_medium *s, uint64_t first, uint64_t count)
{
  while (count > 0) {
    const uint64_t au = first / s->au_pages;
    const uint32_t page = (uint32_t) (first % s->au_pages);
    const uint32_t n = (uint32_t) (count < pages_of_au (s, au) - page
                                   ? count : pages_of_au (s, au) - page);
    struct open_au *o = ftl_find (s, au);

    /* Below the tail the new block cannot take it: merge, start over. */
    if (o && page < o->tail) {
      ftl_close (s, o);
      o = NULL;
    }
    if (!o)
      o = ftl_open (s, au);
    ftl_copy (s, o, count_valid (s, au, o->tail, page));
    s->counters.ftl_page_programs += n;
    card_busy (s, &s->counters.card_program_seconds, (double) (n * s->unit)
               / s->timing.program_bytes_per_second);
    o->tail = page + n;
    o->used = ++s->clock;
    for (uint64_t p = first; p < first + n; p++)
      vswap_bitmap_set (s->valid, p, true);
    first += n;
    count -= n;
  }
}

/* The host discarded COUNT pages from page FIRST. */
static void
ftl_discard (struct simulated_medium *s, uint64_t first, uint64_t count)
{
  for (uint64_t p = first; p < first + count; p++)
    vswap_bitmap_set (s->valid, p, false);

  /* Whole AUs are erased at once, and an open one is forgotten. */
  const uint64_t end = first + count;
  for (uint64_t au = (first + s->au_pages - 1) / s->au_pages;
       au < s->aus && au * s->au_pages + pages_of_au (s, au) <= end; au++) {
    struct open_au *o = ftl_find (s, au);
    if (o) {
      s->au_erases[au]++;
      s->counters.ftl_erases++;
      card_erases (s, 1);
      o->au = -1;
    }
    if (s->au_programmed[au]) {
      s->au_erases[au]++;
      s->counters.ftl_erases++;
      card_erases (s, 1);
      s->au_programmed[au] = 0;
    }
  }
}

/* ---- the volatile write cache ---- */

static void
cache_forget (struct simulated_medium *s)
{
  for (size_t i = 0; i < s->cache_count; i++) {
    free (s->cache[i].before);
    free (s->cache[i].was_programmed);
  }
  s->cache_count = 0;
}

/* Remember what a write is about to replace.  Out of memory, the write
 * simply counts as written back: the cache is a test device. */
static void
cache_note (struct simulated_medium *s, uint64_t offset, uint64_t length,
            bool torn)
{
  const uint64_t units = length / s->unit;
  struct cached_write w = { .offset = offset, .length = length,
                            .torn = torn };

  if (s->cache_count == s->cache_size) {
    const size_t size = s->cache_size ? 2 * s->cache_size : 64;
    struct cached_write *bigger = realloc (s->cache, size * sizeof *bigger);
    if (!bigger)
      return;
    s->cache = bigger;
    s->cache_size = size;
  }
  w.before = malloc (length);
  w.was_programmed = malloc (units);
  if (!w.before || !w.was_programmed) {
    free (w.before);
    free (w.was_programmed);
    return;
  }
  memcpy (w.before, s->data + offset, length);
  for (uint64_t i = 0; i < units; i++)
    w.was_programmed[i] = vswap_bitmap_get (s->programmed,
                                            offset / s->unit + i);
  s->cache[s->cache_count++] = w;
}

/* Power is gone: each cached write lands, is lost, or is torn.  Undone
 * newest first, so that the bytes each one replaced come back in order. */
static void
cache_lose (struct simulated_medium *s)
{
  for (size_t i = s->cache_count; i-- > 0; ) {
    const struct cached_write *w = &s->cache[i];
    uint64_t keep;

    if (w->torn)
      continue;                 /* torn by the cut itself */
    switch (random_below (s, 3)) {
    case 0: keep = w->length; break;
    case 1: keep = 0; break;
    default: keep = random_below (s, w->length); break;
    }
    if (keep == w->length)
      continue;
    s->counters.cache_writes_lost++;
    trace (s, "cache: write %" PRIu64 "+%" PRIu64 " %s", w->offset,
           w->length, keep ? "torn" : "lost");
    memcpy (s->data + w->offset + keep, w->before + keep, w->length - keep);
    /* A unit with a byte that landed stays programmed. */
    const uint64_t first = w->offset / s->unit;
    for (uint64_t u = (keep + s->unit - 1) / s->unit;
         u < w->length / s->unit; u++)
      vswap_bitmap_set (s->programmed, first + u, w->was_programmed[u]);
    const uint64_t per_block = s->block / s->unit;
    for (uint64_t b = first / per_block;
         b <= (first + w->length / s->unit - 1) / per_block; b++)
      recount_block (s, b);
  }
  cache_forget (s);
}

static void
cut_power (struct simulated_medium *s)
{
  if (s->power_off)
    return;
  trace (s, "power off");
  cache_lose (s);
  s->power_off = true;
  s->counters.power_cuts++;
}

/* ---- operations ---- */

/* Every request starts here: power, then the failure countdown.  WHAT
 * names the request for the trace. */
static int
begin (struct simulated_medium *s, const char *what)
{
  if (s->power_off) {
    s->counters.injected_errors++;
    return -EIO;
  }
  if (s->faults.fail_after && ++s->operations == s->faults.fail_after) {
    trace (s, "%s: injected I/O error", what);
    s->faults.fail_after = 0;
    s->counters.injected_errors++;
    return -EIO;
  }
  return 0;
}

static void
flip_bits (struct simulated_medium *s, uint8_t *buffer, size_t length)
{
  const uint64_t bits = (uint64_t) length * 8;
  uint64_t at = 0;

  while (s->flip_gap < bits - at) {
    at += s->flip_gap;
    buffer[at / 8] ^= (uint8_t) (1u << (at % 8));
    s->counters.bitflips++;
    at++;
    s->flip_gap = draw_flip_gap (s);
  }
  if (s->flip_gap != UINT64_MAX)
    s->flip_gap -= bits - at;
}

static int
simulated_read (struct vswap_medium *medium, void *buffer, size_t length,
                uint64_t offset)
{
  struct simulated_medium *s = to_simulated (medium);
  int r;

  pthread_mutex_lock (&s->lock);
  r = begin (s, "read");
  if (r == 0) {
    copy_xor (buffer, s->data + offset, length, s->erased);
    flip_bits (s, buffer, length);
    s->counters.host_reads++;
    s->counters.host_read_bytes += length;
  }
  pthread_mutex_unlock (&s->lock);
  return r;
}

static int
simulated_write (struct vswap_medium *medium, const void *buffer,
                 size_t length, uint64_t offset)
{
  struct simulated_medium *s = to_simulated (medium);
  const uint64_t first = offset / s->unit;
  const uint64_t units = length / s->unit;
  uint64_t landed = length;
  bool torn = false;
  int r;

  if (s->read_only)
    return -EROFS;
  pthread_mutex_lock (&s->lock);
  r = begin (s, "write");
  if (r < 0)
    goto out;

  /* The store must never do this: refuse the whole write, change
   * nothing, and count it. */
  for (uint64_t u = first; u < first + units; u++)
    if (vswap_bitmap_get (s->programmed, u)) {
      if (!s->allow_overwrite) {
        s->counters.program_violations++;
        trace (s, "write %" PRIu64 "+%zu: page at %" PRIu64 " is "
               "programmed: refused", offset, length, u * s->unit);
        r = -EIO;
        goto out;
      }
      s->counters.overwrites++;
    }

  if (s->faults.power_cut_after &&
      ++s->writes == s->faults.power_cut_after) {
    torn = true;
    landed = random_below (s, s->faults.tear_within &&
                           s->faults.tear_within < length
                           ? s->faults.tear_within : length);
    s->counters.last_cut_offset = offset;
    s->counters.last_cut_length = length;
    s->counters.last_cut_landed = landed;
  }
  if (s->volatile_cache)
    cache_note (s, offset, length, torn);
  if (torn)
    trace (s, "write %" PRIu64 "+%zu: power cut after %" PRIu64 " bytes",
           offset, length, landed);
  else
    trace (s, "write %" PRIu64 "+%zu", offset, length);

  copy_xor (s->data + offset, buffer, landed, s->erased);
  const uint64_t programmed = (landed + s->unit - 1) / s->unit;
  for (uint64_t u = first; u < first + programmed; u++)
    program_unit (s, u);
  s->counters.page_programs += programmed;
  if (programmed) {
    card_busy (s, &s->counters.card_request_seconds,
               s->timing.request_seconds);
    ftl_write (s, first, programmed);
  }

  if (torn) {
    cut_power (s);
    r = -EIO;
    goto out;
  }
  s->counters.host_writes++;
  s->counters.host_write_bytes += length;
 out:
  pthread_mutex_unlock (&s->lock);
  return r;
}

static int
simulated_discard (struct vswap_medium *medium, uint64_t offset,
                   uint64_t length)
{
  struct simulated_medium *s = to_simulated (medium);
  int r;

  if (s->read_only)
    return -EROFS;
  pthread_mutex_lock (&s->lock);
  r = begin (s, "discard");
  if (r < 0)
    goto out;
  /* NAND erases whole blocks or nothing. */
  if (offset % s->block || length % s->block) {
    s->counters.discard_violations++;
    trace (s, "erase %" PRIu64 "+%" PRIu64 ": not whole erase blocks: "
           "refused", offset, length);
    r = -EINVAL;
    goto out;
  }
  /* A discard is a barrier: what the cache holds is written back, rather
   * than modelling a cache that reorders writes around erases. */
  cache_forget (s);
  trace (s, "erase %" PRIu64 "+%" PRIu64, offset, length);
  for (uint64_t b = offset / s->block; b < (offset + length) / s->block; b++)
    erase_block (s, b);
  card_busy (s, &s->counters.card_request_seconds,
             s->timing.request_seconds);
  ftl_discard (s, offset / s->unit, length / s->unit);
  s->counters.host_discards++;
  s->counters.host_discard_bytes += length;
 out:
  pthread_mutex_unlock (&s->lock);
  return r;
}

static int
simulated_flush (struct vswap_medium *medium)
{
  struct simulated_medium *s = to_simulated (medium);
  int r;

  pthread_mutex_lock (&s->lock);
  r = begin (s, "flush");
  if (r == 0) {
    cache_forget (s);
    s->counters.host_flushes++;
  }
  pthread_mutex_unlock (&s->lock);
  return r;
}

/* The writer is done with these blocks until it erases them: they stop
 * counting as open.  Like discard, whole erase blocks only. */
static int
simulated_finish (struct vswap_medium *medium, uint64_t offset,
                  uint64_t length)
{
  struct simulated_medium *s = to_simulated (medium);
  int r;

  /* Not a request the fault countdown counts (it changes no data), so
   * that fail_after numbers stay those of reads, writes, discards and
   * flushes. */
  pthread_mutex_lock (&s->lock);
  r = s->power_off ? -EIO : 0;
  if (r == 0 && (offset % s->block || length % s->block))
    r = -EINVAL;
  for (uint64_t b = offset / s->block;
       r == 0 && b < (offset + length) / s->block; b++) {
    const bool was_open = block_is_open (s, b);

    if (s->block_programmed[b] > 0)
      s->block_finished[b] = 1;
    count_open (s, b, was_open);
  }
  pthread_mutex_unlock (&s->lock);
  return r;
}

static void
simulated_free (struct simulated_medium *s)
{
  cache_forget (s);
  free (s->cache);
  if (s->data && s->data != MAP_FAILED)
    munmap (s->data, s->length);
  free (s->programmed);
  free (s->block_erases);
  free (s->block_programmed);
  free (s->block_next);
  free (s->block_rotten);
  free (s->block_finished);
  free (s->valid);
  free (s->au_erases);
  free (s->au_programmed);
  free (s->open);
  pthread_mutex_destroy (&s->lock);
  free (s);
}

static void
simulated_close (struct vswap_medium *medium)
{
  simulated_free (to_simulated (medium));
}

static const struct vswap_medium_operations simulated_operations = {
  .name = "simulated",
  .read = simulated_read,
  .write = simulated_write,
  .discard = simulated_discard,
  .flush = simulated_flush,
  .finish = simulated_finish,
  .close = simulated_close,
};

/* ---- opening ---- */

struct vswap_medium *
vswap_simulated_medium_open (const struct vswap_simulated_options *options,
                             struct vswap_error *err)
{
  static const struct vswap_medium_options no_overrides;
  struct vswap_simulated_options o = *options;
  struct simulated_medium *s;
  char name[64];

  if (o.erase_block == 0)
    o.erase_block = VSWAP_DEFAULT_ERASE_BLOCK;
  if (o.program_unit == 0)
    o.program_unit = VSWAP_DEFAULT_WRITE_UNIT;
  if (o.au == 0)
    o.au = DEFAULT_AU;
  if (o.open_aus == 0)
    o.open_aus = DEFAULT_OPEN_AUS;
  if (o.seed == 0)
    o.seed = DEFAULT_SEED;
  if (o.timing.request_seconds == 0)
    o.timing.request_seconds = DEFAULT_REQUEST_SECONDS;
  if (o.timing.program_bytes_per_second == 0)
    o.timing.program_bytes_per_second = DEFAULT_PROGRAM_RATE;
  if (o.timing.copy_bytes_per_second == 0)
    o.timing.copy_bytes_per_second = DEFAULT_COPY_RATE;
  if (o.timing.erase_seconds == 0)
    o.timing.erase_seconds = DEFAULT_ERASE_SECONDS;
  snprintf (name, sizeof name, "sim:%" PRIu64, o.size);
  if (o.size < o.erase_block) {
    vswap_error_set (err, ENOSPC,
                     "%s: %" PRIu64 " bytes is less than one erase block "
                     "(%" PRIu32 " bytes): give a larger size or a smaller "
                     "erase-block", name, o.size, o.erase_block);
    return NULL;
  }

  /* The medium has whole erase blocks only: NAND has no partial ones. */
  struct vswap_geometry geometry = {
    .write_unit = o.program_unit,
    .read_unit = o.program_unit,
    .erase_block = o.erase_block,
    .max_open_segments = o.open_aus,
    .can_discard = true,
    .discard_zeroes = o.erased_zeroes,
  };
  if (vswap_geometry_finish (&geometry, o.size - o.size % o.erase_block,
                             512, &no_overrides, name, err) < 0)
    return NULL;
  if (o.au % o.program_unit != 0) {
    vswap_error_set (err, EINVAL,
                     "%s: allocation unit %" PRIu32 " is not a multiple of "
                     "the program unit (%" PRIu32 " bytes): choose a "
                     "multiple of it", name, o.au, o.program_unit);
    return NULL;
  }
  if (o.open_aus > MAX_OPEN_AUS) {
    vswap_error_set (err, EINVAL,
                     "%s: %" PRIu32 " open allocation units is more than "
                     "the %d this model keeps: give fewer", name, o.open_aus,
                     MAX_OPEN_AUS);
    return NULL;
  }
  if (!(o.faults.bitflip_rate >= 0 && o.faults.bitflip_rate <= 1)) {
    vswap_error_set (err, EINVAL,
                     "%s: bit flip rate %g is not a probability: give a "
                     "number from 0 to 1, e.g. 1e-9", name,
                     o.faults.bitflip_rate);
    return NULL;
  }
  if (!(o.timing.request_seconds > 0 && o.timing.erase_seconds > 0 &&
        o.timing.program_bytes_per_second > 0 &&
        o.timing.copy_bytes_per_second > 0)) {
    vswap_error_set (err, EINVAL,
                     "%s: the time model needs times and rates above 0: "
                     "give e.g. time-program=9.2", name);
    return NULL;
  }
  if (geometry.capacity > SIZE_MAX) {
    vswap_error_set (err, ENOMEM,
                     "%s: too large for this machine's address space: "
                     "give a smaller size", name);
    return NULL;
  }

  s = calloc (1, sizeof *s);
  if (s == NULL) {
    vswap_error_set (err, ENOMEM, "%s: out of memory", name);
    return NULL;
  }
  pthread_mutex_init (&s->lock, NULL);
  s->length = geometry.capacity;
  s->erased = o.erased_zeroes ? 0 : 0xff;
  s->page_size = (uint64_t) sysconf (_SC_PAGESIZE);
  s->unit = o.program_unit;
  s->block = o.erase_block;
  s->units = geometry.capacity / s->unit;
  s->blocks = geometry.capacity / s->block;
  s->allow_overwrite = o.allow_overwrite;
  s->volatile_cache = o.volatile_cache;
  s->read_only = o.read_only;
  s->trace = o.trace;
  s->au_pages = o.au / o.program_unit;
  s->aus = (s->units + s->au_pages - 1) / s->au_pages;
  s->open_aus = o.open_aus;
  s->timing = o.timing;
  s->rng = o.seed;
  s->faults = o.faults;
  s->flip_gap = draw_flip_gap (s);

  s->data = mmap (NULL, s->length, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  s->programmed = calloc ((s->units + 63) / 64, sizeof (uint64_t));
  s->block_erases = calloc (s->blocks, sizeof (uint32_t));
  s->block_programmed = calloc (s->blocks, sizeof (uint32_t));
  s->block_next = calloc (s->blocks, sizeof (uint32_t));
  s->block_rotten = calloc (s->blocks, 1);
  s->block_finished = calloc (s->blocks, 1);
  s->valid = calloc ((s->units + 63) / 64, sizeof (uint64_t));
  s->au_erases = calloc (s->aus, sizeof (uint32_t));
  s->au_programmed = calloc (s->aus, 1);
  s->open = calloc (s->open_aus, sizeof *s->open);
  if (s->data == MAP_FAILED || !s->programmed || !s->block_erases ||
      !s->block_programmed || !s->block_next || !s->block_rotten ||
      !s->block_finished ||
      !s->valid || !s->au_erases || !s->au_programmed || !s->open) {
    vswap_error_set (err, ENOMEM, "%s: out of memory for %" PRIu64
                     " bytes: give a smaller size", name, geometry.capacity);
    simulated_free (s);
    return NULL;
  }
  for (uint32_t i = 0; i < s->open_aus; i++)
    s->open[i].au = -1;

  s->medium.operations = &simulated_operations;
  s->medium.geometry = geometry;
  snprintf (s->medium.description, sizeof s->medium.description,
            "%s (simulated NAND: %" PRIu32 "-byte erase blocks, %" PRIu32
            "-byte pages; card: %" PRIu32 "-byte AUs, %" PRIu32 " open%s%s%s)",
            name, s->block, s->unit, o.au, o.open_aus,
            s->timing.on ? "; timed" : "",
            s->volatile_cache ? "; volatile cache" : "",
            s->read_only ? "; read-only" : "");
  return &s->medium;
}

/* ---- the spec ---- */

static int
parse_number (const char *text, uint64_t *value)
{
  char *end;

  if (text[0] < '0' || text[0] > '9')
    return -EINVAL;
  errno = 0;
  *value = strtoull (text, &end, 0);
  return errno || *end != '\0' ? -EINVAL : 0;
}

static int
parse_u32_size (const char *text, uint32_t *value)
{
  uint64_t bytes;

  if (vswap_parse_size (text, &bytes) < 0 || bytes == 0 ||
      bytes > UINT32_MAX)
    return -EINVAL;
  *value = (uint32_t) bytes;
  return 0;
}

static int
parse_switch (const char *text, const char *on, const char *off,
              bool *value)
{
  if (strcmp (text, on) == 0)
    *value = true;
  else if (strcmp (text, off) == 0)
    *value = false;
  else
    return -EINVAL;
  return 0;
}

/* A time-model figure: a decimal above 0 (0 is "the default"), scaled
 * by SCALE.  Any time-* key turns the model on. */
static int
parse_timing (const char *text, double scale, double *value,
              struct vswap_simulated_options *o)
{
  char *end;

  errno = 0;
  const double v = strtod (text, &end);
  if (errno || end == text || *end != '\0' || !(v > 0) || v > 1e9)
    return -EINVAL;
  *value = v * scale;
  o->timing.on = true;
  return 0;
}

static int
parse_key (const char *key, const char *value,
           struct vswap_simulated_options *o)
{
  uint64_t n;

  if (strcmp (key, "erase-block") == 0)
    return parse_u32_size (value, &o->erase_block);
  if (strcmp (key, "program-unit") == 0)
    return parse_u32_size (value, &o->program_unit);
  if (strcmp (key, "au") == 0)
    return parse_u32_size (value, &o->au);
  if (strcmp (key, "open-aus") == 0) {
    if (parse_number (value, &n) < 0 || n == 0 || n > MAX_OPEN_AUS)
      return -EINVAL;
    o->open_aus = (uint32_t) n;
    return 0;
  }
  if (strcmp (key, "fail-after") == 0)
    return parse_number (value, &o->faults.fail_after);
  if (strcmp (key, "power-cut-after") == 0)
    return parse_number (value, &o->faults.power_cut_after);
  if (strcmp (key, "tear-within") == 0)
    return parse_number (value, &o->faults.tear_within);
  if (strcmp (key, "seed") == 0)
    return parse_number (value, &o->seed);
  if (strcmp (key, "bitflip-rate") == 0) {
    char *end;
    errno = 0;
    const double rate = strtod (value, &end);
    if (errno || end == value || *end != '\0' || !(rate >= 0 && rate <= 1))
      return -EINVAL;
    o->faults.bitflip_rate = rate;
    return 0;
  }
  if (strcmp (key, "erased") == 0) {
    if (strcmp (value, "ff") == 0 || strcmp (value, "0xff") == 0)
      o->erased_zeroes = false;
    else if (strcmp (value, "00") == 0 || strcmp (value, "0") == 0)
      o->erased_zeroes = true;
    else
      return -EINVAL;
    return 0;
  }
  if (strcmp (key, "overwrite") == 0)
    return parse_switch (value, "on", "off", &o->allow_overwrite);
  if (strcmp (key, "cache") == 0)
    return parse_switch (value, "volatile", "off", &o->volatile_cache);
  if (strcmp (key, "trace") == 0)
    return parse_switch (value, "on", "off", &o->trace);
  if (strcmp (key, "time") == 0)
    return parse_switch (value, "on", "off", &o->timing.on);
  if (strcmp (key, "time-request") == 0)
    return parse_timing (value, 1e-3, &o->timing.request_seconds, o);
  if (strcmp (key, "time-erase") == 0)
    return parse_timing (value, 1e-3, &o->timing.erase_seconds, o);
  if (strcmp (key, "time-program") == 0)
    return parse_timing (value, 1048576, &o->timing.program_bytes_per_second,
                         o);
  if (strcmp (key, "time-copy") == 0)
    return parse_timing (value, 1048576, &o->timing.copy_bytes_per_second, o);
  return -ENOENT;
}

int
vswap_simulated_parse (const char *text,
                       struct vswap_simulated_options *options,
                       struct vswap_error *err)
{
  static const char keys[] =
    "erase-block, program-unit, au, open-aus, fail-after, power-cut-after, "
    "tear-within, bitflip-rate, seed, erased (ff|00), overwrite (on|off), "
    "cache (off|volatile), trace (on|off), time (on|off), time-request "
    "(ms), time-program (MiB/s), time-copy (MiB/s), time-erase (ms)";
  struct vswap_simulated_options o = *options;
  char *copy = strdup (text ? text : "");
  char *rest = copy;
  int r = 0;

  if (!copy)
    return vswap_error_set (err, ENOMEM, "out of memory");
  /* strsep, not strtok: "64M,,au=1M" and a trailing comma are mistakes
   * worth naming, not empty items to skip. */
  char *item = strsep (&rest, ",");
  if (vswap_parse_size (item, &o.size) < 0 || o.size == 0) {
    r = vswap_error_set (err, EINVAL,
                         "sim:%s: bad size \"%s\": write sim:SIZE[,KEY=VALUE"
                         "...] with SIZE like 64M or 1G", text, item);
    goto out;
  }
  while ((item = strsep (&rest, ",")) != NULL) {
    char *value = strchr (item, '=');
    if (value == NULL) {
      r = vswap_error_set (err, EINVAL,
                           "sim:%s: \"%s\" is not KEY=VALUE (keys: %s)",
                           text, item, keys);
      goto out;
    }
    *value++ = '\0';
    r = parse_key (item, value, &o);
    if (r == -ENOENT) {
      r = vswap_error_set (err, EINVAL, "sim:%s: unknown key \"%s\": the "
                           "keys are %s", text, item, keys);
      goto out;
    }
    if (r < 0) {
      r = vswap_error_set (err, EINVAL, "sim:%s: bad value \"%s\" for %s: "
                           "sizes are like 4K or 4M, counts and seeds whole "
                           "numbers, the bit flip rate a probability like "
                           "1e-9, times in ms and rates in MiB/s like 10.6 "
                           "or 9.2", text, value, item);
      goto out;
    }
  }
  *options = o;
 out:
  free (copy);
  return r;
}

struct vswap_medium *
vswap_simulated_medium_open_spec (const char *text,
                                  const struct vswap_medium_options *options,
                                  struct vswap_error *err)
{
  struct vswap_simulated_options o = {
    .erase_block = options->erase_block,
    .program_unit = options->write_unit,
    .read_only = options->read_only,
  };

  if (vswap_simulated_parse (text, &o, err) < 0)
    return NULL;
  return vswap_simulated_medium_open (&o, err);
}

/* ---- for tests ---- */

int
vswap_simulated_counters (struct vswap_medium *medium,
                          struct vswap_simulated_counters *counters)
{
  struct simulated_medium *s = to_simulated (medium);
  uint64_t sum = 0;

  if (!s)
    return -EINVAL;
  pthread_mutex_lock (&s->lock);
  *counters = s->counters;
  counters->power_off = s->power_off;
  for (uint64_t b = 0; b < s->blocks; b++) {
    sum += s->block_erases[b];
    if (s->block_erases[b] > counters->max_block_erases)
      counters->max_block_erases = s->block_erases[b];
  }
  counters->mean_block_erases = (double) sum / s->blocks;
  sum = 0;
  for (uint64_t a = 0; a < s->aus; a++) {
    sum += s->au_erases[a];
    if (s->au_erases[a] > counters->ftl_max_au_erases)
      counters->ftl_max_au_erases = s->au_erases[a];
  }
  counters->ftl_mean_au_erases = (double) sum / s->aus;
  pthread_mutex_unlock (&s->lock);
  return 0;
}

int
vswap_simulated_set_faults (struct vswap_medium *medium,
                            const struct vswap_simulated_faults *faults)
{
  struct simulated_medium *s = to_simulated (medium);

  if (!s || !(faults->bitflip_rate >= 0 && faults->bitflip_rate <= 1))
    return -EINVAL;
  pthread_mutex_lock (&s->lock);
  s->faults = *faults;
  s->operations = s->writes = 0;
  s->flip_gap = draw_flip_gap (s);
  pthread_mutex_unlock (&s->lock);
  return 0;
}

int
vswap_simulated_power_cut (struct vswap_medium *medium)
{
  struct simulated_medium *s = to_simulated (medium);

  if (!s)
    return -EINVAL;
  pthread_mutex_lock (&s->lock);
  cut_power (s);
  pthread_mutex_unlock (&s->lock);
  return 0;
}

int
vswap_simulated_restore_power (struct vswap_medium *medium)
{
  struct simulated_medium *s = to_simulated (medium);

  if (!s)
    return -EINVAL;
  pthread_mutex_lock (&s->lock);
  trace (s, "power on");
  s->power_off = false;
  s->faults.fail_after = 0;
  s->faults.power_cut_after = 0;
  s->operations = s->writes = 0;
  pthread_mutex_unlock (&s->lock);
  return 0;
}

int
vswap_simulated_corrupt (struct vswap_medium *medium, uint64_t offset,
                         unsigned bit)
{
  struct simulated_medium *s = to_simulated (medium);

  if (!s || offset >= s->length || bit > 7)
    return -EINVAL;
  pthread_mutex_lock (&s->lock);
  s->data[offset] ^= (uint8_t) (1u << bit);
  s->block_rotten[offset / s->block] = 1;
  pthread_mutex_unlock (&s->lock);
  return 0;
}
