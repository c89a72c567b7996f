/* cmd_info_ls_extract.c - the commands that see a snapshot as a device
 * backup: info (its details), ls (its catalog by domain and path) and
 * extract (files out of it by domain and path). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/core/catalog.h"
#include "engine/core/restore.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/tree_store.h"
#include "util/fsutil.h"
#include "cli.h"

/* Opens the store and finds the snapshot named by the first argument. */
static cairn_err open_snapshot(cli *c, store **s, snaplist *l, const snapshot **sn)
{
    cairn_err rc = cli_open_store(c, 0, s);
    if (!rc)
        rc = snaplist_load(*s, l);
    if (!rc)
        rc = snaplist_find(l, c->args[0], sn);
    return rc;
}

static cairn_err load_catalog(store *s, const snapshot *sn, catalog *cat)
{
    store_worker *w = NULL;
    char id[9];
    snaplist_short_id(sn->id, id);
    if (sn->ncatalog == 0) {
        if (snapshot_is_encrypted_backup(sn))
            return err_set(CAIRN_EINVAL,
                           "snapshot %s is an encrypted device backup stored without its "
                           "password: its files cannot be listed; back the device up again "
                           "with --backup-password-file or CAIRN_BACKUP_PASSWORD",
                           id);
        return err_set(CAIRN_EINVAL, "snapshot %s is not a device backup (use restore)", id);
    }
    cairn_err rc = store_worker_new(s, &w);
    if (!rc)
        rc = catalog_load(s, w, (const uint8_t(*)[ID_LEN])sn->catalog, sn->ncatalog, cat);
    store_worker_free(w);
    return rc;
}

