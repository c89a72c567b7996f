/* cmd_verify.c - cairn verify: a restore drill without a device
 * (engine/ios/device_verify.h): one verdict per item, an overall verdict,
 * exit 0 only when the snapshot would restore. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/snapshot_list.h"
#include "engine/ios/device_verify.h"
#include "cli.h"

static void print_item(void *ctx, const char *item, verify_verdict v, const char *detail)
{
    const cli *const c = ctx;
    if (!c->json) {
        printf("%-30s %-7s %s\n", item, verify_verdict_name(v), detail);
        return;
    }
    printf("{\"type\":\"item\",\"item\":");
    cli_json_str(item);
    printf(",\"verdict\":\"%s\",\"detail\":", verify_verdict_name(v));
    cli_json_str(detail);
    printf("}\n");
}

static void print_problem(void *ctx, const char *line)
{
    const cli *const c = ctx;
    if (!c->json) {
        printf("  %s\n", line);
        return;
    }
    printf("{\"type\":\"problem\",\"message\":");
    cli_json_str(line);
    printf("}\n");
}

int cmd_verify(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    device_verify_result r;
    cli_device_ui ui;
    cli_progress prog;
    char id[9];
    if (c->nargs != 1)
        return cli_usage_error(&cli_cmd_verify);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find_for(&l, c->args[0], c->device, 0, &sn);
    if (rc) {
        snaplist_free(&l);
        store_close(s);
        return cli_fail(rc);
    }
    snaplist_short_id(sn->id, id);
    if (!c->json)
        printf("verifying snapshot %s\n", id);
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    const work_hooks *const hooks = cli_progress_begin(&prog, c);
    const device_verify_opts o = {.item = print_item,
                                  .item_ctx = c,
                                  .report = print_problem,
                                  .report_ctx = c,
                                  .hooks = hooks};
    cli_progress_catch(&prog);
    rc = device_verify(s, sn, &o, &cb, &r);
    cli_progress_end(&prog);
    const int would = !rc;
    if (c->json && !(rc == CAIRN_EINTERRUPTED && cli_interrupted())) {
        printf("{\"type\":\"summary\",\"snapshot\":\"%s\",\"ok\":%s,\"items\":%u,\"failed\":%u,"
               "\"skipped\":%u,\"chunks_read\":%" PRIu64 ",\"bytes_read\":%" PRIu64
               ",\"ios_version\":",
               id, would ? "true" : "false", r.items, r.failed, r.skipped, r.data.chunks_read,
               r.data.bytes_read);
        if (r.ios_version[0])
            cli_json_str(r.ios_version);
        else
            printf("null");
        printf(",\"error\":");
        if (rc)
            cli_json_str(*err_msg() ? err_msg() : err_name(rc));
        else
            printf("null");
        printf("}\n");
    } else if (would) {
        printf("snapshot %s would restore (%u items: %u ok, %u skipped)\n", id, r.items,
               r.items - r.skipped, r.skipped);
    }
    snaplist_free(&l);
    store_close(s);
    if (rc == CAIRN_EINTERRUPTED && cli_interrupted()) {
        fprintf(stderr, "cairn: interrupted: the verification is incomplete\n");
        return EXIT_INTERRUPTED;
    }
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option verify_options[] = {
    CLI_OPT_DEVICE_SCOPE(0),
    {.name = "backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, backup_password_file),
     .arg_name = "FILE",
     .help = "the device backup's password (else $CAIRN_BACKUP_PASSWORD, else a prompt on a "
             "terminal; none: the password is not checked)"},
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "each verdict, each problem and the summary as JSON lines"},
    CLI_OPT_END,
};

static const char *const verify_synopsis[] = {
    "SNAPSHOT [--device NAME|UDID] [--backup-password-file FILE] [--json]",
    NULL,
};

const cli_command cli_cmd_verify = {
    .name = "verify",
    .summary = "a restore drill: would this snapshot restore?",
    .synopsis = verify_synopsis,
    .options = verify_options,
    .run = cmd_verify,
};
