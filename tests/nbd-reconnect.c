/* nbd-reconnect: attach /dev/nbdN to an NBD server on a unix socket and
 * reattach it, with the requests still queued, whenever the server dies
 * and a new one listens on the same socket.
 *
 * nbd-client 3.24 cannot do this for swap: its -persist works only with
 * the old ioctl interface, under which the kernel fails every request
 * while the connection is down (and resizes the device to 0).  The
 * netlink interface can wait instead: with a dead-connection timeout the
 * kernel holds new requests until a NBD_CMD_RECONFIGURE hands it a new
 * socket, and requeues the ones that were in flight once the request
 * timeout expires.  This tool does that: NBD_CMD_CONNECT once, then on
 * each NBD_CMD_LINK_DEAD event, connect again, negotiate, reconfigure.
 *
 * Usage: nbd-reconnect SOCKET INDEX [TIMEOUT [DEAD-TIMEOUT]]
 *   INDEX         the nbd device number (0 for /dev/nbd0)
 *   TIMEOUT       seconds before an unanswered request is sent again on
 *                 the next connection (default 10)
 *   DEAD-TIMEOUT  seconds the kernel waits for a new connection before it
 *                 fails requests (default 120)
 * Runs until killed; prints one line per event on stdout.  Exit 1 if the
 * first connection cannot be made.  For the guest tests (tests/guest).
 */
#include <config.h>

#include <endian.h>
#include <stdarg.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#define NBD_MAGIC UINT64_C (0x4e42444d41474943)        /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC UINT64_C (0x49484156454F5054)   /* "IHAVEOPT" */
#define NBD_FLAG_FIXED_NEWSTYLE 1
#define NBD_FLAG_NO_ZEROES 2
#define NBD_OPT_EXPORT_NAME 1

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void
say (const char *fmt, ...)
{
  va_list ap;
  printf ("nbd-reconnect: ");
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
  fflush (stdout);
}

/* ---- the NBD handshake ---- */

static int
read_full (int fd, void *buffer, size_t n)
{
  uint8_t *p = buffer;
  while (n > 0) {
    const ssize_t r = read (fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR)
        continue;
      return -1;
    }
    p += r;
    n -= r;
  }
  return 0;
}

static int
write_full (int fd, const void *buffer, size_t n)
{
  const uint8_t *p = buffer;
  while (n > 0) {
    const ssize_t r = write (fd, p, n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += r;
    n -= r;
  }
  return 0;
}

/* Connect and negotiate the default export (fixed newstyle, the oldest
 * option every server knows).  Returns the socket, or -1. */
static int
open_export (const char *path, uint64_t *size, uint16_t *flags)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  const int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  uint64_t magic[2];
  uint16_t handshake;

  if (fd < 0)
    return -1;
  strncpy (address.sun_path, path, sizeof address.sun_path - 1);
  if (connect (fd, (struct sockaddr *) &address, sizeof address) < 0 ||
      read_full (fd, magic, sizeof magic) < 0 ||
      be64toh (magic[0]) != NBD_MAGIC || be64toh (magic[1]) != NBD_OPTS_MAGIC ||
      read_full (fd, &handshake, 2) < 0 ||
      !(be16toh (handshake) & NBD_FLAG_FIXED_NEWSTYLE))
    goto fail;
  const bool no_zeroes = be16toh (handshake) & NBD_FLAG_NO_ZEROES;
  const uint32_t client = htobe32 (NBD_FLAG_FIXED_NEWSTYLE |
                                   (no_zeroes ? NBD_FLAG_NO_ZEROES : 0));
  struct __attribute__ ((packed)) {
    uint64_t magic;
    uint32_t option, length;
  } option = {
    htobe64 (NBD_OPTS_MAGIC), htobe32 (NBD_OPT_EXPORT_NAME), 0,
  };
  uint8_t zeroes[124];
  if (write_full (fd, &client, 4) < 0 ||
      write_full (fd, &option, sizeof option) < 0 ||
      read_full (fd, size, 8) < 0 || read_full (fd, flags, 2) < 0 ||
      (!no_zeroes && read_full (fd, zeroes, sizeof zeroes) < 0))
    goto fail;
  *size = be64toh (*size);
  *flags = be16toh (*flags);
  return fd;

 fail:
  close (fd);
  return -1;
}

/* ---- generic netlink, by hand (no libnl in the guest) ---- */

struct message {
  union {
    struct nlmsghdr header;
    uint8_t bytes[1024];
  };
  size_t length;
};

static void
message_start (struct message *m, uint16_t family, uint8_t command,
               uint16_t flags)
{
  memset (m, 0, sizeof *m);
  m->header.nlmsg_type = family;
  m->header.nlmsg_flags = NLM_F_REQUEST | flags;
  struct genlmsghdr *g = NLMSG_DATA (&m->header);
  g->cmd = command;
  g->version = 1;
  m->length = NLMSG_HDRLEN + GENL_HDRLEN;
}

