/* vswap: a medium on a zoned block device: host-managed SMR disks, ZNS
 * NVMe namespaces, null_blk with zoned=1, host-aware disks.
 *
 * Segments are zones.  The geometry comes from the device: the zone size
 * (BLKGETZONESZ) is the erase block, so the store's segments are zones;
 * the physical block (at least 4 KiB) is the write unit; the logical
 * block is the read unit; queue/max_open_zones and queue/max_active_zones
 * bound the segments the store may have open at once.
 *
 * A sequential zone takes writes only at its write pointer.  We keep each
 * zone's write pointer here, read from a zone report at open and again
 * after a write fails or lands elsewhere than we expected, and refuse a
 * write that would not land at it rather than let the device fail it
 * half-way.  Discarding a zone resets it (BLKRESETZONE); finishing it
 * (the writer is done before its end) makes it full, so that it stops
 * counting against the device's open and active zone limits.
 *
 * Reads below the write pointer go to the device; what lies above it was
 * never written since the last reset and reads as zeros without asking
 * the device, since some devices fail such reads and recovery reads
 * every segment's first chunk header.
 *
 * Conventional zones (some SMR disks start with a few) are used like any
 * other zone: the store writes every segment sequentially anyway, so
 * they need no write pointer.  Discarding one writes zeros over it
 * (BLKZEROOUT), so that it too reads blank afterwards.
 *
 * A write at the very start of a sequential zone whose write pointer is
 * further on resets the zone first: the store writes a segment's start
 * only after it took the segment as free, and a crash can leave a zone
 * with a write pointer past data that reads as blank (a write torn before
 * any non-zero byte landed).  A write anywhere else off the write pointer
 * fails with EIO.
 *
 * The store's superblocks sit at the start of the first and the last
 * zone.  Only vswap format writes them, after it reset every zone (the
 * store's format discards every segment), and finishes both zones at
 * once, so they never hold an open zone.
 *
 * Zones whose capacity is less than their size (some ZNS drives) are not
 * supported: the store needs segments of a power-of-two size that it can
 * fill.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/blkzoned.h>
#include <linux/fs.h>

#include "backend.h"
#include "human-size.h"
#include "io-pool.h"
#include "medium.h"

#define SECTOR_SIZE 512u

/* Zones asked for per BLKREPORTZONE at open. */
#define REPORT_BATCH 256u

/* The store's segments are at most 1 GiB. */
#define MAX_ZONE_SIZE (UINT64_C (1) << 30)

struct zone {
  /* Bytes from the zone's start.  Written under write_lock, read by
   * readers without it (atomically). */
  uint64_t write_pointer;
  /* Bytes holding data (below the write pointer); a finished zone has its
   * write pointer at the end but data only up to here. */
  uint64_t written;
  bool conventional;
};

struct zoned_medium {
  struct vswap_medium medium;   /* first: the backend casts */
  int fd;
  bool read_only;
  uint64_t zone_size;           /* bytes */
  uint32_t zone_count;
  uint32_t conventional_zones;
  struct zone *zones;
  /* Serialises writes, resets and finishes: the write pointers move
   * under it.  The store writes under its own lock anyway. */
  pthread_mutex_t write_lock;
  /* A report of one zone, allocated at open: the I/O path allocates
   * nothing. */
  struct blk_zone_report *report;
  struct vswap_io_pool io;
  char *path;                   /* for the description */
};

static struct zoned_medium *
to_zoned (struct vswap_medium *medium)
{
  return (struct zoned_medium *) medium;
}

static uint64_t
load (const uint64_t *p)
{
  return __atomic_load_n (p, __ATOMIC_ACQUIRE);
}

static void
store_u64 (uint64_t *p, uint64_t value)
{
  __atomic_store_n (p, value, __ATOMIC_RELEASE);
}

/* Take what the device says about one zone. */
static void
take_report (struct zoned_medium *z, const struct blk_zone *report)
{
  const uint64_t index = report->start * SECTOR_SIZE / z->zone_size;
  struct zone *zone;
  uint64_t pointer;

  if (index >= z->zone_count)
    return;
  zone = &z->zones[index];
  zone->conventional = report->type == BLK_ZONE_TYPE_CONVENTIONAL;
  if (zone->conventional || report->cond == BLK_ZONE_COND_FULL)
    pointer = z->zone_size;
  else if (report->cond == BLK_ZONE_COND_EMPTY)
    pointer = 0;
  else
    pointer = (report->wp - report->start) * SECTOR_SIZE;
  if (pointer > z->zone_size)
    pointer = z->zone_size;
  store_u64 (&zone->write_pointer, pointer);
  /* A full zone may have been finished early: what lies above its data
   * is blank, but the report cannot tell where its data ends. */
  store_u64 (&zone->written, pointer);
}

