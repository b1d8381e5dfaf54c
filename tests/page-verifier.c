/* vswap: page-verifier, a workload that makes the kernel swap and checks
 * every byte it gets back.
 *
 * It maps N MiB of anonymous memory and fills every 4 KiB page with one
 * of four kinds of content, the mix that swap sees in practice:
 *
 *   zero         all zero bytes
 *   same-filled  one 8-byte word repeated (mostly a few common patterns,
 *                some unique to the page)
 *   compressible heap-like: mostly zeros, small integers and pointer-like
 *                words here and there
 *   random       incompressible bytes
 *
 * A page's content is a pure function of (seed, page index, version,
 * kind), so nothing of it needs to be kept: per page the program keeps
 * only its kind (1 byte) and the pass that last wrote it (2 bytes), and
 * recomputes what the page must hold when it checks it.
 *
 * Pass 1 writes every page; each later pass rewrites a fraction of the
 * pages (with a new kind and version).  After writing, every pass reads
 * EVERY page back and compares it word by word.  Under a memory limit
 * smaller than the mapping, the reads fault pages back in from swap.
 *
 * --order sequential (the default) rewrites pages in address order and
 * reads them back in order on odd passes, with a fixed stride on even
 * passes.  --order random is the load of many processes under pressure:
 * pass 1 still fills in order, but every read-back and every later
 * rewrite goes through a seeded random permutation of the pages, so the
 * kernel frees swap slots all over the swap area and later swap-outs
 * land in partly used clusters, in small scattered writes.
 *
 * Exit status: 0 all pages verified, 1 a mismatch, 2 usage or set-up error.
 * The last line is always
 *   verifier: N pages verified over P passes, M mismatches
 * where N counts page verifications (pages x passes when complete).
 *
 * No dependencies beyond the C library.
 */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE_SIZE 4096
#define WORDS (PAGE_SIZE / 8)

enum kind { KIND_ZERO, KIND_SAME, KIND_COMPRESSIBLE, KIND_RANDOM, KINDS };
static const char *const kind_names[KINDS] = {
  "zero", "same-filled", "compressible", "random"
};

/* Options. */
static uint64_t mib = 256;
static unsigned passes = 4;
static unsigned rewrite_percent = 25;
static uint64_t seed = 0x76737761705eedULL;   /* "vswap" + "seed" */
static unsigned mix[KINDS] = { 20, 15, 35, 30 }; /* percent of each kind */
static int thp = -1;                            /* -1 default, 0 off, 1 on */
static bool quiet;
static unsigned max_reports = 10;
static int64_t corrupt_page = -1;               /* --corrupt, self-test */
static bool random_order;                       /* --order random */

/* State. */
static unsigned char *memory;
static uint64_t npages;
static uint8_t *kinds;          /* kind of each page */
static uint16_t *versions;      /* pass that last wrote each page */
static uint64_t verified;       /* page verifications that matched or not */
static uint64_t mismatches;
static uint64_t written_by_kind[KINDS];
static uint64_t *permutation;   /* --order random: this pass's page order */

/* ---- deterministic content ---------------------------------------------- */

