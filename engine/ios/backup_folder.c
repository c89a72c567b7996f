#include "engine/ios/backup_folder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "engine/ios/mobilesync.h"
#include "engine/core/tree_store.h"

#include <sodium.h>

cairn_err device_detect(const char *dir, int *is_device)
{
    int kind;
    const cairn_err rc = ms_detect(dir, &kind);
    if (rc)
        return rc;
    if (kind == MS_BACKUP_LEGACY)
        return err_set(CAIRN_ESOURCE,
                       "%s/Manifest.mbdb: legacy (before iOS 10) backups are not supported", dir);
    *is_device = kind == MS_BACKUP;
    return CAIRN_OK;
}

static cairn_err add_meta(device_info *d, const char *name, const char *value)
{
    snapshot_meta *const m = realloc(d->meta, (d->nmeta + 1) * sizeof *m);
    if (!m)
        return err_set(CAIRN_ENOMEM, "out of memory");
    d->meta = m;
    m[d->nmeta].key = strdup(name);
    m[d->nmeta].value = strdup(value);
    d->nmeta++;
    if (!m[d->nmeta - 1].key || !m[d->nmeta - 1].value)
        return err_set(CAIRN_ENOMEM, "out of memory");
    return CAIRN_OK;
}

/* A MobileSync field under its snake_case name becomes "device.<name>". */
static cairn_err add_pair(void *ctx, const char *key, const char *value)
{
    char name[128];
    snprintf(name, sizeof name, SNAP_META_DEVICE_PREFIX "%s", key);
    return add_meta(ctx, name, value);
}

static cairn_err catalog_row(void *ctx, const ms_file *f)
{
    return device_catalog_add(ctx, f);
}

cairn_err device_catalog_add(catalog *cat, const ms_file *f)
{
    catalog_entry e = {.domain = (char *)f->domain,
                       .path = (char *)f->relative_path,
                       .flags = (uint8_t)f->flags,
                       .size = f->size,
                       .mode = f->mode,
                       .mtime = f->mtime,
                       .target = (char *)f->target};
    if (fs_unhex(f->file_id, e.file_id, CATALOG_FILE_ID_LEN) != 0)
        return CAIRN_OK;
    return catalog_add(cat, &e);
}

cairn_err device_from_meta(const struct ms_meta *meta, const char *fallback_udid, device_info *out)
{
    cairn_err rc;
    memset(out, 0, sizeof *out);
    catalog_init(&out->cat);
    out->complete = 1;
    const char *udid = meta->unique_identifier ? meta->unique_identifier : meta->lockdown_udid;
    if (!udid)
        udid = fallback_udid;
    out->encrypted = meta->is_encrypted;
    /* the chain follows the device and its encryption identity: a new
     * keybag (password changed, encryption on or off) starts a new chain */
    char identity[40] = "unencrypted";
    if (out->encrypted) {
        uint8_t h[8];
        char hex[17];
        crypto_generichash(h, sizeof h, meta->backup_keybag, meta->backup_keybag_len, NULL, 0);
        fs_hex(h, sizeof h, hex);
        snprintf(identity, sizeof identity, "keybag-%s", hex);
    }
    out->udid = strdup(udid);
    out->chain = malloc(strlen(udid) + strlen(identity) + 9);
    if (!out->udid || !out->chain) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    sprintf(out->chain, "device:%s/%s", udid, identity);
    rc = ms_meta_pairs(meta, add_pair, out);
    /* the device's own verdict, until the contents are checked */
    if (!rc && (!meta->snapshot_state || strcmp(meta->snapshot_state, "finished") != 0)) {
        out->complete = 0;
        snprintf(out->problem, sizeof out->problem,
                 "Status.plist: SnapshotState is '%s', backup is incomplete",
                 meta->snapshot_state ? meta->snapshot_state : "(missing)");
    }
done:
    if (rc)
        device_info_free(out);
    return rc;
}

