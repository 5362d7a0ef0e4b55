// Open MPI, loaded at run time: the few calls a data-parallel run needs.
//
// Nothing is linked at build time (as with the BLAS in blas.c): the package builds, tests and runs
// as one process where no MPI is installed. Under `mpirun`, `rnn_mpi_init` dlopens libmpi with
// RTLD_GLOBAL (Open MPI's own plugins, which it dlopens in turn, resolve their symbols against
// it) and looks up the functions below. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT,
// MPI_DOUBLE, MPI_SUM) are the addresses of global objects (`ompi_mpi_comm_world`, ...), so dlsym
// finds them too; MPI_IN_PLACE is the constant `(void *)1`. MPICH and others spell their handles
// differently and are refused with a message.
#define _GNU_SOURCE
#include "CKernels.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>

typedef int (*init_thread_fn)(int *, char ***, int, int *);
typedef int (*comm_int_fn)(void *, int *);
typedef int (*allreduce_fn)(const void *, void *, int, void *, void *, void *);
typedef int (*abort_fn)(void *, int);
typedef int (*finalize_fn)(void);

#define OMPI_IN_PLACE ((void *)1)
#define OMPI_THREAD_FUNNELED 1

static struct {
  init_thread_fn init_thread;
  comm_int_fn comm_rank, comm_size;
  allreduce_fn allreduce;
  abort_fn abort;
  finalize_fn finalize;
  void *comm_world, *float_type, *double_type, *sum;
} mpi;

static int fail(char *error, long capacity, const char *message, const char *detail) {
  snprintf(error, (size_t)capacity, "%s%s", message, detail ? detail : "");
  return -1;
}

int rnn_mpi_init(const char *library, int *rank, int *size, char *error, long capacity) {
  const char *names[] = {library ? library : "libmpi.so.40", library ? NULL : "libmpi.so"};
  void *lib = NULL;
  for (size_t i = 0; i < sizeof names / sizeof *names && names[i] && !lib; i++) {
    lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
  }
  if (!lib) return fail(error, capacity, "cannot load Open MPI's libmpi: ", dlerror());
  mpi.init_thread = (init_thread_fn)dlsym(lib, "MPI_Init_thread");
  mpi.comm_rank = (comm_int_fn)dlsym(lib, "MPI_Comm_rank");
  mpi.comm_size = (comm_int_fn)dlsym(lib, "MPI_Comm_size");
  mpi.allreduce = (allreduce_fn)dlsym(lib, "MPI_Allreduce");
  mpi.abort = (abort_fn)dlsym(lib, "MPI_Abort");
  mpi.finalize = (finalize_fn)dlsym(lib, "MPI_Finalize");
  mpi.comm_world = dlsym(lib, "ompi_mpi_comm_world");
  mpi.float_type = dlsym(lib, "ompi_mpi_float");
  mpi.double_type = dlsym(lib, "ompi_mpi_double");
  mpi.sum = dlsym(lib, "ompi_mpi_op_sum");
  if (!mpi.init_thread || !mpi.comm_rank || !mpi.comm_size || !mpi.allreduce || !mpi.abort ||
      !mpi.finalize) {
    return fail(error, capacity, "the libmpi found lacks MPI functions", NULL);
  }
  if (!mpi.comm_world || !mpi.float_type || !mpi.double_type || !mpi.sum) {
    return fail(error, capacity, "the libmpi found is not Open MPI (only Open MPI is supported)", NULL);
  }
  int provided = 0;
  if (mpi.init_thread(NULL, NULL, OMPI_THREAD_FUNNELED, &provided) != 0) {
    return fail(error, capacity, "MPI_Init_thread failed", NULL);
  }
  if (mpi.comm_rank(mpi.comm_world, rank) != 0 || mpi.comm_size(mpi.comm_world, size) != 0) {
    return fail(error, capacity, "MPI_Comm_rank or MPI_Comm_size failed", NULL);
  }
  return 0;
}

/// Sums `count` elements of `type` (size `width` bytes) in place across ranks, in pieces that fit
/// MPI's int counts.
static int allreduce(void *buffer, long count, long width, void *type) {
  char *bytes = buffer;
  for (long done = 0; done < count;) {
    long piece = count - done < INT_MAX ? count - done : INT_MAX;
    int status = mpi.allreduce(OMPI_IN_PLACE, bytes + done * width, (int)piece, type, mpi.sum, mpi.comm_world);
    if (status != 0) return status;
    done += piece;
  }
  return 0;
}

int rnn_mpi_sum_floats(float *buffer, long count) {
  return allreduce(buffer, count, sizeof(float), mpi.float_type);
}

int rnn_mpi_sum_doubles(double *buffer, long count) {
  return allreduce(buffer, count, sizeof(double), mpi.double_type);
}

void rnn_mpi_abort(int code) { mpi.abort(mpi.comm_world, code); }

void rnn_mpi_finalize(void) { mpi.finalize(); }
