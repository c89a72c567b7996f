/* cmd_forget.c - cairn forget: removes snapshots by a retention policy,
 * per chain (prune then frees their data). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/chains.h"
#include "engine/core/prune.h"
#include "engine/core/snapshot_list.h"
#include "util/fsutil.h"
#include "cli.h"

int cmd_forget(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    forget_item *items = NULL;
    size_t n = 0, removed = 0;
    const forget_policy p = {c->keep[0], c->keep[1], c->keep[2],
                             c->keep[3], c->keep[4], c->keep[5]};
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_forget);
    chain_list chains = {NULL, 0};
    const char *named = NULL;
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = chains_load(s, &chains);
    if (!rc && c->chain)
        rc = chains_resolve(&l, c->chain, &named);
    if (!rc)
        rc = forget_plan(&l, named, &p, &items, &n);
    if (!rc)
        forget_keep_pinned(&chains, items, n);
    const char *chain = "";
    size_t kept = 0;
    const int json = !rc && c->json; /* an object is open on stdout */
    if (json)
        printf("{\"dry_run\":%s,\"snapshots\":[", c->dry_run ? "true" : "false");
    for (size_t i = 0; !rc && i < n; i++) {
        char id[9], when[32], hex[2 * ID_LEN + 1];
        /* archived chains are history: policy touches them only when named */
        if (!named && chains_is_archived(&chains, items[i].snap->chain))
            continue;
        if (c->json) {
            fs_hex(items[i].snap->id, ID_LEN, hex);
            cli_time(items[i].snap->time_sec, when, sizeof when, 1);
            printf("%s{\"id\":\"%s\",\"short_id\":\"%.8s\",\"time\":\"%s\",\"chain\":",
                   kept + removed ? "," : "", hex, hex, when);
            cli_json_str(items[i].snap->chain);
            printf(",\"keep\":%s,\"reason\":", items[i].keep ? "true" : "false");
            if (items[i].keep)
                cli_json_str(items[i].reason);
            else
                printf("null");
            putchar('}');
        }
        if (items[i].keep)
            kept++;
        else
            removed++;
        if (!items[i].keep && !c->dry_run)
            rc = store_delete_snapshot(s, items[i].snap->id);
        if (c->json)
            continue;
        if (strcmp(chain, items[i].snap->chain) != 0) {
            chain = items[i].snap->chain;
            printf("chain %s\n", chain);
        }
        snaplist_short_id(items[i].snap->id, id);
        cli_time(items[i].snap->time_sec, when, sizeof when, 0);
        if (items[i].keep) {
            printf("  keep    %s  %s  (%s)\n", id, when, items[i].reason);
            continue;
        }
        printf("  %s  %s  %s\n", c->dry_run ? "would remove" : "remove", id, when);
    }
    if (json) /* whole even after a failure, which is on stderr */
        printf("],\"kept\":%zu,\"removed\":%zu}\n", kept, removed);
    else if (!rc)
        printf("%zu snapshot(s) %s; run 'cairn prune' to free their data\n", removed,
               c->dry_run ? "would be removed" : "removed");
    free(items);
    chains_free(&chains);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option forget_options[] = {
    {.name = "chain",
     .kind = OPT_STRING,
     .offset = offsetof(cli, chain),
     .arg_name = "CHAIN",
     .help = "only this chain (archived ones only when named)"},
    {.name = "keep-last",
     .kind = OPT_INT,
     .offset = offsetof(cli, keep) + 0 * sizeof(int),
     .min = 0,
     .max = 1000000,
     .arg_name = "N",
     .help = "keep the newest N snapshots"},
    {.name = "keep-hourly",
     .kind = OPT_INT,
     .offset = offsetof(cli, keep) + 1 * sizeof(int),
     .min = 0,
     .max = 1000000,
     .arg_name = "N",
     .help = "keep the newest snapshot of each of the last N hours"},
    {.name = "keep-daily",
     .kind = OPT_INT,
     .offset = offsetof(cli, keep) + 2 * sizeof(int),
     .min = 0,
     .max = 1000000,
     .arg_name = "N",
     .help = "keep the newest snapshot of each of the last N days"},
    {.name = "keep-weekly",
     .kind = OPT_INT,
     .offset = offsetof(cli, keep) + 3 * sizeof(int),
     .min = 0,
     .max = 1000000,
     .arg_name = "N",
     .help = "keep the newest snapshot of each of the last N weeks"},
    {.name = "keep-monthly",
     .kind = OPT_INT,
     .offset = offsetof(cli, keep) + 4 * sizeof(int),
     .min = 0,
     .max = 1000000,
     .arg_name = "N",
     .help = "keep the newest snapshot of each of the last N months"},
    {.name = "keep-yearly",
     .kind = OPT_INT,
     .offset = offsetof(cli, keep) + 5 * sizeof(int),
     .min = 0,
     .max = 1000000,
     .arg_name = "N",
     .help = "keep the newest snapshot of each of the last N years"},
    {.name = "dry-run",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, dry_run),
     .help = "show what would be removed, remove nothing"},
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "print a JSON object"},
    CLI_OPT_WAIT(0),
    CLI_OPT_END,
};

static const char *const forget_synopsis[] = {
    "[--chain CHAIN] [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N] "
    "[--keep-monthly N] [--keep-yearly N] [--dry-run] [--json]",
    NULL,
};

const cli_command cli_cmd_forget = {
    .name = "forget",
    .summary = "remove snapshots by a retention policy (prune frees their data)",
    .synopsis = forget_synopsis,
    .options = forget_options,
    .run = cmd_forget,
};
