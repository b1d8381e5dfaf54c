/* vswap: the store's private state, shared by the files of core/.
 *
 * Locking (doc/design.md has the whole story): one mutex, store->lock,
 * guards the map, the segment table, the write heads and the counters;
 * no medium I/O happens while it is held in the I/O path.  Appends reserve
 * their place under it; the medium writer writes sealed chunks, GC reads
 * victims, discards erase segments and flushes wait for the medium with
 * it let go.  Reads find records in closed segments without it (the map,
 * the segments' state and generation are read atomically) and verify what
 * they read against the page and the generation, looking again if GC
 * moved the record meanwhile.
 */
#ifndef VSWAP_STORE_INTERNAL_H
#define VSWAP_STORE_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <xxhash.h>
#include <zstd.h>

#include "medium.h"
#include "on_medium.h"
#include "page_map.h"
#include "rounding.h"
#include "store.h"

enum segment_damage {
  DAMAGE_NONE = 0,
  /* Recovery found records here that do not verify, and accounted for
   * them: GC may collect the segment, stepping over them. */
  DAMAGE_KNOWN,
  /* ... and they are the only evidence that some pages lost their newest
   * record, until the open has written LOST records for those pages: not
   * a victim until then. */
  DAMAGE_EVIDENCE,
};

enum segment_state {
  SEGMENT_FREE = 0,
  SEGMENT_OPEN,                 /* a write head is filling it */
  SEGMENT_CLOSED,               /* full (or left by an earlier run) */
  SEGMENT_SUPERBLOCK,           /* holds a superblock copy */
  SEGMENT_PINNED,               /* retired: damage GC cannot see past */
  SEGMENT_ERASING,              /* being discarded, soon free */
};

struct segment {
  /* Sequence of the first chunk of the content now on the medium; 0 when
   * the segment holds nothing readable (never written, or discarded on a
   * medium whose discard zeroes).  A free segment whose generation is not
   * 0 still holds stale records: tombstones must outlive it. */
  uint64_t generation;
  /* A freed segment's old generation, kept until the new one's first chunk
   * covers its start: until then recovery would still replay it. */
  uint64_t stale_generation;
  uint64_t last_sequence;       /* newest chunk: the segment's age */
  uint32_t data_records;        /* RAW/ZSTD/SAME records written */
  uint32_t data_bytes;          /* their bytes, headers included */
  uint32_t live_records;        /* map entries pointing here */
  uint32_t readin_records;      /* of those, marked read-in */
  /* ZERO, TRIM and SAME records: they set a page's state with no map
   * entry pointing at them, so GC must parse the segment while any are
   * there; a segment with none and nothing live need not even be read. */
  uint32_t state_records;
  uint32_t erase_count;
  uint32_t write_offset;        /* end of the written chunks */
  bool clean_tail;              /* its last chunk says: closed cleanly */
  bool needs_erase;             /* free, but programmed: erase before use */
  bool cold;                    /* filled by the cold (GC) head */
  /* Collected, but not free yet: what superseded its records (GC's copies
   * and the writes that made the rest dead) must be durable first, which
   * it is once each head has written past where it stood when the victim
   * was collected (head segment -1: nothing was pending there), and the
   * medium has been flushed (see gc.c). */
  bool releasing;
  /* Damage recovery found here (enum segment_damage).  Damage GC finds
   * in a segment recovery found none in retires it (SEGMENT_PINNED). */
  uint8_t damage;
  int64_t release_segment[2];
  uint32_t release_fill[2];
  uint8_t state;
};

/* The summary of a head's last sealed chunk (doc/on-medium-format.md,
 * "Chunk summaries"): which pages its records are of.  The head's next
 * sealed chunk carries it as SUMMARY records, or a durability marker does;
 * until then it waits here. */
struct summary_entry {
  uint32_t page, count;
  uint64_t stamp;
};
struct pending_summary {
  bool present;
  uint64_t segment, generation, sequence;
  uint32_t offset;              /* of the described chunk */
  uint32_t end;                 /* where that chunk's padding ends */
  uint32_t count;               /* entries */
  uint32_t room;                /* bytes its records take, a PAD included */
  uint32_t records;             /* records it takes, the PAD included */
  struct summary_entry *entries;        /* VSWAP_MAX_CHUNK_RECORDS */
};

