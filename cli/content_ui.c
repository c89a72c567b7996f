/* content_ui.c - what the content commands share (cli.h). */
#include <stdio.h>

#include "engine/ios/content.h"
#include "cli.h"

cairn_err cli_open_content(cli *c, store **s, snaplist *l, struct content_snap **cs)
{
    const snapshot *sn = NULL;
    cairn_err rc = cli_open_store(c, 0, s);
    if (!rc)
        rc = snaplist_load(*s, l);
    if (!rc)
        rc = snaplist_find_for(l, c->args[0], c->device, 1, &sn);
    if (!rc)
        rc = content_open(*s, sn, cs);
    return rc;
}

void cli_content_warn(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "cairn: note: %s\n", message);
}
