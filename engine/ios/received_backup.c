#include "engine/ios/received_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/grow.h"
#include "engine/ios/encrypted_folder.h"
#include "engine/ios/mobilesync.h"

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

/* ---- decrypting a backup that arrived encrypted ---- */

typedef struct dec_ctx {
    iosenc_dec *dec;
    stream_file *out;
    cbuf plain; /* room for a chunk's plaintext */
} dec_ctx;

static cairn_err dec_piece(void *ctx, const uint8_t *data, size_t len)
{
    dec_ctx *const c = ctx;
    size_t n = 0;
    cbuf_reset(&c->plain);
    uint8_t *const plain = cbuf_reserve(&c->plain, len + 2 * IOSENC_BLOCK);
    if (!plain)
        return err_set(CAIRN_ENOMEM, "out of memory");
    cairn_err rc = iosenc_dec_update(c->dec, data, len, plain, &n);
    if (!rc && n)
        rc = stream_file_write(c->out, plain, n);
    return rc;
}

/* Replaces the file at path by its plaintext, keeping its wrapped key;
 * a file whose key does not unwrap stays as the device sent it. */
static cairn_err decrypt_file(stream *st, const devcrypt *dc, const char *path,
                              const uint8_t *tagged, uint8_t *key, dec_ctx *c)
{
    uint8_t tail[IOSENC_BLOCK];
    size_t n = 0;
    int padded = 0;
    cairn_err rc = iosenc_unwrap_file_key(devcrypt_keys(dc), tagged, IOSENC_TAGGED_LEN, key);
    if (rc == CAIRN_ECORRUPT || rc == CAIRN_ESOURCE)
        return CAIRN_OK;
    if (!rc)
        rc = iosenc_dec_new(key, &c->dec);
    if (!rc)
        rc = stream_file_begin(st, path, &c->out);
    if (!rc)
        rc = stream_read(st, path, dec_piece, c);
    if (!rc)
        rc = iosenc_dec_final(c->dec, tail, &n, &padded);
    if (!rc && n)
        rc = stream_file_write(c->out, tail, n);
    iosenc_dec_free(c->dec);
    c->dec = NULL;
    if (c->out && rc == CAIRN_ECORRUPT) {
        /* not whole blocks: kept as sent, a restore stays exact */
        stream_file_abort(c->out);
        c->out = NULL;
        return CAIRN_OK;
    }
    if (c->out && rc) {
        stream_file_abort(c->out);
    } else if (c->out) {
        stream_file_set_cipher(c->out, TREE_CIPHER_CBC | (padded ? TREE_CIPHER_PADDED : 0), tagged);
        rc = stream_file_end(c->out);
    }
    c->out = NULL;
    return rc;
}

typedef struct walk_ctx {
    stream *st;
    const devcrypt *dc;
    uint8_t *key;
    dec_ctx dec;
    const char *dir; /* the content folder being listed */
    char (*paths)[48];
    size_t n, cap;
    uint64_t decrypted;
} walk_ctx;

static cairn_err note_file(void *ctx, const stream_entry *e)
{
    walk_ctx *const w = ctx;
    if (e->is_dir || e->decrypted || strlen(e->name) != 40)
        return CAIRN_OK;
    const cairn_err rc = util_grow(&w->paths, &w->cap, w->n + 1, sizeof *w->paths);
    if (rc)
        return rc;
    snprintf(w->paths[w->n++], sizeof w->paths[0], "%s/%s", w->dir, e->name);
    return CAIRN_OK;
}

static cairn_err note_dir(void *ctx, const stream_entry *e)
{
    walk_ctx *const w = ctx;
    if (!e->is_dir || strlen(e->name) != 2)
        return CAIRN_OK;
    w->dir = e->name;
    const cairn_err rc = stream_list(w->st, e->name, note_file, w);
    w->dir = NULL;
    return rc;
}

cairn_err devstream_decrypt(stream *st, const char *tmp_path, const char *password,
                            size_t password_len, device_info *out)
{
    walk_ctx w;
    cbuf plist;
    devcrypt *dc = NULL;
    const uint8_t *tagged;
    memset(&w, 0, sizeof w);
    cbuf_init(&plist);
    w.st = st;
    w.key = iosenc_key_alloc();
    cairn_err rc = w.key ? stream_read_all(st, "Manifest.plist", PLIST_MAX, &plist)
                         : err_set(CAIRN_ENOMEM, "out of memory for a key");
    if (!rc)
        rc = copy_out(st, "Manifest.db", tmp_path);
    if (!rc)
        rc = devcrypt_open_parts(plist.data, plist.len, tmp_path, password, password_len, &dc);
    unlink(tmp_path);
    w.dc = dc;
    /* the files to decrypt first, then each in turn: listing while
     * replacing would move the folders under the walk */
    if (!rc)
        rc = stream_list(st, "", note_dir, &w);
    for (size_t i = 0; !rc && i < w.n; i++)
        if (devcrypt_lookup(dc, w.paths[i], &tagged))
            rc = decrypt_file(st, dc, w.paths[i], tagged, w.key, &w.dec);
    if (!rc && devcrypt_lookup(dc, "Manifest.db", &tagged))
        rc = decrypt_file(st, dc, "Manifest.db", tagged, w.key, &w.dec);
    if (!rc)
        rc = read_contents(st, devcrypt_db_path(dc), out);
    if (!rc)
        rc = device_add_meta(out, SNAP_META_CONTENTS, SNAP_CONTENTS_DECRYPTED);
    devcrypt_close(dc);
    iosenc_key_free(w.key);
    cbuf_free(&w.dec.plain);
    free(w.paths);
    cbuf_free(&plist);
    return rc;
}
