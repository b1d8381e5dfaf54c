/* vswap: the medium interface: choosing a backend, the checked wrappers
 * every caller goes through, and size parsing.
 */
#include <config.h>

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "medium.h"
#include "simulated.h"

#define MEMORY_PREFIX "memory:"

/* The URI schemes libnbd connects to.  A path that starts like one is
 * spelt "./nbd:/…" to reach the file. */
bool
vswap_medium_is_nbd_uri (const char *spec)
{
  static const char *const schemes[] = {
    "nbd://", "nbds://", "nbd+unix://", "nbds+unix://",
    "nbd+vsock://", "nbds+vsock://",
  };
  size_t i;

  for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (strncmp (spec, schemes[i], strlen (schemes[i])) == 0)
      return true;
  return false;
}

/* A block device whose queue/zoned says "host-managed" or "host-aware"
 * opens as zoned: its sequential zones take writes only at the write
 * pointer, which file.c does not track.  Anything that cannot be
 * stat'ed falls through to file.c, which names the problem. */
static bool
is_zoned_device (const char *path)
{
  struct stat st;
  char model[32];

  return stat (path, &st) == 0 && S_ISBLK (st.st_mode)
    && vswap_sysfs_text (st.st_rdev, "queue/zoned", model, sizeof model)
    && strcmp (model, "none") != 0;
}

struct vswap_medium *
vswap_medium_open (const char *spec,
                   const struct vswap_medium_options *options,
                   struct vswap_error *err)
{
  static const struct vswap_medium_options defaults;
  uint64_t size;

  vswap_error_clear (err);
  if (options == NULL)
    options = &defaults;
  if (spec == NULL || spec[0] == '\0') {
    vswap_error_set (err, EINVAL,
                     "no medium given: give the path of a file or block "
                     "device, an NBD URI, or memory:SIZE");
    return NULL;
  }

  if (strncmp (spec, MEMORY_PREFIX, strlen (MEMORY_PREFIX)) == 0) {
    const char *text = spec + strlen (MEMORY_PREFIX);

    if (vswap_parse_size (text, &size) < 0 || size == 0) {
      vswap_error_set (err, EINVAL,
                       "%s: bad size \"%s\": write memory:SIZE with SIZE "
                       "like 64M, 1G or 1048576", spec, text);
      return NULL;
    }
    return vswap_memory_medium_open (size, options, err);
  }

  /* A simulated flash card for tests: "sim:SIZE[,KEY=VALUE...]". */
  if (strncmp (spec, VSWAP_SIMULATED_PREFIX,
               strlen (VSWAP_SIMULATED_PREFIX)) == 0)
    return vswap_simulated_medium_open_spec (spec
                                             + strlen (VSWAP_SIMULATED_PREFIX),
                                             options, err);

  if (vswap_medium_is_nbd_uri (spec))
    return vswap_nbd_medium_open (spec, options, err);

  if (is_zoned_device (spec))
    return vswap_zoned_medium_open (spec, options, err);
  return vswap_file_medium_open (spec, options, err);
}

int
vswap_geometry_finish (struct vswap_geometry *geometry, uint64_t size,
                       uint32_t io_align,
                       const struct vswap_medium_options *options,
                       const char *name, struct vswap_error *err)
{
  uint32_t need = io_align > geometry->read_unit
                  ? io_align : geometry->read_unit;

  if (options->write_unit)
    geometry->write_unit = options->write_unit;
  if (options->erase_block)
    geometry->erase_block = options->erase_block;

  /* The store reads back what it wrote, so a write unit must also be a
   * whole number of read units, and the device's alignment. */
  if (geometry->write_unit == 0
      || geometry->write_unit % io_align != 0
      || geometry->write_unit % geometry->read_unit != 0)
    return vswap_error_set (err, EINVAL,
                            "%s: write unit %" PRIu32 " is not a multiple "
                            "of %" PRIu32 " bytes, as this medium needs: "
                            "choose a multiple of %" PRIu32,
                            name, geometry->write_unit, need, need);
  if (geometry->erase_block == 0
      || geometry->erase_block % geometry->write_unit != 0)
    return vswap_error_set (err, EINVAL,
                            "%s: erase block %" PRIu32 " is not a multiple "
                            "of the write unit (%" PRIu32 " bytes): choose "
                            "a multiple of it",
                            name, geometry->erase_block,
                            geometry->write_unit);

  /* Whole write units, not whole erase blocks: a store may have been
   * formatted with segments of another size than this medium suggests,
   * and it cuts the capacity into its own segments. */
  geometry->capacity = size - size % geometry->write_unit;
  if (geometry->capacity < geometry->erase_block)
    return vswap_error_set (err, ENOSPC,
                            "%s: %" PRIu64 " bytes is less than one erase "
                            "block (%" PRIu32 " bytes): give a larger medium "
                            "or a smaller erase block",
                            name, size, geometry->erase_block);
  return 0;
}

/* Requests past the end are refused rather than asserted: they cost one
 * comparison and would otherwise grow a file or touch memory we do not
 * own if a build drops its assertions. */
static bool
in_range (const struct vswap_medium *medium, uint64_t offset,
          uint64_t length)
{
  uint64_t capacity = medium->geometry.capacity;

  return offset <= capacity && length <= capacity - offset;
}

static void
count (uint64_t *counter, uint64_t n)
{
  __atomic_fetch_add (counter, n, __ATOMIC_RELAXED);
}

