/* alarm_sink.c - parsing a sink's spec, the dispatch of a send, and the
 * command sink (the network and desktop sinks are alarm_net.c and
 * alarm_dbus.c): the module cairn-alarm.so, reached through alarm_load.c.
 *
 * Specs are parsed with libcurl's URL parser (no network, no file), so an
 * SMTP or webhook URL means here what it means to the transfer later. */
#include "engine/service/alarm_sink_private.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

extern char **environ;

/* a send that hangs must not hold a daemon's queue for long */
enum { NET_TIMEOUT_MS = 30000, COMMAND_TIMEOUT_MS = 60000, SPEC_MAX = 4096, RCPT_MAX = 32 };

void alarm_time_iso(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    const time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "%lld", (long long)t);
}

static const char *type_word(const alarm_sink *s)
{
    static const char *const names[] = {"dbus", "smtp", "webhook", "command"};
    return names[s->type];
}

static void set_timeout(alarm_sink *s, unsigned seconds)
{
    assert(seconds > 0);
    s->timeout_ms = seconds > 86400 ? 86400000u : seconds * 1000u;
}

static void free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void sink_free(alarm_sink *s)
{
    if (!s)
        return;
    free(s->shown);
    free(s->url);
    free(s->from);
    free_list(s->to, s->nto);
    free(s->user);
    free(s->password_file);
    free(s->ca_file);
    if (s->argv) {
        size_t n = 0;
        while (s->argv[n])
            n++;
        free_list(s->argv, n);
    }
    free(s);
}

