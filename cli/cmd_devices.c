/* The commands that talk to a device itself: devices, backup --device,
 * restore --device, device encryption / changepw.  Each runs one engine
 * workflow (engine/ios/device_*.h) and prints what it says. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/snapshot_list.h"
#include "engine/ios/device_backup.h"
#include "engine/ios/device_password.h"
#include "engine/ios/device_restore.h"
#include "cli.h"

enum { PROGRESS_EVERY_SEC = 10 };

/* ---- what the user sees while the device works ---- */

void cli_device_ui_end(cli_device_ui *ui)
{
    if (atomic_exchange(&ui->drawn, 0))
        fputc('\n', stderr);
}

static void on_warning(void *ctx, const char *path, const char *msg)
{
    cli_device_ui_end(ctx);
    if (path)
        fprintf(stderr, "cairn: warning: %s: %s\n", path, msg);
    else
        fprintf(stderr, "cairn: warning: %s\n", msg);
}

static void on_event(void *ctx, const char *msg)
{
    cli_device_ui_end(ctx);
    fprintf(stderr, "cairn: %s\n", msg);
}

static void on_note(void *ctx, const char *line)
{
    cli_device_ui_end(ctx);
    printf("%s\n", line);
    fflush(stdout);
}

static void on_progress(void *ctx, const device_progress *p)
{
    cli_device_ui *const w = ctx;
    char a[32], b[32];
    const time_t now = time(NULL);
    if (!w->tty && now - w->last < PROGRESS_EVERY_SEC)
        return;
    w->last = now;
    cli_human(p->bytes_received, a, sizeof a);
    cli_human(p->bytes_sent, b, sizeof b);
    fprintf(stderr, "%s  %" PRIu64 " files received (%s), %" PRIu64 " sent (%s); device at %.0f%%",
            w->tty ? "\r" : "", p->files_received, a, p->files_sent, b, p->device_percent);
    if (w->tty) {
        fputs("   ", stderr);
        atomic_store(&w->drawn, 1);
    } else {
        fputc('\n', stderr);
    }
    fflush(stderr);
}

static cairn_err on_password(void *ctx, const device_password_request *req, char **text,
                             size_t *len)
{
    cli_device_ui *const w = ctx;
    cli_device_ui_end(w);
    return cli_device_password(w->c, req, text, len);
}

device_callbacks cli_device_callbacks(cli_device_ui *ui, cli *c)
{
    memset(ui, 0, sizeof *ui);
    atomic_init(&ui->drawn, 0);
    ui->c = c;
    ui->tty = isatty(STDERR_FILENO);
    ui->last = time(NULL);
    const device_callbacks cb = {.ctx = ui,
                                 .password = on_password,
                                 .progress = on_progress,
                                 .warning = on_warning,
                                 .note = on_note,
                                 .event = on_event};
    return cb;
}

/* ---- cairn devices ---- */

int cmd_devices(cli *c)
{
    device_summary *list = NULL;
    size_t n = 0;
    if (c->nargs != 0) {
        fprintf(stderr, "cairn: usage: cairn devices [--json]\n");
        return EXIT_USAGE;
    }
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

/* ---- backup --device ---- */

int cli_backup_device(cli *c)
{
    store *s = NULL;
    device_backup_result r;
    cli_device_ui ui;
    char id[9], par[9], a[32], b[32], d[32], e[32];
    if (c->nargs != 0) {
        fprintf(stderr, "cairn: usage: cairn backup --device [UDID] [--full] [--allow-incomplete]"
                        "\n");
        return EXIT_USAGE;
    }
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    /* the store first: a locked store or a wrong password costs no device time */
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc) {
        const device_backup_device_opts o = {.device = c->device,
                                             .full = c->full,
                                             .allow_incomplete = c->allow_incomplete,
                                             .threads = c->threads};
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

/* ---- restore --device ---- */

int cli_restore_device(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    const snapshot *sn = NULL;
    device_restore_result r;
    cli_device_ui ui;
    char id[9], size[32];
    memset(&r, 0, sizeof r);
    if (c->nargs != 1 || c->to) {
        fprintf(stderr, "cairn: usage: cairn restore SNAPSHOT --device UDID [--system] "
                        "[--settings] [--no-reboot] [--remove]\n");
        return EXIT_USAGE;
    }
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

/* ---- device encryption on|off, device changepw ---- */

int cmd_device(cli *c)
{
    store *s = NULL;
    device_password_result r;
    cli_device_ui ui;
    const int enc = c->nargs >= 2 && c->nargs <= 3 && strcmp(c->args[0], "encryption") == 0 &&
                    (strcmp(c->args[1], "on") == 0 || strcmp(c->args[1], "off") == 0);
    const int changepw = c->nargs >= 1 && c->nargs <= 2 && strcmp(c->args[0], "changepw") == 0;
    if (!enc && !changepw) {
        fprintf(stderr, "cairn: usage: cairn device encryption on|off [UDID]\n"
                        "       cairn device changepw [UDID]\n");
        return EXIT_USAGE;
    }
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
