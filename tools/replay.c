/* vswap replay: run a request stream (a recorded trace, or a synthetic
 * overwrite workload) against a fresh store on any medium, offline, and
 * report what it cost the medium: media ÷ host bytes, erases, erase
 * spread, GC bytes moved.  With --straight the same stream goes straight
 * onto the simulated card, as if the card were the swap partition.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "medium.h"
#include "simulated.h"
#include "store.h"
#include "tools.h"
#include "trace.h"

#define COMMAND "replay"

enum workload { WORKLOAD_TRACE, WORKLOAD_UNIFORM, WORKLOAD_HOTCOLD };
enum data_kind { DATA_RANDOM, DATA_HEAP };

struct replay_options {
  const char *trace;
  const char *medium;           /* NULL: a simulated card */
  const char *sim;              /* sim spec without "sim:" */
  uint64_t size;                /* simulated card size */
  uint64_t straight_size;       /* --straight: the card holds the device */
  uint64_t erase_block;
  bool erase_block_given;       /* --erase-block: also for --medium */
  uint64_t au;
  enum vswap_compression compression;
  enum vswap_readtrim readtrim;
  bool straight;
  bool card_time;               /* the card's time model (time=on) */
  bool json;
  enum workload workload;
  double fill;                  /* percent */
  enum data_kind data;
  unsigned overwrites;          /* measured device overwrites */
  unsigned warmup;              /* device overwrites before measuring */
  uint64_t seed;
};

/* What one run measured. */
struct replay_result {
  uint64_t host_write_bytes, media_write_bytes, gc_bytes_moved;
  uint64_t padding_bytes;
  uint64_t segments_erased;
  uint64_t compressed_in, compressed_out;
  uint64_t card_erases, card_programs, nand_erases;
  double card_seconds;          /* the card's time model */
  uint32_t max_erase;
  double mean_erase;
  uint64_t requests, reads, writes, trims, zeroes, flushes;
  uint64_t live_pages, capacity, segment_size, segment_count;
  int errors;
};

static const struct option long_options[] = {
  { "help", no_argument, NULL, 'h' },
  { "medium", required_argument, NULL, 'm' },
  { "sim", required_argument, NULL, 'S' },
  { "size", required_argument, NULL, 's' },
  { "erase-block", required_argument, NULL, 'e' },
  { "au", required_argument, NULL, 'a' },
  { "compress", required_argument, NULL, 'c' },
  { "readtrim", required_argument, NULL, 'r' },
  { "straight", no_argument, NULL, 't' },
  { "card-time", no_argument, NULL, 'T' },
  { "json", no_argument, NULL, 'j' },
  { "synthetic", required_argument, NULL, 'y' },
  { "fill", required_argument, NULL, 'f' },
  { "data", required_argument, NULL, 'd' },
  { "overwrites", required_argument, NULL, 'o' },
  { "warmup", required_argument, NULL, 'w' },
  { "seed", required_argument, NULL, 'x' },
  { NULL, 0, NULL, 0 },
};

