/* sftp_backend.c - copy targets on an SFTP server (a NAS, a shell account).
 *
 * URL: sftp://[user@]host[:port]/path[?key=FILE&known_hosts=FILE]
 *   /path is absolute on the server; /~ or /~/path is relative to the
 *   login's home folder.  Percent-escapes are decoded.  A password in the
 *   URL (user:pw@) is refused: URLs end up in logs and process listings.
 *   The user defaults to the local login name (as ssh does).
 *
 * Security: the server's host key must be listed in known_hosts (?known_hosts=,
 * else ~/.ssh/known_hosts; nothing else, not /etc/ssh/ssh_known_hosts and not
 * ~/.ssh/config, so that the URL alone decides where the bytes go).  An
 * unknown or changed key is CAIRN_EREMOTE with the fingerprint the server
 * showed and what to do; there is never a prompt.  We authenticate with the
 * private key of ?key= (else ~/.ssh/id_ed25519, then ~/.ssh/id_rsa), whose
 * passphrase, if it has one, comes from $CAIRN_SFTP_KEY_PASSPHRASE, and then
 * with $CAIRN_SFTP_PASSWORD (password or keyboard-interactive).  Neither
 * secret is ever copied or put in a message.
 *
 * Layout on the server: objects at <root>/<name>; uploads in progress at
 * <root>/tmp/<host tag>-<random>.part.  Folders are created 0700, files 0600.
 *
 * put_file: upload to tmp/<random>.part in pieces (64 KiB when the server
 * advertises limits@openssh.com, which OpenSSH >= 8.7 does and which means
 * it accepts up to 255 KiB; else the 32 KiB every server must accept),
 * hashing the bytes sent with BLAKE2b; fsync@openssh.com when offered; read
 * the file back and compare length and hash; then rename to the final name.
 * A reader therefore never sees a partial object under a final name.  The
 * read-back proves the server stored what we sent as far as its file system
 * says (it may come from the server's page cache, not the platter).  SFTP has
 * no way to fsync a folder, so the rename itself is as durable as the server
 * makes it.  The read-back bytes are not counted in bytes_received, which
 * counts get_file payload.
 *
 * Rename: libssh 0.10 sends a plain SSH_FXP_RENAME, never posix-rename@
 * openssh.com, and OpenSSH refuses a plain rename onto an existing name
 * (SSH_FX_FAILURE).  Since names are content hashes and every final name
 * was reached by a verified rename, an existing regular file of the same
 * size is the same object (a copy interrupted after its rename, or a
 * concurrent copy): we keep it and drop our temporary file.  A file of
 * another size cannot be ours; it is removed and the rename repeated.
 *
 * Leftover temporary files: an interrupted copy leaves
 * tmp/<host tag>-<random>.part behind.  A copy, holding the target's local
 * lock, removes this machine's at once (backend_clean_parts: no upload of
 * ours can be running).  Opening the backend removes every .part not
 * modified for an hour (by the client's clock): an upload in progress keeps
 * its file's mtime fresh, so another machine's copy running against the
 * same target does not lose its upload.  A failed put removes its own .part when the
 * connection still works.
 *
 * Disk full: OpenSSH's sftp-server maps ENOSPC (and EDQUOT, and most other
 * errors) to SSH_FX_FAILURE with the fixed text "Failure", so the status
 * alone cannot tell a full disk.  When a write, fsync or close fails that
 * way we ask statvfs@openssh.com: if less space is free than the rest of the
 * object (or 1 MiB) we report CAIRN_ENOSPC; otherwise CAIRN_EREMOTE whose
 * message says that this is how OpenSSH reports a full disk or an exceeded
 * quota (a quota does not show in statvfs).  Servers speaking SFTP v5+
 * status codes (NO_SPACE_ON_FILESYSTEM, QUOTA_EXCEEDED) map directly.
 *
 * Timeouts: libssh's SSH_OPTIONS_TIMEOUT bounds connecting, but its SFTP
 * layer loops forever on a channel read that times out, so a server that
 * stops answering (SIGSTOP, a dead NAS behind a live switch) would hang us.
 * A watchdog thread per backend shuts the socket down when a request gets
 * no answer for the timeout ($CAIRN_SFTP_TIMEOUT seconds, default 30); every
 * answer pushes the deadline back, so long transfers are fine.  The watchdog
 * holds its own dup of the socket: a descriptor number that libssh closes
 * and the process reuses can never be shut down by mistake.
 *
 * Retries: when the connection breaks during a stat, put, get, remove or a
 * list that has not reported anything yet, we reconnect once and repeat the
 * operation; a second failure is CAIRN_EREMOTE naming both.  A refusal by a
 * working server (no such file, permission denied) is not retried.
 *
 * Speed: TCP_NODELAY (without it, Nagle and delayed ACKs cost 40 ms per
 * request: 2 MB/s), writes one request at a time (libssh 0.10 has no
 * asynchronous write), reads READ_DEPTH requests in flight
 * (sftp_async_read).  A server that answers a read with fewer bytes than
 * asked (its own cap) is asked again from there in pieces of that size. */
#include "store/backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <sodium.h>

#include "util/fsutil.h"
#include "store/layout.h"

enum {
    PIECE_MAX = 64 * 1024,  /* with limits@openssh.com */
    PIECE_SAFE = 32 * 1024, /* what every SFTP server must accept */
    READ_DEPTH = 16,        /* read requests in flight: 1 MiB at 64 KiB */
    TIMEOUT_DEFAULT = 30,   /* seconds without an answer */
    TIMEOUT_MAX = 3600,     /* $CAIRN_SFTP_TIMEOUT range */
    PART_MAX_AGE = 3600,    /* seconds before a .part counts as abandoned */
    LIST_DEPTH_MAX = 16,    /* symlinked folders must not loop forever */
    SPACE_SLACK = 1 << 20,  /* "full" means less free than this or the rest */
    HASH_LEN = 32,          /* BLAKE2b-256 of the bytes sent and read back */
    TMP_RANDOM = 8,         /* random bytes in a .part name */
    HOST_TAG = 4,           /* bytes of this machine's tag in a .part name */
    MSG_MAX = 512,          /* saved message of a first failed attempt */
    SSH_FX_NO_SPACE = 14,   /* SFTP v5+ status codes (OpenSSH never sends them) */
    SSH_FX_QUOTA = 15,
};

/* Shuts the socket down when no answer came by the deadline (see top). */
typedef struct watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;                   /* our dup of the socket; -1: disarmed */
    struct timespec deadline; /* CLOCK_MONOTONIC */
    long timeout;             /* seconds */
    int fired;                /* shut the socket down since the last arm */
    int quit;
} watchdog;

typedef struct sftp_backend {
    backend head;
    char *host;
    char *user; /* NULL: the local login name */
    char *root; /* "/abs" or "" (the home folder); no trailing '/' */
    char *key_file;
    char *known_hosts;
    unsigned port;

    ssh_session ssh;
    sftp_session sftp;
    int sock;      /* the watchdog's dup of the session's socket, -1 if none */
    int lost;      /* the connection broke: reconnect before the next request */
    int can_fsync; /* fsync@openssh.com */
    int can_statvfs;
    uint32_t piece;
    uint8_t *buf; /* PIECE_MAX bytes */

    int wd_started;
    watchdog wd;
} sftp_backend;

static const char *const status_names[] = {
    "ok",
    "end of file",
    "no such file",
    "permission denied",
    "failure",
    "bad message",
    "no connection",
    "connection lost",
    "operation unsupported",
    "invalid handle",
    "no such path",
    "file already exists",
    "write protected",
    "no media",
    "no space on file system",
    "quota exceeded",
};

static const char *status_name(int status)
{
    if (status < 0 || status >= (int)(sizeof status_names / sizeof status_names[0]))
        return "unknown error";
    return status_names[status];
}

/* ---- watchdog ---- */

static void ts_add_now(struct timespec *ts, long seconds)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += seconds;
}

