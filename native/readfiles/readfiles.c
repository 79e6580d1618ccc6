/*
 * Reads a batch of small files in one trip to libuv's thread pool: open, read, close of each, on a pool
 * thread. Node's fs makes three trips per file (open, read, close), and each wakes a pool thread and then the
 * main thread again: ~90 µs of the main thread per file on a 2-vCPU virtual machine, most of a backup of many
 * small files (server/engine/backup/small-files.ts). Here the main thread pays one call per batch.
 *
 *   read(paths: string[], buffers: Buffer[], done: (results: Int32Array) => void, digests?: Buffer): void
 *
 * Each file is read into its buffer from offset 0 until the buffer is full or the file ends; results[2i] is
 * the number of bytes read (a full buffer: the file may hold more), or -errno when it could not be opened or
 * read; results[2i + 1] is 1 when the file may have extended attributes in the user namespace (the only ones
 * a backup keeps), 0 when its open descriptor lists none (flistxattr): the main thread then need not ask
 * (llistxattr, ~15 µs a file there); for a file that failed, which call did (2 open, 1 read). The caller
 * must not touch the buffers until `done` runs. With `digests` (32 bytes per file) and `digests` true on the
 * addon, the pool thread also writes the SHA-256 of each file that ended within its buffer (0 <= results[2i]
 * < its buffer's length) at digests[32i]: hashed right after the read, while the bytes are in the cache, and
 * off the main thread. The hash is the running Node's own OpenSSL SHA-256, looked up when the addon loads
 * (dlsym): where that Node does not export it, `digests` is false and the argument is ignored.
 *
 *   lstatAt(dir: string, names: string[], out: Float64Array): void
 *
 * lstat of each name in the directory `dir`, synchronously (the walk runs on a thread of its own): fstatat
 * on the directory's descriptor resolves one component per name where lstat(dir + '/' + name) resolves the
 * whole path each time, and fills plain numbers where Node's bigint lstat builds a Stats object of BigInts.
 * out[16 i ...]: 0 or -errno, st_mode, st_nlink, st_uid, st_gid, st_size, st_ino / 2^32, st_ino % 2^32,
 * st_dev / 2^32, st_dev % 2^32, then seconds and nanoseconds of mtime, ctime, atime. A directory that cannot
 * be opened gives its error for every name.
 *
 *   mapFile(path: string): ArrayBuffer
 *
 * The file's contents as an ArrayBuffer over a private, copy-on-write mapping of it (mmap MAP_PRIVATE): its
 * pages are read from the page cache when first touched, and a write to the buffer changes only this
 * process's copy, never the file. For a large file of which little is ever read (the embedded database's
 * bundle of share files: db/embedded-server.ts), only the pages read are resident. Unmapped when the buffer
 * is collected. An empty file gives an empty buffer; a file that cannot be opened, mapped or is not regular
 * throws an Error naming the call and errno. Context-aware (NAPI_MODULE_INIT).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h> /* XATTR_LIST_MAX */
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <node_api.h>

typedef struct {
  napi_async_work work;
  napi_ref done;
  napi_ref buffers;
  napi_ref digest_ref;
  unsigned char *digests;
  size_t count;
  char **paths;
  unsigned char **data;
  size_t *lengths;
  int32_t *results;
} Batch;

static void free_batch(napi_env env, Batch *b) {
  if (!b) return;
  if (b->paths)
    for (size_t i = 0; i < b->count; i++) free(b->paths[i]);
  free(b->paths);
  free(b->data);
  free(b->lengths);
  free(b->results);
  if (b->done) napi_delete_reference(env, b->done);
  if (b->buffers) napi_delete_reference(env, b->buffers);
  if (b->digest_ref) napi_delete_reference(env, b->digest_ref);
  free(b);
}

/* Whether the open file may have user.* attributes: 1 unless its list (at most XATTR_LIST_MAX) names none. */
static int32_t user_xattrs(int fd, char *names, size_t size) {
  ssize_t n;
  do n = flistxattr(fd, names, size);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno == ENOTSUP ? 0 : 1; /* no support: none, as the path's own listing would say */
  for (ssize_t i = 0; i < n; i += (ssize_t)strnlen(names + i, (size_t)(n - i)) + 1)
    if (strncmp(names + i, "user.", 5) == 0) return 1;
  return 0;
}

