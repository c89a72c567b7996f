/* cairn repair: heals a damaged store from a copy target and salvages the
 * rest, saying what was lost. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/core/repair.h"
#include "engine/core/copy_targets.h"
#include "cli.h"

static void print_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
}

static void say_waiting(void *ctx)
{
    fprintf(stderr, "cairn: waiting for readers of %s (restore, check) to finish\n",
            (const char *)ctx);
}

/* The source to heal from: --from URL, or --from-target NAME looked up in
 * the store's targets (a URL there works too); "" for none.  Without one,
 * configured targets are pointed out: what repair drops here, the next
 * copy would drop there too. */
static cairn_err resolve_source(cli *c, char *url, size_t cap)
{
    target_list l = {NULL, 0};
    url[0] = '\0';
    if (c->from_url) {
        if (snprintf(url, cap, "%s", c->from_url) >= (int)cap)
            return err_set(CAIRN_EINVAL, "--from: URL too long");
        return CAIRN_OK;
    }
    cairn_err rc = targets_load(c->store_path, &l);
    if (rc && !c->from_target)
        return CAIRN_OK; /* only a note was at stake: repair goes on */
    if (rc)
        return rc;
    const target *const t = c->from_target ? targets_find(&l, c->from_target) : NULL;
    if (t)
        snprintf(url, cap, "%s", t->url);
    else if (c->from_target && (strstr(c->from_target, "://") || c->from_target[0] == '/'))
        snprintf(url, cap, "%s", c->from_target);
    else if (c->from_target)
        rc = err_set(CAIRN_ENOTFOUND,
                     "no target named '%s' (see 'cairn target list'; --from takes a URL)",
                     c->from_target);
    else if (l.count)
        fprintf(stderr,
                "cairn: note: %zu copy target(s) are configured (first: %s); 'cairn repair "
                "--from-target NAME' heals from one instead of dropping what is lost here\n",
                l.count, l.items[0].name);
    targets_free(&l);
    return rc;
}

/* A damaged config: the store does not open until a copy's heals it. */
static cairn_err open_healing_config(cli *c, const char *src, store **s)
{
    password pw = {NULL, 0};
    int healed = 0;
    printf("damaged: %s\n", err_msg());
    if (!src)
        return err_set(CAIRN_ECORRUPT, "the store config is damaged and cannot be rebuilt (its "
                                       "store id ties the store to its copies): heal it with "
                                       "'cairn repair --from-target NAME'");
    cairn_err rc = password_get(c->password_file, "CAIRN_PASSWORD", "Store password: ", 0, &pw);
    if (!rc)
        rc = repair_config(c->store_path, src, pw.text, pw.len, c->dry_run, print_line, NULL,
                           &healed);
    password_free(&pw);
    if (!rc && c->dry_run)
        return err_set(CAIRN_ECORRUPT,
                       "the store config is damaged; nothing was changed (dry run)");
    return rc ? rc : cli_open_store(c, STORE_WRITE, s);
}

/* Every key file damaged: the store does not open until one is healed. */
static cairn_err open_healing_keys(cli *c, const char *src, store **s)
{
    unsigned healed = 0;
    cairn_err rc = cli_open_store(c, STORE_WRITE, s);
    if (rc == CAIRN_ECORRUPT)
        return open_healing_config(c, src, s);
    if (rc != CAIRN_EKEYFILE || !src)
        return rc;
    printf("damaged: %s\n", err_msg());
    rc = repair_keys(c->store_path, src, c->dry_run, print_line, NULL, &healed);
    if (!rc && c->dry_run)
        return err_set(CAIRN_EKEYFILE, "no key file opens the store until one is healed; nothing "
                                       "was changed (dry run)");
    if (!rc && !healed)
        return err_set(CAIRN_EKEYFILE, "no key file opens the store, and %s could not heal one",
                       src);
    return rc ? rc : cli_open_store(c, STORE_WRITE, s);
}

static void print_summary(const cli *c, const repair_result *r, const char *src)
{
    const char *const would = c->dry_run ? "would be " : "";
    printf("verified %" PRIu64 " packs: %" PRIu64 " damaged (%" PRIu64 " chunk(s)); %" PRIu64
           " snapshot object(s), %" PRIu64 " key file(s) damaged\n",
           r->packs, r->packs_damaged, r->chunks_damaged, r->snapshot_objects, r->key_files);
    if (src)
        printf("%shealed from %s: %" PRIu64 " pack(s) replaced, %" PRIu64
               " pack(s) fetched, %" PRIu64 " snapshot object(s), %" PRIu64 " key file(s)\n",
               would, src, r->packs_healed, r->packs_fetched, r->snapshots_healed, r->keys_healed);
    printf("%ssalvaged: %" PRIu64 " damaged pack(s) (%" PRIu64
           " chunk(s) copied); %sset aside: %" PRIu64 " snapshot object(s), %" PRIu64
           " key file(s)\n",
           would, r->packs_salvaged, r->chunks_salvaged, would, r->snapshots_set_aside,
           r->keys_set_aside);
    printf("lost: %" PRIu64 " file(s), %" PRIu64 " folder(s), %" PRIu64 " catalog(s) in %" PRIu64
           " snapshot(s) (%" PRIu64 " chunk(s) missing)\n",
           r->files_lost, r->folders_lost, r->catalogs_lost, r->snapshots_repaired,
           r->chunks_missing);
}

int cmd_repair(cli *c)
{
    store *s = NULL;
    repair_result r;
    char url[PATH_MAX] = "";
    if (c->nargs != 0 || (c->from_target && c->from_url))
        return cli_usage_error(&cli_cmd_repair);
    memset(&r, 0, sizeof r);
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (!rc)
        rc = resolve_source(c, url, sizeof url);
    const char *const src = *url ? url : NULL;
    if (!rc)
        rc = open_healing_keys(c, src, &s);
    if (rc) {
        store_close(s);
        return cli_fail(rc);
    }
    const repair_opts opts = {.dry_run = c->dry_run,
                              .source = src,
                              .report = print_line,
                              .waiting = say_waiting,
                              .waiting_ctx = c->store_path};
    rc = repair_run(s, &opts, &r);
    store_close(s);
    const int found = r.packs_damaged || r.snapshot_objects || r.key_files ||
                      r.snapshots_repaired || r.packs_fetched;
    if (found && (rc == CAIRN_OK || rc == CAIRN_EPARTIAL || rc == CAIRN_ECORRUPT))
        print_summary(c, &r, src);
    if (rc)
        return cli_fail(rc);
    printf("the store checks clean\n");
    return EXIT_OK;
}

static const cli_option repair_options[] = {
    {.name = "dry-run",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, dry_run),
     .help = "verify and show the plan, change nothing"},
    {.name = "from-target",
     .kind = OPT_STRING,
     .offset = offsetof(cli, from_target),
     .arg_name = "NAME|URL",
     .help = "heal from this copy target (a name or a URL)"},
    {.name = "from",
     .kind = OPT_STRING,
     .offset = offsetof(cli, from_url),
     .arg_name = "URL",
     .help = "heal from any copy of this store"},
    CLI_OPT_WAIT(0),
    CLI_OPT_END,
};

static const char *const repair_synopsis[] = {
    "[--dry-run] [--from-target NAME|URL | --from URL]",
    NULL,
};

const cli_command cli_cmd_repair = {
    .name = "repair",
    .summary = "heal a damaged store from a copy, salvage the rest, list what is lost",
    .synopsis = repair_synopsis,
    .options = repair_options,
    .run = cmd_repair,
};