/* The counters count requests that succeeded. */
int
vswap_medium_read (struct vswap_medium *medium, void *buffer,
                   size_t length, uint64_t offset)
{
  uint32_t unit = medium->geometry.read_unit;
  int r;

  assert (offset % unit == 0);
  assert (length % unit == 0);
  assert ((uintptr_t) buffer % VSWAP_MEDIUM_BUFFER_ALIGN == 0);
  if (!in_range (medium, offset, length))
    return -EINVAL;
  if (length == 0)
    return 0;

  r = medium->operations->read (medium, buffer, length, offset);
  if (r == 0) {
    count (&medium->reads, 1);
    count (&medium->bytes_read, length);
  }
  return r;
}

int
vswap_medium_read_batch (struct vswap_medium *medium,
                         struct vswap_medium_read *reads, unsigned batch)
{
  const uint32_t unit = medium->geometry.read_unit;
  unsigned pending = 0;
  int r = 0;

  /* What the backend is to read has result 0 and a length; the rest it
   * leaves alone. */
  for (unsigned i = 0; i < batch; i++) {
    struct vswap_medium_read *read = &reads[i];
    assert (read->offset % unit == 0);
    assert (read->length % unit == 0);
    assert ((uintptr_t) read->buffer % VSWAP_MEDIUM_BUFFER_ALIGN == 0);
    read->result = in_range (medium, read->offset, read->length) ? 0
      : -EINVAL;
    if (read->result == 0 && read->length > 0)
      pending++;
  }
  if (medium->operations->read_batch && pending > 1)
    medium->operations->read_batch (medium, reads, batch);
  else
    for (unsigned i = 0; i < batch; i++)
      if (reads[i].result == 0 && reads[i].length > 0)
        reads[i].result = medium->operations->read (medium, reads[i].buffer,
                                                    reads[i].length,
                                                    reads[i].offset);
  for (unsigned i = 0; i < batch; i++) {
    if (reads[i].result < 0) {
      if (r == 0)
        r = reads[i].result;
    }
    else if (reads[i].length > 0) {
      count (&medium->reads, 1);
      count (&medium->bytes_read, reads[i].length);
    }
  }
  return r;
}

int
vswap_medium_write (struct vswap_medium *medium, const void *buffer,
                    size_t length, uint64_t offset)
{
  uint32_t unit = medium->geometry.write_unit;
  int r;

  assert (offset % unit == 0);
  assert (length % unit == 0);
  assert ((uintptr_t) buffer % VSWAP_MEDIUM_BUFFER_ALIGN == 0);
  if (!in_range (medium, offset, length))
    return -EINVAL;
  if (length == 0)
    return 0;

  r = medium->operations->write (medium, buffer, length, offset);
  if (r == 0) {
    count (&medium->writes, 1);
    count (&medium->bytes_written, length);
  }
  return r;
}

int
vswap_medium_discard (struct vswap_medium *medium, uint64_t offset,
                      uint64_t length)
{
  /* Whole segments, which are whole write units; a zoned backend checks
   * for whole zones itself. */
  uint32_t unit = medium->geometry.write_unit;
  int r;

  assert (offset % unit == 0);
  assert (length % unit == 0);
  if (!in_range (medium, offset, length))
    return -EINVAL;
  if (!medium->geometry.can_discard)
    return -EOPNOTSUPP;
  if (length == 0)
    return 0;

  r = medium->operations->discard (medium, offset, length);
  if (r == 0) {
    count (&medium->discards, 1);
    count (&medium->bytes_discarded, length);
  }
  return r;
}

int
vswap_medium_flush (struct vswap_medium *medium)
{
  int r;

  r = medium->operations->flush (medium);
  if (r == 0)
    count (&medium->flushes, 1);
  return r;
}

int
vswap_medium_finish (struct vswap_medium *medium, uint64_t offset,
                     uint64_t length)
{
  int r;

  assert (offset % medium->geometry.write_unit == 0);
  assert (length % medium->geometry.write_unit == 0);
  if (!in_range (medium, offset, length))
    return -EINVAL;
  if (medium->operations->finish == NULL || length == 0)
    return 0;
  r = medium->operations->finish (medium, offset, length);
  if (r == 0)
    count (&medium->finishes, 1);
  return r;
}

void
vswap_medium_close (struct vswap_medium *medium)
{
  if (medium)
    medium->operations->close (medium);
}

int
vswap_medium_start (struct vswap_medium *medium, unsigned threads,
                    struct vswap_error *err)
{
  if (medium->operations->start == NULL)
    return 0;
  return medium->operations->start (medium, threads, err);
}

/* Sizes are powers of 1024 whatever the spelling: "4096", "4096B", "4k",
 * "4K", "4KiB", likewise M, G, T, P, E.  "4KB" is refused because half the
 * world reads it as 4000; so are signs, spaces, fractions and overflow. */
int
vswap_parse_size (const char *text, uint64_t *bytes)
{
  static const char units[] = "KMGTPE";
  const char *p = text;
  const char *unit;
  uint64_t value = 0;
  unsigned shift = 0;

  if (text == NULL || *p < '0' || *p > '9')
    return -EINVAL;
  while (*p >= '0' && *p <= '9') {
    unsigned digit = *p++ - '0';

    if (value > (UINT64_MAX - digit) / 10)
      return -EINVAL;
    value = value * 10 + digit;
  }

  if (*p == 'b' || *p == 'B')
    p++;
  else if (*p != '\0') {
    unit = strchr (units, toupper ((unsigned char) *p));
    if (unit == NULL)
      return -EINVAL;
    shift = 10 * (unit - units + 1);
    p++;
    if ((p[0] == 'i' || p[0] == 'I') && (p[1] == 'b' || p[1] == 'B'))
      p += 2;
  }
  if (*p != '\0')
    return -EINVAL;

  if (value > (UINT64_MAX >> shift))
    return -EINVAL;
  *bytes = value << shift;
  return 0;
}
