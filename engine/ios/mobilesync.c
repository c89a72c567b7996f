/* mobilesync.c - read MobileSync backup folders; see mobilesync.h. */
#define _POSIX_C_SOURCE 200809L

#include "engine/ios/mobilesync.h"
#include "util/codec.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plist/plist.h>
#include <sqlite3.h>
#include <xxhash.h>

/* Bounds on what a backup may make us allocate.  Real files are far below
 * them: Info.plist with app icons is a few MiB, an MBFile record under 2 KiB
 * with ~20 objects, and no backup plist nests more than ~6 levels. */
enum {
    MS_PLIST_MAX = 64 << 20,      /* bytes in Info/Manifest/Status.plist */
    MS_PLIST_MAX_NODES = 1 << 20, /* nodes one of them may expand to */
    MS_MBFILE_MAX = 1 << 20,      /* bytes in one MBFile record */
    MS_MBFILE_MAX_NODES = 1 << 14,
    MS_PLIST_MAX_DEPTH = 128, /* libplist 2.2 parses and frees recursively */
    MS_STR_MAX = 64 << 10,    /* any one string */
    MS_BYTES_MAX = 1 << 20,   /* BackupKeyBag, ManifestKey */
    MS_KEY_MAX = 256,         /* an EncryptionKey is 44 bytes */
    MS_UID_HOPS = 8,          /* UID -> UID chains; longer means a cycle */
    MS_SQL_MAX = 64 << 20,    /* largest value SQLite may hand us */
    MS_NAME_MAX = 256,        /* file names kept for messages */
};

/* Seconds from the unix epoch to the Cocoa epoch (2001-01-01T00:00:00Z). */
#define MS_COCOA_EPOCH INT64_C(978307200)

/* ---- arena: one owner for the many small strings of a record ------------ */

struct chunk {
    struct chunk *next;
    size_t used, cap;
    unsigned char data[];
};

struct arena {
    struct chunk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
    struct chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        const size_t cap = n > 4096 ? n : 4096;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *const p = c->data + c->used;
    c->used += n;
    return p;
}

static const char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *const d = arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void arena_free(struct arena *a)
{
    struct chunk *c = a->head;
    while (c) {
        struct chunk *const next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* ---- small helpers ------------------------------------------------------ */

static uint64_t be_uint(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Copies untrusted text into a message: at most cap-1 bytes, control bytes
 * as '?', so a hostile name cannot split the one-line message. */
static const char *sanitize(char *dst, size_t cap, const char *src, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        const unsigned char c = (unsigned char)src[i];
        dst[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[j] = '\0';
    return dst;
}

static const char *base_name(const char *path)
{
    const char *const slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static cairn_err join_path(const char *dir, const char *name, char **out)
{
    const size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *const p = malloc(n);
    if (!p)
        return err_set(CAIRN_ENOMEM, "%s: out of memory", name);
    snprintf(p, n, "%s/%s", dir, name);
    *out = p;
    return CAIRN_OK;
}

/* Reads dir/name whole, refusing anything but a regular file of at most max
 * bytes.  O_NONBLOCK keeps a FIFO planted in the folder from hanging us. */
static cairn_err read_small_file(int dirfd, const char *name, size_t max, uint8_t **out,
                                 size_t *len)
{
    uint8_t *buf = NULL;
    cairn_err rc;
    struct stat st;
    const int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return err_set(CAIRN_ESOURCE, "%s: file is missing", name);
        return err_errno(errno, name);
    }
    if (fstat(fd, &st) != 0) {
        rc = err_errno(errno, name);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(CAIRN_ESOURCE, "%s: not a regular file", name);
        goto fail;
    }
    if ((uint64_t)st.st_size > max) {
        rc = err_set(CAIRN_ESOURCE, "%s: %lld bytes, over the %zu-byte limit", name,
                     (long long)st.st_size, max);
        goto fail;
    }
    const size_t size = (size_t)st.st_size;
    buf = malloc(size ? size : 1);
    if (!buf) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    size_t got = 0;
    while (got < size) {
        const ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = err_errno(errno, name);
            goto fail;
        }
        if (r == 0)
            break; /* shrank under us: parse what is there */
        got += (size_t)r;
    }
    if (close(fd) != 0) {
        free(buf);
        return err_errno(errno, name);
    }
    *out = buf;
    *len = got;
    return CAIRN_OK;
fail:
    free(buf);
    close(fd);
    return rc;
}

/* ---- detection ---------------------------------------------------------- */

static int is_regular_at(int dfd, const char *name, int *errnum)
{
    struct stat st;
    *errnum = 0;
    if (fstatat(dfd, name, &st, 0) == 0)
        return S_ISREG(st.st_mode);
    if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
        *errnum = errno;
    return 0;
}

cairn_err ms_detect(const char *dir, int *is_backup)
{
    static const char *const needed[] = {"Info.plist", "Manifest.plist", "Status.plist"};
    int e;
    *is_backup = MS_NOT_BACKUP;
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOTDIR)
            return CAIRN_OK;
        return err_errno(errno, dir);
    }
    cairn_err rc = CAIRN_OK;
    int found = MS_BACKUP;
    for (size_t i = 0; i < sizeof needed / sizeof needed[0] && found; i++) {
        if (!is_regular_at(dfd, needed[i], &e))
            found = MS_NOT_BACKUP;
        if (e) {
            rc = err_errno(e, needed[i]);
            goto out;
        }
    }
    if (found && !is_regular_at(dfd, "Manifest.db", &e)) {
        if (!e)
            found = is_regular_at(dfd, "Manifest.mbdb", &e) ? MS_BACKUP_LEGACY : MS_NOT_BACKUP;
        if (e) {
            rc = err_errno(e, "Manifest.db");
            goto out;
        }
    }
    *is_backup = found;
out:
    close(dfd);
    return rc;
}

/* ---- property lists ----------------------------------------------------- */

/* libplist 2.2 builds a tree by recursion and copies every shared object, so
 * a 100-byte binary plist whose arrays point twice at the next one expands to
 * 2^n nodes, and 100k nested arrays overflow the stack.  Before handing a
 * binary plist over we walk its object graph -- trailer, offset table and the
 * reference lists of containers only; values are left to libplist -- and
 * refuse cycles, depth over MS_PLIST_MAX_DEPTH and expansion over max_nodes. */

struct bp {
    const uint8_t *buf;
    uint64_t table; /* offset table; objects lie before it */
    uint64_t nobj;
    unsigned off_size, ref_size;
};

struct bp_node {
    uint64_t cost;   /* nodes this object expands to */
    uint32_t height; /* levels below and including it */
    uint8_t state;   /* 0 unseen, 1 on the walk stack, 2 done */
};

struct bp_frame {
    uint64_t obj, refs, nrefs, next, cost;
    uint32_t height;
};

/* Sets *nrefs and *refs to the reference list of container obj, or *nrefs
 * to 0 and returns 0 for a leaf; -1 when the object is out of bounds. */
static int bp_refs(const struct bp *b, uint64_t obj, uint64_t *refs, uint64_t *nrefs)
{
    const uint64_t off = be_uint(b->buf + b->table + obj * b->off_size, b->off_size);
    *nrefs = 0;
    if (off < 8 || off >= b->table)
        return -1;
    const unsigned marker = b->buf[off];
    const unsigned type = marker >> 4;
    if (type != 0xA && type != 0xC && type != 0xD) /* array, set, dict */
        return 0;
    uint64_t count = marker & 0xF;
    uint64_t pos = off + 1;
    if (count == 0xF) {
        if (pos >= b->table)
            return -1;
        const unsigned im = b->buf[pos];
        if (im >> 4 != 1 || (im & 0xF) > 3)
            return -1;
        const unsigned nb = 1u << (im & 0xF);
        if (b->table - pos - 1 < nb)
            return -1;
        count = be_uint(b->buf + pos + 1, nb);
        pos += 1 + nb;
    }
    const uint64_t per = (uint64_t)b->ref_size * (type == 0xD ? 2 : 1);
    if (count > (b->table - pos) / per)
        return -1;
    *refs = pos;
    *nrefs = count * (type == 0xD ? 2 : 1);
    return 1;
}

static cairn_err bplist_preflight(const uint8_t *buf, size_t len, uint32_t max_nodes,
                                  cairn_err code, const char *name)
{
    struct bp_node *nodes = NULL;
    struct bp_frame *stack = NULL;
    cairn_err rc = CAIRN_OK;

    if (len < 8 + 1 + 32 || memcmp(buf, "bplist00", 8) != 0)
        return err_set(code, "%s: not a valid binary property list", name);
    const uint8_t *const t = buf + len - 32;
    struct bp b = {.buf = buf, .off_size = t[6], .ref_size = t[7]};
    b.nobj = be_uint(t + 8, 8);
    const uint64_t root = be_uint(t + 16, 8);
    b.table = be_uint(t + 24, 8);
    const uint64_t end = len - 32;
    if (b.off_size < 1 || b.off_size > 8 || b.ref_size < 1 || b.ref_size > 8 || b.nobj == 0 ||
        root >= b.nobj || b.table < 9 || b.table > end || b.nobj > (end - b.table) / b.off_size)
        return err_set(code, "%s: binary property list trailer is inconsistent", name);
    if (b.nobj > max_nodes)
        return err_set(code, "%s: binary property list has %" PRIu64 " objects, over %" PRIu32,
                       name, b.nobj, max_nodes);

    nodes = calloc((size_t)b.nobj, sizeof *nodes);
    stack = malloc(MS_PLIST_MAX_DEPTH * sizeof *stack);
    if (!nodes || !stack) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", name);
        goto out;
    }

    size_t sp = 0;
    uint64_t refs, nrefs;
    int kind = bp_refs(&b, root, &refs, &nrefs);
    if (kind < 0)
        goto bad_object;
    if (kind == 0)
        goto out; /* a lone scalar */
    stack[sp++] =
        (struct bp_frame){.obj = root, .refs = refs, .nrefs = nrefs, .cost = 1, .height = 1};
    nodes[root].state = 1;

    while (sp > 0) {
        struct bp_frame *const f = &stack[sp - 1];
        uint64_t ccost;
        uint32_t cheight;
        if (f->next == f->nrefs) {
            nodes[f->obj] = (struct bp_node){f->cost, f->height, 2};
            ccost = f->cost;
            cheight = f->height;
            if (--sp == 0)
                break;
        } else {
            const uint64_t child = be_uint(buf + f->refs + f->next * b.ref_size, b.ref_size);
            f->next++;
            if (child >= b.nobj)
                goto bad_object;
            if (nodes[child].state == 1) {
                rc = err_set(code, "%s: binary property list contains a cycle", name);
                goto out;
            }
            if (nodes[child].state == 0) {
                kind = bp_refs(&b, child, &refs, &nrefs);
                if (kind < 0)
                    goto bad_object;
                if (kind == 0) {
                    nodes[child] = (struct bp_node){1, 1, 2};
                } else {
                    if (sp == MS_PLIST_MAX_DEPTH)
                        goto too_deep;
                    stack[sp++] = (struct bp_frame){
                        .obj = child, .refs = refs, .nrefs = nrefs, .cost = 1, .height = 1};
                    nodes[child].state = 1;
                    continue;
                }
            }
            ccost = nodes[child].cost;
            cheight = nodes[child].height;
            /* A shared object seen before still sits this deep here. */
            if (sp + cheight > MS_PLIST_MAX_DEPTH)
                goto too_deep;
        }
        struct bp_frame *const parent = &stack[sp - 1];
        parent->cost += ccost;
        if (cheight + 1 > parent->height)
            parent->height = cheight + 1;
        if (parent->cost > max_nodes) {
            rc = err_set(code, "%s: binary property list expands to over %" PRIu32 " nodes", name,
                         max_nodes);
            goto out;
        }
    }
    goto out;

bad_object:
    rc = err_set(code, "%s: binary property list has an object out of bounds", name);
    goto out;
too_deep:
    rc = err_set(code, "%s: property list nests deeper than %d levels", name, MS_PLIST_MAX_DEPTH);
out:
    free(stack);
    free(nodes);
    return rc;
}

