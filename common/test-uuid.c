/* vswap: unit test of common/uuid.h. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "helpers.h"
#include "uuid.h"

START_TEST (test_uuid_format)
{
  const uint8_t uuid[VSWAP_UUID_SIZE] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
  };
  char text[VSWAP_UUID_TEXT_SIZE + 1];

  memset (text, '!', sizeof text);
  vswap_uuid_format (uuid, text);
  ck_assert_str_eq (text, "01234567-89ab-cdef-fedc-ba9876543210");
  ck_assert_uint_eq (strlen (text) + 1, VSWAP_UUID_TEXT_SIZE);
  /* Nothing written past the NUL. */
  ck_assert_int_eq (text[VSWAP_UUID_TEXT_SIZE], '!');
}
END_TEST

START_TEST (test_uuid_extremes)
{
  uint8_t uuid[VSWAP_UUID_SIZE];
  char text[VSWAP_UUID_TEXT_SIZE];

  memset (uuid, 0, sizeof uuid);
  vswap_uuid_format (uuid, text);
  ck_assert_str_eq (text, "00000000-0000-0000-0000-000000000000");
  memset (uuid, 0xff, sizeof uuid);
  vswap_uuid_format (uuid, text);
  ck_assert_str_eq (text, "ffffffff-ffff-ffff-ffff-ffffffffffff");
}
END_TEST

int
main (void)
{
  return test_run_suite (test_suite ("uuid", test_uuid_format,
                                     test_uuid_extremes, NULL));
}
