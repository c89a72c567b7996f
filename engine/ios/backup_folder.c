#include "engine/ios/backup_folder.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "util/codec.h"
#include "util/fsutil.h"
#include "util/grow.h"
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

/* The files a MobileSync backup cannot do without, in the order a message
 * names them; the first and last make a folder look like a backup. */
static const char *const REQUIRED[] = {"Info.plist", "Manifest.plist", "Status.plist",
                                       "Manifest.db"};

/* The kind of dir, BACKUP, BROKEN or PLAIN (PARENT is the caller's). */
static cairn_err classify_one(const char *dir, device_folder_kind *kind, char *missing, size_t size)
{
    int is_device = 0, present[4];
    struct stat st;
    cairn_err rc = device_detect(dir, &is_device);
    if (rc)
        return rc;
    *kind = is_device ? DEVICE_FOLDER_BACKUP : DEVICE_FOLDER_PLAIN;
    if (is_device)
        return CAIRN_OK;
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOTDIR ? CAIRN_OK : err_errno(errno, dir);
    for (size_t i = 0; i < 4; i++)
        present[i] = fstatat(dfd, REQUIRED[i], &st, 0) == 0 && S_ISREG(st.st_mode);
    close(dfd);
    if (!present[0] && !present[3])
        return CAIRN_OK;
    *kind = DEVICE_FOLDER_BROKEN;
    size_t used = 0;
    if (size)
        missing[0] = '\0';
    for (size_t i = 0; i < 4; i++)
        if (!present[i] && used < size)
            used += (size_t)snprintf(missing + used, size - used, "%s%s", used ? ", " : "",
                                     REQUIRED[i]);
    return CAIRN_OK;
}

