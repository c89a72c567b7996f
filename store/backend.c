/* backend.c - picks the backend a copy target's URL names. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

cairn_err backend_open(const char *url, backend **out)
{
    *out = NULL;
    if (strncmp(url, "sftp://", 7) == 0)
        return backend_sftp_open(url, out);
    if (strncmp(url, "s3://", 5) == 0)
        return backend_s3_open(url, out);
    if (strncmp(url, "file://", 7) == 0)
        return backend_dir_open(url + 7, out);
    if (url[0] == '/')
        return backend_dir_open(url, out);
    return err_set(CAIRN_EINVAL,
                   "%s: not a copy target URL (an absolute path, file://, sftp:// or s3://)", url);
}

void backend_close(backend *b)
{
    if (b)
        b->ops->close(b);
}
