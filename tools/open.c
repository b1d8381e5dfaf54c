/* vswap: opening an existing store for the read-only subcommands. */
#include <config.h>

#include <stddef.h>

#include "medium.h"
#include "store.h"
#include "tools.h"

struct vswap_store *
tool_open_store (const char *command, const char *spec,
                 void (*report) (void *opaque, const char *message),
                 void *opaque, struct vswap_medium **medium)
{
  /* A reader: other readers may look too, a server may not be writing. */
  struct vswap_medium_options medium_options = {
    .read_only = true, .lock = VSWAP_MEDIUM_LOCK_SHARED,
  };
  struct vswap_open_options options = {
    .read_only = true,
    /* Looking must not change what the next reader sees. */
    .readtrim = VSWAP_READTRIM_OFF,
    .report = report,
    .report_opaque = opaque,
    /* One at a time is all we do. */
    .io_contexts = 1,
  };
  struct vswap_store *store;
  struct vswap_error err;
  int r;

  *medium = vswap_medium_open (spec, &medium_options, &err);
  if (*medium == NULL) {
    tool_error (command, "%s", err.message);
    return NULL;
  }

  /* "Not a store" deserves its own message: it is the common mistake
   * (wrong device name), and the fix is different from a damaged one. */
  r = vswap_store_probe (*medium, &err);
  if (r <= 0) {
    if (r < 0)
      tool_error (command, "%s: %s", spec, err.message);
    else
      tool_error (command, "%s is not a vswap store (no superblock found): "
                  "check the name, or create one with vswap format", spec);
    vswap_medium_close (*medium);
    return NULL;
  }

  store = vswap_store_open (*medium, &options, &err);
  if (store == NULL) {
    tool_error (command, "%s", err.message);
    vswap_medium_close (*medium);
    return NULL;
  }
  return store;
}

void
tool_close_store (struct vswap_store *store, struct vswap_medium *medium)
{
  /* Read-only: there is nothing to flush, so the result says nothing. */
  vswap_store_close (store);
  vswap_medium_close (medium);
}
