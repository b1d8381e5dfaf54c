/* vswap: helpers shared by the medium backends (flash/ only, not for the
 * store).
 */
#ifndef VSWAP_FLASH_BACKEND_H
#define VSWAP_FLASH_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "medium.h"

#define VSWAP_DEFAULT_ERASE_BLOCK (4u << 20)
#define VSWAP_DEFAULT_WRITE_UNIT 4096u

/* Finish GEOMETRY, whose units a backend has filled with what it detected:
 * apply the overrides in OPTIONS, check that read unit, write unit and
 * erase block nest (each a multiple of the one before, and the write unit
 * a multiple of IO_ALIGN, what the device needs for any I/O), and set the
 * capacity to SIZE cut down to whole erase blocks.  NAME starts error
 * messages.  Returns 0 or a negative errno with ERR filled. */
int vswap_geometry_finish (struct vswap_geometry *geometry, uint64_t size,
                           uint32_t io_align,
                           const struct vswap_medium_options *options,
                           const char *name, struct vswap_error *err);

/* Read attribute NAME ("queue/zoned", "device/preferred_erase_size")
 * of the block device RDEV, or of its parent disk when RDEV is a
 * partition, as a number or as text without its newline.  False if
 * there is no such attribute. */
bool vswap_sysfs_number (dev_t rdev, const char *name, uint64_t *value);
bool vswap_sysfs_text (dev_t rdev, const char *name, char *text,
                       size_t size);

/* lock.c: one user per medium.  Take LOCK (an OFD lock over the whole
 * file) on FD, open for writing if LOCK is exclusive.  Returns 0, or
 * -EBUSY with ERR naming NAME and the process that holds it, or another
 * negative errno. */
int vswap_lock_descriptor (int fd, enum vswap_medium_lock lock,
                           const char *name, struct vswap_error *err);
/* The process that holds a lock on the file ST describes ("nbdkit (pid
 * 1234)"), or "another process" when it cannot be seen. */
struct stat;
void vswap_lock_holder (const struct stat *st, char *holder, size_t size);
/* For a medium with no file on this host (an NBD export): the lock on a
 * file under VSWAP_LOCK_DIRECTORY (or $VSWAP_LOCK_DIRECTORY) named after
 * KEY; *FD is the descriptor to close with the medium (-1: none, when the
 * directory cannot be made).  Returns as vswap_lock_descriptor. */
#define VSWAP_LOCK_DIRECTORY "/run/vswap/locks"
int vswap_lock_name (const char *key, enum vswap_medium_lock lock,
                     const char *name, int *fd, struct vswap_error *err);

#endif /* VSWAP_FLASH_BACKEND_H */
