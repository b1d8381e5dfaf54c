/* readonly-option: was nbdkit started with -r?
 *
 * nbdkit tells a plugin that it serves read-only only per connection (the
 * readonly argument of .open), after the store has been opened in
 * .get_ready; and a writable open of a store writes (recovery, the write
 * buffer).  nbdkit 1.32 offers no call to ask, so the plugin reads
 * nbdkit's own command line (/proc/self/cmdline) the way nbdkit's
 * getopt_long reads it: GNU argument order (options may follow the plugin
 * name unless POSIXLY_CORRECT is set), short options in clusters, the
 * options that take an argument skipping it, long options abbreviated to
 * any unambiguous prefix, "--" ending the options.
 *
 * Getting it wrong is safe either way: the plugin also answers can_write
 * from how the store was opened, so a store opened read-only is never
 * offered for writing, and a writable store under -r is only written by
 * its open.
 *
 * Header-only and free of side effects but for the one read of
 * /proc/self/cmdline, so that tests/test-readonly-option.c can drive the
 * parser with made-up command lines.
 */
#ifndef VSWAP_READONLY_OPTION_H
#define VSWAP_READONLY_OPTION_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* nbdkit 1.32's options (server/options.h): the short ones with their
 * getopt letters, and the long ones that take an argument. */
#define READONLY_OPTION_SHORT "46D:e:fg:i:nop:P:rst:u:U:vV"

static const char *const readonly_option_long_with_argument[] = {
  "debug", "export", "export-name", "exportname", "filter", "group",
  "ip-addr", "ipaddr", "log", "mask-handshake", "pid-file", "pidfile",
  "port", "run", "selinux-label", "threads", "tls", "tls-certificates",
  "tls-psk", "unix", "user", NULL
};
static const char *const readonly_option_long_without_argument[] = {
  "ipv4-only", "ipv6-only", "dump-config", "dump-plugin",
  "exit-with-parent", "foreground", "no-fork", "help", "long-options",
  "new-style", "newstyle", "no-sr", "old-style", "oldstyle", "read-only",
  "readonly", "short-options", "single", "stdin", "swap",
  "tls-verify-peer", "verbose", "version", "vsock", NULL
};

/* How getopt_long takes "--NAME": 1 the read-only option, 0 another
 * option without an argument, 2 one with an argument, -1 unknown or
 * ambiguous (getopt would have stopped nbdkit). */
static inline int
readonly_option_long (const char *name, size_t length)
{
  const char *const *lists[2] = {
    readonly_option_long_with_argument, readonly_option_long_without_argument
  };
  int matches = 0, kind = -1;

  for (int l = 0; l < 2; l++)
    for (const char *const *o = lists[l]; *o; o++) {
      if (strncmp (*o, name, length) != 0)
        continue;
      const int this_kind = l == 0 ? 2
        : strncmp (*o, "read", 4) == 0 && strstr (*o, "only") ? 1 : 0;
      if (strlen (*o) == length)          /* an exact match wins */
        return this_kind;
      /* Prefixes of names with the same meaning are not ambiguous. */
      if (matches == 0 || this_kind != kind)
        matches++;
      kind = this_kind;
    }
  return matches == 1 ? kind : -1;
}

/* Does the argument vector ARGV (ARGC entries, argv[0] the program) ask
 * nbdkit for -r / --readonly / --read-only? */
static inline bool
readonly_option_given (int argc, char *const argv[], bool posixly_correct)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];

    if (strcmp (a, "--") == 0)
      return false;
    if (a[0] != '-' || a[1] == '\0') {   /* the plugin name, key=value */
      if (posixly_correct)
        return false;
      continue;
    }
    if (a[1] == '-') {
      const char *name = a + 2;
      const char *equals = strchr (name, '=');
      const size_t length = equals ? (size_t) (equals - name) : strlen (name);
      const int kind = readonly_option_long (name, length);
      if (kind == 1)
        return true;
      if (kind == 2 && !equals)
        i++;                            /* its argument */
      continue;
    }
    for (const char *c = a + 1; *c; c++) {
      const char *spec = strchr (READONLY_OPTION_SHORT, *c);
      if (spec == NULL)
        break;                          /* getopt would have refused it */
      if (*c == 'r')
        return true;
      if (spec[1] == ':') {
        if (c[1] == '\0')
          i++;                          /* its argument is the next word */
        break;                          /* or the rest of this one */
      }
    }
  }
  return false;
}

/* Read this process's command line: was nbdkit given -r?  False when it
 * cannot be read. */
static inline bool
readonly_option_of_this_process (void)
{
  enum { MAX_BYTES = 65536, MAX_WORDS = 1024 };
  static char text[MAX_BYTES + 1];
  static char *words[MAX_WORDS];
  size_t length = 0;
  ssize_t n;
  int fd, count = 0;

  fd = open ("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return false;
  while (length < MAX_BYTES &&
         (n = read (fd, text + length, MAX_BYTES - length)) > 0)
    length += n;
  close (fd);
  text[length] = '\0';
  for (size_t at = 0; at < length && count < MAX_WORDS;
       at += strlen (text + at) + 1)
    words[count++] = text + at;
  return readonly_option_given (count, words,
                                getenv ("POSIXLY_CORRECT") != NULL);
}

#endif /* VSWAP_READONLY_OPTION_H */
