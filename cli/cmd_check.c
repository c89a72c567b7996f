/* cmd_check.c - cairn check: verifies the store, or with --target a copy
 * target (the copy itself, through its local mirror for a network one). */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/grow.h"
#include "engine/core/check.h"
#include "target_common.h"

/* --json: the problems are collected for the summary object */
typedef struct check_lines {
    const cli *c;
    char **lines;
    size_t count, cap;
} check_lines;

static void print_line(void *ctx, const char *line)
{
    check_lines *const l = ctx;
    if (!l->c->json) {
        printf("%s\n", line);
        return;
    }
    char *const copy = strdup(line);
    if (copy && util_grow(&l->lines, &l->cap, l->count + 1, sizeof *l->lines) == CAIRN_OK)
        l->lines[l->count++] = copy;
    else
        free(copy);
}

static void print_json_summary(const check_result *r, cairn_err rc, const check_lines *l)
{
    printf("{\"type\":\"summary\",\"ok\":%s,\"error\":", rc ? "false" : "true");
    if (rc)
        cli_json_str(*err_msg() ? err_msg() : err_name(rc));
    else
        printf("null");
    printf(",\"packs\":%" PRIu64 ",\"packs_damaged\":%" PRIu64 ",\"chunks_read\":%" PRIu64
           ",\"chunks_damaged\":%" PRIu64 ",\"bytes_read\":%" PRIu64 ",\"snapshots\":%" PRIu64
           ",\"snapshots_damaged\":%" PRIu64 ",\"files_damaged\":%" PRIu64
           ",\"keys_damaged\":%" PRIu64 ",\"packs_read\":%" PRIu64 ",\"problems\":[",
           r->packs, r->packs_damaged, r->chunks_read, r->chunks_damaged, r->bytes_read,
           r->snapshots, r->snapshots_damaged, r->files_damaged, r->keys_damaged, r->packs_read);
    for (size_t i = 0; i < l->count; i++) {
        if (i)
            putchar(',');
        cli_json_str(l->lines[i]);
    }
    printf("]}\n");
}

/* Checks the open store s (and closes it), printing what was checked. */
static cairn_err run_check(const cli *c, store *s)
{
    check_result r;
    cli_progress prog;
    check_lines lines = {c, NULL, 0, 0};
    char size[32];
    memset(&r, 0, sizeof r);
    const work_hooks *const hooks = cli_progress_begin(&prog, c);
    cli_progress_catch(&prog);
    const check_opts opts = {.read_data = c->read_data,
                             .read_data_subset = c->subset_pct,
                             .report = print_line,
                             .report_ctx = &lines,
                             .hooks = hooks};
    const cairn_err rc = check_run(s, &opts, &r);
    cli_progress_end(&prog);
    store_close(s);
    if (c->json && !(rc == CAIRN_EINTERRUPTED && cli_interrupted()))
        print_json_summary(&r, rc, &lines);
    for (size_t i = 0; i < lines.count; i++)
        free(lines.lines[i]);
    free(lines.lines);
    if (c->json)
        return rc;
    cli_human(r.bytes_read, size, sizeof size);
    printf("checked %" PRIu64 " packs, %" PRIu64 " snapshots", r.packs, r.snapshots);
    if (c->read_data)
        printf(", read %" PRIu64 " chunks (%s)", r.chunks_read, size);
    else if (c->subset_pct)
        printf(", read %" PRIu64 " chunks (%s) of %" PRIu64 " packs (%d%%)", r.chunks_read, size,
               r.packs_read, c->subset_pct);
    printf("\n");
    return rc;
}

static int check_exit(const cli *c, cairn_err rc)
{
    if (rc == CAIRN_EINTERRUPTED && cli_interrupted()) {
        fprintf(stderr, "cairn: interrupted: the check is incomplete\n");
        return EXIT_INTERRUPTED;
    }
    if (rc)
        return cli_fail(rc);
    if (!c->json)
        printf("no errors were found\n");
    return EXIT_OK;
}

static int check_target(cli *c)
{
    char url[PATH_MAX], local[PATH_MAX];
    store *s = NULL;
    int named;
    cairn_err rc = cli_resolve_target(c, c->target, url, sizeof url, &named);
    if (rc)
        return cli_fail(rc);
    snprintf(local, sizeof local, "%s", c->store_path);
    if (!c->json)
        printf("checking target %s (%s)\n", c->target, url);
    /* a network target is read through its bounded cache, each pack fetched
     * again so that the check reads what the target holds now */
    rc = cli_open_target(c, c->target, 1);
    if (!rc)
        rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = run_check(c, s);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", err_msg()); /* closing and recording may overwrite it */
    cli_open_target_end(c, c->target);
    if (named) {
        record_ctx rec = {c->target, (int64_t)time(NULL), NULL, NULL,
                          !rc                    ? "ok"
                          : rc == CAIRN_ECORRUPT ? "damaged"
                                                 : "failed"};
        cli_record(local, &rec);
    }
    err_set(rc, "%s", msg);
    return check_exit(c, rc);
}

int cmd_check(cli *c)
{
    store *s = NULL;
    /* words left over were once ignored: now they are an error */
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_check);
    if (c->read_data_subset) {
        char *end;
        const long v = strtol(c->read_data_subset, &end, 10);
        if (end == c->read_data_subset || (*end && strcmp(end, "%") != 0) || v < 1 || v > 100) {
            fprintf(stderr,
                    "cairn: --read-data-subset: '%s' is not a percentage from 1%% to 100%%\n",
                    c->read_data_subset);
            return EXIT_USAGE;
        }
        c->subset_pct = (int)v;
    }
    if (c->target)
        return check_target(c);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (rc)
        return cli_fail(rc);
    rc = run_check(c, s);
    return check_exit(c, rc);
}

static const cli_option check_options[] = {
    {.name = "read-data",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, read_data),
     .help = "read and verify every chunk (a target: fetch all again)"},
    {.name = "read-data-subset",
     .kind = OPT_STRING,
     .offset = offsetof(cli, read_data_subset),
     .arg_name = "N%",
     .help = "read and verify every chunk of N percent of the packs, chosen at random"},
    CLI_OPT_CACHE_SIZE(CLI_TARGET_CACHE_HELP, 0),
    {.name = "target",
     .kind = OPT_STRING,
     .offset = offsetof(cli, target),
     .arg_name = "NAME|URL",
     .help = "check a copy target instead of the store"},
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "progress events and the findings as JSON lines"},
    CLI_OPT_END,
};

static const char *const check_synopsis[] = {
    "[--read-data | --read-data-subset N%] [--json]",
    "--target NAME|URL [--read-data] [--cache-size-mb MIB] [--json]",
    NULL,
};

const cli_command cli_cmd_check = {
    .name = "check",
    .summary = "verify the store, or a copy target",
    .synopsis = check_synopsis,
    .options = check_options,
    .run = cmd_check,
};
