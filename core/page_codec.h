/* vswap: how one 4 KiB page becomes a record payload and back.
 *
 * Zero and same-filled pages are recognised first: they cost a map entry
 * and never a payload.  Other pages are compressed with zstd unless that
 * saves less than an eighth, in which case they are stored raw (reading a
 * raw page costs no CPU, and an eighth is roughly what a record's
 * alignment and header would eat back).
 */
#ifndef VSWAP_PAGE_CODEC_H
#define VSWAP_PAGE_CODEC_H

#include <stdbool.h>
#include <stdint.h>

#include <zstd.h>

#define VSWAP_CODEC_PAGE 4096
/* Largest compressed payload we keep; anything bigger is stored raw. */
#define VSWAP_CODEC_COMPRESSED_LIMIT (VSWAP_CODEC_PAGE - VSWAP_CODEC_PAGE / 8)
#define VSWAP_ZSTD_DEFAULT_LEVEL 1

enum vswap_page_class {
  VSWAP_PAGE_ZERO,
  VSWAP_PAGE_SAME,              /* every 8-byte word equal, not zero */
  VSWAP_PAGE_DATA,
};

/* Classify PAGE; for VSWAP_PAGE_SAME, *PATTERN receives the word. */
enum vswap_page_class vswap_page_classify (const void *page,
                                           uint64_t *pattern);

/* Fill PAGE with the 8-byte PATTERN. */
void vswap_page_fill (void *page, uint64_t pattern);

/* Does PAGE look like random bytes (encrypted or already compressed), so
 * that trying zstd on it is wasted?  A cheap sampling test; a false "yes"
 * only stores a compressible page raw. */
bool vswap_page_looks_random (const void *page);

/* Encode a DATA page into OUT (room for VSWAP_CODEC_PAGE bytes).  With
 * CCTX NULL, or a page that looks random, the page is stored raw.  Sets *KIND to VSWAP_RECORD_RAW or
 * VSWAP_RECORD_ZSTD and returns the payload length. */
uint16_t vswap_page_encode (ZSTD_CCtx *cctx, int level, const void *page,
                            void *out, uint8_t *kind);

/* Decode a RAW or ZSTD payload into PAGE.  Returns 0, or -EIO when the
 * payload does not decode to exactly one page. */
int vswap_page_decode (ZSTD_DCtx *dctx, uint8_t kind, const void *payload,
                       uint16_t length, void *page);

#endif /* VSWAP_PAGE_CODEC_H */