static cairn_err push_name(char ***names, size_t *n, const char *name)
{
    char **const grown = realloc(*names, (*n + 1) * sizeof *grown);
    if (!grown)
        return err_set(CAIRN_ENOMEM, "out of memory");
    *names = grown;
    if (!(grown[*n] = strdup(name)))
        return err_set(CAIRN_ENOMEM, "out of memory");
    (*n)++;
    return CAIRN_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void device_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

cairn_err device_classify(const char *dir, device_folder_kind *kind, char *missing,
                          size_t missing_size, char ***subdirs, size_t *nsubdirs, char ***others,
                          size_t *nothers)
{
    char **subs = NULL, **rest = NULL;
    size_t nsubs = 0, nrest = 0;
    DIR *d = NULL;
    *subdirs = *others = NULL;
    *nsubdirs = *nothers = 0;
    cairn_err rc = classify_one(dir, kind, missing, missing_size);
    if (rc || *kind != DEVICE_FOLDER_PLAIN)
        return rc;
    if (!(d = opendir(dir)))
        return errno == ENOTDIR ? CAIRN_OK : err_errno(errno, dir);
    for (;;) {
        errno = 0;
        const struct dirent *const e = readdir(d);
        if (!e) {
            if (errno)
                rc = err_errno(errno, dir);
            break;
        }
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        device_folder_kind sub = DEVICE_FOLDER_PLAIN;
        char *const path = fs_join(dir, e->d_name);
        if (!path) {
            rc = err_set(CAIRN_ENOMEM, "out of memory");
            break;
        }
        /* a symlink to a backup elsewhere is not one of this folder's */
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            rc = classify_one(path, &sub, NULL, 0);
        free(path);
        /* a legacy backup or a subfolder that cannot be examined is one of
         * the others (a plain folder's backup reports unreadable items) */
        if (rc && rc != CAIRN_ENOMEM) {
            rc = CAIRN_OK;
            sub = DEVICE_FOLDER_PLAIN;
        }
        if (!rc)
            rc = sub == DEVICE_FOLDER_PLAIN ? push_name(&rest, &nrest, e->d_name)
                                            : push_name(&subs, &nsubs, e->d_name);
        if (rc)
            break;
    }
    closedir(d);
    /* one whole device backup inside makes it a folder of them (a stray
     * Manifest.db in a subfolder of a plain folder does not) */
    int whole = 0;
    for (size_t i = 0; !rc && i < nsubs && !whole; i++) {
        char *const path = fs_join(dir, subs[i]);
        int is_device = 0;
        if (!path)
            rc = err_set(CAIRN_ENOMEM, "out of memory");
        else if (device_detect(path, &is_device) == CAIRN_OK && is_device)
            whole = 1;
        free(path);
    }
    if (!rc && whole) {
        qsort(subs, nsubs, sizeof *subs, by_name);
        qsort(rest, nrest, sizeof *rest, by_name);
        *kind = DEVICE_FOLDER_PARENT;
        *subdirs = subs;
        *nsubdirs = nsubs;
        *others = rest;
        *nothers = nrest;
        return CAIRN_OK;
    }
    device_names_free(subs, nsubs);
    device_names_free(rest, nrest);
    return rc;
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

/* f's row (names, flags, digest) with the record's fields given. */
static cairn_err add_row(catalog *cat, const ms_file *f, uint64_t size, uint32_t mode,
                         int64_t mtime, const char *target)
{
    catalog_entry e = {.domain = (char *)f->domain,
                       .path = (char *)f->relative_path,
                       .flags = (uint8_t)f->flags,
                       .size = size,
                       .mode = mode,
                       .mtime = mtime,
                       .target = (char *)target,
                       .has_digest = 1};
    if (fs_unhex(f->file_id, e.file_id, CATALOG_FILE_ID_LEN) != 0)
        return CAIRN_OK;
    memcpy(e.row_digest, f->row_digest, CATALOG_ROW_DIGEST_LEN);
    return catalog_add(cat, &e);
}

cairn_err device_catalog_add(catalog *cat, const ms_file *f)
{
    return add_row(cat, f, f->size, f->mode, f->mtime, f->target);
}

/* ---- rows known from the parent's catalog ---- */

/* What a row decoded to in the parent, found by its row digest: a row of
 * today's Manifest.db with the same digest has the same bytes (fileID,
 * flags, MBFile record), so it decodes to the same fields. */
typedef struct known_row {
    uint8_t digest[CATALOG_ROW_DIGEST_LEN];
    uint64_t size;
    int64_t mtime;
    uint32_t mode;
    uint32_t target; /* offset + 1 into targets; 0: none */
} known_row;

typedef struct known_rows {
    known_row *rows;
    size_t n, cap;
    uint32_t *slots; /* open addressing by digest: row index + 1, 0 free */
    size_t mask;
    cbuf targets; /* NUL-terminated symlink targets */
} known_rows;

static void known_free(known_rows *k)
{
    free(k->rows);
    free(k->slots);
    cbuf_free(&k->targets);
    memset(k, 0, sizeof *k);
    cbuf_init(&k->targets);
}

static size_t known_slot(const known_rows *k, const uint8_t *digest)
{
    return (size_t)get_u64le(digest) & k->mask;
}

static cairn_err collect_known(void *ctx, const catalog_entry *e)
{
    known_rows *const k = ctx;
    if (!e->has_digest)
        return CAIRN_OK; /* a version-1 catalog: nothing known */
    if (k->n == UINT32_MAX - 1 || util_grow(&k->rows, &k->cap, k->n + 1, sizeof *k->rows))
        return err_set(CAIRN_ENOMEM, "out of memory");
    known_row *const r = &k->rows[k->n++];
    memcpy(r->digest, e->row_digest, CATALOG_ROW_DIGEST_LEN);
    r->size = e->size;
    r->mtime = e->mtime;
    r->mode = e->mode;
    r->target = 0;
    if (e->target) {
        r->target = (uint32_t)k->targets.len + 1;
        cbuf_put(&k->targets, e->target, strlen(e->target) + 1);
        if (k->targets.failed || k->targets.len >= UINT32_MAX)
            return err_set(CAIRN_ENOMEM, "out of memory");
    }
    return CAIRN_OK;
}

/* The rows of parent's catalog by digest; none (decode every row) when it
 * has none (version 1) or cannot be read as a catalog. */
static cairn_err known_load(store *s, const snapshot *parent, known_rows *k)
{
    store_worker *w = NULL;
    if (!s || !parent || !parent->ncatalog)
        return CAIRN_OK;
    cairn_err rc = store_worker_new(s, &w);
    if (!rc)
        rc = catalog_each(s, w, (const uint8_t(*)[ID_LEN])parent->catalog, parent->ncatalog,
                          collect_known, k);
    store_worker_free(w);
    if (rc == CAIRN_ECORRUPT || rc == CAIRN_ENOTFOUND) {
        known_free(k); /* as for a version-1 parent: today's rows decoded, none trusted */
        return CAIRN_OK;
    }
    size_t cap = 16;
    while (!rc && k->n && cap < 2 * k->n)
        cap *= 2;
    if (!rc && k->n && !(k->slots = calloc(cap, sizeof *k->slots)))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    if (rc || !k->slots) {
        known_free(k);
        return rc;
    }
    k->mask = cap - 1;
    for (size_t i = 0; i < k->n; i++) {
        size_t j = known_slot(k, k->rows[i].digest);
        while (k->slots[j])
            j = (j + 1) & k->mask;
        k->slots[j] = (uint32_t)i + 1;
    }
    return CAIRN_OK;
}

static const known_row *known_find(const known_rows *k, const uint8_t *digest)
{
    if (!k->slots)
        return NULL;
    for (size_t j = known_slot(k, digest); k->slots[j]; j = (j + 1) & k->mask) {
        const known_row *const r = &k->rows[k->slots[j] - 1];
        if (memcmp(r->digest, digest, CATALOG_ROW_DIGEST_LEN) == 0)
            return r;
    }
    return NULL;
}

/* Manifest.db's one pass, on a thread of its own.  The parent's rows are
 * loaded by the caller's thread meanwhile and handed over through `known`:
 * until then every row is decoded, which gives the same entry. */
struct device_contents_read {
    char *dir, *db_path;
    ms_scan scan;
    atomic_int stop;
    _Atomic(const known_rows *) known; /* &parent_rows once loaded */
    known_rows parent_rows;
    int loaded;  /* parent_rows: known_load done */
    int started; /* the thread runs; else device_contents_end reads */
    pthread_t thread;
    /* the reader's own, read by the caller once it is joined */
    const known_row *hit; /* row_known's answer for the row catalog_row gets next */
    catalog cat;
    uint64_t reused;
    ms_report *report;
    cairn_err rc;
    char msg[ERR_MSG_MAX];
};

static int row_known(void *ctx, const ms_file *f)
{
    device_contents_read *const r = ctx;
    const known_rows *const k = atomic_load_explicit(&r->known, memory_order_acquire);
    r->hit = k ? known_find(k, f->row_digest) : NULL;
    return r->hit != NULL;
}

static cairn_err catalog_row(void *ctx, const ms_file *f)
{
    device_contents_read *const r = ctx;
    if (!f->known)
        return device_catalog_add(&r->cat, f);
    const known_row *const h = r->hit;
    r->reused++;
    return add_row(&r->cat, f, h->size, h->mode, h->mtime,
                   h->target ? (const char *)r->parent_rows.targets.data + h->target - 1 : NULL);
}

static void *contents_main(void *arg)
{
    device_contents_read *const r = arg;
    r->rc = ms_validate_rows(r->dir, r->db_path, &r->scan, &r->report);
    if (r->rc)
        snprintf(r->msg, sizeof r->msg, "%s", err_msg());
    return NULL;
}

static void contents_free(device_contents_read *r)
{
    known_free(&r->parent_rows);
    catalog_free(&r->cat);
    ms_report_free(r->report);
    free(r->dir);
    free(r->db_path);
    free(r);
}

static cairn_err contents_new(const char *dir, const char *db_path, device_contents_read **out)
{
    device_contents_read *const r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return err_set(CAIRN_ENOMEM, "out of memory");
    catalog_init(&r->cat);
    cbuf_init(&r->parent_rows.targets);
    atomic_init(&r->stop, 0);
    atomic_init(&r->known, NULL);
    r->dir = strdup(dir);
    r->db_path = db_path ? strdup(db_path) : fs_join(dir, "Manifest.db");
    if (!r->dir || !r->db_path) {
        contents_free(r);
        return err_set(CAIRN_ENOMEM, "out of memory");
    }
    r->scan = (ms_scan){.known = row_known, .fn = catalog_row, .ctx = r, .stop = &r->stop};
    *out = r;
    return CAIRN_OK;
}

/* The parent's rows, handed to the reader whether it runs yet or not. */
static cairn_err contents_known(device_contents_read *r, store *s, const snapshot *parent)
{
    r->loaded = 1;
    const cairn_err rc = known_load(s, parent, &r->parent_rows);
    if (!rc && r->parent_rows.slots)
        atomic_store_explicit(&r->known, &r->parent_rows, memory_order_release);
    return rc;
}

cairn_err device_contents_begin(const char *dir, const char *db_path, device_contents_read **out)
{
    const cairn_err rc = contents_new(dir, db_path, out);
    /* without a thread, device_contents_end reads it all */
    if (!rc)
        (*out)->started = pthread_create(&(*out)->thread, NULL, contents_main, *out) == 0;
    return rc;
}

void device_contents_cancel(device_contents_read *r)
{
    if (!r)
        return;
    if (r->started) {
        atomic_store_explicit(&r->stop, 1, memory_order_relaxed);
        pthread_join(r->thread, NULL);
    }
    contents_free(r);
}

cairn_err device_contents_end(device_contents_read *r, store *s, const snapshot *parent,
                              device_info *out)
{
    out->complete = 1;
    out->rows_known = 0;
    catalog_free(&out->cat);
    catalog_init(&out->cat);
    cairn_err rc = r->loaded ? CAIRN_OK : contents_known(r, s, parent);
    if (rc) {
        device_contents_cancel(r);
        return rc;
    }
    if (r->started)
        pthread_join(r->thread, NULL);
    else
        contents_main(r);
    rc = r->rc ? err_set(r->rc, "%s", r->msg) : CAIRN_OK;
    out->rows_known = r->reused;
    if (rc == CAIRN_ESOURCE && r->report) {
        out->complete = 0;
        out->missing = r->report->missing;
        snprintf(out->problem, sizeof out->problem, "%s", r->msg);
        rc = CAIRN_OK;
    }
    if (!rc) {
        out->cat = r->cat;
        catalog_init(&r->cat);
        catalog_sort(&out->cat);
    }
    contents_free(r);
    return rc;
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

cairn_err device_read_contents(store *s, const snapshot *parent, const char *dir,
                               const char *db_path, device_info *out)
{
    device_contents_read *r = NULL;
    /* read here, every row the parent knows left undecoded */
    cairn_err rc = contents_new(dir, db_path, &r);
    if (!rc && (rc = contents_known(r, s, parent)) != CAIRN_OK)
        device_contents_cancel(r);
    return rc ? rc : device_contents_end(r, s, parent, out);
}

void device_info_free(device_info *d)
{
    free(d->udid);
    free(d->chain);
    snapshot_meta_free(d->meta, d->nmeta);
    catalog_free(&d->cat);
    free(d->catalog_ids);
    memset(d, 0, sizeof *d);
}

/* device_reuse_contents' look at one parent entry: is its content file there? */
typedef struct presence {
    int dfd;
    device_info *out;
} presence;

static cairn_err check_present(void *ctx, const catalog_entry *e)
{
    presence *const p = ctx;
    struct stat st;
    char name[44];
    if (e->flags != MS_FLAG_FILE)
        return CAIRN_OK;
    catalog_content_path(e, name);
    if (fstatat(p->dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode)) {
        if (!p->out->missing++ && p->out->complete)
            snprintf(p->out->problem, sizeof p->out->problem,
                     "%s: content file is missing for %s/%s", name, e->domain, e->path);
    }
    return CAIRN_OK;
}

cairn_err device_reuse_contents(store *s, const snapshot *parent, const char *dir, device_info *out,
                                int *reused)
{
    store_worker *w = NULL;
    tree_node old;
    struct stat st;
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
    free(out->catalog_ids);
    out->ncatalog_ids = 0;
    out->catalog_ids = malloc((size_t)parent->ncatalog * ID_LEN);
    if (!out->catalog_ids) {
        rc = err_set(CAIRN_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(out->catalog_ids, parent->catalog, (size_t)parent->ncatalog * ID_LEN);
    out->missing = 0;
    presence p = {dfd, out};
    rc = catalog_each(s, w, (const uint8_t(*)[ID_LEN])parent->catalog, parent->ncatalog,
                      check_present, &p);
    if (rc) {
        free(out->catalog_ids);
        out->catalog_ids = NULL;
        goto done;
    }
    out->ncatalog_ids = parent->ncatalog;
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
