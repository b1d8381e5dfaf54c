/* vswap torture tests: whole-export verification through libnbd. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torture-nbd.h"

#define VERIFY_CHUNK (1u << 20)
#define DESCRIBED 8             /* wrong pages described per verification */

struct nbd_handle *
torture_nbd_connect (const struct torture_server *s)
{
  struct nbd_handle *h = nbd_create ();

  if (h == NULL)
    torture_die ("nbd_create: %s", nbd_get_error ());
  if (nbd_connect_unix (h, s->socket) == -1)
    torture_die ("connect to %s: %s", s->socket, nbd_get_error ());
  return h;
}

static void
judge (struct torture_model *m, uint64_t page, const uint8_t *buffer,
       bool eio, struct torture_tally *t, uint64_t *bad, size_t bad_size,
       size_t *bad_count, const char *when, uint64_t *wrong)
{
  uint8_t expected[TORTURE_PAGE];
  char got[160], want[160], also[200] = "";

  torture_page_fill (expected, page, m->version[page],
                     (enum torture_kind) m->kind[page]);
  torture_page_describe (expected, want, sizeof want);
  if (m->pending_version[page]) {
    torture_page_fill (expected, page, m->pending_version[page],
                       (enum torture_kind) m->pending_kind[page]);
    snprintf (also, sizeof also, " or (in flight) ");
    torture_page_describe (expected, also + strlen (also),
                           sizeof also - strlen (also));
  }
  if (eio) {
    t->eio++;
    m->pending_version[page] = 0;
    snprintf (got, sizeof got, "EIO");
  }
  else {
    const enum torture_verdict v = torture_model_settle (m, page, buffer);
    t->count[v]++;
    if (v == TORTURE_OK)
      return;
    torture_page_describe (buffer, got, sizeof got);
    snprintf (got + strlen (got), sizeof got - strlen (got), ": %s",
              torture_verdict_names[v]);
  }
  if (*bad_count < bad_size)
    bad[(*bad_count)++] = page;
  if (++*wrong <= DESCRIBED)
    torture_say ("%s: page %" PRIu64 " must read %s%s; reads %s", when,
                 page, want, also, got);
}

uint64_t
torture_nbd_verify (struct nbd_handle *h, struct torture_model *m,
                    struct torture_tally *t, uint64_t *bad,
                    size_t bad_size, size_t *bad_count, const char *when)
{
  static uint8_t *buffer;
  const uint64_t per_chunk = VERIFY_CHUNK / TORTURE_PAGE;
  uint64_t wrong = 0;

  if (buffer == NULL)
    buffer = torture_malloc (VERIFY_CHUNK);
  *bad_count = 0;
  for (uint64_t first = 0; first < m->pages; first += per_chunk) {
    const uint64_t n = m->pages - first < per_chunk ? m->pages - first
      : per_chunk;
    if (nbd_pread (h, buffer, n * TORTURE_PAGE, first * TORTURE_PAGE, 0)
        == 0) {
      for (uint64_t i = 0; i < n; i++)
        judge (m, first + i, buffer + i * TORTURE_PAGE, false, t, bad,
               bad_size, bad_count, when, &wrong);
      continue;
    }
    if (nbd_get_errno () != EIO)
      torture_die ("%s: read at page %" PRIu64 ": %s", when, first,
                   nbd_get_error ());
    /* Some page failed: find which. */
    for (uint64_t i = 0; i < n; i++) {
      const int r = nbd_pread (h, buffer, TORTURE_PAGE,
                               (first + i) * TORTURE_PAGE, 0);
      if (r == -1 && nbd_get_errno () != EIO)
        torture_die ("%s: read of page %" PRIu64 ": %s", when, first + i,
                     nbd_get_error ());
      judge (m, first + i, buffer, r == -1, t, bad, bad_size, bad_count,
             when, &wrong);
    }
  }
  if (wrong > DESCRIBED)
    torture_say ("%s: ... and %" PRIu64 " more", when, wrong - DESCRIBED);
  return wrong;
}
