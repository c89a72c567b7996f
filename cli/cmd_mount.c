/* cairn mount DIR: the store's snapshots as a read-only file system, until
 * Ctrl-C, SIGTERM or fusermount3 -u DIR (the front-end is mount/mount.h). */
#include <stddef.h>
#include <stdio.h>

#include "mount/mount.h"
#include "cli.h"

static void mount_ready(void *ctx, const char *dir)
{
    (void)ctx;
    printf("mounted at %s (read-only); Ctrl-C or 'fusermount3 -u %s' unmounts\n", dir, dir);
    fflush(stdout);
}

int cmd_mount(cli *c)
{
    store *s = NULL;
    if (c->nargs != 1)
        return cli_usage_error(&cli_cmd_mount);
    const mount_opts o = {
        .dir = c->args[0],
        .cache_bytes = (size_t)c->cache_mb << 20,
        .ready = mount_ready,
        .warn = cli_warn_item,
    };
    /* the module first: a missing one fails before the password is asked */
    const void *ops = NULL;
    cairn_err rc = module_load("mount", NULL, &ops);
    if (!rc)
        rc = cli_open_store(c, 0, &s);
    if (!rc)
        rc = ((const mount_module_ops *)ops)->run(s, &o);
    store_close(s);
    return rc ? cli_fail(rc) : EXIT_OK;
}

static const cli_option mount_options[] = {
    CLI_OPT_CACHE_SIZE("keep at most this much of the chunks read in memory (default 64)", 0),
    CLI_OPT_END,
};

static const char *const mount_synopsis[] = {
    "[--cache-size-mb MIB] DIR",
    NULL,
};

const cli_command cli_cmd_mount = {
    .name = "mount",
    .summary = "browse the snapshots as a read-only file system at DIR (FUSE) until unmounted",
    .synopsis = mount_synopsis,
    .options = mount_options,
    .run = cmd_mount,
};
