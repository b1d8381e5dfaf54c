/* prefault: make the server's memory present and writable before it is
 * needed.
 *
 * mlockall (MCL_ONFAULT) locks a page only once it is faulted in, and the
 * kernel faults in lazily: memory that was allocated but never written
 * (calloc's fresh mmap), or only read (the shared zero page is mapped),
 * or shared copy-on-write with the parent nbdkit forked from, still needs
 * a page allocated on its first write.  A tmpfs mapping (the write
 * buffer) loses its page tables in the fork and its pages can be swapped
 * out.  Each of those is an allocation on the I/O path, and when it comes
 * while the machine is out of memory the server thread spins in reclaim
 * that only its own replies could satisfy: seen in the guest as an
 * nbdkit thread stuck in wp_page_copy or shmem_get_folio_gfp while swap
 * stood still.
 *
 * prefault_process_memory walks /proc/self/maps and write-faults every
 * private or shared writable mapping (MADV_POPULATE_WRITE, or an atomic
 * add of 0 to each page on kernels before 5.14), except thread stacks,
 * of which only the top PREFAULT_STACK_BYTES are faulted in: a stack is
 * 8 MiB of address space of which a request uses a few dozen KiB.  It
 * read-faults code, and read-only data mappings up to
 * PREFAULT_MAXIMUM_READ_ONLY_DATA: where the binaries live on tmpfs (an
 * initramfs) their pages are swapped out like any other, and code not run
 * since the fork would come back from the very device the server serves.
 * Mappings larger than PREFAULT_MAXIMUM_MAPPING are left alone: nbdkit
 * 1.32's own .bss is 192 MiB that it never writes, and faulting that in
 * would cost a small machine most of its RAM.  (The store's map, the
 * largest thing vswap allocates, is 4 bytes a page: 16 MiB for a 16 GiB
 * device.)
 */
#ifndef VSWAP_PREFAULT_H
#define VSWAP_PREFAULT_H

#include <stddef.h>
#include <stdint.h>

#define PREFAULT_STACK_BYTES (256 * 1024)
#define PREFAULT_MAXIMUM_MAPPING ((uint64_t) 64 << 20)
/* ICU's 29 MiB of tables, which nbdkit links and never uses here, stay
 * out. */
#define PREFAULT_MAXIMUM_READ_ONLY_DATA ((uint64_t) 8 << 20)

/* What prefault_process_memory did: mappings and bytes faulted in, and
 * mappings it could not (or would not) fault in. */
struct prefault_report {
  unsigned mappings;
  unsigned stacks;
  unsigned skipped;
  uint64_t bytes;
};

/* Returns 0, or -errno when /proc/self/maps cannot be read.  Allocates
 * nothing (a static buffer; call it from one thread at a time). */
int prefault_process_memory (struct prefault_report *report);

/* Fault in the top PREFAULT_STACK_BYTES of the calling thread's stack
 * (below the caller's frame). */
void prefault_this_stack (void);

#endif /* VSWAP_PREFAULT_H */
