/* vswap: the store.  A log-structured, checksummed, compressing page store
 * behind an indirection table, on any medium of flash/medium.h.
 *
 * The store exports a byte-addressed logical device (like a disk).  Every
 * logical 4 KiB page is unmapped, zero, same-filled, or stored as a record
 * in a segment (an erase block) that was written sequentially.  See
 * doc/on-medium-format.md for the bytes and doc/design.md for the why.
 *
 * Thread safety: every function may be called from several threads at once
 * on one store, except vswap_store_close.
 */
#ifndef VSWAP_STORE_H
#define VSWAP_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "medium.h"
#include "uuid.h"

#define VSWAP_PAGE_SIZE 4096

enum vswap_compression {
  VSWAP_COMPRESS_NONE = 0,
  VSWAP_COMPRESS_ZSTD = 1,
};

enum vswap_readtrim {
  VSWAP_READTRIM_OFF = 0,       /* reads change nothing */
  VSWAP_READTRIM_HINT = 1,      /* mark read-in copies; GC prefers them */
  VSWAP_READTRIM_ON = 2,        /* free a copy once read; re-read is EIO */
};

struct vswap_format_options {
  uint64_t logical_size;        /* bytes exported; 0 = 90% of the data area */
  uint32_t segment_size;        /* 0 = the medium's erase block, else 4 MiB */
  uint32_t open_segments;       /* write heads allowed at once; 0 = 2 */
  enum vswap_compression compression;
  int compression_level;        /* zstd level; 0 = default (1) */
  bool compression_chosen;      /* false: the plugin may pick at open */
  /* Bytes the medium is rated to write over its life (40 TBW, or P/E
   * cycles × capacity); 0 = unknown.  Recorded for the projected life. */
  uint64_t endurance;
};

struct vswap_open_options {
  enum vswap_readtrim readtrim;
  /* Override the store's compression for new writes (compress= key). */
  bool override_compression;
  enum vswap_compression compression;
  int compression_level;
  unsigned io_contexts;         /* concurrent requests served; 0 = 16 */
  bool read_only;               /* inspect/check: never write the medium */
  /* Keep the open segment's RAM image in this file (on tmpfs), so that
   * what a killed server acknowledged is written by the next open; a
   * path ending in '/' is a directory for vswap-UUID.buffer.  NULL: no
   * buffer (a kill loses up to 512 KiB of acknowledged writes, 1 MiB
   * with 1 MiB segments).  The
   * file is locked while the store is open and removed by a clean
   * close. */
  const char *buffer;
  /* Recovery reports: called for each damaged record or torn tail found
   * while rebuilding the map (may be NULL). */
  void (*report) (void *opaque, const char *message);
  void *report_opaque;
};

/* Everything counted since the store was opened (and what it holds now). */
struct vswap_statistics {
  /* What the client asked for. */
  uint64_t host_read_bytes, host_write_bytes;
  uint64_t host_read_pages, host_write_pages;
  uint64_t host_trim_bytes, host_zero_bytes;
  uint64_t trim_requests, zero_requests, flush_requests;
  /* How written pages were stored. */
  uint64_t pages_zero, pages_same_filled, pages_compressed, pages_raw;
  uint64_t compressed_input_bytes, compressed_output_bytes;
  /* What reached the medium. */
  uint64_t media_write_bytes, media_read_bytes, media_discard_bytes;
  uint64_t media_writes, media_padding_bytes;
  uint64_t gc_runs, gc_bytes_moved, gc_records_moved, segments_erased;
  /* Trouble and policy. */
  uint64_t checksum_failures;
  uint64_t read_retries;        /* records read twice: the first failed */
  /* Pages whose newest record was found damaged (they read as errors
   * until written again), and segments GC retired for damage. */
  uint64_t pages_lost, segments_retired;
  /* Chunks recovery found whose records do not all verify (torn by a
   * crash, or damaged). */
  uint64_t chunks_damaged;
  uint64_t readin_pages, readin_rereads, readin_dropped, readin_eio;
  uint64_t readin_hints_skipped;        /* the lock was busy: no hint */
  uint64_t enospc_errors, io_errors;
  /* The store lock: its longest hold, and holds over 100 microseconds
   * (doc/design.md: nothing waits for the medium under it). */
  uint64_t lock_hold_max_ns, lock_holds_slow;
  /* Now. */
  uint64_t logical_pages;
  uint64_t mapped_unmapped, mapped_zero, mapped_same_filled, mapped_stored,
           mapped_dropped, mapped_damaged;
  uint64_t stored_live_bytes;   /* bytes of live records on the medium */
  uint64_t segments_total, segments_free, segments_open;
  uint64_t metadata_bytes;      /* RAM for map, bitmaps, segment table */
  double metadata_bytes_per_page;
  /* Wear: what the medium is rated for (superblock; 0 = unknown), the
   * bytes of medium the store uses, and its data segments' erase counts. */
  uint64_t endurance_bytes, medium_bytes;
  uint64_t erase_count_max;
  double erase_count_mean;
  /* Since the store was formatted: what the last clean close recorded
   * plus this open (a crash loses what was counted since that close). */
  uint64_t lifetime_opens;
  uint64_t lifetime_host_write_bytes, lifetime_media_write_bytes;
  uint64_t lifetime_host_trim_bytes;
  uint64_t lifetime_pages_zero, lifetime_pages_same_filled;
  uint64_t lifetime_pages_compressed, lifetime_pages_raw;
  uint64_t lifetime_gc_bytes_moved, lifetime_segments_erased;
};

