/* The commands that see a snapshot as a device backup: info, ls, extract,
 * chains. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/core/catalog.h"
#include "engine/core/chains.h"
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
    if (c->nargs != 1) {
        fprintf(stderr, "cairn: usage: cairn info [--store DIR] SNAPSHOT\n");
        return EXIT_USAGE;
    }
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
    if (c->nargs < 1 || c->nargs > 2) {
        fprintf(stderr, "cairn: usage: cairn ls [--store DIR] SNAPSHOT [DOMAIN[/PATH]]\n");
        return EXIT_USAGE;
    }
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
    if (c->nargs < 2 || !c->to) {
        fprintf(stderr,
                "cairn: usage: cairn extract [--store DIR] SNAPSHOT DOMAIN/PATH... --to DIR\n");
        return EXIT_USAGE;
    }
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

int cmd_chains(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    chain_list chains = {NULL, 0};
    cairn_err rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = chains_load(s, &chains);
    store_close(s);
    if (rc) {
        snaplist_free(&l);
        return cli_fail(rc);
    }
    printf("%-8s  %-19s  %-19s  %5s  %10s  %-24s  %s\n", "State", "First", "Last", "Count", "Added",
           "Device", "Chain");
    /* snapshots are sorted by time: a chain's first occurrence is its oldest */
    for (size_t i = 0; i < l.count; i++) {
        const snapshot *const first = &l.items[i];
        const snapshot *last = first;
        size_t count = 0;
        uint64_t added = 0;
        int seen_before = 0;
        for (size_t k = 0; k < i && !seen_before; k++)
            seen_before = strcmp(l.items[k].chain, first->chain) == 0;
        if (seen_before)
            continue;
        for (size_t k = i; k < l.count; k++) {
            if (strcmp(l.items[k].chain, first->chain) != 0)
                continue;
            last = &l.items[k];
            count++;
            added += l.items[k].new_bytes;
        }
        char t1[32], t2[32], size[32], device[256] = "-";
        cli_time(first->time_sec, t1, sizeof t1, 0);
        cli_time(last->time_sec, t2, sizeof t2, 0);
        cli_human(added, size, sizeof size);
        const char *const name = snapshot_device_name(last);
        const char *const type = snapshot_get_meta(last, SNAP_META_PRODUCT_TYPE);
        if (name)
            snprintf(device, sizeof device, "%s%s%s%s", name, type ? " (" : "", type ? type : "",
                     type ? ")" : "");
        const int archived = chains_is_archived(&chains, first->chain);
        printf("%-8s  %-19s  %-19s  %5zu  %10s  %-24s  %s\n", archived ? "archived" : "active", t1,
               t2, count, size, device, first->chain);
        for (size_t k = 0; archived && k < chains.count; k++)
            if (strcmp(chains.items[k].name, first->chain) == 0)
                printf("          archived: %s\n", chains.items[k].reason);
    }
    chains_free(&chains);
    snaplist_free(&l);
    return EXIT_OK;
}

int cmd_chain(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    chain_list chains = {NULL, 0};
    const char *name = NULL;
    const int archive = c->nargs == 2 && strcmp(c->args[0], "archive") == 0;
    const int delete = c->nargs == 2 && strcmp(c->args[0], "delete") == 0;
    size_t removed = 0;
    if (!archive && !delete) {
        fprintf(stderr,
                "cairn: usage: cairn chain archive CHAIN | chain delete CHAIN [--dry-run]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = chains_load(s, &chains);
    if (!rc)
        rc = chains_resolve(&l, c->args[1], &name);
    if (!rc && archive) {
        if (chains_is_archived(&chains, name))
            printf("chain %s is already archived\n", name);
        else if (!(rc = chains_archive(s, name, "archived by hand")))
            printf("chain %s archived\n", name);
    } else if (!rc) {
        /* only archived chains are deleted, and only when named */
        if (!chains_is_archived(&chains, name))
            rc = err_set(CAIRN_EINVAL,
                         "chain %s is active: archive it first ('cairn chain archive')", name);
        for (size_t i = 0; !rc && i < l.count; i++) {
            if (strcmp(l.items[i].chain, name) != 0)
                continue;
            removed++;
            if (!c->dry_run)
                rc = store_delete_snapshot(s, l.items[i].id);
        }
        if (!rc && !c->dry_run)
            rc = chains_drop(s, name);
        if (!rc)
            printf("%s chain %s: %zu snapshot(s); run 'cairn prune' to free their data\n",
                   c->dry_run ? "would delete" : "deleted", name, removed);
    }
    chains_free(&chains);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}
