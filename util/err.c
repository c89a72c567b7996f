#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { ERR_MSG_MAX = 1024 };

static _Thread_local char err_buf[ERR_MSG_MAX];

cairn_err err_set(cairn_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return code;
}

cairn_err err_errno(int errnum, const char *what)
{
    cairn_err code;
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        code = CAIRN_ENOSPC;
        break;
    case ENOENT:
        code = CAIRN_ENOTFOUND;
        break;
    case ENOMEM:
        code = CAIRN_ENOMEM;
        break;
    case EEXIST:
        code = CAIRN_EEXIST;
        break;
    case EINTR:
        code = CAIRN_EINTERRUPTED;
        break;
    default:
        code = CAIRN_EIO;
    }
    return err_set(code, "%s: %s", what, strerror(errnum));
}

const char *err_msg(void)
{
    return err_buf;
}

cairn_err err_wrap(cairn_err code, const char *ctx)
{
    char tmp[ERR_MSG_MAX];
    const size_t n = strlen(ctx);
    memcpy(tmp, err_buf, sizeof tmp);
    if (n + 2 >= sizeof err_buf)
        return code;
    memcpy(err_buf, ctx, n);
    memcpy(err_buf + n, ": ", 2);
    memcpy(err_buf + n + 2, tmp, sizeof err_buf - n - 2);
    err_buf[sizeof err_buf - 1] = '\0';
    return code;
}

const char *err_name(cairn_err code)
{
    static const char *const names[] = {
        "ok",      "io",      "nomem",     "invalid", "corrupt",     "notfound",
        "nostore", "version", "password",  "keyfile", "locked",      "nospace",
        "exists",  "partial", "ambiguous", "source",  "interrupted", "remote",
    };
    int i = -(int)code;
    if (i < 0 || i >= (int)(sizeof names / sizeof names[0]))
        return "unknown";
    return names[i];
}
