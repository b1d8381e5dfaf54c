/* vswap: a simulated flash medium, for tests and for people who want to
 * know what a workload would cost on flash before they buy the card.
 *
 * The medium lives in RAM and answers to two models at once, fed by the
 * same stream of requests:
 *
 * 1. Raw NAND, which the store must obey.  The medium is cut into erase
 *    blocks, and each block into program units (pages).  A unit can be
 *    programmed once between two erases of its block; programming it
 *    again is refused with EIO and counted as a violation, as is a
 *    discard that is not whole erase blocks (NAND cannot erase less).
 *    Discard erases whole blocks and counts the erase per block.  Erased
 *    flash reads as 0xff (or as zeros with erased_zeroes), so
 *    geometry.discard_zeroes is true only in that case.  Programming a
 *    block out of order (below a unit already programmed in it, which
 *    MLC NAND forbids) is counted but allowed.  The geometry says so: the
 *    write and read unit are the program unit, the erase block is the
 *    erase block, at most open_aus segments open (for model 2), discard
 *    works.  With allow_overwrite the rule is off (overwrites are only
 *    counted): a plain card, to run what a store would not do on it.
 *
 * 2. The translation layer of a cheap SD card, reported separately.  The
 *    card maps allocation units (AUs) of au bytes; at most open_aus are
 *    open for writing.  A write at the sequential tail of an open AU costs
 *    the pages it programs.  A write anywhere else opens the AU, closing
 *    the least recently used one if too many are open, or, below the tail
 *    of an AU already open, closes and reopens that very AU.  Opening at
 *    page P copies the AU's valid pages before P into a fresh block, and
 *    closing copies the valid pages after the tail, then erases the old
 *    block: a read-erase-rewrite of the whole AU, counted as an AU
 *    rewrite whenever anything had to be copied.  Discard marks pages
 *    invalid so that they are not copied; a discard of a whole AU erases
 *    it at once.  This model counts cost; it never refuses a write, and
 *    what a power cut takes back from a volatile cache stays counted.
 *
 *    With a time model (timing.on) it also adds up how long the card is
 *    busy with what it counts: each write or discard request, each host
 *    page programmed, each page copied by an AU rewrite, each AU erased.
 *    The defaults are fitted to the flashbench open-AU figures of a cheap
 *    SD card with 4 MiB AUs and two open (flashbench's README: 8.79 MiB/s
 *    in 4 MiB writes and 6.27 MiB/s in 256 KiB writes with two AUs open,
 *    912 KiB/s with a third): 10.6 ms a request, 9.2 MiB/s programmed,
 *    22.3 MiB/s copied, 67 ms an erase, which gives back each of the ten
 *    published figures within 12%.  Reads are not timed.  The model is
 *    no card's datasheet: it is there to compare write patterns.
 *
 * Faults, armed at open or later with vswap_simulated_set_faults:
 * - fail_after: the Nth operation (read, write, discard or flush) fails
 *   with EIO and does nothing; later operations succeed.
 * - power_cut_after: the Nth write (writes refused by the NAND rule do
 *   not count) is torn at a random byte: the bytes before it land, the
 *   rest do not, and a page with a byte landed counts as programmed.  It
 *   returns EIO and power stays off: every operation fails with EIO
 *   until vswap_simulated_restore_power, which keeps the contents, so
 *   that a test can open the store again.  tear_within keeps the tear in
 *   the first bytes of the write, where a header would be.
 * - bitflip_rate: each bit read comes back flipped with this probability
 *   (transient: the stored bit is intact).  vswap_simulated_corrupt flips
 *   a stored bit for good.
 * Writes land when they return, except the torn one.  With volatile_cache
 * the medium has a write cache instead: at a power cut each write since
 * the last flush independently lands, is lost, or is torn.  A discard
 * writes the cache back first.
 *
 * Everything random comes from one generator seeded with seed, so a seed
 * and a workload replay the same faults.  The medium is thread-safe: one
 * mutex serialises its operations.
 */
#ifndef VSWAP_SIMULATED_H
#define VSWAP_SIMULATED_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "medium.h"

#define VSWAP_SIMULATED_PREFIX "sim:"

/* Faults to inject.  Zero turns each off.  Counts start when the faults
 * are armed (at open, or at vswap_simulated_set_faults). */
struct vswap_simulated_faults {
  uint64_t fail_after;          /* this operation fails with EIO */
  uint64_t power_cut_after;     /* this write is torn, then power is off */
  uint64_t tear_within;         /* the tear lands in this many first bytes
                                   of the write (0: anywhere in it) */
  double bitflip_rate;          /* probability that a bit read flips */
};

/* The card's time model.  Zero fields take the defaults fitted to
 * flashbench's figures (see above); the others must be above zero. */
struct vswap_simulated_timing {
  bool on;
  double request_seconds;       /* per write or discard request */
  double program_bytes_per_second;      /* host data programmed */
  double copy_bytes_per_second;         /* pages an AU rewrite copies */
  double erase_seconds;         /* per AU erased */
};

