// Placeholder: replaced by the real syscall layer.
#include <node_api.h>
#include <unistd.h>
static napi_value Getpid(napi_env env, napi_callback_info info) {
  napi_value r; napi_create_int32(env, (int32_t)getpid(), &r); return r;
}
NAPI_MODULE_INIT() {
  napi_value f; napi_create_function(env, "getpid", NAPI_AUTO_LENGTH, Getpid, NULL, &f);
  napi_set_named_property(env, exports, "getpid", f);
  return exports;
}
