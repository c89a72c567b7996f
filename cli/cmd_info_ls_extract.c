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
#include "engine/core/extract.h"
#include "engine/core/snapshot_list.h"
#include "util/fsutil.h"
#include "cli.h"

/* Opens the store and finds the snapshot named by the first argument
 * ("latest" scoped by --device; device_only: a command that reads a device
 * backup's catalog, where "latest" is the only device's). */
static cairn_err open_snapshot(cli *c, int device_only, store **s, snaplist *l, const snapshot **sn)
{
    cairn_err rc = cli_open_store(c, 0, s);
    if (!rc)
        rc = snaplist_load(*s, l);
    if (!rc)
        rc = snaplist_find_for(l, c->args[0], c->device, device_only, sn);
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
    cairn_err rc = open_snapshot(c, 0, &s, &l, &sn);
    if (!rc) {
        const char *const m = snapshot_get_meta(sn, SNAP_META_MISSING_COUNT);
        const uint64_t missing = m ? strtoull(m, NULL, 10) : 0;
        if (c->json) {
            char extra[64];
            snprintf(extra, sizeof extra, "\"missing_files\":%" PRIu64, missing);
            cli_snapshot_json(sn, extra);
            putchar('\n');
            goto done;
        }
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
        if (missing)
            printf("missing      %" PRIu64 " file(s) listed in Manifest.db were not in the backup "
                   "(stored with --allow-incomplete)\n",
                   missing);
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
done:
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

/* What ls prints as the catalog streams by. */
typedef struct ls_state {
    const cli *c;
    size_t shown;
} ls_state;

static cairn_err ls_entry(void *ctx, const catalog_entry *e)
{
    ls_state *const st = ctx;
    const cli *const c = st->c;
    char when[32];
    if (c->nargs == 2 && !catalog_matches(e, c->args[1]))
        return CAIRN_OK;
    const char kind = e->flags == CATALOG_DIR ? 'd' : e->flags == CATALOG_SYMLINK ? 'l' : '-';
    if (c->json) {
        cli_time(e->mtime, when, sizeof when, 1);
        printf("%s{\"type\":\"%s\",\"mode\":%u,\"size\":%" PRIu64 ",\"mtime\":\"%s\",\"domain\":",
               st->shown ? "," : "[",
               kind == 'd'   ? "dir"
               : kind == 'l' ? "symlink"
                             : "file",
               (unsigned)e->mode, e->size, when);
        cli_json_str(e->domain ? e->domain : "");
        printf(",\"path\":");
        cli_json_str(e->path);
        printf(",\"target\":");
        if (e->target)
            cli_json_str(e->target);
        else
            printf("null");
        putchar('}');
        st->shown++;
        return CAIRN_OK;
    }
    cli_time(e->mtime, when, sizeof when, 0);
    printf("%c %06o %12" PRIu64 "  %s  %s/%s%s%s\n", kind, (unsigned)e->mode, e->size, when,
           e->domain, e->path, e->target ? " -> " : "", e->target ? e->target : "");
    st->shown++;
    return CAIRN_OK;
}

int cmd_ls(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    ls_state st = {c, 0};
    if (c->nargs < 1 || c->nargs > 2)
        return cli_usage_error(&cli_cmd_ls);
    cairn_err rc = open_snapshot(c, 1, &s, &l, &sn);
    /* streamed: a million-row catalog is never held */
    if (!rc)
        rc = extract_catalog_each(s, sn, ls_entry, &st);
    if (!rc && c->nargs == 2 && st.shown == 0)
        rc = err_set(CAIRN_ENOTFOUND, "%s: nothing in this snapshot matches", c->args[1]);
    else if (!rc && c->json)
        printf("%s]\n", st.shown ? "" : "[");
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

int cmd_extract(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    extract_result r;
    char size[32];
    if (c->nargs < 2 || !c->to)
        return cli_usage_error(&cli_cmd_extract);
    cairn_err rc = open_snapshot(c, 1, &s, &l, &sn);
    if (!rc)
        rc = extract_run(s, sn, (const char *const *)c->args + 1, (size_t)c->nargs - 1, c->to,
                         cli_warn_item, NULL, &r);
    if (!rc || rc == CAIRN_EPARTIAL) {
        cli_human(r.bytes, size, sizeof size);
        printf("extracted %" PRIu64 " files (%s) to %s\n", r.files, size, c->to);
    }
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option info_options[] = {
    CLI_OPT_DEVICE_SCOPE(0),
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "print a JSON object"},
    CLI_OPT_END,
};

static const char *const info_synopsis[] = {
    "[--device NAME|UDID] [--json] SNAPSHOT",
    NULL,
};

const cli_command cli_cmd_info = {
    .name = "info",
    .summary = "show a snapshot's details (device, model, iOS, backup date)",
    .synopsis = info_synopsis,
    .options = info_options,
    .run = cmd_info,
};

static const cli_option ls_options[] = {
    CLI_OPT_DEVICE_SCOPE(0),
    {.name = "json", .kind = OPT_FLAG, .offset = offsetof(cli, json), .help = "print a JSON array"},
    CLI_OPT_END,
};

static const char *const ls_synopsis[] = {
    "[--device NAME|UDID] [--json] SNAPSHOT [DOMAIN[/PATH]]",
    NULL,
};

const cli_command cli_cmd_ls = {
    .name = "ls",
    .summary = "list a device snapshot's files by domain and path",
    .synopsis = ls_synopsis,
    .options = ls_options,
    .run = cmd_ls,
};

static const cli_option extract_options[] = {
    {.name = "to",
     .short_name = 't',
     .kind = OPT_STRING,
     .offset = offsetof(cli, to),
     .arg_name = "DIR",
     .help = "the folder to write the files into"},
    CLI_OPT_DEVICE_SCOPE(0),
    CLI_OPT_END,
};

static const char *const extract_synopsis[] = {
    "[--device NAME|UDID] SNAPSHOT DOMAIN[/PATH]... --to DIR",
    NULL,
};

const cli_command cli_cmd_extract = {
    .name = "extract",
    .summary = "write files of a device snapshot, by domain and path, into a folder",
    .synopsis = extract_synopsis,
    .options = extract_options,
    .run = cmd_extract,
};
