/* target_common.c - what the commands on copy targets share (see
 * target_common.h). */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "target_common.h"

/* Resolves the store path and requires a store there (no password: the
 * target list and the 3-2-1 report need none). */
cairn_err cli_local_store(cli *c)
{
    struct stat st;
    char cfg[PATH_MAX + 8];
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = store_object_path(c->store_path, STORE_NAME_CONFIG, cfg, sizeof cfg);
    if (rc)
        return rc;
    if (stat(cfg, &st) != 0)
        return err_set(CAIRN_ENOSTORE, "%s: no store here (run 'cairn init' first)", c->store_path);
    return CAIRN_OK;
}

/* The folder of a folder target's URL, or NULL for a network target. */
const char *cli_folder_of(const char *url)
{
    if (strncmp(url, "file://", 7) == 0)
        return url + 7;
    return url[0] == '/' ? url : NULL;
}

static cairn_err do_record(void *ctx, target_list *l)
{
    const record_ctx *const r = ctx;
    target *const t = targets_find(l, r->name);
    if (!t)
        return CAIRN_OK; /* removed while we copied */
    if (r->checked) {
        targets_set_checked(t, r->when, r->checked);
        return CAIRN_OK;
    }
    if (r->failed)
        return targets_set_failed(t, r->when, r->failed);
    return targets_set_copied(t, r->when, r->copied->objects, r->copied->bytes,
                              (const uint8_t(*)[ID_LEN])r->copied->held, r->copied->nheld);
}

/* Recording is bookkeeping for 'status': a failure to write it is worth a
 * warning, never the copy's result. */
void cli_record(const char *store_dir, record_ctx *r)
{
    const cairn_err rc = targets_update(store_dir, do_record, r);
    if (rc)
        fprintf(stderr, "cairn: warning: target %s: could not record the result: %s\n", r->name,
                err_msg());
}

void cli_print_time_or_null(int64_t t)
{
    char when[32];
    if (!t) {
        printf("null");
        return;
    }
    cli_time(t, when, sizeof when, 1);
    printf("\"%s\"", when);
}

/* A running count on a terminal, overwritten in place and erased at the end. */
void cli_show_progress(void *ctx, const copy_result *r)
{
    char size[32];
    (void)ctx;
    cli_human(r->bytes, size, sizeof size);
    fprintf(stderr, "\r\033[K  %" PRIu64 " objects, %s", r->objects, size);
}

void cli_end_progress(const copy_opts *o)
{
    if (o->progress)
        fprintf(stderr, "\r\033[K");
}

/* NAME from the targets file, else a URL given as is (a target opened on
 * another machine, where no targets file knows it). */
cairn_err cli_resolve_target(cli *c, const char *name, char *url, size_t cap, int *named)
{
    target_list l = {NULL, 0};
    *named = 0;
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = targets_load(c->store_path, &l);
    if (rc)
        return rc;
    const target *const t = targets_find(&l, name);
    if (t) {
        snprintf(url, cap, "%s", t->url);
        *named = 1;
    } else if (strstr(name, "://") || name[0] == '/') {
        snprintf(url, cap, "%s", name);
    } else {
        rc = err_set(CAIRN_ENOTFOUND,
                     "no target named '%s' (see 'cairn target list'; a URL works "
                     "too)",
                     name);
    }
    targets_free(&l);
    return rc;
}

/* The folder a target can be opened from: a folder target itself, else
 * its local mirror brought up to date (every object downloaded again with
 * refetch, so a check reads what the target holds now). */
cairn_err cli_target_folder(const char *label, const char *url, int refetch, char *out, size_t cap)
{
    copy_result r;
    int fetched = 0;
    char size[32];
    memset(&r, 0, sizeof r);
    const copy_opts opts = {.refetch = refetch,
                            .progress = isatty(STDERR_FILENO) ? cli_show_progress : NULL};
    const cairn_err rc = copy_target_folder(url, &opts, out, cap, &fetched, &r);
    cli_end_progress(&opts);
    if (rc) {
        copy_result_free(&r);
        return err_set(rc, "target %s: %s", label, err_msg());
    }
    if (fetched) {
        cli_human(r.bytes, size, sizeof size);
        printf("target %s: fetched %" PRIu64 " objects, %" PRIu64 " bytes (%s) into its local "
               "mirror %s\n",
               label, r.objects, r.bytes, size, out);
    }
    copy_result_free(&r);
    return CAIRN_OK;
}

uint64_t cli_cache_max(const cli *c)
{
    return (uint64_t)(c->cache_mb ? c->cache_mb : COPY_CACHE_DEFAULT_MB) << 20;
}

/* A folder target is opened where it is; a network target through a view
 * that fetches its small objects now and its packs as they are read. */
cairn_err cli_open_target(cli *c, const char *name, int refetch)
{
    char url[PATH_MAX];
    int named;
    copy_result r;
    memset(&r, 0, sizeof r);
    cairn_err rc = cli_resolve_target(c, name, url, sizeof url, &named);
    if (!rc && cli_folder_of(url)) {
        rc = cli_target_folder(name, url, 0, c->target_store, sizeof c->target_store);
    } else if (!rc) {
        const copy_opts opts = {.refetch = refetch,
                                .progress = isatty(STDERR_FILENO) ? cli_show_progress : NULL};
        rc = copy_view_open(url, cli_cache_max(c), &opts, &c->view, &r);
        cli_end_progress(&opts);
        copy_result_free(&r);
        if (rc)
            return err_set(rc, "target %s: %s", name, err_msg());
        snprintf(c->target_store, sizeof c->target_store, "%s", copy_view_folder(c->view));
    }
    if (!rc)
        c->store_arg = c->target_store;
    return rc;
}

cairn_err cli_from_target(cli *c)
{
    return cli_open_target(c, c->from_target, 0);
}

void cli_open_target_end(cli *c, const char *name)
{
    char size[32], kept[32], max[32];
    if (!c->view)
        return;
    cli_human(copy_view_bytes(c->view), size, sizeof size);
    cli_human(copy_view_cached(c->view), kept, sizeof kept);
    cli_human(cli_cache_max(c), max, sizeof max);
    /* --json keeps stdout for JSON */
    fprintf(c->json ? stderr : stdout,
            "target %s: fetched %" PRIu64 " objects, %" PRIu64 " bytes (%s); its local cache %s "
            "holds %" PRIu64 " bytes of packs (%s, at most %s)\n",
            name, copy_view_objects(c->view), copy_view_bytes(c->view), size,
            copy_view_folder(c->view), copy_view_cached(c->view), kept, max);
    copy_view_close(c->view);
    c->view = NULL;
}

void cli_from_target_end(cli *c)
{
    cli_open_target_end(c, c->from_target);
}
