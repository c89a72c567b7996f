#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/core/copy.h"
#include "cli.h"
#include "password.h"

int cli_exit_code(cairn_err rc)
{
    switch (rc) {
    case CAIRN_OK:
        return EXIT_OK;
    case CAIRN_EINVAL:
        return EXIT_USAGE;
    case CAIRN_EPARTIAL:
        return EXIT_PARTIAL;
    case CAIRN_EPASSWORD:
        return EXIT_PASSWORD;
    case CAIRN_ENOSTORE:
        return EXIT_NOSTORE;
    case CAIRN_EVERSION:
        return EXIT_VERSION;
    case CAIRN_EKEYFILE:
        return EXIT_KEYFILE;
    case CAIRN_ELOCKED:
        return EXIT_LOCKED;
    case CAIRN_ECORRUPT:
        return EXIT_DAMAGED;
    case CAIRN_ESOURCE:
        return EXIT_SOURCE;
    case CAIRN_ENOSPC:
        return EXIT_NOSPACE;
    case CAIRN_ENOTFOUND:
    case CAIRN_EAMBIGUOUS:
        return EXIT_NOTFOUND;
    case CAIRN_EEXIST:
        return EXIT_EXISTS;
    case CAIRN_EREMOTE:
        return EXIT_REMOTE;
    default:
        return EXIT_ERROR;
    }
}

int cli_fail(cairn_err rc)
{
    fprintf(stderr, "cairn: %s\n", *err_msg() ? err_msg() : err_name(rc));
    return cli_exit_code(rc);
}

void cli_human(uint64_t n, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, cap, "%" PRIu64 " B", n);
    else
        snprintf(out, cap, "%.1f %s", v, units[u]);
}

void cli_time(int64_t sec, char *out, size_t cap, int iso)
{
    struct tm tm;
    const time_t t = (time_t)sec;
    if (iso) {
        gmtime_r(&t, &tm);
        strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else {
        localtime_r(&t, &tm);
        strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
    }
}

void cli_json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

cairn_err cli_open_store(cli *c, unsigned flags, store **out)
{
    password pw = {NULL, 0};
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (rc)
        return rc;
    rc = password_get(c->password_file, "CAIRN_PASSWORD", "Store password: ", 0, &pw);
    if (rc)
        return rc;
    rc = c->view && !(flags & STORE_WRITE) ? copy_view_store(c->view, pw.text, pw.len, out)
                                           : store_open(c->store_path, pw.text, pw.len, flags, out);
    password_free(&pw);
    if (!rc && store_index_was_rebuilt(*out))
        fprintf(stderr, "cairn: note: the index was damaged and has been rebuilt from the packs\n");
    return rc;
}

void cli_warn_item(void *ctx, const char *path, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "cairn: warning: %s: %s\n", path, msg);
}
