/* cairn usage [SNAPSHOT | --device X] [--json]: what the snapshots cost
 * (engine/core/usage.h) and, for one device snapshot, its bytes per app
 * and domain (engine/ios/content_usage.h). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/usage.h"
#include "engine/ios/content_usage.h"
#include "util/fsutil.h"
#include "cli.h"

static void print_apps_json(const content_usage *u)
{
    printf(",\"apps\":[");
    for (size_t i = 0; i < u->napps; i++) {
        const content_usage_app *const a = &u->apps[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(a->name);
        printf(",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"domains\":[", a->files, a->bytes);
        for (size_t k = 0; k < a->ndomains; k++) {
            printf("%s{\"domain\":", k ? "," : "");
            cli_json_str(a->domains[k].domain);
            printf(",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", a->domains[k].files,
                   a->domains[k].bytes);
        }
        printf("]}");
    }
    printf("]");
}

static void print_apps(const content_usage *u)
{
    char size[32];
    printf("%-56s  %7s  %10s\n", "APP / DOMAIN", "FILES", "SIZE");
    for (size_t i = 0; i < u->napps; i++) {
        const content_usage_app *const a = &u->apps[i];
        cli_human(a->bytes, size, sizeof size);
        printf("%-56s  %7" PRIu64 "  %10s\n", a->name, a->files, size);
        /* an Apple domain is its own entry: no line below it */
        if (a->ndomains == 1 && strcmp(a->domains[0].domain, a->name) == 0)
            continue;
        for (size_t k = 0; k < a->ndomains; k++) {
            cli_human(a->domains[k].bytes, size, sizeof size);
            printf("  %-54s  %7" PRIu64 "  %10s\n", a->domains[k].domain, a->domains[k].files,
                   size);
        }
    }
}

static cairn_err one_snapshot(cli *c, store *s, const usage_snapshot *u)
{
    const snapshot *const sn = u->snap;
    content_snap *cs = NULL;
    content_usage cu = {0, 0, 0, NULL};
    char id[9], size[32], added[32], only[32];
    snaplist_short_id(sn->id, id);
    cairn_err rc = CAIRN_OK;
    if (snapshot_is_device(sn)) {
        rc = content_open(s, sn, &cs);
        if (!rc)
            rc = content_usage_read(cs, &cu);
        if (rc == CAIRN_EINVAL) {
            cli_content_warn(NULL, err_msg()); /* ciphertext: no catalog to count */
            rc = CAIRN_OK;
        }
    }
    if (!rc && c->json) {
        printf("{\"snapshot\":\"%s\",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"added\":%" PRIu64
               ",\"referenced\":%" PRIu64 ",\"exclusive\":%" PRIu64,
               id, sn->files, sn->bytes, sn->new_bytes, u->referenced, u->exclusive);
        if (cs)
            print_apps_json(&cu);
        printf("}\n");
    } else if (!rc) {
        cli_human(sn->bytes, size, sizeof size);
        cli_human(sn->new_bytes, added, sizeof added);
        cli_human(u->exclusive, only, sizeof only);
        printf("snapshot %s: %" PRIu64 " files, %s as backed up\n", id, sn->files, size);
        printf("it added %s to the store; forgetting it would free %s (the data only it "
               "holds, once pruned)\n",
               added, only);
        if (cs)
            print_apps(&cu);
    }
    content_usage_free(&cu);
    content_close(cs);
    return rc;
}

static void list_snapshots(cli *c, const snaplist *l, const usage_snapshot *u)
{
    size_t shown = 0;
    if (c->json)
        printf("{\"snapshots\":[");
    else
        printf("%-8s  %-19s  %10s  %10s  %12s  %s\n", "ID", "Time", "Size", "Added", "Only in it",
               "Source");
    for (size_t i = 0; i < l->count; i++) {
        const snapshot *const sn = &l->items[i];
        char id[9], when[32], size[32], added[32], only[32];
        if (!snapshot_matches_device(sn, c->device))
            continue;
        snaplist_short_id(sn->id, id);
        cli_time(sn->time_sec, when, sizeof when, 0);
        if (c->json) {
            printf("%s{\"id\":\"%s\",\"time\":%" PRId64 ",\"bytes\":%" PRIu64 ",\"added\":%" PRIu64
                   ",\"referenced\":%" PRIu64 ",\"exclusive\":%" PRIu64 "}",
                   shown ? "," : "", id, sn->time_sec, sn->bytes, sn->new_bytes, u[i].referenced,
                   u[i].exclusive);
        } else {
            cli_human(sn->bytes, size, sizeof size);
            cli_human(sn->new_bytes, added, sizeof added);
            cli_human(u[i].exclusive, only, sizeof only);
            const char *const name = snapshot_device_name(sn);
            printf("%-8s  %-19s  %10s  %10s  %12s  %s\n", id, when, size, added, only,
                   name ? name : sn->source);
        }
        shown++;
    }
    if (c->json)
        printf("]}\n");
    else
        printf("%zu snapshot(s); 'Only in it' is what forgetting one (then prune) would free\n",
               shown);
}

int cmd_usage(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    usage_snapshot *u = NULL;
    const snapshot *sn = NULL;
    if (c->nargs > 1)
        return cli_usage_error(&cli_cmd_usage);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc && c->nargs == 1)
        rc = snaplist_find_for(&l, c->args[0], c->device, 0, &sn);
    if (!rc)
        rc = usage_snapshots(s, &l, &u);
    if (!rc && sn)
        rc = one_snapshot(c, s, &u[sn - l.items]);
    else if (!rc)
        list_snapshots(c, &l, u);
    free(u);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option usage_options[] = {
    {.name = "json", .kind = OPT_FLAG, .offset = offsetof(cli, json), .help = "print JSON"},
    {.name = "device",
     .kind = OPT_STRING,
     .offset = offsetof(cli, device),
     .arg_name = "NAME|UDID",
     .help = "only this device's snapshots; 'latest' is its newest"},
    CLI_OPT_END,
};

static const char *const usage_synopsis[] = {
    "[--device NAME|UDID] [SNAPSHOT] [--json]",
    NULL,
};

const cli_command cli_cmd_usage = {
    .name = "usage",
    .summary = "what each snapshot added and alone holds; a device snapshot's bytes per app",
    .synopsis = usage_synopsis,
    .options = usage_options,
    .run = cmd_usage,
};
