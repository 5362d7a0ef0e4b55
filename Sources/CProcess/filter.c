#define _GNU_SOURCE
#include "CProcess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { errors_kept = 64 * 1024 };

/// A growing byte buffer.
struct buffer {
  unsigned char *bytes;
  size_t length, capacity;
};

/// Appends `n` bytes; returns 0, or ENOMEM.
static int append(struct buffer *b, const unsigned char *data, size_t n) {
  if (b->length + n > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 65536;
    while (capacity < b->length + n) capacity *= 2;
    unsigned char *grown = realloc(b->bytes, capacity);
    if (!grown) return ENOMEM;
    b->bytes = grown;
    b->capacity = capacity;
  }
  memcpy(b->bytes + b->length, data, n);
  b->length += n;
  return 0;
}

static void close_all(int *fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/// In the child: ties its life to the parent's, wires the pipes to 0, 1, 2 and runs the program;
/// on failure writes errno to `report` and exits with 127. Only async-signal-safe calls.
static void exec_child(const char *path, char *const argv[], char *const envp[], pid_t parent, const sigset_t *mask,
                       int in, int out, int err, int report) {
  sigprocmask(SIG_SETMASK, mask, NULL);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);  // parent already gone
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) goto fail;
  execve(path, argv, envp ? envp : environ);
fail:;
  int code = errno;
  ssize_t written = write(report, &code, sizeof code);
  (void)written;
  _exit(127);
}

int rnn_run_filter(const char *path, char *const argv[], char *const envp[], const void *input, size_t input_length,
                   size_t output_limit, struct rnn_filter_result *result) {
  memset(result, 0, sizeof *result);
  // Pipes: [0] read end, [1] write end; all close-on-exec (dup2 clears it on 0, 1, 2).
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
    int code = errno;
    int all[] = {in[0], in[1], out[0], out[1], err[0], err[1], report[0], report[1]};
    close_all(all, 8);
    return code;
  }
  // SIGPIPE (the child exits before reading all its input) is blocked here, and consumed below.
  sigset_t pipe_only, old_mask;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);

  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) exec_child(path, argv, envp, parent, &old_mask, in[0], out[1], err[1], report[1]);
  int fork_error = child < 0 ? errno : 0;
  int child_ends[] = {in[0], out[1], err[1], report[1]};
  close_all(child_ends, 4);
  int code = fork_error;
  if (!code) {  // did execve succeed? (the report pipe closes on exec, or carries errno)
    int reported = 0;
    ssize_t n;
    do n = read(report[0], &reported, sizeof reported);
    while (n < 0 && errno == EINTR);
    if (n == sizeof reported) {
      code = reported;
      while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
    }
  }
  close(report[0]);
  if (code) {
    int ends[] = {in[1], out[0], err[0]};
    close_all(ends, 3);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return code;
  }

  fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
  struct buffer output = {0}, errors = {0};
  size_t written = 0;
  int writing = in[1], reading_out = out[0], reading_err = err[0];
  if (input_length == 0) {
    close(writing);
    writing = -1;
  }
  unsigned char chunk[65536];
  while (reading_out >= 0 || reading_err >= 0) {
    struct pollfd fds[3] = {{writing, POLLOUT, 0}, {reading_out, POLLIN, 0}, {reading_err, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (writing >= 0 && fds[0].revents) {
      ssize_t n = write(writing, (const unsigned char *)input + written, input_length - written);
      if (n > 0) written += (size_t)n;
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input_length) {  // done, or EPIPE
        close(writing);
        writing = -1;
      }
    }
    for (int i = 1; i <= 2; i++) {
      int *fd = i == 1 ? &reading_out : &reading_err;
      if (*fd < 0 || !fds[i].revents) continue;
      ssize_t n = read(*fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(*fd);
        *fd = -1;
      } else if (i == 2) {
        size_t keep = errors.length < errors_kept ? errors_kept - errors.length : 0;
        append(&errors, chunk, (size_t)n < keep ? (size_t)n : keep);
      } else if (output.length + (size_t)n > output_limit || append(&output, chunk, (size_t)n)) {
        result->output_overflowed = 1;
        kill(child, SIGKILL);
        close(*fd);
        *fd = -1;
      }
    }
  }
  int ends[] = {writing, reading_out, reading_err};
  close_all(ends, 3);
  while (waitpid(child, &result->status, 0) < 0 && errno == EINTR) {}

  // Consume a SIGPIPE raised by our writes, then restore the mask.
  struct timespec zero = {0, 0};
  while (sigtimedwait(&pipe_only, NULL, &zero) == SIGPIPE) {}
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

  result->output = output.bytes;
  result->output_length = output.length;
  result->errors = errors.bytes;
  result->errors_length = errors.length;
  return 0;
}

void rnn_filter_result_free(struct rnn_filter_result *result) {
  free(result->output);
  free(result->errors);
  result->output = result->errors = NULL;
}
