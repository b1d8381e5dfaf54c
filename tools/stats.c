/* vswap stats: a running server's statistics, for people and for
 * monitoring.
 *
 * The plugin rewrites its statsfile= (one JSON object) every 2 seconds;
 * this reads it (json-c) and shows it as a table the way zramctl and
 * vdostats do, as JSON with the derived figures added, or in the
 * Prometheus text exposition format for node_exporter's textfile
 * collector.  It also answers the first question a board's owner asks:
 * how long will the card last (core/life.h), from the endurance recorded
 * at format, the lifetime media bytes, the erase counts and the write
 * rate: this run's average, or under --watch the rate between samples.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "life.h"
#include "tools.h"

#define COMMAND "stats"

/* Where the systemd units have the server write its statistics. */
#define DEFAULT_PATTERN "/run/vswap/*.json"

/* A file older than this is from a server that no longer writes it. */
#define STALE_SECONDS 10

enum output { OUTPUT_TABLE, OUTPUT_JSON, OUTPUT_PROMETHEUS };

static const struct option long_options[] = {
  { "json", no_argument, NULL, 'j' },
  { "prometheus", no_argument, NULL, 'p' },
  { "watch", optional_argument, NULL, 'w' },
  { "output", required_argument, NULL, 'o' },
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static void
usage (void)
{
  printf ("Usage: vswap stats [--json | --prometheus] [--watch[=SECONDS]]\n"
          "                   [--output FILE] [STATSFILE...]\n"
          "\n"
          "Show the statistics a running nbdkit vswap server writes to its\n"
          "statsfile= (default: " DEFAULT_PATTERN ", where the systemd\n"
          "units put them): what the device holds, what it cost the medium,\n"
          "and the medium's projected life.\n"
          "\n"
          "Options:\n"
          "  --json              one JSON array, an object per file, with\n"
          "                      the derived figures added\n"
          "  --prometheus        the Prometheus text format, for\n"
          "                      node_exporter's textfile collector\n"
          "  --watch[=SECONDS]   again every SECONDS (default 2) until\n"
          "                      interrupted; rates are then measured\n"
          "                      between samples\n"
          "  --output FILE       write FILE.tmp and rename it over FILE\n"
          "                      (a collector never sees half a file)\n"
          "  -h, --help          show this help\n");
}

/* One statistics file, read. */
struct sample {
  const char *path;
  json_object *root;            /* NULL: could not be read */
  char problem[256];
  double age;                   /* seconds since it was written */
  double taken;                 /* when we read it (CLOCK_MONOTONIC) */
};

/* What a sample says, with what is derived from it. */
struct figures {
  char name[64];                /* the file's name without .json */
  uint64_t logical_bytes, data_bytes, stored_bytes, live_bytes;
  uint64_t zero_same_pages;
  uint64_t segments_total, segments_free;
  double media_per_host;        /* this run */
  double write_rate;            /* media bytes a second */
  bool rate_between_samples;
  struct vswap_life life;
};

static double
monotonic_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool
number (json_object *root, const char *key, double *value)
{
  json_object *v;

  if (root == NULL || !json_object_object_get_ex (root, key, &v))
    return false;
  switch (json_object_get_type (v)) {
  case json_type_int:
  case json_type_double:
    *value = json_object_get_double (v);
    return true;
  default:
    return false;
  }
}

static uint64_t
count (json_object *root, const char *key)
{
  json_object *v;

  if (root == NULL || !json_object_object_get_ex (root, key, &v) ||
      json_object_get_type (v) != json_type_int)
    return 0;
  return json_object_get_uint64 (v);
}

static void
read_sample (struct sample *s)
{
  struct stat st;

  if (s->root)
    json_object_put (s->root);
  s->root = NULL;
  s->problem[0] = '\0';
  s->taken = monotonic_now ();
  if (stat (s->path, &st) == -1) {
    snprintf (s->problem, sizeof s->problem, "%s", strerror (errno));
    return;
  }
  struct timespec now;
  clock_gettime (CLOCK_REALTIME, &now);
  s->age = (now.tv_sec - st.st_mtim.tv_sec)
    + (now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
  if (s->age < 0)
    s->age = 0;
  s->root = json_object_from_file (s->path);
  if (s->root == NULL)
    snprintf (s->problem, sizeof s->problem, "not JSON: %s",
              json_util_get_last_err ());
  else if (json_object_get_type (s->root) != json_type_object ||
           !json_object_object_get_ex (s->root, "logical_pages", NULL)) {
    snprintf (s->problem, sizeof s->problem,
              "not a vswap statistics file (no logical_pages)");
    json_object_put (s->root);
    s->root = NULL;
  }
}

/* Figures of S; PREVIOUS (may be NULL) is the same file's last sample,
 * for rates between samples. */
static void
derive (const struct sample *s, const struct sample *previous,
        struct figures *f)
{
  json_object *r = s->root;
  const char *base = strrchr (s->path, '/');
  double seconds = 0, value;

  memset (f, 0, sizeof *f);
  snprintf (f->name, sizeof f->name, "%s", base ? base + 1 : s->path);
  const size_t n = strlen (f->name);
  if (n > 5 && strcmp (f->name + n - 5, ".json") == 0)
    f->name[n - 5] = '\0';

  f->logical_bytes = count (r, "logical_pages") * 4096;
  f->data_bytes = (count (r, "logical_pages") - count (r, "mapped_unmapped"))
    * 4096;
  f->stored_bytes = count (r, "mapped_stored") * 4096;
  f->live_bytes = count (r, "stored_live_bytes");
  f->zero_same_pages = count (r, "mapped_zero") +
    count (r, "mapped_same_filled");
  f->segments_total = count (r, "segments_total");
  f->segments_free = count (r, "segments_free");
  if (number (r, "media_per_host_bytes", &value))
    f->media_per_host = value;

  /* The write rate: between two samples of a server that kept running,
   * else this run's average. */
  double previous_seconds;
  if (previous && previous->root &&
      number (r, "server_seconds", &seconds) &&
      number (previous->root, "server_seconds", &previous_seconds) &&
      seconds > previous_seconds &&
      count (r, "media_write_bytes") >=
      count (previous->root, "media_write_bytes")) {
    f->write_rate = (count (r, "media_write_bytes") -
                     count (previous->root, "media_write_bytes"))
      / (seconds - previous_seconds);
    f->rate_between_samples = true;
  }
  else if (number (r, "server_seconds", &seconds) && seconds > 0)
    f->write_rate = count (r, "media_write_bytes") / seconds;

  vswap_project_life (count (r, "endurance_bytes"), count (r, "medium_bytes"),
                      count (r, "lifetime_media_write_bytes"),
                      count (r, "erase_count_max"), f->write_rate, &f->life);
}

/* "1.2G" as zramctl writes sizes. */
static const char *
short_size (double bytes, char *buffer, size_t size)
{
  static const char units[] = "BKMGTPE";
  unsigned i = 0;

  while (bytes >= 1024 && i + 1 < sizeof units - 1) {
    bytes /= 1024;
    i++;
  }
  if (i == 0)
    snprintf (buffer, size, "%.0fB", bytes);
  else
    snprintf (buffer, size, bytes < 10 ? "%.1f%c" : "%.0f%c", bytes,
              units[i]);
  return buffer;
}

static const char *
life_text (const struct vswap_life *life, char *buffer, size_t size)
{
  if (!life->known)
    snprintf (buffer, size, "-");
  else if (life->seconds_left < 0)
    snprintf (buffer, size, "no writes");
  else if (life->seconds_left == 0)
    snprintf (buffer, size, "used up");
  else
    vswap_duration_text (life->seconds_left, buffer, size);
  return buffer;
}

static void
print_table (FILE *out, struct sample *samples, struct sample *previous,
             size_t n)
{
  char a[32], b[32], c[32], d[32], e[32], g[32];

  fprintf (out, "%-16s %7s %7s %7s %7s %6s %9s %6s %9s %6s  %s\n",
           "NAME", "DISKSIZE", "DATA", "STORED", "MEDIA", "SAVED",
           "FREE-SEGS", "WAMP", "WRITE/s", "WEAR", "LIFE");
  for (size_t i = 0; i < n; i++) {
    struct figures f;

    if (samples[i].root == NULL) {
      fprintf (out, "%-16s %s: %s\n", samples[i].path, "unreadable",
               samples[i].problem);
      continue;
    }
    derive (&samples[i], previous ? &previous[i] : NULL, &f);
    /* Space saving, as vdostats shows it: the data the kernel keeps
     * here against what it costs on the medium. */
    const double saving = f.data_bytes
      ? 100.0 * (1 - (double) f.live_bytes / f.data_bytes) : 0;
    snprintf (g, sizeof g, "%" PRIu64 "/%" PRIu64, f.segments_free,
              f.segments_total);
    char wear[16];
    if (f.life.known)
      snprintf (wear, sizeof wear, "%.2f%%", 100 * f.life.worn);
    else
      snprintf (wear, sizeof wear, "-");
    char life[48];
    fprintf (out, "%-16s %7s %7s %7s %7s %5.0f%% %9s %6.2f %9s %6s  %s%s\n",
             f.name, short_size (f.logical_bytes, a, sizeof a),
             short_size (f.data_bytes, b, sizeof b),
             short_size (f.stored_bytes, c, sizeof c),
             short_size (f.live_bytes, d, sizeof d), saving, g,
             f.media_per_host, short_size (f.write_rate, e, sizeof e),
             wear, life_text (&f.life, life, sizeof life),
             samples[i].age > STALE_SECONDS ? "  (stale: is the server running?)"
             : "");
  }
}

/* JSON: each file's statistics as the server wrote them, and ours. */
static void
print_json (FILE *out, struct sample *samples, struct sample *previous,
            size_t n)
{
  json_object *array = json_object_new_array ();

  for (size_t i = 0; i < n; i++) {
    json_object *o = json_object_new_object ();
    struct figures f;

    json_object_object_add (o, "statsfile",
                            json_object_new_string (samples[i].path));
    if (samples[i].root == NULL) {
      json_object_object_add (o, "error",
                              json_object_new_string (samples[i].problem));
      json_object_array_add (array, o);
      continue;
    }
    derive (&samples[i], previous ? &previous[i] : NULL, &f);
    json_object_object_add (o, "name", json_object_new_string (f.name));
    json_object_object_add (o, "age_seconds",
                            json_object_new_double (samples[i].age));
    json_object_object_add (o, "stale",
                            json_object_new_boolean (samples[i].age
                                                     > STALE_SECONDS));
    json_object_object_add (o, "media_write_bytes_per_second",
                            json_object_new_double (f.write_rate));
    json_object *life = json_object_new_object ();
    json_object_object_add (life, "known",
                            json_object_new_boolean (f.life.known));
    if (f.life.known) {
      json_object_object_add (life, "worn",
                              json_object_new_double (f.life.worn));
      json_object_object_add (life, "worn_by_bytes",
                              json_object_new_double (f.life.worn_by_bytes));
      json_object_object_add (life, "worn_by_erases",
                              json_object_new_double (f.life.worn_by_erases));
      json_object_object_add (life, "remaining_bytes",
                              json_object_new_uint64 (f.life.remaining_bytes));
      json_object_object_add (life, "seconds_left",
                              f.life.seconds_left >= 0
                              ? json_object_new_double (f.life.seconds_left)
                              : NULL);
    }
    json_object_object_add (o, "life", life);
    json_object_object_add (o, "statistics", json_object_get (samples[i].root));
    json_object_array_add (array, o);
  }
  fprintf (out, "%s\n", json_object_to_json_string_ext (array,
                                                        JSON_C_TO_STRING_PLAIN
                                                        | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (array);
}

/* ---- Prometheus ---- */

/* The statistics that only grow while a server runs (they start again at
 * 0 when it restarts, which Prometheus takes as a counter reset), with
 * what each means.  Every other number is a gauge. */
static const struct {
  const char *key, *help;
} counters[] = {
  { "host_read_bytes", "Bytes the clients read." },
  { "host_write_bytes", "Bytes the clients wrote." },
  { "host_read_pages", "Pages the clients read." },
  { "host_write_pages", "Pages the clients wrote." },
  { "host_trim_bytes", "Bytes the clients trimmed." },
  { "host_zero_bytes", "Bytes the clients zeroed." },
  { "trim_requests", "Trim requests." },
  { "zero_requests", "Write-zeroes requests." },
  { "flush_requests", "Flush requests." },
  { "pages_zero", "Pages written that were all zeros (no medium bytes)." },
  { "pages_same_filled", "Pages written that repeat one 8-byte word (no medium bytes)." },
  { "pages_compressed", "Pages stored compressed." },
  { "pages_raw", "Pages stored as they came." },
  { "compressed_input_bytes", "Bytes given to the compressor." },
  { "compressed_output_bytes", "Bytes the compressor made of them." },
  { "media_write_bytes", "Bytes written to the medium, garbage collection included." },
  { "media_read_bytes", "Bytes read from the medium." },
  { "media_discard_bytes", "Bytes discarded (erased) on the medium." },
  { "media_writes", "Writes to the medium." },
  { "media_padding_bytes", "Padding bytes written to fill write units." },
  { "gc_runs", "Garbage collections." },
  { "gc_bytes_moved", "Bytes the garbage collector copied." },
  { "gc_records_moved", "Records the garbage collector copied." },
  { "segments_erased", "Segments erased." },
  { "checksum_failures", "Damaged pages read (returned as EIO)." },
  { "read_retries", "Records read a second time after a failed first read." },
  { "readin_pages", "Pages marked read in (readtrim)." },
  { "readin_rereads", "Reads of pages already read in." },
  { "readin_dropped", "Copies freed by readtrim=on." },
  { "readin_eio", "Reads that failed because readtrim=on had freed the copy." },
  { "enospc_errors", "Writes refused because the store was full." },
  { "io_errors", "Failed medium operations." },
  { "lifetime_opens", "Times the store was opened since it was formatted." },
  { "lifetime_host_write_bytes", "Bytes the clients wrote since the store was formatted." },
  { "lifetime_media_write_bytes", "Bytes written to the medium since the store was formatted." },
  { "lifetime_host_trim_bytes", "Bytes trimmed since the store was formatted." },
  { "lifetime_pages_zero", "Zero pages written since the store was formatted." },
  { "lifetime_pages_same_filled", "Same-filled pages written since the store was formatted." },
  { "lifetime_pages_compressed", "Pages stored compressed since the store was formatted." },
  { "lifetime_pages_raw", "Pages stored raw since the store was formatted." },
  { "lifetime_gc_bytes_moved", "Bytes the garbage collector copied since the store was formatted." },
  { "lifetime_segments_erased", "Segments erased since the store was formatted." },
  { "pressure_guard_firings", "Times the pressure guard ran the OOM killer." },
  { "pressure_guard_events", "Stalls the pressure guard's PSI trigger reported." },
  { "pressure_guard_skipped", "Stalls the pressure guard left alone (memory free)." },
  { "pressure_guard_wedges", "Pressure guard firings for a wedged swap path." },
};

static const struct {
  const char *key, *help;
} gauges[] = {
  { "logical_pages", "Pages of the exported device." },
  { "mapped_unmapped", "Pages never written or trimmed." },
  { "mapped_zero", "Pages that read as zeros." },
  { "mapped_same_filled", "Pages that repeat one 8-byte word." },
  { "mapped_stored", "Pages stored on the medium." },
  { "mapped_dropped", "Pages freed by readtrim=on." },
  { "stored_live_bytes", "Bytes of live records on the medium." },
  { "segments_total", "Data segments of the medium." },
  { "segments_free", "Free data segments." },
  { "segments_open", "Segments open for writing." },
  { "metadata_bytes", "RAM for the map and tables." },
  { "metadata_bytes_per_page", "RAM for the map and tables per logical page." },
  { "endurance_bytes", "Bytes the medium is rated to write (0: unknown)." },
  { "medium_bytes", "Bytes of medium the store uses." },
  { "erase_count_max", "Erase count of the most erased data segment." },
  { "erase_count_mean", "Mean erase count of the data segments." },
  { "media_per_host_bytes", "Medium bytes written per byte the clients wrote, this run." },
  { "lifetime_media_per_host_bytes", "Medium bytes written per byte the clients wrote, since format." },
  { "compression_ratio", "Compressed output per byte of compressor input." },
  { "pressure_guard_skipped_free_kib", "Free memory the last time the pressure guard left a stall alone." },
  { "server_seconds", "Seconds since the server opened the store." },
};

/* Label values escape backslash, quote and newline. */
static void
print_label_value (FILE *out, const char *value)
{
  for (; *value; value++)
    if (*value == '\\')
      fputs ("\\\\", out);
    else if (*value == '"')
      fputs ("\\\"", out);
    else if (*value == '\n')
      fputs ("\\n", out);
    else
      fputc (*value, out);
}

static void
print_value (FILE *out, json_object *v)
{
  if (json_object_get_type (v) == json_type_int) {
    if (json_object_get_int64 (v) < 0)
      fprintf (out, "%" PRId64, json_object_get_int64 (v));
    else
      fprintf (out, "%" PRIu64, json_object_get_uint64 (v));
  }
  else
    fprintf (out, "%.17g", json_object_get_double (v));
}

/* One metric family: HELP, TYPE, then a sample for each file that has
 * the key. */
static void
print_family (FILE *out, struct sample *samples, struct figures *figures,
              size_t n, const char *key, const char *type, const char *help)
{
  bool any = false;

  for (size_t i = 0; i < n; i++) {
    json_object *v;
    if (samples[i].root == NULL ||
        !json_object_object_get_ex (samples[i].root, key, &v) ||
        (json_object_get_type (v) != json_type_int &&
         json_object_get_type (v) != json_type_double))
      continue;
    if (!any) {
      const char *suffix = strcmp (type, "counter") == 0 ? "_total" : "";
      fprintf (out, "# HELP vswap_%s%s %s\n", key, suffix, help);
      fprintf (out, "# TYPE vswap_%s%s %s\n", key, suffix, type);
      any = true;
    }
    fprintf (out, "vswap_%s%s{store=\"", key,
             strcmp (type, "counter") == 0 ? "_total" : "");
    print_label_value (out, figures[i].name);
    fputs ("\"} ", out);
    print_value (out, v);
    fputc ('\n', out);
  }
}

/* A derived gauge: VALUE (i, &value) says whether file I has one. */
static void
print_derived (FILE *out, struct sample *samples, struct figures *figures,
               size_t n, const char *name, const char *help,
               bool (*value) (const struct sample *, const struct figures *,
                              double *))
{
  bool any = false;

  for (size_t i = 0; i < n; i++) {
    double v;
    if (samples[i].root == NULL || !value (&samples[i], &figures[i], &v) ||
        !isfinite (v))
      continue;
    if (!any) {
      fprintf (out, "# HELP vswap_%s %s\n", name, help);
      fprintf (out, "# TYPE vswap_%s gauge\n", name);
      any = true;
    }
    fprintf (out, "vswap_%s{store=\"", name);
    print_label_value (out, figures[i].name);
    fprintf (out, "\"} %.17g\n", v);
  }
}

static bool
statsfile_age (const struct sample *s, const struct figures *f, double *v)
{
  *v = s->age;
  return true;
}

static bool
write_rate (const struct sample *s, const struct figures *f, double *v)
{
  *v = f->write_rate;
  return true;
}

static bool
life_worn (const struct sample *s, const struct figures *f, double *v)
{
  *v = f->life.worn;
  return f->life.known;
}

static bool
life_seconds_left (const struct sample *s, const struct figures *f, double *v)
{
  *v = f->life.seconds_left;
  return f->life.known && f->life.seconds_left >= 0;
}

static bool
is_listed (const char *key)
{
  for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
    if (strcmp (key, counters[i].key) == 0)
      return true;
  for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
    if (strcmp (key, gauges[i].key) == 0)
      return true;
  return false;
}

static bool
is_metric_name (const char *key)
{
  if (!*key)
    return false;
  for (const char *c = key; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
          (c > key && *c >= '0' && *c <= '9')))
      return false;
  return true;
}

static void
print_prometheus (FILE *out, struct sample *samples, struct sample *previous,
                  size_t n)
{
  struct figures *figures = calloc (n ? n : 1, sizeof *figures);

  if (figures == NULL) {
    tool_error (COMMAND, "out of memory");
    return;
  }
  for (size_t i = 0; i < n; i++)
    if (samples[i].root)
      derive (&samples[i], previous ? &previous[i] : NULL, &figures[i]);

  for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
    print_family (out, samples, figures, n, counters[i].key, "counter",
                  counters[i].help);
  for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
    print_family (out, samples, figures, n, gauges[i].key, "gauge",
                  gauges[i].help);
  /* Numbers a newer server writes that this vswap does not know yet:
   * gauges, so that nothing is lost or mistyped.  Each key once. */
  for (size_t i = 0; i < n; i++) {
    if (samples[i].root == NULL)
      continue;
    json_object_object_foreach (samples[i].root, key, v) {
      (void) v;
      bool earlier = false;
      for (size_t j = 0; j < i && !earlier; j++)
        earlier = samples[j].root &&
          json_object_object_get_ex (samples[j].root, key, NULL);
      if (!earlier && !is_listed (key) && is_metric_name (key))
        print_family (out, samples, figures, n, key, "gauge",
                      "A statistic of the vswap server.");
    }
  }
  print_derived (out, samples, figures, n, "statsfile_age_seconds",
                 "Seconds since the server last wrote its statistics file.",
                 statsfile_age);
  print_derived (out, samples, figures, n, "media_write_bytes_per_second",
                 "Medium bytes written a second (this run's average, or "
                 "between samples under --watch).", write_rate);
  print_derived (out, samples, figures, n, "life_worn_ratio",
                 "Share of the medium's rated endurance used (1 = all).",
                 life_worn);
  print_derived (out, samples, figures, n, "life_seconds_left",
                 "Projected seconds until the rated endurance is used up, "
                 "at the write rate.", life_seconds_left);
  free (figures);
}

/* Write the output to PATH.tmp and rename it over PATH, or to stdout. */
static int
emit (enum output output, const char *path, struct sample *samples,
      struct sample *previous, size_t n)
{
  char *tmp = NULL;
  FILE *out = stdout;

  if (path) {
    if (asprintf (&tmp, "%s.tmp", path) == -1) {
      tool_error (COMMAND, "out of memory");
      return -1;
    }
    out = fopen (tmp, "w");
    if (out == NULL) {
      tool_error (COMMAND, "--output %s: cannot create %s: %s: give a path "
                  "in a directory that exists and is writable", path, tmp,
                  strerror (errno));
      free (tmp);
      return -1;
    }
  }
  switch (output) {
  case OUTPUT_TABLE:
    print_table (out, samples, previous, n);
    break;
  case OUTPUT_JSON:
    print_json (out, samples, previous, n);
    break;
  case OUTPUT_PROMETHEUS:
    print_prometheus (out, samples, previous, n);
    break;
  }
  if (path) {
    const bool failed = ferror (out) | (fclose (out) != 0);
    if (failed || rename (tmp, path) == -1) {
      tool_error (COMMAND, "--output %s: %s", path, strerror (errno));
      unlink (tmp);
      free (tmp);
      return -1;
    }
    free (tmp);
  }
  else
    fflush (stdout);
  return 0;
}

int
vswap_stats_main (int argc, char *argv[])
{
  enum output output = OUTPUT_TABLE;
  const char *output_path = NULL;
  double interval = 0;
  glob_t found = { 0 };
  char **paths;
  size_t n;
  int c, status = EXIT_OK;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":h", long_options, NULL)) != -1) {
    switch (c) {
    case 'j':
      output = OUTPUT_JSON;
      break;
    case 'p':
      output = OUTPUT_PROMETHEUS;
      break;
    case 'w': {
      char *end;
      interval = 2;
      if (optarg) {
        errno = 0;
        interval = strtod (optarg, &end);
        if (errno || end == optarg || *end || !(interval >= 0.1) ||
            interval > 86400) {
          tool_error (COMMAND, "--watch=%s: not a number of seconds from "
                      "0.1 to 86400: give e.g. --watch=5", optarg);
          return EXIT_USAGE;
        }
      }
      break;
    }
    case 'o':
      output_path = optarg;
      break;
    case 'h':
      usage ();
      return EXIT_OK;
    default:
      return tool_bad_option (COMMAND, c, argv);
    }
  }

  if (optind < argc) {
    paths = argv + optind;
    n = argc - optind;
  }
  else {
    if (glob (DEFAULT_PATTERN, 0, NULL, &found) != 0 || found.gl_pathc == 0) {
      tool_error (COMMAND, "no statistics in " DEFAULT_PATTERN ": is a "
                  "vswap server running under systemd?  Otherwise give "
                  "the path of its statsfile=");
      globfree (&found);
      return EXIT_PROBLEMS;
    }
    paths = found.gl_pathv;
    n = found.gl_pathc;
  }

  struct sample *samples = calloc (n, sizeof *samples);
  struct sample *previous = calloc (n, sizeof *previous);
  if (samples == NULL || previous == NULL) {
    tool_error (COMMAND, "out of memory");
    return EXIT_PROBLEMS;
  }
  for (size_t i = 0; i < n; i++)
    samples[i].path = previous[i].path = paths[i];

  const bool clear = interval > 0 && output == OUTPUT_TABLE &&
    output_path == NULL && isatty (STDOUT_FILENO);
  for (bool first = true;; first = false) {
    for (size_t i = 0; i < n; i++)
      read_sample (&samples[i]);
    if (clear)
      fputs ("\033[H\033[2J", stdout);
    if (emit (output, output_path, samples, first ? NULL : previous, n) < 0) {
      status = EXIT_PROBLEMS;
      break;
    }
    if (interval == 0) {
      for (size_t i = 0; i < n; i++)
        if (samples[i].root == NULL) {
          if (output != OUTPUT_TABLE)
            tool_error (COMMAND, "%s: %s", samples[i].path,
                        samples[i].problem);
          status = EXIT_PROBLEMS;
        }
      break;
    }
    /* Keep this sample for the rates of the next. */
    struct sample *swap = previous;
    previous = samples;
    samples = swap;
    const double wake = previous[0].taken + interval;
    const double wait = wake - monotonic_now ();
    if (wait > 0)
      nanosleep (&(struct timespec) { (time_t) wait,
                                      (long) ((wait - (time_t) wait) * 1e9) },
                 NULL);
  }

  for (size_t i = 0; i < n; i++) {
    if (samples[i].root)
      json_object_put (samples[i].root);
    if (previous[i].root)
      json_object_put (previous[i].root);
  }
  free (samples);
  free (previous);
  globfree (&found);
  return status;
}
