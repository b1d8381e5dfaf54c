/* vswap probe: measure a flash medium's allocation unit (erase block as
 * its translation layer sees it) and how many it keeps open, the way
 * flashbench does, and propose a vswap format command line.
 *
 * Both measurements write, so the probe destroys what the medium holds
 * and runs only with --destructive.
 *
 * The method: a cheap card keeps a few AUs open and writes each
 * sequentially; a write below an open AU's tail, or into an AU that is
 * not open when all its slots are taken, makes it copy a whole AU.  So
 *
 * - AU size: two streams of small sequential writes, taken in turn,
 *   SPACING bytes apart.  While both fall in one AU every write is off
 *   its tail and costs a copy; from the AU size on, each stream has its
 *   own AU and the pair costs what one stream costs.  The smallest such
 *   spacing is the AU.  (A card with a single open AU never gets cheap:
 *   the probe says so.)
 * - Open AUs: N streams an AU apart, in turn, for N = 1, 2, 3...  The
 *   cost jumps at the first N the card cannot keep open; one less is the
 *   count.
 *
 * Every stream's first round is a warm-up and not counted: it opens the
 * AU and may land below a tail the previous test left.
 *
 * The cost of a write is its wall-clock time on a real device.  On the
 * simulated card (sim:...,overwrite=on) it is the pages the card
 * programs for it, host pages plus copies, from the simulator's own
 * counters: exact, repeatable, and testable (tests/test-tool-probe.sh).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "medium.h"
#include "simulated.h"
#include "tools.h"

#define COMMAND "probe"

#define MIN_SPACING (64u * 1024)
#define MAX_SPACING (64u << 20)
#define MAX_STREAMS 16
#define ROUNDS 9                /* one warm-up, then measured */
/* A measured cost this many times the single stream's is a jump. */
#define JUMP_FACTOR 2.0
#define FILL_CHUNK (1u << 20)

struct probe {
  struct vswap_medium *medium;
  bool simulated;               /* cost from the simulator's counters */
  uint32_t unit;                /* bytes per write */
  uint64_t region;              /* bytes the probe writes in, from 0 */
  uint8_t *buffer;              /* FILL_CHUNK bytes, aligned */
  uint64_t pattern;
};

static void
usage (void)
{
  printf ("Usage: vswap probe --destructive [OPTIONS] MEDIUM\n"
          "\n"
          "Measure the allocation unit (erase block) of a flash card or\n"
          "disk and how many it keeps open for writing, flashbench-style,\n"
          "and propose a vswap format command line.  WRITES OVER MEDIUM:\n"
          "everything on it is lost.\n"
          "\n"
          "Options:\n"
          "  --destructive      required: agree that MEDIUM is overwritten\n"
          "  --region SIZE      probe only the first SIZE bytes (default:\n"
          "                     the whole medium, at most 256M)\n"
          "  -h, --help         this text\n");
}