static int ts_passed(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void *wd_main(void *arg)
{
    watchdog *const w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->quit) {
        if (w->fd < 0) {
            pthread_cond_wait(&w->cv, &w->mu);
        } else if (!ts_passed(&w->deadline)) {
            /* a kick moves the deadline without a signal: we wake at the
             * old one and sleep on */
            pthread_cond_timedwait(&w->cv, &w->mu, &w->deadline);
        } else {
            /* poll() in libssh wakes up and sees the end of the stream */
            shutdown(w->fd, SHUT_RDWR);
            w->fired = 1;
            w->fd = -1;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static cairn_err wd_start(watchdog *w, long timeout)
{
    pthread_condattr_t ca;
    w->fd = -1;
    w->timeout = timeout;
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return err_set(CAIRN_ENOMEM, "sftp: cannot create a mutex");
    if (pthread_condattr_init(&ca) != 0)
        goto fail_mu;
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&w->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        goto fail_mu;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, wd_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        goto fail_mu;
    }
    return CAIRN_OK;
fail_mu:
    pthread_mutex_destroy(&w->mu);
    return err_set(CAIRN_ENOMEM, "sftp: cannot start the timeout thread");
}

static void wd_stop(watchdog *w)
{
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

/* Watches fd from now on: the next answer must come within the timeout. */
static void wd_arm(sftp_backend *sb)
{
    watchdog *const w = &sb->wd;
    if (sb->sock < 0)
        return;
    pthread_mutex_lock(&w->mu);
    w->fd = sb->sock;
    w->fired = 0;
    ts_add_now(&w->deadline, w->timeout);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* An answer came: the next one has a full timeout again. */
static void wd_kick(sftp_backend *sb)
{
    watchdog *const w = &sb->wd;
    pthread_mutex_lock(&w->mu);
    if (w->fd >= 0)
        ts_add_now(&w->deadline, w->timeout);
    pthread_mutex_unlock(&w->mu);
}

static void wd_disarm(sftp_backend *sb)
{
    pthread_mutex_lock(&sb->wd.mu);
    sb->wd.fd = -1;
    pthread_mutex_unlock(&sb->wd.mu);
}

static int wd_fired(sftp_backend *sb)
{
    pthread_mutex_lock(&sb->wd.mu);
    const int fired = sb->wd.fired;
    pthread_mutex_unlock(&sb->wd.mu);
    return fired;
}

/* ---- errors ---- */

static int connection_lost(sftp_backend *sb)
{
    return !sb->ssh || wd_fired(sb) || !ssh_is_connected(sb->ssh);
}

/* The error after a failed libssh or sftp call about what (an object name
 * or a remote path).  A broken connection is marked for reconnection. */
static cairn_err sftp_fail(sftp_backend *sb, const char *op, const char *what)
{
    const char *const url = sb->head.url;
    if (connection_lost(sb)) {
        sb->lost = 1;
        if (wd_fired(sb))
            return err_set(CAIRN_EREMOTE, "%s: %s %s: no answer from the server for %ld s", url, op,
                           what, sb->wd.timeout);
        return err_set(CAIRN_EREMOTE, "%s: %s %s: connection lost (%s)", url, op, what,
                       sb->ssh ? ssh_get_error(sb->ssh) : "not connected");
    }
    const int status = sb->sftp ? sftp_get_error(sb->sftp) : -1;
    switch (status) {
    case SSH_FX_NO_SUCH_FILE:
    case SSH_FX_NO_SUCH_PATH:
        return err_set(CAIRN_ENOTFOUND, "%s: %s %s: no such file", url, op, what);
    case SSH_FX_NO_SPACE:
    case SSH_FX_QUOTA:
        return err_set(CAIRN_ENOSPC, "%s: %s %s: %s", url, op, what, status_name(status));
    case SSH_FX_OK:
        /* an ssh-level error that did not close the session */
        return err_set(CAIRN_EREMOTE, "%s: %s %s: %s", url, op, what, ssh_get_error(sb->ssh));
    default:
        return err_set(CAIRN_EREMOTE, "%s: %s %s: %s", url, op, what, status_name(status));
    }
}

/* Free bytes on the server's file system of the root; -1 if unknown. */
static int64_t free_space(sftp_backend *sb)
{
    if (!sb->can_statvfs)
        return -1;
    sftp_statvfs_t st = sftp_statvfs(sb->sftp, sb->root[0] ? sb->root : ".");
    if (!st)
        return -1;
    const uint64_t unit = st->f_frsize ? st->f_frsize : st->f_bsize;
    const int64_t avail = st->f_bavail > (uint64_t)INT64_MAX / (unit ? unit : 1)
                              ? INT64_MAX
                              : (int64_t)(st->f_bavail * unit);
    sftp_statvfs_free(st);
    return avail;
}

/* A write, fsync or close of an upload failed with remaining bytes still
 * to go: tells a full disk from other failures where possible (see top). */
static cairn_err write_fail(sftp_backend *sb, const char *op, const char *name, uint64_t remaining)
{
    if (connection_lost(sb) || sftp_get_error(sb->sftp) != SSH_FX_FAILURE)
        return sftp_fail(sb, op, name);
    const int64_t avail = free_space(sb);
    const uint64_t need = remaining > SPACE_SLACK ? remaining : SPACE_SLACK;
    if (avail >= 0 && (uint64_t)avail < need)
        return err_set(CAIRN_ENOSPC, "%s: %s %s: the server's disk is full (%lld bytes free)",
                       sb->head.url, op, name, (long long)avail);
    if (avail >= 0)
        return err_set(CAIRN_EREMOTE,
                       "%s: %s %s: the server reports a failure (OpenSSH reports a full disk or "
                       "an exceeded quota this way; %lld bytes are free)",
                       sb->head.url, op, name, (long long)avail);
    return err_set(CAIRN_EREMOTE,
                   "%s: %s %s: the server reports a failure (OpenSSH reports a full disk or an "
                   "exceeded quota this way)",
                   sb->head.url, op, name);
}

/* ---- URL ---- */

static cairn_err home_dir(char *out, size_t cap)
{
    const char *home = getenv("HOME");
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (!home || !*home) {
        if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) != 0 || !res)
            return err_set(CAIRN_EINVAL, "sftp: cannot tell the home folder ($HOME is unset)");
        home = res->pw_dir;
    }
    if (snprintf(out, cap, "%s", home) >= (int)cap)
        return err_set(CAIRN_EINVAL, "sftp: home folder path too long");
    return CAIRN_OK;
}

/* A query value naming a local file; a leading ~/ means $HOME. */
static cairn_err local_file_arg(const char *value, char **out)
{
    char home[PATH_MAX];
    if (strncmp(value, "~/", 2) != 0) {
        *out = strdup(value);
    } else {
        const cairn_err rc = home_dir(home, sizeof home);
        if (rc)
            return rc;
        *out = fs_join(home, value + 2);
    }
    return *out ? CAIRN_OK : err_set(CAIRN_ENOMEM, "sftp: out of memory");
}

static cairn_err parse_query(sftp_backend *sb, const char *q)
{
    while (*q) {
        const size_t n = strcspn(q, "&");
        const char *const eq = memchr(q, '=', n);
        int oom = 0;
        cairn_err rc;
        if (!eq)
            return err_set(CAIRN_EINVAL, "%s: URL option without a value", sb->head.url);
        char *const value = backend_url_decode(eq + 1, (size_t)(q + n - eq - 1), &oom);
        if (!value)
            return oom ? err_set(CAIRN_ENOMEM, "sftp: out of memory")
                       : err_set(CAIRN_EINVAL, "%s: bad escape in a URL option", sb->head.url);
        const size_t klen = (size_t)(eq - q);
        char **slot = NULL;
        if (klen == 3 && memcmp(q, "key", 3) == 0)
            slot = &sb->key_file;
        else if (klen == 11 && memcmp(q, "known_hosts", 11) == 0)
            slot = &sb->known_hosts;
        if (!slot || *slot || !*value) {
            free(value);
            return err_set(CAIRN_EINVAL,
                           "%s: unknown, repeated or empty URL option (sftp takes key=FILE and "
                           "known_hosts=FILE)",
                           sb->head.url);
        }
        rc = local_file_arg(value, slot);
        free(value);
        if (rc)
            return rc;
        q += n;
        if (*q == '&')
            q++;
    }
    return CAIRN_OK;
}

/* host[:port] or [v6]:port */
static cairn_err parse_host(sftp_backend *sb, const char *s, size_t n)
{
    const char *host = s, *port = NULL;
    size_t hlen;
    int oom = 0;
    if (n > 0 && s[0] == '[') {
        const char *const close = memchr(s, ']', n);
        if (!close)
            return err_set(CAIRN_EINVAL, "%s: unclosed [ in the host", sb->head.url);
        host = s + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return err_set(CAIRN_EINVAL, "%s: bad host", sb->head.url);
            port = close + 2;
        }
    } else {
        const char *const colon = memchr(s, ':', n);
        hlen = colon ? (size_t)(colon - s) : n;
        if (colon)
            port = colon + 1;
    }
    sb->port = 22;
    if (port) {
        unsigned long v = 0;
        const char *p = port;
        for (; p < s + n && *p >= '0' && *p <= '9' && v <= 65535; p++)
            v = v * 10 + (unsigned long)(*p - '0');
        if (p == port || p != s + n || v == 0 || v > 65535)
            return err_set(CAIRN_EINVAL, "%s: bad port", sb->head.url);
        sb->port = (unsigned)v;
    }
    if (hlen == 0)
        return err_set(CAIRN_EINVAL, "%s: no host", sb->head.url);
    sb->host = backend_url_decode(host, hlen, &oom);
    if (!sb->host)
        return oom ? err_set(CAIRN_ENOMEM, "sftp: out of memory")
                   : err_set(CAIRN_EINVAL, "%s: bad host", sb->head.url);
    if (strpbrk(sb->host, " /@?#"))
        return err_set(CAIRN_EINVAL, "%s: bad host", sb->head.url);
    return CAIRN_OK;
}

/* "/abs/path" stays absolute; "/~" and "/~/rel" are relative to the home. */
static cairn_err parse_path(sftp_backend *sb, const char *s, size_t n)
{
    int oom = 0;
    char *const path = backend_url_decode(s, n, &oom);
    if (!path)
        return oom ? err_set(CAIRN_ENOMEM, "sftp: out of memory")
                   : err_set(CAIRN_EINVAL, "%s: bad escape in the path", sb->head.url);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    if (strcmp(path, "/~") == 0) {
        path[0] = '\0';
    } else if (strncmp(path, "/~/", 3) == 0) {
        memmove(path, path + 3, len - 2);
    } else if (strcmp(path, "/") == 0 || path[0] != '/') {
        free(path);
        return err_set(CAIRN_EINVAL,
                       "%s: no folder in the URL (sftp://user@host/abs/path, or /~/path for one "
                       "in the home folder)",
                       sb->head.url);
    }
    sb->root = path;
    return CAIRN_OK;
}

static cairn_err parse_url(sftp_backend *sb, const char *url)
{
    static const char scheme[] = "sftp://";
    int oom = 0;
    cairn_err rc;
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return err_set(CAIRN_EINVAL, "%s: not an sftp:// URL", url);
    const char *const auth = url + sizeof scheme - 1;
    const size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p;
    /* first: no later message may repeat a URL that holds a password */
    if (at && memchr(auth, ':', (size_t)(at - auth)))
        return err_set(CAIRN_EINVAL, "sftp: a password does not belong in a URL; set "
                                     "$CAIRN_SFTP_PASSWORD or use a key");
    if (auth[alen] != '/')
        return err_set(CAIRN_EINVAL, "%s: no folder in the URL (sftp://user@host/path)", url);
    if (strchr(url, '#'))
        return err_set(CAIRN_EINVAL, "%s: '#' in an sftp URL", url);
    if (at) {
        sb->user = backend_url_decode(auth, (size_t)(at - auth), &oom);
        if (!sb->user || !sb->user[0])
            return oom ? err_set(CAIRN_ENOMEM, "sftp: out of memory")
                       : err_set(CAIRN_EINVAL, "%s: bad user name", url);
    }
    const char *const hs = at ? at + 1 : auth;
    rc = parse_host(sb, hs, (size_t)(auth + alen - hs));
    if (rc)
        return rc;
    const char *const path = auth + alen;
    const size_t plen = strcspn(path, "?");
    rc = parse_path(sb, path, plen);
    if (rc)
        return rc;
    if (path[plen] == '?') {
        rc = parse_query(sb, path + plen + 1);
        if (rc)
            return rc;
    }
    if (sb->key_file && access(sb->key_file, R_OK) != 0)
        return err_set(CAIRN_EINVAL, "%s: key file %s: %s", url, sb->key_file, strerror(errno));
    if (!sb->known_hosts) {
        char home[PATH_MAX];
        rc = home_dir(home, sizeof home);
        if (rc)
            return rc;
        sb->known_hosts = fs_join(home, ".ssh/known_hosts");
        if (!sb->known_hosts)
            return err_set(CAIRN_ENOMEM, "sftp: out of memory");
    }
    return CAIRN_OK;
}

static cairn_err parse_timeout(long *out)
{
    const char *const s = getenv("CAIRN_SFTP_TIMEOUT");
    char *end;
    *out = TIMEOUT_DEFAULT;
    if (!s || !*s)
        return CAIRN_OK;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > TIMEOUT_MAX)
        return err_set(CAIRN_EINVAL, "$CAIRN_SFTP_TIMEOUT: not a number of seconds in 1..%d",
                       TIMEOUT_MAX);
    *out = v;
    return CAIRN_OK;
}

