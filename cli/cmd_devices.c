/* cmd_devices.c - the commands that talk to a device itself: devices (what
 * is connected) and device encryption on|off / device changepw.  Each runs
 * one engine workflow (engine/ios/device_*.h) and prints what it says. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/snapshot_list.h"
#include "engine/ios/device_password.h"
#include "engine/ios/device_workflow.h"
#include "cli.h"

/* ---- cairn devices ---- */

int cmd_devices(cli *c)
{
    device_summary *list = NULL;
    size_t n = 0;
    if (c->nargs != 0)
        return cli_usage_error(&cli_cmd_devices);
    const cairn_err rc = device_list(&list, &n);
    if (rc)
        return cli_fail(rc);
    if (c->json)
        putchar('[');
    else
        printf("%-40s  %-24s  %-12s  %-7s  %-5s  %-6s  %s\n", "UDID", "Name", "Model", "iOS", "Via",
               "Paired", "Backup encryption");
    for (size_t i = 0; i < n; i++) {
        const device_summary *const d = &list[i];
        const char *const enc = d->encrypt < 0 ? "unknown" : d->encrypt ? "on" : "off";
        if (c->json) {
            printf("%s{\"udid\":", i ? "," : "");
            cli_json_str(d->udid);
            printf(",\"name\":");
            d->name ? cli_json_str(d->name) : (void)printf("null");
            printf(",\"product_type\":");
            d->product_type ? cli_json_str(d->product_type) : (void)printf("null");
            printf(",\"product_version\":");
            d->product_version ? cli_json_str(d->product_version) : (void)printf("null");
            printf(",\"connection\":\"%s\",\"paired\":%s,\"encryption\":",
                   d->network ? "wifi" : "usb", d->paired ? "true" : "false");
            d->encrypt < 0 ? (void)printf("null")
                           : (void)printf("%s", d->encrypt ? "true" : "false");
            printf(",\"problem\":");
            *d->problem ? cli_json_str(d->problem) : (void)printf("null");
            putchar('}');
            continue;
        }
        printf("%-40s  %-24s  %-12s  %-7s  %-5s  %-6s  %s\n", d->udid, d->name ? d->name : "?",
               d->product_type ? d->product_type : "?",
               d->product_version ? d->product_version : "?", d->network ? "wifi" : "usb",
               d->paired ? "yes" : "no", enc);
        if (*d->problem)
            printf("  %s\n", d->problem);
    }
    if (c->json)
        printf("]\n");
    else
        printf("%zu device(s)%s\n", n,
               n ? ""
                 : " (USB: plug it in and unlock it; Wi-Fi: turn on sync over Wi-Fi; is usbmuxd "
                   "running?)");
    device_list_free(list, n);
    return EXIT_OK;
}

/* ---- device password-test ---- */

static void print_pw_chain(void *ctx, const device_pw_chain *c)
{
    char id[9], when[32];
    (void)ctx;
    snaplist_short_id(c->newest->id, id);
    cli_time(c->newest->time_sec, when, sizeof when, 0);
    printf("%-8s %-13s %s (snapshot %s, %s)%s%s\n", c->archived ? "archived" : "current",
           c->verdict == DEVICE_PW_OK            ? "ok"
           : c->verdict == DEVICE_PW_WRONG       ? "wrong"
           : c->verdict == DEVICE_PW_UNENCRYPTED ? "not-encrypted"
                                                 : "unreadable",
           c->chain, id, when, c->detail && *c->detail ? ": " : "", c->detail ? c->detail : "");
}

static int password_test(cli *c)
{
    store *s = NULL;
    cli_device_ui ui;
    device_pw_test_result r;
    if (c->nargs != 1)
        return cli_usage_error(&cli_cmd_device);
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = device_password_test(s, c->device, &cb, print_pw_chain, NULL, &r);
    cli_device_ui_end(&ui);
    store_close(s);
    if (!rc)
        printf("the password opens every encrypted chain of device %s (%u)\n", r.device_udid, r.ok);
    return rc ? cli_fail(rc) : EXIT_OK;
}

/* ---- device encryption on|off, device changepw ---- */