static void
usage (void)
{
  printf ("Usage: vswap replay TRACE [OPTIONS]\n"
          "       vswap replay --synthetic uniform|hotcold [OPTIONS]\n"
          "\n"
          "Format a fresh store on a medium (a simulated SD card by default),\n"
          "run a request stream through it, and report what the medium paid:\n"
          "media bytes written ÷ host bytes written, erases, the erase spread\n"
          "(most erased segment ÷ mean), and the bytes GC moved.\n"
          "\n"
          "TRACE is a file recorded by the plugin's trace=PATH key.  Without\n"
          "one, --synthetic writes every page once, then overwrites random\n"
          "4 KiB pages: uniform, or hotcold (80%% of writes to 20%% of the\n"
          "pages).  Logical fill is live logical data ÷ the store's data\n"
          "capacity (the segments minus the two superblock segments); only\n"
          "the overwrites after the warm-up are counted.\n"
          "\n"
          "Options:\n"
          "  --medium SPEC        format a store on SPEC instead (memory:SIZE,\n"
          "                       a file, ...): what SPEC held is lost\n"
          "  --sim SPEC           simulated card spec, as after \"sim:\"\n"
          "  --size SIZE          simulated card size (default 256M)\n"
          "  --erase-block SIZE   erase block = segment size (default 1M;\n"
          "                       with --medium, the medium's own)\n"
          "  --au SIZE            card allocation unit (default: erase block)\n"
          "  --compress none|zstd compression of the store (default none)\n"
          "  --readtrim off|hint|on  (default off)\n"
          "  --straight           also write the stream straight onto a card\n"
          "                       as large as the traced device\n"
          "  --card-time          time the simulated card (its time=on model\n"
          "                       of a cheap SD card): card-seconds\n"
          "  --json               one JSON object instead of text\n"
          "  --synthetic uniform|hotcold\n"
          "  --fill PERCENT       logical fill (default 80)\n"
          "  --data random|heap   page contents (default random); heap pages\n"
          "                       look like anonymous memory (see vswap(8))\n"
          "  --warmup N           device overwrites before measuring (4)\n"
          "  --overwrites N       device overwrites measured (4)\n"
          "  --seed N             random seed (default 1)\n");
}

/* ---- page contents ---- */

static uint64_t
next_random (uint64_t *state)
{
  /* xorshift64*: fast, and a seed replays the same workload. */
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * UINT64_C (2685821657736338717);
}

static void
random_page (uint64_t *state, uint8_t *page)
{
  for (size_t i = 0; i < VSWAP_PAGE_SIZE; i += 8) {
    const uint64_t v = next_random (state);
    memcpy (page + i, &v, 8);
  }
}

/* A page that looks like anonymous memory: runs of zero words, heap
 * pointers (one 47-bit base, 16-byte aligned offsets within 1 MiB),
 * small integers, short English text, and a little entropy (hashes,
 * floats).  The mix compresses about 3:1 with zstd level 1; replay prints
 * the ratio it measured. */
static void
heap_page (uint64_t *state, uint8_t *page)
{
  static const char *const words[] = {
    "the ", "swap ", "page ", "memory ", "value ", "error ", "count ",
    "user ", "name ", "file ", "data ", "list ", "node ", "size ", "key ",
    "http://", "/usr/lib/", ".so", "NULL", "0x", "true", "false", "id=",
  };
  const size_t nwords = sizeof words / sizeof words[0];
  size_t at = 0;

  while (at < VSWAP_PAGE_SIZE) {
    const uint64_t r = next_random (state);
    const unsigned kind = r % 100;
    size_t run = 8 * (1 + (r >> 8) % 12);        /* 8..96 bytes */
    if (run > VSWAP_PAGE_SIZE - at)
      run = VSWAP_PAGE_SIZE - at;
    uint8_t *p = page + at;
    if (kind < 33)                              /* zero run */
      memset (p, 0, run);
    else if (kind < 58) {                       /* pointers */
      for (size_t i = 0; i + 8 <= run; i += 8) {
        const uint64_t v = UINT64_C (0x00007f3a5c000000)
          + (next_random (state) % (64 << 10)) * 16;
        memcpy (p + i, &v, 8);
      }
    }
    else if (kind < 78) {                       /* small integers */
      for (size_t i = 0; i + 8 <= run; i += 8) {
        const uint64_t v = next_random (state) % 256;
        memcpy (p + i, &v, 8);
      }
    }
    else if (kind < 93) {                       /* text */
      size_t i = 0;
      while (i < run) {
        const char *w = words[next_random (state) % nwords];
        for (size_t j = 0; w[j] && i < run; j++)
          p[i++] = (uint8_t) w[j];
      }
    }
    else {                                      /* entropy */
      for (size_t i = 0; i + 8 <= run; i += 8) {
        const uint64_t v = next_random (state);
        memcpy (p + i, &v, 8);
      }
    }
    at += run;
  }
}