/* Where a chunk starts. */
struct chunk_place {
  uint64_t segment;
  uint32_t offset;
};

/* A write head: the open segment and its RAM image.  Records are appended
 * to the image and written out in chunks; the image also serves reads of
 * the open segment. */
struct head {
  uint8_t *buffer;              /* segment_size bytes, aligned */
  int64_t segment;              /* -1: none open yet */
  uint64_t generation;
  uint32_t fill;                /* bytes appended */
  /* Sealed chunks end here (write-unit aligned): [written, sealed) waits
   * for the medium writer, and may not change. */
  uint32_t sealed;
  uint32_t written;             /* bytes on the medium (write-unit aligned) */
  bool writing;                 /* the writer has [written, sealed) under way */
  /* Its segment is full and sealed, and waits for the writer before it
   * closes: nothing more goes in (vswap_close_segment). */
  bool closing;
  uint32_t chunk_start;         /* where the open chunk's header goes */
  uint32_t chunk_records;
  bool chunk_open;
  uint32_t marked;              /* "sealed" when the last marker went out */
  struct pending_summary summary;
  /* The open chunk as it grows, so that its seal is quick: the checksum
   * of its records so far, and the summary entries of its page records
   * (which become the pending summary when it is sealed). */
  XXH3_state_t *body;
  struct summary_entry *entries;        /* VSWAP_MAX_CHUNK_RECORDS */
  uint32_t entry_count;
};

/* Whole pages a read request fetches at once: records a sequential write
 * left one after another are read back in one medium read of up to this
 * many records (128 KiB of pages). */
#define RUN_PAGES 32

/* Whole pages a write request encodes before it takes the lock once to
 * append them all. */
#define WRITE_BATCH 32

/* A page classified and encoded, ready to append (store.c). */
struct prepared_page {
  struct vswap_record_header header;
  const uint8_t *payload;
  uint64_t pattern;
  int class;                    /* enum vswap_page_class */
};

/* What one request needs, preallocated so the I/O path never allocates. */
struct io_context {
  ZSTD_CCtx *cctx;
  ZSTD_DCtx *dctx;
  uint8_t *page;                /* 4 KiB scratch page */
  uint8_t *payload;             /* an encoded payload */
  uint8_t *read_buffer;         /* aligned, a record and two read units */
  /* A run of records read in one I/O (see read_pages in store.c). */
  uint8_t *run_buffer;          /* aligned, RUN_PAGES separate record reads */
  uint32_t run_address[RUN_PAGES];
  uint64_t run_generation[RUN_PAGES];   /* 0: not read from the medium */
  /* Pages of a write request encoded before one trip under the lock. */
  struct prepared_page batch[WRITE_BATCH];
  uint8_t *batch_payload;       /* WRITE_BATCH pages */
  struct io_context *next_free;
};

#define STRIPE_LOCKS 64         /* serialise read-modify-write per page */

struct vswap_store {
  struct vswap_medium *medium;
  struct vswap_superblock superblock;
  struct vswap_open_options options;
  uint64_t seed;
  uint32_t address_shift;
  uint32_t segment_size;
  uint32_t write_unit;
  uint32_t read_unit;
  uint64_t pages;               /* logical pages */
  uint64_t segment_count;
  uint32_t seal_threshold;      /* unsealed bytes that trigger a write */
  uint32_t reserve;             /* free segments only GC may take */
  bool compress;
  int compression_level;

  pthread_mutex_t lock;
  uint64_t lock_since;          /* when the lock was last taken */
  pthread_mutex_t stripes[STRIPE_LOCKS];

  vswap_map_entry *map;
  uint64_t *readin;             /* bitmap, one bit per page */
  /* Hot/cold separation (gc.c): a 2-bit write counter per page, one bit
   * plane each, raised by each write and lowered each epoch (the logical
   * pages' worth of page writes). */
  uint64_t *heat_low, *heat_high;
  uint64_t epoch_writes;        /* page writes in this epoch */
  uint64_t epoch_hot_writes;    /* of those, to pages found hot */
  bool separate;                /* the last epoch's writes were skewed */
  struct segment *segments;
  struct vswap_pattern_table patterns;
  uint64_t free_segments;
  /* The store's clock: the last stamp, chunk sequence or segment
   * generation handed out (doc/on-medium-format.md, "Stamps and
   * sequences"). */
  uint64_t sequence;
  uint64_t seals;               /* chunks sealed and segments opened */

