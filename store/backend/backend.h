/* backend.h - where copies of a store live: a folder (external drive), an
 * SFTP server (NAS) or an S3-compatible bucket (cloud).
 *
 * A backend stores whole named objects under a root ("packs/ab/<64 hex>",
 * "snapshots/<64 hex>", "config", "keys/<16 hex>": the store's own relative
 * paths, '/'-separated).  Objects are immutable once written: a name is
 * never rewritten with other bytes, so "present with the right size" means
 * "present".  Every put is atomic: a reader sees the whole object or none
 * (folder and SFTP: a temporary name then rename; S3: a PUT or a completed
 * multipart upload).  Every put is verified after the upload (length, and a
 * hash the server computed or the bytes read back).
 *
 * URLs:
 *   /abs/path  or  file:///abs/path
 *   sftp://user@host[:port]/path[?key=FILE&known_hosts=FILE]
 *        password: $CAIRN_SFTP_PASSWORD; key: ?key=, else ~/.ssh/id_ed25519, id_rsa.
 *        known_hosts: ?known_hosts=, else ~/.ssh/known_hosts.  A host that is not
 *        known or whose key changed is an error (CAIRN_EREMOTE), never a prompt.
 *   s3://bucket/prefix[?endpoint=http://host:port&region=R&style=path|virtual]
 *        credentials: $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY
 *        ($AWS_SESSION_TOKEN optional); region default us-east-1; style
 *        default: path when an endpoint is given, else virtual.
 *
 * Errors: CAIRN_EREMOTE for a server that cannot be reached, refuses us or
 * answers wrongly (after retries); CAIRN_ENOSPC when the target is full;
 * CAIRN_ENOTFOUND for a missing object; CAIRN_EINVAL for a bad URL.
 * err_msg() names the URL (never a password) and the object.
 *
 * A backend object is used by one thread at a time. */
#ifndef CAIRN_BACKEND_H
#define CAIRN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/module.h"

typedef struct backend backend;

/* Callback of backend_list: one object's name (relative to the root, with
 * the prefix given to backend_list) and size. */
typedef cairn_err (*backend_list_fn)(void *ctx, const char *name, uint64_t size);

typedef struct backend_ops {
    /* Every object whose name starts with prefix ("packs/", "snapshots/",
     * "" for all); temporary or incomplete uploads are not listed. */
    cairn_err (*list)(backend *b, const char *prefix, backend_list_fn fn, void *ctx);
    /* *size of the object, CAIRN_ENOTFOUND if absent. */
    cairn_err (*stat)(backend *b, const char *name, uint64_t *size);
    /* Uploads the local file as name, atomically, verified. */
    cairn_err (*put_file)(backend *b, const char *name, const char *local_path);
    /* Downloads name into local_path (written in place: the caller gives a
     * temporary path and renames). */
    cairn_err (*get_file)(backend *b, const char *name, const char *local_path);
    /* Reads len bytes of name from offset into buf (S3: a Range request;
     * SFTP: seek and read; folder: pread), counted in bytes_received.
     * CAIRN_ENOTFOUND if absent, CAIRN_EREMOTE if the object is shorter. */
    cairn_err (*get_range)(backend *b, const char *name, uint64_t offset, size_t len, uint8_t *buf);
    /* Removes name; absent is not an error. */
    cairn_err (*remove)(backend *b, const char *name);
    void (*close)(backend *b);
    /* Removes every temporary file of an interrupted put by this machine,
     * whatever its age; the caller holds the target's local lock (no put
     * of this machine runs).  NULL: nothing to do (a folder target removes
     * them at open; S3 aborts stale uploads at open). */
    cairn_err (*clean_parts)(backend *b);
} backend_ops;

/* The common head of every backend (each implementation embeds it first). */
struct backend {
    const backend_ops *ops;
    char *url;               /* for messages; never holds a password */
    uint64_t bytes_sent;     /* payload bytes uploaded (counted by put_file) */
    uint64_t bytes_received; /* payload bytes downloaded */
};

/* Opens the backend a URL names (it need not contain anything yet; a
 * folder target's folder is created).  CAIRN_EINVAL for a malformed URL. */
cairn_err backend_open(const char *url, backend **out);

/* The implementations (backend_open picks one by the URL's scheme). */
cairn_err backend_dir_open(const char *path, backend **out);
cairn_err backend_sftp_open(const char *url, backend **out);
cairn_err backend_s3_open(const char *url, backend **out);

/* SFTP and S3 are modules (util/module.h: cairn-sftp.so, cairn-s3.so,
 * linking libssh and libcurl), loaded by backend_open on first use; a
 * program linking their static library (cairn_backend_sftp, _s3) uses
 * that.  A module that cannot be loaded: CAIRN_EMODULE. */
typedef struct backend_module_ops {
    cairn_err (*open)(const char *url, backend **out);
} backend_module_ops;
extern const cairn_module backend_sftp_module;
extern const cairn_module backend_s3_module;

static inline cairn_err backend_list(backend *b, const char *prefix, backend_list_fn fn, void *ctx)
{
    return b->ops->list(b, prefix, fn, ctx);
}
static inline cairn_err backend_stat(backend *b, const char *name, uint64_t *size)
{
    return b->ops->stat(b, name, size);
}
static inline cairn_err backend_put_file(backend *b, const char *name, const char *local_path)
{
    return b->ops->put_file(b, name, local_path);
}
static inline cairn_err backend_get_file(backend *b, const char *name, const char *local_path)
{
    return b->ops->get_file(b, name, local_path);
}
static inline cairn_err backend_get_range(backend *b, const char *name, uint64_t offset, size_t len,
                                          uint8_t *buf)
{
    return b->ops->get_range(b, name, offset, len, buf);
}
static inline cairn_err backend_remove(backend *b, const char *name)
{
    return b->ops->remove(b, name);
}
static inline cairn_err backend_clean_parts(backend *b)
{
    return b->ops->clean_parts ? b->ops->clean_parts(b) : CAIRN_OK;
}
void backend_close(backend *b);

/* For the backends' URL parsers: percent-decodes s[0..n) into a malloc'd
 * string.  NULL for a malformed escape or a control character, or with
 * *oom set when out of memory. */
char *backend_url_decode(const char *s, size_t n, int *oom);

/* One page of an S3 ListObjectsV2 answer (untrusted bytes; exposed for the
 * fuzzer): fn gets each object under "<prefix>/" with the prefix removed,
 * *next_token (malloc'd) the continuation token when the page says it is
 * truncated.  CAIRN_EREMOTE on a malformed page. */
cairn_err backend_s3_parse_listing(const char *xml, size_t len, const char *prefix,
                                   backend_list_fn fn, void *ctx, char **next_token);

#endif
