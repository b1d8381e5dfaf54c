/* vswap: a medium on a regular file or a block device.
 *
 * O_DIRECT where the file system allows it (swapped pages must not sit in
 * the page cache of the very machine that is short of memory), io_uring
 * for transfers, and discard by punching holes or BLKDISCARD.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fs.h>

#include "backend.h"
#include "io-pool.h"
#include "medium.h"
#include "rounding.h"

struct file_medium {
  struct vswap_medium medium;   /* first: the backend casts */
  int fd;
  bool block_device;
  bool read_only;
  bool direct;                  /* opened O_DIRECT */
  char *path;                   /* for the description */
  struct vswap_io_pool io;
};

static struct file_medium *
to_file (struct vswap_medium *medium)
{
  return (struct file_medium *) medium;
}

static int
file_read (struct vswap_medium *medium, void *buffer, size_t length,
           uint64_t offset)
{
  return vswap_io_pool_read (&to_file (medium)->io, buffer, length, offset);
}

static void
file_read_batch (struct vswap_medium *medium, struct vswap_medium_read *reads,
                 unsigned count)
{
  vswap_io_pool_read_batch (&to_file (medium)->io, reads, count);
}

static int
file_write (struct vswap_medium *medium, const void *buffer, size_t length,
            uint64_t offset)
{
  struct file_medium *f = to_file (medium);

  if (f->read_only)
    return -EROFS;
  return vswap_io_pool_write (&f->io, buffer, length, offset);
}

static int
file_discard (struct vswap_medium *medium, uint64_t offset, uint64_t length)
{
  struct file_medium *f = to_file (medium);
  int r;

  if (f->read_only)
    return -EROFS;
  if (f->block_device) {
    uint64_t range[2] = { offset, length };

    r = ioctl (f->fd, BLKDISCARD, range);
  }
  else
    r = fallocate (f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                   offset, length);
  return r == -1 ? -errno : 0;
}

static int
file_flush (struct vswap_medium *medium)
{
  return fdatasync (to_file (medium)->fd) == -1 ? -errno : 0;
}

/* "PATH (regular file, O_DIRECT, pread/pwrite)" and the like. */
static void
describe (struct file_medium *f)
{
  snprintf (f->medium.description, sizeof f->medium.description,
            "%s (%s, %s, %s%s)", f->path,
            f->block_device ? "block device" : "regular file",
            f->direct ? "O_DIRECT" : "buffered",
            vswap_io_pool_engine (&f->io),
            f->read_only ? ", read-only" : "");
}

static int
file_start (struct vswap_medium *medium, unsigned threads,
            struct vswap_error *err)
{
  struct file_medium *f = to_file (medium);
  struct vswap_io_pool_report report;
  const int r = vswap_io_pool_start (&f->io, threads, &report, err);

  describe (f);
  return r;
}

static void
file_close (struct vswap_medium *medium)
{
  struct file_medium *f = to_file (medium);

  vswap_io_pool_close (&f->io);
  close (f->fd);
  free (f->path);
  free (f);
}

static const struct vswap_medium_operations file_operations = {
  .name = "file",
  .read = file_read,
  .write = file_write,
  .discard = file_discard,
  .flush = file_flush,
  .close = file_close,
  .read_batch = file_read_batch,
  .start = file_start,
};

/* One line naming the problem and the fix for a failed open. */
static void
open_error (struct vswap_error *err, const char *path, int errnum,
            const struct vswap_medium_options *options)
{
  const char *fix;

  switch (errnum) {
  case ENOENT:
    fix = options->create
      ? "create its directory first"
      : "give the path of a file or block device, or a size to create a file";
    break;
  case EACCES:
  case EPERM:
    fix = options->read_only
      ? "fix its permissions or run as a user who may read it"
      : "fix its permissions or run as a user who may read and write it";
    break;
  case EROFS:
    fix = "put the store on a writable file system, or open it read-only";
    break;
  case EBUSY:
    fix = "it is mounted, used as swap or held by another program: "
      "stop that or choose another device";
    break;
  case EISDIR:
    fix = "give the path of a file, not a directory";
    break;
  default:
    fix = "check the path";
    break;
  }
  vswap_error_set (err, errnum, "%s: %s: %s", path, vswap_strerror (errnum), fix);
}