  /* The medium writer (log_writer.c): a thread that writes what the heads
   * sealed, with the store unlocked, each head's chunks in order.  Until
   * vswap_store_start_background starts it (and in the tools), a seal
   * writes its chunk itself, under the lock.  writer_wake: there is work;
   * written_moved: a head's "written" moved (or the medium failed). */
  pthread_t writer;
  bool writer_running;
  bool writer_stop;
  pthread_cond_t writer_wake;
  pthread_cond_t written_moved;

  struct head heads[2];
  struct head *user_head;
  struct head *gc_head;         /* == user_head with one open segment */
  uint8_t *gc_buffer;           /* one segment, for victims */
  /* Garbage collection.  One collection at a time (collecting); it lets
   * go of the lock while it reads a victim and while the medium flushes,
   * and signals gc_done when it ends.  A background thread (started by
   * vswap_store_start_background) collects ahead of need once free
   * segments drop to reserve + gc_headroom, woken by gc_wake. */
  bool collecting;
  pthread_t collector;          /* valid while collecting */
  pthread_cond_t gc_done;
  pthread_cond_t gc_wake;
  pthread_t gc_thread;
  bool gc_thread_running;
  bool gc_stop;
  uint32_t gc_headroom;
  uint64_t releasing;           /* segments collected, not yet free */
  /* The GC head's segment and written offset, and collections, when
   * vswap_gc_borrow_head last found every victim waiting for the GC
   * head: while they stay, it need not scan the segments again for each
   * borrowed record (segment 0, a superblock's: no such finding). */
  int64_t borrow_segment;
  uint32_t borrow_written;
  uint64_t borrow_collections;
  uint64_t collections;         /* victims collected since open */
  int failed;                   /* sticky medium error: writes refused */

  pthread_mutex_t context_lock;
  pthread_cond_t context_available;
  struct io_context *contexts;
  struct io_context *free_contexts;
  unsigned context_count;

  struct vswap_statistics stats;        /* counters only; "now" on demand */
  /* Lifetime counters as the newest LIFETIME record left them, and where
   * that record is (GC keeps it; 0 = none). */
  uint64_t lifetime[VSWAP_LIFETIME_COUNTERS];
  /* What recovery found for a writable open to settle (vswap_store_open):
   * pages it gave back their pre-crash copy, pages it found damaged
   * (their newest record lost), and chunks whose summary never reached
   * the medium. */
  uint32_t *torn_pages;
  size_t torn_page_count;
  uint32_t *damaged_pages;
  size_t damaged_page_count;
  struct chunk_place *unsummarised;
  size_t unsummarised_count;
  /* The sequence of the newest durability marker recovery found: chunks
   * below it were flushed (vswap check tells rot from torn writes). */
  uint64_t newest_marker;
  /* A segment whose only chunk is a write a crash cut short, and that no
   * marker covers (-1: none): the open may erase it to make room. */
  int64_t torn_segment;
  uint32_t lifetime_address;
  /* The user head's image in a file that outlives the process (NULL:
   * none); see write_buffer.c. */
  struct vswap_write_buffer *write_buffer;
};

/* log_writer.c */
/* Append a record to HEAD (or where it must go instead).  A header whose
 * stamp is 0 gets the next one (a GC copy keeps its own). */
int vswap_head_append (struct vswap_store *store, struct head *head,
                       struct vswap_record_header *header,
                       const void *payload, uint32_t *address);
int vswap_head_append_encoded (struct vswap_store *store, struct head *head,
                               const uint8_t *record, uint32_t size,
                               bool data, uint32_t *address);
/* Seal HEAD's open chunk: its header, padding and summary; the medium
 * writer writes it (or the sealing thread at once, without the writer). */
int vswap_head_seal (struct vswap_store *store, struct head *head,
                     uint32_t flags);
/* Wait until HEAD has written SEGMENT up to UNTIL (or left SEGMENT,
 * which it does only once all of it is written), or the medium failed
 * (returns store->failed).  Lets go of store->lock meanwhile. */
int vswap_head_wait_written (struct vswap_store *store, struct head *head,
                             int64_t segment, uint32_t until);