static plist_t first_child(plist_t node)
{
    if (PLIST_IS_ARRAY(node))
        return plist_array_get_size(node) ? plist_array_get_item(node, 0) : NULL;
    if (PLIST_IS_DICT(node) && plist_dict_get_size(node)) {
        plist_dict_iter it = NULL;
        plist_t val = NULL;
        plist_dict_new_iter(node, &it);
        if (!it)
            return NULL;
        plist_dict_next_item(node, it, NULL, &val);
        free(it);
        return val;
    }
    return NULL;
}

/* plist_free recurses once per level; this takes a tree of any depth apart
 * leaf by leaf, so a hostile XML plist can be thrown away.  Dictionaries from
 * the XML parser hold each key once, so removing by key removes this node. */
static void plist_free_deep(plist_t root)
{
    plist_t node = root;
    for (;;) {
        plist_t c;
        while ((c = first_child(node)) != NULL)
            node = c;
        const plist_t parent = plist_get_parent(node);
        if (!parent || node == root) {
            plist_free(node);
            return;
        }
        if (PLIST_IS_ARRAY(parent)) {
            plist_array_remove_item(parent, 0);
        } else {
            char *key = NULL;
            plist_dict_get_item_key(node, &key);
            if (!key || plist_dict_get_item(parent, key) != node) {
                free(key);
                return; /* cannot happen (see above); leaking beats crashing */
            }
            plist_dict_remove_item(parent, key);
            free(key);
        }
        node = parent;
    }
}

struct xml_frame {
    plist_t node;
    uint32_t i;
    plist_dict_iter it;
};

/* The XML parser of libplist 2.2 is iterative, but plist_free is not: check
 * depth (and size) of the parsed tree without recursing. */
static cairn_err xml_check(plist_t root, uint32_t max_nodes, cairn_err code, const char *name)
{
    struct xml_frame stack[MS_PLIST_MAX_DEPTH];
    size_t sp = 0;
    uint64_t nodes = 1;
    cairn_err rc = CAIRN_OK;
    plist_t node = root;

    for (;;) {
        if (first_child(node)) {
            if (sp == MS_PLIST_MAX_DEPTH) {
                rc = err_set(code, "%s: property list nests deeper than %d levels", name,
                             MS_PLIST_MAX_DEPTH);
                break;
            }
            stack[sp] = (struct xml_frame){.node = node};
            if (PLIST_IS_DICT(node)) {
                plist_dict_new_iter(node, &stack[sp].it);
                if (!stack[sp].it) {
                    rc = err_set(CAIRN_ENOMEM, "%s: out of memory", name);
                    break;
                }
            }
            sp++;
        }
        node = NULL;
        while (sp > 0 && !node) {
            struct xml_frame *const f = &stack[sp - 1];
            if (PLIST_IS_ARRAY(f->node)) {
                if (f->i < plist_array_get_size(f->node))
                    node = plist_array_get_item(f->node, f->i++);
            } else {
                plist_dict_next_item(f->node, f->it, NULL, &node);
            }
            if (!node) {
                free(f->it);
                sp--;
            }
        }
        if (!node)
            break;
        if (++nodes > max_nodes) {
            rc = err_set(code, "%s: property list has over %" PRIu32 " nodes", name, max_nodes);
            break;
        }
    }
    while (sp > 0)
        free(stack[--sp].it);
    return rc;
}

/* Parses a binary or XML plist from untrusted bytes into *out, which the
 * caller frees with plist_free (safe: depth is bounded here).  Errors carry
 * `code` and name the source. */
static cairn_err plist_parse(const uint8_t *buf, size_t len, size_t max_bytes, uint32_t max_nodes,
                             cairn_err code, const char *name, plist_t *out)
{
    plist_t p = NULL;
    *out = NULL;
    if (len > max_bytes)
        return err_set(code, "%s: %zu bytes, over the %zu-byte limit", name, len, max_bytes);
    if (len == 0)
        return err_set(code, "%s: file is empty", name);
    if (plist_is_binary((const char *)buf, (uint32_t)len)) {
        const cairn_err rc = bplist_preflight(buf, len, max_nodes, code, name);
        if (rc != CAIRN_OK)
            return rc;
        plist_from_bin((const char *)buf, (uint32_t)len, &p);
    } else {
        plist_from_xml((const char *)buf, (uint32_t)len, &p);
        if (p) {
            const cairn_err rc = xml_check(p, max_nodes, code, name);
            if (rc != CAIRN_OK) {
                plist_free_deep(p);
                return rc;
            }
        }
    }
    if (!p)
        return err_set(code, "%s: not a valid property list", name);
    *out = p;
    return CAIRN_OK;
}

/* Checks a string node: bounded, no NUL inside (callers treat it as a C
 * string).  *s points into the node. */
static cairn_err pl_string(plist_t node, cairn_err code, const char *name, const char *key,
                           const char **s, size_t *n)
{
    uint64_t len = 0;
    if (!PLIST_IS_STRING(node))
        return err_set(code, "%s: %s is not a string", name, key);
    const char *const p = plist_get_string_ptr(node, &len);
    if (!p)
        return err_set(code, "%s: %s has no value", name, key);
    if (len > MS_STR_MAX)
        return err_set(code, "%s: %s is over %d bytes", name, key, MS_STR_MAX);
    if (memchr(p, '\0', (size_t)len))
        return err_set(code, "%s: %s contains a NUL byte", name, key);
    *s = p;
    *n = (size_t)len;
    return CAIRN_OK;
}

static cairn_err pl_data(plist_t node, size_t max, cairn_err code, const char *name,
                         const char *key, const uint8_t **d, size_t *n)
{
    uint64_t len = 0;
    if (!PLIST_IS_DATA(node))
        return err_set(code, "%s: %s is not data", name, key);
    const char *const p = plist_get_data_ptr(node, &len);
    if (len > max)
        return err_set(code, "%s: %s is over %zu bytes", name, key, max);
    *d = (const uint8_t *)p;
    *n = (size_t)len;
    return CAIRN_OK;
}