/* ---- names and paths ---- */

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* An object name: relative, '/'-separated, no empty, "." or ".."
 * component, not in tmp/ and not a .part name. */
static int valid_name(const char *name)
{
    const char *p = name;
    if (!*name || strcmp(name, STORE_DIR_TMP) == 0 ||
        strncmp(name, STORE_DIR_TMP "/", sizeof STORE_DIR_TMP) == 0 || ends_with(name, ".part"))
        return 0;
    while (*p) {
        const size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                return 0;
        p += n;
        if (*p == '/' && *++p == '\0')
            return 0;
    }
    return 1;
}

static cairn_err check_name(sftp_backend *sb, const char *name)
{
    if (valid_name(name))
        return CAIRN_OK;
    return err_set(CAIRN_EINVAL, "%s: %s: not a valid object name", sb->head.url, name);
}

/* <root>/<rel> as a new string ("" rel: the root itself). */
static char *remote_path(const sftp_backend *sb, const char *rel)
{
    if (!sb->root[0])
        return strdup(rel[0] ? rel : ".");
    if (!rel[0])
        return strdup(sb->root);
    if (strcmp(sb->root, "/") == 0)
        return fs_join("", rel);
    return fs_join(sb->root, rel);
}

static cairn_err no_memory(void)
{
    return err_set(CAIRN_ENOMEM, "sftp: out of memory");
}

/* ---- connection ---- */

static void drop_session(sftp_backend *sb)
{
    const int alive = sb->ssh && !sb->lost && !connection_lost(sb);
    if (alive)
        wd_arm(sb); /* a server that stopped answering must not hang the goodbye */
    if (sb->sftp)
        sftp_free(sb->sftp);
    if (alive)
        ssh_disconnect(sb->ssh);
    wd_disarm(sb);
    if (sb->sock >= 0)
        close(sb->sock);
    if (sb->ssh)
        ssh_free(sb->ssh);
    sb->sftp = NULL;
    sb->ssh = NULL;
    sb->sock = -1;
    sb->lost = 0;
}