/* Ask the device where zone INDEX's write pointer is.  Under write_lock
 * (or at open). */
static int
refresh_zone (struct zoned_medium *z, uint64_t index)
{
  memset (z->report, 0, sizeof *z->report + sizeof (struct blk_zone));
  z->report->sector = index * z->zone_size / SECTOR_SIZE;
  z->report->nr_zones = 1;
  if (ioctl (z->fd, BLKREPORTZONE, z->report) == -1)
    return -errno;
  if (z->report->nr_zones != 1)
    return -EIO;
  take_report (z, &z->report->zones[0]);
  return 0;
}

/* Split [OFFSET, OFFSET + LENGTH) at zone boundaries. */
static uint64_t
zone_of (const struct zoned_medium *z, uint64_t offset, uint64_t *in_zone)
{
  *in_zone = offset % z->zone_size;
  return offset / z->zone_size;
}

static int
zoned_read (struct vswap_medium *medium, void *buffer, size_t length,
            uint64_t offset)
{
  struct zoned_medium *z = to_zoned (medium);
  uint8_t *out = buffer;

  while (length > 0) {
    uint64_t in_zone;
    const uint64_t index = zone_of (z, offset, &in_zone);
    const struct zone *zone = &z->zones[index];
    const uint64_t n = length < z->zone_size - in_zone
      ? length : z->zone_size - in_zone;
    const uint64_t written = zone->conventional ? z->zone_size
      : load (&zone->written);
    const uint64_t valid = written <= in_zone ? 0
      : written - in_zone < n ? written - in_zone : n;

    if (valid > 0) {
      const int r = vswap_io_pool_read (&z->io, out, valid, offset);
      if (r < 0)
        return r;
    }
    memset (out + valid, 0, n - valid);
    out += n;
    offset += n;
    length -= n;
  }
  return 0;
}

static int
reset_zone (struct zoned_medium *z, uint64_t index)
{
  struct blk_zone_range range = {
    .sector = index * z->zone_size / SECTOR_SIZE,
    .nr_sectors = z->zone_size / SECTOR_SIZE,
  };
  struct zone *zone = &z->zones[index];

  if (zone->conventional) {
    uint64_t bytes[2] = { index * z->zone_size, z->zone_size };

    return ioctl (z->fd, BLKZEROOUT, bytes) == -1 ? -errno : 0;
  }
  if (ioctl (z->fd, BLKRESETZONE, &range) == -1) {
    const int r = -errno;

    refresh_zone (z, index);
    return r;
  }
  store_u64 (&zone->written, 0);
  store_u64 (&zone->write_pointer, 0);
  return 0;
}

static int
zoned_write (struct vswap_medium *medium, const void *buffer, size_t length,
             uint64_t offset)
{
  struct zoned_medium *z = to_zoned (medium);
  uint64_t in_zone;
  const uint64_t index = zone_of (z, offset, &in_zone);
  struct zone *zone = &z->zones[index];
  int r = 0;

  if (z->read_only)
    return -EROFS;
  /* A segment is a zone: the store never writes across two. */
  if (in_zone + length > z->zone_size)
    return -EINVAL;
  if (zone->conventional)
    return vswap_io_pool_write (&z->io, buffer, length, offset);

  pthread_mutex_lock (&z->write_lock);
  if (in_zone != zone->write_pointer)
    r = refresh_zone (z, index);
  if (r == 0 && in_zone != zone->write_pointer)
    r = in_zone == 0 ? reset_zone (z, index) : -EIO;
  if (r == 0) {
    r = vswap_io_pool_write (&z->io, buffer, length, offset);
    if (r == 0) {
      store_u64 (&zone->written, in_zone + length);
      store_u64 (&zone->write_pointer, in_zone + length);
    }
    else
      refresh_zone (z, index);   /* part of it may have landed */
  }
  pthread_mutex_unlock (&z->write_lock);
  return r;
}

/* Whole zones only: a zone is the smallest thing a device resets. */
static int
whole_zones (const struct zoned_medium *z, uint64_t offset, uint64_t length)
{
  return offset % z->zone_size == 0 && length % z->zone_size == 0
    ? 0 : -EINVAL;
}

/* Apply ACTION to each zone of [OFFSET, OFFSET + LENGTH), which must be
 * whole zones, under the write lock; stop at the first error. */
