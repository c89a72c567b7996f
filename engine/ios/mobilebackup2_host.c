#include "engine/ios/mobilebackup2_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include <plist/plist.h>

/* The raw file stream of DLMessageDownloadFiles and DLMessageUploadFiles:
 * per file a length-prefixed name, then blocks of (length + 1, code, data)
 * with 32-bit big-endian lengths. */
enum {
    CODE_SUCCESS = 0x00,
    CODE_ERROR_LOCAL = 0x06,
    CODE_ERROR_REMOTE = 0x0b,
    CODE_FILE_DATA = 0x0c,
    BLOCK = 32768,
    NAME_MAX_LEN = 4096, /* idevicebackup2 refuses longer names */
    MESSAGE_MAX = 4096,  /* of a device's error text, the part kept */
    PROGRESS_BYTES = 8 << 20,
    MAC_EPOCH = 978307200,
};

/* Status codes the device understands (idevicebackup2's errno mapping). */
enum { DEV_ENOENT = -6, DEV_EEXIST = -7, DEV_MULTI_STATUS = -13, DEV_UNSUPPORTED = -1 };

/* The device reported "not enough free disk space on the computer". */
enum { DEVICE_ERROR_NO_SPACE = 105 };

typedef struct host {
    idev *d;
    mobilebackup2_client_t mb2;
    stream *st; /* NULL: no folder (password change) */
    const char *root;
    size_t root_len;
    const char *space_path;
    const mb2host_events *ev;
    mb2host_result *r;
    int finished; /* the device sent its final status */
    int disconnected;
    uint64_t error_code;
    char error_desc[512];
    uint64_t progress_mark;
    uint8_t buf[5 + BLOCK];
} host;

static cairn_err lost(host *h)
{
    return err_set(CAIRN_ESOURCE, "device %s: the connection was lost (unplugged?)",
                   idev_udid(h->d));
}

static void warn(host *h, const char *path, const char *msg)
{
    if (h->ev && h->ev->warn)
        h->ev->warn(h->ev->ctx, path, msg);
}

static void note(host *h, const char *msg)
{
    if (h->ev && h->ev->note)
        h->ev->note(h->ev->ctx, msg);
}