static int64_t pl_date_unix(plist_t node)
{
    int32_t sec = 0, usec = 0;
    plist_get_date_val(node, &sec, &usec);
    return MS_COCOA_EPOCH + sec - (usec < 0 ? 1 : 0);
}

/* ---- metadata ----------------------------------------------------------- */

enum ftype { F_STR, F_BOOL, F_DATE, F_BYTES };

struct field {
    ms_source src;
    const char *parent; /* dictionary holding the key, NULL for the root */
    const char *key;
    enum ftype type;
    size_t off, len_off; /* len_off: F_BYTES only */
    const char *pair;    /* name in ms_meta_pairs; NULL: not listed */
};

#define STR(src, parent, key, field, pair)                                                         \
    {                                                                                              \
        src, parent, key, F_STR, offsetof(ms_meta, field), 0, pair                                 \
    }
#define NUM(src, key, type, field, pair)                                                           \
    {                                                                                              \
        src, NULL, key, type, offsetof(ms_meta, field), 0, pair                                    \
    }

/* Order is the order of ms_meta_pairs. */
static const struct field fields[] = {
    STR(MS_INFO_PLIST, NULL, "Device Name", device_name, "device_name"),
    STR(MS_INFO_PLIST, NULL, "Display Name", display_name, "display_name"),
    STR(MS_INFO_PLIST, NULL, "Product Name", product_name, "product_name"),
    STR(MS_INFO_PLIST, NULL, "Product Type", product_type, "product_type"),
    STR(MS_INFO_PLIST, NULL, "Product Version", product_version, "product_version"),
    STR(MS_INFO_PLIST, NULL, "Build Version", build_version, "build_version"),
    STR(MS_INFO_PLIST, NULL, "Serial Number", serial_number, "serial_number"),
    STR(MS_INFO_PLIST, NULL, "Unique Identifier", unique_identifier, "udid"),
    STR(MS_INFO_PLIST, NULL, "Target Identifier", target_identifier, "target_identifier"),
    STR(MS_INFO_PLIST, NULL, "iTunes Version", itunes_version, "itunes_version"),
    NUM(MS_INFO_PLIST, "Last Backup Date", F_DATE, last_backup_date, "last_backup_date"),
    NUM(MS_MANIFEST_PLIST, "IsEncrypted", F_BOOL, is_encrypted, "is_encrypted"),
    NUM(MS_MANIFEST_PLIST, "WasPasscodeSet", F_BOOL, was_passcode_set, "was_passcode_set"),
    STR(MS_MANIFEST_PLIST, NULL, "Version", manifest_version, "manifest_version"),
    NUM(MS_MANIFEST_PLIST, "Date", F_DATE, manifest_date, "manifest_date"),
    STR(MS_MANIFEST_PLIST, "Lockdown", "UniqueDeviceID", lockdown_udid, "lockdown_udid"),
    STR(MS_MANIFEST_PLIST, "Lockdown", "DeviceName", lockdown_device_name, "lockdown_device_name"),
    STR(MS_MANIFEST_PLIST, "Lockdown", "ProductType", lockdown_product_type,
        "lockdown_product_type"),
    STR(MS_MANIFEST_PLIST, "Lockdown", "ProductVersion", lockdown_product_version,
        "lockdown_product_version"),
    STR(MS_MANIFEST_PLIST, "Lockdown", "BuildVersion", lockdown_build_version,
        "lockdown_build_version"),
    STR(MS_MANIFEST_PLIST, "Lockdown", "SerialNumber", lockdown_serial_number,
        "lockdown_serial_number"),
    {MS_MANIFEST_PLIST, NULL, "BackupKeyBag", F_BYTES, offsetof(ms_meta, backup_keybag),
     offsetof(ms_meta, backup_keybag_len), NULL},
    {MS_MANIFEST_PLIST, NULL, "ManifestKey", F_BYTES, offsetof(ms_meta, manifest_key),
     offsetof(ms_meta, manifest_key_len), NULL},
    STR(MS_STATUS_PLIST, NULL, "SnapshotState", snapshot_state, "snapshot_state"),
    STR(MS_STATUS_PLIST, NULL, "BackupState", backup_state, "backup_state"),
    NUM(MS_STATUS_PLIST, "IsFullBackup", F_BOOL, is_full_backup, "is_full_backup"),
    NUM(MS_STATUS_PLIST, "Date", F_DATE, status_date, "status_date"),
    STR(MS_STATUS_PLIST, NULL, "UUID", status_uuid, "status_uuid"),
    STR(MS_STATUS_PLIST, NULL, "Version", status_version, "status_version"),
};

#undef STR
#undef NUM

#define NFIELDS (sizeof fields / sizeof fields[0])
_Static_assert(NFIELDS <= 64, "presence bits fit a uint64_t");

static const char *const source_names[] = {"Info.plist", "Manifest.plist", "Status.plist"};

/* ms_meta is handed out as the first member, so a pointer to it is a pointer
 * to the box. */
struct meta_box {
    ms_meta pub;
    struct arena arena;
    uint64_t present; /* bit i: fields[i] was found */
};

cairn_err ms_meta_new(ms_meta **out)
{
    struct meta_box *const box = calloc(1, sizeof *box);
    *out = NULL;
    if (!box)
        return err_set(CAIRN_ENOMEM, "metadata: out of memory");
    *out = &box->pub;
    return CAIRN_OK;
}

void ms_meta_free(ms_meta *meta)
{
    struct meta_box *const box = (struct meta_box *)meta;
    if (!box)
        return;
    arena_free(&box->arena);
    free(box);
}

static cairn_err load_field(struct meta_box *box, const struct field *f, plist_t node,
                            const char *name)
{
    char *const base = (char *)&box->pub;
    const char *s;
    const uint8_t *d;
    size_t n;
    cairn_err rc;

    switch (f->type) {
    case F_STR:
        if ((rc = pl_string(node, CAIRN_ESOURCE, name, f->key, &s, &n)) != CAIRN_OK)
            return rc;
        if (!(s = arena_strndup(&box->arena, s, n)))
            return err_set(CAIRN_ENOMEM, "%s: out of memory", name);
        memcpy(base + f->off, &s, sizeof s);
        return CAIRN_OK;
    case F_BOOL: {
        uint8_t b = 0;
        uint64_t u = 0;
        /* Older writers stored some flags as integers. */
        if (PLIST_IS_BOOLEAN(node))
            plist_get_bool_val(node, &b);
        else if (PLIST_IS_UINT(node)) {
            plist_get_uint_val(node, &u);
            b = u != 0;
        } else
            return err_set(CAIRN_ESOURCE, "%s: %s is not a boolean", name, f->key);
        const int v = b != 0;
        memcpy(base + f->off, &v, sizeof v);
        return CAIRN_OK;
    }
    case F_DATE: {
        if (!PLIST_IS_DATE(node))
            return err_set(CAIRN_ESOURCE, "%s: %s is not a date", name, f->key);
        const int64_t v = pl_date_unix(node);
        memcpy(base + f->off, &v, sizeof v);
        return CAIRN_OK;
    }
    case F_BYTES: {
        if ((rc = pl_data(node, MS_BYTES_MAX, CAIRN_ESOURCE, name, f->key, &d, &n)) != CAIRN_OK)
            return rc;
        uint8_t *const copy = arena_alloc(&box->arena, n ? n : 1);
        if (!copy)
            return err_set(CAIRN_ENOMEM, "%s: out of memory", name);
        if (n)
            memcpy(copy, d, n);
        const uint8_t *const cp = copy;
        memcpy(base + f->off, &cp, sizeof cp);
        memcpy(base + f->len_off, &n, sizeof n);
        return CAIRN_OK;
    }
    }
    return err_set(CAIRN_EINVAL, "%s: unknown field type", name);
}

cairn_err ms_meta_load(ms_meta *meta, ms_source which, const uint8_t *buf, size_t len)
{
    struct meta_box *const box = (struct meta_box *)meta;
    plist_t root = NULL;
    cairn_err rc;

    if (!box || (unsigned)which > MS_STATUS_PLIST)
        return err_set(CAIRN_EINVAL, "ms_meta_load: bad argument");
    const char *const name = source_names[which];
    if ((rc = plist_parse(buf, len, MS_PLIST_MAX, MS_PLIST_MAX_NODES, CAIRN_ESOURCE, name,
                          &root)) != CAIRN_OK)
        return rc;
    if (!PLIST_IS_DICT(root)) {
        rc = err_set(CAIRN_ESOURCE, "%s: top level is not a dictionary", name);
        goto out;
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *const f = &fields[i];
        if (f->src != which)
            continue;
        plist_t dict = root;
        if (f->parent) {
            dict = plist_dict_get_item(root, f->parent);
            if (!dict)
                continue;
            if (!PLIST_IS_DICT(dict)) {
                rc = err_set(CAIRN_ESOURCE, "%s: %s is not a dictionary", name, f->parent);
                goto out;
            }
        }
        const plist_t node = plist_dict_get_item(dict, f->key);
        if (!node)
            continue;
        if ((rc = load_field(box, f, node, name)) != CAIRN_OK)
            goto out;
        box->present |= UINT64_C(1) << i;
    }
    /* Without the key bag nothing in an encrypted backup can be read back. */
    if (which == MS_MANIFEST_PLIST && meta->is_encrypted && !meta->backup_keybag) {
        rc = err_set(CAIRN_ESOURCE, "%s: IsEncrypted is set but BackupKeyBag is missing", name);
        goto out;
    }
    rc = CAIRN_OK;
out:
    plist_free(root);
    return rc;
}

