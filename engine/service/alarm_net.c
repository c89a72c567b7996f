/* alarm_net.c - the sinks that speak over the network through libcurl: an
 * e-mail over SMTP and a webhook (an HTTP POST of a JSON body).
 *
 * Each send is one easy handle, created and cleaned up here, so a sink can
 * be used from any thread; a whole transfer is bounded by the sink's
 * timeout.  Errors name the sink by its shown name and libcurl's reason,
 * never the URL's path, query or a password. */
#include "engine/service/alarm_sink_private.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

enum { PASSWORD_MAX = 1024 };

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    /* a failure shows as curl_easy_init() returning NULL */
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

static CURL *easy_new(const alarm_sink *s, char *errbuf)
{
    if (pthread_once(&curl_once, curl_init_once) != 0)
        return NULL;
    CURL *const c = curl_easy_init();
    if (!c)
        return NULL;
    errbuf[0] = '\0';
    /* a long: libcurl's varargs take it as such */
    const long timeout = (long)s->timeout_ms;
    if (curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_URL, s->url) != CURLE_OK) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

static cairn_err curl_failed(const alarm_sink *s, CURLcode ce, const char *errbuf)
{
    const cairn_err code = ce == CURLE_OUT_OF_MEMORY ? CAIRN_ENOMEM
                           : ce == CURLE_UNSUPPORTED_PROTOCOL || ce == CURLE_URL_MALFORMAT
                               ? CAIRN_EINVAL
                               : CAIRN_EREMOTE;
    return err_set(code, "alarm sink %s: %s", s->shown,
                   errbuf[0] ? errbuf : curl_easy_strerror(ce));
}

/* ---- SMTP ---- */

/* The first line of the password file, in locked memory (sodium_free it). */
static cairn_err read_password(const alarm_sink *s, char **out)
{
    *out = NULL;
    const int fd = open(s->password_file, O_RDONLY | O_CLOEXEC);
    /* no password available is a usage error, as for the store's password */
    if (fd < 0)
        return err_set(CAIRN_EINVAL, "alarm sink %s: %s: cannot read the password file: %s",
                       s->shown, s->password_file, strerror(errno));
    char *const pw = sodium_malloc(PASSWORD_MAX + 1);
    if (!pw) {
        close(fd);
        return err_set(CAIRN_ENOMEM, "alarm sink %s: out of memory", s->shown);
    }
    size_t n = 0;
    for (;;) {
        const ssize_t r = read(fd, pw + n, PASSWORD_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            const int e = errno;
            close(fd);
            sodium_free(pw);
            return err_set(CAIRN_EIO, "alarm sink %s: %s: %s", s->shown, s->password_file,
                           strerror(e));
        }
        if (r == 0 || (n += (size_t)r) == PASSWORD_MAX)
            break;
    }
    close(fd);
    pw[n] = '\0';
    pw[strcspn(pw, "\r\n")] = '\0';
    if (!pw[0]) {
        sodium_free(pw);
        return err_set(CAIRN_EINVAL, "alarm sink %s: %s: the password file is empty", s->shown,
                       s->password_file);
    }
    *out = pw;
    return CAIRN_OK;
}

/* A header's text on one line: CR and LF would start a header of its own. */
static void put_one_line(cbuf *b, const char *text)
{
    for (const char *p = text; *p; p++)
        cbuf_put(b, (*p == '\r' || *p == '\n') ? " " : p, 1);
}

static int is_ascii(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p >= 0x80)
            return 0;
    return 1;
}

/* Subject: ASCII as it is, anything else as RFC 2047 encoded words of at
 * most 45 bytes of text each (so each word stays under 75 characters), cut
 * between UTF-8 characters, on folded lines. */