static int32_t read_one(const char *path, unsigned char *data, size_t length, char *names, size_t size, int32_t *xattrs) {
  int fd;
  *xattrs = 1;
  /* O_NONBLOCK: a path the walk saw as a regular file and that became a FIFO meanwhile fails (ESPIPE) instead
     of holding a pool thread for good; on a regular file it changes nothing. */
  do fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    *xattrs = 2;
    return -errno;
  }
  size_t total = 0;
  int32_t out = 0;
  while (total < length) {
    ssize_t n = pread(fd, data + total, length - total, (off_t)total);
    if (n < 0) {
      if (errno == EINTR) continue;
      out = -errno;
      break;
    }
    if (n == 0) break;
    total += (size_t)n;
  }
  *xattrs = out < 0 || !names ? 1 : user_xattrs(fd, names, size);
  close(fd); /* a read-only descriptor: nothing a failed close could lose */
  return out < 0 ? out : (int32_t)total;
}

/*
 * OpenSSL's low-level SHA-256 of the Node running this addon, looked up at load (NULL where that Node does
 * not export it). Not the one-shot SHA256(): in OpenSSL 3 it fetches the algorithm from the provider on every
 * call (a lock and a look-up per file: +1 s of CPU over 200,000 small files). The context is opaque here
 * (SHA256_CTX is 112 bytes); the headers are not needed.
 */
typedef struct {
  _Alignas(16) unsigned char opaque[256];
} Sha256Ctx;
static int (*sha256_init)(Sha256Ctx *);
static int (*sha256_update)(Sha256Ctx *, const void *, size_t);
static int (*sha256_final)(unsigned char *, Sha256Ctx *);

static void sha256_of(const unsigned char *data, size_t length, unsigned char *md) {
  Sha256Ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data, length);
  sha256_final(md, &ctx);
}

static void execute(napi_env env, void *arg) {
  (void)env;
  Batch *b = arg;
  char *names = malloc(XATTR_LIST_MAX); /* NULL: every file "may have" attributes, and the caller asks */
  for (size_t i = 0; i < b->count; i++) {
    int32_t n = read_one(b->paths[i], b->data[i], b->lengths[i], names, XATTR_LIST_MAX, &b->results[2 * i + 1]);
    b->results[2 * i] = n;
    if (b->digests && sha256_init && n >= 0 && (size_t)n < b->lengths[i]) sha256_of(b->data[i], (size_t)n, b->digests + 32 * i);
  }
  free(names);
}

static void complete(napi_env env, napi_status status, void *arg) {
  Batch *b = arg;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value ab, results, done, global;
  void *mem;
  if (napi_create_arraybuffer(env, 2 * b->count * sizeof(int32_t), &mem, &ab) == napi_ok) {
    if (status == napi_ok) memcpy(mem, b->results, 2 * b->count * sizeof(int32_t));
    else
      for (size_t i = 0; i < b->count; i++) {
        ((int32_t *)mem)[2 * i] = -ECANCELED;
        ((int32_t *)mem)[2 * i + 1] = 1;
      }
    napi_create_typedarray(env, napi_int32_array, 2 * b->count, ab, 0, &results);
    napi_get_reference_value(env, b->done, &done);
    napi_get_global(env, &global);
    napi_call_function(env, global, done, 1, &results, NULL);
  }
  napi_delete_async_work(env, b->work);
  free_batch(env, b);
  napi_close_handle_scope(env, scope);
}

