/* cmd_copy.c - copies of the store on targets (3-2-1): target add, list
 * and remove, copy, status, and the target side of check and restore. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/check.h"
#include "engine/core/copy.h"
#include "engine/core/snapshot_list.h"
#include "engine/core/copy_targets.h"
#include "store/backend/backend.h"
#include "util/fsutil.h"
#include "cli.h"

enum { MISSING_SHOWN = 8 };

/* Resolves the store path and requires a store there (no password: the
 * target list and the 3-2-1 report need none). */
static cairn_err local_store(cli *c)
{
    struct stat st;
    char cfg[PATH_MAX + 8];
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = store_object_path(c->store_path, STORE_NAME_CONFIG, cfg, sizeof cfg);
    if (rc)
        return rc;
    if (stat(cfg, &st) != 0)
        return err_set(CAIRN_ENOSTORE, "%s: no store here (run 'cairn init' first)", c->store_path);
    return CAIRN_OK;
}

/* The folder of a folder target's URL, or NULL for a network target. */
static const char *folder_of(const char *url)
{
    if (strncmp(url, "file://", 7) == 0)
        return url + 7;
    return url[0] == '/' ? url : NULL;
}

/* Relative folders are made absolute: the targets file outlives the
 * working directory it was typed in. */
static cairn_err normalize_url(const char *in, char *out, size_t cap)
{
    char cwd[PATH_MAX];
    int n;
    if (strstr(in, "://")) {
        if (strncmp(in, "sftp://", 7) && strncmp(in, "s3://", 5) && strncmp(in, "file://", 7))
            return err_set(CAIRN_EINVAL, "%s: not a target URL (a folder, sftp:// or s3://)", in);
        if (strncmp(in, "file://", 7) == 0 && in[7] != '/')
            return err_set(CAIRN_EINVAL, "%s: a file:// URL needs an absolute path", in);
        n = snprintf(out, cap, "%s", in);
    } else if (in[0] == '/') {
        n = snprintf(out, cap, "%s", in);
    } else {
        if (!getcwd(cwd, sizeof cwd))
            return err_errno(errno, "current folder");
        n = snprintf(out, cap, "%s/%s", cwd, in);
    }
    if (n < 0 || (size_t)n >= cap)
        return err_set(CAIRN_EINVAL, "%s: URL too long", in);
    const char *const folder = folder_of(out);
    if (folder) {
        size_t len = strlen(out);
        while (len > 1 && out[len - 1] == '/' && out + len - 1 > folder)
            out[--len] = '\0';
    }
    return CAIRN_OK;
}

/* A target inside the store would copy the store into itself. */
static cairn_err not_in_store(const cli *c, const char *url)
{
    char store_real[PATH_MAX], target_real[PATH_MAX];
    const char *const folder = folder_of(url);
    if (!folder || !realpath(c->store_path, store_real))
        return CAIRN_OK;
    const char *const t = realpath(folder, target_real) ? target_real : folder;
    const size_t n = strlen(store_real);
    if (strncmp(t, store_real, n) == 0 && (t[n] == '\0' || t[n] == '/'))
        return err_set(CAIRN_EINVAL, "%s is inside the store %s; a copy needs its own folder", url,
                       c->store_path);
    return CAIRN_OK;
}

/* ---- targets file edits ---- */

typedef struct add_ctx {
    const char *name, *url, *media;
    int offsite;
} add_ctx;

static cairn_err do_add(void *ctx, target_list *l)
{
    const add_ctx *const a = ctx;
    return targets_add(l, a->name, a->url, a->media, a->offsite);
}

static cairn_err do_remove(void *ctx, target_list *l)
{
    return targets_remove(l, ctx);
}

typedef struct record_ctx {
    const char *name;
    int64_t when;
    const copy_result *copied; /* a successful copy */
    const char *failed;        /* a failed copy's message */
    const char *checked;       /* a check's result */
} record_ctx;

