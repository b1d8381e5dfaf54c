/* vswap inspect: show what a store holds, read-only.
 *
 * Statistics count from the moment a store is opened, so for a store that
 * inspect has just opened the traffic counters say only what the recovery
 * scan did.  What is interesting is the state: how the logical pages are
 * mapped, how full the segments are, how worn, and what the map costs in
 * RAM.  That is what this prints; the counters come last.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "life.h"
#include "store.h"
#include "tools.h"

#define COMMAND "inspect"

/* free, ten 10% buckets of live fraction, open. */
#define BUCKETS 12
#define BUCKET_FREE 0
#define BUCKET_OPEN 11
#define BAR_WIDTH 40

/* Recovery warnings are printed as they come, and kept for --json. */
#define MAX_WARNINGS 1000

static const struct option long_options[] = {
  { "json", no_argument, NULL, 'j' },
  { "svg", required_argument, NULL, 's' },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

struct inspection {
  const char *spec;
  const char *description;      /* the medium's */
  uint64_t capacity;
  struct vswap_store_info info;
  struct vswap_statistics stats;
  uint64_t buckets[BUCKETS];
  uint64_t erase_min, erase_max;
  double erase_mean;
  struct vswap_segment_info *segments;  /* info.segment_count of them */
  char *warnings[MAX_WARNINGS];
  size_t nr_warnings, warnings_dropped;
};

/* The counters of struct vswap_statistics, by name, for the text output
 * (the JSON gets vswap_statistics_json's). */
#define COUNTER(name) { #name, offsetof (struct vswap_statistics, name) }
static const struct {
  const char *name;
  size_t offset;
} counters[] = {
  COUNTER (host_read_bytes), COUNTER (host_write_bytes),
  COUNTER (host_read_pages), COUNTER (host_write_pages),
  COUNTER (host_trim_bytes), COUNTER (host_zero_bytes),
  COUNTER (trim_requests), COUNTER (zero_requests), COUNTER (flush_requests),
  COUNTER (pages_zero), COUNTER (pages_same_filled),
  COUNTER (pages_compressed), COUNTER (pages_raw),
  COUNTER (compressed_input_bytes), COUNTER (compressed_output_bytes),
  COUNTER (media_write_bytes), COUNTER (media_read_bytes),
  COUNTER (media_discard_bytes), COUNTER (media_writes),
  COUNTER (media_padding_bytes),
  COUNTER (gc_runs), COUNTER (gc_bytes_moved), COUNTER (gc_records_moved),
  COUNTER (segments_erased),
  COUNTER (checksum_failures), COUNTER (pages_lost),
  COUNTER (segments_retired),
  COUNTER (readin_pages), COUNTER (readin_rereads), COUNTER (readin_dropped),
  COUNTER (readin_eio),
  COUNTER (enospc_errors), COUNTER (io_errors),
};

static void
usage (void)
{
  printf ("Usage: vswap inspect [--json] [--svg FILE] STORE\n"
          "\n"
          "Show what the vswap store on STORE holds: superblock, geometry,\n"
          "how the logical pages are mapped, segment use and wear, and the\n"
          "RAM its map needs.  Opens STORE read-only.\n"
          "\n"
          "Options:\n"
          "  --json       print one JSON object instead of text\n"
          "  --svg FILE   also draw the segments into FILE (SVG): live data\n"
          "               and erase count of each, and a wear histogram\n"
          "  -h, --help   show this help\n");
}

static void
warn (void *opaque, const char *message)
{
  struct inspection *in = opaque;

  tool_error (COMMAND, "warning: %s", message);
  if (in->nr_warnings < MAX_WARNINGS
      && (in->warnings[in->nr_warnings] = strdup (message)) != NULL)
    in->nr_warnings++;
  else
    in->warnings_dropped++;
}

/* Walk the segment table for the histogram and the wear figures. */
static int
collect_segments (struct vswap_store *store, struct inspection *in)
{
  uint64_t i, total_erases = 0;
  int r;

  in->erase_min = UINT64_MAX;
  in->segments = calloc (in->info.segment_count ? in->info.segment_count : 1,
                         sizeof *in->segments);
  if (in->segments == NULL) {
    tool_error (COMMAND, "%s: out of memory for %" PRIu64 " segments",
                in->spec, in->info.segment_count);
    return -1;
  }
  for (i = 0; i < in->info.segment_count; i++) {
    struct vswap_segment_info seg;
    unsigned bucket;

    r = vswap_store_segment_info (store, i, &seg);
    if (r < 0) {
      tool_error (COMMAND, "%s: segment %" PRIu64 ": %s",
                  in->spec, i, strerror (-r));
      return -1;
    }
    if (seg.open)
      bucket = BUCKET_OPEN;
    else if (seg.free)
      bucket = BUCKET_FREE;
    else if (in->info.segment_size == 0)
      bucket = 10;
    else {
      /* A full segment lands in 90-100%, not in an eleventh bucket. */
      bucket = 1 + (uint64_t) seg.live_bytes * 10 / in->info.segment_size;
      if (bucket > 10)
        bucket = 10;
    }
    in->buckets[bucket]++;
    in->segments[i] = seg;

    total_erases += seg.erase_count;
    if (seg.erase_count < in->erase_min)
      in->erase_min = seg.erase_count;
    if (seg.erase_count > in->erase_max)
      in->erase_max = seg.erase_count;
  }
  if (in->info.segment_count == 0)
    in->erase_min = 0;
  else
    in->erase_mean = (double) total_erases / in->info.segment_count;
  return 0;
}

static const char *
bucket_name (unsigned bucket, char *buffer, size_t size)
{
  if (bucket == BUCKET_FREE)
    return "free";
  if (bucket == BUCKET_OPEN)
    return "open";
  snprintf (buffer, size, "%u-%u%%", (bucket - 1) * 10, bucket * 10);
  return buffer;
}

static void
format_time (uint64_t seconds, char *buffer, size_t size, const char *fmt)
{
  time_t t = seconds;
  struct tm tm;

  if (gmtime_r (&t, &tm) == NULL
      || strftime (buffer, size, fmt, &tm) == 0)
    snprintf (buffer, size, "%" PRIu64, seconds);
}

/* Live record bytes per byte of page the client wrote: below 1 when
 * compression pays, a little above 1 for raw pages (record headers). */
static bool
compression_ratio (const struct vswap_statistics *stats, double *ratio)
{
  if (stats->mapped_stored == 0)
    return false;
  *ratio = (double) stats->stored_live_bytes
    / ((double) stats->mapped_stored * VSWAP_PAGE_SIZE);
  return true;
}

/* Media bytes a second since the store was formatted: the rate the
 * projected life assumes when no server says what it writes now. */
static double
lifetime_rate (const struct inspection *in)
{
  const time_t now = time (NULL);
  const double age = now > (time_t) in->info.created
    ? (double) (now - (time_t) in->info.created) : 0;
  return age > 0 ? in->stats.lifetime_media_write_bytes / age : 0;
}

static void
print_text (const struct inspection *in)
{
  const struct vswap_store_info *info = &in->info;
  const struct vswap_statistics *stats = &in->stats;
  char size[32], uuid[VSWAP_UUID_TEXT_SIZE], when[64], compression[32];
  char name[16];
  uint64_t most = 1;
  double ratio;
  unsigned b;
  size_t i;
  bool any = false;

  vswap_uuid_format (info->uuid, uuid);
  format_time (info->created, when, sizeof when, "%Y-%m-%d %H:%M:%S UTC");
  tool_compression_name (info->compression, info->compression_level,
                         compression, sizeof compression);

  printf ("Store %s\n", in->spec);
  printf ("  medium:          %s\n", in->description);
  printf ("  uuid:            %s\n", uuid);
  printf ("  format version:  %" PRIu32 "\n", info->format_version);
  printf ("  generation:      %" PRIu64 "\n", info->generation);
  printf ("  created:         %s\n", when);
  if (in->nr_warnings + in->warnings_dropped > 0)
    printf ("  recovery:        %zu warning%s (printed on stderr)\n",
            in->nr_warnings + in->warnings_dropped,
            in->nr_warnings + in->warnings_dropped == 1 ? "" : "s");

  printf ("Geometry\n");
  printf ("  capacity:        %s (%" PRIu64 " bytes)\n",
          vswap_human_size (in->capacity, size, sizeof size), in->capacity);
  printf ("  segment size:    %s\n",
          vswap_human_size (info->segment_size, size, sizeof size));
  printf ("  segments:        %" PRIu64 " for data\n", info->segment_count);
  printf ("  write unit:      %s\n",
          vswap_human_size (info->write_unit, size, sizeof size));
  printf ("  address unit:    %s\n",
          vswap_human_size (info->address_unit, size, sizeof size));
  printf ("  open segments:   %" PRIu32 " at most\n", info->open_segments);
  printf ("  compression:     %s%s\n", compression,
          info->compression_chosen ? "" : " (the plugin's compress= may "
          "change it)");

  printf ("Logical device\n");
  printf ("  logical size:    %s (%" PRIu64 " bytes, %" PRIu64 " pages)\n",
          vswap_human_size (info->logical_size, size, sizeof size),
          info->logical_size, stats->logical_pages);
  printf ("  unmapped:        %" PRIu64 " pages\n", stats->mapped_unmapped);
  printf ("  zero:            %" PRIu64 " pages\n", stats->mapped_zero);
  printf ("  same-filled:     %" PRIu64 " pages\n",
          stats->mapped_same_filled);
  printf ("  stored:          %" PRIu64 " pages\n", stats->mapped_stored);
  printf ("  dropped:         %" PRIu64 " pages (read in and freed)\n",
          stats->mapped_dropped);
  printf ("  damaged:         %" PRIu64 " pages (newest record lost; read "
          "as errors until written)\n", stats->mapped_damaged);
  printf ("  pages costing no medium bytes: %" PRIu64 " (zero and "
          "same-filled)\n", stats->mapped_zero + stats->mapped_same_filled);
  printf ("  stored live bytes: %s (%" PRIu64 " bytes)\n",
          vswap_human_size (stats->stored_live_bytes, size, sizeof size),
          stats->stored_live_bytes);
  if (compression_ratio (stats, &ratio))
    printf ("  compression ratio: %.3f (live bytes / stored pages x 4K)\n",
            ratio);
  else
    printf ("  compression ratio: - (no stored pages)\n");

  printf ("Segments by live bytes (%" PRIu64 " total, %" PRIu64 " free, %"
          PRIu64 " open)\n", stats->segments_total, stats->segments_free,
          stats->segments_open);
  for (b = 0; b < BUCKETS; b++)
    if (in->buckets[b] > most)
      most = in->buckets[b];
  for (b = 0; b < BUCKETS; b++) {
    unsigned bar = (in->buckets[b] * BAR_WIDTH + most - 1) / most;

    printf ("  %-8s %8" PRIu64 "%s%.*s\n",
            bucket_name (b, name, sizeof name), in->buckets[b],
            bar ? " " : "", (int) bar,
            "########################################");
  }
  printf ("  erase count:     min %" PRIu64 ", mean %.2f, max %" PRIu64 "\n",
          in->erase_min, in->erase_mean, in->erase_max);

  printf ("Metadata RAM:      %s (%" PRIu64 " bytes, %.2f bytes per "
          "logical page)\n",
          vswap_human_size (stats->metadata_bytes, size, sizeof size),
          stats->metadata_bytes, stats->metadata_bytes_per_page);

  /* What the store has cost its medium over its life: recorded at every
   * clean close (a crash loses what was counted since the last one). */
  printf ("Lifetime (%" PRIu64 " opens, as of the last clean close)\n",
          stats->lifetime_opens - 1);
  printf ("  host written:    %s\n",
          vswap_human_size (stats->lifetime_host_write_bytes, size,
                           sizeof size));
  printf ("  media written:   %s\n",
          vswap_human_size (stats->lifetime_media_write_bytes, size,
                           sizeof size));
  if (stats->lifetime_host_write_bytes)
    printf ("  media / host:    %.3f\n",
            (double) stats->lifetime_media_write_bytes
            / stats->lifetime_host_write_bytes);
  else
    printf ("  media / host:    - (nothing written yet)\n");
  printf ("  pages written:   %" PRIu64 " zero and %" PRIu64 " same-filled "
          "(no page written to the medium), %" PRIu64 " compressed, %"
          PRIu64 " raw\n",
          stats->lifetime_pages_zero, stats->lifetime_pages_same_filled,
          stats->lifetime_pages_compressed, stats->lifetime_pages_raw);
  printf ("  GC moved:        %s; %" PRIu64 " segments erased\n",
          vswap_human_size (stats->lifetime_gc_bytes_moved, size, sizeof size),
          stats->lifetime_segments_erased);

  /* How long the medium will last, at the rate it has been written
   * since the store was formatted. */
  struct vswap_life life;
  char text[64];
  const double rate = lifetime_rate (in);
  vswap_project_life (info->endurance, info->medium_size,
                      stats->lifetime_media_write_bytes, in->erase_max, rate,
                      &life);
  printf ("Life\n");
  if (!life.known)
    printf ("  endurance:       unknown (vswap format --endurance RATING "
            "records it)\n");
  else {
    printf ("  endurance:       %s written, as rated\n",
            tool_decimal_size (info->endurance, size, sizeof size));
    printf ("  used:            %.2f%% (%.2f%% by bytes written, %.2f%% by "
            "the most erased segment)\n", 100 * life.worn,
            100 * life.worn_by_bytes, 100 * life.worn_by_erases);
    printf ("  write rate:      %s a day since it was formatted\n",
            tool_decimal_size ((uint64_t) (rate * 86400), size, sizeof size));
    printf ("  projected life:  %s\n",
            life.seconds_left < 0 ? "no end in sight (nothing written)"
            : life.seconds_left == 0 ? "used up"
            : vswap_duration_text (life.seconds_left, text, sizeof text));
  }

  printf ("Counters since this open (the recovery scan):\n");
  for (i = 0; i < sizeof counters / sizeof counters[0]; i++) {
    uint64_t value;

    memcpy (&value, (const char *) stats + counters[i].offset, sizeof value);
    if (value) {
      printf ("  %-24s %" PRIu64 "\n", counters[i].name, value);
      any = true;
    }
  }
  printf ("  %s\n", any ? "(the others are 0)" : "(all 0)");
}

static void
json_string (const char *s)
{
  putchar ('"');
  for (; *s; s++) {
    unsigned char c = *s;

    if (c == '"' || c == '\\')
      printf ("\\%c", c);
    else if (c < 0x20)
      printf ("\\u%04x", c);
    else
      putchar (c);
  }
  putchar ('"');
}

/* JSON has no NaN or infinity: a ratio that cannot be computed is null. */
static void
json_double (const char *key, bool valid, double value, bool comma)
{
  printf ("\"%s\": ", key);
  if (valid)
    printf ("%.6g", value);
  else
    printf ("null");
  printf ("%s", comma ? ", " : "");
}

static int
print_json (const struct inspection *in)
{
  const struct vswap_store_info *info = &in->info;
  const struct vswap_statistics *stats = &in->stats;
  char uuid[VSWAP_UUID_TEXT_SIZE], when[64], name[16], *statistics = NULL;
  size_t size;
  double ratio = 0;
  bool have_ratio;
  unsigned b;
  size_t i;
  int r = -ERANGE;

  /* The counters grow with the store's version: grow the buffer too. */
  for (size = 4096; r == -ERANGE && size <= (1 << 20); size *= 2) {
    char *bigger = realloc (statistics, size);

    if (bigger == NULL) {
      free (statistics);
      tool_error (COMMAND, "out of memory");
      return -1;
    }
    statistics = bigger;
    r = vswap_statistics_json (stats, statistics, size);
  }
  if (r < 0) {
    free (statistics);
    tool_error (COMMAND, "cannot write the statistics as JSON: %s",
                strerror (-r));
    return -1;
  }

  vswap_uuid_format (info->uuid, uuid);
  format_time (info->created, when, sizeof when, "%Y-%m-%dT%H:%M:%SZ");
  have_ratio = compression_ratio (stats, &ratio);

  printf ("{\"store\": ");
  json_string (in->spec);
  printf (", \"medium\": ");
  json_string (in->description);
  printf (", \"uuid\": \"%s\", \"format_version\": %" PRIu32
          ", \"generation\": %" PRIu64 ", \"created\": %" PRIu64
          ", \"created_utc\": \"%s\"",
          uuid, info->format_version, info->generation, info->created, when);

  printf (", \"geometry\": {\"capacity\": %" PRIu64 ", \"segment_size\": %"
          PRIu32 ", \"segment_count\": %" PRIu64 ", \"write_unit\": %" PRIu32
          ", \"address_unit\": %" PRIu32 ", \"open_segments\": %" PRIu32 "}",
          in->capacity, info->segment_size, info->segment_count,
          info->write_unit, info->address_unit, info->open_segments);
  printf (", \"compression\": {\"algorithm\": \"%s\", \"level\": %d"
          ", \"chosen\": %s}",
          info->compression == VSWAP_COMPRESS_ZSTD ? "zstd" : "none",
          info->compression == VSWAP_COMPRESS_ZSTD
          ? (info->compression_level ? info->compression_level : 1) : 0,
          info->compression_chosen ? "true" : "false");

  printf (", \"logical_size\": %" PRIu64 ", \"logical_pages\": %" PRIu64,
          info->logical_size, stats->logical_pages);
  printf (", \"map\": {\"unmapped\": %" PRIu64 ", \"zero\": %" PRIu64
          ", \"same_filled\": %" PRIu64 ", \"stored\": %" PRIu64
          ", \"dropped\": %" PRIu64 ", \"damaged\": %" PRIu64 "}",
          stats->mapped_unmapped, stats->mapped_zero,
          stats->mapped_same_filled, stats->mapped_stored,
          stats->mapped_dropped, stats->mapped_damaged);
  printf (", \"pages_costing_no_medium_bytes\": %" PRIu64
          ", \"stored_live_bytes\": %" PRIu64 ", ",
          stats->mapped_zero + stats->mapped_same_filled,
          stats->stored_live_bytes);
  json_double ("compression_ratio", have_ratio, ratio, false);

  printf (", \"segments\": {\"total\": %" PRIu64 ", \"free\": %" PRIu64
          ", \"open\": %" PRIu64 ", \"histogram\": {",
          stats->segments_total, stats->segments_free, stats->segments_open);
  for (b = 0; b < BUCKETS; b++)
    printf ("%s\"%s\": %" PRIu64, b ? ", " : "",
            bucket_name (b, name, sizeof name), in->buckets[b]);
  printf ("}, \"erase_count\": {\"min\": %" PRIu64 ", ", in->erase_min);
  json_double ("mean", true, in->erase_mean, true);
  printf ("\"max\": %" PRIu64 "}}", in->erase_max);

  struct vswap_life life;
  const double rate = lifetime_rate (in);
  vswap_project_life (info->endurance, info->medium_size,
                      stats->lifetime_media_write_bytes, in->erase_max, rate,
                      &life);
  printf (", \"life\": {\"endurance_bytes\": %" PRIu64 ", ",
          info->endurance);
  json_double ("worn", life.known, life.worn, true);
  json_double ("worn_by_bytes", life.known, life.worn_by_bytes, true);
  json_double ("worn_by_erases", life.known, life.worn_by_erases, true);
  json_double ("media_write_bytes_per_second", true, rate, true);
  json_double ("seconds_left", life.known && life.seconds_left >= 0,
               life.seconds_left, false);
  printf ("}");

  printf (", \"metadata\": {\"bytes\": %" PRIu64 ", ", stats->metadata_bytes);
  json_double ("bytes_per_page", true, stats->metadata_bytes_per_page, false);
  printf ("}");

  printf (", \"recovery_warnings\": [");
  for (i = 0; i < in->nr_warnings; i++) {
    printf ("%s", i ? ", " : "");
    json_string (in->warnings[i]);
  }
  printf ("], \"recovery_warnings_dropped\": %zu", in->warnings_dropped);

  printf (", \"statistics\": %s}\n", statistics);
  free (statistics);
  return 0;
}

int
vswap_inspect_main (int argc, char *argv[])
{
  struct inspection in = { .spec = NULL };
  struct vswap_medium *medium;
  struct vswap_store *store;
  bool json = false;
  const char *svg = NULL;
  int c, status = EXIT_OK;
  size_t i;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":h", long_options, NULL)) != -1) {
    switch (c) {
    case 'j':
      json = true;
      break;
    case 's':
      svg = optarg;
      break;
    case 'h':
      usage ();
      return EXIT_OK;
    default:
      return tool_bad_option (COMMAND, c, argv);
    }
  }
  if (optind + 1 != argc) {
    tool_error (COMMAND, "%s: usage: vswap inspect [--json] [--svg FILE] "
                "STORE",
                optind >= argc ? "no STORE given" : "one STORE at a time");
    return EXIT_USAGE;
  }
  in.spec = argv[optind];

  store = tool_open_store (COMMAND, in.spec, warn, &in, &medium);
  if (store == NULL) {
    status = EXIT_PROBLEMS;
    goto out;
  }
  in.description = medium->description;
  in.capacity = medium->geometry.capacity;
  vswap_store_get_info (store, &in.info);
  vswap_store_statistics (store, &in.stats);
  if (collect_segments (store, &in) < 0)
    status = EXIT_PROBLEMS;
  else if (json)
    status = print_json (&in) < 0 ? EXIT_PROBLEMS : EXIT_OK;
  else
    print_text (&in);
  if (status == EXIT_OK && svg
      && tool_write_store_svg (svg, in.spec, &in.info, in.segments,
                               in.info.segment_count) < 0)
    status = EXIT_PROBLEMS;
  tool_close_store (store, medium);

 out:
  free (in.segments);
  for (i = 0; i < in.nr_warnings; i++)
    free (in.warnings[i]);
  return status;
}
