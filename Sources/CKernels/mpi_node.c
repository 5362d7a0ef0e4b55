// Sums across the ranks through memory that the ranks on one machine share (an MPI-3
// shared-memory window), for the gradients, which every rank sums at every step.
//
// MPI_Allreduce over private buffers copies each rank's buffer into Open MPI's shared segment and
// the sum back out. Here each rank's buffer lies in the window, where the other ranks of its
// machine can read and write it, and local rank l sums part l of all of them in place, in local
// rank order, and writes the sum into each. For the 2 x 512 LSTM's 17 MB on two ranks of one
// machine, a step's sums took 2.0-2.7 ms this way against 6.4-10.8 ms (README, "Training on
// several machines"). Across machines, part l is then summed by MPI_Allreduce among the ranks that
// are local rank l on their machine, before it is written back: the hierarchical allreduce (each
// machine sends one copy of the gradients, not one per rank).
//
// The update can go the same way (SharedUpdate.swift): one copy of the parameters per machine, in a
// second window; rnn_mpi_node_reduce sums only part l, into local rank l's own buffer, and that rank
// updates part l of the parameters; rnn_mpi_node_barrier then lets every rank read them all.
//
// Every machine must run the same number of ranks, and more than one, with room for the window in
// its shared-memory folder; otherwise rnn_mpi_node_sum_setup declines and the sums stay with
// rnn_mpi_sum_floats.
#include "CKernels.h"
#include "activations.h"
#include "mpi_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

enum {
  ALIGN = 16,   // floats: parts begin on 64-byte boundaries
  BLOCK = 1024, // floats summed at a time, in L1
};

rnn_mpi_node_ranks rnn_mpi_node;
static rnn_mpi_node_ranks *const node = &rnn_mpi_node;

void *rnn_mpi_node_window(long bytes, int ready, int whole, void **parts) {
  rnn_mpi_functions *f = &rnn_mpi;
  // Open MPI backs the window with a file in osc_sm_backing_directory (/dev/shm unless set): in a
  // container whose /dev/shm is small (64 MiB by default in Docker), writing past its room would
  // end the process (SIGBUS), so the window must fit there on every machine. The decision to go on
  // is every rank's, as the rest is collective.
  const char *directory = getenv("OMPI_MCA_osc_sm_backing_directory");
  struct statvfs space;
  bytes += 64;  // room to align each part
  int holders = whole ? 1 : node->size;
  double room = ready && statvfs(directory ? directory : "/dev/shm", &space) == 0 &&
                (double)space.f_bavail * (double)space.f_frsize >= 1.25 * holders * (double)bytes;
  void *base = NULL, *window = NULL;
  if (rnn_mpi_allreduce(&room, 1, sizeof room, f->double_type, f->min, f->comm_world) != 0 || !room ||
      f->win_allocate_shared(whole && node->rank > 0 ? 0 : bytes, 1, f->info_null, node->local, &base,
                             &window) != 0 ||
      f->win_lock_all(OMPI_MODE_NOCHECK, window) != 0) {
    return NULL;
  }
  for (int r = 0; r < node->size; r++) {
    long size = 0;
    int unit = 0;
    void *start = NULL;
    if (f->win_shared_query(window, whole ? 0 : r, &size, &unit, &start) != 0) return NULL;
    parts[r] = (void *)(((uintptr_t)start + 63) & ~(uintptr_t)63);
  }
  return window;
}

float *rnn_mpi_node_sum_setup(long count, int *machines) {
  rnn_mpi_functions *f = &rnn_mpi;
  if (!f->comm_split_type || !f->comm_split || !f->barrier || !f->win_allocate_shared ||
      !f->win_shared_query || !f->win_lock_all || !f->win_sync || !f->max || !f->min ||
      !f->info_null || node->segment || count <= 0) {
    return NULL;
  }
  int world_rank = 0;
  if (f->comm_rank(f->comm_world, &world_rank) != 0) return NULL;
  if (f->comm_split_type(f->comm_world, OMPI_COMM_TYPE_SHARED, 0, f->info_null, &node->local) != 0 ||
      f->comm_rank(node->local, &node->rank) != 0 || f->comm_size(node->local, &node->size) != 0) {
    return NULL;
  }
  // The same answer on every rank: the fewest and the most ranks on one machine.
  double fewest = node->size, most = node->size;
  if (rnn_mpi_allreduce(&fewest, 1, sizeof fewest, f->double_type, f->min, f->comm_world) != 0 ||
      rnn_mpi_allreduce(&most, 1, sizeof most, f->double_type, f->max, f->comm_world) != 0 ||
      fewest != most || node->size < 2) {
    return NULL;
  }
  // Every rank must also have its list of the segments.
  float **segment = malloc((size_t)node->size * sizeof *segment);
  void *window = rnn_mpi_node_window(count * (long)sizeof(float), segment != NULL, 0, (void **)segment);
  if (!window || f->comm_split(f->comm_world, node->rank, world_rank, &node->across) != 0 ||
      f->comm_size(node->across, &node->machines) != 0 || f->comm_rank(node->across, &node->machine) != 0) {
    free(segment);
    return NULL;
  }
  *machines = node->machines;
  node->count = count;
  node->window = window;
  node->segment = segment;
  return segment[node->rank];
}

