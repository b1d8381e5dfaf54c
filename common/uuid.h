/* vswap: the store's UUID, written in the superblock and in every segment
 * and buffer header.  16 random bytes; people see it as 8-4-4-4-12
 * lowercase hex.
 */
#ifndef VSWAP_UUID_H
#define VSWAP_UUID_H

#include <stdint.h>

#define VSWAP_UUID_SIZE 16
/* "01234567-89ab-cdef-0123-456789abcdef" and the NUL. */
#define VSWAP_UUID_TEXT_SIZE 37

/* Write UUID into TEXT as 8-4-4-4-12 lowercase hex, NUL-terminated. */
static inline void
vswap_uuid_format (const uint8_t uuid[VSWAP_UUID_SIZE],
                   char text[VSWAP_UUID_TEXT_SIZE])
{
  static const char hex[] = "0123456789abcdef";
  char *p = text;

  for (int i = 0; i < VSWAP_UUID_SIZE; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      *p++ = '-';
    *p++ = hex[uuid[i] >> 4];
    *p++ = hex[uuid[i] & 15];
  }
  *p = '\0';
}

#endif /* VSWAP_UUID_H */