int cmd_info(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    char hex[2 * ID_LEN + 1], when[32], size[32];
    if (c->nargs != 1)
        return cli_usage_error(&cli_cmd_info);
    cairn_err rc = open_snapshot(c, &s, &l, &sn);
    if (!rc) {
        fs_hex(sn->id, ID_LEN, hex);
        cli_time(sn->time_sec, when, sizeof when, 0);
        cli_human(sn->bytes, size, sizeof size);
        printf("snapshot     %s\n", hex);
        printf("time         %s\n", when);
        printf("host         %s\n", sn->hostname);
        printf("source       %s\n", sn->source);
        printf("chain        %s\n", sn->chain);
        printf("files        %" PRIu64 " (%s)\n", sn->files, size);
        if (sn->flags & (SNAP_PARTIAL | SNAP_INCOMPLETE))
            printf("state       %s%s\n", (sn->flags & SNAP_PARTIAL) ? " partial" : "",
                   (sn->flags & SNAP_INCOMPLETE) ? " incomplete" : "");
        for (size_t i = 0; i < sn->nmeta; i++) {
            const char *const field = snapshot_meta_device_field(sn->meta[i].key);
            if (!field)
                continue;
            if (snapshot_meta_is_time(sn->meta[i].key)) {
                cli_time((int64_t)strtoll(sn->meta[i].value, NULL, 10), when, sizeof when, 0);
                printf("%-24s %s\n", field, when);
            } else {
                printf("%-24s %s\n", field, sn->meta[i].value);
            }
        }
    }
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

int cmd_ls(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    catalog cat;
    size_t shown = 0;
    catalog_init(&cat);
    if (c->nargs < 1 || c->nargs > 2)
        return cli_usage_error(&cli_cmd_ls);
    cairn_err rc = open_snapshot(c, &s, &l, &sn);
    if (!rc)
        rc = load_catalog(s, sn, &cat);
    for (size_t i = 0; !rc && i < cat.count; i++) {
        const catalog_entry *const e = &cat.entries[i];
        char when[32];
        if (c->nargs == 2 && !catalog_matches(e, c->args[1]))
            continue;
        cli_time(e->mtime, when, sizeof when, 0);
        const char kind = e->flags == CATALOG_DIR ? 'd' : e->flags == CATALOG_SYMLINK ? 'l' : '-';
        printf("%c %06o %12" PRIu64 "  %s  %s/%s%s%s\n", kind, (unsigned)e->mode, e->size, when,
               e->domain, e->path, e->target ? " -> " : "", e->target ? e->target : "");
        shown++;
    }
    if (!rc && c->nargs == 2 && shown == 0)
        rc = err_set(CAIRN_ENOTFOUND, "%s: nothing in this snapshot matches", c->args[1]);
    catalog_free(&cat);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
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

int cmd_extract(cli *c)
{
    store *s = NULL;
    store_worker *w = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    catalog cat;
    cbuf buf;
    uint64_t files = 0, bytes = 0, failed = 0;
    char size[32];
    catalog_init(&cat);
    cbuf_init(&buf);
    if (c->nargs < 2 || !c->to)
        return cli_usage_error(&cli_cmd_extract);
    uint8_t *done = NULL;
    cairn_err rc = open_snapshot(c, &s, &l, &sn);
    if (!rc)
        rc = load_catalog(s, sn, &cat);
    if (!rc)
        rc = store_worker_new(s, &w);
    if (!rc && !(done = calloc(cat.count ? cat.count : 1, 1)))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    for (int a = 1; !rc && a < c->nargs; a++) {
        size_t matched = 0;
        for (size_t i = 0; !rc && i < cat.count; i++) {
            if (!catalog_matches(&cat.entries[i], c->args[a]))
                continue;
            matched++;
            /* overlapping arguments name some entries twice: write them once */
            if (done[i])
                continue;
            done[i] = 1;
            const cairn_err one = extract_one(s, w, sn, &cat.entries[i], c->to, &buf, &bytes);
            if (one == CAIRN_ENOMEM || one == CAIRN_ENOSPC) {
                rc = one;
            } else if (one) {
                cli_warn_item(NULL, c->args[a], err_msg());
                failed++;
            } else if (cat.entries[i].flags == CATALOG_FILE) {
                files++;
            }
        }
        if (!rc && matched == 0)
            rc = err_set(CAIRN_ENOTFOUND, "%s: nothing in this snapshot matches", c->args[a]);
    }
    if (!rc) {
        cli_human(bytes, size, sizeof size);
        printf("extracted %" PRIu64 " files (%s) to %s\n", files, size, c->to);
        if (failed)
            rc = err_set(CAIRN_EPARTIAL, "%" PRIu64 " item(s) could not be extracted", failed);
    }
    free(done);
    cbuf_free(&buf);
    store_worker_free(w);
    catalog_free(&cat);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const char *const info_synopsis[] = {
    "SNAPSHOT",
    NULL,
};

const cli_command cli_cmd_info = {
    .name = "info",
    .summary = "show a snapshot's details (device, model, iOS, backup date)",
    .synopsis = info_synopsis,
    .run = cmd_info,
};

static const char *const ls_synopsis[] = {
    "SNAPSHOT [DOMAIN[/PATH]]",
    NULL,
};

const cli_command cli_cmd_ls = {
    .name = "ls",
    .summary = "list a device snapshot's files by domain and path",
    .synopsis = ls_synopsis,
    .run = cmd_ls,
};

static const cli_option extract_options[] = {
    {.name = "to",
     .short_name = 't',
     .kind = OPT_STRING,
     .offset = offsetof(cli, to),
     .arg_name = "DIR",
     .help = "the folder to write the files into"},
    CLI_OPT_END,
};

static const char *const extract_synopsis[] = {
    "SNAPSHOT DOMAIN[/PATH]... --to DIR",
    NULL,
};

const cli_command cli_cmd_extract = {
    .name = "extract",
    .summary = "write files of a device snapshot, by domain and path, into a folder",
    .synopsis = extract_synopsis,
    .options = extract_options,
    .run = cmd_extract,
};
