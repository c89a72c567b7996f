/* The commands on the store as a whole: init, backup, snapshots, restore,
 * check, index. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/check.h"
#include "engine/core/chunker.h"
#include "engine/core/snapshot_list.h"
#include "engine/ios/device_backup.h"
#include "engine/ios/device_restore.h"
#include "util/fsutil.h"
#include "cli.h"
#include "password.h"

int cmd_init(cli *c)
{
    password pw = {NULL, 0};
    keys_kdf kdf;
    const store_params params = {CHUNKER_MIN_DEFAULT, CHUNKER_AVG_DEFAULT, CHUNKER_MAX_DEFAULT,
                                 PACK_TARGET_DEFAULT, 3};
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = keys_kdf_preset(c->kdf, &kdf);
    if (!rc)
        rc = password_get(c->password_file, "CAIRN_PASSWORD", "New store password: ", 1, &pw);
    if (!rc)
        rc = store_create(c->store_path, pw.text, pw.len, &kdf, &params);
    password_free(&pw);
    if (rc)
        return cli_fail(rc);
    printf("created cairn store at %s\n", c->store_path);
    printf("keep the password safe: without it the backups cannot be read\n");
    return EXIT_OK;
}

static cairn_err open_store_for_backup(void *ctx, store **out)
{
    return cli_open_store(ctx, STORE_WRITE, out);
}

int cmd_backup(cli *c)
{
    device_backup_result r;
    cli_device_ui ui;
    char id[9], parent[9], a[32], b[32], d[32];
    if (c->device)
        return cli_backup_device(c);
    if (c->nargs != 1) {
        fprintf(stderr,
                "cairn: usage: cairn backup [--store DIR] [--allow-incomplete] SOURCE_DIR\n");
        return EXIT_USAGE;
    }
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    const device_backup_folder_opts o = {.source = c->args[0],
                                         .threads = c->threads,
                                         .force_read = c->force,
                                         .allow_incomplete = c->allow_incomplete,
                                         .open_store = open_store_for_backup,
                                         .open_ctx = c};
    const cairn_err rc = device_backup_folder(&o, &cb, &r);
    if (rc && rc != CAIRN_EPARTIAL)
        return cli_fail(rc);
    snaplist_short_id(r.id, id);
    if (r.has_parent)
        snaplist_short_id(r.parent, parent);
    cli_human(r.bytes, a, sizeof a);
    cli_human(r.new_bytes, b, sizeof b);
    cli_human(r.new_raw, d, sizeof d);
    printf("snapshot %s saved%s%s%s\n", id, r.has_parent ? " (parent " : "",
           r.has_parent ? parent : "", r.has_parent ? ")" : "");
    printf("  files: %" PRIu64 " in %" PRIu64 " folders, %s (%" PRIu64 " read, %" PRIu64
           " unchanged)\n",
           r.files, r.dirs, a, r.files_read, r.files - r.files_read);
    printf("  added: %" PRIu64 " new chunks, %s stored (%s before compression)\n", r.new_chunks, b,
           d);
    if (rc == CAIRN_EPARTIAL) {
        fprintf(stderr, "cairn: %s; the snapshot is marked partial\n", err_msg());
        return EXIT_PARTIAL;
    }
    return EXIT_OK;
}

static void print_snapshot_json(const snapshot *sn)
{
    char hex[2 * ID_LEN + 1], when[32];
    fs_hex(sn->id, ID_LEN, hex);
    cli_time(sn->time_sec, when, sizeof when, 1);
    printf("{\"id\":\"%s\",\"short_id\":\"%.8s\",\"time\":\"%s\",\"hostname\":", hex, hex, when);
    cli_json_str(sn->hostname);
    printf(",\"source\":");
    cli_json_str(sn->source);
    printf(",\"chain\":");
    cli_json_str(sn->chain);
    if (sn->has_parent) {
        fs_hex(sn->parent, ID_LEN, hex);
        printf(",\"parent\":\"%s\"", hex);
    } else {
        printf(",\"parent\":null");
    }
    printf(",\"files\":%" PRIu64 ",\"dirs\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"new_chunks\":%" PRIu64 ",\"new_bytes\":%" PRIu64 ",\"new_raw\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"partial\":%s,\"incomplete\":%s,\"repaired\":%s,"
           "\"meta\":{",
           sn->files, sn->dirs, sn->bytes, sn->new_chunks, sn->new_bytes, sn->new_raw, sn->errors,
           (sn->flags & SNAP_PARTIAL) ? "true" : "false",
           (sn->flags & SNAP_INCOMPLETE) ? "true" : "false",
           (sn->flags & SNAP_REPAIRED) ? "true" : "false");
    for (size_t i = 0; i < sn->nmeta; i++) {
        if (i)
            putchar(',');
        cli_json_str(sn->meta[i].key);
        putchar(':');
        cli_json_str(sn->meta[i].value);
    }
    printf("}}");
}

static void print_snapshot_row(const snapshot *sn)
{
    char id[9], when[32], size[32], added[32], what[512];
    snaplist_short_id(sn->id, id);
    cli_time(sn->time_sec, when, sizeof when, 0);
    cli_human(sn->bytes, size, sizeof size);
    cli_human(sn->new_bytes, added, sizeof added);
    const char *const name = snapshot_device_name(sn);
    if (name) {
        const char *const type = snapshot_get_meta(sn, SNAP_META_PRODUCT_TYPE);
        const char *const ios = snapshot_get_meta(sn, SNAP_META_PRODUCT_VERSION);
        const char *const date = snapshot_get_meta(sn, SNAP_META_LAST_BACKUP_DATE);
        char bdate[32] = "?";
        if (date)
            cli_time((int64_t)strtoll(date, NULL, 10), bdate, sizeof bdate, 0);
        snprintf(what, sizeof what, "%s (%s, iOS %s, backup of %s%s)", name, type ? type : "?",
                 ios ? ios : "?", bdate, snapshot_is_encrypted_backup(sn) ? ", encrypted" : "");
    } else {
        snprintf(what, sizeof what, "%s", sn->source);
    }
    printf("%-8s  %-19s  %8" PRIu64 "  %10s  %10s  %s%s%s%s\n", id, when, sn->files, size, added,
           what, (sn->flags & SNAP_PARTIAL) ? " (partial)" : "",
           (sn->flags & SNAP_INCOMPLETE) ? " (incomplete)" : "",
           (sn->flags & SNAP_REPAIRED) ? " (repaired)" : "");
}

int cmd_snapshots(cli *c)
{
    store *s = NULL;
    snaplist l;
    size_t shown = 0;
    cairn_err rc = cli_open_store(c, 0, &s);
    if (rc)
        return cli_fail(rc);
    rc = snaplist_load(s, &l);
    store_close(s);
    if (rc)
        return cli_fail(rc);
    if (c->json)
        putchar('[');
    else
        printf("%-8s  %-19s  %8s  %10s  %10s  %s\n", "ID", "Time", "Files", "Size", "Added",
               "Source");
    for (size_t i = 0; i < l.count; i++) {
        if (!snapshot_matches_device(&l.items[i], c->device))
            continue;
        if (c->json) {
            if (shown)
                putchar(',');
            print_snapshot_json(&l.items[i]);
        } else {
            print_snapshot_row(&l.items[i]);
        }
        shown++;
    }
    if (c->json)
        printf("]\n");
    else
        printf("%zu snapshot(s)\n", shown);
    if (l.damaged)
        fprintf(stderr, "cairn: warning: %zu snapshot object(s) are damaged; run 'cairn check'\n",
                l.damaged);
    snaplist_free(&l);
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
    if (c->device)
        return cli_restore_device(c);
    if (c->nargs != 1 || !c->to) {
        fprintf(stderr, "cairn: usage: cairn restore [--store DIR] SNAPSHOT --to DIR "
                        "[--overwrite]\n");
        return EXIT_USAGE;
    }
    const device_callbacks cb = cli_device_callbacks(&ui, c);
    cairn_err rc = c->from_target ? cli_from_target(c) : CAIRN_OK;
    if (!rc)
        rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = snaplist_load(s, &l);
    if (!rc)
        rc = snaplist_find(&l, c->args[0], &sn);
    if (!rc) {
        const device_restore_folder_opts o = {.target = c->to,
                                              .overwrite = c->overwrite,
                                              .threads = c->threads,
                                              .reencrypt = c->reencrypt};
        rc = device_restore_to_folder(s, sn, &o, &cb, &r);
    }
    if (r.restored) {
        snaplist_short_id(sn->id, id);
        cli_human(r.bytes, size, sizeof size);
        printf("restored snapshot %s to %s: %" PRIu64 " files, %" PRIu64 " folders, %s\n", id,
               c->to, r.files, r.dirs, size);
    }
    if (r.reencrypted)
        printf("re-encrypted: the new backup password opens %s\n", c->to);
    snaplist_free(&l);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static void print_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
}

int cmd_check(cli *c)
{
    store *s = NULL;
    check_result r;
    char size[32];
    if (c->target)
        return cli_check_target(c);
    cairn_err rc = cli_open_store(c, 0, &s);
    if (rc)
        return cli_fail(rc);
    const check_opts opts = {.read_data = c->read_data, .report = print_line};
    rc = check_run(s, &opts, &r);
    store_close(s);
    cli_human(r.bytes_read, size, sizeof size);
    printf("checked %" PRIu64 " packs, %" PRIu64 " snapshots", r.packs, r.snapshots);
    if (c->read_data)
        printf(", read %" PRIu64 " chunks (%s)", r.chunks_read, size);
    printf("\n");
    if (rc)
        return cli_fail(rc);
    printf("no errors were found\n");
    return EXIT_OK;
}

int cmd_index(cli *c)
{
    store *s = NULL;
    uint64_t packs, chunks;
    if (c->nargs != 1 || strcmp(c->args[0], "rebuild") != 0) {
        fprintf(stderr, "cairn: usage: cairn index rebuild [--store DIR]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = cli_open_store(c, STORE_WRITE, &s);
    if (!rc)
        rc = store_index_rebuild(s, &packs, &chunks);
    store_close(s);
    if (rc)
        return cli_fail(rc);
    printf("index rebuilt from %" PRIu64 " packs: %" PRIu64 " chunks\n", packs, chunks);
    return EXIT_OK;
}
