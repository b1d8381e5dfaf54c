/* vswap: the projected life of the medium (life.h). */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "life.h"

void
vswap_project_life (uint64_t endurance_bytes, uint64_t medium_bytes,
                    uint64_t lifetime_media_write_bytes,
                    uint64_t erase_count_max, double bytes_per_second,
                    struct vswap_life *life)
{
  memset (life, 0, sizeof *life);
  if (endurance_bytes == 0)
    return;
  life->known = true;
  life->worn_by_bytes = (double) lifetime_media_write_bytes / endurance_bytes;
  if (medium_bytes)
    life->worn_by_erases =
      (double) erase_count_max * medium_bytes / endurance_bytes;
  life->worn = life->worn_by_bytes > life->worn_by_erases
    ? life->worn_by_bytes : life->worn_by_erases;
  const double remaining = life->worn >= 1 ? 0
    : (double) endurance_bytes * (1 - life->worn);
  life->remaining_bytes = (uint64_t) remaining;
  if (remaining == 0)
    life->seconds_left = 0;
  else if (!(bytes_per_second > 0))
    life->seconds_left = -1;
  else
    life->seconds_left = remaining / bytes_per_second;
}

int
vswap_parse_endurance (const char *text, uint64_t medium_bytes,
                       uint64_t *bytes)
{
  static const struct { const char *suffix; double factor; } units[] = {
    { "", 1 },
    { "KB", 1e3 }, { "KBW", 1e3 }, { "MB", 1e6 }, { "MBW", 1e6 },
    { "GB", 1e9 }, { "GBW", 1e9 }, { "TB", 1e12 }, { "TBW", 1e12 },
    { "PB", 1e15 }, { "PBW", 1e15 },
  };
  char *end;
  double value;

  if (text == NULL || *text == '\0' || *text == '-' || *text == '+')
    return -EINVAL;
  errno = 0;
  value = strtod (text, &end);
  if (errno || end == text || !isfinite (value) || value <= 0)
    return -EINVAL;
  if (strcasecmp (end, "x") == 0 || strcasecmp (end, "cycles") == 0) {
    if (medium_bytes == 0)
      return -EINVAL;
    value *= (double) medium_bytes;
  }
  else {
    size_t i;
    for (i = 0; i < sizeof units / sizeof units[0]; i++)
      if (strcasecmp (end, units[i].suffix) == 0)
        break;
    if (i == sizeof units / sizeof units[0])
      return -EINVAL;
    value *= units[i].factor;
  }
  if (value < 1 || value >= 18446744073709551615.0)
    return -EINVAL;
  *bytes = (uint64_t) (value + 0.5);
  return 0;
}

const char *
vswap_duration_text (double seconds, char *buffer, size_t size)
{
  static const struct { const char *unit; double seconds; } units[] = {
    { "years", 365.25 * 86400 }, { "days", 86400 }, { "hours", 3600 },
    { "minutes", 60 },
  };

  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (seconds >= 2 * units[i].seconds || i + 1 == sizeof units / sizeof units[0]) {
      const double n = seconds / units[i].seconds;
      snprintf (buffer, size, n < 10 ? "%.1f %s" : "%.0f %s", n, units[i].unit);
      return buffer;
    }
  return buffer;
}