cairn_err ms_read_meta(const char *dir, ms_meta **out)
{
    ms_meta *meta = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    cairn_err rc;

    *out = NULL;
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return err_errno(errno, dir);
    if ((rc = ms_meta_new(&meta)) != CAIRN_OK)
        goto fail;
    for (int which = MS_INFO_PLIST; which <= MS_STATUS_PLIST; which++) {
        if ((rc = read_small_file(dfd, source_names[which], MS_PLIST_MAX, &buf, &len)) != CAIRN_OK)
            goto fail;
        rc = ms_meta_load(meta, (ms_source)which, buf, len);
        free(buf);
        buf = NULL;
        if (rc != CAIRN_OK)
            goto fail;
    }
    if (close(dfd) != 0) {
        rc = err_errno(errno, dir);
        ms_meta_free(meta);
        return rc;
    }
    *out = meta;
    return CAIRN_OK;
fail:
    ms_meta_free(meta);
    close(dfd);
    return rc;
}

cairn_err ms_meta_pairs(const ms_meta *meta, ms_pair_fn fn, void *ctx)
{
    const struct meta_box *const box = (const struct meta_box *)meta;
    const char *const base = (const char *)meta;
    char num[32];

    for (size_t i = 0; i < NFIELDS; i++) {
        const struct field *const f = &fields[i];
        if (!f->pair || !(box->present & UINT64_C(1) << i))
            continue;
        const char *value = NULL;
        switch (f->type) {
        case F_STR:
            memcpy(&value, base + f->off, sizeof value);
            break;
        case F_BOOL: {
            int v;
            memcpy(&v, base + f->off, sizeof v);
            value = v ? "true" : "false";
            break;
        }
        case F_DATE: {
            int64_t v;
            memcpy(&v, base + f->off, sizeof v);
            snprintf(num, sizeof num, "%" PRId64, v);
            value = num;
            break;
        }
        case F_BYTES:
            continue;
        }
        const cairn_err rc = fn(ctx, f->pair, value);
        if (rc != CAIRN_OK)
            return rc;
    }
    return CAIRN_OK;
}

/* ---- MBFile (NSKeyedArchiver) ------------------------------------------- */

struct archive {
    plist_t objects;
    uint32_t n;
};

static int is_uid(plist_t node, uint64_t *idx)
{
    if (PLIST_IS_UID(node)) {
        plist_get_uid_val(node, idx);
        return 1;
    }
    /* XML archives spell a UID as <dict><key>CF$UID</key><integer>; libplist
     * 2.2 leaves it a dictionary. */
    if (PLIST_IS_DICT(node) && plist_dict_get_size(node) == 1) {
        const plist_t v = plist_dict_get_item(node, "CF$UID");
        if (PLIST_IS_UINT(v)) {
            plist_get_uint_val(v, idx);
            return 1;
        }
    }
    return 0;
}

/* Follows UIDs to the object they name.  *out is NULL for the archive's
 * "$null" (how NSKeyedArchiver encodes nil). */
static cairn_err ar_deref(const struct archive *a, plist_t node, const char *key, plist_t *out)
{
    uint64_t idx;
    int followed = 0;
    for (int hops = 0; hops < MS_UID_HOPS; hops++) {
        if (!is_uid(node, &idx)) {
            if (followed && PLIST_IS_STRING(node) && plist_string_val_compare(node, "$null") == 0)
                node = NULL;
            *out = node;
            return CAIRN_OK;
        }
        if (idx >= a->n)
            return err_set(CAIRN_ECORRUPT,
                           "MBFile: %s: UID %" PRIu64 " out of range (%" PRIu32 " objects)", key,
                           idx, a->n);
        node = plist_array_get_item(a->objects, (uint32_t)idx);
        followed = 1;
    }
    return err_set(CAIRN_ECORRUPT, "MBFile: %s: UID references form a cycle", key);
}

static cairn_err ar_get(const struct archive *a, plist_t dict, const char *key, plist_t *out)
{
    const plist_t node = plist_dict_get_item(dict, key);
    *out = NULL;
    return node ? ar_deref(a, node, key, out) : CAIRN_OK;
}

/* Integer field; NSKeyedArchiver writes int32 values sign-extended, so a
 * 64-bit pattern is accepted if it is in [lo, hi] either as unsigned or as a
 * signed value. */
static cairn_err ar_int(const struct archive *a, plist_t obj, const char *key, int64_t lo,
                        uint64_t hi, uint64_t *out, int required)
{
    plist_t node;
    uint64_t v = 0;
    const cairn_err rc = ar_get(a, obj, key, &node);
    *out = 0;
    if (rc != CAIRN_OK)
        return rc;
    if (!node) {
        if (required)
            return err_set(CAIRN_ECORRUPT, "MBFile: %s is missing", key);
        return CAIRN_OK;
    }
    if (!PLIST_IS_UINT(node))
        return err_set(CAIRN_ECORRUPT, "MBFile: %s is not an integer", key);
    plist_get_uint_val(node, &v);
    const int64_t sv = (int64_t)v;
    if (v > hi && !(sv < 0 && sv >= lo))
        return err_set(CAIRN_ECORRUPT, "MBFile: %s is out of range", key);
    *out = v;
    return CAIRN_OK;
}

/* Times are int32 unix seconds in iOS 10+ records; accept the NSDate forms
 * (plist date, or an archived NSDate with NS.time) too. */
static cairn_err ar_time(const struct archive *a, plist_t obj, const char *key, int64_t *out)
{
    plist_t node, t = NULL;
    uint64_t v;
    double d = 0;
    cairn_err rc = ar_get(a, obj, key, &node);
    *out = 0;
    if (rc != CAIRN_OK || !node)
        return rc;
    if (PLIST_IS_UINT(node)) {
        plist_get_uint_val(node, &v);
        *out = (int64_t)v;
        return CAIRN_OK;
    }
    if (PLIST_IS_DATE(node)) {
        *out = pl_date_unix(node);
        return CAIRN_OK;
    }
    if (PLIST_IS_DICT(node) && (rc = ar_get(a, node, "NS.time", &t)) != CAIRN_OK)
        return rc;
    if (!PLIST_IS_REAL(t))
        return err_set(CAIRN_ECORRUPT, "MBFile: %s is not a time", key);
    plist_get_real_val(t, &d);
    if (!(d > -1e15 && d < 1e15)) /* also rejects NaN */
        return err_set(CAIRN_ECORRUPT, "MBFile: %s is out of range", key);
    *out = MS_COCOA_EPOCH + (int64_t)d;
    return CAIRN_OK;
}

/* The archived class name of obj must be want. */
static cairn_err ar_check_class(const struct archive *a, plist_t obj, const char *want)
{
    plist_t cls, cname;
    const char *s;
    size_t n;
    char shown[64];
    cairn_err rc = ar_get(a, obj, "$class", &cls);
    if (rc != CAIRN_OK)
        return rc;
    if (!PLIST_IS_DICT(cls))
        return err_set(CAIRN_ECORRUPT, "MBFile: root object has no $class");
    if ((rc = ar_get(a, cls, "$classname", &cname)) != CAIRN_OK)
        return rc;
    if ((rc = pl_string(cname, CAIRN_ECORRUPT, "MBFile", "$classname", &s, &n)) != CAIRN_OK)
        return rc;
    if (n != strlen(want) || memcmp(s, want, n) != 0)
        return err_set(CAIRN_ECORRUPT, "MBFile: root object is a %s, not an %s",
                       sanitize(shown, sizeof shown, s, n), want);
    return CAIRN_OK;
}

/* EncryptionKey is an NSData: either inline data or an archived object whose
 * NS.data holds the bytes. */
static cairn_err ar_nsdata(const struct archive *a, plist_t obj, const char *key, const uint8_t **d,
                           size_t *n)
{
    plist_t node;
    cairn_err rc = ar_get(a, obj, key, &node);
    *d = NULL;
    *n = 0;
    if (rc != CAIRN_OK || !node)
        return rc;
    if (PLIST_IS_DICT(node)) {
        if ((rc = ar_get(a, node, "NS.data", &node)) != CAIRN_OK)
            return rc;
        if (!node)
            return err_set(CAIRN_ECORRUPT, "MBFile: %s has no NS.data", key);
    }
    return pl_data(node, MS_KEY_MAX, CAIRN_ECORRUPT, "MBFile", key, d, n);
}

void ms_file_clear(ms_file *f)
{
    if (!f)
        return;
    free(f->owned_);
    memset(f, 0, sizeof *f);
}