static void progress(host *h, int force)
{
    const mb2host_progress *const p = &h->r->done;
    const uint64_t moved = p->bytes_received + p->bytes_sent;
    if (!force && moved - h->progress_mark < PROGRESS_BYTES)
        return;
    h->progress_mark = moved;
    if (h->ev && h->ev->progress)
        h->ev->progress(h->ev->ctx, p);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static cairn_err send_all(host *h, const void *p, uint32_t len)
{
    uint32_t sent = 0;
    if (len == 0)
        return CAIRN_OK;
    if (idev_mb2_send_raw(h->mb2, p, len, &sent) != MOBILEBACKUP2_E_SUCCESS || sent != len)
        return lost(h);
    return CAIRN_OK;
}

/* receive_raw returns short only when the connection failed or closed */
static cairn_err recv_all(host *h, void *p, uint32_t len)
{
    uint32_t got = 0;
    if (len == 0)
        return CAIRN_OK;
    if (idev_mb2_receive_raw(h->mb2, p, len, &got) != MOBILEBACKUP2_E_SUCCESS || got != len)
        return lost(h);
    return CAIRN_OK;
}

static cairn_err recv_be32(host *h, uint32_t *v)
{
    uint8_t b[4];
    const cairn_err rc = recv_all(h, b, 4);
    *v =
        rc ? 0 : (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
    return rc;
}

static cairn_err status(host *h, int code, const char *desc, plist_t payload)
{
    return idev_mb2_send_status_response(h->mb2, code, desc, payload) == MOBILEBACKUP2_E_SUCCESS
               ? CAIRN_OK
               : lost(h);
}

static cairn_err status_empty_dict(host *h, int code, const char *desc)
{
    plist_t empty = plist_new_dict();
    const cairn_err rc = status(h, code, desc, empty);
    plist_free(empty);
    return rc;
}

/* The stream path of a device path "<root>/...": NULL if outside it. */
static const char *local_path(const host *h, const char *p)
{
    if (!h->st || strncmp(p, h->root, h->root_len) != 0)
        return NULL;
    if (p[h->root_len] == '\0')
        return "";
    return p[h->root_len] == '/' ? p + h->root_len + 1 : NULL;
}

/* Whether a stream failure concerns the request only (answered with an
 * error status) rather than the store (which ends the session). */
static int request_level(cairn_err rc)
{
    return rc == CAIRN_ENOTFOUND || rc == CAIRN_EEXIST || rc == CAIRN_EINVAL;
}

static int device_code(cairn_err rc)
{
    return rc == CAIRN_ENOTFOUND ? DEV_ENOENT : rc == CAIRN_EEXIST ? DEV_EEXIST : DEV_UNSUPPORTED;
}

static const char *device_text(cairn_err rc)
{
    return rc == CAIRN_ENOTFOUND ? strerror(ENOENT)
           : rc == CAIRN_EEXIST  ? strerror(EEXIST)
                                 : strerror(EINVAL);
}

static char *string_item(plist_t arr, uint32_t i)
{
    char *s = NULL;
    plist_t v = plist_array_get_item(arr, i);
    if (v && plist_get_node_type(v) == PLIST_STRING)
        plist_get_string_val(v, &s);
    return s;
}

static void device_percent(host *h, plist_t msg, uint32_t i)
{
    plist_t v = plist_array_get_item(msg, i);
    double pc = 0;
    if (v && plist_get_node_type(v) == PLIST_REAL) {
        plist_get_real_val(v, &pc);
        if (pc > 0)
            h->r->done.device_percent = pc;
    }
}

/* ---- files to the device ---- */

typedef struct send_ctx {
    host *h;
    int lost; /* the connection failed (not the store) */
} send_ctx;

static cairn_err send_piece(void *ctx, const uint8_t *data, size_t len)
{
    send_ctx *const sc = ctx;
    host *const h = sc->h;
    while (len > 0) {
        const uint32_t n = len > BLOCK ? BLOCK : (uint32_t)len;
        put_be32(h->buf, n + 1);
        h->buf[4] = CODE_FILE_DATA;
        memcpy(h->buf + 5, data, n);
        const cairn_err rc = send_all(h, h->buf, n + 5);
        if (rc) {
            sc->lost = 1;
            return rc;
        }
        h->r->done.bytes_sent += n;
        data += n;
        len -= n;
    }
    progress(h, 0);
    return CAIRN_OK;
}

static void add_file_error(plist_t *errs, const char *path, int code, const char *text)
{
    if (!*errs)
        *errs = plist_new_dict();
    plist_t e = plist_new_dict();
    plist_dict_set_item(e, "DLFileErrorString", plist_new_string(text));
    plist_dict_set_item(e, "DLFileErrorCode", plist_new_uint((uint64_t)(int64_t)code));
    plist_dict_set_item(*errs, path, e);
}

static cairn_err send_error_block(host *h, const char *text)
{
    const size_t len = strlen(text);
    put_be32(h->buf, (uint32_t)len + 1);
    h->buf[4] = CODE_ERROR_LOCAL;
    memcpy(h->buf + 5, text, len);
    return send_all(h, h->buf, (uint32_t)len + 5);
}

/* One file of a DLMessageDownloadFiles; *failed when it could not be sent. */
static cairn_err send_file(host *h, const char *path, plist_t *errs, int *failed)
{
    const uint32_t plen = (uint32_t)strlen(path);
    uint8_t hdr[4];
    stream_entry e;
    put_be32(hdr, plen);
    cairn_err rc = send_all(h, hdr, 4);
    if (!rc)
        rc = send_all(h, path, plen);
    if (rc)
        return rc;
    const char *const local = local_path(h, path);
    cairn_err frc = local && *local ? stream_stat(h->st, local, &e) : CAIRN_ENOTFOUND;
    if (!frc && e.is_dir)
        frc = CAIRN_ENOTFOUND;
    if (frc && !request_level(frc))
        return frc;
    if (frc) {
        /* a host without the file: the device learns it and goes on */
        *failed = 1;
        add_file_error(errs, path, DEV_ENOENT, strerror(ENOENT));
        return send_error_block(h, strerror(ENOENT));
    }
    send_ctx sc = {h, 0};
    rc = stream_read(h->st, local, send_piece, &sc);
    if (rc && sc.lost)
        return rc;
    if (rc) {
        /* damaged in the store: this file fails, the rest goes on */
        warn(h, path, err_msg());
        h->r->refused++;
        *failed = 1;
        add_file_error(errs, path, -EIO, strerror(EIO));
        return send_error_block(h, strerror(EIO));
    }
    h->r->done.files_sent++;
    put_be32(h->buf, 1);
    h->buf[4] = CODE_SUCCESS;
    return send_all(h, h->buf, 5);
}

static cairn_err handle_download(host *h, plist_t msg)
{
    plist_t files = plist_array_get_item(msg, 1);
    plist_t errs = NULL;
    cairn_err rc = CAIRN_OK;
    const uint32_t n =
        files && plist_get_node_type(files) == PLIST_ARRAY ? plist_array_get_size(files) : 0;
    device_percent(h, msg, 3);
    for (uint32_t i = 0; i < n && !rc; i++) {
        char *const path = string_item(files, i);
        int failed = 0;
        if (!path)
            continue;
        rc = send_file(h, path, &errs, &failed);
        free(path);
        /* as idevicebackup2: the first failure ends the list, the device
         * asks again for what it still wants */
        if (failed)
            break;
    }
    if (!rc) {
        uint8_t zero[4] = {0, 0, 0, 0};
        rc = send_all(h, zero, 4);
    }
    if (!rc && errs)
        rc = status(h, DEV_MULTI_STATUS, "Multi status", errs);
    else if (!rc)
        rc = status_empty_dict(h, 0, NULL);
    plist_free(errs);
    progress(h, 1);
    return rc;
}

/* ---- files from the device ---- */

/* A length-prefixed name; *end when the length is 0 (no more files). */
static cairn_err recv_name(host *h, char **out, int *end)
{
    uint32_t n;
    *out = NULL;
    cairn_err rc = recv_be32(h, &n);
    if (rc)
        return rc;
    if (n == 0) {
        *end = 1;
        return CAIRN_OK;
    }
    if (n > NAME_MAX_LEN)
        return err_set(CAIRN_ESOURCE, "device %s: sent a file name of %u bytes", idev_udid(h->d),
                       n);
    char *const s = malloc(n + 1);
    if (!s)
        return err_set(CAIRN_ENOMEM, "out of memory");
    rc = recv_all(h, s, n);
    if (rc) {
        free(s);
        return rc;
    }
    s[n] = '\0';
    *out = s;
    return CAIRN_OK;
}

/* Reads len bytes of a block's payload into the file (or nowhere). */
static cairn_err recv_payload(host *h, uint32_t len, stream_file *f, char *keep, size_t cap)
{
    size_t kept = 0;
    while (len > 0) {
        const uint32_t n = len > BLOCK ? BLOCK : len;
        cairn_err rc = recv_all(h, h->buf, n);
        if (!rc && f)
            rc = stream_file_write(f, h->buf, n);
        if (rc)
            return rc;
        if (keep && kept + 1 < cap) {
            const size_t k = n < cap - 1 - kept ? n : cap - 1 - kept;
            memcpy(keep + kept, h->buf, k);
            kept += k;
        }
        len -= n;
    }
    if (keep)
        keep[kept] = '\0';
    return CAIRN_OK;
}

/* One file of a DLMessageUploadFiles; *end when the device closed the
 * list right after its data. */
static cairn_err receive_file(host *h, const char *dname, const char *fname, int *end)
{
    uint32_t n;
    uint8_t code = 0, last = 0;
    stream_file *f = NULL;
    char text[MESSAGE_MAX];
    cairn_err rc = recv_be32(h, &n);
    if (!rc && n == 0)
        rc =
            err_set(CAIRN_ESOURCE, "device %s: %s: a file without a block", idev_udid(h->d), fname);
    if (!rc)
        rc = recv_all(h, &code, 1);
    if (rc)
        return rc;
    const char *const local = local_path(h, fname);
    cairn_err frc = local && *local
                        ? stream_file_begin(h->st, local, &f)
                        : err_set(CAIRN_EINVAL, "outside the backup folder %s", h->root);
    if (frc && !request_level(frc))
        return frc;
    /* the metadata comes as Snapshot/<name> and is moved over <name> once
     * the session is done: compared with that, it is mostly kept */
    if (!frc && strncmp(local, "Snapshot/", 9) == 0)
        stream_file_compare_with(f, local + 9);
    if (frc) {
        /* the data is read and dropped; the snapshot will lack the file */
        warn(h, fname, err_msg());
        h->r->refused++;
        f = NULL;
    }
    while (code == CODE_FILE_DATA) {
        rc = recv_payload(h, n - 1, f, NULL, 0);
        if (!rc)
            h->r->done.bytes_received += n - 1;
        if (!rc)
            rc = recv_be32(h, &n);
        if (rc)
            goto fail;
        progress(h, 0);
        if (n == 0) {
            *end = 1;
            break;
        }
        last = code;
        rc = recv_all(h, &code, 1);
        if (rc)
            goto fail;
    }
    int ok = 1;
    if (!*end) {
        rc = recv_payload(h, n - 1, NULL, text, sizeof text);
        if (rc)
            goto fail;
        /* idevicebackup2: after data, CODE_ERROR_REMOTE only ends the file */
        if (code == CODE_ERROR_REMOTE && last != CODE_FILE_DATA) {
            char msg[MESSAGE_MAX + 64];
            snprintf(msg, sizeof msg, "the device could not send it: %s", text);
            warn(h, dname, msg);
            ok = 0;
        } else if (code != CODE_SUCCESS && code != CODE_ERROR_REMOTE) {
            char msg[64];
            snprintf(msg, sizeof msg, "unknown block code 0x%02x from the device", code);
            warn(h, dname, msg);
            ok = 0;
        }
    }
    if (!f)
        return CAIRN_OK;
    /* a file the device failed to send is kept as far as it arrived (empty,
     * mostly), as idevicebackup2 leaves it: the backup stays complete, the
     * snapshot is marked partial and the next backup sends the file again */
    if (!ok)
        h->r->failed++;
    rc = stream_file_end(f);
    if (!rc && ok)
        h->r->done.files_received++;
    progress(h, 0);
    return rc;
fail:
    if (f)
        stream_file_abort(f);
    return rc;
}

static cairn_err handle_upload(host *h, plist_t msg)
{
    cairn_err rc = CAIRN_OK;
    device_percent(h, msg, 2);
    for (;;) {
        char *dname = NULL, *fname = NULL;
        int end = 0;
        rc = recv_name(h, &dname, &end);
        if (!rc && !end)
            rc = recv_name(h, &fname, &end);
        if (!rc && !end)
            rc = receive_file(h, dname, fname, &end);
        free(dname);
        free(fname);
        if (rc || end)
            break;
    }
    if (!rc)
        rc = status_empty_dict(h, 0, NULL);
    progress(h, 1);
    return rc;
}

/* ---- the folder ---- */

static cairn_err list_entry(void *ctx, const stream_entry *e)
{
    plist_t dict = ctx;
    plist_t f = plist_new_dict();
    plist_dict_set_item(f, "DLFileType",
                        plist_new_string(e->is_dir ? "DLFileTypeDirectory" : "DLFileTypeRegular"));
    plist_dict_set_item(f, "DLFileSize", plist_new_uint(e->size));
    plist_dict_set_item(f, "DLFileModificationDate",
                        plist_new_date((int32_t)(e->mtime - MAC_EPOCH), 0));
    plist_dict_set_item(dict, e->name, f);
    return CAIRN_OK;
}

static cairn_err handle_list(host *h, plist_t msg)
{
    char *const path = string_item(msg, 1);
    plist_t dict = plist_new_dict();
    const char *const local = path ? local_path(h, path) : NULL;
    cairn_err rc = local ? stream_list(h->st, local, list_entry, dict) : CAIRN_OK;
    /* a folder the host lacks is listed empty, as idevicebackup2 does */
    if (request_level(rc))
        rc = CAIRN_OK;
    if (!rc)
        rc = status(h, 0, NULL, dict);
    plist_free(dict);
    free(path);
    return rc;
}

static cairn_err handle_mkdir(host *h, plist_t msg)
{
    char *const path = string_item(msg, 1);
    const char *const local = path ? local_path(h, path) : NULL;
    cairn_err rc =
        !local   ? err_set(CAIRN_EINVAL, "%s: outside the backup folder", path ? path : "(no path)")
        : *local ? stream_mkdir(h->st, local)
                 : CAIRN_OK;
    if (request_level(rc)) {
        warn(h, path ? path : "(no path)", err_msg());
        h->r->refused++;
        rc = status(h, device_code(rc), device_text(rc), NULL);
    } else if (!rc) {
        rc = status(h, 0, NULL, NULL);
    }
    free(path);
    return rc;
}

static cairn_err handle_move(host *h, plist_t msg)
{
    plist_t moves = plist_array_get_item(msg, 1);
    plist_dict_iter it = NULL;
    cairn_err rc = CAIRN_OK, failure = CAIRN_OK;
    device_percent(h, msg, 3);
    if (moves && plist_get_node_type(moves) == PLIST_DICT)
        plist_dict_new_iter(moves, &it);
    while (it && !rc && !failure) {
        char *key = NULL;
        plist_t val = NULL;
        plist_dict_next_item(moves, it, &key, &val);
        if (!key)
            break;
        char *to = NULL;
        if (val && plist_get_node_type(val) == PLIST_STRING)
            plist_get_string_val(val, &to);
        const char *const a = local_path(h, key);
        const char *const b = to ? local_path(h, to) : NULL;
        rc = a && b && *a && *b
                 ? stream_move(h->st, a, b)
                 : err_set(CAIRN_EINVAL, "%s: cannot move to %s", key, to ? to : "(nothing)");
        if (request_level(rc)) {
            /* as idevicebackup2: the first failed rename ends the request */
            warn(h, key, err_msg());
            h->r->refused++;
            failure = rc;
            rc = CAIRN_OK;
        }
        free(to);
        free(key);
    }
    free(it);
    if (!rc)
        rc = status_empty_dict(h, failure ? device_code(failure) : 0,
                               failure ? device_text(failure) : NULL);
    return rc;
}

static cairn_err handle_remove(host *h, plist_t msg)
{
    plist_t items = plist_array_get_item(msg, 1);
    cairn_err rc = CAIRN_OK, failure = CAIRN_OK;
    const uint32_t n =
        items && plist_get_node_type(items) == PLIST_ARRAY ? plist_array_get_size(items) : 0;
    device_percent(h, msg, 3);
    for (uint32_t i = 0; i < n && !rc; i++) {
        char *const path = string_item(items, i);
        const char *const local = path ? local_path(h, path) : NULL;
        if (!path)
            continue;
        rc = local && *local ? stream_remove(h->st, local)
                             : err_set(CAIRN_EINVAL, "%s: outside the backup folder", path);
        if (request_level(rc)) {
            /* already gone is the device's business, anything else is odd */
            if (rc != CAIRN_ENOTFOUND) {
                warn(h, path, err_msg());
                h->r->refused++;
            }
            failure = rc;
            rc = CAIRN_OK;
        }
        free(path);
    }
    if (!rc)
        rc = status_empty_dict(h, failure ? device_code(failure) : 0,
                               failure ? device_text(failure) : NULL);
    return rc;
}

static cairn_err handle_copy(host *h, plist_t msg)
{
    char *const from = string_item(msg, 1);
    char *const to = string_item(msg, 2);
    const char *const a = from ? local_path(h, from) : NULL;
    const char *const b = to ? local_path(h, to) : NULL;
    cairn_err rc = a && b && *a && *b ? stream_copy(h->st, a, b)
                                      : err_set(CAIRN_EINVAL, "cannot copy %s to %s",
                                                from ? from : "(nothing)", to ? to : "(nothing)");
    if (request_level(rc)) {
        warn(h, from ? from : "(nothing)", err_msg());
        h->r->refused++;
        rc = status_empty_dict(h, device_code(rc), device_text(rc));
    } else if (!rc) {
        rc = status_empty_dict(h, 0, NULL);
    }
    free(from);
    free(to);
    return rc;
}

static cairn_err handle_free_space(host *h)
{
    struct statvfs fs;
    uint64_t free_bytes = 0;
    int res = -1;
    if (h->space_path && statvfs(h->space_path, &fs) == 0) {
        free_bytes = (uint64_t)fs.f_bavail * (uint64_t)fs.f_bsize;
        res = 0;
    }
    plist_t v = plist_new_uint(free_bytes);
    const cairn_err rc = status(h, res, NULL, v);
    plist_free(v);
    return rc;
}

static void handle_result(host *h, plist_t msg)
{
    plist_t body = plist_array_get_item(msg, 1);
    h->finished = 1;
    h->error_code = 0;
    h->error_desc[0] = '\0';
    if (!body || plist_get_node_type(body) != PLIST_DICT) {
        h->error_code = 1;
        snprintf(h->error_desc, sizeof h->error_desc, "an unreadable final status");
        return;
    }
    plist_t code = plist_dict_get_item(body, "ErrorCode");
    if (code && plist_get_node_type(code) == PLIST_UINT)
        plist_get_uint_val(code, &h->error_code);
    else
        h->error_code = 1; /* no code: idevicebackup2 does not call it a success either */
    plist_t desc = plist_dict_get_item(body, "ErrorDescription");
    char *s = NULL;
    if (desc && plist_get_node_type(desc) == PLIST_STRING)
        plist_get_string_val(desc, &s);
    snprintf(h->error_desc, sizeof h->error_desc, "%s", s ? s : "no description");
    free(s);
}

static cairn_err dispatch(host *h, plist_t msg, const char *dl)
{
    if (strcmp(dl, "DLMessageDownloadFiles") == 0)
        return handle_download(h, msg);
    if (strcmp(dl, "DLMessageUploadFiles") == 0)
        return handle_upload(h, msg);
    if (strcmp(dl, "DLMessageGetFreeDiskSpace") == 0)
        return handle_free_space(h);
    if (strcmp(dl, "DLContentsOfDirectory") == 0)
        return handle_list(h, msg);
    if (strcmp(dl, "DLMessageCreateDirectory") == 0)
        return handle_mkdir(h, msg);
    if (strcmp(dl, "DLMessageMoveFiles") == 0 || strcmp(dl, "DLMessageMoveItems") == 0)
        return handle_move(h, msg);
    if (strcmp(dl, "DLMessageRemoveFiles") == 0 || strcmp(dl, "DLMessageRemoveItems") == 0)
        return handle_remove(h, msg);
    if (strcmp(dl, "DLMessageCopyItem") == 0)
        return handle_copy(h, msg);
    if (strcmp(dl, "DLMessageProcessMessage") == 0) {
        handle_result(h, msg);
        return CAIRN_OK;
    }
    if (strcmp(dl, "DLMessageDisconnect") == 0) {
        h->disconnected = 1;
        return CAIRN_OK;
    }
    /* DLMessagePurgeDiskSpace and anything newer: a proper refusal */
    if (strcmp(dl, "DLMessagePurgeDiskSpace") != 0) {
        char m[160];
        snprintf(m, sizeof m, "request %.100s is not supported; refused", dl);
        note(h, m);
    }
    return status(h, DEV_UNSUPPORTED, "Operation not supported", NULL);
}

/* libplist 2.2 aborts on an assert when a string or dictionary key holding
 * U+0000 is read (plist_get_string_val, plist_dict_next_item), so one such
 * name from the device would end the process.  The XML form of a message
 * holds a NUL byte exactly where one of its strings or keys does. */
static cairn_err check_names(host *h, plist_t msg, const char *dl)
{
    char *xml = NULL;
    uint32_t len = 0;
    plist_to_xml(msg, &xml, &len);
    if (!xml) /* out of memory, or a value libplist cannot write */
        return err_set(CAIRN_ESOURCE, "device %s: %.100s could not be read", idev_udid(h->d), dl);
    const int nul = memchr(xml, '\0', len) != NULL;
    plist_to_xml_free(xml);
    return nul ? err_set(CAIRN_ESOURCE, "device %s: a name in %.100s holds a NUL character",
                         idev_udid(h->d), dl)
               : CAIRN_OK;
}

/* Answers the device until it sends its final status or leaves. */
static cairn_err run_loop(host *h)
{
    int waiting = 0;
    while (!h->finished && !h->disconnected) {
        plist_t msg = NULL;
        char *dl = NULL;
        const mobilebackup2_error_t e = idev_mb2_receive_message(h->mb2, &msg, &dl);
        if (e == MOBILEBACKUP2_E_RECEIVE_TIMEOUT || (e == MOBILEBACKUP2_E_SUCCESS && !dl)) {
            plist_free(msg);
            free(dl);
            if (idev_cancelled(h->d))
                return err_set(CAIRN_EINTERRUPTED, "device %s: cancelled on the device",
                               idev_udid(h->d));
            if (!waiting++)
                note(h, "waiting for the device (if it asks for its passcode, enter it there)");
            continue;
        }
        if (e != MOBILEBACKUP2_E_SUCCESS) {
            plist_free(msg);
            free(dl);
            return lost(h);
        }
        waiting = 0;
        cairn_err rc = check_names(h, msg, dl);
        if (!rc)
            rc = dispatch(h, msg, dl);
        plist_free(msg);
        free(dl);
        if (rc)
            return rc;
    }
    return CAIRN_OK;
}

/* ---- sessions ---- */

static cairn_err open_session(host *h, idev *d)
{
    double versions[2] = {2.0, 2.1};
    double remote = 0;
    cairn_err rc = idev_start_backup_service(d, &h->mb2);
    if (rc)
        return rc;
    const mobilebackup2_error_t e = idev_mb2_version_exchange(h->mb2, versions, 2, &remote);
    if (e != MOBILEBACKUP2_E_SUCCESS)
        return err_set(CAIRN_ESOURCE, "device %s: no common backup protocol version (%d)",
                       idev_udid(d), (int)e);
    return CAIRN_OK;
}

/* name: the protocol's request ("Backup"); what: the word for users */
static cairn_err request(host *h, const char *name, const char *what, const char *target,
                         const char *source, plist_t opts)
{
    const mobilebackup2_error_t e = idev_mb2_send_request(h->mb2, name, target, source, opts);
    if (e == MOBILEBACKUP2_E_SUCCESS)
        return CAIRN_OK;
    if (e == MOBILEBACKUP2_E_REPLY_NOT_OK)
        return err_set(CAIRN_ESOURCE, "device %s refused to start the %s", idev_udid(h->d), what);
    return err_set(CAIRN_ESOURCE, "device %s: cannot start the %s (%d)", idev_udid(h->d), what,
                   (int)e);
}

/* What the device's final status means for the command. */
static cairn_err outcome(host *h, const char *what)
{
    if (!h->finished)
        return err_set(CAIRN_ESOURCE, "device %s left before the %s was finished", idev_udid(h->d),
                       what);
    if (h->error_code == DEVICE_ERROR_NO_SPACE)
        return err_set(CAIRN_ENOSPC, "device %s: %s (error %llu)", idev_udid(h->d), h->error_desc,
                       (unsigned long long)h->error_code);
    if (h->error_code)
        return err_set(CAIRN_ESOURCE, "device %s ended the %s with error %llu: %s", idev_udid(h->d),
                       what, (unsigned long long)h->error_code, h->error_desc);
    return CAIRN_OK;
}

static host *host_new(idev *d, stream *st, const char *root, const mb2host_events *ev,
                      mb2host_result *r)
{
    host *const h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->d = d;
    h->st = st;
    h->root = root;
    h->root_len = strlen(root);
    h->ev = ev;
    h->r = r;
    return h;
}

static void host_free(host *h)
{
    if (h->mb2)
        idev_mb2_free(h->mb2);
    free(h);
}

static void note_thunk(void *ctx, const char *message)
{
    const mb2host_events *const ev = ctx;
    if (ev && ev->note)
        ev->note(ev->ctx, message);
}

cairn_err mb2host_backup(idev *d, stream *st, int full, const char *space_path,
                         const mb2host_events *ev, mb2host_result *r)
{
    cbuf info;
    memset(r, 0, sizeof *r);
    cbuf_init(&info);
    host *const h = host_new(d, st, idev_udid(d), ev, r);
    if (!h)
        return err_set(CAIRN_ENOMEM, "out of memory");
    h->space_path = space_path;
    cairn_err rc = idev_observe(d, note_thunk, (void *)ev);
    if (!rc)
        rc = open_session(h, d);
    if (!rc)
        rc = idev_sync_begin(d);
    /* the host writes Info.plist before it asks for the backup */
    if (!rc)
        rc = idev_info_plist(d, &info);
    if (!rc)
        rc = stream_put(st, "Info.plist", info.data, info.len);
    if (!rc) {
        plist_t opts = NULL;
        if (full) {
            opts = plist_new_dict();
            plist_dict_set_item(opts, "ForceFullBackup", plist_new_bool(1));
        }
        rc = request(h, "Backup", "backup", idev_udid(d), idev_udid(d), opts);
        plist_free(opts);
    }
    if (!rc)
        rc = run_loop(h);
    if (!rc)
        rc = outcome(h, "backup");
    idev_sync_end(d);
    idev_observe_end(d);
    host_free(h);
    cbuf_free(&info);
    return rc;
}

/* The Applications of a backup's Info.plist, as the XML plist the device
 * reads after a restore to reinstall them; NULL if there are none. */
static plist_t restore_applications(const uint8_t *info, size_t len)
{
    plist_t root = NULL;
    if (!info || !len)
        return NULL;
    plist_from_memory((const char *)info, (uint32_t)len, &root);
    plist_t apps = root ? plist_dict_get_item(root, "Applications") : NULL;
    plist_t copy = apps && plist_get_node_type(apps) == PLIST_DICT ? plist_copy(apps) : NULL;
    plist_free(root);
    return copy;
}

#define RESTORE_APPS_DIR "/iTunesRestore"
#define RESTORE_APPS_PATH RESTORE_APPS_DIR "/RestoreApplications.plist"

cairn_err mb2host_restore(idev *d, stream *view, const mb2host_restore_opts *o,
                          const mb2host_events *ev, mb2host_result *r)
{
    memset(r, 0, sizeof *r);
    host *const h = host_new(d, view, o->source_udid, ev, r);
    if (!h)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cairn_err rc = idev_observe(d, note_thunk, (void *)ev);
    if (!rc)
        rc = open_session(h, d);
    if (!rc)
        rc = idev_sync_begin(d);
    plist_t apps = rc ? NULL : restore_applications(o->info_plist, o->info_plist_len);
    int apps_put = 0;
    if (apps) {
        char *xml = NULL;
        uint32_t len = 0;
        plist_to_xml(apps, &xml, &len);
        apps_put = xml != NULL; /* even a failed write may have made the folder */
        rc = xml ? idev_afc_put(d, RESTORE_APPS_PATH, (uint8_t *)xml, len)
                 : err_set(CAIRN_ENOMEM, "out of memory");
        if (xml)
            plist_to_xml_free(xml);
        plist_free(apps);
    }
    if (!rc) {
        plist_t opts = plist_new_dict();
        plist_dict_set_item(opts, "RestoreSystemFiles", plist_new_bool(o->system != 0));
        if (o->no_reboot)
            plist_dict_set_item(opts, "RestoreShouldReboot", plist_new_bool(0));
        plist_dict_set_item(opts, "RestoreDontCopyBackup", plist_new_bool(1));
        plist_dict_set_item(opts, "RestorePreserveSettings", plist_new_bool(!o->settings));
        if (o->remove)
            plist_dict_set_item(opts, "RemoveItemsNotRestored", plist_new_bool(1));
        if (o->password)
            plist_dict_set_item(opts, "Password", plist_new_string(o->password));
        rc = request(h, "Restore", "restore", idev_udid(d), o->source_udid, opts);
        plist_free(opts);
    }
    if (!rc)
        rc = run_loop(h);
    if (!rc)
        rc = outcome(h, "restore");
    /* a failed restore leaves no apps list behind for the device to act on
     * later (as idevicebackup2 cleans up) */
    if (rc && rc != CAIRN_EPARTIAL && apps_put) {
        idev_afc_remove(d, RESTORE_APPS_PATH);
        idev_afc_remove(d, RESTORE_APPS_DIR);
    }
    idev_sync_end(d);
    idev_observe_end(d);
    host_free(h);
    return rc;
}

cairn_err mb2host_change_password(idev *d, const char *old_pw, const char *new_pw,
                                  const mb2host_events *ev)
{
    mb2host_result r;
    memset(&r, 0, sizeof r);
    host *const h = host_new(d, NULL, idev_udid(d), ev, &r);
    if (!h)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cairn_err rc = open_session(h, d);
    if (!rc) {
        plist_t opts = plist_new_dict();
        plist_dict_set_item(opts, "TargetIdentifier", plist_new_string(idev_udid(d)));
        if (new_pw)
            plist_dict_set_item(opts, "NewPassword", plist_new_string(new_pw));
        if (old_pw)
            plist_dict_set_item(opts, "OldPassword", plist_new_string(old_pw));
        if (idev_mb2_send_message(h->mb2, "ChangePassword", opts) != MOBILEBACKUP2_E_SUCCESS)
            rc = lost(h);
        plist_free(opts);
    }
    if (!rc)
        rc = run_loop(h);
    if (!rc)
        rc = outcome(h, "password change");
    host_free(h);
    return rc;
}