static void
warn_buffered (const char *path)
{
  fprintf (stderr,
           "vswap: warning: %s: the file system refused O_DIRECT; using "
           "buffered I/O (pages pass through the page cache): put the "
           "store on a disk file system or a block device\n", path);
}

/* Some file systems accept O_DIRECT at open and refuse it at the first
 * transfer; find out now, not on the swap path. */
static bool
direct_io_works (int fd, uint32_t unit, uint64_t size)
{
  void *buffer;
  bool ok = true;

  if (size < unit)
    return true;                /* nothing to read; open() said yes */
  if (posix_memalign (&buffer, unit > 4096 ? unit : 4096, unit) != 0)
    return true;
  if (pread (fd, buffer, unit, 0) == -1 && errno == EINVAL)
    ok = false;
  free (buffer);
  return ok;
}

/* Size and units of a block device.  IO_ALIGN gets the alignment every
 * transfer needs. */
static int
block_geometry (struct file_medium *f, const char *path, dev_t rdev,
                bool direct, uint64_t *size, uint32_t *io_align,
                struct vswap_error *err)
{
  struct vswap_geometry *g = &f->medium.geometry;
  uint64_t value, erase_block, granularity = 0, optimal;
  const char *erase_source, *write_unit_source;
  int sector;

  if (ioctl (f->fd, BLKGETSIZE64, size) == -1
      || ioctl (f->fd, BLKSSZGET, &sector) == -1)
    return vswap_error_set (err, errno,
                            "%s: cannot read the device's size: %s: "
                            "is it really a disk?", path, vswap_strerror (errno));

  /* Buffered I/O goes through the page cache, which takes any alignment,
   * but 512 keeps the numbers sane. */
  *io_align = direct ? (uint32_t) sector : 512;
  g->read_unit = *io_align;
  /* The physical block: writing less makes the device read-modify-write
   * (a 4Kn disk behind 512-byte emulation). */
  g->write_unit = (uint32_t) sector > VSWAP_DEFAULT_WRITE_UNIT
    ? (uint32_t) sector : VSWAP_DEFAULT_WRITE_UNIT;
  write_unit_source = "the default";
  if (vswap_sysfs_number (rdev, "queue/physical_block_size", &value)
      && value > g->write_unit && value <= (1u << 20)
      && value % (uint32_t) sector == 0) {
    g->write_unit = (uint32_t) value;
    write_unit_source = "queue/physical_block_size";
  }

  /* Without sysfs we cannot tell whether discard works: do not try. */
  g->can_discard = !f->read_only
    && vswap_sysfs_number (rdev, "queue/discard_max_bytes", &value)
    && value > 0;
  g->discard_zeroes = false;

  /* SD cards and eMMC name their allocation unit; writing it whole is
   * what keeps them fast.  Else the default, but never smaller than what
   * the device discards at once, so that discarding a segment frees it. */
  erase_block = VSWAP_DEFAULT_ERASE_BLOCK;
  erase_source = "the default (no device/preferred_erase_size)";
  if (vswap_sysfs_number (rdev, "device/preferred_erase_size", &value)
      && value > 0) {
    erase_block = value;
    erase_source = "device/preferred_erase_size";
  }
  if (g->can_discard
      && vswap_sysfs_number (rdev, "queue/discard_granularity", &granularity)
      && granularity > 0 && erase_block % granularity != 0) {
    erase_block = round_up (erase_block, granularity);
    erase_source = "queue/discard_granularity (rounded up to it)";
  }
  erase_block = round_up (erase_block, g->write_unit);
  if (erase_block > UINT32_MAX / 2) {
    erase_block = VSWAP_DEFAULT_ERASE_BLOCK;
    erase_source = "the default (the device's value is too large)";
  }
  g->erase_block = (uint32_t) erase_block;
  if (!vswap_sysfs_number (rdev, "queue/optimal_io_size", &optimal))
    optimal = 0;

