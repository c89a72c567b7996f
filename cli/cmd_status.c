/* cmd_status.c - cairn status: the 3-2-1 report of the store and its
 * copy targets (no password needed). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/copy.h"
#include "engine/core/copy_targets.h"
#include "util/fsutil.h"
#include "target_common.h"

enum { MISSING_SHOWN = 8 };

static void print_status_json(const cli *c, const rule321 *r, size_t nsnaps, const char *needs)
{
    static const char *const kinds[] = {"disk", "nas", "cloud"};
    char hex[2 * ID_LEN + 1];
    printf("{\"store\":");
    cli_json_str(c->store_path);
    printf(",\"snapshots\":%zu,\"targets\":[", nsnaps);
    for (size_t i = 0; i < r->count; i++) {
        const target_state *const st = &r->targets[i];
        const target *const t = st->t;
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(t->name);
        printf(",\"url\":");
        cli_json_str(t->url);
        printf(",\"media\":\"%s\",\"offsite\":%s,\"current\":%s,\"counts\":%s,\"last_copy\":",
               t->media, t->offsite ? "true" : "false", st->current ? "true" : "false",
               st->counts ? "true" : "false");
        cli_print_time_or_null(t->copy_time);
        printf(",\"last_copy_objects\":%" PRIu64 ",\"last_copy_bytes\":%" PRIu64
               ",\"last_failure\":",
               t->copy_objects, t->copy_bytes);
        if (t->fail_time) {
            printf("{\"time\":");
            cli_print_time_or_null(t->fail_time);
            printf(",\"error\":");
            cli_json_str(t->fail_msg ? t->fail_msg : "");
            putchar('}');
        } else {
            printf("null");
        }
        printf(",\"last_check\":");
        if (t->check_time) {
            printf("{\"time\":");
            cli_print_time_or_null(t->check_time);
            printf(",\"result\":\"%s\"}", t->check_result);
        } else {
            printf("null");
        }
        printf(",\"missing\":[");
        for (size_t k = 0; k < st->nmissing; k++) {
            fs_hex(st->missing[k], ID_LEN, hex);
            printf("%s\"%s\"", k ? "," : "", hex);
        }
        printf("]}");
    }
    printf("],\"copies\":%u,\"media_kinds\":[", r->copies);
    for (int m = 0, n = 0; m < 3; m++)
        if (r->media[m])
            printf("%s\"%s\"", n++ ? "," : "", kinds[m]);
    printf("],\"offsite_copies\":%u,\"met\":%s,\"need\":", r->offsite, r->met ? "true" : "false");
    cli_json_str(needs);
    printf("}\n");
}

static void print_target_state(const target_state *st)
{
    const target *const t = st->t;
    char when[32], state[64], hex[2 * ID_LEN + 1];
    if (t->copy_time)
        cli_time(t->copy_time, when, sizeof when, 0);
    else
        snprintf(when, sizeof when, "never");
    if (!t->copy_time)
        snprintf(state, sizeof state, "never copied");
    else if (st->current && !st->counts)
        snprintf(state, sizeof state, "damaged (check)");
    else if (st->current)
        snprintf(state, sizeof state, "current");
    else
        snprintf(state, sizeof state, "behind: %zu missing", st->nmissing);
    printf("  %-16s  %-5s  %-7s  %-19s  %-18s  %s\n", t->name, t->media, t->offsite ? "yes" : "no",
           when, state, t->url);
    if (t->copy_time && st->nmissing) {
        printf("      missing:");
        for (size_t k = 0; k < st->nmissing && k < MISSING_SHOWN; k++) {
            fs_hex(st->missing[k], ID_LEN, hex);
            printf(" %.8s", hex);
        }
        if (st->nmissing > MISSING_SHOWN)
            printf(" and %zu more", st->nmissing - MISSING_SHOWN);
        printf("  (run 'cairn copy --target %s')\n", t->name);
    }
    if (t->fail_time) {
        cli_time(t->fail_time, when, sizeof when, 0);
        printf("      last copy failed %s: %s\n", when, t->fail_msg ? t->fail_msg : "");
    }
    if (t->check_time) {
        cli_time(t->check_time, when, sizeof when, 0);
        printf("      last check %s: %s\n", when, t->check_result);
    }
}

int cmd_status(cli *c)
{
    static const char *const kinds[] = {"disk", "nas", "cloud"};
    target_list l = {NULL, 0};
    uint8_t(*snaps)[ID_LEN] = NULL;
    size_t nsnaps = 0;
    rule321 r;
    char needs[256];
    memset(&r, 0, sizeof r);
    if (c->nargs)
        return cli_usage_error(&cli_cmd_status);
    cairn_err rc = cli_local_store(c);
    if (!rc)
        rc = targets_load(c->store_path, &l);
    if (!rc)
        rc = copy_store_snapshots(c->store_path, &snaps, &nsnaps);
    if (!rc)
        rc = targets_rule321(&l, (const uint8_t(*)[ID_LEN])snaps, nsnaps, &r);
    if (rc) {
        targets_free(&l);
        free(snaps);
        return cli_fail(rc);
    }
    targets_rule321_needs(&r, needs, sizeof needs);
    if (c->json) {
        print_status_json(c, &r, nsnaps, needs);
    } else {
        printf("store %s: %zu snapshot(s), on this machine (disk)\n", c->store_path, nsnaps);
        if (r.count)
            printf("  %-16s  %-5s  %-7s  %-19s  %-18s  %s\n", "TARGET", "MEDIA", "OFFSITE",
                   "LAST GOOD COPY", "STATE", "URL");
        else
            printf("  no copy targets (add one with 'cairn target add NAME URL')\n");
        for (size_t i = 0; i < r.count; i++)
            print_target_state(&r.targets[i]);
        printf("copies: %u of 3 (the store and %u current target(s))\n", r.copies, r.copies - 1);
        printf("media kinds: %u of 2 (", r.media_kinds);
        for (int m = 0, n = 0; m < 3; m++)
            if (r.media[m])
                printf("%s%s", n++ ? ", " : "", kinds[m]);
        printf(")\noffsite copies: %u of 1\n", r.offsite);
        if (r.met)
            printf("3-2-1: met\n");
        else
            printf("3-2-1: not met: need %s\n", needs);
    }
    targets_rule321_free(&r);
    targets_free(&l);
    free(snaps);
    return EXIT_OK;
}

static const cli_option status_options[] = {
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "print one JSON object"},
    CLI_OPT_END,
};

static const char *const status_synopsis[] = {
    "[--json]",
    NULL,
};

const cli_command cli_cmd_status = {
    .name = "status",
    .summary = "the 3-2-1 report: copies, media kinds, offsite, what each target misses",
    .synopsis = status_synopsis,
    .options = status_options,
    .run = cmd_status,
};
