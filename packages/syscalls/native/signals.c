// #region design
/*
 * Signals: how SIGTERM reaches a JS thread that sits inside accept, read, poll or epoll_wait.
 *
 * The problem. Node's process.on('SIGTERM') runs its callback from the event loop, and a thread
 * blocked in a syscall never turns its loop. So the signal must interrupt the syscall itself,
 * and the interrupted loop must learn which signal it was. The design, piece by piece:
 *
 *   1. A C handler installed *without SA_RESTART* (install): the blocked call returns EINTR
 *      instead of being restarted by the kernel. The handler only records the signal.
 *
 *   2. One pending bit per signal number (pending_signals), set with an atomic OR: a SIGCHLD
 *      arriving together with a SIGTERM cannot overwrite it. takeSignal() returns the lowest.
 *
 *   3. The right thread. The kernel delivers a process-directed signal to any thread that does
 *      not block it — a V8 or libuv helper, perhaps — and only that thread's call is
 *      interrupted. So the handler forwards the signal (tgkill, the syscall behind
 *      pthread_kill) to the target: the last thread that called catchSignals. A tid, unlike a
 *      pthread_t, stays meaningful after fork; the pid check stops a child forwarding to its
 *      parent's thread.
 *
 *   4. The race every "flag + EINTR" design has. The signal may land while the target is still
 *      running JS, after it last looked and before it enters the blocking call: the handler
 *      runs, nothing is interrupted, and the thread then blocks forever. So the handler also
 *      arms a one-shot "nudge" timer aimed at the target (SIGEV_THREAD_ID): every NUDGE_NS, for
 *      as long as a signal sits untaken, the target gets NUDGE_SIGNAL, whose empty handler only
 *      makes its blocking call return EINTR. takeSignal() disarms it. (Go's runtime uses SIGURG
 *      the same way, for the same reason: nothing else uses it, and by default it is ignored.)
 *
 *   5. Only the target takes. takeSignal() on the target clears the bit; on any other thread it
 *      only reports it, so a worker whose read returned EINTR cannot swallow the shutdown the
 *      main loop waits for.
 *
 *   6. fork. A child starts with no pending signal, is its own target, and — POSIX timers not
 *      being inherited — gets a nudge timer of its own (signals_after_fork, called by fork).
 *
 * Everything a handler touches is async-signal-safe: plain and atomic stores, getpid, gettid,
 * tgkill and timer_settime, with errno saved and restored.
 */
// #endregion design
#include "syscalls.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * The process-wide signal slot, written by the handlers (on any thread) and by catchSignals.
 * pending_signals holds one bit per signal number (1..63), set with an atomic OR (lock-free on
 * every platform Node runs on here, hence async-signal-safe). target_pid/target_tid name the
 * thread to interrupt: the last caller of catchSignals.
 */
static volatile uint64_t pending_signals = 0;
static volatile sig_atomic_t target_pid = 0;
static volatile sig_atomic_t target_tid = 0;
static volatile sig_atomic_t nudge_armed = 0; /* nudge_timer exists (and targets target_tid) */
static timer_t nudge_timer;

// #region nudge
#define NUDGE_SIGNAL SIGURG
#define NUDGE_NS (5 * 1000 * 1000) /* 5 ms: a shutdown is never later than this */

static void arm_nudge(void) {
  struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = NUDGE_NS}};
  if (nudge_armed) timer_settime(nudge_timer, 0, &its, NULL);
}

/* The nudge: its delivery is the point (the blocking call returns EINTR). Again while untaken. */
static void on_nudge(int sig) {
  int saved = errno;
  (void)sig;
  if (__atomic_load_n(&pending_signals, __ATOMIC_SEQ_CST) != 0 && getpid() == target_pid) arm_nudge();
  errno = saved;
}

/* A timer that sends NUDGE_SIGNAL to target_tid when armed. */
static int create_nudge_timer(void) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = NUDGE_SIGNAL;
  sev._sigev_un._tid = target_tid; /* glibc 2.36 has no sigev_notify_thread_id macro yet */
  if (timer_create(CLOCK_MONOTONIC, &sev, &nudge_timer) < 0) return -errno;
  nudge_armed = 1;
  return 0;
}
// #endregion nudge

