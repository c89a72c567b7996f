/* The commands that talk to a device itself (libimobiledevice): devices,
 * backup --device, restore --device, device encryption / changepw. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/chains.h"
#include "engine/ios/received_backup.h"
#include "engine/ios/device_connection.h"
#include "engine/ios/mobilebackup2_host.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/snapshot_edit.h"
#include "cli.h"
#include "password.h"

enum { PROGRESS_EVERY_SEC = 10, INFO_PLIST_MAX = 64 << 20 };

static const char ENV_PASSWORD[] = "CAIRN_BACKUP_PASSWORD";
static const char ENV_NEW_PASSWORD[] = "CAIRN_NEW_BACKUP_PASSWORD";

/* ---- what the user sees while the device works ---- */

typedef struct watch {
    int tty;          /* stderr is a terminal: one line, redrawn */
    time_t last;      /* last progress line (not a terminal) */
    atomic_int drawn; /* a progress line is on the terminal (notes come from
                       * libimobiledevice's notification thread) */
} watch;

static void end_line(watch *w)
{
    if (atomic_exchange(&w->drawn, 0))
        fputc('\n', stderr);
}

static void on_warn(void *ctx, const char *path, const char *msg)
{
    end_line(ctx);
    fprintf(stderr, "cairn: warning: %s: %s\n", path, msg);
}

static void on_note(void *ctx, const char *msg)
{
    end_line(ctx);
    fprintf(stderr, "cairn: %s\n", msg);
}

