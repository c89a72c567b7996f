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
#include "engine/service/service.h"
#include "engine/core/copy_targets.h"
#include "util/fsutil.h"
#include "target_common.h"

enum { MISSING_SHOWN = 8 };

/* What the service knows of each device (its state file and policy); nothing
 * when it never ran for this store. */
static void print_devices(const cli *c, const svcstate *st, const policy_file *pf)
{
    char when[32];
    if (c->json)
        printf(",\"devices\":[");
    else if (st->ndevices)
        printf("devices (the service):\n  %-40s  %-20s  %-19s  %-19s  %s\n", "UDID", "NAME",
               "LAST SUCCESS", "NEXT DUE", "LAST FAILURE");
    for (size_t i = 0; i < st->ndevices; i++) {
        const svcstate_device *const d = &st->devices[i];
        policy p;
        policy_for(pf, d->udid, d->name, &p);
        const int64_t due = service_next_due(d, &p);
        const int failing = d->last_failure > d->last_success;
        if (c->json) {
            printf("%s{\"udid\":", i ? "," : "");
            cli_json_str(d->udid);
            printf(",\"name\":");
            *d->name ? cli_json_str(d->name) : (void)printf("null");
            printf(",\"last_success\":");
            cli_print_time_or_null(d->last_success);
            printf(",\"next_due\":");
            due ? cli_print_time_or_null(due) : (void)printf("\"now\"");
            printf(",\"last_failure\":");
            if (failing) {
                printf("{\"time\":");
                cli_print_time_or_null(d->last_failure);
                printf(",\"reason\":");
                cli_json_str(d->reason);
                printf(",\"in_a_row\":%d}", d->failures);
            } else {
                printf("null");
            }
            putchar('}');
            continue;
        }
        char last[32], next[32];
        if (d->last_success)
            cli_time(d->last_success, last, sizeof last, 0);
        else
            snprintf(last, sizeof last, "never");
        if (due)
            cli_time(due, next, sizeof next, 0);
        else
            snprintf(next, sizeof next, "now");
        if (failing)
            cli_time(d->last_failure, when, sizeof when, 0);
        printf("  %-40s  %-20s  %-19s  %-19s  %s\n", d->udid, *d->name ? d->name : "?", last, next,
               failing ? when : "-");
        if (failing)
            printf("      why: %s\n", d->reason);
    }
    if (c->json)
        putchar(']');
}

static void print_status_json(const cli *c, const rule321 *r, size_t nsnaps, const char *needs,
                              const svcstate *svc, const policy_file *pf)
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
    print_devices(c, svc, pf);
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
    char needs[256], path[PATH_MAX];
    svcstate st;
    policy_file *pf = NULL;
    memset(&r, 0, sizeof r);
    memset(&st, 0, sizeof st);
    if (c->nargs)
        return cli_usage_error(&cli_cmd_status);
    cairn_err rc = cli_local_store(c);
    /* the service's view, its state file and the policy: a report, so a
     * problem there is a warning, never the end of the status */
    if (!rc && (svcstate_path(c->store_path, path, sizeof path) || svcstate_load(path, &st)))
        fprintf(stderr, "cairn: warning: the service's state: %s\n", err_msg());
    if (!rc && c->policy)
        snprintf(path, sizeof path, "%s", c->policy);
    else if (!rc && policy_default_path(path, sizeof path))
        path[0] = '\0'; /* no folder for one: the defaults */
    if (!rc && !*path)
        rc = policy_parse("", 0, "policy.conf", &pf);
    else if (!rc && policy_load(path, &pf)) {
        fprintf(stderr, "cairn: warning: %s (the defaults are used)\n", err_msg());
        rc = policy_parse("", 0, path, &pf);
    }
    if (!rc)
        rc = targets_load(c->store_path, &l);
    if (!rc)
        rc = copy_store_snapshots(c->store_path, &snaps, &nsnaps);
    if (!rc)
        rc = targets_rule321(&l, (const uint8_t(*)[ID_LEN])snaps, nsnaps, &r);
    if (rc) {
        targets_free(&l);
        free(snaps);
        svcstate_free(&st);
        policy_file_free(pf);
        return cli_fail(rc);
    }
    targets_rule321_needs(&r, needs, sizeof needs);
    if (c->json) {
        print_status_json(c, &r, nsnaps, needs, &st, pf);
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
        print_devices(c, &st, pf);
    }
    svcstate_free(&st);
    policy_file_free(pf);
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
    CLI_OPT_POLICY(0),
    CLI_OPT_END,
};

static const char *const status_synopsis[] = {
    "[--json] [--policy FILE]",
    NULL,
};

const cli_command cli_cmd_status = {
    .name = "status",
    .summary = "the 3-2-1 report: copies, media kinds, offsite, what each target misses",
    .synopsis = status_synopsis,
    .options = status_options,
    .run = cmd_status,
};
