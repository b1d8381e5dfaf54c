/* vswap: unit test of common/error.h. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "helpers.h"
#include "error.h"

START_TEST (test_set_returns_negative_errno)
{
  struct vswap_error err;

  ck_assert_int_eq (vswap_error_set (&err, ENOSPC, "store %s is full: %d",
                                     "a", 3), -ENOSPC);
  ck_assert_str_eq (err.message, "store a is full: 3");
  vswap_error_clear (&err);
  ck_assert_str_eq (err.message, "");
}
END_TEST

START_TEST (test_set_without_error)
{
  /* A caller that does not want the message passes NULL. */
  ck_assert_int_eq (vswap_error_set (NULL, EIO, "%s", "ignored"), -EIO);
  vswap_error_clear (NULL);
}
END_TEST

START_TEST (test_set_truncates)
{
  struct vswap_error err;
  char long_text[2 * sizeof err.message];

  memset (long_text, 'x', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  vswap_error_set (&err, EINVAL, "%s", long_text);
  ck_assert_uint_eq (strlen (err.message), sizeof err.message - 1);
}
END_TEST

START_TEST (test_strerror)
{
  ck_assert_str_eq (vswap_strerror (ENOENT), "No such file or directory");
  ck_assert_str_eq (vswap_strerror (ENOSPC), "No space left on device");
  /* An errno glibc has no text for still gets one. */
  ck_assert_ptr_nonnull (vswap_strerror (100000));
  ck_assert_int_gt (strlen (vswap_strerror (100000)), 0);
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("error", test_set_returns_negative_errno,
                                     test_set_without_error,
                                     test_set_truncates, test_strerror, NULL));
}
