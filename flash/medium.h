/* vswap: the one interface between the store (core/) and every kind of
 * medium (flash/).
 *
 * A medium is a byte-addressed device with a geometry.  The store obeys the
 * geometry and nothing else: it never asks what kind of device it is.
 *
 * Rules every caller keeps, and every implementation may assert:
 * - write offsets and lengths are multiples of geometry.write_unit;
 * - read offsets and lengths are multiples of geometry.read_unit;
 * - buffers are aligned to VSWAP_MEDIUM_BUFFER_ALIGN (O_DIRECT);
 * - discard ranges are whole segments (whole write units; on a zoned
 *   medium whole zones);
 * - on a sequential_only medium, writes inside an erase block start at its
 *   write pointer, and the block must be discarded (reset) before reuse;
 *   the writer says when it is done with an erase block before its end
 *   (finish), for devices that limit how many are open or active.
 *
 * All operations are synchronous and thread-safe: several threads may read
 * while one writes.  They return 0 or a negative errno.
 */
#ifndef VSWAP_MEDIUM_H
#define VSWAP_MEDIUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define VSWAP_MEDIUM_BUFFER_ALIGN 4096

struct vswap_geometry {
  uint64_t capacity;            /* usable bytes, a multiple of write_unit */
  uint32_t write_unit;          /* smallest and alignment of every write */
  uint32_t read_unit;           /* alignment of every read */
  uint32_t erase_block;         /* erase block / zone size; suggested segment */
  uint32_t max_open_segments;   /* erase blocks open for writing at once; 0 = any */
  bool sequential_only;         /* zoned: writes only at the write pointer */
  bool can_discard;             /* discard frees the space on the device */
  bool discard_zeroes;          /* discarded ranges read back as zeros */
};

struct vswap_medium;

/* One read of a batch (vswap_medium_read_batch): RESULT receives 0 or a
 * negative errno. */
struct vswap_medium_read {
  void *buffer;
  size_t length;
  uint64_t offset;
  int result;
};

struct vswap_medium_operations {
  const char *name;             /* "file", "memory", ... */
  int (*read) (struct vswap_medium *medium, void *buffer, size_t length,
               uint64_t offset);
  int (*write) (struct vswap_medium *medium, const void *buffer,
                size_t length, uint64_t offset);
  /* Erase (discard, zone reset) a whole number of erase blocks. */
  int (*discard) (struct vswap_medium *medium, uint64_t offset,
                  uint64_t length);
  /* Make every completed write durable (fdatasync, FLUSH). */
  int (*flush) (struct vswap_medium *medium);
  /* The writer will not write into these whole erase blocks again before
   * it discards them (zone finish).  NULL: nothing to do. */
  int (*finish) (struct vswap_medium *medium, uint64_t offset,
                 uint64_t length);
  void (*close) (struct vswap_medium *medium);
  /* Several reads at once, all in flight together (a fragmented
   * sequential read): does each read whose result is 0 and length not 0,
   * and sets its result.  NULL: they are done one after another. */
  void (*read_batch) (struct vswap_medium *medium,
                      struct vswap_medium_read *reads, unsigned count);
  /* The process that serves is ready (vswap_medium_start): start what
   * the medium's I/O needs from now on.  NULL: nothing to start. */
  int (*start) (struct vswap_medium *medium, unsigned threads,
                struct vswap_error *err);
};

struct vswap_medium {
  const struct vswap_medium_operations *operations;
  struct vswap_geometry geometry;
  char description[256];        /* for messages: path and mode */
  /* Where the erase block, write unit and open-segment budget came from
   * ("erase block 4 MiB from zone size (BLKGETZONESZ); ..."), for
   * vswap format to show; empty if the backend does not say. */
  char geometry_source[512];
  /* Counters kept by vswap_medium_read/write/discard (not by backends). */
  uint64_t bytes_read, bytes_written, bytes_discarded;
  uint64_t reads, writes, discards, flushes, finishes;
};

/* One user per store (flash/lock.c): what a medium locks at open.  A
 * second user is refused with -EBUSY and a message naming the holder. */
