/* vswap: the store across power cuts, bit flips and I/O errors, on the
 * simulated flash medium (flash/simulated.h).
 *
 * Each iteration formats a small simulated card, runs a seeded random
 * workload through the core API (writes of random, zero, same-filled and
 * compressible pages, aligned or not, trims, write-zeroes, reads, flushes,
 * FUA, clean reopens) and cuts the power at the Nth write to the medium,
 * which is torn at a random byte.  Power comes back, the store is opened
 * again, and every page must read as the version it had at its last flush
 * or as one written since, never anything else.  A read may fail with EIO
 * only for a page written since its last flush (its torn record may have
 * replaced it); a flushed page must read.  The store then works on: more
 * random operations, a clean close, a reopen, exact comparison.  The
 * medium must never have been asked to program a page twice without an
 * erase, nor to erase part of a block, and must have erased at least what
 * the store says it erased.
 *
 * Random variants: a volatile write cache (unflushed writes lost in any
 * order), one-shot I/O errors, cuts in the first writes after a clean
 * reopen, a card kept full by random pages and almost no flushes, and bit
 * flips on read.  Focused cases place one fault by hand
 * where the random ones found trouble: a torn chunk header at the start
 * of a segment or after a resumed one, a torn last chunk of a segment, an
 * open that fails half way, a read error under a partial write, a failed
 * erase, rot in a chunk header or in the tail a crash left.  Cases the
 * core still fails are listed in main and run with
 * VSWAP_POWER_CUT_KNOWN_GAPS=1.
 *
 * VSWAP_POWER_CUT_ITERATIONS sets the iterations of the power cut case
 * (default 200; the other cases run 3/10 of that), VSWAP_POWER_CUT_SEED the
 * base seed, VSWAP_POWER_CUT_ONLY=I runs iteration I alone and tells what
 * it does (with VSWAP_POWER_CUT_TRACE=1, every write and erase too).  A
 * failure names the case, iteration, seed and cut point; CK_RUN_CASE picks
 * a case.  VSWAP_POWER_CUT_FLIP_RATE sets the bit flip rate of the flip
 * cases, and VSWAP_POWER_CUT_STRICT_FLIPS=1 fails them when a transient
 * flip leaves lasting damage.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <xxhash.h>

#include "medium.h"
#include "simulated.h"
#include "store.h"

#define PAGE 4096
#define CANDIDATES 32
#define MAX_REPORTS 40

/* A medium and store layout to run on. */
struct layout {
  const char *name;
  uint32_t erase_block;         /* = segment size */
  uint32_t program_unit;
  uint32_t open_segments;
  bool compress;
  bool erased_zeroes;
};

static const struct layout layouts[] = {
  { "128K/2heads/zstd", 128 * 1024, 4096, 2, true, false },
  { "128K/1head/raw", 128 * 1024, 4096, 1, false, false },
  { "64K/2heads/zstd/erased-zeroes", 64 * 1024, 4096, 2, true, true },
  { "256K/16Kpages/2heads/raw", 256 * 1024, 16384, 2, false, false },
};
#define LAYOUTS (sizeof layouts / sizeof layouts[0])

#define MEDIUM_SIZE (6 * 1024 * 1024)
#define LOGICAL_SIZE (3 * 1024 * 1024)

enum variant {
  POWER_CUT,                    /* torn write, then power off */
  VOLATILE_CACHE,               /* same, and unflushed writes lost */
  FAIL_ONCE,                    /* one operation fails with EIO */
  REOPEN_CUT,                   /* a cut in the first writes after a
                                   clean reopen, torn near their start */
  FULL_CARD,                    /* a power cut on a card that random pages
                                   and almost no flushes or trims keep
                                   full to its last segment */
};

static const char *const variant_names[] = {
  "power cut", "volatile cache", "one I/O error", "cut after reopen",
  "full card",
};

/* Everything one iteration knows. */
struct run {
  enum variant variant;
  const struct layout *layout;
  unsigned iteration;
  uint64_t seed;
  uint64_t fault_at;            /* cut or fail at this medium operation */
  bool verbose;
  bool failed;                  /* something was reported */

  struct vswap_medium *medium;
  struct vswap_store *store;
  uint64_t logical_size;
  uint64_t pages;
  uint8_t *current;             /* what each page must read now */
  uint64_t *durable;            /* hash of each page at its last flush */
  uint64_t *previous;           /* and at the flush before that changed it */
  uint8_t *count;               /* versions written since the last flush */
  uint64_t *candidates;         /* pages × CANDIDATES */
  uint8_t *buffer, *page;
  uint64_t rng;
  uint64_t store_erases;        /* segments_erased over every open */
  uint64_t format_erases;
  uint64_t zero_hash;

  /* The last request, for when it fails. */
  uint64_t last_offset, last_length;
  bool last_changes;

  /* What happened, for the summary. */
  uint64_t operations, medium_writes_before_fault;
  bool fault_in_write;          /* the cut tore a write (not between ops) */
  bool gc_before_fault;
};

/* Totals over a case. */
struct tally {
  unsigned iterations, failed_iterations;
  unsigned torn_writes, cuts_between, gc_before_cut, injected;
  uint64_t pages_checked, eio_unflushed, newer_versions, rolled_back;
  uint64_t program_violations;
  unsigned reports;
};

static struct tally tally;