/* ---- the medium ---- */

static struct vswap_medium *
open_card (const struct replay_options *o, bool straight,
           struct vswap_error *err)
{
  char spec[512];
  struct vswap_medium_options options = {
    .lock = VSWAP_MEDIUM_LOCK_EXCLUSIVE,
  };

  if (!straight && o->medium) {
    if (o->erase_block_given)
      options.erase_block = o->erase_block;
    return vswap_medium_open (o->medium, &options, err);
  }
  /* Straight onto the card, the host writes and discards 4 KiB pages: the
   * NAND rules of erase blocks do not apply (the card's FTL hides them),
   * only the FTL model, with the same AUs, counts. */
  const char *straight_keys = straight ? ",erase-block=4K,overwrite=on" : "";
  const char *time_keys = o->card_time ? ",time=on" : "";
  if (o->sim)
    snprintf (spec, sizeof spec, "sim:%s%s%s", o->sim, straight_keys,
              time_keys);
  else
    snprintf (spec, sizeof spec, "sim:%" PRIu64 ",erase-block=%" PRIu64
              ",au=%" PRIu64 "%s%s", straight && o->straight_size > o->size ?
              o->straight_size : o->size, o->erase_block, o->au,
              straight_keys, time_keys);
  return vswap_medium_open (spec, &options, err);
}

static void
card_counters (struct vswap_medium *medium, struct replay_result *result)
{
  struct vswap_simulated_counters c;
  if (vswap_simulated_counters (medium, &c) == 0) {
    result->card_erases = c.ftl_erases;
    result->card_programs = c.ftl_page_programs;
    result->nand_erases = c.block_erases;
    result->card_seconds = c.card_seconds;
  }
}

/* ---- running a stream ---- */

/* Where requests go: a store, or the card itself (--straight). */
struct target {
  struct vswap_store *store;
  struct vswap_medium *card;
  uint8_t *buffer;              /* aligned, for the card */
  size_t buffer_size;
};

static int
target_write (struct target *t, const void *data, uint32_t length,
              uint64_t offset, bool fua)
{
  if (t->store)
    return vswap_store_write (t->store, data, length, offset, fua);
  /* The card takes whole 4 KiB pages, as a block device would. */
  if (offset % 4096 || length % 4096)
    return -EINVAL;
  if (length > t->buffer_size) {
    free (t->buffer);
    t->buffer = aligned_alloc (VSWAP_MEDIUM_BUFFER_ALIGN, length);
    t->buffer_size = t->buffer ? length : 0;
    if (!t->buffer)
      return -ENOMEM;
  }
  memcpy (t->buffer, data, length);
  int r = vswap_medium_write (t->card, t->buffer, length, offset);
  if (r == 0 && fua)
    r = vswap_medium_flush (t->card);
  return r;
}

static int
target_trim (struct target *t, uint32_t length, uint64_t offset, bool zero)
{
  if (t->store)
    return zero ? vswap_store_zero (t->store, length, offset, false)
      : vswap_store_trim (t->store, length, offset, false);
  /* The whole pages inside: a discard on the card. */
  const uint64_t start = (offset + 4095) / 4096 * 4096;
  const uint64_t end = (offset + length) / 4096 * 4096;
  if (end <= start)
    return 0;
  return vswap_medium_discard (t->card, start, end - start);
}

static int
target_read (struct target *t, uint32_t length, uint64_t offset)
{
  if (!t->store)
    return 0;                   /* reads cost the card nothing we count */
  void *buffer = malloc (length);
  if (!buffer)
    return -ENOMEM;
  const int r = vswap_store_read (t->store, buffer, length, offset);
  free (buffer);
  return r == -EIO ? 0 : r;     /* readtrim=on: a re-read is EIO */
}