cairn_err ms_mbfile_decode(const uint8_t *blob, size_t len, ms_file *out)
{
    plist_t root = NULL, top, ref, obj, tnode, pnode;
    struct archive a;
    uint64_t v;
    const char *target = NULL, *rpath = NULL;
    size_t target_len = 0, rpath_len = 0;
    const uint8_t *key = NULL;
    size_t key_len = 0;
    cairn_err rc;

    memset(out, 0, sizeof *out);
    if ((rc = plist_parse(blob, len, MS_MBFILE_MAX, MS_MBFILE_MAX_NODES, CAIRN_ECORRUPT, "MBFile",
                          &root)) != CAIRN_OK)
        return rc;
    if (!PLIST_IS_DICT(root)) {
        rc = err_set(CAIRN_ECORRUPT, "MBFile: not a keyed archive");
        goto fail;
    }
    a.objects = plist_dict_get_item(root, "$objects");
    top = plist_dict_get_item(root, "$top");
    if (!PLIST_IS_ARRAY(a.objects) || !PLIST_IS_DICT(top)) {
        rc = err_set(CAIRN_ECORRUPT, "MBFile: not a keyed archive (no $objects or $top)");
        goto fail;
    }
    a.n = plist_array_get_size(a.objects);
    ref = plist_dict_get_item(top, "root");
    if (!ref || !is_uid(ref, &v)) {
        rc = err_set(CAIRN_ECORRUPT, "MBFile: $top has no root reference");
        goto fail;
    }
    if ((rc = ar_deref(&a, ref, "root", &obj)) != CAIRN_OK)
        goto fail;
    if (!PLIST_IS_DICT(obj)) {
        rc = err_set(CAIRN_ECORRUPT, "MBFile: root object is not a dictionary");
        goto fail;
    }
    if ((rc = ar_check_class(&a, obj, "MBFile")) != CAIRN_OK)
        goto fail;

    if ((rc = ar_int(&a, obj, "Mode", 0, 0xFFFF, &v, 1)) != CAIRN_OK)
        goto fail;
    out->mode = (uint32_t)v;
    if ((rc = ar_int(&a, obj, "Size", 0, INT64_MAX, &out->size, 0)) != CAIRN_OK)
        goto fail;
    if ((rc = ar_int(&a, obj, "InodeNumber", 0, UINT64_MAX, &out->inode, 0)) != CAIRN_OK)
        goto fail;
    if ((rc = ar_int(&a, obj, "UserID", INT32_MIN, UINT32_MAX, &v, 0)) != CAIRN_OK)
        goto fail;
    out->uid = (uint32_t)v;
    if ((rc = ar_int(&a, obj, "GroupID", INT32_MIN, UINT32_MAX, &v, 0)) != CAIRN_OK)
        goto fail;
    out->gid = (uint32_t)v;
    if ((rc = ar_int(&a, obj, "ProtectionClass", INT32_MIN, INT32_MAX, &v, 0)) != CAIRN_OK)
        goto fail;
    out->protection_class = (int32_t)(int64_t)v;
    if ((rc = ar_time(&a, obj, "LastModified", &out->mtime)) != CAIRN_OK ||
        (rc = ar_time(&a, obj, "LastStatusChange", &out->ctime)) != CAIRN_OK ||
        (rc = ar_time(&a, obj, "Birth", &out->birth)) != CAIRN_OK)
        goto fail;

    if ((rc = ar_get(&a, obj, "RelativePath", &pnode)) != CAIRN_OK)
        goto fail;
    if (pnode && (rc = pl_string(pnode, CAIRN_ECORRUPT, "MBFile", "RelativePath", &rpath,
                                 &rpath_len)) != CAIRN_OK)
        goto fail;
    if ((rc = ar_get(&a, obj, "Target", &tnode)) != CAIRN_OK)
        goto fail;
    if (tnode && (rc = pl_string(tnode, CAIRN_ECORRUPT, "MBFile", "Target", &target,
                                 &target_len)) != CAIRN_OK)
        goto fail;
    /* Apple's own reader refuses a symlink without a target. */
    if ((out->mode & S_IFMT) == S_IFLNK && !target) {
        rc = err_set(CAIRN_ECORRUPT, "MBFile: symbolic link without a Target");
        goto fail;
    }
    if ((rc = ar_nsdata(&a, obj, "EncryptionKey", &key, &key_len)) != CAIRN_OK)
        goto fail;

    /* One block for everything the record owns: path, target, key. */
    if (rpath || target || key) {
        uint8_t *const mem = malloc(rpath_len + 1 + target_len + 1 + key_len);
        uint8_t *p = mem;
        if (!mem) {
            rc = err_set(CAIRN_ENOMEM, "MBFile: out of memory");
            goto fail;
        }
        out->owned_ = mem;
        if (rpath) {
            memcpy(p, rpath, rpath_len);
            p[rpath_len] = '\0';
            out->relative_path = (const char *)p;
            p += rpath_len + 1;
        }
        if (target) {
            memcpy(p, target, target_len);
            p[target_len] = '\0';
            out->target = (const char *)p;
            p += target_len + 1;
        }
        if (key) {
            memcpy(p, key, key_len);
            out->encryption_key = p;
            out->encryption_key_len = key_len;
        }
    }
    plist_free(root);
    return CAIRN_OK;
fail:
    plist_free(root);
    ms_file_clear(out);
    return rc;
}

/* ---- Manifest.db -------------------------------------------------------- */

struct ms_manifest {
    sqlite3 *db;
    sqlite3_stmt *it;
    ms_file cur;
    XXH3_state_t *xx; /* the row digest's */
    ms_known_fn known;
    void *known_ctx;
    cairn_err dead; /* set once the iteration cannot go on */
    char name[MS_NAME_MAX];
};

static cairn_err sq_err(sqlite3 *db, int rc, const char *name)
{
    const char *const msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_NOMEM)
        return err_set(CAIRN_ENOMEM, "%s: %s", name, msg);
    /* A truncated file reads short; that is a damaged backup, not a bad disk. */
    if ((rc & 0xff) == SQLITE_IOERR && rc != SQLITE_IOERR_SHORT_READ)
        return err_set(CAIRN_EIO, "%s: %s", name, msg);
    return err_set(CAIRN_ESOURCE, "%s: %s", name, msg);
}

/* file: URI for path, so that immutable=1 can be passed; every byte outside
 * the unreserved set is escaped so '?' or '#' in a path stay part of it. */
static char *make_uri(const char *path, int immutable)
{
    static const char hex[] = "0123456789ABCDEF";
    const size_t n = strlen(path);
    char *const uri = malloc(3 * n + 40);
    if (!uri)
        return NULL;
    char *p = uri;
    /* "file://" + absolute path keeps a leading "//" from being read as a host. */
    p += sprintf(p, path[0] == '/' ? "file://" : "file:");
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)path[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    strcpy(p, immutable ? "?mode=ro&immutable=1" : "?mode=ro");
    return uri;
}

/* quick_check reads every page: truncation and garbage surface here,
 * before anyone starts copying files. */