struct vswap_store;

/* Write a new, empty store onto MEDIUM (superblocks; every data segment is
 * discarded).  PROGRESS, if not NULL, is called with done/total segments.
 * Refuses a geometry that does not fit, with a message naming the fix. */
int vswap_store_format (struct vswap_medium *medium,
                        const struct vswap_format_options *options,
                        void (*progress) (void *opaque, uint64_t done,
                                          uint64_t total),
                        void *progress_opaque,
                        struct vswap_error *err);

/* Open the store on MEDIUM, rebuilding the map from the segments.  The
 * store does not own the medium: close the medium after the store.
 * After a crash, a writable open writes before it returns: the pages a
 * torn write rolled back are written again, and if no segment is free
 * for them, the one segment that holds nothing but that torn write is
 * erased instead (said through options->report). */
struct vswap_store *vswap_store_open (struct vswap_medium *medium,
                                      const struct vswap_open_options *options,
                                      struct vswap_error *err);

/* Start the background garbage collector, a thread that frees segments
 * ahead of need so that writers seldom wait for a collection.  Call it
 * once the process is in its final form (threads do not survive fork:
 * nbdkit's after_fork).  Without it, writers collect when they must.
 * Returns 0 or -errno. */
int vswap_store_start_background (struct vswap_store *store);

/* Flush and free.  Returns the flush result. */
int vswap_store_close (struct vswap_store *store);

/* For tests: drop the store as a crash would, writing nothing (what is
 * still only in RAM is lost, as after kill -9). */
void vswap_store_abandon (struct vswap_store *store);

/* Size of the logical device in bytes. */
uint64_t vswap_store_size (const struct vswap_store *store);

/* Byte-addressed I/O at any offset and length inside the logical device.
 * Read errors are per page: a damaged page is -EIO (and counted).
 * FUA makes the write durable before returning. */
int vswap_store_read (struct vswap_store *store, void *buffer,
                      uint64_t length, uint64_t offset);
int vswap_store_write (struct vswap_store *store, const void *buffer,
                       uint64_t length, uint64_t offset, bool fua);
/* Drop the mapping of every whole page in the range (partial pages are
 * zeroed), durably recorded. */
int vswap_store_trim (struct vswap_store *store, uint64_t length,
                      uint64_t offset, bool fua);
/* Make the range read as zeros. */
int vswap_store_zero (struct vswap_store *store, uint64_t length,
                      uint64_t offset, bool fua);
/* Everything acknowledged before this call is durable when it returns. */
int vswap_store_flush (struct vswap_store *store);

/* Extents: call EMIT for each run of pages with the same kind. */
enum vswap_extent_kind {
  VSWAP_EXTENT_DATA = 0,
  VSWAP_EXTENT_ZERO = 1,        /* reads as zeros, costs no medium */
  VSWAP_EXTENT_HOLE = 2,        /* unmapped or trimmed: reads as zeros */
};
int vswap_store_extents (struct vswap_store *store, uint64_t length,
                         uint64_t offset,
                         int (*emit) (void *opaque, uint64_t offset,
                                      uint64_t length,
                                      enum vswap_extent_kind kind),
                         void *opaque);

