/* cmd_target.c - cairn target add | list | remove: the copies of the store
 * (3-2-1), kept in the store's targets file. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/copy_targets.h"
#include "target_common.h"

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
    const char *const folder = cli_folder_of(out);
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
    const char *const folder = cli_folder_of(url);
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
    int offsite, append_only;
} add_ctx;

static cairn_err do_add(void *ctx, target_list *l)
{
    const add_ctx *const a = ctx;
    const cairn_err rc = targets_add(l, a->name, a->url, a->media, a->offsite);
    if (!rc)
        targets_find(l, a->name)->append_only = a->append_only;
    return rc;
}

/* --lock-mode/--lock-days: Object Lock retention, which the S3 backend
 * reads from its URL (lock_mode=, lock_days=). */
static cairn_err add_lock(const cli *c, char *url, size_t cap)
{
    if (!c->lock_mode && !c->lock_days)
        return CAIRN_OK;
    if (strncmp(url, "s3://", 5) != 0)
        return err_set(CAIRN_EINVAL, "--lock-mode and --lock-days are for s3:// targets (%s)", url);
    if (!c->append_only)
        return err_set(CAIRN_EINVAL, "--lock-mode and --lock-days need --append-only");
    const char *const mode = c->lock_mode ? c->lock_mode : "GOVERNANCE";
    if (strcmp(mode, "GOVERNANCE") != 0 && strcmp(mode, "COMPLIANCE") != 0)
        return err_set(CAIRN_EINVAL, "--lock-mode %s: say GOVERNANCE or COMPLIANCE", mode);
    const size_t n = strlen(url);
    if (snprintf(url + n, cap - n, "%slock_mode=%s&lock_days=%d", strchr(url, '?') ? "&" : "?",
                 mode, c->lock_days ? c->lock_days : 30) >= (int)(cap - n))
        return err_set(CAIRN_EINVAL, "target URL too long");
    return CAIRN_OK;
}

static cairn_err do_remove(void *ctx, target_list *l)
{
    return targets_remove(l, ctx);
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
            printf(",\"media\":\"%s\",\"offsite\":%s,\"append_only\":%s,\"last_copy\":", t->media,
                   t->offsite ? "true" : "false", t->append_only ? "true" : "false");
            cli_print_time_or_null(t->copy_time);
            printf(",\"last_check\":");
            cli_print_time_or_null(t->check_time);
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
          (strcmp(sub, "remove") == 0 && c->nargs == 2)))
        return cli_usage_error(&cli_cmd_target);
    rc = cli_local_store(c);
    if (rc)
        return cli_fail(rc);
    if (strcmp(sub, "list") == 0)
        return target_list_cmd(c);
    if (strcmp(sub, "remove") == 0) {
        /* the URL, for its cache; an unknown name is targets_remove's error */
        target_list l = {NULL, 0};
        int named = 0;
        rc = targets_load(c->store_path, &l);
        const target *const t = rc ? NULL : targets_find(&l, c->args[1]);
        if (t) {
            snprintf(url, sizeof url, "%s", t->url);
            named = 1;
        }
        targets_free(&l);
        if (!rc)
            rc = targets_update(c->store_path, do_remove, c->args[1]);
        if (rc)
            return cli_fail(rc);
        printf("target %s removed; nothing was deleted on the target itself\n", c->args[1]);
        /* its local cache (restore --from-target, check --target) goes too */
        if (named && !cli_folder_of(url) && copy_cache_remove(url) != CAIRN_OK)
            fprintf(stderr, "cairn: warning: target %s: could not remove its local cache: %s\n",
                    c->args[1], err_msg());
        return EXIT_OK;
    }
    rc = normalize_url(c->args[2], url, sizeof url);
    if (!rc)
        rc = not_in_store(c, url);
    if (!rc)
        rc = add_lock(c, url, sizeof url);
    const add_ctx a = {c->args[1], url, c->media ? c->media : targets_default_media(url),
                       c->offsite, c->append_only};
    if (!rc)
        rc = targets_update(c->store_path, do_add, (void *)&a);
    if (rc)
        return cli_fail(rc);
    printf("target %s added: %s (%s, %s%s)\n", a.name, url, a.media,
           a.offsite ? "offsite" : "onsite", a.append_only ? ", append-only" : "");
    printf("copy the store there with: cairn copy --target %s\n", a.name);
    return EXIT_OK;
}

enum { TARGET_ADD, TARGET_LIST, TARGET_REMOVE };

static const char *const target_modes[] = {"target add", "target list", "target remove"};

static int target_mode(const cli *c)
{
    static const char *const subs[] = {"add", "list", "remove"};
    for (int i = 0; c->nargs > 0 && i < 3; i++)
        if (strcmp(c->args[0], subs[i]) == 0)
            return i;
    return -1; /* cmd_target says the usage */
}

static const cli_option target_options[] = {
    {.name = "media",
     .kind = OPT_STRING,
     .offset = offsetof(cli, media),
     .arg_name = "disk|nas|cloud",
     .help = "default: disk (a folder), nas (sftp), cloud (s3)",
     .modes = CLI_MODE(TARGET_ADD)},
    {.name = "offsite",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, offsite),
     .help = "the copy lives elsewhere (never assumed)",
     .modes = CLI_MODE(TARGET_ADD)},
    {.name = "append-only",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, append_only),
     .help = "copy never deletes or overwrites anything there",
     .modes = CLI_MODE(TARGET_ADD)},
    {.name = "lock-mode",
     .kind = OPT_STRING,
     .offset = offsetof(cli, lock_mode),
     .arg_name = "GOVERNANCE|COMPLIANCE",
     .help = "S3: write objects with Object Lock retention in this mode (default GOVERNANCE)",
     .modes = CLI_MODE(TARGET_ADD)},
    {.name = "lock-days",
     .kind = OPT_INT,
     .offset = offsetof(cli, lock_days),
     .min = 1,
     .max = 36500,
     .arg_name = "N",
     .help = "S3: Object Lock retention in days (default 30)",
     .modes = CLI_MODE(TARGET_ADD)},
    {.name = "json",
     .kind = OPT_FLAG,
     .offset = offsetof(cli, json),
     .help = "print a JSON array",
     .modes = CLI_MODE(TARGET_LIST)},
    CLI_OPT_END,
};

static const char *const target_synopsis[] = {
    "add NAME URL [--media disk|nas|cloud] [--offsite] [--append-only [--lock-mode "
    "GOVERNANCE|COMPLIANCE] [--lock-days N]]",
    "list [--json]",
    "remove NAME",
    NULL,
};

const cli_command cli_cmd_target = {
    .name = "target",
    .summary = "add, list or remove the copy targets of the store (3-2-1)",
    .synopsis = target_synopsis,
    .options = target_options,
    .mode_names = target_modes,
    .mode_of = target_mode,
    .run = cmd_target,
};
