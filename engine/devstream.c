#include "devstream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../store/fsutil.h"
#include "mobilesync.h"

enum { PLIST_MAX = 64 << 20 };

static cairn_err load_plist(stream *st, ms_meta *meta, ms_source which, const char *name, cbuf *buf)
{
    cairn_err rc = stream_read_all(st, name, PLIST_MAX, buf);
    if (rc == CAIRN_ENOTFOUND)
        return err_set(CAIRN_ESOURCE, "%s: file is missing (the device did not send it)", name);
    if (!rc)
        rc = ms_meta_load(meta, which, buf->data, buf->len);
    return rc;
}

typedef struct copy_ctx {
    int fd;
    const char *path;
} copy_ctx;

static cairn_err copy_piece(void *ctx, const uint8_t *data, size_t len)
{
    const copy_ctx *const c = ctx;
    return fs_write_all(c->fd, data, len, c->path);
}

/* Manifest.db out of the stream into a private file SQLite can open. */
static cairn_err copy_out(stream *st, const char *name, const char *path)
{
    unlink(path); /* a leftover of a killed run */
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_errno(errno, path);
    copy_ctx c = {fd, path};
    cairn_err rc = stream_read(st, name, copy_piece, &c);
    if (close(fd) != 0 && !rc)
        rc = err_errno(errno, path);
    return rc;
}

/* The catalog from Manifest.db, and whether every file it lists has its
 * content file in the stream. */
static cairn_err read_contents(stream *st, const char *db, device_info *out)
{
    ms_manifest *m = NULL;
    const ms_file *f;
    uint64_t files = 0, missing = 0, bad = 0;
    char first[512] = "";
    cairn_err rc = ms_manifest_open(db, &m);
    if (rc)
        return rc;
    for (;;) {
        rc = ms_manifest_next(m, &f);
        if (rc == CAIRN_ECORRUPT) {
            if (!bad++ && !*first)
                snprintf(first, sizeof first, "%s", err_msg());
            continue;
        }
        if (rc || !f)
            break;
        rc = device_catalog_add(&out->cat, f);
        if (rc || f->flags != MS_FLAG_FILE)
            continue;
        files++;
        char path[48];
        stream_entry se;
        snprintf(path, sizeof path, "%.2s/%s", f->file_id, f->file_id);
        rc = stream_stat(st, path, &se);
        if (rc == CAIRN_ENOTFOUND || (!rc && se.is_dir)) {
            if (!missing++ && !*first)
                snprintf(first, sizeof first, "%s: content file is missing for %s/%s", path,
                         f->domain, f->relative_path);
            rc = CAIRN_OK;
        }
        if (rc)
            break;
    }
    ms_manifest_close(m);
    if (rc)
        return rc;
    catalog_sort(&out->cat);
    out->missing = missing;
    /* the state comes first when it is wrong: it explains missing files */
    if ((missing || bad) && out->complete) {
        out->complete = 0;
        snprintf(out->problem, sizeof out->problem,
                 "%s (%" PRIu64 " of %" PRIu64 " files missing, %" PRIu64 " bad records)", first,
                 missing, files, bad);
    }
    return CAIRN_OK;
}

cairn_err devstream_inspect(stream *st, const char *udid, const char *tmp_path, device_info *out)
{
    ms_meta *meta = NULL;
    cbuf buf;
    stream_entry e;
    memset(out, 0, sizeof *out);
    catalog_init(&out->cat);
    cbuf_init(&buf);
    cairn_err rc = ms_meta_new(&meta);
    if (!rc)
        rc = load_plist(st, meta, MS_INFO_PLIST, "Info.plist", &buf);
    if (!rc)
        rc = load_plist(st, meta, MS_MANIFEST_PLIST, "Manifest.plist", &buf);
    if (!rc)
        rc = load_plist(st, meta, MS_STATUS_PLIST, "Status.plist", &buf);
    cbuf_free(&buf);
    if (!rc)
        rc = device_from_meta(meta, udid, out);
    ms_meta_free(meta);
    if (rc || out->encrypted)
        return rc; /* an encrypted Manifest.db cannot be read as it arrives */
    rc = stream_stat(st, "Manifest.db", &e);
    if (rc == CAIRN_ENOTFOUND) {
        if (out->complete)
            snprintf(out->problem, sizeof out->problem,
                     "Manifest.db: file is missing (the device did not send it)");
        out->complete = 0;
        return CAIRN_OK;
    }
    if (!rc)
        rc = copy_out(st, "Manifest.db", tmp_path);
    if (!rc)
        rc = read_contents(st, tmp_path, out);
    unlink(tmp_path);
    if (rc)
        device_info_free(out);
    return rc;
}