static struct nlattr *
attribute (struct message *m, uint16_t type, const void *data, size_t n)
{
  struct nlattr *a = (struct nlattr *) (m->bytes + m->length);
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + n;
  if (n)
    memcpy ((uint8_t *) a + NLA_HDRLEN, data, n);
  m->length += NLA_ALIGN (a->nla_len);
  return a;
}

static void
attribute_u32 (struct message *m, uint16_t type, uint32_t value)
{
  attribute (m, type, &value, 4);
}

static void
attribute_u64 (struct message *m, uint16_t type, uint64_t value)
{
  attribute (m, type, &value, 8);
}

static void
nest_end (struct message *m, struct nlattr *nest)
{
  nest->nla_len = m->bytes + m->length - (uint8_t *) nest;
}

static int
netlink_open (uint32_t group)
{
  const int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
                         NETLINK_GENERIC);
  struct sockaddr_nl address = { .nl_family = AF_NETLINK };
  if (fd < 0 || bind (fd, (struct sockaddr *) &address, sizeof address) < 0)
    return -1;
  if (group && setsockopt (fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group,
                           sizeof group) < 0)
    return -1;
  return fd;
}

/* Send M and wait for its acknowledgement: 0 or a negative errno.  Answers
 * with data (GETFAMILY) are copied to REPLY. */
static int
transact (int fd, struct message *m, struct message *reply)
{
  static uint32_t sequence;
  m->header.nlmsg_len = m->length;
  m->header.nlmsg_seq = ++sequence;
  m->header.nlmsg_flags |= NLM_F_ACK;
  if (send (fd, m->bytes, m->length, 0) < 0)
    return -errno;
  for (;;) {
    uint8_t buffer[8192];
    ssize_t n = recv (fd, buffer, sizeof buffer, 0);
    if (n < 0)
      return -errno;
    for (struct nlmsghdr *h = (struct nlmsghdr *) buffer;
         NLMSG_OK (h, (size_t) n); h = NLMSG_NEXT (h, n)) {
      if (h->nlmsg_seq != sequence)
        continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA (h);
        return e->error;
      }
      if (reply && h->nlmsg_len <= sizeof reply->bytes) {
        memcpy (reply->bytes, h, h->nlmsg_len);
        reply->length = h->nlmsg_len;
      }
    }
  }
}

/* The "nbd" family's id and its multicast group. */
static int
resolve_family (uint16_t *family, uint32_t *group)
{
  const int fd = netlink_open (0);
  struct message m, reply = { .length = 0 };
  if (fd < 0)
    return -1;
  message_start (&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
  attribute (&m, CTRL_ATTR_FAMILY_NAME, NBD_GENL_FAMILY_NAME,
             sizeof NBD_GENL_FAMILY_NAME);
  const int r = transact (fd, &m, &reply);
  close (fd);
  if (r < 0 || reply.length == 0)
    return -1;
  *family = 0;
  *group = 0;
  const uint8_t *p = reply.bytes + NLMSG_HDRLEN + GENL_HDRLEN;
  const uint8_t *end = reply.bytes + reply.length;
  while (p + NLA_HDRLEN <= end) {
    const struct nlattr *a = (const struct nlattr *) p;
    if (a->nla_len < NLA_HDRLEN)
      break;
    const uint8_t *data = p + NLA_HDRLEN;
    if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID)
      memcpy (family, data, 2);
    else if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS) {
      const uint8_t *q = data, *qend = p + a->nla_len;
      while (q + NLA_HDRLEN <= qend) {      /* each group: a nest */
        const struct nlattr *g = (const struct nlattr *) q;
        if (g->nla_len < NLA_HDRLEN)
          break;
        const uint8_t *r2 = q + NLA_HDRLEN, *rend = q + g->nla_len;
        uint32_t id = 0;
        bool ours = false;
        while (r2 + NLA_HDRLEN <= rend) {
          const struct nlattr *x = (const struct nlattr *) r2;
          if (x->nla_len < NLA_HDRLEN)
            break;
          if (x->nla_type == CTRL_ATTR_MCAST_GRP_ID)
            memcpy (&id, r2 + NLA_HDRLEN, 4);
          else if (x->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
            ours = strcmp ((const char *) r2 + NLA_HDRLEN,
                           NBD_GENL_MCAST_GROUP_NAME) == 0;
          r2 += NLA_ALIGN (x->nla_len);
        }
        if (ours)
          *group = id;
        q += NLA_ALIGN (g->nla_len);
      }
    }
    p += NLA_ALIGN (a->nla_len);
  }
  return *family && *group ? 0 : -1;
}