static int
run_trace (const struct replay_options *o, struct target *t,
           struct replay_result *result)
{
  struct vswap_error err;
  uint64_t size;
  struct vswap_trace_reader *reader = vswap_trace_reader_open (o->trace,
                                                               &size, &err);
  if (!reader) {
    tool_error (COMMAND, "%s", err.message);
    return -1;
  }
  struct vswap_trace_record rec;
  const void *data;
  int r;
  while ((r = vswap_trace_next (reader, &rec, &data, &err)) == 1) {
    int e = 0;
    result->requests++;
    switch (rec.operation) {
    case VSWAP_TRACE_WRITE:
      result->writes++;
      e = target_write (t, data, rec.length, rec.offset,
                        rec.flags & VSWAP_TRACE_FUA);
      break;
    case VSWAP_TRACE_TRIM:
    case VSWAP_TRACE_ZERO:
      rec.operation == VSWAP_TRACE_TRIM ? result->trims++ : result->zeroes++;
      e = target_trim (t, rec.length, rec.offset,
                       rec.operation == VSWAP_TRACE_ZERO);
      break;
    case VSWAP_TRACE_FLUSH:
      result->flushes++;
      e = t->store ? vswap_store_flush (t->store)
        : vswap_medium_flush (t->card);
      break;
    case VSWAP_TRACE_READ:
      result->reads++;
      e = target_read (t, rec.length, rec.offset);
      break;
    }
    if (e < 0 && result->errors++ == 0)
      tool_error (COMMAND, "warning: request %" PRIu64 " (operation %u, "
                  "%" PRIu32 " bytes at %" PRIu64 ") failed%s: %s",
                  rec.sequence, rec.operation, rec.length, rec.offset,
                  t->store ? "" : " straight onto the card",
                  strerror (-e));
  }
  if (r < 0)
    tool_error (COMMAND, "warning: %s", err.message);
  vswap_trace_reader_close (reader);
  return 0;
}

/* The page the Ith overwrite goes to. */
static uint64_t
pick_page (const struct replay_options *o, uint64_t *state, uint64_t pages)
{
  const uint64_t r = next_random (state);
  if (o->workload == WORKLOAD_UNIFORM)
    return r % pages;
  /* 80/20: 80% of the writes go to the first 20% of the pages. */
  const uint64_t hot = pages / 5 ? pages / 5 : 1;
  if (r % 100 < 80)
    return (r >> 8) % hot;
  return hot + (r >> 8) % (pages - hot);
}

static int
write_page (const struct replay_options *o, struct target *t,
            uint64_t *state, uint64_t page, struct replay_result *result)
{
  uint8_t buffer[VSWAP_PAGE_SIZE] __attribute__ ((aligned (4096)));
  if (o->data == DATA_HEAP)
    heap_page (state, buffer);
  else
    random_page (state, buffer);
  result->writes++;
  result->requests++;
  const int r = target_write (t, buffer, VSWAP_PAGE_SIZE,
                              page * VSWAP_PAGE_SIZE, false);
  if (r < 0)
    result->errors++;
  return r;
}

/* Called between warm-up and measurement: the counters to subtract. */
struct snapshot {
  struct vswap_statistics statistics;
  uint64_t card_erases, card_programs, nand_erases;
  double card_seconds;
};

static void
take_snapshot (struct target *t, struct vswap_medium *card,
               struct snapshot *s)
{
  struct replay_result r = { 0 };
  memset (s, 0, sizeof *s);
  if (t->store)
    vswap_store_statistics (t->store, &s->statistics);
  card_counters (card, &r);
  s->card_erases = r.card_erases;
  s->card_programs = r.card_programs;
  s->nand_erases = r.nand_erases;
  s->card_seconds = r.card_seconds;
}

static int
run_synthetic (const struct replay_options *o, struct target *t,
               struct vswap_medium *card, uint64_t pages,
               struct snapshot *before, struct replay_result *result)
{
  uint64_t state = o->seed * UINT64_C (0x9e3779b97f4a7c15) + 1;
  uint64_t pick = state ^ UINT64_C (0x5851f42d4c957f2d);