static cairn_err db_quick_check(ms_manifest *m)
{
    sqlite3_stmt *st = NULL;
    cairn_err rc;
    char shown[160];

    int r = sqlite3_prepare_v2(m->db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (r != SQLITE_OK)
        return sq_err(m->db, r, m->name);
    r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        rc = sq_err(m->db, r, m->name);
        goto out;
    }
    const unsigned char *const res = sqlite3_column_text(st, 0);
    const int nres = sqlite3_column_bytes(st, 0);
    if (!res || strcmp((const char *)res, "ok") != 0) {
        rc = err_set(CAIRN_ESOURCE, "%s: integrity check failed: %s", m->name,
                     res ? sanitize(shown, sizeof shown, (const char *)res, (size_t)nres)
                         : "no result");
        goto out;
    }
    if ((r = sqlite3_finalize(st)) != SQLITE_OK)
        return sq_err(m->db, r, m->name);
    return CAIRN_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

/* A view or virtual table named Files could run arbitrary queries. */
static cairn_err db_schema_check(ms_manifest *m)
{
    sqlite3_stmt *st = NULL;
    cairn_err rc;
    int r =
        sqlite3_prepare_v2(m->db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'Files' "
                           "AND sql LIKE 'CREATE TABLE%'",
                           -1, &st, NULL);
    if (r != SQLITE_OK)
        return sq_err(m->db, r, m->name);
    r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = err_set(CAIRN_ESOURCE, "%s: no Files table", m->name);
        goto out;
    }
    if (r != SQLITE_ROW) {
        rc = sq_err(m->db, r, m->name);
        goto out;
    }
    rc = CAIRN_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

static cairn_err manifest_open(const char *db_path, int ordered, int quick_check,
                               const atomic_int *stop, ms_manifest **out);

cairn_err ms_manifest_open(const char *db_path, ms_manifest **out)
{
    return manifest_open(db_path, 1, 1, NULL, out);
}

/* Opens db_path read-only as untrusted input; no check yet. */
static cairn_err db_open(const char *db_path, ms_manifest **out)
{
    ms_manifest *m = NULL;
    char *uri = NULL, *wal = NULL;
    struct stat st;
    cairn_err rc;
    int r;

    *out = NULL;
    m = calloc(1, sizeof *m);
    if (!m)
        return err_set(CAIRN_ENOMEM, "%s: out of memory", base_name(db_path));
    snprintf(m->name, sizeof m->name, "%s", base_name(db_path));

    if (stat(db_path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = err_set(CAIRN_ESOURCE, "%s: file is missing", m->name);
        else
            rc = err_errno(errno, m->name);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(CAIRN_ESOURCE, "%s: not a regular file", m->name);
        goto fail;
    }
    if (st.st_size == 0) {
        rc = err_set(CAIRN_ESOURCE, "%s: file is empty", m->name);
        goto fail;
    }
    /* immutable=1 opens without locks or side files, but would ignore
     * transactions still sitting in a -wal file: only use it without one. */
    wal = malloc(strlen(db_path) + 5);
    if (!wal) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", m->name);
        goto fail;
    }
    sprintf(wal, "%s-wal", db_path);
    const int has_wal = stat(wal, &st) == 0 && st.st_size > 0;
    if (!(uri = make_uri(db_path, !has_wal))) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", m->name);
        goto fail;
    }
    r = sqlite3_open_v2(uri, &m->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                        NULL);
    if (r != SQLITE_OK) {
        rc = sq_err(m->db, r, m->name);
        goto fail;
    }
    sqlite3_extended_result_codes(m->db, 1);
    /* The database is untrusted input: no schema-defined functions with side
     * effects, no writable schema, and bounded value sizes. */
    if ((r = sqlite3_db_config(m->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL)) != SQLITE_OK ||
        (r = sqlite3_db_config(m->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL)) !=
            SQLITE_OK) {
        rc = sq_err(m->db, r, m->name);
        goto fail;
    }
    sqlite3_limit(m->db, SQLITE_LIMIT_LENGTH, MS_SQL_MAX);
    free(uri);
    free(wal);
    *out = m;
    return CAIRN_OK;
fail:
    free(uri);
    free(wal);
    ms_manifest_close(m);
    return rc;
}

/* A connection that reads each page once (a scan in the table's order, an
 * integrity check) gains nothing from SQLite's 2 MB page cache; it held
 * that much beside the key derivation's peak (device_contents_begin).  Not
 * for an ordered scan: its sort spills to files past cache_size. */
static cairn_err db_small_cache(ms_manifest *m)
{
    const int r = sqlite3_exec(m->db, "PRAGMA cache_size = 32", NULL, NULL, NULL);
    return r == SQLITE_OK ? CAIRN_OK : sq_err(m->db, r, m->name);
}

/* SQLite's progress handler: nonzero interrupts the statement running. */
static int stop_asked(void *stop)
{
    return atomic_load_explicit((const atomic_int *)stop, memory_order_relaxed);
}

/* ordered 0: the rows in the table's own order, for a reader that sorts
 * what it keeps itself (SQLite's sort of every row was a fifth of reading a
 * changed 19,000-row Manifest.db).  quick_check 0: the caller runs
 * db_quick_check itself (beside the scan, quick_check_start).  stop (or
 * NULL): every statement on the connection gives up once it is nonzero. */
static cairn_err manifest_open(const char *db_path, int ordered, int quick_check,
                               const atomic_int *stop, ms_manifest **out)
{
    ms_manifest *m = NULL;
    int r;
    *out = NULL;
    cairn_err rc = db_open(db_path, &m);
    if (rc)
        return rc;
    if (stop) /* a quick_check of a 1.2 GB Manifest.db takes seconds */
        sqlite3_progress_handler(m->db, 1000, stop_asked, (void *)stop);
    if (!ordered && (rc = db_small_cache(m)) != CAIRN_OK)
        goto fail;
    if ((quick_check && (rc = db_quick_check(m)) != CAIRN_OK) ||
        (rc = db_schema_check(m)) != CAIRN_OK)
        goto fail;
    if (!(m->xx = XXH3_createState())) {
        rc = err_set(CAIRN_ENOMEM, "%s: out of memory", m->name);
        goto fail;
    }
    r = sqlite3_prepare_v2(m->db,
                           ordered ? "SELECT fileID, domain, relativePath, flags, file FROM Files "
                                     "ORDER BY domain, relativePath, fileID"
                                   : "SELECT fileID, domain, relativePath, flags, file FROM Files",
                           -1, &m->it, NULL);
    if (r != SQLITE_OK) {
        rc = sq_err(m->db, r, m->name);
        goto fail;
    }
    *out = m;
    return CAIRN_OK;
fail:
    ms_manifest_close(m);
    return rc;
}

void ms_manifest_close(ms_manifest *m)
{
    if (!m)
        return;
    sqlite3_finalize(m->it);
    sqlite3_close(m->db); /* read-only and every statement finalized: cannot be busy */
    ms_file_clear(&m->cur);
    XXH3_freeState(m->xx);
    free(m);
}

void ms_manifest_set_known(ms_manifest *m, ms_known_fn known, void *ctx)
{
    m->known = known;
    m->known_ctx = ctx;
}

/* ms_file.row_digest of the current row. */
static void row_digest(ms_manifest *m, const char *id, int64_t flags, const void *blob, size_t n,
                       uint8_t out[MS_ROW_DIGEST_LEN])
{
    uint8_t le[8];
    put_u64le(le, (uint64_t)flags);
    XXH3_128bits_reset(m->xx);
    XXH3_128bits_update(m->xx, id, 40);
    XXH3_128bits_update(m->xx, le, sizeof le);
    XXH3_128bits_update(m->xx, blob, n);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(m->xx));
    memcpy(out, c.digest, MS_ROW_DIGEST_LEN);
}

