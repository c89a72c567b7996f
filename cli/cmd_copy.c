/* cmd_copy.c - cairn copy: sends the store to its copy targets. */
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
#include "engine/core/snapshot_list.h"
#include "target_common.h"

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
               ",\"kept\":%" PRIu64 ",\"held\":%zu}",
               r->objects, r->bytes, r->packs, r->snapshots, r->present, r->deleted, r->kept,
               r->nheld);
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
    if (t->append_only)
        printf("target %s is append-only: nothing there was deleted or overwritten (%" PRIu64
               " object(s) left as they are)\n",
               t->name, r->kept);
}

static void say_waiting_target(void *ctx, const char *url)
{
    const cli *const c = ctx;
    fprintf(stderr,
            "cairn: %s: another cairn is copying to or from this target; waiting up to %s for it "
            "to finish\n",
            url, c->wait);
}

/* One target: take its lock, open it, push, record.  Returns the exit code. */
static int copy_one(cli *c, store *s, const target *t, const copy_opts *opts, int first)
{
    copy_result r;
    char msg[1024], size[32];
    cli_progress prog;
    memset(&r, 0, sizeof r);
    copy_opts o = *opts;
    o.hooks = cli_progress_begin(&prog, c);
    prog.json_stderr = 1; /* stdout holds the one JSON array */
    cli_progress_catch(&prog);
    o.append_only = t->append_only;
    const cairn_err rc = copy_to_url(s, t->url, &o, &r);
    snprintf(msg, sizeof msg, "%s", *err_msg() ? err_msg() : err_name(rc));
    cli_progress_end(&prog);
    record_ctx rec = {t->name, (int64_t)time(NULL), NULL, NULL, NULL};
    if (rc == CAIRN_EINTERRUPTED && cli_interrupted()) {
        /* objects are sent in an order that keeps the target consistent */
        cli_human(r.bytes, size, sizeof size);
        fprintf(stderr,
                "cairn: interrupted: target %s: %" PRIu64 " objects sent (%s); the target is "
                "consistent, run copy again to send the rest\n",
                t->name, r.objects, size);
        copy_result_free(&r);
        return EXIT_INTERRUPTED;
    }
    if (rc) {
        fprintf(stderr, "cairn: target %s: %s\n", t->name, msg);
        print_copy(c, t, NULL, msg, first);
        if (rc != CAIRN_ELOCKED) { /* the other copy's outcome is its own */
            rec.failed = msg;
            cli_record(c->store_path, &rec);
        }
        return cli_exit_code(rc);
    }
    print_copy(c, t, &r, NULL, first);
    rec.copied = &r;
    cli_record(c->store_path, &rec);
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
    if ((c->target != NULL) == (c->all_targets != 0) || (c->only_snapshots != 0) != (c->nargs > 0))
        return cli_usage_error(&cli_cmd_copy);
    unsigned wait = 0;
    cairn_err rc = c->wait ? cli_parse_duration("--wait", c->wait, &wait) : CAIRN_OK;
    if (!rc)
        rc = cli_local_store(c);
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
                            .wait_seconds = wait,
                            .waiting = say_waiting_target,
                            .waiting_ctx = c,
                            .max_delete_percent = (unsigned)c->max_delete,
                            .allow_deletes = c->allow_deletes};
    if (c->json)
        putchar('[');
    for (size_t i = 0; i < l.count; i++) {
        if (c->target && strcmp(l.items[i].name, c->target) != 0)
            continue;
        const int one = copy_one(c, s, &l.items[i], &opts, shown++ == 0);
        if (one != EXIT_OK && code == EXIT_OK)
            code = one;
        if (one == EXIT_INTERRUPTED)
            break;
    }
    if (c->json)
        printf("]\n");
    free(only);
    store_close(s);
    targets_free(&l);
    return code;
}

static const cli_option copy_options[] = {
    {.name = "target",
     .kind = OPT_STRING,
     .offset = offsetof(cli, target),
     .arg_name = "NAME",
     .help = "copy to this target"},
    {.name = "all",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, all_targets),
     .help = "copy to every target in turn"},
    {.name = "snapshots",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, only_snapshots),
     .help = "copy only the SNAPSHOTs named (and the packs they need)"},
    {.name = "allow-deletes",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, allow_deletes),
     .help = "delete there what the store no longer has, however much it is"},
    {.name = "max-delete-percent",
     .kind = OPT_INT,
     .offset = offsetof(cli, max_delete),
     .min = 1,
     .max = 100,
     .arg_name = "P",
     .help = "refuse a copy that would delete more than P% of a target's snapshots or pack "
             "bytes (default 50)"},
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "print a JSON array (progress events as JSON lines on stderr)"},
    {.name = "wait",
     .kind = OPT_STRING,
     .offset = offsetof(cli, wait),
     .arg_name = "DURATION",
     .help = "if another cairn copies to or from the target, or a prune deletes packs, wait up "
             "to DURATION (30s, 10m, 2h)"},
    CLI_OPT_END,
};

static const char *const copy_synopsis[] = {
    "--target NAME [--snapshots SNAPSHOT...] [--allow-deletes] [--max-delete-percent P] [--json] "
    "[--wait DURATION]",
    "--all [--snapshots SNAPSHOT...] [--allow-deletes] [--max-delete-percent P] [--json] "
    "[--wait DURATION]",
    NULL,
};

const cli_command cli_cmd_copy = {
    .name = "copy",
    .summary = "bring copy targets up to date with the store",
    .synopsis = copy_synopsis,
    .options = copy_options,
    .run = cmd_copy,
};
