// Internal to CKernels: Open MPI's functions and handles as mpi.c loaded them, shared with
// mpi_node.c and mpi_share.c. Open MPI's handles (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Info, MPI_Win) are all
// pointers; MPI_Aint is a long.
#ifndef RNN_MPI_INTERNAL_H
#define RNN_MPI_INTERNAL_H

#define OMPI_IN_PLACE ((void *)1)
#define OMPI_THREAD_FUNNELED 1
#define OMPI_COMM_TYPE_SHARED 0  // MPI_COMM_TYPE_SHARED, the first of Open MPI's split types
#define OMPI_MODE_NOCHECK 1

typedef struct {
  int (*init_thread)(int *, char ***, int, int *);
  int (*comm_rank)(void *, int *);
  int (*comm_size)(void *, int *);
  int (*allreduce)(const void *, void *, int, void *, void *, void *);
  int (*abort)(void *, int);
  int (*finalize)(void);
  // For the sums through shared memory (mpi_node.c); NULL where the libmpi lacks them.
  int (*comm_split_type)(void *, int, int, void *, void **);
  int (*comm_split)(void *, int, int, void **);
  int (*barrier)(void *);
  int (*win_allocate_shared)(long, int, void *, void *, void *, void **);
  int (*win_shared_query)(void *, int, long *, int *, void *);
  int (*win_lock_all)(int, void *);
  int (*win_sync)(void *);
  void *comm_world, *float_type, *double_type, *sum, *max, *min, *info_null;
} rnn_mpi_functions;

/// Filled by rnn_mpi_init.
extern rnn_mpi_functions rnn_mpi;

/// This machine's ranks, as rnn_mpi_node_sum_setup found them (`segment` NULL until it succeeded).
typedef struct {
  void *local;      // this machine's ranks
  void *across;     // the ranks of the same local rank on every machine
  int rank, size;   // local rank and ranks on this machine
  int machines;
  int machine;      // this machine's index among `across` (0 ..< machines)
  long count;
  void *window;
  float **segment;  // each local rank's gradients, in the window
  void *values_window;  // the machine's parameters' (rnn_mpi_node_values_setup), or NULL
} rnn_mpi_node_ranks;

/// Filled by rnn_mpi_node_sum_setup (mpi_node.c); read by mpi_share.c.
extern rnn_mpi_node_ranks rnn_mpi_node;

/// Allocates a window of `bytes` a rank (with `whole`, `bytes` for the whole machine, held by local
/// rank 0) in memory this machine's ranks share (rnn_mpi_node.local) where every rank of the job
/// agrees it can: it is `ready` on each (its own allocations made), and the windows fit in each
/// machine's shared-memory folder. Fills `parts` (one per local rank) with each local rank's part
/// (with `whole`, the machine's, in every entry), 64-byte aligned, as this process sees it.
/// Returns the window, or NULL, on every rank alike where they do not agree.
void *rnn_mpi_node_window(long bytes, int ready, int whole, void **parts);

/// Sums `count` elements of `type` (`width` bytes each) in place across the ranks of `comm`, in
/// pieces that fit MPI's int counts; MPI's status.
int rnn_mpi_allreduce(void *buffer, long count, long width, void *type, void *op, void *comm);

#endif
