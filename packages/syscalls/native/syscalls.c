/*
 * @course/syscalls — Linux syscalls exposed one to one to JavaScript through Node-API.
 *
 * This file is the module: it lets each concern define its functions on `exports`, in turn.
 * The conventions every call follows, and the shared helpers, are in syscalls.h.
 */
#include "syscalls.h"

NAPI_MODULE_INIT() {
  register_sockets(env, exports);
  register_io(env, exports);
  register_readiness(env, exports);
  register_process(env, exports);
  register_signals(env, exports);
  register_constants(env, exports);
  return exports;
}