static void report (struct run *t, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* A failure: say everything needed to replay it, and go on so that one
 * run shows how widespread a problem is. */
static void
report (struct run *t, const char *fmt, ...)
{
  va_list ap;
  struct vswap_simulated_counters c = { 0 };

  t->failed = true;
  if (tally.reports++ >= MAX_REPORTS)
    return;
  if (t->medium)
    vswap_simulated_counters (t->medium, &c);
  fprintf (stderr, "FAIL [%s, %s, iteration %u, VSWAP_POWER_CUT_ONLY=%u, "
           "seed %#" PRIx64 ", fault at medium operation %" PRIu64 " of "
           "its kind; torn write %" PRIu64 "+%" PRIu64 " landed %" PRIu64
           "; medium so far: %" PRIu64 " program violations, %" PRIu64
           " cached writes lost]: ", variant_names[t->variant],
           t->layout->name, t->iteration, t->iteration, t->seed, t->fault_at,
           c.last_cut_offset, c.last_cut_length, c.last_cut_landed,
           c.program_violations, c.cache_writes_lost);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

static uint64_t
next (struct run *t)
{
  t->rng ^= t->rng >> 12;
  t->rng ^= t->rng << 25;
  t->rng ^= t->rng >> 27;
  return t->rng * UINT64_C (2685821657736338717);
}

static uint64_t
below (struct run *t, uint64_t n)
{
  return next (t) % n;
}

static uint64_t
hash (const uint8_t *page)
{
  return XXH3_64bits (page, PAGE);
}

static bool
is_zero (const uint8_t *p)
{
  for (size_t i = 0; i < PAGE; i++)
    if (p[i])
      return false;
  return true;
}

/* Data as swap sees it. */
static void
fill (struct run *t, uint8_t *out, size_t length)
{
  const unsigned kind = t->variant == FULL_CARD ? 0 : below (t, 100);

  if (kind < 40) {
    for (size_t i = 0; i < length; i += 8) {
      const uint64_t v = next (t);
      memcpy (out + i, &v, length - i < 8 ? length - i : 8);
    }
  }
  else if (kind < 55)
    memset (out, 0, length);
  else if (kind < 65) {
    const uint64_t pattern = below (t, 3) ? next (t) | 1 : UINT64_MAX;
    for (size_t i = 0; i < length; i++)
      out[i] = ((const uint8_t *) &pattern)[i % 8];
  }
  else {
    memset (out, 0, length);
    for (size_t i = 0; i + 8 <= length; i += 8)
      if (below (t, 4) == 0) {
        const uint64_t v = below (t, 1000);
        memcpy (out + i, &v, 8);
      }
  }
}

/* ---- the reference ---- */

/* PAGE will hold VERSION if the request now being made lands. */
static void
note (struct run *t, uint64_t page, const uint8_t *version)
{
  uint8_t *n = &t->count[page];
  const uint64_t h = hash (version);

  if (*n < CANDIDATES)
    t->candidates[page * CANDIDATES + (*n)++] = h;
  else
    t->candidates[page * CANDIDATES + CANDIDATES - 1] = h;
}

/* The bytes [OFFSET, +LENGTH) will be DATA (zeros when NULL): note the new
 * version of every page touched. */
static void
note_range (struct run *t, uint64_t offset, uint64_t length,
            const uint8_t *data)
{
  for (uint64_t p = offset / PAGE; p * PAGE < offset + length; p++) {
    const uint64_t start = p * PAGE > offset ? p * PAGE : offset;
    const uint64_t end = (p + 1) * PAGE < offset + length ? (p + 1) * PAGE
      : offset + length;
    memcpy (t->page, t->current + p * PAGE, PAGE);
    if (data)
      memcpy (t->page + (start - p * PAGE), data + (start - offset),
              end - start);
    else
      memset (t->page + (start - p * PAGE), 0, end - start);
    note (t, p, t->page);
  }
}

static void
apply (struct run *t, uint64_t offset, uint64_t length, const uint8_t *data)
{
  if (data)
    memcpy (t->current + offset, data, length);
  else
    memset (t->current + offset, 0, length);
}

static void
flushed (struct run *t)
{
  for (uint64_t p = 0; p < t->pages; p++)
    if (t->count[p]) {
      const uint64_t h = hash (t->current + p * PAGE);
      if (h != t->durable[p])
        t->previous[p] = t->durable[p];
      t->durable[p] = h;
      t->count[p] = 0;
    }
}

/* ---- the store ---- */

static void
print_recovery (void *opaque, const char *message)
{
  printf ("  recovery: %s\n", message);
}

static bool
open_store (struct run *t, const char *when)
{
  struct vswap_error err = { "" };
  const struct vswap_open_options o = {
    .readtrim = VSWAP_READTRIM_HINT,
    .io_contexts = 2,
    .report = t->verbose ? print_recovery : NULL,
  };

  t->store = vswap_store_open (t->medium, &o, &err);
  /* A one-shot error may fail recovery's reads: that open may fail, the
   * next must not. */
  if (!t->store && t->variant == FAIL_ONCE) {
    if (t->verbose)
      printf ("  open fails (%s): again\n", err.message);
    t->store = vswap_store_open (t->medium, &o, &err);
  }
  if (!t->store)
    report (t, "%s: the store does not open: %s", when, err.message);
  return t->store != NULL;
}

/* Count what this open erased, then drop the store as a crash would. */
static void
lose_store (struct run *t, bool clean)
{
  struct vswap_statistics st;

  if (!t->store)
    return;
  vswap_store_statistics (t->store, &st);
  t->store_erases += st.segments_erased;
  if (st.gc_runs)
    t->gc_before_fault = true;
  if (clean) {
    const int r = vswap_store_close (t->store);
    if (r < 0)
      report (t, "clean close: %s", strerror (-r));
  }
  else
    vswap_store_abandon (t->store);
  t->store = NULL;
}

/* One random request.  Returns its result; a failure leaves the
 * reference as it was, with the failed request's versions noted. */
static int
operation (struct run *t)
{
  const unsigned op = below (t, 1000);
  uint64_t offset, length;
  int r;

  if (below (t, 10) < 8) {
    offset = below (t, t->pages) * PAGE;
    length = (1 + below (t, 8)) * PAGE;
  }
  else {
    offset = below (t, t->pages * PAGE);
    length = 1 + below (t, 2 * PAGE);
  }
  if (offset + length > t->pages * PAGE)
    length = t->pages * PAGE - offset;

  t->operations++;
  t->last_offset = offset;
  t->last_length = length;
  t->last_changes = op < 560 || (op >= 680 && op < 840);
  if (op < 560) {
    const bool fua = below (t, 40) == 0 && t->variant != FULL_CARD;
    for (uint64_t done = 0; done < length; done += PAGE)
      fill (t, t->buffer + done, length - done < PAGE ? length - done : PAGE);
    note_range (t, offset, length, t->buffer);
    r = vswap_store_write (t->store, t->buffer, length, offset, fua);
    if (r == 0) {
      apply (t, offset, length, t->buffer);
      if (fua)
        flushed (t);
    }
    return r;
  }
  if (op < 680) {
    r = vswap_store_read (t->store, t->buffer, length, offset);
    if (r == 0 && memcmp (t->buffer, t->current + offset, length) != 0)
      report (t, "a read of %" PRIu64 "+%" PRIu64 " (operation %" PRIu64
              ") differs from what was written", offset, length,
              t->operations);
    return r;
  }
  /* A full card: trims 2 times in 1000, flushes once, never reopens. */
  if (t->variant == FULL_CARD && op >= 682 && op != 840)
    return 0;
  if (op < 840) {
    note_range (t, offset, length, NULL);
    r = op < 780 ? vswap_store_trim (t->store, length, offset, false)
      : vswap_store_zero (t->store, length, offset, false);
    if (r == 0)
      apply (t, offset, length, NULL);
    return r;
  }
  if (op < 997) {
    r = vswap_store_flush (t->store);
    if (r == 0)
      flushed (t);
    return r;
  }
  /* A clean close and open: the next open appends to the old heads. */
  struct vswap_statistics st;
  vswap_store_statistics (t->store, &st);
  t->store_erases += st.segments_erased;
  if (st.gc_runs)
    t->gc_before_fault = true;
  r = vswap_store_close (t->store);
  t->store = NULL;
  if (r < 0)
    return r;
  flushed (t);
  return open_store (t, "clean reopen") ? 0 : -EIO;
}

/* A write, trim or zero failed but the store goes on: each page it
 * touched may hold its old or its new version, and what it reads now is
 * what it must read from now on. */
static bool
settle (struct run *t)
{
  for (uint64_t p = t->last_offset / PAGE;
       p * PAGE < t->last_offset + t->last_length; p++) {
    const int r = vswap_store_read (t->store, t->page, PAGE, p * PAGE);
    if (r < 0) {
      report (t, "page %" PRIu64 " fails after a failed write to it: %s",
              p, strerror (-r));
      return false;
    }
    const uint64_t h = hash (t->page);
    bool legit = h == hash (t->current + p * PAGE);
    for (unsigned i = 0; !legit && i < t->count[p]; i++)
      legit = h == t->candidates[p * CANDIDATES + i];
    if (!legit) {
      report (t, "page %" PRIu64 " holds neither its old nor its new "
              "version after a failed write to it", p);
      return false;
    }
    memcpy (t->current + p * PAGE, t->page, PAGE);
  }
  return true;
}

/* Every page must read as its flushed version or a later one.  What it
 * reads becomes the reference; a page that fails is trimmed, so that the
 * store can go on. */
static bool
verify_after_fault (struct run *t)
{
  bool ok = true;

  for (uint64_t p = 0; p < t->pages; p++) {
    const int r = vswap_store_read (t->store, t->page, PAGE, p * PAGE);
    tally.pages_checked++;
    if (r == -EIO) {
      if (t->count[p] == 0) {
        report (t, "page %" PRIu64 " was flushed and not written since, "
                "but reads EIO", p);
        ok = false;
      }
      else
        tally.eio_unflushed++;
      int tr = vswap_store_trim (t->store, PAGE, p * PAGE, false);
      if (tr < 0) {
        report (t, "trimming damaged page %" PRIu64 ": %s", p,
                strerror (-tr));
        return false;
      }
      memset (t->current + p * PAGE, 0, PAGE);
      continue;
    }
    if (r < 0) {
      report (t, "page %" PRIu64 ": read fails: %s", p, strerror (-r));
      return false;
    }
    const uint64_t h = hash (t->page);
    bool legit = h == t->durable[p];
    for (unsigned i = 0; !legit && i < t->count[p]; i++)
      legit = h == t->candidates[p * CANDIDATES + i];
    if (!legit) {
      report (t, "page %" PRIu64 " reads data it never legitimately had "
              "(%s; the flushed version is %s, %u version(s) written since "
              "the flush): the data read %s", p,
              is_zero (t->page) ? "zeros" : "not zeros",
              t->durable[p] == t->zero_hash ? "zeros" : "not zeros",
              t->count[p],
              h == t->previous[p] ? "is the version before the last flush "
              "(rolled back)" : "matches no version noted");
      ok = false;
    }
    else if (t->count[p] && h != t->durable[p])
      tally.newer_versions++;
    else if (t->count[p])
      tally.rolled_back++;
    memcpy (t->current + p * PAGE, t->page, PAGE);
  }
  /* What was read is the state now. */
  for (uint64_t p = 0; p < t->pages; p++)
    t->count[p] = 1;
  flushed (t);
  return ok;
}

static bool
verify_exact (struct run *t, const char *when)
{
  for (uint64_t p = 0; p < t->pages; p++) {
    const int r = vswap_store_read (t->store, t->page, PAGE, p * PAGE);
    if (r < 0) {
      report (t, "%s: page %" PRIu64 ": %s", when, p, strerror (-r));
      return false;
    }
    if (memcmp (t->page, t->current + p * PAGE, PAGE) != 0) {
      report (t, "%s: page %" PRIu64 " differs from what was written",
              when, p);
      return false;
    }
  }
  return true;
}

static bool
check_medium (struct run *t, const char *when)
{
  struct vswap_simulated_counters c;

  vswap_simulated_counters (t->medium, &c);
  tally.program_violations += c.program_violations;
  if (c.program_violations || c.discard_violations ||
      c.out_of_order_programs) {
    report (t, "%s: the store broke NAND's rules: %" PRIu64 " pages "
            "programmed twice without an erase, %" PRIu64 " partial-block "
            "erases, %" PRIu64 " pages programmed out of order", when,
            c.program_violations, c.discard_violations,
            c.out_of_order_programs);
    return false;
  }
  /* Every erase the store counted reached the medium.  The medium may
   * have seen more: a clean close appends a record, which may collect a
   * segment after the store's counters were last read. */
  if (t->variant != FAIL_ONCE &&
      c.block_erases < t->format_erases + t->store_erases) {
    report (t, "%s: the medium erased %" PRIu64 " blocks, but format "
            "erased %" PRIu64 " and the store reports %" PRIu64, when,
            c.block_erases, t->format_erases, t->store_erases);
    return false;
  }
  return true;
}

static void
run_iteration (enum variant variant, unsigned iteration, uint64_t base_seed,
               bool verbose)
{
  /* 1 MiB erase blocks, as on SD cards: with few flushes, GC's copies
   * go out in writes of up to a whole segment, one of which the cut
   * tears (the first write into the last free segment, now and then). */
  static const struct layout full_card = {
    "1M/2heads/zstd/full", 1024 * 1024, 4096, 2, true, false
  };
  const struct layout *layout = variant == FULL_CARD ? &full_card
    : &layouts[iteration % LAYOUTS];
  const uint64_t medium_size = variant == FULL_CARD ? 20 * 1024 * 1024
    : MEDIUM_SIZE;
  struct run t = {
    .variant = variant,
    .layout = layout,
    .iteration = iteration,
    .seed = base_seed + iteration * UINT64_C (0x9e3779b97f4a7c15),
    .verbose = verbose,
    .logical_size = variant == FULL_CARD ? 12 * 1024 * 1024 : LOGICAL_SIZE,
  };
  struct vswap_error err = { "" };
  bool ok = false;

  t.rng = t.seed | 1;
  /* Most cuts land while the store fills up; some once GC is busy. */
  t.fault_at = 1 + (below (&t, 4) ? below (&t, 300) : below (&t, 1500));
  if (variant == FULL_CARD)
    t.fault_at = 1 + below (&t, 1000);

  const struct vswap_simulated_options so = {
    .size = medium_size,
    .erase_block = layout->erase_block,
    .program_unit = layout->program_unit,
    .au = layout->erase_block,
    .open_aus = 2,
    .erased_zeroes = layout->erased_zeroes,
    .volatile_cache = variant == VOLATILE_CACHE,
    .trace = verbose && getenv ("VSWAP_POWER_CUT_TRACE"),
    .seed = t.seed,
  };
  t.medium = vswap_simulated_medium_open (&so, &err);
  ck_assert_msg (t.medium != NULL, "%s", err.message);
  const struct vswap_format_options fo = {
    .logical_size = t.logical_size,
    .segment_size = layout->erase_block,
    .open_segments = layout->open_segments,
    .compression = layout->compress ? VSWAP_COMPRESS_ZSTD
      : VSWAP_COMPRESS_NONE,
    .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (t.medium, &fo, NULL, NULL, &err) == 0,
                 "format: %s", err.message);
  struct vswap_simulated_counters c;
  vswap_simulated_counters (t.medium, &c);
  t.format_erases = c.block_erases;

  t.pages = t.logical_size / PAGE;
  t.current = calloc (t.pages, PAGE);
  t.durable = calloc (t.pages, sizeof *t.durable);
  t.previous = calloc (t.pages, sizeof *t.previous);
  t.count = calloc (t.pages, 1);
  t.candidates = calloc (t.pages * CANDIDATES, sizeof *t.candidates);
  t.buffer = malloc (8 * PAGE + 2 * PAGE);
  t.page = malloc (PAGE);
  ck_assert (t.current && t.durable && t.previous && t.count &&
             t.candidates && t.buffer && t.page);
  t.zero_hash = hash (t.current);
  for (uint64_t p = 0; p < t.pages; p++)
    t.durable[p] = t.previous[p] = t.zero_hash;

  if (!open_store (&t, "after format"))
    goto out;

  /* Arm the fault and run until it strikes.  Every fourth round of the
   * layouts tears writes in their first bytes, where the chunk header
   * is: the hardest tear for recovery to tell from an erased page. */
  struct vswap_simulated_faults faults = { 0 };
  if (variant == FAIL_ONCE)
    faults.fail_after = t.fault_at;
  else
    faults.power_cut_after = t.fault_at;
  if ((iteration / LAYOUTS) % 4 == 3)
    faults.tear_within = 128;
  if (variant == REOPEN_CUT) {
    /* Work a while, close cleanly, open (the heads resume their
     * segments), and cut in the first few writes. */
    const uint64_t warm_up = below (&t, 1500);
    for (uint64_t i = 0; i < warm_up; i++)
      if (operation (&t) < 0) {
        report (&t, "operation %" PRIu64 " fails before any fault", i);
        goto out;
      }
    lose_store (&t, true);
    flushed (&t);
    if (!open_store (&t, "clean reopen before the cut"))
      goto out;
    t.fault_at = 1 + below (&t, 3);
    faults.power_cut_after = t.fault_at;
    faults.tear_within = 128;
  }
  vswap_simulated_set_faults (t.medium, &faults);
  vswap_simulated_counters (t.medium, &c);
  const uint64_t writes_before = c.host_writes;
  unsigned after_error = 0;
  int r = 0;
  const unsigned operations = variant == FULL_CARD ? 20000 : 4000;
  for (unsigned i = 0; i < operations && r == 0; i++) {
    r = operation (&t);
    if (r < 0 && verbose)
      printf ("  operation %" PRIu64 " (%s %" PRIu64 "+%" PRIu64 ") fails: "
              "%s\n", t.operations, t.last_changes ? "a change" : "not a "
              "change", t.last_offset, t.last_length, strerror (-r));
    if (variant == FAIL_ONCE && (r < 0 || after_error)) {
      /* Only a failed medium write makes the store refuse writes (a
       * zero-length write tells); after a failed read or flush it goes
       * on, for a while, before the crash. */
      if (r < 0 && t.store &&
          vswap_store_write (t.store, t.buffer, 0, 0, false) == 0) {
        if (t.last_changes && !settle (&t))
          goto out;
        r = 0;
      }
      if (r == 0 && ++after_error > 200)
        break;
    }
  }
  vswap_simulated_counters (t.medium, &c);
  t.medium_writes_before_fault = c.host_writes - writes_before;
  t.fault_in_write = c.power_cuts > 0;
  if (variant == FAIL_ONCE)
    tally.injected += c.injected_errors > 0;
  else if (t.fault_in_write)
    tally.torn_writes++;
  else {
    /* The workload ended first: cut between requests. */
    vswap_simulated_power_cut (t.medium);
    tally.cuts_between++;
  }
  lose_store (&t, false);
  if (t.gc_before_fault)
    tally.gc_before_cut++;
  if (verbose)
    printf ("%s %s iteration %u: %" PRIu64 " operations, %" PRIu64
            " medium writes, fault %s (tear %" PRIu64 "+%" PRIu64
            " landed %" PRIu64 "), GC before it: %s\n",
            variant_names[variant], layout->name, iteration, t.operations,
            t.medium_writes_before_fault,
            t.fault_in_write ? "tore a write" : "between requests",
            c.last_cut_offset, c.last_cut_length, c.last_cut_landed,
            t.gc_before_fault ? "yes" : "no");

  /* Power back, open, check, and go on working. */
  vswap_simulated_restore_power (t.medium);
  if (!open_store (&t, "after the fault") || !verify_after_fault (&t) ||
      !check_medium (&t, "after recovery"))
    goto out;
  for (unsigned i = 0; i < 300; i++) {
    r = operation (&t);
    if (r < 0 || !t.store) {
      report (&t, "after recovery, operation %u fails: %s", i,
              strerror (-r));
      goto out;
    }
  }
  r = vswap_store_flush (t.store);
  if (r < 0) {
    report (&t, "flush after recovery: %s", strerror (-r));
    goto out;
  }
  flushed (&t);
  if (!verify_exact (&t, "after recovery and more work"))
    goto out;
  lose_store (&t, true);
  if (!open_store (&t, "after a clean close") ||
      !verify_exact (&t, "after a clean close and reopen") ||
      !check_medium (&t, "at the end"))
    goto out;
  ok = true;

 out:
  if (t.store)
    vswap_store_abandon (t.store);
  vswap_medium_close (t.medium);
  tally.iterations++;
  if (!ok || t.failed)
    tally.failed_iterations++;
  free (t.current);
  free (t.durable);
  free (t.previous);
  free (t.count);
  free (t.candidates);
  free (t.buffer);
  free (t.page);
}

static unsigned
iterations (unsigned share)
{
  const char *s = getenv ("VSWAP_POWER_CUT_ITERATIONS");
  const unsigned n = s ? (unsigned) strtoul (s, NULL, 0) : 200;
  return n * share / 10 > 0 ? n * share / 10 : 1;
}

static uint64_t
base_seed (void)
{
  const char *s = getenv ("VSWAP_POWER_CUT_SEED");
  return s ? strtoull (s, NULL, 0) : UINT64_C (0x7e57c0de);
}

static void
run_case (enum variant variant, unsigned share)
{
  const char *only = getenv ("VSWAP_POWER_CUT_ONLY");
  /* The full card's own default: its 60 iterations on seed 3 include a
   * cut in the write that programs the last free segment (iteration 52,
   * in the store of 2026-11-26). */
  const uint64_t seed = variant == FULL_CARD &&
    !getenv ("VSWAP_POWER_CUT_SEED") ? 3 : base_seed ();

  memset (&tally, 0, sizeof tally);
  if (only)
    run_iteration (variant, (unsigned) strtoul (only, NULL, 0), seed, true);
  else
    for (unsigned i = 0; i < iterations (share); i++)
      run_iteration (variant, i, seed, false);
  printf ("%s: %u iterations (%u torn writes, %u cuts between requests, "
          "%u injected errors; %u with GC before the fault): %" PRIu64
          " pages checked after recovery, %" PRIu64 " unflushed pages read "
          "a newer version, %" PRIu64 " the flushed one, %" PRIu64 " read "
          "EIO; %u iterations failed\n", variant_names[variant],
          tally.iterations, tally.torn_writes, tally.cuts_between,
          tally.injected, tally.gc_before_cut, tally.pages_checked,
          tally.newer_versions, tally.rolled_back, tally.eio_unflushed,
          tally.failed_iterations);
  /* A failing case ends its process before stdio would flush. */
  fflush (stdout);
  ck_assert_msg (tally.failed_iterations == 0,
                 "%s: %u of %u iterations failed (see above)",
                 variant_names[variant], tally.failed_iterations,
                 tally.iterations);
}

START_TEST (test_power_cut)
{
  run_case (POWER_CUT, 10);
}
END_TEST

START_TEST (test_volatile_cache)
{
  run_case (VOLATILE_CACHE, 3);
}
END_TEST

START_TEST (test_fail_once)
{
  run_case (FAIL_ONCE, 3);
}
END_TEST

START_TEST (test_reopen_cut)
{
  run_case (REOPEN_CUT, 3);
}
END_TEST

/* When the cut tears the write that programs the last free segment (GC's
 * copies, one whole segment), the victims are live again and no segment
 * is free to record the recovery in: the store must open all the same. */
START_TEST (test_full_card)
{
  run_case (FULL_CARD, 3);
}
END_TEST

/* ---- focused cases: one fault, placed by hand ---- */

#define SMALL_SPEC "sim:4M,erase-block=128K,au=128K"
#define SMALL_PAGES 256                 /* 1 MiB logical */

/* Deterministic contents for VERSION of PAGE: incompressible, so that a
 * chunk fills after a few pages. */
static void
version_of (uint8_t *out, uint64_t page, unsigned version)
{
  uint64_t x = (page + 1) * UINT64_C (0x9e3779b97f4a7c15) + version;
  for (size_t i = 0; i < PAGE; i += 8) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    memcpy (out + i, &x, 8);
  }
}

static struct vswap_medium *
small_medium (const char *keys)
{
  struct vswap_error err = { "" };
  char spec[256];
  snprintf (spec, sizeof spec, "%s%s", SMALL_SPEC, keys);
  struct vswap_medium *m = vswap_medium_open (spec, NULL, &err);
  ck_assert_msg (m != NULL, "%s", err.message);
  const struct vswap_format_options fo = {
    .logical_size = SMALL_PAGES * PAGE, .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (m, &fo, NULL, NULL, &err) == 0, "%s",
                 err.message);
  return m;
}

static struct vswap_store *
small_open (struct vswap_medium *m)
{
  struct vswap_error err = { "" };
  const struct vswap_open_options o = { .io_contexts = 1 };
  struct vswap_store *s = vswap_store_open (m, &o, &err);
  ck_assert_msg (s != NULL, "open: %s", err.message);
  return s;
}

/* Write VERSION of pages [FIRST, END) and return how many were written
 * before the first error. */
static uint64_t
small_write (struct vswap_store *s, uint64_t first, uint64_t end,
             unsigned version)
{
  uint8_t page[PAGE];
  for (uint64_t p = first; p < end; p++) {
    version_of (page, p, version);
    if (vswap_store_write (s, page, PAGE, p * PAGE, false) < 0)
      return p - first;
  }
  return end - first;
}

/* After recovery the store must be able to write the whole device over a
 * few times without programming a page twice. */
static void
small_work_on (struct vswap_medium *m, const char *what)
{
  struct vswap_store *s = small_open (m);
  uint8_t page[PAGE], back[PAGE];

  for (unsigned version = 10; version < 14; version++) {
    const uint64_t n = small_write (s, 0, SMALL_PAGES, version);
    struct vswap_simulated_counters c;
    vswap_simulated_counters (m, &c);
    ck_assert_msg (n == SMALL_PAGES && c.program_violations == 0,
                   "%s: after recovery, writing page %" PRIu64 " fails; "
                   "the store programmed %" PRIu64 " page(s) of the medium "
                   "twice without an erase", what, n, c.program_violations);
    ck_assert_int_eq (vswap_store_flush (s), 0);
  }
  for (uint64_t p = 0; p < SMALL_PAGES; p++) {
    version_of (page, p, 13);
    ck_assert_int_eq (vswap_store_read (s, back, PAGE, p * PAGE), 0);
    ck_assert_msg (memcmp (page, back, PAGE) == 0, "%s: page %" PRIu64
                   " differs", what, p);
  }
  ck_assert_int_eq (vswap_store_close (s), 0);
}

/* Cut the power at the next write of S's medium M, tearing it within its
 * first 40 bytes (somewhere in the chunk header), while pages from FIRST
 * are written. */
static void
small_cut_in_header (struct vswap_medium *m, struct vswap_store *s,
                     uint64_t first)
{
  const struct vswap_simulated_faults f = { .power_cut_after = 1,
                                            .tear_within = 40 };
  struct vswap_simulated_counters c;

  ck_assert_int_eq (vswap_simulated_set_faults (m, &f), 0);
  ck_assert_uint_lt (small_write (s, first, SMALL_PAGES, 1),
                     SMALL_PAGES - first);
  vswap_simulated_counters (m, &c);
  ck_assert (c.power_off);
  vswap_store_abandon (s);
  ck_assert_int_eq (vswap_simulated_restore_power (m), 0);
}

/* The first chunk of a fresh segment is torn before its header is
 * whole: recovery takes the segment for an erased one, though some of
 * its first page is programmed. */
START_TEST (test_torn_first_chunk)
{
  struct vswap_medium *m = small_medium (",seed=3");
  struct vswap_store *s = small_open (m);
  small_cut_in_header (m, s, 0);
  small_work_on (m, "torn first chunk");
  vswap_medium_close (m);
}
END_TEST

/* A clean close marks the heads' last chunks; the next open appends after
 * them.  Its first chunk is torn before its header is whole: the next
 * recovery sees the clean mark last and appends there again. */
START_TEST (test_torn_after_resume)
{
  struct vswap_medium *m = small_medium (",seed=3");
  struct vswap_store *s = small_open (m);
  ck_assert_uint_eq (small_write (s, 0, 20, 0), 20);
  ck_assert_int_eq (vswap_store_close (s), 0);
  s = small_open (m);
  small_cut_in_header (m, s, 20);
  small_work_on (m, "torn after a resume");
  vswap_medium_close (m);
}
END_TEST

/* An open that fails half way (here: one read error during recovery)
 * must leave the medium as it found it. */
START_TEST (test_failed_open)
{
  uint8_t page[PAGE], back[PAGE];
  unsigned failed_opens = 0;

  for (uint64_t n = 1; n <= 40; n++) {
    struct vswap_medium *m = small_medium ("");
    struct vswap_store *s = small_open (m);
    ck_assert_uint_eq (small_write (s, 0, SMALL_PAGES, 0), SMALL_PAGES);
    ck_assert_int_eq (vswap_store_close (s), 0);

    struct vswap_error err = { "" };
    const struct vswap_open_options o = { .io_contexts = 1 };
    const struct vswap_simulated_faults f = { .fail_after = n };
    vswap_simulated_set_faults (m, &f);
    s = vswap_store_open (m, &o, &err);
    if (s)
      vswap_store_abandon (s);
    else
      failed_opens++;
    vswap_simulated_restore_power (m);

    s = small_open (m);
    for (uint64_t p = 0; p < SMALL_PAGES; p++) {
      version_of (page, p, 0);
      const int r = vswap_store_read (s, back, PAGE, p * PAGE);
      ck_assert_msg (r == 0 && memcmp (page, back, PAGE) == 0,
                     "after an open failed at medium operation %" PRIu64
                     " (%s), page %" PRIu64 " %s", n, s ? err.message : "",
                     p, r ? "fails" : "differs");
    }
    vswap_store_abandon (s);
    struct vswap_simulated_counters c;
    vswap_simulated_counters (m, &c);
    ck_assert_uint_eq (c.program_violations, 0);
    vswap_medium_close (m);
  }
  ck_assert_uint_gt (failed_opens, 0);
}
END_TEST

/* A write of part of a page reads the rest first.  If that read fails
 * for want of the medium, the write must fail, not fill the rest of the
 * page with zeros. */
START_TEST (test_partial_write_read_error)
{
  struct vswap_medium *m = small_medium ("");
  struct vswap_store *s = small_open (m);
  uint8_t page[PAGE], back[PAGE];

  /* Enough that page 0 sits in a closed segment, read from the medium. */
  ck_assert_uint_eq (small_write (s, 0, 100, 0), 100);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  const struct vswap_simulated_faults f = { .fail_after = 1 };
  vswap_simulated_set_faults (m, &f);
  memset (back, 0xab, 100);
  const int r = vswap_store_write (s, back, 100, 10, false);
  version_of (page, 0, 0);
  if (r == 0)
    memset (page + 10, 0xab, 100);
  ck_assert_int_eq (vswap_store_read (s, back, PAGE, 0), 0);
  ck_assert_msg (memcmp (page, back, PAGE) == 0,
                 "the write of 100 bytes returned %d and page 0 now holds "
                 "%s", r, back[200] == 0 && back[4000] == 0
                 ? "zeros around them" : "something else");
  vswap_store_abandon (s);
  vswap_medium_close (m);
}
END_TEST

/* Find the medium offset of the chunk headers of segment SEGMENT (of
 * 128K), in order.  Returns how many. */
static unsigned
chunk_headers (struct vswap_medium *m, uint64_t segment, uint64_t *offsets,
               unsigned size)
{
  uint8_t *image;
  unsigned n = 0;

  ck_assert_int_eq (posix_memalign ((void **) &image,
                                    VSWAP_MEDIUM_BUFFER_ALIGN, 128 * 1024),
                    0);
  ck_assert_int_eq (vswap_medium_read (m, image, 128 * 1024,
                                       segment * 128 * 1024), 0);
  for (uint64_t at = 0; at < 128 * 1024 && n < size; at += 4096)
    if (memcmp (image + at, "VSWAPCK2", 8) == 0)
      offsets[n++] = segment * 128 * 1024 + at;
  free (image);
  return n;
}

/* One bit of rot in a chunk header of a closed segment, CHUNK (0 the
 * first) of the segment that holds the newest copy of page 100: the pages
 * that chunk and the ones after it hold must read as errors or as their
 * newest version, never as an older one. */
static void
run_header_rot (unsigned chunk)
{
  struct vswap_medium *m = small_medium ("");
  struct vswap_store *s = small_open (m);
  uint8_t page[PAGE], back[PAGE];
  uint64_t offsets[64], older = 0, errors = 0;

  /* Two versions of every page: the second supersedes the first, which
   * stays on the medium (no GC has run). */
  ck_assert_uint_eq (small_write (s, 0, SMALL_PAGES, 0), SMALL_PAGES);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  ck_assert_uint_eq (small_write (s, 0, SMALL_PAGES, 1), SMALL_PAGES);
  struct vswap_statistics st;
  vswap_store_statistics (s, &st);
  ck_assert_uint_eq (st.gc_runs, 0);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* Version 1 of page 100 is 356 pages into the log: segment 13 of this
   * layout (the superblock's, then 28 raw pages a segment: 3 chunks of
   * at most 9 and a last one).  Whichever it is, rot a header there. */
  const uint64_t segment = 1 + (SMALL_PAGES + 100) / 28;
  const unsigned n = chunk_headers (m, segment, offsets, 64);
  ck_assert_uint_gt (n, chunk + 1);
  ck_assert_int_eq (vswap_simulated_corrupt (m, offsets[chunk] + 24, 0), 0);

  s = small_open (m);
  for (uint64_t p = 0; p < SMALL_PAGES; p++) {
    version_of (page, p, 1);
    const int r = vswap_store_read (s, back, PAGE, p * PAGE);
    if (r == -EIO)
      errors++;
    else {
      ck_assert_int_eq (r, 0);
      if (memcmp (page, back, PAGE) != 0) {
        version_of (page, p, 0);
        ck_assert_msg (memcmp (page, back, PAGE) == 0,
                       "page %" PRIu64 " reads neither version", p);
        older++;
      }
    }
  }
  vswap_store_abandon (s);
  vswap_medium_close (m);
  ck_assert_msg (older == 0, "one flipped bit in the header of chunk %u of "
                 "segment %" PRIu64 ": %" PRIu64 " flushed pages read their "
                 "previous version without an error (%" PRIu64 " read EIO)",
                 chunk, segment, older, errors);
}

START_TEST (test_rot_first_chunk_header)
{
  run_header_rot (0);
}
END_TEST

START_TEST (test_rot_middle_chunk_header)
{
  run_header_rot (1);
}
END_TEST

/* The last chunk of a segment that a crash left open looks like a torn
 * write to every later recovery, even once newer chunks exist elsewhere
 * and it was flushed long ago: rot in it must read as an error, not
 * bring back the previous version. */
START_TEST (test_rot_in_crashed_tail)
{
  struct vswap_medium *m = small_medium ("");
  struct vswap_store *s = small_open (m);
  uint8_t page[PAGE], back[PAGE];

  /* Version 0 of page 0 in a segment that fills and closes; version 1 in
   * the next one, flushed; then a crash. */
  ck_assert_uint_eq (small_write (s, 0, 60, 0), 60);
  ck_assert_uint_eq (small_write (s, 0, 1, 1), 1);
  ck_assert_int_eq (vswap_store_flush (s), 0);
  vswap_store_abandon (s);

  /* A later run writes elsewhere and closes cleanly. */
  s = small_open (m);
  ck_assert_uint_eq (small_write (s, 100, 140, 1), 40);
  ck_assert_int_eq (vswap_store_close (s), 0);

  /* Rot one bit of version 1 of page 0, wherever it is. */
  const uint64_t size = m->geometry.capacity;
  uint8_t *image;
  ck_assert_int_eq (posix_memalign ((void **) &image,
                                    VSWAP_MEDIUM_BUFFER_ALIGN, size), 0);
  ck_assert_int_eq (vswap_medium_read (m, image, size, 0), 0);
  version_of (page, 0, 1);
  uint64_t at = UINT64_MAX;
  for (uint64_t i = 0; i + PAGE <= size && at == UINT64_MAX; i += 16)
    if (memcmp (image + i, page, PAGE) == 0)
      at = i;
  free (image);
  ck_assert_msg (at != UINT64_MAX, "version 1 of page 0 is not on the "
                 "medium");
  ck_assert_int_eq (vswap_simulated_corrupt (m, at + 1000, 2), 0);

  s = small_open (m);
  const int r = vswap_store_read (s, back, PAGE, 0);
  version_of (page, 0, 0);
  ck_assert_msg (r == -EIO || memcmp (back, page, PAGE) != 0,
                 "page 0 was flushed at version 1, which rotted: it reads "
                 "version 0 without an error");
  vswap_store_abandon (s);
  vswap_medium_close (m);
}
END_TEST

/* A medium in front of another that notes where each write went, to
 * find the writes worth cutting. */
struct recorder {
  struct vswap_medium medium;   /* first: the operations cast */
  struct vswap_medium *inner;
  uint64_t *ends;               /* end offset of each write */
  size_t writes, size;
  size_t first_gc_write;        /* the first write after an erase */
  uint64_t operations;          /* requests of any kind */
  uint64_t first_erase;         /* the number of the first discard */
};

static int
recorder_read (struct vswap_medium *medium, void *buffer, size_t length,
               uint64_t offset)
{
  ((struct recorder *) medium)->operations++;
  return vswap_medium_read (((struct recorder *) medium)->inner, buffer,
                            length, offset);
}

static int
recorder_write (struct vswap_medium *medium, const void *buffer,
                size_t length, uint64_t offset)
{
  struct recorder *rec = (struct recorder *) medium;
  rec->operations++;
  if (rec->writes < rec->size)
    rec->ends[rec->writes] = offset + length;
  rec->writes++;
  return vswap_medium_write (rec->inner, buffer, length, offset);
}

static int
recorder_discard (struct vswap_medium *medium, uint64_t offset,
                  uint64_t length)
{
  struct recorder *rec = (struct recorder *) medium;
  rec->operations++;
  if (!rec->first_gc_write) {
    rec->first_gc_write = rec->writes;
    rec->first_erase = rec->operations;
  }
  return vswap_medium_discard (rec->inner, offset, length);
}

static int
recorder_flush (struct vswap_medium *medium)
{
  ((struct recorder *) medium)->operations++;
  return vswap_medium_flush (((struct recorder *) medium)->inner);
}

static void
recorder_close (struct vswap_medium *medium)
{
}

static const struct vswap_medium_operations recorder_operations = {
  .name = "recorder", .read = recorder_read, .write = recorder_write,
  .discard = recorder_discard, .flush = recorder_flush,
  .close = recorder_close,
};

#define SEGMENT_END_WRITES 1500

/* Every page once, then random pages over and over, a flush every eight
 * writes, until a write fails.  VERSION, FLUSHED and WRITTEN track each
 * page's newest version, its version at the last flush, and whether it
 * was written since. */
static void
segment_end_workload (struct vswap_store *s, unsigned *version,
                      unsigned *flushed, bool *written)
{
  uint8_t page[PAGE];
  uint64_t x = 42;

  for (unsigned k = 0; k < SMALL_PAGES + SEGMENT_END_WRITES; k++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    const uint64_t p = k < SMALL_PAGES ? k : x % SMALL_PAGES;
    version_of (page, p, k + 1);
    written[p] = true;
    if (vswap_store_write (s, page, PAGE, p * PAGE, false) < 0)
      return;
    version[p] = k + 1;
    if (k % 8 == 7) {
      if (vswap_store_flush (s) < 0)
        return;
      for (uint64_t q = 0; q < SMALL_PAGES; q++) {
        flushed[q] = version[q];
        written[q] = false;
      }
    }
  }
}

/* Run the workload once on a fresh medium behind REC, counting from the
 * open. */
static void
segment_end_dry_run (struct recorder *rec, unsigned *version,
                     unsigned *flushed, bool *written)
{
  rec->ends = calloc (rec->size, sizeof *rec->ends);
  rec->inner = small_medium ("");
  rec->medium.operations = &recorder_operations;
  rec->medium.geometry = rec->inner->geometry;
  snprintf (rec->medium.description, sizeof rec->medium.description,
            "recorder");
  struct vswap_store *s = small_open (&rec->medium);
  rec->operations = rec->writes = 0;
  segment_end_workload (s, version, flushed, written);
  struct vswap_statistics st;
  vswap_store_statistics (s, &st);
  ck_assert_uint_gt (st.gc_runs, 0);
  vswap_store_abandon (s);
  vswap_medium_close (rec->inner);
}

/* A power cut tears the write that ends a segment, the chunk marked as
 * the segment's last.  When GC filled that chunk with copies of flushed
 * pages, whose originals are still on the medium (the victim is erased
 * only after a flush), those pages must still read. */
START_TEST (test_torn_segment_end)
{
  static unsigned version[SMALL_PAGES], flushed[SMALL_PAGES];
  static bool written[SMALL_PAGES];
  struct vswap_error err = { "" };
  struct recorder rec = { .size = 4 * SEGMENT_END_WRITES };
  uint8_t page[PAGE], back[PAGE];
  unsigned cuts = 0;

  /* A dry run to see which writes end a segment. */
  segment_end_dry_run (&rec, version, flushed, written);
  struct vswap_store *s;

  /* GC copies flushed pages: cut where it runs. */
  ck_assert_uint_gt (rec.first_gc_write, 0);
  for (size_t i = rec.first_gc_write; i < rec.writes && i < rec.size &&
       cuts < 16; i++) {
    if (rec.ends[i] % (128 * 1024) != 0)
      continue;
    cuts++;
    struct vswap_medium *m = small_medium ("");
    s = small_open (m);
    const struct vswap_simulated_faults f = { .power_cut_after = i + 1 };
    vswap_simulated_set_faults (m, &f);
    memset (version, 0, sizeof version);
    memset (flushed, 0, sizeof flushed);
    memset (written, 0, sizeof written);
    segment_end_workload (s, version, flushed, written);
    struct vswap_simulated_counters c;
    vswap_simulated_counters (m, &c);
    ck_assert (c.power_off);
    ck_assert_uint_eq (c.last_cut_offset + c.last_cut_length,
                       rec.ends[i]);
    vswap_store_abandon (s);
    vswap_simulated_restore_power (m);

    const struct vswap_open_options o = { .io_contexts = 1 };
    s = vswap_store_open (m, &o, &err);
    ck_assert_msg (s != NULL, "%s", err.message);
    for (uint64_t p = 0; p < SMALL_PAGES; p++) {
      const int r = vswap_store_read (s, back, PAGE, p * PAGE);
      if (r == -EIO && written[p])
        continue;
      ck_assert_msg (r == 0, "cut at write %zu (%" PRIu64 "+%" PRIu64
                     ", %" PRIu64 " bytes landed), which ends a segment: "
                     "page %" PRIu64 ", flushed at version %u and %s, "
                     "reads %s", i + 1, c.last_cut_offset,
                     c.last_cut_length, c.last_cut_landed, p, flushed[p],
                     written[p] ? "written since" : "not written since",
                     strerror (-r));
      /* Version 0 is "never written": zeros. */
      if (flushed[p])
        version_of (page, p, flushed[p]);
      else
        memset (page, 0, PAGE);
      bool legit = memcmp (page, back, PAGE) == 0;
      /* Any version written since the flush is legitimate after a crash,
       * the newest or one in between (versions are write numbers, so
       * only the ones written to this page can ever match). */
      for (unsigned v = flushed[p] + 1; !legit && written[p] && v <= version[p];
           v++) {
        version_of (page, p, v);
        legit = memcmp (page, back, PAGE) == 0;
      }
      ck_assert_msg (legit, "cut at write %zu (%" PRIu64 "+%" PRIu64
                     ", %" PRIu64 " bytes landed), which ends a segment: "
                     "page %" PRIu64 " (flushed at version %u, newest %u, "
                     "%s) reads neither version (%s)", i + 1,
                     c.last_cut_offset, c.last_cut_length, c.last_cut_landed,
                     p, flushed[p], version[p],
                     written[p] ? "written since" : "not written since",
                     is_zero (back) ? "zeros" : "not zeros");
    }
    vswap_store_abandon (s);
    vswap_medium_close (m);
  }
  free (rec.ends);
  ck_assert_uint_gt (cuts, 0);
}
END_TEST

/* GC's erase of its victim fails (once).  The segment is not erased, so
 * the store must not write to it again as if it were. */
START_TEST (test_failed_erase)
{
  static unsigned version[SMALL_PAGES], flushed[SMALL_PAGES];
  static bool written[SMALL_PAGES];
  struct recorder rec = { .size = 4 * SEGMENT_END_WRITES };
  struct vswap_simulated_counters c;

  segment_end_dry_run (&rec, version, flushed, written);
  free (rec.ends);
  ck_assert_uint_gt (rec.first_erase, 0);

  struct vswap_medium *m = small_medium ("");
  struct vswap_store *s = small_open (m);
  const struct vswap_simulated_faults f = { .fail_after = rec.first_erase };
  vswap_simulated_set_faults (m, &f);
  memset (version, 0, sizeof version);
  segment_end_workload (s, version, flushed, written);
  vswap_simulated_counters (m, &c);
  ck_assert_uint_eq (c.injected_errors, 1);
  ck_assert_msg (c.program_violations == 0,
                 "after a failed erase the store programmed %" PRIu64
                 " page(s) twice without an erase", c.program_violations);
  uint64_t written_pages = 0;
  for (uint64_t p = 0; p < SMALL_PAGES; p++)
    written_pages += version[p] != 0;
  ck_assert_uint_eq (written_pages, SMALL_PAGES);
  vswap_store_abandon (s);
  vswap_medium_close (m);
}
END_TEST

/* ---- bit flips ---- */

/* Reads while the medium flips bits either return the right data or
 * EIO.  FLIPS_AT_OPEN: the flips start before the store is opened, so
 * recovery reads through them too. */
static void
run_bitflips (bool flips_at_open, bool write_while_flipping,
              uint64_t seed_offset)
{
  struct run t = { .variant = POWER_CUT, .layout = &layouts[0],
                   .seed = base_seed () + seed_offset };
  struct vswap_error err = { "" };
  const struct vswap_simulated_options so = {
    .size = MEDIUM_SIZE, .erase_block = 128 * 1024, .seed = t.seed,
  };
  uint64_t good = 0, eio = 0, wrong = 0, damaged_after = 0;

  t.rng = t.seed | 1;
  t.medium = vswap_simulated_medium_open (&so, &err);
  ck_assert_msg (t.medium != NULL, "%s", err.message);
  const struct vswap_format_options fo = {
    .logical_size = LOGICAL_SIZE, .compression = VSWAP_COMPRESS_ZSTD,
    .compression_chosen = true,
  };
  ck_assert_msg (vswap_store_format (t.medium, &fo, NULL, NULL, &err) == 0,
                 "format: %s", err.message);
  t.pages = LOGICAL_SIZE / PAGE;
  t.current = calloc (t.pages, PAGE);
  t.durable = calloc (t.pages, sizeof *t.durable);
  t.previous = calloc (t.pages, sizeof *t.previous);
  t.count = calloc (t.pages, 1);
  t.candidates = calloc (t.pages * CANDIDATES, sizeof *t.candidates);
  t.buffer = malloc (10 * PAGE);
  t.page = malloc (PAGE);
  ck_assert (open_store (&t, "after format"));

  /* Every page twice over, so that GC has run and segments mix. */
  for (int pass = 0; pass < 2; pass++)
    for (uint64_t p = 0; p < t.pages; p++) {
      fill (&t, t.buffer, PAGE);
      ck_assert_int_eq (vswap_store_write (t.store, t.buffer, PAGE, p * PAGE,
                                           false), 0);
      apply (&t, p * PAGE, PAGE, t.buffer);
    }
  ck_assert_int_eq (vswap_store_close (t.store), 0);
  t.store = NULL;

  /* About one flip in 25 page reads. */
  /* About one flip in 25 page reads; recovery reads far less than the
   * reads that follow, so flip more there for it to meet a header. */
  const double rate = getenv ("VSWAP_POWER_CUT_FLIP_RATE")
    ? strtod (getenv ("VSWAP_POWER_CUT_FLIP_RATE"), NULL)
    : flips_at_open ? 5e-6 : 1.2e-6;
  const struct vswap_simulated_faults flips = { .bitflip_rate = rate };
  if (flips_at_open)
    vswap_simulated_set_faults (t.medium, &flips);
  ck_assert (open_store (&t, "with flips"));
  if (!flips_at_open)
    vswap_simulated_set_faults (t.medium, &flips);
  for (int round = 0; round < (write_while_flipping ? 8 : 4); round++) {
    for (uint64_t p = 0; p < t.pages; p++) {
      if (write_while_flipping && below (&t, 2) == 0) {
        fill (&t, t.buffer, PAGE);
        ck_assert_int_eq (vswap_store_write (t.store, t.buffer, PAGE,
                                             p * PAGE, false), 0);
        apply (&t, p * PAGE, PAGE, t.buffer);
        continue;
      }
      const int r = vswap_store_read (t.store, t.page, PAGE, p * PAGE);
      if (r == -EIO)
        eio++;
      else if (r < 0)
        ck_abort_msg ("page %" PRIu64 ": %s", p, strerror (-r));
      else if (memcmp (t.page, t.current + p * PAGE, PAGE) == 0)
        good++;
      else {
        if (wrong++ < 10)
          fprintf (stderr, "FAIL [bit flips%s%s, seed %#" PRIx64 "]: page %"
                   PRIu64 " round %d reads wrong data (%s)\n",
                   flips_at_open ? " from open" : "",
                   write_while_flipping ? " with writes" : "", t.seed, p,
                   round, is_zero (t.page) ? "zeros" : "not zeros");
      }
    }
  }

  /* Flips off: a transient flip must not have become lasting damage. */
  const struct vswap_simulated_faults none = { 0 };
  vswap_simulated_set_faults (t.medium, &none);
  ck_assert_int_eq (vswap_store_flush (t.store), 0);
  for (uint64_t p = 0; p < t.pages; p++) {
    const int r = vswap_store_read (t.store, t.page, PAGE, p * PAGE);
    if (r < 0 || memcmp (t.page, t.current + p * PAGE, PAGE) != 0)
      damaged_after++;
  }
  struct vswap_simulated_counters c;
  vswap_simulated_counters (t.medium, &c);
  struct vswap_statistics st;
  vswap_store_statistics (t.store, &st);
  printf ("bit flips%s%s: %" PRIu64 " flips in %" PRIu64 " reads; pages "
          "read right %" PRIu64 ", EIO %" PRIu64 ", wrong %" PRIu64 "; "
          "GC runs %" PRIu64 "; pages damaged for good once the flips "
          "stopped: %" PRIu64 "\n",
          flips_at_open ? " (from open)" : "",
          write_while_flipping ? " (with writes)" : "", c.bitflips,
          c.host_reads, good, eio, wrong, st.gc_runs, damaged_after);
  fflush (stdout);
  ck_assert_uint_eq (c.program_violations, 0);
  ck_assert_uint_gt (c.bitflips, 0);
  ck_assert_msg (wrong == 0, "%" PRIu64 " reads returned wrong data", wrong);
  if (getenv ("VSWAP_POWER_CUT_STRICT_FLIPS"))
    ck_assert_msg (damaged_after == 0, "%" PRIu64 " pages damaged for good "
                   "by transient flips", damaged_after);

  vswap_store_abandon (t.store);
  vswap_medium_close (t.medium);
  free (t.current);
  free (t.durable);
  free (t.previous);
  free (t.count);
  free (t.candidates);
  free (t.buffer);
  free (t.page);
}

START_TEST (test_bitflips_on_read)
{
  run_bitflips (false, false, 0);
}
END_TEST

START_TEST (test_bitflips_with_writes)
{
  run_bitflips (false, true, 0);
}
END_TEST

START_TEST (test_bitflips_from_open)
{
  /* Several seeds: which header or record the flips meet decides what
   * recovery must survive, and one seed once hid a way to wrong data. */
  for (uint64_t i = 0; i < 4; i++)
    run_bitflips (true, false, i);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("power-cut");
  /* Known gaps of the core, open work (issue 4): run them with
   * VSWAP_POWER_CUT_KNOWN_GAPS=1.  Each still fails today:
   * - under a volatile write cache that loses or tears writes at random,
   *   about 1 iteration in 100 still fails (0 of the default 60; 2, 0 and
   *   3 of 180 with VSWAP_POWER_CUT_ITERATIONS=600 and seeds 1, 2, 3):
   *   after recovery a write meets a programmed page.  Fixed: a segment
   *   whose first chunk the cache lost while keeping later ones (it is
   *   erased before reuse after a crash), and one resumed over a lost
   *   chunk (the whole tail must be blank). */
  const struct { const char *name; const TTest *test; bool gap; } cases[] = {
    { "power-cut", test_power_cut, false },
    { "volatile-cache", test_volatile_cache, true },
    { "fail-once", test_fail_once, false },
    { "reopen-cut", test_reopen_cut, false },
    { "full-card", test_full_card, false },
    { "torn-first-chunk", test_torn_first_chunk, false },
    { "torn-after-resume", test_torn_after_resume, false },
    { "failed-open", test_failed_open, false },
    { "partial-write-read-error", test_partial_write_read_error, false },
    { "rot-first-chunk-header", test_rot_first_chunk_header, false },
    { "rot-middle-chunk-header", test_rot_middle_chunk_header, false },
    { "rot-in-crashed-tail", test_rot_in_crashed_tail, false },
    { "torn-segment-end", test_torn_segment_end, false },
    { "failed-erase", test_failed_erase, false },
    { "bitflips", test_bitflips_on_read, false },
    { "bitflips-writes", test_bitflips_with_writes, false },
    { "bitflips-open", test_bitflips_from_open, false },
  };

  const bool gaps = getenv ("VSWAP_POWER_CUT_KNOWN_GAPS") != NULL;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (cases[i].gap && !gaps) {
      printf ("power-cut: %s: a known gap, not run "
              "(VSWAP_POWER_CUT_KNOWN_GAPS=1 runs it)\n", cases[i].name);
      continue;
    }
    /* CK_RUN_CASE=power-cut runs one. */
    TCase *tc = tcase_create (cases[i].name);
    tcase_set_timeout (tc, 3600);
    tcase_add_test (tc, cases[i].test);
    suite_add_tcase (s, tc);
  }
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  const int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