cairn_err ms_manifest_count(ms_manifest *m, uint64_t *count)
{
    sqlite3_stmt *st = NULL;
    cairn_err rc = CAIRN_OK;
    *count = 0;
    int r = sqlite3_prepare_v2(m->db, "SELECT COUNT(*) FROM Files", -1, &st, NULL);
    if (r != SQLITE_OK)
        return sq_err(m->db, r, m->name);
    if ((r = sqlite3_step(st)) != SQLITE_ROW)
        rc = sq_err(m->db, r, m->name);
    else
        *count = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* A text column that must be a C string of bounded length. */
static int row_text(sqlite3_stmt *st, int col, const char **s)
{
    if (sqlite3_column_type(st, col) != SQLITE_TEXT)
        return 0;
    const char *const p = (const char *)sqlite3_column_text(st, col);
    const int n = sqlite3_column_bytes(st, col);
    if (!p || n > MS_STR_MAX || strlen(p) != (size_t)n)
        return 0;
    *s = p;
    return 1;
}

/* fileID names a path in the backup folder: only 40 lowercase hex digits may
 * pass, or a row could point anywhere ("../../etc/passwd"). */
static int valid_file_id(const char *id)
{
    size_t i;
    for (i = 0; id[i]; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return i == 40;
}

/* Names the current row in a message: "HomeDomain/Library/x (0a1b...)". */
static void row_label(sqlite3_stmt *st, char *buf, size_t cap)
{
    char d[96], p[160], id[48];
    const char *s;
    int n;
    s = (const char *)sqlite3_column_text(st, 1);
    n = sqlite3_column_bytes(st, 1);
    sanitize(d, sizeof d, s ? s : "", s ? (size_t)n : 0);
    s = (const char *)sqlite3_column_text(st, 2);
    n = sqlite3_column_bytes(st, 2);
    sanitize(p, sizeof p, s ? s : "", s ? (size_t)n : 0);
    s = (const char *)sqlite3_column_text(st, 0);
    n = sqlite3_column_bytes(st, 0);
    sanitize(id, sizeof id, s ? s : "", s ? (size_t)n : 0);
    snprintf(buf, cap, "%s/%s (%s)", d, p, id);
}

static cairn_err bad_row(ms_manifest *m, const char *what)
{
    char label[320];
    row_label(m->it, label, sizeof label);
    return err_set(CAIRN_ECORRUPT, "%s: %s: %s", m->name, label, what);
}

cairn_err ms_manifest_next(ms_manifest *m, const ms_file **out)
{
    ms_file *const f = &m->cur;
    const char *id, *domain, *path;
    char ctx[MS_NAME_MAX + 328], label[320];

    *out = NULL;
    if (m->dead != CAIRN_OK)
        return err_set(m->dead, "%s: iteration stopped after an earlier error", m->name);
    ms_file_clear(f);
    const int r = sqlite3_step(m->it);
    if (r == SQLITE_DONE)
        return CAIRN_OK;
    if (r != SQLITE_ROW)
        return m->dead = sq_err(m->db, r, m->name);

    if (!row_text(m->it, 0, &id) || !valid_file_id(id))
        return bad_row(m, "fileID is not 40 hex digits");
    if (!row_text(m->it, 1, &domain))
        return bad_row(m, "domain is not a valid string");
    if (!row_text(m->it, 2, &path))
        return bad_row(m, "relativePath is not a valid string");
    if (sqlite3_column_type(m->it, 3) != SQLITE_INTEGER)
        return bad_row(m, "flags is not an integer");
    if (sqlite3_column_type(m->it, 4) != SQLITE_BLOB)
        return bad_row(m, "no MBFile record");
    const void *const blob = sqlite3_column_blob(m->it, 4);
    const size_t n = blob ? (size_t)sqlite3_column_bytes(m->it, 4) : 0;
    const int64_t flags = sqlite3_column_int64(m->it, 3);
    uint8_t digest[MS_ROW_DIGEST_LEN];
    row_digest(m, id, flags, blob, n, digest);
    if (m->known) {
        f->file_id = id;
        f->domain = domain;
        f->relative_path = path;
        f->flags = flags;
        memcpy(f->row_digest, digest, sizeof digest);
        if (m->known(m->known_ctx, f)) {
            f->known = 1;
            *out = f;
            return CAIRN_OK;
        }
    }
    const cairn_err rc = ms_mbfile_decode(blob, n, f);
    if (rc != CAIRN_OK) {
        row_label(m->it, label, sizeof label);
        snprintf(ctx, sizeof ctx, "%s: %s", m->name, label);
        return err_wrap(rc, ctx);
    }
    f->file_id = id;
    f->domain = domain;
    f->relative_path = path;
    f->flags = flags;
    memcpy(f->row_digest, digest, sizeof digest);
    *out = f;
    return CAIRN_OK;
}

/* ---- completeness ------------------------------------------------------- */

/* A column's value as ORDER BY sees it: NULL, then numbers, then text,
 * then blobs; text and blobs by their bytes (BINARY collation). */
struct sort_col {
    int cls;
    double num;
    const unsigned char *bytes;
    size_t len;
};

/* problems[i]'s (domain, relativePath, fileID) */
struct sort_key {
    struct sort_col col[3];
};

struct report_box {
    ms_report pub;
    struct arena arena;
    struct sort_key keys[MS_REPORT_EXAMPLES];
};

static void sort_key_of(sqlite3_stmt *st, struct sort_key *k)
{
    static const int cols[3] = {1, 2, 0};
    for (int i = 0; i < 3; i++) {
        struct sort_col *const c = &k->col[i];
        const int type = sqlite3_column_type(st, cols[i]);
        memset(c, 0, sizeof *c);
        c->cls = type == SQLITE_NULL ? 0 : type == SQLITE_TEXT ? 2 : type == SQLITE_BLOB ? 3 : 1;
        if (c->cls == 1)
            c->num = sqlite3_column_double(st, cols[i]);
        else if (c->cls > 1) {
            c->bytes =
                c->cls == 2 ? sqlite3_column_text(st, cols[i]) : sqlite3_column_blob(st, cols[i]);
            c->len = c->bytes ? (size_t)sqlite3_column_bytes(st, cols[i]) : 0;
        }
    }
}

static int sort_key_cmp(const struct sort_key *a, const struct sort_key *b)
{
    for (int i = 0; i < 3; i++) {
        const struct sort_col *const x = &a->col[i], *const y = &b->col[i];
        if (x->cls != y->cls)
            return x->cls < y->cls ? -1 : 1;
        if (x->cls == 1 && x->num != y->num)
            return x->num < y->num ? -1 : 1;
        const size_t n = x->len < y->len ? x->len : y->len;
        const int d = n ? memcmp(x->bytes, y->bytes, n) : 0;
        if (d)
            return d;
        if (x->len != y->len)
            return x->len < y->len ? -1 : 1;
    }
    return 0;
}

void ms_report_free(ms_report *r)
{
    struct report_box *const box = (struct report_box *)r;
    if (!box)
        return;
    arena_free(&box->arena);
    free(box);
}

/* Keeps the problem of the current row if it is among the first
 * MS_REPORT_EXAMPLES in (domain, relativePath, fileID) order: the rows come
 * unsorted, the examples are the same as if they came sorted. */
static cairn_err add_problem(struct report_box *box, ms_problem_kind kind, sqlite3_stmt *st)
{
    ms_report *const r = &box->pub;
    struct sort_key key;
    sort_key_of(st, &key);
    size_t at = r->n_problems;
    while (at > 0 && sort_key_cmp(&key, &box->keys[at - 1]) < 0)
        at--;
    if (at == MS_REPORT_EXAMPLES)
        return CAIRN_OK;
    /* the key's bytes are copied before sqlite3_column_text below may
     * convert the values they point into */
    for (int i = 0; i < 3; i++) {
        struct sort_col *const c = &key.col[i];
        if (c->len) {
            unsigned char *const copy = arena_alloc(&box->arena, c->len);
            if (!copy)
                return err_set(CAIRN_ENOMEM, "validate: out of memory");
            memcpy(copy, c->bytes, c->len);
            c->bytes = copy;
        }
    }
    const size_t kept = r->n_problems < MS_REPORT_EXAMPLES ? r->n_problems : MS_REPORT_EXAMPLES - 1;
    memmove(&r->problems[at + 1], &r->problems[at], (kept - at) * sizeof r->problems[0]);
    memmove(&box->keys[at + 1], &box->keys[at], (kept - at) * sizeof box->keys[0]);
    box->keys[at] = key;
    ms_problem *const p = &r->problems[at];
    const char **const dst[3] = {&p->file_id, &p->domain, &p->relative_path};
    /* Kept as stored (cut at a NUL or the string limit, as a bad row may hold
     * anything); whoever prints them sanitizes. */
    for (int col = 0; col < 3; col++) {
        const char *const s = (const char *)sqlite3_column_text(st, col);
        const size_t n = s ? strnlen(s, MS_STR_MAX) : 0;
        if (!(*dst[col] = arena_strndup(&box->arena, s ? s : "", n)))
            return err_set(CAIRN_ENOMEM, "validate: out of memory");
    }
    p->kind = kind;
    r->n_problems = kept + 1;
    return CAIRN_OK;
}

/* The content file of a flags==1 row must be a regular file. */
static cairn_err check_content(int dfd, const char *id, int *present)
{
    char rel[2 + 1 + 40 + 1];
    struct stat st;
    snprintf(rel, sizeof rel, "%.2s/%s", id, id);
    if (fstatat(dfd, rel, &st, 0) == 0) {
        *present = S_ISREG(st.st_mode);
        return CAIRN_OK;
    }
    if (errno == ENOENT || errno == ENOTDIR) {
        *present = 0;
        return CAIRN_OK;
    }
    return err_errno(errno, rel);
}

/* The content files of one xx/ folder, listed once: a readdir of the 256
 * folders instead of a stat per file (19,000 stats were a fifth of reading
 * a changed Manifest.db).  Only a name listed as a regular file is taken
 * as present without a stat; anything else listed is stat'ed as before. */
struct content_name {
    uint8_t id[20]; /* the name, 40 lowercase hex digits, as bytes: 500,000 files list in 10 MB */
    unsigned char type;
};

struct content_dir {
    int state; /* 0 not listed yet, 1 listed, 2 not listable: stat each file */
    size_t n;
    struct content_name *names;
};

static int content_name_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 20);
}

static cairn_err list_content_dir(int dfd, const char *id, struct content_dir *d)
{
    char sub[3] = {id[0], id[1], '\0'};
    size_t cap = 0;
    d->state = 2;
    const int fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            d->state = 1; /* nothing in it: every file missing */
        return CAIRN_OK;
    }
    DIR *const dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return CAIRN_OK;
    }
    for (;;) {
        errno = 0;
        const struct dirent *const e = readdir(dir);
        if (!e)
            break;
        if (!valid_file_id(e->d_name)) /* nothing else can match a row */
            continue;
        if (d->n == cap) {
            const size_t ncap = cap ? 2 * cap : 64;
            struct content_name *const grown = realloc(d->names, ncap * sizeof *grown);
            if (!grown) {
                closedir(dir);
                return err_set(CAIRN_ENOMEM, "validate: out of memory");
            }
            d->names = grown;
            cap = ncap;
        }
        fs_unhex(e->d_name, d->names[d->n].id, 20);
        d->names[d->n++].type = e->d_type;
    }
    /* a listing cut short by an error: stat each file, as without one */
    if (errno == 0)
        d->state = 1;
    closedir(dir);
    if (d->n < cap) {
        struct content_name *const fit = realloc(d->names, d->n * sizeof *fit);
        if (fit || !d->n)
            d->names = fit;
    }
    if (d->n > 1)
        qsort(d->names, d->n, sizeof *d->names, content_name_cmp);
    return CAIRN_OK;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

/* check_content through the listing of id's folder (id: 40 lowercase hex
 * digits, as ms_manifest_next lets through). */
