/* vswap torture tests: reading a whole export through libnbd and
 * comparing it with the reference (torture-common.h). */
#ifndef VSWAP_TORTURE_NBD_H
#define VSWAP_TORTURE_NBD_H

#include <libnbd.h>

#include "torture-common.h"

/* Connect to the server's socket, or die. */
struct nbd_handle *torture_nbd_connect (const struct torture_server *s);

/* Read every page of the export and settle it against M (see
 * torture_model_settle), counting verdicts and EIO into T.  The pages
 * that read wrong or fail go into BAD (up to BAD_SIZE of them; *BAD_COUNT
 * says how many); the first few are described on stdout, prefixed with
 * WHEN.  Returns how many pages were wrong or failed. */
uint64_t torture_nbd_verify (struct nbd_handle *h, struct torture_model *m,
                             struct torture_tally *t, uint64_t *bad,
                             size_t bad_size, size_t *bad_count,
                             const char *when);

#endif /* VSWAP_TORTURE_NBD_H */