enum vswap_medium_lock {
  VSWAP_MEDIUM_LOCK_NONE = 0,   /* tests; RAM and simulated media */
  VSWAP_MEDIUM_LOCK_SHARED,     /* readers: other readers, no writer */
  VSWAP_MEDIUM_LOCK_EXCLUSIVE,  /* a writer: nobody else (needs !read_only) */
};

/* How to open a medium.  Zero means "the medium's own value". */
struct vswap_medium_options {
  bool create;                  /* create a regular file of size create_size */
  uint64_t create_size;
  uint32_t erase_block;         /* override the detected erase block */
  uint32_t write_unit;          /* override the detected write unit */
  bool read_only;
  bool buffered;                /* do not try O_DIRECT */
  /* pread/pwrite, even once started: no io_uring at all.  Without it a
   * file or zoned medium still uses pread/pwrite until
   * vswap_medium_start, and io_uring only through I/O threads of its
   * own that start there (flash/io-pool.h says why). */
  bool avoid_io_uring;
  enum vswap_medium_lock lock;
};

/* Open the medium named by SPEC: "memory:SIZE" for a RAM medium (tests),
 * an NBD URI ("nbd://HOST/EXPORT", "nbds://…", "nbd+unix:///?socket=PATH")
 * for a remote export, anything else a path to a regular file or a block
 * device.  Returns NULL and fills ERR on failure. */
struct vswap_medium *vswap_medium_open (const char *spec,
                                        const struct vswap_medium_options *options,
                                        struct vswap_error *err);

/* Backends, called by vswap_medium_open. */
struct vswap_medium *vswap_file_medium_open (const char *path,
                                             const struct vswap_medium_options *options,
                                             struct vswap_error *err);
struct vswap_medium *vswap_memory_medium_open (uint64_t size,
                                               const struct vswap_medium_options *options,
                                               struct vswap_error *err);
/* PATH is a zoned block device (host-managed or host-aware).  zoned.c */
struct vswap_medium *vswap_zoned_medium_open (const char *path,
                                              const struct vswap_medium_options *options,
                                              struct vswap_error *err);
struct vswap_medium *vswap_nbd_medium_open (const char *uri,
                                            const struct vswap_medium_options *options,
                                            struct vswap_error *err);

/* Does SPEC name a remote NBD export rather than a path?  For callers
 * that treat paths specially (realpath, stat, creating a file). */
bool vswap_medium_is_nbd_uri (const char *spec);

/* Checked wrappers: assert the alignment rules, count, then call the
 * backend.  The store uses only these. */
int vswap_medium_read (struct vswap_medium *medium, void *buffer,
                       size_t length, uint64_t offset);
int vswap_medium_write (struct vswap_medium *medium, const void *buffer,
                        size_t length, uint64_t offset);
/* Read BATCH ranges, each under the rules of vswap_medium_read, with as
 * many in flight at once as the medium can.  Each read's result says how
 * it went; returns 0 if all succeeded, else the first failure. */
int vswap_medium_read_batch (struct vswap_medium *medium,
                             struct vswap_medium_read *reads,
                             unsigned batch);
int vswap_medium_discard (struct vswap_medium *medium, uint64_t offset,
                          uint64_t length);
int vswap_medium_flush (struct vswap_medium *medium);
int vswap_medium_finish (struct vswap_medium *medium, uint64_t offset,
                         uint64_t length);
void vswap_medium_close (struct vswap_medium *medium);

/* Start the medium's own I/O threads (THREADS of them; on a file or
 * zoned medium opened without avoid_io_uring, each owning an io_uring
 * ring), so that every later transfer goes through them.  Call it once,
 * in the process that serves (after nbdkit's fork: threads do not
 * survive it), from a thread whose flags they should inherit
 * (PR_SET_IO_FLUSHER), before memory is short.  Until then, and for
 * media without threads, transfers are synchronous calls in the caller's
 * thread.  Returns 0, or a negative errno with ERR naming the problem and
 * the fix; the medium then goes on working as before. */
int vswap_medium_start (struct vswap_medium *medium, unsigned threads,
                        struct vswap_error *err);

/* Parse "4M", "512K", "1G", "4096" into bytes.  Returns -EINVAL on junk. */
int vswap_parse_size (const char *text, uint64_t *bytes);

#endif /* VSWAP_MEDIUM_H */
