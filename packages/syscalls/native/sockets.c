/*
 * Sockets: creating, naming, connecting and accepting them (socket(7), tcp(7), ip(7)). Addresses
 * cross the boundary as IP literals ("127.0.0.1", "::1") and come back as { address, port,
 * family }: no names, no DNS, nothing that could block but the call itself.
 */
#include "syscalls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* ------------------------------------------------------------------------------------------ */
/* Addresses */

/* host literal + port → sockaddr. false (errno = EINVAL) if `host` is neither IPv4 nor IPv6. */
static bool make_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof *in4;
    return true;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof *in6;
    return true;
  }
  errno = EINVAL;
  return false;
}

/* (fd, host, port) → sockaddr; throws for wrong types or a port outside 0..65535. */
static bool arg_addr(napi_env env, napi_value *argv, int32_t *fd, char *host, size_t host_cap, int32_t *port) {
  size_t hl;
  if (!arg_int(env, argv[0], "fd must be a number", fd)) return false;
  if (napi_get_value_string_utf8(env, argv[1], host, host_cap, &hl) != napi_ok)
    return throw_type(env, "host must be a string");
  if (!arg_int(env, argv[2], "port must be a number", port)) return false;
  if (*port < 0 || *port > 65535) return throw_range(env, "port must be 0..65535");
  return true;
}

/* sockaddr → { address, port, family } (family is the AF_* number). */
static napi_value addr_object(napi_env env, const struct sockaddr_storage *ss, socklen_t len) {
  char text[INET6_ADDRSTRLEN + 1] = "";
  int port = 0;
  napi_value obj, v;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
    port = ntohs(in4->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  napi_create_object(env, &obj);
  if (ss->ss_family == AF_UNIX) {
    /* Unnamed (socketpair) → "", abstract → "@name", else the path. */
    const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
    size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    char path[sizeof un->sun_path + 1];
    if (n > sizeof un->sun_path) n = sizeof un->sun_path;
    memcpy(path, un->sun_path, n);
    path[n] = '\0';
    if (n > 0 && path[0] == '\0') path[0] = '@';
    else n = strnlen(path, n);
    napi_create_string_utf8(env, path, n, &v);
  } else {
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  }
  napi_set_named_property(env, obj, "address", v);
  napi_create_int32(env, port, &v);
  napi_set_named_property(env, obj, "port", v);
  napi_create_int32(env, ss->ss_family, &v);
  napi_set_named_property(env, obj, "family", v);
  return obj;
}

/* ------------------------------------------------------------------------------------------ */
/* The calls, in the order a server makes them. */

// #region socket
static napi_value Socket(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t domain, type, protocol;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "domain must be a number", &domain) ||
      !arg_int(env, argv[1], "type must be a number", &type) ||
      !arg_int(env, argv[2], "protocol must be a number", &protocol))
    return NULL;
  return result(env, socket(domain, type, protocol));
}
// #endregion socket

// #region setsockopt
static napi_value Setsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, level, name, value;
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) ||
      !arg_int(env, argv[1], "level must be a number", &level) ||
      !arg_int(env, argv[2], "name must be a number", &name) ||
      !arg_int(env, argv[3], "value must be a number (int options only)", &value))
    return NULL;
  int v = value;
  return result(env, setsockopt(fd, level, name, &v, sizeof v));
}
// #endregion setsockopt

// #region getsockopt
static napi_value Getsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, level, name;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) ||
      !arg_int(env, argv[1], "level must be a number", &level) ||
      !arg_int(env, argv[2], "name must be a number", &name))
    return NULL;
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, name, &v, &len) < 0) return num(env, -errno);
  return num(env, v);
}
// #endregion getsockopt

// #region bind-connect
/* bind and connect take the same (fd, host, port); they differ only in the call. */
static napi_value bind_or_connect(napi_env env, napi_callback_info info, bool connecting) {
  napi_value argv[3];
  int32_t fd, port;
  char host[INET6_ADDRSTRLEN + 1];
  struct sockaddr_storage ss;
  socklen_t len;
  if (!get_args(env, info, 3, argv, NULL) || !arg_addr(env, argv, &fd, host, sizeof host, &port)) return NULL;
  if (!make_addr(host, port, &ss, &len)) return num(env, -EINVAL);
  struct sockaddr *sa = (struct sockaddr *)&ss;
  return result(env, connecting ? connect(fd, sa, len) : bind(fd, sa, len));
}

static napi_value Bind(napi_env env, napi_callback_info info) { return bind_or_connect(env, info, false); }
static napi_value Connect(napi_env env, napi_callback_info info) { return bind_or_connect(env, info, true); }
// #endregion bind-connect

// #region listen
static napi_value Listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, backlog;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) ||
      !arg_int(env, argv[1], "backlog must be a number", &backlog))
    return NULL;
  return result(env, listen(fd, backlog));
}
// #endregion listen

// #region accept4
static napi_value Accept4(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, flags = 0;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd)) return NULL;
  if (!is_undefined(env, argv[1]) && !arg_int(env, argv[1], "flags must be a number", &flags)) return NULL;
  return result(env, accept4(fd, NULL, NULL, flags));
}
// #endregion accept4

// #region shutdown
static napi_value Shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, how;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_int(env, argv[1], "how must be a number", &how))
    return NULL;
  return result(env, shutdown(fd, how));
}
// #endregion shutdown

// #region sockname
static napi_value sockname(napi_env env, napi_callback_info info, bool peer) {
  napi_value argv[1];
  int32_t fd;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "fd must be a number", &fd)) return NULL;
  memset(&ss, 0, sizeof ss);
  int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (r < 0) return num(env, -errno);
  return addr_object(env, &ss, len);
}

static napi_value Getsockname(napi_env env, napi_callback_info info) { return sockname(env, info, false); }
static napi_value Getpeername(napi_env env, napi_callback_info info) { return sockname(env, info, true); }
// #endregion sockname

// #region socketpair
static napi_value Socketpair(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t domain, type, protocol, *out;
  size_t n;
  int sv[2];
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "domain must be a number", &domain) ||
      !arg_int(env, argv[1], "type must be a number", &type) ||
      !arg_int(env, argv[2], "protocol must be a number", &protocol) ||
      !arg_i32s(env, argv[3], "out must be an Int32Array(2)", 2, &out, &n))
    return NULL;
  return fd_pair(env, socketpair(domain, type, protocol, sv), sv, out);
}
// #endregion socketpair

void register_sockets(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("socket", Socket),
      FN("setsockopt", Setsockopt),
      FN("getsockopt", Getsockopt),
      FN("bind", Bind),
      FN("connect", Connect),
      FN("listen", Listen),
      FN("accept4", Accept4),
      FN("shutdown", Shutdown),
      FN("getsockname", Getsockname),
      FN("getpeername", Getpeername),
      FN("socketpair", Socketpair),
  };
  DEFINE_FNS(env, exports, fns);
}
