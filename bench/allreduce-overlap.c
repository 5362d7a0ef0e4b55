// Whether overlapping the gradients' allreduce with computation pays, as PyTorch DDP's buckets do:
// each rank starts a non-blocking MPI_Iallreduce of the gradients, then computes (a fixed amount of
// arithmetic, about 50 ms, calling MPI_Test every 0.5 ms so that Open MPI can move the reduction
// forward), then waits; against computing first and then a blocking MPI_Allreduce. Also the wait
// left after computing without any MPI call: what the reduction does in the background alone.
// Prints the medians of the repeats (rank 0's times).
//
//   mpicc -O2 bench/allreduce-overlap.c -o /tmp/allreduce-overlap
//   mpirun -np 2 /tmp/allreduce-overlap [floats, default 4270000: the 2 x 512 LSTM's gradients]
//
// A benchmark, not a test: CI does not build it.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { REPEATS = 21, TEST_EVERY_US = 500 };

static volatile double sink;

/// `blocks` blocks of dependent arithmetic; with `request`, MPI_Test on it every TEST_EVERY_US.
static void compute(long blocks, MPI_Request *request) {
  double x = 1.0, next = MPI_Wtime() + TEST_EVERY_US * 1e-6;
  for (long b = 0; b < blocks; b++) {
    for (int i = 0; i < 1000; i++) x = x * 1.0000001 + 1e-9;
    if (request && MPI_Wtime() > next) {
      int done;
      MPI_Test(request, &done, MPI_STATUS_IGNORE);
      next += TEST_EVERY_US * 1e-6;
    }
  }
  sink = x;
}

static int ascending(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *values) {
  qsort(values, REPEATS, sizeof *values, ascending);
  return values[REPEATS / 2] * 1e3;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  long count = argc > 1 ? atol(argv[1]) : 4270000;
  float *gradients = malloc(count * sizeof *gradients);
  for (long i = 0; i < count; i++) gradients[i] = 1e-6f * (float)(i % 1000);

  // About 50 ms of arithmetic, the same amount on every rank.
  double start = MPI_Wtime();
  compute(1000, NULL);
  long blocks = (long)(0.050 / ((MPI_Wtime() - start) / 1000));
  MPI_Allreduce(MPI_IN_PLACE, &blocks, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);

  double alone[REPEATS], sequential[REPEATS], overlapped[REPEATS], background[REPEATS];
  for (int k = 0; k < REPEATS; k++) {
    MPI_Request request;
    MPI_Barrier(MPI_COMM_WORLD);
    start = MPI_Wtime();
    compute(blocks, NULL);
    alone[k] = MPI_Wtime() - start;
    MPI_Allreduce(MPI_IN_PLACE, gradients, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    sequential[k] = MPI_Wtime() - start;

    MPI_Barrier(MPI_COMM_WORLD);
    start = MPI_Wtime();
    MPI_Iallreduce(MPI_IN_PLACE, gradients, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    compute(blocks, &request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    overlapped[k] = MPI_Wtime() - start;

    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Iallreduce(MPI_IN_PLACE, gradients, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
    compute(blocks, NULL);
    start = MPI_Wtime();
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    background[k] = MPI_Wtime() - start;
  }
  if (rank == 0) {
    double computing = median(alone), then = median(sequential), together = median(overlapped);
    printf("%ld floats, medians of %d: compute %.2f ms; compute, then MPI_Allreduce %.2f ms (+%.2f); "
           "MPI_Iallreduce overlapped with the compute %.2f ms (+%.2f); without MPI calls while "
           "computing, %.2f ms left to wait after it\n",
           count, REPEATS, computing, then, then - computing, together, together - computing,
           median(background));
  }
  free(gradients);
  MPI_Finalize();
  return 0;
}
