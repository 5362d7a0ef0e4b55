// Memory: buffers that a hot loop streams through again and again (the batch-1 sampler's
// weights), and keeping freed memory for reuse (see FreedMemory.swift).
#define _GNU_SOURCE
#include "CKernels.h"

#include <stdlib.h>
#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

enum { huge_page = 2 << 20 };

float *rnn_allocate_streamed(long count) {
  size_t bytes = (size_t)count * sizeof(float);
  if (bytes < huge_page / 2) return malloc(bytes > 0 ? bytes : sizeof(float));
  // Whole 2 MiB pages, so that the kernel can back the buffer with huge pages: a few TLB entries
  // instead of one per 4 KiB, and physically contiguous memory that spreads evenly over the
  // cache's sets (measured: a 1.5 MiB matrix-vector product from L2 17% faster).
  bytes = (bytes + huge_page - 1) / huge_page * huge_page;
  void *memory = 0;
  if (posix_memalign(&memory, huge_page, bytes) != 0) return 0;
#ifdef MADV_HUGEPAGE
  madvise(memory, bytes, MADV_HUGEPAGE);
#endif
  return memory;
}

void rnn_free_streamed(float *buffer) { free(buffer); }

void rnn_keep_freed_memory(void) {
#ifdef __GLIBC__
  // Fixed thresholds (setting them turns off glibc's adaptive ones): heap allocations up to the
  // largest size glibc accepts, and no trimming of the heap's free top.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
#endif
}
