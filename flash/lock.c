/* vswap: one user per medium (DESIGN.md, invariant 10).  The lock a medium
 * takes at open when vswap_medium_options.lock asks for one.
 *
 * Files and block devices: an open file description (OFD) lock, fcntl
 * F_OFD_SETLK, over the whole file: exclusive for writers (the plugin,
 * format, replay, probe), shared for readers (inspect, check), so that
 * readers may look together but never while a writer works.  OFD locks,
 * unlike POSIX record locks, belong to the open file description: they
 * survive fork (nbdkit forks after the plugin opened its medium) and are
 * not lost when the process closes another descriptor of the same file;
 * the kernel drops them when the last descriptor closes, so a killed
 * server leaves nothing stale behind.  A block device opened for writing
 * also has O_EXCL (file.c, zoned.c), which keeps out mounts, active swap
 * and the exclusive opens of other programs, and any second node for the
 * same device.
 *
 * Remote NBD exports: nothing on this host can see who else is connected
 * to the server.  A lock file under VSWAP_LOCK_DIRECTORY, named after the
 * URI, keeps a second vswap on this host out (the same export reached
 * through another URI is not caught); across hosts, serve the export
 * through nbdkit's limit filter with limit=1 (vswap then does with one
 * connection), which refuses a second client whoever it is.
 *
 * Who holds a lock: /proc/locks shows no pid for OFD locks (-1), so the
 * holder is found by its descriptors: /proc/PID/fdinfo/FD lists the locks
 * that descriptor's open file description holds ("lock:" lines).  Other
 * users' processes are visible to root only; otherwise the message says
 * "another process".
 */
#include <config.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "medium.h"

static bool
same_file (const struct stat *a, const struct stat *b)
{
  if (S_ISBLK (a->st_mode) && S_ISBLK (b->st_mode))
    return a->st_rdev == b->st_rdev;
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Does the descriptor whose fdinfo is at PATH hold a lock? */
static bool
holds_lock (const char *path)
{
  FILE *f = fopen (path, "re");
  char line[256];
  bool found = false;

  if (!f)
    return false;
  while (!found && fgets (line, sizeof line, f))
    found = strncmp (line, "lock:", 5) == 0;
  fclose (f);
  return found;
}

/* "nbdkit (pid 1234)" for the process that holds a lock on TARGET through
 * one of its descriptors, or false. */
static bool
find_holder (const struct stat *target, char *holder, size_t size)
{
  DIR *proc = opendir ("/proc");
  struct dirent *p;
  bool found = false;

  if (!proc)
    return false;
  while (!found && (p = readdir (proc)) != NULL) {
    char path[PATH_MAX];
    DIR *fds;
    struct dirent *d;

    if (!isdigit ((unsigned char) p->d_name[0]))
      continue;
    snprintf (path, sizeof path, "/proc/%s/fd", p->d_name);
    fds = opendir (path);
    if (!fds)
      continue;
    while (!found && (d = readdir (fds)) != NULL) {
      struct stat st;

      if (d->d_name[0] == '.')
        continue;
      snprintf (path, sizeof path, "/proc/%s/fd/%s", p->d_name, d->d_name);
      if (stat (path, &st) != 0 || !same_file (&st, target))
        continue;
      snprintf (path, sizeof path, "/proc/%s/fdinfo/%s", p->d_name,
                d->d_name);
      if (!holds_lock (path))
        continue;
      char name[64] = "?";
      snprintf (path, sizeof path, "/proc/%s/comm", p->d_name);
      FILE *comm = fopen (path, "re");
      if (comm) {
        if (fgets (name, sizeof name, comm))
          name[strcspn (name, "\n")] = '\0';
        fclose (comm);
      }
      snprintf (holder, size, "%s (pid %s)", name, p->d_name);
      found = true;
    }
    closedir (fds);
  }
  closedir (proc);
  return found;
}

void
vswap_lock_holder (const struct stat *st, char *holder, size_t size)
{
  if (!find_holder (st, holder, size))
    snprintf (holder, size, "another process (lslocks shows which)");
}

int
vswap_lock_descriptor (int fd, enum vswap_medium_lock lock,
                       const char *name, struct vswap_error *err)
{
  struct flock fl = {
    .l_type = lock == VSWAP_MEDIUM_LOCK_EXCLUSIVE ? F_WRLCK : F_RDLCK,
    .l_whence = SEEK_SET,
  };
  char holder[128];

  struct stat st;

  if (lock == VSWAP_MEDIUM_LOCK_NONE)
    return 0;
  if (fcntl (fd, F_OFD_SETLK, &fl) == 0)
    return 0;
  if (errno == EBADF)
    return vswap_error_set (err, EINVAL, "%s: an exclusive lock needs a "
                            "medium open for writing", name);
  if (errno != EAGAIN && errno != EACCES) {
    const int errnum = errno;
    return vswap_error_set (err, errnum, "%s: cannot lock it for one user "
                            "at a time: %s", name, vswap_strerror (errnum));
  }
  if (fstat (fd, &st) == 0)
    vswap_lock_holder (&st, holder, sizeof holder);
  else
    snprintf (holder, sizeof holder, "another process");
  return vswap_error_set (err, EBUSY, "%s is in use by %s: a store has one "
                          "user at a time (--force does not change that); "
                          "stop that one first", name, holder);
}

int
vswap_lock_name (const char *key, enum vswap_medium_lock lock,
                 const char *name, int *fd, struct vswap_error *err)
{
  const char *directory = getenv ("VSWAP_LOCK_DIRECTORY");
  char path[PATH_MAX];
  uint64_t hash = UINT64_C (0xcbf29ce484222325);        /* FNV-1a */

  *fd = -1;
  if (lock == VSWAP_MEDIUM_LOCK_NONE)
    return 0;
  if (!directory || !*directory)
    directory = VSWAP_LOCK_DIRECTORY;
  for (const char *c = key; *c; c++)
    hash = (hash ^ (unsigned char) *c) * UINT64_C (0x100000001b3);
  /* Only root may make the directory in /run: others go without, and the
   * server's limit filter is their guard. */
  if (strcmp (directory, VSWAP_LOCK_DIRECTORY) == 0)
    (void) mkdir ("/run/vswap", 0755);
  if (mkdir (directory, 0755) != 0 && errno != EEXIST)
    return 0;
  snprintf (path, sizeof path, "%s/nbd-%016" PRIx64 ".lock", directory,
            hash);
  *fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (*fd == -1)
    return 0;
  const int r = vswap_lock_descriptor (*fd, lock, name, err);
  if (r < 0) {
    close (*fd);
    *fd = -1;
    return r;
  }
  /* For whoever wonders what the file is (a courtesy: errors do not
   * matter). */
  if (ftruncate (*fd, 0) == 0) {
    char line[PATH_MAX];
    const int n = snprintf (line, sizeof line, "%s\n", key);
    if (n > 0)
      (void) !write (*fd, line, (size_t) n);
  }
  return 0;
}
