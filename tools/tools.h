/* vswap: the command-line tool.  Each subcommand lives in its own file and
 * is a thin shell around core/ and flash/ functions.
 */
#ifndef VSWAP_TOOLS_H
#define VSWAP_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "human-size.h"
#include "store.h"
#include "uuid.h"

/* Exit codes shared by every subcommand.  check uses EXIT_PROBLEMS for
 * "damage found" and EXIT_USAGE for "could not run", so that scripts can
 * tell a damaged store from a missing one. */
#define EXIT_OK       0
#define EXIT_PROBLEMS 1         /* refused, failed, or problems found */
#define EXIT_USAGE    2         /* bad command line; nothing was touched */

/* Subcommands: ARGV[0] is the subcommand's name. */
int vswap_format_main (int argc, char *argv[]);
int vswap_inspect_main (int argc, char *argv[]);
int vswap_check_main (int argc, char *argv[]);
int vswap_probe_main (int argc, char *argv[]);
int vswap_replay_main (int argc, char *argv[]);
int vswap_stats_main (int argc, char *argv[]);

/* One line on stderr: "vswap COMMAND: MESSAGE". */
void tool_error (const char *command, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Report a getopt_long failure (opterr must be 0 and the option string
 * must start with ':') as one line, and return EXIT_USAGE. */
int tool_bad_option (const char *command, int c, char *argv[]);

/* "40 TB", "1.5 PB": powers of 1000, as endurance ratings are given. */
const char *tool_decimal_size (uint64_t bytes, char *buffer, size_t size);

/* Draw the store as SVG into PATH (vswap inspect --svg): a map of the
 * SEGMENTS (COUNT of them, in medium order) coloured by live fraction and
 * marked for open heads, GC's reserve and releasing segments, a map of
 * their erase counts and a histogram of those.  Returns 0, or -1 after
 * saying why on stderr. */
int tool_write_store_svg (const char *path, const char *spec,
                          const struct vswap_store_info *info,
                          const struct vswap_segment_info *segments,
                          uint64_t count);

/* Names for the store's compression setting: "none", "zstd level 3". */
const char *tool_compression_name (enum vswap_compression compression,
                                   int level, char *buffer, size_t size);

/* Open the store on SPEC read-only, for inspect and check: nothing is
 * written, not even the recovery the plugin would do.  REPORT receives
 * recovery warnings.  Returns the store with *MEDIUM to close after it, or
 * NULL after reporting why on stderr (naming COMMAND). */
struct vswap_store *tool_open_store (const char *command, const char *spec,
                                     void (*report) (void *opaque,
                                                     const char *message),
                                     void *opaque,
                                     struct vswap_medium **medium);
void tool_close_store (struct vswap_store *store,
                       struct vswap_medium *medium);

/* Does SPEC hold another program's signature (a filesystem, a partition
 * table, a swap area, a RAID or LVM member, an encrypted volume), which a
 * new store would destroy?  Asks libblkid.  Returns 1 and fills FOUND
 * ("a filesystem of type \"ext4\"", several joined by " and ") when
 * one is recognised, 0 when none is, or a negative errno with ERR filled
 * when SPEC cannot be read.  Our own superblock is vswap_store_probe's
 * business, not this one's. */
int tool_find_signature (const char *spec, char *found, size_t size,
                         struct vswap_error *err);

#endif /* VSWAP_TOOLS_H */
