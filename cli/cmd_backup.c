/* cmd_backup.c - cairn backup: a folder (a MobileSync backup becomes a
 * snapshot of its device's chain), or --device straight from a device. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ios/device_backup.h"
#include "engine/core/snapshot_list.h"
#include "cli.h"

typedef struct backup_open_ctx {
    cli *c;
    cli_progress *prog;
} backup_open_ctx;

static cairn_err open_store_for_backup(void *ctx, store **out)
{
    backup_open_ctx *const o = ctx;
    const cairn_err rc = cli_open_store(o->c, STORE_WRITE, out);
    if (!rc)
        cli_progress_catch(o->prog);
    return rc;
}

/* ---- backup --device ---- */

static int backup_from_device(cli *c)
{
    store *s = NULL;
    device_backup_result r;
    cli_device_ui ui;
    char id[9], par[9], a[32], b[32], d[32], e[32];
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_backup);
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    /* the store first: a locked store or a wrong password costs no device time */
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc) {
        const device_backup_device_opts o = {.device = c->device,
                                             .full = c->full,
                                             .allow_incomplete = c->allow_incomplete,
                                             .threads = c->threads,
                                             .photo_alarm = c->photo_alarm};
        rc = device_backup_from_device(s, &o, &cb, &r);
        cli_device_ui_end(&ui);
    }
    store_close(s);
    if (rc)
        return cli_fail(rc);
    snaplist_short_id(r.id, id);
    if (r.has_parent)
        snaplist_short_id(r.parent, par);
    cli_human(r.bytes, a, sizeof a);
    cli_human(r.new_bytes, b, sizeof b);
    cli_human(r.new_raw, d, sizeof d);
    cli_human(r.bytes_received, e, sizeof e);
    printf("snapshot %s saved%s%s%s\n", id, r.has_parent ? " (parent " : "",
           r.has_parent ? par : "", r.has_parent ? ")" : "");
    printf("  files: %" PRIu64 " in %" PRIu64 " folders, %s (%" PRIu64 " received, %s)\n", r.files,
           r.dirs, a, r.files_received, e);
    printf("  added: %" PRIu64 " new chunks, %s stored (%s before compression)\n", r.new_chunks, b,
           d);
    if (r.errors) {
        fprintf(stderr,
                "cairn: %" PRIu64 " item(s) could not be backed up; the snapshot is marked "
                "partial\n",
                r.errors);
        return EXIT_PARTIAL;
    }
    return EXIT_OK;
}

/* backup --json: the new snapshot as one JSON line (after the progress
 * events) */
