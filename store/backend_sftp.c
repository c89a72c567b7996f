/* backend_sftp.c - placeholder until the sftp backend lands. */
#include "backend.h"

#include <stddef.h>

cairn_err backend_sftp_open(const char *url, backend **out)
{
    (void)url;
    *out = NULL;
    return err_set(CAIRN_EINVAL, "%s: this kind of copy target is not built yet", url);
}