  /* Ordinary block devices say nothing of how many erase blocks they
   * keep open: max_open_segments stays 0, and vswap probe measures it. */
  snprintf (f->medium.geometry_source, sizeof f->medium.geometry_source,
            "erase block %" PRIu64 " from %s; write unit %" PRIu32
            " from %s; discard %s (discard_granularity %" PRIu64
            "); optimal_io_size %" PRIu64 "; open erase blocks unknown "
            "(measure them with vswap probe --destructive)",
            erase_block, erase_source, g->write_unit, write_unit_source,
            g->can_discard ? "works" : "does not work",
            g->can_discard ? granularity : 0, optimal);
  return 0;
}

/* The offset alignment O_DIRECT needs on FD's file system, as the kernel
 * tells it (statx STATX_DIOALIGN, Linux 6.1); else 4096, which satisfies
 * every file system we know.  It matters for reads: a 4 KiB page with
 * its 32-byte record header costs 4.5 KiB on a 512-byte aligned file
 * system, 8 KiB at 4096. */
static uint32_t
direct_io_alignment (int fd)
{
#ifdef STATX_DIOALIGN
  struct statx stx;
  if (statx (fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
      (stx.stx_mask & STATX_DIOALIGN) &&
      stx.stx_dio_offset_align >= 512 && stx.stx_dio_offset_align <= 4096 &&
      (stx.stx_dio_offset_align & (stx.stx_dio_offset_align - 1)) == 0 &&
      stx.stx_dio_mem_align <= VSWAP_MEDIUM_BUFFER_ALIGN)
    return stx.stx_dio_offset_align;
#endif
  return 4096;
}

/* Units of a regular file, and whether it can punch holes. */
static void
file_geometry (struct file_medium *f, bool direct, uint64_t size,
               uint32_t *io_align)
{
  struct vswap_geometry *g = &f->medium.geometry;

  *io_align = direct ? direct_io_alignment (f->fd) : 512;
  g->read_unit = *io_align;
  g->write_unit = VSWAP_DEFAULT_WRITE_UNIT;
  g->erase_block = VSWAP_DEFAULT_ERASE_BLOCK;

  /* Punching past the end of the file changes nothing and tells us
   * whether the file system can. */
  g->can_discard = !f->read_only
    && fallocate (f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  size, 4096) == 0;
  g->discard_zeroes = g->can_discard;
}

static int
detect_geometry (struct file_medium *f, const char *path,
                 const struct stat *st, bool direct,
                 const struct vswap_medium_options *options,
                 uint64_t *size, uint32_t *io_align,
                 struct vswap_error *err)
{
  if (f->block_device)
    return block_geometry (f, path, st->st_rdev, direct, size, io_align,
                           err);
  *size = options->create ? options->create_size : (uint64_t) st->st_size;
  file_geometry (f, direct, *size, io_align);
  return 0;
}

/* Open PATH, falling back from O_DIRECT to buffered I/O with a warning
 * if the file system refuses it.  Returns the descriptor or -1 with
 * errno set; *DIRECT tells which it got. */
static int
open_path (const char *path, int flags, bool *direct)
{
  int fd;

  if (*direct) {
    fd = open (path, flags | O_DIRECT, 0600);
    if (fd >= 0 || errno != EINVAL)
      return fd;
    warn_buffered (path);
    *direct = false;
  }
  return open (path, flags, 0600);
}

struct vswap_medium *
vswap_file_medium_open (const char *path,
                        const struct vswap_medium_options *options,
                        struct vswap_error *err)
{
  struct file_medium *f;
  struct stat st;
  bool exists, direct = !options->buffered;
  int flags, errnum;
  uint64_t size;
  uint32_t io_align;

  if (options->create && options->read_only) {
    vswap_error_set (err, EINVAL,
                     "%s: cannot create a file read-only: drop one of the "
                     "two", path);
    return NULL;
  }
  if (options->create && options->create_size == 0) {
    vswap_error_set (err, EINVAL,
                     "%s: creating a file needs a size: give one", path);
    return NULL;
  }

  exists = stat (path, &st) == 0;
  if (!exists && (errno != ENOENT || !options->create)) {
    open_error (err, path, errno, options);
    return NULL;
  }
  if (exists && options->create && !S_ISREG (st.st_mode))
    goto refuse_create;
  if (exists && !S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))
    goto not_a_medium;

  flags = (options->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (options->create)
    flags |= O_CREAT;
  /* Exclusive open of a block device fails if it is mounted or is
   * active swap: the one mistake that must never get through. */
  else if (exists && S_ISBLK (st.st_mode) && !options->read_only)
    flags |= O_EXCL;

  f = calloc (1, sizeof *f);
  if (f == NULL) {
    vswap_error_set (err, ENOMEM, "%s: out of memory", path);
    return NULL;
  }
  f->read_only = options->read_only;

  f->fd = open_path (path, flags, &direct);
  if (f->fd == -1) {
    errnum = errno;
    /* O_EXCL refused: if a vswap holds it, say which. */
    char holder[128];
    if (errnum == EBUSY && (flags & O_EXCL) && stat (path, &st) == 0) {
      vswap_lock_holder (&st, holder, sizeof holder);
      vswap_error_set (err, EBUSY, "%s is in use by %s: mounted, active "
                       "swap or another program's (--force does not change "
                       "that); stop that one first", path, holder);
    }
    else
      open_error (err, path, errnum, options);
    free (f);
    return NULL;
  }
  if (fstat (f->fd, &st) == -1) {
    errnum = errno;
    vswap_error_set (err, errnum, "%s: %s", path, vswap_strerror (errnum));
    goto fail;
  }
  f->block_device = S_ISBLK (st.st_mode);
  if (options->create && !S_ISREG (st.st_mode)) {
    close (f->fd);
    free (f);
    goto refuse_create;
  }
  if (!f->block_device && !S_ISREG (st.st_mode)) {
    close (f->fd);
    free (f);
    goto not_a_medium;
  }

  /* One user at a time: locked before anything changes, the size too. */
  if (vswap_lock_descriptor (f->fd, options->lock, path, err) < 0)
    goto fail;

  if (options->create && ftruncate (f->fd, options->create_size) == -1) {
    errnum = errno;
    vswap_error_set (err, errnum,
                     "%s: cannot make it %" PRIu64 " bytes: %s: free some "
                     "space or give a smaller size",
                     path, options->create_size, vswap_strerror (errnum));
    goto fail;
  }

  if (detect_geometry (f, path, &st, direct, options, &size, &io_align,
                       err) < 0)
    goto fail;
  if (direct && !direct_io_works (f->fd, f->medium.geometry.read_unit,
                                  size)) {
    warn_buffered (path);
    close (f->fd);
    direct = false;
    f->fd = open (path, flags & ~O_CREAT, 0600);
    if (f->fd == -1) {
      open_error (err, path, errno, options);
      free (f);
      return NULL;
    }
    if (vswap_lock_descriptor (f->fd, options->lock, path, err) < 0)
      goto fail;
    if (detect_geometry (f, path, &st, direct, options, &size, &io_align,
                         err) < 0)
      goto fail;
  }

  if (vswap_geometry_finish (&f->medium.geometry, size, io_align, options,
                             path, err) < 0)
    goto fail;

  vswap_io_pool_init (&f->io, f->fd, !options->avoid_io_uring);
  f->medium.operations = &file_operations;
  f->direct = direct;
  f->path = strdup (path);
  if (f->path == NULL) {
    vswap_error_set (err, ENOMEM, "%s: out of memory", path);
    goto fail;
  }
  describe (f);
  return &f->medium;

 fail:
  close (f->fd);
  free (f);
  return NULL;

 refuse_create:
  vswap_error_set (err, EEXIST,
                   "%s: exists and is not a regular file; refusing to "
                   "create a file over it: drop the size to use it as it is",
                   path);
  return NULL;

 not_a_medium:
  vswap_error_set (err, EINVAL,
                   "%s: not a regular file or block device: give the path "
                   "of one", path);
  return NULL;
}