/// Every rank's writes to the window before it are seen by every rank's reads after it.
static int synchronize(void) {
  rnn_mpi_functions *f = &rnn_mpi;
  int status = f->win_sync(node->window);
  if (status == 0 && node->values_window) status = f->win_sync(node->values_window);
  if (status == 0) status = f->barrier(node->local);
  if (status == 0) status = f->win_sync(node->window);
  if (status == 0 && node->values_window) status = f->win_sync(node->values_window);
  return status;
}

/// sum[0..<n] = the ranks' segments at `offset`, added in local rank order.
RNN_KERNEL static void add_segments(long offset, long n, float *sum) {
  float *restrict s = sum;
  const float *restrict first = node->segment[0] + offset;
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) s[i] = first[i];
  for (int r = 1; r < node->size; r++) {
    const float *restrict x = node->segment[r] + offset;
    RNN_VECTORIZE
    for (long i = 0; i < n; i++) s[i] += x[i];
  }
}

/// The segments of ranks `from..<to` at `offset` = sum[0..<n].
RNN_KERNEL static void write_segments(int from, int to, long offset, long n, const float *sum) {
  const float *restrict s = sum;
  for (int r = from; r < to; r++) {
    float *restrict x = node->segment[r] + offset;
    RNN_VECTORIZE
    for (long i = 0; i < n; i++) x[i] = s[i];
  }
}

void rnn_mpi_node_part(long *lo, long *hi) {
  *lo = node->count * node->rank / node->size / ALIGN * ALIGN;
  *hi = node->rank + 1 == node->size ? node->count : node->count * (node->rank + 1) / node->size / ALIGN * ALIGN;
}

/// Sums this rank's part of every rank's buffer, in local rank order and then across machines, into
/// this rank's own buffer and, with `everywhere`, every other rank's on its machine.
static int sum_part(int everywhere) {
  int status = synchronize();  // every rank's buffer is complete
  if (status != 0) return status;
  long lo, hi;
  rnn_mpi_node_part(&lo, &hi);
  float sum[BLOCK] __attribute__((aligned(64)));
  // On one machine, the sum can go into every rank's buffer at once; with other machines, it goes
  // into this rank's own, where the part's sum across the machines then replaces it.
  int all = everywhere && node->machines == 1;
  int from = all ? 0 : node->rank, to = all ? node->size : node->rank + 1;
  for (long i = lo; i < hi; i += BLOCK) {
    long n = hi - i < BLOCK ? hi - i : BLOCK;
    add_segments(i, n, sum);
    write_segments(from, to, i, n, sum);
  }
  if (node->machines > 1) {
    float *own = node->segment[node->rank];
    status = rnn_mpi_allreduce(own + lo, hi - lo, sizeof(float), rnn_mpi.float_type, rnn_mpi.sum, node->across);
    if (status != 0) return status;
    for (int r = 0; everywhere && r < node->size; r++) {
      if (r != node->rank) memcpy(node->segment[r] + lo, own + lo, (size_t)(hi - lo) * sizeof(float));
    }
  }
  return 0;
}

int rnn_mpi_node_sum(void) {
  int status = sum_part(1);
  return status != 0 ? status : synchronize();  // no rank reads its buffer before every part is written
}

float *rnn_mpi_node_values_setup(const float *values, int *status) {
  *status = 0;
  if (!node->segment || node->values_window) return NULL;
  // One part for the machine: every entry of `parts` is local rank 0's memory.
  float **parts = malloc((size_t)node->size * sizeof *parts);
  void *window = rnn_mpi_node_window(node->count * (long)sizeof(float), parts != NULL, 1, (void **)parts);
  float *machine = window ? parts[0] : NULL;
  free(parts);
  if (!machine) return NULL;
  if (node->rank == 0) memcpy(machine, values, (size_t)node->count * sizeof(float));
  node->values_window = window;
  *status = synchronize();  // the copy is there before any rank reads it
  return machine;
}

int rnn_mpi_node_reduce(void) { return sum_part(0); }

int rnn_mpi_node_barrier(void) { return synchronize(); }

void rnn_mpi_node_place(int *rank, int *size, int *machine) {
  *rank = node->rank;
  *size = node->size;
  *machine = node->machine;
}
