/*
 * The congestion control of a data connection (TCP_CONGESTION). Node has no setsockopt, and
 * the algorithm decides what one stream carries on a lossy long path (cubic backs off on every
 * loss, bbr paces to the measured bandwidth), so the agent chooses it per socket instead of
 * inheriting the host's default.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "args.h"
#include "sockopt.h"

/* Linux's TCP_CA_NAME_MAX (16) including the NUL. */
#define CA_NAME_BUF 16

napi_value sock_get_congestion(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_fd(env, argv[0], "getsockopt", &fd)) return NULL;
  char name[CA_NAME_BUF + 1];
  memset(name, 0, sizeof name);
  socklen_t len = CA_NAME_BUF;
  if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len) != 0) return throw_errno(env, errno, "getsockopt");
  napi_value out;
  if (napi_create_string_utf8(env, name, strnlen(name, CA_NAME_BUF), &out) != napi_ok) return NULL;
  return out;
}

napi_value sock_set_congestion(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  if (!get_args(env, info, 2, argv) || !arg_fd(env, argv[0], "setsockopt", &fd)) return NULL;
  char *name = arg_string(env, argv[1], "setsockopt");
  if (name == NULL) return NULL;
  size_t len = strlen(name);
  if (len == 0 || len >= CA_NAME_BUF) {
    free(name);
    return throw_errno(env, EINVAL, "setsockopt");
  }
  int rc = setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, (socklen_t)len);
  int err = errno;
  free(name);
  if (rc != 0) return throw_errno(env, err, "setsockopt");
  return make_undefined(env);
}
