/* cairn diff [A] B: what changed from A (default: B's parent) to B. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/core/diff.h"
#include "engine/core/snapshot_list.h"
#include "util/fsutil.h"
#include "cli.h"

typedef struct print_ctx {
    int json;
    size_t count;
} print_ctx;

static void print_item(void *ctx, const diff_item *it)
{
    print_ctx *const p = ctx;
    if (p->json) {
        printf("%s{\"status\":\"%c\",\"domain\":", p->count ? "," : "", it->status);
        if (it->domain)
            cli_json_str(it->domain);
        else
            printf("null");
        printf(",\"path\":");
        cli_json_str(it->path);
        printf(",\"old_size\":%" PRIu64 ",\"new_size\":%" PRIu64 "}", it->old_size, it->new_size);
    } else {
        char size[32];
        cli_human(it->status == 'D' ? it->old_size : it->new_size, size, sizeof size);
        printf("%c  %s%s%s  (%s)\n", it->status, it->domain ? it->domain : "",
               it->domain ? "/" : "", it->path, size);
    }
    p->count++;
}

int cmd_diff(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *a = NULL, *b = NULL;
    diff_summary sum;
    print_ctx p = {c->json, 0};
    char ida[9], idb[9], added[32], removed[32], stored[32];
    if (c->nargs < 1 || c->nargs > 2)
        return cli_usage_error(&cli_cmd_diff);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find_for(&l, c->args[c->nargs - 1], c->device, 0, &b);
    if (!rc && c->nargs == 2) {
        rc = snaplist_find_for(&l, c->args[0], c->device, 0, &a);
    } else if (!rc) {
        char hex[2 * ID_LEN + 1];
        snaplist_short_id(b->id, idb);
        if (!b->has_parent) {
            rc = err_set(CAIRN_ENOTFOUND,
                         "snapshot %s is the first of its chain: name two snapshots to compare",
                         idb);
        } else {
            fs_hex(b->parent, ID_LEN, hex);
            rc = snaplist_find(&l, hex, &a);
            if (rc == CAIRN_ENOTFOUND)
                rc = err_set(CAIRN_ENOTFOUND,
                             "the parent of snapshot %s is gone: name two "
                             "snapshots to compare",
                             idb);
        }
    }
    if (!rc) {
        snaplist_short_id(a->id, ida);
        snaplist_short_id(b->id, idb);
        if (c->json)
            printf("{\"a\":\"%s\",\"b\":\"%s\",\"changes\":[", ida, idb);
        else
            printf("comparing %s with %s\n", ida, idb);
        rc = diff_run(s, a, b, print_item, &p, &sum);
    }
    if (!rc) {
        if (c->json) {
            printf("],\"added\":%" PRIu64 ",\"removed\":%" PRIu64 ",\"modified\":%" PRIu64
                   ",\"bytes_added\":%" PRIu64 ",\"bytes_removed\":%" PRIu64
                   ",\"new_bytes_stored\":%" PRIu64 "}\n",
                   sum.added, sum.removed, sum.modified, sum.bytes_added, sum.bytes_removed,
                   b->new_bytes);
        } else {
            cli_human(sum.bytes_added, added, sizeof added);
            cli_human(sum.bytes_removed, removed, sizeof removed);
            cli_human(b->new_bytes, stored, sizeof stored);
            printf("%" PRIu64 " added, %" PRIu64 " removed, %" PRIu64
                   " modified: +%s, -%s; snapshot %s added %s of new data to the store\n",
                   sum.added, sum.removed, sum.modified, added, removed, idb, stored);
        }
    }
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option diff_options[] = {
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "print one JSON object"},
    CLI_OPT_DEVICE_SCOPE(0),
    CLI_OPT_END,
};

static const char *const diff_synopsis[] = {
    "[--json] [--device NAME|UDID] [SNAPSHOT_A] SNAPSHOT_B",
    NULL,
};

const cli_command cli_cmd_diff = {
    .name = "diff",
    .summary = "show what changed between two snapshots (A defaults to B's parent)",
    .synopsis = diff_synopsis,
    .options = diff_options,
    .run = cmd_diff,
};