/* splitmix64: a good 64-bit mixer and a fast stream generator. */
static inline uint64_t
mix64 (uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

static inline uint64_t
next (uint64_t *state)
{
  *state += 0x9e3779b97f4a7c15ULL;
  return mix64 (*state);
}

/* A hash of (seed, page, version, purpose). */
static inline uint64_t
page_hash (uint64_t page, unsigned version, uint64_t purpose)
{
  return mix64 (seed ^ mix64 (page * 0x9e3779b97f4a7c15ULL
                              ^ ((uint64_t) version << 48)
                              ^ (purpose << 40)));
}

enum { PURPOSE_KIND = 1, PURPOSE_REWRITE, PURPOSE_CONTENT, PURPOSE_ORDER,
       PURPOSE_REWRITE_ORDER };

static enum kind
choose_kind (uint64_t page, unsigned version)
{
  unsigned r = page_hash (page, version, PURPOSE_KIND) % 100;
  for (int k = 0; k < KINDS; k++) {
    if (r < mix[k])
      return (enum kind) k;
    r -= mix[k];
  }
  return KIND_RANDOM;
}

/* Patterns that real same-filled pages hold. */
static const uint64_t common_patterns[] = {
  0xffffffffffffffffULL, 0x0101010101010101ULL, 0x00000000ffffffffULL,
  0x0000000100000001ULL, 0xdeadbeefdeadbeefULL, 0x8080808080808080ULL,
  0x2020202020202020ULL, 0x00ff00ff00ff00ffULL,
};
#define N_COMMON (sizeof common_patterns / sizeof common_patterns[0])

/* The expected 8-byte words of a page, one at a time.  A generator is
 * cheap to set up, so checking needs no page-sized buffer. */
struct generator {
  enum kind kind;
  uint64_t state;
  uint64_t pattern;
  uint64_t page;
  unsigned version;
};

static void
generator_init (struct generator *g, uint64_t page, unsigned version,
                enum kind kind)
{
  const uint64_t h = page_hash (page, version, PURPOSE_CONTENT);
  g->kind = kind;
  g->state = h;
  g->page = page;
  g->version = version;
  g->pattern = 0;
  if (kind == KIND_SAME) {
    /* Three in four from the common set, the rest unique to the page. */
    if ((h & 3) != 0)
      g->pattern = common_patterns[(h >> 2) % N_COMMON];
    else
      g->pattern = mix64 (h) | 1;       /* never zero */
  }
}

static inline uint64_t
generator_word (struct generator *g, unsigned i)
{
  switch (g->kind) {
  case KIND_ZERO:
    return 0;
  case KIND_SAME:
    return g->pattern;
  case KIND_COMPRESSIBLE: {
    /* Two distinct non-zero words first, so the page is never taken for
     * zero or same-filled; then a sparse heap. */
    if (i == 0)
      return 0x4845415000000000ULL | g->page;   /* "HEAP" | page */
    if (i == 1)
      return (uint64_t) g->version;
    const uint64_t r = next (&g->state);
    switch (r & 15) {
    case 0: case 1:                     /* small integer */
      return (r >> 8) & 0xff;
    case 2:                             /* pointer-like */
      return 0x00007f0000000000ULL | ((r >> 12) & 0xfffff8ULL);
    case 3:                             /* a length and a flag */
      return ((r >> 16) & 0xfff) | ((uint64_t) ((r >> 40) & 1) << 32);
    default:
      return 0;
    }
  }
  case KIND_RANDOM:
  default:
    return next (&g->state);
  }
}

static inline uint64_t *
page_words (uint64_t page)
{
  return (uint64_t *) (memory + page * PAGE_SIZE);
}

static void
write_page (uint64_t page, unsigned version)
{
  const enum kind kind = choose_kind (page, version);
  struct generator g;
  uint64_t *w = page_words (page);

  generator_init (&g, page, version, kind);
  for (unsigned i = 0; i < WORDS; i++)
    w[i] = generator_word (&g, i);
  kinds[page] = (uint8_t) kind;
  versions[page] = (uint16_t) version;
  written_by_kind[kind]++;
}

static void
report_mismatch (uint64_t page, unsigned i, uint64_t got, uint64_t want,
                 unsigned pass)
{
  mismatches++;
  if (mismatches > max_reports) {
    if (mismatches == max_reports + 1)
      fprintf (stderr, "verifier: further mismatches not shown\n");
    return;
  }
  const uint64_t *w = page_words (page);
  bool all_zero = true;
  for (unsigned j = 0; j < WORDS; j++)
    if (w[j] != 0) {
      all_zero = false;
      break;
    }
  fprintf (stderr,
           "verifier: MISMATCH pass %u page %" PRIu64 " (address %p) kind %s "
           "written in pass %u: first wrong byte offset %u: got 0x%016" PRIx64
           " want 0x%016" PRIx64 "%s\n",
           pass, page, (void *) w, kind_names[kinds[page]], versions[page],
           i * 8, got, want,
           all_zero ? " (the page reads as all zeros)" : "");
}

/* Compare one page with what it must hold.  Read-only: the compare is
 * what faults the page in from swap. */
static void
verify_page (uint64_t page, unsigned pass)
{
  const volatile uint64_t *w = page_words (page);
  struct generator g;

  generator_init (&g, page, versions[page], (enum kind) kinds[page]);
  for (unsigned i = 0; i < WORDS; i++) {
    const uint64_t want = generator_word (&g, i);
    const uint64_t got = w[i];
    if (got != want) {
      report_mismatch (page, i, got, want, pass);
      break;
    }
  }
  verified++;
}

/* ---- passes ---------------------------------------------------------------- */

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
mib_per_s (uint64_t pages, double seconds)
{
  if (seconds <= 0)
    seconds = 1e-9;
  return pages * (double) PAGE_SIZE / (1024.0 * 1024.0) / seconds;
}

static uint64_t
gcd (uint64_t a, uint64_t b)
{
  while (b) {
    const uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* --order random: a new Fisher-Yates shuffle of the pages for PURPOSE
 * (rewrite or read-back) of PASS, a pure function of the seed. */
static void
shuffle_pages (unsigned pass, uint64_t purpose)
{
  uint64_t state = page_hash (0, pass, purpose);

  for (uint64_t i = 0; i < npages; i++)
    permutation[i] = i;
  for (uint64_t i = npages - 1; i > 0; i--) {
    const uint64_t j = next (&state) % (i + 1);
    const uint64_t t = permutation[i];
    permutation[i] = permutation[j];
    permutation[j] = t;
  }
}

/* Odd passes read pages in order (swap readahead helps); even passes in a
 * scattered order (every fault a random slot).  --order random: every
 * pass in a random permutation. */
static void
verify_all (unsigned pass)
{
  uint64_t stride = 1, start = 0;

  if (random_order) {
    shuffle_pages (pass, PURPOSE_ORDER);
    for (uint64_t n = 0; n < npages; n++)
      verify_page (permutation[n], pass);
    return;
  }

  if (pass % 2 == 0 && npages > 2) {
    const uint64_t h = page_hash (0, pass, PURPOSE_ORDER);
    stride = (npages / 2 + 1 + h % (npages / 4 + 1)) % npages;
    while (stride == 0 || gcd (stride, npages) != 1)
      stride = (stride + 1) % npages;
    start = (h >> 32) % npages;
  }
  uint64_t page = start;
  for (uint64_t n = 0; n < npages; n++) {
    verify_page (page, pass);
    page += stride;
    if (page >= npages)
      page -= npages;
  }
}

static void
usage (FILE *f)
{
  fprintf (f,
"Usage: page-verifier [OPTIONS]\n"
"Fill anonymous memory with a mix of pages, rewrite some, read all back.\n"
"\n"
"  -m, --mib N           MiB of memory to use (default %" PRIu64 ")\n"
"  -p, --passes N        passes; pass 1 writes every page (default %u)\n"
"  -r, --rewrite PERCENT pages rewritten in each later pass (default %u)\n"
"  -s, --seed N          seed of all content (default 0x%" PRIx64 ")\n"
"  -x, --mix Z,S,C,R     percent of zero, same-filled, compressible and\n"
"                        random pages; must add up to 100 (default %u,%u,%u,%u)\n"
"      --order sequential|random\n"
"                        sequential: rewrite in address order, read back in\n"
"                        order (odd passes) or with a stride (even passes);\n"
"                        random: pass 1 fills in order, every read-back and\n"
"                        later rewrite in a seeded random permutation\n"
"                        (default sequential)\n"
"      --thp yes|no      madvise huge pages on or off (default: system's)\n"
"      --corrupt PAGE    self-test: damage PAGE after pass 1 writes it\n"
"  -q, --quiet           print only the final line (and mismatches)\n"
"  -h, --help            this text\n"
"\n"
"Exit status: 0 every page verified, 1 a mismatch, 2 usage or set-up error.\n",
           mib, passes, rewrite_percent, seed,
           mix[0], mix[1], mix[2], mix[3]);
}

static bool
parse_u64 (const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  if (*s == '-' || *s == '\0')
    return false;
  const unsigned long long v = strtoull (s, &end, 0);
  if (errno != 0 || *end != '\0')
    return false;
  *out = v;
  return true;
}

static void
parse_options (int argc, char **argv)
{
  static const struct option long_options[] = {
    { "mib", required_argument, NULL, 'm' },
    { "passes", required_argument, NULL, 'p' },
    { "rewrite", required_argument, NULL, 'r' },
    { "seed", required_argument, NULL, 's' },
    { "mix", required_argument, NULL, 'x' },
    { "thp", required_argument, NULL, 'T' },
    { "order", required_argument, NULL, 'O' },
    { "corrupt", required_argument, NULL, 'C' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 }
  };
  int c;
  uint64_t v;

  while ((c = getopt_long (argc, argv, "m:p:r:s:x:qh", long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'm':
      if (!parse_u64 (optarg, &v) || v < 1 || v > (UINT64_MAX >> 21)) {
        fprintf (stderr, "page-verifier: --mib %s: give a number of MiB\n",
                 optarg);
        exit (2);
      }
      mib = v;
      break;
    case 'p':
      if (!parse_u64 (optarg, &v) || v < 1 || v > UINT16_MAX) {
        fprintf (stderr, "page-verifier: --passes %s: give 1 to %u\n",
                 optarg, UINT16_MAX);
        exit (2);
      }
      passes = v;
      break;
    case 'r':
      if (!parse_u64 (optarg, &v) || v > 100) {
        fprintf (stderr, "page-verifier: --rewrite %s: give 0 to 100\n",
                 optarg);
        exit (2);
      }
      rewrite_percent = v;
      break;
    case 's':
      if (!parse_u64 (optarg, &v)) {
        fprintf (stderr, "page-verifier: --seed %s: give a number\n", optarg);
        exit (2);
      }
      seed = v;
      break;
    case 'x': {
      unsigned m[KINDS], sum = 0;
      if (sscanf (optarg, "%u,%u,%u,%u", &m[0], &m[1], &m[2], &m[3]) != 4 ||
          (sum = m[0] + m[1] + m[2] + m[3]) != 100) {
        fprintf (stderr, "page-verifier: --mix %s: give four percentages "
                 "adding up to 100 (they add up to %u)\n", optarg, sum);
        exit (2);
      }
      memcpy (mix, m, sizeof mix);
      break;
    }
    case 'T':
      if (strcmp (optarg, "yes") == 0)
        thp = 1;
      else if (strcmp (optarg, "no") == 0)
        thp = 0;
      else {
        fprintf (stderr, "page-verifier: --thp %s: give yes or no\n", optarg);
        exit (2);
      }
      break;
    case 'O':
      if (strcmp (optarg, "sequential") == 0)
        random_order = false;
      else if (strcmp (optarg, "random") == 0)
        random_order = true;
      else {
        fprintf (stderr, "page-verifier: --order %s: give sequential or "
                 "random\n", optarg);
        exit (2);
      }
      break;
    case 'C':
      if (!parse_u64 (optarg, &v) || v > INT64_MAX) {
        fprintf (stderr, "page-verifier: --corrupt %s: give a page index\n",
                 optarg);
        exit (2);
      }
      corrupt_page = (int64_t) v;
      break;
    case 'q':
      quiet = true;
      break;
    case 'h':
      usage (stdout);
      exit (0);
    default:
      usage (stderr);
      exit (2);
    }
  }
  if (optind != argc) {
    fprintf (stderr, "page-verifier: unexpected argument '%s'\n", argv[optind]);
    exit (2);
  }
}

int
main (int argc, char **argv)
{
  parse_options (argc, argv);

  /* Lines, not blocks, even into a pipe: a wrapper shows progress. */
  setvbuf (stdout, NULL, _IOLBF, 0);

  npages = mib * 1024 * 1024 / PAGE_SIZE;
  const size_t bytes = npages * PAGE_SIZE;
  memory = mmap (NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    fprintf (stderr, "page-verifier: mmap %" PRIu64 " MiB: %s\n", mib,
             strerror (errno));
    return 2;
  }
  if (thp >= 0 &&
      madvise (memory, bytes, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == -1)
    fprintf (stderr, "page-verifier: warning: madvise huge pages: %s\n",
             strerror (errno));
  kinds = calloc (npages, sizeof *kinds);
  versions = calloc (npages, sizeof *versions);
  if (random_order)
    permutation = calloc (npages, sizeof *permutation);
  if (kinds == NULL || versions == NULL ||
      (random_order && permutation == NULL)) {
    fprintf (stderr, "page-verifier: out of memory for metadata\n");
    return 2;
  }

  if (!quiet)
    printf ("verifier: %" PRIu64 " MiB, %" PRIu64 " pages, %u passes, "
            "rewrite %u%%, mix zero/same/compressible/random "
            "%u/%u/%u/%u%%, seed 0x%" PRIx64 ", %s order\n",
            mib, npages, passes, rewrite_percent,
            mix[0], mix[1], mix[2], mix[3], seed,
            random_order ? "random" : "sequential");

  const double start = now ();
  for (unsigned pass = 1; pass <= passes; pass++) {
    const uint64_t mismatches_before = mismatches;
    uint64_t rewritten = 0;
    double t0 = now ();

    /* Which pages a pass rewrites does not depend on the order. */
    if (random_order && pass > 1)
      shuffle_pages (pass, PURPOSE_REWRITE_ORDER);
    for (uint64_t n = 0; n < npages; n++) {
      const uint64_t page = random_order && pass > 1 ? permutation[n] : n;
      if (pass == 1 ||
          page_hash (page, pass, PURPOSE_REWRITE) % 100 < rewrite_percent) {
        write_page (page, pass);
        rewritten++;
      }
    }
    if (pass == 1 && corrupt_page >= 0 && (uint64_t) corrupt_page < npages)
      memory[corrupt_page * PAGE_SIZE + 100] ^= 0x20;
    const double t1 = now ();
    verify_all (pass);
    const double t2 = now ();

    if (!quiet)
      printf ("verifier: pass %u/%u: wrote %" PRIu64 " pages (%.1f MiB/s), "
              "verified %" PRIu64 " pages in %s order (%.1f MiB/s), "
              "%" PRIu64 " mismatches\n",
              pass, passes, rewritten, mib_per_s (rewritten, t1 - t0),
              npages, random_order ? "random"
                      : pass % 2 == 0 ? "scattered" : "sequential",
              mib_per_s (npages, t2 - t1), mismatches - mismatches_before);
  }
  const double elapsed = now () - start;

  if (!quiet) {
    printf ("verifier: pages written by kind: zero %" PRIu64
            ", same-filled %" PRIu64 ", compressible %" PRIu64
            ", random %" PRIu64 "\n",
            written_by_kind[KIND_ZERO], written_by_kind[KIND_SAME],
            written_by_kind[KIND_COMPRESSIBLE], written_by_kind[KIND_RANDOM]);
    printf ("verifier: %.1f s, %.1f MiB/s verified\n", elapsed,
            mib_per_s (verified, elapsed));
  }
  printf ("verifier: %" PRIu64 " pages verified over %u passes, %" PRIu64
          " mismatches\n", verified, passes, mismatches);

  munmap (memory, bytes);
  free (kinds);
  free (versions);
  free (permutation);
  return mismatches ? 1 : 0;
}
