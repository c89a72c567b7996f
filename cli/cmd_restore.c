/* cmd_restore.c - cairn restore: a snapshot into a folder (--to), from a copy
 * target (--from-target), or onto a device (--device). */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ios/device_restore.h"
#include "engine/core/snapshot_list.h"
#include "cli.h"

/* ---- restore --device ---- */

/* --device NAME|UDID with --to names the device whose newest snapshot
 * "latest" is (the restore goes into the folder); otherwise --device is the
 * device to restore onto, and a bare --device with --to stays the usage
 * error it always was (onto a device, or into a folder?). */
static int restore_onto_device(const cli *c)
{
    return c->device && (!c->to || !*c->device);
}

static int restore_to_device(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    device_restore_result r;
    cli_device_ui ui;
    char id[9], size[32];
    memset(&r, 0, sizeof r);
    if (c->nargs != 1 || c->to)
        return cli_usage_error(&cli_cmd_restore);
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find(&l, c->args[0], &sn);
    if (!rc) {
        const device_restore_device_opts o = {.device = c->device,
                                              .system = c->restore_system,
                                              .settings = c->restore_settings,
                                              .no_reboot = c->no_reboot,
                                              .remove = c->restore_remove};
        rc = device_restore_to_device(s, sn, &o, &cb, &r);
        cli_device_ui_end(&ui);
    }
    if (r.restored) {
        snaplist_short_id(sn->id, id);
        cli_human(r.bytes_sent, size, sizeof size);
        printf("restored snapshot %s to device %s: %" PRIu64 " files, %s\n", id, r.device_udid,
               r.files_sent, size);
    }
    snaplist_free(&l);
    store_close(s);
    if (rc)
        return cli_fail(rc);
    if (r.refused) {
        fprintf(stderr, "cairn: %" PRIu64 " item(s) could not be sent to the device\n", r.refused);
        return EXIT_PARTIAL;
    }
    return EXIT_OK;
}

