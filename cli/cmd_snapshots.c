/* cmd_snapshots.c - cairn snapshots: the list of snapshots, as a table or
 * JSON, optionally those of one device. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/core/chains.h"
#include "engine/core/snapshot_list.h"
#include "util/codec.h"
#include "util/fsutil.h"
#include "cli.h"

static void print_snapshot_row(const snapshot *sn, const char *pinned)
{
    char id[9], when[32], size[32], added[32], what[512];
    snaplist_short_id(sn->id, id);
    cli_time(sn->time_sec, when, sizeof when, 0);
    cli_human(sn->bytes, size, sizeof size);
    cli_human(sn->new_bytes, added, sizeof added);
    const char *const name = snapshot_device_name(sn);
    if (name) {
        const char *const type = snapshot_get_meta(sn, SNAP_META_PRODUCT_TYPE);
        const char *const ios = snapshot_get_meta(sn, SNAP_META_PRODUCT_VERSION);
        const char *const date = snapshot_get_meta(sn, SNAP_META_LAST_BACKUP_DATE);
        char bdate[32] = "?";
        if (date)
            cli_time((int64_t)strtoll(date, NULL, 10), bdate, sizeof bdate, 0);
        snprintf(what, sizeof what, "%s (%s, iOS %s, backup of %s%s)", name, type ? type : "?",
                 ios ? ios : "?", bdate, snapshot_is_encrypted_backup(sn) ? ", encrypted" : "");
    } else {
        snprintf(what, sizeof what, "%s", sn->source);
    }
    printf("%-8s  %-19s  %8" PRIu64 "  %10s  %10s  %s%s%s%s%s%s%s\n", id, when, sn->files, size,
           added, what, (sn->flags & SNAP_PARTIAL) ? " (partial)" : "",
           (sn->flags & SNAP_INCOMPLETE) ? " (incomplete)" : "",
           (sn->flags & SNAP_REPAIRED) ? " (repaired)" : "", pinned ? " (pinned: " : "",
           pinned ? pinned : "", pinned ? ")" : "");
}

int cmd_snapshots(cli *c)
{
    store *s = NULL;
    snaplist l;
    size_t shown = 0;
    /* words left over were once ignored: now they are an error */
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_snapshots);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (rc)
        return cli_fail(rc);
    chain_list chains = {NULL, 0};
    rc = snaplist_load(s, &l);
    if (!rc) {
        rc = chains_load(s, &chains);
        if (rc)
            snaplist_free(&l);
    }
    store_close(s);
    if (rc)
        return cli_fail(rc);
    if (c->json)
        putchar('[');
    else
        printf("%-8s  %-19s  %8s  %10s  %10s  %s\n", "ID", "Time", "Files", "Size", "Added",
               "Source");
    for (size_t i = 0; i < l.count; i++) {
        if (!snapshot_matches_device(&l.items[i], c->device))
            continue;
        if (c->json) {
            if (shown)
                putchar(',');
            /* what snapshots adds to the shared object: the pin, null when none */
            const char *const pinned = chains_pinned(&chains, l.items[i].chain, l.items[i].id);
            cbuf extra;
            cbuf_init(&extra);
            cbuf_printf(&extra, "\"pinned\":");
            if (pinned)
                cbuf_json_str(&extra, pinned);
            else
                cbuf_printf(&extra, "null");
            cli_snapshot_json(&l.items[i], extra.failed ? NULL : cbuf_text(&extra));
            cbuf_free(&extra);
        } else {
            print_snapshot_row(&l.items[i],
                               chains_pinned(&chains, l.items[i].chain, l.items[i].id));
        }
        shown++;
    }
    if (c->json)
        printf("]\n");
    else
        printf("%zu snapshot(s)\n", shown);
    if (l.damaged)
        fprintf(stderr, "cairn: warning: %zu snapshot object(s) are damaged; run 'cairn check'\n",
                l.damaged);
    chains_free(&chains);
    snaplist_free(&l);
    return EXIT_OK;
}

static const cli_option snapshots_options[] = {
    {.name = "json", .kind = OPT_FLAG, .offset = offsetof(cli, json), .help = "print a JSON array"},
    {.name = "device",
     .kind = OPT_MAYBE_VALUE,
     .offset = offsetof(cli, device),
     .arg_name = "UDID|NAME",
     .help = "only the snapshots of this device"},
    CLI_OPT_END,
};

static const char *const snapshots_synopsis[] = {
    "[--device UDID|NAME] [--json]",
    NULL,
};

const cli_command cli_cmd_snapshots = {
    .name = "snapshots",
    .summary = "list the snapshots",
    .synopsis = snapshots_synopsis,
    .options = snapshots_options,
    .run = cmd_snapshots,
};