/* Zero means the default given. */
struct vswap_simulated_options {
  uint64_t size;                /* bytes; cut down to whole erase blocks */
  uint32_t erase_block;         /* NAND erase block: 4 MiB */
  uint32_t program_unit;        /* NAND page, the write unit: 4 KiB */
  uint32_t au;                  /* SD card allocation unit: 4 MiB */
  uint32_t open_aus;            /* AUs the card keeps open: 2 */
  bool erased_zeroes;           /* erased flash reads as 0, not 0xff */
  bool allow_overwrite;         /* count overwrites instead of refusing */
  bool volatile_cache;          /* unflushed writes may be lost */
  bool read_only;
  bool trace;                   /* each write, erase and fault on stderr */
  uint64_t seed;                /* 0: a fixed default */
  struct vswap_simulated_faults faults;
  struct vswap_simulated_timing timing;
};

/* Everything counted since open.  Pages are program units. */
struct vswap_simulated_counters {
  /* What the host asked for (successful requests). */
  uint64_t host_reads, host_read_bytes;
  uint64_t host_writes, host_write_bytes;
  uint64_t host_discards, host_discard_bytes;
  uint64_t host_flushes;
  /* Raw NAND. */
  uint64_t page_programs;
  uint64_t block_erases;
  uint32_t max_block_erases;    /* the most erased block */
  double mean_block_erases;
  uint64_t program_violations;  /* writes over programmed pages */
  uint64_t discard_violations;  /* discards of part of an erase block */
  uint64_t out_of_order_programs;
  uint64_t overwrites;          /* allowed by allow_overwrite */
  /* Most erase blocks partly programmed and not finished at once: the
   * writer's open segments, to hold against max_open_segments. */
  uint32_t max_open_blocks;
  /* The SD card's translation layer. */
  uint64_t ftl_page_programs;   /* host pages plus copied pages */
  uint64_t ftl_copied_pages;
  uint64_t ftl_au_opens;
  uint64_t ftl_au_rewrites;     /* AUs closed with copying (GC) */
  uint64_t ftl_erases;
  uint32_t ftl_max_au_erases;
  double ftl_mean_au_erases;
  /* The time model (zero without it): seconds the card was busy, and
   * the parts of it. */
  double card_seconds;
  double card_request_seconds, card_program_seconds, card_copy_seconds,
    card_erase_seconds;
  /* Faults. */
  uint64_t injected_errors;     /* fail_after, and requests while off */
  uint64_t bitflips;
  uint64_t power_cuts;
  bool power_off;
  uint64_t last_cut_offset;     /* medium offset of the torn write */
  uint64_t last_cut_length;
  uint64_t last_cut_landed;     /* its bytes that landed */
  uint64_t cache_writes_lost;   /* volatile_cache: dropped or torn */
};

/* Open a simulated medium with OPTIONS.  Returns NULL and fills ERR on
 * failure. */
struct vswap_medium *
vswap_simulated_medium_open (const struct vswap_simulated_options *options,
                             struct vswap_error *err);

/* Parse the part of a spec after "sim:":
 *   SIZE[,erase-block=4M][,program-unit=4K][,au=4M][,open-aus=2]
 *       [,fail-after=N][,power-cut-after=N][,tear-within=N]
 *       [,bitflip-rate=R][,seed=S]
 *       [,erased=ff|00][,overwrite=on|off][,cache=off|volatile]
 *       [,trace=on|off]
 *       [,time=on|off][,time-request=MS][,time-program=MIB/S]
 *       [,time-copy=MIB/S][,time-erase=MS]
 * (a time-* key turns the time model on)
 * into OPTIONS, whose other fields are left alone.  Returns 0, or
 * -EINVAL with ERR naming the bad key. */
int vswap_simulated_parse (const char *text,
                           struct vswap_simulated_options *options,
                           struct vswap_error *err);

/* Open the medium named by TEXT (a spec without its "sim:").  The erase
 * block and write unit of OPTIONS, if set, stand for erase-block and
 * program-unit where the spec does not name them; read_only is honoured.
 * For vswap_medium_open. */
struct vswap_medium *
vswap_simulated_medium_open_spec (const char *text,
                                  const struct vswap_medium_options *options,
                                  struct vswap_error *err);

/* These take any medium and return -EINVAL unless it is a simulated one. */

/* Copy the counters into COUNTERS. */
int vswap_simulated_counters (struct vswap_medium *medium,
                              struct vswap_simulated_counters *counters);

/* Replace the armed faults with FAULTS, counting from now. */
int vswap_simulated_set_faults (struct vswap_medium *medium,
                                const struct vswap_simulated_faults *faults);

/* Cut the power now, between requests (with volatile_cache, unflushed
 * writes may be lost).  Later requests fail with EIO. */
int vswap_simulated_power_cut (struct vswap_medium *medium);

/* Power is back: requests work again, on the contents as the cut left
 * them.  Disarms fail_after and power_cut_after. */
int vswap_simulated_restore_power (struct vswap_medium *medium);

/* Flip bit BIT (0..7) of the byte at OFFSET for good: rot. */
int vswap_simulated_corrupt (struct vswap_medium *medium, uint64_t offset,
                             unsigned bit);

#endif /* VSWAP_SIMULATED_H */