int vswap_wait_written_all (struct vswap_store *store);
/* Start and stop the medium writer (store->lock not held). */
int vswap_writer_start (struct vswap_store *store);
void vswap_writer_stop (struct vswap_store *store);
void vswap_resume_heads (struct vswap_store *store);
int vswap_store_seal_all (struct vswap_store *store);
/* A clean close: seal every head, then a CLEAN marker in each, and close
 * their segments. */
int vswap_store_close_heads (struct vswap_store *store);
/* After a medium flush: an empty CLEAN chunk after each head's flushed
 * chunks, so that recovery knows them complete (damage there is rot, an
 * error, not a torn write to skip). */
int vswap_store_mark_durable (struct vswap_store *store);
/* Lifetime counters: encode into PAYLOAD (returns its length), decode. */
void vswap_lifetime_add (struct vswap_store *store,
                         struct vswap_statistics *statistics);
uint16_t vswap_lifetime_encode (struct vswap_store *store, uint8_t *payload);
void vswap_lifetime_decode (struct vswap_store *store, const uint8_t *payload,
                            uint16_t length);
/* log_writer.c, for summary.c and marker.c: take a free segment for
 * HEAD (no collection), close HEAD's full segment, start a chunk. */
int vswap_take_segment (struct vswap_store *store, struct head *head);
int vswap_close_segment (struct vswap_store *store, struct head *head);
void vswap_open_chunk (struct vswap_store *store, struct head *head);

/* summary.c: the bytes and records summary P takes in a chunk (a PAD
 * included), placing it into HEAD's open chunk (which has room), and
 * making the entries HEAD gathered the summary of its chunk [START, END)
 * sealed as SEQUENCE. */
uint32_t vswap_summary_room (const struct pending_summary *p);
uint32_t vswap_summary_record_count (const struct pending_summary *p);
void vswap_place_summary (struct vswap_store *store, struct head *head,
                          struct pending_summary *p);
void vswap_summarise (struct vswap_store *store, struct head *head,
                      uint32_t start, uint32_t end, uint64_t sequence);
/* Append SUMMARY records saying what SUMMARY says, to HEAD (or where
 * its records must go).  Called with store->lock held. */
int vswap_append_summary (struct vswap_store *store, struct head *head,
                          const struct pending_summary *summary);
/* Count a SAME record that a map entry points at (pattern table full). */
void vswap_segment_count_data (struct vswap_store *store, uint32_t address,
                               uint32_t size);
void vswap_map_release (struct vswap_store *store, uint64_t page);
/* Map a released PAGE to the record at ADDRESS, counting it live. */
void vswap_map_point (struct vswap_store *store, uint64_t page,
                      uint32_t address);
int vswap_segment_of_address (const struct vswap_store *store,
                              uint32_t address, uint32_t *offset);
struct head *vswap_head_of_segment (struct vswap_store *store,
                                    uint64_t segment);

/* gc.c */
/* The head a user write of PAGE goes to: hot/cold separation.  DATA: the
 * write makes a RAW or ZSTD record (only those may go to the cold head). */
struct head *vswap_head_for_write (struct vswap_store *store, uint64_t page,
                                   bool data);
/* Collect until more than store->reserve segments are free (ENOSPC if it
 * cannot).  Called with store->lock held, which it lets go meanwhile. */
int vswap_gc_make_room (struct vswap_store *store);
/* Are TARGET or fewer segments free?  Then writers may not open a segment,
 * and GC works.  (Releasing segments do not count: see gc.c.) */
bool vswap_gc_short_of (const struct vswap_store *store, uint64_t target);
/* The GC head, when a user record of SIZE bytes should go there because
 * the user head has no segment and taking one would force a seal; else
 * NULL. */
struct head *vswap_gc_borrow_head (struct vswap_store *store, uint32_t size);
/* Is the calling thread the one collecting now? */
bool vswap_gc_is_collector (const struct vswap_store *store);
/* Free the collected segments whose copies are durable, flushing the
 * medium for them (SEAL: seal the heads first, so that all are).  Does
 * nothing while a collection runs, which does it itself.  Called with
 * store->lock held, which it lets go while the medium flushes. */