  for (uint64_t p = 0; p < pages; p++)
    if (write_page (o, t, &state, p, result) < 0)
      return -1;
  for (uint64_t i = 0; i < pages * o->warmup; i++)
    if (write_page (o, t, &state, pick_page (o, &pick, pages), result) < 0)
      return -1;
  take_snapshot (t, card, before);
  for (uint64_t i = 0; i < pages * o->overwrites; i++)
    if (write_page (o, t, &state, pick_page (o, &pick, pages), result) < 0)
      return -1;
  return 0;
}

/* Format, open, run, measure.  STRAIGHT: the card alone. */
static int
run (const struct replay_options *o, bool straight,
     struct replay_result *result)
{
  struct vswap_error err;
  struct target t = { 0 };
  struct snapshot before;
  int status = -1;

  memset (result, 0, sizeof *result);
  memset (&before, 0, sizeof before);
  struct vswap_medium *medium = open_card (o, straight, &err);
  if (!medium) {
    tool_error (COMMAND, "%s", err.message);
    return -1;
  }

  uint64_t trace_size = 0;
  if (o->workload == WORKLOAD_TRACE) {
    struct vswap_trace_reader *reader =
      vswap_trace_reader_open (o->trace, &trace_size, &err);
    if (!reader) {
      tool_error (COMMAND, "%s", err.message);
      goto out;
    }
    vswap_trace_reader_close (reader);
  }

  const uint64_t segment_size = medium->geometry.erase_block >= 65536 ?
    medium->geometry.erase_block : o->erase_block;
  const uint64_t segment_count = medium->geometry.capacity / segment_size;
  result->segment_size = segment_size;
  result->segment_count = segment_count;
  result->capacity = (segment_count - 2) * segment_size;
  uint64_t pages = (uint64_t) (o->fill / 100 * (double) result->capacity)
    / VSWAP_PAGE_SIZE;
  if (o->workload == WORKLOAD_TRACE)
    pages = trace_size / VSWAP_PAGE_SIZE;
  result->live_pages = pages;

  if (straight) {
    if (pages * VSWAP_PAGE_SIZE > medium->geometry.capacity) {
      tool_error (COMMAND, "the stream needs %" PRIu64 " bytes but the card "
                  "holds %" PRIu64 ": give a larger --size", pages * 4096,
                  medium->geometry.capacity);
      goto out;
    }
    t.card = medium;
  }
  else {
    const struct vswap_format_options format = {
      .logical_size = pages * VSWAP_PAGE_SIZE,
      .segment_size = (uint32_t) segment_size,
      .compression = o->compression,
    };
    if (vswap_store_format (medium, &format, NULL, NULL, &err) < 0) {
      tool_error (COMMAND, "%s", err.message);
      goto out;
    }
    const struct vswap_open_options open_options = {
      .readtrim = o->readtrim,
      .io_contexts = 1,
    };
    t.store = vswap_store_open (medium, &open_options, &err);
    if (!t.store) {
      tool_error (COMMAND, "%s", err.message);
      goto out;
    }
  }
  take_snapshot (&t, medium, &before);

  if (o->workload == WORKLOAD_TRACE)
    status = run_trace (o, &t, result);
  else
    status = run_synthetic (o, &t, medium, pages, &before, result);

  if (t.store) {
    struct vswap_statistics st;
    vswap_store_flush (t.store);
    vswap_store_statistics (t.store, &st);
    const struct vswap_statistics *b = &before.statistics;
    result->host_write_bytes = st.host_write_bytes - b->host_write_bytes;
    result->media_write_bytes = st.media_write_bytes - b->media_write_bytes;
    result->gc_bytes_moved = st.gc_bytes_moved - b->gc_bytes_moved;
    result->padding_bytes = st.media_padding_bytes - b->media_padding_bytes;
    result->segments_erased = st.segments_erased - b->segments_erased;
    result->compressed_in = st.compressed_input_bytes;
    result->compressed_out = st.compressed_output_bytes;
    /* Spread over the data segments: most erased ÷ mean. */
    uint64_t total = 0, n = 0;
    struct vswap_segment_info info;
    for (uint64_t i = 0; vswap_store_segment_info (t.store, i, &info) == 0;
         i++, n++) {
      total += info.erase_count;
      if (info.erase_count > result->max_erase)
        result->max_erase = info.erase_count;
    }
    result->mean_erase = n ? (double) total / n : 0;
    vswap_store_close (t.store);
  }
  else {
    result->host_write_bytes = medium->bytes_written;
    result->media_write_bytes = medium->bytes_written;
  }
  card_counters (medium, result);
  result->card_erases -= before.card_erases;
  result->card_programs -= before.card_programs;
  result->nand_erases -= before.nand_erases;
  result->card_seconds -= before.card_seconds;

