/* vswap: unit test of common/human-size.h. */
#include <config.h>

#include <stdlib.h>

#include <check.h>

#include "helpers.h"
#include "human-size.h"

START_TEST (test_human_size)
{
  static const struct {
    uint64_t bytes;
    const char *text;
  } cases[] = {
    { 0, "0 bytes" },
    { 512, "512 bytes" },
    { 1023, "1023 bytes" },
    { 1024, "1 KiB" },
    { 1536, "1.5 KiB" },
    { 4 << 20, "4 MiB" },
    { 3 << 20, "3 MiB" },
    { (UINT64_C (57) << 20) + (600 << 10), "57.6 MiB" },
    { UINT64_C (1) << 30, "1 GiB" },
    { UINT64_C (3) << 40, "3 TiB" },
    { UINT64_MAX, "16.0 EiB" },
  };
  char text[32];

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *r = vswap_human_size (cases[i].bytes, text, sizeof text);
    ck_assert_ptr_eq (r, text);
    ck_assert_str_eq (text, cases[i].text);
  }
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("human-size", test_human_size, NULL));
}