static int
each_zone (struct vswap_medium *medium, uint64_t offset, uint64_t length,
           int (*action) (struct zoned_medium *z, uint64_t index))
{
  struct zoned_medium *z = to_zoned (medium);
  int r;

  if (z->read_only)
    return -EROFS;
  r = whole_zones (z, offset, length);
  pthread_mutex_lock (&z->write_lock);
  for (uint64_t i = offset / z->zone_size;
       r == 0 && i < (offset + length) / z->zone_size; i++)
    r = action (z, i);
  pthread_mutex_unlock (&z->write_lock);
  return r;
}

static int
discard_zone (struct zoned_medium *z, uint64_t index)
{
  /* An empty zone needs no reset (format resets every zone). */
  if (z->zones[index].conventional || z->zones[index].write_pointer != 0)
    return reset_zone (z, index);
  return 0;
}

static int
finish_zone (struct zoned_medium *z, uint64_t index)
{
  struct zone *zone = &z->zones[index];
  struct blk_zone_range range = {
    .sector = index * z->zone_size / SECTOR_SIZE,
    .nr_sectors = z->zone_size / SECTOR_SIZE,
  };

  /* Empty and full zones are neither open nor active. */
  if (zone->conventional || zone->write_pointer == 0
      || zone->write_pointer == z->zone_size)
    return 0;
  if (ioctl (z->fd, BLKFINISHZONE, &range) == -1) {
    const int r = -errno;
    refresh_zone (z, index);
    return r;
  }
  store_u64 (&zone->write_pointer, z->zone_size);
  return 0;
}

static int
zoned_discard (struct vswap_medium *medium, uint64_t offset, uint64_t length)
{
  return each_zone (medium, offset, length, discard_zone);
}

static int
zoned_finish (struct vswap_medium *medium, uint64_t offset, uint64_t length)
{
  return each_zone (medium, offset, length, finish_zone);
}

static int
zoned_flush (struct vswap_medium *medium)
{
  return fdatasync (to_zoned (medium)->fd) == -1 ? -errno : 0;
}

static void
zoned_close (struct vswap_medium *medium)
{
  struct zoned_medium *z = to_zoned (medium);

  vswap_io_pool_close (&z->io);
  close (z->fd);
  pthread_mutex_destroy (&z->write_lock);
  free (z->report);
  free (z->zones);
  free (z->path);
  free (z);
}

/* "PATH (zoned block device, N zones of SIZE, ...)". */
static void
describe (struct zoned_medium *z)
{
  char zone_text[32];

  vswap_human_size (z->zone_size, zone_text, sizeof zone_text);
  snprintf (z->medium.description, sizeof z->medium.description,
            "%s (zoned block device, %" PRIu32 " zones of %s, %" PRIu32
            " conventional, O_DIRECT, %s%s)", z->path, z->zone_count,
            zone_text, z->conventional_zones, vswap_io_pool_engine (&z->io),
            z->read_only ? ", read-only" : "");
}

static int
zoned_start (struct vswap_medium *medium, unsigned threads,
             struct vswap_error *err)
{
  struct zoned_medium *z = to_zoned (medium);
  struct vswap_io_pool_report report;
  const int r = vswap_io_pool_start (&z->io, threads, &report, err);

  describe (z);
  return r;
}

static const struct vswap_medium_operations zoned_operations = {
  .name = "zoned",
  .read = zoned_read,
  .write = zoned_write,
  .discard = zoned_discard,
  .flush = zoned_flush,
  .finish = zoned_finish,
  .close = zoned_close,
  .start = zoned_start,
};

/* Read every zone's type and write pointer.  Refuses zones whose
 * capacity is less than their size. */
static int
report_all_zones (struct zoned_medium *z, const char *path,
                  struct vswap_error *err)
{
  const size_t size = sizeof (struct blk_zone_report)
    + REPORT_BATCH * sizeof (struct blk_zone);
  struct blk_zone_report *report = malloc (size);
  uint64_t sector = 0;
  const uint64_t end = (uint64_t) z->zone_count * z->zone_size / SECTOR_SIZE;
  int r = 0;

