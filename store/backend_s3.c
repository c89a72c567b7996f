/* backend_s3.c - placeholder until the s3 backend lands. */
#include "backend.h"

#include <stddef.h>

cairn_err backend_s3_open(const char *url, backend **out)
{
    (void)url;
    *out = NULL;
    return err_set(CAIRN_EINVAL, "%s: this kind of copy target is not built yet", url);
}
