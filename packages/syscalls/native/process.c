/*
 * Processes: fork and its bookkeeping (waitpid, _exit, kill, ids, the parent-death signal) and
 * the fd limit. Signals, which a forked child must reset, live in signals.c.
 */
#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// #region fork
/*
 * Node marks V8's heap (and other mappings) MADV_DONTFORK so that spawning children is cheap; a
 * child forked from such a process has no heap and segfaults on its first JS instruction. Undo
 * that for every mapping listed in /proc/self/maps. Failures are ignored: some mappings
 * ([vsyscall], guard pages) refuse madvise, and a mapping may vanish between read and madvise.
 */
static void madvise_dofork_all(void) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t cap = 64 * 1024, len = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) break;
    if (len == cap) {
      char *bigger = realloc(buf, cap * 2 + 1);
      if (!bigger) break;
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (!buf) return;
  buf[len] = '\0';
  /* Each line: "start-end perms offset dev inode path", addresses in hex. */
  for (char *line = buf; line < buf + len;) {
    char *end;
    unsigned long start = strtoul(line, &end, 16);
    if (*end == '-') {
      unsigned long stop = strtoul(end + 1, NULL, 16);
      if (stop > start) madvise((void *)start, stop - start, MADV_DOFORK);
    }
    char *nl = strchr(line, '\n');
    if (!nl) break;
    line = nl + 1;
  }
  free(buf);
}

static napi_value Fork(napi_env env, napi_callback_info info) {
  (void)info;
  madvise_dofork_all(); /* in the same native call: nothing may map new DONTFORK pages in between */
  pid_t pid = fork();
  if (pid == 0) signals_after_fork();
  return result(env, pid);
}
// #endregion fork

// #region waitpid
static napi_value Waitpid(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t pid, options, *status = NULL;
  size_t len;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "pid must be a number", &pid) || !arg_int(env, argv[1], "options must be a number", &options))
    return NULL;
  if (!is_undefined(env, argv[2]) && !arg_i32s(env, argv[2], "status must be an Int32Array(1)", 1, &status, &len))
    return NULL;
  int st = 0;
  pid_t r = waitpid(pid, &st, options);
  if (r > 0 && status) status[0] = st;
  return result(env, r);
}
// #endregion waitpid

// #region exit
static napi_value Exit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t code;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "code must be a number", &code)) return NULL;
  _exit(code);
}
// #endregion exit

// #region kill
static napi_value Kill(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t pid, sig;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "pid must be a number", &pid) || !arg_int(env, argv[1], "sig must be a number", &sig))
    return NULL;
  return result(env, kill(pid, sig));
}
// #endregion kill

// #region ids
static napi_value Getpid(napi_env env, napi_callback_info info) { (void)info; return num(env, getpid()); }
static napi_value Getppid(napi_env env, napi_callback_info info) { (void)info; return num(env, getppid()); }
static napi_value Gettid(napi_env env, napi_callback_info info) { (void)info; return num(env, gettid()); }
// #endregion ids

// #region parent-death-signal
static napi_value SetParentDeathSignal(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t sig;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "sig must be a number", &sig)) return NULL;
  return result(env, prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0UL, 0UL, 0UL));
}
// #endregion parent-death-signal

// #region rlimit
/* RLIM_INFINITY (2^64 - 1) has no exact JS number; report it as Infinity. */
static napi_value rlim_value(napi_env env, rlim_t v) {
  napi_value r;
  if (v == RLIM_INFINITY) napi_create_double(env, (double)INFINITY, &r);
  else napi_create_double(env, (double)v, &r);
  return r;
}

static napi_value GetrlimitNofile(napi_env env, napi_callback_info info) {
  struct rlimit rl;
  (void)info;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return num(env, -errno);
  return rlim_value(env, rl.rlim_cur);
}
// #endregion rlimit

void register_process(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("fork", Fork),
      FN("waitpid", Waitpid),
      FN("_exit", Exit),
      FN("kill", Kill),
      FN("getpid", Getpid),
      FN("getppid", Getppid),
      FN("gettid", Gettid),
      FN("setParentDeathSignal", SetParentDeathSignal),
      FN("getrlimitNofile", GetrlimitNofile),
  };
  DEFINE_FNS(env, exports, fns);
}