  if (report == NULL)
    return vswap_error_set (err, ENOMEM, "%s: out of memory", path);
  while (sector < end && r == 0) {
    memset (report, 0, size);
    report->sector = sector;
    report->nr_zones = REPORT_BATCH;
    if (ioctl (z->fd, BLKREPORTZONE, report) == -1) {
      r = vswap_error_set (err, errno, "%s: cannot report its zones: %s",
                           path, vswap_strerror (errno));
      break;
    }
    if (report->nr_zones == 0) {
      r = vswap_error_set (err, EIO, "%s: the zone report ends at sector "
                           "%" PRIu64 " of %" PRIu64 ": the device is "
                           "confused", path, sector, end);
      break;
    }
    for (uint32_t i = 0; i < report->nr_zones; i++) {
      const struct blk_zone *zone = &report->zones[i];

      /* A smaller last zone is allowed by the kernel; a segment cannot
       * be smaller than the others, so it goes unused. */
      if (zone->len * SECTOR_SIZE < z->zone_size
          && zone->start + zone->len >= end) {
        z->zone_count--;
        sector = end;
        break;
      }
      if (zone->len * SECTOR_SIZE != z->zone_size) {
        r = vswap_error_set (err, EINVAL, "%s: zone at sector %" PRIu64
                             " is %" PRIu64 " sectors, not %" PRIu64
                             ": vswap needs zones of one size", path,
                             (uint64_t) zone->start, (uint64_t) zone->len,
                             z->zone_size / SECTOR_SIZE);
        break;
      }
      if ((report->flags & BLK_ZONE_REP_CAPACITY)
          && zone->type != BLK_ZONE_TYPE_CONVENTIONAL
          && zone->capacity != zone->len) {
        r = vswap_error_set (err, EINVAL, "%s: zone capacity %" PRIu64
                             " sectors is less than the zone size %" PRIu64
                             ": vswap needs zones it can fill; use a device "
                             "(or namespace) whose zone capacity is its "
                             "zone size", path, (uint64_t) zone->capacity,
                             (uint64_t) zone->len);
        break;
      }
      if (zone->type == BLK_ZONE_TYPE_CONVENTIONAL)
        z->conventional_zones++;
      take_report (z, zone);
      sector = zone->start + zone->len;
    }
  }
  free (report);
  return r;
}

/* Zone geometry, units and the open-zone budget.  Fills the geometry
 * (but not the capacity) and the geometry_source text. */
static int
zone_geometry (struct zoned_medium *z, const char *path, dev_t rdev,
               const struct vswap_medium_options *options,
               struct vswap_error *err)
{
  struct vswap_geometry *g = &z->medium.geometry;
  uint32_t zone_sectors = 0, zones = 0;
  int logical = 0;
  unsigned physical = 0;
  uint64_t max_open = 0, max_active = 0;
  char zone_text[32], model[32] = "?";
  const char *budget_source;

  if (ioctl (z->fd, BLKGETZONESZ, &zone_sectors) == -1
      || ioctl (z->fd, BLKGETNRZONES, &zones) == -1
      || ioctl (z->fd, BLKSSZGET, &logical) == -1
      || ioctl (z->fd, BLKPBSZGET, &physical) == -1)
    return vswap_error_set (err, errno, "%s: cannot read its zone "
                            "geometry: %s: is it really a zoned disk?",
                            path, vswap_strerror (errno));
  if (zone_sectors == 0 || zones == 0)
    return vswap_error_set (err, EINVAL, "%s: the kernel reports no zones: "
                            "open it as an ordinary block device", path);
  z->zone_size = (uint64_t) zone_sectors * SECTOR_SIZE;
  z->zone_count = zones;
  if (z->zone_size > MAX_ZONE_SIZE || (z->zone_size & (z->zone_size - 1)))
    return vswap_error_set (err, EINVAL, "%s: zones of %" PRIu64 " bytes: "
                            "vswap needs zones of a power of two up to "
                            "1 GiB", path, z->zone_size);
  if (options->erase_block && options->erase_block != z->zone_size)
    return vswap_error_set (err, EINVAL, "%s is zoned with %" PRIu64
                            "-byte zones: the segment size must be the zone "
                            "size (drop --erase-block)", path, z->zone_size);
  vswap_sysfs_text (rdev, "queue/zoned", model, sizeof model);

  g->read_unit = (uint32_t) logical;
  g->write_unit = VSWAP_DEFAULT_WRITE_UNIT;
  if (physical > g->write_unit)
    g->write_unit = physical;
  if ((uint32_t) logical > g->write_unit)
    g->write_unit = (uint32_t) logical;
  g->erase_block = (uint32_t) z->zone_size;
  g->sequential_only = true;
  g->can_discard = !z->read_only;
  g->discard_zeroes = true;