/* NBD_CMD_CONNECT (first) or NBD_CMD_RECONFIGURE with socket SOCK. */
static int
nbd_command (int fd, uint16_t family, uint8_t command, uint32_t index,
             int sock, uint64_t size, uint16_t flags, uint64_t timeout,
             uint64_t dead_timeout)
{
  struct message m;
  message_start (&m, family, command, 0);
  attribute_u32 (&m, NBD_ATTR_INDEX, index);
  if (command == NBD_CMD_CONNECT) {
    attribute_u64 (&m, NBD_ATTR_SIZE_BYTES, size);
    attribute_u64 (&m, NBD_ATTR_BLOCK_SIZE_BYTES, 4096);
    attribute_u64 (&m, NBD_ATTR_SERVER_FLAGS, flags);
    attribute_u64 (&m, NBD_ATTR_TIMEOUT, timeout);
    attribute_u64 (&m, NBD_ATTR_DEAD_CONN_TIMEOUT, dead_timeout);
  }
  struct nlattr *sockets = attribute (&m, NBD_ATTR_SOCKETS | NLA_F_NESTED,
                                      NULL, 0);
  struct nlattr *item = attribute (&m, NBD_SOCK_ITEM | NLA_F_NESTED, NULL,
                                   0);
  attribute_u32 (&m, NBD_SOCK_FD, (uint32_t) sock);
  nest_end (&m, item);
  nest_end (&m, sockets);
  return transact (fd, &m, NULL);
}

/* Wait for NBD_CMD_LINK_DEAD about device INDEX on the event socket. */
static int
wait_link_dead (int fd, uint32_t index)
{
  for (;;) {
    uint8_t buffer[8192];
    const ssize_t n = recv (fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == ENOBUFS)     /* events lost: assume the worst */
        return 0;
      return -1;
    }
    ssize_t left = n;
    for (struct nlmsghdr *h = (struct nlmsghdr *) buffer;
         NLMSG_OK (h, (size_t) left); h = NLMSG_NEXT (h, left)) {
      const struct genlmsghdr *g = NLMSG_DATA (h);
      if (g->cmd != NBD_CMD_LINK_DEAD)
        continue;
      const struct nlattr *a =
        (const struct nlattr *) ((const uint8_t *) g + GENL_HDRLEN);
      uint32_t dead = UINT32_MAX;
      if (a->nla_type == NBD_ATTR_INDEX)
        memcpy (&dead, (const uint8_t *) a + NLA_HDRLEN, 4);
      if (dead == index || dead == UINT32_MAX)
        return 0;
    }
  }
}

int
main (int argc, char *argv[])
{
  if (argc < 3 || argc > 5) {
    fprintf (stderr, "usage: nbd-reconnect SOCKET INDEX [TIMEOUT "
             "[DEAD-TIMEOUT]]\n");
    return 2;
  }
  const char *path = argv[1];
  const uint32_t index = strtoul (argv[2], NULL, 10);
  const uint64_t timeout = argc > 3 ? strtoull (argv[3], NULL, 10) : 10;
  const uint64_t dead_timeout = argc > 4 ? strtoull (argv[4], NULL, 10)
    : 120;

  /* Like nbd-client: this process is on the swap path. */
  if (mlockall (MCL_CURRENT | MCL_FUTURE) < 0)
    say ("warning: mlockall: %s", strerror (errno));
  if (prctl (PR_SET_IO_FLUSHER, 1, 0, 0, 0) < 0)
    say ("warning: PR_SET_IO_FLUSHER: %s", strerror (errno));

  uint16_t family;
  uint32_t group;
  if (resolve_family (&family, &group) < 0) {
    say ("the kernel has no nbd netlink family (load nbd.ko)");
    return 1;
  }
  const int command_fd = netlink_open (0);
  const int event_fd = netlink_open (group);
  if (command_fd < 0 || event_fd < 0) {
    say ("netlink: %s", strerror (errno));
    return 1;
  }

  uint64_t size;
  uint16_t flags;
  int sock = open_export (path, &size, &flags);
  if (sock < 0) {
    say ("%s: cannot connect and negotiate", path);
    return 1;
  }
  int r = nbd_command (command_fd, family, NBD_CMD_CONNECT, index, sock,
                       size, flags, timeout, dead_timeout);
  close (sock);                 /* the kernel holds its own reference */
  if (r < 0) {
    say ("NBD_CMD_CONNECT /dev/nbd%u: %s", index, strerror (-r));
    return 1;
  }
  say ("/dev/nbd%u connected to %s: %llu bytes, flags 0x%x, timeout %llu "
       "s, dead-connection timeout %llu s", index, path,
       (unsigned long long) size, flags, (unsigned long long) timeout,
       (unsigned long long) dead_timeout);

  for (unsigned reconnects = 1;; reconnects++) {
    if (wait_link_dead (event_fd, index) < 0) {
      say ("netlink events: %s", strerror (errno));
      return 1;
    }
    const double t0 = now ();
    say ("/dev/nbd%u: connection lost; waiting for the server", index);
    for (;;) {
      uint64_t new_size;
      uint16_t new_flags;
      sock = open_export (path, &new_size, &new_flags);
      if (sock >= 0) {
        r = nbd_command (command_fd, family, NBD_CMD_RECONFIGURE, index,
                         sock, 0, 0, 0, 0);
        close (sock);
        if (r == 0)
          break;
        say ("NBD_CMD_RECONFIGURE: %s; again", strerror (-r));
      }
      if (now () - t0 > dead_timeout) {
        say ("/dev/nbd%u: no server for %llu s; giving up", index,
             (unsigned long long) dead_timeout);
        return 1;
      }
      usleep (50000);
    }
    say ("/dev/nbd%u: reconnected (#%u) after %.2f s", index, reconnects,
         now () - t0);
  }
}