static char *dup_text(const char *s, size_t n)
{
    char *const d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- URLs (smtp, webhook) ---- */

/* Whether s has no space, no control character and no DEL. */
static int one_word(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

/* The part of a URL an error may show: scheme://host:port (no user, no
 * path or query, which may carry a token). */
static cairn_err url_shown(CURLU *u, const char *prefix, char **out)
{
    char *scheme = NULL, *host = NULL, *port = NULL;
    cairn_err rc = CAIRN_ENOMEM;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto fail;
    cbuf b;
    cbuf_init(&b);
    cbuf_printf(&b, "%s%s://%s:%s", prefix, scheme, host, port);
    *out = cbuf_take_text(&b);
    rc = *out ? CAIRN_OK : CAIRN_ENOMEM;
fail:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return rc == CAIRN_ENOMEM ? err_set(rc, "out of memory for an alarm sink") : rc;
}

/* Parses url (scheme one of allowed, a host, no password) into *u. */
static cairn_err url_parse(const char *what, const char *url, const char *const *allowed, CURLU **u)
{
    char *scheme = NULL, *password = NULL, *host = NULL;
    cairn_err rc = CAIRN_OK;
    *u = curl_url();
    if (!*u)
        return err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
    const CURLUcode uc = curl_url_set(*u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        rc = err_set(CAIRN_EINVAL, "alarm sink %s: not a URL (%s)", what, curl_url_strerror(uc));
        goto fail;
    }
    /* first: no later message may repeat a URL holding a password */
    if (curl_url_get(*u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
        rc = err_set(CAIRN_EINVAL, "alarm sink %s: a password does not belong in the URL%s", what,
                     !strcmp(what, "smtp") ? " (use password-file=FILE)" : "");
        goto fail;
    }
    if (curl_url_get(*u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(*u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        rc = err_set(CAIRN_EINVAL, "alarm sink %s: the URL names no host", what);
        goto fail;
    }
    /* libcurl percent-decodes the host ("h%7Fx"); every later message shows
     * it, and a message is one line of a log */
    if (!one_word(host)) {
        rc = err_set(CAIRN_EINVAL, "alarm sink %s: the host name has a space or control character",
                     what);
        goto fail;
    }
    rc = CAIRN_EINVAL;
    for (const char *const *a = allowed; *a; a++)
        if (!strcmp(scheme, *a))
            rc = CAIRN_OK;
    if (rc)
        err_set(rc, "alarm sink %s: scheme %s:// is not one of %s:// or %s://", what, scheme,
                allowed[0], allowed[1]);
fail:
    curl_free(scheme);
    curl_free(password);
    curl_free(host);
    if (rc) {
        curl_url_cleanup(*u);
        *u = NULL;
    }
    return rc;
}

/* An address for MAIL FROM / RCPT TO: nothing that could end the command
 * or add a header. */
static int address_ok(const char *a)
{
    return *a && one_word(a) && !strpbrk(a, "<>,\"");
}

/* One key=value of an smtp URL's query (value percent-decoded). */
static cairn_err smtp_param(alarm_sink *s, const char *key, size_t keylen, char *value)
{
    char **slot = NULL;
    if (keylen == 4 && !memcmp(key, "from", 4))
        slot = &s->from;
    else if (keylen == 4 && !memcmp(key, "user", 4))
        slot = &s->user;
    else if (keylen == 13 && !memcmp(key, "password-file", 13))
        slot = &s->password_file;
    else if (keylen == 7 && !memcmp(key, "ca-file", 7))
        slot = &s->ca_file;
    else if (keylen == 2 && !memcmp(key, "to", 2)) {
        if (s->nto == RCPT_MAX) {
            free(value);
            return err_set(CAIRN_EINVAL, "alarm sink %s: more than %d recipients", s->shown,
                           RCPT_MAX);
        }
        if (!address_ok(value)) {
            free(value);
            return err_set(CAIRN_EINVAL, "alarm sink %s: to= is not an e-mail address", s->shown);
        }
        if (!s->to && !(s->to = calloc(RCPT_MAX, sizeof *s->to))) {
            free(value);
            return err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
        }
        s->to[s->nto++] = value;
        return CAIRN_OK;
    } else {
        free(value);
        return err_set(
            CAIRN_EINVAL,
            "alarm sink %s: unknown parameter '%.*s' (from, to, user, password-file, ca-file)",
            s->shown, (int)(keylen > 40 ? 40 : keylen), key);
    }
    if (*slot) {
        free(value);
        return err_set(CAIRN_EINVAL, "alarm sink %s: %.*s= given twice", s->shown, (int)keylen,
                       key);
    }
    if (!*value || (slot == &s->from && !address_ok(value))) {
        free(value);
        return err_set(CAIRN_EINVAL, "alarm sink %s: %.*s= is empty or not an address", s->shown,
                       (int)keylen, key);
    }
    *slot = value;
    return CAIRN_OK;
}

static cairn_err parse_smtp(const char *spec, alarm_sink *s)
{
    static const char *const schemes[] = {"smtp", "smtps", NULL};
    CURLU *u = NULL;
    char *query = NULL, *path = NULL, *user = NULL;
    cairn_err rc = url_parse("smtp", spec, schemes, &u);
    if (rc)
        return rc;
    rc = url_shown(u, "", &s->shown);
    if (rc)
        goto fail;
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") != 0) {
        rc = err_set(CAIRN_EINVAL,
                     "alarm sink %s: an smtp URL has no path (from= and to= go "
                     "after '?')",
                     s->shown);
        goto fail;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK) {
        rc = err_set(CAIRN_EINVAL, "alarm sink %s: no ?from=ADDRESS&to=ADDRESS", s->shown);
        goto fail;
    }
    for (const char *p = query; *p;) {
        const size_t n = strcspn(p, "&");
        const char *const eq = memchr(p, '=', n);
        if (n) {
            if (!eq) {
                rc = err_set(CAIRN_EINVAL, "alarm sink %s: parameter '%.*s' has no '='", s->shown,
                             (int)(n > 40 ? 40 : n), p);
                goto fail;
            }
            /* a length of 0 would make libcurl decode up to the NUL */
            const int inlen = (int)(p + n - eq - 1);
            int len = 0;
            char *const raw = inlen ? curl_easy_unescape(NULL, eq + 1, inlen, &len) : NULL;
            char *const value = dup_text(raw ? raw : "", (size_t)len);
            curl_free(raw);
            if (!value || (inlen && !raw) || strlen(value) != (size_t)len) {
                free(value);
                rc = err_set(CAIRN_EINVAL, "alarm sink %s: a parameter's value does not decode",
                             s->shown);
                goto fail;
            }
            rc = smtp_param(s, p, (size_t)(eq - p), value);
            if (rc)
                goto fail;
        }
        p += n + (p[n] == '&');
    }
    if (!s->from || !s->nto) {
        rc = err_set(CAIRN_EINVAL, "alarm sink %s: from= and to= are both needed", s->shown);
        goto fail;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK) {
        if (s->user) {
            rc = err_set(CAIRN_EINVAL, "alarm sink %s: a user in the URL and user= too", s->shown);
            goto fail;
        }
        s->user = strdup(user);
        if (!s->user) {
            rc = err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
            goto fail;
        }
    }
    if (!s->user != !s->password_file) {
        rc = err_set(CAIRN_EINVAL, "alarm sink %s: user= and password-file= go together", s->shown);
        goto fail;
    }
    /* the transfer's URL: scheme, host and port only */
    char *url = NULL;
    if (curl_url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        rc = err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
        goto fail;
    }
    s->url = strdup(url);
    curl_free(url);
    if (!s->url)
        rc = err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
fail:
    curl_free(query);
    curl_free(path);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

static cairn_err parse_webhook(const char *url, alarm_sink *s)
{
    static const char *const schemes[] = {"http", "https", NULL};
    CURLU *u = NULL;
    char *full = NULL;
    cairn_err rc = url_parse("webhook", url, schemes, &u);
    if (rc)
        return rc;
    rc = url_shown(u, "webhook ", &s->shown);
    if (!rc && curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
        rc = err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
    if (!rc && !(s->url = strdup(full)))
        rc = err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
    curl_free(full);
    curl_url_cleanup(u);
    return rc;
}

/* "command:/path arg arg": split on blanks, no shell, no quoting. */
static cairn_err parse_command(const char *text, alarm_sink *s)
{
    static const char blanks[] = " \t";
    size_t n = 0;
    for (const char *p = text + strspn(text, blanks); *p; p += strspn(p, blanks)) {
        n++;
        p += strcspn(p, blanks);
    }
    if (!n)
        return err_set(CAIRN_EINVAL, "alarm sink command: no program (command:/path/to/program "
                                     "[ARG...])");
    s->argv = calloc(n + 1, sizeof *s->argv);
    if (!s->argv)
        return err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
    size_t i = 0;
    for (const char *p = text + strspn(text, blanks); *p; p += strspn(p, blanks)) {
        const size_t len = strcspn(p, blanks);
        if (!(s->argv[i++] = dup_text(p, len)))
            return err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
        p += len;
    }
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if ((*p < ' ' && *p != '\t') || *p == 0x7f)
            return err_set(CAIRN_EINVAL, "alarm sink command: a control character in the "
                                         "command line");
    if (s->argv[0][0] != '/')
        return err_set(CAIRN_EINVAL,
                       "alarm sink command: '%.200s' is not an absolute path (no shell runs "
                       "it, so no PATH lookup)",
                       s->argv[0]);
    cbuf b;
    cbuf_init(&b);
    cbuf_printf(&b, "command %.200s", s->argv[0]);
    s->shown = cbuf_take_text(&b);
    return s->shown ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
}

static cairn_err sink_parse(const char *spec, alarm_sink **out)
{
    *out = NULL;
    if (strnlen(spec, SPEC_MAX + 1) > SPEC_MAX)
        return err_set(CAIRN_EINVAL, "alarm sink: the spec is longer than %d bytes", SPEC_MAX);
    alarm_sink *const s = calloc(1, sizeof *s);
    if (!s)
        return err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
    cairn_err rc;
    s->timeout_ms = NET_TIMEOUT_MS;
    if (!strcmp(spec, "dbus")) {
        s->type = SINK_DBUS;
        s->shown = strdup("dbus");
        rc = s->shown ? CAIRN_OK : err_set(CAIRN_ENOMEM, "out of memory for an alarm sink");
    } else if (!strncmp(spec, "smtp://", 7) || !strncmp(spec, "smtps://", 8)) {
        s->type = SINK_SMTP;
        rc = parse_smtp(spec, s);
    } else if (!strncmp(spec, "webhook:", 8)) {
        s->type = SINK_WEBHOOK;
        rc = parse_webhook(spec + 8, s);
    } else if (!strncmp(spec, "command:", 8)) {
        s->type = SINK_COMMAND;
        s->timeout_ms = COMMAND_TIMEOUT_MS;
        rc = parse_command(spec + 8, s);
    } else {
        /* the message stays one line whatever the spec holds */
        size_t shown = 0;
        while (shown < 60 && (unsigned char)spec[shown] >= ' ' && spec[shown] != 0x7f)
            shown++;
        rc = err_set(CAIRN_EINVAL,
                     "alarm sink '%.*s': not one of dbus, smtp://..., smtps://..., "
                     "webhook:URL, command:/PATH",
                     (int)shown, spec);
    }
    if (rc) {
        sink_free(s);
        return rc;
    }
    *out = s;
    return CAIRN_OK;
}

/* ---- the command sink ---- */

/* The child's environment: ours without any CAIRN_ variable (the store's
 * password may be one), then the alarm's. */
static char **command_env(const struct alarm *a, cbuf *vars)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    char **const env = calloc(n + 6, sizeof *env);
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "CAIRN_", 6) != 0)
            env[k++] = environ[i];
    char when[32];
    alarm_time_iso(a->time, when, sizeof when);
    /* one buffer of NUL-separated assignments; pointers taken once it is whole */
    size_t offs[5];
    offs[0] = vars->len;
    cbuf_printf(vars, "CAIRN_ALARM_KIND=%s", alarm_kind_name(a->kind));
    cbuf_put(vars, "", 1);
    offs[1] = vars->len;
    cbuf_printf(vars, "CAIRN_ALARM_DEVICE=%s", a->device ? a->device : "");
    cbuf_put(vars, "", 1);
    offs[2] = vars->len;
    cbuf_printf(vars, "CAIRN_ALARM_TITLE=%s", a->title ? a->title : "");
    cbuf_put(vars, "", 1);
    offs[3] = vars->len;
    cbuf_printf(vars, "CAIRN_ALARM_BODY=%s", a->body ? a->body : "");
    cbuf_put(vars, "", 1);
    offs[4] = vars->len;
    cbuf_printf(vars, "CAIRN_ALARM_TIME=%lld", (long long)a->time);
    if (vars->failed) {
        free(env);
        return NULL;
    }
    for (int i = 0; i < 5; i++)
        env[k++] = (char *)vars->data + offs[i];
    env[k] = NULL;
    return env;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits for pid up to timeout_ms (then kills its process group); *status. */
static int wait_child(pid_t pid, unsigned timeout_ms, int *status)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long pause = 1;
    for (;;) {
        const pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return r == pid;
        clock_gettime(CLOCK_MONOTONIC, &now);
        const long long ms =
            (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms >= timeout_ms) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL); /* in case it left the group */
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
            }
            return 0;
        }
        sleep_ms(pause);
        if (pause < 50)
            pause *= 2;
    }
}

