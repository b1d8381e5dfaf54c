/* vswap: a medium in RAM, for tests and for trying vswap out.
 *
 * It behaves like a discard-capable disk that never fails.  Contents are
 * lost at close.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "medium.h"

struct memory_medium {
  struct vswap_medium medium;   /* first: the backend casts */
  unsigned char *data;
  size_t length;                /* of the mapping, = capacity */
  uint64_t page_size;
  bool read_only;
};

static struct memory_medium *
to_memory (struct vswap_medium *medium)
{
  return (struct memory_medium *) medium;
}

/* Ranges are disjoint from concurrent writes (the caller's promise), so
 * plain copies are thread-safe. */
static int
memory_read (struct vswap_medium *medium, void *buffer, size_t length,
             uint64_t offset)
{
  memcpy (buffer, to_memory (medium)->data + offset, length);
  return 0;
}

static int
memory_write (struct vswap_medium *medium, const void *buffer,
              size_t length, uint64_t offset)
{
  struct memory_medium *m = to_memory (medium);

  if (m->read_only)
    return -EROFS;
  memcpy (m->data + offset, buffer, length);
  return 0;
}

/* Give whole pages back to the kernel, which reads them back as zeros;
 * MADV_DONTNEED refuses locked pages (the server may mlockall), and then
 * zeroing by hand gives the same contents. */
static int
memory_discard (struct vswap_medium *medium, uint64_t offset,
                uint64_t length)
{
  struct memory_medium *m = to_memory (medium);
  uint64_t page = m->page_size;
  uint64_t start = (offset + page - 1) / page * page;
  uint64_t end = (offset + length) / page * page;

  if (m->read_only)
    return -EROFS;
  /* Small ranges are cheaper to zero than to fault back in. */
  if (start >= end || end - start < 4 * 1024 * 1024
      || madvise (m->data + start, end - start, MADV_DONTNEED) == -1) {
    memset (m->data + offset, 0, length);
    return 0;
  }
  memset (m->data + offset, 0, start - offset);
  memset (m->data + end, 0, offset + length - end);
  return 0;
}

static int
memory_flush (struct vswap_medium *medium)
{
  return 0;
}

static void
memory_close (struct vswap_medium *medium)
{
  struct memory_medium *m = to_memory (medium);

  munmap (m->data, m->length);
  free (m);
}

static const struct vswap_medium_operations memory_operations = {
  .name = "memory",
  .read = memory_read,
  .write = memory_write,
  .discard = memory_discard,
  .flush = memory_flush,
  .close = memory_close,
};

struct vswap_medium *
vswap_memory_medium_open (uint64_t size,
                          const struct vswap_medium_options *options,
                          struct vswap_error *err)
{
  struct memory_medium *m;
  struct vswap_geometry geometry = {
    .write_unit = VSWAP_DEFAULT_WRITE_UNIT,
    .read_unit = VSWAP_DEFAULT_WRITE_UNIT,
    .erase_block = VSWAP_DEFAULT_ERASE_BLOCK,
    .can_discard = true,
    .discard_zeroes = true,
  };
  char name[64];

  snprintf (name, sizeof name, "memory:%" PRIu64, size);

  /* Reads at the write unit's alignment, up to a page: a memory medium
   * should not accept reads that an O_DIRECT file would refuse. */
  if (options->write_unit && options->write_unit < geometry.read_unit)
    geometry.read_unit = options->write_unit;
  if (vswap_geometry_finish (&geometry, size, 512, options, name, err) < 0)
    return NULL;
  if (geometry.capacity > SIZE_MAX) {
    vswap_error_set (err, ENOMEM,
                     "%s: too large for this machine's address space: "
                     "give a smaller size", name);
    return NULL;
  }

  m = calloc (1, sizeof *m);
  if (m == NULL) {
    vswap_error_set (err, ENOMEM, "%s: out of memory", name);
    return NULL;
  }
  /* An anonymous mapping is page-aligned, zeroed, and costs nothing
   * until written. */
  m->length = geometry.capacity;
  m->data = mmap (NULL, m->length, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m->data == MAP_FAILED) {
    vswap_error_set (err, ENOMEM,
                     "%s: cannot map %zu bytes: %s: give a smaller size",
                     name, m->length, vswap_strerror (errno));
    free (m);
    return NULL;
  }

  m->page_size = (uint64_t) sysconf (_SC_PAGESIZE);
  m->read_only = options->read_only;
  m->medium.operations = &memory_operations;
  m->medium.geometry = geometry;
  snprintf (m->medium.description, sizeof m->medium.description,
            "%s (RAM%s)", name, m->read_only ? ", read-only" : "");
  return &m->medium;
}