static cairn_err content_present(int dfd, struct content_dir dirs[256], const char *id,
                                 int *present)
{
    uint8_t key[20];
    struct content_dir *const d = &dirs[hex_digit(id[0]) * 16 + hex_digit(id[1])];
    cairn_err rc = d->state ? CAIRN_OK : list_content_dir(dfd, id, d);
    if (rc || d->state == 2)
        return rc ? rc : check_content(dfd, id, present);
    fs_unhex(id, key, sizeof key);
    const struct content_name *const hit =
        d->n ? bsearch(key, d->names, d->n, sizeof *d->names, content_name_cmp) : NULL;
    if (!hit) {
        *present = 0;
        return CAIRN_OK;
    }
    if (hit->type == DT_REG) {
        *present = 1;
        return CAIRN_OK;
    }
    return check_content(dfd, id, present);
}

static void content_dirs_free(struct content_dir *dirs)
{
    if (!dirs)
        return;
    for (int i = 0; i < 256; i++)
        free(dirs[i].names);
    free(dirs);
}

static cairn_err legacy_or_missing(int dfd)
{
    struct stat st;
    if (fstatat(dfd, "Manifest.db", &st, 0) == 0 || errno != ENOENT)
        return CAIRN_OK; /* ms_manifest_open reports the details */
    if (fstatat(dfd, "Manifest.mbdb", &st, 0) == 0)
        return err_set(CAIRN_ESOURCE,
                       "Manifest.mbdb: legacy (pre-iOS 10) backups are not supported yet");
    return CAIRN_OK;
}

/* PRAGMA quick_check on a connection and a thread of their own, beside the
 * scan of ms_validate_rows: both read every page, so on two cores the check
 * adds no wall time.  Its verdict still comes first, as when it ran before
 * the scan. */
typedef struct quick_check_job {
    pthread_t thread;
    const char *db_path;
    const atomic_int *stop;
    cairn_err rc;
    char msg[ERR_MSG_MAX];
} quick_check_job;

static void *quick_check_main(void *arg)
{
    quick_check_job *const j = arg;
    ms_manifest *m = NULL;
    j->rc = db_open(j->db_path, &m);
    if (!j->rc)
        j->rc = db_small_cache(m);
    if (!j->rc && j->stop)
        sqlite3_progress_handler(m->db, 1000, stop_asked, (void *)j->stop);
    if (!j->rc)
        j->rc = db_quick_check(m);
    if (j->rc)
        snprintf(j->msg, sizeof j->msg, "%s", err_msg());
    ms_manifest_close(m);
    return NULL;
}

/* 1: the check runs; 0: it could not start (the caller checks as it opens). */
static int quick_check_start(quick_check_job *j, const char *db_path, const atomic_int *stop)
{
    memset(j, 0, sizeof *j);
    j->db_path = db_path;
    j->stop = stop;
    return pthread_create(&j->thread, NULL, quick_check_main, j) == 0;
}

/* Waits for the check: CAIRN_OK, or its error with its message. */
static cairn_err quick_check_end(quick_check_job *j)
{
    pthread_join(j->thread, NULL);
    return j->rc ? err_set(j->rc, "%s", j->msg) : CAIRN_OK;
}

cairn_err ms_validate(const char *dir, const char *db_path, ms_report **out)
{
    const ms_scan scan = {0};
    return ms_validate_rows(dir, db_path, &scan, out);
}

cairn_err ms_validate_each(const char *dir, const char *db_path, ms_row_fn fn, void *ctx,
                           ms_report **out)
{
    const ms_scan scan = {.fn = fn, .ctx = ctx};
    return ms_validate_rows(dir, db_path, &scan, out);
}

cairn_err ms_validate_rows(const char *dir, const char *db_path, const ms_scan *scan,
                           ms_report **out)
{
    ms_meta *meta = NULL;
    ms_manifest *m = NULL;
    struct report_box *box = NULL;
    struct content_dir *dirs = NULL;
    char *own_path = NULL;
    const ms_file *f;
    cairn_err rc;
    int dfd = -1;
    quick_check_job check;
    int checking = 0;

    *out = NULL;
    if ((rc = ms_read_meta(dir, &meta)) != CAIRN_OK)
        return rc;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = err_errno(errno, dir);
        goto fail;
    }
    if (!db_path) {
        if ((rc = legacy_or_missing(dfd)) != CAIRN_OK)
            goto fail;
        if (meta->is_encrypted) {
            rc = err_set(CAIRN_EINVAL,
                         "Manifest.db: backup is encrypted, validation needs the decrypted copy");
            goto fail;
        }
        if ((rc = join_path(dir, "Manifest.db", &own_path)) != CAIRN_OK)
            goto fail;
        db_path = own_path;
    }
    checking = quick_check_start(&check, db_path, scan->stop);
    if ((rc = manifest_open(db_path, 0, !checking, scan->stop, &m)) != CAIRN_OK)
        goto fail;
    ms_manifest_set_known(m, scan->known, scan->ctx);

    box = calloc(1, sizeof *box);
    dirs = calloc(256, sizeof *dirs);
    if (!box || !dirs) {
        rc = err_set(CAIRN_ENOMEM, "validate: out of memory");
        goto fail;
    }
    ms_report *const r = &box->pub;
    if (meta->snapshot_state &&
        !(r->snapshot_state =
              arena_strndup(&box->arena, meta->snapshot_state, strlen(meta->snapshot_state)))) {
        rc = err_set(CAIRN_ENOMEM, "validate: out of memory");
        goto fail;
    }

    for (;;) {
        if (scan->stop && stop_asked((void *)scan->stop)) {
            rc = CAIRN_EINTERRUPTED; /* a small database never calls the progress handler */
            goto fail;
        }
        rc = ms_manifest_next(m, &f);
        if (rc == CAIRN_ECORRUPT) {
            r->rows++;
            r->bad_records++;
            if ((rc = add_problem(box, MS_PROBLEM_BAD_RECORD, m->it)) != CAIRN_OK)
                goto fail;
            continue;
        }
        if (rc != CAIRN_OK)
            goto fail;
        if (!f)
            break;
        r->rows++;
        if (scan->fn && (rc = scan->fn(scan->ctx, f)) != CAIRN_OK)
            goto fail;
        if (f->flags != MS_FLAG_FILE)
            continue;
        r->files++;
        int present = 0;
        if ((rc = content_present(dfd, dirs, f->file_id, &present)) != CAIRN_OK)
            goto fail;
        if (!present) {
            r->missing++;
            if ((rc = add_problem(box, MS_PROBLEM_MISSING_CONTENT, m->it)) != CAIRN_OK)
                goto fail;
        }
    }

    if (checking) {
        checking = 0;
        if ((rc = quick_check_end(&check)) != CAIRN_OK)
            goto fail;
    }

    /* Headline: the state first (it explains missing files), then files. */
    char shown[64], sd[96], sp[160], sid[48];
    const ms_problem *const p0 = r->n_problems ? &r->problems[0] : NULL;
    rc = CAIRN_OK;
    if (!r->snapshot_state)
        rc = err_set(CAIRN_ESOURCE, "Status.plist: SnapshotState is missing, backup is "
                                    "incomplete");
    else if (strcmp(r->snapshot_state, "finished") != 0)
        rc = err_set(CAIRN_ESOURCE, "Status.plist: SnapshotState is '%s', backup is incomplete",
                     sanitize(shown, sizeof shown, r->snapshot_state, strlen(r->snapshot_state)));
    else if (r->missing && p0 && p0->kind == MS_PROBLEM_MISSING_CONTENT)
        rc = err_set(
            CAIRN_ESOURCE,
            "%.2s/%s: content file is missing for %s/%s (%" PRIu64 " of %" PRIu64 " files missing)",
            p0->file_id, p0->file_id, sanitize(sd, sizeof sd, p0->domain, strlen(p0->domain)),
            sanitize(sp, sizeof sp, p0->relative_path, strlen(p0->relative_path)), r->missing,
            r->files);
    else if (r->missing || r->bad_records)
        rc = err_set(CAIRN_ESOURCE,
                     "Manifest.db: %" PRIu64 " records do not decode, %" PRIu64
                     " content files missing; first: %s/%s (%s)",
                     r->bad_records, r->missing,
                     p0 ? sanitize(sd, sizeof sd, p0->domain, strlen(p0->domain)) : "?",
                     p0 ? sanitize(sp, sizeof sp, p0->relative_path, strlen(p0->relative_path))
                        : "?",
                     p0 ? sanitize(sid, sizeof sid, p0->file_id, strlen(p0->file_id)) : "?");
    r->complete = rc == CAIRN_OK;

    ms_manifest_close(m);
    ms_meta_free(meta);
    free(own_path);
    close(dfd);
    content_dirs_free(dirs);
    *out = r;
    return rc;
fail:
    if (checking) {
        const cairn_err checked = quick_check_end(&check);
        rc = checked ? checked : rc; /* the check's verdict first, as when it ran first */
    }
    if (scan->stop && stop_asked((void *)scan->stop))
        rc = err_set(CAIRN_EINTERRUPTED, "Manifest.db: reading stopped");
    content_dirs_free(dirs);
    ms_report_free(box ? &box->pub : NULL);
    ms_manifest_close(m);
    ms_meta_free(meta);
    free(own_path);
    if (dfd >= 0)
        close(dfd);
    return rc;
}
