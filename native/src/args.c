#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

napi_value errno_error(napi_env env, int err, const char *syscall) {
  napi_value msg, error, errno_value, syscall_value;
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, NULL, msg, &error) != napi_ok ||
      napi_create_int32(env, -err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok)
    return NULL;
  return error;
}

napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value error = errno_error(env, err, syscall);
  if (error == NULL) {
    napi_throw_error(env, NULL, "ferry_native: could not build an errno error");
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != n) {
    napi_throw_type_error(env, NULL, "ferry_native: wrong number of arguments");
    return false;
  }
  return true;
}

bool arg_fd(napi_env env, napi_value v, const char *syscall, int *out) {
  double d;
  /* Never let a negative number through: AT_FDCWD (-100) would mean "the cwd". */
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= INT32_MAX) || d != floor(d)) {
    throw_errno(env, EBADF, syscall);
    return false;
  }
  *out = (int)d;
  return true;
}

bool arg_uint(napi_env env, napi_value v, const char *syscall, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= UINT32_MAX) || d != floor(d)) {
    throw_errno(env, EINVAL, syscall);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

bool arg_bool(napi_env env, napi_value v, const char *syscall, bool *out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) {
    throw_errno(env, EINVAL, syscall);
    return false;
  }
  return true;
}

bool arg_double(napi_env env, napi_value v, const char *syscall, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok || !isfinite(*out)) {
    throw_errno(env, EINVAL, syscall);
    return false;
  }
  return true;
}

bool arg_name(napi_env env, napi_value v, const char *syscall, char out[FERRY_NAME_BUF]) {
  size_t len = 0;
  /* First ask for the full length: a too-small buffer would silently truncate. */
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len == 0 || len >= FERRY_NAME_BUF ||
      napi_get_value_string_utf8(env, v, out, FERRY_NAME_BUF, &len) != napi_ok ||
      memchr(out, '\0', len) != NULL || memchr(out, '/', len) != NULL || strcmp(out, ".") == 0 ||
      strcmp(out, "..") == 0) {
    throw_errno(env, EINVAL, syscall);
    return false;
  }
  return true;
}

char *arg_string(napi_env env, napi_value v, const char *syscall) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    throw_errno(env, EINVAL, syscall);
    return NULL;
  }
  char *buf = malloc(len + 1);
  if (buf == NULL) {
    throw_errno(env, ENOMEM, syscall);
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, buf, len + 1, &len) != napi_ok || memchr(buf, '\0', len) != NULL) {
    free(buf);
    throw_errno(env, EINVAL, syscall);
    return NULL;
  }
  return buf;
}

napi_value make_undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value make_int(napi_env env, int32_t value) {
  napi_value v;
  napi_create_int32(env, value, &v);
  return v;
}

bool arg_bytes(napi_env env, napi_value v, const char *syscall, uint8_t **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  size_t length = 0;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    throw_errno(env, EINVAL, syscall);
    return false;
  }
  *data = ptr;
  *len = length;
  return true;
}

bool queue_promise_work(napi_env env, const char *syscall, napi_async_execute_callback execute,
                        napi_async_complete_callback complete, void *job, napi_async_work *work,
                        napi_deferred *deferred, napi_value *promise) {
  char label[64];
  napi_value name;
  snprintf(label, sizeof label, "ferry:%s", syscall);
  *work = NULL;
  if (napi_create_string_utf8(env, label, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, job, work) != napi_ok) {
    *work = NULL;
    throw_errno(env, ENOMEM, syscall);
    return false;
  }
  /* The promise last: before it nothing needs settling. */
  if (napi_create_promise(env, deferred, promise) != napi_ok) {
    napi_delete_async_work(env, *work);
    *work = NULL;
    throw_errno(env, ENOMEM, syscall);
    return false;
  }
  if (napi_queue_async_work(env, *work) != napi_ok) {
    napi_delete_async_work(env, *work);
    *work = NULL;
    napi_value error = errno_error(env, EAGAIN, syscall);
    if (error == NULL) napi_get_undefined(env, &error);
    napi_reject_deferred(env, *deferred, error);
    throw_errno(env, EAGAIN, syscall);
    return false;
  }
  return true;
}
