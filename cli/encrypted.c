/* encrypted.c - encrypted device backups on the command line: where the
 * backup passwords the device workflows ask for come from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "password.h"

static const char ENV_PASSWORD[] = "CAIRN_BACKUP_PASSWORD";
static const char ENV_NEW_PASSWORD[] = "CAIRN_NEW_BACKUP_PASSWORD";

cairn_err cli_device_password(void *ctx, const device_password_request *req, char **text,
                              size_t *len)
{
    const cli *const c = ctx;
    password pw = {NULL, 0};
    int have = 1;
    cairn_err rc;
    *text = NULL;
    *len = 0;
    if (req->kind == DEVICE_PASSWORD_NEW_BACKUP)
        rc = password_get(c->new_backup_password_file, ENV_NEW_PASSWORD, req->prompt, 1, &pw);
    else if (req->optional)
        rc = password_get_optional(c->backup_password_file, ENV_PASSWORD, req->prompt, &pw, &have);
    else
        rc = password_get(c->backup_password_file, ENV_PASSWORD, req->prompt, 0, &pw);
    if (rc || !have)
        return rc;
    /* the workflow owns it now, and wipes it */
    *text = pw.text;
    *len = pw.len;
    return CAIRN_OK;
}
