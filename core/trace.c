/* vswap: writing and reading request traces (see trace.h and
 * doc/trace-format.md).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "on_medium.h"
#include "trace.h"

struct vswap_trace_writer {
  pthread_mutex_t lock;
  FILE *file;
  ZSTD_CCtx *cctx;
  uint8_t *out;                 /* compressed bytes on their way out */
  size_t out_size;
  uint64_t sequence;
  int failed;                   /* sticky: a write to the file failed */
};

/* Compress INPUT (or just flush/end with MODE) and write what comes out. */
static int
writer_push (struct vswap_trace_writer *w, const void *input, size_t length,
             ZSTD_EndDirective mode)
{
  ZSTD_inBuffer in = { input, length, 0 };
  for (;;) {
    ZSTD_outBuffer out = { w->out, w->out_size, 0 };
    const size_t remaining = ZSTD_compressStream2 (w->cctx, &out, &in, mode);
    if (ZSTD_isError (remaining))
      return -EIO;
    if (out.pos && fwrite (w->out, 1, out.pos, w->file) != out.pos)
      return -EIO;
    /* Continue until the input is taken and, when flushing or ending,
     * until zstd says nothing is left inside it. */
    if (in.pos == in.size && (mode == ZSTD_e_continue || remaining == 0))
      return 0;
  }
}

struct vswap_trace_writer *
vswap_trace_writer_open (const char *path, uint64_t size,
                         struct vswap_error *err)
{
  struct vswap_trace_writer *w = calloc (1, sizeof *w);
  if (!w) {
    vswap_error_set (err, ENOMEM, "out of memory");
    return NULL;
  }
  pthread_mutex_init (&w->lock, NULL);
  w->file = fopen (path, "wb");
  if (!w->file) {
    vswap_error_set (err, errno, "trace %s: cannot create it: %s", path,
                     vswap_strerror (errno));
    goto fail;
  }
  w->cctx = ZSTD_createCCtx ();
  w->out_size = ZSTD_CStreamOutSize ();
  w->out = malloc (w->out_size);
  if (!w->cctx || !w->out) {
    vswap_error_set (err, ENOMEM, "out of memory");
    goto fail;
  }
  /* Level 3 and a long window: pages a kernel writes again compress
   * against their earlier copies. */
  ZSTD_CCtx_setParameter (w->cctx, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter (w->cctx, ZSTD_c_checksumFlag, 1);

  uint8_t header[VSWAP_TRACE_HEADER_SIZE] = { 0 };
  memcpy (header, VSWAP_TRACE_MAGIC, 8);
  vswap_put32 (header + 8, VSWAP_TRACE_VERSION);
  vswap_put32 (header + 12, VSWAP_TRACE_RECORD_SIZE);
  vswap_put64 (header + 16, size);
  if (writer_push (w, header, sizeof header, ZSTD_e_flush) < 0 ||
      fflush (w->file) != 0) {
    vswap_error_set (err, EIO, "trace %s: cannot write its header", path);
    goto fail;
  }
  return w;

 fail:
  if (w->file)
    fclose (w->file);
  ZSTD_freeCCtx (w->cctx);
  free (w->out);
  pthread_mutex_destroy (&w->lock);
  free (w);
  return NULL;
}

int
vswap_trace_append (struct vswap_trace_writer *w,
                    enum vswap_trace_operation operation, uint8_t flags,
                    uint64_t offset, uint32_t length, const void *data)
{
  uint8_t record[VSWAP_TRACE_RECORD_SIZE] = { 0 };
  int r;

  record[0] = (uint8_t) operation;
  record[1] = flags;
  vswap_put32 (record + 4, length);
  vswap_put64 (record + 8, offset);

  pthread_mutex_lock (&w->lock);
  r = w->failed;
  if (r == 0) {
    vswap_put64 (record + 16, w->sequence++);
    r = writer_push (w, record, sizeof record, ZSTD_e_continue);
    if (r == 0 && operation == VSWAP_TRACE_WRITE)
      r = writer_push (w, data, length, ZSTD_e_continue);
    w->failed = r;
  }
  pthread_mutex_unlock (&w->lock);
  return r;
}

int
vswap_trace_sync (struct vswap_trace_writer *w)
{
  pthread_mutex_lock (&w->lock);
  int r = w->failed;
  if (r == 0) {
    r = writer_push (w, NULL, 0, ZSTD_e_flush);
    if (r == 0 && fflush (w->file) != 0)
      r = -EIO;
    w->failed = r;
  }
  pthread_mutex_unlock (&w->lock);
  return r;
}

int
vswap_trace_writer_close (struct vswap_trace_writer *w)
{
  if (!w)
    return 0;
  int r = w->failed;
  if (r == 0)
    r = writer_push (w, NULL, 0, ZSTD_e_end);
  if (fclose (w->file) != 0 && r == 0)
    r = -EIO;
  ZSTD_freeCCtx (w->cctx);
  free (w->out);
  pthread_mutex_destroy (&w->lock);
  free (w);
  return r;
}

/* ---- reading ---- */

struct vswap_trace_reader {
  FILE *file;
  char *path;
  ZSTD_DCtx *dctx;
  uint8_t *in;
  size_t in_size;
  ZSTD_inBuffer input;
  bool at_frame_end;            /* the last frame decoded was complete */
  uint8_t *data;                /* the current write's data */
  size_t data_size;
};

/* Decompress exactly LENGTH bytes into BUFFER.  Returns 1, 0 at a clean
 * end of the trace (nothing read), or -EIO (truncated or corrupt). */
static int
reader_fill (struct vswap_trace_reader *t, void *buffer, size_t length)
{
  ZSTD_outBuffer out = { buffer, length, 0 };

  while (out.pos < out.size) {
    if (t->input.pos == t->input.size) {
      const size_t n = fread (t->in, 1, t->in_size, t->file);
      if (n == 0)
        return out.pos == 0 && t->at_frame_end ? 0 : -EIO;
      t->input = (ZSTD_inBuffer) { t->in, n, 0 };
    }
    const size_t r = ZSTD_decompressStream (t->dctx, &out, &t->input);
    if (ZSTD_isError (r))
      return -EIO;
    t->at_frame_end = r == 0;
  }
  return 1;
}

struct vswap_trace_reader *
vswap_trace_reader_open (const char *path, uint64_t *size,
                         struct vswap_error *err)
{
  struct vswap_trace_reader *t = calloc (1, sizeof *t);
  if (!t) {
    vswap_error_set (err, ENOMEM, "out of memory");
    return NULL;
  }
  t->path = strdup (path);
  t->file = fopen (path, "rb");
  if (!t->file) {
    vswap_error_set (err, errno, "trace %s: %s", path,
                     vswap_strerror (errno));
    goto fail;
  }
  t->dctx = ZSTD_createDCtx ();
  t->in_size = ZSTD_DStreamInSize ();
  t->in = malloc (t->in_size);
  if (!t->dctx || !t->in || !t->path) {
    vswap_error_set (err, ENOMEM, "out of memory");
    goto fail;
  }
  t->input = (ZSTD_inBuffer) { t->in, 0, 0 };