static void print_json_summary(const device_backup_result *r, int partial)
{
    char hex[2 * ID_LEN + 1], id[9];
    for (size_t i = 0; i < ID_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", r->id[i]);
    snaplist_short_id(r->id, id);
    printf("{\"type\":\"summary\",\"id\":\"%s\",\"short_id\":\"%s\",\"parent\":", hex, id);
    if (r->has_parent) {
        for (size_t i = 0; i < ID_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", r->parent[i]);
        printf("\"%s\"", hex);
    } else {
        printf("null");
    }
    printf(",\"files\":%" PRIu64 ",\"dirs\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"files_read\":%" PRIu64 ",\"files_unchanged\":%" PRIu64 ",\"bytes_read\":%" PRIu64
           ",\"new_chunks\":%" PRIu64 ",\"new_bytes\":%" PRIu64 ",\"new_raw\":%" PRIu64
           ",\"reused_chunks\":%" PRIu64 ",\"reused_bytes\":%" PRIu64 ",\"partial\":%s}\n",
           r->files, r->dirs, r->bytes, r->files_read, r->files - r->files_read, r->bytes_read,
           r->new_chunks, r->new_bytes, r->new_raw, r->reused_chunks, r->reused_bytes,
           partial ? "true" : "false");
}

/* The lines of a folder's snapshot saved. */
static void print_saved(const device_backup_result *r)
{
    char id[9], parent[9], a[32], b[32], d[32];
    snaplist_short_id(r->id, id);
    if (r->has_parent)
        snaplist_short_id(r->parent, parent);
    cli_human(r->bytes, a, sizeof a);
    cli_human(r->new_bytes, b, sizeof b);
    cli_human(r->new_raw, d, sizeof d);
    printf("snapshot %s saved%s%s%s\n", id, r->has_parent ? " (parent " : "",
           r->has_parent ? parent : "", r->has_parent ? ")" : "");
    printf("  files: %" PRIu64 " in %" PRIu64 " folders, %s (%" PRIu64 " read, %" PRIu64
           " unchanged)\n",
           r->files, r->dirs, a, r->files_read, r->files - r->files_read);
    printf("  added: %" PRIu64 " new chunks, %s stored (%s before compression)\n", r->new_chunks, b,
           d);
}

/* A folder of device backups: each one as it is done. */
static void print_each(void *ctx, const char *source, cairn_err rc, const device_backup_result *r)
{
    const cli *const c = ctx;
    if (rc == CAIRN_OK || rc == CAIRN_EPARTIAL) {
        if (c->json)
            print_json_summary(r, rc == CAIRN_EPARTIAL);
        else
            print_saved(r);
        if (rc == CAIRN_EPARTIAL)
            fprintf(stderr, "cairn: %s: %s; the snapshot is marked partial\n", source, err_msg());
    } else {
        fprintf(stderr, "cairn: %s\n", *err_msg() ? err_msg() : err_name(rc));
    }
    fflush(stdout);
}

int cmd_backup(cli *c)
{
    device_backup_result r;
    cli_device_ui ui;
    cli_progress prog;
    if (c->device)
        return backup_from_device(c);
    if (c->nargs != 1)
        return cli_usage_error(&cli_cmd_backup);
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    const work_hooks *const hooks = cli_progress_begin(&prog, c);
    backup_open_ctx open_ctx = {c, &prog};
    const device_backup_folder_opts o = {.source = c->args[0],
                                         .threads = c->threads,
                                         .force_read = c->force,
                                         .allow_incomplete = c->allow_incomplete,
                                         .as_folder = c->as_folder,
                                         .open_store = open_store_for_backup,
                                         .open_ctx = &open_ctx,
                                         .hooks = hooks,
                                         .each = print_each,
                                         .each_ctx = c,
                                         .photo_alarm = c->photo_alarm};
    const cairn_err rc = device_backup_folder(&o, &cb, &r);
    cli_progress_end(&prog);
    if (rc == CAIRN_EINTERRUPTED && cli_interrupted()) {
        /* the chunks packed so far are kept for the next backup (or prune) */
        fprintf(stderr, "cairn: interrupted: nothing stored\n");
        return EXIT_INTERRUPTED;
    }
    if (r.sources) {
        /* a folder of device backups: each was reported as it was done */
        if (!c->json) {
            printf("%zu device backup(s) in %s: %zu saved%s", r.sources, c->args[0],
                   r.sources - r.failed, r.failed ? ", " : "\n");
            if (r.failed)
                printf("%zu not saved\n", r.failed);
        }
        if (rc == CAIRN_EPARTIAL) {
            fprintf(stderr, "cairn: %s\n", err_msg());
            return EXIT_PARTIAL;
        }
        return rc ? cli_fail(rc) : EXIT_OK;
    }
    if (rc && rc != CAIRN_EPARTIAL)
        return cli_fail(rc);
    if (c->json)
        print_json_summary(&r, rc == CAIRN_EPARTIAL);
    else
        print_saved(&r);
    if (rc == CAIRN_EPARTIAL) {
        fprintf(stderr, "cairn: %s; the snapshot is marked partial\n", err_msg());
        return EXIT_PARTIAL;
    }
    return EXIT_OK;
}

/* ---- options (parse_options.h) ---- */

enum { BACKUP_FOLDER, BACKUP_DEVICE };

static const char *const backup_modes[] = {"backup SOURCE_DIR", "backup --device"};

static int backup_mode(const cli *c)
{
    return c->device ? BACKUP_DEVICE : BACKUP_FOLDER;
}

static const cli_option backup_options[] = {
    {.name = "device",
     .kind = OPT_MAYBE_VALUE,
     .offset = offsetof(cli, device),
     .arg_name = "UDID",
     .help = "from the device (without UDID: the only one connected)",
     .modes = CLI_MODE(BACKUP_DEVICE)},
    {.name = "threads",
     .short_name = 'j',
     .kind = OPT_INT,
     .offset = offsetof(cli, threads),
     .min = 1,
     .max = 64,
     .arg_name = "N",
     .help = "worker threads (default: one per core)"},
    {.name = "force",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, force),
     .help = "read every file, even those that look unchanged",
     .modes = CLI_MODE(BACKUP_FOLDER)},
    {.name = "full",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, full),
     .help = "ask the device for a full backup",
     .modes = CLI_MODE(BACKUP_DEVICE)},
    {.name = "as-folder",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, as_folder),
     .help = "store the folder as it is, even if it holds or looks like device backups",
     .modes = CLI_MODE(BACKUP_FOLDER)},
    {.name = "allow-incomplete",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, allow_incomplete),
     .help = "store an incomplete device backup, marked so"},
    {.name = "backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, backup_password_file),
     .arg_name = "FILE",
     .help = "the device backup's password (else $CAIRN_BACKUP_PASSWORD)"},
    {.name = "photo-alarm",
     .kind = OPT_INT,
     .offset = offsetof(cli, photo_alarm),
     .min = 1,
     .max = 100,
     .arg_name = "PERCENT",
     .help = "deletion alarm when a device backup lost more than PERCENT % of the photos "
             "(default 5)"},
    CLI_OPT_WAIT(0),
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "progress events and a summary as JSON lines",
     .modes = CLI_MODE(BACKUP_FOLDER)},
    CLI_OPT_END,
};

static const char *const backup_synopsis[] = {
    "[--threads N] [--force] [--allow-incomplete] [--as-folder] [--backup-password-file FILE] "
    "[--photo-alarm PERCENT] [--json] "
    "SOURCE_DIR",
    "--device [UDID] [--full] [--allow-incomplete] [--threads N] [--backup-password-file FILE] "
    "[--photo-alarm PERCENT]",
    NULL,
};

const cli_command cli_cmd_backup = {
    .name = "backup",
    .summary = "store a snapshot of a folder, a MobileSync backup folder or a device",
    .synopsis = backup_synopsis,
    .options = backup_options,
    .mode_names = backup_modes,
    .mode_of = backup_mode,
    .run = cmd_backup,
};