int cmd_device(cli *c)
{
    store *s = NULL;
    device_password_result r;
    cli_device_ui ui;
    const int enc = c->nargs >= 2 && c->nargs <= 3 && strcmp(c->args[0], "encryption") == 0 &&
                    (strcmp(c->args[1], "on") == 0 || strcmp(c->args[1], "off") == 0);
    const int changepw = c->nargs >= 1 && c->nargs <= 2 && strcmp(c->args[0], "changepw") == 0;
    if (c->nargs >= 1 && strcmp(c->args[0], "password-test") == 0)
        return password_test(c);
    if (!enc && !changepw)
        return cli_usage_error(&cli_cmd_device);
    const device_password_opts o = {
        .action = changepw                        ? DEVICE_CHANGE_PASSWORD
                  : strcmp(c->args[1], "on") == 0 ? DEVICE_ENCRYPTION_ON
                                                  : DEVICE_ENCRYPTION_OFF,
        .device = enc ? (c->nargs == 3 ? c->args[2] : NULL) : (c->nargs == 2 ? c->args[1] : NULL)};
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    /* changepw archives the chain: the store must open before the device
     * changes anything */
    cairn_err rc = changepw ? cli_open_store(c, STORE_WRITE, &s) : CAIRN_OK;
    if (!rc)
        rc = device_change_password(s, &o, &cb, &r);
    cli_device_ui_end(&ui);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

/* ---- options: devices and device (parse_options.h) ---- */

static const cli_option devices_options[] = {
    {.name = "json", .kind = OPT_FLAG, .offset = offsetof(cli, json), .help = "print a JSON array"},
    CLI_OPT_END,
};

static const char *const devices_synopsis[] = {
    "[--json]",
    NULL,
};

const cli_command cli_cmd_devices = {
    .name = "devices",
    .summary = "list the devices connected over USB or Wi-Fi",
    .synopsis = devices_synopsis,
    .options = devices_options,
    .run = cmd_devices,
};

enum { MODE_ENCRYPTION_ON, MODE_ENCRYPTION_OFF, MODE_CHANGEPW, MODE_PASSWORD_TEST };

static const char *const device_modes[] = {"device encryption on", "device encryption off",
                                           "device changepw", "device password-test"};

static int device_mode(const cli *c)
{
    if (c->nargs > 1 && strcmp(c->args[0], "encryption") == 0 && strcmp(c->args[1], "on") == 0)
        return MODE_ENCRYPTION_ON;
    if (c->nargs > 1 && strcmp(c->args[0], "encryption") == 0 && strcmp(c->args[1], "off") == 0)
        return MODE_ENCRYPTION_OFF;
    if (c->nargs > 0 && strcmp(c->args[0], "changepw") == 0)
        return MODE_CHANGEPW;
    if (c->nargs > 0 && strcmp(c->args[0], "password-test") == 0)
        return MODE_PASSWORD_TEST;
    return -1; /* cmd_device says the usage */
}

static const cli_option device_options[] = {
    {.name = "backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, backup_password_file),
     .arg_name = "FILE",
     .help = "the current backup password (else $CAIRN_BACKUP_PASSWORD)",
     .modes =
         CLI_MODE(MODE_ENCRYPTION_OFF) | CLI_MODE(MODE_CHANGEPW) | CLI_MODE(MODE_PASSWORD_TEST)},
    {.name = "device",
     .kind = OPT_STRING,
     .offset = offsetof(cli, device),
     .arg_name = "NAME|UDID",
     .help = "the device whose chains to test (default: the only device in the store)",
     .modes = CLI_MODE(MODE_PASSWORD_TEST)},
    {.name = "new-backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, new_backup_password_file),
     .arg_name = "FILE",
     .help = "the new backup password (else $CAIRN_NEW_BACKUP_PASSWORD)",
     .modes = CLI_MODE(MODE_ENCRYPTION_ON) | CLI_MODE(MODE_CHANGEPW)},
    CLI_OPT_WAIT(CLI_MODE(MODE_CHANGEPW)),
    CLI_OPT_END,
};

static const char *const device_synopsis[] = {
    "encryption on|off [UDID]",
    "changepw [UDID]",
    "password-test [--device NAME|UDID] [--backup-password-file FILE]",
    NULL,
};

const cli_command cli_cmd_device = {
    .name = "device",
    .summary = "turn a device's backup encryption on or off, change or test its backup password",
    .synopsis = device_synopsis,
    .options = device_options,
    .mode_names = device_modes,
    .mode_of = device_mode,
    .run = cmd_device,
};