void vswap_store_statistics (struct vswap_store *store,
                             struct vswap_statistics *statistics);

/* Write the statistics as one JSON object (no trailing newline) into
 * BUFFER.  Returns the length, or -ERANGE if it does not fit. */
int vswap_statistics_json (const struct vswap_statistics *statistics,
                           char *buffer, size_t size);

/* A copy of what the superblock says, for inspect. */
struct vswap_store_info {
  uint8_t uuid[VSWAP_UUID_SIZE];
  uint32_t format_version;
  uint64_t generation;
  uint64_t logical_size;
  uint32_t segment_size;
  uint32_t write_unit;
  uint32_t open_segments;
  uint32_t address_unit;
  uint64_t segment_count;       /* data segments */
  enum vswap_compression compression;
  int compression_level;
  bool compression_chosen;
  uint64_t created;             /* seconds since the epoch */
  uint64_t endurance;           /* rated bytes written; 0 = unknown */
  uint64_t medium_size;         /* bytes of medium the store uses */
};
void vswap_store_get_info (const struct vswap_store *store,
                           struct vswap_store_info *info);

/* Per-segment state for inspect's histogram and picture. */
struct vswap_segment_info {
  bool free, open;
  bool releasing;               /* collected, free once a flush covers it */
  uint32_t live_bytes;          /* live record bytes */
  uint32_t erase_count;
  uint64_t sequence;            /* of the last chunk written */
  /* The store's, not the segment's: how many free segments the writers
   * leave to GC.  They take the least worn free segment first, so these
   * are the most worn free ones. */
  uint32_t reserve;
};
int vswap_store_segment_info (struct vswap_store *store, uint64_t index,
                              struct vswap_segment_info *info);

/* What vswap_store_check found. */
struct vswap_check_result {
  uint64_t records_checked;     /* record headers that verify */
  uint64_t pages_failing;       /* pages that read as I/O errors */
  uint64_t damage_notes;        /* damage that cost no page */
};

/* Walk every segment past any damage and read back every page.  Calls
 * REPORT for each page that would fail (PROBLEM true: its newest record
 * was lost, or its record does not read back) and for each damage that
 * cost no page (PROBLEM false).  Returns 0 (the counts are in *RESULT),
 * or a negative errno when the check could not run. */
int vswap_store_check (struct vswap_store *store,
                       void (*report) (void *opaque, bool problem,
                                       const char *message),
                       void *opaque, struct vswap_check_result *result);

/* One structure of the store on its medium (vswap_store_layout). */
enum vswap_structure_kind {
  VSWAP_STRUCTURE_SUPERBLOCK,
  VSWAP_STRUCTURE_CHUNK_HEADER,
  VSWAP_STRUCTURE_RECORD_HEADER,
  VSWAP_STRUCTURE_PAYLOAD,
};
struct vswap_structure {
  enum vswap_structure_kind kind;
  uint64_t offset;              /* bytes from the start of the medium */
  uint32_t length;
  uint64_t segment;
  /* Chunks: their sequence; records: their stamp.  Of two records of a
   * page, the one with the higher stamp is the newer. */
  uint64_t order;
  uint8_t record_kind;          /* doc/on-medium-format.md, "Record" */
  uint32_t page, count;         /* the logical pages it covers */
  bool mapped;                  /* the map points at this very record */
};

/* Call EMIT for both superblocks and for every chunk header, record
 * header and payload that verifies, segment by segment (the open segments
 * as far as they are written).  Stops at the first EMIT
 * that returns non-zero and returns that; else 0, or -errno. */
int vswap_store_layout (struct vswap_store *store,
                        int (*emit) (void *opaque,
                                     const struct vswap_structure *structure),
                        void *opaque);

/* Is there a vswap superblock on this medium?  1 yes, 0 no, <0 error. */
int vswap_store_probe (struct vswap_medium *medium, struct vswap_error *err);

#endif /* VSWAP_STORE_H */