static cairn_err do_record(void *ctx, target_list *l)
{
    const record_ctx *const r = ctx;
    target *const t = targets_find(l, r->name);
    if (!t)
        return CAIRN_OK; /* removed while we copied */
    if (r->checked) {
        targets_set_checked(t, r->when, r->checked);
        return CAIRN_OK;
    }
    if (r->failed)
        return targets_set_failed(t, r->when, r->failed);
    return targets_set_copied(t, r->when, r->copied->objects, r->copied->bytes,
                              (const uint8_t(*)[ID_LEN])r->copied->held, r->copied->nheld);
}

/* Recording is bookkeeping for 'status': a failure to write it is worth a
 * warning, never the copy's result. */
static void record(const char *store_dir, record_ctx *r)
{
    const cairn_err rc = targets_update(store_dir, do_record, r);
    if (rc)
        fprintf(stderr, "cairn: warning: target %s: could not record the result: %s\n", r->name,
                err_msg());
}

/* ---- target add | list | remove ---- */

static void print_time_or_null(int64_t t)
{
    char when[32];
    if (!t) {
        printf("null");
        return;
    }
    cli_time(t, when, sizeof when, 1);
    printf("\"%s\"", when);
}

static int target_list_cmd(cli *c)
{
    target_list l = {NULL, 0};
    char when[32];
    const cairn_err rc = targets_load(c->store_path, &l);
    if (rc)
        return cli_fail(rc);
    if (c->json)
        putchar('[');
    else
        printf("%-16s  %-5s  %-7s  %-19s  %s\n", "NAME", "MEDIA", "OFFSITE", "LAST COPY", "URL");
    for (size_t i = 0; i < l.count; i++) {
        const target *const t = &l.items[i];
        if (c->json) {
            printf("%s{\"name\":", i ? "," : "");
            cli_json_str(t->name);
            printf(",\"url\":");
            cli_json_str(t->url);
            printf(",\"media\":\"%s\",\"offsite\":%s,\"last_copy\":", t->media,
                   t->offsite ? "true" : "false");
            print_time_or_null(t->copy_time);
            printf(",\"last_check\":");
            print_time_or_null(t->check_time);
            printf(",\"last_check_result\":");
            if (t->check_time)
                cli_json_str(t->check_result);
            else
                printf("null");
            putchar('}');
            continue;
        }
        if (t->copy_time)
            cli_time(t->copy_time, when, sizeof when, 0);
        else
            snprintf(when, sizeof when, "never");
        printf("%-16s  %-5s  %-7s  %-19s  %s\n", t->name, t->media, t->offsite ? "yes" : "no", when,
               t->url);
    }
    if (c->json)
        printf("]\n");
    else
        printf("%zu target(s)\n", l.count);
    targets_free(&l);
    return EXIT_OK;
}

int cmd_target(cli *c)
{
    char url[PATH_MAX];
    const char *const sub = c->nargs > 0 ? c->args[0] : "";
    cairn_err rc;
    if (!((strcmp(sub, "add") == 0 && c->nargs == 3) ||
          (strcmp(sub, "list") == 0 && c->nargs == 1) ||
          (strcmp(sub, "remove") == 0 && c->nargs == 2))) {
        fprintf(stderr, "cairn: usage: cairn target add NAME URL [--media disk|nas|cloud] "
                        "[--offsite] | list [--json] | remove NAME\n");
        return EXIT_USAGE;
    }
    rc = local_store(c);
    if (rc)
        return cli_fail(rc);
    if (strcmp(sub, "list") == 0)
        return target_list_cmd(c);
    if (strcmp(sub, "remove") == 0) {
        rc = targets_update(c->store_path, do_remove, c->args[1]);
        if (rc)
            return cli_fail(rc);
        printf("target %s removed; nothing was deleted on the target itself\n", c->args[1]);
        return EXIT_OK;
    }
    rc = normalize_url(c->args[2], url, sizeof url);
    if (!rc)
        rc = not_in_store(c, url);
    const add_ctx a = {c->args[1], url, c->media ? c->media : targets_default_media(url),
                       c->offsite};
    if (!rc)
        rc = targets_update(c->store_path, do_add, (void *)&a);
    if (rc)
        return cli_fail(rc);
    printf("target %s added: %s (%s, %s)\n", a.name, url, a.media,
           a.offsite ? "offsite" : "onsite");
    printf("copy the store there with: cairn copy --target %s\n", a.name);
    return EXIT_OK;
}

