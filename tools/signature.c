/* vswap: recognise what is already on a medium before format destroys it.
 *
 * The table is deliberately short: the things people actually point a
 * swap tool at by mistake (a filesystem, a partitioned disk, somebody
 * else's swap area, an encrypted volume, an installer image).  A false
 * "nothing found" costs data, a false alarm costs typing --force, so
 * each entry checks only a magic at a fixed offset, like blkid does.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "medium.h"
#include "tools.h"

/* Enough to reach the furthest magic below (btrfs, at 64 KiB + 64). */
#define PROBE_BYTES (68 * 1024)

struct signature {
  const char *what;             /* "an XFS filesystem" */
  size_t offset;
  const char *magic;
  size_t length;
  /* If not NULL, names what the magic belongs to, from the whole buffer. */
  const char *(*name) (const unsigned char *buffer);
};

static const char *ext_flavour (const unsigned char *buffer);

/* Order matters: a FAT boot sector and a GPT's protective MBR both end
 * in 0x55AA too, so the plain MBR comes last. */
static const struct signature signatures[] = {
  { "a LUKS encrypted volume", 0, "LUKS\xba\xbe", 6, NULL },
  { "an XFS filesystem", 0, "XFSB", 4, NULL },
  { "a squashfs filesystem", 0, "hsqs", 4, NULL },
  { "a btrfs filesystem", 65600, "_BHRfS_M", 8, NULL },
  /* The swap header ends the first page, whatever the page size. */
  { "a Linux swap area", 4086, "SWAPSPACE2", 10, NULL },
  { "a Linux swap area", 4086, "SWAP-SPACE", 10, NULL },
  { "a Linux swap area", 16374, "SWAPSPACE2", 10, NULL },
  { "a Linux swap area", 65526, "SWAPSPACE2", 10, NULL },
  { "an ISO 9660 filesystem", 32769, "CD001", 5, NULL },
  { "an ext2/3/4 filesystem", 1080, "\x53\xef", 2, ext_flavour },
  { "a FAT filesystem", 54, "FAT", 3, NULL },
  { "a FAT filesystem", 82, "FAT", 3, NULL },
  { "a GPT partition table", 512, "EFI PART", 8, NULL },
  { "an MBR partition table", 510, "\x55\xaa", 2, NULL },
};

static uint32_t
le32 (const unsigned char *p)
{
  return p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
    | (uint32_t) p[3] << 24;
}

/* ext2, ext3 and ext4 share a magic; the feature flags tell them apart,
 * and naming the right one makes the refusal more convincing. */
static const char *
ext_flavour (const unsigned char *buffer)
{
  const unsigned char *sb = buffer + 1024;
  uint32_t compat = le32 (sb + 0x5c);
  uint32_t incompat = le32 (sb + 0x60);
  uint32_t ro_compat = le32 (sb + 0x64);

  /* extents, 64bit, mmp, flex_bg, csum_seed, largedir, inline_data,
   * encrypt; huge_file, gdt_csum, dir_nlink, extra_isize, quota,
   * bigalloc, metadata_csum. */
  if ((incompat & 0x1f3c0) != 0 || (ro_compat & 0x778) != 0)
    return "an ext4 filesystem";
  if ((compat & 0x4) != 0)      /* has_journal */
    return "an ext3 filesystem";
  return "an ext2 filesystem";
}

/* The first PROBE_BYTES of a remote export, through the medium: there
 * is no file to open.  Returns the bytes read or a negative errno. */
static int
read_remote (const char *spec, unsigned char **buffer,
             struct vswap_error *err)
{
  struct vswap_medium_options options = {
    .read_only = true, .lock = VSWAP_MEDIUM_LOCK_SHARED,
  };
  struct vswap_medium *medium;
  uint64_t length;
  uint32_t unit;
  int r;

  medium = vswap_medium_open (spec, &options, err);
  if (medium == NULL)
    return -EIO;
  unit = medium->geometry.read_unit;
  length = (PROBE_BYTES + unit - 1) / unit * unit;
  if (length > medium->geometry.capacity)
    length = medium->geometry.capacity;
  if (posix_memalign ((void **) buffer, VSWAP_MEDIUM_BUFFER_ALIGN,
                      length > PROBE_BYTES ? length : PROBE_BYTES) != 0) {
    vswap_medium_close (medium);
    return vswap_error_set (err, ENOMEM, "out of memory");
  }
  memset (*buffer, 0, length > PROBE_BYTES ? length : PROBE_BYTES);
  r = vswap_medium_read (medium, *buffer, length, 0);
  vswap_medium_close (medium);
  if (r < 0) {
    free (*buffer);
    return vswap_error_set (err, -r, "%s: reading the first %d KiB: %s",
                            spec, PROBE_BYTES / 1024, vswap_strerror (-r));
  }
  return length < PROBE_BYTES ? (int) length : PROBE_BYTES;
}

int
tool_find_signature (const char *spec, char *found, size_t size,
                     struct vswap_error *err)
{
  unsigned char *buffer;
  size_t have = 0;
  const char *what = NULL;
  size_t i;
  int fd;

  /* A RAM medium is new every time: nothing to lose. */
  if (strncmp (spec, "memory:", 7) == 0)
    return 0;

  if (vswap_medium_is_nbd_uri (spec)) {
    int r = read_remote (spec, &buffer, err);

    if (r < 0)
      return r;
    have = r;
    goto search;
  }

  /* Plain buffered reads: this runs before the medium is opened, must not
   * depend on its geometry, and a short file simply has no magic past its
   * end. */
  fd = open (spec, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return vswap_error_set (err, errno, "%s: %s", spec, strerror (errno));

  buffer = calloc (1, PROBE_BYTES);
  if (buffer == NULL) {
    close (fd);
    return vswap_error_set (err, ENOMEM, "out of memory");
  }
  while (have < PROBE_BYTES) {
    ssize_t r = pread (fd, buffer + have, PROBE_BYTES - have, have);

    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      int saved = errno;

      free (buffer);
      close (fd);
      return vswap_error_set (err, saved, "%s: reading the first %d KiB: %s",
                              spec, PROBE_BYTES / 1024, strerror (saved));
    }
    if (r == 0)
      break;
    have += r;
  }
  close (fd);

 search:
  for (i = 0; what == NULL && i < sizeof signatures / sizeof signatures[0];
       i++) {
    const struct signature *s = &signatures[i];

    if (s->offset + s->length <= have
        && memcmp (buffer + s->offset, s->magic, s->length) == 0)
      what = s->name ? s->name (buffer) : s->what;
  }
  free (buffer);

  if (what == NULL)
    return 0;
  snprintf (found, size, "%s", what);
  return 1;
}