static napi_value fail(napi_env env, Batch *b, const char *message) {
  free_batch(env, b);
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static napi_value Read(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || argc > 4) {
    napi_throw_type_error(env, NULL, "read(paths, buffers, done, digests?)");
    return NULL;
  }
  uint32_t n, m;
  bool is_array;
  napi_valuetype type;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &n) != napi_ok ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[1], &m) != napi_ok || n != m ||
      napi_typeof(env, argv[2], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "read(paths: string[], buffers: Buffer[] of the same length, done: function)");
    return NULL;
  }
  Batch *b = calloc(1, sizeof(Batch));
  if (!b) return fail(env, NULL, "out of memory");
  b->count = n;
  b->paths = calloc(n ? n : 1, sizeof(char *));
  b->data = calloc(n ? n : 1, sizeof(unsigned char *));
  b->lengths = calloc(n ? n : 1, sizeof(size_t));
  b->results = calloc(n ? 2 * (size_t)n : 1, sizeof(int32_t));
  if (!b->paths || !b->data || !b->lengths || !b->results) return fail(env, b, "out of memory");
  for (uint32_t i = 0; i < n; i++) {
    napi_value p, buf;
    size_t len;
    bool is_buffer;
    if (napi_get_element(env, argv[0], i, &p) != napi_ok || napi_get_value_string_utf8(env, p, NULL, 0, &len) != napi_ok) return fail(env, b, "paths must be strings");
    b->paths[i] = malloc(len + 1);
    if (!b->paths[i]) return fail(env, b, "out of memory");
    napi_get_value_string_utf8(env, p, b->paths[i], len + 1, &len);
    if (strlen(b->paths[i]) != len) return fail(env, b, "a path holds a NUL byte");
    if (napi_get_element(env, argv[1], i, &buf) != napi_ok || napi_is_buffer(env, buf, &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, buf, (void **)&b->data[i], &b->lengths[i]) != napi_ok || b->lengths[i] > INT32_MAX)
      return fail(env, b, "buffers must be Buffers of at most 2 GiB");
  }
  if (argc == 4) {
    bool is_buffer;
    size_t digest_length;
    if (napi_is_buffer(env, argv[3], &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, argv[3], (void **)&b->digests, &digest_length) != napi_ok || digest_length < 32 * (size_t)n)
      return fail(env, b, "digests must be a Buffer of 32 bytes per file");
    if (napi_create_reference(env, argv[3], 1, &b->digest_ref) != napi_ok) return fail(env, b, "could not queue the reads");
  }
  napi_value name;
  /* The buffers stay referenced (so alive) until complete() runs. */
  if (napi_create_reference(env, argv[1], 1, &b->buffers) != napi_ok || napi_create_reference(env, argv[2], 1, &b->done) != napi_ok ||
      napi_create_string_utf8(env, "plexichat.readfiles", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, b, &b->work) != napi_ok)
    return fail(env, b, "could not queue the reads");
  if (napi_queue_async_work(env, b->work) != napi_ok) {
    napi_delete_async_work(env, b->work);
    return fail(env, b, "could not queue the reads");
  }
  return NULL;
}

#define STAT_FIELDS 16

static void fill_stat(double *o, const struct stat *st) {
  o[0] = 0;
  o[1] = (double)st->st_mode;
  o[2] = (double)st->st_nlink;
  o[3] = (double)st->st_uid;
  o[4] = (double)st->st_gid;
  o[5] = (double)st->st_size;
  o[6] = (double)((uint64_t)st->st_ino >> 32);
  o[7] = (double)((uint64_t)st->st_ino & 0xffffffffu);
  o[8] = (double)((uint64_t)st->st_dev >> 32);
  o[9] = (double)((uint64_t)st->st_dev & 0xffffffffu);
  o[10] = (double)st->st_mtim.tv_sec;
  o[11] = (double)st->st_mtim.tv_nsec;
  o[12] = (double)st->st_ctim.tv_sec;
  o[13] = (double)st->st_ctim.tv_nsec;
  o[14] = (double)st->st_atim.tv_sec;
  o[15] = (double)st->st_atim.tv_nsec;
}

