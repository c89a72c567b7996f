/* backend.c - picks the backend a copy target's URL names. */
#include "store/backend/backend.h"

#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"

/* Present only where the static library is linked (tests, fuzzers); the
 * cairn executable loads the module instead. */
extern const cairn_module backend_sftp_module __attribute__((weak));
extern const cairn_module backend_s3_module __attribute__((weak));

static cairn_err open_module(const char *name, const cairn_module *linked, const char *url,
                             backend **out)
{
    const void *ops = NULL;
    const cairn_err rc = module_load(name, linked, &ops);
    return rc ? rc : ((const backend_module_ops *)ops)->open(url, out);
}

cairn_err backend_open(const char *url, backend **out)
{
    *out = NULL;
    if (strncmp(url, "sftp://", 7) == 0)
        return open_module("sftp", &backend_sftp_module, url, out);
    if (strncmp(url, "s3://", 5) == 0)
        return open_module("s3", &backend_s3_module, url, out);
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

char *backend_url_decode(const char *s, size_t n, int *oom)
{
    char *const out = malloc(n + 1);
    size_t k = 0;
    *oom = out == NULL;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3 || fs_hexval(s[i + 1]) < 0 || fs_hexval(s[i + 2]) < 0)
                goto bad;
            c = fs_hexval(s[i + 1]) << 4 | fs_hexval(s[i + 2]);
            i += 2;
        }
        /* no NUL or control character may hide in a host, path or option */
        if (c < 0x20 || c == 0x7f)
            goto bad;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}
