/* vswap: request traces.  A trace is the logical request stream a client
 * sent to the plugin (writes with their data, trims, zeroes, flushes and,
 * optionally, reads), so that `vswap replay` can run exactly the same
 * stream against another medium, geometry or policy offline, and compress
 * exactly the same pages.  The format is in doc/trace-format.md: one zstd
 * stream holding a header and then the records in the order the requests
 * arrived.
 *
 * Nothing here knows about nbdkit: the plugin records, the tool replays.
 */
#ifndef VSWAP_TRACE_H
#define VSWAP_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define VSWAP_TRACE_MAGIC "VSWAPTRC"
#define VSWAP_TRACE_VERSION 1
#define VSWAP_TRACE_HEADER_SIZE 32
#define VSWAP_TRACE_RECORD_SIZE 24
/* The longest write a trace holds (nbdkit's own limit is 64 MiB); trims
 * and zeroes may cover up to 4 GiB. */
#define VSWAP_TRACE_MAX_LENGTH (64u * 1024 * 1024)

enum vswap_trace_operation {
  VSWAP_TRACE_WRITE = 1,        /* followed by LENGTH bytes of data */
  VSWAP_TRACE_TRIM = 2,
  VSWAP_TRACE_ZERO = 3,
  VSWAP_TRACE_FLUSH = 4,
  VSWAP_TRACE_READ = 5,
};

#define VSWAP_TRACE_FUA 1       /* flags: the request had FUA */

struct vswap_trace_record {
  uint8_t operation;            /* enum vswap_trace_operation */
  uint8_t flags;
  uint32_t length;              /* bytes; 0 for flush */
  uint64_t offset;
  uint64_t sequence;            /* 0, 1, 2... in the order recorded */
};

struct vswap_trace_writer;
struct vswap_trace_reader;

/* Create (truncate) PATH and write the trace header, which records the
 * exported SIZE.  Returns NULL with ERR filled on failure. */
struct vswap_trace_writer *vswap_trace_writer_open (const char *path,
                                                    uint64_t size,
                                                    struct vswap_error *err);

/* Append one request; DATA (LENGTH bytes) only for writes.  Thread-safe:
 * requests from several threads are recorded whole, one after another.
 * Returns 0 or a negative errno (the trace is then broken: later appends
 * fail too). */
int vswap_trace_append (struct vswap_trace_writer *writer,
                        enum vswap_trace_operation operation, uint8_t flags,
                        uint64_t offset, uint32_t length, const void *data);

/* Push what is buffered to the file (a complete zstd block), so that a
 * crash of the recorder loses at most what came after. */
int vswap_trace_sync (struct vswap_trace_writer *writer);

/* End the zstd frame, close the file and free.  Returns 0 or a negative
 * errno if anything recorded could not be written. */
int vswap_trace_writer_close (struct vswap_trace_writer *writer);

/* Open a trace for reading.  *SIZE receives the exported size recorded in
 * the header.  Returns NULL with ERR filled on failure. */
struct vswap_trace_reader *vswap_trace_reader_open (const char *path,
                                                    uint64_t *size,
                                                    struct vswap_error *err);

/* Read the next record into RECORD; for a write, *DATA points at its
 * LENGTH bytes, valid until the next call.  Returns 1 for a record, 0 at
 * the end of the trace, or a negative errno with ERR filled (a truncated
 * or corrupt trace). */
int vswap_trace_next (struct vswap_trace_reader *reader,
                      struct vswap_trace_record *record, const void **data,
                      struct vswap_error *err);

void vswap_trace_reader_close (struct vswap_trace_reader *reader);

#endif /* VSWAP_TRACE_H */