static void put_subject(cbuf *b, const char *subject)
{
    cbuf_puts(b, "Subject: ");
    if (is_ascii(subject)) {
        put_one_line(b, subject);
        cbuf_puts(b, "\r\n");
        return;
    }
    cbuf line;
    cbuf_init(&line);
    put_one_line(&line, subject);
    if (line.failed)
        b->failed = 1;
    char enc[sodium_base64_ENCODED_LEN(45, sodium_base64_VARIANT_ORIGINAL)];
    for (size_t at = 0; at < line.len && !line.failed;) {
        size_t n = line.len - at > 45 ? 45 : line.len - at;
        while (at + n < line.len && n > 1 && (line.data[at + n] & 0xc0) == 0x80)
            n--; /* the next byte continues a character: cut before it */
        sodium_bin2base64(enc, sizeof enc, line.data + at, n, sodium_base64_VARIANT_ORIGINAL);
        cbuf_printf(b, "%s=?UTF-8?B?%s?=", at ? "\r\n " : "", enc);
        at += n;
    }
    cbuf_free(&line);
    cbuf_puts(b, "\r\n");
}

/* The body with every line ending as CRLF, as SMTP wants it (libcurl
 * escapes a leading dot itself). */
static void put_crlf(cbuf *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            cbuf_puts(b, "\r\n");
        else
            cbuf_put(b, p, 1);
    }
}

static void build_mail(const alarm_sink *s, const struct alarm *a, cbuf *m)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    /* the Date is when the mail is written; the alarm's time is in the body */
    const time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    uint8_t rnd[16];
    char hex[33], when[32];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    const char *const at = strrchr(s->from, '@');
    cbuf_printf(m, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cbuf_printf(m, "From: <%s>\r\nTo: ", s->from);
    for (size_t i = 0; i < s->nto; i++)
        cbuf_printf(m, "%s<%s>", i ? ", " : "", s->to[i]);
    cbuf_printf(m, "\r\nMessage-ID: <%s.cairn@%s>\r\n", hex, at && at[1] ? at + 1 : "localhost");
    cbuf subject;
    cbuf_init(&subject);
    cbuf_printf(&subject, "cairn: %s%s%s", a->device ? a->device : "", a->device ? ": " : "",
                a->title ? a->title : alarm_kind_name(a->kind));
    if (subject.failed)
        m->failed = 1;
    put_subject(m, cbuf_text(&subject));
    cbuf_free(&subject);
    cbuf_puts(m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n"
                 "X-Cairn-Alarm: ");
    cbuf_puts(m, alarm_kind_name(a->kind));
    cbuf_puts(m, "\r\n\r\n");
    if (a->body && *a->body) {
        put_crlf(m, a->body);
        cbuf_puts(m, "\r\n\r\n");
    }
    alarm_time_iso(a->time, when, sizeof when);
    cbuf_printf(m, "Alarm: %s\r\n", alarm_kind_name(a->kind));
    if (a->device) {
        cbuf_puts(m, "Device: ");
        put_one_line(m, a->device);
        cbuf_puts(m, "\r\n");
    }
    cbuf_printf(m, "Time: %s\r\n", when);
}

typedef struct upload {
    const uint8_t *p;
    size_t left;
} upload;

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
    upload *const u = ud;
    size_t n = size * nmemb;
    if (n > u->left)
        n = u->left;
    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

