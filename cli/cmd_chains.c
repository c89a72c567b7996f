/* cmd_chains.c - cairn chains (one per device and backup encryption
 * identity) and cairn chain archive | delete. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/chains.h"
#include "engine/core/snapshot_list.h"
#include "cli.h"

int cmd_chains(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    chain_list chains = {NULL, 0};
    /* words left over were once ignored: now they are an error */
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_chains);
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
    size_t shown = 0;
    if (c->json)
        putchar('[');
    else
        printf("%-8s  %-19s  %-19s  %5s  %10s  %-24s  %s\n", "State", "First", "Last", "Count",
               "Added", "Device", "Chain");
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
        cli_time(first->time_sec, t1, sizeof t1, c->json);
        cli_time(last->time_sec, t2, sizeof t2, c->json);
        cli_human(added, size, sizeof size);
        const char *const name = snapshot_device_name(last);
        const char *const type = snapshot_get_meta(last, SNAP_META_PRODUCT_TYPE);
        if (name)
            snprintf(device, sizeof device, "%s%s%s%s", name, type ? " (" : "", type ? type : "",
                     type ? ")" : "");
        const int archived = chains_is_archived(&chains, first->chain);
        if (c->json) {
            printf("%s{\"chain\":", shown++ ? "," : "");
            cli_json_str(first->chain);
            printf(",\"state\":\"%s\",\"first\":\"%s\",\"last\":\"%s\",\"count\":%zu,"
                   "\"added_bytes\":%" PRIu64 ",\"device\":",
                   archived ? "archived" : "active", t1, t2, count, added);
            if (name)
                cli_json_str(name);
            else
                printf("null");
            printf(",\"product_type\":");
            if (type)
                cli_json_str(type);
            else
                printf("null");
            printf(",\"archived_reason\":");
            const char *reason = NULL;
            for (size_t k = 0; archived && k < chains.count; k++)
                if (strcmp(chains.items[k].name, first->chain) == 0)
                    reason = chains.items[k].reason;
            if (reason)
                cli_json_str(reason);
            else
                printf("null");
            putchar('}');
            continue;
        }
        printf("%-8s  %-19s  %-19s  %5zu  %10s  %-24s  %s\n", archived ? "archived" : "active", t1,
               t2, count, size, device, first->chain);
        for (size_t k = 0; archived && k < chains.count; k++)
            if (strcmp(chains.items[k].name, first->chain) == 0)
                printf("          archived: %s\n", chains.items[k].reason);
    }
    if (c->json)
        printf("]\n");
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
    if (!archive && !delete)
        return cli_usage_error(&cli_cmd_chain);
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

static const cli_option chains_options[] = {
    {.name = "json", .kind = OPT_FLAG, .offset = offsetof(cli, json), .help = "print a JSON array"},
    CLI_OPT_END,
};

static const char *const chains_synopsis[] = {
    "[--json]",
    NULL,
};

const cli_command cli_cmd_chains = {
    .name = "chains",
    .summary = "list the chains (one per device and backup encryption identity)",
    .synopsis = chains_synopsis,
    .options = chains_options,
    .run = cmd_chains,
};

enum { CHAIN_ARCHIVE, CHAIN_DELETE };

static const char *const chain_modes[] = {"chain archive", "chain delete"};

static int chain_mode(const cli *c)
{
    if (c->nargs > 0 && strcmp(c->args[0], "archive") == 0)
        return CHAIN_ARCHIVE;
    if (c->nargs > 0 && strcmp(c->args[0], "delete") == 0)
        return CHAIN_DELETE;
    return -1; /* cmd_chain says the usage */
}

static const cli_option chain_options[] = {
    {.name = "dry-run",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, dry_run),
     .help = "show what would be deleted, delete nothing",
     .modes = CLI_MODE(CHAIN_DELETE)},
    CLI_OPT_WAIT(0),
    CLI_OPT_END,
};

static const char *const chain_synopsis[] = {
    "archive CHAIN",
    "delete CHAIN [--dry-run]",
    NULL,
};

const cli_command cli_cmd_chain = {
    .name = "chain",
    .summary = "archive a chain, or delete an archived chain's snapshots",
    .synopsis = chain_synopsis,
    .options = chain_options,
    .mode_names = chain_modes,
    .mode_of = chain_mode,
    .run = cmd_chain,
};
