#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[ERR_MSG_MAX];
/* Callers pass err_msg() as an argument to wrap the inner message
 * ("snapshot X cannot be read (%s)"); formatting straight into err_buf would
 * then overwrite the string vsnprintf is still reading.  So every new
 * message is built here first and copied over whole. */
static _Thread_local char err_scratch[ERR_MSG_MAX];

/* Where a message was cut, drops a trailing partial UTF-8 sequence so the
 * user never sees half a character. */
static void cut_at_char_boundary(char *s, size_t len)
{
    size_t end = len;
    while (end > 0 && ((unsigned char)s[end - 1] & 0xC0) == 0x80)
        end--;
    if (end > 0 && ((unsigned char)s[end - 1] & 0xC0) == 0xC0) {
        const unsigned char lead = (unsigned char)s[end - 1];
        const size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (len - (end - 1) < need)
            s[end - 1] = '\0';
    }
}

cairn_err err_set(cairn_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(err_scratch, sizeof err_scratch, fmt, ap);
    va_end(ap);
    if (n < 0) {
        /* an encoding error: keep the format itself rather than garbage */
        snprintf(err_scratch, sizeof err_scratch, "%s", fmt);
    } else if ((size_t)n >= sizeof err_scratch) {
        cut_at_char_boundary(err_scratch, sizeof err_scratch - 1);
    }
    memcpy(err_buf, err_scratch, sizeof err_buf);
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
    if (strlen(ctx) + 2 >= ERR_MSG_MAX)
        return code; /* no room for any of the message: keep it as it is */
    /* err_set copes with ctx pointing into the current message */
    return err_set(code, "%s: %s", ctx, err_buf);
}

const char *err_name(cairn_err code)
{
    static const char *const names[] = {
        "ok",        "io",       "nomem",       "invalid", "corrupt", "notfound",    "nostore",
        "version",   "password", "keyfile",     "locked",  "nospace", "exists",      "partial",
        "ambiguous", "source",   "interrupted", "remote",  "refused", "unsupported", "module",
    };
    int i = -(int)code;
    if (i < 0 || i >= (int)(sizeof names / sizeof names[0]))
        return "unknown";
    return names[i];
}
