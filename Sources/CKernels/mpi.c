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
#include "mpi_internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>

rnn_mpi_functions rnn_mpi;

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
  rnn_mpi_functions *f = &rnn_mpi;
  *(void **)&f->init_thread = dlsym(lib, "MPI_Init_thread");
  *(void **)&f->comm_rank = dlsym(lib, "MPI_Comm_rank");
  *(void **)&f->comm_size = dlsym(lib, "MPI_Comm_size");
  *(void **)&f->allreduce = dlsym(lib, "MPI_Allreduce");
  *(void **)&f->abort = dlsym(lib, "MPI_Abort");
  *(void **)&f->finalize = dlsym(lib, "MPI_Finalize");
  *(void **)&f->comm_split_type = dlsym(lib, "MPI_Comm_split_type");
  *(void **)&f->comm_split = dlsym(lib, "MPI_Comm_split");
  *(void **)&f->barrier = dlsym(lib, "MPI_Barrier");
  *(void **)&f->win_allocate_shared = dlsym(lib, "MPI_Win_allocate_shared");
  *(void **)&f->win_shared_query = dlsym(lib, "MPI_Win_shared_query");
  *(void **)&f->win_lock_all = dlsym(lib, "MPI_Win_lock_all");
  *(void **)&f->win_sync = dlsym(lib, "MPI_Win_sync");
  f->comm_world = dlsym(lib, "ompi_mpi_comm_world");
  f->float_type = dlsym(lib, "ompi_mpi_float");
  f->double_type = dlsym(lib, "ompi_mpi_double");
  f->sum = dlsym(lib, "ompi_mpi_op_sum");
  f->max = dlsym(lib, "ompi_mpi_op_max");
  f->min = dlsym(lib, "ompi_mpi_op_min");
  f->info_null = dlsym(lib, "ompi_mpi_info_null");
  if (!f->init_thread || !f->comm_rank || !f->comm_size || !f->allreduce || !f->abort || !f->finalize) {
    return fail(error, capacity, "the libmpi found lacks MPI functions", NULL);
  }
  if (!f->comm_world || !f->float_type || !f->double_type || !f->sum) {
    return fail(error, capacity, "the libmpi found is not Open MPI (only Open MPI is supported)", NULL);
  }
  int provided = 0;
  if (f->init_thread(NULL, NULL, OMPI_THREAD_FUNNELED, &provided) != 0) {
    return fail(error, capacity, "MPI_Init_thread failed", NULL);
  }
  if (f->comm_rank(f->comm_world, rank) != 0 || f->comm_size(f->comm_world, size) != 0) {
    return fail(error, capacity, "MPI_Comm_rank or MPI_Comm_size failed", NULL);
  }
  return 0;
}

int rnn_mpi_allreduce(void *buffer, long count, long width, void *type, void *op, void *comm) {
  char *bytes = buffer;
  for (long done = 0; done < count;) {
    long piece = count - done < INT_MAX ? count - done : INT_MAX;
    int status = rnn_mpi.allreduce(OMPI_IN_PLACE, bytes + done * width, (int)piece, type, op, comm);
    if (status != 0) return status;
    done += piece;
  }
  return 0;
}

int rnn_mpi_sum_floats(float *buffer, long count) {
  return rnn_mpi_allreduce(buffer, count, sizeof(float), rnn_mpi.float_type, rnn_mpi.sum, rnn_mpi.comm_world);
}

int rnn_mpi_sum_doubles(double *buffer, long count) {
  return rnn_mpi_allreduce(buffer, count, sizeof(double), rnn_mpi.double_type, rnn_mpi.sum, rnn_mpi.comm_world);
}

void rnn_mpi_abort(int code) { rnn_mpi.abort(rnn_mpi.comm_world, code); }

void rnn_mpi_finalize(void) { rnn_mpi.finalize(); }
