// CProcess: running a child program as a filter: the one way swift-rnn runs programs (the library's
// `ChildProcess` wraps it; see ARCHITECTURE.md, "Child processes").
//
//   filter.c   start a program that dies with its parent, feed it bytes on its standard input,
//              collect its standard output and standard error through pipes (no temporary files).
#ifndef CPROCESS_H
#define CPROCESS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What a filter run produced. `output` and `errors` are malloc'ed (free with
/// `rnn_filter_result_free`); `status` is the wait status (see `WIFEXITED`).
struct rnn_filter_result {
  int status;
  unsigned char *output;
  size_t output_length;
  unsigned char *errors;
  size_t errors_length;
  /// 1 if the program wrote more than `output_limit` bytes and was killed for it.
  int output_overflowed;
};

/// Runs `path` with the NULL-terminated `argv` (argv[0] its name) and environment `envp`
/// (NULL-terminated `NAME=value` strings; NULL: this process's): writes the `input_length` bytes
/// of `input` to its standard input (then closes it), collects its standard output (at most
/// `output_limit` bytes; beyond that it is killed) and standard error (the first 64 KiB kept), and
/// waits for it. The child gets SIGKILL when the calling thread ends (PR_SET_PDEATHSIG), so a
/// killed parent leaves nothing running; SIGPIPE from a child that stops reading early is absorbed.
/// Returns 0 with `result` filled, or an errno value when the program could not be started (its
/// `execve` error, e.g. ENOENT or EACCES) or a pipe or fork failed.
int rnn_run_filter(const char *path, char *const argv[], char *const envp[], const void *input, size_t input_length,
                   size_t output_limit, struct rnn_filter_result *result);

/// Frees the buffers of `result`.
void rnn_filter_result_free(struct rnn_filter_result *result);

#ifdef __cplusplus
}
#endif

#endif
