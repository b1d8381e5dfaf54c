/* vswap: reading a block device's attributes from sysfs, for the
 * backends that propose a geometry from them (file.c, zoned.c).
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "backend.h"

/* Partitions have no queue/ or device/ of their own: look in the parent
 * disk's directory too. */
static FILE *
open_attribute (dev_t rdev, const char *name)
{
  static const char *const formats[] = {
    "/sys/dev/block/%u:%u/%s",
    "/sys/dev/block/%u:%u/../%s",
  };
  char path[160];
  size_t i;

  for (i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    FILE *fp;

    snprintf (path, sizeof path, formats[i], major (rdev), minor (rdev),
              name);
    fp = fopen (path, "re");
    if (fp != NULL)
      return fp;
  }
  return NULL;
}

bool
vswap_sysfs_number (dev_t rdev, const char *name, uint64_t *value)
{
  FILE *fp = open_attribute (rdev, name);
  int n;

  if (fp == NULL)
    return false;
  n = fscanf (fp, "%" SCNu64, value);
  fclose (fp);
  return n == 1;
}

bool
vswap_sysfs_text (dev_t rdev, const char *name, char *text, size_t size)
{
  FILE *fp = open_attribute (rdev, name);
  bool ok;

  if (fp == NULL)
    return false;
  ok = fgets (text, (int) size, fp) != NULL;
  fclose (fp);
  if (ok)
    text[strcspn (text, "\n")] = '\0';
  return ok;
}
