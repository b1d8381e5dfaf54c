/* vswap: I/O contexts: everything one request needs (zstd contexts, page
 * and record buffers), allocated when the store opens, so that serving a
 * request allocates nothing. */
#include <config.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_codec.h"
#include "store_internal.h"

#define DEFAULT_IO_CONTEXTS 16

/* ---- I/O contexts: everything a request needs, allocated at open ---- */

void *
vswap_aligned_alloc_zero (size_t size)
{
  void *p;
  if (posix_memalign (&p, VSWAP_MEDIUM_BUFFER_ALIGN,
                      round_up (size, VSWAP_MEDIUM_BUFFER_ALIGN)) != 0)
    return NULL;
  memset (p, 0, size);
  return p;
}

size_t
vswap_read_buffer_size (const struct vswap_store *store)
{
  return round_up (MAX_PAGE_RECORD + 2 * store->read_unit, store->read_unit);
}

/* Room for RUN_PAGES records read in as many places, each read starting
 * on a buffer alignment boundary. */
size_t
vswap_run_buffer_size (const struct vswap_store *store)
{
  return RUN_PAGES * round_up (MAX_PAGE_RECORD + 2 * store->read_unit,
                               VSWAP_MEDIUM_BUFFER_ALIGN);
}

int
vswap_contexts_create (struct vswap_store *store, unsigned count)
{
  if (count == 0)
    count = DEFAULT_IO_CONTEXTS;
  store->contexts = calloc (count, sizeof *store->contexts);
  if (!store->contexts)
    return -ENOMEM;
  store->context_count = count;
  for (unsigned i = 0; i < count; i++) {
    struct io_context *c = &store->contexts[i];
    c->cctx = ZSTD_createCCtx ();
    c->dctx = ZSTD_createDCtx ();
    c->page = vswap_aligned_alloc_zero (VSWAP_PAGE_SIZE);
    c->payload = vswap_aligned_alloc_zero (VSWAP_PAGE_SIZE);
    c->read_buffer = vswap_aligned_alloc_zero (vswap_read_buffer_size (store));
    c->run_buffer = vswap_aligned_alloc_zero (vswap_run_buffer_size (store));
    c->batch_payload = vswap_aligned_alloc_zero (WRITE_BATCH
                                           * (size_t) VSWAP_PAGE_SIZE);
    if (!c->cctx || !c->dctx || !c->page || !c->payload || !c->read_buffer
        || !c->run_buffer || !c->batch_payload)
      return -ENOMEM;
    /* zstd sizes its workspaces on first use: do that now, not while the
     * kernel waits for a swap write under memory pressure. */
    for (size_t j = 0; j < VSWAP_PAGE_SIZE; j++)
      c->page[j] = (uint8_t) (j * 7 / 5);
    uint8_t kind;
    const uint16_t n = vswap_page_encode (c->cctx, store->compression_level,
                                          c->page, c->payload, &kind);
    if (kind == VSWAP_RECORD_ZSTD &&
        vswap_page_decode (c->dctx, kind, c->payload, n, c->page) != 0)
      return -EIO;
    c->next_free = store->free_contexts;
    store->free_contexts = c;
  }
  return 0;
}

void
vswap_contexts_destroy (struct vswap_store *store)
{
  for (unsigned i = 0; i < store->context_count; i++) {
    struct io_context *c = &store->contexts[i];
    ZSTD_freeCCtx (c->cctx);
    ZSTD_freeDCtx (c->dctx);
    free (c->page);
    free (c->payload);
    free (c->read_buffer);
    free (c->run_buffer);
    free (c->batch_payload);
  }
  free (store->contexts);
}

struct io_context *
vswap_context_get (struct vswap_store *store)
{
  pthread_mutex_lock (&store->context_lock);
  while (!store->free_contexts)
    pthread_cond_wait (&store->context_available, &store->context_lock);
  struct io_context *c = store->free_contexts;
  store->free_contexts = c->next_free;
  pthread_mutex_unlock (&store->context_lock);
  return c;
}

void
vswap_context_put (struct vswap_store *store, struct io_context *c)
{
  pthread_mutex_lock (&store->context_lock);
  c->next_free = store->free_contexts;
  store->free_contexts = c;
  pthread_cond_signal (&store->context_available);
  pthread_mutex_unlock (&store->context_lock);
}
