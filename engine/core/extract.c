/* extract.c - device snapshot files by domain and path (extract.h). */
#include "engine/core/extract.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree_store.h"

/* CAIRN_EINVAL saying why a snapshot has no catalog to read, else OK. */
static cairn_err has_catalog(const snapshot *sn)
{
    char id[9];
    snaplist_short_id(sn->id, id);
    if (sn->ncatalog)
        return CAIRN_OK;
    if (snapshot_is_encrypted_backup(sn))
        return err_set(CAIRN_EINVAL,
                       "snapshot %s is an encrypted device backup stored without its "
                       "password: its files cannot be listed; back the device up again "
                       "with --backup-password-file or CAIRN_BACKUP_PASSWORD",
                       id);
    return err_set(CAIRN_EINVAL, "snapshot %s is not a device backup (use restore)", id);
}

cairn_err extract_catalog(store *s, const snapshot *sn, catalog *cat)
{
    store_worker *w = NULL;
    cairn_err rc = has_catalog(sn);
    if (!rc)
        rc = store_worker_new(s, &w);
    if (!rc)
        rc = catalog_load(s, w, (const uint8_t(*)[ID_LEN])sn->catalog, sn->ncatalog, cat);
    store_worker_free(w);
    return rc;
}

cairn_err extract_catalog_each(store *s, const snapshot *sn, catalog_entry_fn fn, void *ctx)
{
    store_worker *w = NULL;
    cairn_err rc = has_catalog(sn);
    if (!rc)
        rc = store_worker_new(s, &w);
    if (!rc)
        rc = catalog_each(s, w, (const uint8_t(*)[ID_LEN])sn->catalog, sn->ncatalog, fn, ctx);
    store_worker_free(w);
    return rc;
}

/* Writes one catalog entry under to/<domain>/<path>. */
static cairn_err extract_one(store *s, store_worker *w, const snapshot *sn, const catalog_entry *e,
                             const char *to, cbuf *buf, uint64_t *bytes)
{
    char path[PATH_MAX], content[44];
    if (snprintf(path, sizeof path, "%s/%s/%s", to, e->domain, e->path) >= (int)sizeof path)
        return err_set(CAIRN_EINVAL, "%s/%s: path too long", e->domain, e->path);
    if (strstr(e->path, "..") && (strncmp(e->path, "../", 3) == 0 || strstr(e->path, "/../")))
        return err_set(CAIRN_ECORRUPT, "%s/%s: path escapes the target", e->domain, e->path);
    if (e->flags == CATALOG_DIR)
        return fs_mkdirs(path, 0755);
    char *const slash = strrchr(path, '/');
    *slash = '\0';
    cairn_err rc = fs_mkdirs(path, 0755);
    *slash = '/';
    if (rc)
        return rc;
    if (e->flags == CATALOG_SYMLINK) {
        if (symlink(e->target ? e->target : "", path) != 0)
            return err_errno(errno, path);
        return CAIRN_OK;
    }
    tree_node n;
    uint64_t written;
    catalog_content_path(e, content);
    rc = treestore_lookup(s, w, (const uint8_t(*)[ID_LEN])sn->tree, sn->ntree, content, &n);
    if (rc == CAIRN_ENOTFOUND)
        return err_set(CAIRN_ENOTFOUND, "%s/%s: content file %s is not in the snapshot", e->domain,
                       e->path, content);
    if (rc)
        return rc;
    rc = restore_node(s, w, &n, NULL, path, 0, (e->mode & 07777) ? (e->mode & 07777) : 0644,
                      e->mtime, 0, buf, &written);
    tree_node_free(&n);
    *bytes += written;
    return rc;
}

typedef struct dir_ref {
    size_t depth, index;
} dir_ref;

static int deeper_first(const void *a, const void *b)
{
    const dir_ref *const x = a, *const y = b;
    return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

/* Gives the folders extracted their mode and mtime from the backup's
 * MBFile, once everything is written in them (writing changes a folder's
 * mtime): deepest first, so that a folder without write permission is
 * closed after its children are done. */
static cairn_err set_dir_attrs(const catalog *cat, const uint8_t *done, const char *to)
{
    size_t n = 0;
    dir_ref *const dirs = malloc((cat->count ? cat->count : 1) * sizeof *dirs);
    if (!dirs)
        return err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t i = 0; i < cat->count; i++) {
        if (!done[i] || cat->entries[i].flags != CATALOG_DIR)
            continue;
        size_t d = 1;
        for (const char *p = cat->entries[i].path; *p; p++)
            d += *p == '/';
        dirs[n++] = (dir_ref){d, i};
    }
    qsort(dirs, n, sizeof *dirs, deeper_first);
    for (size_t k = 0; k < n; k++) {
        const catalog_entry *const e = &cat->entries[dirs[k].index];
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s/%s", to, e->domain, e->path) >= (int)sizeof path)
            continue; /* extract_one refused it already */
        const struct timespec ts[2] = {{e->mtime, 0}, {e->mtime, 0}};
        /* best effort, as for restore's folders: the files are what matters */
        if (e->mode & 07777)
            chmod(path, e->mode & 07777);
        utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
    }
    free(dirs);
    return CAIRN_OK;
}

cairn_err extract_run(store *s, const snapshot *sn, const char *const *patterns, size_t npatterns,
                      const char *to, restore_warn_fn warn, void *warn_ctx, extract_result *r)
{
    store_worker *w = NULL;
    catalog cat;
    cbuf buf;
    uint8_t *done = NULL;
    memset(r, 0, sizeof *r);
    catalog_init(&cat);
    cbuf_init(&buf);
    cairn_err rc = extract_catalog(s, sn, &cat);
    if (!rc)
        rc = store_worker_new(s, &w);
    if (!rc && !(done = calloc(cat.count ? cat.count : 1, 1)))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    for (size_t a = 0; !rc && a < npatterns; a++) {
        size_t matched = 0;
        for (size_t i = 0; !rc && i < cat.count; i++) {
            if (!catalog_matches(&cat.entries[i], patterns[a]))
                continue;
            matched++;
            /* overlapping patterns name some entries twice: write them once */
            if (done[i])
                continue;
            done[i] = 1;
            const cairn_err one = extract_one(s, w, sn, &cat.entries[i], to, &buf, &r->bytes);
            if (one == CAIRN_ENOMEM || one == CAIRN_ENOSPC) {
                rc = one;
            } else if (one) {
                if (warn)
                    warn(warn_ctx, patterns[a], err_msg());
                r->failed++;
            } else if (cat.entries[i].flags == CATALOG_FILE) {
                r->files++;
            }
        }
        if (!rc && matched == 0)
            rc = err_set(CAIRN_ENOTFOUND, "%s: nothing in this snapshot matches", patterns[a]);
    }
    if (!rc)
        rc = set_dir_attrs(&cat, done, to);
    if (!rc && r->failed)
        rc = err_set(CAIRN_EPARTIAL, "%" PRIu64 " item(s) could not be extracted", r->failed);
    free(done);
    cbuf_free(&buf);
    store_worker_free(w);
    catalog_free(&cat);
    return rc;
}