 out:
  free (t.buffer);
  vswap_medium_close (medium);
  return status;
}

/* ---- output ---- */

static const char *
workload_name (const struct replay_options *o)
{
  return o->workload == WORKLOAD_TRACE ? "trace" :
    o->workload == WORKLOAD_UNIFORM ? "uniform" : "hotcold";
}

static double
ratio (uint64_t a, uint64_t b)
{
  return b ? (double) a / (double) b : 0;
}

static void
print_result (const struct replay_options *o, const struct replay_result *v,
              const struct replay_result *s)
{
  const double wa = ratio (v->media_write_bytes, v->host_write_bytes);
  const double spread = v->mean_erase > 0 ? v->max_erase / v->mean_erase : 0;
  const double compression = ratio (v->compressed_out, v->compressed_in);

  if (o->json) {
    printf ("{\"workload\":\"%s\",\"fill_percent\":%.1f,\"data\":\"%s\","
            "\"compression\":\"%s\",\"readtrim\":%d,"
            "\"segment_size\":%" PRIu64 ",\"segments\":%" PRIu64 ","
            "\"data_capacity\":%" PRIu64 ",\"live_pages\":%" PRIu64 ","
            "\"requests\":%" PRIu64 ",\"errors\":%d,"
            "\"host_write_bytes\":%" PRIu64 ",\"media_write_bytes\":%"
            PRIu64 ",\"media_per_host\":%.4f,\"gc_bytes_moved\":%" PRIu64
            ",\"segments_erased\":%" PRIu64 ",\"erase_max\":%" PRIu32
            ",\"erase_mean\":%.3f,\"erase_spread\":%.3f,"
            "\"compressed_ratio\":%.4f,\"card_erases\":%" PRIu64
            ",\"card_page_programs\":%" PRIu64 ",\"padding_bytes\":%" PRIu64
            ",\"card_seconds\":%.3f",
            workload_name (o), o->fill, o->data == DATA_HEAP ? "heap" :
            "random", o->compression == VSWAP_COMPRESS_ZSTD ? "zstd" : "none",
            (int) o->readtrim, v->segment_size, v->segment_count,
            v->capacity, v->live_pages, v->requests, v->errors,
            v->host_write_bytes, v->media_write_bytes, wa, v->gc_bytes_moved,
            v->segments_erased, v->max_erase, v->mean_erase, spread,
            compression, v->card_erases, v->card_programs, v->padding_bytes,
            v->card_seconds);
    if (s)
      printf (",\"straight_card_erases\":%" PRIu64
              ",\"straight_card_page_programs\":%" PRIu64
              ",\"straight_errors\":%d,\"straight_card_seconds\":%.3f",
              s->card_erases, s->card_programs, s->errors, s->card_seconds);
    printf ("}\n");
    return;
  }
  printf ("workload:            %s", workload_name (o));
  if (o->workload != WORKLOAD_TRACE)
    printf (", %.0f%% logical fill (live logical data ÷ data capacity), "
            "%s pages", o->fill, o->data == DATA_HEAP ? "heap" : "random");
  printf ("\n");
  printf ("store:               %" PRIu64 " segments of %" PRIu64 " bytes, "
          "data capacity %" PRIu64 " bytes, %" PRIu64 " logical pages, "
          "compression %s\n", v->segment_count, v->segment_size,
          v->capacity, v->live_pages,
          o->compression == VSWAP_COMPRESS_ZSTD ? "zstd" : "none");
  if (o->workload != WORKLOAD_TRACE)
    printf ("measured:            %u device overwrites after %u of warm-up\n",
            o->overwrites, o->warmup);
  else
    printf ("requests:            %" PRIu64 " (%" PRIu64 " writes, %" PRIu64
            " trims, %" PRIu64 " zeroes, %" PRIu64 " flushes, %" PRIu64
            " reads)\n", v->requests, v->writes, v->trims, v->zeroes,
            v->flushes, v->reads);
  if (v->errors)
    printf ("errors:              %d requests failed\n", v->errors);
  printf ("host bytes written:  %" PRIu64 "\n", v->host_write_bytes);
  printf ("media bytes written: %" PRIu64 "\n", v->media_write_bytes);
  printf ("media / host:        %.3f\n", wa);
  if (compression > 0)
    printf ("zstd output / input: %.3f\n", compression);
  printf ("GC bytes moved:      %" PRIu64 "\n", v->gc_bytes_moved);
  printf ("padding written:     %" PRIu64 " (chunk ends rounded to the "
          "write unit)\n", v->padding_bytes);
  printf ("segments erased:     %" PRIu64 "\n", v->segments_erased);
  printf ("erase spread:        %.2f (max %" PRIu32 ", mean %.2f)\n",
          spread, v->max_erase, v->mean_erase);
  printf ("card erases:         %" PRIu64 " (FTL model), %" PRIu64
          " NAND blocks\n", v->card_erases, v->nand_erases);
  if (o->card_time)
    printf ("card busy:           %.1f s (time model, writes and erases)\n",
            v->card_seconds);
  if (s) {
    printf ("straight onto card:  %" PRIu64 " erases, %" PRIu64
            " page programs%s\n", s->card_erases, s->card_programs,
            s->errors ? " (some requests failed)" : "");
    if (v->card_erases)
      printf ("erases straight / through vswap: %.1f\n",
              ratio (s->card_erases, v->card_erases));
    if (o->card_time) {
      printf ("straight card busy:  %.1f s\n", s->card_seconds);
      if (v->card_seconds > 0)
        printf ("card-seconds straight / through vswap: %.1f\n",
                s->card_seconds / v->card_seconds);
    }
  }
}

