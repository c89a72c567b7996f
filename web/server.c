/* server.c - web_serve (web.h): libmicrohttpd on 127.0.0.1, the token
 * check, and each request routed (route.h) to an asset or the API
 * (api.h).
 *
 * One thread serves every connection (MHD's internal polling thread), so
 * the store and the snapshot list are never used by two requests at once;
 * a download is streamed a block at a time from that thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "util/fsutil.h"
#include "api.h"
#include "assets.h"
#include "route.h"
#include "web.h"

typedef struct server {
    web_api api;
    char *token; /* WEB_TOKEN_HEX hex digits, in locked memory */
} server;

/* Keeps the raw request target: MHD decodes the URL it hands to the
 * handler, and the router wants the bytes as sent. */
static void *keep_target(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    return strdup(uri);
}

static void request_done(void *cls, struct MHD_Connection *conn, void **req,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    free(*req);
    *req = NULL;
}

/* MHD would print to stderr: a library keeps quiet. */
static void quiet(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

static int token_is(const server *sv, const char *given)
{
    return given && strlen(given) == WEB_TOKEN_HEX &&
           sodium_memcmp(given, sv->token, WEB_TOKEN_HEX) == 0;
}

/* "127.0.0.1" or "localhost", with or without a port */
static int loopback_host(const char *host)
{
    static const char *const names[] = {"127.0.0.1", "localhost"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const size_t n = strlen(names[i]);
        if (strncasecmp(host, names[i], n) == 0 && (host[n] == '\0' || host[n] == ':'))
            return 1;
    }
    return 0;
}

static void add_common_headers(struct MHD_Response *resp, const char *type)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    /* the token is in the page's URL: never sent on as a referrer */
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
}

