/* vswap: recognise what is already on a medium before format destroys it.
 *
 * libblkid (util-linux, Debian's libblkid-dev) does the recognising: every
 * file system, swap area, RAID and LVM member, encrypted volume and
 * partition table it knows, checked as blkid and wipefs check them
 * (magics, and for most types the superblock's own sanity checks), and
 * named as blkid names them (TYPE, PTTYPE).  A hand-written table of 14
 * magics used to do this: it formatted over F2FS, and called exFAT "an MBR
 * partition table".  vswap's own superblock is vswap_store_probe's
 * business, not this one's.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <blkid.h>

#include "medium.h"
#include "tools.h"

/* Of a remote export, the bytes copied for blkid to look at: its head
 * and its tail (MD 0.90 and 1.0, backup GPT and others sit at the end). */
#define REMOTE_BYTES (1024 * 1024)

/* What blkid's USAGE says, for a person. */
static const char *
usage_phrase (const char *usage, const char *type)
{
  if (usage == NULL)
    return "a signature";
  if (strcmp (usage, "filesystem") == 0)
    return "a filesystem";
  if (strcmp (usage, "raid") == 0)
    return "a RAID or LVM member";
  if (strcmp (usage, "crypto") == 0)
    return "an encrypted volume";
  if (type && strcmp (type, "swap") == 0)
    return "a swap area";
  return "a signature";
}

/* Copy the head and the tail of the remote export SPEC into a sparse
 * memory file of its size, for blkid.  Returns the descriptor, or a
 * negative errno with ERR filled. */
static int
copy_remote (const char *spec, struct vswap_error *err)
{
  struct vswap_medium_options options = {
    .read_only = true, .lock = VSWAP_MEDIUM_LOCK_SHARED,
  };
  struct vswap_medium *medium;
  unsigned char *buffer = NULL;
  int fd = -1, r;

  medium = vswap_medium_open (spec, &options, err);
  if (medium == NULL)
    return -EIO;
  const uint64_t capacity = medium->geometry.capacity;
  const uint32_t unit = medium->geometry.read_unit;
  uint64_t length = (REMOTE_BYTES + unit - 1) / unit * unit;
  if (length > capacity)
    length = capacity;
  fd = memfd_create ("vswap-signature", MFD_CLOEXEC);
  if (fd == -1 || ftruncate (fd, (off_t) capacity) == -1 ||
      posix_memalign ((void **) &buffer, VSWAP_MEDIUM_BUFFER_ALIGN,
                      length) != 0) {
    r = vswap_error_set (err, errno ? errno : ENOMEM,
                         "%s: cannot keep a copy to look at: %s", spec,
                         vswap_strerror (errno ? errno : ENOMEM));
    goto out;
  }
  const uint64_t offsets[2] = { 0, (capacity - length) / unit * unit };
  for (int i = 0; i < 2; i++) {
    r = vswap_medium_read (medium, buffer, length, offsets[i]);
    if (r < 0) {
      r = vswap_error_set (err, -r, "%s: reading %s: %s", spec,
                           i ? "its end" : "its start", vswap_strerror (-r));
      goto out;
    }
    if (pwrite (fd, buffer, length, (off_t) offsets[i]) != (ssize_t) length) {
      r = vswap_error_set (err, errno, "%s: cannot keep a copy to look at: "
                           "%s", spec, vswap_strerror (errno));
      goto out;
    }
  }
  r = fd;
  fd = -1;

 out:
  free (buffer);
  if (fd >= 0)
    close (fd);
  vswap_medium_close (medium);
  return r;
}

int
tool_find_signature (const char *spec, char *found, size_t size,
                     struct vswap_error *err)
{
  blkid_probe probe;
  int fd, count = 0;
  size_t used = 0;

  /* A RAM medium is new every time: nothing to lose. */
  if (strncmp (spec, "memory:", 7) == 0)
    return 0;

  if (vswap_medium_is_nbd_uri (spec))
    fd = copy_remote (spec, err);
  else {
    fd = open (spec, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
      return vswap_error_set (err, errno, "%s: %s", spec, strerror (errno));
  }
  if (fd < 0)
    return fd;

  probe = blkid_new_probe ();
  if (probe == NULL || blkid_probe_set_device (probe, fd, 0, 0) != 0) {
    if (probe)
      blkid_free_probe (probe);
    close (fd);
    return vswap_error_set (err, EIO, "%s: blkid cannot look at it", spec);
  }
  /* What wipefs looks for: every superblock, damaged checksums included
   * (a file system with a bad checksum is still somebody's data), and
   * partition tables by their magic alone. */
  blkid_probe_enable_superblocks (probe, 1);
  blkid_probe_set_superblocks_flags (probe, BLKID_SUBLKS_TYPE
                                     | BLKID_SUBLKS_USAGE
                                     | BLKID_SUBLKS_MAGIC
                                     | BLKID_SUBLKS_BADCSUM);
  blkid_probe_enable_partitions (probe, 1);
  blkid_probe_set_partitions_flags (probe, BLKID_PARTS_MAGIC
                                    | BLKID_PARTS_FORCE_GPT);

  found[0] = '\0';
  while (blkid_do_probe (probe) == 0) {
    const char *type = NULL, *usage = NULL, *what;

    if (blkid_probe_lookup_value (probe, "TYPE", &type, NULL) == 0) {
      /* Ours: vswap_store_probe speaks for it (libblkid does not know
       * vswap, but may one day). */
      if (strcmp (type, "vswap") == 0)
        continue;
      blkid_probe_lookup_value (probe, "USAGE", &usage, NULL);
      what = usage_phrase (usage, type);
    }
    else if (blkid_probe_lookup_value (probe, "PTTYPE", &type, NULL) == 0)
      what = "a partition table";
    else
      continue;
    if (used < size) {
      const int n = snprintf (found + used, size - used, "%s%s of type \"%s\"",
                              count ? " and " : "", what, type);
      used += n > 0 ? (size_t) n : 0;
    }
    count++;
  }
  blkid_free_probe (probe);
  close (fd);
  return count > 0;
}