static cairn_err send_command(const alarm_sink *s, const struct alarm *a)
{
    cbuf vars;
    cbuf_init(&vars);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    cairn_err rc = CAIRN_OK;
    char **const env = command_env(a, &vars);
    if (!env) {
        cbuf_free(&vars);
        return err_set(CAIRN_ENOMEM, "%s: out of memory", s->shown);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    /* its own process group, so a timeout also ends what it started;
     * default signal handling whatever the daemon changed */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    const int e = posix_spawn(&pid, s->argv[0], &fa, &attr, s->argv, env);
    if (e) {
        rc = err_set(CAIRN_EREMOTE, "alarm sink %s: cannot run it: %s", s->shown, strerror(e));
        goto fail;
    }
    int status = 0;
    if (!wait_child(pid, s->timeout_ms, &status))
        rc = err_set(CAIRN_EREMOTE, "alarm sink %s: still running after %u s: killed", s->shown,
                     s->timeout_ms / 1000);
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        rc = err_set(CAIRN_EREMOTE, "alarm sink %s: exited with status %d", s->shown,
                     WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        rc = err_set(CAIRN_EREMOTE, "alarm sink %s: killed by signal %d", s->shown,
                     WTERMSIG(status));
fail:
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    cbuf_free(&vars);
    return rc;
}

static cairn_err sink_send(const alarm_sink *s, const struct alarm *a)
{
    assert(s && a);
    if (s->type == SINK_COMMAND)
        return send_command(s, a); /* the environment takes any bytes */
    /* the others carry UTF-8 only (a file name in a body may not be) */
    struct alarm u = *a;
    char *device = NULL, *title = NULL, *body = NULL;
    cairn_err rc = CAIRN_OK;
    if (!alarm_utf8_copy(a->device, &device) || !alarm_utf8_copy(a->title, &title) ||
        !alarm_utf8_copy(a->body, &body)) {
        rc = err_set(CAIRN_ENOMEM, "alarm sink %s: out of memory", s->shown);
        goto fail;
    }
    u.device = device;
    u.title = title;
    u.body = body;
    rc = s->type == SINK_DBUS   ? alarm_send_dbus(s, &u)
         : s->type == SINK_SMTP ? alarm_send_smtp(s, &u)
                                : alarm_send_webhook(s, &u);
fail:
    free(device);
    free(title);
    free(body);
    return rc;
}

static const alarm_module_ops alarm_ops = {sink_parse, sink_send, sink_free, set_timeout,
                                           type_word};
CAIRN_MODULE_DEFINE(alarm_module, "alarm", &alarm_ops);
