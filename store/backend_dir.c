/* backend_dir.c - placeholder until the dir backend lands. */
#include "backend.h"

#include <stddef.h>

cairn_err backend_dir_open(const char *url, backend **out)
{
    (void)url;
    *out = NULL;
    return err_set(CAIRN_EINVAL, "%s: this kind of copy target is not built yet", url);
}