static void on_progress(void *ctx, const mb2host_progress *p)
{
    watch *const w = ctx;
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

static mb2host_events events_for(watch *w)
{
    memset(w, 0, sizeof *w);
    atomic_init(&w->drawn, 0);
    w->tty = isatty(STDERR_FILENO);
    w->last = time(NULL);
    const mb2host_events ev = {on_warn, on_progress, on_note, w};
    return ev;
}

static void announce(idev *d)
{
    char *name = NULL, *type = NULL, *ios = NULL;
    /* only for show: a value the device keeps to itself is left out */
    idev_get_string(d, NULL, "DeviceName", &name);
    idev_get_string(d, NULL, "ProductType", &type);
    idev_get_string(d, NULL, "ProductVersion", &ios);
    printf("device: %s (%s, iOS %s), UDID %s\n", name ? name : "unnamed",
           type ? type : "unknown model", ios ? ios : "?", idev_udid(d));
    fflush(stdout);
    free(name);
    free(type);
    free(ios);
}

/* ---- cairn devices ---- */

int cmd_devices(cli *c)
{
    idev_summary *list = NULL;
    size_t n = 0;
    if (c->nargs != 0) {
        fprintf(stderr, "cairn: usage: cairn devices [--json]\n");
        return EXIT_USAGE;
    }
    const cairn_err rc = idev_list(&list, &n);
    if (rc)
        return cli_fail(rc);
    if (c->json)
        putchar('[');
    else
        printf("%-40s  %-24s  %-12s  %-7s  %-5s  %-6s  %s\n", "UDID", "Name", "Model", "iOS", "Via",
               "Paired", "Backup encryption");
    for (size_t i = 0; i < n; i++) {
        const idev_summary *const d = &list[i];
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
    idev_list_free(list, n);
    return EXIT_OK;
}

/* ---- backup --device ---- */

/* The newest snapshot of the device in any of its chains: the backup
 * folder the device sees, so it sends only what changed since. */
static const snapshot *newest_of_device(const snaplist *l, const char *udid)
{
    const snapshot *best = NULL;
    for (size_t i = 0; i < l->count; i++) {
        const char *const u = device_meta(&l->items[i], "udid");
        if (u && strcasecmp(u, udid) == 0)
            best = &l->items[i];
    }
    return best;
}

static void print_saved(const stream_result *res, const snapshot *parent, const mb2host_result *r)
{
    char id[9], par[9], a[32], b[32], d[32], e[32];
    snaplist_short_id(res->id, id);
    if (parent)
        snaplist_short_id(parent->id, par);
    cli_human(res->bytes, a, sizeof a);
    cli_human(res->stats.new_bytes, b, sizeof b);
    cli_human(res->stats.new_raw, d, sizeof d);
    cli_human(r->done.bytes_received, e, sizeof e);
    printf("snapshot %s saved%s%s%s\n", id, parent ? " (parent " : "", parent ? par : "",
           parent ? ")" : "");
    printf("  files: %" PRIu64 " in %" PRIu64 " folders, %s (%" PRIu64 " received, %s)\n",
           res->files, res->dirs, a, r->done.files_received, e);
    printf("  added: %" PRIu64 " new chunks, %s stored (%s before compression)\n",
           res->stats.new_chunks, b, d);
}

/* Manifest.db, with the files' keys, arrives last: with the backup
 * password the files the device sent encrypted are decrypted in the stream
 * before the commit, as a folder backup with the password stores them;
 * without it they are kept as the device sent them. */
static cairn_err decrypt_session(cli *c, stream *st, const char *tmp, device_info *dev)
{
    password pw = {NULL, 0};
    int have = 0;
    cairn_err rc = password_get_optional(c->backup_password_file, "CAIRN_BACKUP_PASSWORD",
                                         "Backup password of the device (empty: store the "
                                         "backup encrypted as it is): ",
                                         &pw, &have);
    if (!rc && have) {
        rc = devstream_decrypt(st, tmp, pw.text, pw.len, dev);
        if (!rc)
            printf("  encrypted: unlocked; files are stored decrypted and restored "
                   "re-encrypted\n");
    } else if (!rc) {
        printf("  encrypted on the device, no backup password given (--backup-password-file or "
               "CAIRN_BACKUP_PASSWORD):\n  stored as the device sent it; ls, extract and diff "
               "need the password\n");
        rc = device_add_meta(dev, "contents", "encrypted");
    }
    password_free(&pw);
    return rc;
}

int cli_backup_device(cli *c)
{
    store *s = NULL;
    snaplist l = {NULL, 0, 0};
    idev *d = NULL;
    stream *st = NULL;
    device_info dev;
    mb2host_result r;
    stream_result res;
    watch w;
    char tmp[PATH_MAX], source[256];
    int have_dev = 0;
    memset(&dev, 0, sizeof dev);
    memset(&r, 0, sizeof r);
    if (c->nargs != 0) {
        fprintf(stderr, "cairn: usage: cairn backup --device [UDID] [--full] [--allow-incomplete]"
                        "\n");
        return EXIT_USAGE;
    }
    const mb2host_events ev = events_for(&w);
    /* the store first: a locked store or a wrong password costs no device time */
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc)
        rc = idev_open(c->device, &d);
    if (!rc) {
        announce(d);
        rc = snaplist_load(s, &l);
    }
    const snapshot *const base = rc ? NULL : newest_of_device(&l, idev_udid(d));
    if (!rc) {
        char bid[9];
        if (base)
            snaplist_short_id(base->id, bid);
        printf("  the device sees snapshot %s as its last backup\n", base ? bid : "(none)");
        fflush(stdout);
        const stream_opts so = {.base = base, .threads = c->threads};
        rc = stream_begin(s, &so, &st);
    }
    if (!rc)
        rc = mb2host_backup(d, st, c->full, store_path(s), &ev, &r);
    end_line(&w);
    if (rc) {
        if (st)
            fprintf(stderr,
                    "cairn: no snapshot was saved (%" PRIu64 " files received); earlier "
                    "snapshots are untouched\n",
                    r.done.files_received);
        goto done;
    }
    rc = store_tmp_path(s, "device-Manifest.db", tmp, sizeof tmp);
    if (!rc)
        rc = devstream_inspect(st, idev_udid(d), tmp, &dev);
    have_dev = rc == CAIRN_OK;
    if (!rc && !dev.complete) {
        if (!c->allow_incomplete)
            rc = err_set(CAIRN_ESOURCE,
                         "%s; refusing to store it (use --allow-incomplete to keep it anyway, "
                         "marked incomplete)",
                         dev.problem);
        else
            fprintf(stderr, "cairn: warning: %s; storing it marked incomplete\n", dev.problem);
    }
    if (!rc && dev.encrypted)
        rc = decrypt_session(c, st, tmp, &dev);
    if (!rc)
        rc = cli_rotate_chain(s, &dev);
    if (!rc) {
        snprintf(source, sizeof source, "mobilebackup2://%s", idev_udid(d));
        const stream_commit_opts co = {.source = source,
                                       .chain = dev.chain,
                                       .parent = snaplist_latest_in_chain(&l, dev.chain),
                                       .flags = dev.complete ? 0 : SNAP_INCOMPLETE,
                                       .errors = r.failed + r.refused,
                                       .meta = dev.meta,
                                       .nmeta = dev.nmeta,
                                       .catalog = dev.cat.count ? &dev.cat : NULL};
        rc = stream_commit(st, &co, &res);
        if (!rc)
            print_saved(&res, co.parent, &r);
    }
    if (rc)
        fprintf(stderr, "cairn: no snapshot was saved; earlier snapshots are untouched\n");
done:
    stream_free(st);
    idev_close(d);
    if (have_dev)
        device_info_free(&dev);
    snaplist_free(&l);
    store_close(s);
    if (rc)
        return cli_fail(rc);
    if (r.failed + r.refused) {
        fprintf(stderr,
                "cairn: %" PRIu64 " item(s) could not be backed up; the snapshot is marked "
                "partial\n",
                r.failed + r.refused);
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
    idev *d = NULL;
    stream *view = NULL;
    password pw = {NULL, 0};
    iosenc_keys *keys = NULL;
    cbuf info;
    mb2host_result r;
    watch w;
    char id[9], size[32];
    cbuf_init(&info);
    memset(&r, 0, sizeof r);
    if (c->nargs != 1 || c->to) {
        fprintf(stderr, "cairn: usage: cairn restore SNAPSHOT --device UDID [--system] "
                        "[--settings] [--no-reboot] [--remove]\n");
        return EXIT_USAGE;
    }
    const mb2host_events ev = events_for(&w);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find(&l, c->args[0], &sn);
    const char *const udid = rc ? NULL : device_meta(sn, "udid");
    const char *const state = rc ? NULL : device_meta(sn, "snapshot_state");
    const char *const enc = rc ? NULL : device_meta(sn, "is_encrypted");
    if (!rc) {
        snaplist_short_id(sn->id, id);
        if (!udid)
            rc = err_set(CAIRN_EINVAL, "snapshot %s is not a device backup", id);
        else if (!state || strcmp(state, "finished") != 0 || (sn->flags & SNAP_INCOMPLETE))
            rc = err_set(CAIRN_EINVAL, "snapshot %s is an incomplete backup: a device refuses it",
                         id);
    }
    if (!rc && enc && strcmp(enc, "true") == 0)
        rc = password_get(c->backup_password_file, ENV_PASSWORD,
                          "Backup password of the snapshot: ", 0, &pw);
    if (!rc) {
        const stream_opts so = {.base = sn, .read_only = 1};
        rc = stream_begin(s, &so, &view);
    }
    if (!rc) {
        rc = stream_read_all(view, "Info.plist", INFO_PLIST_MAX, &info);
        if (rc == CAIRN_ENOTFOUND)
            rc = CAIRN_OK; /* no apps to reinstall */
    }
    /* a snapshot stored decrypted goes to the device as the device wrote it */
    if (!rc && cli_enc_is_decrypted(sn)) {
        cbuf plist;
        cbuf_init(&plist);
        rc = stream_read_all(view, "Manifest.plist", INFO_PLIST_MAX, &plist);
        if (!rc)
            rc = devcrypt_unlock_plist(plist.data, plist.len, pw.text, pw.len, &keys);
        cbuf_free(&plist);
        if (!rc)
            stream_set_keys(view, keys);
    }
    if (!rc)
        rc = idev_open(c->device, &d);
    if (!rc) {
        announce(d);
        const mb2host_restore_opts o = {.source_udid = udid,
                                        .system = c->restore_system,
                                        .settings = c->restore_settings,
                                        .no_reboot = c->no_reboot,
                                        .remove = c->restore_remove,
                                        .password = pw.text,
                                        .info_plist = info.len ? info.data : NULL,
                                        .info_plist_len = info.len};
        rc = mb2host_restore(d, view, &o, &ev, &r);
        end_line(&w);
    }
    if (!rc || rc == CAIRN_EPARTIAL) {
        cli_human(r.done.bytes_sent, size, sizeof size);
        printf("restored snapshot %s to device %s: %" PRIu64 " files, %s\n", id, idev_udid(d),
               r.done.files_sent, size);
    }
    password_free(&pw);
    idev_close(d);
    stream_free(view);
    iosenc_keys_free(keys);
    cbuf_free(&info);
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

/* The device's newest chain, archived: its snapshots need the old
 * password, the next backup starts a new chain. */
static cairn_err archive_device_chain(store *s, const char *udid)
{
    snaplist l = {NULL, 0, 0};
    chain_list chains = {NULL, 0};
    cairn_err rc = snaplist_load(s, &l);
    if (!rc)
        rc = chains_load(s, &chains);
    const snapshot *const last = rc ? NULL : newest_of_device(&l, udid);
    if (last && !chains_is_archived(&chains, last->chain)) {
        rc = chains_archive(s, last->chain, "backup password changed (cairn device changepw)");
        if (!rc)
            printf("chain %s archived: its snapshots need the old backup password; the next "
                   "backup starts a new chain\n",
                   last->chain);
    }
    chains_free(&chains);
    snaplist_free(&l);
    return rc;
}

int cmd_device(cli *c)
{
    store *s = NULL;
    idev *d = NULL;
    password old_pw = {NULL, 0}, new_pw = {NULL, 0};
    watch w;
    int on = 0;
    const int enc = c->nargs >= 2 && c->nargs <= 3 && strcmp(c->args[0], "encryption") == 0 &&
                    (strcmp(c->args[1], "on") == 0 || strcmp(c->args[1], "off") == 0);
    const int changepw = c->nargs >= 1 && c->nargs <= 2 && strcmp(c->args[0], "changepw") == 0;
    if (!enc && !changepw) {
        fprintf(stderr, "cairn: usage: cairn device encryption on|off [UDID]\n"
                        "       cairn device changepw [UDID]\n");
        return EXIT_USAGE;
    }
    const int want_on = enc && strcmp(c->args[1], "on") == 0;
    const char *const udid =
        enc ? (c->nargs == 3 ? c->args[2] : NULL) : (c->nargs == 2 ? c->args[1] : NULL);
    const mb2host_events ev = events_for(&w);
    /* changepw archives the chain: the store must open before the device
     * changes anything */
    cairn_err rc = changepw ? cli_open_store(c, STORE_WRITE, &s) : CAIRN_OK;
    if (!rc)
        rc = idev_open(udid, &d);
    if (!rc) {
        announce(d);
        rc = idev_will_encrypt(d, &on);
    }
    if (!rc && enc && want_on == on)
        rc = err_set(CAIRN_EINVAL, "backup encryption is already %s on device %s",
                     on ? "on" : "off", idev_udid(d));
    if (!rc && changepw && !on)
        rc = err_set(CAIRN_EINVAL,
                     "backup encryption is off on device %s: there is no password to change "
                     "(use 'cairn device encryption on')",
                     idev_udid(d));
    if (!rc && (changepw || (enc && !want_on)))
        rc = password_get(c->backup_password_file, ENV_PASSWORD, "Current backup password: ", 0,
                          &old_pw);
    if (!rc && (changepw || want_on))
        rc = password_get(c->new_backup_password_file, ENV_NEW_PASSWORD, "New backup password: ", 1,
                          &new_pw);
    if (!rc)
        rc = mb2host_change_password(d, old_pw.text, new_pw.text, &ev);
    password_free(&old_pw);
    password_free(&new_pw);
    if (!rc && enc)
        printf("backup encryption is now %s on device %s; the next backup starts a new chain\n",
               want_on ? "on" : "off", idev_udid(d));
    if (!rc && changepw) {
        printf("backup password changed on device %s\n", idev_udid(d));
        rc = archive_device_chain(s, idev_udid(d));
    }
    idev_close(d);
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

enum { DEVICE_ENCRYPTION_ON, DEVICE_ENCRYPTION_OFF, DEVICE_CHANGEPW };

static const char *const device_modes[] = {"device encryption on", "device encryption off",
                                           "device changepw"};

static int device_mode(const cli *c)
{
    if (c->nargs > 1 && strcmp(c->args[0], "encryption") == 0 && strcmp(c->args[1], "on") == 0)
        return DEVICE_ENCRYPTION_ON;
    if (c->nargs > 1 && strcmp(c->args[0], "encryption") == 0 && strcmp(c->args[1], "off") == 0)
        return DEVICE_ENCRYPTION_OFF;
    if (c->nargs > 0 && strcmp(c->args[0], "changepw") == 0)
        return DEVICE_CHANGEPW;
    return -1; /* cmd_device says the usage */
}

static const cli_option device_options[] = {
    {.name = "backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, backup_password_file),
     .arg_name = "FILE",
     .help = "the current backup password (else $CAIRN_BACKUP_PASSWORD)",
     .modes = CLI_MODE(DEVICE_ENCRYPTION_OFF) | CLI_MODE(DEVICE_CHANGEPW)},
    {.name = "new-backup-password-file",
     .kind = OPT_STRING,
     .offset = offsetof(cli, new_backup_password_file),
     .arg_name = "FILE",
     .help = "the new backup password (else $CAIRN_NEW_BACKUP_PASSWORD)",
     .modes = CLI_MODE(DEVICE_ENCRYPTION_ON) | CLI_MODE(DEVICE_CHANGEPW)},
    CLI_OPT_END,
};

static const char *const device_synopsis[] = {
    "encryption on|off [UDID]",
    "changepw [UDID]",
    NULL,
};

const cli_command cli_cmd_device = {
    .name = "device",
    .summary = "turn a device's backup encryption on or off, or change its backup password",
    .synopsis = device_synopsis,
    .options = device_options,
    .mode_names = device_modes,
    .mode_of = device_mode,
    .run = cmd_device,
};