  uint8_t header[VSWAP_TRACE_HEADER_SIZE];
  if (reader_fill (t, header, sizeof header) != 1 ||
      memcmp (header, VSWAP_TRACE_MAGIC, 8) != 0) {
    vswap_error_set (err, EINVAL, "%s is not a vswap trace (no header): "
                     "record one with the plugin's trace=PATH key", path);
    goto fail;
  }
  if (vswap_get32 (header + 8) != VSWAP_TRACE_VERSION ||
      vswap_get32 (header + 12) != VSWAP_TRACE_RECORD_SIZE) {
    vswap_error_set (err, EINVAL, "trace %s has version %u, this vswap "
                     "reads version %d: replay it with a matching vswap",
                     path, vswap_get32 (header + 8), VSWAP_TRACE_VERSION);
    goto fail;
  }
  *size = vswap_get64 (header + 16);
  return t;

 fail:
  vswap_trace_reader_close (t);
  return NULL;
}

int
vswap_trace_next (struct vswap_trace_reader *t,
                  struct vswap_trace_record *record, const void **data,
                  struct vswap_error *err)
{
  uint8_t raw[VSWAP_TRACE_RECORD_SIZE];
  int r = reader_fill (t, raw, sizeof raw);
  if (r == 0)
    return 0;
  if (r < 0)
    return vswap_error_set (err, EIO, "trace %s is truncated or corrupt "
                            "(a recorder killed before it closed?): "
                            "replaying what came before", t->path);
  record->operation = raw[0];
  record->flags = raw[1];
  record->length = vswap_get32 (raw + 4);
  record->offset = vswap_get64 (raw + 8);
  record->sequence = vswap_get64 (raw + 16);
  if (record->operation < VSWAP_TRACE_WRITE ||
      record->operation > VSWAP_TRACE_READ ||
      (record->operation == VSWAP_TRACE_WRITE &&
       record->length > VSWAP_TRACE_MAX_LENGTH))
    return vswap_error_set (err, EINVAL, "trace %s: record %" PRIu64
                            " is not a request (operation %u, length %u): "
                            "the trace is corrupt", t->path,
                            record->sequence, record->operation,
                            record->length);
  *data = NULL;
  if (record->operation == VSWAP_TRACE_WRITE) {
    if (record->length > t->data_size) {
      uint8_t *bigger = realloc (t->data, record->length);
      if (!bigger)
        return vswap_error_set (err, ENOMEM, "out of memory");
      t->data = bigger;
      t->data_size = record->length;
    }
    if (reader_fill (t, t->data, record->length) != 1)
      return vswap_error_set (err, EIO, "trace %s is truncated inside "
                              "record %" PRIu64, t->path, record->sequence);
    *data = t->data;
  }
  return 1;
}

void
vswap_trace_reader_close (struct vswap_trace_reader *t)
{
  if (!t)
    return;
  if (t->file)
    fclose (t->file);
  ZSTD_freeDCtx (t->dctx);
  free (t->in);
  free (t->data);
  free (t->path);
  free (t);
}