cairn_err device_inspect(const char *dir, device_info *out)
{
    ms_meta *meta = NULL;
    memset(out, 0, sizeof *out);
    catalog_init(&out->cat);
    cairn_err rc = ms_read_meta(dir, &meta);
    if (rc)
        return rc;
    const char *const slash = strrchr(dir, '/');
    rc = device_from_meta(meta, slash && slash[1] ? slash + 1 : dir, out);
    ms_meta_free(meta);
    return rc;
}

cairn_err device_read_contents(const char *dir, const char *db_path, device_info *out)
{
    ms_report *report = NULL;
    char *own = NULL;
    if (!db_path && !(db_path = own = fs_join(dir, "Manifest.db")))
        return err_set(CAIRN_ENOMEM, "out of memory");
    out->complete = 1;
    catalog_free(&out->cat);
    catalog_init(&out->cat);
    /* one pass over Manifest.db: completeness and catalog together */
    cairn_err rc = ms_validate_each(dir, db_path, catalog_row, &out->cat, &report);
    if (rc == CAIRN_ESOURCE && report) {
        out->complete = 0;
        out->missing = report->missing;
        snprintf(out->problem, sizeof out->problem, "%s", err_msg());
        rc = CAIRN_OK;
    }
    if (!rc)
        catalog_sort(&out->cat);
    ms_report_free(report);
    free(own);
    return rc;
}

void device_info_free(device_info *d)
{
    free(d->udid);
    free(d->chain);
    snapshot_meta_free(d->meta, d->nmeta);
    catalog_free(&d->cat);
    memset(d, 0, sizeof *d);
}

cairn_err device_reuse_contents(store *s, const snapshot *parent, const char *dir, device_info *out,
                                int *reused)
{
    store_worker *w = NULL;
    tree_node old;
    struct stat st;
    char name[44];
    *reused = 0;
    memset(&old, 0, sizeof old);
    if (!parent || !parent->ncatalog || out->encrypted)
        return CAIRN_OK;
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return err_errno(errno, dir);
    cairn_err rc = store_worker_new(s, &w);
    if (!rc)
        rc = treestore_lookup(s, w, (const uint8_t(*)[ID_LEN])parent->tree, parent->ntree,
                              "Manifest.db", &old);
    if (rc == CAIRN_ENOTFOUND || rc == CAIRN_ECORRUPT) {
        rc = CAIRN_OK; /* nothing to compare with: read it */
        goto done;
    }
    if (rc || fstatat(dfd, "Manifest.db", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        old.type != NODE_FILE || old.cipher || old.size != (uint64_t)st.st_size ||
        old.mtime_sec != st.st_mtim.tv_sec || old.mtime_nsec != (uint32_t)st.st_mtim.tv_nsec ||
        old.inode != (uint64_t)st.st_ino)
        goto done;
    catalog_free(&out->cat);
    catalog_init(&out->cat);
    rc = catalog_load(s, w, (const uint8_t(*)[ID_LEN])parent->catalog, parent->ncatalog, &out->cat);
    if (rc)
        goto done;
    out->missing = 0;
    for (size_t i = 0; i < out->cat.count; i++) {
        const catalog_entry *const e = &out->cat.entries[i];
        if (e->flags != MS_FLAG_FILE)
            continue;
        catalog_content_path(e, name);
        if (fstatat(dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode)) {
            if (!out->missing++ && out->complete)
                snprintf(out->problem, sizeof out->problem, "%s: content file is missing for %s/%s",
                         name, e->domain ? e->domain : "", e->path);
        }
    }
    if (out->missing)
        out->complete = 0;
    *reused = 1;
done:
    tree_node_free(&old);
    store_worker_free(w);
    close(dfd);
    return rc;
}

cairn_err device_add_meta(device_info *d, const char *key, const char *value)
{
    return add_meta(d, key, value);
}

const char *device_info_meta(const device_info *d, const char *key)
{
    for (size_t i = 0; i < d->nmeta; i++)
        if (strcmp(d->meta[i].key, key) == 0)
            return d->meta[i].value;
    return NULL;
}