/* ---- copy ---- */

static void print_copy(const cli *c, const target *t, const copy_result *r, const char *error,
                       int first)
{
    char size[32];
    if (c->json) {
        printf("%s{\"target\":", first ? "" : ",");
        cli_json_str(t->name);
        printf(",\"url\":");
        cli_json_str(t->url);
        if (error) {
            printf(",\"ok\":false,\"error\":");
            cli_json_str(error);
            putchar('}');
            return;
        }
        printf(",\"ok\":true,\"objects\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"packs\":%" PRIu64
               ",\"snapshots\":%" PRIu64 ",\"present\":%" PRIu64 ",\"deleted\":%" PRIu64
               ",\"held\":%zu}",
               r->objects, r->bytes, r->packs, r->snapshots, r->present, r->deleted, r->nheld);
        return;
    }
    if (error)
        return; /* said on stderr */
    cli_human(r->bytes, size, sizeof size);
    printf("target %s: sent %" PRIu64 " objects, %" PRIu64 " bytes (%s; %" PRIu64 " packs, %" PRIu64
           " snapshots); %" PRIu64 " already there, %" PRIu64
           " deleted; it holds %zu snapshot(s)\n",
           t->name, r->objects, r->bytes, size, r->packs, r->snapshots, r->present, r->deleted,
           r->nheld);
}

/* A running count on a terminal, overwritten in place and erased at the end. */
static void show_progress(void *ctx, const copy_result *r)
{
    char size[32];
    (void)ctx;
    cli_human(r->bytes, size, sizeof size);
    fprintf(stderr, "\r\033[K  %" PRIu64 " objects, %s", r->objects, size);
}

static void end_progress(const copy_opts *o)
{
    if (o->progress)
        fprintf(stderr, "\r\033[K");
}

/* One target: take its lock, open it, push, record.  Returns the exit code. */
static int copy_one(cli *c, store *s, const target *t, const copy_opts *opts, int first)
{
    backend *b = NULL;
    int lock = -1;
    copy_result r;
    char msg[1024];
    memset(&r, 0, sizeof r);
    cairn_err rc = copy_lock(t->url, &lock);
    if (!rc)
        rc = backend_open(t->url, &b);
    if (!rc)
        rc = copy_push(s, b, opts, &r);
    /* before closing: a backend's close may leave its own message */
    snprintf(msg, sizeof msg, "%s", *err_msg() ? err_msg() : err_name(rc));
    end_progress(opts);
    backend_close(b);
    copy_unlock(lock);
    record_ctx rec = {t->name, (int64_t)time(NULL), NULL, NULL, NULL};
    if (rc) {
        fprintf(stderr, "cairn: target %s: %s\n", t->name, msg);
        print_copy(c, t, NULL, msg, first);
        if (rc != CAIRN_ELOCKED) { /* the other copy's outcome is its own */
            rec.failed = msg;
            record(c->store_path, &rec);
        }
        return cli_exit_code(rc);
    }
    print_copy(c, t, &r, NULL, first);
    rec.copied = &r;
    record(c->store_path, &rec);
    copy_result_free(&r);
    return EXIT_OK;
}