static cairn_err set_options(sftp_backend *sb)
{
    const long timeout = sb->wd.timeout;
    const int yes = 1, quiet = SSH_LOG_NOLOG;
    const bool no = false;
    const unsigned port = sb->port;
    if (ssh_options_set(sb->ssh, SSH_OPTIONS_HOST, sb->host) < 0 ||
        ssh_options_set(sb->ssh, SSH_OPTIONS_PORT, &port) < 0 ||
        (sb->user && ssh_options_set(sb->ssh, SSH_OPTIONS_USER, sb->user) < 0) ||
        ssh_options_set(sb->ssh, SSH_OPTIONS_KNOWNHOSTS, sb->known_hosts) < 0 ||
        /* only the one known_hosts file decides (see top) */
        ssh_options_set(sb->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") < 0 ||
        ssh_options_set(sb->ssh, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
        ssh_options_set(sb->ssh, SSH_OPTIONS_TIMEOUT, &timeout) < 0 ||
        ssh_options_set(sb->ssh, SSH_OPTIONS_NODELAY, &yes) < 0 ||
        ssh_options_set(sb->ssh, SSH_OPTIONS_LOG_VERBOSITY, &quiet) < 0)
        return err_set(CAIRN_EINVAL, "%s: %s", sb->head.url, ssh_get_error(sb->ssh));
    return CAIRN_OK;
}

/* "[host]:port" as known_hosts and ssh-keygen -R spell it. */
static void host_label(const sftp_backend *sb, char *out, size_t cap)
{
    if (sb->port == 22)
        snprintf(out, cap, "%s", sb->host);
    else
        snprintf(out, cap, "[%s]:%u", sb->host, sb->port);
}

static cairn_err check_host_key(sftp_backend *sb)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp = NULL;
    char label[300];
    const char *type = "?";
    cairn_err rc;
    const enum ssh_known_hosts_e state = ssh_session_is_known_server(sb->ssh);
    if (state == SSH_KNOWN_HOSTS_OK)
        return CAIRN_OK;
    host_label(sb, label, sizeof label);
    if (ssh_get_server_publickey(sb->ssh, &key) == SSH_OK) {
        type = ssh_key_type_to_char(ssh_key_type(key));
        if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0)
            fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    }
    const char *const shown = fp ? fp : "(fingerprint unavailable)";
    switch (state) {
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
        rc = err_set(CAIRN_EREMOTE,
                     "%s: the host key of %s is not the one in %s (the server shows %s %s): "
                     "someone may be intercepting the connection, or the server was reinstalled; "
                     "if its administrator confirms this fingerprint, remove the old key with "
                     "ssh-keygen -R '%s' -f %s and add the new one with ssh-keyscan",
                     sb->head.url, label, sb->known_hosts, type, shown, label, sb->known_hosts);
        break;
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
        rc = err_set(CAIRN_EREMOTE,
                     "%s: %s is not in %s (the server shows %s %s); check this fingerprint with "
                     "the server's administrator, then add the key: ssh-keyscan -p %u %s >> %s",
                     sb->head.url, label, sb->known_hosts, type, shown, sb->port, sb->host,
                     sb->known_hosts);
        break;
    default:
        rc = err_set(CAIRN_EREMOTE, "%s: cannot check the host key of %s against %s: %s",
                     sb->head.url, label, sb->known_hosts, ssh_get_error(sb->ssh));
    }
    ssh_string_free_char(fp);
    ssh_clean_pubkey_hash(&hash);
    ssh_key_free(key);
    return rc;
}

/* Passphrase callback: never prompts, only notes that a passphrase was needed. */
static int no_prompt(const char *prompt, char *buf, size_t len, int echo, int verify, void *ctx)
{
    (void)prompt;
    (void)buf;
    (void)len;
    (void)echo;
    (void)verify;
    *(int *)ctx = 1;
    return -1;
}

