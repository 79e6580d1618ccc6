/*
 * fallocate(2) for Node: reserves a file's blocks before its data is written (a restore does, as restic
 * does). Node has no binding of its own.
 * Each call returns 0 or the errno, so the caller decides what a failure means (server/engine/restore/
 * preallocate.ts). Context-aware (NAPI_MODULE_INIT): the codec worker threads load it too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>

static int args(napi_env env, napi_callback_info info, int32_t *fd, int64_t *offset, int64_t *length) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return EINVAL;
  if (napi_get_value_int32(env, argv[0], fd) != napi_ok) return EINVAL;
  if (napi_get_value_int64(env, argv[1], offset) != napi_ok) return EINVAL;
  if (napi_get_value_int64(env, argv[2], length) != napi_ok) return EINVAL;
  return *fd < 0 || *offset < 0 || *length <= 0 ? EINVAL : 0;
}

static napi_value call(napi_env env, napi_callback_info info, int mode) {
  int32_t fd;
  int64_t offset, length;
  int err = args(env, info, &fd, &offset, &length);
  if (!err) {
    int r;
    do r = fallocate(fd, mode, (off_t)offset, (off_t)length);
    while (r != 0 && errno == EINTR);
    err = r == 0 ? 0 : errno;
  }
  napi_value out;
  napi_create_int32(env, err, &out);
  return out;
}

/* allocate(fd, offset, length): the range's blocks, the file extended to cover it. */
static napi_value Allocate(napi_env env, napi_callback_info info) {
  return call(env, info, 0);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "allocate", NAPI_AUTO_LENGTH, Allocate, NULL, &fn);
  napi_set_named_property(env, exports, "allocate", fn);
  return exports;
}
