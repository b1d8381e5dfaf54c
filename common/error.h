/* vswap: error reports that travel from the medium and the store to the
 * user as one line naming the problem and the fix.
 *
 * Functions that can fail return a negative errno and, when given a
 * non-NULL struct vswap_error, fill it with a sentence for humans.  The
 * errno is for programs (the plugin maps it onto NBD errors); the message
 * is for the person at the terminal.
 */
#ifndef VSWAP_ERROR_H
#define VSWAP_ERROR_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct vswap_error {
  char message[512];
};

/* Record a formatted message; a NULL error pointer means the caller does
 * not want one.  Returns -errnum so that callers can write
 * "return vswap_error_set (err, EINVAL, ...);". */
static inline int __attribute__ ((format (printf, 3, 4)))
vswap_error_set (struct vswap_error *err, int errnum, const char *fmt, ...)
{
  if (err) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->message, sizeof err->message, fmt, ap);
    va_end (ap);
  }
  return -errnum;
}

static inline void
vswap_error_clear (struct vswap_error *err)
{
  if (err)
    err->message[0] = '\0';
}

/* The text of an errno.  Not strerror: it translates through gettext and
 * takes glibc's locale lock, and inside nbdkit with a sanitizer runtime
 * preloaded that lock is left unbalanced and the server hangs at exit.
 * strerrordesc_np (glibc 2.32) takes no lock, and nbdkit speaks English
 * anyway.  For the same reason, no %m.  Needs _GNU_SOURCE, which config.h
 * defines. */
static inline const char *
vswap_strerror (int errnum)
{
#if defined __GLIBC__ && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  const char *text = strerrordesc_np (errnum);

  if (text)
    return text;
#endif
  return strerror (errnum);
}

#endif /* VSWAP_ERROR_H */