/* Appends a note on what authentication tried to the summary. */
static void note(char *sum, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(char *sum, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(sum);
    if (n + 3 >= cap)
        return;
    if (n) {
        memcpy(sum + n, "; ", 3);
        n += 2;
    }
    va_start(ap, fmt);
    vsnprintf(sum + n, cap - n, fmt, ap);
    va_end(ap);
}

/* Tries one key file; 1 if the server accepted it, 0 if not, -1 on a
 * session error. */
static int try_key(sftp_backend *sb, const char *path, char *sum, size_t cap)
{
    const char *const pass = getenv("CAIRN_SFTP_KEY_PASSPHRASE");
    ssh_key key = NULL;
    int asked = 0;
    if (ssh_pki_import_privkey_file(path, pass && *pass ? pass : NULL, no_prompt, &asked, &key) !=
        SSH_OK) {
        if (asked || (pass && *pass))
            note(sum, cap,
                 pass && *pass ? "key %s: cannot decrypt it with $CAIRN_SFTP_KEY_PASSPHRASE"
                               : "key %s needs a passphrase: set $CAIRN_SFTP_KEY_PASSPHRASE",
                 path);
        else
            note(sum, cap, "key %s: cannot read it", path);
        return 0;
    }
    wd_kick(sb);
    const int rc = ssh_userauth_publickey(sb->ssh, NULL, key);
    ssh_key_free(key);
    if (rc == SSH_AUTH_SUCCESS)
        return 1;
    if (rc == SSH_AUTH_ERROR)
        return -1;
    note(sum, cap,
         rc == SSH_AUTH_PARTIAL ? "key %s accepted, but more is required" : "key %s refused", path);
    return 0;
}

/* Keyboard-interactive with the password as the answer to every hidden prompt. */
static int try_kbdint(sftp_backend *sb, const char *password)
{
    for (int round = 0; round < 4; round++) {
        wd_kick(sb);
        const int rc = ssh_userauth_kbdint(sb->ssh, NULL, NULL);
        if (rc != SSH_AUTH_INFO)
            return rc;
        const int n = ssh_userauth_kbdint_getnprompts(sb->ssh);
        for (int i = 0; i < n; i++) {
            char echo = 0;
            if (!ssh_userauth_kbdint_getprompt(sb->ssh, (unsigned)i, &echo) || echo)
                return SSH_AUTH_DENIED; /* a question other than the password */
            if (ssh_userauth_kbdint_setanswer(sb->ssh, (unsigned)i, password) < 0)
                return SSH_AUTH_ERROR;
        }
    }
    return SSH_AUTH_DENIED;
}

static cairn_err authenticate(sftp_backend *sb)
{
    char sum[600] = "", home[PATH_MAX], *paths[2] = {NULL, NULL};
    cairn_err rc = CAIRN_OK;
    int r = ssh_userauth_none(sb->ssh, NULL);
    if (r == SSH_AUTH_SUCCESS)
        return CAIRN_OK;
    if (r == SSH_AUTH_ERROR)
        return sftp_fail(sb, "log in to", sb->host);
    const int methods = ssh_userauth_list(sb->ssh, NULL);
    if (sb->key_file) {
        paths[0] = strdup(sb->key_file);
        if (!paths[0])
            return no_memory();
    } else {
        rc = home_dir(home, sizeof home);
        if (rc)
            return rc;
        paths[0] = fs_join(home, ".ssh/id_ed25519");
        paths[1] = fs_join(home, ".ssh/id_rsa");
        if (!paths[0] || !paths[1]) {
            rc = no_memory();
            goto done;
        }
    }
    for (int i = 0; i < 2 && paths[i]; i++) {
        if (!sb->key_file && access(paths[i], F_OK) != 0)
            continue;
        if (!(methods & SSH_AUTH_METHOD_PUBLICKEY)) {
            note(sum, sizeof sum, "%s does not take keys", sb->host);
            break;
        }
        r = try_key(sb, paths[i], sum, sizeof sum);
        if (r != 0) {
            rc = r > 0 ? CAIRN_OK : sftp_fail(sb, "log in to", sb->host);
            goto done;
        }
    }
    if (!sum[0])
        note(sum, sizeof sum, "no key (%s)",
             sb->key_file ? sb->key_file : "~/.ssh/id_ed25519 and ~/.ssh/id_rsa do not exist");
    const char *const password = getenv("CAIRN_SFTP_PASSWORD");
    if (password && *password) {
        r = SSH_AUTH_DENIED;
        wd_kick(sb);
        if (methods & SSH_AUTH_METHOD_PASSWORD)
            r = ssh_userauth_password(sb->ssh, NULL, password);
        else if (methods & SSH_AUTH_METHOD_INTERACTIVE)
            r = try_kbdint(sb, password);
        if (r == SSH_AUTH_SUCCESS)
            goto done;
        if (r == SSH_AUTH_ERROR) {
            rc = sftp_fail(sb, "log in to", sb->host);
            goto done;
        }
        note(sum, sizeof sum, "%s", "the password of $CAIRN_SFTP_PASSWORD refused");
    } else {
        note(sum, sizeof sum, "%s", "$CAIRN_SFTP_PASSWORD unset");
    }
    rc = err_set(CAIRN_EREMOTE, "%s: the server refused the login (%s)", sb->head.url, sum);
done:
    free(paths[0]);
    free(paths[1]);
    return rc;
}

static void read_extensions(sftp_backend *sb)
{
    sb->can_fsync = sftp_extension_supported(sb->sftp, "fsync@openssh.com", "1") == 1;
    sb->can_statvfs = sftp_extension_supported(sb->sftp, "statvfs@openssh.com", "2") == 1;
    sb->piece =
        sftp_extension_supported(sb->sftp, "limits@openssh.com", "1") == 1 ? PIECE_MAX : PIECE_SAFE;
}

static cairn_err connect_session(sftp_backend *sb)
{
    cairn_err rc;
    char label[300];
    sb->ssh = ssh_new();
    if (!sb->ssh)
        return no_memory();
    rc = set_options(sb);
    if (rc)
        goto fail;
    host_label(sb, label, sizeof label);
    /* SSH_OPTIONS_TIMEOUT bounds this part */
    if (ssh_connect(sb->ssh) != SSH_OK) {
        rc = err_set(CAIRN_EREMOTE, "%s: cannot connect to %s: %s", sb->head.url, label,
                     ssh_get_error(sb->ssh));
        goto fail;
    }
    sb->sock = fcntl(ssh_get_fd(sb->ssh), F_DUPFD_CLOEXEC, 0);
    if (sb->sock < 0) {
        rc = err_errno(errno, "sftp: dup of the socket");
        goto fail;
    }
    wd_arm(sb);
    rc = check_host_key(sb);
    if (rc)
        goto fail;
    rc = authenticate(sb);
    if (rc)
        goto fail;
    wd_kick(sb);
    sb->sftp = sftp_new(sb->ssh);
    if (!sb->sftp) {
        rc = sftp_fail(sb, "start SFTP on", label);
        goto fail;
    }
    wd_kick(sb);
    if (sftp_init(sb->sftp) < 0) {
        rc = sftp_fail(sb, "start SFTP on", label);
        goto fail;
    }
    read_extensions(sb);
    wd_disarm(sb);
    return CAIRN_OK;
fail:
    /* not marked lost: run_op retries broken connections, not refusals */
    drop_session(sb);
    return rc;
}

static cairn_err ensure_connected(sftp_backend *sb)
{
    if (sb->ssh && !sb->lost)
        return CAIRN_OK;
    drop_session(sb);
    return connect_session(sb);
}

/* Runs op with the watchdog armed; once more on a fresh connection if the
 * connection broke (see top), unless *no_retry was set meanwhile. */
static cairn_err run_op(sftp_backend *sb, cairn_err (*op)(sftp_backend *, void *), void *arg,
                        const int *no_retry)
{
    char first[MSG_MAX];
    cairn_err rc;
    rc = ensure_connected(sb);
    if (rc)
        return rc;
    wd_arm(sb);
    rc = op(sb, arg);
    wd_disarm(sb);
    if (rc == CAIRN_OK || !sb->lost || (no_retry && *no_retry))
        return rc;
    snprintf(first, sizeof first, "%s", err_msg());
    rc = ensure_connected(sb);
    if (rc == CAIRN_OK) {
        wd_arm(sb);
        rc = op(sb, arg);
        wd_disarm(sb);
    }
    if (rc != CAIRN_OK) {
        char second[MSG_MAX];
        snprintf(second, sizeof second, "%s", err_msg());
        err_set(rc, "%s (tried again: %s)", first, second);
    }
    return rc;
}

/* ---- remote folders ---- */

static int is_dir(sftp_backend *sb, const char *path)
{
    sftp_attributes a = sftp_stat(sb->sftp, path);
    const int dir = a && a->type == SSH_FILEXFER_TYPE_DIRECTORY;
    sftp_attributes_free(a);
    return dir;
}

/* mkdir -p, trying the folder itself first: its parent usually exists. */
static cairn_err mkdirs(sftp_backend *sb, const char *dir)
{
    cairn_err rc;
    wd_kick(sb);
    if (sftp_mkdir(sb->sftp, dir, 0700) == 0)
        return CAIRN_OK;
    if (connection_lost(sb))
        return sftp_fail(sb, "create folder", dir);
    int status = sftp_get_error(sb->sftp);
    const char *const slash = strrchr(dir, '/');
    if ((status == SSH_FX_NO_SUCH_FILE || status == SSH_FX_NO_SUCH_PATH) && slash && slash > dir) {
        char *const parent = strndup(dir, (size_t)(slash - dir));
        if (!parent)
            return no_memory();
        rc = mkdirs(sb, parent);
        free(parent);
        if (rc)
            return rc;
        wd_kick(sb);
        if (sftp_mkdir(sb->sftp, dir, 0700) == 0)
            return CAIRN_OK;
        if (connection_lost(sb))
            return sftp_fail(sb, "create folder", dir);
        status = sftp_get_error(sb->sftp);
    }
    /* OpenSSH answers "failure" for a folder that exists already */
    if (is_dir(sb, dir))
        return CAIRN_OK;
    if (connection_lost(sb))
        return sftp_fail(sb, "create folder", dir);
    return err_set(CAIRN_EREMOTE, "%s: cannot create folder %s: %s", sb->head.url, dir,
                   status_name(status));
}

/* This machine's tag, which starts the name of every .part it writes
 * (<tag>-<random>.part): a copy holding the target's local lock knows that
 * no upload of this machine is running, so its own leftovers can go at once
 * (backend_clean_parts), whatever their age. */
static void host_tag(char out[2 * HOST_TAG + 1])
{
    char host[256] = "";
    uint8_t h[HOST_TAG];
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    crypto_generichash(h, sizeof h, (const uint8_t *)host, strlen(host), NULL, 0);
    fs_hex(h, sizeof h, out);
}

/* Removes the .part files of tmp/ nobody wrote to for PART_MAX_AGE (see
 * top), and with mine_too every one this machine wrote. */
static cairn_err clean_tmp_parts(sftp_backend *sb, int mine_too)
{
    char tag[2 * HOST_TAG + 2];
    host_tag(tag);
    strcat(tag, "-");
    cairn_err rc = CAIRN_OK;
    char *const tmp = remote_path(sb, STORE_DIR_TMP);
    if (!tmp)
        return no_memory();
    wd_kick(sb);
    sftp_dir dir = sftp_opendir(sb->sftp, tmp);
    if (!dir) {
        rc = sftp_fail(sb, "list", tmp);
        if (rc == CAIRN_ENOTFOUND)
            rc = mkdirs(sb, tmp);
        free(tmp);
        return rc;
    }
    const time_t now = time(NULL);
    sftp_attributes a;
    while ((a = sftp_readdir(sb->sftp, dir)) != NULL) {
        wd_kick(sb);
        const int mine = mine_too && strncmp(a->name, tag, strlen(tag)) == 0;
        if (a->type == SSH_FILEXFER_TYPE_REGULAR && ends_with(a->name, ".part") &&
            (mine ||
             ((a->flags & SSH_FILEXFER_ATTR_ACMODTIME) && (time_t)a->mtime + PART_MAX_AGE < now))) {
            char *const path = fs_join(tmp, a->name);
            if (!path) {
                sftp_attributes_free(a);
                rc = no_memory();
                break;
            }
            /* another cleaner may have been first; only a dead link matters */
            if (sftp_unlink(sb->sftp, path) != 0 && connection_lost(sb))
                rc = sftp_fail(sb, "remove", path);
            free(path);
        }
        sftp_attributes_free(a);
        if (rc)
            break;
    }
    if (!rc && !sftp_dir_eof(dir))
        rc = sftp_fail(sb, "list", tmp);
    sftp_closedir(dir);
    free(tmp);
    return rc;
}

static cairn_err clean_tmp(sftp_backend *sb)
{
    return clean_tmp_parts(sb, 0);
}

static cairn_err clean_mine_op(sftp_backend *sb, void *arg)
{
    (void)arg;
    return clean_tmp_parts(sb, 1);
}

static cairn_err sftp_clean_parts(backend *b)
{
    return run_op((sftp_backend *)b, clean_mine_op, NULL, NULL);
}

/* ---- reads ---- */

typedef cairn_err (*sink_fn)(void *ctx, const uint8_t *p, size_t n);

typedef struct pending {
    int id;
    uint32_t len;
} pending;

/* Collects the answers to requests still in flight, so that none arrives
 * later for a request nobody waits for. */
static void drain(sftp_backend *sb, sftp_file f, const pending *q, unsigned head, unsigned count)
{
    for (; count > 0 && !connection_lost(sb); count--, head = (head + 1) % READ_DEPTH) {
        wd_kick(sb);
        sftp_async_read(f, sb->buf, q[head].len, (uint32_t)q[head].id);
    }
}

/* Reads size bytes of f from start (where f is positioned) in order,
 * READ_DEPTH requests in flight, and hands them to sink. */
static cairn_err read_all(sftp_backend *sb, sftp_file f, uint64_t start, uint64_t size,
                          const char *what, sink_fn sink, void *ctx)
{
    pending q[READ_DEPTH];
    unsigned head = 0, count = 0;
    uint64_t done = 0, asked = 0;
    uint32_t piece = sb->piece;
    cairn_err rc;
    while (done < size) {
        while (count < READ_DEPTH && asked < size) {
            const uint32_t len = size - asked < piece ? (uint32_t)(size - asked) : piece;
            const int id = sftp_async_read_begin(f, len);
            if (id < 0) {
                rc = sftp_fail(sb, "read", what);
                goto fail;
            }
            q[(head + count) % READ_DEPTH] = (pending){id, len};
            count++;
            asked += len;
        }
        const pending p = q[head];
        head = (head + 1) % READ_DEPTH;
        count--;
        const int n = sftp_async_read(f, sb->buf, p.len, (uint32_t)p.id);
        if (n < 0) {
            rc = sftp_fail(sb, "read", what);
            goto fail;
        }
        if (n == 0) {
            rc = err_set(CAIRN_EREMOTE, "%s: read %s: it ends after %llu of %llu bytes",
                         sb->head.url, what, (unsigned long long)done, (unsigned long long)size);
            goto fail;
        }
        wd_kick(sb);
        rc = sink(ctx, sb->buf, (size_t)n);
        if (rc)
            goto fail;
        done += (uint64_t)n;
        if ((uint32_t)n < p.len) {
            /* the server caps reads below our piece: continue from where it
             * stopped, in pieces of the size it gives */
            drain(sb, f, q, head, count);
            count = 0;
            if (connection_lost(sb)) {
                rc = sftp_fail(sb, "read", what);
                goto fail;
            }
            if (sftp_seek64(f, start + done) < 0) {
                rc = sftp_fail(sb, "seek", what);
                goto fail;
            }
            asked = done;
            piece = (uint32_t)n;
        }
    }
    return CAIRN_OK;
fail:
    drain(sb, f, q, head, count);
    return rc;
}

static cairn_err hash_sink(void *ctx, const uint8_t *p, size_t n)
{
    crypto_generichash_update(ctx, p, n);
    return CAIRN_OK;
}

/* ---- put_file ---- */

/* A local file's error: never CAIRN_ENOTFOUND, which means a missing object. */
static cairn_err local_fail(int errnum, const char *path)
{
    const cairn_err rc = err_errno(errnum, path);
    return rc == CAIRN_ENOTFOUND ? CAIRN_EIO : rc;
}

typedef struct put_arg {
    const char *name;
    const char *local;
    char *tmp; /* the .part of the last attempt, removed by the next */
} put_arg;

/* Sends the local file to f, hashing it; *len gets the bytes sent. */
static cairn_err upload(sftp_backend *sb, int fd, const char *local, uint64_t expect, sftp_file f,
                        const char *name, crypto_generichash_state *h, uint64_t *len)
{
    uint64_t sent = 0;
    for (;;) {
        const ssize_t n = read(fd, sb->buf, sb->piece);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return local_fail(errno, local);
        }
        if (n == 0)
            break;
        crypto_generichash_update(h, sb->buf, (size_t)n);
        wd_kick(sb);
        if (sftp_write(f, sb->buf, (size_t)n) != n)
            return write_fail(sb, "put", name, expect > sent ? expect - sent : 0);
        sent += (uint64_t)n;
        sb->head.bytes_sent += (uint64_t)n;
    }
    *len = sent;
    return CAIRN_OK;
}