static int
parse_count (const char *text, unsigned *value)
{
  char *end;
  errno = 0;
  const unsigned long v = strtoul (text, &end, 10);
  if (errno || end == text || *end || v > 1000)
    return -1;
  *value = (unsigned) v;
  return 0;
}

int
vswap_replay_main (int argc, char *argv[])
{
  struct replay_options o = {
    .size = 256 << 20, .erase_block = 1 << 20, .fill = 80,
    .overwrites = 4, .warmup = 4, .seed = 1, .workload = WORKLOAD_TRACE,
  };
  int c;

  opterr = 0;
  while ((c = getopt_long (argc, argv, ":h", long_options, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'h':
      usage ();
      return EXIT_OK;
    case 'm':
      o.medium = optarg;
      break;
    case 'S':
      o.sim = strncmp (optarg, "sim:", 4) == 0 ? optarg + 4 : optarg;
      break;
    case 's':
    case 'e':
    case 'a': {
      uint64_t v;
      if (vswap_parse_size (optarg, &v) < 0 || v == 0) {
        tool_error (COMMAND, "bad size \"%s\": write e.g. 256M or 1M",
                    optarg);
        return EXIT_USAGE;
      }
      *(c == 's' ? &o.size : c == 'e' ? &o.erase_block : &o.au) = v;
      o.erase_block_given |= c == 'e';
      break;
    }
    case 'c':
      if (strcmp (optarg, "none") == 0)
        o.compression = VSWAP_COMPRESS_NONE;
      else if (strcmp (optarg, "zstd") == 0)
        o.compression = VSWAP_COMPRESS_ZSTD;
      else {
        tool_error (COMMAND, "--compress %s: give none or zstd", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'r':
      if (strcmp (optarg, "off") == 0)
        o.readtrim = VSWAP_READTRIM_OFF;
      else if (strcmp (optarg, "hint") == 0)
        o.readtrim = VSWAP_READTRIM_HINT;
      else if (strcmp (optarg, "on") == 0)
        o.readtrim = VSWAP_READTRIM_ON;
      else {
        tool_error (COMMAND, "--readtrim %s: give off, hint or on", optarg);
        return EXIT_USAGE;
      }
      break;
    case 't':
      o.straight = true;
      break;
    case 'T':
      o.card_time = true;
      break;
    case 'j':
      o.json = true;
      break;
    case 'y':
      if (strcmp (optarg, "uniform") == 0)
        o.workload = WORKLOAD_UNIFORM;
      else if (strcmp (optarg, "hotcold") == 0)
        o.workload = WORKLOAD_HOTCOLD;
      else {
        tool_error (COMMAND, "--synthetic %s: give uniform or hotcold",
                    optarg);
        return EXIT_USAGE;
      }
      break;
    case 'f':
      o.fill = strtod (optarg, &end);
      if (end == optarg || *end || !(o.fill > 0 && o.fill <= 100)) {
        tool_error (COMMAND, "--fill %s: give a percentage above 0, "
                    "up to 100", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'd':
      if (strcmp (optarg, "random") == 0)
        o.data = DATA_RANDOM;
      else if (strcmp (optarg, "heap") == 0)
        o.data = DATA_HEAP;
      else {
        tool_error (COMMAND, "--data %s: give random or heap", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'o':
    case 'w':
      if (parse_count (optarg, c == 'o' ? &o.overwrites : &o.warmup) < 0) {
        tool_error (COMMAND, "--%s %s: give a whole number up to 1000",
                    c == 'o' ? "overwrites" : "warmup", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'x':
      o.seed = strtoull (optarg, &end, 10);
      if (end == optarg || *end) {
        tool_error (COMMAND, "--seed %s: give a whole number", optarg);
        return EXIT_USAGE;
      }
      break;
    default:
      return tool_bad_option (COMMAND, c, argv);
    }
  }
  if (o.workload == WORKLOAD_TRACE) {
    if (optind + 1 != argc) {
      tool_error (COMMAND, "%s: usage: vswap replay TRACE, or vswap replay "
                  "--synthetic uniform|hotcold",
                  optind >= argc ? "no TRACE given" : "one TRACE at a time");
      return EXIT_USAGE;
    }
    o.trace = argv[optind];
  }
  else if (optind != argc) {
    tool_error (COMMAND, "--synthetic takes no TRACE (\"%s\"): give one "
                "or the other", argv[optind]);
    return EXIT_USAGE;
  }
  if (o.au == 0)
    o.au = o.erase_block;
  if (o.straight && o.medium) {
    tool_error (COMMAND, "--straight writes onto a simulated card: drop "
                "--medium (or use --sim)");
    return EXIT_USAGE;
  }

  /* Straight onto the card, the card is the swap partition: it must be
   * as large as the device the trace was recorded on, even when the
   * store is tried on a smaller one. */
  if (o.straight && o.trace) {
    struct vswap_error err;
    struct vswap_trace_reader *reader =
      vswap_trace_reader_open (o.trace, &o.straight_size, &err);
    if (!reader) {
      tool_error (COMMAND, "%s", err.message);
      return EXIT_USAGE;
    }
    vswap_trace_reader_close (reader);
  }

  struct replay_result through, straight;
  if (run (&o, false, &through) < 0)
    return EXIT_PROBLEMS;
  if (o.straight && run (&o, true, &straight) < 0)
    return EXIT_PROBLEMS;
  print_result (&o, &through, o.straight ? &straight : NULL);
  return through.errors ? EXIT_PROBLEMS : EXIT_OK;
}