int vswap_gc_release (struct vswap_store *store, bool seal);
/* Wake the background collector if free segments run low. */
void vswap_gc_nudge (struct vswap_store *store);
/* Start and stop the background collector (store->lock not held). */
int vswap_gc_start_thread (struct vswap_store *store);
void vswap_gc_stop_thread (struct vswap_store *store);
/* Erase SEGMENT and count it free.  Lets go of store->lock while the
 * medium discards it. */
void vswap_segment_free (struct vswap_store *store, uint64_t segment);

/* write_buffer.c.  Open (and lock) the buffer file GIVEN before recovery,
 * keeping what the last server left unwritten; replay that after recovery
 * (MEDIUM_SEQUENCE: the newest chunk recovery found); then move the user
 * head's image into the file.  Note is called whenever the user head or
 * the sequence changes (under store->lock); release at close (CLEAN:
 * everything is on the medium, remove the file). */
int vswap_buffer_open (struct vswap_store *store, const char *given,
                       struct vswap_error *err);
int vswap_buffer_replay (struct vswap_store *store, uint64_t medium_sequence,
                         struct vswap_error *err);
void vswap_buffer_attach (struct vswap_store *store);
void vswap_buffer_note (struct vswap_store *store);
bool vswap_buffer_owns (const struct vswap_store *store,
                        const uint8_t *buffer);
void vswap_buffer_release (struct vswap_store *store, bool clean);

/* recovery.c */
int vswap_recover (struct vswap_store *store, struct vswap_error *err);
/* After recovery, a writable open records durably what it found: the
 * summaries of chunks whose own never reached the medium, and LOST
 * records for the pages found damaged.  Before anything could mark those
 * chunks durable.  Takes store->lock. */