/* Reads tmp back and compares it with what was sent. */
static cairn_err verify(sftp_backend *sb, const char *tmp, const char *name, uint64_t len,
                        const uint8_t *want)
{
    crypto_generichash_state h;
    uint8_t got[HASH_LEN];
    cairn_err rc;
    wd_kick(sb);
    sftp_file f = sftp_open(sb->sftp, tmp, O_RDONLY, 0);
    if (!f)
        return sftp_fail(sb, "read back", tmp);
    sftp_attributes a = sftp_fstat(f);
    if (!a) {
        rc = sftp_fail(sb, "read back", tmp);
        goto out;
    }
    const uint64_t size = a->size;
    sftp_attributes_free(a);
    if (size != len) {
        rc = err_set(CAIRN_EREMOTE, "%s: put %s: the server holds %llu bytes after %llu were sent",
                     sb->head.url, name, (unsigned long long)size, (unsigned long long)len);
        goto out;
    }
    crypto_generichash_init(&h, NULL, 0, sizeof got);
    rc = read_all(sb, f, 0, len, tmp, hash_sink, &h);
    if (rc)
        goto out;
    crypto_generichash_final(&h, got, sizeof got);
    if (sodium_memcmp(got, want, sizeof got) != 0)
        rc = err_set(CAIRN_EREMOTE, "%s: put %s: the bytes read back differ from the bytes sent",
                     sb->head.url, name);
out:
    /* closing a read handle cannot lose data; the verdict is in */
    sftp_close(f);
    return rc;
}

/* Moves tmp to final, creating the object's folder if needed; an existing
 * object of the same size stays (see top). */
static cairn_err publish(sftp_backend *sb, const char *tmp, const char *final, const char *name,
                         uint64_t len)
{
    cairn_err rc;
    wd_kick(sb);
    if (sftp_rename(sb->sftp, tmp, final) == 0)
        return CAIRN_OK;
    if (connection_lost(sb))
        return sftp_fail(sb, "put", name);
    int status = sftp_get_error(sb->sftp);
    if (status == SSH_FX_NO_SUCH_FILE || status == SSH_FX_NO_SUCH_PATH) {
        const char *const slash = strrchr(final, '/');
        if (slash && slash > final) {
            char *const parent = strndup(final, (size_t)(slash - final));
            if (!parent)
                return no_memory();
            rc = mkdirs(sb, parent);
            free(parent);
            if (rc)
                return rc;
        }
        wd_kick(sb);
        if (sftp_rename(sb->sftp, tmp, final) == 0)
            return CAIRN_OK;
        if (connection_lost(sb))
            return sftp_fail(sb, "put", name);
        status = sftp_get_error(sb->sftp);
    }
    wd_kick(sb);
    sftp_attributes a = sftp_lstat(sb->sftp, final);
    if (!a) {
        if (connection_lost(sb))
            return sftp_fail(sb, "put", name);
        return err_set(CAIRN_EREMOTE, "%s: put %s: cannot rename %s to it: %s", sb->head.url, name,
                       tmp, status_name(status));
    }
    const int regular = a->type == SSH_FILEXFER_TYPE_REGULAR;
    const uint64_t have = a->size;
    sftp_attributes_free(a);
    if (!regular)
        return err_set(CAIRN_EREMOTE, "%s: put %s: something other than a file has that name",
                       sb->head.url, name);
    if (have == len) {
        wd_kick(sb);
        if (sftp_unlink(sb->sftp, tmp) != 0 && connection_lost(sb))
            return sftp_fail(sb, "put", name);
        return CAIRN_OK;
    }
    /* not a copy of these bytes: replace it */
    wd_kick(sb);
    if (sftp_unlink(sb->sftp, final) != 0 || sftp_rename(sb->sftp, tmp, final) != 0)
        return sftp_fail(sb, "put", name);
    return CAIRN_OK;
}

static cairn_err put_tmp_name(sftp_backend *sb, put_arg *pa)
{
    uint8_t rnd[TMP_RANDOM];
    char hex[2 * TMP_RANDOM + 1], tag[2 * HOST_TAG + 1], rel[2 * TMP_RANDOM + 2 * HOST_TAG + 16];
    randombytes_buf(rnd, sizeof rnd);
    fs_hex(rnd, sizeof rnd, hex);
    host_tag(tag);
    snprintf(rel, sizeof rel, STORE_DIR_TMP "/%s-%s.part", tag, hex);
    pa->tmp = remote_path(sb, rel);
    return pa->tmp ? CAIRN_OK : no_memory();
}