/* Cost so far: programmed pages on the simulated card, else nanoseconds. */
static double
cost_now (const struct probe *p)
{
  if (p->simulated) {
    struct vswap_simulated_counters c;

    vswap_simulated_counters (p->medium, &c);
    return (double) c.ftl_page_programs;
  }
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
write_unit_at (struct probe *p, uint64_t offset)
{
  /* New bytes each time, so that no layer can skip the write. */
  p->pattern++;
  memcpy (p->buffer, &p->pattern, sizeof p->pattern);
  return vswap_medium_write (p->medium, p->buffer, p->unit, offset);
}

/* Write every byte of the region once: a card copies only data it holds. */
static int
fill_region (struct probe *p)
{
  for (uint64_t at = 0; at < p->region; at += FILL_CHUNK) {
    const uint64_t n = p->region - at < FILL_CHUNK ? p->region - at
      : FILL_CHUNK;
    const int r = vswap_medium_write (p->medium, p->buffer, n, at);
    if (r < 0)
      return r;
  }
  return vswap_medium_flush (p->medium);
}

/* STREAMS streams SPACING bytes apart, written in turn, one unit each;
 * the mean cost of a measured write (after the warm-up round). */
static int
round_robin (struct probe *p, unsigned streams, uint64_t spacing,
             double *cost)
{
  double start = 0;

  for (unsigned round = 0; round < ROUNDS; round++) {
    if (round == 1)
      start = cost_now (p);
    for (unsigned s = 0; s < streams; s++) {
      const int r = write_unit_at (p, s * spacing
                                   + (uint64_t) round * p->unit);
      if (r < 0)
        return r;
    }
  }
  *cost = (cost_now (p) - start) / ((double) (ROUNDS - 1) * streams);
  return 0;
}

static const char *
cost_unit (const struct probe *p)
{
  return p->simulated ? "programmed pages per page written"
    : "ns per write";
}

/* The size suffix vswap format --erase-block takes: "4M", "512K". */
static void
size_argument (uint64_t bytes, char *text, size_t size)
{
  if (bytes % (1u << 20) == 0)
    snprintf (text, size, "%" PRIu64 "M", bytes >> 20);
  else
    snprintf (text, size, "%" PRIu64 "K", bytes >> 10);
}

static int
run_probe (struct probe *p, const char *spec)
{
  char text[32], text2[32];
  double single, cost;
  uint64_t au = 0;
  unsigned open_aus = 0;
  int r;

  printf ("Probing %s\n", p->medium->description);
  printf ("  region:        the first %s, writes of %" PRIu32 " bytes; "
          "cost in %s\n", vswap_human_size (p->region, text, sizeof text),
          p->unit, cost_unit (p));
  r = fill_region (p);
  if (r < 0)
    return r;

  r = round_robin (p, 1, 0, &single);
  if (r < 0)
    return r;
  printf ("  one stream:    %.1f\n", single);

  /* Erase block / AU. */
  for (uint64_t spacing = MIN_SPACING;
       spacing <= MAX_SPACING && 2 * spacing <= p->region; spacing *= 2) {
    if (spacing < (uint64_t) ROUNDS * p->unit)
      continue;
    r = round_robin (p, 2, spacing, &cost);
    if (r < 0)
      return r;
    printf ("  two streams %s apart: %.1f\n",
            vswap_human_size (spacing, text, sizeof text), cost);
    if (cost <= single * JUMP_FACTOR) {
      au = spacing;
      break;
    }
  }
  if (au == 0) {
    printf ("  erase block:   not found: two streams never cost what one "
            "does (a card that keeps one AU open, or an AU over %s)\n",
            vswap_human_size (p->region / 2, text, sizeof text));
    open_aus = 1;
  }
  else {
    printf ("  erase block:   %s (two streams that far apart cost what "
            "one does)\n", vswap_human_size (au, text, sizeof text));

    /* Open AUs. */
    for (unsigned n = 1; n <= MAX_STREAMS && n * au <= p->region; n++) {
      r = round_robin (p, n, au, &cost);
      if (r < 0)
        return r;
      printf ("  %2u streams:    %.1f\n", n, cost);
      if (cost > single * JUMP_FACTOR)
        break;
      open_aus = n;
    }
    if (open_aus == MAX_STREAMS || (open_aus + 1) * au > p->region)
      printf ("  open AUs:      at least %u (no jump within the region)\n",
              open_aus);
    else
      printf ("  open AUs:      %u (%u streams cost more than %.0fx one)\n",
              open_aus, open_aus + 1, JUMP_FACTOR);
  }

  /* vswap writes at most two segments at once (user data, GC). */
  const unsigned segments = open_aus >= 2 ? 2 : 1;
  printf ("Proposed: vswap format");
  if (au >= MIN_SPACING) {
    size_argument (au, text2, sizeof text2);
    printf (" --erase-block %s", text2);
  }
  printf (" --open-segments %u %s\n", segments, spec);
  return 0;
}

int
vswap_probe_main (int argc, char *argv[])
{
  enum { OPT_DESTRUCTIVE = 256, OPT_REGION };
  static const struct option long_options[] = {
    { "destructive", no_argument, NULL, OPT_DESTRUCTIVE },
    { "region", required_argument, NULL, OPT_REGION },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct vswap_medium_options options = {
    .create = false, .lock = VSWAP_MEDIUM_LOCK_EXCLUSIVE,
  };
  struct vswap_simulated_counters counters;
  struct vswap_error err;
  struct probe p = { .medium = NULL };
  bool destructive = false;
  uint64_t region = 0;
  int c, r;

  opterr = 0;
  optind = 1;
  while ((c = getopt_long (argc, argv, ":h", long_options, NULL)) != -1) {
    switch (c) {
    case OPT_DESTRUCTIVE:
      destructive = true;
      break;
    case OPT_REGION:
      if (vswap_parse_size (optarg, &region) < 0 || region == 0) {
        tool_error (COMMAND, "--region %s: give a size like 64M", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'h':
      usage ();
      return EXIT_OK;
    default:
      return tool_bad_option (COMMAND, c, argv);
    }
  }
  if (optind + 1 != argc) {
    tool_error (COMMAND, "give one medium to probe: see vswap probe --help");
    return EXIT_USAGE;
  }
  if (!destructive) {
    tool_error (COMMAND, "%s: probing writes over the whole medium and "
                "destroys what it holds: pass --destructive if that is "
                "what you want", argv[optind]);
    return EXIT_USAGE;
  }

  p.medium = vswap_medium_open (argv[optind], &options, &err);
  if (p.medium == NULL) {
    tool_error (COMMAND, "%s", err.message);
    return EXIT_PROBLEMS;
  }
  if (p.medium->geometry.sequential_only) {
    tool_error (COMMAND, "%s is zoned: its zones are its erase blocks and it "
                "says how many may be open; vswap format reads both, so "
                "format it without probing", argv[optind]);
    vswap_medium_close (p.medium);
    return EXIT_USAGE;
  }
  p.simulated = vswap_simulated_counters (p.medium, &counters) == 0;
  p.unit = p.medium->geometry.write_unit;
  p.region = p.medium->geometry.capacity;
  if (region == 0 && p.region > (UINT64_C (256) << 20))
    p.region = UINT64_C (256) << 20;
  if (region)
    p.region = region < p.region ? region : p.region;
  p.region -= p.region % FILL_CHUNK;
  if (p.region < 2 * MIN_SPACING || posix_memalign ((void **) &p.buffer,
                                                    VSWAP_MEDIUM_BUFFER_ALIGN,
                                                    FILL_CHUNK) != 0) {
    tool_error (COMMAND, "%s: too small to probe (give at least 1M)",
                argv[optind]);
    vswap_medium_close (p.medium);
    return EXIT_USAGE;
  }
  memset (p.buffer, 0xa5, FILL_CHUNK);

  r = run_probe (&p, argv[optind]);
  if (r < 0)
    tool_error (COMMAND, "%s: a write failed: %s%s", argv[optind],
                vswap_strerror (-r),
                p.simulated ? " (the simulated NAND refuses overwrites: "
                "add overwrite=on to the sim: spec to model a card)" : "");
  free (p.buffer);
  vswap_medium_close (p.medium);
  return r < 0 ? EXIT_PROBLEMS : EXIT_OK;
}