static enum MHD_Result queue_buffer(struct MHD_Connection *conn, int status, const char *type,
                                    const void *data, size_t len, const char *cookie)
{
    struct MHD_Response *const resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    add_common_headers(resp, type);
    if (cookie)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    const enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result queue_reply(struct MHD_Connection *conn, web_reply *r, const char *cookie)
{
    const enum MHD_Result ok =
        queue_buffer(conn, r->status, r->type, r->body.data ? (const char *)r->body.data : "",
                     r->body.len, cookie);
    web_reply_free(r);
    return ok;
}

static enum MHD_Result queue_error(struct MHD_Connection *conn, int status, const char *msg)
{
    web_reply r;
    memset(&r, 0, sizeof r);
    cbuf_init(&r.body);
    web_reply_error(&r, status, msg);
    return queue_reply(conn, &r, NULL);
}

/* A download: the reply's file, read as MHD asks for it. */
static ssize_t read_file(void *cls, uint64_t pos, char *buf, size_t max)
{
    web_reply *const r = cls;
    size_t got = 0;
    if (snapfiles_read(r->file, pos, buf, max, &got) != CAIRN_OK)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return got ? (ssize_t)got : MHD_CONTENT_READER_END_OF_STREAM;
}

static void free_download(void *cls)
{
    web_reply *const r = cls;
    web_reply_free(r);
    free(r);
}

static enum MHD_Result queue_download(struct MHD_Connection *conn, web_reply *r)
{
    web_reply *const keep = malloc(sizeof *keep);
    if (!keep) {
        web_reply_free(r);
        return queue_error(conn, 503, "out of memory");
    }
    *keep = *r;
    struct MHD_Response *const resp =
        MHD_create_response_from_callback(keep->size, 256 * 1024, read_file, keep, free_download);
    if (!resp) {
        free_download(keep);
        return MHD_NO;
    }
    char disposition[sizeof keep->filename + 32];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", keep->filename);
    add_common_headers(resp, keep->type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
    const enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req)
{
    server *const sv = cls;
    web_route r;
    (void)url;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    if (!*req)
        return queue_error(conn, 503, "out of memory");
    const char *const target = *req;
    web_route_parse(method, target, strlen(target), &r);

    /* a web site that points its own name at 127.0.0.1 (DNS rebinding)
     * sends its name as the Host: refused before anything else */
    const char *const host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    if (host && !loopback_host(host))
        return queue_error(conn, 403, "the page is served as 127.0.0.1 or localhost only");
    /* every request carries the token, whatever it asks for */
    const char *const header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Cairn-Token");
    const char *const cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "cairn_token");
    const int by_query = r.has_token && token_is(sv, r.token);
    if (!by_query && !token_is(sv, header) && !token_is(sv, cookie))
        return queue_error(conn, 401,
                           r.has_token || header || cookie
                               ? "wrong access token"
                               : "missing access token: open the URL 'cairn serve' printed");
    if (r.kind == WEB_ROUTE_ERROR)
        return queue_error(conn, r.status, r.error);
    if (r.kind == WEB_ROUTE_ASSET) {
        /* opened with ?token=: the page's own requests then carry the cookie */
        char set_cookie[WEB_TOKEN_HEX + 64];
        snprintf(set_cookie, sizeof set_cookie, "cairn_token=%s; Path=/; HttpOnly; SameSite=Strict",
                 sv->token);
        for (size_t i = 0; i < web_nassets; i++)
            if (strcmp(web_assets[i].name, r.asset) == 0) {
                const enum MHD_Result ok =
                    queue_buffer(conn, 200, web_assets[i].type, web_assets[i].data,
                                 web_assets[i].len, by_query ? set_cookie : NULL);
                sodium_memzero(set_cookie, sizeof set_cookie);
                return ok;
            }
        sodium_memzero(set_cookie, sizeof set_cookie);
        return queue_error(conn, 404, "no such page");
    }
    web_reply reply;
    web_api_handle(&sv->api, &r, &reply);
    return reply.file ? queue_download(conn, &reply) : queue_reply(conn, &reply, NULL);
}

cairn_err web_serve(store *s, const web_options *o)
{
    server sv;
    struct MHD_Daemon *d = NULL;
    uint8_t raw[WEB_TOKEN_HEX / 2];
    char *url = NULL;
    memset(&sv, 0, sizeof sv);
    sv.api.s = s;
    cairn_err rc = snapfiles_cache_new(s, 0, &sv.api.cache);
    if (rc)
        return rc;
    sv.token = sodium_malloc(WEB_TOKEN_HEX + 1);
    url = sodium_malloc(WEB_TOKEN_HEX + 64);
    if (!sv.token || !url) {
        rc = err_set(CAIRN_ENOMEM, "out of memory for the access token");
        goto fail;
    }
    randombytes_buf(raw, sizeof raw);
    fs_hex(raw, sizeof raw, sv.token);
    sodium_memzero(raw, sizeof raw);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, (uint16_t)o->port, NULL, NULL, handle, &sv,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_URI_LOG_CALLBACK,
                         keep_target, NULL, MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
                         /* room for a WEB_URI_MAX target and headers: a longer target
                          * still gets the router's JSON 414, not MHD's */
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                         MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_LIMIT, 64u,
                         MHD_OPTION_EXTERNAL_LOGGER, quiet, NULL, MHD_OPTION_END);
    if (!d) {
        rc = err_set(CAIRN_EIO, "cannot listen on 127.0.0.1:%u (%s)", o->port,
                     errno ? strerror(errno) : "port taken?");
        goto fail;
    }
    const union MHD_DaemonInfo *const info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    const unsigned port = info && info->port ? info->port : o->port;
    snprintf(url, WEB_TOKEN_HEX + 64, "http://127.0.0.1:%u/?token=%s", port, sv.token);
    if (o->ready)
        o->ready(o->ctx, url, port);
    while (!o->stop || !o->stop(o->ctx)) {
        const struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
fail:
    if (d)
        MHD_stop_daemon(d);
    snapfiles_cache_free(sv.api.cache);
    sodium_free(sv.token);
    sodium_free(url);
    return rc;
}

static const web_module_ops web_ops = {web_serve};
CAIRN_MODULE_DEFINE(web_module, "web", &web_ops);