cairn_err alarm_send_smtp(const alarm_sink *s, const struct alarm *a)
{
    char errbuf[CURL_ERROR_SIZE];
    char *password = NULL;
    struct curl_slist *rcpt = NULL;
    cbuf mail, addr;
    cbuf_init(&mail);
    cbuf_init(&addr);
    cairn_err rc = CAIRN_OK;
    CURL *const c = easy_new(s, errbuf);
    if (!c)
        return err_set(CAIRN_ENOMEM, "alarm sink %s: cannot start libcurl", s->shown);
    if (s->password_file && (rc = read_password(s, &password)))
        goto fail;
    build_mail(s, a, &mail);
    cbuf_printf(&addr, "<%s>", s->from);
    for (size_t i = 0; i < s->nto && !addr.failed; i++) {
        cbuf to;
        cbuf_init(&to);
        cbuf_printf(&to, "<%s>", s->to[i]);
        struct curl_slist *const r = to.failed ? NULL : curl_slist_append(rcpt, cbuf_text(&to));
        cbuf_free(&to);
        if (!r)
            addr.failed = 1;
        else
            rcpt = r;
    }
    if (mail.failed || addr.failed) {
        rc = err_set(CAIRN_ENOMEM, "alarm sink %s: out of memory", s->shown);
        goto fail;
    }
    upload up = {mail.data, mail.len};
    /* a password is never sent in the clear: with a login, plain smtp://
     * must upgrade with STARTTLS; without one, it does when it can */
    const long tls = password ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY;
    CURLcode ce = CURLE_OK;
    if ((ce = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps")) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_MAIL_FROM, cbuf_text(&addr))) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt)) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_USE_SSL, tls)) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_UPLOAD, 1L)) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb)) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_READDATA, &up)) != CURLE_OK ||
        (s->user && (ce = curl_easy_setopt(c, CURLOPT_USERNAME, s->user)) != CURLE_OK) ||
        (password && (ce = curl_easy_setopt(c, CURLOPT_PASSWORD, password)) != CURLE_OK) ||
        (s->ca_file && (ce = curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file)) != CURLE_OK) ||
        (ce = curl_easy_perform(c)) != CURLE_OK)
        rc = curl_failed(s, ce, errbuf);
fail:
    curl_easy_cleanup(c); /* before the password goes: libcurl keeps a copy until then */
    if (password)
        sodium_free(password);
    curl_slist_free_all(rcpt);
    cbuf_free(&mail);
    cbuf_free(&addr);
    return rc;
}

/* ---- webhook ---- */

static size_t discard_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
    (void)buf;
    (void)ud;
    return size * nmemb;
}

cairn_err alarm_send_webhook(const alarm_sink *s, const struct alarm *a)
{
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *hdrs = NULL;
    cbuf body;
    cbuf_init(&body);
    cairn_err rc = CAIRN_OK;
    CURL *const c = easy_new(s, errbuf);
    if (!c)
        return err_set(CAIRN_ENOMEM, "alarm sink %s: cannot start libcurl", s->shown);
    char when[32];
    alarm_time_iso(a->time, when, sizeof when);
    cbuf_puts(&body, "{\"kind\":");
    cbuf_json_str(&body, alarm_kind_name(a->kind));
    cbuf_puts(&body, ",\"device\":");
    if (a->device)
        cbuf_json_str(&body, a->device);
    else
        cbuf_puts(&body, "null");
    cbuf_puts(&body, ",\"title\":");
    cbuf_json_str(&body, a->title ? a->title : "");
    cbuf_puts(&body, ",\"body\":");
    cbuf_json_str(&body, a->body ? a->body : "");
    cbuf_printf(&body, ",\"time\":%lld,\"time_iso\":\"%s\"}", (long long)a->time, when);
    struct curl_slist *const h = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = h ? curl_slist_append(h, "User-Agent: cairn") : NULL;
    if (!hdrs) {
        curl_slist_free_all(h);
        body.failed = 1;
    }
    if (body.failed) {
        rc = err_set(CAIRN_ENOMEM, "alarm sink %s: out of memory", s->shown);
        goto fail;
    }
    CURLcode ce = CURLE_OK;
    if ((ce = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs)) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_POSTFIELDS, cbuf_text(&body))) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len)) != CURLE_OK ||
        (ce = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb)) != CURLE_OK ||
        (ce = curl_easy_perform(c)) != CURLE_OK) {
        rc = curl_failed(s, ce, errbuf);
        goto fail;
    }
    long status = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status < 200 ||
        status > 299)
        rc = err_set(CAIRN_EREMOTE, "alarm sink %s: the receiver answered HTTP %ld", s->shown,
                     status);
fail:
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    cbuf_free(&body);
    return rc;
}