  /* Either limit bounds the zones we may have half written. */
  vswap_sysfs_number (rdev, "queue/max_open_zones", &max_open);
  vswap_sysfs_number (rdev, "queue/max_active_zones", &max_active);
  g->max_open_segments = 0;
  budget_source = "no limit (queue/max_open_zones and "
    "queue/max_active_zones are 0)";
  if (max_open > 0) {
    g->max_open_segments = max_open > UINT32_MAX ? UINT32_MAX
      : (uint32_t) max_open;
    budget_source = "queue/max_open_zones";
  }
  if (max_active > 0 && (g->max_open_segments == 0
                         || max_active < g->max_open_segments)) {
    g->max_open_segments = max_active > UINT32_MAX ? UINT32_MAX
      : (uint32_t) max_active;
    budget_source = "queue/max_active_zones";
  }

  vswap_human_size (z->zone_size, zone_text, sizeof zone_text);
  snprintf (z->medium.geometry_source, sizeof z->medium.geometry_source,
            "%s zoned device, %" PRIu32 " zones: erase block %s from the "
            "zone size (BLKGETZONESZ); write unit %" PRIu32 " from the "
            "physical block size %u (at least 4096); open segments at "
            "most %" PRIu32 " from %s (max_open_zones %" PRIu64
            ", max_active_zones %" PRIu64 ")",
            model, zones, zone_text, g->write_unit, physical,
            g->max_open_segments, budget_source, max_open, max_active);
  return 0;
}

struct vswap_medium *
vswap_zoned_medium_open (const char *path,
                         const struct vswap_medium_options *options,
                         struct vswap_error *err)
{
  struct zoned_medium *z;
  struct stat st;
  int flags, errnum;

  if (options->create) {
    vswap_error_set (err, EEXIST, "%s: is a zoned block device; refusing to "
                     "create a file over it: drop the size to use it as it "
                     "is", path);
    return NULL;
  }
  if (options->buffered) {
    vswap_error_set (err, EINVAL, "%s: is a zoned block device, which takes "
                     "only direct I/O: drop --buffered", path);
    return NULL;
  }

  z = calloc (1, sizeof *z);
  if (z == NULL) {
    vswap_error_set (err, ENOMEM, "%s: out of memory", path);
    return NULL;
  }
  z->read_only = options->read_only;
  pthread_mutex_init (&z->write_lock, NULL);
  /* Exclusive: a zoned disk that is mounted (f2fs, btrfs) must not be
   * touched. */
  flags = O_DIRECT | O_CLOEXEC
    | (options->read_only ? O_RDONLY : O_RDWR | O_EXCL);
  z->fd = open (path, flags);
  if (z->fd == -1) {
    errnum = errno;
    vswap_error_set (err, errnum, "%s: %s: %s", path, vswap_strerror (errnum),
                     errnum == EBUSY
                     ? "it is mounted or held by another program: stop that"
                     : "check the path and your permissions");
    pthread_mutex_destroy (&z->write_lock);
    free (z);
    return NULL;
  }
  if (fstat (z->fd, &st) == -1 || !S_ISBLK (st.st_mode)) {
    vswap_error_set (err, EINVAL, "%s: not a block device", path);
    goto fail;
  }
  /* One user at a time (flash/lock.c). */
  if (vswap_lock_descriptor (z->fd, options->lock, path, err) < 0)
    goto fail;
  if (zone_geometry (z, path, st.st_rdev, options, err) < 0)
    goto fail;

  z->zones = calloc (z->zone_count, sizeof *z->zones);
  z->report = calloc (1, sizeof *z->report + sizeof (struct blk_zone));
  if (z->zones == NULL || z->report == NULL) {
    vswap_error_set (err, ENOMEM, "%s: out of memory for %" PRIu32 " zones",
                     path, z->zone_count);
    goto fail;
  }
  if (report_all_zones (z, path, err) < 0)
    goto fail;

  if (vswap_geometry_finish (&z->medium.geometry,
                             (uint64_t) z->zone_count * z->zone_size,
                             z->medium.geometry.read_unit, options, path,
                             err) < 0)
    goto fail;

  vswap_io_pool_init (&z->io, z->fd, !options->avoid_io_uring);
  z->medium.operations = &zoned_operations;
  z->path = strdup (path);
  if (z->path == NULL) {
    vswap_error_set (err, ENOMEM, "%s: out of memory", path);
    goto fail;
  }
  describe (z);
  return &z->medium;

 fail:
  close (z->fd);
  pthread_mutex_destroy (&z->write_lock);
  free (z->report);
  free (z->zones);
  free (z);
  return NULL;
}
