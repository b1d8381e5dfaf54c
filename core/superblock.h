/* vswap: the superblock, as the store reads, checks and writes it
 * (superblock.c); its bytes are in on_medium.h. */
#ifndef VSWAP_SUPERBLOCK_H
#define VSWAP_SUPERBLOCK_H

#include "error.h"
#include "medium.h"
#include "on_medium.h"

/* Segments a store needs beyond the two superblock copies: the write
 * heads, the GC reserve, and room for at least one segment of data. */
#define GC_RESERVE 2
#define MIN_DATA_SEGMENTS 4

/* Find the newest valid superblock copy on MEDIUM into SB.  Returns 1 when
 * one was found, 0 when neither copy is valid, or a negative errno when
 * the medium cannot be read. */
int vswap_superblock_read (struct vswap_medium *medium,
                           struct vswap_superblock *sb);

/* Check that SB describes a store this vswap can serve from MEDIUM.
 * Returns 0, or a negative errno with ERR saying what is wrong. */
int vswap_superblock_check (const struct vswap_medium *medium,
                            const struct vswap_superblock *sb,
                            struct vswap_error *err);

#endif /* VSWAP_SUPERBLOCK_H */
