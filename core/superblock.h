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

/* The geometry a store may have.  Segments: powers of two from 64 KiB
 * (a small SD card's allocation unit) to 1 GiB (a large zone).  Write
 * units: powers of two from 4 KiB, the alignment every buffer the store
 * hands the medium has (VSWAP_MEDIUM_BUFFER_ALIGN, what O_DIRECT on a
 * 4Kn device needs; a smaller unit would write from buffers that are not
 * so aligned), to 1 MiB, the largest any backend reports; and at most a
 * quarter of a segment, so that a segment holds several chunks and a
 * chunk's padding never fills it. */
#define VSWAP_MIN_SEGMENT_SIZE (UINT32_C (64) << 10)
#define VSWAP_MAX_SEGMENT_SIZE (UINT32_C (1) << 30)
#define VSWAP_MIN_WRITE_UNIT UINT32_C (4096)
#define VSWAP_MAX_WRITE_UNIT (UINT32_C (1) << 20)
#define VSWAP_MIN_CHUNKS_PER_SEGMENT 4
/* The logical size may exceed the data area (zero and same-filled pages
 * cost no medium, compressed ones less than a page), but not by more
 * than this factor: no page that is stored takes less than 64 bytes (a
 * 32-byte record header and a zstd frame of 19 bytes at best, in 16-byte
 * units), 1/64 of a page; a larger device could only ever be filled with
 * zeros, and its map would take RAM for nothing. */
#define VSWAP_MAX_LOGICAL_PER_DATA_BYTE 64

/* Find the newest valid superblock copy on MEDIUM into SB.  Returns 1 when
 * one was found, 0 when neither copy is valid, or a negative errno when
 * the medium cannot be read. */
int vswap_superblock_read (struct vswap_medium *medium,
                           struct vswap_superblock *sb);

/* Is SB a superblock this vswap can serve, from a medium of GEOMETRY
 * (NULL: judge the superblock on its own)?  Every field is checked
 * against the others and against the medium, in an order that never
 * divides by, shifts by or sizes anything with a field not yet checked.
 * Pure (no I/O, no allocation), so that each field can be tested and
 * fuzzed alone.  Returns 0, or -EINVAL with ERR naming NAME (the medium),
 * the first problem found and what to do about it. */
int vswap_superblock_validate (const struct vswap_superblock *sb,
                               const struct vswap_geometry *geometry,
                               const char *name, struct vswap_error *err);

/* Check that SB describes a store this vswap can serve from MEDIUM.
 * Returns 0, or a negative errno with ERR saying what is wrong. */
int vswap_superblock_check (const struct vswap_medium *medium,
                            const struct vswap_superblock *sb,
                            struct vswap_error *err);

#endif /* VSWAP_SUPERBLOCK_H */