int vswap_recovery_record (struct vswap_store *store);
/* ... and once that is durable, GC may collect the damaged segments. */
void vswap_recovery_settled (struct vswap_store *store);
/* Say MESSAGE through the open options' report callback, if any. */
void vswap_report (struct vswap_store *store, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* store.c: make pages [FIRST, FIRST + COUNT) read as errors, durably (a
 * LOST record).  Takes store->lock. */
int vswap_store_lose_pages (struct vswap_store *store, uint64_t first,
                            uint64_t count);
/* store.c: read the record at ADDRESS for PAGE into OUT (4 KiB).  Entered
 * with store->lock held; returns with it released. */
int vswap_read_record (struct vswap_store *store, struct io_context *ctx,
                       uint64_t page, uint32_t address, void *out);

/* The largest record a page can have: a raw one. */
#define MAX_PAGE_RECORD (VSWAP_RECORD_HEADER_SIZE + VSWAP_PAGE_SIZE)

/* A request is served piece by piece: a run of up to MAXIMUM whole pages,
 * or the part of one page that it covers. */
struct piece {
  uint64_t page;                /* the first page */
  uint32_t skip;                /* bytes into it (partial only) */
  uint32_t bytes;               /* the piece's length */
  uint32_t whole_pages;         /* 0: a partial page */
};

static inline struct piece
vswap_next_piece (uint64_t offset, uint64_t length, uint32_t maximum)
{
  struct piece p = {
    .page = offset / VSWAP_PAGE_SIZE,
    .skip = offset % VSWAP_PAGE_SIZE,
  };

  assert (length > 0 && maximum > 0);
  p.bytes = VSWAP_PAGE_SIZE - p.skip;
  if (p.bytes > length)
    p.bytes = (uint32_t) length;
  if (p.bytes == VSWAP_PAGE_SIZE) {
    const uint64_t pages = length / VSWAP_PAGE_SIZE;
    p.whole_pages = pages < maximum ? (uint32_t) pages : maximum;
    p.bytes = p.whole_pages * VSWAP_PAGE_SIZE;
  }
  return p;
}

/* io_context.c: the preallocated contexts of the requests served at once
 * (COUNT: the open option io_contexts, 0 for the default), and their
 * buffers' sizes. */
void *vswap_aligned_alloc_zero (size_t size);
size_t vswap_read_buffer_size (const struct vswap_store *store);
size_t vswap_run_buffer_size (const struct vswap_store *store);
int vswap_contexts_create (struct vswap_store *store, unsigned count);
void vswap_contexts_destroy (struct vswap_store *store);
struct io_context *vswap_context_get (struct vswap_store *store);
void vswap_context_put (struct vswap_store *store, struct io_context *c);

/* read.c: read one whole PAGE into OUT (CLIENT: a client's read, which
 * the read-in policy and statistics see). */
int vswap_read_page (struct vswap_store *store, struct io_context *ctx,
                     uint64_t page, void *out, bool client);
/* write.c: store one whole PAGE from DATA (FORCE: even when the page
 * already reads so, to give it a newer record). */
int vswap_write_page (struct vswap_store *store, struct io_context *ctx,
                      uint64_t page, const uint8_t *data, bool force);

/* Counters are bumped from inside and outside the lock. */
#define STAT_ADD(store, field, n) \
  __atomic_fetch_add (&(store)->stats.field, (n), __ATOMIC_RELAXED)

/* store->lock, through these: they keep the thread's note that it holds
 * the lock (so that medium I/O under it is caught: vswap_io_unlocked) and
 * the longest hold (statistics lock_hold_max_ns, lock_holds_slow). */
extern __thread bool vswap_lock_held
  __attribute__ ((tls_model ("initial-exec")));

/* Holds longer than this are counted as slow (lock_holds_slow). */
#define LOCK_HOLD_SLOW_NS 100000

static inline uint64_t
vswap_now_ns (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (uint64_t) t.tv_sec * 1000000000 + (uint64_t) t.tv_nsec;
}

static inline void
vswap_lock_taken (struct vswap_store *store)
{
  vswap_lock_held = true;
  store->lock_since = vswap_now_ns ();
}

static inline void
vswap_lock_leaving (struct vswap_store *store)
{
  const uint64_t held = vswap_now_ns () - store->lock_since;
  if (held > store->stats.lock_hold_max_ns)
    store->stats.lock_hold_max_ns = held;
  if (held > LOCK_HOLD_SLOW_NS)
    store->stats.lock_holds_slow++;
  vswap_lock_held = false;
}

static inline void
vswap_lock (struct vswap_store *store)
{
  pthread_mutex_lock (&store->lock);
  vswap_lock_taken (store);
}

static inline bool
vswap_trylock (struct vswap_store *store)
{
  if (pthread_mutex_trylock (&store->lock) != 0)
    return false;
  vswap_lock_taken (store);
  return true;
}

static inline void
vswap_unlock (struct vswap_store *store)
{
  vswap_lock_leaving (store);
  pthread_mutex_unlock (&store->lock);
}

static inline void
vswap_wait (struct vswap_store *store, pthread_cond_t *cond)
{
  vswap_lock_leaving (store);
  pthread_cond_wait (cond, &store->lock);
  vswap_lock_taken (store);
}

/* Before medium I/O: not with store->lock held once the store serves
 * (its background threads run); before that, at open and in the tools,
 * the lock protects nothing anyone waits for. */
static inline void
vswap_io_unlocked (const struct vswap_store *store)
{
  assert (!vswap_lock_held || !store->writer_running);
  (void) store;
}

/* The map and the segments' state and generation are read without the
 * lock on the read path (read.c), and written under it: written and read
 * there atomically, so that a reader sees one whole value. */
static inline vswap_map_entry
vswap_map_get (const struct vswap_store *store, uint64_t page)
{
  return __atomic_load_n (&store->map[page], __ATOMIC_ACQUIRE);
}

static inline void
vswap_map_set (struct vswap_store *store, uint64_t page, vswap_map_entry e)
{
  __atomic_store_n (&store->map[page], e, __ATOMIC_RELEASE);
}

static inline void
vswap_segment_set_state (struct segment *s, uint8_t state)
{
  __atomic_store_n (&s->state, state, __ATOMIC_RELEASE);
}

static inline void
vswap_segment_set_generation (struct segment *s, uint64_t generation)
{
  __atomic_store_n (&s->generation, generation, __ATOMIC_RELEASE);
}

static inline uint64_t
segment_offset (const struct vswap_store *store, uint64_t segment)
{
  return segment * store->segment_size;
}

/* Erased flash reads as all zeros or all ones; anything else has been
 * programmed, even if only by a torn write. */
static inline bool
is_blank (const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] != p[0] || (p[0] != 0 && p[0] != 0xff))
      return false;
  return true;
}

#endif /* VSWAP_STORE_INTERNAL_H */
