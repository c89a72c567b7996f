#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/core/copy.h"
#include "util/fsutil.h"
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
    case CAIRN_EREFUSED:
        return EXIT_REFUSED;
    case CAIRN_EUNSUPPORTED:
        return EXIT_UNSUPPORTED;
    case CAIRN_EMODULE:
        return EXIT_MODULE;
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
    cbuf b;
    cbuf_init(&b);
    cbuf_json_str(&b, s);
    fputs(cbuf_text(&b), stdout);
    cbuf_free(&b);
}

cairn_err cli_parse_duration(const char *option, const char *text, unsigned *seconds)
{
    /* eight days: longer is surely a typo, and stays well inside unsigned */
    const unsigned long long max = 8ull * 24 * 3600;
    const size_t len = strlen(text);
    const int bare = len > 0 && strspn(text, "0123456789") == len; /* "90": seconds */
    unsigned long long total = 0;
    const char *p = text;
    if (!len)
        goto bad;
    while (*p) {
        unsigned long long n = 0, unit = 1;
        if (*p < '0' || *p > '9')
            goto bad;
        while (*p >= '0' && *p <= '9' && n <= max)
            n = n * 10 + (unsigned)(*p++ - '0');
        if (*p == 'h')
            unit = 3600;
        else if (*p == 'm')
            unit = 60;
        else if (*p != 's' && !bare)
            goto bad;
        if (*p)
            p++;
        if (n > max || (total += n * unit) > max)
            return err_set(CAIRN_EINVAL, "%s %s: longer than the most that can be waited (192h)",
                           option, text);
    }
    *seconds = (unsigned)total;
    return CAIRN_OK;
bad:
    return err_set(CAIRN_EINVAL, "%s %s: not a duration (say 30s, 10m, 2h or 1h30m)", option, text);
}

static void say_waiting(void *ctx, const char *pid)
{
    const cli *const c = ctx;
    fprintf(stderr,
            "cairn: %s is in use by another cairn process (pid %s); waiting up to %s for it to "
            "finish\n",
            c->store_path, pid, c->wait);
}

static cairn_err open_with(cli *c, const char *pw, size_t len, unsigned flags,
                           const store_wait *wait, store **out)
{
    return c->view && !(flags & STORE_WRITE)
               ? copy_view_store(c->view, pw, len, out)
               : store_open_wait(c->store_path, pw, len, flags, wait, out);
}

cairn_err cli_open_store(cli *c, unsigned flags, store **out)
{
    password pw = {NULL, 0};
    store_wait wait = {0, say_waiting, c};
    cairn_err rc = store_default_path(c->store_arg, c->store_path, sizeof c->store_path);
    if (rc)
        return rc;
    /* a bad --wait is known before anything is asked */
    if (c->wait) {
        rc = cli_parse_duration("--wait", c->wait, &wait.seconds);
        if (rc)
            return rc;
    }
    /* a missing store is said before a password is asked for */
    rc = store_probe(c->store_path);
    if (rc)
        return rc;
    /* an unlocked session (cairn unlock) opens it without a password */
    rc = CAIRN_EPASSWORD;
    if (!(flags & STORE_NO_SESSION))
        rc = open_with(c, NULL, 0, flags, &wait, out);
    if (rc == CAIRN_EPASSWORD) {
        password_warn_readable(c->password_file);
        rc = password_get(c->password_file, "CAIRN_PASSWORD", "Store password: ", 0, &pw);
        if (rc)
            return rc;
        rc = open_with(c, pw.text, pw.len, flags, &wait, out);
        password_free(&pw);
    }
    if (!rc && store_index_was_rebuilt(*out))
        fprintf(stderr, "cairn: note: the index was damaged and has been rebuilt from the packs\n");
    return rc;
}

void cli_warn_item(void *ctx, const char *path, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "cairn: warning: %s: %s\n", path, msg);
}

/* A snapshot as 'snapshots --json' and 'info --json' print it (extra: more
 * "key":value members, or NULL). */
void cli_snapshot_json(const snapshot *sn, const char *extra)
{
    char hex[2 * ID_LEN + 1], when[32];
    fs_hex(sn->id, ID_LEN, hex);
    cli_time(sn->time_sec, when, sizeof when, 1);
    printf("{\"id\":\"%s\",\"short_id\":\"%.8s\",\"time\":\"%s\",\"hostname\":", hex, hex, when);
    cli_json_str(sn->hostname);
    printf(",\"source\":");
    cli_json_str(sn->source);
    printf(",\"chain\":");
    cli_json_str(sn->chain);
    if (sn->has_parent) {
        fs_hex(sn->parent, ID_LEN, hex);
        printf(",\"parent\":\"%s\"", hex);
    } else {
        printf(",\"parent\":null");
    }
    printf(",\"files\":%" PRIu64 ",\"dirs\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"new_chunks\":%" PRIu64 ",\"new_bytes\":%" PRIu64 ",\"new_raw\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"partial\":%s,\"incomplete\":%s,\"repaired\":%s,",
           sn->files, sn->dirs, sn->bytes, sn->new_chunks, sn->new_bytes, sn->new_raw, sn->errors,
           (sn->flags & SNAP_PARTIAL) ? "true" : "false",
           (sn->flags & SNAP_INCOMPLETE) ? "true" : "false",
           (sn->flags & SNAP_REPAIRED) ? "true" : "false");
    printf("%s%s\"meta\":{", extra ? extra : "", extra ? "," : "");
    for (size_t i = 0; i < sn->nmeta; i++) {
        if (i)
            putchar(',');
        cli_json_str(sn->meta[i].key);
        putchar(':');
        cli_json_str(sn->meta[i].value);
    }
    printf("}}");
}