/* --snapshots: the arguments, resolved like everywhere (ID, prefix, latest). */
static cairn_err resolve_snapshots(cli *c, store *s, uint8_t (**ids)[ID_LEN])
{
    snaplist l = {NULL, 0, 0};
    const snapshot *sn;
    cairn_err rc = snaplist_load(s, &l);
    *ids = NULL;
    if (!rc && !(*ids = malloc((size_t)c->nargs * ID_LEN)))
        rc = err_set(CAIRN_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < c->nargs; i++) {
        rc = snaplist_find(&l, c->args[i], &sn);
        if (!rc)
            memcpy((*ids)[i], sn->id, ID_LEN);
    }
    snaplist_free(&l);
    if (rc) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

int cmd_copy(cli *c)
{
    target_list l = {NULL, 0};
    store *s = NULL;
    uint8_t(*only)[ID_LEN] = NULL;
    int code = EXIT_OK, shown = 0;
    if ((c->target != NULL) == (c->all_targets != 0) ||
        (c->only_snapshots != 0) != (c->nargs > 0)) {
        fprintf(stderr, "cairn: usage: cairn copy --target NAME | --all [--snapshots "
                        "SNAPSHOT...] [--json]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = local_store(c);
    if (!rc)
        rc = targets_load(c->store_path, &l);
    if (!rc && c->target && !targets_find(&l, c->target))
        rc = err_set(CAIRN_ENOTFOUND, "no target named '%s' (see 'cairn target list')", c->target);
    if (!rc && l.count == 0)
        rc = err_set(CAIRN_EINVAL, "no targets yet: add one with 'cairn target add NAME URL'");
    /* a reader: prune cannot delete packs while they are being copied */
    if (!rc)
        rc = cli_open_store(c, 0, &s);
    if (!rc && c->only_snapshots)
        rc = resolve_snapshots(c, s, &only);
    if (rc) {
        targets_free(&l);
        store_close(s);
        return cli_fail(rc);
    }
    const copy_opts opts = {.only = (const uint8_t(*)[ID_LEN])only,
                            .nonly = only ? (size_t)c->nargs : 0,
                            .progress = isatty(STDERR_FILENO) ? show_progress : NULL};
    if (c->json)
        putchar('[');
    for (size_t i = 0; i < l.count; i++) {
        if (c->target && strcmp(l.items[i].name, c->target) != 0)
            continue;
        const int one = copy_one(c, s, &l.items[i], &opts, shown++ == 0);
        if (one != EXIT_OK && code == EXIT_OK)
            code = one;
    }
    if (c->json)
        printf("]\n");
    free(only);
    store_close(s);
    targets_free(&l);
    return code;
}

/* ---- status: the 3-2-1 report ---- */

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
        print_time_or_null(t->copy_time);
        printf(",\"last_copy_objects\":%" PRIu64 ",\"last_copy_bytes\":%" PRIu64
               ",\"last_failure\":",
               t->copy_objects, t->copy_bytes);
        if (t->fail_time) {
            printf("{\"time\":");
            print_time_or_null(t->fail_time);
            printf(",\"error\":");
            cli_json_str(t->fail_msg ? t->fail_msg : "");
            putchar('}');
        } else {
            printf("null");
        }
        printf(",\"last_check\":");
        if (t->check_time) {
            printf("{\"time\":");
            print_time_or_null(t->check_time);
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
    if (c->nargs) {
        fprintf(stderr, "cairn: usage: cairn status [--store DIR] [--json]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = local_store(c);
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

/* ---- targets as stores: check --target, restore --from-target ---- */

/* NAME from the targets file, else a URL given as is (a target opened on
 * another machine, where no targets file knows it). */
static cairn_err resolve_target(cli *c, const char *name, char *url, size_t cap, int *named)
{
    target_list l = {NULL, 0};
    *named = 0;
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = targets_load(c->store_path, &l);
    if (rc)
        return rc;
    const target *const t = targets_find(&l, name);
    if (t) {
        snprintf(url, cap, "%s", t->url);
        *named = 1;
    } else if (strstr(name, "://") || name[0] == '/') {
        snprintf(url, cap, "%s", name);
    } else {
        rc = err_set(CAIRN_ENOTFOUND,
                     "no target named '%s' (see 'cairn target list'; a URL works "
                     "too)",
                     name);
    }
    targets_free(&l);
    return rc;
}

/* The folder a target can be opened from: a folder target itself, else
 * its local mirror brought up to date (every object downloaded again with
 * refetch, so a check reads what the target holds now). */
static cairn_err target_folder(const char *label, const char *url, int refetch, char *out,
                               size_t cap)
{
    const char *const folder = folder_of(url);
    backend *b = NULL;
    copy_result r;
    int lock = -1;
    char size[32];
    if (folder) {
        if (snprintf(out, cap, "%s", folder) >= (int)cap)
            return err_set(CAIRN_EINVAL, "%s: path too long", folder);
        return CAIRN_OK;
    }
    memset(&r, 0, sizeof r);
    const copy_opts opts = {.refetch = refetch,
                            .progress = isatty(STDERR_FILENO) ? show_progress : NULL};
    cairn_err rc = copy_mirror_dir(url, out, cap);
    if (!rc)
        rc = copy_lock(url, &lock);
    if (!rc)
        rc = backend_open(url, &b);
    if (!rc)
        rc = copy_fetch(b, out, &opts, &r);
    if (rc) {
        char msg[1024]; /* a backend's close may leave its own message */
        snprintf(msg, sizeof msg, "target %s: %s", label, err_msg());
        end_progress(&opts);
        backend_close(b);
        copy_unlock(lock);
        return err_set(rc, "%s", msg);
    }
    end_progress(&opts);
    backend_close(b);
    copy_unlock(lock);
    cli_human(r.bytes, size, sizeof size);
    printf("target %s: fetched %" PRIu64 " objects, %" PRIu64 " bytes (%s) into its local mirror "
           "%s\n",
           label, r.objects, r.bytes, size, out);
    copy_result_free(&r);
    return CAIRN_OK;
}

cairn_err cli_from_target(cli *c)
{
    char url[PATH_MAX];
    int named;
    cairn_err rc = resolve_target(c, c->from_target, url, sizeof url, &named);
    if (!rc)
        rc = target_folder(c->from_target, url, 0, c->target_store, sizeof c->target_store);
    if (!rc)
        c->store_arg = c->target_store;
    return rc;
}

static void print_check_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
}

int cli_check_target(cli *c)
{
    char url[PATH_MAX], local[PATH_MAX], size[32];
    store *s = NULL;
    check_result r;
    int named;
    memset(&r, 0, sizeof r);
    if (c->nargs) {
        fprintf(stderr, "cairn: usage: cairn check --target NAME [--read-data]\n");
        return EXIT_USAGE;
    }
    cairn_err rc = resolve_target(c, c->target, url, sizeof url, &named);
    if (rc)
        return cli_fail(rc);
    snprintf(local, sizeof local, "%s", c->store_path);
    printf("checking target %s (%s)\n", c->target, url);
    rc = target_folder(c->target, url, c->read_data, c->target_store, sizeof c->target_store);
    if (!rc) {
        c->store_arg = c->target_store;
        rc = cli_open_store(c, 0, &s);
    }
    if (!rc) {
        const check_opts opts = {.read_data = c->read_data, .report = print_check_line};
        rc = check_run(s, &opts, &r);
        store_close(s);
        cli_human(r.bytes_read, size, sizeof size);
        printf("checked %" PRIu64 " packs, %" PRIu64 " snapshots", r.packs, r.snapshots);
        if (c->read_data)
            printf(", read %" PRIu64 " chunks (%s)", r.chunks_read, size);
        printf("\n");
    }
    if (named) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", err_msg()); /* recording may overwrite it */
        record_ctx rec = {c->target, (int64_t)time(NULL), NULL, NULL,
                          !rc                    ? "ok"
                          : rc == CAIRN_ECORRUPT ? "damaged"
                                                 : "failed"};
        record(local, &rec);
        err_set(rc, "%s", msg);
    }
    if (rc)
        return cli_fail(rc);
    printf("no errors were found\n");
    return EXIT_OK;
}