static sftp_file open_tmp(sftp_backend *sb, const char *tmp)
{
    wd_kick(sb);
    return sftp_open(sb->sftp, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
}

static cairn_err put_op(sftp_backend *sb, void *arg)
{
    put_arg *const pa = arg;
    crypto_generichash_state h;
    uint8_t sum[HASH_LEN];
    struct stat st;
    uint64_t len = 0;
    sftp_file f = NULL;
    char *final = NULL;
    cairn_err rc;
    if (pa->tmp) {
        /* left by an attempt whose connection broke; if this fails too,
         * the .part is old at some later open and goes then */
        wd_kick(sb);
        sftp_unlink(sb->sftp, pa->tmp);
        free(pa->tmp);
        pa->tmp = NULL;
    }
    const int fd = open(pa->local, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return local_fail(errno, pa->local);
    if (fstat(fd, &st) != 0) {
        rc = local_fail(errno, pa->local);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(CAIRN_EINVAL, "%s: not a regular file", pa->local);
        goto out;
    }
    final = remote_path(sb, pa->name);
    if (!final) {
        rc = no_memory();
        goto out;
    }
    rc = put_tmp_name(sb, pa);
    if (rc)
        goto out;
    f = open_tmp(sb, pa->tmp);
    if (!f && !connection_lost(sb) && sftp_get_error(sb->sftp) == SSH_FX_NO_SUCH_FILE) {
        /* someone removed tmp/ (or the root) since we opened */
        char *const tmpdir = remote_path(sb, STORE_DIR_TMP);
        rc = tmpdir ? mkdirs(sb, tmpdir) : no_memory();
        free(tmpdir);
        if (rc)
            goto out;
        f = open_tmp(sb, pa->tmp);
    }
    if (!f) {
        rc = sftp_fail(sb, "put", pa->name);
        goto out;
    }
    crypto_generichash_init(&h, NULL, 0, sizeof sum);
    rc = upload(sb, fd, pa->local, (uint64_t)st.st_size, f, pa->name, &h, &len);
    if (rc)
        goto out;
    if (len != (uint64_t)st.st_size) {
        rc = err_set(CAIRN_EIO, "%s: changed size during the upload", pa->local);
        goto out;
    }
    crypto_generichash_final(&h, sum, sizeof sum);
    wd_kick(sb);
    if (sb->can_fsync && sftp_fsync(f) != 0) {
        rc = write_fail(sb, "put", pa->name, 0);
        goto out;
    }
    wd_kick(sb);
    const int closed = sftp_close(f);
    f = NULL;
    if (closed != 0) {
        /* close reports delayed write errors (NFS, quota) */
        rc = write_fail(sb, "put", pa->name, 0);
        goto out;
    }
    rc = verify(sb, pa->tmp, pa->name, len, sum);
    if (rc)
        goto out;
    rc = publish(sb, pa->tmp, final, pa->name, len);
    if (rc == CAIRN_OK) {
        free(pa->tmp);
        pa->tmp = NULL;
    }
out:
    if (f)
        sftp_close(f); /* already failed; the .part goes below */
    if (rc && pa->tmp && !connection_lost(sb)) {
        wd_kick(sb);
        sftp_unlink(sb->sftp, pa->tmp);
        free(pa->tmp);
        pa->tmp = NULL;
    }
    free(final);
    close(fd);
    return rc;
}

static cairn_err sftp_put_file(backend *b, const char *name, const char *local_path)
{
    sftp_backend *const sb = (sftp_backend *)b;
    put_arg pa = {name, local_path, NULL};
    cairn_err rc = check_name(sb, name);
    if (rc)
        return rc;
    rc = run_op(sb, put_op, &pa, NULL);
    free(pa.tmp); /* a .part on a dead connection: the next open removes it */
    return rc;
}

/* ---- get_file ---- */

typedef struct get_arg {
    const char *name;
    const char *local;
} get_arg;

typedef struct get_sink {
    sftp_backend *sb;
    int fd;
    const char *local;
} get_sink;

static cairn_err file_sink(void *ctx, const uint8_t *p, size_t n)
{
    get_sink *const gs = ctx;
    const cairn_err rc = fs_write_all(gs->fd, p, n, gs->local);
    if (rc == CAIRN_OK)
        gs->sb->head.bytes_received += n;
    return rc;
}

static cairn_err get_op(sftp_backend *sb, void *arg)
{
    const get_arg *const ga = arg;
    get_sink gs = {sb, -1, ga->local};
    cairn_err rc;
    char *const path = remote_path(sb, ga->name);
    if (!path)
        return no_memory();
    sftp_file f = sftp_open(sb->sftp, path, O_RDONLY, 0);
    free(path);
    if (!f)
        return sftp_fail(sb, "get", ga->name);
    sftp_attributes a = sftp_fstat(f);
    if (!a) {
        rc = sftp_fail(sb, "get", ga->name);
        goto out;
    }
    const uint64_t size = a->size;
    const int regular = a->type == SSH_FILEXFER_TYPE_REGULAR;
    sftp_attributes_free(a);
    if (!regular) {
        rc = err_set(CAIRN_EREMOTE, "%s: get %s: not a file", sb->head.url, ga->name);
        goto out;
    }
    gs.fd = open(ga->local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (gs.fd < 0) {
        rc = local_fail(errno, ga->local);
        goto out;
    }
    rc = read_all(sb, f, 0, size, ga->name, file_sink, &gs);
    if (rc)
        goto out;
    if (fsync(gs.fd) != 0)
        rc = err_errno(errno, ga->local);
out:
    if (gs.fd >= 0 && close(gs.fd) != 0 && rc == CAIRN_OK)
        rc = err_errno(errno, ga->local);
    /* closing a read handle cannot lose data */
    sftp_close(f);
    return rc;
}

static cairn_err sftp_get_file(backend *b, const char *name, const char *local_path)
{
    sftp_backend *const sb = (sftp_backend *)b;
    get_arg ga = {name, local_path};
    const cairn_err rc = check_name(sb, name);
    return rc ? rc : run_op(sb, get_op, &ga, NULL);
}

/* ---- get_range ---- */

typedef struct range_arg {
    const char *name;
    uint64_t offset;
    size_t len;
    uint8_t *buf;
    size_t got;
} range_arg;

static cairn_err mem_sink(void *ctx, const uint8_t *p, size_t n)
{
    range_arg *const ra = ctx;
    if (n > ra->len - ra->got)
        n = ra->len - ra->got; /* never more than asked */
    memcpy(ra->buf + ra->got, p, n);
    ra->got += n;
    return CAIRN_OK;
}

static cairn_err range_op(sftp_backend *sb, void *arg)
{
    range_arg *const ra = arg;
    cairn_err rc = CAIRN_OK;
    char *const path = remote_path(sb, ra->name);
    if (!path)
        return no_memory();
    sftp_file f = sftp_open(sb->sftp, path, O_RDONLY, 0);
    free(path);
    if (!f)
        return sftp_fail(sb, "get", ra->name);
    ra->got = 0;
    if (sftp_seek64(f, ra->offset) < 0)
        rc = sftp_fail(sb, "seek", ra->name);
    if (!rc)
        rc = read_all(sb, f, ra->offset, ra->len, ra->name, mem_sink, ra);
    if (!rc)
        sb->head.bytes_received += ra->got;
    sftp_close(f);
    return rc;
}

static cairn_err sftp_get_range(backend *b, const char *name, uint64_t offset, size_t len,
                                uint8_t *buf)
{
    sftp_backend *const sb = (sftp_backend *)b;
    range_arg ra = {name, offset, len, buf, 0};
    const cairn_err rc = check_name(sb, name);
    return rc ? rc : run_op(sb, range_op, &ra, NULL);
}

/* ---- stat, remove ---- */

typedef struct stat_arg {
    const char *name;
    uint64_t size;
} stat_arg;

static cairn_err stat_op(sftp_backend *sb, void *arg)
{
    stat_arg *const sa = arg;
    char *const path = remote_path(sb, sa->name);
    if (!path)
        return no_memory();
    sftp_attributes a = sftp_stat(sb->sftp, path);
    free(path);
    if (!a)
        return sftp_fail(sb, "stat", sa->name);
    const int regular = a->type == SSH_FILEXFER_TYPE_REGULAR;
    sa->size = a->size;
    sftp_attributes_free(a);
    if (!regular)
        return err_set(CAIRN_EREMOTE, "%s: stat %s: not a file", sb->head.url, sa->name);
    return CAIRN_OK;
}

static cairn_err sftp_stat_obj(backend *b, const char *name, uint64_t *size)
{
    sftp_backend *const sb = (sftp_backend *)b;
    stat_arg sa = {name, 0};
    cairn_err rc = check_name(sb, name);
    if (rc)
        return rc;
    rc = run_op(sb, stat_op, &sa, NULL);
    if (rc == CAIRN_OK)
        *size = sa.size;
    return rc;
}

static cairn_err remove_op(sftp_backend *sb, void *arg)
{
    const char *const name = arg;
    char *const path = remote_path(sb, name);
    if (!path)
        return no_memory();
    const int r = sftp_unlink(sb->sftp, path);
    free(path);
    if (r == 0)
        return CAIRN_OK;
    const cairn_err rc = sftp_fail(sb, "remove", name);
    return rc == CAIRN_ENOTFOUND ? CAIRN_OK : rc;
}

static cairn_err sftp_remove_obj(backend *b, const char *name)
{
    sftp_backend *const sb = (sftp_backend *)b;
    const cairn_err rc = check_name(sb, name);
    return rc ? rc : run_op(sb, remove_op, (void *)name, NULL);
}

/* ---- list ---- */

typedef struct list_arg {
    const char *prefix;
    backend_list_fn fn;
    void *ctx;
    int delivered; /* the caller saw entries: the listing cannot be repeated */
} list_arg;

/* One of a and b starts with the other: the folder can hold matches. */
static int may_match(const char *dir_rel, const char *prefix)
{
    const size_t a = strlen(dir_rel), b = strlen(prefix);
    return strncmp(dir_rel, prefix, a < b ? a : b) == 0;
}

static cairn_err walk(sftp_backend *sb, list_arg *la, const char *rel, int depth);

/* One entry of a listed folder (name relative to the root, with room for
 * one more byte): folders are walked, files reported. */
static cairn_err visit(sftp_backend *sb, list_arg *la, char *name, int type, uint64_t size,
                       int depth)
{
    cairn_err rc;
    if (type == SSH_FILEXFER_TYPE_SYMLINK) {
        /* a folder moved to another disk: follow it */
        char *const target = remote_path(sb, name);
        if (!target)
            return no_memory();
        sftp_attributes t = sftp_stat(sb->sftp, target);
        free(target);
        if (!t)
            return connection_lost(sb) ? sftp_fail(sb, "list", name) : CAIRN_OK;
        type = t->type;
        size = t->size;
        sftp_attributes_free(t);
    }
    if (type == SSH_FILEXFER_TYPE_DIRECTORY) {
        strcat(name, "/");
        return may_match(name, la->prefix) ? walk(sb, la, name, depth + 1) : CAIRN_OK;
    }
    if (type != SSH_FILEXFER_TYPE_REGULAR || strncmp(name, la->prefix, strlen(la->prefix)) != 0)
        return CAIRN_OK;
    la->delivered = 1;
    /* the caller's time is not the server's */
    wd_disarm(sb);
    rc = la->fn(la->ctx, name, size);
    wd_arm(sb);
    return rc;
}

/* Lists the folder rel ("" or "packs/ab/": relative to the root, with a
 * trailing '/'). */
static cairn_err walk(sftp_backend *sb, list_arg *la, const char *rel, int depth)
{
    cairn_err rc = CAIRN_OK;
    const size_t rlen = strlen(rel);
    if (depth > LIST_DEPTH_MAX)
        return err_set(CAIRN_EREMOTE, "%s: list %s: folders nested too deep (a symlink loop?)",
                       sb->head.url, rel);
    char *const dirrel = strndup(rel, rlen ? rlen - 1 : 0);
    char *const path = dirrel ? remote_path(sb, dirrel) : NULL;
    free(dirrel);
    if (!path)
        return no_memory();
    wd_kick(sb);
    sftp_dir dir = sftp_opendir(sb->sftp, path);
    free(path);
    if (!dir) {
        rc = sftp_fail(sb, "list", rel[0] ? rel : "/");
        /* nothing there yet (a target without snapshots/) */
        return rc == CAIRN_ENOTFOUND ? CAIRN_OK : rc;
    }
    sftp_attributes a;
    while (!rc && (a = sftp_readdir(sb->sftp, dir)) != NULL) {
        wd_kick(sb);
        const size_t nlen = strlen(a->name);
        char *const name = malloc(rlen + nlen + 2);
        if (!name) {
            sftp_attributes_free(a);
            rc = no_memory();
            break;
        }
        memcpy(name, rel, rlen);
        memcpy(name + rlen, a->name, nlen + 1);
        const int skip = strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0 ||
                         strcmp(name, STORE_DIR_TMP) == 0 || ends_with(name, ".part");
        if (!skip)
            rc = visit(sb, la, name, a->type, a->size, depth);
        sftp_attributes_free(a);
        free(name);
    }
    if (!rc && !sftp_dir_eof(dir))
        rc = sftp_fail(sb, "list", rel[0] ? rel : "/");
    sftp_closedir(dir);
    return rc;
}

static cairn_err list_op(sftp_backend *sb, void *arg)
{
    list_arg *const la = arg;
    const char *const slash = strrchr(la->prefix, '/');
    char *const rel = strndup(la->prefix, slash ? (size_t)(slash - la->prefix) + 1 : 0);
    if (!rel)
        return no_memory();
    const cairn_err rc = walk(sb, la, rel, 0);
    free(rel);
    return rc;
}

static cairn_err sftp_list(backend *b, const char *prefix, backend_list_fn fn, void *ctx)
{
    sftp_backend *const sb = (sftp_backend *)b;
    list_arg la = {prefix, fn, ctx, 0};
    if (prefix[0] == '/' || strstr(prefix, "..") || strstr(prefix, "//"))
        return err_set(CAIRN_EINVAL, "%s: %s: not a valid prefix", sb->head.url, prefix);
    return run_op(sb, list_op, &la, &la.delivered);
}

/* ---- open, close ---- */

static void sftp_backend_free(sftp_backend *sb)
{
    if (sb->wd_started) {
        drop_session(sb);
        wd_stop(&sb->wd);
    }
    free(sb->head.url);
    free(sb->host);
    free(sb->user);
    free(sb->root);
    free(sb->key_file);
    free(sb->known_hosts);
    free(sb->buf);
    free(sb);
}

static void sftp_close_backend(backend *b)
{
    sftp_backend_free((sftp_backend *)b);
}

static const backend_ops sftp_ops = {
    .list = sftp_list,
    .stat = sftp_stat_obj,
    .put_file = sftp_put_file,
    .get_file = sftp_get_file,
    .get_range = sftp_get_range,
    .clean_parts = sftp_clean_parts,
    .remove = sftp_remove_obj,
    .close = sftp_close_backend,
};

static cairn_err prepare_root(sftp_backend *sb, void *arg)
{
    (void)arg;
    char *const tmp = remote_path(sb, STORE_DIR_TMP);
    if (!tmp)
        return no_memory();
    cairn_err rc = sb->root[0] ? mkdirs(sb, sb->root) : CAIRN_OK;
    if (rc == CAIRN_OK)
        rc = mkdirs(sb, tmp);
    free(tmp);
    return rc ? rc : clean_tmp(sb);
}

cairn_err backend_sftp_open(const char *url, backend **out)
{
    long timeout;
    cairn_err rc;
    *out = NULL;
    if (sodium_init() < 0)
        return err_set(CAIRN_ENOMEM, "sftp: libsodium does not initialize");
    rc = parse_timeout(&timeout);
    if (rc)
        return rc;
    sftp_backend *const sb = calloc(1, sizeof *sb);
    if (!sb)
        return no_memory();
    sb->head.ops = &sftp_ops;
    sb->sock = -1;
    sb->piece = PIECE_SAFE;
    sb->buf = malloc(PIECE_MAX);
    /* a URL with a password never gets here whole: parse_url refuses it
     * before anything keeps it */
    /* messages name the target without the options: short, and the key
     * file is named where it matters */
    if (!sb->buf || !(sb->head.url = strndup(url, strcspn(url, "?#")))) {
        rc = no_memory();
        goto fail;
    }
    rc = parse_url(sb, url);
    if (rc) {
        /* the URL copy may hold a password: wipe it */
        sodium_memzero(sb->head.url, strlen(sb->head.url));
        goto fail;
    }
    rc = wd_start(&sb->wd, timeout);
    if (rc)
        goto fail;
    sb->wd_started = 1;
    rc = run_op(sb, prepare_root, NULL, NULL);
    if (rc)
        goto fail;
    *out = &sb->head;
    return CAIRN_OK;
fail:
    sftp_backend_free(sb);
    return rc;
}

static const backend_module_ops sftp_module_ops = {backend_sftp_open};
CAIRN_MODULE_DEFINE(backend_sftp_module, "sftp", &sftp_module_ops);