int cmd_restore(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn;
    device_restore_result r;
    cli_device_ui ui;
    char id[9], size[32];
    memset(&r, 0, sizeof r);
    if (restore_onto_device(c))
        return restore_to_device(c);
    if (c->nargs != 1 || !c->to)
        return cli_usage_error(&cli_cmd_restore);
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    cairn_err rc = c->from_target ? cli_from_target(c) : CAIRN_OK;
    if (!rc)
        rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find_for(&l, c->args[0], c->device, 0, &sn);
    if (!rc) {
        cli_progress prog;
        const work_hooks *const hooks = cli_progress_begin(&prog, c);
        cli_progress_catch(&prog);
        const device_restore_folder_opts o = {.target = c->to,
                                              .overwrite = c->overwrite,
                                              .threads = c->threads,
                                              .reencrypt = c->reencrypt,
                                              .hooks = hooks};
        rc = device_restore_to_folder(s, sn, &o, &cb, &r);
        cli_progress_end(&prog);
        if (rc == CAIRN_EINTERRUPTED && cli_interrupted()) {
            char n1[32], n2[32];
            cli_count(r.files, n1, sizeof n1);
            cli_count(sn->files, n2, sizeof n2);
            fprintf(stderr,
                    "cairn: interrupted: %s of %s files restored; run again with --overwrite\n", n1,
                    n2);
            snaplist_free(&l);
            store_close(s);
            return EXIT_INTERRUPTED;
        }
    }
    if (r.restored && c->json) {
        char hex[2 * ID_LEN + 1];
        for (size_t i = 0; i < ID_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", sn->id[i]);
        printf("{\"type\":\"summary\",\"snapshot\":\"%s\",\"to\":", hex);
        cli_json_str(c->to);
        printf(",\"files\":%" PRIu64 ",\"dirs\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"failed\":%" PRIu64 ",\"reencrypted\":%s}\n",
               r.files, r.dirs, r.bytes, r.failed, r.reencrypted ? "true" : "false");
    } else if (r.restored) {
        snaplist_short_id(sn->id, id);
        cli_human(r.bytes, size, sizeof size);
        printf("restored snapshot %s to %s: %" PRIu64 " files, %" PRIu64 " folders, %s\n", id,
               c->to, r.files, r.dirs, size);
    }
    if (r.reencrypted && !c->json)
        printf("re-encrypted: the new backup password opens %s\n", c->to);
    snaplist_free(&l);
    store_close(s);
    cli_from_target_end(c);
    return rc ? cli_fail(rc) : EXIT_OK;
}

/* ---- options (parse_options.h) ---- */

enum { RESTORE_TO, RESTORE_FROM_TARGET, RESTORE_DEVICE };

static const char *const restore_modes[] = {"restore --to", "restore --from-target",
                                            "restore --device"};

static int restore_mode(const cli *c)
{
    if (restore_onto_device(c))
        return RESTORE_DEVICE;
    return c->from_target ? RESTORE_FROM_TARGET : RESTORE_TO;
}

static const cli_option restore_options[] = {
    {.name = "to",
     .short_name = 't',
     .kind = OPT_STRING,
     .offset = offsetof(cli, to),
     .arg_name = "DIR",
     .help = "the folder to restore into",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "overwrite",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, overwrite),
     .help = "restore into a non-empty folder, replacing files",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "threads",
     .short_name = 'j',
     .kind = OPT_INT,
     .offset = offsetof(cli, threads),
     .min = 1,
     .max = 64,
     .arg_name = "N",
     .help = "worker threads (default: one per core)",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "from-target",
     .kind = OPT_STRING,
     .offset = offsetof(cli, from_target),
     .arg_name = "NAME|URL",
     .help = "restore from a copy target instead of the store",
     .modes = CLI_MODE(RESTORE_FROM_TARGET)},
    CLI_OPT_CACHE_SIZE(CLI_TARGET_CACHE_HELP, CLI_MODE(RESTORE_FROM_TARGET)),
    {.name = "backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, backup_password_file),
     .arg_name = "FILE",
     .help = "the device backup's password (else $CAIRN_BACKUP_PASSWORD)"},
    {.name = "reencrypt",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, reencrypt),
     .help = "re-key the restored device backup for a new password",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "new-backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, new_backup_password_file),
     .arg_name = "FILE",
     .help = "the new backup password (else $CAIRN_NEW_BACKUP_PASSWORD)",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "device",
     .kind = OPT_MAYBE_VALUE,
     .offset = offsetof(cli, device),
     .arg_name = "UDID",
     .help = "restore to the device over USB or Wi-Fi; with --to: 'latest' is the newest "
             "snapshot of this device (NAME|UDID)"},
    {.name = "system",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, restore_system),
     .help = "restore system files too (device)",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    {.name = "settings",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, restore_settings),
     .help = "restore the device's settings",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "progress events and a summary as JSON lines",
     .modes = CLI_MODE(RESTORE_TO) | CLI_MODE(RESTORE_FROM_TARGET)},
    {.name = "no-reboot",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, no_reboot),
     .help = "leave the device running after the restore",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    {.name = "remove",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, restore_remove),
     .help = "remove from the device what the backup lacks",
     .modes = CLI_MODE(RESTORE_DEVICE)},
    CLI_OPT_END,
};

static const char *const restore_synopsis[] = {
    "SNAPSHOT --to DIR [--device NAME|UDID] [--overwrite] [--threads N] [--backup-password-file "
    "FILE] [--reencrypt [--new-backup-password-file FILE]] [--json]",
    "--from-target NAME|URL SNAPSHOT --to DIR [--device NAME|UDID] [--overwrite] [--threads N] "
    "[--cache-size-mb MIB] [--json]",
    "SNAPSHOT --device [UDID] [--system] [--settings] [--no-reboot] [--remove] "
    "[--backup-password-file FILE]",
    NULL,
};

const cli_command cli_cmd_restore = {
    .name = "restore",
    .summary = "restore a snapshot into a folder, or to a device",
    .synopsis = restore_synopsis,
    .options = restore_options,
    .mode_names = restore_modes,
    .mode_of = restore_mode,
    .run = cmd_restore,
};