// #region on-signal
/* The signal handler proper: record, forward to the target if need be, and start the nudges. */
static void on_signal(int sig) {
  int saved = errno;
  if (sig > 0 && sig < 64) __atomic_fetch_or(&pending_signals, (uint64_t)1 << sig, __ATOMIC_SEQ_CST);
  pid_t pid = getpid();
  if (pid == target_pid) {
    if (gettid() != target_tid) syscall(SYS_tgkill, pid, target_tid, sig);
    arm_nudge();
  }
  errno = saved;
}
// #endregion on-signal

// #region install
/* sigaction without SA_RESTART, and make sure this thread does not block the signal. */
static int install(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: blocking calls must return EINTR */
  if (sigaction(sig, &sa, NULL) < 0) return -errno;
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, NULL); /* the mask may be inherited with it blocked */
  return 0;
}
// #endregion install

// #region catch-signals
static napi_value CatchSignals(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool is_array = false;
  uint32_t count;
  int sigs[64];
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    throw_type(env, "signals must be an array of signal numbers");
    return NULL;
  }
  napi_get_array_length(env, argv[0], &count);
  if (count > 64) {
    throw_range(env, "too many signals");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    int32_t s;
    napi_get_element(env, argv[0], i, &el);
    if (!arg_int(env, el, "signals must be an array of signal numbers", &s)) return NULL;
    if (s == NUDGE_SIGNAL) {
      throw_range(env, "SIGURG is reserved: catchSignals uses it to interrupt the waiting thread");
      return NULL;
    }
    sigs[i] = s;
  }
  /* Aim the nudge timer at this thread (the last caller of catchSignals is the target). */
  if (nudge_armed) {
    nudge_armed = 0;
    timer_delete(nudge_timer);
  }
  target_pid = getpid();
  target_tid = gettid();
  int r = install(NUDGE_SIGNAL, on_nudge);
  if (r < 0) return num(env, r);
  if ((r = create_nudge_timer()) < 0) return num(env, r);
  for (uint32_t i = 0; i < count; i++) {
    if ((r = install(sigs[i], on_signal)) < 0) return num(env, r);
  }
  return num(env, 0);
}
// #endregion catch-signals

// #region signals-after-fork
/*
 * In a forked child: the parent's pending signals are not the child's, and the child (a single
 * thread) is its own target. POSIX timers are not inherited: if the parent caught signals, the
 * child gets a nudge timer of its own, so a SIGTERM that lands between two of its blocking calls
 * is not lost either.
 */
void signals_after_fork(void) {
  pending_signals = 0;
  bool caught = nudge_armed;
  nudge_armed = 0;
  target_pid = getpid();
  target_tid = gettid();
  if (caught) create_nudge_timer();
}
// #endregion signals-after-fork

// #region take-signal
/*
 * The lowest pending signal, or 0. Only the thread that called catchSignals takes (clears) it;
 * any other thread just sees it. A worker thread whose read returned EINTR may look, but must not
 * swallow the SIGTERM that the main loop is waiting for.
 */
static napi_value TakeSignal(napi_env env, napi_callback_info info) {
  (void)info;
  uint64_t mask = __atomic_load_n(&pending_signals, __ATOMIC_SEQ_CST);
  if (mask == 0) return num(env, 0);
  int sig = __builtin_ctzll(mask);
  if (getpid() != target_pid || gettid() != target_tid) return num(env, sig);
  uint64_t left = __atomic_and_fetch(&pending_signals, ~((uint64_t)1 << sig), __ATOMIC_SEQ_CST);
  if (left == 0 && nudge_armed) {
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    timer_settime(nudge_timer, 0, &off, NULL); /* taken: no more nudges */
  }
  return num(env, sig);
}
// #endregion take-signal

void register_signals(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("catchSignals", CatchSignals),
      FN("takeSignal", TakeSignal),
  };
  DEFINE_FNS(env, exports, fns);
}