static napi_value LstatAt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  uint32_t n;
  bool is_array, is_typed;
  napi_typedarray_type kind;
  size_t out_length;
  void *out_data;
  char dir[PATH_MAX];
  size_t dir_length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_get_value_string_utf8(env, argv[0], dir, sizeof dir, &dir_length) != napi_ok || napi_is_array(env, argv[1], &is_array) != napi_ok ||
      !is_array || napi_get_array_length(env, argv[1], &n) != napi_ok || napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &kind, &out_length, &out_data, NULL, NULL) != napi_ok || kind != napi_float64_array ||
      out_length < (size_t)n * STAT_FIELDS) {
    napi_throw_type_error(env, NULL, "lstatAt(dir: string, names: string[], out: Float64Array of 16 per name)");
    return NULL;
  }
  double *out = out_data;
  int err = 0;
  int fd = -1;
  if (dir_length + 1 >= sizeof dir || strlen(dir) != dir_length) err = ENAMETOOLONG; /* cut short, or a NUL inside */
  else {
    do fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) err = errno;
  }
  for (uint32_t i = 0; i < n; i++) {
    double *o = out + (size_t)i * STAT_FIELDS;
    memset(o, 0, STAT_FIELDS * sizeof(double));
    char name[NAME_MAX + 2];
    size_t len;
    napi_value v;
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || napi_get_value_string_utf8(env, v, name, sizeof name, &len) != napi_ok) {
      if (fd >= 0) close(fd);
      napi_throw_type_error(env, NULL, "names must be strings");
      return NULL;
    }
    if (err) {
      o[0] = -err;
      continue;
    }
    /* One component: a name too long, empty, or holding a slash or a NUL is not a directory entry. */
    if (len == 0 || len > NAME_MAX || strlen(name) != len || memchr(name, '/', len)) {
      o[0] = len > NAME_MAX ? -ENAMETOOLONG : -EINVAL;
      continue;
    }
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) fill_stat(o, &st);
    else o[0] = -errno;
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static void unmap(napi_env env, void *data, void *length) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)length);
}

static napi_value map_error(napi_env env, const char *call, int err) {
  char message[128];
  snprintf(message, sizeof message, "mapFile: %s failed: %s", call, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value MapFile(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  char file[PATH_MAX];
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_string_utf8(env, argv[0], file, sizeof file, &length) != napi_ok || length + 1 >= sizeof file || strlen(file) != length) {
    napi_throw_type_error(env, NULL, "mapFile(path: string shorter than PATH_MAX, without NUL)");
    return NULL;
  }
  int fd;
  do fd = open(file, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return map_error(env, "open", errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return map_error(env, "fstat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    napi_throw_error(env, NULL, "mapFile: not a regular file");
    return NULL;
  }
  if (st.st_size == 0) {
    close(fd);
    void *unused;
    if (napi_create_arraybuffer(env, 0, &unused, &result) != napi_ok) return NULL;
    return result;
  }
  size_t size = (size_t)st.st_size;
  void *data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd); /* the mapping keeps the file's pages */
  if (data == MAP_FAILED) return map_error(env, "mmap", err);
  napi_status status = napi_create_external_arraybuffer(env, data, size, unmap, (void *)(uintptr_t)size, &result);
  if (status != napi_ok) {
    munmap(data, size);
    napi_throw_error(env, NULL, "mapFile: this runtime does not allow external buffers");
    return NULL;
  }
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn, flag;
  *(void **)&sha256_init = dlsym(RTLD_DEFAULT, "SHA256_Init");
  *(void **)&sha256_update = dlsym(RTLD_DEFAULT, "SHA256_Update");
  *(void **)&sha256_final = dlsym(RTLD_DEFAULT, "SHA256_Final");
  if (!sha256_init || !sha256_update || !sha256_final) sha256_init = NULL;
  napi_get_boolean(env, sha256_init != NULL, &flag);
  napi_set_named_property(env, exports, "digests", flag);
  napi_create_function(env, "read", NAPI_AUTO_LENGTH, Read, NULL, &fn);
  napi_set_named_property(env, exports, "read", fn);
  napi_create_function(env, "lstatAt", NAPI_AUTO_LENGTH, LstatAt, NULL, &fn);
  napi_set_named_property(env, exports, "lstatAt", fn);
  napi_create_function(env, "mapFile", NAPI_AUTO_LENGTH, MapFile, NULL, &fn);
  napi_set_named_property(env, exports, "mapFile", fn);
  return exports;
}
